//! The CRD phase of preflight: custom resources of CRDs this run creates or changes are
//! checked against the new schema once the CRD wave is applied ([`Plan::check_after_crds`]);
//! CRD changes that break stored objects are refused before anything is applied; a refused
//! undeclared field is explained by where its kind is defined.

use std::collections::HashMap;
use std::time::Instant;

use kube::Client;
use serde_json::Value;

use super::{
    Plan, PlanError, PlannedObject, Preflight, Rejection, SCHEMA_SETTLE, Wave, crd_schema,
    rejection, waves,
};
use crate::cluster::Failure;
use crate::event::{Event, Sink};

impl Plan {
    /// For `diff`, which applies nothing: dry-runs custom resources of CRDs the set changes
    /// against the cluster's current schema. Those it accepts show that answer; those it
    /// refuses for something the new CRD may allow are shown as written, saying why. A field
    /// the new CRD does not declare either stays a rejection.
    pub(super) async fn dry_run_before_crds(
        &mut self,
        client: &Client,
        deferred: &[(usize, String)],
    ) -> Result<Vec<Rejection>, PlanError> {
        let indices: Vec<usize> = deferred.iter().map(|(i, _)| *i).collect();
        let found = self.dry_run_batch(client, &indices).await?;
        let mut refused = Vec::new();
        let mut why: HashMap<usize, String> = HashMap::new();
        for r in found {
            match (
                self.refused_field_declared_in_set(&r),
                self.index_of(&r.object),
            ) {
                (Some(false), _) | (_, None) => refused.push(r),
                (_, Some(i)) => {
                    let what = match rejection::refused_field(&r) {
                        Some(field) => format!("does not declare {field}"),
                        None => format!("refuses it: {}", r.reason),
                    };
                    why.insert(i, what);
                }
            }
        }
        for (i, crd) in deferred {
            let o = &mut self.objects[*i];
            o.preflight = Preflight::Deferred(match why.remove(i) {
                Some(what) => {
                    o.dry_run = None;
                    format!(
                        "not dry-run: the cluster's current schema {what}; its \
                         CustomResourceDefinition {crd} changes in this set, so it is shown as \
                         written and checked when kpush apply has installed the CRD"
                    )
                }
                None => format!(
                    "dry-run against the cluster's current schema: its CustomResourceDefinition \
                     {crd} changes in this set"
                ),
            });
        }
        Ok(refused)
    }

    /// Dry-runs `indices`; after the CRD wave, dry-runs again (for at most [`SCHEMA_SETTLE`])
    /// those refused only for a field that their CRD's new schema declares.
    pub(super) async fn dry_run_settling(
        &mut self,
        client: &Client,
        indices: &[usize],
    ) -> Result<Vec<Rejection>, PlanError> {
        let started = Instant::now();
        let mut pending = indices.to_vec();
        let mut rejections = Vec::new();
        let mut pause = std::time::Duration::from_millis(50);
        loop {
            let found = self.dry_run_batch(client, &pending).await?;
            let (stale, settled): (Vec<Rejection>, Vec<Rejection>) =
                found.into_iter().partition(|r| self.schema_pending(r));
            rejections.extend(settled);
            if stale.is_empty() || started.elapsed() > SCHEMA_SETTLE {
                rejections.extend(stale);
                return Ok(rejections);
            }
            tracing::debug!(
                "{} custom resources refused a field their new CRD declares: dry-running again",
                stale.len()
            );
            pending = stale
                .iter()
                .filter_map(|r| self.index_of(&r.object))
                .collect();
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(1));
        }
    }

    /// Whether `r` refuses only a field that the CRD this run applied declares: the API
    /// server answering has not seen the new schema yet.
    pub fn schema_pending(&self, r: &Rejection) -> bool {
        self.crds_applied && self.refused_field_declared_in_set(r).unwrap_or(false)
    }

    /// The index of the planned object `r` names.
    fn index_of(&self, r: &crate::event::ObjectRef) -> Option<usize> {
        self.objects.iter().position(|o| {
            o.manifest.key() == r.key && r.origin.as_ref() == Some(&o.manifest.origin)
        })
    }

    /// The name of the CRD in this set that defines object `i`'s kind.
    pub(super) fn crd_in_set(&self, i: usize) -> Option<&str> {
        let m = &self.objects[i].manifest;
        self.custom_kinds
            .get(&(m.group().to_string(), m.kind().to_string()))
            .map(String::as_str)
    }

    /// The planned CRD object named `name`, when this plan holds it.
    fn crd_object(&self, name: &str) -> Option<&PlannedObject> {
        self.objects.iter().find(|o| {
            o.manifest.group() == "apiextensions.k8s.io"
                && o.manifest.kind() == "CustomResourceDefinition"
                && o.manifest.name() == name
        })
    }

    /// The CRD defining object `i`'s kind when this run creates or changes it.
    pub(super) fn crd_changed_by_run(&self, i: usize) -> Option<String> {
        let name = self.crd_in_set(i)?;
        let crd = self.crd_object(name)?;
        (crd.preflight != Preflight::Unchanged).then(|| name.to_string())
    }

    /// For a refusal of an undeclared field: whether the CRD in this set declares it
    /// (`None`: not such a refusal, or no CRD in this set defines the kind).
    fn refused_field_declared_in_set(&self, r: &Rejection) -> Option<bool> {
        let field = rejection::refused_field(r)?;
        let i = self.index_of(&r.object)?;
        let crd = self.crd_object(self.crd_in_set(i)?)?;
        let schema =
            crd_schema::version_schema(&crd.manifest.object, self.objects[i].manifest.version())?;
        Some(crd_schema::declares(schema, &field))
    }

    /// Rewrites the advice of a refusal of an undeclared field by where the kind is defined:
    /// a CRD in this set, a CRD in the cluster, or Kubernetes itself.
    pub(super) fn advise_unknown_field(&self, r: Rejection) -> Rejection {
        let Some(field) = rejection::refused_field(&r) else {
            return r;
        };
        let Some(i) = self.index_of(&r.object) else {
            return r;
        };
        let m = &self.objects[i].manifest;
        let source = match self.crd_in_set(i).and_then(|n| self.crd_object(n)) {
            Some(crd) => {
                let schema = crd_schema::version_schema(&crd.manifest.object, m.version());
                rejection::FieldSource::CrdInSet {
                    crd: crd.manifest.name().to_string(),
                    origin: crd.manifest.origin.clone(),
                    version: m.version().to_string(),
                    declared: schema.is_some_and(|s| crd_schema::declares(s, &field)),
                    known: schema
                        .map(|s| crd_schema::siblings(s, &field))
                        .unwrap_or_default(),
                    applied: self.crds_applied,
                }
            }
            None if waves::is_builtin_group(m.group()) => rejection::FieldSource::BuiltIn,
            None => rejection::FieldSource::CrdInCluster,
        };
        rejection::advise_unknown_field(r, &field, &source)
    }

    /// CRDs among `indices` that this run changes in a way that breaks custom resources the
    /// cluster stores: a field made required that stored objects do not set. (A version
    /// removed while still in `status.storedVersions` is refused by the API server's own
    /// dry-run.)
    pub(super) async fn breaking_crd_changes(
        &self,
        client: &Client,
        indices: &[usize],
        sink: &dyn Sink,
    ) -> Result<Vec<Rejection>, PlanError> {
        let mut out = Vec::new();
        for &i in indices {
            let o = &self.objects[i];
            if o.manifest.group() != "apiextensions.k8s.io"
                || o.manifest.kind() != "CustomResourceDefinition"
                || !matches!(o.preflight, Preflight::Update)
            {
                continue;
            }
            let Some(target) = &o.target else { continue };
            let retry = self.options.retry;
            let live = match crate::cluster::get(client, retry, target, o.manifest.name()).await {
                Ok(Some(live)) => live,
                Ok(None) => continue,
                Err(f) if is_fatal(&f) => return Err(f.into()),
                Err(f) => {
                    warn_unchecked(sink, o, "the CRD's current schema", &f);
                    continue;
                }
            };
            let required = crd_schema::newly_required(&live, &o.manifest.object);
            if required.is_empty() {
                continue;
            }
            let in_set: HashMap<crate::manifest::ObjectKey, &Value> = self
                .objects
                .iter()
                .map(|p| (p.manifest.key(), &p.manifest.object))
                .collect();
            let mut broken: Vec<String> = Vec::new();
            for req in &required {
                let stored =
                    match crd_schema::stored_objects(client, retry, &live, &req.version).await {
                        Ok(Some(stored)) => stored,
                        Ok(None) => continue,
                        Err(f) if is_fatal(&f) => return Err(f.into()),
                        // Listing them across namespaces needs more than applying does: say
                        // what was not checked rather than refuse the apply.
                        Err(f) => {
                            let what = format!("whether stored objects lack {}", req.dotted());
                            warn_unchecked(sink, o, &what, &f);
                            continue;
                        }
                    };
                let mut missing: Vec<String> = stored
                    .iter()
                    .filter(|s| req.is_missing_in(s))
                    .filter(|s| {
                        // An object this set applies with the field set is no longer missing it.
                        let key = crd_schema::key_of(&live, s);
                        in_set.get(&key).is_none_or(|m| req.is_missing_in(m))
                    })
                    .map(crd_schema::name_of)
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                missing.sort();
                let kind = live
                    .pointer("/spec/names/kind")
                    .and_then(Value::as_str)
                    .unwrap_or("custom resource");
                let count = missing.len();
                let shown: Vec<String> = missing.into_iter().take(5).collect();
                // The API server ratchets errors of unchanged values (CRDValidationRatcheting,
                // GA in 1.33): a stored object then takes only changes outside the field's parent.
                let parent = match req.path.len() {
                    1 => "them".to_string(),
                    n => format!("their {}", req.path[..n - 1].join(".")),
                };
                broken.push(format!(
                    "it makes {} required in {}, which {count} stored {kind} object(s) do not set \
                     ({}{}); the API server would then refuse any change to {parent} with \
                     \"{}: Required value\"",
                    req.dotted(),
                    req.version,
                    shown.join(", "),
                    if count > shown.len() { ", …" } else { "" },
                    req.dotted(),
                ));
            }
            if !broken.is_empty() {
                out.push(rejection::breaking_crd_change(
                    &o.manifest.key(),
                    &o.manifest.origin,
                    &broken,
                ));
            }
        }
        Ok(out)
    }

    /// After the CRD wave is applied and Established: resolves and dry-runs every object whose
    /// check waited for it (custom resources of this set's CRDs, objects in this set's
    /// namespaces), before any of them is applied.
    pub async fn check_after_crds(
        &mut self,
        client: &Client,
        sink: &dyn Sink,
    ) -> Result<(), PlanError> {
        self.crds_applied = true;
        let deferred: Vec<usize> = (0..self.objects.len())
            .filter(|&i| {
                self.objects[i].wave != Wave::Foundation
                    && matches!(self.objects[i].preflight, Preflight::Deferred(_))
            })
            .collect();
        self.prepare(client, deferred, sink).await
    }
}

/// Whether `f` stops planning (the server is unreachable or refuses the credentials).
fn is_fatal(f: &Failure) -> bool {
    matches!(
        f,
        Failure::Unreachable(_)
            | Failure::InFlight(_)
            | Failure::Transient { .. }
            | Failure::Unauthorized(_)
    )
}

/// Warns that the breaking-change check of CRD `o` could not read `what`.
fn warn_unchecked(sink: &dyn Sink, o: &PlannedObject, what: &str, f: &Failure) {
    sink.event(&Event::Warning {
        message: format!(
            "not checked whether this CRD change breaks stored objects: cannot read {what}: {}",
            f.message()
        ),
        object: Some(crate::event::ObjectRef::new(
            o.manifest.key(),
            Some(o.manifest.origin.clone()),
        )),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Failure;
    use crate::manifest::{Manifest, Origin};
    use crate::plan::rejection::{AdviceContext, diagnose};
    use crate::plan::{Live, PlanOptions};
    use kube::core::Status;
    use serde_json::json;

    fn planned(file: &str, object: Value, wave: Wave, preflight: Preflight) -> PlannedObject {
        PlannedObject {
            manifest: Manifest::new(Origin::new(file, 1), object),
            target: None,
            wave,
            live: Live::Unknown,
            live_resource_version: None,
            live_fingerprint: None,
            preflight,
            dry_run: None,
        }
    }

    /// A plan holding CRD gadgets.example.com (spec.a, spec.b) and Gadget `g`.
    fn plan(crd_preflight: Preflight, crds_applied: bool) -> Plan {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Gadget", "plural": "gadgets"},
              "versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"type": "object",
                "properties": {"spec": {"type": "object", "properties": {
                  "a": {"type": "string"}, "b": {"type": "string"}}}}}}}]}});
        let gadget = json!({"apiVersion": "example.com/v1", "kind": "Gadget",
            "metadata": {"name": "g", "namespace": "shop"}, "spec": {"b": "x"}});
        Plan {
            objects: vec![
                planned("crd.yaml", crd, Wave::Foundation, crd_preflight),
                planned("g.yaml", gadget, Wave::Workloads, Preflight::NotRun),
            ],
            options: PlanOptions::default(),
            catalog: Default::default(),
            namespaces_in_set: Default::default(),
            custom_kinds: [(
                ("example.com".to_string(), "Gadget".to_string()),
                "gadgets.example.com".to_string(),
            )]
            .into(),
            crds_applied,
        }
    }

    fn refused(p: &Plan, field: &str) -> Rejection {
        let o = &p.objects[1].manifest;
        let f = Failure::Status(
            Status::failure(
                &format!("failed to create typed patch object (shop/g; example.com/v1, Kind=Gadget): {field}: field not declared in schema"),
                "",
            )
            .with_code(500)
            .boxed(),
        );
        diagnose(&o.key(), &o.origin, &f, AdviceContext::default())
    }

    #[test]
    fn custom_resources_wait_only_for_crds_the_run_changes() {
        assert_eq!(
            plan(Preflight::Update, false)
                .crd_changed_by_run(1)
                .as_deref(),
            Some("gadgets.example.com")
        );
        assert_eq!(
            plan(Preflight::Unchanged, false).crd_changed_by_run(1),
            None
        );
    }

    #[test]
    fn a_refused_field_the_new_crd_declares_is_retried_and_a_misspelling_is_named() {
        let p = plan(Preflight::Update, true);
        assert_eq!(
            p.refused_field_declared_in_set(&refused(&p, ".spec.b")),
            Some(true)
        );
        assert!(p.schema_pending(&refused(&p, ".spec.b")));
        let before = plan(Preflight::Update, false);
        assert!(
            !before.schema_pending(&refused(&before, ".spec.b")),
            "before the CRD wave, the cluster's schema is the old one: nothing to wait for"
        );
        let misspelled = refused(&p, ".spec.bb");
        assert!(!p.schema_pending(&misspelled));
        assert_eq!(p.refused_field_declared_in_set(&misspelled), Some(false));
        let advised = p.advise_unknown_field(misspelled);
        assert!(
            advised.advice.contains(
                "crd.yaml:1) in this set does not declare spec.bb in v1 (declared there: a, b)"
            ),
            "{}",
            advised.advice
        );
        let stale = p.advise_unknown_field(refused(&p, ".spec.b"));
        assert!(
            stale
                .advice
                .contains("still validated against the previous schema"),
            "{}",
            stale.advice
        );
    }
}
