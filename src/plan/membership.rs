//! Objects that already belong to another ApplySet (another release): deploying them under
//! this one would move them silently (same field manager, so no conflict), and the release that
//! took them would later prune them. They are refused when planning, before anything changes,
//! unless `--take-over-from-releases` says so.

use kube::Client;
use serde_json::Value;

use super::applyset::{ApplySet, ID_LABEL, PART_OF_LABEL};
use super::{Live, Plan, PlannedObject, Rejection, RejectionKind};
use crate::cluster::{self, RetryPolicy, Target};
use crate::event::{ObjectRef, Sink};

/// The ApplySet id `live` is a member of, when it is not `set`'s.
pub fn other_set<'a>(live: &'a Live, set: &ApplySet) -> Option<&'a str> {
    let Live::Present(v) = live else {
        return None;
    };
    let id = v
        .pointer("/metadata/labels")
        .and_then(|l| l.get(PART_OF_LABEL))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())?;
    (id != set.id()).then_some(id)
}

/// The parent Secret (namespace, name) of ApplySet `id`, looked for in `namespaces`; `None`
/// when it is not there or cannot be listed.
pub async fn find_parent(
    client: &Client,
    retry: RetryPolicy,
    id: &str,
    namespaces: &[String],
) -> Option<(String, String)> {
    let selector = format!("{ID_LABEL}={id}");
    for ns in namespaces {
        let target = Target {
            resource: kube::core::ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: "Secret".into(),
                plural: "secrets".into(),
            },
            namespace: Some(ns.clone()),
            has_status: false,
        };
        let Ok(found) = cluster::list(client, retry, &target, Some(&selector)).await else {
            continue;
        };
        if let Some(name) = found
            .iter()
            .find_map(|s| s.pointer("/metadata/name").and_then(Value::as_str))
        {
            return Some((ns.clone(), name.to_string()));
        }
    }
    None
}

/// The refusal of `o`, a member of ApplySet `id` (whose parent is `parent`, when found), for
/// `set`.
pub fn rejection(
    o: &PlannedObject,
    set: &ApplySet,
    id: &str,
    parent: Option<&(String, String)>,
) -> Rejection {
    let owner = match parent {
        Some((ns, name)) => format!(
            "release {name} (its label {PART_OF_LABEL} names the ApplySet whose parent is \
             Secret {ns}/{name})"
        ),
        None => format!(
            "another release (its label {PART_OF_LABEL} names ApplySet {id}, whose parent \
             Secret kpush did not find)"
        ),
    };
    Rejection {
        object: ObjectRef::new(o.manifest.key(), Some(o.manifest.origin.clone())),
        kind: RejectionKind::Other,
        reason: format!(
            "it belongs to {owner}; deploying it as release {0} would silently move it to {0}, \
             which would delete it once it leaves {0}'s manifests",
            set.name
        ),
        advice: format!(
            "remove it from one of the two releases' manifests, or, to move it to release {}, \
             pass --take-over-from-releases (KPUSH_TAKE_OVER_FROM_RELEASES=true) for this run",
            set.name
        ),
    }
}

impl Plan {
    /// Refuses objects at `indices` whose live state belongs to another ApplySet, unless
    /// [`super::PlanOptions::take_over_from_releases`].
    pub(super) async fn refuse_other_releases(
        &self,
        client: &Client,
        indices: &[usize],
        sink: &dyn Sink,
    ) -> Result<(), super::PlanError> {
        let Some(set) = self.options.applyset.as_ref() else {
            return Ok(());
        };
        let mut rejections = Vec::new();
        let mut parents: std::collections::HashMap<String, Option<(String, String)>> =
            Default::default();
        for &i in indices {
            let o = &self.objects[i];
            let Some(id) = other_set(&o.live, set) else {
                continue;
            };
            if self.options.take_over_from_releases {
                sink.event(&crate::event::Event::Warning {
                    message: format!(
                        "{} belongs to another ApplySet ({id}); --take-over-from-releases lets release {} take it",
                        o.manifest.key(),
                        set.name
                    ),
                    object: Some(crate::event::ObjectRef::new(
                        o.manifest.key(),
                        Some(o.manifest.origin.clone()),
                    )),
                });
                continue;
            }
            if !parents.contains_key(id) {
                let mut nss: Vec<String> = o
                    .manifest
                    .namespace()
                    .map(str::to_string)
                    .into_iter()
                    .collect();
                if !nss.contains(&set.namespace) {
                    nss.push(set.namespace.clone());
                }
                let found = find_parent(client, self.options.retry, id, &nss).await;
                parents.insert(id.to_string(), found);
            }
            let parent = parents.get(id).and_then(Option::as_ref);
            rejections.push(rejection(o, set, id, parent));
        }
        if rejections.is_empty() {
            return Ok(());
        }
        rejections.sort_by(|a, b| a.object.origin.cmp(&b.object.origin));
        for r in &rejections {
            super::report_rejection(sink, r);
        }
        Err(super::PlanError::OtherRelease(rejections))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_label_naming_another_set_counts() {
        let set = ApplySet::new("beta", "shop");
        let other = ApplySet::new("alpha", "shop").id();
        let live = |labels: Value| Live::Present(Box::new(json!({"metadata": {"labels": labels}})));
        assert_eq!(
            other_set(&live(json!({PART_OF_LABEL: other})), &set),
            Some(other.as_str())
        );
        assert_eq!(
            other_set(&live(json!({PART_OF_LABEL: set.id()})), &set),
            None
        );
        assert_eq!(other_set(&live(json!({"app": "web"})), &set), None);
        assert_eq!(other_set(&Live::Absent, &set), None);
    }
}
