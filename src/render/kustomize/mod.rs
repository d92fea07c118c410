//! kustomize overlays rendered natively, conformant with `kubectl kustomize` (kustomize v5),
//! with every object remembering its file:line and the overlay entries that changed it.
//!
//! The build follows kustomize's `kusttarget.go`: resources (files and nested kustomizations),
//! generators, components, then transformers in kustomize's order (patchesStrategicMerge,
//! patches, namespace, namePrefix, nameSuffix, labels, commonLabels, commonAnnotations,
//! patchesJson6902, replicas, images, replacements); at the top the generated names get their
//! hash, name references are rewritten and the output is sorted (legacy order by default).

pub mod build;
pub mod fieldspec;
pub mod file;
pub mod generators;
pub mod hash;
pub mod helm_charts;
pub mod nameref;
pub mod order;
pub mod patches;
pub mod resource;
pub mod transforms;

use std::path::Path;

use super::Vars;
use super::problem::{Problem, ProblemKind, Severity};
use super::vars::Substitution;
use crate::manifest::Manifest;

/// File names kustomize recognises, in its order.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Whether `dir` holds a kustomization file.
pub fn is_kustomization_dir(dir: &Path) -> bool {
    KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file())
}

/// A kustomize error: where (file:line of the kustomization entry) and what.
#[derive(Debug, Clone)]
pub struct KError {
    pub kind: ProblemKind,
    pub file: String,
    pub line: u32,
    pub message: String,
    /// The problems were already recorded (for example YAML errors in a resource file).
    pub reported: bool,
}

impl KError {
    /// An error at `file:line` (line 0 when it concerns the whole file).
    pub fn new(file: &str, line: u32, message: impl Into<String>) -> Self {
        Self {
            kind: ProblemKind::Kustomize,
            file: file.to_string(),
            line,
            message: message.into(),
            reported: false,
        }
    }

    /// Sets the problem kind.
    pub fn kind(mut self, kind: ProblemKind) -> Self {
        self.kind = kind;
        self
    }

    /// An error whose problems are already in the builder's list.
    pub fn reported() -> Self {
        Self {
            reported: true,
            ..Self::new("", 0, "")
        }
    }

    fn into_problem(self) -> Problem {
        Problem::at(
            Severity::Error,
            self.kind,
            &self.file,
            self.line,
            self.message,
        )
    }
}

/// The result of rendering one kustomization directory.
pub struct Overlay {
    /// The objects, in kustomize's output order.
    pub manifests: Vec<Manifest>,
    /// The top kustomization's `namespace`, with its file and line.
    pub namespace: Option<(String, String, u32)>,
}

/// Renders the kustomization in `dir` (`display` is the path as the user gave it); `helm` renders
/// its `helmCharts` (`None`: `helm` on PATH).
///
/// Files may not leave the repository: the git work tree holding `dir`, else the current
/// directory when it holds `dir`, else `dir` itself.
// The render's inputs, each from a different source (a bundle would only be taken apart).
#[allow(clippy::too_many_arguments)]
pub fn render(
    dir: &Path,
    display: &str,
    vars: &Vars,
    substitution: Substitution,
    helm: Option<&Path>,
    sops: &crate::render::sops::SopsKeys,
    decrypted: &mut Vec<String>,
    problems: &mut Vec<Problem>,
) -> Option<Overlay> {
    let fs = match dir.canonicalize() {
        Ok(p) => p,
        Err(e) => {
            problems.push(Problem::at(
                Severity::Error,
                ProblemKind::Io,
                display,
                0,
                format!("cannot read {display}: {e}"),
            ));
            return None;
        }
    };
    let root = super::source::repository_root(&fs);
    let mut b = build::Builder::new(root, vars, substitution, sops);
    b.helm = helm.map(Path::to_path_buf);
    let top = build::Dir {
        fs,
        display: display.to_string(),
    };
    let result = b.build(&top);
    problems.append(&mut b.problems);
    decrypted.append(&mut b.decrypted.borrow_mut());
    match result {
        Ok(built) => Some(Overlay {
            manifests: built
                .resources
                .into_iter()
                .map(|r| Manifest::new(r.origin, r.object))
                .collect(),
            namespace: built.namespace,
        }),
        Err(e) => {
            if !e.reported {
                problems.push(e.into_problem());
            }
            None
        }
    }
}
