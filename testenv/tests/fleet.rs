//! The real KubeFleet agents place a namespace with a Deployment on two member clusters.

use std::time::{Duration, Instant};

use kpush_testenv::fleet::{Fleet, FleetOptions, MemberSpec};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placement_reaches_every_member_and_becomes_available() {
    let fleet = Fleet::start(FleetOptions {
        members: vec![
            MemberSpec::new("member-1").label("env", "prod"),
            MemberSpec::new("member-2").label("env", "prod"),
        ],
        ..FleetOptions::default()
    })
    .await
    .expect("fleet starts");
    let hub = fleet.hub().client("admin").await.unwrap();
    let pp = PatchParams::apply("test").force();
    let ns = Api::<k8s_openapi::api::core::v1::Namespace>::all(hub.clone());
    ns.patch(
        "shop",
        &pp,
        &Patch::Apply(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        ),
    )
    .await
    .unwrap();
    let deploy = Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(hub.clone(), "shop");
    deploy
        .patch(
            "web",
            &pp,
            &Patch::Apply(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}
            })),
        )
        .await
        .unwrap();
    let crp_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(
            "placement.kubernetes-fleet.io",
            "v1",
            "ClusterResourcePlacement",
        ),
        "clusterresourceplacements",
    );
    let crps = Api::<DynamicObject>::all_with(hub.clone(), &crp_resource);
    crps.patch("shop", &pp, &Patch::Apply(json!({
        "apiVersion": "placement.kubernetes-fleet.io/v1", "kind": "ClusterResourcePlacement",
        "metadata": {"name": "shop"},
        "spec": {"resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": "shop"}],
                 "policy": {"placementType": "PickAll"}}
    })))
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let crp = crps.get("shop").await.unwrap();
        let available = crp.data["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c["type"] == "ClusterResourcePlacementAvailable" && c["status"] == "True"
                })
            });
        if available {
            let statuses = crp.data["status"]["placementStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert_eq!(statuses.len(), 2, "{:#}", crp.data["status"]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not available: {:#}\n{}",
            crp.data["status"],
            fleet
                .agent_log("hubagent", 3000)
                .lines()
                .filter(|l| l.starts_with('E')
                    || l.starts_with('W')
                    || l.contains("clusterresourceplacement/"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for member in ["member-1", "member-2"] {
        let client = fleet.member(member).client("admin").await.unwrap();
        let d = Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client, "shop")
            .get("web")
            .await
            .unwrap();
        assert_eq!(
            d.status.and_then(|s| s.available_replicas),
            Some(2),
            "{member}"
        );
    }
}
