//! Keeping Secret values out of output: redaction for printing and diffs.

use serde_json::Value;

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
    if !is_secret(obj) {
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
    fn other_kinds_are_untouched() {
        let c = json!({"apiVersion":"v1","kind":"ConfigMap","data":{"a":"b"}});
        assert_eq!(redacted(&c), c);
    }
}
