//! Access tokens, the providers that fetch them, and a per-scope cache that refreshes them
//! before they expire.

use super::{AuthError, AuthMethod};
use azure_core::credentials::Secret;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An Entra access token. `Debug` does not show the token.
#[derive(Clone)]
pub struct AccessToken {
    token: Secret,
    /// When the token expires.
    pub expires_on: SystemTime,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field("expires_on", &self.expires_on_rfc3339())
            .finish()
    }
}

impl AccessToken {
    /// Wraps a token string and its expiry.
    pub fn new(token: impl Into<String>, expires_on: SystemTime) -> Self {
        AccessToken {
            token: Secret::new(token.into()),
            expires_on,
        }
    }

    /// The bearer token itself. Never log it.
    pub fn secret(&self) -> &str {
        self.token.secret()
    }

    /// Expiry as RFC 3339 UTC (`2025-01-02T03:04:05Z`), as exec credential plugins report it.
    pub fn expires_on_rfc3339(&self) -> String {
        let secs = self
            .expires_on
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        rfc3339(secs)
    }

    /// Who the token was issued to, from its (unverified, not secret) claims: the `oid`, as
    /// AKS API servers name Entra principals, else `upn` or `sub`.
    pub fn principal(&self) -> Option<String> {
        use base64::Engine;
        let payload = self.secret().split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        ["oid", "upn", "sub"]
            .iter()
            .find_map(|c| claims.get(c).and_then(|v| v.as_str()).map(str::to_string))
    }

    /// Time left before expiry (zero if expired).
    pub fn remaining(&self) -> Duration {
        self.expires_on
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }
}

impl From<azure_core::credentials::AccessToken> for AccessToken {
    fn from(t: azure_core::credentials::AccessToken) -> Self {
        let secs = t.expires_on.unix_timestamp().max(0) as u64;
        AccessToken {
            token: t.token,
            expires_on: UNIX_EPOCH + Duration::from_secs(secs),
        }
    }
}

/// `ts` (seconds since the Unix epoch) as RFC 3339 UTC, as Kubernetes writes times.
pub(crate) fn rfc3339(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Something that can get an Entra token for a scope.
#[async_trait::async_trait]
pub(crate) trait TokenProvider: Send + Sync {
    /// Gets a token; `fresh` bypasses any cache below (after the server rejected a token).
    async fn fetch(&self, scope: &str, fresh: bool) -> Result<AccessToken, AuthError>;
    /// The sign-in method.
    fn method(&self) -> AuthMethod;
}

/// A token for one scope, refreshed before it expires.
pub(crate) struct TokenSource {
    provider: Arc<dyn TokenProvider>,
    scope: String,
    cached: tokio::sync::Mutex<Option<(AccessToken, SystemTime)>>,
}

/// How long before expiry a token is replaced: five minutes, or half its lifetime if shorter.
fn refresh_margin(obtained: SystemTime, expires: SystemTime) -> Duration {
    let lifetime = expires.duration_since(obtained).unwrap_or(Duration::ZERO);
    (lifetime / 2).min(Duration::from_secs(300))
}

impl TokenSource {
    /// A source for `scope` backed by `provider`.
    pub fn new(provider: Arc<dyn TokenProvider>, scope: &str) -> Self {
        TokenSource {
            provider,
            scope: scope.to_string(),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// A valid token, fetched again when the cached one is near expiry.
    pub async fn token(&self) -> Result<AccessToken, AuthError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, obtained)) = cached.as_ref() {
            let margin = refresh_margin(*obtained, token.expires_on);
            if token.remaining() > margin {
                return Ok(token.clone());
            }
            tracing::debug!(scope = %self.scope, "access token near expiry, refreshing");
        }
        let token = self.provider.fetch(&self.scope, false).await?;
        *cached = Some((token.clone(), SystemTime::now()));
        Ok(token)
    }

    /// A new token after the server rejected `rejected`; if another request already replaced
    /// it, that replacement is returned instead of fetching again.
    pub async fn refresh_rejected(&self, rejected: &str) -> Result<AccessToken, AuthError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, _)) = cached.as_ref()
            && token.secret() != rejected
        {
            return Ok(token.clone());
        }
        tracing::info!(scope = %self.scope, "the server rejected the access token (401); getting a new one");
        let token = self.provider.fetch(&self.scope, true).await?;
        *cached = Some((token.clone(), SystemTime::now()));
        Ok(token)
    }

    /// The sign-in method behind this source.
    pub fn method(&self) -> AuthMethod {
        self.provider.method()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_refresh_at_half_life_long_ones_five_minutes_early() {
        let now = SystemTime::now();
        assert_eq!(
            refresh_margin(now, now + Duration::from_secs(30)),
            Duration::from_secs(15)
        );
        assert_eq!(
            refresh_margin(now, now + Duration::from_secs(3600)),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn expiry_is_printed_as_rfc3339_and_debug_hides_the_token() {
        let t = AccessToken::new("sekrit", UNIX_EPOCH + Duration::from_secs(1_586_984_735));
        assert_eq!(t.expires_on_rfc3339(), "2020-04-15T21:05:35Z");
        assert!(!format!("{t:?}").contains("sekrit"));
    }

    #[test]
    fn the_principal_is_the_oid_claim_and_opaque_tokens_have_none() {
        use base64::Engine;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"oid":"aaaa-1","sub":"s"}"#);
        let t = AccessToken::new(format!("eyJhbGciOiJub25lIn0.{claims}.sig"), UNIX_EPOCH);
        assert_eq!(t.principal().as_deref(), Some("aaaa-1"));
        assert_eq!(AccessToken::new("opaque", UNIX_EPOCH).principal(), None);
    }
}
