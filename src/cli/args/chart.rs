//! Flags for Helm charts (a PATH holding `Chart.yaml`, or a packaged `.tgz`).

use std::path::PathBuf;

use clap::Args;

use crate::render::chart::{Capabilities, ChartOptions};

/// How helm renders charts given as PATH.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Helm charts")]
pub struct ChartArgs {
    /// Values file for the chart (repeatable; later files win; KPUSH_VALUES takes one per line).
    /// `-f` keeps kubectl's meaning (a manifest path).
    #[arg(
        long = "values",
        value_name = "FILE",
        env = "KPUSH_VALUES",
        value_delimiter = '\n'
    )]
    pub values: Vec<PathBuf>,

    /// Set a chart value, in helm's syntax (repeatable; KPUSH_SET takes one per line).
    #[arg(
        long = "set",
        value_name = "KEY=VALUE",
        env = "KPUSH_SET",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub set: Vec<String>,

    /// Set a chart value as a string (repeatable; KPUSH_SET_STRING takes one per line).
    #[arg(
        long = "set-string",
        value_name = "KEY=VALUE",
        env = "KPUSH_SET_STRING",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub set_string: Vec<String>,

    /// Set a chart value from a file's content (repeatable; KPUSH_SET_FILE takes one per line).
    #[arg(
        long = "set-file",
        value_name = "KEY=PATH",
        env = "KPUSH_SET_FILE",
        value_delimiter = '\n'
    )]
    pub set_file: Vec<String>,

    /// The helm binary that renders charts (Helm 3 or 4); defaults to `helm` on PATH.
    #[arg(long = "helm", value_name = "PATH", env = "KPUSH_HELM")]
    pub helm: Option<PathBuf>,

    /// Kubernetes version for the chart's `.Capabilities` when no cluster is asked (`kpush
    /// render`); apply, diff and status use the target cluster's version and API versions.
    #[arg(long, value_name = "VERSION", env = "KPUSH_KUBE_VERSION")]
    pub kube_version: Option<String>,

    /// Let helm fetch the chart's missing dependencies (network); without it they must be
    /// vendored in the chart's charts/ directory.
    #[arg(long, env = "KPUSH_HELM_DEPENDENCY_UPDATE")]
    pub helm_dependency_update: bool,
}

impl ChartArgs {
    /// The chart options for release namespace `namespace`.
    pub fn to_options(&self, namespace: Option<String>) -> ChartOptions {
        ChartOptions {
            helm: self.helm.clone().filter(|p| !p.as_os_str().is_empty()),
            values: self
                .values
                .iter()
                .filter(|p| !p.as_os_str().is_empty())
                .cloned()
                .collect(),
            set: non_empty(&self.set),
            set_string: non_empty(&self.set_string),
            set_file: non_empty(&self.set_file),
            release: None,
            namespace,
            capabilities: Capabilities {
                kube_version: self.kube_version.clone().filter(|v| !v.is_empty()),
                api_versions: Vec::new(),
            },
            dependency_update: self.helm_dependency_update,
        }
    }
}

fn non_empty(v: &[String]) -> Vec<String> {
    v.iter().filter(|s| !s.is_empty()).cloned().collect()
}
