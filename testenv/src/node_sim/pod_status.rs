//! The pod status a kubelet posts, rendered from a [`PodSnapshot`].

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::images::ImageRef;
use super::pod_timeline::{Phase, PodPlan, PodSnapshot};
use super::timeline::{ContainerPlan, ContainerView, State, Termination};

/// Remembers when each condition last changed status, as the kubelet does.
#[derive(Debug, Default, Clone)]
pub struct ConditionClock {
    since: HashMap<String, (String, String)>,
}

impl ConditionClock {
    /// Seeds the clock with conditions the pod already has (PodScheduled, from the binding).
    pub fn from_conditions(conditions: &[(String, String, Option<String>)]) -> ConditionClock {
        let mut clock = ConditionClock::default();
        for (kind, status, time) in conditions {
            if let Some(time) = time {
                clock
                    .since
                    .insert(kind.clone(), (status.clone(), time.clone()));
            }
        }
        clock
    }

    fn transition_time(&mut self, kind: &str, status: &str, now: &str) -> String {
        match self.since.get(kind) {
            Some((s, t)) if s == status => t.clone(),
            _ => {
                self.since
                    .insert(kind.to_string(), (status.to_string(), now.to_string()));
                now.to_string()
            }
        }
    }
}

/// Builds conditions whose transition times come from a [`ConditionClock`].
struct Conditions<'a> {
    clock: &'a mut ConditionClock,
    now: &'a str,
    generation: Option<i64>,
}

impl Conditions<'_> {
    fn make(
        &mut self,
        kind: &str,
        ok: bool,
        reason: Option<&str>,
        message: Option<String>,
    ) -> Value {
        let status = if ok { "True" } else { "False" };
        let mut c = json!({
            "type": kind,
            "status": status,
            "lastProbeTime": null,
            "lastTransitionTime": self.clock.transition_time(kind, status, self.now),
        });
        if let Some(reason) = reason {
            c["reason"] = json!(reason);
        }
        if let Some(message) = message {
            c["message"] = json!(message);
        }
        if let Some(generation) = self.generation {
            c["observedGeneration"] = json!(generation);
        }
        c
    }
}

/// What the status needs besides the snapshot.
pub struct Context<'a> {
    pub plan: &'a PodPlan,
    /// Wall-clock time of offset zero of the timeline.
    pub epoch: DateTime<Utc>,
    /// When the kubelet first took the pod.
    pub start_time: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub host_ip: &'a str,
    pub pod_ip: &'a str,
    /// The pod's `metadata.generation`, echoed as `observedGeneration` (kubelets of 1.34 and
    /// later: PodObservedGenerationTracking).
    pub generation: Option<i64>,
    /// The pod's `spec`, for what container statuses repeat of it (volume mounts, resources).
    pub spec: &'a Value,
}

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Context<'_> {
    fn at(&self, offset: Duration) -> String {
        let offset = chrono::Duration::from_std(offset).unwrap_or_default();
        timestamp(self.epoch + offset)
    }
}

/// The `status` object to merge into the pod.
pub fn render(ctx: &Context<'_>, snap: &PodSnapshot, clock: &mut ConditionClock) -> Value {
    let plan = ctx.plan;
    let now = timestamp(ctx.now);
    let succeeded = snap.phase == Phase::Succeeded;

    let not_initialized: Vec<&str> = plan
        .init
        .iter()
        .zip(&snap.init)
        .filter(|(_, v)| !matches!(&v.state, State::Terminated(t) if t.code == 0))
        .map(|(c, _)| c.name.as_str())
        .collect();
    let unready: Vec<&str> = plan
        .main
        .iter()
        .zip(&snap.main)
        .filter(|(_, v)| !v.ready)
        .map(|(c, _)| c.name.as_str())
        .collect();

    let mut conditions = Conditions {
        clock,
        now: &now,
        generation: ctx.generation,
    };
    // The sandbox exists while the pod runs; a finished pod's is torn down (kubelet 1.29+).
    let sandbox_ready = conditions.make(
        "PodReadyToStartContainers",
        !matches!(snap.phase, Phase::Succeeded | Phase::Failed),
        None,
        None,
    );
    let initialized = if succeeded {
        conditions.make("Initialized", true, Some("PodCompleted"), None)
    } else if not_initialized.is_empty() {
        conditions.make("Initialized", true, None, None)
    } else {
        conditions.make(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                not_initialized.join(" ")
            )),
        )
    };
    let mut readiness = |kind: &str| {
        if succeeded {
            conditions.make(kind, false, Some("PodCompleted"), None)
        } else if unready.is_empty() {
            conditions.make(kind, true, None, None)
        } else {
            conditions.make(
                kind,
                false,
                Some("ContainersNotReady"),
                Some(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                )),
            )
        }
    };
    let ready = readiness("Ready");
    let containers_ready = readiness("ContainersReady");
    let scheduled = conditions.make("PodScheduled", true, None, None);

    let mut status = json!({
        "phase": snap.phase.as_str(),
        "conditions": [sandbox_ready, initialized, ready, containers_ready, scheduled],
        "hostIP": ctx.host_ip,
        "hostIPs": [{"ip": ctx.host_ip}],
        "podIP": ctx.pod_ip,
        "podIPs": [{"ip": ctx.pod_ip}],
        "startTime": timestamp(ctx.start_time),
        "containerStatuses": plan.main.iter().zip(&snap.main)
            .map(|(c, v)| container_status(ctx, c, v)).collect::<Vec<_>>(),
    });
    if let Some(generation) = ctx.generation {
        status["observedGeneration"] = json!(generation);
    }
    if !plan.init.is_empty() {
        status["initContainerStatuses"] = plan
            .init
            .iter()
            .zip(&snap.init)
            .map(|(c, v)| container_status(ctx, c, v))
            .collect();
    }
    status
}

/// A stable, runtime-looking 64-hex-digit id.
fn hex_id(parts: &[&str]) -> String {
    (0..4u8)
        .map(|round| {
            let mut h = DefaultHasher::new();
            round.hash(&mut h);
            parts.hash(&mut h);
            format!("{:016x}", h.finish())
        })
        .collect()
}

fn container_id(ctx: &Context<'_>, c: &ContainerPlan, run: u32) -> String {
    format!(
        "containerd://{}",
        hex_id(&[&ctx.plan.ident.uid, &c.name, &run.to_string()])
    )
}

fn terminated(ctx: &Context<'_>, c: &ContainerPlan, t: &Termination) -> Value {
    json!({
        "exitCode": t.code,
        "reason": t.reason,
        "startedAt": ctx.at(t.started),
        "finishedAt": ctx.at(t.finished),
        "containerID": container_id(ctx, c, t.run),
    })
}

fn container_status(ctx: &Context<'_>, c: &ContainerPlan, v: &ContainerView) -> Value {
    let parsed = ImageRef::parse(&c.image).ok();
    let created = !matches!(v.state, State::Waiting { .. }) || v.last.is_some();
    let image = match (&parsed, v.pulled) {
        (Some(r), true) => r.normalized(),
        _ => c.image.clone(),
    };
    let image_id = match (&parsed, created) {
        (Some(r), true) => format!("{}@sha256:{}", r.repository(), hex_id(&[&r.normalized()])),
        _ => String::new(),
    };
    let (state, current_run) = match &v.state {
        State::Waiting { reason, message } => {
            let mut w = json!({"reason": reason});
            if let Some(m) = message {
                w["message"] = json!(m);
            }
            (json!({"waiting": w}), v.last.as_ref().map(|t| t.run))
        }
        State::Running { since, run } => (
            json!({"running": {"startedAt": ctx.at(*since)}}),
            Some(*run),
        ),
        State::Terminated(t) => (json!({"terminated": terminated(ctx, c, t)}), Some(t.run)),
    };
    let last_state = match &v.last {
        Some(t) => json!({"terminated": terminated(ctx, c, t)}),
        None => json!({}),
    };
    let mut status = json!({
        "name": c.name,
        "image": image,
        "imageID": image_id,
        "ready": v.ready,
        "started": matches!(v.state, State::Running { .. }),
        "restartCount": v.restarts,
        "state": state,
        "lastState": last_state,
    });
    if let Some(run) = current_run {
        status["containerID"] = json!(container_id(ctx, c, run));
    }
    // What a 1.35 kubelet repeats of the spec once the container exists: its mounts
    // (RecursiveReadOnlyMounts), its resources (InPlacePodVerticalScaling) and the user it
    // runs as (SupplementalGroupsPolicy).
    if created {
        let spec = container_spec(ctx.spec, &c.name);
        if let Some(mounts) = spec
            .and_then(|s| s.get("volumeMounts"))
            .and_then(Value::as_array)
        {
            let mounts: Vec<Value> = mounts
                .iter()
                .map(|m| {
                    let mut out = json!({"name": m["name"], "mountPath": m["mountPath"]});
                    if m.get("readOnly").and_then(Value::as_bool) == Some(true) {
                        out["readOnly"] = json!(true);
                        out["recursiveReadOnly"] = json!("Disabled");
                    }
                    out
                })
                .collect();
            status["volumeMounts"] = json!(mounts);
        }
        if let Some(resources) = spec.and_then(|s| s.get("resources"))
            && resources.as_object().is_some_and(|r| !r.is_empty())
        {
            status["resources"] = resources.clone();
        }
        status["user"] = json!({"linux": {"uid": 0, "gid": 0, "supplementalGroups": [0]}});
    }
    status
}

/// The container of that name in a pod spec (init or main).
fn container_spec<'a>(spec: &'a Value, name: &str) -> Option<&'a Value> {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|list| spec.get(*list).and_then(Value::as_array))
        .flatten()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}
