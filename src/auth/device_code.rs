//! Interactive device-code sign-in (plain OAuth 2.0 against Entra's `/devicecode` and token
//! endpoints), with refresh tokens cached in a file only the user can read.

use super::aadsts::{self, SignInContext};
use super::chain::Lookup;
use super::error::redact;
use super::tokens::{AccessToken, TokenProvider};
use super::{AuthError, AuthMethod, AzureSettings, DEVICE_CODE_CLIENT_ID, DeviceCodePrompt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The token cache file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    accounts: Vec<CachedAccount>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CachedAccount {
    authority: String,
    tenant: String,
    client_id: String,
    refresh_token: Option<String>,
    access_tokens: BTreeMap<String, CachedToken>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedToken {
    token: String,
    expires_on: u64,
}

/// The default cache file: `$XDG_CACHE_HOME/kpush/entra-tokens.json` (or the platform's
/// equivalent).
pub(crate) fn default_cache_file() -> Option<PathBuf> {
    let base = if cfg!(windows) {
        std::env::var_os("LOCALAPPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Library/Caches"))
    } else {
        std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
    }?;
    Some(base.join("kpush").join("entra-tokens.json"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn load(path: &Path) -> CacheFile {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            tracing::warn!(file = %path.display(), "ignoring an unreadable token cache");
            CacheFile::default()
        }),
        Err(_) => CacheFile::default(),
    }
}

/// Writes the cache atomically with mode 0600 (directory 0700) on Unix.
fn save(path: &Path, cache: &CacheFile) -> Result<(), AuthError> {
    let fail = |e: std::io::Error| AuthError::Config {
        message: format!("cannot write the token cache {}: {e}", path.display()),
        fix: "make the cache directory writable, or pass another --token-cache-file".into(),
    };
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(fail)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let body = serde_json::to_vec_pretty(cache).map_err(|e| fail(std::io::Error::other(e)))?;
    {
        use std::io::Write;
        let mut file = options.open(&tmp).map_err(fail)?;
        file.write_all(&body).map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}

/// Device-code sign-in as a token provider.
pub(crate) struct DeviceCodeProvider {
    http: reqwest::Client,
    authority: String,
    tenant: String,
    client_id: String,
    cache_file: PathBuf,
    prompt: super::DeviceCodeCallback,
    lock: tokio::sync::Mutex<()>,
}

#[derive(Deserialize)]
struct DeviceCodeResponse {
    user_code: String,
    device_code: String,
    verification_uri: String,
    expires_in: u64,
    #[serde(default)]
    interval: Option<u64>,
    message: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    refresh_token: Option<String>,
}

enum Poll {
    Token(TokenResponse),
    Pending,
    SlowDown,
}

impl DeviceCodeProvider {
    /// From settings: public client id (default kubelogin's), tenant, cache file.
    pub fn new(
        settings: &AzureSettings,
        http: reqwest::Client,
        env: Lookup<'_>,
    ) -> Result<Self, AuthError> {
        let cache_file = settings
            .token_cache_file
            .clone()
            .or_else(default_cache_file)
            .ok_or_else(|| AuthError::Config {
                message: "no cache directory for device-code sign-ins (HOME is not set)".into(),
                fix: "set HOME (or XDG_CACHE_HOME), or pass --token-cache-file".into(),
            })?;
        let prompt = settings.device_code_prompt.clone().unwrap_or_else(|| {
            std::sync::Arc::new(|p: &DeviceCodePrompt| eprintln!("{}", p.message))
        });
        Ok(DeviceCodeProvider {
            http,
            authority: settings.authority_host()?,
            tenant: super::chain::tenant_id(settings, env)
                .unwrap_or_else(|| "organizations".to_string()),
            client_id: settings
                .client_id
                .clone()
                .unwrap_or_else(|| DEVICE_CODE_CLIENT_ID.to_string()),
            cache_file,
            prompt,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    fn ctx(&self) -> SignInContext {
        SignInContext {
            method: Some(AuthMethod::DeviceCode),
            tenant_id: self.tenant.clone(),
            client_id: self.client_id.clone(),
            presented: None,
        }
    }

    fn endpoint(&self, leaf: &str) -> String {
        format!("{}/{}/oauth2/v2.0/{leaf}", self.authority, self.tenant)
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<(u16, Vec<u8>), AuthError> {
        let body = form_urlencode(form);
        let response = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| AuthError::Unreachable {
                what: "Entra ID".into(),
                url: self.authority.clone(),
                detail: super::http::transport_detail(&e),
            })?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| AuthError::Unreachable {
            what: "Entra ID".into(),
            url: self.authority.clone(),
            detail: super::http::transport_detail(&e),
        })?;
        Ok((status, bytes.to_vec()))
    }

    fn entra_error(&self, status: u16, body: &[u8]) -> AuthError {
        aadsts::from_response(body, &self.ctx()).unwrap_or_else(|| AuthError::Credential {
            method: AuthMethod::DeviceCode,
            message: format!(
                "Entra ID answered HTTP {status}: {}",
                redact(&String::from_utf8_lossy(body))
                    .chars()
                    .take(300)
                    .collect::<String>()
            ),
        })
    }

    fn parse_token(&self, body: &[u8]) -> Result<TokenResponse, AuthError> {
        serde_json::from_slice(body).map_err(|e| AuthError::Credential {
            method: AuthMethod::DeviceCode,
            message: format!("Entra's token response is not understood: {e}"),
        })
    }

    async fn refresh(
        &self,
        refresh_token: &str,
        scope: &str,
    ) -> Result<Option<TokenResponse>, AuthError> {
        let scopes = format!("{scope} offline_access");
        let (status, body) = self
            .post(
                &self.endpoint("token"),
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &self.client_id),
                    ("refresh_token", refresh_token),
                    ("scope", &scopes),
                ],
            )
            .await?;
        if status == 200 {
            return self.parse_token(&body).map(Some);
        }
        let error = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string));
        if matches!(
            error.as_deref(),
            Some("invalid_grant" | "interaction_required")
        ) {
            tracing::info!("the cached sign-in is no longer valid; signing in again");
            return Ok(None);
        }
        Err(self.entra_error(status, &body))
    }

    async fn poll(&self, device_code: &str) -> Result<Poll, AuthError> {
        let (status, body) = self
            .post(
                &self.endpoint("token"),
                &[
                    ("grant_type", GRANT_DEVICE_CODE),
                    ("client_id", &self.client_id),
                    ("device_code", device_code),
                ],
            )
            .await?;
        if status == 200 {
            return self.parse_token(&body).map(Poll::Token);
        }
        let error = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string));
        match error.as_deref() {
            Some("authorization_pending") => Ok(Poll::Pending),
            Some("slow_down") => Ok(Poll::SlowDown),
            _ => Err(self.entra_error(status, &body)),
        }
    }

    async fn device_flow(&self, scope: &str) -> Result<TokenResponse, AuthError> {
        let scopes = format!("{scope} offline_access");
        let (status, body) = self
            .post(
                &self.endpoint("devicecode"),
                &[("client_id", &self.client_id), ("scope", &scopes)],
            )
            .await?;
        if status != 200 {
            return Err(self.entra_error(status, &body));
        }
        let code: DeviceCodeResponse =
            serde_json::from_slice(&body).map_err(|e| AuthError::Credential {
                method: AuthMethod::DeviceCode,
                message: format!("Entra's device-code response is not understood: {e}"),
            })?;
        (self.prompt)(&DeviceCodePrompt {
            message: code.message.clone(),
            verification_uri: code.verification_uri.clone(),
            user_code: code.user_code.clone(),
        });
        let mut interval = Duration::from_secs(code.interval.unwrap_or(5).max(1));
        let deadline = std::time::Instant::now() + Duration::from_secs(code.expires_in);
        loop {
            tokio::time::sleep(interval).await;
            if std::time::Instant::now() > deadline {
                return Err(AuthError::Entra {
                    method: AuthMethod::DeviceCode,
                    code: "AADSTS70020".into(),
                    explanation: "the device code expired before the sign-in was completed".into(),
                    fix: "run the command again and complete the sign-in within 15 minutes".into(),
                    description: "device code expired (checked by kpush)".into(),
                    presented: None,
                });
            }
            match self.poll(&code.device_code).await? {
                Poll::Token(t) => return Ok(t),
                Poll::Pending => {}
                Poll::SlowDown => interval += Duration::from_secs(5),
            }
        }
    }
}

#[async_trait::async_trait]
impl TokenProvider for DeviceCodeProvider {
    async fn fetch(&self, scope: &str, fresh: bool) -> Result<AccessToken, AuthError> {
        let _guard = self.lock.lock().await;
        let mut cache = load(&self.cache_file);
        cache.version = 1;
        let index = match cache.accounts.iter().position(|a| {
            a.authority == self.authority
                && a.tenant == self.tenant
                && a.client_id == self.client_id
        }) {
            Some(i) => i,
            None => {
                cache.accounts.push(CachedAccount {
                    authority: self.authority.clone(),
                    tenant: self.tenant.clone(),
                    client_id: self.client_id.clone(),
                    ..Default::default()
                });
                cache.accounts.len() - 1
            }
        };
        if !fresh
            && let Some(cached) = cache.accounts[index].access_tokens.get(scope)
            && cached.expires_on > now() + 60
        {
            return Ok(AccessToken::new(
                cached.token.clone(),
                UNIX_EPOCH + Duration::from_secs(cached.expires_on),
            ));
        }
        let refreshed = match cache.accounts[index].refresh_token.clone() {
            Some(rt) => self.refresh(&rt, scope).await?,
            None => None,
        };
        let response = match refreshed {
            Some(r) => r,
            None => {
                cache.accounts[index].refresh_token = None;
                self.device_flow(scope).await?
            }
        };
        let expires_on = now() + response.expires_in;
        let account = &mut cache.accounts[index];
        if let Some(rt) = &response.refresh_token {
            account.refresh_token = Some(rt.clone());
        }
        account.access_tokens.retain(|_, t| t.expires_on > now());
        account.access_tokens.insert(
            scope.to_string(),
            CachedToken {
                token: response.access_token.clone(),
                expires_on,
            },
        );
        save(&self.cache_file, &cache)?;
        Ok(AccessToken::new(
            response.access_token,
            UNIX_EPOCH + Duration::from_secs(expires_on),
        ))
    }

    fn method(&self) -> AuthMethod {
        AuthMethod::DeviceCode
    }
}

fn form_urlencode(pairs: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}
