//! Azure Key Vault's key operations on RSA keys, as sops (and Flux, and kpush) use them:
//! `encrypt`, `decrypt`, `wrapkey`, `unwrapkey` with RSA-OAEP-256, and `GET /keys/{name}[/{version}]`.
//!
//! The vault is the emulator itself (`https://127.0.0.1:PORT`). As Key Vault does, a request
//! without a token is answered 401 with a challenge naming the tenant's authority and the
//! resource to ask a token for; Key Vault names `https://vault.azure.net`, the parent domain of
//! `NAME.vault.azure.net`, and the Azure SDKs check that the vault's host ends with `.` plus the
//! resource's host. Here the vault's host is `127.0.0.1:PORT`, so the challenge names its parent
//! domain `https://0.0.1:PORT`. Tokens for that resource, or for `https://vault.azure.net` (what
//! a client that knows it is talking to Key Vault asks for), are accepted.
//!
//! Authorization follows the RBAC model: principals listed in
//! [`crate::config::KeyVaultConfig::crypto_users`] hold *Key Vault Crypto User*; others get Key
//! Vault's 403 `ForbiddenByRbac`. A key allows only the operations in its `key_ops`.

use crate::config::Config;
use crate::server::{Reply, Req, State};
use crate::{entra, jwt, util};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey,
};
use base64::Engine as _;
use serde_json::{Value, json};
use std::sync::Arc;

/// The audience real Key Vault tokens carry.
pub const VAULT_RESOURCE: &str = "https://vault.azure.net";

/// A key's material and version, made on first use.
pub(crate) struct KeyMaterial {
    pub version: String,
    pub private: Arc<PrivateDecryptingKey>,
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// The resource the 401 challenge names: the parent domain of the vault's host.
pub(crate) fn challenge_resource(state: &State) -> String {
    let host = state.base.trim_start_matches("https://");
    let parent = host.split_once('.').map_or(host, |(_, rest)| rest);
    format!("https://{parent}")
}

/// The key `name`, created with a fresh version on first use.
pub(crate) fn material(state: &State, name: &str) -> Option<(String, Arc<PrivateDecryptingKey>)> {
    let mut keys = state.vault_keys.lock().ok()?;
    if let Some(k) = keys.get(name) {
        return Some((k.version.clone(), k.private.clone()));
    }
    let private = Arc::new(PrivateDecryptingKey::generate(KeySize::Rsa2048).ok()?);
    let version = util::random_hex(16);
    keys.insert(
        name.to_string(),
        KeyMaterial {
            version: version.clone(),
            private: private.clone(),
        },
    );
    Some((version, private))
}

/// Routes `/keys/...`.
pub(crate) fn handle(state: &State, req: &Req, rest: &[&str]) -> Reply {
    let config = state.config();
    let Some(vault) = config.key_vault.clone() else {
        return error(404, "NotFound", "No Key Vault is configured on this host.");
    };
    if req.query.get("api-version").is_none_or(|v| v.is_empty()) {
        return error(
            400,
            "BadParameter",
            "The 'api-version' query parameter is missing.",
        );
    }
    let Some(token) = req.bearer() else {
        return error(
            401,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        )
        .with_header(
            "www-authenticate",
            format!(
                "Bearer authorization=\"{}/{}\", resource=\"{}\"",
                state.base,
                vault.tenant,
                challenge_resource(state)
            ),
        );
    };
    let oid = match authenticate(state, &config, &vault.tenant, token) {
        Ok(oid) => oid,
        Err(reply) => return reply,
    };
    let (name, version, op) = match rest {
        [name] | [name, ""] => (*name, None, None),
        [name, version] => (*name, Some(*version), None),
        [name, version, op] => (*name, Some(*version), Some(*op)),
        _ => return error(404, "NotFound", "No such Key Vault operation."),
    };
    let Some(key) = vault.keys.iter().find(|k| k.name == name) else {
        return error(
            404,
            "KeyNotFound",
            &format!("A key with (name/id) {name} was not found in this key vault."),
        );
    };
    let Some((current, private)) = material(state, name) else {
        return error(500, "InternalServerError", "The key could not be made.");
    };
    if let Some(v) = version.filter(|v| !v.is_empty())
        && v != current
    {
        return error(
            404,
            "KeyNotFound",
            &format!("A key with (name/id) {name}/{v} was not found in this key vault."),
        );
    }
    let kid = format!("{}/keys/{name}/{current}", state.base);
    let action = match op {
        None => "read",
        Some(op) => op,
    };
    if !vault
        .crypto_users
        .iter()
        .any(|u| u.eq_ignore_ascii_case(&oid))
    {
        let data_action = match action {
            "read" => "Microsoft.KeyVault/vaults/keys/read".to_string(),
            op => format!("Microsoft.KeyVault/vaults/keys/{op}/action"),
        };
        return Reply::json(
            403,
            &json!({"error": {
                "code": "Forbidden",
                "message": format!(
                    "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: oid={oid}\r\nAction: '{data_action}'\r\nResource: '{}/keys/{name}'\r\nAssignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: {};location=local\r\n",
                    state.base, state.base
                ),
                "innererror": {"code": "ForbiddenByRbac"}
            }}),
        );
    }
    match (req.method.as_str(), op) {
        ("GET", None) => Reply::json(
            200,
            &json!({
                "key": {"kid": kid, "kty": "RSA", "key_ops": key.ops},
                "attributes": {"enabled": true, "recoveryLevel": "Recoverable+Purgeable"},
            }),
        ),
        ("POST", Some(op @ ("encrypt" | "decrypt" | "wrapkey" | "unwrapkey"))) => {
            let op_name = match op {
                "wrapkey" => "wrapKey",
                "unwrapkey" => "unwrapKey",
                other => other,
            };
            if !key.ops.iter().any(|o| o == op_name) {
                return error(
                    403,
                    "Forbidden",
                    &format!("Operation {op_name} is not permitted on this key."),
                );
            }
            operate(op_name, &kid, &private, &req.body)
        }
        _ => error(405, "MethodNotAllowed", "The method is not allowed here."),
    }
}

fn operate(op: &str, kid: &str, private: &PrivateDecryptingKey, body: &[u8]) -> Reply {
    let body: Value = serde_json::from_slice(body).unwrap_or_default();
    let alg = body.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg != "RSA-OAEP-256" {
        return error(
            400,
            "BadParameter",
            &format!("Algorithm '{alg}' is not supported by this emulator; use RSA-OAEP-256."),
        );
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some(value) = body
        .get("value")
        .and_then(Value::as_str)
        .and_then(|v| b64.decode(v.trim_end_matches('=')).ok())
    else {
        return error(
            400,
            "BadParameter",
            "Property 'value' is missing or not base64url.",
        );
    };
    let result = match op {
        "encrypt" | "wrapKey" => {
            let Ok(public) = OaepPublicEncryptingKey::new(private.public_key()) else {
                return error(500, "InternalServerError", "bad key");
            };
            let mut out = vec![0u8; public.ciphertext_size()];
            public
                .encrypt(&OAEP_SHA256_MGF1SHA256, &value, &mut out, None)
                .map(|c| c.to_vec())
        }
        _ => {
            let Ok(k) = OaepPrivateDecryptingKey::new(private.clone()) else {
                return error(500, "InternalServerError", "bad key");
            };
            let mut out = vec![0u8; k.key_size_bytes()];
            k.decrypt(&OAEP_SHA256_MGF1SHA256, &value, &mut out, None)
                .map(|p| p.to_vec())
        }
    };
    match result {
        Ok(bytes) => Reply::json(200, &json!({"kid": kid, "value": b64.encode(bytes)})),
        Err(_) => error(
            400,
            "BadParameter",
            "Error while decrypting: bad ciphertext.",
        ),
    }
}

/// Checks the token: an Entra token of the vault's tenant for the vault; returns its `oid`.
fn authenticate(
    state: &State,
    config: &Config,
    tenant: &str,
    token: &str,
) -> Result<String, Reply> {
    let unauthorized = |msg: &str| error(401, "Unauthorized", msg);
    let decoded = jwt::decode(token).map_err(|_| unauthorized("AKV10022: Invalid token."))?;
    let issuer = decoded.str_claim("iss").unwrap_or_default();
    let known =
        config.tenant(tenant).is_some() && entra::tenant_issuer(&state.base, tenant) == issuer;
    if !known
        || decoded.kid() != Some(state.keys.entra.kid())
        || !state
            .keys
            .entra
            .verifies(decoded.signing_input.as_bytes(), &decoded.signature)
    {
        return Err(unauthorized(
            "AKV10032: Invalid issuer or signature for this vault's tenant.",
        ));
    }
    if decoded.num_claim("exp").unwrap_or(0) <= util::now() {
        return Err(unauthorized("AKV10021: Token is expired."));
    }
    let challenge = challenge_resource(state);
    let audiences = decoded.audiences();
    if !audiences.iter().any(|a| {
        let a = a.trim_end_matches('/');
        a == VAULT_RESOURCE || a == challenge
    }) {
        return Err(unauthorized(&format!(
            "AKV10022: Invalid audience. Expected {VAULT_RESOURCE}, found: {}.",
            audiences.first().cloned().unwrap_or_default()
        )));
    }
    Ok(decoded.str_claim("oid").unwrap_or_default().to_string())
}
