//! Reading a ClusterResourcePlacement's status: where its rollout stands on each member
//! cluster, as pure functions over the object (`placement.kubernetes-fleet.io` v1 and v1beta1
//! have the same status).
//!
//! Fleet's per-member conditions come in order — Scheduled, RolloutStarted, Overridden,
//! WorkSynchronized, Applied, Available — and each refers to the resource snapshot named by the
//! placement's `observedResourceIndex` and the placement generation it observed. A member has
//! rolled out the new resources when the placement observes the newest snapshot and every
//! condition is True for the current generation.

use serde_json::Value;

use crate::event::{EventLine, Readiness};

/// The per-member condition types, in the order Fleet sets them.
pub const MEMBER_CONDITIONS: [&str; 6] = [
    "Scheduled",
    "RolloutStarted",
    "Overridden",
    "WorkSynchronized",
    "Applied",
    "Available",
];

/// Where a placement stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementState {
    /// Not scheduled yet for this generation, or not yet observing the new snapshot.
    Waiting(String),
    /// Scheduling failed; the placement cannot roll out as written.
    Unschedulable {
        /// Fleet's reason.
        reason: String,
        /// Fleet's message.
        message: String,
    },
    /// Scheduled for the new resources: one entry per selected member, in Fleet's order.
    Members(Vec<MemberState>),
}

/// One member cluster's share of the rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    /// The member cluster's name.
    pub cluster: String,
    /// Ready when every condition is True; Failed when applying failed; otherwise what it
    /// waits for.
    pub readiness: Readiness,
    /// The resources Fleet names as failing on this member (`failedPlacements`).
    pub failed: Vec<EventLine>,
}

/// A condition of `conditions` by type.
fn condition<'a>(conditions: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions
        .as_array()?
        .iter()
        .find(|c| c["type"].as_str() == Some(kind))
}

fn text(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_string()
}

/// Whether a condition was written for `generation` (conditions without observedGeneration
/// count as current).
fn current(c: &Value, generation: i64) -> bool {
    c["observedGeneration"]
        .as_i64()
        .is_none_or(|g| g >= generation)
}

/// Whether Fleet finished scheduling `crp`'s current generation (its policy snapshot is fully
/// scheduled): a staged update run started before that fails to initialize.
pub fn is_scheduled(crp: &Value) -> bool {
    let generation = crp["metadata"]["generation"].as_i64().unwrap_or(0);
    condition(
        &crp["status"]["conditions"],
        "ClusterResourcePlacementScheduled",
    )
    .is_some_and(|c| current(c, generation) && c["status"] == "True")
}

/// Where `crp` stands, given the index of the newest resource snapshot (`None`: unknown yet).
pub fn evaluate(crp: &Value, latest_index: Option<&str>) -> PlacementState {
    let generation = crp["metadata"]["generation"].as_i64().unwrap_or(0);
    let status = &crp["status"];
    let scheduled = condition(&status["conditions"], "ClusterResourcePlacementScheduled");
    match scheduled {
        Some(c) if current(c, generation) && c["status"] == "False" => {
            return PlacementState::Unschedulable {
                reason: text(c, "reason"),
                message: text(c, "message"),
            };
        }
        Some(c) if current(c, generation) && c["status"] == "True" => {}
        _ => {
            return PlacementState::Waiting("waiting for Fleet to schedule the placement".into());
        }
    }
    let observed = status["observedResourceIndex"].as_str();
    let Some(latest) = latest_index else {
        return PlacementState::Waiting("waiting for Fleet to snapshot the resources".into());
    };
    if observed != Some(latest) {
        return PlacementState::Waiting(format!(
            "waiting for Fleet to take up resource snapshot {latest} (it observes {})",
            observed.unwrap_or("none")
        ));
    }
    let members = status["placementStatuses"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| member(p, generation))
        .collect();
    PlacementState::Members(members)
}

/// One entry of `placementStatuses`; `None` for entries of no cluster (PickN's unfilled
/// slots).
fn member(p: &Value, generation: i64) -> Option<MemberState> {
    let cluster = p["clusterName"].as_str().filter(|c| !c.is_empty())?;
    let failed = failed_placements(p);
    let apply_failed = p["failedPlacements"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["condition"]["type"] == "Applied"));
    let mut readiness = Readiness::Ready;
    for kind in MEMBER_CONDITIONS {
        let c = condition(&p["conditions"], kind);
        let verdict = match c {
            Some(c) if !current(c, generation) => Some(Readiness::in_progress(format!(
                "waiting for {kind} of the new placement generation"
            ))),
            Some(c) if c["status"] == "True" => None,
            Some(c) if c["status"] == "False" => {
                Some(false_condition(kind, c, &failed, apply_failed))
            }
            _ => Some(Readiness::in_progress(format!("waiting for {kind}"))),
        };
        if let Some(v) = verdict {
            readiness = v;
            break;
        }
    }
    Some(MemberState {
        cluster: cluster.to_string(),
        readiness,
        failed,
    })
}

/// Reasons of a False `Applied`/`Overridden` that mean "not yet", not "failed".
const NOT_YET: [&str; 3] = ["ApplyInProgress", "ApplyPending", "OverriddenPending"];

/// What a False condition means: applying failed on named objects, or overriding failed (a
/// verdict); anything else is still in progress (Fleet keeps retrying; a resource that never
/// becomes available is a matter for kpush's timeout).
fn false_condition(kind: &str, c: &Value, failed: &[EventLine], apply_failed: bool) -> Readiness {
    let reason = text(c, "reason");
    let mut message = text(c, "message");
    if let Some(first) = failed.first() {
        message = format!("{}: {}", first.object, first.message);
        if failed.len() > 1 {
            message.push_str(&format!(" (and {} more)", failed.len() - 1));
        }
    }
    let verdict = match kind {
        "Applied" => apply_failed && !NOT_YET.contains(&reason.as_str()),
        "Overridden" => !NOT_YET.contains(&reason.as_str()),
        _ => false,
    };
    match kind {
        "Applied" | "Overridden" if verdict => Readiness::failed(
            if reason.is_empty() {
                format!("Not{kind}")
            } else {
                reason
            },
            message,
        ),
        "Available" => Readiness::in_progress(format!("not available yet: {message}")),
        "Applied" | "Overridden" => Readiness::in_progress(format!("{kind}: {message}")),
        _ => Readiness::in_progress(format!("{kind} is False ({reason}): {message}")),
    }
}

/// `failedPlacements` as event lines: the object, the failed condition's type, reason and
/// message.
fn failed_placements(p: &Value) -> Vec<EventLine> {
    p["failedPlacements"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|f| {
            let kind = f["kind"].as_str().unwrap_or("object");
            let name = f["name"].as_str().unwrap_or_default();
            let object = match f["namespace"].as_str().filter(|n| !n.is_empty()) {
                Some(ns) => format!("{kind} {ns}/{name}"),
                None => format!("{kind} {name}"),
            };
            let c = &f["condition"];
            let reason = match text(c, "reason") {
                r if r.is_empty() => format!("{}False", text(c, "type")),
                r => r,
            };
            EventLine {
                object,
                type_: "Warning".into(),
                reason,
                message: text(c, "message"),
                count: 1,
            }
        })
        .collect()
}

/// Whether `selected` (a placement's `status.selectedResources`) holds the object, or the
/// Namespace it lives in (a placement selecting a namespace takes everything in it).
pub fn selects(selected: &[Value], key: &crate::manifest::ObjectKey) -> bool {
    selected.iter().any(|r| {
        let group = r["group"].as_str().unwrap_or_default();
        let kind = r["kind"].as_str().unwrap_or_default();
        let name = r["name"].as_str().unwrap_or_default();
        let namespace = r["namespace"].as_str().filter(|n| !n.is_empty());
        let same = group == key.group
            && kind == key.kind
            && name == key.name
            && namespace == key.namespace.as_deref();
        let its_namespace =
            group.is_empty() && kind == "Namespace" && key.namespace.as_deref() == Some(name);
        same || its_namespace
    })
}

/// The resource index of the newest of `snapshots` (ClusterResourceSnapshot objects of one
/// placement): the one labelled latest, else the highest index.
pub fn latest_index(snapshots: &[Value]) -> Option<String> {
    let index = |s: &Value| {
        s["metadata"]["labels"]["kubernetes-fleet.io/resource-index"]
            .as_str()
            .map(str::to_string)
    };
    snapshots
        .iter()
        .find(|s| s["metadata"]["labels"]["kubernetes-fleet.io/is-latest-snapshot"] == "true")
        .and_then(index)
        .or_else(|| {
            snapshots
                .iter()
                .filter_map(index)
                .max_by_key(|i| i.parse::<u64>().unwrap_or(0))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(kind: &str, status: &str) -> Value {
        json!({"type": kind, "status": status, "reason": format!("{kind}{status}"), "message": "m", "observedGeneration": 2})
    }

    fn crp(observed: &str, members: Value) -> Value {
        json!({
            "metadata": {"name": "web", "generation": 2},
            "status": {
                "observedResourceIndex": observed,
                "conditions": [cond("ClusterResourcePlacementScheduled", "True")],
                "placementStatuses": members,
            }
        })
    }

    fn all_true() -> Value {
        Value::Array(MEMBER_CONDITIONS.iter().map(|c| cond(c, "True")).collect())
    }

    #[test]
    fn a_member_is_ready_when_every_condition_is_true_for_the_new_snapshot() {
        let c = crp(
            "3",
            json!([{"clusterName": "m1", "conditions": all_true()}]),
        );
        let PlacementState::Members(m) = evaluate(&c, Some("3")) else {
            panic!()
        };
        assert_eq!(m[0].readiness, Readiness::Ready);
        assert!(matches!(
            evaluate(&c, Some("4")),
            PlacementState::Waiting(w) if w.contains("snapshot 4")
        ));
        assert!(matches!(evaluate(&c, None), PlacementState::Waiting(_)));
    }

    #[test]
    fn stale_conditions_and_unavailable_resources_are_waited_for() {
        let mut conds = all_true();
        conds[5] = json!({"type": "Available", "status": "False", "reason": "NotAvailableYet", "message": "x", "observedGeneration": 2});
        let c = crp(
            "1",
            json!([
                {"clusterName": "m1", "conditions": conds, "failedPlacements": [
                    {"kind": "Deployment", "namespace": "shop", "name": "web", "condition": {"type": "Available", "status": "False", "reason": "ManifestNotAvailableYet", "message": "1 of 2 replicas"}}
                ]},
                {"clusterName": "m2", "conditions": [{"type": "Scheduled", "status": "True", "observedGeneration": 1}]},
                {"conditions": []}
            ]),
        );
        let PlacementState::Members(m) = evaluate(&c, Some("1")) else {
            panic!()
        };
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0].readiness.message(),
            "not available yet: Deployment shop/web: 1 of 2 replicas"
        );
        assert_eq!(m[0].failed[0].reason, "ManifestNotAvailableYet");
        assert!(
            m[1].readiness
                .message()
                .contains("new placement generation")
        );
    }

    #[test]
    fn apply_failures_are_verdicts_naming_the_object() {
        let mut conds = all_true();
        conds[4] = json!({"type": "Applied", "status": "False", "reason": "ManifestApplyFailed", "message": "x"});
        let c = crp(
            "1",
            json!([{"clusterName": "m1", "conditions": conds, "failedPlacements": [
                {"kind": "ConfigMap", "namespace": "shop", "name": "cfg", "condition": {"type": "Applied", "status": "False", "reason": "ManifestsAlreadyOwnedByOthers", "message": "owned by another placement"}}
            ]}]),
        );
        let PlacementState::Members(m) = evaluate(&c, Some("1")) else {
            panic!()
        };
        assert_eq!(
            m[0].readiness,
            Readiness::failed(
                "ManifestApplyFailed",
                "ConfigMap shop/cfg: owned by another placement"
            )
        );
    }

    #[test]
    fn applying_in_progress_is_waited_for() {
        let mut conds = all_true();
        conds[4] = json!({"type": "Applied", "status": "False", "reason": "ApplyInProgress", "message": "Resources are being applied"});
        let c = crp("1", json!([{"clusterName": "m1", "conditions": conds}]));
        let PlacementState::Members(m) = evaluate(&c, Some("1")) else {
            panic!()
        };
        assert_eq!(
            m[0].readiness,
            Readiness::in_progress("Applied: Resources are being applied")
        );
        // Failed without naming an object Fleet could not apply: still waiting too.
        conds[4] = json!({"type": "Applied", "status": "False", "reason": "NotAllWorkHaveBeenApplied", "message": "x"});
        let c = crp("1", json!([{"clusterName": "m1", "conditions": conds}]));
        let PlacementState::Members(m) = evaluate(&c, Some("1")) else {
            panic!()
        };
        assert!(!m[0].readiness.is_failed());
    }

    #[test]
    fn a_placement_that_cannot_be_scheduled_says_why() {
        let mut c = crp("1", json!([]));
        c["status"]["conditions"] = json!([{"type": "ClusterResourcePlacementScheduled", "status": "False", "reason": "SchedulingPolicyUnfulfilled", "message": "could not find 3 clusters", "observedGeneration": 2}]);
        assert_eq!(
            evaluate(&c, Some("1")),
            PlacementState::Unschedulable {
                reason: "SchedulingPolicyUnfulfilled".into(),
                message: "could not find 3 clusters".into()
            }
        );
    }

    #[test]
    fn a_selection_covers_its_objects_and_everything_in_its_namespaces() {
        let key = |kind: &str, ns: Option<&str>, name: &str| crate::manifest::ObjectKey {
            group: if kind == "Deployment" {
                "apps".into()
            } else {
                String::new()
            },
            kind: kind.into(),
            namespace: ns.map(str::to_string),
            name: name.into(),
        };
        let selected = [
            json!({"group": "", "version": "v1", "kind": "Namespace", "name": "shop"}),
            json!({"group": "", "version": "v1", "kind": "ConfigMap", "namespace": "other", "name": "cfg"}),
        ];
        assert!(selects(&selected, &key("Deployment", Some("shop"), "web")));
        assert!(selects(&selected, &key("Namespace", None, "shop")));
        assert!(selects(&selected, &key("ConfigMap", Some("other"), "cfg")));
        assert!(!selects(
            &selected,
            &key("ConfigMap", Some("other"), "else")
        ));
        assert!(!selects(
            &selected,
            &key("Deployment", Some("hub-only"), "web")
        ));
    }

    #[test]
    fn the_latest_snapshot_is_the_labelled_one_else_the_highest() {
        let s = |i: &str, latest: bool| json!({"metadata": {"labels": {"kubernetes-fleet.io/resource-index": i, "kubernetes-fleet.io/is-latest-snapshot": latest.to_string()}}});
        assert_eq!(
            latest_index(&[s("0", false), s("1", true), s("2", false)]).as_deref(),
            Some("1")
        );
        assert_eq!(
            latest_index(&[s("9", false), s("10", false)]).as_deref(),
            Some("10")
        );
        assert_eq!(latest_index(&[]), None);
    }

    #[test]
    fn a_placement_counts_as_scheduled_only_for_its_current_generation() {
        let mut c = json!({"metadata": {"generation": 2}, "status": {"conditions": [
            {"type": "ClusterResourcePlacementScheduled", "status": "True", "observedGeneration": 1}
        ]}});
        assert!(
            !is_scheduled(&c),
            "an older generation's scheduling does not count"
        );
        c["status"]["conditions"][0]["observedGeneration"] = json!(2);
        assert!(is_scheduled(&c));
        c["status"]["conditions"][0]["status"] = json!("Unknown");
        assert!(!is_scheduled(&c));
        assert!(!is_scheduled(&json!({"metadata": {"generation": 1}})));
    }
}
