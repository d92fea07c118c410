//! A `kube::Client` whose requests carry a fresh Entra bearer token: kube's default stack plus
//! a tower layer that sets `Authorization`, refreshes before expiry, and on a 401 gets a new
//! token and retries once.

use super::AuthError;
use super::tokens::TokenSource;
use futures::future::BoxFuture;
use http::header::{AUTHORIZATION, HeaderValue};
use http::{Request, Response, StatusCode};
use kube::client::Body;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::buffer::Buffer;
use tower::{BoxError, Layer, Service, ServiceExt};

/// Requests waiting for the inner service at once.
const BUFFER: usize = 1024;

/// Adds an Entra bearer token to every request.
#[derive(Clone)]
pub(crate) struct BearerLayer {
    tokens: Arc<TokenSource>,
}

impl BearerLayer {
    /// A layer drawing tokens from `tokens`.
    pub fn new(tokens: Arc<TokenSource>) -> Self {
        BearerLayer { tokens }
    }
}

impl<S> Layer<S> for BearerLayer
where
    S: Service<Request<Body>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send + Sync,
    S::Response: Send + 'static,
{
    type Service = BearerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerService {
            inner: Buffer::new(inner, BUFFER),
            tokens: self.tokens.clone(),
        }
    }
}

/// The service [`BearerLayer`] makes; the inner service is buffered so it can be cloned for
/// the retry.
pub(crate) struct BearerService<S>
where
    S: Service<Request<Body>>,
{
    inner: Buffer<Request<Body>, S::Future>,
    tokens: Arc<TokenSource>,
}

impl<S> Clone for BearerService<S>
where
    S: Service<Request<Body>>,
    S::Future: Send + 'static,
{
    fn clone(&self) -> Self {
        BearerService {
            inner: self.inner.clone(),
            tokens: self.tokens.clone(),
        }
    }
}

fn bearer(token: &str) -> Result<HeaderValue, BoxError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| BoxError::from("the access token is not a valid header value"))?;
    value.set_sensitive(true);
    Ok(value)
}

fn copy_request(req: &Request<Body>) -> Option<Request<Body>> {
    let body = req.body().try_clone()?;
    let mut copy = Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    Some(copy)
}

impl<S, B> Service<Request<Body>> for BearerService<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send + Sync,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The ready service goes with this call; the clone stays for the next poll_ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let mut retry_inner = self.inner.clone();
        let tokens = self.tokens.clone();
        Box::pin(async move {
            let token = tokens.token().await.map_err(BoxError::from)?;
            let retry = copy_request(&req);
            req.headers_mut()
                .insert(AUTHORIZATION, bearer(token.secret())?);
            let response = inner.call(req).await?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            let Some(mut retry) = retry else {
                return Ok(response);
            };
            let fresh = tokens
                .refresh_rejected(token.secret())
                .await
                .map_err(BoxError::from)?;
            retry
                .headers_mut()
                .insert(AUTHORIZATION, bearer(fresh.secret())?);
            retry_inner.ready().await?.call(retry).await
        })
    }
}

/// Builds a client for `server` trusting `ca_der`, authenticating with `tokens`; `adjust`
/// changes the configuration (timeouts, retries) before the client is built.
pub(crate) fn build(
    server: &str,
    ca_der: Vec<Vec<u8>>,
    tokens: Arc<TokenSource>,
    adjust: impl FnOnce(&mut kube::Config),
) -> Result<kube::Client, AuthError> {
    let uri: http::Uri = server.parse().map_err(|e| AuthError::Kubeconfig {
        message: format!("the server '{server}' is not a URL: {e}"),
    })?;
    let mut config = kube::Config::new(uri);
    config.root_cert = Some(ca_der);
    config.default_namespace = "default".into();
    adjust(&mut config);
    let builder = super::connection::builder(config).map_err(|e| AuthError::Kube {
        message: e.to_string(),
    })?;
    Ok(builder.with_layer(&BearerLayer::new(tokens)).build())
}
