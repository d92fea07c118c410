//! Discovery in one round trip: aggregated discovery (`apidiscovery.k8s.io/v2`) on the real
//! 1.35 control plane, and the per-group-version fallback against a server that refuses it.
//!
//! Requests are counted by a layer in the test's own client stack (what was asked, and how many
//! answers had arrived when each request went out: requests sent before any answer are one
//! round trip). The fallback runs through a small HTTP forwarder to the same API server that
//! answers 406 to the aggregated media type and forwards everything else unchanged: every
//! document still comes from the real server.

mod harness;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use kpush::cluster::RetryPolicy;
use kpush::cluster::discovery::{self, Method};
use kube::client::{Body, ClientBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceBuilder;

/// One request as the client sent it.
#[derive(Debug, Clone)]
struct Sent {
    path: String,
    aggregated: bool,
    /// Answers received before this request went out.
    answers_before: usize,
}

#[derive(Clone, Default)]
struct Log {
    sent: Arc<Mutex<Vec<Sent>>>,
    answers: Arc<AtomicUsize>,
}

impl Log {
    fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        let mut p: Vec<String> = self.sent().into_iter().map(|s| s.path).collect();
        p.sort();
        p
    }

    /// How many rounds in sequence: a request sent after another's answer arrived starts a
    /// new round.
    fn rounds(&self) -> usize {
        let mut answered = BTreeSet::new();
        for s in self.sent() {
            answered.insert(s.answers_before);
        }
        answered.len()
    }

    fn clear(&self) {
        self.sent.lock().unwrap().clear();
        self.answers.store(0, Ordering::SeqCst);
    }
}

/// A client for `config` whose requests are written to the returned log.
fn recording(config: kube::Config) -> (kube::Client, Log) {
    let log = Log::default();
    let (on_request, on_answer) = (log.clone(), log.clone());
    let builder = ClientBuilder::try_from(config).expect("client builder");
    let client = builder
        .with_layer(
            &ServiceBuilder::new()
                .map_request(move |req: Request<Body>| {
                    let accept = req
                        .headers()
                        .get(http::header::ACCEPT)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    on_request.sent.lock().unwrap().push(Sent {
                        path: req.uri().path().to_string(),
                        aggregated: accept.contains("g=apidiscovery.k8s.io"),
                        answers_before: on_request.answers.load(Ordering::SeqCst),
                    });
                    req
                })
                .map_response(move |res: Response<_>| {
                    on_answer.answers.fetch_add(1, Ordering::SeqCst);
                    res
                }),
        )
        .build();
    (client, log)
}

async fn admin_config() -> kube::Config {
    let cluster = kpush_testenv::TestCluster::shared();
    let text = cluster.kubeconfig("admin").expect("kubeconfig");
    let kc = kube::config::Kubeconfig::from_yaml(&text).expect("kubeconfig parses");
    kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config")
}

fn set(gvs: &[&str]) -> BTreeSet<String> {
    gvs.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn aggregated_discovery_answers_everything_in_two_requests_sent_together() {
    let (client, log) = recording(admin_config().await);
    let policy = RetryPolicy::default();

    let all = discovery::fetch(&client, policy, None)
        .await
        .expect("fetch");
    assert_eq!(all.method, Method::Aggregated);
    assert_eq!(log.paths(), vec!["/api", "/apis"], "{:?}", log.sent());
    assert!(log.sent().iter().all(|s| s.aggregated), "{:?}", log.sent());
    assert_eq!(log.rounds(), 1, "{:?}", log.sent());
    let d = all
        .group_version("apps/v1")
        .and_then(|rs| rs.iter().find(|r| r.resource.kind == "Deployment"))
        .expect("apps/v1 Deployment");
    assert!(d.namespaced && d.has_status);
    assert_eq!(d.resource.plural, "deployments");

    // Planning: however many group-versions the manifests use, the same two requests.
    log.clear();
    let catalog = kpush::plan::discovery::discover(
        &client,
        policy,
        &set(&[
            "v1",
            "apps/v1",
            "batch/v1",
            "rbac.authorization.k8s.io/v1",
            "nope/v1",
        ]),
    )
    .await
    .expect("discover");
    assert_eq!(log.paths(), vec!["/api", "/apis"], "{:?}", log.sent());
    assert_eq!(log.rounds(), 1);
    let cm = catalog.resolve("v1", "ConfigMap").expect("ConfigMap");
    assert!(cm.namespaced && !cm.has_status);
    let cr = catalog
        .resolve("rbac.authorization.k8s.io/v1", "ClusterRole")
        .expect("ClusterRole");
    assert!(!cr.namespaced);
    assert!(catalog.resolve("batch/v1", "Job").unwrap().has_status);
    assert!(!catalog.serves_group_version("nope/v1"));

    // A chart's .Capabilities: the version comes in the same round trip.
    log.clear();
    let (version, _) = discovery::version_and_apis(&client, policy)
        .await
        .expect("capabilities");
    assert!(version.starts_with("v1.35"), "{version}");
    assert_eq!(log.paths(), vec!["/api", "/apis", "/version"]);
    assert_eq!(log.rounds(), 1, "{:?}", log.sent());
}

#[tokio::test]
async fn aggregated_discovery_lists_what_group_by_group_discovery_lists() {
    let config = admin_config().await;
    let client = kube::Client::try_from(config).expect("client");
    let policy = RetryPolicy::default();
    let aggregated = discovery::fetch(&client, policy, None)
        .await
        .expect("fetch");
    // What `.Capabilities` was built from before: kube's group-by-group discovery.
    let old = kube::discovery::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let mut expected = BTreeSet::new();
    for group in old.groups() {
        for version in group.versions() {
            let gv = if group.name().is_empty() {
                version.to_string()
            } else {
                format!("{}/{version}", group.name())
            };
            for (resource, caps) in group.versioned_resources(version) {
                expected.insert(format!("{gv}/{}", resource.kind));
                let served = aggregated
                    .group_version(&gv)
                    .and_then(|rs| rs.iter().find(|r| r.resource.kind == resource.kind))
                    .unwrap_or_else(|| panic!("{gv} {} missing", resource.kind));
                assert_eq!(served.resource, resource);
                assert_eq!(
                    served.namespaced,
                    matches!(caps.scope, kube::discovery::Scope::Namespaced)
                );
                assert_eq!(
                    served.has_status,
                    caps.subresources.iter().any(|(r, _)| r.plural == "status"),
                    "{gv} {}",
                    resource.kind
                );
            }
            expected.insert(gv);
        }
    }
    let got: BTreeSet<String> = aggregated.api_versions().into_iter().collect();
    assert_eq!(got, expected);
}

/// An HTTP forwarder to the test cluster that refuses aggregated discovery with 406, as a
/// server without it would; returns its URL.
async fn server_without_aggregated_discovery() -> String {
    let upstream = kube::Client::try_from(admin_config().await).expect("client");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                let (code, body) = if head.to_lowercase().contains("g=apidiscovery.k8s.io") {
                    (406, r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"only application/json is served","reason":"NotAcceptable","code":406}"#.to_string())
                } else {
                    let req = Request::get(&path).body(Vec::new()).expect("request");
                    match upstream.request_text(req).await {
                        Ok(text) => (200, text),
                        Err(kube::Error::Api(s)) => {
                            (s.code, serde_json::to_string(&s).unwrap_or_default())
                        }
                        Err(e) => (502, e.to_string()),
                    }
                };
                let response = format!(
                    "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    url
}

#[tokio::test]
async fn without_aggregated_discovery_group_versions_are_asked_about_all_at_once() {
    let url = server_without_aggregated_discovery().await;
    let mut config = kube::Config::new(url.parse().expect("url"));
    config.default_namespace = "default".into();
    let (client, log) = recording(config);
    let policy = RetryPolicy::default();

    // Planning asks for the group-versions it needs, after the plain lists.
    let catalog = kpush::plan::discovery::discover(
        &client,
        policy,
        &set(&["v1", "apps/v1", "batch/v1", "nope/v1"]),
    )
    .await
    .expect("discover");
    assert!(catalog.resolve("apps/v1", "Deployment").unwrap().has_status);
    assert!(catalog.resolve("v1", "ConfigMap").unwrap().namespaced);
    assert!(!catalog.serves_group_version("nope/v1"));
    let sent = log.sent();
    let asked: Vec<&str> = sent
        .iter()
        .filter(|s| s.answers_before >= 4)
        .map(|s| s.path.as_str())
        .collect();
    let mut asked_sorted = asked.clone();
    asked_sorted.sort();
    assert_eq!(
        asked_sorted,
        vec!["/api/v1", "/apis/apps/v1", "/apis/batch/v1"],
        "{sent:?}"
    );
    // The plain lists after the refusal, then every group-version in one round.
    assert_eq!(sent.len(), 7, "{sent:?}");
    let last_round = sent.iter().map(|s| s.answers_before).max();
    assert!(
        sent.iter()
            .filter(|s| s.path.matches('/').count() > 1)
            .all(|s| Some(s.answers_before) == last_round),
        "{sent:?}"
    );

    // Everything, for a chart: the same as aggregated discovery lists.
    let fallback = discovery::fetch(&client, policy, None)
        .await
        .expect("fetch");
    assert_eq!(fallback.method, Method::PerGroupVersion);
    let direct = kube::Client::try_from(admin_config().await).expect("client");
    let aggregated = discovery::fetch(&direct, policy, None)
        .await
        .expect("fetch");
    assert_eq!(fallback.api_versions(), aggregated.api_versions());
}
