//! `patches` entries as kustomize's PatchTransformer applies them: deciding between a
//! strategic merge and a JSON 6902 patch, choosing the objects, and keeping their identity.

use std::borrow::BorrowMut;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::INTERNAL_ANNOTATION_PREFIX;
use super::error::PatchError;
use super::json6902::{json6902, parse_operations, yaml_options};
use super::schema::OpenApiSchema;
use super::selector::{ResId, Selector, annotations_mut, res_ids, store_previous_id};
use super::strategic::strategic_merge_with;

/// The body of a `patches` entry, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchContent {
    /// One or more strategic merge patch documents.
    Strategic(Vec<Value>),
    /// A list of RFC 6902 operations (checked).
    Json6902(Value),
}

/// `options` of a `patches` entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PatchOptions {
    /// A strategic merge patch may change `metadata.name`.
    pub allow_name_change: bool,
    /// A strategic merge patch may change `kind`.
    pub allow_kind_change: bool,
}

/// What a patch did, by index into the objects given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchOutcome {
    /// Objects the patch changed (or at least matched and merged into).
    pub changed: Vec<usize>,
    /// Objects the patch deleted (`$patch: delete`); they are left as `Value::Null`.
    pub deleted: Vec<usize>,
}

/// Parses the text of a patch (`patch:` or the file of `path:`) as kustomize does: YAML or
/// JSON, a list of operations is a JSON 6902 patch, one or more objects a strategic merge
/// patch.
pub fn parse_patch(text: &str) -> Result<PatchContent, PatchError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(PatchError::Parse {
            message: "the patch is empty".to_string(),
        });
    }
    let docs: Vec<Value> = if text.starts_with('[') {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => vec![v],
            Err(_) => parse_documents(text)?,
        }
    } else {
        parse_documents(text)?
    };
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    match docs.as_slice() {
        [] => Err(PatchError::Parse {
            message: "the patch holds no document".to_string(),
        }),
        [ops @ Value::Array(_)] => {
            parse_operations(ops)?;
            Ok(PatchContent::Json6902(ops.clone()))
        }
        _ if docs.iter().all(Value::is_object) => {
            let mut patches = Vec::new();
            for d in docs {
                patches.extend(inline_list(d));
            }
            Ok(PatchContent::Strategic(patches))
        }
        _ => Err(PatchError::Parse {
            message: "unable to parse SM or JSON patch: expected one or more objects (a \
                      strategic merge patch) or one list of operations (a JSON 6902 patch)"
                .to_string(),
        }),
    }
}

fn parse_documents(text: &str) -> Result<Vec<Value>, PatchError> {
    let opts = yaml_options(1000);
    serde_saphyr::from_multiple_with_options::<Value>(text, opts).map_err(|e| PatchError::Parse {
        message: e.to_string(),
    })
}

/// A `kind: ...List` document stands for its items, as in kustomize's resource factory.
fn inline_list(doc: Value) -> Vec<Value> {
    let is_list = doc
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"));
    match (is_list, doc.get("items")) {
        (true, Some(Value::Array(items))) => items.clone(),
        _ => vec![doc],
    }
}

/// Applies a parsed patch. With a `target`, to every object the selector matches (none is
/// not an error, as in kustomize); without one, a strategic merge patch applies to the one
/// object whose current or previous id equals the patch's own (`no matches for Id ...`
/// otherwise) and a JSON 6902 patch is refused. Names, namespaces and kinds stay unless the
/// options allow a change; a changed identity is recorded as a previous id.
pub fn apply_patch<T: BorrowMut<Value>>(
    objects: &mut [T],
    content: &PatchContent,
    target: Option<&Selector>,
    options: PatchOptions,
) -> Result<PatchOutcome, PatchError> {
    apply_patch_with(objects, content, target, options, None)
}

/// [`apply_patch`] with a user's OpenAPI document (a kustomization's `openapi: path:`) for the
/// merge keys of custom resources.
pub fn apply_patch_with<T: BorrowMut<Value>>(
    objects: &mut [T],
    content: &PatchContent,
    target: Option<&Selector>,
    options: PatchOptions,
    schema: Option<&OpenApiSchema>,
) -> Result<PatchOutcome, PatchError> {
    let mut outcome = PatchOutcome::default();
    match content {
        PatchContent::Strategic(patches) => match target {
            Some(selector) => {
                let [patch] = patches.as_slice() else {
                    return Err(PatchError::Target {
                        message: "Multiple Strategic-Merge Patches in one `patches` entry is \
                                  not allowed to set `patches.target` field"
                            .to_string(),
                    });
                };
                let matcher = selector.compile()?;
                for (i, obj) in objects.iter_mut().enumerate() {
                    let obj = obj.borrow_mut();
                    if obj.is_null() || !matcher.matches(obj) {
                        continue;
                    }
                    let mut patch = patch.clone();
                    if let (Some(p), Some(api_version)) =
                        (patch.as_object_mut(), obj.get("apiVersion"))
                    {
                        p.insert("apiVersion".to_string(), api_version.clone());
                    }
                    merge_one(obj, &patch, options, schema, i, &mut outcome)?;
                }
            }
            None => {
                for patch in patches {
                    let id = ResId::of(patch);
                    let matches: Vec<usize> = objects
                        .iter()
                        .enumerate()
                        .filter(|(_, o)| {
                            let o = (*o).borrow();
                            !o.is_null() && res_ids(o).iter().any(|oid| ids_equal(oid, &id))
                        })
                        .map(|(i, _)| i)
                        .collect();
                    let i = match matches.as_slice() {
                        [i] => *i,
                        [] => {
                            return Err(PatchError::Target {
                                message: format!(
                                    "no resource matches strategic merge patch \"{id}\": no \
                                     matches for Id {id}; failed to find unique target for \
                                     patch {id}"
                                ),
                            });
                        }
                        _ => {
                            return Err(PatchError::Target {
                                message: format!(
                                    "no resource matches strategic merge patch \"{id}\": \
                                     multiple matches for Id {id}; failed to find unique target \
                                     for patch {id}"
                                ),
                            });
                        }
                    };
                    merge_one(
                        objects[i].borrow_mut(),
                        patch,
                        options,
                        schema,
                        i,
                        &mut outcome,
                    )?;
                }
            }
        },
        PatchContent::Json6902(ops) => {
            let Some(selector) = target else {
                return Err(PatchError::Target {
                    message: "must specify a target for JSON patch".to_string(),
                });
            };
            outcome = apply_json6902(objects, ops, selector, true)?;
        }
    }
    Ok(outcome)
}

/// Applies JSON 6902 operations to every object `selector` matches. With `record_previous_id`
/// (a `patches` entry), each object's id is first recorded as a previous id, so a renamed object
/// is still found by its old name; kustomize's legacy `patchesJson6902` transformer does not
/// record it, and later selectors and name references see only the new id.
pub fn apply_json6902<T: BorrowMut<Value>>(
    objects: &mut [T],
    ops: &Value,
    selector: &Selector,
    record_previous_id: bool,
) -> Result<PatchOutcome, PatchError> {
    let mut outcome = PatchOutcome::default();
    let matcher = selector.compile()?;
    for (i, obj) in objects.iter_mut().enumerate() {
        let obj = obj.borrow_mut();
        if obj.is_null() || !matcher.matches(obj) {
            continue;
        }
        if record_previous_id {
            store_previous_id(obj);
        }
        let internal = internal_annotations(obj);
        json6902(obj, ops)?;
        restore_annotations(obj, internal);
        outcome.changed.push(i);
    }
    Ok(outcome)
}

/// kustomize `ResId.Equals`: group, version, kind and name equal, namespaces equal as
/// effective namespaces.
fn ids_equal(a: &ResId, b: &ResId) -> bool {
    a.group == b.group
        && a.version == b.version
        && a.kind == b.kind
        && a.name == b.name
        && a.effective_namespace() == b.effective_namespace()
}

/// kustomize `Resource.ApplySmPatch`: merge, then put back the name, namespace and kind the
/// options do not allow to change.
fn merge_one(
    obj: &mut Value,
    patch: &Value,
    options: PatchOptions,
    schema: Option<&OpenApiSchema>,
    index: usize,
    outcome: &mut PatchOutcome,
) -> Result<(), PatchError> {
    let before = ResId::of(obj);
    let had_namespace = obj.pointer("/metadata/namespace").cloned();
    if options.allow_name_change || options.allow_kind_change {
        store_previous_id(obj);
    }
    strategic_merge_with(obj, patch, schema)?;
    if obj.is_null() {
        outcome.deleted.push(index);
        return Ok(());
    }
    if let Some(map) = obj.as_object_mut() {
        if !options.allow_kind_change {
            map.insert("kind".to_string(), Value::String(before.kind.clone()));
        }
        let meta = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            if !options.allow_name_change {
                meta.insert("name".to_string(), Value::String(before.name.clone()));
            }
            match had_namespace {
                Some(ns) => {
                    meta.insert("namespace".to_string(), ns);
                }
                None => {
                    meta.shift_remove("namespace");
                }
            }
        }
    }
    outcome.changed.push(index);
    Ok(())
}

fn internal_annotations(obj: &Value) -> Vec<(String, Value)> {
    obj.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.starts_with(INTERNAL_ANNOTATION_PREFIX))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn restore_annotations(obj: &mut Value, annotations: Vec<(String, Value)>) {
    if annotations.is_empty() {
        return;
    }
    if let Some(target) = annotations_mut(obj) {
        for (k, v) in annotations {
            target.insert(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn objects() -> Vec<Value> {
        vec![
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "labels": {"tier": "front"}},
                   "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "app", "image": "a"}]}}}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "api", "namespace": "prod", "labels": {"tier": "back"}},
                   "spec": {"replicas": 1}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}),
        ]
    }

    fn sm(text: &str) -> PatchContent {
        parse_patch(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn patch_text_is_told_apart_as_kustomize_does() {
        assert!(matches!(
            sm("- op: add\n  path: /a\n  value: 1\n"),
            PatchContent::Json6902(_)
        ));
        assert!(matches!(
            sm(r#"[{"op": "remove", "path": "/a"}]"#),
            PatchContent::Json6902(_)
        ));
        let PatchContent::Strategic(docs) =
            sm("kind: A\nmetadata: {name: a}\n---\nkind: B\nmetadata: {name: b}\n")
        else {
            panic!()
        };
        assert_eq!(docs.len(), 2);
        let PatchContent::Strategic(docs) = sm("kind: List\nitems: [{kind: A}, {kind: B}]") else {
            panic!()
        };
        assert_eq!(docs.len(), 2);
        assert!(parse_patch("").is_err());
        assert!(parse_patch("just a string").is_err());
        assert!(
            parse_patch("- op: frob\n  path: /a")
                .unwrap_err()
                .to_string()
                .contains("operation 0")
        );
    }

    // After kustomize api/krusty patch tests: a patch without target finds its object by id,
    // current or previous, and keeps the object's name.
    #[test]
    fn strategic_patch_without_target_finds_the_object_by_id() {
        let mut objs = objects();
        // A prefix applied earlier: the patch names the old name.
        store_previous_id(&mut objs[0]);
        objs[0]["metadata"]["name"] = json!("p-web");
        let patch =
            sm("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3}");
        let out = apply_patch(&mut objs, &patch, None, PatchOptions::default()).unwrap();
        assert_eq!(out.changed, [0]);
        assert_eq!(objs[0]["spec"]["replicas"], json!(3));
        assert_eq!(objs[0]["metadata"]["name"], json!("p-web"));

        let patch = sm(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nope}\nspec: {replicas: 3}",
        );
        let err = apply_patch(&mut objs, &patch, None, PatchOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no resource matches strategic merge patch \"Deployment.v1.apps/nope.[noNs]\": no matches for Id \
             Deployment.v1.apps/nope.[noNs]; failed to find unique target for patch Deployment.v1.apps/nope.[noNs]"
        );
        // The namespace counts: `api` lives in `prod`.
        let patch =
            sm("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec: {replicas: 3}");
        assert!(apply_patch(&mut objs, &patch, None, PatchOptions::default()).is_err());
    }

    #[test]
    fn targeted_strategic_patch_applies_to_every_match_and_keeps_identity() {
        let mut objs = objects();
        let patch = sm(
            "kind: Deployment\nmetadata: {name: any, namespace: elsewhere}\nspec: {replicas: 5}",
        );
        let target = Selector {
            kind: "Deploy.*".into(),
            ..Selector::default()
        };
        let out = apply_patch(&mut objs, &patch, Some(&target), PatchOptions::default()).unwrap();
        assert_eq!(out.changed, [0, 1]);
        assert_eq!(
            objs[0]["metadata"],
            json!({"name": "web", "labels": {"tier": "front"}})
        );
        assert_eq!(objs[1]["metadata"]["namespace"], json!("prod"));
        assert_eq!(objs[1]["spec"]["replicas"], json!(5));

        let target = Selector {
            label_selector: "tier in (back)".into(),
            ..Selector::default()
        };
        let patch = sm("kind: Deployment\nmetadata: {name: x}\n$patch: delete");
        let out = apply_patch(&mut objs, &patch, Some(&target), PatchOptions::default()).unwrap();
        assert_eq!(out.deleted, [1]);
        assert!(objs[1].is_null());

        let none = Selector {
            name: "nothing".into(),
            ..Selector::default()
        };
        let out = apply_patch(&mut objs, &patch, Some(&none), PatchOptions::default()).unwrap();
        assert_eq!(out, PatchOutcome::default());
    }

    #[test]
    fn name_and_kind_change_only_when_allowed() {
        let mut objs = objects();
        let patch = sm("apiVersion: v1\nkind: Service\nmetadata: {name: renamed}");
        let target = Selector {
            kind: "Service".into(),
            ..Selector::default()
        };
        apply_patch(&mut objs, &patch, Some(&target), PatchOptions::default()).unwrap();
        assert_eq!(objs[2]["metadata"]["name"], json!("web"));
        let allow = PatchOptions {
            allow_name_change: true,
            ..PatchOptions::default()
        };
        apply_patch(&mut objs, &patch, Some(&target), allow).unwrap();
        assert_eq!(objs[2]["metadata"]["name"], json!("renamed"));
        assert_eq!(
            objs[2]["metadata"]["annotations"]["internal.config.kubernetes.io/previousNames"],
            json!("web")
        );
    }

    #[test]
    fn json_patches_need_a_target_and_keep_internal_annotations() {
        let mut objs = objects();
        let ops = sm("- op: replace\n  path: /metadata/annotations\n  value: {a: b}");
        let err = apply_patch(&mut objs, &ops, None, PatchOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "must specify a target for JSON patch");
        let target = Selector {
            name: "web".into(),
            kind: "Service".into(),
            ..Selector::default()
        };
        let out = apply_patch(&mut objs, &ops, Some(&target), PatchOptions::default()).unwrap();
        assert_eq!(out.changed, [2]);
        let annotations = &objs[2]["metadata"]["annotations"];
        assert_eq!(annotations["a"], json!("b"));
        assert_eq!(
            annotations["internal.config.kubernetes.io/previousNames"],
            json!("web")
        );
    }

    // Seen in argo-cd's HA manifests (Helm-rendered `annotations:`): kustomize records the
    // previous id in a fresh annotations map, and its end-of-build cleanup then removes it.
    #[test]
    fn a_null_annotations_field_is_replaced_when_ids_are_recorded() {
        let mut objs = vec![json!({"apiVersion": "v1", "kind": "Service",
                                   "metadata": {"name": "s", "namespace": "x", "annotations": null}})];
        let ops = sm("- {op: remove, path: /metadata/namespace}");
        let target = Selector {
            kind: "Service".into(),
            ..Selector::default()
        };
        apply_patch(&mut objs, &ops, Some(&target), PatchOptions::default()).unwrap();
        crate::render::patch::strip_internal_annotations(&mut objs[0]);
        assert_eq!(
            objs[0],
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}})
        );
    }
}
