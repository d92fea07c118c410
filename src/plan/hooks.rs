//! Helm hooks: splitting a chart's plan into the hook phases Helm runs around a release.
//!
//! Objects of a chart annotated `helm.sh/hook` are not part of the release: pre-install/pre-upgrade
//! hooks run (and are tracked to completion) before the release's objects, post-install/post-upgrade
//! hooks after them, in groups of equal `helm.sh/hook-weight` (lowest first); a hook listed for
//! several events runs in each, as Helm's `pkg/action/hooks.go` does. Test hooks are left out by
//! `helm template --skip-tests`; delete and rollback hooks are never run by kpush.
//!
//! The annotation is honoured only on objects rendered from a chart, and a hook is deleted (by
//! its `helm.sh/hook-delete-policy`) only when [`may_delete`] says the release owns it.

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

/// The annotation kpush writes on every hook object it applies: the release whose hook run
/// created it (`namespace/name` of its ApplySet, or `-` without one). Only an object carrying
/// this release's value (or one an earlier kpush left, see [`may_delete`]) is ever deleted as a
/// hook; a manifest may not set it.
pub const HOOK_RUN_ANNOTATION: &str = "kpush.dev/hook-of";

/// Kinds kpush refuses as hooks: deleting and creating one again (`before-hook-creation`, Helm's
/// default) deletes everything in it (a Namespace), every custom resource of it (a CRD) or its
/// data (a PersistentVolumeClaim).
const REFUSED_KINDS: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("", "PersistentVolumeClaim"),
];

/// The hook annotations of `m`, if it is a hook: annotated `helm.sh/hook` and rendered from a
/// chart. Elsewhere (plain manifests, kustomizations) the annotation means nothing.
pub fn hook_of(m: &Manifest) -> Option<Hook> {
    if !m.origin.chart {
        return None;
    }
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

/// Whether `m` is annotated `helm.sh/hook` outside a chart (the annotation is not honoured).
pub fn is_ignored_hook(m: &Manifest) -> bool {
    !m.origin.chart && m.annotation(HOOK_ANNOTATION).is_some()
}

impl DeletePolicy {
    /// Whether the policy deletes the hook object at any point.
    pub fn deletes(&self) -> bool {
        self.before_creation || self.succeeded || self.failed
    }
}

/// Whether kpush installs the release (nothing of it exists yet) or upgrades it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// First deploy: `pre-install` / `post-install` hooks.
    Install,
    /// Later deploys: `pre-upgrade` / `post-upgrade` hooks.
    Upgrade,
}

impl Release {
    /// The events of this deploy: before and after the release's objects.
    pub fn events(self) -> (HookEvent, HookEvent) {
        match self {
            Release::Install => (HookEvent::PreInstall, HookEvent::PostInstall),
            Release::Upgrade => (HookEvent::PreUpgrade, HookEvent::PostUpgrade),
        }
    }
}

/// A group of hooks of equal weight, planned, with their delete policies by index.
#[derive(Debug, Clone)]
pub struct HookGroup {
    /// The weight shared by the group.
    pub weight: i64,
    /// The hooks' plan (no ApplySet: hooks are not members of the release).
    pub plan: Plan,
    /// `plan.objects[i]`'s hook annotations.
    pub hooks: Vec<Hook>,
}

/// The hooks of one event, in the order Helm runs them.
#[derive(Debug, Clone)]
pub struct Phase {
    /// The event (`pre-install`, ...).
    pub event: HookEvent,
    /// Groups of equal weight, lowest first.
    pub groups: Vec<HookGroup>,
}

impl Phase {
    /// Whether the phase has no hook.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
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
    /// Hooks before the release's objects.
    pub pre: Phase,
    /// The release's own objects (the ApplySet's members).
    pub main: Plan,
    /// Hooks after the release's objects are ready. A hook listed for both events (Helm's
    /// `pre-install,post-install`) is in both phases, and runs in each, as with Helm.
    pub post: Phase,
    /// Hooks of other events (delete, rollback, test).
    pub not_run: Vec<NotRun>,
}

impl Phases {
    /// Whether the plan had any hooks at all.
    pub fn has_hooks(&self) -> bool {
        !self.pre.is_empty() || !self.post.is_empty() || !self.not_run.is_empty()
    }

    /// Each hook object this deploy runs, once (the first phase's copy), with its policy.
    pub fn run_hooks(&self) -> Vec<(&super::PlannedObject, &Hook)> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for g in self.pre.groups.iter().chain(&self.post.groups) {
            for (o, h) in g.plan.objects.iter().zip(&g.hooks) {
                if seen.insert(o.manifest.key()) {
                    out.push((o, h));
                }
            }
        }
        out
    }
}

/// Whether `o` is a hook whose live object `before-hook-creation` deletes before it is created
/// again: a dry-run against that object (a Job whose template changed: immutable) says nothing
/// about the apply.
pub fn deleted_before_creation(o: &super::PlannedObject) -> bool {
    matches!(o.live, super::Live::Present(_))
        && hook_of(&o.manifest).is_some_and(|h| h.delete.before_creation)
}

/// Whether any object of the plan is a Helm hook.
pub fn has_hooks(plan: &Plan) -> bool {
    plan.objects.iter().any(|o| hook_of(&o.manifest).is_some())
}

/// The value of [`HOOK_RUN_ANNOTATION`] for a deploy with these options.
pub fn hook_owner(options: &super::PlanOptions) -> String {
    match &options.applyset {
        Some(set) => format!("{}/{}", set.namespace, set.name),
        None => "-".to_string(),
    }
}

/// Splits `plan` into the hooks to run before, the release, and the hooks to run after; fails,
/// naming each object, when a hook is of a kind kpush refuses (a Namespace, a CRD, a
/// PersistentVolumeClaim) or a manifest sets [`HOOK_RUN_ANNOTATION`] itself.
pub fn split(mut plan: Plan, release: Release) -> Result<Phases, Vec<String>> {
    let (pre_event, post_event) = release.events();
    let owner = hook_owner(&plan.options);
    let mut pre: BTreeMap<i64, Vec<(super::PlannedObject, Hook)>> = BTreeMap::new();
    let mut post: BTreeMap<i64, Vec<(super::PlannedObject, Hook)>> = BTreeMap::new();
    let mut not_run = Vec::new();
    let mut main = Vec::new();
    let mut refused = Vec::new();
    for mut o in std::mem::take(&mut plan.objects) {
        let Some(hook) = hook_of(&o.manifest) else {
            refused.extend(forged_marker(&o.manifest));
            main.push(o);
            continue;
        };
        let runs = [
            HookEvent::PreInstall,
            HookEvent::PostInstall,
            HookEvent::PreUpgrade,
            HookEvent::PostUpgrade,
        ]
        .iter()
        .any(|e| hook.events.contains(e));
        if runs
            && REFUSED_KINDS
                .iter()
                .any(|(g, k)| o.manifest.group() == *g && o.manifest.kind() == *k)
        {
            refused.push(format!(
                "{}: {} is a Helm hook (helm.sh/hook: {}); kpush refuses {} hooks, as deleting \
                 and creating one again by helm.sh/hook-delete-policy would delete {}: make it \
                 an ordinary template of the chart (remove its helm.sh/hook annotations)",
                o.manifest.origin,
                o.manifest.key(),
                o.manifest.annotation(HOOK_ANNOTATION).unwrap_or_default(),
                o.manifest.kind(),
                match o.manifest.kind() {
                    "Namespace" => "everything in it",
                    "PersistentVolumeClaim" => "its volume's data",
                    _ => "every custom resource of it",
                }
            ));
            continue;
        }
        // Hooks are not members of the release's ApplySet (Helm does not track them either);
        // they carry the release whose hook run created them instead.
        if let Some(Value::Object(labels)) = o.manifest.object.pointer_mut("/metadata/labels") {
            labels.remove(PART_OF_LABEL);
        }
        o.manifest
            .metadata_map_mut("annotations")
            .insert(HOOK_RUN_ANNOTATION.into(), Value::String(owner.clone()));
        let (in_pre, in_post) = (
            hook.events.contains(&pre_event),
            hook.events.contains(&post_event),
        );
        if in_pre && in_post {
            pre.entry(hook.weight)
                .or_default()
                .push((o.clone(), hook.clone()));
            post.entry(hook.weight).or_default().push((o, hook));
        } else if in_pre {
            pre.entry(hook.weight).or_default().push((o, hook));
        } else if in_post {
            post.entry(hook.weight).or_default().push((o, hook));
        } else {
            not_run.push(NotRun {
                manifest: o.manifest,
                events: hook.events,
            });
        }
    }
    if !refused.is_empty() {
        return Err(refused);
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
    let pre = Phase {
        event: pre_event,
        groups: pre.into_iter().map(|(w, m)| group(w, m)).collect(),
    };
    let post = Phase {
        event: post_event,
        groups: post.into_iter().map(|(w, m)| group(w, m)).collect(),
    };
    plan.objects = main;
    Ok(Phases {
        pre,
        main: plan,
        post,
        not_run,
    })
}

/// The error for a manifest that is not a hook but sets [`HOOK_RUN_ANNOTATION`], which would let
/// a later hook of the same name delete the object; `None` for every other manifest.
pub fn forged_marker(m: &Manifest) -> Option<String> {
    if m.annotation(HOOK_RUN_ANNOTATION).is_none() || hook_of(m).is_some() {
        return None;
    }
    Some(format!(
        "{}: {} sets the annotation {HOOK_RUN_ANNOTATION}, which kpush keeps for the hook \
         objects it creates; remove it from the manifest",
        m.origin,
        m.key()
    ))
}

/// Whether kpush may delete `live` as a hook of the release `owner` (see [`hook_owner`]),
/// applying as `field_manager`: only when a hook run of this release created it (it carries
/// [`HOOK_RUN_ANNOTATION`] with `owner`), or it is a hook object an earlier kpush left (annotated
/// `helm.sh/hook`, a member of no ApplySet, and managed by kpush alone). Otherwise the reason.
///
/// Whatever a repository says, kpush never deletes an object its release does not own: a
/// ConfigMap of another team, an object another tool or release manages.
pub fn may_delete(live: &Value, owner: &str, field_manager: &str) -> Result<(), String> {
    let annotation = |k: &str| {
        live.pointer("/metadata/annotations")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
    };
    match annotation(HOOK_RUN_ANNOTATION) {
        Some(v) if v == owner => return Ok(()),
        Some(v) => {
            return Err(format!(
                "it is a hook object of another release ({HOOK_RUN_ANNOTATION}: {v})"
            ));
        }
        None => {}
    }
    if let Some(set) = live
        .pointer(&format!(
            "/metadata/labels/{}",
            PART_OF_LABEL.replace('/', "~1")
        ))
        .and_then(Value::as_str)
    {
        return Err(format!(
            "it is a member of an ApplySet ({PART_OF_LABEL}: {set}), not a hook object"
        ));
    }
    let managers: Vec<&str> = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                // Controllers writing status (a Job's) do not make it theirs.
                .filter(|e| {
                    e.get("subresource")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                })
                .filter_map(|e| e.get("manager").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let others: Vec<&str> = {
        let mut o: Vec<&str> = managers
            .iter()
            .copied()
            .filter(|m| *m != field_manager)
            .collect();
        o.sort_unstable();
        o.dedup();
        o
    };
    if annotation(HOOK_ANNOTATION).is_none() || managers.is_empty() || !others.is_empty() {
        return Err(format!(
            "it was not created by a hook run of this release (no {HOOK_RUN_ANNOTATION} \
             annotation){}",
            managed_by(&others)
        ));
    }
    Ok(())
}

/// The policy of a hook that no policy deletes (`helm.sh/hook-delete-policy` names none).
pub const NO_POLICY: &str = "none";

/// An object in the cluster that a hook of this deploy would delete, or apply over and so make
/// the release's (a later policy could delete it then).
#[derive(Debug)]
pub struct Deletion<'a> {
    /// The hook (its live object is present).
    pub object: &'a super::PlannedObject,
    /// The policy that deletes it first: `before-hook-creation`, else `hook-succeeded` or
    /// `hook-failed` (applied over, then deleted), else [`NO_POLICY`] (applied over).
    pub policy: &'static str,
    /// Why kpush refuses to delete it ([`may_delete`]), if it does.
    pub refused: Option<String>,
}

/// The live objects the hooks of `phases` would delete or apply over, each once, refused ones
/// included: kpush runs a hook only over an object [`may_delete`] allows, whatever its policy,
/// so that applying a hook can never make another's object look like the release's.
pub fn deletions(phases: &Phases) -> Vec<Deletion<'_>> {
    let manager = phases.main.options.field_manager.as_str();
    phases
        .run_hooks()
        .into_iter()
        .filter_map(|(o, h)| {
            let super::Live::Present(live) = &o.live else {
                return None;
            };
            let owner = o.manifest.annotation(HOOK_RUN_ANNOTATION).unwrap_or("-");
            let policy = if h.delete.before_creation {
                "before-hook-creation"
            } else if h.delete.succeeded {
                "hook-succeeded"
            } else if h.delete.failed {
                "hook-failed"
            } else {
                NO_POLICY
            };
            Some(Deletion {
                object: o,
                policy,
                refused: may_delete(live, owner, manager).err(),
            })
        })
        .collect()
}

/// The error for a hook object kpush will not delete: which, by which policy, why, and what to do.
pub fn refusal(m: &Manifest, policy: &str, reason: &str) -> String {
    let what = if policy == NO_POLICY {
        "run the Helm hook of that name over"
    } else {
        "delete"
    };
    format!(
        "{}: kpush will not {what} {} (helm.sh/hook-delete-policy: {policy}): {reason}. A \
         chart may not make kpush delete what its release does not own: rename the hook in the \
         chart, or, if the object is a leftover of this release's own hooks (run by Helm before \
         kpush), delete it once yourself (kubectl delete {} {}{})",
        m.origin,
        m.key(),
        m.kind().to_lowercase(),
        m.name(),
        m.namespace()
            .map(|ns| format!(" -n {ns}"))
            .unwrap_or_default()
    )
}

fn managed_by(others: &[&str]) -> String {
    if others.is_empty() {
        String::new()
    } else {
        format!(" and is managed by {}", others.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use serde_json::json;

    fn m(annotations: Value) -> Manifest {
        Manifest::new(
            Origin::new("c/templates/job.yaml", 1).from_chart(),
            json!({"apiVersion": "batch/v1", "kind": "Job",
                   "metadata": {"name": "j", "annotations": annotations}}),
        )
    }

    fn plan_of(objects: Vec<(&str, &str, &str, Option<&str>)>) -> Plan {
        let objects = objects
            .into_iter()
            .map(|(kind, name, events, policy)| {
                let mut annotations = json!({HOOK_ANNOTATION: events});
                if let Some(p) = policy {
                    annotations[DELETE_POLICY_ANNOTATION] = json!(p);
                }
                let api = if kind == "Job" { "batch/v1" } else { "v1" };
                super::super::PlannedObject {
                    manifest: Manifest::new(
                        Origin::new(format!("c/templates/{name}.yaml"), 1).from_chart(),
                        json!({"apiVersion": api, "kind": kind,
                               "metadata": {"name": name, "annotations": annotations}}),
                    ),
                    target: None,
                    wave: super::super::waves::wave_of(
                        if kind == "Job" { "batch" } else { "" },
                        kind,
                    ),
                    live: super::super::Live::Absent,
                    live_resource_version: None,
                    live_fingerprint: None,
                    preflight: super::super::Preflight::Create,
                    dry_run: None,
                }
            })
            .collect();
        Plan {
            objects,
            options: super::super::PlanOptions {
                applyset: Some(super::super::applyset::ApplySet::new("shop", "prod")),
                ..Default::default()
            },
            catalog: Default::default(),
            namespaces_in_set: Default::default(),
            custom_kinds: Default::default(),
            crds_applied: false,
        }
    }

    fn names(phase: &Phase) -> Vec<Vec<String>> {
        phase
            .groups
            .iter()
            .map(|g| {
                g.plan
                    .objects
                    .iter()
                    .map(|o| o.manifest.name().to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_hook_listed_for_several_events_runs_in_each_phase() {
        let all = "pre-install,pre-upgrade,post-install,post-upgrade";
        let plan = plan_of(vec![
            (
                "ServiceAccount",
                "certgen",
                all,
                Some("before-hook-creation,hook-succeeded"),
            ),
            ("Job", "create", "pre-install,pre-upgrade", None),
            ("Job", "patch", "post-install,post-upgrade", None),
            ("Job", "cleanup", "pre-delete", None),
        ]);
        let phases = split(plan, Release::Install).unwrap();
        assert_eq!(phases.pre.event, HookEvent::PreInstall);
        assert_eq!(names(&phases.pre), [["certgen", "create"]]);
        assert_eq!(names(&phases.post), [["certgen", "patch"]]);
        assert_eq!(phases.not_run.len(), 1);
        // Every hook carries the release whose hook run creates it.
        let sa = &phases.post.groups[0].plan.objects[0].manifest;
        assert_eq!(sa.annotation(HOOK_RUN_ANNOTATION), Some("prod/shop"));
        assert!(phases.post.groups[0].plan.options.applyset.is_none());
        // Each live object once, for the guard and diff.
        assert_eq!(phases.run_hooks().len(), 3);
    }

    #[test]
    fn namespace_crd_and_claim_hooks_and_a_forged_marker_are_refused() {
        let plan = plan_of(vec![
            ("Namespace", "shop", "pre-install", None),
            ("PersistentVolumeClaim", "data", "post-upgrade", None),
            ("Namespace", "gone", "pre-delete", None),
        ]);
        let refused = split(plan, Release::Upgrade).unwrap_err();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(
            refused[0].contains("kpush refuses Namespace hooks"),
            "{}",
            refused[0]
        );
        assert!(
            refused[0].contains("c/templates/shop.yaml:1"),
            "{}",
            refused[0]
        );
        assert!(refused[1].contains("its volume's data"), "{}", refused[1]);

        let mut plan = plan_of(vec![("ConfigMap", "x", "pre-install", None)]);
        let m = &mut plan.objects[0].manifest;
        m.metadata_map_mut("annotations").remove(HOOK_ANNOTATION);
        m.metadata_map_mut("annotations")
            .insert(HOOK_RUN_ANNOTATION.into(), json!("prod/shop"));
        let refused = split(plan, Release::Install).unwrap_err();
        assert!(
            refused[0].contains("keeps for the hook objects"),
            "{}",
            refused[0]
        );
    }

    #[test]
    fn the_annotation_means_nothing_outside_a_chart() {
        let mut plain = m(json!({"helm.sh/hook": "pre-install"}));
        plain.origin.chart = false;
        assert!(hook_of(&plain).is_none());
        assert!(is_ignored_hook(&plain));
        assert!(!is_ignored_hook(&m(json!({"helm.sh/hook": "pre-install"}))));
    }

    fn live(annotations: Value, labels: Value, managers: &[(&str, Option<&str>)]) -> Value {
        let entries: Vec<Value> = managers
            .iter()
            .map(|(m, sub)| match sub {
                Some(s) => json!({"manager": m, "operation": "Update", "subresource": s}),
                None => json!({"manager": m, "operation": "Apply"}),
            })
            .collect();
        json!({"metadata": {"name": "x", "annotations": annotations, "labels": labels,
                            "managedFields": entries}})
    }

    #[test]
    fn only_objects_a_hook_run_of_this_release_made_may_be_deleted() {
        let none = json!({});
        // Made by this release's hook run (whoever touched it since).
        let ours = live(
            json!({HOOK_RUN_ANNOTATION: "prod/shop"}),
            none.clone(),
            &[("kpush", None), ("kubectl-edit", None)],
        );
        assert!(may_delete(&ours, "prod/shop", "kpush").is_ok());
        // Another release's hook.
        let err = may_delete(&ours, "prod/other", "kpush").unwrap_err();
        assert!(err.contains("another release"), "{err}");
        // Another team's object: no marker, another manager.
        let foreign = live(none.clone(), none.clone(), &[("other-team", None)]);
        let err = may_delete(&foreign, "prod/shop", "kpush").unwrap_err();
        assert!(err.contains("managed by other-team"), "{err}");
        // A hook an earlier kpush left (no marker yet): kpush alone manages it; a Job's status
        // written by its controller does not count.
        let left = live(
            json!({HOOK_ANNOTATION: "pre-install"}),
            none.clone(),
            &[("kpush", None), ("kube-controller-manager", Some("status"))],
        );
        assert!(may_delete(&left, "prod/shop", "kpush").is_ok());
        // ... but not when another tool manages it too, nor when it is in an ApplySet, nor
        // when it is not a hook object at all.
        let shared = live(
            json!({HOOK_ANNOTATION: "pre-install"}),
            none.clone(),
            &[("kpush", None), ("helm", None)],
        );
        assert!(may_delete(&shared, "prod/shop", "kpush").is_err());
        let member = live(
            json!({HOOK_ANNOTATION: "pre-install"}),
            json!({PART_OF_LABEL: "applyset-abc-v1"}),
            &[("kpush", None)],
        );
        assert!(
            may_delete(&member, "prod/shop", "kpush")
                .unwrap_err()
                .contains("member of an ApplySet")
        );
        let plain = live(none.clone(), none, &[("kpush", None)]);
        assert!(may_delete(&plain, "prod/shop", "kpush").is_err());
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
