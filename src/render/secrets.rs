//! Keeping Secret values out of output: redaction for printing and diffs.
//!
//! Values decrypted from SOPS files are secret wherever they end up (a ConfigMap, an env
//! value): render registers them here ([`register_decrypted`]) and every object's string that
//! holds one is redacted and listed for masking like a Secret's data.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use serde_json::Value;

/// Values decrypted from SOPS files during this process.
static DECRYPTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Decrypted values shorter than this are redacted only where a whole field equals them, so
/// that a short value (`on`, `42`) does not hide every string that happens to contain it.
const CONTAINS_MIN: usize = 6;

/// Registers values decrypted from SOPS files: from now on they are redacted wherever they
/// appear in printed objects and diffs, and [`values`] lists them for masking.
pub fn register_decrypted(values: &[String]) {
    let mut set = DECRYPTED.lock().unwrap_or_else(PoisonError::into_inner);
    set.extend(values.iter().filter(|v| !v.trim().is_empty()).cloned());
}

/// Whether a string holds a value decrypted from a SOPS file.
pub fn holds_decrypted(s: &str) -> bool {
    let set = DECRYPTED.lock().unwrap_or_else(PoisonError::into_inner);
    if set.is_empty() {
        return false;
    }
    set.contains(s)
        || set
            .iter()
            .any(|v| v.len() >= CONTAINS_MIN && s.contains(v.as_str()))
}

/// Replaces, in place, every string of `v` that holds a decrypted value by a placeholder; the
/// paths changed are returned (JSON pointers) so that another version of the object (the live
/// one, in a diff) can be redacted at the same places.
pub fn redact_decrypted(v: &mut Value) -> Vec<String> {
    let mut paths = Vec::new();
    redact_walk(v, String::new(), &mut paths);
    paths
}

fn redact_walk(v: &mut Value, at: String, paths: &mut Vec<String>) {
    match v {
        Value::String(s) if holds_decrypted(s) => {
            *v = Value::String(format!("{REDACTED} ({} bytes)", s.len()));
            paths.push(at);
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                redact_walk(item, format!("{at}/{i}"), paths);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                let k = k.replace('~', "~0").replace('/', "~1");
                redact_walk(item, format!("{at}/{k}"), paths);
            }
        }
        _ => {}
    }
}

/// Whether printing `obj` needs redaction: a Secret, or an object holding a decrypted value.
pub fn needs_redaction(obj: &Value) -> bool {
    if is_secret(obj) {
        return true;
    }
    fn any(v: &Value) -> bool {
        match v {
            Value::String(s) => holds_decrypted(s),
            Value::Array(a) => a.iter().any(any),
            Value::Object(m) => m.values().any(any),
            _ => false,
        }
    }
    any(obj)
}

/// Placeholder printed instead of a Secret value.
pub const REDACTED: &str = "<redacted>";

/// Whether an object is a core/v1 Secret.
pub fn is_secret(obj: &Value) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some("Secret")
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// A copy of `obj` with every `data` / `stringData` value of a Secret replaced by a placeholder
/// that still tells values apart by length; the keys stay visible. Other objects are unchanged,
/// except that the `kubectl.kubernetes.io/last-applied-configuration` annotation of a Secret is
/// dropped, since it repeats the data.
pub fn redacted(obj: &Value) -> Value {
    let mut out = obj.clone();
    redact_decrypted(&mut out);
    if !is_secret(obj) {
        return out;
    }
    for field in ["data", "stringData"] {
        if let Some(Value::Object(map)) = out.get_mut(field) {
            for v in map.values_mut() {
                let len = v.as_str().map(str::len).unwrap_or(0);
                *v = Value::String(format!("{REDACTED} ({len} bytes)"));
            }
        }
    }
    if let Some(Value::Object(a)) = out.pointer_mut("/metadata/annotations") {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
    out
}

/// Every value of a Secret as it would be printed (`data` as written, in base64, and decoded;
/// `stringData` as written), for masking in CI logs before the object is shown. Empty for
/// other kinds.
pub fn values(obj: &Value) -> Vec<String> {
    use base64::Engine as _;
    let mut out = Vec::new();
    collect_decrypted(obj, &mut out);
    if !is_secret(obj) {
        out.retain(|v| !v.trim().is_empty());
        return out;
    }
    for field in ["data", "stringData"] {
        let Some(Value::Object(map)) = obj.get(field) else {
            continue;
        };
        for v in map.values().filter_map(Value::as_str) {
            out.push(v.to_string());
            if field == "data"
                && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(v)
                && let Ok(text) = String::from_utf8(bytes)
            {
                out.push(text);
            }
        }
    }
    out.retain(|v| !v.trim().is_empty());
    out
}

/// Every decrypted value held by a string of `v` (the value itself, and the string holding it).
fn collect_decrypted(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if holds_decrypted(s) => {
            let set = DECRYPTED.lock().unwrap_or_else(PoisonError::into_inner);
            out.extend(
                set.iter()
                    .filter(|d| s == *d || (d.len() >= CONTAINS_MIN && s.contains(d.as_str())))
                    .cloned(),
            );
            out.push(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|i| collect_decrypted(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect_decrypted(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_values_are_hidden_and_keys_kept() {
        let s = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
            "data":{"password":"c2VjcmV0"},"stringData":{"token":"hunter2"}});
        let r = redacted(&s);
        let text = r.to_string();
        assert!(!text.contains("c2VjcmV0") && !text.contains("hunter2"));
        assert!(text.contains("password") && text.contains("token"));
    }

    #[test]
    fn values_are_listed_as_printed_and_decoded() {
        let s = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
            "data":{"password":"c2VjcmV0"},"stringData":{"token":"hunter2"}});
        assert_eq!(values(&s), vec!["c2VjcmV0", "secret", "hunter2"]);
    }

    #[test]
    fn decrypted_values_are_redacted_in_any_kind() {
        register_decrypted(&["s3cr3t-from-sops".to_string()]);
        let mut c = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},
            "data":{"url":"postgres://u:s3cr3t-from-sops@db","plain":"x"}});
        assert!(needs_redaction(&c));
        assert!(values(&c).contains(&"s3cr3t-from-sops".to_string()));
        let paths = redact_decrypted(&mut c);
        assert_eq!(paths, vec!["/data/url".to_string()]);
        assert!(!c.to_string().contains("s3cr3t"));
        assert_eq!(c["data"]["plain"], "x");
    }

    #[test]
    fn other_kinds_are_untouched() {
        let c = json!({"apiVersion":"v1","kind":"ConfigMap","data":{"a":"b"}});
        assert_eq!(redacted(&c), c);
    }
}
