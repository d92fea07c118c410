//! Why the API server refused an object, in words that say what to do next.

use kube::core::Status;

use crate::cluster::Failure;
use crate::event::ObjectRef;
pub use crate::event::{Rejection, RejectionKind};
use crate::manifest::{ObjectKey, Origin};

/// Context for building advice: the flags that would change the outcome.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdviceContext<'a> {
    /// The field manager in use.
    pub field_manager: &'a str,
}

/// Explains a failed request about `key` (from `origin`).
pub fn diagnose(
    key: &ObjectKey,
    origin: &Origin,
    failure: &Failure,
    ctx: AdviceContext<'_>,
) -> Rejection {
    let (kind, reason, advice) = match failure {
        Failure::Status(status) => from_status(key, status, ctx),
        other => (RejectionKind::Other, other.message(), String::new()),
    };
    Rejection {
        object: ObjectRef::new(key.clone(), Some(origin.clone())),
        kind,
        reason,
        advice,
    }
}

/// A rejection for a kind the server does not serve.
pub fn unknown_kind(
    key: &ObjectKey,
    origin: &Origin,
    api_version: &str,
    group_served: bool,
) -> Rejection {
    let reason = if group_served {
        format!(
            "the cluster serves {api_version} but not kind {} in it",
            key.kind
        )
    } else {
        format!("the cluster does not serve apiVersion {api_version}")
    };
    let advice = format!(
        "check the spelling of apiVersion and kind; if {} is a custom resource, install the \
         CustomResourceDefinition that defines it first or add it to the manifests",
        key.kind
    );
    Rejection {
        object: ObjectRef::new(key.clone(), Some(origin.clone())),
        kind: RejectionKind::UnknownKind,
        reason,
        advice,
    }
}

/// Adds to an unknown-kind rejection the cluster's version and the apiVersions in which it
/// serves the same kind (`served`), so a manifest written for a newer or older cluster says
/// which apiVersion to use.
pub fn with_served_versions(
    mut r: Rejection,
    served: &[String],
    cluster: Option<&str>,
) -> Rejection {
    if let Some(v) = cluster {
        r.reason
            .push_str(&format!(" (the cluster runs Kubernetes {v})"));
    }
    if !served.is_empty() {
        r.advice = format!(
            "the cluster serves {} as {}: change apiVersion to {} (the manifest was written for \
             a newer or older Kubernetes)",
            r.object.key.kind,
            served.join(", "),
            served[0]
        );
    }
    r
}

/// The field a refusal of an undeclared field names (`.spec.b`), if it is one.
pub fn refused_field(r: &Rejection) -> Option<String> {
    unknown_field(&r.reason)
}

/// Where the kind of an object refused for an undeclared field is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSource {
    /// By a CRD in the same set.
    CrdInSet {
        /// The CRD's name.
        crd: String,
        /// Its file and line.
        origin: Origin,
        /// The version the object is written in.
        version: String,
        /// Whether that version's schema declares the field.
        declared: bool,
        /// The fields declared beside it (for a misspelling).
        known: Vec<String>,
        /// Whether the CRD has been applied in this run.
        applied: bool,
    },
    /// By a CRD the cluster has, not in the set.
    CrdInCluster,
    /// By Kubernetes itself.
    BuiltIn,
}

/// Advice for a refusal of the undeclared `field`, by where the kind is defined: the CRD in
/// the same set (new schema not served yet, or the field misspelled against it), the
/// cluster's CRD (older than the manifest, or a misspelling), or Kubernetes (version hint).
pub fn advise_unknown_field(mut r: Rejection, field: &str, source: &FieldSource) -> Rejection {
    let field = field.trim_start_matches('.');
    r.advice = match source {
        FieldSource::BuiltIn => return r,
        FieldSource::CrdInSet {
            crd,
            origin,
            version,
            declared: true,
            applied: true,
            ..
        } => format!(
            "CustomResourceDefinition {crd} ({origin}) in this set declares {field} in {version} \
             and was applied, but the API server still validated against the previous schema; \
             run the apply again"
        ),
        FieldSource::CrdInSet {
            crd,
            origin,
            version,
            declared: true,
            applied: false,
            ..
        } => format!(
            "CustomResourceDefinition {crd} ({origin}) in this set declares {field} in {version}; \
             the cluster's current schema does not: it is checked against the new schema when \
             kpush apply installs the CRD"
        ),
        FieldSource::CrdInSet {
            crd,
            origin,
            version,
            declared: false,
            known,
            ..
        } => {
            let beside = match known.is_empty() {
                true => String::new(),
                false => format!(" (declared there: {})", known.join(", ")),
            };
            format!(
                "CustomResourceDefinition {crd} ({origin}) in this set does not declare {field} \
                 in {version}{beside}: it is misspelled, or missing from the CRD's schema; \
                 correct the field or add it to the CRD"
            )
        }
        FieldSource::CrdInCluster => format!(
            "the CustomResourceDefinition installed in the cluster does not declare {field}: it \
             is misspelled, or the manifest was written for a newer version of the CRD than the \
             cluster has; correct or remove it, or add the newer CRD to the manifests so kpush \
             installs it first"
        ),
    };
    r
}

/// A CRD change refused by kpush because it breaks custom resources the cluster stores.
pub fn breaking_crd_change(key: &ObjectKey, origin: &Origin, problems: &[String]) -> Rejection {
    Rejection {
        object: ObjectRef::new(key.clone(), Some(origin.clone())),
        kind: RejectionKind::Invalid,
        reason: format!(
            "this change breaks custom resources the cluster stores: {}",
            problems.join("; ")
        ),
        advice: "give the stored objects the field first (apply them with it, with the old \
                 CRD), or make it optional or defaulted (`default:` in the schema) in the new CRD"
            .to_string(),
    }
}

/// Advice for a CRD update the API server refuses because it drops a version objects are
/// still stored in (`status.storedVersions`), or `None` for other refusals.
fn stored_version_advice(key: &ObjectKey, message: &str) -> Option<String> {
    if key.kind != "CustomResourceDefinition" || !message.contains("status.storedVersions") {
        return None;
    }
    let version = message
        .split("status.storedVersions")
        .nth(1)
        .and_then(|rest| rest.split('"').nth(1))
        .unwrap_or("that version");
    Some(format!(
        "custom resources are still stored as {version} (status.storedVersions of CRD {}): \
         keep {version} in spec.versions (served: false is enough) until every stored object \
         has been rewritten in the storage version (e.g. by kube-storage-version-migrator, or \
         by reading and writing each one) and {version} has been removed from \
         status.storedVersions",
        key.name
    ))
}

#[cfg(test)]
mod served_tests {
    use super::*;

    #[test]
    fn an_unknown_field_is_named_from_either_message_form() {
        assert_eq!(
            unknown_field("failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): .spec.minReadySeconds: field not declared in schema").as_deref(),
            Some(".spec.minReadySeconds")
        );
        assert_eq!(
            unknown_field("strict decoding error: unknown field \"spec.foo\"").as_deref(),
            Some("spec.foo")
        );
        assert_eq!(unknown_field("spec.replicas: Invalid value: -1"), None);
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_field_and_the_quoted_value() {
        // As the 1.35 control plane words it (tests/fixtures/api-answers/answers.json).
        let advice = wrong_type_advice("failed to create typed patch object (default/flags; /v1, Kind=ConfigMap): .metadata.labels.enabled: expected string, got &value.valueUnstructured{Value:true}").unwrap_or_default();
        assert!(
            advice.starts_with(".metadata.labels.enabled must be a string")
                && advice.contains("enabled: \"true\""),
            "{advice}"
        );
        let advice = wrong_type_advice("failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): .spec.replicas: expected numeric (int or float), got string").unwrap_or_default();
        assert!(
            advice.starts_with(".spec.replicas must be a numeric (int or float)"),
            "{advice}"
        );
        assert_eq!(wrong_type_advice("spec.replicas: Invalid value: -1"), None);
    }

    #[test]
    fn an_unserved_version_names_the_served_one_and_the_cluster_version() {
        let key = ObjectKey {
            group: "autoscaling".into(),
            kind: "HorizontalPodAutoscaler".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        };
        let r = unknown_kind(
            &key,
            &Origin::new("hpa.yaml", 1),
            "autoscaling/v2beta2",
            false,
        );
        let r = with_served_versions(
            r,
            &["autoscaling/v2".into(), "autoscaling/v1".into()],
            Some("v1.35.4"),
        );
        assert_eq!(
            r.reason,
            "the cluster does not serve apiVersion autoscaling/v2beta2 (the cluster runs Kubernetes v1.35.4)"
        );
        assert!(
            r.advice.contains("change apiVersion to autoscaling/v2"),
            "{}",
            r.advice
        );
    }
}

/// The field of a "field not declared in schema" / "unknown field" message (`.spec.minReadySeconds`).
fn unknown_field(message: &str) -> Option<String> {
    if let Some(end) = message.find(": field not declared in schema") {
        let start = message[..end].rfind([' ', '(']).map_or(0, |i| i + 1);
        return Some(message[start..end].to_string());
    }
    let rest = &message[message.find("unknown field \"")? + "unknown field \"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Advice for server-side apply's answer to a value of the wrong type (a 500 that no retry
/// changes): `failed to create typed patch object (…): .metadata.labels.enabled: expected
/// string, got &value.valueUnstructured{Value:true}` → the field, what it needs, and (for a
/// string) the quoted value to write.
fn wrong_type_advice(message: &str) -> Option<String> {
    let (before, after) = message.split_once(": expected ")?;
    if !message.contains("typed patch object") && !message.contains("typed value") {
        return None;
    }
    let field = &before[before.rfind([' ', '(']).map_or(0, |i| i + 1)..];
    let (expected, got) = after.split_once(", got ")?;
    // `&value.valueUnstructured{Value:true}` carries the value; `string` only its type.
    let value = got
        .split_once("Value:")
        .map(|(_, v)| v.trim_end_matches(['}', ' ']).to_string())
        .unwrap_or_else(|| format!("a {}", got.trim()));
    let key = field.rsplit('.').next().unwrap_or(field);
    Some(if expected == "string" {
        format!(
            "{field} must be a string, but YAML read the unquoted value as {value}: quote it in \
             the manifest ({key}: \"{value}\", or the text you wrote in quotes; YAML reads \
             unquoted true/false/yes/no/on/off as booleans, and numbers and null as such)"
        )
    } else {
        format!(
            "{field} must be a {expected}, but the manifest gives {value}: write a {expected} \
             there (without quotes for a number or boolean)"
        )
    })
}

fn causes(status: &Status) -> impl Iterator<Item = &kube::core::response::StatusCause> {
    status.details.iter().flat_map(|d| d.causes.iter())
}

fn from_status(
    key: &ObjectKey,
    status: &Status,
    ctx: AdviceContext<'_>,
) -> (RejectionKind, String, String) {
    let reason = format!("{} ({}): {}", status.reason, status.code, status.message);
    // Server-side apply reports a field missing from the schema as a 500.
    if let Some(field) = unknown_field(&status.message) {
        let advice = format!(
            "this cluster's API does not know {field}: it is misspelled, or the manifest was \
             written for a newer Kubernetes than the cluster runs (kubectl version); correct or \
             remove it, or upgrade the cluster"
        );
        return (RejectionKind::Invalid, reason, advice);
    }
    if let Some(advice) = wrong_type_advice(&status.message) {
        return (RejectionKind::Invalid, reason, advice);
    }
    if let Some(advice) = stored_version_advice(key, &status.message) {
        return (RejectionKind::Invalid, reason, advice);
    }
    if let Some(denial) = super::admission::Denial::of(&status.message) {
        let advice = denial.advice(key.namespace.as_deref());
        return (RejectionKind::Denied { by: denial.by() }, reason, advice);
    }
    match status.code {
        409 if causes(status).any(|c| c.reason == "FieldManagerConflict")
            || status.message.contains("conflict") =>
        {
            let fields: Vec<(String, String)> = causes(status)
                .filter(|c| c.reason == "FieldManagerConflict")
                .map(|c| (c.field.clone(), manager_of(&c.message)))
                .collect();
            let list = fields
                .iter()
                .map(|(f, m)| format!("{f} (owned by \"{m}\")"))
                .collect::<Vec<_>>()
                .join(", ");
            let advice = format!(
                "another field manager set these fields to other values: {list}. Either remove \
                 them from the manifest (leave them to their owner, e.g. replicas to an HPA), or \
                 pass --force-conflicts to make \"{}\" their owner",
                ctx.field_manager
            );
            (
                RejectionKind::Conflict { fields },
                format!("Conflict (409): {}", first_line(&status.message)),
                advice,
            )
        }
        422 if causes(status).any(|c| c.message.contains("immutable"))
            || status.message.contains("field is immutable") =>
        {
            let mut fields: Vec<String> = causes(status)
                .filter(|c| c.message.contains("immutable"))
                .map(|c| c.field.clone())
                .filter(|f| !f.is_empty())
                .collect();
            fields.dedup();
            let advice = format!(
                "{} cannot change after the object is created. Restore the old value, or pass \
                 --recreate-on-immutable to delete {} and create it again (its pods restart; \
                 for a Service the cluster IP may change)",
                if fields.is_empty() {
                    "this field".to_string()
                } else {
                    fields.join(", ")
                },
                key
            );
            (RejectionKind::Immutable { fields }, reason, advice)
        }
        422 | 400 => (
            RejectionKind::Invalid,
            reason,
            "correct the field named above in the manifest".to_string(),
        ),
        403 => {
            // The message names the user, verb and resource; when it does not, the object does.
            let mut status = status.clone();
            let details =
                status
                    .details
                    .get_or_insert_with(|| kube::core::response::StatusDetails {
                        name: key.name.clone(),
                        group: String::new(),
                        kind: String::new(),
                        uid: String::new(),
                        causes: Vec::new(),
                        retry_after_seconds: 0,
                    });
            if details.kind.is_empty() {
                details.kind = plural_hint(key);
                details.group = key.group.clone();
            }
            let advice = crate::auth::explain_forbidden(&status, None, key.namespace.as_deref());
            (RejectionKind::Forbidden, reason, advice)
        }
        404 if status
            .details
            .as_ref()
            .is_some_and(|d| d.kind == "namespaces") =>
        {
            let ns = status
                .details
                .as_ref()
                .map(|d| d.name.clone())
                .unwrap_or_default();
            (
                RejectionKind::NamespaceMissing {
                    namespace: ns.clone(),
                },
                reason,
                format!(
                    "namespace {ns} does not exist: create it, or add a Namespace manifest to the set"
                ),
            )
        }
        _ => (RejectionKind::Other, reason, String::new()),
    }
}

/// `conflict with "hpa" using apps/v1` → `hpa`.
fn manager_of(message: &str) -> String {
    message
        .split('"')
        .nth(1)
        .map(str::to_string)
        .unwrap_or_else(|| message.to_string())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// `Deployment` → `deployments`, `Ingress` → `ingresses`, `NetworkPolicy` → `networkpolicies`.
fn plural_hint(key: &ObjectKey) -> String {
    let kind = key.kind.to_ascii_lowercase();
    if kind.ends_with('s') {
        format!("{kind}es")
    } else if let Some(stem) = kind.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{kind}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::{StatusCause, StatusDetails};

    fn key() -> ObjectKey {
        ObjectKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        }
    }

    fn with_causes(
        code: u16,
        reason: &str,
        message: &str,
        causes: Vec<(&str, &str, &str)>,
    ) -> Failure {
        let details = StatusDetails {
            causes: causes
                .into_iter()
                .map(|(r, m, f)| StatusCause {
                    reason: r.into(),
                    message: m.into(),
                    field: f.into(),
                })
                .collect(),
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            retry_after_seconds: 0,
        };
        Failure::Status(
            Status::failure(message, reason)
                .with_code(code)
                .with_details(details)
                .boxed(),
        )
    }

    #[test]
    fn conflicts_name_fields_managers_and_the_flag() {
        let f = with_causes(
            409,
            "Conflict",
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas",
            vec![(
                "FieldManagerConflict",
                "conflict with \"kubectl-edit\" using apps/v1",
                ".spec.replicas",
            )],
        );
        let r = diagnose(
            &key(),
            &Origin::new("web.yaml", 3),
            &f,
            AdviceContext {
                field_manager: "kpush",
            },
        );
        assert_eq!(
            r.kind,
            RejectionKind::Conflict {
                fields: vec![(".spec.replicas".into(), "kubectl-edit".into())]
            }
        );
        assert!(
            r.advice.contains("--force-conflicts")
                && r.advice
                    .contains(".spec.replicas (owned by \"kubectl-edit\")"),
            "{}",
            r.advice
        );
        assert!(
            r.to_string()
                .starts_with("web.yaml:3: Deployment shop/web: Conflict"),
            "{r}"
        );
    }

    #[test]
    fn immutable_fields_are_named_and_recreate_offered() {
        let f = with_causes(
            422,
            "Invalid",
            "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: ...: field is immutable",
            vec![(
                "FieldValueInvalid",
                "Invalid value: ...: field is immutable",
                "spec.selector",
            )],
        );
        let r = diagnose(
            &key(),
            &Origin::new("web.yaml", 3),
            &f,
            AdviceContext::default(),
        );
        assert_eq!(
            r.kind,
            RejectionKind::Immutable {
                fields: vec!["spec.selector".into()]
            }
        );
        assert!(
            r.advice.contains("spec.selector cannot change")
                && r.advice.contains("--recreate-on-immutable")
        );
    }

    #[test]
    fn forbidden_suggests_a_role_binding() {
        let f = with_causes(
            403,
            "Forbidden",
            "deployments.apps \"web\" is forbidden: User \"alice\" cannot patch",
            vec![],
        );
        let r = diagnose(
            &key(),
            &Origin::new("web.yaml", 3),
            &f,
            AdviceContext::default(),
        );
        assert_eq!(r.kind, RejectionKind::Forbidden);
        assert!(
            r.advice.contains("RoleBinding")
                && r.advice.contains("deployments.apps in namespace shop"),
            "{}",
            r.advice
        );
    }
}

#[cfg(test)]
mod crd_advice_tests {
    use super::*;

    fn gadget() -> ObjectKey {
        ObjectKey {
            group: "example.com".into(),
            kind: "Gadget".into(),
            namespace: Some("shop".into()),
            name: "g".into(),
        }
    }

    fn refused(key: &ObjectKey, field: &str) -> Rejection {
        let f = Failure::Status(
            Status::failure(
                &format!(
                    "failed to create typed patch object (shop/g; example.com/v1, Kind=Gadget): {field}: field not declared in schema"
                ),
                "InternalError",
            )
            .with_code(500)
            .boxed(),
        );
        diagnose(key, &Origin::new("g.yaml", 1), &f, AdviceContext::default())
    }

    #[test]
    fn an_undeclared_field_is_explained_by_where_its_kind_is_defined() {
        let r = refused(&gadget(), ".spec.bb");
        assert_eq!(refused_field(&r).as_deref(), Some(".spec.bb"));
        let in_set = |declared, applied| FieldSource::CrdInSet {
            crd: "gadgets.example.com".into(),
            origin: Origin::new("crd.yaml", 1),
            version: "v1".into(),
            declared,
            known: vec!["a".into(), "b".into()],
            applied,
        };
        let misspelled = advise_unknown_field(r.clone(), ".spec.bb", &in_set(false, true));
        assert!(
            misspelled
                .advice
                .contains("does not declare spec.bb in v1 (declared there: a, b)"),
            "{}",
            misspelled.advice
        );
        let pending = advise_unknown_field(r.clone(), ".spec.bb", &in_set(true, false));
        assert!(
            pending.advice.contains("checked against the new schema"),
            "{}",
            pending.advice
        );
        let cluster = advise_unknown_field(r.clone(), ".spec.bb", &FieldSource::CrdInCluster);
        assert!(
            cluster.advice.contains("newer version of the CRD"),
            "{}",
            cluster.advice
        );
        let builtin = advise_unknown_field(r.clone(), ".spec.bb", &FieldSource::BuiltIn);
        assert_eq!(builtin.advice, r.advice);
        assert!(builtin.advice.contains("newer Kubernetes"));
    }

    #[test]
    fn a_dropped_stored_version_says_how_to_migrate() {
        let key = ObjectKey {
            group: "apiextensions.k8s.io".into(),
            kind: "CustomResourceDefinition".into(),
            namespace: None,
            name: "gadgets.example.com".into(),
        };
        let f = Failure::Status(
            Status::failure(
                "CustomResourceDefinition.apiextensions.k8s.io \"gadgets.example.com\" is invalid: status.storedVersions[0]: Invalid value: \"v1alpha1\": must appear in spec.versions",
                "Invalid",
            )
            .with_code(422)
            .boxed(),
        );
        let r = diagnose(
            &key,
            &Origin::new("crd.yaml", 1),
            &f,
            AdviceContext::default(),
        );
        assert_eq!(r.kind, RejectionKind::Invalid);
        assert!(
            r.advice.contains("keep v1alpha1 in spec.versions"),
            "{}",
            r.advice
        );
    }
}
