//! Helm hooks: splitting a chart's plan into the hook phases Helm runs around a release.
//!
//! Objects annotated `helm.sh/hook` are not part of the release: pre-install/pre-upgrade hooks
//! run (and are tracked to completion) before the release's objects, post-install/post-upgrade
//! hooks after them, in groups of equal `helm.sh/hook-weight` (lowest first). Test hooks are left
//! out by `helm template --skip-tests`; delete and rollback hooks are never run by kpush.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Plan;
use super::applyset::PART_OF_LABEL;
use crate::manifest::Manifest;

/// The annotation naming an object's hook events.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";
/// The annotation ordering hooks (an integer; lower runs first).
pub const WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
/// The annotation saying when to delete a hook object.
pub const DELETE_POLICY_ANNOTATION: &str = "helm.sh/hook-delete-policy";

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HookEvent {
    /// `pre-install`.
    PreInstall,
    /// `post-install`.
    PostInstall,
    /// `pre-upgrade`.
    PreUpgrade,
    /// `post-upgrade`.
    PostUpgrade,
    /// `pre-delete`.
    PreDelete,
    /// `post-delete`.
    PostDelete,
    /// `pre-rollback`.
    PreRollback,
    /// `post-rollback`.
    PostRollback,
    /// `test` (and Helm 2's `test-success`, `test-failure`).
    Test,
}

impl HookEvent {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "pre-install" => Self::PreInstall,
            "post-install" => Self::PostInstall,
            "pre-upgrade" => Self::PreUpgrade,
            "post-upgrade" => Self::PostUpgrade,
            "pre-delete" => Self::PreDelete,
            "post-delete" => Self::PostDelete,
            "pre-rollback" => Self::PreRollback,
            "post-rollback" => Self::PostRollback,
            "test" | "test-success" | "test-failure" => Self::Test,
            _ => return None,
        })
    }

    /// Helm's name for the event.
    pub fn name(self) -> &'static str {
        match self {
            Self::PreInstall => "pre-install",
            Self::PostInstall => "post-install",
            Self::PreUpgrade => "pre-upgrade",
            Self::PostUpgrade => "post-upgrade",
            Self::PreDelete => "pre-delete",
            Self::PostDelete => "post-delete",
            Self::PreRollback => "pre-rollback",
            Self::PostRollback => "post-rollback",
            Self::Test => "test",
        }
    }
}

/// When a hook object is deleted (`helm.sh/hook-delete-policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeletePolicy {
    /// Delete the previous object before creating the hook (Helm's default).
    pub before_creation: bool,
    /// Delete it once it succeeded.
    pub succeeded: bool,
    /// Delete it once it failed.
    pub failed: bool,
}

/// An object's hook annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The events it runs at.
    pub events: Vec<HookEvent>,
    /// Its weight (0 when unset or not an integer).
    pub weight: i64,
    /// When to delete it.
    pub delete: DeletePolicy,
}

/// The hook annotations of `m`, if it is a hook.
pub fn hook_of(m: &Manifest) -> Option<Hook> {
    let annotation = |k: &str| {
        m.object
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
    };
    let events: Vec<HookEvent> = annotation(HOOK_ANNOTATION)?
        .split(',')
        .filter_map(HookEvent::parse)
        .collect();
    let weight = annotation(WEIGHT_ANNOTATION)
        .and_then(|w| w.trim().parse().ok())
        .unwrap_or(0);
    let delete = match annotation(DELETE_POLICY_ANNOTATION) {
        None => DeletePolicy {
            before_creation: true,
            ..Default::default()
        },
        Some(p) => {
            let has = |name: &str| p.split(',').any(|x| x.trim() == name);
            DeletePolicy {
                before_creation: has("before-hook-creation"),
                succeeded: has("hook-succeeded"),
                failed: has("hook-failed"),
            }
        }
    };
    Some(Hook {
        events,
        weight,
        delete,
    })
}

/// Whether kpush installs the release (nothing of it exists yet) or upgrades it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// First deploy: `pre-install` / `post-install` hooks.
    Install,
    /// Later deploys: `pre-upgrade` / `post-upgrade` hooks.
    Upgrade,
}

/// A group of hooks of equal weight, planned, with their delete policies by index.
#[derive(Debug)]
pub struct HookGroup {
    /// The weight shared by the group.
    pub weight: i64,
    /// The hooks' plan (no ApplySet: hooks are not members of the release).
    pub plan: Plan,
    /// `plan.objects[i]`'s hook annotations.
    pub hooks: Vec<Hook>,
}

/// A hook this deploy does not run, and why.
#[derive(Debug, Clone)]
pub struct NotRun {
    /// The hook object.
    pub manifest: Manifest,
    /// Its events (none of them install or upgrade).
    pub events: Vec<HookEvent>,
}

/// A plan split into Helm's phases.
#[derive(Debug)]
pub struct Phases {
    /// Hooks before the release's objects, lowest weight first.
    pub pre: Vec<HookGroup>,
    /// The release's own objects (the ApplySet's members).
    pub main: Plan,
    /// Hooks after the release's objects are ready, lowest weight first.
    pub post: Vec<HookGroup>,
    /// Hooks of other events (delete, rollback, test).
    pub not_run: Vec<NotRun>,
}

impl Phases {
    /// Whether the plan had any hooks at all.
    pub fn has_hooks(&self) -> bool {
        !self.pre.is_empty() || !self.post.is_empty() || !self.not_run.is_empty()
    }
}

/// Whether any object of the plan is a Helm hook.
pub fn has_hooks(plan: &Plan) -> bool {
    plan.objects.iter().any(|o| hook_of(&o.manifest).is_some())
}

/// Splits `plan` into the hooks to run before, the release, and the hooks to run after.
pub fn split(mut plan: Plan, release: Release) -> Phases {
    let (pre_event, post_event) = match release {
        Release::Install => (HookEvent::PreInstall, HookEvent::PostInstall),
        Release::Upgrade => (HookEvent::PreUpgrade, HookEvent::PostUpgrade),
    };
    let mut pre: BTreeMap<i64, Vec<(super::PlannedObject, Hook)>> = BTreeMap::new();
    let mut post: BTreeMap<i64, Vec<(super::PlannedObject, Hook)>> = BTreeMap::new();
    let mut not_run = Vec::new();
    let mut main = Vec::new();
    for mut o in std::mem::take(&mut plan.objects) {
        let Some(hook) = hook_of(&o.manifest) else {
            main.push(o);
            continue;
        };
        // Hooks are not members of the release's ApplySet (Helm does not track them either).
        if let Some(Value::Object(labels)) = o.manifest.object.pointer_mut("/metadata/labels") {
            labels.remove(PART_OF_LABEL);
        }
        if hook.events.contains(&pre_event) {
            pre.entry(hook.weight).or_default().push((o, hook));
        } else if hook.events.contains(&post_event) {
            post.entry(hook.weight).or_default().push((o, hook));
        } else {
            not_run.push(NotRun {
                manifest: o.manifest,
                events: hook.events,
            });
        }
    }
    let group = |weight: i64, mut members: Vec<(super::PlannedObject, Hook)>| {
        // As Helm: within a weight, by kind's install order (kpush's waves), then name.
        members.sort_by(|(a, _), (b, _)| {
            (a.wave, a.manifest.name()).cmp(&(b.wave, b.manifest.name()))
        });
        let (objects, hooks): (Vec<_>, Vec<_>) = members.into_iter().unzip();
        let mut options = plan.options.clone();
        options.applyset = None;
        HookGroup {
            weight,
            plan: Plan {
                objects,
                options,
                catalog: plan.catalog.clone(),
                namespaces_in_set: plan.namespaces_in_set.clone(),
                custom_kinds: plan.custom_kinds.clone(),
                crds_applied: false,
            },
            hooks,
        }
    };
    let pre = pre.into_iter().map(|(w, m)| group(w, m)).collect();
    let post = post.into_iter().map(|(w, m)| group(w, m)).collect();
    plan.objects = main;
    Phases {
        pre,
        main: plan,
        post,
        not_run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use serde_json::json;

    fn m(annotations: Value) -> Manifest {
        Manifest::new(
            Origin::new("c/templates/job.yaml", 1),
            json!({"apiVersion": "batch/v1", "kind": "Job",
                   "metadata": {"name": "j", "annotations": annotations}}),
        )
    }

    #[test]
    fn hook_annotations_parse_with_helms_defaults() {
        let h = hook_of(&m(json!({"helm.sh/hook": "pre-install, pre-upgrade"}))).unwrap();
        assert_eq!(h.events, vec![HookEvent::PreInstall, HookEvent::PreUpgrade]);
        assert_eq!(h.weight, 0);
        assert!(h.delete.before_creation && !h.delete.succeeded && !h.delete.failed);

        let h = hook_of(&m(json!({
            "helm.sh/hook": "post-install",
            "helm.sh/hook-weight": "-5",
            "helm.sh/hook-delete-policy": "hook-succeeded,hook-failed"
        })))
        .unwrap();
        assert_eq!(h.weight, -5);
        assert!(!h.delete.before_creation && h.delete.succeeded && h.delete.failed);
        assert!(hook_of(&m(json!({"other": "x"}))).is_none());
    }
}
