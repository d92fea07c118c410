//! Kubeconfig files and kube clients for the test users.

use anyhow::{Context, Result};
use base64::Engine;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// The context name in every kubeconfig the test cluster writes.
pub const CONTEXT: &str = "kpush-test";

/// A kubeconfig for `user`: verified TLS through `certificate-authority-data`, bearer token.
pub fn render(server: &str, ca_pem: &[u8], user: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {user}
  user:
    token: {token}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {user}
    namespace: default
current-context: {CONTEXT}
preferences: {{}}
"
    )
}

/// A client built from a kubeconfig text, on the caller's tokio runtime.
pub async fn client(kubeconfig: &str) -> Result<kube::Client> {
    let kubeconfig = Kubeconfig::from_yaml(kubeconfig).context("parsing the test kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("loading the test kubeconfig")?;
    kube::Client::try_from(config).context("building a kube client")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_kubeconfig_parses_with_the_users_token() {
        let text = render("https://127.0.0.1:6443", b"PEM", "alice", "tok");
        let kc = Kubeconfig::from_yaml(&text).unwrap();
        assert_eq!(kc.current_context.as_deref(), Some(CONTEXT));
        let user = kc.auth_infos[0].auth_info.as_ref().unwrap();
        assert_eq!(kc.auth_infos[0].name, "alice");
        assert!(user.token.is_some());
        let cluster = kc.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("UEVN"));
    }
}
