//! Signed revision records: an HMAC-SHA256, keyed by `KPUSH_RECORD_KEY`, over each record's
//! Secret name, namespace and data.
//!
//! Anyone who may write Secrets in a release's namespace (the `edit` role) can write a record
//! that looks like kpush's. Without a key nothing tells such a record from a real one, and a
//! rollback applies it with the pipeline's rights. With a key that only the pipeline holds (its
//! secret store), a record kpush did not write does not verify, and `rollback` refuses it.
//!
//! What the signature guarantees: a verified record's content (manifests, status, revision,
//! release, namespace) was written by a kpush holding the key, for that release in that
//! namespace. What it does not: that the record is the newest one kpush wrote (someone who can
//! write Secrets can delete records, or put back an older state of a record they saved, e.g. a
//! revision's `pending` state), and nothing about records written without the key.

use sha2::{Digest, Sha256};

/// The key records are signed with (from `KPUSH_RECORD_KEY`). Never printed.
#[derive(Clone)]
pub struct RecordKey(Vec<u8>);

impl std::fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordKey(..)")
    }
}

/// Whether a record's signature was checked, and how that went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Trust {
    /// Written by this run (signed when it is stored with a key).
    #[default]
    New,
    /// Read without a key: nothing was checked.
    Unchecked,
    /// Its signature verifies with the key.
    Verified,
    /// It has no signature, or one that does not verify (the reason).
    Unverified(String),
}

impl Trust {
    /// Whether a store with a key signs the record when it writes it again: only records this
    /// run wrote or that verified (a forged record must not come out of an update signed).
    pub fn signable(&self) -> bool {
        matches!(self, Trust::New | Trust::Verified)
    }
}

impl RecordKey {
    /// The key from the value of `KPUSH_RECORD_KEY`; `None` when it is empty.
    pub fn new(secret: &str) -> Option<Self> {
        let s = secret.trim();
        (!s.is_empty()).then(|| Self(s.as_bytes().to_vec()))
    }

    /// The signature (hex) of the record Secret `name` in `namespace` holding `data`.
    pub fn sign(&self, namespace: &str, name: &str, data: &[u8]) -> String {
        hex(&hmac_sha256(&self.0, &message(namespace, name, data)))
    }

    /// Checks `signature` against the record; compares in constant time.
    pub fn verify(&self, namespace: &str, name: &str, data: &[u8], signature: &str) -> bool {
        let expected = self.sign(namespace, name, data);
        let (a, b) = (expected.as_bytes(), signature.trim().as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

fn message(namespace: &str, name: &str, data: &[u8]) -> Vec<u8> {
    let mut m = format!("{}\n{namespace}\n{name}\n", super::store::SECRET_TYPE).into_bytes();
    m.extend_from_slice(data);
    m
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_signature_binds_the_key_the_namespace_the_name_and_the_data() {
        let key = RecordKey::new("s3cret").expect("key");
        let sig = key.sign("prod", "kpush.release.v1.shop.v1", b"data");
        assert!(key.verify("prod", "kpush.release.v1.shop.v1", b"data", &sig));
        assert!(!key.verify("prod", "kpush.release.v1.shop.v1", b"datA", &sig));
        assert!(!key.verify("dev", "kpush.release.v1.shop.v1", b"data", &sig));
        assert!(!key.verify("prod", "kpush.release.v1.shop.v2", b"data", &sig));
        let other = RecordKey::new("other").expect("key");
        assert!(!other.verify("prod", "kpush.release.v1.shop.v1", b"data", &sig));
        assert!(!key.verify("prod", "kpush.release.v1.shop.v1", b"data", ""));
        assert!(RecordKey::new("  ").is_none());
        assert_eq!(format!("{key:?}"), "RecordKey(..)");
    }
}
