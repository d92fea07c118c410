//! Object-by-object comparison of two renderings: parsed, keys unordered, order checked apart.

use std::collections::BTreeMap;

use serde_json::Value;

/// The label kpush adds to every object it renders (docs/rendering.md, "Labels and
/// annotations"); kustomize does not, so it is removed from kpush's output before comparing,
/// unless the input set it (then the oracle has it too and it stays).
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// Parses a multi-document YAML stream into its objects, skipping empty documents.
pub fn parse_stream(text: &str) -> Result<Vec<Value>, String> {
    // The corpus is trusted and some outputs are megabytes of CRDs: no parser budget.
    let mut options = serde_saphyr::Options::default();
    options.budget = None;
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| format!("{e}"))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Removes what kpush adds by design after kustomize ran: `app.kubernetes.io/managed-by: kpush`
/// where the oracle's object of the same identity does not carry that label.
pub fn strip_kpush_additions(objects: &mut [Value], oracle: &[Value]) {
    let oracle_has: std::collections::HashSet<String> = oracle
        .iter()
        .filter(|o| {
            o.pointer("/metadata/labels")
                .and_then(|l| l.get(MANAGED_BY))
                .is_some()
        })
        .map(identity)
        .collect();
    for o in objects.iter_mut() {
        if oracle_has.contains(&identity(o)) {
            continue;
        }
        let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) else {
            continue;
        };
        let empty = match meta.get_mut("labels").and_then(Value::as_object_mut) {
            Some(labels) => {
                if labels.get(MANAGED_BY).and_then(Value::as_str) == Some("kpush") {
                    labels.shift_remove(MANAGED_BY);
                }
                labels.is_empty()
            }
            None => false,
        };
        if empty {
            meta.shift_remove("labels");
        }
    }
}

/// `apiVersion kind namespace/name`, the identity objects are paired by.
pub fn identity(o: &Value) -> String {
    let s = |p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let ns = s("/metadata/namespace");
    let name = s("/metadata/name");
    format!(
        "{} {} {}{}",
        s("/apiVersion"),
        s("/kind"),
        if ns.is_empty() {
            String::new()
        } else {
            format!("{ns}/")
        },
        name
    )
}

/// Identities in order, a repeated identity numbered (`#2`) so every entry is unique.
fn keyed(objects: &[Value]) -> Vec<(String, &Value)> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    objects
        .iter()
        .map(|o| {
            let id = identity(o);
            let n = seen.entry(id.clone()).or_default();
            *n += 1;
            let key = if *n == 1 { id } else { format!("{id} #{n}") };
            (key, o)
        })
        .collect()
}

/// How a rendering differs from a reference; empty when they agree.
#[derive(Debug, Default)]
pub struct Difference {
    /// In the reference, not in the rendering.
    pub missing: Vec<String>,
    /// In the rendering, not in the reference.
    pub extra: Vec<String>,
    /// Same identity, different content: identity and a unified diff (reference → rendering).
    pub changed: Vec<(String, String)>,
    /// Same objects, different order: both orders.
    pub order: Option<(Vec<String>, Vec<String>)>,
}

impl Difference {
    /// True when contents agree (order aside).
    pub fn same_objects(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.changed.is_empty()
    }

    /// True when contents and order agree.
    pub fn is_empty(&self) -> bool {
        self.same_objects() && self.order.is_none()
    }

    /// A one-line summary (`2 changed, 1 missing, order`).
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.changed.is_empty() {
            parts.push(format!("{} changed", self.changed.len()));
        }
        if !self.missing.is_empty() {
            parts.push(format!("{} missing", self.missing.len()));
        }
        if !self.extra.is_empty() {
            parts.push(format!("{} extra", self.extra.len()));
        }
        if self.order.is_some() {
            parts.push("order differs".to_string());
        }
        parts.join(", ")
    }

    /// The details: identities missing or extra, content diffs, both orders.
    pub fn details(&self, reference: &str) -> String {
        let mut out = String::new();
        for id in &self.missing {
            out.push_str(&format!("  missing (in {reference}, not rendered): {id}\n"));
        }
        for id in &self.extra {
            out.push_str(&format!("  extra (rendered, not in {reference}): {id}\n"));
        }
        for (id, diff) in &self.changed {
            out.push_str(&format!("  changed: {id} (--- {reference} +++ kpush)\n"));
            for line in diff.lines() {
                out.push_str("    ");
                out.push_str(line);
                out.push('\n');
            }
        }
        if let Some((want, got)) = &self.order {
            out.push_str(&format!("  order in {reference}:\n"));
            for id in want {
                out.push_str(&format!("    {id}\n"));
            }
            out.push_str("  order rendered:\n");
            for id in got {
                out.push_str(&format!("    {id}\n"));
            }
        }
        out
    }
}

/// Compares `rendered` with `reference`; `check_order` also compares the sequence.
pub fn compare(reference: &[Value], rendered: &[Value], check_order: bool) -> Difference {
    let want = keyed(reference);
    let got = keyed(rendered);
    let got_map: BTreeMap<&str, &Value> = got.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let want_map: BTreeMap<&str, &Value> = want.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let mut d = Difference::default();
    for (key, w) in &want {
        match got_map.get(key.as_str()) {
            None => d.missing.push(key.clone()),
            Some(g) if *g != *w => d.changed.push((key.clone(), diff(w, g))),
            Some(_) => {}
        }
    }
    for (key, _) in &got {
        if !want_map.contains_key(key.as_str()) {
            d.extra.push(key.clone());
        }
    }
    if check_order && d.same_objects() {
        let w: Vec<String> = want.iter().map(|(k, _)| k.clone()).collect();
        let g: Vec<String> = got.iter().map(|(k, _)| k.clone()).collect();
        if w != g {
            d.order = Some((w, g));
        }
    }
    d
}

/// A unified diff of two objects printed as YAML with sorted keys.
fn diff(want: &Value, got: &Value) -> String {
    let a = canonical_yaml(want);
    let b = canonical_yaml(got);
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .to_string()
}

fn canonical_yaml(v: &Value) -> String {
    serde_saphyr::to_string(&sorted(v)).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter_but_values_and_object_order_do() {
        let a = parse_stream("kind: A\nmetadata: {name: x, labels: {p: '1', q: '2'}}\n---\nkind: B\nmetadata: {name: y}\n").unwrap();
        let b = parse_stream("metadata: {labels: {q: '2', p: '1'}, name: x}\nkind: A\n---\nkind: B\nmetadata: {name: y}\n").unwrap();
        assert!(compare(&a, &b, true).is_empty());
        let reversed: Vec<Value> = b.iter().rev().cloned().collect();
        let d = compare(&a, &reversed, true);
        assert!(d.same_objects() && d.order.is_some(), "{d:?}");
        let c = parse_stream("kind: A\nmetadata: {name: x, labels: {p: '1', q: '3'}}\n").unwrap();
        let d = compare(&a, &c, true);
        assert_eq!(
            (d.changed.len(), d.missing.len(), d.extra.len()),
            (1, 1, 0),
            "{d:?}"
        );
        let diff = &d.changed[0].1;
        assert!(
            diff.lines().any(|l| l.starts_with('-') && l.contains("q:"))
                && diff.lines().any(|l| l.starts_with('+') && l.contains("q:")),
            "{diff}"
        );
    }

    #[test]
    fn kpush_managed_by_label_is_ignored_only_when_the_oracle_lacks_it() {
        let oracle = vec![json!({"kind": "A", "metadata": {"name": "x"}})];
        let mut ours =
            vec![json!({"kind": "A", "metadata": {"name": "x", "labels": {MANAGED_BY: "kpush"}}})];
        strip_kpush_additions(&mut ours, &oracle);
        assert_eq!(ours, oracle);
        let oracle =
            vec![json!({"kind": "A", "metadata": {"name": "x", "labels": {MANAGED_BY: "kpush"}}})];
        let mut ours = oracle.clone();
        strip_kpush_additions(&mut ours, &oracle);
        assert_eq!(ours, oracle);
    }
}
