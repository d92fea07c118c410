//! The client stack to the API server, speaking HTTP/2 where the server (or a TLS-inspecting
//! proxy) agrees to it in the TLS handshake (ALPN `h2`), HTTP/1.1 otherwise: one multiplexed
//! connection carries every request in flight, as kubectl's does, instead of one TLS
//! connection per request in flight.
//!
//! kube 5 builds its stack with an HTTP/1.1-only connector and no hook to change it, so this is
//! kube's default stack (`ClientBuilder::try_from(Config)`) assembled again from the same public
//! parts: the same connector (direct, or tunnelled through an `http://`/`https://` proxy with
//! its basic credentials), TLS configuration, timeouts, base URI, authentication, extra headers,
//! retry and request tracing (target `kube_client`, so `KPUSH_LOG=kube_client=debug` shows each
//! request as before); only the TLS connector offers `h2` besides `http/1.1`.

use std::time::Duration;

use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;
use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::TokioExecutor;
use kube::client::{Body, ClientBuilder, ConfigExt, DynBody};
use kube::{Client, Config};
use tower::retry::RetryLayer;
use tower::util::BoxService;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::trace::TraceLayer;
use tracing::Span;

use super::request_count::{CountLayer, Requests};

/// The stack every kpush client to an API server is built on.
pub type Stack = BoxService<Request<Body>, Response<Box<DynBody>>, BoxError>;

/// A client for `config`, speaking HTTP/2 when the server agrees (see the module's text).
pub fn client(config: Config) -> Result<Client, kube::Error> {
    Ok(builder(config)?.build())
}

/// [`client`], with the counts of the requests it sends (per phase: read
/// [`Requests::stats`] before and after, [`super::request_count::RequestStats::since`]).
pub fn counted_client(config: Config) -> Result<(Client, Requests), kube::Error> {
    let requests = Requests::default();
    Ok((counted_builder(config, &requests)?.build(), requests))
}

/// [`client`]'s builder, for adding layers (an Entra bearer token) before building.
pub fn builder(config: Config) -> Result<ClientBuilder<Stack>, kube::Error> {
    counted_builder(config, &Requests::default())
}

/// [`builder`], counting the requests into `requests`.
pub fn counted_builder(
    config: Config,
    requests: &Requests,
) -> Result<ClientBuilder<Stack>, kube::Error> {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Only fails when another thread installed one meanwhile: that one is kept.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    // HTTP/2 writes a request's HEADERS and DATA frames apart: with Nagle's algorithm the
    // second waits for the server's delayed ACK (tens of milliseconds per request with a body).
    tcp.set_nodelay(true);
    let tls = config.rustls_client_config()?;
    let https = |tls: rustls::ClientConfig| {
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
    };
    let server_name = config
        .tls_server_name
        .as_ref()
        .map(|name| {
            rustls::pki_types::ServerName::try_from(name.clone())
                .map_err(|e| kube::Error::Service(format!("tls-server-name '{name}': {e}").into()))
        })
        .transpose()?;
    let to_server = |tls: rustls::ClientConfig| {
        let b = https(tls);
        match &server_name {
            Some(name) => b.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(
                name.clone(),
            )),
            None => b,
        }
        .enable_all_versions()
    };
    match config.proxy_url.clone() {
        None => assemble(to_server(tls).wrap_connector(tcp), config, requests),
        Some(proxy) if proxy.scheme_str() == Some("http") => {
            let tunnel = with_basic_auth(&proxy, Tunnel::new(proxy.clone(), tcp));
            assemble(to_server(tls).wrap_connector(tunnel), config, requests)
        }
        Some(proxy) if proxy.scheme_str() == Some("https") => {
            // TLS to the proxy (HTTP/1.1 for CONNECT), then TLS to the server through it.
            let to_proxy = https(tls.clone()).enable_http1().wrap_connector(tcp);
            let tunnel = with_basic_auth(&proxy, Tunnel::new(proxy.clone(), to_proxy));
            assemble(to_server(tls).wrap_connector(tunnel), config, requests)
        }
        Some(proxy) => Err(kube::Error::ProxyProtocolUnsupported {
            proxy_url: Box::new(proxy),
        }),
    }
}

/// `Proxy-Authorization: Basic` from the proxy URL's user and password (percent-decoded).
fn with_basic_auth<C>(proxy: &http::Uri, tunnel: Tunnel<C>) -> Tunnel<C> {
    use base64::Engine;
    let Some((userinfo, _)) = proxy.authority().and_then(|a| a.as_str().split_once('@')) else {
        return tunnel;
    };
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(userinfo).collect();
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(decoded)
    );
    match http::HeaderValue::from_str(&value) {
        Ok(mut header) => {
            header.set_sensitive(true);
            tunnel.with_auth(header)
        }
        Err(_) => tunnel,
    }
}

fn assemble<C>(
    connector: C,
    config: Config,
    requests: &Requests,
) -> Result<ClientBuilder<Stack>, kube::Error>
where
    C: Service<http::Uri> + Clone + Send + Sync + 'static,
    C::Response: hyper::rt::Read
        + hyper::rt::Write
        + hyper_util::client::legacy::connect::Connection
        + Send
        + Unpin
        + 'static,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    let mut connector = TimeoutConnector::new(connector);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let http: hyper_util::client::legacy::Client<_, Body> =
        hyper_util::client::legacy::Builder::new(TokioExecutor::new()).build(connector);
    let auth = config.auth_layer()?;
    let headers = config.extra_headers_layer()?;
    let retry = config
        .default_retry
        .then(|| RetryLayer::new(kube::client::retry::RetryPolicy::server_retry()));
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(retry)
        .option_layer(auth)
        .layer(headers)
        .layer(trace_layer())
        .layer(CountLayer(requests.clone()))
        .map_err(BoxError::from)
        .service(http);
    Ok(ClientBuilder::new(
        service
            .map_response(|r: Response<_>| {
                r.map(|body| {
                    Box::new(http_body_util::BodyExt::map_err(body, BoxError::from)) as Box<DynBody>
                })
            })
            .boxed(),
        config.default_namespace.clone(),
    ))
}

/// kube's request tracing, under kube's target (`KPUSH_LOG=kube_client=debug`).
#[allow(clippy::type_complexity)]
fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&Request<Body>) -> Span + Clone,
    impl Fn(&Request<Body>, &Span) + Clone,
    impl Fn(&Response<Incoming>, Duration, &Span) + Clone,
    (),
    impl Fn(Option<&HeaderMap>, Duration, &Span) + Clone,
    impl Fn(ServerErrorsFailureClass, Duration, &Span) + Clone,
> {
    TraceLayer::new_for_http()
        .make_span_with(|req: &Request<Body>| {
            tracing::debug_span!(
                target: "kube_client",
                "HTTP",
                http.method = %req.method(),
                http.url = %req.uri(),
                http.status_code = tracing::field::Empty,
                otel.name = req.extensions().get::<&'static str>().unwrap_or(&"HTTP"),
                otel.kind = "client",
                otel.status_code = tracing::field::Empty,
            )
        })
        .on_request(|_: &Request<Body>, _: &Span| {
            tracing::debug!(target: "kube_client", "requesting");
        })
        .on_response(|res: &Response<Incoming>, _: Duration, span: &Span| {
            let status = res.status();
            span.record("http.status_code", status.as_u16());
            if status.is_client_error() || status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
        })
        .on_body_chunk(())
        .on_eos(|_: Option<&HeaderMap>, _: Duration, _: &Span| {
            tracing::debug!(target: "kube_client", "stream closed");
        })
        .on_failure(|ec: ServerErrorsFailureClass, _: Duration, span: &Span| {
            span.record("otel.status_code", "ERROR");
            match ec {
                ServerErrorsFailureClass::StatusCode(status) => {
                    span.record("http.status_code", status.as_u16());
                    tracing::error!(target: "kube_client", "failed with status {status}")
                }
                ServerErrorsFailureClass::Error(err) => {
                    tracing::error!(target: "kube_client", "failed with error {err}")
                }
            }
        })
}
