//! Flags shared by `apply` and `diff`: how objects are sent, and the ApplySet.

use clap::Args;

use crate::cluster::RetryPolicy;
use crate::plan::{ApplySet, PlanOptions};

/// How objects are sent to the API server.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Server-side apply field manager: the name that owns the fields kpush sets.
    #[arg(
        long,
        value_name = "NAME",
        env = "KPUSH_FIELD_MANAGER",
        default_value = "kpush"
    )]
    pub field_manager: String,

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

    /// Record the applied objects as ApplySet NAME (parent: Secret NAME in --namespace, as in
    /// `kubectl apply --applyset`), so that --prune can delete what leaves the manifests.
    #[arg(long, value_name = "NAME", env = "KPUSH_APPLYSET")]
    pub applyset: Option<String>,

    /// Delete objects of the --applyset that are no longer in the manifests.
    #[arg(long, env = "KPUSH_PRUNE", requires = "applyset")]
    pub prune: bool,

    /// With --prune, also delete Namespaces and CRDs (and so everything in or of them).
    #[arg(long, env = "KPUSH_PRUNE_NAMESPACES_AND_CRDS", requires = "prune")]
    pub prune_namespaces_and_crds: bool,

    /// Create the target namespace (--namespace, or the context's) when the manifests do not
    /// define it; it is applied first, like a Namespace manifest, and never pruned.
    #[arg(long, env = "KPUSH_CREATE_NAMESPACE")]
    pub create_namespace: bool,
}

impl PlanArgs {
    /// With `--create-namespace`, adds a Namespace object for `namespace` unless the manifests
    /// already define it. Its origin is the flag, since no file holds it.
    pub fn add_namespace(&self, manifests: &mut Vec<crate::Manifest>, namespace: &str) {
        let defined = manifests
            .iter()
            .any(|m| m.group().is_empty() && m.kind() == "Namespace" && m.name() == namespace);
        if !self.create_namespace || defined {
            return;
        }
        manifests.insert(
            0,
            crate::Manifest::new(
                crate::Origin::new("--create-namespace", 0),
                serde_json::json!({
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": namespace,
                        "labels": {
                            crate::render::metadata::MANAGED_BY_LABEL:
                                crate::render::metadata::MANAGED_BY_VALUE
                        }
                    }
                }),
            ),
        );
    }

    /// Plan settings; `namespace` is where the ApplySet parent lives.
    pub fn to_options(&self, namespace: &str) -> PlanOptions {
        PlanOptions {
            field_manager: self.field_manager.clone(),
            force_conflicts: self.force_conflicts,
            preflight: true,
            recreate_on_immutable: false,
            concurrency: usize::from(self.concurrency),
            retry: RetryPolicy::default(),
            applyset: self
                .applyset
                .as_ref()
                .map(|n| ApplySet::new(n.clone(), namespace)),
            keep_dry_run: false,
            adopt: !self.no_adopt,
        }
    }
}
