//! `--targets FILE` and `--parallel N`: a target's flags on top of the command line's, and the
//! command line's side of `deploy::targets::run` (reading the file, sharing renders).

use std::path::Path;

use super::args::ManifestArgs;
use super::args::{ClusterArgs, ReleaseRef, TargetsArgs};
use crate::deploy::targets_file::{self, Target, TargetCluster};
use crate::deploy::{DeployError, DeployResult, RenderKey, Renders};
use crate::event::{Outcome, Sink};
use crate::report::Reporter;

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

/// The render key of `manifests` (`None` when its flags do not convert: that target's render
/// reports why).
fn render_key(manifests: &ManifestArgs, env: &super::Env) -> Option<RenderKey> {
    manifests.to_options(env).ok().map(|o| RenderKey::of(&o))
}

/// Runs `each` once per target of `--targets` ([`run`]), or, without a targets file, once on
/// the command line's own cluster (`each(None, single)`). Returns the (worst) outcome.
pub(super) async fn run_or_once<F>(
    opts: &TargetsArgs,
    manifests: Option<(&ManifestArgs, &Renders)>,
    reporter: &Reporter,
    single: &dyn Sink,
    env: &super::Env,
    stops: fn(Outcome) -> bool,
    each: F,
) -> Result<Outcome, DeployError>
where
    F: AsyncFn(Option<&Target>, &dyn Sink) -> DeployResult,
{
    match &opts.targets {
        Some(file) => {
            let each = async |t: &Target, sink: &dyn Sink| each(Some(t), sink).await;
            run(file, opts, manifests, reporter, env, stops, each).await
        }
        None => each(None, single).await.map(|v| v.outcome()),
    }
}

/// Runs `each` on every target of `file` (`manifests`: the command's, if it renders any, and
/// the cache its targets render through), reporting to `reporter`; a sequential run stops
/// after the first target whose outcome `stops`. Returns the worst target's outcome; invalid
/// input for a bad targets file.
async fn run<F>(
    file: &Path,
    opts: &TargetsArgs,
    manifests: Option<(&ManifestArgs, &Renders)>,
    reporter: &Reporter,
    env: &super::Env,
    stops: fn(Outcome) -> bool,
    each: F,
) -> Result<Outcome, DeployError>
where
    F: AsyncFn(&Target, &dyn Sink) -> DeployResult,
{
    let bad = |e: String| DeployError::invalid(e);
    let targets = targets_file::read(file).map_err(|e| bad(e.to_string()))?;
    if let Some((m, renders)) = manifests {
        renders.expect(
            targets
                .iter()
                .filter_map(|t| render_key(&t.manifest_args(m), env)),
        );
    }
    let stdin = manifests.map(|(m, _)| m).filter(|m| {
        m.paths
            .iter()
            .chain(&m.filenames)
            .any(|p| p.as_os_str() == "-")
    });
    if let Some(manifests) = stdin {
        let mut keys: Vec<Option<RenderKey>> = Vec::new();
        for t in &targets {
            let key = render_key(&t.manifest_args(manifests), env);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        if keys.len() > 1 || manifests.has_charts() {
            return Err(bad(format!(
                "standard input (`-`) can be read only once, but the targets of {} render the \
                 manifests differently (namespace, vars or images)\n  fix: pass the manifests \
                 as files or directories",
                file.display()
            )));
        }
    }
    let on_error = |e: &crate::deploy::DeployError| reporter.stopping_problems(&e.error);
    let worst = crate::deploy::targets::run(
        file,
        &targets,
        opts.parallel,
        reporter,
        &on_error,
        stops,
        each,
    )
    .await;
    Ok(worst)
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

    fn key(m: &ManifestArgs) -> Option<RenderKey> {
        render_key(m, &super::super::Env::new())
    }

    fn options(m: &ManifestArgs) -> crate::render::RenderOptions {
        m.to_options(&super::super::Env::new()).expect("converts")
    }

    #[test]
    fn targets_with_the_same_transforms_share_one_render() {
        let f = flags(&["deploy/"]);
        let t = targets();
        let same = key(&t[1].manifest_args(&f.manifests));
        assert!(same.is_some());
        assert_eq!(same, key(&f.manifests));
        assert_ne!(same, key(&t[0].manifest_args(&f.manifests)));
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
        let k = key(&t[1].manifest_args(&f.manifests)).expect("key");
        renders.expect([k.clone(), k.clone()]);
        let sink = crate::event::RecordingSink::default();
        let first = renders
            .render(
                &options(&t[1].manifest_args(&f.manifests)),
                &sink,
                None,
                None,
            )
            .await
            .expect("renders");
        // Gone from disk: the same transforms come from the first render.
        std::fs::remove_file(&file).expect("remove");
        let again = renders
            .render(
                &options(&t[1].manifest_args(&f.manifests)),
                &sink,
                None,
                None,
            )
            .await
            .expect("from the cache");
        assert_eq!(first.len(), 1);
        assert_eq!(again.len(), 1);
        let rendered = sink
            .events()
            .iter()
            .filter(|e| matches!(e, crate::event::Event::Rendered { .. }))
            .count();
        assert_eq!(rendered, 2, "each target is told what it deploys");
        assert!(renders.is_empty(), "the last target took the render");
        // A third render of the same transforms was not announced: it reads the files again.
        assert!(
            renders
                .render(
                    &options(&t[1].manifest_args(&f.manifests)),
                    &sink,
                    None,
                    None
                )
                .await
                .is_err()
        );
        // Other transforms render again (and find the file gone).
        assert!(
            renders
                .render(
                    &options(&t[0].manifest_args(&f.manifests)),
                    &sink,
                    None,
                    None
                )
                .await
                .is_err()
        );
    }

    #[test]
    fn target_states_follow_outcomes() {
        use crate::event::TargetState;
        assert_eq!(Outcome::Success.target_state(), TargetState::Succeeded);
        assert_eq!(
            Outcome::Differences.target_state(),
            TargetState::Differences
        );
        assert_eq!(
            Outcome::Unreachable.target_state(),
            TargetState::Unreachable
        );
        assert_eq!(Outcome::RolloutFailed.target_state(), TargetState::Failed);
    }
}
