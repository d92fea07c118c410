//! The `sops` block of a file, and getting its data key back: from an age identity, or through
//! Azure Key Vault's `decrypt` (RSA-OAEP-256, the operation sops encrypts with).

use std::sync::Arc;

use base64::Engine as _;

use super::SopsKeys;
use super::tree::Node;

/// The parts of a file's `sops` block decryption needs.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    pub last_modified: String,
    pub mac: String,
    pub mac_only_encrypted: bool,
    pub unencrypted_suffix: Option<String>,
    pub encrypted_suffix: Option<String>,
    pub unencrypted_regex: Option<String>,
    pub encrypted_regex: Option<String>,
    /// `unencrypted_comment_regex` or `encrypted_comment_regex` is set.
    pub comment_rules: bool,
    /// (recipient, armored encrypted data key)
    pub age: Vec<(String, String)>,
    pub azure_kv: Vec<(KeyVaultKey, String)>,
    /// Other kinds of keys the file names (KMS, PGP, …), for the error message.
    pub other: Vec<String>,
}

/// An Azure Key Vault key a data key is wrapped with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVaultKey {
    /// `https://NAME.vault.azure.net`
    pub vault_url: String,
    /// The key's name.
    pub name: String,
    /// The key's version.
    pub version: String,
}

impl std::fmt::Display for KeyVaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/keys/{}/{}",
            self.vault_url.trim_end_matches('/'),
            self.name,
            self.version
        )
    }
}

fn text(n: &Node) -> Option<String> {
    match n {
        Node::Scalar { value, .. } => Some(value.clone()),
        _ => None,
    }
}

fn fields(n: &Node) -> Vec<(String, &Node)> {
    match n {
        Node::Map(pairs, _) => pairs
            .iter()
            .filter_map(|(k, v)| text(k).map(|k| (k, v)))
            .collect(),
        _ => Vec::new(),
    }
}

fn get(n: &Node, key: &str) -> Option<String> {
    fields(n)
        .into_iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| text(v))
        .filter(|s| !s.is_empty())
}

impl Metadata {
    /// Reads the `sops` block.
    pub fn read(block: &Node) -> Result<Self, String> {
        let mut m = Metadata {
            last_modified: get(block, "lastmodified")
                .ok_or("the sops block has no `lastmodified`")?,
            mac: get(block, "mac").ok_or("the sops block has no `mac`")?,
            mac_only_encrypted: get(block, "mac_only_encrypted").as_deref() == Some("true"),
            unencrypted_suffix: get(block, "unencrypted_suffix"),
            encrypted_suffix: get(block, "encrypted_suffix"),
            unencrypted_regex: get(block, "unencrypted_regex"),
            encrypted_regex: get(block, "encrypted_regex"),
            comment_rules: get(block, "unencrypted_comment_regex").is_some()
                || get(block, "encrypted_comment_regex").is_some(),
            ..Default::default()
        };
        for (k, v) in fields(block) {
            let Node::Seq(items, _) = v else { continue };
            for item in items {
                match k.as_str() {
                    "age" => {
                        if let (Some(r), Some(e)) = (get(item, "recipient"), get(item, "enc")) {
                            m.age.push((r, e));
                        }
                    }
                    "azure_kv" => {
                        if let (Some(url), Some(name), Some(version), Some(enc)) = (
                            get(item, "vault_url"),
                            get(item, "name"),
                            get(item, "version"),
                            get(item, "enc"),
                        ) {
                            m.azure_kv.push((
                                KeyVaultKey {
                                    vault_url: url,
                                    name,
                                    version,
                                },
                                enc,
                            ));
                        }
                    }
                    "key_groups" => {
                        return Err("the file uses key groups (Shamir's secret sharing), which \
                                    kpush does not decrypt; encrypt it with one key group"
                            .into());
                    }
                    "kms" | "gcp_kms" | "hc_vault" | "pgp" | "hckms" => {
                        let id = ["arn", "resource_id", "vault_address", "fp", "key_id"]
                            .iter()
                            .find_map(|f| get(item, f))
                            .unwrap_or_default();
                        m.other.push(format!("{k} {id}"));
                    }
                    _ => {}
                }
            }
        }
        Ok(m)
    }
}

/// Decrypts a data key with an Azure Key Vault key (RSA-OAEP-256), as sops encrypted it.
pub trait KeyVault: Send + Sync {
    /// The data key, or why not.
    fn decrypt_data_key(&self, key: &KeyVaultKey, wrapped: &[u8]) -> Result<Vec<u8>, String>;
}

/// A bearer token for Key Vault (scope `https://vault.azure.net/.default`), asked for when needed.
/// It is called on a thread of its own, outside any async runtime.
pub type TokenSource = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// Key Vault's REST API over HTTPS (`POST {key}/decrypt`, the operation sops itself calls, so
/// keys made as sops documents them — `--ops encrypt decrypt` — work), with tokens from `token`.
///
/// The vault URL comes from the encrypted file, that is from the repository: the pipeline's
/// token is sent only to Key Vault's own domains (and to `extra_hosts`, for tests).
#[derive(Clone)]
pub struct KeyVaultClient {
    /// Gives a token for `https://vault.azure.net/.default`.
    pub token: TokenSource,
    /// Extra CA certificates (PEM) to trust, beside the system's (a test emulator, a proxy).
    pub ca_pem: Option<Vec<u8>>,
    /// Hosts (`host:port`) trusted as vaults beside Key Vault's domains (a test emulator).
    pub extra_hosts: Vec<String>,
}

/// The REST API version used for `decrypt`.
pub const KEY_VAULT_API_VERSION: &str = "7.4";

/// Domains of Key Vault and Managed HSM in Azure's clouds.
const VAULT_DOMAINS: &[&str] = &[
    ".vault.azure.net",
    ".vault.usgovcloudapi.net",
    ".vault.azure.cn",
    ".managedhsm.azure.net",
    ".managedhsm.usgovcloudapi.net",
    ".managedhsm.azure.cn",
];

impl KeyVaultClient {
    /// Whether `vault_url` is a Key Vault this client may send the pipeline's token to.
    fn trusted(&self, vault_url: &str) -> bool {
        let Ok(u) = url::Url::parse(vault_url) else {
            return false;
        };
        let Some(host) = u.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let with_port = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        u.scheme() == "https"
            && (self
                .extra_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&with_port))
                || (u.port().is_none() && VAULT_DOMAINS.iter().any(|d| host.ends_with(d))))
    }
}

impl KeyVault for KeyVaultClient {
    fn decrypt_data_key(&self, key: &KeyVaultKey, wrapped: &[u8]) -> Result<Vec<u8>, String> {
        if !self.trusted(&key.vault_url) {
            return Err(format!(
                "{key} is not an Azure Key Vault URL (https://NAME.vault.azure.net or another \
                 cloud's vault domain); kpush does not send the pipeline's token there"
            ));
        }
        let url = format!("{key}/decrypt?api-version={KEY_VAULT_API_VERSION}");
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = serde_json::json!({"alg": "RSA-OAEP-256", "value": b64.encode(wrapped)});
        let ca = self.ca_pem.clone();
        let token_source = self.token.clone();
        // Rendering is synchronous and may run inside the caller's async runtime: the token is
        // asked for and the request sent on a thread of its own (outside any runtime, so the
        // token source may `Handle::block_on` the caller's runtime), with its own small runtime.
        let answer = std::thread::scope(|s| {
            s.spawn(move || -> Result<(u16, String), String> {
                let token = token_source()?;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(async move {
                    let mut b =
                        reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
                    if let Some(pem) = ca {
                        let certs = reqwest::Certificate::from_pem_bundle(&pem)
                            .map_err(|e| format!("the CA file is not PEM: {e}"))?;
                        b = b.tls_certs_merge(certs);
                    }
                    let client = b.build().map_err(|e| e.to_string())?;
                    let resp = client
                        .post(&url)
                        .bearer_auth(token)
                        .json(&body)
                        .send()
                        .await
                        .map_err(|e| format!("cannot reach {}: {e}", key.vault_url))?;
                    let status = resp.status().as_u16();
                    let text = resp.text().await.map_err(|e| e.to_string())?;
                    Ok((status, text))
                })
            })
            .join()
            .map_err(|_| "the Key Vault request failed unexpectedly".to_string())?
        })?;
        let (status, text) = answer;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if status != 200 {
            let code = v
                .pointer("/error/code")
                .and_then(|c| c.as_str())
                .unwrap_or("");
            let msg = v
                .pointer("/error/message")
                .and_then(|c| c.as_str())
                .unwrap_or("");
            let hint = if status == 403 {
                "; the pipeline's identity needs the `Key Vault Crypto User` role (or an access \
                 policy with `decrypt`) on the key"
            } else {
                ""
            };
            let msg = msg.lines().next().unwrap_or("").trim();
            return Err(format!(
                "Key Vault answered {status} {code} to decrypt with {key}: {msg}{hint}"
            ));
        }
        let value = v
            .get("value")
            .and_then(|c| c.as_str())
            .ok_or("Key Vault's decrypt answer has no `value`")?;
        b64.decode(value.trim_end_matches('='))
            .map_err(|_| "Key Vault's decrypt answer is not base64url".to_string())
    }
}

/// An age identity of either kind sops accepts: X25519 (`AGE-SECRET-KEY-1…`) or the hybrid
/// post-quantum one (`AGE-SECRET-KEY-PQ-1…`).
enum AgeIdentity {
    X25519(age::x25519::Identity),
    Hybrid(age::pq::Identity),
}

/// The file's 32-byte data key, from the first key that opens it.
pub fn data_key(meta: &Metadata, keys: &SopsKeys) -> Result<Vec<u8>, String> {
    let mut tried = Vec::new();
    let mut identities = Vec::new();
    for s in &keys.age {
        let parsed = if s.starts_with("AGE-SECRET-KEY-PQ-") {
            s.parse::<age::pq::Identity>().map(AgeIdentity::Hybrid)
        } else {
            s.parse::<age::x25519::Identity>().map(AgeIdentity::X25519)
        };
        match parsed {
            Ok(i) => identities.push(i),
            Err(e) => return Err(format!("an age identity given to kpush is not valid: {e}")),
        }
    }
    for (_recipient, enc) in &meta.age {
        for id in &identities {
            let opened = match id {
                AgeIdentity::X25519(i) => age::decrypt(i, enc.as_bytes()),
                AgeIdentity::Hybrid(i) => age::decrypt(i, enc.as_bytes()),
            };
            if let Ok(key) = opened
                && key.len() == 32
            {
                return Ok(key);
            }
        }
    }
    for (key, enc) in &meta.azure_kv {
        let Some(kv) = &keys.key_vault else { continue };
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let wrapped = b64
            .decode(enc.trim_end_matches('='))
            .map_err(|_| format!("the encrypted data key for {key} is not base64url"))?;
        match kv.decrypt_data_key(key, &wrapped) {
            Ok(k) if k.len() == 32 => return Ok(k),
            Ok(_) => tried.push(format!("{key}: the decrypted data key is not 32 bytes")),
            Err(e) => tried.push(e),
        }
    }
    let mut needs: Vec<String> = meta
        .age
        .iter()
        .map(|(r, _)| format!("age recipient {r}"))
        .collect();
    needs.extend(
        meta.azure_kv
            .iter()
            .map(|(k, _)| format!("Azure Key Vault key {k}")),
    );
    needs.extend(
        meta.other
            .iter()
            .map(|o| format!("{o} (not supported by kpush)")),
    );
    let mut msg = format!(
        "none of its keys is available; it needs one of: {}",
        if needs.is_empty() {
            "(the sops block names no key)".to_string()
        } else {
            needs.join(", ")
        }
    );
    if !meta.age.is_empty() {
        msg.push_str(if keys.age.is_empty() {
            ". No age identity was given: set SOPS_AGE_KEY or SOPS_AGE_KEY_FILE"
        } else {
            ". The age identities given (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE) are not for these recipients"
        });
    }
    if !meta.azure_kv.is_empty() && keys.key_vault.is_none() {
        msg.push_str(". Key Vault keys need the pipeline's Azure sign-in");
    }
    for t in tried {
        msg.push_str(&format!(". {t}"));
    }
    Err(msg)
}
