//! The targets file of `--targets FILE`: the clusters one run deploys to, each with its own
//! sign-in, namespace, variables and images (see docs/targets.md).
//!
//! ```yaml
//! targets:
//!   - name: westeurope
//!     aks: {cluster: aks-weu, resourceGroup: rg-weu, subscription: SUB}
//!     namespace: shop
//!     vars: {REGION: weu}
//!     images: ["web=myacr.azurecr.io/web:1.4.2"]
//!   - name: northeurope
//!     kubeconfig: ./kubeconfig-neu     # relative to this file's directory
//!     context: neu
//! ```
//!
//! Unknown fields, duplicate names, and targets with neither or both of `aks` and `kubeconfig`
//! are refused with the file's line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::auth::AksTarget;
use crate::render::{ImageOverride, Vars};

/// One cluster of a multi-cluster run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its name, unique in the file (used in every output).
    pub name: String,
    /// The line of the file it starts on.
    pub line: u32,
    /// How to reach its cluster.
    pub cluster: TargetCluster,
    /// Namespace for namespaced objects that do not set one (overrides `--namespace`).
    pub namespace: Option<String>,
    /// Variables, `NAME=VALUE` (added after `--var`: they win).
    pub vars: Vec<String>,
    /// Image overrides, `NAME=REF` (added after `--image`: they win).
    pub images: Vec<String>,
}

/// How to reach a target's cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetCluster {
    /// An AKS cluster through ARM and Entra ID (as `--aks-cluster`).
    Aks(AksTarget),
    /// A kubeconfig file (absolute, or resolved against the targets file's directory).
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// Its context (default: its current-context).
        context: Option<String>,
    },
}

impl fmt::Display for TargetCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetCluster::Aks(t) => t.fmt(f),
            TargetCluster::Kubeconfig { path, context } => {
                write!(f, "kubeconfig {}", path.display())?;
                match context {
                    Some(c) => write!(f, ", context {c}"),
                    None => Ok(()),
                }
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    targets: Spanned<Vec<Spanned<RawTarget>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTarget {
    name: Spanned<String>,
    aks: Option<Spanned<RawAks>>,
    kubeconfig: Option<Spanned<String>>,
    context: Option<String>,
    namespace: Option<Spanned<String>>,
    vars: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    images: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawAks {
    cluster: Option<String>,
    resource_group: Option<String>,
    subscription: Option<String>,
    /// The cluster's resource id, instead of the three above.
    id: Option<String>,
    /// Admin (local account) credentials.
    #[serde(default)]
    admin: bool,
}

/// A problem in the targets file, at a line (invalid input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetsError {
    /// The targets file.
    pub file: String,
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
}

impl fmt::Display for TargetsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: ", self.file)?,
            line => write!(f, "{}:{line}: ", self.file)?,
        }
        write!(f, "{}\n  fix: {}", self.message, self.fix)
    }
}

impl std::error::Error for TargetsError {}

const FIX: &str = "see docs/targets.md for the targets file's format";

/// Reads and checks the targets file at `path`.
pub fn read(path: &Path) -> Result<Vec<Target>, TargetsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| TargetsError {
        file: file.clone(),
        line: 0,
        message: format!("cannot read the targets file: {e}"),
        fix: "check the --targets path".into(),
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, &file, dir)
}

/// Parses a targets file's `text`; `file` names it in errors, relative kubeconfig paths are
/// resolved against `dir`.
pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Vec<Target>, TargetsError> {
    let err = |line: u32, message: String, fix: &str| TargetsError {
        file: file.to_string(),
        line,
        message,
        fix: fix.to_string(),
    };
    let raw: RawFile =
        serde_saphyr::from_str_with_options(text, crate::render::documents::yaml_options())
            .map_err(|e| {
                let line = e.location().map(|l| l.line() as u32).unwrap_or(0);
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or(&msg);
                let first = first.find(" at line ").map_or(first, |p| &first[..p]);
                err(line, format!("invalid targets file: {first}"), FIX)
            })?;
    if raw.targets.value.is_empty() {
        return Err(err(
            line(&raw.targets),
            "the targets file lists no targets".into(),
            "add at least one target under `targets:`",
        ));
    }
    let mut targets: Vec<Target> = Vec::new();
    for t in raw.targets.value {
        let at = line(&t);
        let t = t.value;
        let name = t.name.value.trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(err(
                line(&t.name),
                format!("target name {:?} is not a simple name", t.name.value),
                "use letters, digits, `-`, `_` and `.` (it names the target in every output)",
            ));
        }
        if let Some(first) = targets.iter().find(|o| o.name == name) {
            return Err(err(
                line(&t.name),
                format!(
                    "target name {name:?} is used twice (first on line {})",
                    first.line
                ),
                "give every target a name of its own",
            ));
        }
        let cluster = match (t.aks, t.kubeconfig) {
            (Some(aks), None) => {
                if t.context.is_some() {
                    return Err(err(
                        at,
                        format!("target {name} has both `aks` and `context`"),
                        "`context` picks a context of `kubeconfig`; remove it",
                    ));
                }
                TargetCluster::Aks(aks_target(&name, aks).map_err(|(l, m, f)| err(l, m, &f))?)
            }
            (None, Some(kc)) => {
                let p = PathBuf::from(kc.value.trim());
                let p = if p.is_absolute() { p } else { dir.join(p) };
                TargetCluster::Kubeconfig {
                    // `./kc` beside the file reads as `DIR/kc` in every message.
                    path: p
                        .components()
                        .filter(|c| *c != std::path::Component::CurDir)
                        .collect(),
                    context: t.context.filter(|c| !c.trim().is_empty()),
                }
            }
            (None, None) => {
                return Err(err(
                    at,
                    format!("target {name} has neither `aks` nor `kubeconfig`"),
                    "add `aks: {cluster: NAME, resourceGroup: GROUP, subscription: ID}` or \
                     `kubeconfig: FILE` (with `context: NAME` to pick one of its contexts)",
                ));
            }
            (Some(_), Some(kc)) => {
                return Err(err(
                    line(&kc),
                    format!("target {name} has both `aks` and `kubeconfig`"),
                    "keep one way to reach the cluster",
                ));
            }
        };
        let namespace = match t.namespace {
            Some(ns) => {
                crate::render::namespace::validate_name(&ns.value)
                    .map_err(|m| err(line(&ns), m, "fix the target's `namespace`"))?;
                Some(ns.value)
            }
            None => None,
        };
        let mut vars = Vec::new();
        let vars_line = t.vars.as_ref().map_or(at, line);
        for (k, v) in t.vars.map(|v| v.value).unwrap_or_default() {
            let pair = format!("{k}={v}");
            Vars::new()
                .set_pair(&pair)
                .map_err(|m| err(vars_line, m, "fix the target's `vars`"))?;
            vars.push(pair);
        }
        let mut images = Vec::new();
        for i in t.images {
            ImageOverride::parse(&i.value)
                .map_err(|m| err(line(&i), m, "fix the target's `images`"))?;
            images.push(i.value);
        }
        targets.push(Target {
            name,
            line: at,
            cluster,
            namespace,
            vars,
            images,
        });
    }
    Ok(targets)
}

fn line<T>(s: &Spanned<T>) -> u32 {
    s.referenced.line() as u32
}

/// The AKS cluster of target `name`; errors as (line, message, fix).
fn aks_target(name: &str, aks: Spanned<RawAks>) -> Result<AksTarget, (u32, String, String)> {
    let at = line(&aks);
    let a = aks.value;
    let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let mut target = match (
        given(a.id),
        given(a.cluster),
        given(a.resource_group),
        given(a.subscription),
    ) {
        (Some(id), None, None, None) => {
            AksTarget::from_resource_id(&id).map_err(|e| (at, e.to_string(), FIX.to_string()))?
        }
        (None, Some(cluster), Some(resource_group), Some(subscription)) => AksTarget {
            subscription,
            resource_group,
            cluster,
            admin: false,
        },
        _ => {
            return Err((
                at,
                format!(
                    "target {name}: `aks` needs `cluster`, `resourceGroup` and `subscription`, \
                     or only `id`"
                ),
                "write `aks: {cluster: NAME, resourceGroup: GROUP, subscription: ID}` or \
                 `aks: {id: /subscriptions/.../managedClusters/NAME}`"
                    .into(),
            ));
        }
    };
    target.admin = a.admin;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Vec<Target> {
        parse(text, "targets.yaml", Path::new("/ci")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(text: &str) -> TargetsError {
        parse(text, "targets.yaml", Path::new("/ci")).expect_err("refused")
    }

    #[test]
    fn the_issue_example_parses_with_kubeconfig_relative_to_the_file() {
        let t = parse_ok(
            "targets:
  - name: westeurope
    aks: {cluster: aks-weu, resourceGroup: rg-weu, subscription: SUB}
    namespace: shop
    vars: {REGION: weu, REPLICAS: 3}
    images: [\"web=myacr.azurecr.io/web:1.4.2\"]
  - name: northeurope
    kubeconfig: ./kubeconfig-neu
    context: neu
    namespace: shop
",
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].name, "westeurope");
        assert_eq!(t[0].line, 2);
        let TargetCluster::Aks(aks) = &t[0].cluster else {
            panic!("aks")
        };
        assert_eq!(
            (aks.cluster.as_str(), aks.resource_group.as_str()),
            ("aks-weu", "rg-weu")
        );
        assert_eq!(t[0].vars, vec!["REGION=weu", "REPLICAS=3"]);
        assert_eq!(t[0].images, vec!["web=myacr.azurecr.io/web:1.4.2"]);
        assert_eq!(
            t[1].cluster,
            TargetCluster::Kubeconfig {
                path: PathBuf::from("/ci/kubeconfig-neu"),
                context: Some("neu".into())
            }
        );
        assert_eq!(t[1].line, 7);
    }

    #[test]
    fn an_unknown_field_is_refused_at_its_line() {
        let e = parse_err(
            "targets:
  - name: a
    kubeconfig: kc
    namespce: shop
",
        );
        assert_eq!(e.line, 4, "{e}");
        assert!(e.to_string().contains("namespce"), "{e}");
        assert!(e.to_string().starts_with("targets.yaml:4: "), "{e}");
    }

    #[test]
    fn a_duplicate_name_is_refused_at_the_second_one() {
        let e = parse_err(
            "targets:
  - name: a
    kubeconfig: kc
  - name: a
    kubeconfig: kc2
",
        );
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("used twice (first on line 2)"), "{e}");
    }

    #[test]
    fn a_target_needs_exactly_one_way_to_its_cluster() {
        let e = parse_err(
            "targets:
  - name: a
    kubeconfig: kc
  - name: b
    namespace: shop
",
        );
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("neither `aks` nor `kubeconfig`"), "{e}");
        let e = parse_err(
            "targets:
  - name: a
    aks: {id: /subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/c}
    kubeconfig: kc
",
        );
        assert_eq!(e.line, 4, "{e}");
        let e = parse_err(
            "targets:
  - name: a
    aks: {cluster: c}
",
        );
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("resourceGroup"), "{e}");
    }

    #[test]
    fn bad_images_vars_and_namespaces_are_refused_at_their_line() {
        let e = parse_err(
            "targets:
  - name: a
    kubeconfig: kc
    images:
      - web
",
        );
        assert_eq!(e.line, 5, "{e}");
        let e = parse_err(
            "targets:
  - name: a
    kubeconfig: kc
    namespace: Not_A_Namespace
",
        );
        assert_eq!(e.line, 4, "{e}");
        assert!(parse_err("targets: []\n").message.contains("no targets"));
    }
}
