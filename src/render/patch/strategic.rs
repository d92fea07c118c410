//! Strategic merge patches as kustomize applies them: a port of kyaml's `merge2` walker
//! (sigs.k8s.io/kustomize/kyaml/yaml/walk and merge2, Apache-2.0) with list items from the
//! patch first (`ListIncreaseDirection: Prepend`, as kustomize's patch filter sets it), and the
//! merge keys of the Kubernetes schema ([`super::schema`]).
//!
//! kustomize (kyaml) knows the `$patch` directive only; `$setElementOrder/<list>`,
//! `$retainKeys` and `$deleteFromPrimitiveList/<list>`, which kustomize copies into the output
//! as if they were fields, are applied here with the meaning Kubernetes gives them.

use serde_json::{Map, Value};

use super::error::PatchError;
use super::schema::{CustomField, CustomTarget, CustomType, Field, OpenApiSchema, Shape, Type};

mod directives;
mod lists;

use directives::Extras;
use lists::{
    append_list, element_list, element_set, element_values, merge_values, primitive_values,
    validate_keys,
};

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Merges `patch` into `target` with strategic merge semantics: maps merge recursively, `null`
/// deletes a key, lists of known kinds merge by their merge key (containers by `name`, ports by
/// `containerPort`+`protocol`, ...), other lists and lists of custom resources are replaced, and
/// the directives `$patch: delete|replace|merge`, `$setElementOrder/<field>`, `$retainKeys` and
/// `$deleteFromPrimitiveList/<field>` apply. The schema is chosen by `target`'s apiVersion and
/// kind. A patch that deletes the whole object (`$patch: delete` at the top) leaves
/// `Value::Null` in `target`: the caller drops the object.
pub fn strategic_merge(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    merge(target, patch, true, None)
}

/// [`strategic_merge`] with a user's OpenAPI document (a kustomization's `openapi: path:`),
/// whose kinds take merge keys from it before the built-in table.
pub fn strategic_merge_with(
    target: &mut Value,
    patch: &Value,
    schema: Option<&OpenApiSchema>,
) -> Result<(), PatchError> {
    merge(target, patch, true, schema)
}

/// kyaml `merge2.Merge`; `prepend` puts the patch's new list items first (kustomize's patch
/// filter) rather than last (kyaml's default, kept for the ported kyaml tests).
fn merge(
    target: &mut Value,
    patch: &Value,
    prepend: bool,
    custom: Option<&OpenApiSchema>,
) -> Result<(), PatchError> {
    let dest = std::mem::take(target);
    // kustomize keeps a null the object spells out (`key: null`) and drops an empty value
    // (`key:`); parsed objects cannot tell them apart. Built-in kinds get kustomize's result
    // for the common case, Helm-rendered empty fields; custom resources, whose free-form
    // values (a HelmRelease's) may use null on purpose, keep their nulls.
    let keep_nulls = type_meta(&dest).is_none_or(|(v, k)| Type::for_object(v, k).is_none());
    let mut w = Walker {
        path: Vec::new(),
        prepend,
        keep_nulls,
        custom,
    };
    let out = w.walk(Some(dest), Some(patch.clone()), Schema::None, false)?;
    *target = match out.value {
        Some(Value::Null) if !out.in_place => Value::Null,
        Some(v) => v,
        None => Value::Null,
    };
    Ok(())
}

/// What the schema says about the node being walked.
#[derive(Debug, Clone, Copy)]
enum Schema<'a> {
    None,
    Object(Type),
    MapOf(Type),
    List(Field),
    /// A definition of the user's OpenAPI document.
    Custom(&'a CustomType),
    /// A list property of the user's OpenAPI document.
    CustomList(&'a CustomField),
}

impl<'a> Schema<'a> {
    fn is_none(self) -> bool {
        matches!(self, Schema::None)
    }

    /// A user's `$ref` or inline object: the user's definition first, then Kubernetes'.
    fn resolve(target: &'a CustomTarget, custom: Option<&'a OpenApiSchema>) -> Schema<'a> {
        match target {
            CustomTarget::Named(name) => custom
                .and_then(|c| c.named(name))
                .map(Schema::Custom)
                .or_else(|| Type::named(name).map(Schema::Object))
                .unwrap_or(Schema::None),
            CustomTarget::Inline(t) => Schema::Custom(t),
            CustomTarget::None => Schema::None,
        }
    }

    /// kyaml `ResourceSchema.Field`.
    fn field(self, key: &str, custom: Option<&'a OpenApiSchema>) -> Schema<'a> {
        match self {
            Schema::Object(t) => match t.field(key) {
                Some(f) => match f.shape() {
                    Shape::Object => f.value_type().map_or(Schema::None, Schema::Object),
                    Shape::List => Schema::List(f),
                    Shape::Map => f.value_type().map_or(Schema::None, Schema::MapOf),
                },
                None => Schema::None,
            },
            Schema::MapOf(t) => Schema::Object(t),
            Schema::Custom(t) => match t.field(key) {
                Some(f) if f.shape() == Shape::List => Schema::CustomList(f),
                Some(f) => Schema::resolve(f.target(), custom),
                None => Schema::None,
            },
            _ => Schema::None,
        }
    }

    /// kyaml `ResourceSchema.Elements`.
    fn elements(self, custom: Option<&'a OpenApiSchema>) -> Schema<'a> {
        match self {
            Schema::List(f) => f.value_type().map_or(Schema::None, Schema::Object),
            Schema::CustomList(f) => Schema::resolve(f.target(), custom),
            _ => Schema::None,
        }
    }

    /// The merge keys when the list is associative (strategy `merge`).
    fn merge_keys(self) -> Option<Vec<String>> {
        match self {
            Schema::List(f) if f.merges() => Some(f.keys().iter().map(|k| k.to_string()).collect()),
            Schema::CustomList(f) if f.merges() => Some(f.keys().to_vec()),
            _ => None,
        }
    }
}

/// The result of walking one node.
struct Walked {
    /// The merged value; `None` clears the field or item.
    value: Option<Value>,
    /// Whether `value` is the destination node merged in place (kyaml returns the same node),
    /// which matters when list items are put back in order.
    in_place: bool,
}

impl Walked {
    fn clear() -> Self {
        Walked {
            value: None,
            in_place: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeKind {
    Map,
    List,
    Scalar,
}

fn node_kind(v: &Value) -> NodeKind {
    match v {
        Value::Object(_) => NodeKind::Map,
        Value::Array(_) => NodeKind::List,
        _ => NodeKind::Scalar,
    }
}

fn kind_name(k: NodeKind) -> &'static str {
    match k {
        NodeKind::Map => "MappingNode",
        NodeKind::List => "SequenceNode",
        NodeKind::Scalar => "ScalarNode",
    }
}

/// kyaml `IsMissingOrNull`.
fn missing_or_null(v: &Option<Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

/// kyaml `IsEmptyMap`.
fn empty_map(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    }
}

/// The scalar text kyaml compares merge keys by; empty for maps, lists and null.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// The string form of a map's `apiVersion` and `kind`, when both are set.
fn type_meta(v: &Value) -> Option<(&str, &str)> {
    let api_version = v.get("apiVersion")?.as_str()?;
    let kind = v.get("kind")?.as_str()?;
    (!api_version.is_empty() && !kind.is_empty()).then_some((api_version, kind))
}

struct Walker<'a> {
    path: Vec<String>,
    prepend: bool,
    /// Whether a null in the object survives when the patch does not mention the field.
    keep_nulls: bool,
    /// The user's OpenAPI document, if any.
    custom: Option<&'a OpenApiSchema>,
}

impl<'a> Walker<'a> {
    fn err(&self, message: impl Into<String>) -> PatchError {
        let at = if self.path.is_empty() {
            "(top)".to_string()
        } else {
            self.path.join(".")
        };
        PatchError::StrategicMerge {
            at,
            message: message.into(),
        }
    }

    /// kyaml `Walker.Walk`; `aliased` says the destination and the patch are one node (a
    /// subtree added or replaced by the patch is walked against itself, which strips
    /// directives and nulls from it).
    fn walk(
        &mut self,
        dest: Option<Value>,
        origin: Option<Value>,
        schema: Schema<'a>,
        aliased: bool,
    ) -> Result<Walked, PatchError> {
        let schema = if schema.is_none() {
            [&dest, &origin]
                .into_iter()
                .flatten()
                .filter_map(type_meta)
                .find_map(|(v, k)| {
                    self.custom
                        .and_then(|c| c.for_object(v, k))
                        .map(Schema::Custom)
                        .or_else(|| Type::for_object(v, k).map(Schema::Object))
                })
                .unwrap_or(Schema::None)
        } else {
            schema
        };
        let kind = [&dest, &origin]
            .into_iter()
            .flatten()
            .find(|v| !v.is_null())
            .map(node_kind);
        if let Some(kind) = kind {
            for v in [&dest, &origin].into_iter().flatten() {
                if !v.is_null() && node_kind(v) != kind {
                    return Err(self.err(format!(
                        "wrong node kind: expected {} but got {}: the patch and the object \
                         disagree on this field's type",
                        kind_name(kind),
                        kind_name(node_kind(v))
                    )));
                }
            }
        }
        match kind {
            Some(NodeKind::Map) | None => self.walk_map(dest, origin, schema, aliased),
            Some(NodeKind::List) => {
                if let Some(keys) = schema.merge_keys() {
                    self.walk_associative_list(dest, origin, schema, keys, aliased)
                } else {
                    // kyaml `VisitList` for a non-associative list: the patch replaces it.
                    Ok(match origin {
                        Some(o) => Walked {
                            value: Some(o),
                            in_place: false,
                        },
                        None => Walked {
                            value: dest,
                            in_place: true,
                        },
                    })
                }
            }
            Some(NodeKind::Scalar) => Ok(match origin {
                Some(o) => Walked {
                    value: Some(o),
                    in_place: false,
                },
                None => Walked {
                    value: dest,
                    in_place: true,
                },
            }),
        }
    }

    /// kyaml's `determineSmpDirective` for a map, which also removes `$patch` from it.
    fn map_directive(&self, origin: &mut Map<String, Value>) -> Result<Directive, PatchError> {
        let Some(v) = origin.get(PATCH) else {
            return Ok(Directive::Merge);
        };
        let d = match v.as_str() {
            Some("delete") => Directive::Delete,
            Some("replace") => Directive::Replace,
            Some("merge") => Directive::Merge,
            _ => {
                return Err(self.err(format!("unknown patch strategy '{}'", text_or_json(v))));
            }
        };
        origin.shift_remove(PATCH);
        Ok(d)
    }

    /// kyaml's `determineSequenceNodePatchStrategy`: an item `{$patch: X}` alone directs the
    /// list and is removed.
    fn list_directive(&self, origin: &mut Vec<Value>) -> Result<Directive, PatchError> {
        let Some(item) = origin
            .iter()
            .find(|i| i.as_object().is_some_and(|m| m.contains_key(PATCH)))
        else {
            return Ok(Directive::Merge);
        };
        let Some(map) = item.as_object() else {
            return Ok(Directive::Merge);
        };
        if map.len() > 1 {
            return Ok(Directive::Merge);
        }
        let value = map.get(PATCH).cloned().unwrap_or(Value::Null);
        let d = match value.as_str() {
            Some("delete") => Directive::Delete,
            Some("replace") => Directive::Replace,
            Some("merge") => Directive::Merge,
            _ => {
                return Err(self.err(format!("unknown patch strategy '{}'", text_or_json(&value))));
            }
        };
        let v = text(&value);
        element_set(origin, None, &[PATCH.to_string()], std::slice::from_ref(&v));
        Ok(d)
    }

    fn walk_map(
        &mut self,
        dest: Option<Value>,
        origin: Option<Value>,
        schema: Schema<'a>,
        aliased: bool,
    ) -> Result<Walked, PatchError> {
        // kyaml `Merger.VisitMap`.
        let (mut node, in_place, aliased) = if missing_or_null(&dest) {
            match origin {
                Some(Value::Object(mut o)) => {
                    if self.map_directive(&mut o)? == Directive::Delete {
                        return Ok(Walked::clear());
                    }
                    // Added by the patch: walked against itself from here.
                    (o, false, true)
                }
                // A null in the object stays when the patch does not mention it (see
                // `keep_nulls`).
                None if dest.is_some() && self.keep_nulls => {
                    return Ok(Walked {
                        value: dest,
                        in_place: true,
                    });
                }
                _ => return Ok(Walked::clear()),
            }
        } else {
            let Some(Value::Object(mut d)) = dest else {
                return Ok(Walked {
                    value: dest,
                    in_place: true,
                });
            };
            match origin {
                Some(Value::Null) => return Ok(Walked::clear()),
                Some(Value::Object(mut o)) => match self.map_directive(&mut o)? {
                    Directive::Delete => return Ok(Walked::clear()),
                    Directive::Replace => (o, false, true),
                    Directive::Merge => {
                        if aliased {
                            d.shift_remove(PATCH);
                        }
                        return self.merge_fields(d, Some(o), schema, aliased);
                    }
                },
                _ => return self.merge_fields(d, None, schema, aliased),
            }
        };
        let origin = node.clone();
        let mut walked =
            self.merge_fields(std::mem::take(&mut node), Some(origin), schema, aliased)?;
        walked.in_place = in_place;
        Ok(walked)
    }

    /// kyaml `walkMap` after the visit: every field of either side, in name order, merged
    /// into the destination map; then the Kubernetes directives kyaml does not know.
    fn merge_fields(
        &mut self,
        mut dest: Map<String, Value>,
        origin: Option<Map<String, Value>>,
        schema: Schema<'a>,
        aliased: bool,
    ) -> Result<Walked, PatchError> {
        let mut origin = origin.unwrap_or_default();
        let extras = Extras::take(&mut origin, if aliased { Some(&mut dest) } else { None });
        let mut names: Vec<String> = dest.keys().chain(origin.keys()).cloned().collect();
        names.sort();
        names.dedup();
        for name in names {
            let field_schema = schema.field(&name, self.custom);
            // Taken out (a null placeholder keeps its position) and put back below.
            let d = dest.get_mut(&name).map(std::mem::take);
            let o = origin.shift_remove(&name);
            self.path.push(name.clone());
            let walked = self.walk(d, o, field_schema, aliased)?;
            self.path.pop();
            match walked.value {
                // A null from the patch deletes; a null the object had stays.
                Some(Value::Null) if !walked.in_place => {
                    dest.shift_remove(&name);
                }
                Some(v) => {
                    dest.insert(name, v);
                }
                None => {
                    dest.shift_remove(&name);
                }
            }
        }
        extras.apply(self, &mut dest, schema)?;
        Ok(Walked {
            value: Some(Value::Object(dest)),
            in_place: true,
        })
    }

    /// kyaml `walkAssociativeSequence` and `setAssociativeSequenceElements`.
    fn walk_associative_list(
        &mut self,
        dest: Option<Value>,
        origin: Option<Value>,
        schema: Schema<'a>,
        keys: Vec<String>,
        aliased: bool,
    ) -> Result<Walked, PatchError> {
        // kyaml `Merger.VisitList` for an associative list.
        let (mut dest, mut origin, aliased) = if missing_or_null(&dest) {
            match origin {
                Some(Value::Array(o)) => (o.clone(), o, true),
                other => {
                    return Ok(Walked {
                        value: other,
                        in_place: false,
                    });
                }
            }
        } else {
            let Some(Value::Array(d)) = dest else {
                return Ok(Walked {
                    value: dest,
                    in_place: true,
                });
            };
            match origin {
                Some(Value::Null) => return Ok(Walked::clear()),
                Some(Value::Array(mut o)) => match self.list_directive(&mut o)? {
                    Directive::Delete => return Ok(Walked::clear()),
                    Directive::Replace => (o.clone(), o, true),
                    Directive::Merge => {
                        let mut d = d;
                        if aliased {
                            let _ = self.list_directive(&mut d)?;
                        }
                        (d, o, aliased)
                    }
                },
                None => (d.clone(), Vec::new(), false),
                Some(other) => {
                    return Err(self.err(format!(
                        "wrong node kind: expected SequenceNode but got {}",
                        kind_name(node_kind(&other))
                    )));
                }
            }
        };
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let (first, second) = if self.prepend {
            (&origin, &dest)
        } else {
            (&dest, &origin)
        };
        let values = element_values(first, second, &keys);
        if !values.is_empty() || !keys.is_empty() {
            self.set_elements(values, &keys, &mut dest, &mut origin, schema, aliased)?;
        } else {
            let prim = primitive_values(first, second);
            self.set_elements(
                prim,
                &[String::new()],
                &mut dest,
                &mut origin,
                schema,
                aliased,
            )?;
        }
        Ok(Walked {
            value: Some(Value::Array(dest)),
            in_place: true,
        })
    }

    fn set_elements(
        &mut self,
        mut values_list: Vec<Vec<String>>,
        keys: &[String],
        dest: &mut Vec<Value>,
        origin: &mut [Value],
        schema: Schema<'a>,
        aliased: bool,
    ) -> Result<(), PatchError> {
        let elem_schema = schema.elements(self.custom);
        if keys.len() > 1 {
            merge_values(&mut values_list);
        }
        let mut items: Vec<Value> = Vec::new();
        let mut valid_keys: Vec<String> = Vec::new();
        for values in values_list.clone() {
            if values.is_empty() {
                continue;
            }
            let valid_values;
            (valid_keys, valid_values) = validate_keys(&values_list, &values, keys);
            let (ek, ev) = validate_keys(
                std::slice::from_ref(&valid_values),
                &valid_values,
                &valid_keys,
            );
            let d_idx = element_list(dest, &ek, &ev);
            let o_idx = element_list(origin, &ek, &ev);
            let d = d_idx.map(|i| dest[i].clone());
            let o = o_idx.map(|i| origin[i].clone());
            self.path.push(format!("[{}]", describe_item(&ek, &ev)));
            let walked = self.walk(d, o, elem_schema, aliased)?;
            self.path.pop();
            let mut val = walked.value;
            if empty_map(&val) {
                element_set(dest, None, &valid_keys, &valid_values);
                continue;
            }
            if let Some(Value::Object(m)) = &mut val {
                for (i, key) in valid_keys.iter().enumerate() {
                    if !m.contains_key(key) && !valid_values[i].is_empty() {
                        m.insert(key.clone(), scalar_from_text(&valid_values[i]));
                    }
                }
            }
            let Some(val) = val else { continue };
            if walked.in_place
                && let Some(i) = d_idx
            {
                dest[i] = val.clone();
            }
            element_set(&mut items, Some(val), &valid_keys, &valid_values);
        }
        if !values_list.is_empty() {
            if self.prepend {
                // The patch's items first, then the object's, each put in place.
                append_list(&mut items, dest, &valid_keys);
                *dest = items;
            } else {
                append_list(dest, &items, &valid_keys);
            }
        }
        Ok(())
    }
}

/// A YAML plain scalar's value: an integer stays a number, anything else a string.
fn scalar_from_text(t: &str) -> Value {
    match t.parse::<i64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::String(t.to_string()),
    }
}

fn text_or_json(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn describe_item(keys: &[String], values: &[String]) -> String {
    keys.iter()
        .zip(values)
        .map(|(k, v)| {
            if k.is_empty() {
                format!("={v}")
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests;
