//! Flags that choose an AKS cluster and how to sign in to Microsoft Entra ID, and their
//! conversion to [`AzureSettings`] and [`AksTarget`].
//!
//! Every flag also reads a `KPUSH_*` variable. Where Azure tooling has a conventional variable,
//! it is the fallback: `AZURE_SUBSCRIPTION_ID` (subscription), `AZURE_AUTHORITY_HOST` (set by
//! AKS workload identity), and — read by the auth module itself — `AZURE_TENANT_ID`,
//! `AZURE_CLIENT_ID` and the Azure DevOps service connection variables. Secrets
//! (`AZURE_CLIENT_SECRET`, `AZURE_CLIENT_CERTIFICATE_PATH`) are never flags: the auth module
//! reads them from the environment.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::auth::{AksTarget, AuthMethod, AzureSettings, Cloud, FleetTarget};

/// Where `--help` lists these flags.
const HEADING: &str = "AKS and Microsoft Entra ID";

/// Reads an environment variable (empty values count as unset).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Sign-in methods, as `--auth` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum AuthArg {
    /// Detect from the environment (GitHub OIDC, Azure Pipelines, workload identity, client
    /// secret, client certificate, managed identity, Azure CLI; in that order).
    #[default]
    Auto,
    /// GitHub Actions OIDC token through a federated credential.
    GithubOidc,
    /// Azure Pipelines service connection with workload identity federation.
    AzurePipelines,
    /// A federated token file (AZURE_FEDERATED_TOKEN_FILE).
    WorkloadIdentity,
    /// Service principal secret (AZURE_CLIENT_SECRET).
    ClientSecret,
    /// Service principal PEM certificate (AZURE_CLIENT_CERTIFICATE_PATH).
    ClientCertificate,
    /// Managed identity of the Azure resource kpush runs on.
    ManagedIdentity,
    /// The signed-in Azure CLI.
    AzureCli,
    /// Interactive sign-in with a code shown here (cached, file mode 0600).
    DeviceCode,
}

impl From<AuthArg> for AuthMethod {
    fn from(a: AuthArg) -> Self {
        match a {
            AuthArg::Auto => AuthMethod::Auto,
            AuthArg::GithubOidc => AuthMethod::GithubOidc,
            AuthArg::AzurePipelines => AuthMethod::AzurePipelines,
            AuthArg::WorkloadIdentity => AuthMethod::WorkloadIdentity,
            AuthArg::ClientSecret => AuthMethod::ClientSecret,
            AuthArg::ClientCertificate => AuthMethod::ClientCertificate,
            AuthArg::ManagedIdentity => AuthMethod::ManagedIdentity,
            AuthArg::AzureCli => AuthMethod::AzureCli,
            AuthArg::DeviceCode => AuthMethod::DeviceCode,
        }
    }
}

/// Azure clouds, as `--cloud` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum CloudArg {
    /// Azure (login.microsoftonline.com, management.azure.com).
    #[default]
    #[value(name = "AzurePublicCloud", alias = "AzureCloud")]
    AzurePublicCloud,
    /// Azure US Government.
    #[value(name = "AzureUSGovernment")]
    AzureUsGovernment,
    /// Azure operated by 21Vianet (China).
    #[value(name = "AzureChinaCloud")]
    AzureChinaCloud,
}

impl From<CloudArg> for Cloud {
    fn from(c: CloudArg) -> Self {
        match c {
            CloudArg::AzurePublicCloud => Cloud::AzurePublicCloud,
            CloudArg::AzureUsGovernment => Cloud::AzureUSGovernment,
            CloudArg::AzureChinaCloud => Cloud::AzureChinaCloud,
        }
    }
}

/// Which AKS cluster, and how to sign in to Entra ID for it.
#[derive(Debug, Clone, Default, Args)]
pub struct AzureArgs {
    /// AKS cluster name: kpush gets its address from Azure Resource Manager and signs in with
    /// Entra ID (no kubeconfig, az or kubelogin). Needs --resource-group and --subscription.
    #[arg(help_heading = HEADING, long, value_name = "NAME", env = "KPUSH_AKS_CLUSTER")]
    pub aks_cluster: Option<String>,

    /// Resource group of the AKS cluster.
    #[arg(help_heading = HEADING, long, value_name = "GROUP", env = "KPUSH_RESOURCE_GROUP")]
    pub resource_group: Option<String>,

    /// Subscription id of the AKS cluster [default: $AZURE_SUBSCRIPTION_ID].
    #[arg(help_heading = HEADING, long, value_name = "ID", env = "KPUSH_SUBSCRIPTION")]
    pub subscription: Option<String>,

    /// The AKS cluster's resource id, instead of the three flags above
    /// (/subscriptions/S/resourceGroups/G/providers/Microsoft.ContainerService/managedClusters/N).
    #[arg(help_heading = HEADING, long, value_name = "ID", env = "KPUSH_AKS_CLUSTER_ID", conflicts_with_all = ["aks_cluster", "resource_group"])]
    pub aks_cluster_id: Option<String>,

    /// Azure Kubernetes Fleet Manager fleet name: deploy to the fleet's hub cluster (address
    /// from ARM's listCredentials, Entra ID sign-in) wrapped in a ClusterResourcePlacement, and
    /// follow the placement's rollout on every member cluster. Needs --resource-group and
    /// --subscription. See docs/fleet.md.
    #[arg(help_heading = HEADING, long, value_name = "NAME", env = "KPUSH_FLEET", conflicts_with_all = ["aks_cluster", "aks_cluster_id", "admin"])]
    pub fleet: Option<String>,

    /// Use the cluster's admin (local account) credentials: listClusterAdminCredential.
    #[arg(help_heading = HEADING, long, env = "KPUSH_AKS_ADMIN")]
    pub admin: bool,

    /// How to sign in to Entra ID. Secrets are read only from the environment
    /// (AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH), never from flags.
    #[arg(help_heading = HEADING, long, value_enum, env = "KPUSH_AUTH", default_value_t = AuthArg::Auto)]
    pub auth: AuthArg,

    /// Entra tenant (directory) id [default: $AZURE_TENANT_ID].
    #[arg(help_heading = HEADING, long, value_name = "ID", env = "KPUSH_TENANT_ID")]
    pub tenant_id: Option<String>,

    /// Application (client) id of the service principal, federated app or user-assigned managed
    /// identity [default: $AZURE_CLIENT_ID].
    #[arg(help_heading = HEADING, long, value_name = "ID", env = "KPUSH_CLIENT_ID")]
    pub client_id: Option<String>,

    /// The Azure cloud: sets Entra's authority host and ARM's endpoint.
    #[arg(help_heading = HEADING, long, value_enum, env = "KPUSH_CLOUD", ignore_case = true)]
    pub cloud: Option<CloudArg>,

    /// Entra authority host, for other clouds (https) [default: the cloud's, or
    /// $AZURE_AUTHORITY_HOST].
    #[arg(help_heading = HEADING, long, value_name = "URL", env = "KPUSH_AUTHORITY_HOST")]
    pub authority_host: Option<String>,

    /// Azure Resource Manager endpoint, for other clouds (https) [default: the cloud's].
    #[arg(help_heading = HEADING, long, value_name = "URL", env = "KPUSH_ARM_ENDPOINT")]
    pub arm_endpoint: Option<String>,

    /// Scope of ARM tokens, for other clouds [default: the cloud's].
    #[arg(help_heading = HEADING, long, value_name = "SCOPE", env = "KPUSH_ARM_SCOPE", hide = true)]
    pub arm_scope: Option<String>,

    /// Extra PEM CA bundle trusted for Entra ID, ARM and CI token endpoints (a TLS-inspecting
    /// proxy).
    #[arg(help_heading = HEADING, long, value_name = "FILE", env = "KPUSH_AZURE_CA_FILE")]
    pub azure_ca_file: Option<PathBuf>,

    /// Azure DevOps service connection id, for --auth azure-pipelines
    /// [default: $AZURE_SERVICE_CONNECTION_ID].
    #[arg(help_heading = HEADING, long, value_name = "ID", env = "KPUSH_SERVICE_CONNECTION_ID")]
    pub service_connection_id: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl AzureArgs {
    /// Whether a cluster was named (`--aks-cluster` or `--aks-cluster-id`).
    pub fn names_cluster(&self) -> bool {
        non_empty(&self.aks_cluster).is_some() || non_empty(&self.aks_cluster_id).is_some()
    }

    /// The sign-in settings; `env` supplies the conventional fallbacks (`AZURE_AUTHORITY_HOST`).
    pub fn settings(&self, env: EnvLookup<'_>) -> AzureSettings {
        AzureSettings {
            auth: self.auth.into(),
            tenant_id: non_empty(&self.tenant_id),
            client_id: non_empty(&self.client_id),
            cloud: self.cloud.unwrap_or_default().into(),
            authority_host: non_empty(&self.authority_host).or_else(|| env("AZURE_AUTHORITY_HOST")),
            arm_endpoint: non_empty(&self.arm_endpoint),
            arm_scope: non_empty(&self.arm_scope),
            azure_ca_file: self.azure_ca_file.clone(),
            service_connection_id: non_empty(&self.service_connection_id),
            ..AzureSettings::default()
        }
    }

    /// The cluster, when one was named; an error (a flag problem, exit code 2) when the name
    /// lacks its resource group or subscription, or the resource id is malformed.
    pub fn target(&self, env: EnvLookup<'_>) -> Result<Option<AksTarget>, String> {
        let target = if let Some(id) = non_empty(&self.aks_cluster_id) {
            AksTarget::from_resource_id(&id).map_err(|e| e.to_string())?
        } else if let Some(cluster) = non_empty(&self.aks_cluster) {
            let resource_group = non_empty(&self.resource_group).ok_or_else(|| {
                format!(
                    "--aks-cluster {cluster} needs --resource-group (or KPUSH_RESOURCE_GROUP)\n  fix: pass the cluster's resource group, or --aks-cluster-id with its full resource id"
                )
            })?;
            let subscription = non_empty(&self.subscription)
                .or_else(|| env("AZURE_SUBSCRIPTION_ID"))
                .ok_or_else(|| {
                    format!(
                        "--aks-cluster {cluster} needs --subscription (or KPUSH_SUBSCRIPTION, or AZURE_SUBSCRIPTION_ID)\n  fix: pass the subscription id (az account show --query id -o tsv)"
                    )
                })?;
            AksTarget {
                subscription,
                resource_group,
                cluster,
                admin: false,
            }
        } else {
            if non_empty(&self.resource_group).is_some() && non_empty(&self.fleet).is_none() {
                return Err("--resource-group is set but no cluster is named\n  fix: add --aks-cluster NAME (or use --aks-cluster-id)".into());
            }
            return Ok(None);
        };
        Ok(Some(AksTarget {
            admin: self.admin,
            ..target
        }))
    }

    /// The fleet, when `--fleet` names one; an error (exit code 2) when it lacks its resource
    /// group or subscription.
    pub fn fleet_target(&self, env: EnvLookup<'_>) -> Result<Option<FleetTarget>, String> {
        let Some(fleet) = non_empty(&self.fleet) else {
            return Ok(None);
        };
        let resource_group = non_empty(&self.resource_group).ok_or_else(|| {
            format!("--fleet {fleet} needs --resource-group (or KPUSH_RESOURCE_GROUP)\n  fix: pass the fleet's resource group")
        })?;
        let subscription = non_empty(&self.subscription)
            .or_else(|| env("AZURE_SUBSCRIPTION_ID"))
            .ok_or_else(|| {
                format!(
                    "--fleet {fleet} needs --subscription (or KPUSH_SUBSCRIPTION, or AZURE_SUBSCRIPTION_ID)\n  fix: pass the subscription id (az account show --query id -o tsv)"
                )
            })?;
        Ok(Some(FleetTarget {
            subscription,
            resource_group,
            fleet,
        }))
    }

    /// Arguments that make `kpush token` sign in the same way, for a kubeconfig's exec plugin:
    /// the method, tenant and client ids (from flags, else `AZURE_TENANT_ID` / `AZURE_CLIENT_ID`,
    /// so the kubeconfig works in a fresh shell), cloud, endpoints, CA file and service
    /// connection. Never a secret: those stay in the environment of whoever runs kubectl.
    pub fn token_args(&self, env: EnvLookup<'_>) -> Vec<String> {
        let mut args = vec!["token".to_string()];
        let mut push = |flag: &str, value: Option<String>| {
            if let Some(v) = value {
                args.push(flag.to_string());
                args.push(v);
            }
        };
        if self.auth != AuthArg::Auto {
            push(
                "--auth",
                self.auth
                    .to_possible_value()
                    .map(|v| v.get_name().to_string()),
            );
        }
        push(
            "--tenant-id",
            non_empty(&self.tenant_id).or_else(|| env("AZURE_TENANT_ID")),
        );
        push(
            "--client-id",
            non_empty(&self.client_id).or_else(|| env("AZURE_CLIENT_ID")),
        );
        push(
            "--cloud",
            self.cloud
                .and_then(|c| c.to_possible_value())
                .map(|v| v.get_name().to_string()),
        );
        push(
            "--authority-host",
            non_empty(&self.authority_host).or_else(|| env("AZURE_AUTHORITY_HOST")),
        );
        push(
            "--azure-ca-file",
            self.azure_ca_file.as_ref().map(|p| {
                std::path::absolute(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string()
            }),
        );
        push(
            "--service-connection-id",
            non_empty(&self.service_connection_id),
        );
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        azure: AzureArgs,
    }

    fn parse(args: &[&str]) -> AzureArgs {
        Cmd::try_parse_from(std::iter::once("kpush").chain(args.iter().copied()))
            .expect("flags parse")
            .azure
    }

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn name_group_and_subscription_make_a_target_and_the_subscription_may_come_from_azure_env() {
        let a = parse(&["--aks-cluster", "aks", "--resource-group", "rg", "--admin"]);
        let env = env_of(&[("AZURE_SUBSCRIPTION_ID", "sub-from-env")]);
        let t = a.target(&env).unwrap().unwrap();
        assert_eq!(
            (
                t.subscription.as_str(),
                t.resource_group.as_str(),
                t.cluster.as_str(),
                t.admin
            ),
            ("sub-from-env", "rg", "aks", true)
        );
        let err = a.target(&env_of(&[])).unwrap_err();
        assert!(err.contains("needs --subscription"), "{err}");
    }

    #[test]
    fn a_resource_id_is_an_alternative_and_no_cluster_means_kubeconfig() {
        let a = parse(&[
            "--aks-cluster-id",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c",
        ]);
        assert_eq!(a.target(&env_of(&[])).unwrap().unwrap().cluster, "c");
        assert!(parse(&[]).target(&env_of(&[])).unwrap().is_none());
        assert!(
            parse(&["--aks-cluster-id", "/subscriptions/s"])
                .target(&env_of(&[]))
                .is_err()
        );
        assert!(
            Cmd::try_parse_from(["kpush", "--aks-cluster", "a", "--aks-cluster-id", "/x"]).is_err()
        );
    }

    #[test]
    fn settings_map_method_cloud_and_the_authority_host_fallback() {
        let a = parse(&["--auth", "github-oidc", "--cloud", "azureusgovernment"]);
        let s = a.settings(&env_of(&[(
            "AZURE_AUTHORITY_HOST",
            "https://login.example",
        )]));
        assert_eq!(s.auth, AuthMethod::GithubOidc);
        assert_eq!(s.cloud, Cloud::AzureUSGovernment);
        assert_eq!(s.authority_host.as_deref(), Some("https://login.example"));
        assert!(Cmd::try_parse_from(["kpush", "--auth", "password"]).is_err());
    }

    #[test]
    fn token_args_repeat_the_sign_in_flags_and_never_a_secret() {
        let a = parse(&[
            "--auth",
            "client-secret",
            "--cloud",
            "AzureChinaCloud",
            "--aks-cluster",
            "c",
        ]);
        let env = env_of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "hunter2"),
        ]);
        assert_eq!(
            a.token_args(&env),
            [
                "token",
                "--auth",
                "client-secret",
                "--tenant-id",
                "t",
                "--client-id",
                "c",
                "--cloud",
                "AzureChinaCloud"
            ]
        );
    }

    #[test]
    fn a_fleet_needs_its_resource_group_and_subscription_and_names_no_cluster() {
        let none = env_of(&[]);
        let a = parse(&[
            "--fleet",
            "f1",
            "--resource-group",
            "rg",
            "--subscription",
            "s",
        ]);
        let fleet = a.fleet_target(&none).unwrap().unwrap();
        assert_eq!(
            fleet.resource_id(),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/fleets/f1"
        );
        assert_eq!(a.target(&none).unwrap(), None);
        let err = parse(&["--fleet", "f1"]).fleet_target(&none).unwrap_err();
        assert!(err.contains("--resource-group"), "{err}");
        let sub = env_of(&[("AZURE_SUBSCRIPTION_ID", "s2")]);
        let f = parse(&["--fleet", "f1", "--resource-group", "rg"]);
        assert_eq!(f.fleet_target(&sub).unwrap().unwrap().subscription, "s2");
        assert!(Cmd::try_parse_from(["kpush", "--fleet", "f", "--aks-cluster", "a"]).is_err());
    }
}
