//! `-o json`: one JSON document on standard output describing the whole run.
//!
//! Built from dedicated serialize-only types, so the format changes only when this file does.
//! Format (version 1):
//!
//! ```text
//! {
//!   "apiVersion": "kpush.dev/v1",
//!   "kind": "RunResult",
//!   "result": "succeeded" | "failed" | "timedOut" | "interrupted" | "notTracked",
//!   "exitCode": 0,                      // the process exit code (see docs/rollouts.md)
//!   "durationMs": 8123,                 // tracking time; absent when nothing was tracked
//!   "objects": [{
//!     "kind": "Deployment", "group": "apps", "namespace": "shop", "name": "web",
//!     "member": "member-1",             // a Fleet placement's rollout on one member cluster
//!                                       // (docs/fleet.md); absent otherwise
//!     "file": "deploy/web.yaml", "line": 1,          // absent when unknown
//!     "action": "created",              // what apply did; absent for `kpush status`; "unknown"
//!                                       // when the connection failed with the request in flight
//!     "rejection": {"type": "conflict", "reason": "…", "advice": "…"},  // rejected objects only
//!     "readiness": "ready" | "skipped" | "failed" | "timedOut" | "pending",  // absent if not tracked
//!     "message": "…",                   // the last readiness message; absent when ready
//!     "durationMs": 4210,               // time to the verdict
//!     "failure": {                      // only for failed and timed-out objects
//!       "reason": "ImagePullBackOff", "message": "…",
//!       "pod": "web-6d4b9-x2x7z", "container": "app", "restartCount": 0,   // when a pod is to blame
//!       "hint": "…",
//!       "events": [{"object": "Pod web-…", "type": "Warning", "reason": "Failed",
//!                   "message": "…", "count": 3}],
//!       "logs": {"container": "app", "previous": true, "lines": ["…"]}
//!            | {"container": "app", "unavailable": "one line saying why"}
//!     }
//!   }],
//!   "release": ["release shop: revision 4 failed; rolling back to revision 3", …]
//!                                       // with --release: what happened to it, in order;
//!                                       // absent otherwise (docs/releases.md)
//!   "missingPermissions": [{"group": "apps", "resource": "deployments", "verb": "delete",
//!       "namespace": "shop", "needs": ["pruneDelete"], "why": "…", "optional": false}]
//!                                       // what the access check found missing (subresource
//!                                       // for `pods/log`; no namespace: cluster-wide);
//!                                       // absent when nothing is (docs/rbac.md)
//!   "targets": [{                       // with --targets only (docs/targets.md); the top-level
//!                                       // "objects" is then empty and "result" follows exitCode
//!     "name": "weu", "cluster": "AKS cluster aks-weu (…)",
//!     "state": "succeeded" | "differences" | "failed" | "unreachable" | "notStarted",
//!     "exitCode": 4,                    // absent when not started
//!     "message": "…",                   // why it failed or did not start; absent otherwise
//!     "durationMs": 4210,
//!     "result": "succeeded" | …,        // its tracking verdict, as "result" above
//!     "objects": [ … ],                 // as "objects" above
//!     "release": [ … ],
//!     "missingPermissions": [ … ]       // as above, for this target's identity and cluster
//!   }]
//! }
//! ```
//!
//! Objects appear in the order apply reported them, then any tracked object apply did not
//! mention. Fields are only ever added within a version.

use std::sync::Mutex;

use serde::Serialize;

use crate::event::time::millis;
use crate::event::{
    Action, Event, Logs, ObjectOutcome, ObjectRef, ObjectState, Readiness, Rejection,
    RejectionKind, RunState, TargetResult, TargetState, TrackOutcome,
};

/// Collects apply actions and the tracking outcome; [`JsonResult::render`] prints the document.
#[derive(Debug, Default)]
pub struct JsonResult {
    inner: Mutex<Collected>,
    targets: Mutex<Vec<Target>>,
}

#[derive(Debug)]
struct Target {
    name: String,
    cluster: String,
    collected: Collected,
    result: Option<TargetResult>,
}

#[derive(Debug, Default)]
struct Collected {
    actions: Vec<(ObjectRef, Action, Option<Rejection>)>,
    outcome: Option<TrackOutcome>,
    release: Vec<String>,
    missing: Vec<crate::event::Permission>,
}

impl JsonResult {
    /// Takes in one event.
    pub fn record(&self, event: &Event) {
        let (name, inner) = match event {
            Event::TargetStarted { name, .. } => (name, None),
            Event::TargetFinished { result } => (&result.name, None),
            Event::Scoped { target, event } => (target, Some(&**event)),
            other => {
                if let Ok(mut c) = self.inner.lock() {
                    c.record(other);
                }
                return;
            }
        };
        let Ok(mut targets) = self.targets.lock() else {
            return;
        };
        let i = match targets.iter().position(|t| &t.name == name) {
            Some(i) => i,
            None => {
                targets.push(Target {
                    name: name.clone(),
                    cluster: String::new(),
                    collected: Collected::default(),
                    result: None,
                });
                targets.len() - 1
            }
        };
        let t = &mut targets[i];
        match event {
            Event::TargetStarted { cluster, .. } => t.cluster = cluster.clone(),
            Event::TargetFinished { result } => t.result = Some(result.clone()),
            _ => {}
        }
        if let Some(e) = inner {
            t.collected.record(e);
        }
    }

    /// The document, pretty-printed with a final newline; `exit_code` is the process's.
    pub fn render(&self, exit_code: i32) -> String {
        let c = match self.inner.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let targets = match self.targets.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        let doc = RunJson {
            api_version: "kpush.dev/v1",
            kind: "RunResult",
            // A multi-cluster run has no tracking of its own: its result is its exit code's.
            result: match (targets.is_empty(), exit_code) {
                (true, _) => c.result(),
                (false, crate::exit::SUCCESS) => "succeeded",
                (false, crate::exit::TIMED_OUT) => "timedOut",
                (false, crate::exit::INTERRUPTED) => "interrupted",
                (false, _) => "failed",
            },
            exit_code,
            duration_ms: c.outcome.as_ref().map(|o| millis(o.elapsed)),
            objects: c.objects(),
            release: &c.release,
            missing_permissions: c.missing_permissions(),
            targets: targets
                .iter()
                .map(|t| TargetJson {
                    name: &t.name,
                    cluster: &t.cluster,
                    state: t.result.as_ref().map(|r| r.state),
                    exit_code: t
                        .result
                        .as_ref()
                        .filter(|r| r.state != TargetState::NotStarted)
                        .map(|r| crate::exit::of_outcome(r.outcome)),
                    message: t.result.as_ref().and_then(|r| r.message.as_deref()),
                    duration_ms: t.result.as_ref().map(|r| millis(r.elapsed)),
                    result: t.collected.result(),
                    objects: t.collected.objects(),
                    release: &t.collected.release,
                    missing_permissions: t.collected.missing_permissions(),
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
            format!("{{\"kind\":\"RunResult\",\"error\":\"cannot serialize the result: {e}\"}}")
        });
        text.push('\n');
        text
    }
}

impl Collected {
    /// Takes in one event.
    fn record(&mut self, event: &Event) {
        let c = self;
        match event {
            Event::Object { object, action } => c.actions.push((object.clone(), *action, None)),
            Event::Rejected { rejection } => c.actions.push((
                rejection.object.clone(),
                Action::Failed,
                Some(rejection.clone()),
            )),
            // A chart's hooks are tracked in rounds of their own: one outcome holds them all.
            Event::TrackFinished { outcome } => match &mut c.outcome {
                Some(all) => {
                    all.objects.extend(outcome.objects.iter().cloned());
                    all.elapsed += outcome.elapsed;
                    if outcome.state != crate::event::RunState::Ready {
                        all.state = outcome.state;
                    }
                }
                None => c.outcome = Some(outcome.clone()),
            },
            Event::Release { note } => c.release.push(note.text()),
            Event::PermissionMissing { permission } => c.missing.push(permission.clone()),
            _ => {}
        }
    }

    /// The objects: what apply did to each, and how its rollout ended (a Fleet placement's
    /// once per member cluster).
    fn objects(&self) -> Vec<ObjectJson<'_>> {
        let c = self;
        let same = |a: &ObjectRef, b: &ObjectRef| a.key == b.key && a.member == b.member;
        let tracked = |o: &ObjectRef| {
            c.outcome
                .as_ref()
                .and_then(|out| out.objects.iter().find(|x| same(&x.object, o)))
        };
        let mut objects: Vec<ObjectJson<'_>> = c
            .actions
            .iter()
            .map(|(o, a, r)| ObjectJson::new(o, Some(*a), r.as_ref(), tracked(o)))
            .collect();
        if let Some(out) = &c.outcome {
            for x in &out.objects {
                if !c.actions.iter().any(|(o, _, _)| same(o, &x.object)) {
                    objects.push(ObjectJson::new(&x.object, None, None, Some(x)));
                }
            }
        }
        objects
    }

    /// What the access check found missing, with why each is needed.
    fn missing_permissions(&self) -> Vec<PermissionJson<'_>> {
        self.missing
            .iter()
            .map(|p| PermissionJson {
                why: p.why(),
                optional: p.optional(),
                permission: p,
            })
            .collect()
    }

    /// The tracking verdict's word.
    fn result(&self) -> &'static str {
        match self.outcome.as_ref().map(|o| o.state) {
            Some(RunState::Ready) => "succeeded",
            Some(RunState::Failed) => "failed",
            Some(RunState::TimedOut) => "timedOut",
            Some(RunState::Interrupted) => "interrupted",
            Some(RunState::Unreachable) => "unreachable",
            None => "notTracked",
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunJson<'a> {
    api_version: &'static str,
    kind: &'static str,
    result: &'static str,
    exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    objects: Vec<ObjectJson<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    release: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    missing_permissions: Vec<PermissionJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    targets: Vec<TargetJson<'a>>,
}

#[derive(Serialize)]
struct PermissionJson<'a> {
    #[serde(flatten)]
    permission: &'a crate::event::Permission,
    why: String,
    optional: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetJson<'a> {
    name: &'a str,
    cluster: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<TargetState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    result: &'static str,
    objects: Vec<ObjectJson<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    release: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    missing_permissions: Vec<PermissionJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectJson<'a> {
    kind: &'a str,
    group: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejection: Option<RejectionJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    readiness: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<FailureJson<'a>>,
}

impl<'a> ObjectJson<'a> {
    fn new(
        o: &'a ObjectRef,
        action: Option<Action>,
        rejection: Option<&'a Rejection>,
        tracked: Option<&'a ObjectOutcome>,
    ) -> Self {
        let message = tracked.and_then(|t| match &t.readiness {
            Readiness::InProgress { message } => Some(message.as_str()),
            Readiness::Failed { message, .. } => Some(message.as_str()),
            Readiness::Ready => None,
        });
        Self {
            kind: &o.key.kind,
            group: &o.key.group,
            namespace: o.key.namespace.as_deref(),
            name: &o.key.name,
            member: o.member.as_deref(),
            file: o.origin.as_ref().map(|o| &*o.file),
            line: o.origin.as_ref().map(|o| o.line),
            action,
            rejection: rejection.map(|r| RejectionJson {
                kind: &r.kind,
                reason: &r.reason,
                advice: Some(r.advice.as_str()).filter(|a| !a.is_empty()),
            }),
            readiness: tracked.map(|t| match t.state {
                ObjectState::Ready => "ready",
                ObjectState::Skipped => "skipped",
                ObjectState::Failed => "failed",
                ObjectState::TimedOut => "timedOut",
                ObjectState::Pending => "pending",
                ObjectState::Unknown => "unknown",
            }),
            message,
            duration_ms: tracked.map(|t| millis(t.duration)),
            failure: tracked
                .and_then(|t| t.explanation.as_ref())
                .map(|e| FailureJson {
                    reason: &e.reason,
                    message: &e.message,
                    pod: e.pod.as_deref(),
                    container: e.container.as_deref(),
                    restart_count: e.restart_count,
                    hint: e.hint.as_deref(),
                    events: e
                        .events
                        .iter()
                        .map(|ev| EventJson {
                            object: &ev.object,
                            type_: &ev.type_,
                            reason: &ev.reason,
                            message: &ev.message,
                            count: ev.count,
                        })
                        .collect(),
                    logs: e.logs.as_ref().map(|l| match l {
                        Logs::Lines {
                            container,
                            previous,
                            lines,
                        } => LogsJson {
                            container,
                            previous: Some(*previous),
                            lines: Some(lines),
                            unavailable: None,
                        },
                        Logs::Unavailable { container, reason } => LogsJson {
                            container,
                            previous: None,
                            lines: None,
                            unavailable: Some(reason),
                        },
                    }),
                }),
        }
    }
}

#[derive(Serialize)]
struct RejectionJson<'a> {
    #[serde(flatten)]
    kind: &'a RejectionKind,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    advice: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FailureJson<'a> {
    reason: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pod: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restart_count: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    events: Vec<EventJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logs: Option<LogsJson<'a>>,
}

#[derive(Serialize)]
struct EventJson<'a> {
    object: &'a str,
    #[serde(rename = "type")]
    type_: &'a str,
    reason: &'a str,
    message: &'a str,
    count: i32,
}

#[derive(Serialize)]
struct LogsJson<'a> {
    container: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lines: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<&'a str>,
}
