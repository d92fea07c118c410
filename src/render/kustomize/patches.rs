//! The kustomization fields served by the patch engine ([`crate::render::patch`]): `patches`,
//! `patchesStrategicMerge`, `patchesJson6902`, `replacements` and `vars`. This module reads
//! their files, hands objects to the engine and turns its errors into file:line.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::KError;
use super::build::{Builder, Dir};
use super::file::{Lined, line_of};
use super::resource::{Resource, export_ids, import_ids, via};
use crate::manifest::Via;
use crate::render::patch::{self, PatchOptions, Replacement, Selector, Var};
use crate::render::problem::{Problem, ProblemKind, Severity};

/// What a patch entry needs: the builder (to read files), the directory and its kustomization.
pub struct Ctx<'b, 'a> {
    pub builder: &'b mut Builder<'a>,
    pub dir: &'b Dir,
    pub kfile: &'b Arc<str>,
}

/// A `patches` (or `patchesJson6902`) entry.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PatchEntry {
    #[serde(default)]
    path: String,
    #[serde(default)]
    patch: String,
    target: Option<Selector>,
    #[serde(default)]
    options: PatchOptions,
}

/// Runs the patch engine on all resources, with previous ids visible to it; returns what the
/// engine returned and marks changed objects with `via`; removes deleted ones.
fn with_engine<R>(
    ra: &mut Vec<Resource>,
    via: &Via,
    run: impl FnOnce(&mut [&mut Value]) -> Result<R, patch::PatchError>,
) -> Result<R, patch::PatchError> {
    let before: Vec<Value> = ra.iter().map(|r| r.object.clone()).collect();
    for r in ra.iter_mut() {
        export_ids(r);
    }
    let result = {
        let mut objs: Vec<&mut Value> = ra.iter_mut().map(|r| &mut r.object).collect();
        run(&mut objs)
    };
    for r in ra.iter_mut() {
        import_ids(r);
    }
    for (r, b) in ra.iter_mut().zip(&before) {
        if !r.object.is_null() && r.object != *b {
            r.touched(via);
        }
    }
    ra.retain(|r| !r.object.is_null());
    result
}

/// Field names of patch, replacement and var entries. kustomize decodes them with Go's JSON
/// decoder, which matches keys case-insensitively (`fieldpath` is `fieldPath`).
const ENTRY_FIELDS: &[&str] = &[
    "path",
    "patch",
    "target",
    "options",
    "group",
    "version",
    "kind",
    "name",
    "namespace",
    "labelSelector",
    "annotationSelector",
    "allowNameChange",
    "allowKindChange",
    "objref",
    "fieldref",
    "fieldPath",
    "apiVersion",
    "source",
    "sourceValue",
    "targets",
    "select",
    "reject",
    "fieldPaths",
    "delimiter",
    "index",
    "create",
];

/// Renames keys that match an entry field in another case, at every depth.
fn fold_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let renames: Vec<(String, &str)> = m
                .keys()
                .filter_map(|k| {
                    ENTRY_FIELDS
                        .iter()
                        .find(|f| f.eq_ignore_ascii_case(k) && **f != k.as_str())
                        .map(|f| (k.clone(), *f))
                })
                .collect();
            for (old, new) in renames {
                if let Some(x) = m.remove(&old) {
                    m.entry(new.to_string()).or_insert(x);
                }
            }
            m.values_mut().for_each(fold_keys);
        }
        Value::Array(a) => a.iter_mut().for_each(fold_keys),
        _ => {}
    }
}

/// Decodes an entry as kustomize would (keys in any case).
fn decode<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, serde_json::Error> {
    let mut v = v.clone();
    fold_keys(&mut v);
    serde_json::from_value(v)
}

impl Ctx<'_, '_> {
    fn err(&self, line: u32, field: &str, e: impl std::fmt::Display) -> KError {
        KError::new(self.kfile, line, format!("{field}: {e}"))
    }

    /// Reads a patch file relative to the kustomization (variables substituted).
    fn read_patch_file(&mut self, rel: &str, line: u32, field: &str) -> Result<String, KError> {
        let (path, display) = self
            .builder
            .file_in(self.dir, self.kfile, line, field, rel)?;
        Ok(self.builder.read_substituted(&path, &display)?.1.text)
    }

    fn warn(&mut self, line: u32, message: String) {
        self.builder.problems.push(Problem::at(
            Severity::Warning,
            ProblemKind::Kustomize,
            self.kfile,
            line,
            message,
        ));
    }

    /// One `patchesStrategicMerge` entry: a file, or an inline patch.
    pub fn strategic_merge_entry(
        &mut self,
        p: &Lined<String>,
        ra: &mut Vec<Resource>,
    ) -> Result<(), KError> {
        let line = line_of(p);
        let field = "patchesStrategicMerge";
        let inline = p.value.contains('\n') || p.value.trim_start().starts_with('{');
        let (text, what) = if inline {
            (p.value.clone(), field.to_string())
        } else {
            (
                self.read_patch_file(&p.value, line, field)?,
                format!("{field} {}", p.value),
            )
        };
        let content = patch::parse_patch(&text).map_err(|e| self.err(line, &what, e))?;
        let v = via(&what, self.kfile, line);
        let schema = self.builder.schema.as_ref();
        with_engine(ra, &v, |objs| {
            patch::apply_patch_with(objs, &content, None, PatchOptions::default(), schema)
        })
        .map_err(|e| self.err(line, &what, e))?;
        Ok(())
    }

    fn entry(&self, p: &Lined<Value>, field: &str) -> Result<PatchEntry, KError> {
        let line = line_of(p);
        let e: PatchEntry =
            decode(&p.value).map_err(|e| self.err(line, field, format!("invalid entry: {e}")))?;
        match (e.path.is_empty(), e.patch.is_empty()) {
            (false, false) => Err(self.err(line, field, "set `path` or `patch`, not both")),
            (true, true) => Err(self.err(line, field, "the entry needs `path` or `patch`")),
            _ => Ok(e),
        }
    }

    /// One `patches` entry.
    pub fn patch_entry(&mut self, p: &Lined<Value>, ra: &mut Vec<Resource>) -> Result<(), KError> {
        let field = "patches";
        let line = line_of(p);
        let e = self.entry(p, field)?;
        let (text, what) = if e.path.is_empty() {
            (e.patch.clone(), field.to_string())
        } else {
            (
                self.read_patch_file(&e.path, line, field)?,
                format!("{field} {}", e.path),
            )
        };
        let content = patch::parse_patch(&text).map_err(|err| self.err(line, &what, err))?;
        let v = via(&what, self.kfile, line);
        let schema = self.builder.schema.as_ref();
        let outcome = with_engine(ra, &v, |objs| {
            patch::apply_patch_with(objs, &content, e.target.as_ref(), e.options, schema)
        })
        .map_err(|err| self.err(line, &what, err))?;
        if let Some(t) = &e.target
            && outcome.changed.is_empty()
            && outcome.deleted.is_empty()
        {
            self.warn(
                line,
                format!(
                    "patches: the target {t} matches no object, so the patch changes nothing \
                     (kustomize accepts this silently); check the selector"
                ),
            );
        }
        Ok(())
    }

    /// One `patchesJson6902` entry.
    pub fn json6902_entry(
        &mut self,
        p: &Lined<Value>,
        ra: &mut Vec<Resource>,
    ) -> Result<(), KError> {
        let field = "patchesJson6902";
        let line = line_of(p);
        let e = self.entry(p, field)?;
        let Some(target) = e.target.as_ref().filter(|t| !t.name.is_empty()) else {
            // kustomize's PatchJson6902Transformer: "must specify the target name".
            return Err(self.err(
                line,
                field,
                "the entry needs a `target` with a `name` (kustomize requires it here; a \
                 `patches` entry may select by kind or labels alone)",
            ));
        };
        let (text, what) = if e.path.is_empty() {
            (e.patch.clone(), field.to_string())
        } else {
            (
                self.read_patch_file(&e.path, line, field)?,
                format!("{field} {}", e.path),
            )
        };
        let ops = patch::parse_patch_document(&text).map_err(|err| self.err(line, &what, err))?;
        let v = via(&what, self.kfile, line);
        // Unlike a `patches` entry, kustomize records no previous id here: an object this patch
        // renames is known only by its new name afterwards.
        let outcome = with_engine(ra, &v, |objs| {
            patch::apply::apply_json6902(objs, &ops, target, false)
        })
        .map_err(|err| self.err(line, &what, err))?;
        if outcome.changed.is_empty() {
            self.warn(
                line,
                format!("patchesJson6902: the target {target} matches no object, so the patch changes nothing"),
            );
        }
        Ok(())
    }

    /// `replacements`: inline entries, or `path:` files holding one or a list.
    pub fn replacements(
        &mut self,
        list: &[Lined<Value>],
        line: u32,
        ra: &mut Vec<Resource>,
    ) -> Result<(), KError> {
        let field = "replacements";
        let mut all: Vec<Replacement> = Vec::new();
        for entry in list {
            let l = line_of(entry);
            let path = entry
                .value
                .as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.get("path"))
                .and_then(Value::as_str);
            match path {
                Some(rel) => {
                    let text = self.read_patch_file(rel, l, field)?;
                    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(
                        &text,
                        crate::render::patch::json6902::yaml_options(1000),
                    )
                    .map_err(|e| self.err(l, field, format!("{rel}: {e}")))?;
                    for d in docs.into_iter().filter(|d| !d.is_null()) {
                        let items = match d {
                            Value::Array(a) => a,
                            other => vec![other],
                        };
                        for item in items {
                            all.push(
                                decode(&item)
                                    .map_err(|e| self.err(l, field, format!("{rel}: {e}")))?,
                            );
                        }
                    }
                }
                None => all.push(
                    decode(&entry.value)
                        .map_err(|e| self.err(l, field, format!("invalid entry: {e}")))?,
                ),
            }
        }
        let v = via(field, self.kfile, line);
        with_engine(ra, &v, |objs| patch::apply_replacements(objs, &all))
            .map_err(|e| self.err(line, field, e))
    }

    /// `vars`: binds each var to its object now; values are resolved when the build ends.
    pub fn vars(&mut self, list: &[Lined<Value>], ra: &mut Vec<Resource>) -> Result<(), KError> {
        let mut vars = Vec::new();
        for entry in list {
            let var: Var = decode(&entry.value)
                .map_err(|e| self.err(line_of(entry), "vars", format!("invalid entry: {e}")))?;
            vars.push(var);
        }
        let line = list.first().map(line_of).unwrap_or(0);
        let v = via("vars", self.kfile, line);
        with_engine(ra, &v, |objs| patch::bind_vars(objs, &vars))
            .map_err(|e| self.err(line, "vars", e))?;
        for var in vars {
            self.builder
                .vars_declared
                .push((var, self.kfile.clone(), line));
        }
        Ok(())
    }
}

/// Resolves and substitutes the `vars` declared anywhere in the build (kustomize's
/// `ResolveVars`, run once at the top); unused vars are warnings, as kustomize logs them.
pub fn resolve_vars(
    builder: &mut Builder<'_>,
    ra: &mut Vec<Resource>,
    kfile: &Arc<str>,
    config: &super::fieldspec::Config,
) -> Result<(), KError> {
    if builder.vars_declared.is_empty() {
        return Ok(());
    }
    let vars: Vec<Var> = builder
        .vars_declared
        .iter()
        .map(|(v, _, _)| v.clone())
        .collect();
    let (first_file, first_line) = builder
        .vars_declared
        .first()
        .map(|(_, f, l)| (f.clone(), *l))
        .unwrap_or((kfile.clone(), 0));
    // Field specs from `configurations` beyond kustomize's built-in varreference list.
    let builtin = &super::fieldspec::defaults().var_reference;
    let extra: Vec<patch::FieldSpec> = config
        .var_reference
        .iter()
        .filter(|f| !builtin.contains(f))
        .map(|f| patch::FieldSpec {
            group: f.group.clone(),
            version: f.version.clone(),
            kind: f.kind.clone(),
            path: f.path.clone(),
            create: f.create,
        })
        .collect();
    let v = via("vars", &first_file, first_line);
    let unused = with_engine(ra, &v, |objs| {
        let values = patch::resolve_vars(&*objs, &vars)?;
        patch::substitute_vars(objs, &values, &extra)
    })
    .map_err(|e| KError::new(&first_file, first_line, format!("vars: {e}")))?;
    for name in unused {
        if let Some((_, f, l)) = builder
            .vars_declared
            .iter()
            .find(|(v, _, _)| v.name == name)
        {
            builder.problems.push(Problem::at(
                Severity::Warning,
                ProblemKind::Kustomize,
                f,
                *l,
                format!("var {name} is declared but no field uses $({name})"),
            ));
        }
    }
    Ok(())
}
