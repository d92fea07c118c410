//! kyaml's helpers for associative lists (sigs.k8s.io/kustomize/kyaml/yaml/walk and
//! yaml/fns.go, Apache-2.0), ported with their quirks: kustomize's output depends on them.

use serde_json::{Map, Value};

use super::text;

/// kyaml `RNode.ElementValuesList`.
fn element_values_list(list: &[Value], keys: &[String]) -> Vec<Vec<String>> {
    list.iter()
        .map(|item| {
            keys.iter()
                .map(|k| item.get(k).map(text).unwrap_or_default())
                .collect()
        })
        .collect()
}

/// kyaml `Walker.elementValues`: key tuples of both lists, the first list's first.
pub(super) fn element_values(
    first: &[Value],
    second: &[Value],
    keys: &[String],
) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for src in [first, second] {
        for values in element_values_list(src, keys) {
            if values.is_empty() || out.contains(&values) {
                continue;
            }
            out.push(values);
        }
    }
    out
}

/// kyaml `Walker.elementPrimitiveValues`: the values of both lists, the first list's first.
pub(super) fn primitive_values(first: &[Value], second: &[Value]) -> Vec<Vec<String>> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for src in [first, second] {
        for item in src {
            let t = text(item);
            if seen.contains(&t) {
                continue;
            }
            seen.push(t.clone());
            out.push(vec![t]);
        }
    }
    out
}

/// kyaml `validateKeys`: the keys some item has a value for (all keys when none has).
pub(super) fn validate_keys(
    values_list: &[Vec<String>],
    values: &[String],
    keys: &[String],
) -> (Vec<String>, Vec<String>) {
    let valid: Vec<bool> = (0..keys.len())
        .map(|i| {
            values_list
                .iter()
                .any(|vs| vs.get(i).is_some_and(|v| !v.is_empty()))
        })
        .collect();
    if !valid.iter().any(|v| *v) {
        return (keys.to_vec(), values.to_vec());
    }
    let vk = keys
        .iter()
        .zip(&valid)
        .filter(|(_, v)| **v)
        .map(|(k, _)| k.clone())
        .collect();
    let vv = values
        .iter()
        .enumerate()
        .filter(|(i, v)| !v.is_empty() || valid.get(*i).copied().unwrap_or(false))
        .map(|(_, v)| v.clone())
        .collect();
    (vk, vv)
}

/// kyaml `mergeValues`: two key tuples differing only where one is empty are one item.
pub(super) fn merge_values(values_list: &mut [Vec<String>]) {
    for i in 0..values_list.len() {
        for j in 0..values_list.len() {
            if let Some(merged) = match_values(&values_list[i], &values_list[j]) {
                values_list[i] = merged.clone();
                values_list[j] = merged;
            }
        }
    }
}

fn match_values(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut out = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            out.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else if !x.is_empty() {
            out.push(x.clone());
        } else {
            out.push(y.clone());
        }
    }
    common.then_some(out)
}

/// kyaml `ElementMatcher` (`RNode.ElementList`): the first item whose fields equal the values.
pub(super) fn element_list(list: &[Value], keys: &[String], values: &[String]) -> Option<usize> {
    if keys.is_empty() || keys[0].is_empty() {
        let want = values.first().cloned().unwrap_or_default();
        return list
            .iter()
            .position(|item| !item.is_object() && !item.is_array() && text(item) == want);
    }
    if keys.len() != values.len() {
        return None;
    }
    list.iter().position(|item| {
        let Some(m) = item.as_object() else {
            return false;
        };
        keys.iter()
            .zip(values)
            .all(|(k, v)| m.get(k).is_some_and(|f| !f.is_null() && text(f) == *v))
    })
}

/// kyaml `FieldMatcher{Name, StringValue}` on one item: an empty value matches any value.
fn field_matches(item: &Value, key: &str, value: &str) -> bool {
    if item.is_null() {
        return false;
    }
    if key.is_empty() {
        return !item.is_object() && !item.is_array() && text(item) == value;
    }
    match item.as_object().and_then(|m| m.get(key)) {
        Some(f) => value.is_empty() || text(f) == value,
        None => false,
    }
}

/// kyaml `ElementSetter`: replaces every item matching the keys with `element` (removes them
/// when `element` is `None`), appending it when nothing matched; null and empty-map items are
/// dropped on the way.
pub(super) fn element_set(
    list: &mut Vec<Value>,
    element: Option<Value>,
    keys: &[String],
    values: &[String],
) {
    let keys: Vec<String> = if keys.is_empty() {
        vec![String::new()]
    } else {
        keys.to_vec()
    };
    let mapping_setter = !keys[0].is_empty() && values.first().is_some_and(|v| !v.is_empty());
    let mut out = Vec::with_capacity(list.len() + 1);
    let mut found_any = false;
    for item in list.drain(..) {
        if item.is_null() || item.as_object().is_some_and(Map::is_empty) {
            continue;
        }
        if !item.is_object() && mapping_setter {
            out.push(item);
            continue;
        }
        // As in kyaml, a key past the end of `values` repeats the previous key's verdict.
        let mut matched = false;
        for (j, key) in keys.iter().enumerate() {
            if j < values.len() {
                matched = field_matches(&item, key, &values[j]);
            }
            if !matched {
                break;
            }
        }
        if !matched {
            if !values.is_empty() {
                out.push(item);
            }
            continue;
        }
        found_any = true;
        if let Some(e) = &element {
            out.push(e.clone());
        }
    }
    *list = out;
    if let Some(e) = element
        && !e.is_null()
        && !found_any
    {
        list.push(e);
    }
}

/// kyaml `appendListNode(dst, src, keys)`.
pub(super) fn append_list(dst: &mut Vec<Value>, src: &[Value], keys: &[String]) {
    for elem in src {
        if keys.first().is_none_or(|k| k.is_empty()) {
            element_set(dst, Some(elem.clone()), &[String::new()], &[text(elem)]);
            continue;
        }
        let mut v = Vec::new();
        for key in keys {
            match elem.get(key) {
                Some(f) if !f.is_null() => v.push(text(f)),
                _ => dst.push(elem.clone()),
            }
        }
        if keys.len() > 1 {
            element_set(dst, None, keys, &v);
        }
        element_set(dst, Some(elem.clone()), keys, &v);
    }
}
