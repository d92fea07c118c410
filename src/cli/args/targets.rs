//! `--targets FILE` and `--parallel N`: one command against many clusters.

use std::path::PathBuf;

use clap::Args;

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
