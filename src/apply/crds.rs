//! Waiting for CustomResourceDefinitions applied in this run to be Established, so their
//! custom resources can be resolved and applied in later waves. (Whether an API server already
//! validates with a changed CRD's new schema is not in its status: `plan` dry-runs the custom
//! resources again while only a field the new schema declares is refused.)

use std::time::{Duration, Instant};

use kube::Client;
use serde_json::Value;

use super::ApplyError;
use super::outcome::ApplyOutcome;
use crate::cluster::{self, Failure};
use crate::event::{Event, Sink};
use crate::plan::Plan;

/// Waits until every CRD applied in `outcome` reports condition Established=True.
pub async fn wait_established(
    client: &Client,
    plan: &Plan,
    outcome: &ApplyOutcome,
    timeout: Duration,
    sink: &dyn Sink,
) -> Result<(), ApplyError> {
    let crds: Vec<_> = outcome
        .objects
        .iter()
        .filter(|o| {
            o.object.key.group == "apiextensions.k8s.io"
                && o.object.key.kind == "CustomResourceDefinition"
                && o.is_applied()
        })
        .filter_map(|o| Some((o.target.clone()?, o.object.key.name.clone())))
        .collect();
    if crds.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    for (target, name) in crds {
        loop {
            let crd = cluster::get(client, plan.options.retry, &target, &name)
                .await
                .map_err(fatal)?;
            let (established, message) = crd
                .as_ref()
                .map(established)
                .unwrap_or((false, "not found".into()));
            if established {
                break;
            }
            if started.elapsed() > timeout {
                return Err(ApplyError::CrdNotEstablished {
                    name,
                    timeout,
                    message,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    sink.event(&Event::Info {
        message: format!(
            "CRDs established in {}",
            crate::event::format_duration(started.elapsed())
        ),
    });
    Ok(())
}

fn established(crd: &Value) -> (bool, String) {
    let conditions = crd
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // With CRDObservedGenerationTracking (beta, off by default in 1.35) the CRD controllers
    // record the generation they saw: an Established of an older spec is not yet this one's.
    let generation = crd.pointer("/metadata/generation").and_then(Value::as_i64);
    let current = |observed: Option<i64>| match (observed, generation) {
        (Some(o), Some(g)) => o >= g,
        _ => true,
    };
    let ok = current(
        crd.pointer("/status/observedGeneration")
            .and_then(Value::as_i64),
    ) && conditions.iter().any(|c| {
        c["type"] == "Established"
            && c["status"] == "True"
            && current(c["observedGeneration"].as_i64())
    });
    let message = conditions
        .iter()
        .map(|c| {
            format!(
                "{}={} {}",
                c["type"].as_str().unwrap_or(""),
                c["status"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    (ok, message)
}

fn fatal(f: Failure) -> ApplyError {
    match f {
        Failure::Unreachable(m) | Failure::InFlight(m) => ApplyError::Unreachable(m),
        f @ Failure::Transient { .. } => ApplyError::Unreachable(f.message()),
        Failure::Unauthorized(m) => ApplyError::Unauthorized(m),
        other => ApplyError::Request(other.message()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn established_counts_only_for_the_current_generation_when_tracked() {
        let crd = |observed: Value| {
            json!({"metadata": {"generation": 3}, "status": {"conditions": [
                {"type": "Established", "status": "True", "observedGeneration": observed}]}})
        };
        assert!(established(&crd(json!(3))).0);
        assert!(!established(&crd(json!(2))).0);
        assert!(
            established(&crd(Value::Null)).0,
            "untracked: Established is enough"
        );
    }
}
