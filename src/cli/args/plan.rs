//! Flags shared by `apply` and `diff`: how objects are sent, and the ApplySet.

use clap::Args;

use crate::apply::{PruneGuard, PruneLimit};

/// How objects are sent to the API server.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub field_manager: FieldManagerArgs,

    /// Take ownership of fields that other field managers set to other values.
    #[arg(long, env = "KPUSH_FORCE_CONFLICTS")]
    pub force_conflicts: bool,

    /// Do not take over objects last written by other deploy tools (`kubectl apply` client side,
    /// `kubectl set/edit/patch`, Helm 3): their fields stay theirs, so changed fields conflict
    /// and fields removed from the manifest stay in the cluster.
    #[arg(long, env = "KPUSH_NO_ADOPT")]
    pub no_adopt: bool,

    /// Requests in flight at once within a wave.
    #[arg(long, value_name = "N", env = "KPUSH_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Deploy as release NAME: the objects become ApplySet NAME (parent: Secret NAME in
    /// --namespace, as with `kubectl apply --applyset`), each apply is recorded as a revision
    /// (see `kpush history`), deploys of the same release take turns, and prune is on.
    #[arg(
        long,
        value_name = "NAME",
        env = "KPUSH_RELEASE",
        visible_alias = "applyset"
    )]
    pub release: Option<String>,

    /// The former name of --release (`KPUSH_APPLYSET`); the same release.
    #[arg(
        long = "applyset-env",
        hide = true,
        env = "KPUSH_APPLYSET",
        conflicts_with = "release"
    )]
    pub applyset_env: Option<String>,

    /// Delete objects of the release that are no longer in the manifests (on by default with
    /// --release; `--prune=false` keeps them).
    #[arg(
        long,
        env = "KPUSH_PRUNE",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub prune: Option<bool>,

    /// With --prune, also delete Namespaces and CRDs (and so everything in or of them).
    #[arg(long, env = "KPUSH_PRUNE_NAMESPACES_AND_CRDS")]
    pub prune_namespaces_and_crds: bool,

    #[command(flatten)]
    pub guard: PruneGuardArgs,

    /// Deploy objects that belong to another release (their `applyset.kubernetes.io/part-of`
    /// label names another ApplySet): they move to this release. Without it such objects are
    /// refused before anything changes.
    #[arg(long, env = "KPUSH_TAKE_OVER_FROM_RELEASES")]
    pub take_over_from_releases: bool,

    /// Create the target namespace (--namespace, or the context's) when the manifests do not
    /// define it; it is applied first, like a Namespace manifest, and never pruned.
    #[arg(long, env = "KPUSH_CREATE_NAMESPACE")]
    pub create_namespace: bool,
}

impl PlanArgs {
    /// The release name, from --release (alias --applyset) or `KPUSH_APPLYSET`.
    pub fn release_name(&self) -> Option<&str> {
        self.release.as_deref().or(self.applyset_env.as_deref())
    }

    /// Whether to prune: as asked, else on exactly when a release is named (prune without a
    /// release is refused by the deploy: `DeploySettings::check_prune`).
    pub fn prune(&self) -> bool {
        self.prune.unwrap_or(self.release_name().is_some())
    }
}

/// `--field-manager`.
#[derive(Debug, Clone, Args)]
pub struct FieldManagerArgs {
    /// Server-side apply field manager: the name that owns the fields kpush sets.
    #[arg(
        long,
        value_name = "NAME",
        env = "KPUSH_FIELD_MANAGER",
        default_value = "kpush"
    )]
    pub field_manager: String,
}

/// The prune guard's flags, shared by `apply`, `diff` and `rollback`.
#[derive(Debug, Clone, Args)]
pub struct PruneGuardArgs {
    /// Let a prune go ahead although the manifests rendered no objects (it then deletes every
    /// member of the release). Without it such a prune is refused before anything changes.
    #[arg(long, env = "KPUSH_ALLOW_EMPTY")]
    pub allow_empty: bool,

    /// How much of the release one prune may delete: a share of its live members (`50%`, the
    /// default; a prune of fewer than 5 objects always goes ahead) or a number of objects
    /// (`10`; `0` refuses every prune). A larger prune is refused before anything changes.
    #[arg(
        long,
        value_name = "LIMIT",
        env = "KPUSH_PRUNE_LIMIT",
        default_value = "50%",
        value_parser = parse_prune_limit
    )]
    pub prune_limit: PruneLimit,
}

impl PruneGuardArgs {
    /// The guard's settings.
    pub fn guard(&self) -> PruneGuard {
        PruneGuard {
            allow_empty: self.allow_empty,
            limit: self.prune_limit,
        }
    }
}

fn parse_prune_limit(s: &str) -> Result<PruneLimit, String> {
    s.parse()
}
