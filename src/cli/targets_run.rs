//! `--targets FILE`: one command run against many clusters, one after another (stopping at the
//! first failure) or `--parallel N` at once, each target's events scoped to its name for the
//! one reporter. Each target runs the same single-cluster code path a plain run takes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use clap::Args;
use futures::StreamExt;

use super::cluster_args::ClusterArgs;
use super::manifest_args::ManifestArgs;
use super::release_args::ReleaseRef;
use super::targets_file::{self, Target, TargetCluster};
use crate::event::{Event, ScopedSink, Sink, TargetResult, TargetState};
use crate::exit::{self, ExitError};
use crate::report::Reporter;

/// Flags of a multi-cluster run.
#[derive(Debug, Clone, Args)]
pub struct TargetsArgs {
    /// Run against every cluster listed in FILE (YAML: name, `aks` or `kubeconfig`/`context`,
    /// namespace, vars, images per target; see docs/targets.md). Replaces --kubeconfig,
    /// --context and --aks-cluster; the other Entra ID flags apply to every `aks` target.
    #[arg(
        long,
        value_name = "FILE",
        env = "KPUSH_TARGETS",
        conflicts_with_all = ["kubeconfig", "context", "in_cluster", "aks_cluster", "aks_cluster_id"]
    )]
    pub targets: Option<PathBuf>,

    /// With --targets: run on N targets at once and report every one. Default 1: one after
    /// another, stopping at the first that fails (later targets are left untouched; `history`
    /// and `list` only read, and ask every target).
    #[arg(
        long,
        value_name = "N",
        env = "KPUSH_PARALLEL",
        default_value_t = 1,
        requires = "targets",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub parallel: u16,
}

impl Target {
    /// The cluster and manifest flags of this target: its own sign-in, namespace, variables
    /// and images on top of the command line's.
    pub fn args(
        &self,
        cluster: &ClusterArgs,
        manifests: &ManifestArgs,
    ) -> (ClusterArgs, ManifestArgs) {
        (self.cluster_args(cluster), self.manifest_args(manifests))
    }

    /// The release `release` names, in this target's namespace when it sets one.
    pub fn release_ref(&self, release: &ReleaseRef) -> ReleaseRef {
        ReleaseRef {
            name: release.name.clone(),
            namespace: self.namespace.clone().or(release.namespace.clone()),
        }
    }

    /// `e`'s message; for bad input or an unreachable cluster (flags said once for every
    /// target) followed by where this target's own settings are in `file`.
    pub fn error_message(&self, e: &ExitError, file: &Path) -> String {
        let mut message = format!("{e}");
        if matches!(e.code, exit::BAD_INPUT | exit::CLUSTER_UNREACHABLE) {
            message.push_str(&format!(
                "\n(target {} is defined at {}:{})",
                self.name,
                file.display(),
                self.line
            ));
        }
        message
    }

    /// The command line's cluster flags with this target's sign-in.
    pub fn cluster_args(&self, cluster: &ClusterArgs) -> ClusterArgs {
        let mut c = cluster.clone();
        c.in_cluster = false;
        c.azure.aks_cluster_id = None;
        match &self.cluster {
            TargetCluster::Aks(aks) => {
                c.kubeconfig = None;
                c.context = None;
                c.azure.aks_cluster = Some(aks.cluster.clone());
                c.azure.resource_group = Some(aks.resource_group.clone());
                c.azure.subscription = Some(aks.subscription.clone());
                c.azure.admin = aks.admin || cluster.azure.admin;
            }
            TargetCluster::Kubeconfig { path, context } => {
                c.kubeconfig = Some(path.clone());
                c.kubeconfig_from_targets = true;
                c.context = context.clone();
                c.azure.aks_cluster = None;
                c.azure.resource_group = None;
            }
        }
        c
    }

    /// The command line's manifest flags with this target's namespace, variables and images.
    pub fn manifest_args(&self, manifests: &ManifestArgs) -> ManifestArgs {
        let mut m = manifests.clone();
        if let Some(ns) = &self.namespace {
            m.namespace = Some(ns.clone());
        }
        m.vars.extend(self.vars.iter().cloned());
        m.images.extend(self.images.iter().cloned());
        m
    }
}

/// Rendered manifests by their transforms (namespace, variables, images): targets that share
/// them are rendered once. Charts, whose rendering depends on the cluster, are never shared.
///
/// A render is kept only while targets still expect it ([`run`] tells how many share each
/// transform): the last of them takes it, and a single-cluster run keeps no copy at all (with
/// 10,000 objects a copy is about 50 MB).
#[derive(Default)]
pub struct Renders {
    done: Mutex<HashMap<String, Rendered>>,
    /// Renders still to come for each transform, beyond the one being made.
    expected: Mutex<HashMap<String, usize>>,
}

/// One render's objects and the images they deploy.
type Rendered = (Vec<crate::Manifest>, Vec<String>);

impl Renders {
    /// [`ManifestArgs::render`], from the cache when the same transforms were rendered before.
    pub async fn render(
        &self,
        args: &ManifestArgs,
        sink: &dyn Sink,
        cluster: Option<&kube::Client>,
        release: Option<&str>,
    ) -> Result<Vec<crate::Manifest>, ExitError> {
        if args.has_charts() {
            return args.render(sink, cluster, release).await;
        }
        let key = transforms(args);
        let mut done = lock(&self.done);
        // Whether a later target still needs this render after this one.
        let keep = match lock(&self.expected).get_mut(&key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        if let Some((manifests, images)) = done.remove(&key) {
            sink.event(&Event::Rendered {
                objects: manifests.len(),
                images: images.clone(),
            });
            if keep {
                done.insert(key, (manifests.clone(), images));
            }
            return Ok(manifests);
        }
        let manifests = args.render_offline(sink, release)?;
        if keep {
            let images = crate::render::images::images(&manifests);
            done.insert(key, (manifests.clone(), images));
        }
        Ok(manifests)
    }

    /// Records that one render of each of `keys` (one per target) is coming.
    fn expect(&self, keys: impl IntoIterator<Item = String>) {
        let mut expected = lock(&self.expected);
        for key in keys {
            // The first render of a transform is made, not kept: count only the later ones.
            expected.entry(key).and_modify(|n| *n += 1).or_insert(0);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Renders {
    /// Renders `args` ([`Renders::render`]) and connects to `cluster`. A chart's
    /// `.Capabilities` are the cluster's, so with charts the connection comes first; without,
    /// the render does, so bad manifests fail without asking a cluster.
    pub async fn render_connected(
        &self,
        args: &ManifestArgs,
        cluster: &super::cluster_args::ClusterArgs,
        sink: &dyn Sink,
        release: Option<&str>,
    ) -> Result<(Vec<crate::Manifest>, kube::Client, String), ExitError> {
        let early = match args.has_charts() {
            true => Some(super::apply_cmd::connect(cluster).await?),
            false => None,
        };
        let manifests = self
            .render(args, sink, early.as_ref().map(|(c, _)| c), release)
            .await?;
        if manifests.is_empty() {
            sink.event(&crate::event::Event::Warning {
                object: None,
                message: "the manifests rendered no objects (an empty input, directory or \
                          chart render); with a release, kpush refuses to prune its objects \
                          unless --allow-empty is given"
                    .into(),
            });
        }
        let (client, server) = match early {
            Some(c) => c,
            None => super::apply_cmd::connect(cluster).await?,
        };
        Ok((manifests, client, server))
    }
}

/// What makes two renders differ: namespace, variables and images.
fn transforms(args: &ManifestArgs) -> String {
    format!("{:?}\n{:?}\n{:?}", args.namespace, args.vars, args.images)
}

/// Runs `each` on every target of `file` as `opts` say (`manifests`: the command's, if it
/// renders any, and the cache its targets render through), reporting each target's start, events and end to `reporter`; a sequential
/// run stops after the first target whose exit code `stops`. Returns the worst target's exit
/// code; exit code 2 for a bad targets file.
pub(super) async fn run<F>(
    file: &Path,
    opts: &TargetsArgs,
    manifests: Option<(&ManifestArgs, &Renders)>,
    reporter: &Reporter,
    stops: fn(i32) -> bool,
    each: F,
) -> Result<i32, ExitError>
where
    F: AsyncFn(&Target, &dyn Sink) -> Result<i32, ExitError>,
{
    let bad = |e: String| ExitError::new(exit::BAD_INPUT, anyhow::anyhow!(e));
    let targets = targets_file::read(file).map_err(|e| bad(e.to_string()))?;
    if let Some((m, renders)) = manifests {
        renders.expect(targets.iter().map(|t| transforms(&t.manifest_args(m))));
    }
    let manifests = manifests.map(|(m, _)| m);
    let stdin = manifests.filter(|m| {
        m.paths
            .iter()
            .chain(&m.filenames)
            .any(|p| p.as_os_str() == "-")
    });
    if let Some(manifests) = stdin {
        let mut keys: Vec<String> = targets
            .iter()
            .map(|t| transforms(&t.manifest_args(manifests)))
            .collect();
        keys.sort();
        keys.dedup();
        if keys.len() > 1 || manifests.has_charts() {
            return Err(bad(format!(
                "standard input (`-`) can be read only once, but the targets of {} render the \
                 manifests differently (namespace, vars or images)\n  fix: pass the manifests \
                 as files or directories",
                file.display()
            )));
        }
    }
    let alone = opts.parallel <= 1;
    let one = async |t: &Target| -> TargetResult {
        reporter.event(&Event::TargetStarted {
            name: t.name.clone(),
            cluster: t.cluster.to_string(),
            alone,
        });
        let started = Instant::now();
        let sink = ScopedSink {
            target: t.name.clone(),
            inner: reporter,
        };
        // Boxed: a deploy's future is large, and several may be alive at once.
        let (exit_code, message) = match Box::pin(each(t, &sink)).await {
            Ok(code) => (code, None),
            Err(e) => {
                // A manifest error becomes an annotation on its file and line in CI.
                reporter.stopping_problems(&e);
                (e.code, Some(t.error_message(&e, file)))
            }
        };
        let result = TargetResult {
            name: t.name.clone(),
            state: state_of(exit_code),
            exit_code,
            message,
            elapsed: started.elapsed(),
        };
        reporter.event(&Event::TargetFinished {
            result: result.clone(),
        });
        result
    };
    let mut codes = Vec::new();
    if opts.parallel <= 1 {
        let mut failed: Option<&str> = None;
        for t in &targets {
            if let Some(earlier) = failed {
                reporter.event(&Event::TargetFinished {
                    result: TargetResult {
                        name: t.name.clone(),
                        state: TargetState::NotStarted,
                        exit_code: exit::SUCCESS,
                        message: Some(format!("an earlier target ({earlier}) failed")),
                        elapsed: Default::default(),
                    },
                });
                continue;
            }
            let r = one(t).await;
            codes.push(r.exit_code);
            if stops(r.exit_code) {
                failed = Some(&t.name);
            }
        }
    } else {
        let results: Vec<TargetResult> = futures::stream::iter(&targets)
            .map(&one)
            .buffered(usize::from(opts.parallel))
            .collect()
            .await;
        codes.extend(results.iter().map(|r| r.exit_code));
    }
    Ok(exit::worst(codes))
}

/// A target's state from its exit code.
fn state_of(code: i32) -> TargetState {
    match code {
        exit::SUCCESS => TargetState::Succeeded,
        exit::DIFFERENCES => TargetState::Differences,
        exit::CLUSTER_UNREACHABLE => TargetState::Unreachable,
        _ => TargetState::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        manifests: ManifestArgs,
    }

    fn flags(args: &[&str]) -> Flags {
        Flags::parse_from(std::iter::once("kpush").chain(args.iter().copied()))
    }

    fn targets() -> Vec<Target> {
        targets_file::parse(
            "targets:
  - name: weu
    aks: {cluster: aks-weu, resourceGroup: rg-weu, subscription: s1}
    namespace: shop
    vars: {REGION: weu}
    images: [\"web=acr.io/web:2\"]
  - name: neu
    kubeconfig: kc-neu
    context: neu
",
            "targets.yaml",
            Path::new("/ci"),
        )
        .expect("valid")
    }

    #[test]
    fn a_target_adds_its_sign_in_namespace_vars_and_images_to_the_flags() {
        let f = flags(&[
            "deploy/",
            "--var",
            "REGION=default",
            "--image",
            "web=acr.io/web:1",
            "-n",
            "dev",
            "--tenant-id",
            "t1",
        ]);
        let t = targets();
        let (c, m) = t[0].args(&f.cluster, &f.manifests);
        assert_eq!(c.azure.aks_cluster.as_deref(), Some("aks-weu"));
        assert_eq!(c.azure.resource_group.as_deref(), Some("rg-weu"));
        assert_eq!(c.azure.subscription.as_deref(), Some("s1"));
        assert_eq!(
            c.azure.tenant_id.as_deref(),
            Some("t1"),
            "shared Entra flags stay"
        );
        assert_eq!(m.namespace.as_deref(), Some("shop"));
        // Later values win: the target's.
        assert_eq!(m.vars, ["REGION=default", "REGION=weu"]);
        assert_eq!(m.images, ["web=acr.io/web:1", "web=acr.io/web:2"]);

        let (c, m) = t[1].args(&f.cluster, &f.manifests);
        assert_eq!(c.kubeconfig.as_deref(), Some(Path::new("/ci/kc-neu")));
        assert_eq!(c.context.as_deref(), Some("neu"));
        assert!(c.azure.aks_cluster.is_none());
        assert_eq!(
            m.namespace.as_deref(),
            Some("dev"),
            "the flag is the default"
        );
        assert_eq!(m.vars, ["REGION=default"]);
    }

    #[test]
    fn targets_with_the_same_transforms_share_one_render() {
        let f = flags(&["deploy/"]);
        let t = targets();
        let same = transforms(&t[1].manifest_args(&f.manifests));
        assert_eq!(same, transforms(&f.manifests));
        assert_ne!(same, transforms(&t[0].manifest_args(&f.manifests)));
    }

    #[tokio::test]
    async fn targets_with_the_same_transforms_render_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("cm.yaml");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
        )
        .expect("write");
        let path = file.display().to_string();
        let f = flags(&[path.as_str(), "--no-run-annotations"]);
        let t = targets();
        let renders = Renders::default();
        let key = transforms(&t[1].manifest_args(&f.manifests));
        renders.expect([key.clone(), key.clone()]);
        let sink = crate::event::RecordingSink::default();
        let first = renders
            .render(&t[1].manifest_args(&f.manifests), &sink, None, None)
            .await
            .expect("renders");
        // Gone from disk: the same transforms come from the first render.
        std::fs::remove_file(&file).expect("remove");
        let again = renders
            .render(&t[1].manifest_args(&f.manifests), &sink, None, None)
            .await
            .expect("from the cache");
        assert_eq!(first.len(), 1);
        assert_eq!(again.len(), 1);
        let rendered = sink
            .events()
            .iter()
            .filter(|e| matches!(e, Event::Rendered { .. }))
            .count();
        assert_eq!(rendered, 2, "each target is told what it deploys");
        assert!(
            lock(&renders.done).is_empty(),
            "the last target took the render"
        );
        // A third render of the same transforms was not announced: it reads the files again.
        assert!(
            renders
                .render(&t[1].manifest_args(&f.manifests), &sink, None, None)
                .await
                .is_err()
        );
        // Other transforms render again (and find the file gone).
        assert!(
            renders
                .render(&t[0].manifest_args(&f.manifests), &sink, None, None)
                .await
                .is_err()
        );
    }

    #[test]
    fn target_states_follow_exit_codes_and_the_run_takes_the_worst() {
        assert_eq!(state_of(0), TargetState::Succeeded);
        assert_eq!(state_of(1), TargetState::Differences);
        assert_eq!(state_of(6), TargetState::Unreachable);
        assert_eq!(state_of(4), TargetState::Failed);
        assert_eq!(exit::worst([0, 4, 1]), 4);
        assert_eq!(exit::worst([0, 6, 4]), 6);
        assert_eq!(exit::worst([]), 0);
    }
}
