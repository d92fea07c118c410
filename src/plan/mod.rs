//! Stage 2, plan: resolve every object's kind, order objects into [`Wave`]s, read what the
//! cluster holds, and dry-run everything (preflight) before anything changes.
//!
//! The result, a [`Plan`], is what `apply` executes and what `diff` prints.

pub mod access_review;
pub mod admission;
pub mod applyset;
pub mod compare;
mod crd_phase;
pub mod crd_schema;
pub mod defaults;
pub mod diff;
pub mod discovery;
pub mod hooks;
pub mod live;
pub mod membership;
pub mod noop;
pub mod ownership;
pub mod permissions;
pub mod preflight;
pub mod rejection;
pub mod waves;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use kube::Client;
use serde_json::Value;
use thiserror::Error;

pub use applyset::ApplySet;
pub use discovery::{Catalog, Served};
pub use live::Live;
pub use preflight::Preflight;
pub use rejection::{Rejection, RejectionKind};
pub use waves::Wave;

use crate::cluster::{Failure, RetryPolicy, Target};
use crate::event::{Event, Sink, Stage};
use crate::manifest::Manifest;

/// How long to wait for discovery to serve the kinds of CRDs that were just Established.
const DISCOVERY_SETTLE: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a custom resource whose CRD this run just changed is dry-run again while the API
/// server still refuses a field the new schema declares. The API server validates with the
/// CRD its own informer has seen (apiextensions-apiserver's crdHandler drops its cached
/// schema when that informer observes the new spec, and builds the next from it); no status
/// field says which spec each API server (several on AKS) serves, so the dry-run is the test.
pub const SCHEMA_SETTLE: std::time::Duration = std::time::Duration::from_secs(15);

/// Settings for planning (and, unchanged, for applying); built by the CLI.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Server-side apply field manager.
    pub field_manager: String,
    /// Take ownership of fields other managers own.
    pub force_conflicts: bool,
    /// Dry-run every object before applying anything.
    pub preflight: bool,
    /// Treat immutable-field changes as delete-and-create instead of rejections.
    pub recreate_on_immutable: bool,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Retry policy for transient failures.
    pub retry: RetryPolicy,
    /// Label objects as members of this ApplySet.
    pub applyset: Option<ApplySet>,
    /// Keep each dry-run answer on its object (for `diff`).
    pub keep_dry_run: bool,
    /// Take over objects last written by other deploy tools (`kubectl apply`, Helm, …; see
    /// [`ownership`]); `--no-adopt` turns it off.
    pub adopt: bool,
    /// Objects this run created before planning (a release's namespace, which must exist
    /// before the release's lock): reported `created`, not `configured`, when their wave
    /// applies them.
    pub created_first: Vec<crate::manifest::ObjectKey>,
    /// Apply objects that belong to another ApplySet (release), moving them to this one;
    /// otherwise they are refused ([`membership`]).
    pub take_over_from_releases: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            field_manager: "kpush".into(),
            force_conflicts: false,
            preflight: true,
            recreate_on_immutable: false,
            concurrency: 16,
            retry: RetryPolicy::default(),
            applyset: None,
            keep_dry_run: false,
            adopt: true,
            created_first: Vec::new(),
            take_over_from_releases: false,
        }
    }
}

/// One object as planned: what to send, where, in which wave, and what preflight found.
#[derive(Debug, Clone)]
pub struct PlannedObject {
    /// The object to send (namespace filled in, ports defaulted, ApplySet label added).
    pub manifest: Manifest,
    /// Where it goes; `None` while its kind awaits a CRD from this set.
    pub target: Option<Target>,
    /// When it goes.
    pub wave: Wave,
    /// What the cluster holds now.
    pub live: Live,
    /// `metadata.resourceVersion` before applying, when known.
    pub live_resource_version: Option<String>,
    /// What the verdicts compare of the live object ([`compare::Fingerprint`]), when present.
    /// Once read, `live` keeps only its metadata unless the dry-run answers are kept for a
    /// diff: this fingerprint is all that preflight and the apply verdict need of the rest.
    pub live_fingerprint: Option<compare::Fingerprint>,
    /// What the preflight dry-run said.
    pub preflight: Preflight,
    /// The dry-run answer (only with [`PlanOptions::keep_dry_run`]).
    pub dry_run: Option<Value>,
}

/// The ordered objects, ready to apply.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Objects ordered by wave, then input order.
    pub objects: Vec<PlannedObject>,
    /// The settings the plan was made with.
    pub options: PlanOptions,
    catalog: Catalog,
    namespaces_in_set: HashSet<String>,
    /// (group, kind) → name of the CRD in this set that defines it.
    custom_kinds: HashMap<(String, String), String>,
    /// Whether the CRD wave has been applied (custom resources are then checked against the
    /// new schemas).
    crds_applied: bool,
}

/// Why planning stopped; nothing has been changed in the cluster.
#[derive(Debug, Error)]
pub enum PlanError {
    /// The API server could not be reached.
    #[error("cannot reach the API server: {0}")]
    Unreachable(String),
    /// The API server refused kpush's credentials.
    #[error("cannot authenticate to the API server: {0}")]
    Unauthorized(String),
    /// Some objects use kinds the cluster does not serve.
    #[error("{} object(s) use kinds the cluster does not serve", .0.len())]
    UnknownKinds(Vec<Rejection>),
    /// The preflight dry-run rejected objects.
    #[error("preflight: the API server rejected {} object(s)", .0.len())]
    Rejected(Vec<Rejection>),
    /// Objects belong to another release (ApplySet) and `--take-over-from-releases` was not
    /// given.
    #[error(
        "{} object(s) belong to another release; remove them from one release, or pass \
         --take-over-from-releases to move them to this one",
        .0.len()
    )]
    OtherRelease(Vec<Rejection>),
    /// The ApplySet cannot be used.
    #[error("{0}")]
    ApplySet(String),
    /// Two manifests are one object on the server (same group, kind, namespace and name, in
    /// different API versions, as a kustomize build may render them).
    #[error("{0}")]
    SameObjectTwice(String),
    /// An unexpected answer from the server.
    #[error("unexpected answer from the API server: {0}")]
    Other(String),
}

impl PlanError {
    /// The rejections, if this error carries any.
    pub fn rejections(&self) -> &[Rejection] {
        match self {
            PlanError::UnknownKinds(r) | PlanError::Rejected(r) | PlanError::OtherRelease(r) => r,
            _ => &[],
        }
    }
}

impl From<Failure> for PlanError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Unreachable(m) | Failure::InFlight(m) => PlanError::Unreachable(m),
            f @ Failure::Transient { .. } => PlanError::Unreachable(f.message()),
            Failure::Unauthorized(m) => PlanError::Unauthorized(m),
            other => PlanError::Other(other.message()),
        }
    }
}

/// Why `manifests` cannot be applied together when two of them are one object on the server:
/// the same group, kind, namespace and name in different API versions. Rendering keeps both
/// when one kustomize build holds them (kustomize keys objects by version too), but applying
/// both would leave the server with whichever came last.
pub fn same_object_twice(manifests: &[Manifest]) -> Option<String> {
    let mut seen: std::collections::HashMap<crate::manifest::ObjectKey, &Manifest> =
        std::collections::HashMap::new();
    for m in manifests {
        let mut key = m.key();
        if key.group == "extensions" {
            key.group = "apps".into();
        }
        if let Some(first) = seen.get(&key) {
            return Some(format!(
                "{}: {} is defined twice, as {} here and as {} at {}; both are the same object on                  the server, and applying both would keep only the last. Apply one of them (drop                  the other from the kustomization's resources)",
                m.origin,
                m.key(),
                m.api_version(),
                first.api_version(),
                first.origin
            ));
        }
        seen.insert(key, m);
    }
    None
}

/// Plans applying `manifests`: discovery, ordering, live state and (unless turned off) preflight.
pub async fn plan(
    client: &Client,
    manifests: Vec<Manifest>,
    opts: PlanOptions,
    sink: &dyn Sink,
) -> Result<Plan, PlanError> {
    let started = Instant::now();
    sink.event(&Event::StageStarted { stage: Stage::Plan });

    // Compared once the namespace is defaulted as below (a Secret without one lands in the
    // context's namespace): a chart's `fullname` Secret must not double as the parent.
    if let Some(set) = &opts.applyset
        && let Some(m) = manifests.iter().find(|m| {
            m.kind() == "Secret"
                && m.group().is_empty()
                && m.name() == set.name
                && m.namespace().unwrap_or(client.default_namespace()) == set.namespace
        })
    {
        return Err(PlanError::ApplySet(format!(
            "{}: the ApplySet parent of release {} is Secret {}/{}, which this set also \
             defines; deploying it would make that Secret double as the release's parent (and \
             be overwritten by it): rename the Secret (for a chart: nameOverride or \
             fullnameOverride) or choose another --release name",
            m.origin.with_via(),
            set.name,
            set.namespace,
            set.name
        )));
    }

    if let Some(message) = same_object_twice(&manifests) {
        return Err(PlanError::SameObjectTwice(message));
    }

    let crd_kinds = discovery::kinds_defined_by_crds(&manifests);
    let api_versions: BTreeSet<String> = manifests
        .iter()
        .map(|m| m.api_version().to_string())
        .collect();
    let t = Instant::now();
    let catalog = discovery::discover(client, opts.retry, &api_versions).await?;
    sink.event(&Event::Info {
        message: format!(
            "discovered {} API group-versions in {}",
            api_versions.len(),
            crate::event::format_duration(t.elapsed())
        ),
    });

    let default_ns = client.default_namespace().to_string();
    let namespaces_in_set: HashSet<String> = manifests
        .iter()
        .filter(|m| m.is_namespace())
        .map(|m| m.name().to_string())
        .collect();

    let mut objects = Vec::with_capacity(manifests.len());
    let mut unknown = Vec::new();
    for mut m in manifests {
        let key = m.key();
        let (target, namespaced, deferred) = match catalog.resolve(m.api_version(), m.kind()) {
            Some(served) => (
                Some((served.resource.clone(), served.has_status)),
                served.namespaced,
                None,
            ),
            None => match crd_kinds.get(&(key.group.clone(), key.kind.clone())) {
                Some(def) if def.versions.iter().any(|v| v == m.version()) => (
                    None,
                    def.namespaced,
                    Some(format!(
                        "its kind is defined by CRD {} in this set",
                        def.crd_name
                    )),
                ),
                _ => {
                    unknown.push(rejection::unknown_kind(
                        &key,
                        &m.origin,
                        m.api_version(),
                        catalog.serves_group_version(m.api_version()),
                    ));
                    continue;
                }
            },
        };
        let namespace = set_scope(&mut m, namespaced, &default_ns);
        let (group, kind) = (m.group().to_string(), m.kind().to_string());
        defaults::default_protocols(&group, &kind, &mut m.object);
        if defaults::drop_status(&mut m.object) {
            tracing::debug!(
                "{}: status of {key} is not applied; the cluster's controllers own it",
                m.origin
            );
        }
        if let Some(set) = &opts.applyset {
            set.label_member(&mut m);
        }
        objects.push(PlannedObject {
            wave: waves::wave_of(&group, &kind),
            target: target.map(|(resource, has_status)| Target {
                resource,
                namespace,
                has_status,
            }),
            live: Live::Unknown,
            live_resource_version: None,
            live_fingerprint: None,
            preflight: match deferred {
                Some(why) => Preflight::Deferred(why),
                None => Preflight::NotRun,
            },
            dry_run: None,
            manifest: m,
        });
    }
    if !unknown.is_empty() {
        let mut explained = Vec::with_capacity(unknown.len());
        for r in unknown {
            let key = &r.object.key;
            let (served, version) =
                discovery::where_kind_is_served(client, &key.group, &key.kind).await;
            explained.push(rejection::with_served_versions(
                r,
                &served,
                version.as_deref(),
            ));
        }
        for r in &explained {
            report_rejection(sink, r);
        }
        return Err(PlanError::UnknownKinds(explained));
    }
    objects.sort_by_key(|o| o.wave);

    let mut plan = Plan {
        objects,
        options: opts,
        catalog,
        namespaces_in_set,
        custom_kinds: crd_kinds
            .iter()
            .map(|(k, d)| (k.clone(), d.crd_name.clone()))
            .collect(),
        crds_applied: false,
    };
    let ready: Vec<usize> = (0..plan.objects.len())
        .filter(|&i| plan.objects[i].target.is_some())
        .collect();
    plan.check(client, &ready, sink).await?;
    sink.event(&Event::StageFinished {
        stage: Stage::Plan,
        elapsed: started.elapsed(),
    });
    Ok(plan)
}

/// Sets or clears `metadata.namespace` by scope; returns the namespace for namespaced kinds.
fn set_scope(m: &mut Manifest, namespaced: bool, default_ns: &str) -> Option<String> {
    if namespaced {
        let ns = m.namespace().unwrap_or(default_ns).to_string();
        m.metadata_mut()
            .insert("namespace".into(), Value::String(ns.clone()));
        Some(ns)
    } else {
        m.metadata_mut().remove("namespace");
        None
    }
}

fn report_rejection(sink: &dyn Sink, r: &Rejection) {
    sink.event(&Event::Rejected {
        rejection: r.clone(),
    });
}

impl Plan {
    /// What the server serves, as discovery told when planning (aggregated discovery only).
    pub fn server_apis(&self) -> Option<&crate::cluster::discovery::ServerApis> {
        self.catalog.server()
    }

    /// Indices of the objects in `wave`, in order.
    pub fn wave_indices(&self, wave: Wave) -> Vec<usize> {
        (0..self.objects.len())
            .filter(|&i| self.objects[i].wave == wave)
            .collect()
    }

    /// Dry-runs every resolved object not proven unchanged (when preflight is on), for a plan
    /// made without preflight. The live state read when planning is still current: planning
    /// changes nothing, and objects are taken over from other tools only when applied.
    pub async fn check_again(&mut self, client: &Client, sink: &dyn Sink) -> Result<(), PlanError> {
        let to_check: Vec<usize> = (0..self.objects.len())
            .filter(|&i| {
                let o = &self.objects[i];
                o.target.is_some()
                    && o.preflight != Preflight::Unchanged
                    && !hooks::deleted_before_creation(o)
            })
            .collect();
        self.dry_run(client, &to_check, sink).await
    }

    /// Reads live state for `indices`, then dry-runs them (when preflight is on).
    async fn check(
        &mut self,
        client: &Client,
        indices: &[usize],
        sink: &dyn Sink,
    ) -> Result<(), PlanError> {
        let to_check = self.read_live(client, indices, sink).await?;
        self.refuse_other_releases(client, indices, sink).await?;
        self.dry_run(client, &to_check, sink).await
    }

    /// Reads live state for `indices`; returns those not proven unchanged (the others are
    /// marked [`Preflight::Unchanged`]).
    async fn read_live(
        &mut self,
        client: &Client,
        indices: &[usize],
        sink: &dyn Sink,
    ) -> Result<Vec<usize>, PlanError> {
        let (at, wanted): (Vec<usize>, Vec<(Target, String)>) = indices
            .iter()
            .filter_map(|&i| {
                let o = &self.objects[i];
                Some((i, (o.target.clone()?, o.manifest.name().to_string())))
            })
            .unzip();
        let t = Instant::now();
        // Objects proven unchanged need neither a dry-run nor a PATCH, nor more of their live
        // state than its metadata: decided as each is read, not after all are held.
        let (objects, manager) = (&self.objects, self.options.field_manager.as_str());
        let keep_whole = self.options.keep_dry_run;
        let lives = live::fetch(
            client,
            self.options.retry,
            self.options.concurrency,
            &wanted,
            manager,
            |j, l| {
                let o = &objects[at[j]];
                let Live::Present(live) = &l else {
                    return (l, None, false);
                };
                let proven = noop::proven_unchanged(&o.manifest.object, live, manager);
                let fingerprint = (!proven).then(|| compare::Fingerprint::of(live, manager));
                match proven || !keep_whole {
                    true => (l.metadata_only(), fingerprint, proven),
                    false => (l, fingerprint, proven),
                }
            },
        )
        .await?;
        let mut to_check = Vec::with_capacity(indices.len());
        for (&i, (l, fingerprint, proven)) in at.iter().zip(lives) {
            let o = &mut self.objects[i];
            o.live_fingerprint = fingerprint;
            o.live_resource_version = match &l {
                Live::Present(v) => compare::resource_version(v).map(str::to_string),
                _ => None,
            };
            o.live = l;
            if proven {
                o.preflight = Preflight::Unchanged;
            } else {
                to_check.push(i);
            }
        }
        sink.event(&Event::Info {
            message: format!(
                "read the live state of {} objects in {}",
                indices.len(),
                crate::event::format_duration(t.elapsed())
            ),
        });
        if indices.len() > to_check.len() {
            sink.event(&Event::Info {
                message: format!(
                    "{} objects are unchanged (the fields kpush owns hold the manifests' values)",
                    indices.len() - to_check.len()
                ),
            });
        }
        Ok(to_check)
    }

    /// Dry-runs the objects at `to_check` (when preflight is on or answers are kept), in two
    /// phases where the set holds CRDs not proven unchanged: everything else first, the CRDs
    /// included; then the custom resources of those that turned out unchanged. Those of CRDs
    /// this run creates or changes are deferred: they are checked against the new schema once
    /// the CRD wave is applied ([`Plan::check_after_crds`]).
    async fn dry_run(
        &mut self,
        client: &Client,
        to_check: &[usize],
        sink: &dyn Sink,
    ) -> Result<(), PlanError> {
        if !self.options.preflight && !self.options.keep_dry_run {
            return Ok(());
        }
        let t = Instant::now();
        // Custom resources wait for the dry-run of their CRD in this set, unless reading the
        // live state proved it unchanged already (a re-apply: one batch, as without CRDs).
        let (custom, first): (Vec<usize>, Vec<usize>) = to_check
            .iter()
            .partition(|&&i| !self.crds_applied && self.crd_changed_by_run(i).is_some());
        let mut rejections = self.dry_run_settling(client, &first).await?;
        rejections.extend(self.breaking_crd_changes(client, &first, sink).await?);
        let mut now = Vec::new();
        let mut deferred = Vec::new();
        for i in custom {
            match self.crd_changed_by_run(i) {
                Some(crd) => {
                    self.objects[i].preflight = Preflight::Deferred(format!(
                        "its CustomResourceDefinition {crd} changes in this run: it is checked \
                         against the new schema once that is applied"
                    ));
                    deferred.push((i, crd));
                }
                None => now.push(i),
            }
        }
        if self.options.keep_dry_run {
            rejections.extend(self.dry_run_before_crds(client, &deferred).await?);
        }
        rejections.extend(self.dry_run_settling(client, &now).await?);
        let rejections: Vec<Rejection> = rejections
            .into_iter()
            .map(|r| self.advise_unknown_field(r))
            .collect();
        sink.event(&Event::Info {
            message: format!(
                "preflight: dry-ran {} objects in {}",
                to_check.len(),
                crate::event::format_duration(t.elapsed())
            ),
        });
        if !rejections.is_empty() {
            let mut rejections = rejections;
            rejections.sort_by(|a, b| a.object.origin.cmp(&b.object.origin));
            for r in &rejections {
                report_rejection(sink, r);
            }
            return Err(PlanError::Rejected(rejections));
        }
        Ok(())
    }

    /// Dry-runs `indices` in parallel; returns the rejections.
    async fn dry_run_batch(
        &mut self,
        client: &Client,
        indices: &[usize],
    ) -> Result<Vec<Rejection>, PlanError> {
        if indices.is_empty() {
            return Ok(Vec::new());
        }
        let opts = self.options.clone();
        Ok(preflight::run(
            client,
            &opts,
            &mut self.objects,
            indices,
            &self.namespaces_in_set,
        )
        .await?)
    }

    /// Before applying `wave`: resolves kinds that waited for this set's CRDs (refreshing
    /// discovery for their group-versions) and checks objects whose preflight was deferred.
    pub async fn prepare_wave(
        &mut self,
        client: &Client,
        wave: Wave,
        sink: &dyn Sink,
    ) -> Result<(), PlanError> {
        let deferred: Vec<usize> = self
            .wave_indices(wave)
            .into_iter()
            .filter(|&i| matches!(self.objects[i].preflight, Preflight::Deferred(_)))
            .collect();
        self.prepare(client, deferred, sink).await
    }

    /// Resolves the kinds of the deferred objects at `deferred` and checks them.
    async fn prepare(
        &mut self,
        client: &Client,
        deferred: Vec<usize>,
        sink: &dyn Sink,
    ) -> Result<(), PlanError> {
        if deferred.is_empty() {
            return Ok(());
        }
        let unresolved: BTreeSet<String> = deferred
            .iter()
            .filter(|&&i| self.objects[i].target.is_none())
            .map(|&i| self.objects[i].manifest.api_version().to_string())
            .collect();
        if !unresolved.is_empty() {
            for gv in &unresolved {
                self.catalog.forget(gv);
            }
            // Discovery learns of a new CRD shortly after it is Established: ask until every
            // kind is served, for a few seconds.
            let started = Instant::now();
            loop {
                let found =
                    discovery::discover_each(client, self.options.retry, &unresolved).await?;
                let all_served = deferred.iter().all(|&i| {
                    let m = &self.objects[i].manifest;
                    self.objects[i].target.is_some()
                        || found.resolve(m.api_version(), m.kind()).is_some()
                });
                self.catalog.merge(found);
                if all_served || started.elapsed() > DISCOVERY_SETTLE {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let mut unknown = Vec::new();
            for &i in &deferred {
                let o = &mut self.objects[i];
                if o.target.is_some() {
                    continue;
                }
                match self
                    .catalog
                    .resolve(o.manifest.api_version(), o.manifest.kind())
                {
                    Some(served) => {
                        o.target = Some(Target {
                            resource: served.resource.clone(),
                            namespace: o
                                .manifest
                                .namespace()
                                .map(str::to_string)
                                .filter(|_| served.namespaced),
                            has_status: served.has_status,
                        });
                    }
                    None => unknown.push(rejection::unknown_kind(
                        &o.manifest.key(),
                        &o.manifest.origin,
                        o.manifest.api_version(),
                        true,
                    )),
                }
            }
            if !unknown.is_empty() {
                for r in &unknown {
                    report_rejection(sink, r);
                }
                return Err(PlanError::UnknownKinds(unknown));
            }
        }
        for &i in &deferred {
            self.objects[i].preflight = Preflight::NotRun;
        }
        self.check(client, &deferred, sink).await
    }

    /// (group, kind) pairs and namespaces of the set, as the ApplySet parent records them.
    pub fn group_kinds_and_namespaces(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut kinds = BTreeSet::new();
        let mut nss = BTreeSet::new();
        for o in &self.objects {
            kinds.insert(applyset::group_kind(o.manifest.group(), o.manifest.kind()));
            if let Some(ns) = o.manifest.namespace() {
                nss.insert(ns.to_string());
            }
        }
        (kinds, nss)
    }
}
