//! Building a kustomization: accumulate resources, generators and components, then run the
//! transformers in kustomize's order (`api/internal/target/kusttarget.go`).

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::fieldspec::{self, Config};
use super::file::{Kustomization, Lined, line_of};
use super::generators::{self, Kind};
use super::patches;
use super::resource::{Behavior, Gvk, Resource, via};
use super::transforms;
use super::{KError, KUSTOMIZATION_FILES};
use crate::manifest::Origin;
use crate::render::problem::{Problem, ProblemKind, Severity};
use crate::render::source::{MAX_FILE_BYTES, Source, Syntax};
use crate::render::vars::{Substituted, Substitution};
use crate::render::{Vars, documents, objects};

/// Deepest chain of kustomizations (overlay → base → …) accepted.
pub const MAX_NESTING: usize = 64;

/// A directory as the file system knows it and as the user should read it.
#[derive(Debug, Clone)]
pub struct Dir {
    /// Canonical path.
    pub fs: PathBuf,
    /// Path shown in messages, relative as the user wrote it.
    pub display: String,
}

/// Whether a kustomization is expected to be a `kind: Component`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Kustomization,
    Component,
}

/// Walks kustomizations; holds what is shared across the tree.
pub struct Builder<'a> {
    /// Canonical directory no path may leave.
    pub root: PathBuf,
    /// kpush variables, substituted in resource and patch files.
    pub vars: &'a Vars,
    /// Whether `${NAME}` is substituted, and whether an undefined one is an error.
    pub substitution: Substitution,
    /// Problems that do not stop the build (undefined variables, collected as with plain YAML).
    pub problems: Vec<Problem>,
    /// The OpenAPI schema of the last kustomization that named one (`openapi: path:`); global,
    /// as kustomize's is.
    pub schema: Option<crate::render::patch::OpenApiSchema>,
    /// `vars` declared so far, with the kustomization and line declaring them.
    pub vars_declared: Vec<(crate::render::patch::Var, Arc<str>, u32)>,
    /// Kustomizations being built, to find cycles.
    stack: Vec<(PathBuf, String)>,
    /// The helm binary for `helmCharts` (`--helm`); `None` finds `helm` on PATH.
    pub helm: Option<PathBuf>,
    /// helm, once found and checked.
    pub(super) helm_found: Option<crate::render::chart::helm::Helm>,
    /// Keys for SOPS-encrypted files the kustomization reads.
    sops: &'a crate::render::sops::SopsKeys,
    /// Every value decrypted from those files.
    pub decrypted: std::cell::RefCell<Vec<String>>,
}

/// Objects accumulated so far and the transformer configuration they carry.
#[derive(Default)]
pub struct Accum {
    /// The objects.
    pub resources: Vec<Resource>,
    /// kustomize's defaults plus every `configurations` file seen below and at this level.
    pub config: Config,
}

/// The built objects and facts the caller needs.
pub struct Built {
    /// Objects in output order.
    pub resources: Vec<Resource>,
    /// The top kustomization's `namespace` with its file and line.
    pub namespace: Option<(String, String, u32)>,
}

impl<'a> Builder<'a> {
    /// A builder confined to `root`.
    pub fn new(
        root: PathBuf,
        vars: &'a Vars,
        substitution: Substitution,
        sops: &'a crate::render::sops::SopsKeys,
    ) -> Self {
        Self {
            sops,
            decrypted: Default::default(),
            root,
            vars,
            substitution,
            problems: Vec::new(),
            vars_declared: Vec::new(),
            schema: None,
            stack: Vec::new(),
            helm: None,
            helm_found: None,
        }
    }

    /// Builds the kustomization in `dir`, as `kubectl kustomize DIR` does.
    pub fn build(&mut self, dir: &Dir) -> Result<Built, KError> {
        let (k, kfile) = self.load(dir)?;
        let namespace = k
            .namespace
            .as_ref()
            .filter(|n| !n.value.is_empty())
            .map(|n| (n.value.clone(), kfile.to_string(), line_of(n)));
        let sort = k.sort_options.clone();
        let acc = self.accumulate(dir, k, kfile.clone(), Accum::default())?;
        let config = acc.config;
        let mut res = acc.resources;
        for r in res.iter_mut().filter(|r| r.needs_hash) {
            let h = super::hash::suffix(&r.object);
            r.store_previous_id();
            let name = format!("{}-{h}", r.name());
            r.set_name(&name);
        }
        super::nameref::fix(&mut res, &config).map_err(|m| KError::new(&kfile, 0, m))?;
        patches::resolve_vars(self, &mut res, &kfile, &config)?;
        // kustomize's IgnoreLocal: objects marked local-config serve the build only.
        res.retain(|r| {
            r.object
                .pointer("/metadata/annotations/config.kubernetes.io~1local-config")
                .and_then(serde_json::Value::as_str)
                != Some("true")
        });
        for r in res.iter_mut() {
            crate::render::patch::strip_internal_annotations(&mut r.object);
            drop_null_metadata(&mut r.object);
        }
        match sort {
            Some(s) if s.value.order == "fifo" => {
                if s.value.legacy_sort_options.is_some() {
                    return Err(KError::new(
                        &kfile,
                        line_of(&s),
                        "sortOptions.legacySortOptions is set but the order is `fifo`, not `legacy`",
                    ));
                }
            }
            Some(s) if s.value.order == "legacy" => {
                let (f, l) = match &s.value.legacy_sort_options {
                    Some(o) => (o.order_first.clone(), o.order_last.clone()),
                    None => super::order::defaults(),
                };
                super::order::legacy(&mut res, &f, &l);
            }
            Some(s) => {
                return Err(KError::new(
                    &kfile,
                    line_of(&s),
                    "sortOptions.order must be `fifo` or `legacy`",
                ));
            }
            None => {
                let (f, l) = super::order::defaults();
                super::order::legacy(&mut res, &f, &l);
            }
        }
        Ok(Built {
            resources: res,
            namespace,
        })
    }

    /// Reads and checks the kustomization file of `dir`.
    fn load(&mut self, dir: &Dir) -> Result<(Kustomization, Arc<str>), KError> {
        let found: Vec<&str> = KUSTOMIZATION_FILES
            .iter()
            .copied()
            .filter(|f| dir.fs.join(f).is_file())
            .collect();
        let name = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(KError::new(
                    &dir.display,
                    0,
                    format!(
                        "{} has no kustomization.yaml, kustomization.yml or Kustomization; a \
                         directory listed under resources, bases or components must be a \
                         kustomization (list its files instead)",
                        dir.display
                    ),
                )
                .kind(ProblemKind::Io));
            }
            many => {
                return Err(KError::new(
                    &dir.display,
                    0,
                    format!(
                        "{} has several kustomization files ({}); keep one",
                        dir.display,
                        many.join(", ")
                    ),
                ));
            }
        };
        let display: Arc<str> = join_display(&dir.display, name).into();
        let bytes = read_limited(&dir.fs.join(name), &display)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| KError::new(&display, 0, "the kustomization file is not valid UTF-8"))?;
        let k = Kustomization::parse(text.trim_start_matches('\u{feff}'), &display)?;
        k.enforce_fields(&display)?;
        if let Some(rel) = k
            .openapi
            .as_ref()
            .and_then(|o| o.value.get("path"))
            .and_then(serde_json::Value::as_str)
        {
            let line = k.key_line("openapi", 0);
            let (path, shown) = self.file_in(dir, &display, line, "openapi", rel)?;
            let text = self.read_text(&path, &shown)?;
            let doc: serde_json::Value = serde_saphyr::from_str_with_options(
                &text,
                crate::render::documents::yaml_options(),
            )
            .map_err(|e| KError::new(&shown, 0, format!("invalid OpenAPI document: {e}")))?;
            let schema = crate::render::patch::OpenApiSchema::from_document(&doc)
                .map_err(|e| KError::new(&display, line, format!("openapi: {e}")))?;
            self.schema = Some(schema);
        }
        if let Some((field, line, why)) = k.unsupported() {
            return Err(KError::new(
                &display,
                line,
                format!("`{field}` is not supported by kpush: {why}"),
            )
            .kind(ProblemKind::Unsupported));
        }
        Ok((k, display))
    }

    /// kustomize's `accumulateTarget`: resources, generators, components, then transformers.
    fn accumulate(
        &mut self,
        dir: &Dir,
        k: Kustomization,
        kfile: Arc<str>,
        mut ra: Accum,
    ) -> Result<Accum, KError> {
        if self.stack.len() >= MAX_NESTING {
            return Err(KError::new(
                &kfile,
                0,
                format!("refused: kustomizations are nested deeper than {MAX_NESTING} levels"),
            )
            .kind(ProblemKind::Limit));
        }
        self.stack.push((dir.fs.clone(), dir.display.clone()));
        let out = self.accumulate_inner(dir, k, kfile, &mut ra).map(|_| ra);
        self.stack.pop();
        out
    }

    fn accumulate_inner(
        &mut self,
        dir: &Dir,
        k: Kustomization,
        kfile: Arc<str>,
        acc: &mut Accum,
    ) -> Result<(), KError> {
        let entries = k
            .resources
            .iter()
            .flatten()
            .map(|e| ("resources", e))
            .chain(k.bases.iter().flatten().map(|e| ("bases", e)));
        for (field, entry) in entries {
            self.resource_entry(dir, &kfile, field, entry, acc)?;
        }

        let mut config = fieldspec::defaults().clone();
        for c in k.configurations.iter().flatten() {
            let line = line_of(c);
            let (path, display) = self.file_in(dir, &kfile, line, "configurations", &c.value)?;
            let text = self.read_text(&path, &display)?;
            let more = Config::parse(&text).map_err(|m| {
                KError::new(
                    &kfile,
                    line,
                    format!("configurations entry `{}`: {m}", c.value),
                )
            })?;
            config.merge(&more);
        }
        acc.config.merge(&config);
        let ra = &mut acc.resources;

        let global = k.generator_options.as_ref();
        for (kind, list) in [
            (Kind::ConfigMap, &k.config_map_generator),
            (Kind::Secret, &k.secret_generator),
        ] {
            for g in list.iter().flatten() {
                self.generator(dir, &kfile, kind, g, global, ra)?;
            }
        }
        let (charts, globals) = self.helm_entries(&k, &kfile);
        for c in &charts {
            self.helm_chart(dir, &kfile, c, globals.as_ref(), ra)?;
        }

        for c in k.components.iter().flatten() {
            let sub = self.sub_dir(dir, &kfile, "components", c)?;
            let (sk, skfile) = self.load(&sub)?;
            check_kind(&sk, &skfile, &kfile, line_of(c), Expect::Component)?;
            let taken = std::mem::take(acc);
            *acc = self.accumulate(&sub, sk, skfile, taken)?;
        }

        let Accum { resources, config } = acc;
        self.transform(dir, &k, &kfile, resources, config)
    }

    fn transform(
        &mut self,
        dir: &Dir,
        k: &Kustomization,
        kfile: &Arc<str>,
        ra: &mut Vec<Resource>,
        cfg: &Config,
    ) -> Result<(), KError> {
        let err = |line: u32| move |m: String| KError::new(kfile, line, m);
        let mut ctx = patches::Ctx {
            builder: self,
            dir,
            kfile,
        };
        if let Some(list) = &k.patches_strategic_merge {
            for p in list {
                ctx.strategic_merge_entry(p, ra)?;
            }
        }
        if let Some(list) = &k.patches {
            for p in list {
                ctx.patch_entry(p, ra)?;
            }
        }
        if let Some(ns) = k.namespace.as_ref().filter(|n| !n.value.is_empty()) {
            let v = via("namespace", kfile, line_of(ns));
            transforms::namespace(ra, &ns.value, cfg, &v).map_err(err(line_of(ns)))?;
        }
        if let Some(p) = &k.name_prefix {
            let v = via("namePrefix", kfile, line_of(p));
            transforms::name_affix(ra, &p.value, true, cfg, &v).map_err(err(line_of(p)))?;
        }
        if let Some(s) = &k.name_suffix {
            let v = via("nameSuffix", kfile, line_of(s));
            transforms::name_affix(ra, &s.value, false, cfg, &v).map_err(err(line_of(s)))?;
        }
        if let Some(labels) = &k.labels {
            if let Some(cl) = &k.common_labels {
                for l in labels {
                    if let Some(dup) = l.value.pairs.keys().find(|key| cl.value.contains_key(*key))
                    {
                        return Err(KError::new(
                            kfile,
                            line_of(l),
                            format!(
                                "label `{dup}` is set in both commonLabels and labels; keep one"
                            ),
                        ));
                    }
                }
            }
            for l in labels {
                let v = via("labels", kfile, line_of(l));
                transforms::labels(ra, &l.value, cfg, &v).map_err(err(line_of(l)))?;
            }
        }
        if let Some(cl) = &k.common_labels {
            let line = k.key_line("commonLabels", line_of(cl));
            let v = via("commonLabels", kfile, line);
            transforms::common_labels(ra, &cl.value, cfg, &v).map_err(err(line))?;
        }
        if let Some(ca) = &k.common_annotations {
            let line = k.key_line("commonAnnotations", line_of(ca));
            let v = via("commonAnnotations", kfile, line);
            transforms::common_annotations(ra, &ca.value, cfg, &v).map_err(err(line))?;
        }
        if let Some(list) = &k.patches_json6902 {
            for p in list {
                ctx.json6902_entry(p, ra)?;
            }
        }
        for r in k.replicas.iter().flatten() {
            let v = via("replicas", kfile, line_of(r));
            transforms::replicas(ra, &r.value, cfg, &v).map_err(err(line_of(r)))?;
        }
        for i in k
            .images
            .iter()
            .flatten()
            .chain(k.image_tags.iter().flatten())
        {
            let v = via("images", kfile, line_of(i));
            transforms::images(ra, &i.value, cfg, &v).map_err(err(line_of(i)))?;
        }
        if let Some(list) = &k.replacements {
            let line = k.key_line("replacements", list.first().map(line_of).unwrap_or(0));
            ctx.replacements(list, line, ra)?;
        }
        if let Some(list) = &k.vars {
            ctx.vars(list, ra)?;
        }
        Ok(())
    }

    fn resource_entry(
        &mut self,
        dir: &Dir,
        kfile: &Arc<str>,
        field: &str,
        entry: &Lined<String>,
        acc: &mut Accum,
    ) -> Result<(), KError> {
        let line = line_of(entry);
        check_local(&entry.value, kfile, line, field)?;
        let path = dir.fs.join(&entry.value);
        let md = fs::metadata(&path).map_err(|e| {
            KError::new(
                kfile,
                line,
                format!(
                    "{field} entry `{}`: cannot read {}: {e}",
                    entry.value,
                    join_display(&dir.display, &entry.value)
                ),
            )
            .kind(ProblemKind::Io)
        })?;
        if md.is_dir() {
            let sub = self.sub_dir(dir, kfile, field, entry)?;
            let (sk, skfile) = self.load(&sub)?;
            check_kind(&sk, &skfile, kfile, line, Expect::Kustomization)?;
            let built = self.accumulate(&sub, sk, skfile, Accum::default())?;
            acc.config.merge(&built.config);
            for r in built.resources {
                append(&mut acc.resources, r, kfile, line)?;
            }
            return Ok(());
        }
        let (fs_path, display) = self.file_in(dir, kfile, line, field, &entry.value)?;
        for r in self.read_resources(&fs_path, &display)? {
            append(&mut acc.resources, r, kfile, line)?;
        }
        Ok(())
    }

    /// Resolves a file entry, refusing paths outside the kustomization's directory.
    pub fn file_in(
        &self,
        dir: &Dir,
        kfile: &Arc<str>,
        line: u32,
        field: &str,
        rel: &str,
    ) -> Result<(PathBuf, String), KError> {
        check_local(rel, kfile, line, field)?;
        let display = join_display(&dir.display, rel);
        let canon = dir.fs.join(rel).canonicalize().map_err(|e| {
            KError::new(
                kfile,
                line,
                format!("{field} entry `{rel}`: cannot read {display}: {e}"),
            )
            .kind(ProblemKind::Io)
        })?;
        if !canon.starts_with(&dir.fs) {
            return Err(KError::new(
                kfile,
                line,
                format!(
                    "{field} entry `{rel}` is outside the kustomization's directory {}; kustomize \
                     refuses that (its load restrictor): move the file below {} or make its \
                     directory a kustomization and list the directory",
                    dir.display, dir.display
                ),
            ));
        }
        Ok((canon, display))
    }

    fn sub_dir(
        &self,
        dir: &Dir,
        kfile: &Arc<str>,
        field: &str,
        entry: &Lined<String>,
    ) -> Result<Dir, KError> {
        let line = line_of(entry);
        check_local(&entry.value, kfile, line, field)?;
        let display = join_display(&dir.display, &entry.value);
        let canon = dir.fs.join(&entry.value).canonicalize().map_err(|e| {
            KError::new(
                kfile,
                line,
                format!(
                    "{field} entry `{}`: cannot read {display}: {e}",
                    entry.value
                ),
            )
            .kind(ProblemKind::Io)
        })?;
        if !canon.starts_with(&self.root) {
            return Err(KError::new(
                kfile,
                line,
                format!(
                    "{field} entry `{}` ({}) is outside the repository ({}); kpush reads only \
                     files inside the repository it deploys",
                    entry.value,
                    canon.display(),
                    self.root.display()
                ),
            ));
        }
        if !canon.is_dir() {
            return Err(KError::new(
                kfile,
                line,
                format!(
                    "{field} entry `{}` must be a directory holding a kustomization",
                    entry.value
                ),
            ));
        }
        if let Some(pos) = self.stack.iter().position(|(p, _)| *p == canon) {
            let mut chain: Vec<&str> = self.stack[pos..].iter().map(|(_, d)| d.as_str()).collect();
            chain.push(&display);
            return Err(KError::new(
                kfile,
                line,
                format!(
                    "kustomizations include each other in a cycle: {}; remove one of the entries",
                    chain.join(" → ")
                ),
            ));
        }
        Ok(Dir { fs: canon, display })
    }

    /// Reads a file of objects (with kpush variables substituted).
    pub fn read_resources(&mut self, path: &Path, display: &str) -> Result<Vec<Resource>, KError> {
        let (text, sub) = self.read_substituted(path, display)?;
        let source = Source {
            name: display.to_string(),
            text,
            syntax: if display.ends_with(".json") {
                Syntax::Json
            } else {
                Syntax::Yaml
            },
        };
        let mut problems = Vec::new();
        let mut docs = documents::parse(&source, &sub, &mut problems);
        for d in &mut docs {
            stringify_metadata(&mut d.value);
        }
        let mut manifests = Vec::new();
        objects::from_documents(display, docs, &mut manifests, &mut problems);
        if !problems.is_empty() {
            self.problems.extend(problems);
            return Err(KError::reported());
        }
        Ok(manifests
            .into_iter()
            .map(|m| Resource::new(m.object, m.origin))
            .collect())
    }

    /// Reads a text file and substitutes kpush variables as the run's mode says
    /// ([`crate::render::substitute_source`]): off unless asked (kustomize's inputs often hold
    /// shell snippets with `${X}`, and the output then equals `kubectl kustomize`); an undefined
    /// `${NAME}` is kept as a warning, or an error with `--strict-vars`.
    pub fn read_substituted(
        &mut self,
        path: &Path,
        display: &str,
    ) -> Result<(String, Substituted), KError> {
        let source = Source {
            name: display.to_string(),
            text: self.read_text(path, display)?,
            syntax: Syntax::Yaml,
        };
        let (sub, found) = crate::render::substitute_source(&source, self.vars, self.substitution);
        self.problems.extend(found);
        Ok((source.text, sub))
    }

    /// Reads a UTF-8 text file within the size limit.
    pub fn read_text(&self, path: &Path, display: &str) -> Result<String, KError> {
        let bytes = read_limited(path, display)?;
        let mut text = String::from_utf8(bytes).map_err(|_| {
            KError::new(display, 0, "the file is not valid UTF-8 text").kind(ProblemKind::Syntax)
        })?;
        if text.starts_with('\u{feff}') {
            text.drain(..3);
        }
        decrypt_text(self.sops, &self.decrypted, display, text)
    }

    fn generator(
        &mut self,
        dir: &Dir,
        kfile: &Arc<str>,
        kind: Kind,
        g: &Lined<super::file::GeneratorArgs>,
        global: Option<&super::file::GeneratorOptions>,
        ra: &mut Vec<Resource>,
    ) -> Result<(), KError> {
        let line = line_of(g);
        let field = kind.field();
        let mut read = |rel: &str| -> Result<Vec<u8>, String> {
            let (p, d) = self
                .file_in(dir, kfile, line, field, rel)
                .map_err(|e| e.message)?;
            let bytes = read_limited(&p, &d).map_err(|e| e.message)?;
            // A SOPS-encrypted YAML or JSON file is decrypted, as Flux's kustomize-controller
            // decrypts generator sources.
            match String::from_utf8(bytes) {
                Ok(text) => decrypt_text(self.sops, &self.decrypted, &d, text)
                    .map(String::into_bytes)
                    .map_err(|e| match e.line {
                        0 => format!("{}: {}", e.file, e.message),
                        l => format!("{}:{l}: {}", e.file, e.message),
                    }),
                Err(e) => Ok(e.into_bytes()),
            }
        };
        let made = generators::generate(kind, &g.value, global, &mut read)
            .map_err(|m| KError::new(kfile, line, format!("{field} {}: {m}", g.value.name)))?;
        let behavior = g.value.behavior.as_str();
        if !matches!(behavior, "" | "create" | "merge" | "replace") {
            self.problems.push(Problem::at(
                Severity::Warning,
                ProblemKind::Kustomize,
                kfile,
                line,
                format!(
                    "{field} {}: behavior `{behavior}` is not create, merge or replace; kustomize \
                     treats it as create, and so does kpush. Write `create` (or the behavior \
                     meant, in lower case)",
                    g.value.name
                ),
            ));
        }
        let mut r = Resource::new(made.object, Origin::new(kfile.clone(), line));
        r.needs_hash = made.needs_hash;
        r.behavior = made.behavior;
        absorb(ra, r, kfile, line, field)
    }
}

/// kustomize drops `labels: null` and `annotations: null` from its output.
fn drop_null_metadata(v: &mut serde_json::Value) {
    if let Some(md) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        for f in ["labels", "annotations"] {
            if md.get(f).is_some_and(serde_json::Value::is_null) {
                md.remove(f);
            }
        }
    }
}

/// kustomize writes label and annotation values as strings (`port: 8080` becomes `"8080"`);
/// plain kpush input refuses them instead, but an overlay must render as kustomize renders it.
pub(super) fn stringify_metadata(v: &mut serde_json::Value) {
    if let Some(items) = v.get_mut("items").and_then(|i| i.as_array_mut()) {
        items.iter_mut().for_each(stringify_metadata);
    }
    for field in ["labels", "annotations"] {
        let Some(m) = v
            .get_mut("metadata")
            .and_then(|m| m.get_mut(field))
            .and_then(|m| m.as_object_mut())
        else {
            continue;
        };
        for val in m.values_mut() {
            match val {
                serde_json::Value::Number(n) => *val = serde_json::Value::String(n.to_string()),
                serde_json::Value::Bool(b) => *val = serde_json::Value::String(b.to_string()),
                _ => {}
            }
        }
    }
}

/// kustomize's `appendReplaceOrMerge` for a generated object.
pub(super) fn absorb(
    ra: &mut Vec<Resource>,
    mut r: Resource,
    kfile: &Arc<str>,
    line: u32,
    field: &str,
) -> Result<(), KError> {
    let gvk = r.gvk();
    let (name, ns) = (r.name().to_string(), r.namespace().to_string());
    let matches: Vec<usize> = ra
        .iter()
        .enumerate()
        .filter(|(_, o)| o.any_id_equals(&gvk, &name, &ns))
        .map(|(i, _)| i)
        .collect();
    match (matches.as_slice(), r.behavior) {
        ([], Behavior::Create) => {
            ra.push(r);
            Ok(())
        }
        ([], b) => Err(KError::new(
            kfile,
            line,
            format!(
                "{field} {name}: behavior `{}` needs a {} {name} from a base, and there is none",
                if b == Behavior::Merge {
                    "merge"
                } else {
                    "replace"
                },
                gvk.kind
            ),
        )),
        ([i], Behavior::Create) => Err(KError::new(
            kfile,
            line,
            format!(
                "{field} {name}: {} already exists ({}); two generators make the same object — \
                 rename one, or set `behavior: merge` or `behavior: replace`",
                gvk.kind, ra[*i].origin
            ),
        )),
        ([i], b) => {
            let old = &ra[*i];
            merge_metadata(&mut r.object, &old.object, "labels");
            merge_metadata(&mut r.object, &old.object, "annotations");
            r.set_name(old.name());
            if old.namespace().is_empty() {
                if let Some(md) = r.object.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                    md.remove("namespace");
                }
            } else {
                r.set_namespace(old.namespace());
            }
            if b == Behavior::Merge {
                for f in ["data", "binaryData"] {
                    merge_map(&mut r.object, &old.object, f);
                }
            }
            // Build bookkeeping comes from the existing object; the hash only when both the
            // existing object and the generator ask for one (kustomize's
            // CopyMergeMetaDataFieldsFrom).
            r.prev_ids = old.prev_ids.clone();
            r.prefixes = old.prefixes.clone();
            r.suffixes = old.suffixes.clone();
            r.needs_hash = r.needs_hash && old.needs_hash;
            let v = via(field, kfile, line);
            if b == Behavior::Merge {
                let mut origin = old.origin.clone();
                origin.via.push(v);
                r.origin = origin;
            } else {
                r.origin.via = vec![];
            }
            r.behavior = Behavior::Create;
            ra[*i] = r;
            Ok(())
        }
        (many, _) => Err(KError::new(
            kfile,
            line,
            format!(
                "{field} {name}: {} objects could take the merge: {}",
                many.len(),
                many.iter()
                    .map(|i| ra[*i].describe())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn merge_metadata(new: &mut serde_json::Value, old: &serde_json::Value, field: &str) {
    let Some(old_map) = old
        .pointer(&format!("/metadata/{field}"))
        .and_then(|v| v.as_object())
    else {
        return;
    };
    let mut merged = old_map.clone();
    if let Some(n) = new
        .pointer(&format!("/metadata/{field}"))
        .and_then(|v| v.as_object())
    {
        for (k, v) in n {
            merged.insert(k.clone(), v.clone());
        }
    }
    if let Some(md) = new.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        md.insert(field.to_string(), serde_json::Value::Object(merged));
    }
}

fn merge_map(new: &mut serde_json::Value, old: &serde_json::Value, field: &str) {
    // kustomize's `MergeDataMapFrom`: the field is cleared and set again from both maps, so an
    // empty result leaves no field at all (`data: {}` on either side is dropped).
    let mut merged = serde_json::Map::new();
    for side in [old, &*new] {
        if let Some(m) = side.get(field).and_then(|v| v.as_object()) {
            for (k, v) in m {
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    let mut sorted: Vec<(String, serde_json::Value)> = merged.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(o) = new.as_object_mut() {
        o.shift_remove(field);
        if !sorted.is_empty() {
            o.insert(
                field.to_string(),
                serde_json::Value::Object(sorted.into_iter().collect()),
            );
        }
    }
}

/// Appends `r`, refusing a second object with the same identity (kustomize's `Append`).
pub fn append(
    ra: &mut Vec<Resource>,
    r: Resource,
    kfile: &Arc<str>,
    line: u32,
) -> Result<(), KError> {
    let gvk = r.gvk();
    // Cheap comparisons first: this runs once per object against all before it.
    if let Some(o) = ra.iter().find(|o| {
        o.name() == r.name()
            && o.kind() == r.kind()
            && o.api_version() == r.api_version()
            && o.effective_namespace() == r.effective_namespace()
    }) {
        return Err(KError::new(
            kfile,
            line,
            format!(
                "{} is included twice: {} and {}; kustomize refuses duplicate objects — remove one, \
                 or give the bases different namePrefix/nameSuffix values",
                short_id(&gvk, &r),
                o.origin,
                r.origin
            ),
        )
        .kind(ProblemKind::Duplicate));
    }
    ra.push(r);
    Ok(())
}

fn short_id(gvk: &Gvk, r: &Resource) -> String {
    if r.namespace().is_empty() {
        format!("{} {}", gvk.kind, r.name())
    } else {
        format!("{} {}/{}", gvk.kind, r.namespace(), r.name())
    }
}

fn check_kind(
    k: &Kustomization,
    kfile: &str,
    parent: &str,
    line: u32,
    expect: Expect,
) -> Result<(), KError> {
    let is_component = k.kind.as_ref().is_some_and(|k| k.value == "Component");
    match (expect, is_component) {
        (Expect::Component, false) => Err(KError::new(
            parent,
            line,
            format!("{kfile} is listed under components but is not `kind: Component`"),
        )),
        (Expect::Kustomization, true) => Err(KError::new(
            parent,
            line,
            format!("{kfile} is a `kind: Component`; list it under `components`, not resources"),
        )),
        _ => Ok(()),
    }
}

/// Refuses remote resources, which kpush never fetches.
fn check_local(entry: &str, kfile: &str, line: u32, field: &str) -> Result<(), KError> {
    let remote = entry.contains("://")
        || entry.starts_with("git@")
        || entry.starts_with("github.com/")
        || entry.starts_with("gitlab.com/")
        || entry.starts_with("bitbucket.org/")
        || entry.contains("?ref=");
    if remote {
        return Err(KError::new(
            kfile,
            line,
            format!(
                "{field} entry `{entry}` is remote; kpush works offline and never fetches \
                 resources. Vendor it into the repository (for example as a git submodule or a \
                 copied directory) and list the local path"
            ),
        )
        .kind(ProblemKind::Unsupported));
    }
    if entry.is_empty() {
        return Err(KError::new(kfile, line, format!("empty {field} entry")));
    }
    Ok(())
}

/// `text` decrypted when it is a SOPS-encrypted file; its plaintext values are added to `found`.
fn decrypt_text(
    keys: &crate::render::sops::SopsKeys,
    found: &std::cell::RefCell<Vec<String>>,
    display: &str,
    text: String,
) -> Result<String, KError> {
    match crate::render::sops::decrypt(&text, keys) {
        Ok(None) => Ok(text),
        Ok(Some(d)) => {
            found.borrow_mut().extend(d.secrets);
            Ok(d.text)
        }
        Err(e) => Err(KError::new(display, e.line, e.message).kind(ProblemKind::Decrypt)),
    }
}

/// Reads a file, refusing one larger than plain YAML input may be.
pub fn read_limited(path: &Path, display: &str) -> Result<Vec<u8>, KError> {
    let f = fs::File::open(path).map_err(|e| {
        KError::new(display, 0, format!("cannot read {display}: {e}")).kind(ProblemKind::Io)
    })?;
    let mut buf = Vec::new();
    let n = f
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| {
            KError::new(display, 0, format!("cannot read {display}: {e}")).kind(ProblemKind::Io)
        })?;
    if n as u64 > MAX_FILE_BYTES {
        return Err(KError::new(
            display,
            0,
            format!(
                "{display} is larger than {} MiB; kpush refuses input this large",
                MAX_FILE_BYTES / 1024 / 1024
            ),
        )
        .kind(ProblemKind::Limit));
    }
    Ok(buf)
}

/// `dir/rel`, normalised lexically (`overlays/prod/../../base` → `base`).
pub fn join_display(dir: &str, rel: &str) -> String {
    let joined = if dir.is_empty() || dir == "." {
        PathBuf::from(rel)
    } else {
        Path::new(dir).join(rel)
    };
    let mut out: Vec<Component> = Vec::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    let p: PathBuf = out.iter().collect();
    let s = p.to_string_lossy().into_owned();
    if s.is_empty() { ".".to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_paths_are_normalised() {
        assert_eq!(join_display("overlays/prod", "../../base"), "base");
        assert_eq!(join_display(".", "a.yaml"), "a.yaml");
        assert_eq!(join_display("../x", "../y/a.yaml"), "../y/a.yaml");
        assert_eq!(join_display("/abs/o", "./k.yaml"), "/abs/o/k.yaml");
    }

    #[test]
    fn remote_resources_are_refused_with_a_hint() {
        let e = check_local(
            "https://github.com/org/repo//deploy?ref=v1",
            "k.yaml",
            3,
            "resources",
        )
        .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("offline"));
    }
}
