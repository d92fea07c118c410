//! kustomize field paths: the dotted form of replacements and vars
//! (`spec.template.spec.containers.[name=app].image`, kyaml's `SmarterPathSplitter`,
//! `PathGetter` and `PathMatcher`) and the slash form of field specs
//! (`spec/template/spec/containers[]/image`, kustomize's `filters/fieldspec`).

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::PatchError;
use super::schema::split_api_version;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// A map field.
    Field(String),
    /// `[key=value]` (list items whose `key` matches) or `[=value]` (scalar items).
    Match { key: String, value: String },
    /// A list index.
    Index(usize),
    /// `-`: the last item (lookups only).
    Last,
    /// `*`: every item of a list.
    Wildcard,
}

/// Which grammar a path was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Dotted,
    FieldSpec,
}

/// A parsed field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
    form: Form,
}

/// Splits on `delimiter`, joining parts whose predecessor ends in `\` (kyaml `PathSplitter`).
fn split_escaped(path: &str, delimiter: char) -> Vec<String> {
    let mut parts: Vec<&str> = path.split(delimiter).collect();
    if parts.len() > 1 && parts[0].is_empty() {
        parts.remove(0);
    }
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        match out.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push(delimiter);
                last.push_str(p);
            }
            _ => out.push(p.to_string()),
        }
    }
    out
}

/// kyaml's `SmarterPathSplitter`: a `[...]` part may contain the delimiter.
fn smarter_split(path: &str) -> Vec<String> {
    let split = split_escaped(path, '.');
    let mut out = Vec::new();
    let mut i = 0;
    while i < split.len() {
        let elem = &split[i];
        if elem.starts_with('[') && !elem.ends_with(']') {
            let mut bracketed = vec![elem.clone()];
            while i < split.len() - 1 {
                i += 1;
                bracketed.push(split[i].clone());
                if split[i].ends_with(']') {
                    break;
                }
            }
            let joined = bracketed.join(".");
            if joined.contains('=') {
                out.push(joined);
            } else {
                out.push(joined.trim_matches(|c| c == '[' || c == ']').to_string());
            }
        } else {
            out.push(elem.clone());
        }
        i += 1;
    }
    out
}

/// kyaml's `convertSliceIndex`: `ports[0]` becomes `ports`, `0` (vars' field paths).
fn convert_slice_index(parts: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for p in parts {
        if let Some(open) = p.rfind('[')
            && p.ends_with(']')
            && p.len() > open + 2
            && p[open + 1..p.len() - 1].chars().all(|c| c.is_ascii_digit())
        {
            if open > 0 {
                out.push(p[..open].to_string());
            }
            out.push(p[open + 1..p.len() - 1].to_string());
            continue;
        }
        out.push(p);
    }
    out
}

fn classify(path: &str, part: &str) -> Result<Segment, PatchError> {
    if let Ok(i) = part.parse::<i64>()
        && i >= 0
    {
        return Ok(Segment::Index(i as usize));
    }
    match part {
        "-" => return Ok(Segment::Last),
        "*" => return Ok(Segment::Wildcard),
        _ => {}
    }
    if part.starts_with('[') && part.ends_with(']') && part.len() >= 2 {
        let inner = &part[1..part.len() - 1];
        let Some((key, value)) = inner.split_once('=') else {
            return Err(PatchError::FieldPath {
                path: path.to_string(),
                message: "list path element must contain fieldName=fieldValue for element to \
                          match"
                    .to_string(),
            });
        };
        return Ok(Segment::Match {
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    Ok(Segment::Field(part.to_string()))
}

/// The text of a scalar as kyaml compares it (`8080`, `true`, `name`).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "MappingNode",
        Value::Array(_) => "SequenceNode",
        _ => "ScalarNode",
    }
}

impl FieldPath {
    /// Parses the dotted form: fields separated by `.` (a dot inside `[...]` or escaped as
    /// `\.` does not split), `[key=value]` selects list items by a field, `[=value]` a
    /// primitive list item, `N` an index, `*` every item, `-` the last item (lookups).
    pub fn parse(path: &str) -> Result<Self, PatchError> {
        Self::from_parts(path, smarter_split(path))
    }

    /// Parses a var's `fieldref.fieldPath`: the dotted form, where `ports[0]` also means
    /// `ports.0` (kyaml `GetFieldValue`).
    pub fn parse_var(path: &str) -> Result<Self, PatchError> {
        Self::from_parts(path, convert_slice_index(smarter_split(path)))
    }

    fn from_parts(path: &str, parts: Vec<String>) -> Result<Self, PatchError> {
        let segments = parts
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| classify(path, p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FieldPath {
            text: path.to_string(),
            segments,
            form: Form::Dotted,
        })
    }

    /// Parses a field spec path: fields separated by `/` (`\/` escapes); lists met on the way
    /// are walked item by item (a `[]` suffix on a field says so and never creates).
    pub fn parse_fieldspec(path: &str) -> Result<Self, PatchError> {
        let segments = split_escaped(path, '/')
            .into_iter()
            .map(Segment::Field)
            .collect();
        Ok(FieldPath {
            text: path.to_string(),
            segments,
            form: Form::FieldSpec,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn err(&self, message: impl Into<String>) -> PatchError {
        PatchError::FieldPath {
            path: self.text.clone(),
            message: message.into(),
        }
    }

    /// The single value the path names, kyaml `Lookup` style: `[key=value]` compares exactly
    /// and takes the first match, `-` is the last item, `*` is refused. `Ok(None)` when a
    /// field or item is missing.
    pub fn lookup<'a>(&self, obj: &'a Value) -> Result<Option<&'a Value>, PatchError> {
        let mut cur = obj;
        for seg in &self.segments {
            let next = match seg {
                Segment::Field(name) => {
                    if cur.is_null() {
                        return Ok(None);
                    }
                    let Some(map) = cur.as_object() else {
                        return Err(self.err(format!(
                            "wrong node kind: expected MappingNode but got {} at `{name}`",
                            kind_name(cur)
                        )));
                    };
                    map.get(name.as_str())
                }
                Segment::Index(_) | Segment::Last | Segment::Match { .. } => {
                    if cur.is_null() {
                        return Ok(None);
                    }
                    let Some(items) = cur.as_array() else {
                        return Err(self.err(format!(
                            "wrong node kind: expected SequenceNode but got {}",
                            kind_name(cur)
                        )));
                    };
                    match seg {
                        Segment::Index(i) => items.get(*i),
                        Segment::Last => items.last(),
                        Segment::Match { key, value } => items.iter().find(|item| {
                            let field = if key.is_empty() {
                                Some(*item)
                            } else {
                                item.get(key)
                            };
                            field.and_then(scalar_text).as_deref() == Some(value.as_str())
                        }),
                        _ => None,
                    }
                }
                Segment::Wildcard => {
                    return Err(self.err("wildcard is not supported in PathGetter"));
                }
            };
            match next {
                Some(v) => cur = v,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    /// Every value the path reaches in `obj`, kyaml `PathMatcher` style (`[key=value]` is an
    /// unanchored regular expression on the item's field, as in kustomize); for the field
    /// spec form, every value the field spec reaches.
    pub fn get<'a>(&self, obj: &'a Value) -> Result<Vec<&'a Value>, PatchError> {
        let mut out = Vec::new();
        match self.form {
            Form::Dotted => self.match_ref(obj, 0, &mut out)?,
            Form::FieldSpec => self.fieldspec_ref(obj, 0, &mut out)?,
        }
        Ok(out)
    }

    fn match_ref<'a>(
        &self,
        node: &'a Value,
        at: usize,
        out: &mut Vec<&'a Value>,
    ) -> Result<(), PatchError> {
        let Some(seg) = self.segments.get(at) else {
            out.push(node);
            return Ok(());
        };
        match seg {
            Segment::Field(name) => match node {
                Value::Object(map) => match map.get(name.as_str()) {
                    Some(v) => self.match_ref(v, at + 1, out),
                    None => Ok(()),
                },
                Value::Null => Ok(()),
                _ => Err(self.err(format!(
                    "wrong node kind: expected MappingNode but got {} at `{name}`",
                    kind_name(node)
                ))),
            },
            Segment::Index(i) => {
                let items = self.items(node)?;
                let Some(item) = items.get(*i) else {
                    return Err(self.err(format!(
                        "index {i} specified but only {} elements found",
                        items.len()
                    )));
                };
                self.match_ref(item, at + 1, out)
            }
            Segment::Wildcard => {
                for item in self.items(node)? {
                    self.match_ref(item, at + 1, out)?;
                }
                Ok(())
            }
            Segment::Match { key, value } => {
                let re = self.regex(value)?;
                for item in self.items(node)? {
                    if item_matches(item, key, &re) {
                        if key.is_empty() {
                            out.push(item);
                        } else {
                            self.match_ref(item, at + 1, out)?;
                        }
                    }
                }
                Ok(())
            }
            Segment::Last => Err(self.err("`-` names the last item only in lookups")),
        }
    }

    fn items<'a>(&self, node: &'a Value) -> Result<&'a [Value], PatchError> {
        match node {
            Value::Array(items) => Ok(items),
            Value::Null => Ok(&[]),
            _ => Err(self.err(format!(
                "wrong node kind: expected SequenceNode but got {}",
                kind_name(node)
            ))),
        }
    }

    fn regex(&self, value: &str) -> Result<Regex, PatchError> {
        Regex::new(value).map_err(|e| self.err(format!("invalid regular expression: {e}")))
    }

    fn fieldspec_ref<'a>(
        &self,
        node: &'a Value,
        at: usize,
        out: &mut Vec<&'a Value>,
    ) -> Result<(), PatchError> {
        let Some(Segment::Field(name)) = self.segments.get(at) else {
            out.push(node);
            return Ok(());
        };
        match node {
            Value::Null => Ok(()),
            Value::Array(items) => {
                for item in items {
                    self.fieldspec_ref(item, at, out)?;
                }
                Ok(())
            }
            Value::Object(map) => {
                let field = name.strip_suffix("[]").unwrap_or(name);
                match map.get(field) {
                    Some(v) => self.fieldspec_ref(v, at + 1, out),
                    None => Ok(()),
                }
            }
            _ => Err(self.err("expected sequence or mapping node")),
        }
    }

    /// Calls `f` on every value the path reaches. With `create`, missing fields are made on
    /// the way as kustomize makes them (maps, lists before an index or `[k=v]`, a list item
    /// `{k: v}` for an unmatched `[k=v]`) and a missing leaf starts as a copy of `create`.
    /// Returns how many values were visited.
    pub fn visit_mut(
        &self,
        obj: &mut Value,
        create: Option<&Value>,
        f: &mut dyn FnMut(&mut Value) -> Result<(), PatchError>,
    ) -> Result<usize, PatchError> {
        let mut count = 0;
        match self.form {
            Form::Dotted => self.match_mut(obj, 0, create, f, &mut count)?,
            Form::FieldSpec => self.fieldspec_mut(obj, 0, create, f, &mut count)?,
        }
        Ok(count)
    }

    /// The empty value a created field starts as, given what follows it.
    fn created(&self, at: usize, create: &Value) -> Value {
        match self.segments.get(at + 1) {
            None => create.clone(),
            Some(Segment::Index(_)) | Some(Segment::Match { .. }) => Value::Array(Vec::new()),
            Some(_) => Value::Object(Map::new()),
        }
    }

    fn match_mut(
        &self,
        node: &mut Value,
        at: usize,
        create: Option<&Value>,
        f: &mut dyn FnMut(&mut Value) -> Result<(), PatchError>,
        count: &mut usize,
    ) -> Result<(), PatchError> {
        let Some(seg) = self.segments.get(at) else {
            *count += 1;
            return f(node);
        };
        match seg {
            Segment::Field(name) => {
                if node.is_null() && create.is_some() {
                    *node = Value::Object(Map::new());
                }
                let kind = kind_name(node);
                match node {
                    Value::Object(map) => {
                        if !map.contains_key(name.as_str()) {
                            let Some(create) = create else {
                                return Ok(());
                            };
                            map.insert(name.clone(), self.created(at, create));
                        }
                        let Some(v) = map.get_mut(name.as_str()) else {
                            return Ok(());
                        };
                        self.match_mut(v, at + 1, create, f, count)
                    }
                    Value::Null => Ok(()),
                    _ => Err(self.err(format!(
                        "wrong node kind: expected MappingNode but got {kind} at `{name}`"
                    ))),
                }
            }
            Segment::Index(i) => {
                if node.is_null() && create.is_some() {
                    *node = Value::Array(Vec::new());
                }
                let items = self.items_mut(node)?;
                if items.len() == *i
                    && let Some(create) = create
                {
                    items.push(self.created(at, create));
                }
                let len = items.len();
                let Some(item) = items.get_mut(*i) else {
                    return Err(
                        self.err(format!("index {i} specified but only {len} elements found"))
                    );
                };
                self.match_mut(item, at + 1, create, f, count)
            }
            Segment::Wildcard => {
                for item in self.items_mut(node)? {
                    self.match_mut(item, at + 1, create, f, count)?;
                }
                Ok(())
            }
            Segment::Match { key, value } => {
                let re = self.regex(value)?;
                if node.is_null() && create.is_some() {
                    *node = Value::Array(Vec::new());
                }
                let items = self.items_mut(node)?;
                let mut found = false;
                for item in items.iter_mut() {
                    if item_matches(item, key, &re) {
                        found = true;
                        let next = if key.is_empty() {
                            self.segments.len()
                        } else {
                            at + 1
                        };
                        self.match_mut(item, next, create, f, count)?;
                    }
                }
                if !found && create.is_some() {
                    let fresh = if key.is_empty() {
                        Value::String(value.clone())
                    } else {
                        let mut m = Map::new();
                        m.insert(key.clone(), Value::String(value.clone()));
                        Value::Object(m)
                    };
                    items.push(fresh);
                    let next = if key.is_empty() {
                        self.segments.len()
                    } else {
                        at + 1
                    };
                    if let Some(item) = items.last_mut() {
                        self.match_mut(item, next, create, f, count)?;
                    }
                }
                Ok(())
            }
            Segment::Last => Err(self.err("`-` names the last item only in lookups")),
        }
    }

    fn items_mut<'a>(&self, node: &'a mut Value) -> Result<&'a mut Vec<Value>, PatchError> {
        let kind = kind_name(node);
        match node {
            Value::Array(items) => Ok(items),
            _ => Err(self.err(format!(
                "wrong node kind: expected SequenceNode but got {kind}"
            ))),
        }
    }

    fn fieldspec_mut(
        &self,
        node: &mut Value,
        at: usize,
        create: Option<&Value>,
        f: &mut dyn FnMut(&mut Value) -> Result<(), PatchError>,
        count: &mut usize,
    ) -> Result<(), PatchError> {
        let Some(Segment::Field(name)) = self.segments.get(at) else {
            *count += 1;
            return f(node);
        };
        match node {
            Value::Null => Ok(()),
            Value::Array(items) => {
                for item in items {
                    self.fieldspec_mut(item, at, create, f, count)?;
                }
                Ok(())
            }
            Value::Object(map) => {
                let (field, is_seq) = match name.strip_suffix("[]") {
                    Some(f) => (f, true),
                    None => (name.as_str(), false),
                };
                if field.is_empty() {
                    return Err(self.err("cannot set or create an empty field name"));
                }
                let last = at + 1 == self.segments.len();
                let make = match create {
                    Some(c) if !is_seq => Some(if last {
                        c.clone()
                    } else {
                        Value::Object(Map::new())
                    }),
                    _ => None,
                };
                match (map.get_mut(field), make) {
                    (Some(v), Some(fresh)) if v.is_null() => *v = fresh,
                    (Some(_), _) => {}
                    (None, Some(fresh)) => {
                        map.insert(field.to_string(), fresh);
                    }
                    (None, None) => return Ok(()),
                }
                match map.get_mut(field) {
                    Some(v) => self.fieldspec_mut(v, at + 1, create, f, count),
                    None => Ok(()),
                }
            }
            _ => Err(self.err("expected sequence or mapping node")),
        }
    }
}

/// Whether a list item's `key` field (or the item itself for an empty key) matches `re`.
fn item_matches(item: &Value, key: &str, re: &Regex) -> bool {
    let field = if key.is_empty() {
        Some(item)
    } else {
        item.get(key)
    };
    match field.and_then(scalar_text) {
        Some(text) => re.is_match(text.trim()),
        None => false,
    }
}

/// kustomize's field spec (transformer configuration): which kinds and which path in them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldSpec {
    /// API group; empty matches any.
    pub group: String,
    /// API version; empty matches any.
    pub version: String,
    /// Kind; empty matches any.
    pub kind: String,
    /// Slash-separated path ([`FieldPath::parse_fieldspec`]).
    pub path: String,
    /// Whether a missing field is created.
    pub create: bool,
}

impl FieldSpec {
    /// Whether the spec applies to `obj` (its apiVersion and kind).
    pub fn applies_to(&self, obj: &Value) -> bool {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let (group, version) = split_api_version(api_version);
        (self.kind.is_empty() || self.kind == kind)
            && (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn p(s: &str) -> FieldPath {
        FieldPath::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "nginx:1", "args": ["-jar", "x.jar"],
                 "ports": [{"containerPort": 8080}]},
                {"name": "sidecar-app", "image": "envoy"},
                {"name": "other", "image": "busybox"}
            ]}}}
        })
    }

    // After kyaml/utils pathsplitter_test.go TestSmarterPathSplitter.
    #[test]
    fn dotted_paths_split_like_kyaml() {
        assert_eq!(smarter_split("a.b.c"), ["a", "b", "c"]);
        assert_eq!(smarter_split("a.[b=c.d].e"), ["a", "[b=c.d]", "e"]);
        assert_eq!(
            smarter_split(r"metadata.annotations.a\.b/c"),
            ["metadata", "annotations", "a.b/c"]
        );
        assert_eq!(smarter_split("spec.[a.b]"), ["spec", "a.b"]);
        assert_eq!(smarter_split(".a.b"), ["a", "b"]);
        assert_eq!(split_escaped(r"a/b\/c/d", '/'), ["a", "b/c", "d"]);
    }

    #[test]
    fn lookup_follows_fields_items_and_exact_matches() {
        let d = deployment();
        let get = |s: &str| p(s).lookup(&d).unwrap().cloned();
        assert_eq!(get("metadata.name"), Some(json!("web")));
        assert_eq!(
            get(r"metadata.labels.app\.kubernetes\.io/name"),
            Some(json!("web"))
        );
        assert_eq!(
            get("spec.template.spec.containers.[name=app].image"),
            Some(json!("nginx:1"))
        );
        assert_eq!(
            get("spec.template.spec.containers.1.image"),
            Some(json!("envoy"))
        );
        assert_eq!(
            get("spec.template.spec.containers.-.image"),
            Some(json!("busybox"))
        );
        assert_eq!(
            get("spec.template.spec.containers.[name=app].args.[=-jar]"),
            Some(json!("-jar"))
        );
        assert_eq!(
            get(
                "spec.template.spec.containers.[name=app].ports.[containerPort=8080].containerPort"
            ),
            Some(json!(8080))
        );
        assert_eq!(get("spec.template.spec.containers.[name=nope].image"), None);
        assert_eq!(get("spec.missing.x"), None);
        let err = p("spec.template.spec.containers.*.image")
            .lookup(&d)
            .unwrap_err();
        assert!(
            err.to_string().contains("wildcard is not supported"),
            "{err}"
        );
        let err = p("metadata.name.x").lookup(&d).unwrap_err();
        assert!(err.to_string().contains("expected MappingNode"), "{err}");
    }

    #[test]
    fn var_paths_accept_bracketed_indexes() {
        let svc = json!({"spec": {"ports": [{"port": 80}, {"port": 443}]}});
        let path = FieldPath::parse_var("spec.ports[1].port").unwrap();
        assert_eq!(path.lookup(&svc).unwrap(), Some(&json!(443)));
        assert!(FieldPath::parse("spec.ports.[1]").is_err());
    }

    #[test]
    fn matcher_treats_item_values_as_unanchored_regexes_like_kustomize() {
        let d = deployment();
        let found = p("spec.template.spec.containers.[name=app].image")
            .get(&d)
            .unwrap();
        assert_eq!(found, [&json!("nginx:1"), &json!("envoy")]);
        let found = p("spec.template.spec.containers.[name=^app$].image")
            .get(&d)
            .unwrap();
        assert_eq!(found, [&json!("nginx:1")]);
        let all = p("spec.template.spec.containers.*.name").get(&d).unwrap();
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn visit_mut_creates_fields_and_list_items_when_asked() {
        let mut d = deployment();
        let path = p("spec.template.spec.containers.[name=new].image");
        let mut set = |v: &mut Value| {
            *v = json!("img");
            Ok(())
        };
        assert_eq!(path.visit_mut(&mut d, None, &mut set).unwrap(), 0);
        assert_eq!(
            path.visit_mut(&mut d, Some(&Value::Null), &mut set)
                .unwrap(),
            1
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][3],
            json!({"name": "new", "image": "img"})
        );

        let mut obj = json!({"kind": "X"});
        let path = p("spec.list.0.name");
        path.visit_mut(&mut obj, Some(&Value::Null), &mut set)
            .unwrap();
        assert_eq!(obj["spec"], json!({"list": [{"name": "img"}]}));
        let err = p("spec.list.5")
            .visit_mut(&mut obj, Some(&Value::Null), &mut set)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("index 5 specified but only 1 elements found"),
            "{err}"
        );
    }

    #[test]
    fn fieldspec_paths_walk_every_list_item() {
        let mut d = deployment();
        let path = FieldPath::parse_fieldspec("spec/template/spec/containers/image").unwrap();
        assert_eq!(path.get(&d).unwrap().len(), 3);
        let n = path
            .visit_mut(&mut d, None, &mut |v| {
                *v = json!(format!("r/{}", v.as_str().unwrap_or("")));
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][2]["image"],
            json!("r/busybox")
        );

        let labels = FieldPath::parse_fieldspec("spec/selector/matchLabels").unwrap();
        let mut obj = json!({"spec": {}});
        labels
            .visit_mut(&mut obj, Some(&json!({})), &mut |_| Ok(()))
            .unwrap();
        assert_eq!(obj, json!({"spec": {"selector": {"matchLabels": {}}}}));
        let seq = FieldPath::parse_fieldspec("spec/rules[]/host").unwrap();
        let mut obj = json!({"spec": {}});
        assert_eq!(
            seq.visit_mut(&mut obj, Some(&json!("")), &mut |_| Ok(()))
                .unwrap(),
            0
        );
        assert_eq!(obj, json!({"spec": {}}));
        let err = FieldPath::parse_fieldspec("metadata/name/x")
            .unwrap()
            .visit_mut(&mut d, None, &mut |_| Ok(()))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("expected sequence or mapping node"),
            "{err}"
        );
    }

    #[test]
    fn field_specs_select_by_group_version_kind() {
        let d = deployment();
        let spec = |g: &str, v: &str, k: &str| FieldSpec {
            group: g.into(),
            version: v.into(),
            kind: k.into(),
            ..FieldSpec::default()
        };
        assert!(spec("", "", "").applies_to(&d));
        assert!(spec("apps", "v1", "Deployment").applies_to(&d));
        assert!(!spec("", "", "StatefulSet").applies_to(&d));
        assert!(!spec("batch", "", "").applies_to(&d));
    }
}
