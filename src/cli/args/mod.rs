//! Flag groups, each declared once and flattened into the commands that take it.

pub mod apply;
pub mod azure;
pub mod chart;
pub mod cluster;
pub mod deployment;
pub mod fleet;
pub mod manifests;
pub mod output;
pub mod plan;
pub mod release;
pub mod targets;
pub mod wait;

pub use apply::ApplyArgs;
pub use azure::AzureArgs;
pub use cluster::ClusterArgs;
pub use deployment::DeploymentArgs;
pub use fleet::FleetArgs;
pub use manifests::ManifestArgs;
pub use output::{CiArg, FormatArg, Output, OutputArgs, ProgressArg, TableOutput, VerboseArgs};
pub use plan::{FieldManagerArgs, PlanArgs, PruneGuardArgs};
pub use release::{RecordArgs, ReleaseArgs, ReleaseRef};
pub use targets::TargetsArgs;
pub use wait::{TrackArgs, WaitFlag};
