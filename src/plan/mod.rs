//! Stage 2, plan: resolve every object's kind, order objects into [`Wave`]s, read what the
//! cluster holds, and dry-run everything (preflight) before anything changes.
//!
//! The result, a [`Plan`], is what `apply` executes and what `diff` prints.

pub mod access_review;
pub mod admission;
pub mod applyset;
pub mod compare;
pub mod defaults;
pub mod diff;
pub mod discovery;
pub mod hooks;
pub mod live;
pub mod noop;
pub mod ownership;
pub mod permissions;
pub mod preflight;
pub mod rejection;
pub mod waves;

use std::collections::{BTreeSet, HashSet};
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
            PlanError::UnknownKinds(r) | PlanError::Rejected(r) => r,
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

    if let Some(set) = &opts.applyset
        && let Some(m) = manifests.iter().find(|m| {
            m.kind() == "Secret"
                && m.group().is_empty()
                && m.name() == set.name
                && m.namespace() == Some(&set.namespace)
        })
    {
        return Err(PlanError::ApplySet(format!(
            "{}: the ApplySet parent is Secret {}/{}, which this set also defines; choose another --applyset name",
            m.origin, set.namespace, set.name
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
                o.target.is_some() && o.preflight != Preflight::Unchanged
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

    /// Dry-runs the objects at `to_check` (when preflight is on or answers are kept).
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
        let opts = self.options.clone();
        let rejections = preflight::run(
            client,
            &opts,
            &mut self.objects,
            to_check,
            &self.namespaces_in_set,
        )
        .await?;
        sink.event(&Event::Info {
            message: format!(
                "preflight: dry-ran {} objects in {}",
                to_check.len(),
                crate::event::format_duration(t.elapsed())
            ),
        });
        if !rejections.is_empty() {
            for r in &rejections {
                report_rejection(sink, r);
            }
            return Err(PlanError::Rejected(rejections));
        }
        Ok(())
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
                let found = discovery::discover(client, self.options.retry, &unresolved).await?;
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
