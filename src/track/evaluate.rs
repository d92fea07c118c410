//! Judging one tracked object from what the watches have seen: the readiness rules for the
//! object, pod diagnosis for its newest revision. Pure: no requests, no clock of its own.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use kube::api::DynamicObject;
use kube::runtime::watcher;
use serde_json::Value;

use super::diagnose::{DiagnoseOptions, PodFailure, diagnose};
use super::pods;
use super::readiness::{
    Readiness, ReadinessContext, Rule, assess, cannot_create_pods, claim_explained,
    replication_controller_pods,
};
use super::store::{Store, error_code};
use super::targets::{TrackTarget, WorkloadKind};

/// What the object watch knows about the tracked object.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ObjectView<'a> {
    /// No complete list yet; the latest error, if the watch is failing.
    Waiting(Option<&'a watcher::Error>),
    /// Listed, and not there.
    Missing,
    /// The object as last seen.
    Present(&'a DynamicObject),
    /// A watch this object depends on (named) ended for good: the run's retry budget refused
    /// to re-establish it, with the latest error.
    Lost(&'a str, Option<&'a watcher::Error>),
}

/// The object's namespace as far as its pods are concerned.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Neighbourhood<'a> {
    /// Pods of the namespace (or of the workload's selector).
    pub pods: Option<&'a Store<Pod>>,
    /// ReplicaSets of the namespace (Deployments only).
    pub replica_sets: Option<&'a Store<ReplicaSet>>,
    /// Events of the namespace.
    pub events: Option<&'a Store<CoreEvent>>,
}

/// The pod (and container) that best explains the object's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Culprit {
    /// Pod name.
    pub pod: String,
    /// Container at fault, if known.
    pub container: Option<String>,
    /// Its restart count.
    pub restart_count: Option<i32>,
    /// Read the previous instance's logs (crash loops, OOM kills).
    pub previous_logs: bool,
    /// The container has run at least once, so it may have logs.
    pub has_run: bool,
}

/// The verdict on one object at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Judgement {
    /// The object's readiness, pod failures included.
    pub readiness: Readiness,
    /// The rule that decided (None while the object has not been seen).
    pub rule: Option<Rule>,
    /// The pod failure behind a failed readiness, if a pod is to blame.
    pub pod_failure: Option<PodFailure>,
    /// Pod to show evidence for: the failing one, or the first one not ready.
    pub culprit: Option<Culprit>,
    /// Ready and desired replicas (or succeeded and wanted completions), for kinds that have them.
    pub counts: Option<(i64, i64)>,
    /// The object's uid, once seen.
    pub uid: Option<String>,
    /// Changes whenever the rollout moves (status message, pods' phases, readiness, restarts).
    pub fingerprint: String,
}

impl Judgement {
    /// The judgement of an object not seen yet.
    pub(crate) fn waiting() -> Self {
        Self::of(Readiness::in_progress(
            "waiting for the API server's first answer",
        ))
    }

    fn of(readiness: Readiness) -> Self {
        Self {
            fingerprint: format!("{readiness:?}"),
            readiness,
            rule: None,
            pod_failure: None,
            culprit: None,
            counts: None,
            uid: None,
        }
    }
}

/// The reason of an object whose watch was given up ([`ObjectView::Lost`]).
pub(crate) const WATCH_LOST: &str = "WatchLost";

/// Judges `target` from its object as last seen and the pods, ReplicaSets and events around it.
pub(crate) fn judge(
    target: &TrackTarget,
    view: ObjectView<'_>,
    near: &Neighbourhood<'_>,
    ctx: &ReadinessContext<'_>,
    diag: &DiagnoseOptions,
) -> Judgement {
    let obj = match view {
        ObjectView::Waiting(error) => return Judgement::of(waiting(target, error)),
        ObjectView::Missing => {
            return Judgement::of(Readiness::failed(
                "NotFound",
                format!(
                    "{} does not exist in the cluster (apply it first, or check its namespace)",
                    target.object.label()
                ),
            ));
        }
        ObjectView::Lost(what, error) => {
            return Judgement::of(Readiness::failed(
                WATCH_LOST,
                format!(
                    "kpush lost its watch of {what}: the API server stayed unavailable past --retry-budget{} (check the cluster's control plane, then run `kpush status` with the same manifests)",
                    error.map(|e| format!(" ({e})")).unwrap_or_default()
                ),
            ));
        }
        ObjectView::Present(obj) => obj,
    };
    let uid = obj.metadata.uid.clone();
    let mut value = match serde_json::to_value(obj) {
        Ok(v) => v,
        Err(e) => {
            return Judgement::of(Readiness::in_progress(format!(
                "cannot read the object: {e}"
            )));
        }
    };
    // Items of a list carry no apiVersion and kind; the rules pick the kind's rule by them.
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "apiVersion".into(),
            Value::String(target.resource.api_version.clone()),
        );
        map.insert("kind".into(), Value::String(target.resource.kind.clone()));
    }
    if let (Some(applied), Some(seen)) = (target.generation, obj.metadata.generation)
        && seen < applied
    {
        let mut j = Judgement::of(Readiness::in_progress(format!(
            "waiting for the API server to show generation {applied} (it shows {seen})"
        )));
        j.uid = uid;
        return j;
    }
    let mut verdict = assess(&value, ctx);
    if target.resource.kind == "PersistentVolumeClaim" && target.resource.group.is_empty() {
        verdict.readiness = claim_explained(
            verdict.readiness,
            &claim_warnings(target.name(), near.events),
        );
    }
    if target.workload() == Some(WorkloadKind::Job)
        && value
            .pointer("/status/active")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            == 0
        && let Some((message, lasting)) =
            job_create_failures(target.name(), uid.as_deref(), near.events, diag)
    {
        verdict.readiness = cannot_create_pods(verdict.readiness, &message, lasting);
    }
    let counts = counts(target, &value);
    let mut judgement = Judgement {
        fingerprint: String::new(),
        readiness: verdict.readiness,
        rule: Some(verdict.rule),
        pod_failure: None,
        culprit: None,
        counts,
        uid,
    };
    if verdict.rule != Rule::Skipped
        && let Some(kind) = target.workload()
    {
        judge_pods(kind, &value, near, diag, &mut judgement);
    }
    judgement.fingerprint = format!(
        "{:?}|{:?}|{}",
        judgement.readiness, judgement.counts, judgement.fingerprint
    );
    judgement
}

/// Adds pod diagnosis to a judgement: a certain pod failure fails an in-progress rollout.
fn judge_pods(
    kind: WorkloadKind,
    value: &Value,
    near: &Neighbourhood<'_>,
    diag: &DiagnoseOptions,
    judgement: &mut Judgement,
) {
    let bare: Option<Pod> = (kind == WorkloadKind::Pod)
        .then(|| pods::typed(value))
        .flatten();
    let new_pods: Vec<&Pod> = match (&bare, near.pods) {
        (Some(p), _) => vec![p],
        (None, Some(store)) => {
            // Only the workload's own ReplicaSets, so a namespace of many Deployments stays cheap.
            let owner = judgement.uid.as_deref();
            let sets: Vec<ReplicaSet> = near
                .replica_sets
                .map(|s| {
                    s.values()
                        .filter(|rs| {
                            owner.is_none_or(|uid| {
                                rs.metadata
                                    .owner_references
                                    .iter()
                                    .flatten()
                                    .any(|r| r.uid == uid)
                            })
                        })
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            pods::new_revision_pods(kind, value, store.values(), &sets)
        }
        (None, None) => Vec::new(),
    };
    if kind == WorkloadKind::ReplicationController
        && judgement.readiness.is_ready()
        && near.pods.is_none()
    {
        // Whether its pods run the current template is known only once they are listed.
        judgement.readiness = Readiness::in_progress("waiting to list its pods");
    } else if kind == WorkloadKind::ReplicationController && judgement.readiness.is_ready() {
        let owned: Vec<Value> = new_pods
            .iter()
            .filter_map(|p| serde_json::to_value(p).ok())
            .collect();
        if let Some(r) = replication_controller_pods(value, &owned) {
            judgement.readiness = r;
        }
    }
    judgement.fingerprint = pods::fingerprint(&new_pods);
    let events = events_of(&new_pods, near.events);
    let failure = new_pods
        .iter()
        .find_map(|p| diagnose(p, &events, diag).map(|f| (*p, f)));
    match (&judgement.readiness, failure) {
        (Readiness::Ready, _) => {}
        (Readiness::InProgress { .. }, Some((pod, f))) => {
            judgement.readiness = Readiness::failed(f.reason.clone(), f.to_string());
            judgement.culprit = Some(culprit_of(pod, &f));
            judgement.pod_failure = Some(f);
        }
        (Readiness::Failed { .. }, Some((pod, f))) => {
            judgement.culprit = Some(culprit_of(pod, &f));
            judgement.pod_failure = Some(f);
        }
        (Readiness::Failed { .. }, None) => {
            judgement.culprit = pods::last_failed(&new_pods).map(|(pod, container)| Culprit {
                pod: pod.metadata.name.clone().unwrap_or_default(),
                restart_count: container.as_deref().map(|c| restart_count(pod, c)),
                has_run: true,
                container,
                previous_logs: false,
            });
        }
        (Readiness::InProgress { .. }, None) => {
            judgement.culprit = new_pods.iter().find(|p| !pods::is_ready(p)).map(|p| {
                let container = first_unready_container(p);
                Culprit {
                    pod: p.metadata.name.clone().unwrap_or_default(),
                    restart_count: container.as_deref().map(|c| restart_count(p, c)),
                    has_run: container.as_deref().is_some_and(|c| has_run(p, c)),
                    container,
                    previous_logs: false,
                }
            });
        }
    }
}

fn waiting(target: &TrackTarget, error: Option<&watcher::Error>) -> Readiness {
    let Some(error) = error else {
        return Readiness::in_progress("waiting for the API server's first answer");
    };
    let what = format!(
        "{}{}",
        target.resource.plural,
        target
            .namespace()
            .map(|ns| format!(" in namespace {ns}"))
            .unwrap_or_default()
    );
    match error_code(error) {
        Some(403) => Readiness::failed(
            "Forbidden",
            format!(
                "kpush may not list and watch {what}: {error} (grant the verbs get, list and watch on {} to kpush's identity)",
                target.resource.plural
            ),
        ),
        Some(404) => Readiness::failed(
            "NotFound",
            format!(
                "the API server no longer serves {what}: {error} (was its CustomResourceDefinition deleted?)"
            ),
        ),
        _ => Readiness::in_progress(format!("cannot watch {what} yet, retrying: {error}")),
    }
}

/// `(reason, message)` of the Warning events about claim `name`, oldest first.
fn claim_warnings<'a>(name: &str, store: Option<&'a Store<CoreEvent>>) -> Vec<(&'a str, &'a str)> {
    let mut found: Vec<&CoreEvent> = store
        .map(|s| {
            s.values()
                .filter(|e| {
                    e.type_.as_deref() == Some("Warning")
                        && e.involved_object.kind.as_deref() == Some("PersistentVolumeClaim")
                        && e.involved_object.name.as_deref() == Some(name)
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0));
    found
        .into_iter()
        .map(|e| {
            (
                e.reason.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or(""),
            )
        })
        .collect()
}

/// The latest message of the `FailedCreate` warnings about Job `name` (this Job: `uid`, not an
/// earlier one of the same name), and how long ago the first of them was.
fn job_create_failures(
    name: &str,
    uid: Option<&str>,
    store: Option<&Store<CoreEvent>>,
    diag: &DiagnoseOptions,
) -> Option<(String, std::time::Duration)> {
    let found: Vec<&CoreEvent> = store?
        .values()
        .filter(|e| {
            let o = &e.involved_object;
            e.type_.as_deref() == Some("Warning")
                && e.reason.as_deref() == Some("FailedCreate")
                && o.kind.as_deref() == Some("Job")
                && o.name.as_deref() == Some(name)
                && (uid.is_none() || o.uid.is_none() || o.uid.as_deref() == uid)
        })
        .collect();
    let first = |e: &CoreEvent| {
        [
            e.first_timestamp.as_ref().map(|t| t.0),
            e.event_time.as_ref().map(|t| t.0),
            e.metadata.creation_timestamp.as_ref().map(|t| t.0),
        ]
        .into_iter()
        .flatten()
        .min()
    };
    let last = |e: &CoreEvent| {
        [
            e.last_timestamp.as_ref().map(|t| t.0),
            e.series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref())
                .map(|t| t.0),
            first(e),
        ]
        .into_iter()
        .flatten()
        .max()
    };
    let latest = found.iter().max_by_key(|e| last(e))?;
    let since = found.iter().filter_map(|e| first(e)).min();
    let lasting = since
        .and_then(|t| diag.now.duration_since(t).try_into().ok())
        .unwrap_or_default();
    Some((latest.message.clone().unwrap_or_default(), lasting))
}

fn events_of(pods: &[&Pod], store: Option<&Store<CoreEvent>>) -> Vec<CoreEvent> {
    let Some(store) = store else {
        return Vec::new();
    };
    store
        .values()
        .filter(|e| {
            let o = &e.involved_object;
            o.kind.as_deref() == Some("Pod")
                && pods
                    .iter()
                    .any(|p| p.metadata.name.is_some() && p.metadata.name == o.name)
        })
        .cloned()
        .collect()
}

fn culprit_of(pod: &Pod, f: &PodFailure) -> Culprit {
    Culprit {
        pod: f.pod.clone(),
        container: f.container.clone(),
        restart_count: f.container.as_ref().map(|_| f.restart_count),
        previous_logs: f.previous_logs_useful,
        has_run: f.container.as_deref().is_some_and(|c| has_run(pod, c)),
    }
}

fn container_statuses(
    pod: &Pod,
) -> impl Iterator<Item = &k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status.iter().flat_map(|s| {
        s.init_container_statuses
            .iter()
            .flatten()
            .chain(s.container_statuses.iter().flatten())
    })
}

fn restart_count(pod: &Pod, container: &str) -> i32 {
    container_statuses(pod)
        .find(|c| c.name == container)
        .map(|c| c.restart_count)
        .unwrap_or(0)
}

/// True when the container is running, has terminated, or has restarted: it may have logs.
fn has_run(pod: &Pod, container: &str) -> bool {
    container_statuses(pod)
        .find(|c| c.name == container)
        .is_some_and(|c| {
            let state = c.state.as_ref();
            c.restart_count > 0
                || state.is_some_and(|s| s.running.is_some() || s.terminated.is_some())
                || c.last_state
                    .as_ref()
                    .is_some_and(|s| s.terminated.is_some())
        })
}

fn first_unready_container(pod: &Pod) -> Option<String> {
    container_statuses(pod)
        .find(|c| !c.ready)
        .map(|c| c.name.clone())
}

/// Ready and desired replicas (or succeeded and wanted completions) of workload kinds.
fn counts(target: &TrackTarget, obj: &Value) -> Option<(i64, i64)> {
    let int = |p: &str| obj.pointer(p).and_then(Value::as_i64);
    let replicas = || int("/spec/replicas").unwrap_or(1);
    match target.workload()? {
        WorkloadKind::Deployment => {
            let updated = int("/status/updatedReplicas").unwrap_or(0);
            let available = int("/status/availableReplicas").unwrap_or(0);
            Some((updated.min(available), replicas()))
        }
        WorkloadKind::StatefulSet
        | WorkloadKind::ReplicaSet
        | WorkloadKind::ReplicationController => {
            Some((int("/status/readyReplicas").unwrap_or(0), replicas()))
        }
        WorkloadKind::DaemonSet => Some((
            int("/status/numberReady").unwrap_or(0),
            int("/status/desiredNumberScheduled").unwrap_or(0),
        )),
        WorkloadKind::Job => Some((
            int("/status/succeeded").unwrap_or(0),
            int("/spec/completions").unwrap_or(1),
        )),
        WorkloadKind::Pod => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ObjectRef;
    use crate::manifest::ObjectKey;
    use kube::core::GroupVersionKind;
    use kube::discovery::ApiResource;
    use kube::runtime::watcher::Event as W;
    use serde_json::json;

    fn target(generation: Option<i64>) -> TrackTarget {
        let key = ObjectKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("a".into()),
            name: "web".into(),
        };
        TrackTarget::from_parts(
            ObjectRef::new(key.clone(), None),
            ApiResource::from_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment")),
            Some("a".into()),
            false,
            generation,
        )
    }

    fn deployment(generation: i64, observed: i64, revision: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a", "uid": "dep", "generation": generation,
                         "annotations": {"deployment.kubernetes.io/revision": revision}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"observedGeneration": observed, "replicas": 1, "updatedReplicas": 1,
                       "availableReplicas": 1, "readyReplicas": 1}
        }))
        .expect("deployment")
    }

    fn replica_set(uid: &str, revision: &str) -> ReplicaSet {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("web-{uid}"), "namespace": "a", "uid": uid,
                "annotations": {"deployment.kubernetes.io/revision": revision},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                     "uid": "dep", "controller": true}]}
        }))
        .expect("rs")
    }

    fn bad_image_pod(rs_uid: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("web-{rs_uid}-x"), "namespace": "a", "uid": format!("p-{rs_uid}"),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                     "uid": rs_uid, "controller": true}]},
            "spec": {"containers": [{"name": "app", "image": "x"}]},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "app", "image": "x", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]}
        }))
        .expect("pod")
    }

    fn stores(
        pods: Vec<Pod>,
        sets: Vec<ReplicaSet>,
    ) -> (Store<Pod>, Store<ReplicaSet>, Store<CoreEvent>) {
        let mut p = Store::default();
        pods.into_iter().for_each(|x| p.apply(W::Apply(x)));
        let mut r = Store::default();
        sets.into_iter().for_each(|x| r.apply(W::Apply(x)));
        (p, r, Store::default())
    }

    #[test]
    fn an_older_generation_than_applied_never_counts() {
        let d = deployment(1, 1, "1");
        let j = judge(
            &target(Some(2)),
            ObjectView::Present(&d),
            &Neighbourhood::default(),
            &ReadinessContext::default(),
            &DiagnoseOptions::default(),
        );
        assert!(matches!(j.readiness, Readiness::InProgress { .. }), "{j:?}");
    }

    #[test]
    fn a_failing_pod_of_the_new_revision_fails_the_rollout() {
        let d = deployment(2, 2, "2");
        let (p, r, e) = stores(
            vec![bad_image_pod("rs2")],
            vec![replica_set("rs1", "1"), replica_set("rs2", "2")],
        );
        let mut d2 = d.clone();
        d2.data["status"]["updatedReplicas"] = json!(0);
        let near = Neighbourhood {
            pods: Some(&p),
            replica_sets: Some(&r),
            events: Some(&e),
        };
        let j = judge(
            &target(None),
            ObjectView::Present(&d2),
            &near,
            &ReadinessContext::default(),
            &DiagnoseOptions::default(),
        );
        assert!(
            matches!(&j.readiness, Readiness::Failed { reason, .. } if reason == "ImagePullBackOff"),
            "{j:?}"
        );
        assert_eq!(
            j.culprit.as_ref().map(|c| c.pod.as_str()),
            Some("web-rs2-x")
        );
        assert_eq!(j.counts, Some((0, 1)));
    }

    #[test]
    fn a_failing_pod_of_the_old_revision_is_ignored() {
        let mut d = deployment(2, 2, "2");
        d.data["status"]["updatedReplicas"] = json!(0);
        let (p, r, e) = stores(
            vec![bad_image_pod("rs1")],
            vec![replica_set("rs1", "1"), replica_set("rs2", "2")],
        );
        let near = Neighbourhood {
            pods: Some(&p),
            replica_sets: Some(&r),
            events: Some(&e),
        };
        let j = judge(
            &target(None),
            ObjectView::Present(&d),
            &near,
            &ReadinessContext::default(),
            &DiagnoseOptions::default(),
        );
        assert!(matches!(j.readiness, Readiness::InProgress { .. }), "{j:?}");
    }

    #[test]
    fn a_missing_object_fails_naming_it() {
        let j = judge(
            &target(None),
            ObjectView::Missing,
            &Neighbourhood::default(),
            &ReadinessContext::default(),
            &DiagnoseOptions::default(),
        );
        assert!(
            matches!(&j.readiness, Readiness::Failed { reason, message } if reason == "NotFound" && message.contains("Deployment a/web"))
        );
    }
}
