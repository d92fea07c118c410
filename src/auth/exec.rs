//! kubectl integration: the ExecCredential `kpush token` prints, and the kubeconfig
//! `kpush kubeconfig` writes, whose user runs `kpush token` (no kubelogin, no stored token).

use super::AccessToken;
use serde::Serialize;

/// The ExecCredential API version kpush answers with unless kubectl asks for another:
/// `v1beta1` is understood by kubectl 1.11 and later (including the 1.20 test cluster's),
/// `v1` only from 1.22.
pub const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

/// Versions of the ExecCredential API kpush can answer in.
const EXEC_API_VERSIONS: [&str; 2] = [
    "client.authentication.k8s.io/v1beta1",
    "client.authentication.k8s.io/v1",
];

/// The ExecCredential API version to answer in: the one kubectl announces in
/// `KUBERNETES_EXEC_INFO` when kpush speaks it, else [`EXEC_API_VERSION`].
pub fn exec_api_version(exec_info: Option<&str>) -> &'static str {
    exec_info
        .and_then(|info| serde_json::from_str::<serde_json::Value>(info).ok())
        .and_then(|v| v.get("apiVersion")?.as_str().map(str::to_string))
        .and_then(|wanted| EXEC_API_VERSIONS.into_iter().find(|v| *v == wanted))
        .unwrap_or(EXEC_API_VERSION)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredential<'a> {
    kind: &'static str,
    api_version: &'a str,
    spec: serde_json::Map<String, serde_json::Value>,
    status: ExecCredentialStatus<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredentialStatus<'a> {
    expiration_timestamp: String,
    token: &'a str,
}

/// The ExecCredential JSON (`kind`, `apiVersion`, `status.token`, `status.expirationTimestamp`)
/// kubectl reads from an exec credential plugin. It holds the token: write it only to the
/// plugin's standard output.
pub fn exec_credential(token: &AccessToken, api_version: &str) -> String {
    let credential = ExecCredential {
        kind: "ExecCredential",
        api_version,
        spec: serde_json::Map::new(),
        status: ExecCredentialStatus {
            expiration_timestamp: token.expires_on_rfc3339(),
            token: token.secret(),
        },
    };
    // Serializing strings and a map cannot fail.
    serde_json::to_string(&credential).unwrap_or_default()
}

/// An AKS cluster's API server address and CA, from ARM.
#[derive(Debug, Clone)]
pub struct AksCluster {
    /// API server URL.
    pub server: String,
    /// The CA bundle, base64 PEM as kubeconfigs hold it.
    pub certificate_authority_data: String,
}

/// A kubeconfig for one cluster whose user runs `command args…` (normally `kpush token …`) as
/// an exec credential plugin. `name` names the cluster, user and context. Holds no credential.
pub fn exec_kubeconfig(name: &str, cluster: &AksCluster, command: &str, args: &[String]) -> String {
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": name,
            "cluster": {
                "server": cluster.server,
                "certificate-authority-data": cluster.certificate_authority_data,
            },
        }],
        "users": [{
            "name": format!("{name}-kpush"),
            "user": {
                "exec": {
                    "apiVersion": EXEC_API_VERSION,
                    "command": command,
                    "args": args,
                    "interactiveMode": "IfAvailable",
                    "provideClusterInfo": false,
                    "installHint": format!("kpush signs in to Entra ID for this cluster: install kpush and put it on PATH, or write the kubeconfig again with `kpush kubeconfig --exec-command /path/to/kpush` (this one runs '{command}')"),
                },
            },
        }],
        "contexts": [{
            "name": name,
            "context": {"cluster": name, "user": format!("{name}-kpush")},
        }],
        "current-context": name,
    });
    serde_saphyr::to_string(&config).unwrap_or_else(|_| config.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_exec_credential_has_token_and_expiry_in_the_version_kubectl_asked_for() {
        let token = AccessToken::new("tok", UNIX_EPOCH + Duration::from_secs(1_586_984_735));
        let json: serde_json::Value =
            serde_json::from_str(&exec_credential(&token, EXEC_API_VERSION)).unwrap();
        assert_eq!(json["kind"], "ExecCredential");
        assert_eq!(json["apiVersion"], "client.authentication.k8s.io/v1beta1");
        assert_eq!(json["status"]["token"], "tok");
        assert_eq!(
            json["status"]["expirationTimestamp"],
            "2020-04-15T21:05:35Z"
        );

        let v1 = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#;
        assert_eq!(
            exec_api_version(Some(v1)),
            "client.authentication.k8s.io/v1"
        );
        let alpha = r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#;
        assert_eq!(exec_api_version(Some(alpha)), EXEC_API_VERSION);
        assert_eq!(exec_api_version(None), EXEC_API_VERSION);
    }

    #[test]
    fn the_kubeconfig_runs_kpush_token_and_parses_back() {
        let cluster = AksCluster {
            server: "https://aks.example:443".into(),
            certificate_authority_data: "Q0E=".into(),
        };
        let text = exec_kubeconfig(
            "aks-prod",
            &cluster,
            "kpush",
            &["token".into(), "--auth".into(), "azure-cli".into()],
        );
        let parsed = kube::config::Kubeconfig::from_yaml(&text).unwrap();
        assert_eq!(parsed.current_context.as_deref(), Some("aks-prod"));
        let exec = parsed.auth_infos[0]
            .auth_info
            .as_ref()
            .and_then(|a| a.exec.as_ref())
            .unwrap();
        assert_eq!(exec.command.as_deref(), Some("kpush"));
        assert_eq!(
            exec.args.as_deref(),
            Some(&["token".to_string(), "--auth".into(), "azure-cli".into()][..])
        );
        assert_eq!(
            parsed.clusters[0]
                .cluster
                .as_ref()
                .unwrap()
                .server
                .as_deref(),
            Some("https://aks.example:443")
        );
    }
}
