//! Finding and reading manifest files: files, directories (sorted, recursive) and standard input.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::problem::{Problem, ProblemKind, Severity};

/// Largest manifest file kpush reads; larger input is refused rather than parsed.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The syntax a source is parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// YAML (which also reads most JSON).
    Yaml,
    /// A stream of JSON documents.
    Json,
}

/// One input file's text.
#[derive(Debug, Clone)]
pub struct Source {
    /// Display name: the path as found from the user's argument, or `-`.
    pub name: String,
    /// The file's text.
    pub text: String,
    /// How to parse it.
    pub syntax: Syntax,
}

/// One input: a file's text, or a kustomization directory to render with kustomize's rules.
#[derive(Debug, Clone)]
pub enum Input {
    /// A manifest file (or standard input).
    Text(Source),
    /// A directory holding a kustomization file, given directly as a path.
    Kustomization {
        /// The directory.
        dir: PathBuf,
        /// Display name, as the user gave it.
        name: String,
    },
}

impl Input {
    /// The name shown in messages.
    pub fn name(&self) -> &str {
        match self {
            Input::Text(s) => &s.name,
            Input::Kustomization { name, .. } => name,
        }
    }
}

fn is_manifest_file(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn syntax_of(name: &str) -> Syntax {
    if name.ends_with(".json") {
        Syntax::Json
    } else {
        Syntax::Yaml
    }
}

fn display(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.strip_prefix("./")
        .map(str::to_string)
        .unwrap_or_else(|| s.into_owned())
}

/// Reads every source named by `paths` in order; `-` reads `stdin`.
///
/// A directory given directly that holds a kustomization becomes [`Input::Kustomization`];
/// problems (unreadable paths, kustomizations inside a plain directory, oversized files) are
/// collected, not fatal.
pub fn collect(paths: &[PathBuf], stdin: &mut dyn Read, problems: &mut Vec<Problem>) -> Vec<Input> {
    let mut out = Vec::new();
    let mut stdin_used = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin_used {
                continue;
            }
            stdin_used = true;
            let mut buf = Vec::new();
            match stdin.take(MAX_FILE_BYTES + 1).read_to_end(&mut buf) {
                Ok(n) if n as u64 > MAX_FILE_BYTES => problems.push(too_large("-")),
                Ok(_) => push_text(&mut out, problems, "-".to_string(), buf, None),
                Err(e) => {
                    problems.push(io_problem("-", &format!("cannot read standard input: {e}")))
                }
            }
            continue;
        }
        match fs::metadata(path) {
            Err(e) => problems.push(io_problem(
                &display(path),
                &format!("cannot read {}: {e}", display(path)),
            )),
            Ok(md) if md.is_dir() && super::kustomize::is_kustomization_dir(path) => {
                out.push(Input::Kustomization {
                    dir: path.clone(),
                    name: display(path),
                })
            }
            Ok(md) if md.is_dir() => match path.canonicalize() {
                Ok(top) => {
                    let root = repository_root(&top);
                    walk_dir(path, &root, &mut vec![top], &mut out, problems)
                }
                Err(e) => problems.push(io_problem(
                    &display(path),
                    &format!("cannot read {}: {e}", display(path)),
                )),
            },
            Ok(_) => read_file(path, &mut out, problems),
        }
    }
    out
}

/// The repository `dir` (canonical) belongs to: the git work tree holding it, else the current
/// directory when it holds it, else `dir` itself. kpush reads no file outside it through a
/// symlink found in it.
pub fn repository_root(dir: &Path) -> PathBuf {
    if let Some(git) = dir.ancestors().find(|a| a.join(".git").exists()) {
        return git.to_path_buf();
    }
    match std::env::current_dir().and_then(|c| c.canonicalize()) {
        Ok(cwd) if dir.starts_with(&cwd) => cwd,
        _ => dir.to_path_buf(),
    }
}

/// Where the symlink `link`, found inside the repository `root`, leads (canonical); an error
/// (the end of a sentence about `link`) when that is outside `root` or inside its `.git`
/// directory, which can hold credentials (a CI checkout's token).
pub fn confined(link: &Path, root: &Path) -> Result<PathBuf, String> {
    let target = link
        .canonicalize()
        .map_err(|e| format!("is a symlink that cannot be followed: {e}"))?;
    match target.strip_prefix(root) {
        Err(_) => Err(format!(
            "is a symlink to {}, outside the repository {}; kpush reads only files inside the \
             repository it deploys: replace the link with the file, or point it inside",
            target.display(),
            root.display()
        )),
        Ok(rest)
            if rest
                .components()
                .next()
                .is_some_and(|c| c.as_os_str() == ".git") =>
        {
            Err(format!(
                "is a symlink into the repository's .git directory ({}), which can hold \
                 credentials; kpush does not read it",
                target.display()
            ))
        }
        Ok(_) => Ok(target),
    }
}

/// Reads the manifest files under `dir`, sorted, recursively. Symlinks are followed, as kubectl
/// does, but only to files and directories inside the repository `root`; `walking` holds the
/// directories being walked (canonical), so a link back to one of them is reported once
/// instead of looping.
fn walk_dir(
    dir: &Path,
    root: &Path,
    walking: &mut Vec<PathBuf>,
    out: &mut Vec<Input>,
    problems: &mut Vec<Problem>,
) {
    if dir.join("Chart.yaml").is_file() {
        problems.push(Problem::at(
            Severity::Error,
            ProblemKind::Chart,
            &display(&dir.join("Chart.yaml")),
            0,
            format!(
                "{} is a Helm chart inside a directory of manifests; pass the chart as a path \
                 of its own (`kpush apply {}`) so helm renders it",
                display(dir),
                display(dir)
            ),
        ));
        return;
    }
    if super::kustomize::is_kustomization_dir(dir) {
        problems.push(Problem::at(
            Severity::Error,
            ProblemKind::Kustomize,
            &display(dir),
            0,
            format!(
                "{} is a kustomization inside a directory of plain manifests; kpush does not \
                 guess which overlay you mean. Pass the kustomization directory itself \
                 (`kpush render {}`), or move it out of the directory",
                display(dir),
                display(dir)
            ),
        ));
        return;
    }
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            problems.push(io_problem(
                &display(dir),
                &format!("cannot read directory {}: {e}", display(dir)),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        let is_link = fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink());
        if is_link && let Err(why) = confined(&p, root) {
            problems.push(io_problem(&display(&p), &format!("{} {why}", display(&p))));
            continue;
        }
        // Follow symlinks, as kubectl does, but only to files and directories.
        match fs::metadata(&p) {
            Ok(md) if md.is_dir() => {
                let Ok(canon) = p.canonicalize() else {
                    continue;
                };
                if walking.contains(&canon) {
                    problems.push(io_problem(
                        &display(&p),
                        &format!(
                            "{} leads back to {}, which holds it (a symlink loop); remove the \
                             link",
                            display(&p),
                            canon.display()
                        ),
                    ));
                    continue;
                }
                walking.push(canon);
                walk_dir(&p, root, walking, out, problems);
                walking.pop();
            }
            Ok(md) if md.is_file() && is_manifest_file(&p) => read_file(&p, out, problems),
            Ok(_) => {}
            Err(e) => problems.push(io_problem(
                &display(&p),
                &format!("cannot read {}: {e}", display(&p)),
            )),
        }
    }
}

fn read_file(path: &Path, out: &mut Vec<Input>, problems: &mut Vec<Problem>) {
    let name = display(path);
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            problems.push(io_problem(&name, &format!("cannot read {name}: {e}")));
            return;
        }
    };
    let mut buf = Vec::new();
    match file.take(MAX_FILE_BYTES + 1).read_to_end(&mut buf) {
        Ok(n) if n as u64 > MAX_FILE_BYTES => problems.push(too_large(&name)),
        Ok(_) => {
            let syntax = syntax_of(&name);
            push_text(out, problems, name, buf, Some(syntax));
        }
        Err(e) => problems.push(io_problem(&name, &format!("cannot read {name}: {e}"))),
    }
}

fn push_text(
    out: &mut Vec<Input>,
    problems: &mut Vec<Problem>,
    name: String,
    buf: Vec<u8>,
    syntax: Option<Syntax>,
) {
    match String::from_utf8(buf) {
        Ok(mut text) => {
            if text.starts_with('\u{feff}') {
                text.drain(..3);
            }
            let syntax = syntax.unwrap_or_else(|| sniff(&text));
            out.push(Input::Text(Source { name, text, syntax }));
        }
        Err(e) => {
            let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u32
                + 1;
            problems.push(Problem::at(
                Severity::Error,
                ProblemKind::Syntax,
                &name,
                line,
                "the file is not valid UTF-8 text; manifests must be UTF-8 encoded",
            ));
        }
    }
}

/// Standard input has no extension: JSON if it starts with `{` or `[`, else YAML.
fn sniff(text: &str) -> Syntax {
    match text.trim_start().chars().next() {
        Some('{') | Some('[') => Syntax::Json,
        _ => Syntax::Yaml,
    }
}

fn too_large(name: &str) -> Problem {
    Problem::at(
        Severity::Error,
        ProblemKind::Limit,
        name,
        0,
        format!(
            "{name} is larger than {} MiB; kpush refuses input this large (the API server accepts \
             objects of at most a few MiB). Split the file or check that it is really a manifest",
            MAX_FILE_BYTES / 1024 / 1024
        ),
    )
}

fn io_problem(name: &str, msg: &str) -> Problem {
    Problem::at(Severity::Error, ProblemKind::Io, name, 0, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_json_is_sniffed() {
        assert_eq!(sniff("  {\"a\":1}"), Syntax::Json);
        assert_eq!(sniff("apiVersion: v1"), Syntax::Yaml);
    }
}
