//! HTTP/2 to the API server (`kpush::auth::connection`): requests in flight share one TLS
//! connection where the server agrees to `h2`, also through an HTTP CONNECT proxy, and a
//! TLS-terminating proxy that offers only HTTP/1.1 still carries them.

mod harness;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::join_all;
use http::{Request, Version};
use kpush_testenv::{ConnectProxy, FaultProxy, TestCluster};

async fn config_from(kubeconfig: &str) -> kube::Config {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig parses");
    kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config")
}

/// A TCP relay to `upstream` counting the connections it accepts; returns its address.
async fn counting_relay(upstream: String, accepted: Arc<AtomicU64>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr
}

/// `n` GETs of `/version` at once; the HTTP versions of their answers.
async fn at_once(client: &kube::Client, n: usize) -> Vec<Version> {
    join_all((0..n).map(|_| async {
        let req = Request::get("/version")
            .body(kube::client::Body::empty())
            .expect("request");
        let res = client.send(req).await.expect("answer");
        assert!(res.status().is_success(), "{}", res.status());
        res.version()
    }))
    .await
}

#[tokio::test]
async fn requests_in_flight_share_one_tls_connection_over_http2() {
    let cluster = TestCluster::shared();
    let accepted = Arc::new(AtomicU64::new(0));
    let server = cluster.server().trim_start_matches("https://").to_string();
    let relay = counting_relay(server, accepted.clone()).await;
    let mut config = config_from(&cluster.kubeconfig("admin").expect("kubeconfig")).await;
    config.cluster_url = format!("https://{relay}").parse().expect("url");
    let (client, requests) = kpush::auth::connection::counted_client(config).expect("client");

    // The first answer settles the connection; then twenty at once (as many as an access check
    // or a preflight has in flight) go over it.
    let first = at_once(&client, 1).await;
    let versions = at_once(&client, 20).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "TLS connections opened for 21 requests ({first:?} {versions:?})"
    );
    assert!(
        first.iter().chain(&versions).all(|v| *v == Version::HTTP_2),
        "{versions:?}"
    );
    // Counted as sent: 21 requests in two rounds (the one, then the twenty together).
    let stats = requests.stats();
    assert_eq!((stats.requests, stats.rounds), (21, 2), "{stats:?}");
}

#[tokio::test]
async fn http2_goes_through_an_http_connect_proxy_in_one_tunnel() {
    let cluster = TestCluster::shared();
    let proxy = ConnectProxy::start().expect("proxy");
    let mut config = config_from(&cluster.kubeconfig("admin").expect("kubeconfig")).await;
    config.proxy_url = Some(proxy.url().parse().expect("proxy url"));
    let client = kpush::auth::connection::client(config).expect("client");
    assert_eq!(at_once(&client, 1).await, vec![Version::HTTP_2]);
    let versions = at_once(&client, 10).await;
    assert!(
        versions.iter().all(|v| *v == Version::HTTP_2),
        "{versions:?}"
    );
    let tunnels = proxy.tunnels();
    let server = cluster.server().trim_start_matches("https://");
    assert_eq!(tunnels.len(), 1, "{tunnels:?}");
    assert!(
        tunnels[0].opened && tunnels[0].target == server,
        "{tunnels:?}"
    );
}

#[tokio::test]
async fn a_proxy_offering_only_http1_is_spoken_to_in_http1() {
    let cluster = TestCluster::shared();
    let proxy = FaultProxy::start(cluster).expect("fault proxy");
    let config = config_from(&proxy.kubeconfig(cluster, "admin")).await;
    let client = kpush::auth::connection::client(config).expect("client");
    let versions = at_once(&client, 5).await;
    assert!(
        versions.iter().all(|v| *v == Version::HTTP_11),
        "{versions:?}"
    );
}
