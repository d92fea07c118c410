//! Pruning with ApplySets (KEP-3659): keep the parent Secret's record of member kinds and
//! namespaces up to date, and delete members that are no longer in the manifests.
//!
//! Order, as kubectl does it: before applying, the parent records the *union* of the previous
//! and the new kinds and namespaces (so an interrupted run never loses track of members); after
//! a successful prune it records exactly the current set.

use std::collections::{BTreeSet, HashSet};

use futures::future::join_all;
use kube::Client;
use kube::core::ApiResource;
use kube::discovery::Scope;
use serde_json::Value;

use super::outcome::PrunedObject;
use crate::cluster::{self, Failure, RetryPolicy, Target};
use crate::manifest::ObjectKey;
use crate::plan::applyset::{
    self, ApplySet, GROUP_KINDS_ANNOTATION, ID_LABEL, NAMESPACES_ANNOTATION, TOOLING_ANNOTATION,
};

/// Why the ApplySet cannot be used or pruned.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The parent exists but is not this set's parent, or belongs to another tool.
    #[error("{0}")]
    NotOurs(String),
    /// A request failed.
    #[error("{0}")]
    Request(Failure),
}

impl From<Failure> for PruneError {
    fn from(f: Failure) -> Self {
        PruneError::Request(f)
    }
}

fn parent_target(set: &ApplySet) -> Target {
    Target {
        resource: kube::core::ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "Secret".into(),
            plural: "secrets".into(),
        },
        namespace: Some(set.namespace.clone()),
        has_status: false,
    }
}

/// Reads the parent Secret; checks that it belongs to this set and to kpush.
pub async fn read_parent(
    client: &Client,
    retry: RetryPolicy,
    set: &ApplySet,
) -> Result<Option<Value>, PruneError> {
    let Some(parent) = cluster::get(client, retry, &parent_target(set), &set.name).await? else {
        return Ok(None);
    };
    let id = parent
        .pointer("/metadata/labels")
        .and_then(|l| l.get(ID_LABEL))
        .and_then(Value::as_str);
    if id != Some(set.id().as_str()) {
        return Err(PruneError::NotOurs(format!(
            "Secret {}/{} exists but is not the parent of ApplySet {} (label {ID_LABEL} is {}); \
             choose another --applyset name",
            set.namespace,
            set.name,
            set.name,
            id.map(|s| format!("\"{s}\""))
                .unwrap_or_else(|| "missing".into())
        )));
    }
    let tooling = parent
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(TOOLING_ANNOTATION))
        .and_then(Value::as_str);
    match tooling {
        Some(t) if t.starts_with("kpush/") => {}
        Some(t) => {
            return Err(PruneError::NotOurs(format!(
                "ApplySet {} is managed by {t}, not kpush; manage it with that tool or choose another --applyset name",
                set.name
            )));
        }
        // kubectl refuses a parent without the tooling annotation too: nothing says which
        // tool's rules its member list follows.
        None => {
            return Err(PruneError::NotOurs(format!(
                "Secret {}/{} is labelled as the parent of ApplySet {} but has no {TOOLING_ANNOTATION} annotation, so no tool claims it; if kpush made it, add `{TOOLING_ANNOTATION}: {}` to it, otherwise choose another --applyset name",
                set.namespace,
                set.name,
                set.name,
                applyset::tooling()
            )));
        }
    }
    Ok(Some(parent))
}

/// Kinds and namespaces the parent records.
pub fn recorded(parent: Option<&Value>) -> (BTreeSet<String>, BTreeSet<String>) {
    match parent {
        Some(p) => (
            applyset::read_list(p, GROUP_KINDS_ANNOTATION),
            applyset::read_list(p, NAMESPACES_ANNOTATION),
        ),
        None => (BTreeSet::new(), BTreeSet::new()),
    }
}

/// Server-side applies the parent recording `kinds` and `namespaces`; returns it as applied.
pub async fn write_parent(
    client: &Client,
    retry: RetryPolicy,
    manager: &str,
    set: &ApplySet,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
) -> Result<Value, Failure> {
    let parent = set.parent(kinds, namespaces);
    cluster::server_apply(
        client,
        retry,
        &parent_target(set),
        &set.name,
        &parent,
        manager,
        true,
    )
    .await
}

/// Members of the set found in the cluster (by label, over the recorded kinds and namespaces)
/// that are not in `keep`. Namespaces and CRDs are marked `kept` unless `prune_definitions`.
pub async fn candidates(
    client: &Client,
    retry: RetryPolicy,
    set: &ApplySet,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
    keep: &HashSet<ObjectKey>,
    prune_definitions: bool,
) -> Result<Vec<PrunedObject>, Failure> {
    members(
        client,
        retry,
        set,
        kinds,
        namespaces,
        keep,
        prune_definitions,
    )
    .await
    .map(|m| m.candidates)
}

/// The set's live members: how many, and those a prune would consider.
#[derive(Debug, Clone, Default)]
pub struct Members {
    /// Live members found (in `keep` or not).
    pub count: usize,
    /// The members not in `keep`, sorted.
    pub candidates: Vec<PrunedObject>,
}

/// What [`preview`] read before anything changed: the parent's record and the live members.
/// An apply of the same plan under the release's lock takes it ([`super::apply_previewed`])
/// instead of reading both again: the prune then deletes these candidates (each delete carries
/// the uid listed, so one replaced meanwhile is left alone) without listing a second time.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// Kinds and namespaces the parent recorded (empty without a parent).
    pub recorded: (BTreeSet<String>, BTreeSet<String>),
    /// The live members over those and the plan's kinds and namespaces.
    pub members: Members,
    /// The parent as read (`None`: there is none yet).
    pub parent: Option<Value>,
}

/// What a prune after applying `plan` would find: the live members of its ApplySet over the
/// kinds and namespaces the parent records and the plan adds, read before anything changes.
/// `None` without an ApplySet.
pub async fn preview(
    client: &Client,
    plan: &crate::plan::Plan,
    prune_definitions: bool,
) -> Result<Option<Preview>, PruneError> {
    let Some(set) = &plan.options.applyset else {
        return Ok(None);
    };
    let retry = plan.options.retry;
    let parent = read_parent(client, retry, set).await?;
    let recorded = recorded(parent.as_ref());
    let (mut kinds, mut namespaces) = recorded.clone();
    let (new_kinds, new_namespaces) = plan.group_kinds_and_namespaces();
    kinds.extend(new_kinds);
    namespaces.extend(new_namespaces);
    let keep: HashSet<ObjectKey> = plan.objects.iter().map(|o| o.manifest.key()).collect();
    let found = members_known(
        client,
        retry,
        set,
        &kinds,
        &namespaces,
        &keep,
        prune_definitions,
        plan.server_apis(),
    )
    .await?;
    Ok(Some(Preview {
        recorded,
        members: found,
        parent,
    }))
}

/// The collections where members of `resource` can live: one per namespace, or the cluster.
fn push_targets(
    targets: &mut Vec<Target>,
    namespaces: &BTreeSet<String>,
    resource: ApiResource,
    namespaced: bool,
) {
    if namespaced {
        targets.extend(namespaces.iter().map(|ns| Target {
            resource: resource.clone(),
            namespace: Some(ns.clone()),
            has_status: false,
        }));
    } else {
        targets.push(Target {
            resource,
            namespace: None,
            has_status: false,
        });
    }
}

/// [`candidates`], with the count of every live member.
pub async fn members(
    client: &Client,
    retry: RetryPolicy,
    set: &ApplySet,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
    keep: &HashSet<ObjectKey>,
    prune_definitions: bool,
) -> Result<Members, Failure> {
    members_known(
        client,
        retry,
        set,
        kinds,
        namespaces,
        keep,
        prune_definitions,
        None,
    )
    .await
}

/// [`members`], resolving kinds with `known` (the server's discovery, read when planning) when
/// given instead of asking again.
#[allow(clippy::too_many_arguments)]
pub async fn members_known(
    client: &Client,
    retry: RetryPolicy,
    set: &ApplySet,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
    keep: &HashSet<ObjectKey>,
    prune_definitions: bool,
    known: Option<&crate::cluster::discovery::ServerApis>,
) -> Result<Members, Failure> {
    let selector = format!("{}={}", applyset::PART_OF_LABEL, set.id());
    let mut nss: BTreeSet<String> = namespaces.clone();
    nss.insert(set.namespace.clone());
    // One round trip answers every kind (aggregated discovery); a kind it does not answer
    // for (its group gone or stale, or a server without aggregated discovery) is asked about
    // the old way, group by group, so that a group that cannot be read fails the prune.
    let fetched;
    let server = if let Some(known) = known {
        known
    } else if kinds.is_empty() {
        fetched = crate::cluster::discovery::ServerApis::default();
        &fetched
    } else {
        fetched = crate::cluster::discovery::fetch(client, retry, Some(&BTreeSet::new()))
            .await
            .map_err(|f| {
                Failure::Other(format!(
                    "cannot read the API server's discovery to look for members to prune: {}; \
                     nothing was pruned",
                    f.message()
                ))
            })?;
        &fetched
    };
    let mut targets = Vec::new();
    let mut ask = Vec::new();
    for gk in kinds {
        let (group, kind) = applyset::parse_group_kind(gk);
        let known = server.group(&group).and_then(|g| {
            g.recommended_kind(&kind)
                .filter(|r| !server.is_stale(&r.resource.api_version))
        });
        match known {
            Some(r) => push_targets(&mut targets, &nss, r.resource.clone(), r.namespaced),
            None => ask.push((group, kind)),
        }
    }
    let resolved = join_all(ask.into_iter().map(|(group, kind)| async move {
        let found =
            crate::cluster::retry::with_retry(retry, || kube::discovery::group(client, &group))
                .await;
        (group, kind, found)
    }))
    .await;
    for (group, kind, found) in resolved {
        let g = match found {
            Ok(g) => g,
            // The group no longer exists: no member of this kind can exist either.
            Err(f) if f.is_missing_group() => continue,
            // Anything else (an aggregated API down, a timeout, 403) says nothing about the
            // members: fail, so the kind stays recorded in the parent and is pruned next time.
            Err(f) => {
                return Err(Failure::Other(format!(
                    "cannot discover {kind}{} to look for members to prune: {}; nothing was pruned and the ApplySet still records {kind}",
                    if group.is_empty() {
                        String::new()
                    } else {
                        format!(".{group}")
                    },
                    f.message()
                )));
            }
        };
        let Some((ar, caps)) = g.recommended_kind(&kind) else {
            continue;
        };
        push_targets(
            &mut targets,
            &nss,
            ar,
            matches!(caps.scope, Scope::Namespaced),
        );
    }
    let lists = join_all(targets.into_iter().map(|t| {
        let selector = selector.clone();
        async move {
            let items = cluster::list(client, retry, &t, Some(&selector)).await;
            (t, items)
        }
    }))
    .await;
    let mut out = Vec::new();
    let mut count = 0;
    for (t, items) in lists {
        let items = match items {
            Ok(i) => i,
            Err(f) if f.is_not_found() => continue,
            Err(f) => return Err(f),
        };
        for item in items {
            let Some(name) = item.pointer("/metadata/name").and_then(Value::as_str) else {
                continue;
            };
            let key = ObjectKey {
                group: t.resource.group.clone(),
                kind: t.resource.kind.clone(),
                namespace: t.namespace.clone(),
                name: name.to_string(),
            };
            count += 1;
            if keep.contains(&key) {
                continue;
            }
            let definition = (key.group.is_empty() && key.kind == "Namespace")
                || (key.group == "apiextensions.k8s.io" && key.kind == "CustomResourceDefinition");
            out.push(PrunedObject {
                key,
                target: t.clone(),
                kept: definition && !prune_definitions,
                uid: item
                    .pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Members {
        count,
        candidates: out,
    })
}

/// Deletes the candidates not marked `kept`.
pub async fn delete_all(
    client: &Client,
    retry: RetryPolicy,
    concurrency: usize,
    pruned: &[PrunedObject],
) -> Result<(), Failure> {
    use futures::stream::{self, StreamExt};
    let results: Vec<Result<bool, Failure>> = stream::iter(pruned.iter().filter(|p| !p.kept))
        .map(|p| cluster::delete(client, retry, &p.target, &p.key.name, p.uid.as_deref()))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(())
}
