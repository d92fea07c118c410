//! The Kubernetes patch directives kyaml does not know: `$retainKeys`,
//! `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.

use serde_json::{Map, Value};

use super::{
    DELETE_FROM_PRIMITIVE_LIST, PatchError, RETAIN_KEYS, SET_ELEMENT_ORDER, Schema, Walker,
};

/// The Kubernetes directives kyaml does not know, taken out of a patch map before merging.
#[derive(Default)]
pub(super) struct Extras {
    retain_keys: Option<Value>,
    set_element_order: Vec<(String, Value)>,
    delete_from_primitive_list: Vec<(String, Value)>,
}

impl Extras {
    pub(super) fn take(
        origin: &mut Map<String, Value>,
        dest: Option<&mut Map<String, Value>>,
    ) -> Extras {
        let mut extras = Extras {
            retain_keys: origin.shift_remove(RETAIN_KEYS),
            ..Extras::default()
        };
        let names: Vec<String> = origin
            .keys()
            .filter(|k| k.starts_with('$'))
            .cloned()
            .collect();
        for name in names {
            if let Some(field) = name.strip_prefix(SET_ELEMENT_ORDER) {
                if let Some(v) = origin.shift_remove(&name) {
                    extras.set_element_order.push((field.to_string(), v));
                }
            } else if let Some(field) = name.strip_prefix(DELETE_FROM_PRIMITIVE_LIST)
                && let Some(v) = origin.shift_remove(&name)
            {
                extras
                    .delete_from_primitive_list
                    .push((field.to_string(), v));
            }
        }
        if let Some(dest) = dest {
            dest.retain(|k, _| {
                k != RETAIN_KEYS
                    && !k.starts_with(SET_ELEMENT_ORDER)
                    && !k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            });
        }
        extras
    }

    pub(super) fn apply(
        self,
        w: &Walker<'_>,
        dest: &mut Map<String, Value>,
        schema: Schema<'_>,
    ) -> Result<(), PatchError> {
        for (field, remove) in self.delete_from_primitive_list {
            let Some(remove) = remove.as_array() else {
                return Err(w.err(format!(
                    "{DELETE_FROM_PRIMITIVE_LIST}{field} must be a list"
                )));
            };
            if let Some(Value::Array(items)) = dest.get_mut(&field) {
                items.retain(|i| !remove.contains(i));
            }
        }
        for (field, order) in self.set_element_order {
            let Some(order) = order.as_array() else {
                return Err(w.err(format!("{SET_ELEMENT_ORDER}{field} must be a list")));
            };
            let key = schema
                .field(&field, w.custom)
                .merge_keys()
                .and_then(|k| k.first().cloned());
            if let Some(Value::Array(items)) = dest.get_mut(&field) {
                reorder(items, order, key.as_deref());
            }
        }
        if let Some(keep) = self.retain_keys {
            let Some(keep) = keep.as_array() else {
                return Err(w.err(format!("{RETAIN_KEYS} must be a list of field names")));
            };
            let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
            dest.retain(|k, _| keep.contains(&k.as_str()));
        }
        Ok(())
    }
}

/// `$setElementOrder`: the items the order names come first, in its order; the others follow
/// in their current order.
fn reorder(items: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let id = |v: &Value| -> Value {
        match key {
            Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let mut rest: Vec<Value> = std::mem::take(items);
    for o in order {
        let want = id(o);
        if let Some(pos) = rest.iter().position(|i| id(i) == want) {
            items.push(rest.remove(pos));
        }
    }
    items.append(&mut rest);
}
