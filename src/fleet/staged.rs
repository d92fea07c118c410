//! Staged update runs: a placement with the `External` rollout strategy rolls out only when a
//! ClusterStagedUpdateRun says so. kpush starts one for the new resource snapshot and follows
//! its stages.

use std::future::Future;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, PostParams};
use serde_json::{Value, json};

use super::Placement;
use super::api;
use crate::event::{Event, Readiness, Sink};

/// The version of ClusterStagedUpdateRun kpush writes.
pub const RUN_VERSION: &str = "v1beta1";
/// ClusterStagedUpdateRuns' resource (kpush creates and reads them).
pub const RUNS: &str = "clusterstagedupdateruns";

fn runs(client: &kube::Client) -> Api<DynamicObject> {
    Api::all_with(
        client.clone(),
        &api::resource(RUN_VERSION, "ClusterStagedUpdateRun", RUNS),
    )
}

/// The run kpush creates for `placement` at snapshot `index`.
pub fn run_object(placement: &Placement, index: &str, strategy: &str) -> Value {
    json!({
        "apiVersion": format!("{}/{RUN_VERSION}", super::placement::GROUP),
        "kind": "ClusterStagedUpdateRun",
        "metadata": {"name": run_name(&placement.name, index)},
        "spec": {
            "placementName": placement.name,
            "resourceSnapshotIndex": index,
            "stagedRolloutStrategyName": strategy,
            // Newer Fleet versions wait for `Run`; older ones drop the field and start at once.
            "state": "Run",
        },
    })
}

/// `PLACEMENT-INDEX`, shortened to fit a name.
pub fn run_name(placement: &str, index: &str) -> String {
    let suffix = format!("-{index}");
    let keep = 253usize.saturating_sub(suffix.len());
    format!(
        "{}{suffix}",
        &placement[..placement.len().min(keep)].trim_end_matches('-')
    )
}

/// Where a run stands: Ready when it succeeded, Failed when Fleet gave up, otherwise what it
/// waits for (the current stage, an approval).
pub fn run_readiness(run: &Value) -> Readiness {
    let status = &run["status"];
    let cond = |conditions: &Value, kind: &str| -> Option<Value> {
        conditions
            .as_array()?
            .iter()
            .find(|c| c["type"] == kind)
            .cloned()
    };
    let text = |c: &Value, f: &str| c[f].as_str().unwrap_or_default().to_string();
    if let Some(c) = cond(&status["conditions"], "Initialized")
        && c["status"] == "False"
    {
        return Readiness::failed(text(&c, "reason"), text(&c, "message"));
    }
    if let Some(c) = cond(&status["conditions"], "Succeeded") {
        if c["status"] == "True" {
            return Readiness::Ready;
        }
        if c["status"] == "False" {
            return Readiness::failed(text(&c, "reason"), text(&c, "message"));
        }
    }
    let stages = status["stagesStatus"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let current = stages
        .iter()
        .find(|s| cond(&s["conditions"], "Succeeded").is_none_or(|c| c["status"] != "True"));
    let Some(stage) = current else {
        return Readiness::in_progress("waiting for Fleet to start the staged update run");
    };
    let name = text(stage, "stageName");
    let waiting_approval = stage["afterStageTaskStatus"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .find(|t| {
            t["type"] == "Approval"
                && cond(&t["conditions"], "ApprovalRequestCreated")
                    .is_some_and(|c| c["status"] == "True")
                && cond(&t["conditions"], "ApprovalRequestApproved")
                    .is_none_or(|c| c["status"] != "True")
        });
    if let Some(task) = waiting_approval {
        return Readiness::in_progress(format!(
            "stage {name} waits for approval: approve ClusterApprovalRequest {} on the hub",
            text(task, "approvalRequestName")
        ));
    }
    let clusters: Vec<String> = stage["clusters"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|c| cond(&c["conditions"], "Succeeded").is_none_or(|s| s["status"] != "True"))
        .filter_map(|c| c["clusterName"].as_str().map(str::to_string))
        .collect();
    match clusters.as_slice() {
        [] => Readiness::in_progress(format!("stage {name}: waiting for its after-stage tasks")),
        _ => Readiness::in_progress(format!("stage {name}: updating {}", clusters.join(", "))),
    }
}

/// How a followed run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Every stage succeeded.
    Succeeded,
    /// Fleet failed the run (or could not start it).
    Failed {
        /// The run's name.
        run: String,
        /// Fleet's reason.
        reason: String,
        /// Fleet's message.
        message: String,
    },
    /// `deadline` passed first; what it was waiting for.
    TimedOut {
        /// The run's name.
        run: String,
        /// What it waited for.
        waiting: String,
    },
    /// Interrupted.
    Interrupted,
}

/// Creates the run for `placement` at snapshot `index` (an existing run of that name is
/// followed as it is) and follows it until it ends, `deadline`, or `cancel`.
pub async fn start_and_follow<C>(
    client: &kube::Client,
    placement: &Placement,
    index: &str,
    strategy: &str,
    deadline: Instant,
    sink: &dyn Sink,
    cancel: C,
) -> Result<RunEnd, kube::Error>
where
    C: Future<Output = ()>,
{
    let api = runs(client);
    let object = run_object(placement, index, strategy);
    let name = run_name(&placement.name, index);
    let run: DynamicObject = serde_json::from_value(object).map_err(kube::Error::SerdeError)?;
    match api.create(&PostParams::default(), &run).await {
        Ok(_) => sink.event(&Event::Info {
            message: format!(
                "started ClusterStagedUpdateRun {name}: placement {} at resource snapshot {index}, strategy {strategy}",
                placement.name
            ),
        }),
        Err(kube::Error::Api(e)) if e.code == 409 => sink.event(&Event::Info {
            message: format!("following the existing ClusterStagedUpdateRun {name}"),
        }),
        Err(e) => return Err(e),
    }
    tokio::pin!(cancel);
    let mut said = String::new();
    loop {
        let readiness = match api.get_opt(&name).await? {
            Some(run) => run_readiness(&api::json(run)),
            None => Readiness::in_progress("waiting for the run to appear"),
        };
        match readiness {
            Readiness::Ready => {
                sink.event(&Event::Info {
                    message: format!("ClusterStagedUpdateRun {name} succeeded"),
                });
                return Ok(RunEnd::Succeeded);
            }
            Readiness::Failed { reason, message } => {
                return Ok(RunEnd::Failed {
                    run: name,
                    reason,
                    message,
                });
            }
            Readiness::InProgress { message } => {
                if message != said {
                    sink.event(&Event::Info {
                        message: format!("ClusterStagedUpdateRun {name}: {message}"),
                    });
                    said = message.clone();
                }
                if Instant::now() >= deadline {
                    return Ok(RunEnd::TimedOut {
                        run: name,
                        waiting: message,
                    });
                }
            }
        }
        tokio::select! {
            () = &mut cancel => return Ok(RunEnd::Interrupted),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(kind: &str, status: &str) -> Value {
        json!({"type": kind, "status": status, "reason": "R", "message": "M"})
    }

    #[test]
    fn runs_are_named_after_placement_and_snapshot() {
        assert_eq!(run_name("web", "3"), "web-3");
        assert_eq!(run_name(&"x".repeat(300), "12").len(), 253);
    }

    #[test]
    fn a_run_says_its_stage_its_clusters_and_approvals() {
        let run = json!({"status": {"conditions": [c("Initialized", "True"), c("Progressing", "True")],
        "stagesStatus": [
            {"stageName": "canary", "conditions": [c("Succeeded", "True")], "clusters": [{"clusterName": "m1", "conditions": [c("Succeeded", "True")]}]},
            {"stageName": "prod", "conditions": [c("Progressing", "True")], "clusters": [
                {"clusterName": "m2", "conditions": [c("Started", "True")]},
                {"clusterName": "m3", "conditions": [c("Succeeded", "True")]}
            ]}
        ]}});
        assert_eq!(run_readiness(&run).message(), "stage prod: updating m2");
        let approval = json!({"status": {"stagesStatus": [
            {"stageName": "canary", "clusters": [], "afterStageTaskStatus": [
                {"type": "Approval", "approvalRequestName": "web-3-canary", "conditions": [c("ApprovalRequestCreated", "True")]}
            ]}
        ]}});
        assert!(
            run_readiness(&approval)
                .message()
                .contains("ClusterApprovalRequest web-3-canary")
        );
    }

    #[test]
    fn a_run_ends_when_fleet_says_succeeded_or_failed() {
        let done =
            json!({"status": {"conditions": [c("Initialized", "True"), c("Succeeded", "True")]}});
        assert!(run_readiness(&done).is_ready());
        let bad = json!({"status": {"conditions": [c("Initialized", "False")]}});
        assert_eq!(run_readiness(&bad), Readiness::failed("R", "M"));
    }
}
