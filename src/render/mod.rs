//! Stage 1, render: files → validated [`Manifest`]s, each remembering its file and line.
//!
//! A directory holding a kustomization is rendered by [`kustomize`] first (variables are
//! substituted in the files it reads when the run asks for it); a Helm chart by [`chart`]. Then
//! transforms run in this documented order:
//! 1. variable substitution on the text, when the run asks for it ([`vars`], [`substitute`]);
//! 2. image overrides ([`images`]);
//! 3. `--namespace` ([`namespace`]);
//! 4. `--label` / `--annotation` and the managed-by label ([`metadata`]);
//! 5. CI run annotations ([`metadata::run_annotations`]).
//!
//! Then duplicates are checked. All problems are collected and returned together.

pub mod chart;
pub mod documents;
pub mod images;
pub mod kustomize;
pub mod metadata;
pub mod namespace;
pub mod objects;
pub mod patch;
pub mod problem;
pub mod secrets;
pub mod sops;
pub mod source;
pub mod substitute;
pub mod vars;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;

pub use images::ImageOverride;
pub use problem::{Problem, ProblemKind, RenderError, Severity};
pub use substitute::substitute_source;
pub use vars::{Substitution, Vars};

use crate::manifest::{Manifest, ObjectKey};

/// Everything that shapes rendering; built by the CLI, knows nothing of flags.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Files, directories, or `-` for standard input.
    pub paths: Vec<PathBuf>,
    /// Values for `${NAME}`.
    pub vars: Vars,
    /// Whether `${NAME}` is substituted at all, and whether an unknown name is an error.
    pub substitution: Substitution,
    /// `--image NAME=REF` overrides.
    pub images: Vec<ImageOverride>,
    /// Fail (rather than warn) when an image override matched nothing.
    pub strict_images: bool,
    /// Namespace to set on namespaced objects without one.
    pub namespace: Option<String>,
    /// Allow objects whose namespace differs from `namespace`.
    pub allow_other_namespaces: bool,
    /// Extra labels for every object.
    pub labels: Vec<(String, String)>,
    /// Extra annotations for every object.
    pub annotations: Vec<(String, String)>,
    /// Environment to read CI run metadata from; `None` turns run annotations off.
    pub run_env: Option<BTreeMap<String, String>>,
    /// How to render Helm charts among `paths`.
    pub chart: chart::ChartOptions,
    /// Keys for SOPS-encrypted files (none by default: an encrypted file is then an error).
    pub sops: sops::SopsKeys,
}

/// The result of rendering: the objects, plus warnings that did not stop it.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// Objects in input order.
    pub manifests: Vec<Manifest>,
    /// Warnings (for example an image override that matched nothing).
    pub warnings: Vec<Problem>,
    /// Every value decrypted from a SOPS file: mask each in CI before anything is printed
    /// (they are also registered with [`secrets::register_decrypted`], so printed objects and
    /// diffs redact them).
    pub secrets: Vec<String>,
}

/// Renders the inputs; `stdin` is read when a path is `-`.
pub fn render(opts: &RenderOptions, stdin: &mut dyn Read) -> Result<Rendered, RenderError> {
    let mut problems = Vec::new();
    if opts.paths.is_empty() {
        problems.push(Problem::at(
            Severity::Error,
            ProblemKind::Io,
            "<arguments>",
            0,
            "no manifests given: pass files or directories (or `-` for standard input)",
        ));
        return Err(RenderError { problems });
    }
    let (sources, charts) = collect(opts, stdin, &mut problems);
    let mut decrypted = Vec::new();
    let mut manifests = Vec::new();
    // For each manifest, the kustomize build it came from (None: a file or a chart).
    let mut builds: Vec<Option<usize>> = Vec::new();
    for (src, sub) in &charts {
        let docs = documents::parse(src, sub, &mut problems);
        let first = manifests.len();
        objects::from_documents(&src.name, docs, &mut manifests, &mut problems);
        // Only a chart's objects are Helm hooks: the annotation means nothing elsewhere.
        for m in &mut manifests[first..] {
            m.origin.chart = true;
        }
    }
    for input in &sources {
        match input {
            source::Input::Text(src) => {
                let src = match sops::decrypt(&src.text, &opts.sops) {
                    Ok(None) => std::borrow::Cow::Borrowed(src),
                    Ok(Some(d)) => {
                        decrypted.extend(d.secrets);
                        std::borrow::Cow::Owned(source::Source {
                            text: d.text,
                            ..src.clone()
                        })
                    }
                    Err(e) => {
                        problems.push(Problem::at(
                            Severity::Error,
                            ProblemKind::Decrypt,
                            &src.name,
                            e.line,
                            e.message,
                        ));
                        continue;
                    }
                };
                let src = src.as_ref();
                let (sub, found) = substitute_source(src, &opts.vars, opts.substitution);
                problems.extend(found);
                let docs = documents::parse(src, &sub, &mut problems);
                objects::from_documents(&src.name, docs, &mut manifests, &mut problems);
            }
            source::Input::Kustomization { dir, name } => {
                let Some(overlay) = kustomize::render(
                    dir,
                    name,
                    &opts.vars,
                    opts.substitution,
                    opts.chart.helm.as_deref(),
                    &opts.sops,
                    &mut decrypted,
                    &mut problems,
                ) else {
                    continue;
                };
                if let (Some((ns, file, line)), Some(flag)) = (&overlay.namespace, &opts.namespace)
                    && ns != flag
                {
                    problems.push(Problem::at(
                        Severity::Error,
                        ProblemKind::Namespace,
                        file,
                        *line,
                        format!(
                            "the kustomization sets `namespace: {ns}` and --namespace says \
                             {flag}; kpush does not override an overlay's namespace. Drop \
                             --namespace (or set it to {ns}), or change the overlay"
                        ),
                    ));
                }
                // A build is known by the index of its first object.
                let first = manifests.len();
                builds.resize(first, None);
                builds.resize(first + overlay.manifests.len(), Some(first));
                manifests.extend(overlay.manifests);
            }
        }
    }

    let hits = images::apply(&mut manifests, &opts.images);
    for (o, n) in opts.images.iter().zip(hits) {
        if n == 0 {
            let severity = if opts.strict_images {
                Severity::Error
            } else {
                Severity::Warning
            };
            problems.push(Problem::at(
                severity,
                ProblemKind::UnusedImage,
                "--image",
                0,
                format!(
                    "--image {}={} matched no container image in the manifests{}",
                    o.name,
                    o.replacement,
                    known_images_hint(&manifests)
                ),
            ));
        }
    }

    if let Some(ns) = &opts.namespace {
        namespace::apply(
            &mut manifests,
            ns,
            opts.allow_other_namespaces,
            &mut problems,
        );
    }

    let mut annotations = opts.annotations.clone();
    if let Some(env) = &opts.run_env {
        annotations.extend(metadata::run_annotations(env));
    }
    metadata::apply(&mut manifests, &opts.labels, &annotations);

    decrypted.sort();
    decrypted.dedup();
    secrets::register_decrypted(&decrypted);

    builds.resize(manifests.len(), None);
    check_duplicates(&manifests, &builds, &mut problems);
    sort_by_input_order(&sources, &mut problems);

    if problems.iter().any(|p| p.severity == Severity::Error) {
        return Err(RenderError { problems });
    }
    Ok(Rendered {
        manifests,
        warnings: problems,
        secrets: decrypted,
    })
}

/// Reads the sources of `opts.paths`: Helm charts rendered by helm (not substituted), and files.
fn collect(
    opts: &RenderOptions,
    stdin: &mut dyn Read,
    problems: &mut Vec<Problem>,
) -> (Vec<source::Input>, Vec<(source::Source, vars::Substituted)>) {
    let (charts, files): (Vec<PathBuf>, Vec<PathBuf>) =
        opts.paths.iter().cloned().partition(|p| chart::is_chart(p));
    let mut rendered = Vec::new();
    for c in &charts {
        rendered.extend(chart::render(c, &opts.chart, problems));
    }
    let sources = if files.is_empty() {
        Vec::new()
    } else {
        source::collect(&files, stdin, problems)
    };
    (sources, rendered)
}

/// Orders problems by file (in input order) and line, so output reads top to bottom.
fn sort_by_input_order(inputs: &[source::Input], problems: &mut [Problem]) {
    let index: HashMap<&str, usize> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name(), i))
        .collect();
    problems.sort_by_key(|p| {
        (
            index.get(p.file.as_str()).copied().unwrap_or(usize::MAX),
            p.line,
        )
    });
}

fn known_images_hint(manifests: &[Manifest]) -> String {
    let imgs = images::images(manifests);
    if imgs.is_empty() {
        " (the manifests contain no container images)".to_string()
    } else {
        let shown: Vec<_> = imgs.iter().take(8).map(String::as_str).collect();
        format!("; images present: {}", shown.join(", "))
    }
}

/// Refuses two objects with the same group, kind, namespace and name, except where kustomize
/// keeps both: inside one kustomize build, objects are keyed by group, *version* and kind, so a
/// custom resource's `v1` and `v2` samples with one name are two objects there (kustomize itself
/// refused any real duplicate already). They are one object on the server, so planning refuses
/// to apply both ([`crate::plan::same_object_twice`]).
fn check_duplicates(manifests: &[Manifest], builds: &[Option<usize>], problems: &mut Vec<Problem>) {
    let mut seen: HashMap<ObjectKey, Vec<usize>> = HashMap::new();
    for (i, m) in manifests.iter().enumerate() {
        // Workload kinds share identity across the legacy `extensions` group.
        let mut key = m.key();
        if key.group == "extensions" {
            key.group = "apps".into();
        }
        let earlier = seen.entry(key).or_default();
        let clash = earlier.iter().copied().find(|&j| {
            let same_build =
                builds.get(i).copied().flatten().is_some() && builds.get(i) == builds.get(j);
            !(same_build && manifests[j].api_version() != m.api_version())
        });
        if let Some(j) = clash {
            problems.push(Problem::error(
                ProblemKind::Duplicate,
                &m.origin,
                format!(
                    "{} is defined twice: here and at {}; remove one of them",
                    m.key(),
                    manifests[j].origin
                ),
            ));
        } else {
            earlier.push(i);
        }
    }
}
