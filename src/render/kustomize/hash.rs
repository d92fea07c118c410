//! The name suffix of generated ConfigMaps and Secrets, byte-exact with kustomize's
//! `api/hasher/hasher.go`: sha256 over Go's `json.Marshal` of a small map, first ten hex
//! characters, then 0→g, 1→h, 3→k, a→m, e→t.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The suffix for a ConfigMap or Secret (`object` is the whole object).
pub fn suffix(object: &Value) -> String {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    // kustomize looks the name up as the single key "metadata/name", finds nothing and
    // hashes an empty name; the suffix therefore never depends on the name.
    let name = Value::String(String::new());
    let field = |f: &str| match object.get(f) {
        None | Some(Value::Null) => Value::String(String::new()),
        Some(v) => v.clone(),
    };
    let mut m = serde_json::Map::new();
    m.insert("kind".into(), Value::String(kind.to_string()));
    m.insert("name".into(), name);
    m.insert("data".into(), field("data"));
    if kind == "Secret" {
        m.insert("type".into(), field("type"));
        if object.get("stringData").is_some_and(Value::is_object) {
            m.insert("stringData".into(), field("stringData"));
        }
    } else if object.get("binaryData").is_some_and(Value::is_object) {
        m.insert("binaryData".into(), field("binaryData"));
    }
    let mut json = String::new();
    go_json(&Value::Object(m), &mut json);
    encode(&Sha256::digest(json.as_bytes()))
}

fn encode(digest: &[u8]) -> String {
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// Writes `v` as Go's `encoding/json` would: keys sorted, `<>&` and U+2028/9 escaped.
pub fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => go_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(k, out);
                out.push(':');
                go_json(&m[k], out);
            }
            out.push('}');
        }
    }
}

fn go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Expected values from kustomize's api/hasher/hasher_test.go (v5.7.1).
    #[test]
    fn configmap_hashes_match_kustomize() {
        let cases = [
            (json!({"kind":"ConfigMap"}), "6ct58987ht"),
            (json!({"kind":"ConfigMap","data":{"one":""}}), "9g67k2htb6"),
            (
                json!({"kind":"ConfigMap","data":{"two":2,"one":"","three":3}}),
                "7757f9kkct",
            ),
            (
                json!({"kind":"ConfigMap","binaryData":{"one":""}}),
                "6mtk2m274t",
            ),
            (
                json!({"kind":"ConfigMap","binaryData":{"two":2,"one":"","three":3}}),
                "9th7kc28dg",
            ),
            (
                json!({"kind":"ConfigMap","data":{"one":""},"binaryData":{"two":""}}),
                "698h7c7t9m",
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(suffix(&obj), want, "{obj}");
        }
    }

    #[test]
    fn secret_hashes_match_kustomize() {
        let cases = [
            (json!({"kind":"Secret","type":"my-type"}), "5gmgkf8578"),
            (
                json!({"kind":"Secret","type":"my-type","data":{"one":""}}),
                "74bd68bm66",
            ),
            (
                json!({"kind":"Secret","type":"my-type","data":{"two":2,"one":"","three":3}}),
                "4gf75c7476",
            ),
            (
                json!({"kind":"Secret","type":"my-type","data":{"one":""},"stringData":{"two":2}}),
                "c4h4264gdb",
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(suffix(&obj), want, "{obj}");
        }
    }

    #[test]
    fn go_escapes_html_characters() {
        let mut s = String::new();
        go_json(&json!({"b":"<&>","a":"\u{2028}"}), &mut s);
        assert_eq!(s, r#"{"a":"\u2028","b":"\u003c\u0026\u003e"}"#);
    }
}
