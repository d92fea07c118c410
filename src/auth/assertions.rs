//! Client assertions kpush makes itself: a fresh GitHub Actions ID token per request, and a
//! certificate-signed JWT (so PEM certificates work without OpenSSL).

use super::AuthError;
use super::error::{PresentedAssertion, redact};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use azure_core::credentials::Secret;
use azure_core::error::ErrorKind;
use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// The audience Entra expects on federated tokens.
pub(crate) const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Where the last presented assertion's (non-secret) claims are kept for error messages.
pub(crate) type PresentedSlot = Arc<Mutex<Option<PresentedAssertion>>>;

/// Decodes `iss`, `sub` and `aud` of a JWT without verifying it (they are not secret).
pub(crate) fn presented_claims(jwt: &str) -> Option<PresentedAssertion> {
    let payload = jwt.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let audience = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    Some(PresentedAssertion {
        issuer: claims.get("iss")?.as_str()?.to_string(),
        subject: claims.get("sub")?.as_str()?.to_string(),
        audience,
    })
}

fn to_sdk_error(e: AuthError) -> azure_core::Error {
    let message = e.to_string();
    azure_core::Error::with_error(ErrorKind::Credential, e, message)
}

/// Fetches a GitHub Actions ID token for every Entra token request.
pub(crate) struct GithubAssertion {
    url: String,
    request_token: Secret,
    http: reqwest::Client,
    presented: PresentedSlot,
}

impl fmt::Debug for GithubAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubAssertion").finish_non_exhaustive()
    }
}

impl GithubAssertion {
    /// From `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub fn new(
        request_url: &str,
        request_token: String,
        http: reqwest::Client,
        presented: PresentedSlot,
    ) -> Result<Self, AuthError> {
        let mut url = url::Url::parse(request_url).map_err(|e| AuthError::Config {
            message: format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {e}"),
            fix: "run inside GitHub Actions, which sets it when the job has `permissions: id-token: write`".into(),
        })?;
        url.query_pairs_mut()
            .append_pair("audience", TOKEN_EXCHANGE_AUDIENCE);
        Ok(GithubAssertion {
            url: url.to_string(),
            request_token: Secret::new(request_token),
            http,
            presented,
        })
    }

    async fn fetch(&self) -> Result<String, AuthError> {
        let provider = "GitHub Actions OIDC token request".to_string();
        let response = self
            .http
            .get(&self.url)
            .header(
                "authorization",
                format!("bearer {}", self.request_token.secret()),
            )
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| AuthError::Unreachable {
                what: "GitHub's OIDC token endpoint".into(),
                url: self.url.split('?').next().unwrap_or_default().to_string(),
                detail: super::http::transport_detail(&e),
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(AuthError::TokenSource {
                provider,
                message: format!("GitHub answered HTTP {}", status.as_u16()),
                fix: "give the job `permissions: id-token: write` (and `contents: read`); the request token lives only as long as the job".into(),
            });
        }
        let body: Value = response.json().await.map_err(|e| AuthError::TokenSource {
            provider: provider.clone(),
            message: format!("the answer is not JSON: {}", redact(&e.to_string())),
            fix: "retry; if it persists GitHub's OIDC service may be degraded".into(),
        })?;
        let token = body
            .get("value")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthError::TokenSource {
                provider,
                message: "the answer has no `value`".into(),
                fix: "retry; if it persists GitHub's OIDC service may be degraded".into(),
            })?;
        if let Ok(mut slot) = self.presented.lock() {
            *slot = presented_claims(token);
        }
        Ok(token.to_string())
    }
}

#[async_trait::async_trait]
impl ClientAssertion for GithubAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        self.fetch().await.map_err(to_sdk_error)
    }
}

/// Signs a client assertion with a certificate's RSA key (`private_key_jwt`).
pub(crate) struct CertificateAssertion {
    client_id: String,
    token_endpoint: String,
    key: RsaKeyPair,
    x5t_s256: String,
    x5t: String,
    x5c: Option<String>,
}

impl fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .field("x5t#S256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

impl CertificateAssertion {
    /// Loads a PEM file holding the certificate and its RSA private key (PKCS#8 or PKCS#1).
    pub fn from_pem_file(
        path: &Path,
        client_id: &str,
        token_endpoint: String,
        send_chain: bool,
    ) -> Result<Self, AuthError> {
        let bad = |message: String| {
            AuthError::Config {
            message,
            fix: "AZURE_CLIENT_CERTIFICATE_PATH must be a PEM file with the certificate and its unencrypted RSA private key; convert a PFX with `openssl pkcs12 -in cert.pfx -out cert.pem -nodes`".into(),
        }
        };
        let pem = std::fs::read(path).map_err(|e| {
            bad(format!(
                "cannot read certificate file {}: {e}",
                path.display()
            ))
        })?;
        let cert = CertificateDer::pem_slice_iter(&pem)
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| bad(format!("{} holds no PEM certificate", path.display())))?;
        let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
            bad(format!(
                "{} holds no unencrypted PEM private key",
                path.display()
            ))
        })?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => {
                return Err(bad(format!(
                    "the private key in {} is not RSA; Entra certificate credentials need RSA",
                    path.display()
                )));
            }
        }
        .map_err(|e| {
            bad(format!(
                "the private key in {} is not a usable RSA key: {e}",
                path.display()
            ))
        })?;
        let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.as_ref());
        let sha1 =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.as_ref());
        Ok(CertificateAssertion {
            client_id: client_id.to_string(),
            token_endpoint,
            key,
            x5t_s256: URL_SAFE_NO_PAD.encode(sha256.as_ref()),
            x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
            x5c: send_chain.then(|| STANDARD.encode(cert.as_ref())),
        })
    }

    /// A signed assertion valid for ten minutes.
    pub fn sign(&self) -> Result<String, AuthError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut header =
            json!({"alg": "RS256", "typ": "JWT", "x5t#S256": self.x5t_s256, "x5t": self.x5t});
        if let Some(x5c) = &self.x5c {
            header["x5c"] = json!([x5c]);
        }
        let claims = json!({
            "aud": self.token_endpoint,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": uuid_v4(),
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| AuthError::Config {
                message: "signing the client assertion with the certificate's key failed".into(),
                fix: "check that AZURE_CLIENT_CERTIFICATE_PATH holds a valid RSA key".into(),
            })?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        self.sign().map_err(to_sdk_error)
    }
}

fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_claims_are_read_without_verification() {
        let payload = URL_SAFE_NO_PAD.encode(
            r#"{"iss":"https://token.actions.githubusercontent.com","sub":"repo:o/r:ref:refs/heads/main","aud":"api://AzureADTokenExchange"}"#,
        );
        let p = presented_claims(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(p.subject, "repo:o/r:ref:refs/heads/main");
        assert_eq!(p.audience, vec!["api://AzureADTokenExchange"]);
        assert!(presented_claims("garbage").is_none());
    }
}
