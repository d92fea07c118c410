//! The HTTPS listener, request plumbing and routing.

use crate::config::Config;
use crate::jwt::SigningKey;
use crate::{
    LoggedRequest, arm, entra, github_api, issuers, key_vault, kube, managed_identity, webhooks,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Method, Response, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, RwLock};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

/// Signing keys of every emulated issuer.
pub(crate) struct Keys {
    pub entra: SigningKey,
    pub github: SigningKey,
    pub ado: SigningKey,
    pub workload: SigningKey,
    /// A key nobody publishes, for wrongly signed tokens.
    pub rogue: SigningKey,
}

/// State shared by all request handlers and the [`crate::Emulator`] handle.
pub(crate) struct State {
    pub config: RwLock<Config>,
    /// `https://127.0.0.1:PORT`
    pub base: String,
    pub keys: Keys,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub device_codes: Mutex<Vec<entra::DeviceCode>>,
    pub refresh_tokens: Mutex<HashMap<String, entra::RefreshGrant>>,
    /// Requests to `/kube` still to answer 401 regardless of their token.
    pub kube_rejections: std::sync::atomic::AtomicUsize,
    /// GitHub deployments and their statuses.
    pub github: Mutex<github_api::Store>,
    /// Messages the webhook receivers accepted.
    pub webhooks: Mutex<Vec<webhooks::ReceivedWebhook>>,
    /// Webhook requests still to answer 503.
    pub webhook_failures: std::sync::atomic::AtomicUsize,
    /// Key Vault keys made so far, by name.
    pub vault_keys: Mutex<HashMap<String, key_vault::KeyMaterial>>,
}

impl State {
    /// A snapshot of the configuration.
    pub fn config(&self) -> Config {
        match self.config.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// A request with its body read.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    /// The body parsed as `application/x-www-form-urlencoded` (first value per key).
    pub fn form(&self) -> HashMap<String, String> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(&self.body) {
            map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        map
    }

    /// The token of an `Authorization: Bearer` header (scheme case-insensitive).
    pub fn bearer(&self) -> Option<&str> {
        let value = self.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }
}

/// A response to send.
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    /// A JSON response.
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            headers: Vec::new(),
            body: value.to_string(),
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// Accepts connections until `shutdown` fires.
pub(crate) async fn serve(
    listener: std::net::TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kpush-azure-emulator: cannot listen: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let state = state.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let io = hyper_util::rt::TokioIo::new(tls);
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        }
    }
}

async fn handle(state: &State, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let method = parts.method.clone();
    let reply = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => {
            let query = parts
                .uri
                .query()
                .map(|q| {
                    let mut map = HashMap::new();
                    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                        map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
                    }
                    map
                })
                .unwrap_or_default();
            let req = Req {
                method: parts.method,
                path: path.clone(),
                query,
                headers: parts.headers,
                body: collected.to_bytes(),
            };
            route(state, &req)
        }
        Err(_) => Reply::text(413, "request body too large or unreadable"),
    };
    if let Ok(mut log) = state.log.lock() {
        log.push(LoggedRequest {
            method: method.to_string(),
            path,
            status: reply.status,
        });
    }
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

fn route(state: &State, req: &Req) -> Reply {
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let get = req.method == Method::GET;
    let post = req.method == Method::POST;
    match segments.as_slice() {
        ["github", ".well-known", "openid-configuration"] if get => {
            issuers::discovery(&state.base, "github")
        }
        ["github", ".well-known", "jwks"] if get => issuers::jwks(&state.keys.github),
        ["github", "idtoken"] if get => issuers::github_token(state, req),
        ["workload", ".well-known", "openid-configuration"] if get => {
            issuers::discovery(&state.base, "workload")
        }
        ["workload", ".well-known", "jwks"] if get => issuers::jwks(&state.keys.workload),
        ["ado", .., "oidctoken"] if post => issuers::ado_token(state, req),
        ["ado", org_id, ".well-known", "openid-configuration"] if get => {
            issuers::discovery(&state.base, &format!("ado/{org_id}"))
        }
        ["ado", _, ".well-known", "jwks"] if get => issuers::jwks(&state.keys.ado),
        ["msi", "token"] if get => managed_identity::token(state, req),
        ["subscriptions", ..] => arm::handle(state, req, &segments),
        ["repos", rest @ ..] => github_api::handle(state, req, rest),
        ["webhooks", kind, id] if post => webhooks::handle(state, req, kind, id),
        ["keys", rest @ ..] => key_vault::handle(state, req, rest),
        ["kube", rest @ ..] if get => kube::handle(state, req, rest),
        ["devicelogin"] if get => Reply::text(
            200,
            "kpush Azure emulator: device codes are approved by the test (Emulator::approve_device_code).",
        ),
        [tenant, "v2.0", ".well-known", "openid-configuration"] if get => {
            entra::discovery(state, tenant)
        }
        [tenant, "discovery", "v2.0", "keys"] if get => entra::keys(state, tenant),
        [tenant, "oauth2", "v2.0", "token"] if post => entra::token(state, tenant, req),
        [tenant, "oauth2", "v2.0", "devicecode"] if post => entra::devicecode(state, tenant, req),
        _ => Reply::json(
            404,
            &serde_json::json!({"error": "not_found", "error_description": format!("The emulator has no endpoint {} {}.", req.method, req.path)}),
        ),
    }
}
