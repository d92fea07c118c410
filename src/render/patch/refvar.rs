//! The deprecated kustomize `vars`: `$(NAME)` in the fields kustomize's varreference
//! configuration lists, replaced by a field of a named object.

use std::borrow::{Borrow, BorrowMut};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::PatchError;
use super::fieldpath::{FieldPath, FieldSpec};
use super::schema::split_api_version;
use super::selector::{ResId, annotations_mut, res_ids, string_map};

/// Internal annotation naming the vars bound to an object (comma separated); removed by
/// [`super::strip_internal_annotations`].
pub const REF_VAR_NAMES: &str = "internal.config.kubernetes.io/refVarNames";

/// One entry of `vars`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Var {
    /// The name used as `$(NAME)`.
    pub name: String,
    /// The object the value comes from (by its name before prefixes and suffixes).
    pub objref: VarTarget,
    /// The field; `metadata.name` when empty.
    pub fieldref: VarFieldRef,
}

/// `objref` of a var.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VarTarget {
    /// `group/version` or `version`; overrides `group` and `version` when given.
    pub api_version: String,
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
}

/// `fieldref` of a var.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VarFieldRef {
    /// Dotted field path (`spec.ports[0].port` style accepted too); kustomize reads keys
    /// case-insensitively and its documentation writes `fieldpath`.
    #[serde(alias = "fieldpath")]
    pub field_path: String,
}

/// kustomize's built-in varreference configuration (api/internal/konfig/builtinpluginconsts/
/// varreference.go): (kind, field spec path) where `$(NAME)` is replaced; empty kind is any.
const VAR_REFERENCES: &[(&str, &str)] = &[
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/args",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/command",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/env/value",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/volumeMounts/mountPath",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/args",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/command",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/env/value",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/volumes/nfs/server",
    ),
    ("DaemonSet", "spec/template/spec/containers/args"),
    ("DaemonSet", "spec/template/spec/containers/command"),
    ("DaemonSet", "spec/template/spec/containers/env/value"),
    (
        "DaemonSet",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("DaemonSet", "spec/template/spec/initContainers/args"),
    ("DaemonSet", "spec/template/spec/initContainers/command"),
    ("DaemonSet", "spec/template/spec/initContainers/env/value"),
    (
        "DaemonSet",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("DaemonSet", "spec/template/spec/volumes/nfs/server"),
    ("Deployment", "spec/template/spec/containers/args"),
    ("Deployment", "spec/template/spec/containers/command"),
    ("Deployment", "spec/template/spec/containers/env/value"),
    (
        "Deployment",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("Deployment", "spec/template/spec/initContainers/args"),
    ("Deployment", "spec/template/spec/initContainers/command"),
    ("Deployment", "spec/template/spec/initContainers/env/value"),
    (
        "Deployment",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("Deployment", "spec/template/spec/volumes/nfs/server"),
    ("Deployment", "spec/template/metadata/annotations"),
    ("Ingress", "spec/rules/host"),
    ("Ingress", "spec/tls/hosts"),
    ("Ingress", "spec/tls/secretName"),
    ("Job", "spec/template/spec/containers/args"),
    ("Job", "spec/template/spec/containers/command"),
    ("Job", "spec/template/spec/containers/env/value"),
    (
        "Job",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("Job", "spec/template/spec/initContainers/args"),
    ("Job", "spec/template/spec/initContainers/command"),
    ("Job", "spec/template/spec/initContainers/env/value"),
    (
        "Job",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("Job", "spec/template/spec/volumes/nfs/server"),
    ("Pod", "spec/containers/args"),
    ("Pod", "spec/containers/command"),
    ("Pod", "spec/containers/env/value"),
    ("Pod", "spec/containers/volumeMounts/mountPath"),
    ("Pod", "spec/initContainers/args"),
    ("Pod", "spec/initContainers/command"),
    ("Pod", "spec/initContainers/env/value"),
    ("Pod", "spec/initContainers/volumeMounts/mountPath"),
    ("Pod", "spec/volumes/nfs/server"),
    ("ReplicaSet", "spec/template/spec/containers/args"),
    ("ReplicaSet", "spec/template/spec/containers/command"),
    ("ReplicaSet", "spec/template/spec/containers/env/value"),
    (
        "ReplicaSet",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("ReplicaSet", "spec/template/spec/initContainers/args"),
    ("ReplicaSet", "spec/template/spec/initContainers/command"),
    ("ReplicaSet", "spec/template/spec/initContainers/env/value"),
    (
        "ReplicaSet",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("ReplicaSet", "spec/template/spec/volumes/nfs/server"),
    ("Service", "spec/ports/port"),
    ("Service", "spec/ports/targetPort"),
    ("StatefulSet", "spec/template/spec/containers/args"),
    ("StatefulSet", "spec/template/spec/containers/command"),
    ("StatefulSet", "spec/template/spec/containers/env/value"),
    (
        "StatefulSet",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("StatefulSet", "spec/template/spec/initContainers/args"),
    ("StatefulSet", "spec/template/spec/initContainers/command"),
    ("StatefulSet", "spec/template/spec/initContainers/env/value"),
    (
        "StatefulSet",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("StatefulSet", "spec/volumeClaimTemplates/spec/nfs/server"),
    ("PersistentVolume", "spec/nfs/server"),
    ("", "metadata/labels"),
    ("", "metadata/annotations"),
];

impl Var {
    /// The id `objref` names (`apiVersion` overrides `group` and `version`).
    fn target_id(&self) -> ResId {
        let o = &self.objref;
        let (group, version) = if o.api_version.is_empty() {
            (o.group.as_str(), o.version.as_str())
        } else {
            split_api_version(&o.api_version)
        };
        ResId {
            group: group.to_string(),
            version: version.to_string(),
            kind: o.kind.clone(),
            name: o.name.clone(),
            namespace: o.namespace.clone(),
        }
    }

    fn err(&self, message: impl Into<String>) -> PatchError {
        PatchError::Var {
            name: self.name.clone(),
            message: message.into(),
        }
    }
}

/// Binds each var to the one object its `objref` names (by current or previous id), as
/// kustomize does when a kustomization declares it: the binding is an internal annotation
/// ([`REF_VAR_NAMES`]) that survives later renames; no match leaves the var unbound, more than
/// one is an error.
pub fn bind_vars<T: BorrowMut<Value>>(objects: &mut [T], vars: &[Var]) -> Result<(), PatchError> {
    for var in vars {
        let target = var.target_id();
        // An empty namespace matches any namespace (kustomize keeps this for compatibility).
        let exact_ns = !target.namespace.is_empty() || target.is_cluster_scoped();
        let matches = |id: &ResId| {
            id.group == target.group
                && id.version == target.version
                && id.kind == target.kind
                && id.name == target.name
                && (!exact_ns || id.effective_namespace() == target.effective_namespace())
        };
        let matched: Vec<usize> = objects
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                let o = (*o).borrow();
                !o.is_null() && res_ids(o).iter().any(matches)
            })
            .map(|(i, _)| i)
            .collect();
        match matched.as_slice() {
            [] => {}
            [i] => add_binding(objects[*i].borrow_mut(), &var.name),
            many => {
                return Err(var.err(format!(
                    "found {} resId matches for var {} (unable to disambiguate)",
                    many.len(),
                    target
                )));
            }
        }
    }
    Ok(())
}

fn add_binding(obj: &mut Value, name: &str) {
    let mut names: Vec<String> = string_map(obj, "annotations")
        .get(REF_VAR_NAMES)
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if names.iter().any(|n| n == name) {
        return;
    }
    names.push(name.to_string());
    if let Some(a) = annotations_mut(obj) {
        a.insert(REF_VAR_NAMES.to_string(), Value::String(names.join(",")));
    }
}

/// Reads each var's value from the object bound to it (after all transforms), refusing
/// duplicate names and unbound vars with kustomize's messages.
pub fn resolve_vars<T: Borrow<Value>>(
    objects: &[T],
    vars: &[Var],
) -> Result<BTreeMap<String, Value>, PatchError> {
    let mut out = BTreeMap::new();
    for var in vars {
        if out.contains_key(&var.name) {
            return Err(var.err(format!("var '{}' already encountered", var.name)));
        }
        let bound = objects.iter().map(Borrow::borrow).find(|o| {
            string_map(o, "annotations")
                .get(REF_VAR_NAMES)
                .is_some_and(|names| names.split(',').any(|n| n == var.name))
        });
        let Some(obj) = bound else {
            return Err(var.err(format!(
                "var '{}' cannot be mapped to a field in the set of known resources",
                var.name
            )));
        };
        let path = if var.fieldref.field_path.is_empty() {
            "metadata.name"
        } else {
            &var.fieldref.field_path
        };
        let not_found = || {
            var.err(format!(
                "field specified in var '{}' (fieldPath `{path}`) not found in corresponding \
                 resource {}",
                var.name,
                ResId::of(obj)
            ))
        };
        let value = FieldPath::parse_var(path)
            .map_err(|_| not_found())?
            .lookup(obj)
            .map_err(|_| not_found())?
            .ok_or_else(not_found)?;
        out.insert(var.name.clone(), value.clone());
    }
    Ok(out)
}

/// Replaces `$(NAME)` in the fields of kustomize's built-in varreference configuration plus
/// `extra` field specs (from `configurations`); returns the names of vars never used.
pub fn substitute_vars<T: BorrowMut<Value>>(
    objects: &mut [T],
    values: &BTreeMap<String, Value>,
    extra: &[FieldSpec],
) -> Result<Vec<String>, PatchError> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let mut specs: Vec<FieldSpec> = VAR_REFERENCES
        .iter()
        .map(|(kind, path)| FieldSpec {
            kind: kind.to_string(),
            path: path.to_string(),
            ..FieldSpec::default()
        })
        .collect();
    specs.extend(extra.iter().cloned());
    let paths = specs
        .iter()
        .map(|s| FieldPath::parse_fieldspec(&s.path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut used: BTreeMap<&str, usize> = BTreeMap::new();
    for obj in objects.iter_mut() {
        let obj = obj.borrow_mut();
        if obj.is_null() {
            continue;
        }
        let id = ResId::of(obj);
        for (spec, path) in specs.iter().zip(&paths) {
            if !spec.applies_to(obj) {
                continue;
            }
            // As in kustomize, var references never create fields.
            path.visit_mut(obj, None, &mut |node| {
                substitute_node(node, values, &mut used)
            })
            .map_err(|e| PatchError::VarReference {
                field: spec.path.clone(),
                object: id.to_string(),
                message: match e {
                    PatchError::FieldPath { message, .. } => message,
                    PatchError::VarReference { message, .. } => message,
                    other => other.to_string(),
                },
            })?;
        }
    }
    Ok(values
        .keys()
        .filter(|k| !used.contains_key(k.as_str()))
        .cloned()
        .collect())
}

/// kustomize refvar `Filter.set`: strings in a scalar, a map's values or a list.
fn substitute_node<'a>(
    node: &mut Value,
    values: &'a BTreeMap<String, Value>,
    used: &mut BTreeMap<&'a str, usize>,
) -> Result<(), PatchError> {
    match node {
        Value::String(s) => *node = expand(s, values, used),
        Value::Object(map) => {
            for v in map.values_mut() {
                if let Value::String(s) = v {
                    *v = expand(s, values, used);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                let Value::String(s) = item else {
                    return Err(PatchError::VarReference {
                        field: String::new(),
                        object: String::new(),
                        message: "invalid value type expect a string".to_string(),
                    });
                };
                *item = expand(s, values, used);
            }
        }
        _ => {}
    }
    Ok(())
}

/// kustomize refvar `DoReplacements`: `$(NAME)` becomes the var's value (keeping a number or
/// boolean type when it is the whole string), `$$` becomes `$`, unknown names stay.
fn expand<'a>(
    input: &str,
    values: &'a BTreeMap<String, Value>,
    used: &mut BTreeMap<&'a str, usize>,
) -> Value {
    let mut lookup = |name: &str| -> Option<&'a Value> {
        let (key, v) = values.get_key_value(name)?;
        if v.is_object() || v.is_array() || v.is_null() {
            return None;
        }
        *used.entry(key.as_str()).or_default() += 1;
        Some(v)
    };
    if let Some(name) = input.strip_prefix("$(").and_then(|r| r.strip_suffix(')'))
        && !name.contains(')')
    {
        return match lookup(name) {
            Some(v) => v.clone(),
            None => Value::String(input.to_string()),
        };
    }
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match bytes[cursor + 1] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest[1..].find(')') {
                    Some(end) => {
                        let name = &rest[1..1 + end];
                        match lookup(name) {
                            Some(v) => out.push_str(&display(v)),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        end + 2
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    let c = rest.chars().next().unwrap_or_default();
                    out.push('$');
                    out.push(c);
                    c.len_utf8()
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint < input.len() {
        out.push_str(&input[checkpoint..]);
    }
    Value::String(out)
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Deserialize)]
    struct Fixture {
        cases: Vec<ExpandCase>,
    }

    #[derive(Deserialize)]
    struct ExpandCase {
        source: String,
        input: String,
        expected: String,
        counts: BTreeMap<String, usize>,
    }

    // kustomize api/filters/refvar/expand_test.go TestMapping, ported by
    // scripts/port-kustomize-patch-tests.py (Apache-2.0).
    #[test]
    fn kustomize_expansion_cases_pass() {
        let fixture: Fixture =
            serde_json::from_str(include_str!("testdata/kustomize-refvar-expand.json")).unwrap();
        let values: BTreeMap<String, Value> = [
            ("VAR_A", "A"),
            ("VAR_B", "B"),
            ("VAR_C", "C"),
            ("VAR_REF", "$(VAR_A)"),
            ("VAR_EMPTY", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
        assert!(fixture.cases.len() >= 30);
        for case in &fixture.cases {
            let mut used = BTreeMap::new();
            let out = expand(&case.input, &values, &mut used);
            assert_eq!(out, json!(case.expected), "{}", case.source);
            let used: BTreeMap<String, usize> =
                used.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            assert_eq!(used, case.counts, "{}", case.source);
        }
    }

    // After kustomize api/filters/refvar/refvar_test.go TestFilter: whole-string references
    // keep the value's type, strings in lists and maps are expanded.
    #[test]
    fn whole_references_keep_their_type() {
        let values: BTreeMap<String, Value> = [
            ("FOO", json!("foo")),
            ("BAR", json!("bar")),
            ("BOOL", json!(false)),
            ("FLOAT", json!(1.23)),
            ("NUM", json!(5)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut objs = vec![json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "dep", "labels": {"a": "$(FOO)", "n": "$(NUM)"}},
            "spec": {"template": {"spec": {"containers": [{
                "name": "c",
                "args": ["$(FOO)", "$(BAR)", "$(BAZ)", "$(FOO)+$(BAR)", "$(BOOL)", "$(FLOAT)"],
                "env": [{"name": "E", "value": "x-$(NUM)"}]
            }]}}}
        })];
        let unused = substitute_vars(&mut objs, &values, &[]).unwrap();
        let c = &objs[0]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            c["args"],
            json!(["foo", "bar", "$(BAZ)", "foo+bar", false, 1.23])
        );
        assert_eq!(c["env"][0]["value"], json!("x-5"));
        assert_eq!(objs[0]["metadata"]["labels"], json!({"a": "foo", "n": 5}));
        assert!(unused.is_empty(), "{unused:?}");

        let extra = [FieldSpec {
            kind: "Deployment".into(),
            path: "spec/replicas".into(),
            ..FieldSpec::default()
        }];
        let mut objs = vec![json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                   "metadata": {"name": "dep"}, "spec": {"replicas": "$(NUM)"}})];
        let unused = substitute_vars(&mut objs, &values, &extra).unwrap();
        assert_eq!(objs[0]["spec"]["replicas"], json!(5));
        assert_eq!(unused, ["BAR", "BOOL", "FLOAT", "FOO"]);
    }

    #[test]
    fn non_string_list_items_are_refused_with_the_field_and_object() {
        let extra = [FieldSpec {
            path: "data/slice".into(),
            ..FieldSpec::default()
        }];
        let values: BTreeMap<String, Value> = [("A".to_string(), json!("a"))].into();
        let mut objs = vec![json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                   "metadata": {"name": "dep"}, "data": {"slice": [5]}})];
        let err = substitute_vars(&mut objs, &values, &extra).unwrap_err();
        assert_eq!(
            err.to_string(),
            "considering field 'data/slice' of object Deployment.v1.apps/dep.[noNs]: invalid value type expect a string"
        );
    }

    fn var(name: &str, kind: &str, obj: &str, path: &str) -> Var {
        Var {
            name: name.into(),
            objref: VarTarget {
                api_version: if kind == "Service" {
                    "v1".into()
                } else {
                    "apps/v1".into()
                },
                kind: kind.into(),
                name: obj.into(),
                ..VarTarget::default()
            },
            fieldref: VarFieldRef {
                field_path: path.into(),
            },
        }
    }

    // After kustomize api/krusty vars tests: vars bind to the object before a prefix and read
    // it after; ports[0] style paths work; errors name the var.
    #[test]
    fn vars_bind_early_and_resolve_after_renames() {
        let mut objs = vec![
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
                   "spec": {"ports": [{"port": 5432}]}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
                   "spec": {"template": {"spec": {"containers": [{"name": "c",
                     "command": ["run", "--db=$(DB):$(DB_PORT)"]}]}}}}),
        ];
        let vars = [
            var("DB", "Service", "db", ""),
            var("DB_PORT", "Service", "db", "spec.ports[0].port"),
        ];
        bind_vars(&mut objs, &vars).unwrap();
        super::super::selector::store_previous_id(&mut objs[0]);
        objs[0]["metadata"]["name"] = json!("prod-db");
        let values = resolve_vars(&objs, &vars).unwrap();
        assert_eq!(values["DB"], json!("prod-db"));
        assert_eq!(values["DB_PORT"], json!(5432));
        substitute_vars(&mut objs, &values, &[]).unwrap();
        assert_eq!(
            objs[1]["spec"]["template"]["spec"]["containers"][0]["command"],
            json!(["run", "--db=prod-db:5432"])
        );

        let unbound = [var("X", "Service", "missing", "")];
        bind_vars(&mut objs, &unbound).unwrap();
        let err = resolve_vars(&objs, &unbound).unwrap_err();
        assert_eq!(
            err.to_string(),
            "var `X`: var 'X' cannot be mapped to a field in the set of known resources"
        );
        let twice = [
            var("DB", "Service", "db", ""),
            var("DB", "Service", "db", ""),
        ];
        assert!(
            resolve_vars(&objs, &twice)
                .unwrap_err()
                .to_string()
                .contains("already encountered")
        );
        let bad_path = [var("DB", "Service", "db", "spec.nope")];
        assert!(
            resolve_vars(&objs, &bad_path)
                .unwrap_err()
                .to_string()
                .contains("not found")
        );
    }

    #[test]
    fn a_var_matching_two_objects_is_refused() {
        let mut objs = vec![
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "a"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "b"}}),
        ];
        let err = bind_vars(&mut objs, &[var("DB", "Service", "db", "")]).unwrap_err();
        assert!(
            err.to_string().contains("found 2 resId matches for var"),
            "{err}"
        );
        let mut v = var("DB", "Service", "db", "");
        v.objref.namespace = "b".into();
        bind_vars(&mut objs, &[v]).unwrap();
        assert_eq!(
            objs[1]["metadata"]["annotations"][REF_VAR_NAMES],
            json!("DB")
        );
    }
}
