//! SOPS-encrypted manifests, decrypted in memory while rendering, as Flux's kustomize-controller
//! decrypts them: YAML and JSON files (whole file, or the values `encrypted_regex`,
//! `unencrypted_suffix` and the other rules chose), data keys wrapped for age recipients or Azure
//! Key Vault keys, and the file's MAC verified before anything is used.
//!
//! The decrypted file is the original text with each encrypted value replaced, in place, by its
//! plaintext as a YAML/JSON scalar, and the `sops` block blanked: every line keeps its number,
//! so provenance (`file:line`) is the encrypted file's. Encrypted comments are blanked.

mod dotenv;
mod keys;
pub mod tree;

use std::sync::Arc;

use aes_gcm::aead::{AeadInOut, KeyInit, consts::U32};
use aes_gcm::{AesGcm, Nonce, Tag, aes::Aes256};
use base64::Engine as _;
use sha2::{Digest, Sha512};

pub use keys::{KeyVault, KeyVaultClient, KeyVaultKey, TokenSource};
use tree::{Node, Scalar};

/// The keys a render may use to decrypt SOPS files. The default has none: an encrypted file is
/// then an error naming the keys it needs.
#[derive(Clone, Default)]
pub struct SopsKeys {
    /// age identities (`AGE-SECRET-KEY-1…`, or hybrid post-quantum `AGE-SECRET-KEY-PQ-1…`).
    pub age: Vec<String>,
    /// Decrypts data keys encrypted with an Azure Key Vault key (RSA-OAEP-256).
    pub key_vault: Option<Arc<dyn KeyVault>>,
}

impl std::fmt::Debug for SopsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SopsKeys")
            .field("age", &format_args!("{} identities", self.age.len()))
            .field("key_vault", &self.key_vault.is_some())
            .finish()
    }
}

impl SopsKeys {
    /// Adds the age identities found in `text` (the content of `SOPS_AGE_KEY` or of the file
    /// `SOPS_AGE_KEY_FILE` names: one `AGE-SECRET-KEY-1…` per line, `#` comments).
    pub fn add_age_identities(&mut self, text: &str) {
        self.age.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
                .map(str::to_string),
        );
    }
}

/// A decrypted file.
#[derive(Debug, Clone)]
pub struct Decrypted {
    /// The file's text with plaintext values in place of the encrypted ones.
    pub text: String,
    /// Every decrypted string value, for redaction and masking.
    pub secrets: Vec<String>,
}

/// sops's `MACOnlyEncryptedInitialization`.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// Whether `text` is a SOPS-encrypted YAML or JSON file (a top-level `sops` mapping).
pub fn is_encrypted(text: &str) -> bool {
    if !text.contains("sops") {
        return false;
    }
    tree::parse(text).is_some_and(|docs| docs.iter().any(|d| sops_block(d).is_some()))
}

/// Why a SOPS file could not be used; the caller names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptError {
    /// The line concerned, 0 for the whole file.
    pub line: u32,
    /// What happened and what to do.
    pub message: String,
}

impl DecryptError {
    fn file(message: impl Into<String>) -> Self {
        Self {
            line: 0,
            message: message.into(),
        }
    }

    /// `file:line: message` (or `file: message`), for callers that report plain text.
    pub fn in_file(&self, file: &str) -> String {
        if self.line == 0 {
            format!("{file}: {}", self.message)
        } else {
            format!("{file}:{}: {}", self.line, self.message)
        }
    }
}

/// Decrypts `text` when it is a SOPS file; `Ok(None)` when it is not.
/// An error says why (no key for it, naming the keys it needs; a MAC mismatch; a damaged value).
pub fn decrypt(text: &str, keys: &SopsKeys) -> Result<Option<Decrypted>, DecryptError> {
    let ciphertext = text.contains("ENC[AES256_GCM,");
    if !text.contains("sops") && !ciphertext {
        return Ok(None);
    }
    // sops's values without their `sops` block: a damaged file, or the block deleted.
    let orphaned = || {
        Err(DecryptError::file(
            "the file holds SOPS-encrypted values (ENC[AES256_GCM,…]) but no `sops` block to \
             decrypt and verify them: the file was cut or its block removed. Restore it from \
             version control or encrypt it again with sops",
        ))
    };
    if dotenv::is_dotenv(text) {
        return dotenv::decrypt(text, keys).map(Some);
    }
    let Some(docs) = tree::parse(text) else {
        return if ciphertext { orphaned() } else { Ok(None) };
    };
    let Some(meta_node) = docs.iter().find_map(sops_block) else {
        return if ciphertext { orphaned() } else { Ok(None) };
    };
    let meta = keys::Metadata::read(meta_node.1).map_err(DecryptError::file)?;
    let data_key = keys::data_key(&meta, keys)
        .map_err(|m| DecryptError::file(format!("cannot decrypt: {m}")))?;
    let rules = Rules::new(&meta).map_err(DecryptError::file)?;

    let mut walk = Walk {
        key: &data_key,
        rules: &rules,
        mac_only_encrypted: meta.mac_only_encrypted,
        hash: Sha512::new(),
        edits: Vec::new(),
        secrets: Vec::new(),
        json: text.trim_start().starts_with('{'),
    };
    if meta.mac_only_encrypted {
        walk.hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    for doc in &docs {
        let Node::Map(pairs, _) = doc else { continue };
        for (i, (k, v)) in pairs.iter().enumerate() {
            let key = scalar_key(k).map_err(DecryptError::file)?;
            if key == "sops" {
                walk.edits.push(blank_sops(text, pairs, i));
                continue;
            }
            walk.value(v, &mut vec![key])
                .map_err(|(line, message)| DecryptError { line, message })?;
        }
    }
    let computed = hex_upper(&walk.hash.finalize());
    let stored = decrypt_value(&meta.mac, &data_key, &meta.last_modified)
        .map_err(|m| DecryptError::file(format!("cannot read the file's MAC: {m}")))?;
    if stored.1 != computed.as_bytes() {
        return Err(DecryptError::file(
            "MAC mismatch: the file was changed after sops encrypted it (or its `sops` block \
             belongs to another file); nothing from it is used. Re-encrypt it with sops, or \
             restore it from version control",
        ));
    }
    // Encrypted comments (`#ENC[…]`) are blanked: their plaintext is of no use to a render.
    for (start, _) in text.match_indices("#ENC[AES256_GCM,") {
        let end = text[start..].find('\n').map_or(text.len(), |e| start + e);
        walk.edits.push((start, end, String::new()));
    }
    Ok(Some(Decrypted {
        text: splice(text, walk.edits),
        secrets: walk.secrets,
    }))
}

/// The `sops` pair of a document's top-level mapping: (index, value). No Kubernetes object has
/// a top-level `sops` mapping, so a file with one is a SOPS file, damaged or not.
fn sops_block(doc: &Node) -> Option<(usize, &Node)> {
    let Node::Map(pairs, _) = doc else {
        return None;
    };
    pairs
        .iter()
        .enumerate()
        .find_map(|(i, (k, v))| match (k, v) {
            (Node::Scalar { value, .. }, Node::Map(..)) if value == "sops" => Some((i, v)),
            _ => None,
        })
}

fn scalar_key(k: &Node) -> Result<String, String> {
    match k {
        Node::Scalar {
            value, plain, tag, ..
        } => match tree::resolve(value, *plain, tag.as_deref()) {
            Scalar::Str(s) => Ok(s),
            _ => Ok(value.clone()),
        },
        _ => Err("a mapping key is not a string; sops supports only string keys".into()),
    }
}

/// The edit that blanks the `sops` key and its value (and the comma before it, in JSON).
fn blank_sops(text: &str, pairs: &[(Node, Node)], i: usize) -> (usize, usize, String) {
    let mut start = pairs[i].0.span().0;
    let mut end = pairs[i].1.span().1.max(start);
    if i > 0 {
        let prev_end = pairs[i - 1].1.span().1;
        if let Some(c) = text.get(prev_end..start).and_then(|t| t.rfind(',')) {
            start = prev_end + c;
        }
    } else if let Some(next) = pairs.get(1) {
        let next_start = next.0.span().0;
        if let Some(c) = text.get(end..next_start).and_then(|t| t.find(',')) {
            end = end + c + 1;
        }
    }
    // Keep line breaks, so every line keeps its number.
    let blank: String = text
        .get(start..end)
        .unwrap_or_default()
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    (start, end, blank)
}

fn splice(text: &str, mut edits: Vec<(usize, usize, String)>) -> String {
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, with) in edits {
        if start < at || end < start || end > text.len() {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(&with);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Which values sops encrypted, from the metadata's rules (sops's `shouldBeEncrypted`).
struct Rules {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<regex::Regex>,
    encrypted_regex: Option<regex::Regex>,
    /// With comment rules, which values are encrypted depends on comments: decided by form.
    by_form: bool,
}

impl Rules {
    fn new(meta: &keys::Metadata) -> Result<Self, String> {
        let re = |r: &Option<String>, field: &str| -> Result<Option<regex::Regex>, String> {
            r.as_deref()
                .map(|r| {
                    regex::Regex::new(r)
                        .map_err(|e| format!("sops.{field} is not a valid regex: {e}"))
                })
                .transpose()
        };
        let suffix_rules = meta.unencrypted_suffix.is_some()
            || meta.encrypted_suffix.is_some()
            || meta.unencrypted_regex.is_some()
            || meta.encrypted_regex.is_some();
        Ok(Self {
            unencrypted_suffix: meta.unencrypted_suffix.clone(),
            encrypted_suffix: meta.encrypted_suffix.clone(),
            unencrypted_regex: re(&meta.unencrypted_regex, "unencrypted_regex")?,
            encrypted_regex: re(&meta.encrypted_regex, "encrypted_regex")?,
            by_form: meta.comment_rules && !suffix_rules,
        })
    }

    fn encrypted(&self, path: &[String]) -> bool {
        let mut enc = true;
        if let Some(s) = &self.unencrypted_suffix
            && path.iter().any(|p| p.ends_with(s.as_str()))
        {
            enc = false;
        }
        if let Some(s) = &self.encrypted_suffix {
            enc = path.iter().any(|p| p.ends_with(s.as_str()));
        }
        if let Some(r) = &self.unencrypted_regex
            && path.iter().any(|p| r.is_match(p))
        {
            enc = false;
        }
        if let Some(r) = &self.encrypted_regex {
            enc = path.iter().any(|p| r.is_match(p));
        }
        enc
    }
}

struct Walk<'a> {
    key: &'a [u8],
    rules: &'a Rules,
    mac_only_encrypted: bool,
    hash: Sha512,
    edits: Vec<(usize, usize, String)>,
    secrets: Vec<String>,
    json: bool,
}

impl Walk<'_> {
    fn value(&mut self, node: &Node, path: &mut Vec<String>) -> Result<(), (u32, String)> {
        match node {
            Node::Map(pairs, _) => {
                for (k, v) in pairs {
                    let key = scalar_key(k).map_err(|m| (line_of(k), m))?;
                    path.push(key);
                    self.value(v, path)?;
                    path.pop();
                }
                Ok(())
            }
            Node::Seq(items, _) => {
                for item in items {
                    self.value(item, path)?;
                }
                Ok(())
            }
            Node::Scalar {
                value,
                plain,
                tag,
                span,
                line,
            } => {
                let resolved = tree::resolve(value, *plain, tag.as_deref());
                if resolved == Scalar::Null {
                    return Ok(());
                }
                let looks_encrypted = value.starts_with("ENC[AES256_GCM,");
                let encrypted = if self.rules.by_form {
                    looks_encrypted
                } else {
                    self.rules.encrypted(path)
                };
                if !encrypted {
                    if !self.mac_only_encrypted
                        && let Some(b) = resolved.mac_bytes()
                    {
                        self.hash.update(b);
                    }
                    return Ok(());
                }
                let Scalar::Str(s) = &resolved else {
                    return Err((
                        *line,
                        format!(
                            "`{}` should be encrypted by the file's rules but is not a string",
                            path.join(".")
                        ),
                    ));
                };
                if s.is_empty() {
                    return Ok(());
                }
                let aad = format!("{}:", path.join(":"));
                let (kind, plain_bytes) = decrypt_value(s, self.key, &aad)
                    .map_err(|m| (*line, format!("cannot decrypt `{}`: {m}", path.join("."))))?;
                if kind == "comment" {
                    return Ok(());
                }
                let text = String::from_utf8(plain_bytes.clone()).map_err(|_| {
                    (
                        *line,
                        format!("`{}` decrypts to bytes that are not UTF-8", path.join(".")),
                    )
                })?;
                self.hash
                    .update(mac_bytes(&kind, &text).map_err(|m| (*line, m))?);
                let replacement = match kind.as_str() {
                    "int" | "float" => text.clone(),
                    "bool" => text.to_ascii_lowercase(),
                    "time" if !self.json => text.clone(),
                    _ => {
                        self.secrets.push(text.clone());
                        serde_json::to_string(&text).unwrap_or_default()
                    }
                };
                self.edits.push((span.0, span.1, replacement));
                Ok(())
            }
        }
    }
}

fn line_of(n: &Node) -> u32 {
    match n {
        Node::Scalar { line, .. } => *line,
        _ => 0,
    }
}

/// What sops hashes for a decrypted value of type `kind` (its `ToBytes` after parsing).
fn mac_bytes(kind: &str, text: &str) -> Result<Vec<u8>, String> {
    Ok(match kind {
        "int" => text
            .parse::<i64>()
            .map_err(|_| format!("an int value does not parse: {} bytes", text.len()))?
            .to_string()
            .into_bytes(),
        "float" => tree::go_format_float(
            text.parse::<f64>()
                .map_err(|_| format!("a float value does not parse: {} bytes", text.len()))?,
        )
        .into_bytes(),
        "bool" => match text {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => b"True".to_vec(),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => b"False".to_vec(),
            _ => return Err("a bool value does not parse".into()),
        },
        "str" | "bytes" | "time" => text.as_bytes().to_vec(),
        other => return Err(format!("unknown sops value type `{other}`")),
    })
}

/// Decrypts one `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` value: (type, plaintext).
fn decrypt_value(value: &str, key: &[u8], aad: &str) -> Result<(String, Vec<u8>), String> {
    let inner = value
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|v| v.strip_suffix(']'))
        .ok_or("the value is not in sops's ENC[AES256_GCM,…] form")?;
    let mut data = None;
    let mut iv = None;
    let mut tag = None;
    let mut kind = None;
    for part in inner.split(',') {
        let (k, v) = part.split_once(':').ok_or("a malformed ENC[…] value")?;
        match k {
            "data" => data = Some(v),
            "iv" => iv = Some(v),
            "tag" => tag = Some(v),
            "type" => kind = Some(v),
            _ => {}
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let field = |v: Option<&str>, what: &str| -> Result<Vec<u8>, String> {
        b64.decode(v.ok_or(format!("the ENC[…] value has no {what}"))?)
            .map_err(|_| format!("the {what} of the ENC[…] value is not base64"))
    };
    let mut buf = field(data, "data")?;
    let iv = field(iv, "iv")?;
    let tag = field(tag, "tag")?;
    let kind = kind.ok_or("the ENC[…] value has no type")?.to_string();
    if iv.len() != 32 || tag.len() != 16 || key.len() != 32 {
        return Err("the ENC[…] value's iv or tag has the wrong length".into());
    }
    let cipher = AesGcm::<Aes256, U32>::new_from_slice(key).map_err(|_| "bad data key length")?;
    let nonce = Nonce::<U32>::try_from(iv.as_slice()).map_err(|_| "bad iv length")?;
    let tag = Tag::try_from(tag.as_slice()).map_err(|_| "bad tag length")?;
    cipher
        .decrypt_inout_detached(&nonce, aad.as_bytes(), buf.as_mut_slice().into(), &tag)
        .map_err(|_| {
            "authentication failed: the value was changed, moved to another key, or encrypted \
             with another data key"
                .to_string()
        })?;
    Ok((kind, buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_keeps_lines() {
        let text = "a: 1\nsops:\n  mac: x\n  v: 2\n";
        let docs = tree::parse(text).unwrap();
        let Node::Map(pairs, _) = &docs[0] else {
            panic!()
        };
        let e = blank_sops(text, pairs, 1);
        let out = splice(text, vec![e]);
        assert_eq!(out.lines().count(), text.lines().count());
        assert_eq!(out.trim(), "a: 1");
    }

    #[test]
    fn json_sops_block_and_comma_are_blanked() {
        let text = "{\n  \"a\": 1,\n  \"sops\": {\"mac\": \"x\"}\n}\n";
        let docs = tree::parse(text).unwrap();
        let Node::Map(pairs, _) = &docs[0] else {
            panic!()
        };
        let out = splice(text, vec![blank_sops(text, pairs, 1)]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v, serde_json::json!({"a": 1}));
    }

    #[test]
    fn hostile_input_is_left_to_the_ordinary_parser_without_panicking() {
        let deep = format!(
            "sops: {{mac: x}}\na: {}1{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(decrypt(&deep, &SopsKeys::default()).is_ok());
        // A `sops` block that is an alias of an earlier mapping.
        let alias = "a: &m {mac: x, lastmodified: y}\nsops: *m\n";
        let _ = decrypt(alias, &SopsKeys::default());
    }

    #[test]
    fn rules_follow_sops() {
        let meta = keys::Metadata {
            encrypted_regex: Some("^(data|stringData)$".into()),
            ..Default::default()
        };
        let r = Rules::new(&meta).unwrap();
        assert!(r.encrypted(&["stringData".into(), "password".into()]));
        assert!(!r.encrypted(&["metadata".into(), "name".into()]));
        let meta = keys::Metadata {
            unencrypted_suffix: Some("_unencrypted".into()),
            ..Default::default()
        };
        let r = Rules::new(&meta).unwrap();
        assert!(!r.encrypted(&["a_unencrypted".into(), "b".into()]));
        assert!(r.encrypted(&["a".into()]));
    }
}
