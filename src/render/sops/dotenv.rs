//! sops's dotenv format (`KEY=ENC[…]` lines, metadata flattened into `sops_*` keys), as a
//! kustomize generator's `envs` file may be.

use sha2::{Digest, Sha512};

use super::keys::{KeyVaultKey, Metadata};
use super::{
    DecryptError, Decrypted, MAC_ONLY_ENCRYPTED_INIT, Rules, SopsKeys, decrypt_value, hex_upper,
};

fn at(index: usize, message: String) -> DecryptError {
    DecryptError {
        line: index as u32 + 1,
        message,
    }
}

/// Whether `text` looks like a sops-encrypted dotenv file.
pub fn is_dotenv(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("sops_mac=") || l.starts_with("sops_lastmodified="))
}

/// Decrypts a sops dotenv file: each `KEY=value` line keeps its line, `sops_*` lines and
/// comments become empty lines (which env files skip).
pub fn decrypt(text: &str, keys: &SopsKeys) -> Result<Decrypted, DecryptError> {
    let mut flat = Vec::new();
    for line in text.split('\n') {
        if let Some(rest) = line.strip_prefix("sops_")
            && let Some((k, v)) = rest.split_once('=')
        {
            flat.push((k.to_string(), v.replace("\\n", "\n")));
        }
    }
    let meta = metadata(&flat).map_err(DecryptError::file)?;
    let data_key = super::keys::data_key(&meta, keys)
        .map_err(|m| DecryptError::file(format!("cannot decrypt: {m}")))?;
    let rules = Rules::new(&meta).map_err(DecryptError::file)?;
    let mut hash = Sha512::new();
    if meta.mac_only_encrypted {
        hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    let mut out = Vec::new();
    let mut secrets = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if line.is_empty() || line.starts_with('#') || line.starts_with("sops_") {
            out.push(String::new());
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            return Err(at(i, "not a KEY=value line".into()));
        };
        let value = raw.replace("\\n", "\n");
        let encrypted = if rules.by_form {
            value.starts_with("ENC[AES256_GCM,")
        } else {
            rules.encrypted(&[key.to_string()])
        };
        let plain = if encrypted && !value.is_empty() {
            let (_, bytes) = decrypt_value(&value, &data_key, &format!("{key}:"))
                .map_err(|m| at(i, format!("cannot decrypt `{key}`: {m}")))?;
            let s = String::from_utf8(bytes).map_err(|_| at(i, format!("`{key}` is not UTF-8")))?;
            secrets.push(s.clone());
            s
        } else {
            value
        };
        if encrypted || !meta.mac_only_encrypted {
            hash.update(plain.as_bytes());
        }
        out.push(format!("{key}={}", plain.replace('\n', "\\n")));
    }
    let computed = hex_upper(&hash.finalize());
    let (_, stored) = decrypt_value(&meta.mac, &data_key, &meta.last_modified)
        .map_err(|m| DecryptError::file(format!("cannot read the file's MAC: {m}")))?;
    if stored != computed.as_bytes() {
        return Err(DecryptError::file(
            "MAC mismatch: the file was changed after sops encrypted it; nothing from it is \
             used. Re-encrypt it with sops, or restore it from version control",
        ));
    }
    Ok(Decrypted {
        text: out.join("\n"),
        secrets,
    })
}

/// The metadata from the flattened `sops_*` keys (`age__list_0__map_enc`, …).
fn metadata(flat: &[(String, String)]) -> Result<Metadata, String> {
    let get = |k: &str| {
        flat.iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let list = |kind: &str, field: &str, i: usize| get(&format!("{kind}__list_{i}__map_{field}"));
    let mut m = Metadata {
        last_modified: get("lastmodified").ok_or("the sops metadata has no lastmodified")?,
        mac: get("mac").ok_or("the sops metadata has no mac")?,
        mac_only_encrypted: get("mac_only_encrypted").as_deref() == Some("true"),
        unencrypted_suffix: get("unencrypted_suffix"),
        encrypted_suffix: get("encrypted_suffix"),
        unencrypted_regex: get("unencrypted_regex"),
        encrypted_regex: get("encrypted_regex"),
        comment_rules: get("unencrypted_comment_regex").is_some()
            || get("encrypted_comment_regex").is_some(),
        ..Default::default()
    };
    if flat.iter().any(|(k, _)| k.starts_with("key_groups")) {
        return Err(
            "the file uses key groups (Shamir's secret sharing), which kpush does not \
                    decrypt; encrypt it with one key group"
                .into(),
        );
    }
    for i in 0.. {
        match (list("age", "recipient", i), list("age", "enc", i)) {
            (Some(r), Some(e)) => m.age.push((r, e)),
            _ => break,
        }
    }
    for i in 0.. {
        match (
            list("azure_kv", "vault_url", i),
            list("azure_kv", "name", i),
            list("azure_kv", "version", i),
            list("azure_kv", "enc", i),
        ) {
            (Some(vault_url), Some(name), Some(version), Some(enc)) => m.azure_kv.push((
                KeyVaultKey {
                    vault_url,
                    name,
                    version,
                },
                enc,
            )),
            _ => break,
        }
    }
    for kind in ["kms", "gcp_kms", "hc_vault", "pgp"] {
        if flat
            .iter()
            .any(|(k, _)| k.starts_with(&format!("{kind}__list_")))
        {
            m.other.push(kind.to_string());
        }
    }
    Ok(m)
}
