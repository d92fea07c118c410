//! A fault-injecting proxy between kpush and a test cluster's API server.
//!
//! [`FaultProxy`] terminates TLS with a certificate of its own (trusted through the kubeconfig
//! it writes), opens a TLS connection to the real API server for each client connection, and
//! pipes the bytes between them. Tests script faults while traffic flows:
//!
//! - [`FaultProxy::set_round_trip`]: added network distance (half each way, pipelined);
//! - [`FaultProxy::outage`]: open connections are reset and new ones refused for a while (the
//!   port is closed), as when a control plane restarts or a load balancer resets;
//! - [`FaultProxy::reset_after_bytes`]: connections are reset once that many response bytes went
//!   through;
//! - [`FaultProxy::stall`]: connections are accepted and requests read, but nothing moves;
//! - [`FaultProxy::cut_watches`]: connections that carry a watch are closed mid-stream;
//! - [`FaultProxy::freeze_watches`]: connections that carry a watch go silent for good, neither
//!   forwarding nor closing, as when a load balancer or NAT forgets the flow;
//! - [`FaultProxy::http_fault`]: the next requests are answered by the proxy itself with 429
//!   (`Retry-After`) or 503, as the API server's priority and fairness or a gateway would.
//!
//! The proxy runs on a thread and runtime of its own, so a test may block its own thread (for
//! example running the `kpush` binary) while the proxy works.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::TestCluster;

/// A response the proxy gives instead of forwarding a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFault {
    /// `429 Too Many Requests` with `Retry-After` and a Kubernetes Status carrying
    /// `details.retryAfterSeconds`, as kube-apiserver's priority and fairness answers.
    TooManyRequests {
        /// Seconds the client is asked to wait.
        retry_after_seconds: u32,
    },
    /// `503 Service Unavailable` with a plain-text body, as a gateway in front of the API
    /// server answers while its backend restarts.
    ServiceUnavailable,
}

/// Counts of what the proxy did, for test assertions and reliability figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Client connections accepted.
    pub connections: u64,
    /// Connections reset or closed by a fault (outage, byte limit, cut watch, stall ended).
    pub connections_broken: u64,
    /// Requests answered with an [`HttpFault`].
    pub http_faults: u64,
    /// Watch connections frozen by [`FaultProxy::freeze_watches`].
    pub watches_frozen: u64,
}

#[derive(Debug, Default)]
struct Settings {
    one_way_delay: Duration,
    refuse_until: Option<Instant>,
    reset_after_bytes: Option<u64>,
    stalled: bool,
    http_fault: Option<HttpFault>,
    http_faults_left: u64,
}

const KILL_CLOSE: u8 = 1;
const KILL_RESET: u8 = 2;

/// What the proxy knows about one open connection.
struct Conn {
    carries_watch: Arc<AtomicBool>,
    frozen: Arc<AtomicBool>,
    kill: Arc<KillSwitch>,
}

#[derive(Default)]
struct KillSwitch {
    kind: AtomicU8,
    notify: Notify,
}

impl KillSwitch {
    fn trigger(&self, kind: u8) {
        self.kind.store(kind, Ordering::SeqCst);
        self.notify.notify_one();
    }

    async fn wait(&self) -> u8 {
        self.notify.notified().await;
        self.kind.load(Ordering::SeqCst)
    }
}

#[derive(Default)]
struct Shared {
    settings: Mutex<Settings>,
    /// Woken on every settings change: stalled pumps and the accept loop re-check.
    changed: Notify,
    conns: Mutex<HashMap<u64, Conn>>,
    next_id: AtomicU64,
    connections: AtomicU64,
    broken: AtomicU64,
    http_faults: AtomicU64,
    frozen: AtomicU64,
    /// With [`FaultProxy::start_http2`]: the connector to the API server for clients that
    /// chose `h2`.
    h2_upstream: Option<TlsConnector>,
}

impl Shared {
    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<u64, Conn>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Kills the open connections `which` selects.
    fn kill(&self, kind: u8, which: impl Fn(&Conn) -> bool) -> usize {
        let conns = self.conns();
        let mut n = 0;
        for conn in conns.values().filter(|c| which(c)) {
            conn.kill.trigger(kind);
            n += 1;
        }
        n
    }

    /// Returns once the proxy is not stalled.
    async fn unstalled(&self) {
        loop {
            let changed = self.changed.notified();
            if !self.settings().stalled {
                return;
            }
            changed.await;
        }
    }

    /// Takes one scripted HTTP fault, if any is left.
    fn take_http_fault(&self) -> Option<HttpFault> {
        let mut s = self.settings();
        if s.http_faults_left == 0 {
            return None;
        }
        s.http_faults_left -= 1;
        s.http_fault
    }
}

/// A running fault-injecting proxy; dropping it stops it and closes its connections.
pub struct FaultProxy {
    port: u16,
    ca_pem: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts a proxy in front of `cluster`'s API server, passing traffic through unchanged.
    pub fn start(cluster: &TestCluster) -> Result<FaultProxy> {
        let upstream: SocketAddr = cluster
            .server()
            .trim_start_matches("https://")
            .parse()
            .with_context(|| format!("the API server {} is not host:port", cluster.server()))?;
        Self::start_for(upstream, &cluster.ca_pem())
    }

    /// Like [`FaultProxy::start`], but offering HTTP/2 (ALPN `h2`) as the API server does,
    /// for measuring a client that speaks it (the benchmarks' network distance). Only the
    /// round trip, outages and stalls apply to HTTP/2 connections: watches and HTTP faults are
    /// recognised in HTTP/1.1 only.
    pub fn start_http2(cluster: &TestCluster) -> Result<FaultProxy> {
        let upstream: SocketAddr = cluster
            .server()
            .trim_start_matches("https://")
            .parse()
            .with_context(|| format!("the API server {} is not host:port", cluster.server()))?;
        Self::start_with(upstream, &cluster.ca_pem(), true)
    }

    /// Starts a proxy for the TLS server at `upstream`, whose certificate `upstream_ca_pem` signed.
    pub fn start_for(upstream: SocketAddr, upstream_ca_pem: &[u8]) -> Result<FaultProxy> {
        Self::start_with(upstream, upstream_ca_pem, false)
    }

    fn start_with(upstream: SocketAddr, upstream_ca_pem: &[u8], http2: bool) -> Result<FaultProxy> {
        let pki = kpush_azure_emulator::tls::generate().context("creating the proxy's CA")?;
        let mut server_config = pki.server_config;
        let mut h2_upstream = None;
        if http2 {
            let mut config = (*server_config).clone();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            server_config = Arc::new(config);
            h2_upstream = Some(upstream_connector_alpn(upstream_ca_pem, b"h2")?);
        }
        let acceptor = TlsAcceptor::from(server_config);
        let connector = upstream_connector(upstream_ca_pem)?;
        let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("binding the fault proxy")?;
        std_listener.set_nonblocking(true)?;
        let port = std_listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            h2_upstream,
            ..Shared::default()
        });
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("building the fault proxy's runtime")?;
        let accept_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("kpush-fault-proxy-{port}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("fault proxy cannot listen: {e}");
                            return;
                        }
                    };
                    let accept =
                        accept_loop(listener, port, accept_shared, acceptor, connector, upstream);
                    tokio::select! {
                        _ = accept => {}
                        _ = shutdown_rx => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(200));
            })
            .context("spawning the fault proxy thread")?;
        Ok(FaultProxy {
            port,
            ca_pem: pki.ca_pem,
            shared,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// The proxy's URL, `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// PEM of the CA that signed the proxy's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A kubeconfig for `user` of `cluster` that goes through this proxy.
    pub fn kubeconfig(&self, cluster: &TestCluster, user: &str) -> String {
        crate::cluster::render_kubeconfig(
            &self.url(),
            self.ca_pem.as_bytes(),
            user,
            cluster.token(user),
        )
    }

    /// Writes [`FaultProxy::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, cluster: &TestCluster, user: &str, path: &Path) -> Result<()> {
        std::fs::write(path, self.kubeconfig(cluster, user))
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Adds `rtt` of round-trip time to every connection (half each way; data stays pipelined).
    pub fn set_round_trip(&self, rtt: Duration) {
        self.shared.settings().one_way_delay = rtt / 2;
        self.shared.changed.notify_waiters();
    }

    /// Resets every open connection and refuses new ones (closed port) for `duration`.
    pub fn outage(&self, duration: Duration) {
        self.shared.settings().refuse_until = Some(Instant::now() + duration);
        self.shared.changed.notify_waiters();
        let n = self.shared.kill(KILL_RESET, |_| true);
        self.shared.broken.fetch_add(n as u64, Ordering::SeqCst);
    }

    /// Whether an [`FaultProxy::outage`] is still refusing connections.
    pub fn refusing(&self) -> bool {
        self.shared
            .settings()
            .refuse_until
            .is_some_and(|t| t > Instant::now())
    }

    /// Resets each connection once `bytes` response bytes went through it (`None`: never).
    pub fn reset_after_bytes(&self, bytes: Option<u64>) {
        self.shared.settings().reset_after_bytes = bytes;
    }

    /// While `on`, connections are accepted and read but nothing is forwarded either way.
    pub fn stall(&self, on: bool) {
        self.shared.settings().stalled = on;
        self.shared.changed.notify_waiters();
    }

    /// Closes every open connection that carries a watch; returns how many.
    pub fn cut_watches(&self) -> usize {
        let n = self
            .shared
            .kill(KILL_CLOSE, |c| c.carries_watch.load(Ordering::SeqCst));
        self.shared.broken.fetch_add(n as u64, Ordering::SeqCst);
        n
    }

    /// Freezes every open connection that carries a watch: from now on nothing is forwarded
    /// either way and neither side's close is passed on, so the client hears nothing, ever
    /// (new connections work). Returns how many.
    pub fn freeze_watches(&self) -> usize {
        let conns = self.shared.conns();
        let mut n = 0;
        for conn in conns
            .values()
            .filter(|c| c.carries_watch.load(Ordering::SeqCst))
        {
            conn.frozen.store(true, Ordering::SeqCst);
            n += 1;
        }
        drop(conns);
        self.shared.frozen.fetch_add(n as u64, Ordering::SeqCst);
        n
    }

    /// Answers the next `count` requests with `fault` instead of forwarding them. Open
    /// connections are closed so that the client's next requests come through new ones.
    pub fn http_fault(&self, fault: HttpFault, count: u64) {
        {
            let mut s = self.shared.settings();
            s.http_fault = Some(fault);
            s.http_faults_left = count;
        }
        let n = self.shared.kill(KILL_CLOSE, |_| true);
        self.shared.broken.fetch_add(n as u64, Ordering::SeqCst);
    }

    /// What the proxy did so far.
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            connections: self.shared.connections.load(Ordering::SeqCst),
            connections_broken: self.shared.broken.load(Ordering::SeqCst),
            http_faults: self.shared.http_faults.load(Ordering::SeqCst),
            watches_frozen: self.shared.frozen.load(Ordering::SeqCst),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        drop(self.shutdown.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn upstream_connector(ca_pem: &[u8]) -> Result<TlsConnector> {
    upstream_connector_alpn(ca_pem, b"http/1.1")
}

fn upstream_connector_alpn(ca_pem: &[u8], alpn: &[u8]) -> Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots
            .add(cert.context("reading the API server's CA")?)
            .context("trusting the API server's CA")?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn accept_loop(
    mut listener: TcpListener,
    port: u16,
    shared: Arc<Shared>,
    acceptor: TlsAcceptor,
    connector: TlsConnector,
    upstream: SocketAddr,
) {
    loop {
        let changed = shared.changed.notified();
        let refuse_until = shared.settings().refuse_until;
        if let Some(until) = refuse_until.filter(|t| *t > Instant::now()) {
            // A closed port: connections are refused by the kernel, as with a stopped server.
            drop(listener);
            tokio::time::sleep_until(until).await;
            listener = match rebind(port).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!("fault proxy cannot listen again on {port}: {e}");
                    return;
                }
            };
            continue;
        }
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(
                    shared.clone(),
                    tcp,
                    acceptor.clone(),
                    connector.clone(),
                    upstream,
                ));
            }
            _ = changed => {}
        }
    }
}

async fn rebind(port: u16) -> std::io::Result<TcpListener> {
    let mut last = None;
    for _ in 0..50 {
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("cannot bind")))
}

/// Sets `SO_LINGER` to zero so that closing the socket sends a TCP reset.
fn arm_reset(fd: i32) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket this process owns, with a correctly sized option value.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// Why a connection ended early.
#[derive(Debug)]
enum Broken {
    /// Either side failed or went away.
    Io,
    /// The response byte limit was reached: the socket is armed to reset.
    ByteLimit,
}

async fn serve(
    shared: Arc<Shared>,
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    connector: TlsConnector,
    upstream: SocketAddr,
) {
    let fd = tcp.as_raw_fd();
    let _ = tcp.set_nodelay(true);
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let carries_watch = Arc::new(AtomicBool::new(false));
    let frozen = Arc::new(AtomicBool::new(false));
    let kill = Arc::new(KillSwitch::default());
    shared.conns().insert(
        id,
        Conn {
            carries_watch: carries_watch.clone(),
            frozen: frozen.clone(),
            kill: kill.clone(),
        },
    );
    let killed = async {
        let kind = kill.wait().await;
        // The connection's future still owns the socket here: arm it before it is dropped.
        if kind == KILL_RESET {
            arm_reset(fd);
        }
    };
    let connection = Connection {
        shared: &shared,
        fd,
        carries_watch: &carries_watch,
        frozen: &frozen,
    };
    tokio::select! {
        r = connection.run(tcp, acceptor, connector, upstream) => {
            if let Err(Broken::ByteLimit) = r {
                shared.broken.fetch_add(1, Ordering::SeqCst);
            }
        }
        _ = killed => {}
    }
    shared.conns().remove(&id);
}

/// One client connection and the API server connection it was paired with.
struct Connection<'a> {
    shared: &'a Shared,
    fd: i32,
    carries_watch: &'a AtomicBool,
    frozen: &'a AtomicBool,
}

impl Connection<'_> {
    async fn run(
        &self,
        tcp: TcpStream,
        acceptor: TlsAcceptor,
        connector: TlsConnector,
        upstream: SocketAddr,
    ) -> Result<(), Broken> {
        let client = acceptor.accept(tcp).await.map_err(|_| Broken::Io)?;
        // A stalled proxy completes the handshake and then answers nothing.
        self.shared.unstalled().await;
        if let Some(fault) = self.shared.take_http_fault() {
            self.shared.http_faults.fetch_add(1, Ordering::SeqCst);
            answer_with(client, fault).await;
            return Ok(());
        }
        // A client that chose h2 (only offered by `start_http2`) gets h2 to the API server too.
        let connector = match (client.get_ref().1.alpn_protocol(), &self.shared.h2_upstream) {
            (Some(b"h2"), Some(h2)) => h2.clone(),
            _ => connector,
        };
        let up = TcpStream::connect(upstream).await.map_err(|_| Broken::Io)?;
        let _ = up.set_nodelay(true);
        let name = ServerName::from(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST));
        let server = connector.connect(name, up).await.map_err(|_| Broken::Io)?;
        let (client_read, client_write) = tokio::io::split(client);
        let (server_read, server_write) = tokio::io::split(server);
        let requests = pump(
            self.shared,
            client_read,
            server_write,
            Some(self.carries_watch),
            self.frozen,
            false,
        );
        let responses = pump(
            self.shared,
            server_read,
            client_write,
            None,
            self.frozen,
            true,
        );
        let result = tokio::try_join!(requests, responses).map(|_| ());
        if let Err(Broken::ByteLimit) = result {
            arm_reset(self.fd);
        }
        result
    }
}

/// Copies `from` to `to`, each chunk delivered one-way-delay after it was read (so the delay
/// adds latency without limiting throughput), held back while the proxy is stalled, and
/// swallowed (ends and errors included) once the connection is frozen.
async fn pump<R, W>(
    shared: &Shared,
    mut from: R,
    mut to: W,
    watch_flag: Option<&AtomicBool>,
    frozen: &AtomicBool,
    limit_bytes: bool,
) -> Result<(), Broken>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0u64;
        loop {
            let read = from.read(&mut buf).await;
            if frozen.load(Ordering::SeqCst) {
                // A forgotten flow: nothing is passed on, not even a close.
                if matches!(read, Ok(0) | Err(_)) {
                    std::future::pending::<()>().await;
                }
                continue;
            }
            let n = read.map_err(|_| Broken::Io)?;
            if n == 0 {
                return Ok::<(), Broken>(());
            }
            let chunk = &buf[..n];
            if let Some(flag) = watch_flag
                && (contains(chunk, b"watch=true") || contains(chunk, b"watch=1"))
            {
                flag.store(true, Ordering::SeqCst);
            }
            let (delay, limit) = {
                let s = shared.settings();
                (s.one_way_delay, s.reset_after_bytes)
            };
            total += n as u64;
            if limit_bytes && limit.is_some_and(|l| total > l) {
                return Err(Broken::ByteLimit);
            }
            tx.send((Instant::now() + delay, chunk.to_vec()))
                .map_err(|_| Broken::Io)?;
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            shared.unstalled().await;
            if frozen.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            to.write_all(&chunk).await.map_err(|_| Broken::Io)?;
            to.flush().await.map_err(|_| Broken::Io)?;
        }
        let _ = to.shutdown().await;
        Ok::<(), Broken>(())
    };
    tokio::try_join!(reader, writer).map(|_| ())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Reads the request head and answers with `fault`, closing the connection.
async fn answer_with<S>(mut client: S, fault: HttpFault)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let read_head = async {
        while !contains(&head, b"\r\n\r\n") {
            match client.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    };
    if !matches!(
        tokio::time::timeout(Duration::from_secs(10), read_head).await,
        Ok(true)
    ) {
        return;
    }
    let response = fault_response(fault);
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}

/// The raw HTTP/1.1 response for `fault`.
fn fault_response(fault: HttpFault) -> String {
    let (status, content_type, extra, body) = match fault {
        HttpFault::TooManyRequests {
            retry_after_seconds,
        } => (
            "429 Too Many Requests",
            "application/json",
            format!("Retry-After: {retry_after_seconds}\r\n"),
            serde_json::json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": "Too many requests, please try again later.",
                "reason": "TooManyRequests",
                "details": {"retryAfterSeconds": retry_after_seconds},
                "code": 429
            })
            .to_string(),
        ),
        HttpFault::ServiceUnavailable => (
            "503 Service Unavailable",
            "text/plain",
            String::new(),
            "upstream connect error or disconnect/reset before headers. reset reason: connection failure".to_string(),
        ),
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_answer_carries_retry_after_twice() {
        let r = fault_response(HttpFault::TooManyRequests {
            retry_after_seconds: 2,
        });
        assert!(r.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
        assert!(r.contains("\r\nRetry-After: 2\r\n"));
        let body = r.split("\r\n\r\n").nth(1).unwrap();
        let status: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(status["details"]["retryAfterSeconds"], 2);
        assert_eq!(status["code"], 429);
        let length: usize = r
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
    }

    #[test]
    fn watch_requests_are_recognised_in_the_request_line() {
        assert!(contains(
            b"GET /api/v1/pods?watch=true&resourceVersion=5 HTTP/1.1\r\n",
            b"watch=true"
        ));
        assert!(!contains(b"GET /api/v1/pods HTTP/1.1\r\n", b"watch=true"));
    }
}
