//! The fault proxy against the real API server: each scripted fault is seen by a real client
//! exactly as described, and traffic flows normally once the fault is lifted.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

use kpush_testenv::{FaultProxy, HttpFault, TestCluster};

/// A client through `proxy`, without kube's own retries, giving up on a request after 3 s.
async fn client_through(proxy: &FaultProxy) -> Client {
    let cluster = TestCluster::shared();
    let kc = Kubeconfig::from_yaml(&proxy.kubeconfig(cluster, "admin")).expect("kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    config.read_timeout = Some(Duration::from_secs(3));
    config.connect_timeout = Some(Duration::from_secs(3));
    config.default_retry = false;
    Client::try_from(config).expect("client")
}

fn proxy() -> FaultProxy {
    FaultProxy::start(TestCluster::shared()).unwrap_or_else(|e| panic!("{e:#}"))
}

async fn list_namespaces(client: &Client) -> Result<usize, kube::Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    api.list(&ListParams::default())
        .await
        .map(|l| l.items.len())
}

#[tokio::test]
async fn traffic_passes_through_with_the_added_round_trip() {
    let proxy = proxy();
    let client = client_through(&proxy).await;
    assert!(list_namespaces(&client).await.expect("list") >= 4);
    proxy.set_round_trip(Duration::from_millis(200));
    let start = Instant::now();
    list_namespaces(&client).await.expect("list with latency");
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "took {:?}",
        start.elapsed()
    );
    assert!(proxy.stats().connections >= 1);
}

#[tokio::test]
async fn an_outage_refuses_connections_then_ends() {
    let proxy = proxy();
    let client = client_through(&proxy).await;
    list_namespaces(&client).await.expect("before");
    proxy.outage(Duration::from_secs(2));
    let err = list_namespaces(&client)
        .await
        .expect_err("during the outage");
    let text = format!("{err:?}").to_lowercase();
    assert!(
        text.contains("refused") || text.contains("reset") || text.contains("closed"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert!(!proxy.refusing());
    list_namespaces(&client).await.expect("after the outage");
}

#[tokio::test]
async fn http_faults_answer_429_with_retry_after_then_503_then_pass() {
    let proxy = proxy();
    let client = client_through(&proxy).await;
    proxy.http_fault(
        HttpFault::TooManyRequests {
            retry_after_seconds: 3,
        },
        1,
    );
    match list_namespaces(&client).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 429);
            assert_eq!(s.details.map(|d| d.retry_after_seconds), Some(3));
        }
        other => panic!("expected 429, got {other:?}"),
    }
    proxy.http_fault(HttpFault::ServiceUnavailable, 1);
    match list_namespaces(&client).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 503),
        other => panic!("expected 503, got {other:?}"),
    }
    list_namespaces(&client).await.expect("after the faults");
    assert_eq!(proxy.stats().http_faults, 2);
}

#[tokio::test]
async fn a_stall_holds_requests_until_lifted() {
    let proxy = proxy();
    let client = client_through(&proxy).await;
    proxy.stall(true);
    let err = list_namespaces(&client).await.expect_err("stalled");
    let text = format!("{err:?}").to_lowercase();
    assert!(
        text.contains("timedout") || text.contains("timed out"),
        "{text}"
    );
    proxy.stall(false);
    list_namespaces(&client).await.expect("after the stall");
}

#[tokio::test]
async fn a_byte_limit_resets_large_responses() {
    let proxy = proxy();
    let client = client_through(&proxy).await;
    proxy.reset_after_bytes(Some(64));
    assert!(list_namespaces(&client).await.is_err());
    proxy.reset_after_bytes(None);
    list_namespaces(&client)
        .await
        .expect("after lifting the limit");
    assert!(proxy.stats().connections_broken >= 1);
}

#[tokio::test]
async fn cut_watches_end_the_stream_mid_way() {
    let cluster = TestCluster::shared();
    cluster
        .create_namespace("fault-watch")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let proxy = proxy();
    let client = client_through(&proxy).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "fault-watch");
    let mut stream = api
        .watch(&WatchParams::default().timeout(60), "0")
        .await
        .expect("watch")
        .boxed();
    // The watch delivers the existing kube-root-ca.crt first.
    match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        Ok(Some(Ok(WatchEvent::Added(_)))) => {}
        other => panic!("expected the first event, got {other:?}"),
    }
    assert_eq!(proxy.cut_watches(), 1);
    let start = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(item) = stream.next().await {
            if item.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the watch kept going after the cut");
    assert!(start.elapsed() < Duration::from_secs(5));
    // New requests still work.
    let admin = cluster.client("admin").await.expect("client");
    let direct: Api<ConfigMap> = Api::namespaced(admin, "fault-watch");
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "after-cut"}
    }))
    .expect("cm");
    direct
        .create(&PostParams::default(), &cm)
        .await
        .expect("create");
}

#[tokio::test]
async fn frozen_watches_say_nothing_not_even_their_end_while_new_requests_work() {
    let cluster = TestCluster::shared();
    cluster
        .create_namespace("fault-freeze")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let proxy = proxy();
    let client = client_through(&proxy).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "fault-freeze");
    let mut stream = api
        .watch(&WatchParams::default().timeout(2), "0")
        .await
        .expect("watch")
        .boxed();
    match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        Ok(Some(Ok(WatchEvent::Added(_)))) => {}
        other => panic!("expected the first event, got {other:?}"),
    }
    assert_eq!(proxy.freeze_watches(), 1);
    // What the client had already received (a bookmark may share the first event's chunk).
    while let Ok(Some(Ok(item))) =
        tokio::time::timeout(Duration::from_millis(300), stream.next()).await
    {
        assert!(
            !matches!(item, WatchEvent::Added(_) | WatchEvent::Modified(_)),
            "{item:?}"
        );
    }
    let admin = cluster.client("admin").await.expect("client");
    let direct: Api<ConfigMap> = Api::namespaced(admin, "fault-freeze");
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "after-freeze"}
    }))
    .expect("cm");
    direct
        .create(&PostParams::default(), &cm)
        .await
        .expect("create");
    // The new ConfigMap and the server's end of the watch (after 2 s) never reach the client:
    // it hears nothing until its own read timeout (3 s) gives up.
    match tokio::time::timeout(Duration::from_secs(6), stream.next()).await {
        Err(_) | Ok(Some(Err(_))) => {}
        Ok(other) => panic!("the frozen watch passed on {other:?}"),
    }
    list_namespaces(&client)
        .await
        .expect("new connections work");
    assert_eq!(proxy.stats().watches_frozen, 1);
}
