//! `--auth auto`: which sign-in method the environment offers, in a fixed order.

use super::{AuthError, AuthMethod, AzureSettings};

/// Reads an environment variable; empty values count as unset.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, empty values as unset.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Tenant id from settings or `AZURE_TENANT_ID` (or AzureCLI@2's `AZURESUBSCRIPTION_TENANT_ID`).
pub(crate) fn tenant_id(settings: &AzureSettings, env: Lookup<'_>) -> Option<String> {
    settings
        .tenant_id
        .clone()
        .filter(|t| !t.is_empty())
        .or_else(|| env("AZURE_TENANT_ID"))
        .or_else(|| env("AZURESUBSCRIPTION_TENANT_ID"))
}

/// Client id from settings or `AZURE_CLIENT_ID` (or AzureCLI@2's `AZURESUBSCRIPTION_CLIENT_ID`).
pub(crate) fn client_id(settings: &AzureSettings, env: Lookup<'_>) -> Option<String> {
    settings
        .client_id
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| env("AZURE_CLIENT_ID"))
        .or_else(|| env("AZURESUBSCRIPTION_CLIENT_ID"))
}

/// Service connection id from settings or the environment.
pub(crate) fn service_connection_id(settings: &AzureSettings, env: Lookup<'_>) -> Option<String> {
    settings
        .service_connection_id
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| env("AZURE_SERVICE_CONNECTION_ID"))
        .or_else(|| env("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"))
}

/// Whether an `az` executable is on `PATH`.
pub(crate) fn az_on_path() -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    let names: &[&str] = if cfg!(windows) {
        &["az.cmd", "az.exe", "az"]
    } else {
        &["az"]
    };
    std::env::split_paths(&path).any(|dir| names.iter().any(|n| dir.join(n).is_file()))
}

/// The managed identity environment the variables describe, told apart as azure_identity 1.0
/// does (`managed_identity_credential.rs`, `get_source`), which serves only App Service
/// (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`) and the VM's IMDS; it refuses the others with
/// "… managed identity isn't supported".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ManagedIdentityEnv {
    /// No managed identity variables.
    Absent,
    /// App Service, Functions, Container Apps: the SDK serves it.
    AppService,
    /// An environment the SDK refuses, or variables that describe none completely.
    Unusable {
        /// The environment, as the SDK names it.
        name: &'static str,
        /// The variables that said so.
        variables: &'static str,
    },
}

/// Which managed identity environment `env` describes.
pub(crate) fn managed_identity_env(env: Lookup<'_>) -> ManagedIdentityEnv {
    let has = |name: &str| env(name).is_some();
    let unusable = |name, variables| ManagedIdentityEnv::Unusable { name, variables };
    if has("IDENTITY_ENDPOINT") {
        if has("IDENTITY_HEADER") {
            if has("IDENTITY_SERVER_THUMBPRINT") {
                return unusable(
                    "Service Fabric",
                    "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT",
                );
            }
            return ManagedIdentityEnv::AppService;
        }
        if has("IMDS_ENDPOINT") {
            return unusable("Azure Arc", "IDENTITY_ENDPOINT and IMDS_ENDPOINT");
        }
        return unusable(
            "an incomplete App Service",
            "IDENTITY_ENDPOINT without IDENTITY_HEADER",
        );
    }
    if has("MSI_ENDPOINT") {
        if has("MSI_SECRET") {
            return unusable("Azure ML", "MSI_ENDPOINT and MSI_SECRET");
        }
        return unusable("Cloud Shell", "MSI_ENDPOINT");
    }
    ManagedIdentityEnv::Absent
}

/// The method Auto picks, and why; or what it looked for. Credentials the environment names
/// but the SDK cannot serve there are skipped, with the reason logged.
pub(crate) fn choose(
    settings: &AzureSettings,
    env: Lookup<'_>,
    az_available: bool,
) -> Result<(AuthMethod, &'static str), AuthError> {
    let has = |name: &str| env(name).is_some();
    let identity = tenant_id(settings, env).is_some() && client_id(settings, env).is_some();
    if has("ACTIONS_ID_TOKEN_REQUEST_URL") && has("ACTIONS_ID_TOKEN_REQUEST_TOKEN") && identity {
        return Ok((
            AuthMethod::GithubOidc,
            "ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN and AZURE_CLIENT_ID/AZURE_TENANT_ID are set",
        ));
    }
    if has("SYSTEM_OIDCREQUESTURI") && service_connection_id(settings, env).is_some() && identity {
        return Ok((
            AuthMethod::AzurePipelines,
            "SYSTEM_OIDCREQUESTURI and a service connection id are set",
        ));
    }
    if has("AZURE_FEDERATED_TOKEN_FILE") && identity {
        return Ok((
            AuthMethod::WorkloadIdentity,
            "AZURE_FEDERATED_TOKEN_FILE is set",
        ));
    }
    if has("AZURE_CLIENT_SECRET") && identity {
        return Ok((AuthMethod::ClientSecret, "AZURE_CLIENT_SECRET is set"));
    }
    if has("AZURE_CLIENT_CERTIFICATE_PATH") && identity {
        return Ok((
            AuthMethod::ClientCertificate,
            "AZURE_CLIENT_CERTIFICATE_PATH is set",
        ));
    }
    let mut skipped = None;
    match managed_identity_env(env) {
        ManagedIdentityEnv::AppService => {
            return Ok((
                AuthMethod::ManagedIdentity,
                "IDENTITY_ENDPOINT and IDENTITY_HEADER are set (App Service managed identity)",
            ));
        }
        ManagedIdentityEnv::Unusable { name, variables } => {
            let why = format!(
                "managed identity skipped: {variables} describe the {name} managed identity, which the Azure SDK kpush uses (azure_identity 1.0) cannot sign in with"
            );
            tracing::info!("{why}; trying the next method");
            skipped = Some(why);
        }
        ManagedIdentityEnv::Absent => {}
    }
    if az_available {
        return Ok((AuthMethod::AzureCli, "the Azure CLI (az) is on PATH"));
    }
    let mut checked = vec![
        "GitHub OIDC (ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN + AZURE_CLIENT_ID + AZURE_TENANT_ID)".to_string(),
        "Azure Pipelines (SYSTEM_OIDCREQUESTURI + service connection id + client and tenant ids)".to_string(),
        "workload identity (AZURE_FEDERATED_TOKEN_FILE)".to_string(),
        "client secret (AZURE_CLIENT_SECRET)".to_string(),
        "client certificate (AZURE_CLIENT_CERTIFICATE_PATH)".to_string(),
        "managed identity (IDENTITY_ENDPOINT + IDENTITY_HEADER, App Service)".to_string(),
        "Azure CLI (az on PATH)".to_string(),
    ];
    if let Some(why) = skipped {
        checked.push(format!(
            "note: {why}; sign in with `az login` (Cloud Shell is signed in already), or pass --auth with another method"
        ));
    }
    if env("GITHUB_ACTIONS").as_deref() == Some("true") && !has("ACTIONS_ID_TOKEN_REQUEST_URL") {
        checked.push("note: this is GitHub Actions but the job has no `permissions: id-token: write`, so GitHub offers no OIDC token".to_string());
    } else if !identity {
        checked.push("note: AZURE_CLIENT_ID and AZURE_TENANT_ID (or --client-id/--tenant-id) are needed by every service-principal method".to_string());
    }
    Err(AuthError::NoCredential { checked })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn pick(vars: &[(&str, &str)], az: bool) -> Result<AuthMethod, AuthError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |k: &str| map.get(k).cloned().filter(|v| !v.is_empty());
        choose(&AzureSettings::default(), &env, az).map(|(m, _)| m)
    }

    const IDS: [(&str, &str); 2] = [("AZURE_CLIENT_ID", "c"), ("AZURE_TENANT_ID", "t")];

    #[test]
    fn github_oidc_wins_when_everything_is_set() {
        let mut vars = IDS.to_vec();
        vars.extend([
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://x?a=1"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "t"),
            ("SYSTEM_OIDCREQUESTURI", "https://ado"),
            ("AZURE_SERVICE_CONNECTION_ID", "sc"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
            ("AZURE_CLIENT_SECRET", "s"),
            ("IDENTITY_ENDPOINT", "https://mi"),
        ]);
        assert_eq!(pick(&vars, true).unwrap(), AuthMethod::GithubOidc);
    }

    #[test]
    fn the_order_is_pipelines_workload_secret_certificate_managed_identity_cli() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = IDS.to_vec();
            v.extend_from_slice(extra);
            v
        };
        assert_eq!(
            pick(
                &with(&[
                    ("SYSTEM_OIDCREQUESTURI", "u"),
                    ("AZURE_SERVICE_CONNECTION_ID", "sc"),
                    ("AZURE_CLIENT_SECRET", "s")
                ]),
                false
            )
            .unwrap(),
            AuthMethod::AzurePipelines
        );
        assert_eq!(
            pick(
                &with(&[
                    ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
                    ("AZURE_CLIENT_SECRET", "s")
                ]),
                false
            )
            .unwrap(),
            AuthMethod::WorkloadIdentity
        );
        assert_eq!(
            pick(
                &with(&[
                    ("AZURE_CLIENT_SECRET", "s"),
                    ("AZURE_CLIENT_CERTIFICATE_PATH", "/c")
                ]),
                false
            )
            .unwrap(),
            AuthMethod::ClientSecret
        );
        assert_eq!(
            pick(
                &with(&[
                    ("AZURE_CLIENT_CERTIFICATE_PATH", "/c"),
                    ("IDENTITY_ENDPOINT", "e")
                ]),
                true
            )
            .unwrap(),
            AuthMethod::ClientCertificate
        );
        assert_eq!(
            pick(
                &[("IDENTITY_ENDPOINT", "e"), ("IDENTITY_HEADER", "h")],
                true
            )
            .unwrap(),
            AuthMethod::ManagedIdentity
        );
        assert_eq!(pick(&[], true).unwrap(), AuthMethod::AzureCli);
    }

    #[test]
    fn managed_identity_environments_the_sdk_refuses_fall_through_to_the_cli() {
        for (vars, name) in [
            (
                vec![("MSI_ENDPOINT", "http://localhost:50342/oauth2/token")],
                "Cloud Shell",
            ),
            (
                vec![("MSI_ENDPOINT", "http://x"), ("MSI_SECRET", "s")],
                "Azure ML",
            ),
            (
                vec![
                    ("IDENTITY_ENDPOINT", "http://x"),
                    ("IMDS_ENDPOINT", "http://y"),
                ],
                "Azure Arc",
            ),
            (
                vec![
                    ("IDENTITY_ENDPOINT", "http://x"),
                    ("IDENTITY_HEADER", "h"),
                    ("IDENTITY_SERVER_THUMBPRINT", "t"),
                ],
                "Service Fabric",
            ),
            (
                vec![("IDENTITY_ENDPOINT", "http://x")],
                "incomplete App Service",
            ),
        ] {
            assert_eq!(pick(&vars, true).unwrap(), AuthMethod::AzureCli, "{name}");
            let err = pick(&vars, false).unwrap_err().to_string();
            assert!(err.contains(name), "{name}: {err}");
            assert!(err.contains("cannot sign in with"), "{err}");
        }
        assert_eq!(
            pick(
                &[("IDENTITY_ENDPOINT", "http://x"), ("IDENTITY_HEADER", "h")],
                true
            )
            .unwrap(),
            AuthMethod::ManagedIdentity
        );
    }

    #[test]
    fn github_without_client_id_falls_through_and_says_why_nothing_matched() {
        let err = pick(
            &[
                ("ACTIONS_ID_TOKEN_REQUEST_URL", "u"),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "t"),
            ],
            false,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("AZURE_CLIENT_ID and AZURE_TENANT_ID"),
            "{err}"
        );
        let err = pick(&[("GITHUB_ACTIONS", "true")], false).unwrap_err();
        assert!(err.to_string().contains("id-token: write"), "{err}");
    }
}
