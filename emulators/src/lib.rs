//! Local HTTPS emulators of the Azure services kpush signs in with, for tests.
//!
//! One server on `127.0.0.1:<free port>`, with its own CA, serves at the same paths as the
//! real services (so a client only changes the host):
//! - Microsoft Entra ID (`/{tenant}/v2.0/.well-known/openid-configuration`,
//!   `/{tenant}/discovery/v2.0/keys`, `/{tenant}/oauth2/v2.0/token`,
//!   `/{tenant}/oauth2/v2.0/devicecode`),
//! - GitHub Actions OIDC (`/github/idtoken`, issuer `/github`),
//! - Azure DevOps OIDC (`/ado/.../oidctoken`, issuer `/ado/{org-id}`),
//! - a Kubernetes service-account issuer for workload identity (`/workload`),
//! - the App Service managed identity endpoint (`/msi/token`),
//! - ARM's AKS API (`/subscriptions/.../managedClusters/{name}[/listClusterUserCredential]`),
//! - GitHub's REST API for deployments and their statuses (`/repos/{owner}/{repo}/deployments`),
//!   with a job `GITHUB_TOKEN`'s permission model,
//! - webhook receivers for Slack, Teams Workflows and CloudEvents (`/webhooks/{kind}/{id}`),
//!   checking payloads against the published formats,
//! - a stand-in AKS API server that only checks Entra tokens (`/kube/version`, `/kube/api`).
//!
//! ```no_run
//! use kpush_azure_emulator::{App, Config, Emulator, Principal, Tenant};
//! let emulator = Emulator::start(Config {
//!     tenants: vec![Tenant {
//!         id: "contoso".into(),
//!         apps: vec![App::with_secret("app-1", "s3cret")],
//!         principals: vec![Principal::service("oid-1", "app-1", &[])],
//!     }],
//!     ..Config::default()
//! })?;
//! println!("authority host {} trusts {}", emulator.url(), emulator.ca_file().display());
//! # anyhow::Ok(())
//! ```

mod aadsts;
mod arm;
pub mod config;
mod entra;
mod github_api;
mod issuers;
pub mod jwt;
mod key_vault;
mod kube;
mod managed_identity;
mod server;
pub mod tls;
mod util;
mod webhooks;

pub use config::*;
pub use github_api::GithubDeployment;
pub use tls::{ClientCertificate, generate_client_certificate};
pub use webhooks::ReceivedWebhook;

use anyhow::{Context, anyhow};
use serde_json::{Map, Value, json};
use server::{Keys, State};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// One request the emulator answered: method, path (no query string) and status. Never bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// URL path.
    pub path: String,
    /// Response status.
    pub status: u16,
}

/// Who signs a token made with [`Emulator::mint_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenIssuer {
    /// Entra ID for a tenant (access-token shape, `iss` = the tenant issuer).
    Entra(String),
    /// The GitHub Actions OIDC provider.
    Github,
    /// The Azure DevOps OIDC provider.
    AzureDevOps,
    /// The workload-identity (Kubernetes service account) issuer.
    Workload,
}

/// Which key signs a minted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignWith {
    /// The issuer's published key: the token verifies.
    IssuerKey,
    /// Another key, under the issuer's `kid`: the signature check fails.
    WrongKey,
    /// Another key with a `kid` nobody publishes.
    UnknownKey,
}

/// A token to mint: issuer, extra claims, lifetime and key.
#[derive(Debug, Clone)]
pub struct Mint {
    /// Issuer whose `iss` (and normally key) is used.
    pub issuer: TokenIssuer,
    /// Claims added to (or replacing) the defaults `iss`, `iat`, `nbf`, `exp` (and `tid`, `ver`).
    pub claims: Map<String, Value>,
    /// Seconds until `exp`; negative mints an expired token.
    pub lifetime_secs: i64,
    /// Signing key.
    pub sign_with: SignWith,
}

impl Mint {
    /// A valid one-hour token from `issuer` with no extra claims.
    pub fn new(issuer: TokenIssuer) -> Self {
        Mint {
            issuer,
            claims: Map::new(),
            lifetime_secs: 3600,
            sign_with: SignWith::IssuerKey,
        }
    }

    /// Adds a claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_string(), value.into());
        self
    }

    /// Sets the lifetime (negative: already expired).
    pub fn lifetime(mut self, secs: i64) -> Self {
        self.lifetime_secs = secs;
        self
    }

    /// Chooses the signing key.
    pub fn signed_with(mut self, key: SignWith) -> Self {
        self.sign_with = key;
        self
    }
}

/// A running emulator; dropping it stops the server.
pub struct Emulator {
    state: Arc<State>,
    addr: SocketAddr,
    ca_pem: String,
    ca_file: PathBuf,
    _ca_dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts the server on 127.0.0.1 and a free port, on its own thread and runtime.
    pub fn start(config: Config) -> anyhow::Result<Emulator> {
        Self::start_on(config, 0)
    }

    /// Starts the server on 127.0.0.1:`port` (0 picks a free port).
    pub fn start_on(config: Config, port: u16) -> anyhow::Result<Emulator> {
        let pki = tls::generate().context("creating the emulator's CA")?;
        let listener = TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("binding 127.0.0.1:{port}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let ca_dir = tempfile::Builder::new()
            .prefix("kpush-azure-emulator-")
            .tempdir()
            .context("creating a directory for the CA file")?;
        let ca_file = ca_dir.path().join("ca.pem");
        std::fs::write(&ca_file, &pki.ca_pem)
            .with_context(|| format!("writing {}", ca_file.display()))?;
        let keys = Keys {
            entra: jwt::SigningKey::generate("entra")?,
            github: jwt::SigningKey::generate("github")?,
            ado: jwt::SigningKey::generate("ado")?,
            workload: jwt::SigningKey::generate("workload")?,
            rogue: jwt::SigningKey::generate("rogue")?,
        };
        let state = Arc::new(State {
            config: RwLock::new(config),
            base: format!("https://127.0.0.1:{}", addr.port()),
            keys,
            log: Mutex::new(Vec::new()),
            device_codes: Mutex::new(Vec::new()),
            refresh_tokens: Mutex::new(Default::default()),
            kube_rejections: Default::default(),
            github: Default::default(),
            webhooks: Default::default(),
            webhook_failures: Default::default(),
            vault_keys: Mutex::new(Default::default()),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the emulator's tokio runtime")?;
        let (tx, rx) = oneshot::channel();
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config);
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name("kpush-azure-emulator".into())
            .spawn(move || {
                runtime.block_on(server::serve(listener, acceptor, thread_state, rx));
            })
            .context("spawning the emulator thread")?;
        Ok(Emulator {
            state,
            addr,
            ca_pem: pki.ca_pem,
            ca_file,
            _ca_dir: ca_dir,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// Base URL, `https://127.0.0.1:PORT` (no trailing slash): the authority host and ARM endpoint.
    pub fn url(&self) -> String {
        self.state.base.clone()
    }

    /// Socket address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the CA that issued the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A file holding [`Self::ca_pem`] (for `--azure-ca-file` or `--oidc-ca-file`).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// Entra's issuer for `tenant`: `https://HOST:PORT/{tenant}/v2.0`.
    pub fn tenant_issuer(&self, tenant: &str) -> String {
        entra::tenant_issuer(&self.state.base, tenant)
    }

    /// The issuer URL of a federated-credential issuer.
    pub fn issuer_url(&self, issuer: &Issuer) -> String {
        issuer_url(&self.state.base, &self.state.config(), issuer)
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` (already has a query string, like GitHub's).
    pub fn github_request_url(&self) -> String {
        format!("{}/github/idtoken?api-version=2.0", self.state.base)
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub fn github_request_token(&self) -> String {
        self.state.config().github.request_token
    }

    /// `SYSTEM_OIDCREQUESTURI` (clients append `?api-version=7.1&serviceConnectionId=ID`).
    pub fn ado_oidc_url(&self) -> String {
        let config = self.state.config();
        format!(
            "{}/ado/{}/{}/_apis/distributedtask/hubs/build/plans/{}/jobs/{}/oidctoken",
            self.state.base,
            config.ado.org,
            config.ado.project,
            "9f7c2d7e-6a8e-4d21-9f0b-0c3e5a1b2c3d",
            "12f1170f-54f2-53f3-20dd-22fc7dff55f9"
        )
    }

    /// `SYSTEM_ACCESSTOKEN`.
    pub fn ado_system_access_token(&self) -> String {
        self.state.config().ado.system_access_token
    }

    /// `IDENTITY_ENDPOINT` for the App Service managed identity protocol.
    pub fn managed_identity_endpoint(&self) -> String {
        format!("{}/msi/token", self.state.base)
    }

    /// The id (`{vault}/keys/{name}/{version}`) of the Key Vault key `name`, made on first use.
    pub fn key_vault_key_id(&self, name: &str) -> String {
        let version = key_vault::material(&self.state, name)
            .map(|(v, _)| v)
            .unwrap_or_default();
        format!("{}/keys/{name}/{version}", self.url())
    }

    /// The resource the Key Vault challenge names (the parent domain of the vault's host), for
    /// [`Config::resources`] so that Entra and managed identity issue tokens for it.
    pub fn key_vault_challenge_resource(&self) -> String {
        key_vault::challenge_resource(&self.state)
    }

    /// The audience of real Key Vault tokens, `https://vault.azure.net`.
    pub const KEY_VAULT_RESOURCE: &str = key_vault::VAULT_RESOURCE;

    /// Base URL of a stand-in AKS API server (`https://HOST:PORT/kube`) that accepts only
    /// unexpired Entra tokens for AKS and serves `/version` and `/api`.
    pub fn kube_url(&self) -> String {
        format!("{}/kube", self.state.base)
    }

    /// Makes the stand-in API server answer the next `n` requests with 401, whatever the token.
    pub fn reject_next_kube_requests(&self, n: usize) {
        self.state
            .kube_rejections
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// `GITHUB_API_URL` for the GitHub REST subset (deployments): the base URL itself.
    pub fn github_api_url(&self) -> String {
        self.state.base.clone()
    }

    /// The GitHub deployments created so far (every repository), oldest first.
    pub fn github_deployments(&self) -> Vec<GithubDeployment> {
        match self.state.github.lock() {
            Ok(s) => s.snapshot(),
            Err(poisoned) => poisoned.into_inner().snapshot(),
        }
    }

    /// The URL of a webhook receiver: `kind` is `slack`, `teams` or `cloudevents`; the id
    /// `gone` answers 404.
    pub fn webhook_url(&self, kind: &str, id: &str) -> String {
        format!("{}/webhooks/{kind}/{id}", self.state.base)
    }

    /// The messages the webhook receivers accepted, in order.
    pub fn webhooks(&self) -> Vec<ReceivedWebhook> {
        self.state
            .webhooks
            .lock()
            .map(|w| w.clone())
            .unwrap_or_default()
    }

    /// Makes the next `n` webhook requests answer 503 with `Retry-After: 1`.
    pub fn fail_next_webhooks(&self, n: usize) {
        self.state
            .webhook_failures
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// A copy of the current configuration.
    pub fn config(&self) -> Config {
        self.state.config()
    }

    /// Changes the configuration of the running emulator.
    pub fn configure(&self, change: impl FnOnce(&mut Config)) {
        let mut guard = match self.state.config.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        change(&mut guard);
    }

    /// Mints a token (valid, expired, or wrongly signed) as one of the emulated issuers.
    pub fn mint_token(&self, mint: Mint) -> String {
        let now = util::now();
        let (iss, key) = match &mint.issuer {
            TokenIssuer::Entra(t) => (self.tenant_issuer(t), &self.state.keys.entra),
            TokenIssuer::Github => (self.issuer_url(&Issuer::Github), &self.state.keys.github),
            TokenIssuer::AzureDevOps => {
                (self.issuer_url(&Issuer::AzureDevOps), &self.state.keys.ado)
            }
            TokenIssuer::Workload => (
                self.issuer_url(&Issuer::Workload),
                &self.state.keys.workload,
            ),
        };
        let exp = now + mint.lifetime_secs;
        let iat = if mint.lifetime_secs < 0 {
            exp - 3600
        } else {
            now
        };
        let mut claims = json!({"iss": iss, "iat": iat, "nbf": iat, "exp": exp});
        if let TokenIssuer::Entra(t) = &mint.issuer {
            claims["tid"] = json!(t);
            claims["ver"] = json!("2.0");
        }
        if let Some(map) = claims.as_object_mut() {
            for (k, v) in mint.claims {
                map.insert(k, v);
            }
        }
        match mint.sign_with {
            SignWith::IssuerKey => key.sign(&claims, None),
            SignWith::WrongKey => {
                let header = json!({"typ": "JWT", "alg": "RS256", "kid": key.kid()});
                self.state.keys.rogue.sign_with_header(&header, &claims)
            }
            SignWith::UnknownKey => self.state.keys.rogue.sign(&claims, None),
        }
    }

    /// Mints an Entra access token for a principal, as the token endpoint would.
    pub fn mint_access_token(
        &self,
        tenant: &str,
        oid: &str,
        audience: &str,
        lifetime_secs: i64,
    ) -> anyhow::Result<String> {
        let config = self.state.config();
        let t = config
            .tenant(tenant)
            .ok_or_else(|| anyhow!("tenant {tenant} is not configured"))?;
        let p = t
            .principal(oid)
            .ok_or_else(|| anyhow!("principal {oid} is not in tenant {tenant}"))?;
        let client = p.client_ids.first().cloned().unwrap_or_default();
        Ok(entra::issue_access_token(
            &self.state,
            t,
            p,
            &client,
            audience,
            p.username.is_some(),
            lifetime_secs,
        ))
    }

    /// Verifies a token Entra (this emulator) issued and returns its claims.
    pub fn verify_entra_token(&self, token: &str) -> anyhow::Result<Map<String, Value>> {
        let decoded = jwt::decode(token)?;
        let key = &self.state.keys.entra;
        if decoded.kid() != Some(key.kid())
            || !key.verifies(decoded.signing_input.as_bytes(), &decoded.signature)
        {
            return Err(anyhow!("the token's signature does not verify"));
        }
        Ok(decoded.claims)
    }

    /// User codes of device-code sign-ins still waiting for the user.
    pub fn pending_user_codes(&self) -> Vec<String> {
        self.state
            .device_codes
            .lock()
            .map(|codes| {
                codes
                    .iter()
                    .filter(|c| c.state == entra::DeviceState::Pending)
                    .map(|c| c.user_code.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Completes a device-code sign-in as the user with object id `oid`.
    pub fn approve_device_code(&self, user_code: &str, oid: &str) -> anyhow::Result<()> {
        self.set_device_state(user_code, entra::DeviceState::Approved(oid.to_string()))
    }

    /// Declines a device-code sign-in.
    pub fn decline_device_code(&self, user_code: &str) -> anyhow::Result<()> {
        self.set_device_state(user_code, entra::DeviceState::Declined)
    }

    fn set_device_state(&self, user_code: &str, state: entra::DeviceState) -> anyhow::Result<()> {
        let mut codes = self
            .state
            .device_codes
            .lock()
            .map_err(|_| anyhow!("device-code store is poisoned"))?;
        let entry = codes
            .iter_mut()
            .find(|c| c.user_code.eq_ignore_ascii_case(user_code))
            .ok_or_else(|| anyhow!("no device-code sign-in with user code {user_code}"))?;
        entry.state = state;
        Ok(())
    }

    /// Requests answered so far (method, path, status).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        if let Ok(mut l) = self.state.log.lock() {
            l.clear();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The issuer URL of a federated-credential issuer on the emulator at `base`.
pub(crate) fn issuer_url(base: &str, config: &Config, issuer: &Issuer) -> String {
    match issuer {
        Issuer::Github => format!("{base}/github"),
        Issuer::AzureDevOps => format!("{base}/ado/{}", config.ado.org_id),
        Issuer::Workload => format!("{base}/workload"),
        Issuer::Url(u) => u.clone(),
    }
}

/// The key that signs tokens of `issuer`, if the emulator runs that issuer.
pub(crate) fn issuer_key<'a>(
    state: &'a State,
    config: &Config,
    issuer: &str,
) -> Option<&'a jwt::SigningKey> {
    [
        (Issuer::Github, &state.keys.github),
        (Issuer::AzureDevOps, &state.keys.ado),
        (Issuer::Workload, &state.keys.workload),
    ]
    .into_iter()
    .find(|(i, _)| issuer_url(&state.base, config, i) == issuer)
    .map(|(_, k)| k)
}
