//! `helmCharts` and `helmGlobals`: charts inflated with helm as `kustomize build --enable-helm`
//! does (kustomize's `HelmChartInflationGenerator`), then handed to the overlay's transformers
//! like any resource, each object remembering its chart template's file:line.
//!
//! A kustomization is untrusted input. Everything an entry names stays inside the repository:
//! values files inside the kustomization's directory (kustomize's load restrictor), the chart
//! directory inside the repository with every symlink in it confined too (as for chart
//! sources); entries cannot reach helm as flags; helm runs with its environment cleared and a
//! fresh configuration, cache and plugin directory, so no plugin, repository list or registry
//! login of the machine (or of the repository: `configHome` is ignored) is used. Charts from a
//! repository URL (`http://`, `https://`) are pulled into that fresh directory, never into the
//! checkout.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::KError;
use super::build::{Builder, Dir, join_display};
use super::file::{HelmChart, HelmGlobals, Lined, line_of};
use super::resource::{Resource, via};
use crate::render::chart::{ChartOptions, errors, helm::Helm, output};
use crate::render::problem::{Problem, ProblemKind, Severity};
use crate::render::{documents, objects};

/// kustomize's default `chartHome`.
const DEFAULT_CHART_HOME: &str = "charts";

/// A directory of kpush's own for one helm run, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, String> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for attempt in 0..16u32 {
            let p = base.join(format!(
                "kpush-helm-{}-{stamp:x}-{attempt}",
                std::process::id()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&p) {
                Ok(()) => return Ok(Self(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(format!(
                        "cannot create a directory for helm in {}: {e}",
                        base.display()
                    ));
                }
            }
        }
        Err(format!(
            "cannot create a directory for helm in {}",
            base.display()
        ))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Refuses a value that helm would take for a flag (`--post-renderer …` runs a program).
fn not_a_flag(field: &str, value: &str, chart: &str) -> Result<(), String> {
    if value.starts_with('-') {
        return Err(format!(
            "helmCharts {chart}: `{field}: {value}` starts with `-`, which helm would read as a \
             flag; kpush refuses it"
        ));
    }
    Ok(())
}

/// A plain relative path without `..`: what may be joined below the kustomization.
fn inside(rel: &str) -> bool {
    let p = Path::new(rel);
    !rel.is_empty()
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

impl Builder<'_> {
    /// The kustomization's charts and globals: `helmCharts` and `helmGlobals`, then the
    /// deprecated `helmChartInflationGenerator` entries converted as kustomize's
    /// `FixKustomization` converts them (`SplitHelmParameters`; its `helmBin`, `extraArgs` and
    /// `releaseNamespace` are dropped, with a warning here).
    pub(super) fn helm_entries(
        &mut self,
        k: &super::file::Kustomization,
        kfile: &Arc<str>,
    ) -> (Vec<Lined<HelmChart>>, Option<Lined<HelmGlobals>>) {
        let mut charts: Vec<Lined<HelmChart>> = k.helm_charts.clone().unwrap_or_default();
        let mut globals = k.helm_globals.clone();
        let mut derived: Option<Lined<HelmGlobals>> = None;
        for old in k.helm_chart_inflation_generator.iter().flatten() {
            let a = &old.value;
            let dropped: Vec<&str> = [
                ("helmBin", !a.helm_bin.is_empty()),
                ("extraArgs", !a.extra_args.is_empty()),
                ("releaseNamespace", !a.release_namespace.is_empty()),
            ]
            .into_iter()
            .filter_map(|(f, set)| set.then_some(f))
            .collect();
            if !dropped.is_empty() {
                self.problems.push(Problem::at(
                    Severity::Warning,
                    ProblemKind::Chart,
                    kfile,
                    line_of(old),
                    format!(
                        "helmChartInflationGenerator {}: {} ignored, as kustomize ignores them \
                         when it turns this deprecated field into helmCharts; write helmCharts \
                         (with `namespace`) instead",
                        a.chart_name,
                        dropped.join(", ")
                    ),
                ));
            }
            let g = derived.get_or_insert_with(|| Lined {
                value: HelmGlobals::default(),
                referenced: old.referenced,
                defined: old.defined,
            });
            if !a.chart_home.is_empty() {
                g.value.chart_home = a.chart_home.clone();
            }
            if !a.helm_home.is_empty() {
                g.value.config_home = a.helm_home.clone();
            }
            charts.push(Lined {
                value: a.to_chart(),
                referenced: old.referenced,
                defined: old.defined,
            });
        }
        if globals.is_none() {
            globals = derived
                .filter(|g| !g.value.chart_home.is_empty() || !g.value.config_home.is_empty());
        }
        (charts, globals)
    }

    /// Inflates one `helmCharts` entry and adds its objects to `ra` (kustomize's generator
    /// phase: after configMapGenerator and secretGenerator, before components).
    pub(super) fn helm_chart(
        &mut self,
        dir: &Dir,
        kfile: &Arc<str>,
        entry: &Lined<HelmChart>,
        globals: Option<&Lined<HelmGlobals>>,
        ra: &mut Vec<Resource>,
    ) -> Result<(), KError> {
        let line = line_of(entry);
        let c = &entry.value;
        let err = |m: String| KError::new(kfile, line, m).kind(ProblemKind::Chart);
        let name = c.name.as_str();
        if name.is_empty() {
            return Err(err("helmCharts entry has no `name`; name the chart".into()));
        }
        if !inside(name) || name.contains('/') {
            return Err(err(format!(
                "helmCharts `name: {name}` must be a chart's name, not a path"
            )));
        }
        for (field, value) in [
            ("name", name),
            ("version", c.version.as_str()),
            ("releaseName", c.release_name.as_str()),
            ("namespace", c.namespace.as_str()),
            ("nameTemplate", c.name_template.as_str()),
            ("kubeVersion", c.kube_version.as_str()),
        ]
        .into_iter()
        .chain(c.api_versions.iter().map(|v| ("apiVersions", v.as_str())))
        {
            not_a_flag(field, value, name).map_err(err)?;
        }
        if c.version.contains('/') || c.version.contains("..") {
            return Err(err(format!(
                "helmCharts {name}: `version: {}` is not a chart version",
                c.version
            )));
        }
        let merge = match c.values_merge.as_str() {
            "" | "override" => ValuesMerge::Override,
            "merge" => ValuesMerge::Merge,
            "replace" => ValuesMerge::Replace,
            other => {
                return Err(err(format!(
                    "helmCharts {name}: valuesMerge must be one of merge, override, replace \
                     (not `{other}`)"
                )));
            }
        };
        if let Some(g) = globals.filter(|g| !g.value.config_home.is_empty()) {
            self.problems.push(Problem::at(
                Severity::Warning,
                ProblemKind::Chart,
                kfile,
                line_of(g),
                format!(
                    "helmGlobals.configHome `{}` is ignored: kpush runs helm with a fresh \
                     configuration of its own, since one from the repository could install helm \
                     plugins, which run code",
                    g.value.config_home
                ),
            ));
        }

        // Where the chart is: {chartHome}/{name}, or {chartHome}/{name}-{version}/{name} for a
        // versioned chart from a repository (kustomize's absChartHome).
        let home_rel = globals
            .map(|g| g.value.chart_home.as_str())
            .filter(|h| !h.is_empty())
            .unwrap_or(DEFAULT_CHART_HOME);
        if !inside(home_rel) {
            return Err(KError::new(
                kfile,
                globals.map_or(line, line_of),
                format!(
                    "helmGlobals.chartHome `{home_rel}` leaves the kustomization's directory \
                     {}; kustomize reads charts only below it (its load restrictor): move the \
                     charts below the kustomization",
                    dir.display
                ),
            )
            .kind(ProblemKind::Chart));
        }
        let versioned = !c.version.is_empty() && !c.repo.is_empty();
        let mut chart_rel = PathBuf::from(home_rel);
        if versioned {
            chart_rel.push(format!("{name}-{}", c.version));
        }
        chart_rel.push(name);
        let chart_rel = chart_rel.to_string_lossy().into_owned();
        let local = dir.fs.join(&chart_rel);
        let scratch = Scratch::new().map_err(err)?;
        let helm = self.helm_for_charts().map_err(err)?;

        let (chart_dir, display) = if local.is_dir() {
            let canon = local
                .canonicalize()
                .map_err(|e| err(format!("helmCharts {name}: cannot read {chart_rel}: {e}")))?;
            if !canon.starts_with(&self.root) {
                return Err(err(format!(
                    "helmCharts {name}: the chart {} leads to {}, outside the repository {}; \
                     kpush reads only files inside the repository it deploys",
                    join_display(&dir.display, &chart_rel),
                    canon.display(),
                    self.root.display()
                )));
            }
            let display = join_display(&dir.display, &chart_rel);
            if let Err((file, why)) = crate::render::chart::links_in_chart(&canon) {
                return Err(err(format!(
                    "helmCharts {name}: chart file {display}/{file} {why}. helm reads every \
                     file of a chart, and its templates can copy any of them into a manifest"
                )));
            }
            (canon, display)
        } else {
            self.pull(c, &helm, &scratch, &chart_rel).map_err(err)?
        };

        let args = self.template_args(dir, kfile, line, c, merge, &chart_dir, &scratch)?;
        if c.release_name.is_empty() && c.name_template.is_empty() {
            self.problems.push(Problem::at(
                Severity::Warning,
                ProblemKind::Chart,
                kfile,
                line,
                format!(
                    "helmCharts {name} has no releaseName: kustomize lets helm generate a new \
                     name on every build, which would deploy new objects each time; kpush uses \
                     the chart's name `{name}`. Set `releaseName` to say so"
                ),
            ));
        }
        let text = match helm.run_isolated(&args, &scratch.0.join("helm")) {
            Ok(t) => t,
            Err(stderr) => {
                let opts = ChartOptions {
                    values: self.values_paths(dir, kfile, line, c).unwrap_or_default(),
                    ..Default::default()
                };
                let cx = errors::Context::new(&chart_dir, &display, name, &opts);
                self.problems.extend(errors::explain(&stderr, &cx));
                self.problems.push(Problem::at(
                    Severity::Error,
                    ProblemKind::Chart,
                    kfile,
                    line,
                    format!("helmCharts {name}: helm could not render the chart (see above)"),
                ));
                return Err(KError::reported());
            }
        };
        let sources = output::split(&text, &output::Layout::new(&chart_dir, &display, name));
        let mut problems = Vec::new();
        let mut manifests = Vec::new();
        for (src, sub) in &sources {
            let mut docs = documents::parse(src, sub, &mut problems);
            for d in &mut docs {
                super::build::stringify_metadata(&mut d.value);
            }
            objects::from_documents(&src.name, docs, &mut manifests, &mut problems);
        }
        if problems.iter().any(|p| p.severity == Severity::Error) {
            self.problems.extend(problems);
            return Err(KError::reported());
        }
        self.problems.extend(problems);
        for m in manifests {
            let mut origin = m.origin;
            origin
                .via
                .push(via(&format!("helmCharts {name}"), kfile, line));
            let r = Resource::new(m.object, origin);
            super::build::absorb(ra, r, kfile, line, "helmCharts")?;
        }
        Ok(())
    }

    /// The helm that renders charts: `--helm`, else `helm` on PATH (found once per build).
    fn helm_for_charts(&mut self) -> Result<Helm, String> {
        if let Some(h) = &self.helm_found {
            return Ok(h.clone());
        }
        let h = Helm::locate(self.helm.as_deref())
            .map_err(|e| format!("helmCharts needs helm: {e}"))?;
        self.helm_found = Some(h.clone());
        Ok(h)
    }

    /// `helm pull` of a chart from a repository URL into `scratch`; the chart directory and how
    /// to show it.
    fn pull(
        &self,
        c: &HelmChart,
        helm: &Helm,
        scratch: &Scratch,
        chart_rel: &str,
    ) -> Result<(PathBuf, String), String> {
        let name = &c.name;
        let full = c.repo.trim_end_matches('/');
        // What messages and provenance show: never a password written into the URL.
        let shown_repo = without_userinfo(full);
        let repo = shown_repo.as_str();
        if repo.is_empty() {
            return Err(format!(
                "helmCharts {name}: no chart at {chart_rel} and no `repo` to pull it from; \
                 vendor the chart there or name its repository"
            ));
        }
        if repo.starts_with("oci://") {
            return Err(format!(
                "helmCharts {name}: charts from OCI registries (`repo: {repo}`) are not \
                 supported yet; vendor the chart below the kustomization ({chart_rel}) or use \
                 an HTTP chart repository"
            ));
        }
        if !(repo.starts_with("https://") || repo.starts_with("http://")) {
            return Err(format!(
                "helmCharts {name}: `repo: {repo}` is not an http:// or https:// chart \
                 repository; kpush pulls charts only from those"
            ));
        }
        let into = scratch.0.join("charts");
        let mut args: Vec<OsString> = vec![
            "pull".into(),
            "--untar".into(),
            "--untardir".into(),
            into.clone().into(),
            format!("--repo={full}").into(),
            name.into(),
        ];
        if !c.version.is_empty() {
            args.push(format!("--version={}", c.version).into());
        }
        if c.devel {
            args.push("--devel".into());
        }
        helm.run_isolated(&args, &scratch.0.join("helm"))
            .map_err(|e| {
                format!(
                    "helmCharts {name}: helm could not pull the chart from {repo}: {}",
                    e.replace(full, repo)
                )
            })?;
        let dir = into.join(name);
        if !dir.join("Chart.yaml").is_file() {
            return Err(format!(
                "helmCharts {name}: the chart pulled from {repo} has no {name}/Chart.yaml"
            ));
        }
        if let Err((file, why)) = crate::render::chart::links_in_chart(&dir) {
            return Err(format!(
                "helmCharts {name}: the chart pulled from {repo} holds {file}, which {why}"
            ));
        }
        let shown = if c.version.is_empty() {
            format!("{repo}#{name}")
        } else {
            format!("{repo}#{name}-{}", c.version)
        };
        Ok((dir, shown))
    }

    /// The values files an entry names (`valuesFile`, `additionalValuesFiles`), each inside the
    /// kustomization's directory.
    fn values_paths(
        &self,
        dir: &Dir,
        kfile: &Arc<str>,
        line: u32,
        c: &HelmChart,
    ) -> Result<Vec<PathBuf>, KError> {
        let mut out = Vec::new();
        for (field, f) in std::iter::once(("helmCharts valuesFile", &c.values_file))
            .filter(|(_, f)| !f.is_empty())
            .chain(
                c.additional_values_files
                    .iter()
                    .map(|f| ("helmCharts additionalValuesFiles", f)),
            )
        {
            out.push(self.file_in(dir, kfile, line, field, f)?.0);
        }
        Ok(out)
    }

    /// kustomize's `AsHelmArgs`, with the values it prepares (`valuesFile` or the chart's
    /// `values.yaml`, merged with `valuesInline`) written into `scratch`.
    #[allow(clippy::too_many_arguments)]
    fn template_args(
        &mut self,
        dir: &Dir,
        kfile: &Arc<str>,
        line: u32,
        c: &HelmChart,
        merge: ValuesMerge,
        chart_dir: &Path,
        scratch: &Scratch,
    ) -> Result<Vec<OsString>, KError> {
        let err = |m: String| KError::new(kfile, line, m).kind(ProblemKind::Chart);
        let name = &c.name;
        let mut a: Vec<OsString> = vec!["template".into()];
        if !c.release_name.is_empty() {
            a.push(c.release_name.clone().into());
        } else if !c.name_template.is_empty() {
            a.push("--generate-name".into());
        } else {
            a.push(name.into());
        }
        a.push(chart_dir.into());
        if !c.namespace.is_empty() {
            a.push(format!("--namespace={}", c.namespace).into());
        }
        if !c.name_template.is_empty() {
            a.push(format!("--name-template={}", c.name_template).into());
        }
        // The first values file: valuesFile (or the chart's values.yaml), with valuesInline.
        let (base, base_shown) = if c.values_file.is_empty() {
            (chart_dir.join("values.yaml"), format!("{name}/values.yaml"))
        } else {
            let (p, shown) =
                self.file_in(dir, kfile, line, "helmCharts valuesFile", &c.values_file)?;
            (p, shown)
        };
        let inline = c.values_inline.as_ref().filter(|m| !m.is_empty());
        let values_file = match inline {
            None if base.is_file() => Some(base),
            None => None,
            Some(inline) => {
                let inline = Value::Object(inline.clone());
                let merged = if merge == ValuesMerge::Replace {
                    inline
                } else {
                    let file = if base.is_file() {
                        let text = self.read_text(&base, &base_shown)?;
                        serde_saphyr::from_str_with_options::<Value>(
                            &text,
                            documents::yaml_options(),
                        )
                        .map_err(|e| {
                            err(format!(
                                "helmCharts {name}: {base_shown} is not valid YAML: {e}"
                            ))
                        })?
                    } else {
                        Value::Null
                    };
                    let file = if file.is_object() {
                        file
                    } else {
                        Value::Object(Default::default())
                    };
                    merge_values(file, inline, merge).map_err(|e| {
                        err(format!("helmCharts {name}: cannot merge valuesInline: {e}"))
                    })?
                };
                let p = scratch.0.join(format!("{name}-kustomize-values.yaml"));
                std::fs::write(&p, serde_json::to_string(&merged).unwrap_or_default())
                    .map_err(|e| err(format!("cannot write {}: {e}", p.display())))?;
                Some(p)
            }
        };
        if let Some(f) = values_file {
            a.extend(["-f".into(), f.into()]);
        }
        for f in &c.additional_values_files {
            let (p, _) = self.file_in(dir, kfile, line, "helmCharts additionalValuesFiles", f)?;
            a.extend(["-f".into(), p.into()]);
        }
        for v in &c.api_versions {
            a.push(format!("--api-versions={v}").into());
        }
        if !c.kube_version.is_empty() {
            a.push(format!("--kube-version={}", c.kube_version).into());
        }
        for (on, flag) in [
            (c.include_crds, "--include-crds"),
            (c.skip_tests, "--skip-tests"),
            (c.skip_hooks, "--no-hooks"),
            (c.devel, "--devel"),
        ] {
            if on {
                a.push(flag.into());
            }
        }
        Ok(a)
    }
}

/// `url` without a `user:password@` part.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// `valuesMerge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValuesMerge {
    Override,
    Merge,
    Replace,
}

/// kustomize's `replaceValuesInline`: kyaml's `merge2.Merge` of the inline values over the
/// file's (`override`) or of the file's over the inline ones (`merge`); maps merge, lists are
/// replaced, `null` deletes.
fn merge_values(file: Value, inline: Value, how: ValuesMerge) -> Result<Value, String> {
    let (mut dest, src) = match how {
        ValuesMerge::Merge => (inline, file),
        _ => (file, inline),
    };
    crate::render::patch::strategic_merge(&mut dest, &src).map_err(|e| e.to_string())?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inline_values_override_or_merge_as_kustomize() {
        let file = json!({"a": 1, "m": {"x": 1, "y": 2}, "l": [1, 2]});
        let inline = json!({"a": 2, "m": {"y": null, "z": 3}, "l": [3]});
        assert_eq!(
            merge_values(file.clone(), inline.clone(), ValuesMerge::Override).unwrap(),
            json!({"a": 2, "m": {"x": 1, "z": 3}, "l": [3]})
        );
        assert_eq!(
            merge_values(file, inline, ValuesMerge::Merge).unwrap(),
            json!({"a": 1, "m": {"x": 1, "y": 2, "z": 3}, "l": [1, 2]})
        );
    }

    #[test]
    fn repository_passwords_are_not_shown() {
        assert_eq!(
            without_userinfo("https://bot:s3cret@charts.example.com/stable"),
            "https://charts.example.com/stable"
        );
        assert_eq!(
            without_userinfo("https://charts.example.com/a@b"),
            "https://charts.example.com/a@b"
        );
        assert_eq!(without_userinfo("evil"), "evil");
    }

    #[test]
    fn paths_and_flags_are_checked() {
        assert!(inside("charts"));
        assert!(inside("./vendor/charts"));
        assert!(!inside("../charts"));
        assert!(!inside("/etc"));
        assert!(!inside(""));
        assert!(not_a_flag("releaseName", "--post-renderer=/bin/sh", "x").is_err());
        assert!(not_a_flag("releaseName", "web", "x").is_ok());
    }
}
