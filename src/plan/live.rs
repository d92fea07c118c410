//! What the cluster holds now for the objects in the set: one LIST per collection when several
//! objects share it, a GET otherwise.
//!
//! With thousands of objects, the live objects are most of what kpush holds in memory: each is
//! handed to the caller as soon as it is read (a LIST page at a time), without its `status`,
//! so that the caller can keep only what it needs of it.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use kube::Client;
use serde_json::Value;

use crate::cluster::{self, Failure, RetryPolicy, Target};

/// Above this many objects in one collection, LIST it instead of GETting each.
pub const LIST_THRESHOLD: usize = 3;

/// The live state of one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Live {
    /// It does not exist.
    Absent,
    /// It exists; this is how it looks, without what kpush never applies nor compares:
    /// `status` (the controllers') and other managers' `managedFields[].fieldsV1`.
    Present(Box<Value>),
    /// kpush may not read it (forbidden); the dry-run will tell more.
    Unknown,
}

impl Live {
    /// Keeps only `apiVersion`, `kind` and `metadata` (identity, generation, annotations, and
    /// who manages it: each `managedFields` entry without its `fieldsV1`) of a present object:
    /// all that is needed of it once its [`super::compare::Fingerprint`] is taken, unless it
    /// is to be shown in a diff.
    pub fn metadata_only(self) -> Live {
        match self {
            Live::Present(mut v) => {
                if let Value::Object(m) = v.as_mut() {
                    m.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
                }
                if let Some(Value::Array(entries)) = v.pointer_mut("/metadata/managedFields") {
                    for e in entries.iter_mut().filter_map(Value::as_object_mut) {
                        e.shift_remove("fieldsV1");
                    }
                }
                Live::Present(v)
            }
            other => other,
        }
    }
}

/// Fetches the live state of `wanted` = (target, name) pairs, as field manager `manager` needs
/// it, and returns `each(i, live)` for every pair `i`, in the same order. `each` runs as soon as an object is read, so what it
/// drops is never held for all objects at once.
pub async fn fetch<T, F>(
    client: &Client,
    policy: RetryPolicy,
    concurrency: usize,
    wanted: &[(Target, String)],
    manager: &str,
    each: F,
) -> Result<Vec<T>, Failure>
where
    F: Fn(usize, Live) -> T + Sync,
    T: Send,
{
    let mut by_collection: HashMap<String, (Target, Vec<usize>)> = HashMap::new();
    for (i, (t, _)) in wanted.iter().enumerate() {
        by_collection
            .entry(t.collection_url())
            .or_insert_with(|| (t.clone(), Vec::new()))
            .1
            .push(i);
    }
    enum Job {
        List(Target, Vec<usize>),
        Get(usize),
    }
    let mut jobs = Vec::new();
    for (_, (t, idx)) in by_collection {
        if idx.len() > LIST_THRESHOLD {
            jobs.push(Job::List(t, idx));
        } else {
            jobs.extend(idx.into_iter().map(Job::Get));
        }
    }
    let each = &each;
    let results: Vec<Result<Vec<(usize, T)>, Failure>> = stream::iter(jobs)
        .map(|job| async move {
            match job {
                Job::Get(i) => {
                    let (t, name) = &wanted[i];
                    let live = match cluster::get(client, policy, t, name).await {
                        Ok(Some(v)) => present(v, None, manager),
                        Ok(None) => Live::Absent,
                        Err(Failure::Status(s)) if s.code == 403 => Live::Unknown,
                        Err(f) => return Err(f),
                    };
                    Ok(vec![(i, each(i, live))])
                }
                Job::List(t, idx) => list(client, policy, &t, idx, wanted, manager, each).await,
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut out: Vec<Option<T>> = std::iter::repeat_with(|| None).take(wanted.len()).collect();
    for r in results {
        for (i, t) in r? {
            out[i] = Some(t);
        }
    }
    // Every index belongs to exactly one job, and every job answers for all of its indices.
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(i, t)| t.unwrap_or_else(|| each(i, Live::Unknown)))
        .collect())
}

/// Reads the objects at `idx` (all in `target`'s collection) with one LIST, a page at a time.
async fn list<T, F>(
    client: &Client,
    policy: RetryPolicy,
    target: &Target,
    idx: Vec<usize>,
    wanted: &[(Target, String)],
    manager: &str,
    each: &F,
) -> Result<Vec<(usize, T)>, Failure>
where
    F: Fn(usize, Live) -> T,
{
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for &i in &idx {
        by_name.entry(wanted[i].1.as_str()).or_default().push(i);
    }
    let mut found = Vec::with_capacity(idx.len());
    let mut token: Option<String> = None;
    loop {
        let (items, next) =
            match cluster::list_page(client, policy, target, None, token.as_deref()).await {
                Ok(page) => page,
                Err(Failure::Status(s)) if s.code == 403 => {
                    return Ok(idx
                        .into_iter()
                        .map(|i| (i, each(i, Live::Unknown)))
                        .collect());
                }
                Err(f) => return Err(f),
            };
        for o in items {
            let name = o.pointer("/metadata/name").and_then(Value::as_str);
            let Some(mut mine) = name.and_then(|n| by_name.remove(n)) else {
                continue;
            };
            // The same name twice in one collection: the first is the one that exists.
            let i = mine.remove(0);
            found.extend(mine.into_iter().map(|i| (i, each(i, Live::Absent))));
            found.push((i, each(i, present(o, Some(target), manager))));
        }
        token = next;
        if token.is_none() {
            break;
        }
    }
    for i in by_name.into_values().flatten() {
        found.push((i, each(i, Live::Absent)));
    }
    Ok(found)
}

/// A read object as [`Live::Present`]: without `status`, with only `manager`'s Apply entry of
/// `managedFields` keeping its `fieldsV1` (the others keep who and how: enough to know which
/// tools kpush takes over from, which re-reads the object when it does), and, for a LIST item
/// (which comes without them), with `target`'s apiVersion and kind put back.
fn present(mut v: Value, listed_in: Option<&Target>, manager: &str) -> Live {
    if let Some(Value::Array(entries)) = v.pointer_mut("/metadata/managedFields") {
        for e in entries.iter_mut().filter_map(Value::as_object_mut) {
            let ours = e.get("manager").and_then(Value::as_str) == Some(manager)
                && e.get("operation").and_then(Value::as_str) == Some("Apply");
            if !ours {
                e.shift_remove("fieldsV1");
            }
        }
    }
    if let Value::Object(m) = &mut v {
        m.shift_remove("status");
        if let Some(t) = listed_in {
            m.insert(
                "apiVersion".into(),
                Value::String(t.resource.api_version.clone()),
            );
            m.insert("kind".into(), Value::String(t.resource.kind.clone()));
        }
    }
    Live::Present(Box::new(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unchanged_object_keeps_its_identity_and_managers_not_its_fields() {
        let live = Live::Present(Box::new(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "uid": "u1", "generation": 3,
                "annotations": {"a": "b"},
                "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
            "spec": {"replicas": 2},
        })));
        assert_eq!(
            live.metadata_only(),
            Live::Present(Box::new(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "uid": "u1", "generation": 3,
                    "annotations": {"a": "b"},
                    "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update"}]},
            })))
        );
        assert_eq!(Live::Absent.metadata_only(), Live::Absent);
    }

    #[test]
    fn a_listed_object_gets_its_kind_back_and_loses_its_status() {
        let target = Target {
            resource: kube::core::ApiResource {
                group: "apps".into(),
                version: "v1".into(),
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                plural: "deployments".into(),
            },
            namespace: Some("shop".into()),
            has_status: true,
        };
        let read = json!({
            "metadata": {"name": "web", "managedFields": [
                {"manager": "kpush", "operation": "Apply", "fieldsV1": {"f:spec": {}}},
                {"manager": "kpush", "operation": "Update", "fieldsV1": {"f:metadata": {}}},
                {"manager": "kube-controller-manager", "operation": "Update",
                    "subresource": "status", "fieldsV1": {"f:status": {}}},
            ]},
            "spec": {},
            "status": {"replicas": 1},
        });
        assert_eq!(
            present(read, Some(&target), "kpush"),
            Live::Present(Box::new(json!({
                "metadata": {"name": "web", "managedFields": [
                    {"manager": "kpush", "operation": "Apply", "fieldsV1": {"f:spec": {}}},
                    {"manager": "kpush", "operation": "Update"},
                    {"manager": "kube-controller-manager", "operation": "Update",
                        "subresource": "status"},
                ]},
                "spec": {},
                "apiVersion": "apps/v1", "kind": "Deployment",
            })))
        );
    }
}
