//! What applying would change, per object: the live object against the server's dry-run
//! answer, with server-managed noise removed and Secret values never shown.

use std::collections::BTreeMap;

use serde_json::Value;
use similar::TextDiff;

use super::compare::{strip_run_annotations, strip_server_fields};
use super::live::Live;
use super::{PlannedObject, Preflight};
use crate::event::ObjectRef;
use crate::manifest::ObjectKey;
use crate::render::secrets::{is_secret, redact_decrypted};

pub use crate::event::{DiffKind, KeyChange, ObjectDiff};

/// Computes the difference for a planned object (its dry-run answer must have been kept).
pub fn object_diff(o: &PlannedObject) -> ObjectDiff {
    let key = o.manifest.key();
    let origin = o.manifest.origin.clone();
    let secret = is_secret(&o.manifest.object);
    let new = o
        .dry_run
        .clone()
        .unwrap_or_else(|| o.manifest.object.clone());
    let mut old = match &o.live {
        Live::Present(v) => Some(v.as_ref().clone()),
        _ => None,
    };
    let mut new = new;
    redact_decrypted_pair(old.as_mut(), &mut new);
    let secret_keys = if secret {
        secret_key_changes(old.as_ref(), &new)
    } else {
        BTreeMap::new()
    };
    let new_text = to_yaml(normalized(new, secret));
    let (kind, text) = match old {
        Some(_) if o.preflight == Preflight::Unchanged && o.dry_run.is_none() => {
            (DiffKind::Unchanged, String::new())
        }
        None => {
            let kind = if matches!(o.preflight, Preflight::Deferred(_)) || o.dry_run.is_none() {
                DiffKind::Unverified
            } else {
                DiffKind::Create
            };
            (kind, unified("", &new_text, &key))
        }
        Some(old) if matches!(o.preflight, Preflight::Deferred(_)) && o.dry_run.is_none() => {
            let old_text = to_yaml(normalized(old, secret));
            (DiffKind::Update, unified(&old_text, &new_text, &key))
        }
        Some(old) => {
            let old_text = to_yaml(normalized(old, secret));
            if old_text == new_text && secret_keys.is_empty() {
                (DiffKind::Unchanged, String::new())
            } else {
                (DiffKind::Update, unified(&old_text, &new_text, &key))
            }
        }
    };
    let note = match &o.preflight {
        Preflight::Deferred(why) if kind != DiffKind::Unchanged => Some(why.clone()),
        _ => None,
    };
    ObjectDiff {
        object: ObjectRef::new(key, Some(origin)),
        kind,
        text,
        secret_keys,
        note,
    }
}

/// Hides values decrypted from SOPS files in both versions of an object: where the new one holds
/// a decrypted value, the live one is hidden at the same place too (it holds an earlier value of
/// the same secret), marked `changed` when it differs.
fn redact_decrypted_pair(old: Option<&mut Value>, new: &mut Value) {
    let before = new.clone();
    let paths = redact_decrypted(new);
    if let Some(old) = old {
        for p in &paths {
            let was = before.pointer(p);
            if let Some(v) = old.pointer_mut(p) {
                if Some(&*v) == was {
                    if let Some(n) = new.pointer(p) {
                        *v = n.clone();
                    }
                } else {
                    *v = Value::String(format!("{} (changed)", crate::render::secrets::REDACTED));
                }
            }
        }
        redact_decrypted(old);
    }
}

fn normalized(mut v: Value, secret: bool) -> Value {
    strip_server_fields(&mut v);
    strip_run_annotations(&mut v);
    if secret && let Value::Object(m) = &mut v {
        m.remove("data");
        m.remove("stringData");
        if let Some(Value::Object(a)) = m
            .get_mut("metadata")
            .and_then(|md| md.get_mut("annotations"))
        {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    canonical_order(v, true)
}

/// The same value with keys in one order on both sides (the live object from a LIST has
/// `apiVersion` and `kind` last; the server's answer has them first): `apiVersion`, `kind`,
/// `metadata` lead at the top level, every other key is sorted, as `kubectl get -o yaml` does.
fn canonical_order(v: Value, top: bool) -> Value {
    match v {
        Value::Object(m) => {
            let rank = |k: &str| match (top, k) {
                (true, "apiVersion") => 0,
                (true, "kind") => 1,
                (true, "metadata") => 2,
                _ => 3,
            };
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical_order(v, false)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| canonical_order(v, false))
                .collect(),
        ),
        other => other,
    }
}

fn to_yaml(v: Value) -> String {
    serde_saphyr::to_string(&v).unwrap_or_else(|e| format!("# cannot print as YAML: {e}\n"))
}

fn unified(old: &str, new: &str, key: &ObjectKey) -> String {
    let label = key.to_string();
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{label}"), &format!("applied/{label}"))
        .to_string()
}

/// Secret keys as bytes: `data` (base64) plus `stringData` (plain, as the API merges it).
fn secret_values(obj: &Value) -> BTreeMap<String, Vec<u8>> {
    use base64::Engine;
    let mut out = BTreeMap::new();
    if let Some(Value::Object(d)) = obj.get("data") {
        for (k, v) in d {
            let bytes = v
                .as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .unwrap_or_default();
            out.insert(k.clone(), bytes);
        }
    }
    if let Some(Value::Object(d)) = obj.get("stringData") {
        for (k, v) in d {
            out.insert(
                k.clone(),
                v.as_str().unwrap_or_default().as_bytes().to_vec(),
            );
        }
    }
    out
}

fn secret_key_changes(old: Option<&Value>, new: &Value) -> BTreeMap<String, KeyChange> {
    let before = old.map(secret_values).unwrap_or_default();
    let after = secret_values(new);
    let mut out = BTreeMap::new();
    for (k, v) in &after {
        match before.get(k) {
            None => {
                out.insert(k.clone(), KeyChange::Added);
            }
            Some(b) if b != v => {
                out.insert(k.clone(), KeyChange::Changed);
            }
            _ => {}
        }
    }
    for k in before.keys().filter(|k| !after.contains_key(*k)) {
        out.insert(k.clone(), KeyChange::Removed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use crate::manifest::Origin;
    use crate::plan::Wave;
    use serde_json::json;

    fn planned(object: Value, live: Option<Value>, dry: Value) -> PlannedObject {
        PlannedObject {
            manifest: Manifest::new(Origin::new("a.yaml", 1), object),
            target: None,
            wave: Wave::Config,
            live: live
                .map(|v| Live::Present(Box::new(v)))
                .unwrap_or(Live::Absent),
            live_resource_version: None,
            live_fingerprint: None,
            preflight: Preflight::Update,
            dry_run: Some(dry),
        }
    }

    #[test]
    fn a_changed_field_shows_in_a_unified_diff_without_noise() {
        let live = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","resourceVersion":"1",
            "annotations":{"kpush.dev/commit":"a"}},"data":{"k":"old"}});
        let dry = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","resourceVersion":"1",
            "annotations":{"kpush.dev/commit":"b"}},"data":{"k":"new"}});
        let d = object_diff(&planned(dry.clone(), Some(live), dry));
        assert_eq!(d.kind, DiffKind::Update);
        assert!(
            d.text.contains("-  k: old") && d.text.contains("+  k: new"),
            "{}",
            d.text
        );
        assert!(
            !d.text.contains("resourceVersion") && !d.text.contains("kpush.dev"),
            "{}",
            d.text
        );
    }

    #[test]
    fn values_decrypted_from_sops_never_appear_in_a_diff_of_any_kind() {
        crate::render::secrets::register_decrypted(&["new-db-password-1".to_string()]);
        let env = |v: &str| {
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},
                "data":{"dsn":format!("postgres://u:{v}@db"),"plain":"same"}})
        };
        // The live object holds an earlier value of the secret: hidden too, marked changed.
        let live = env("old-db-password-0");
        let dry = env("new-db-password-1");
        let d = object_diff(&planned(dry.clone(), Some(live.clone()), dry.clone()));
        assert_eq!(d.kind, DiffKind::Update);
        assert!(
            !d.text.contains("password-1") && !d.text.contains("password-0"),
            "{}",
            d.text
        );
        assert!(d.text.contains("(changed)"), "{}", d.text);
        // Unchanged: no difference shown.
        let d = object_diff(&planned(dry.clone(), Some(dry.clone()), dry));
        assert_eq!(d.kind, DiffKind::Unchanged, "{}", d.text);
    }

    #[test]
    fn secret_values_never_appear_only_key_changes() {
        let live = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
            "data":{"user":"YWRtaW4=","password":"b2xkcGFzcw==","gone":"eA=="}});
        let dry = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
            "data":{"user":"YWRtaW4=","password":"bmV3cGFzcw==","token":"dA=="}});
        let d = object_diff(&planned(dry.clone(), Some(live), dry));
        assert_eq!(d.kind, DiffKind::Update);
        assert!(!d.text.contains("b2xkcGFzcw") && !d.text.contains("bmV3cGFzcw"));
        assert_eq!(d.secret_keys["password"], KeyChange::Changed);
        assert_eq!(d.secret_keys["token"], KeyChange::Added);
        assert_eq!(d.secret_keys["gone"], KeyChange::Removed);
        assert!(!d.secret_keys.contains_key("user"));
    }

    #[test]
    fn key_order_alone_is_no_difference() {
        // A live object read by LIST carries apiVersion and kind last.
        let live = json!({"metadata":{"name":"c"},"data":{"b":"2","a":"1"},"apiVersion":"v1","kind":"ConfigMap"});
        let dry = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1","b":"2"}});
        let d = object_diff(&planned(dry.clone(), Some(live), dry));
        assert_eq!(d.kind, DiffKind::Unchanged, "{}", d.text);
    }
}
