//! What the cluster holds now for the objects in the set: one LIST per collection when several
//! objects share it, a GET otherwise.

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
    /// It exists; this is how it looks.
    Present(Box<Value>),
    /// kpush may not read it (forbidden); the dry-run will tell more.
    Unknown,
}

/// Fetches the live state of `wanted` = (target, name) pairs, in the same order.
pub async fn fetch(
    client: &Client,
    policy: RetryPolicy,
    concurrency: usize,
    wanted: &[(Target, String)],
) -> Result<Vec<Live>, Failure> {
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
    let results: Vec<Result<Vec<(usize, Live)>, Failure>> = stream::iter(jobs)
        .map(|job| async move {
            match job {
                Job::Get(i) => {
                    let (t, name) = &wanted[i];
                    let live = match cluster::get(client, policy, t, name).await {
                        Ok(Some(v)) => Live::Present(Box::new(v)),
                        Ok(None) => Live::Absent,
                        Err(Failure::Status(s)) if s.code == 403 => Live::Unknown,
                        Err(f) => return Err(f),
                    };
                    Ok(vec![(i, live)])
                }
                Job::List(t, idx) => match cluster::list(client, policy, &t, None).await {
                    Ok(items) => {
                        // List items come without apiVersion and kind; put them back.
                        let items = items.into_iter().map(|mut o| {
                            if let Value::Object(m) = &mut o {
                                m.insert(
                                    "apiVersion".into(),
                                    Value::String(t.resource.api_version.clone()),
                                );
                                m.insert("kind".into(), Value::String(t.resource.kind.clone()));
                            }
                            o
                        });
                        let mut by_name: HashMap<String, Value> = items
                            .into_iter()
                            .filter_map(|o| {
                                Some((o.pointer("/metadata/name")?.as_str()?.to_string(), o))
                            })
                            .collect();
                        Ok(idx
                            .into_iter()
                            .map(|i| {
                                let live = match by_name.remove(&wanted[i].1) {
                                    Some(v) => Live::Present(Box::new(v)),
                                    None => Live::Absent,
                                };
                                (i, live)
                            })
                            .collect())
                    }
                    Err(Failure::Status(s)) if s.code == 403 => {
                        Ok(idx.into_iter().map(|i| (i, Live::Unknown)).collect())
                    }
                    Err(f) => Err(f),
                },
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut out = vec![Live::Unknown; wanted.len()];
    for r in results {
        for (i, live) in r? {
            out[i] = live;
        }
    }
    Ok(out)
}
