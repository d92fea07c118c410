//! Proving, without asking the server, that server-side apply would change nothing.
//!
//! The live object records which fields manager `kpush` set through Apply
//! (`metadata.managedFields[].fieldsV1`). If the manifest sets exactly those fields, and each to
//! the value the live object holds, then applying merges nothing new and releases nothing: the
//! result is the live object. kpush then skips both the dry-run and the PATCH for that object,
//! which makes an unchanged re-apply cost one LIST per collection.
//!
//! The check is conservative: anything it does not fully understand (another API version,
//! index-keyed lists, a value spelled differently from the server's canonical form such as
//! `cpu: 0.5` vs `500m`) answers "not proven", and the object goes through the dry-run as usual.
//! The `kpush.dev/*` run annotations must be present but their values may differ (see
//! [`super::compare`]).

use serde_json::{Map, Value};

use crate::render::metadata::RUN_ANNOTATION_PREFIX;

/// Whether applying `config` with `manager` is proven to leave `live` unchanged.
pub fn proven_unchanged(config: &Value, live: &Value, manager: &str) -> bool {
    let api_version = config.get("apiVersion").and_then(Value::as_str);
    let Some(fields) = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .and_then(|entries| {
            let mut ours = entries.iter().filter(|e| {
                e["manager"].as_str() == Some(manager) && e["operation"].as_str() == Some("Apply")
            });
            let first = ours.next()?;
            // More than one Apply entry for the same manager (e.g. per subresource): not handled.
            if ours.next().is_some() || first["apiVersion"].as_str() != api_version {
                return None;
            }
            first["fieldsV1"].as_object()
        })
    else {
        return false;
    };
    let Some(config) = config.as_object() else {
        return false;
    };
    let mut top = config.clone();
    top.remove("apiVersion");
    top.remove("kind");
    if let Some(Value::Object(md)) = top.get_mut("metadata") {
        md.remove("name");
        md.remove("namespace");
        if md.is_empty() {
            top.remove("metadata");
        }
    }
    map_matches(&top, live, fields, Path::Top)
}

#[derive(Clone, Copy, PartialEq)]
enum Path {
    Top,
    Metadata,
    Annotations,
    Other,
}

fn children(fs: &Map<String, Value>) -> impl Iterator<Item = (&String, &Value)> {
    fs.iter().filter(|(k, _)| k.as_str() != ".")
}

fn map_matches(
    config: &Map<String, Value>,
    live: &Value,
    fs: &Map<String, Value>,
    path: Path,
) -> bool {
    let Some(live) = live.as_object() else {
        return false;
    };
    let mut owned = 0;
    for (k, _) in children(fs) {
        let Some(name) = k.strip_prefix("f:") else {
            return false;
        };
        if path == Path::Metadata && (name == "name" || name == "namespace") {
            continue;
        }
        if !config.contains_key(name) {
            return false; // kpush owns a field the manifest no longer sets: apply would remove it
        }
        owned += 1;
    }
    if owned != config.len() {
        return false; // the manifest sets a field kpush does not own yet
    }
    config.iter().all(|(k, cv)| {
        let Some(sub) = fs.get(&format!("f:{k}")).and_then(Value::as_object) else {
            return false;
        };
        let Some(lv) = live.get(k) else { return false };
        if path == Path::Annotations && k.starts_with(RUN_ANNOTATION_PREFIX) {
            return true;
        }
        let next = match (path, k.as_str()) {
            (Path::Top, "metadata") => Path::Metadata,
            (Path::Metadata, "annotations") => Path::Annotations,
            _ => Path::Other,
        };
        value_matches(cv, lv, sub, next)
    })
}

fn value_matches(cv: &Value, lv: &Value, fs: &Map<String, Value>, path: Path) -> bool {
    let atomic = children(fs).next().is_none();
    match cv {
        Value::Object(m) if !atomic => map_matches(m, lv, fs, path),
        Value::Array(items) if !atomic => list_matches(items, lv, fs),
        _ => cv == lv,
    }
}

fn list_matches(items: &[Value], live: &Value, fs: &Map<String, Value>) -> bool {
    let Some(live_items) = live.as_array() else {
        return false;
    };
    let entries: Vec<(&String, &Value)> = children(fs).collect();
    if entries.len() != items.len() {
        return false;
    }
    if entries.iter().all(|(k, _)| k.starts_with("v:")) {
        // A set of scalars: each item owned and present live.
        return items
            .iter()
            .all(|item| fs.contains_key(&format!("v:{item}")) && live_items.contains(item));
    }
    if !entries.iter().all(|(k, _)| k.starts_with("k:")) {
        return false;
    }
    let mut keyed = Vec::with_capacity(entries.len());
    for (k, sub) in entries {
        let Ok(Value::Object(key)) = serde_json::from_str::<Value>(&k[2..]) else {
            return false;
        };
        let Some(sub) = sub.as_object() else {
            return false;
        };
        keyed.push((key, sub));
    }
    let matches_key =
        |item: &Value, key: &Map<String, Value>| key.iter().all(|(f, v)| item.get(f) == Some(v));
    items.iter().all(|item| {
        let Some(cm) = item.as_object() else {
            return false;
        };
        let mut owners = keyed.iter().filter(|(key, _)| matches_key(item, key));
        let (Some((key, sub)), None) = (owners.next(), owners.next()) else {
            return false;
        };
        let mut live_matches = live_items.iter().filter(|l| matches_key(l, key));
        let (Some(live_item), None) = (live_matches.next(), live_matches.next()) else {
            return false;
        };
        map_matches(cm, live_item, sub, Path::Other)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(image: &str, fields: Value) -> Value {
        json!({"apiVersion":"apps/v1","kind":"Deployment",
          "metadata":{"name":"web","namespace":"shop","uid":"u","resourceVersion":"9",
            "labels":{"app":"web"},"annotations":{"kpush.dev/commit":"aaa","deployment.kubernetes.io/revision":"1"},
            "managedFields":[{"manager":"kpush","operation":"Apply","apiVersion":"apps/v1","fieldsV1":fields},
                             {"manager":"kube-controller-manager","operation":"Update","apiVersion":"apps/v1","fieldsV1":{"f:status":{}}}]},
          "spec":{"replicas":1,"strategy":{"type":"RollingUpdate"},"template":{"spec":{"containers":[
            {"name":"app","image":image,"imagePullPolicy":"IfNotPresent","ports":[{"containerPort":8080,"protocol":"TCP"}],"args":["a","b"]}]}}},
          "status":{"replicas":1}})
    }

    fn fields() -> Value {
        json!({"f:metadata":{"f:labels":{".":{},"f:app":{}},"f:annotations":{".":{},"f:kpush.dev/commit":{}}},
          "f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},
            "f:name":{},"f:image":{},"f:args":{},"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}}}}}}}})
    }

    fn config(image: &str, commit: &str) -> Value {
        json!({"apiVersion":"apps/v1","kind":"Deployment",
          "metadata":{"name":"web","namespace":"shop","labels":{"app":"web"},"annotations":{"kpush.dev/commit":commit}},
          "spec":{"replicas":1,"template":{"spec":{"containers":[
            {"name":"app","image":image,"args":["a","b"],"ports":[{"containerPort":8080,"protocol":"TCP"}]}]}}}})
    }

    #[test]
    fn same_fields_and_values_are_proven_unchanged_even_with_new_run_annotations() {
        assert!(proven_unchanged(
            &config("web:1", "aaa"),
            &live("web:1", fields()),
            "kpush"
        ));
        assert!(proven_unchanged(
            &config("web:1", "bbb"),
            &live("web:1", fields()),
            "kpush"
        ));
    }

    #[test]
    fn a_changed_value_an_added_or_a_dropped_field_is_not() {
        assert!(!proven_unchanged(
            &config("web:2", "aaa"),
            &live("web:1", fields()),
            "kpush"
        ));
        let mut added = config("web:1", "aaa");
        added["spec"]["minReadySeconds"] = json!(5);
        assert!(!proven_unchanged(&added, &live("web:1", fields()), "kpush"));
        let mut dropped = config("web:1", "aaa");
        dropped["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("labels");
        assert!(!proven_unchanged(
            &dropped,
            &live("web:1", fields()),
            "kpush"
        ));
        let mut reordered = config("web:1", "aaa");
        reordered["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["b", "a"]);
        assert!(!proven_unchanged(
            &reordered,
            &live("web:1", fields()),
            "kpush"
        ));
    }

    #[test]
    fn another_manager_or_api_version_is_not_proven() {
        assert!(!proven_unchanged(
            &config("web:1", "aaa"),
            &live("web:1", fields()),
            "other"
        ));
        let mut v1beta1 = config("web:1", "aaa");
        v1beta1["apiVersion"] = json!("apps/v1beta1");
        assert!(!proven_unchanged(
            &v1beta1,
            &live("web:1", fields()),
            "kpush"
        ));
    }
}
