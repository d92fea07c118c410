//! Local accounts: the client certificate ARM puts in the kubeconfig of a cluster without Entra
//! integration, or with `--admin` on a cluster whose local accounts are enabled. kpush signs in
//! with it instead of an Entra token; for exec (kubelogin) users it keeps its own Entra sign-in.

use super::AuthError;
use super::arm::ClusterEndpoint;
use kube::config::{
    AuthInfo, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
};

/// How the kubeconfig's current user signs in to the API server.
pub(crate) enum ClusterUser {
    /// An exec plugin (kubelogin) or no static credential: the cluster trusts Entra tokens.
    Entra,
    /// A local account's client certificate and key.
    Certificate(Box<LocalAccount>),
}

/// A local account from ARM's kubeconfig: the current context with a user holding only the
/// client certificate and key (the key is a `SecretString`, never shown by `Debug`).
pub(crate) struct LocalAccount {
    kubeconfig: Kubeconfig,
    /// The kubeconfig user's name, e.g. `clusterAdmin_RG_NAME`.
    pub user: String,
    /// The certificate's subject as Kubernetes reads it (CN = user name, O = groups).
    pub subject: Option<CertificateSubject>,
}

/// The Kubernetes user and groups a client certificate carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertificateSubject {
    /// Common name: the user name.
    pub common_name: String,
    /// Organizations: the groups.
    pub organizations: Vec<String>,
}

impl std::fmt::Display for CertificateSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CN={}", self.common_name)?;
        for o in &self.organizations {
            write!(f, ", O={o}")?;
        }
        Ok(())
    }
}

/// Reads how the current context's user of ARM's kubeconfig signs in.
pub(crate) fn cluster_user(kubeconfig: &str) -> Result<ClusterUser, AuthError> {
    let config = Kubeconfig::from_yaml(kubeconfig).map_err(|e| AuthError::Kubeconfig {
        message: format!("it does not parse: {e}"),
    })?;
    let context = config
        .current_context
        .as_ref()
        .and_then(|name| config.contexts.iter().find(|c| &c.name == name))
        .or(config.contexts.first());
    let Some(Context {
        cluster: cluster_name,
        user: Some(user_name),
        ..
    }) = context.and_then(|c| c.context.as_ref())
    else {
        return Ok(ClusterUser::Entra);
    };
    let Some(auth) = config
        .auth_infos
        .iter()
        .find(|u| &u.name == user_name)
        .and_then(|u| u.auth_info.as_ref())
    else {
        return Ok(ClusterUser::Entra);
    };
    if auth.exec.is_some() {
        return Ok(ClusterUser::Entra);
    }
    let (certificate, key) = match (&auth.client_certificate_data, &auth.client_key_data) {
        (Some(certificate), Some(key)) => (certificate.clone(), key.clone()),
        (None, None) => return Ok(ClusterUser::Entra),
        (Some(_), None) | (None, Some(_)) => {
            return Err(AuthError::Kubeconfig {
                message: format!("user '{user_name}' has a client certificate or a key, not both"),
            });
        }
    };
    let cluster = config
        .clusters
        .iter()
        .find(|c| &c.name == cluster_name)
        .cloned()
        .ok_or_else(|| AuthError::Kubeconfig {
            message: format!("context names cluster '{cluster_name}', which it does not hold"),
        })?;
    let subject = pem_subject(&certificate);
    // Only what the server needs: no file paths, exec commands or tokens from ARM's answer.
    let kubeconfig = Kubeconfig {
        clusters: vec![NamedCluster {
            name: cluster.name,
            cluster: cluster.cluster.map(|mut c| {
                c.certificate_authority = None;
                c.insecure_skip_tls_verify = None;
                c
            }),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: user_name.clone(),
            auth_info: Some(AuthInfo {
                client_certificate_data: Some(certificate),
                client_key_data: Some(key),
                ..AuthInfo::default()
            }),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: "aks".into(),
            context: Some(Context {
                cluster: cluster_name.clone(),
                user: Some(user_name.clone()),
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some("aks".into()),
        ..Kubeconfig::default()
    };
    Ok(ClusterUser::Certificate(Box::new(LocalAccount {
        kubeconfig,
        user: user_name.clone(),
        subject,
    })))
}

/// Builds a client presenting the local account's certificate, trusting only `endpoint`'s CA;
/// `adjust` changes the configuration (timeouts, retries) before the client is built.
pub(crate) async fn client(
    account: Box<LocalAccount>,
    endpoint: &ClusterEndpoint,
    adjust: impl FnOnce(&mut kube::Config),
) -> Result<kube::Client, AuthError> {
    let mut config =
        kube::Config::from_custom_kubeconfig(account.kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| AuthError::Kubeconfig {
                message: e.to_string(),
            })?;
    config.root_cert = Some(endpoint.ca_der.clone());
    config.accept_invalid_certs = false;
    config.default_namespace = "default".into();
    adjust(&mut config);
    super::connection::client(config).map_err(|e| AuthError::Kube {
        message: format!("with the cluster's client certificate: {e}"),
    })
}

/// The subject of the first certificate in base64 PEM data (kubeconfig `client-certificate-data`).
fn pem_subject(data: &str) -> Option<CertificateSubject> {
    use base64::Engine;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .ok()?;
    let der = CertificateDer::pem_slice_iter(&pem).next()?.ok()?;
    der_subject(der.as_ref())
}

/// One DER element: tag, contents, what follows.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// CN and O of an X.509 certificate's subject (RFC 5280: Certificate → TBSCertificate →
/// version?, serial, signature, issuer, validity, subject).
fn der_subject(der: &[u8]) -> Option<CertificateSubject> {
    const SEQUENCE: u8 = 0x30;
    const VERSION: u8 = 0xa0;
    const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
    const ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];
    let (SEQUENCE, certificate, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, mut tbs, _) = element(certificate)? else {
        return None;
    };
    if tbs.first() == Some(&VERSION) {
        tbs = element(tbs)?.2;
    }
    for _ in 0..4 {
        tbs = element(tbs)?.2; // serial, signature, issuer, validity
    }
    let (SEQUENCE, mut names, _) = element(tbs)? else {
        return None;
    };
    let mut common_name = None;
    let mut organizations = Vec::new();
    while !names.is_empty() {
        let (_, mut set, rest) = element(names)?;
        names = rest;
        while !set.is_empty() {
            let (_, attribute, rest) = element(set)?;
            set = rest;
            let (_, oid, value) = element(attribute)?;
            let text = std::str::from_utf8(element(value)?.1).ok()?.to_string();
            match oid {
                COMMON_NAME => common_name = Some(text),
                ORGANIZATION => organizations.push(text),
                _ => {}
            }
        }
    }
    Some(CertificateSubject {
        common_name: common_name?,
        organizations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn certificate(cn: &str, group: Option<&str>) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, cn);
        if let Some(group) = group {
            dn.push(rcgen::DnType::OrganizationName, group);
        }
        params.distinguished_name = dn;
        let cert = params.self_signed(&key).expect("certificate");
        (cert.pem(), key.serialize_pem())
    }

    fn kubeconfig(user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: aks\n  cluster:\n    server: https://aks.example:443\n    certificate-authority-data: Q0E=\ncontexts:\n- name: aks\n  context:\n    cluster: aks\n    user: u\ncurrent-context: aks\nusers:\n- name: u\n  user:\n{user}"
        )
    }

    #[test]
    fn the_subject_of_a_client_certificate_names_the_kubernetes_user_and_groups() {
        let (pem, _) = certificate("clusterAdmin", Some("system:masters"));
        let subject = pem_subject(&STANDARD.encode(pem)).expect("subject");
        assert_eq!(subject.to_string(), "CN=clusterAdmin, O=system:masters");
    }

    #[test]
    fn a_certificate_and_key_make_a_local_account_without_the_token_beside_them() {
        let (cert, key) = certificate("deployer", None);
        let user = format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n    token: static-token\n",
            STANDARD.encode(&cert),
            STANDARD.encode(&key)
        );
        let ClusterUser::Certificate(account) = cluster_user(&kubeconfig(&user)).expect("parses")
        else {
            panic!("expected a local account");
        };
        assert_eq!(account.user, "u");
        assert_eq!(
            account.subject.map(|s| s.common_name).as_deref(),
            Some("deployer")
        );
        let kept = account.kubeconfig.auth_infos[0]
            .auth_info
            .as_ref()
            .expect("user");
        assert!(kept.token.is_none() && kept.exec.is_none());
        assert!(!format!("{:?}", account.kubeconfig).contains(&STANDARD.encode(&key)));
    }

    #[test]
    fn an_exec_user_signs_in_with_entra() {
        let user = "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: kubelogin\n";
        assert!(matches!(
            cluster_user(&kubeconfig(user)),
            Ok(ClusterUser::Entra)
        ));
    }

    #[test]
    fn a_certificate_without_its_key_is_refused() {
        let user = "    client-certificate-data: Q0VSVA==\n";
        let err = cluster_user(&kubeconfig(user)).err().expect("refused");
        assert!(err.to_string().contains("not both"), "{err}");
    }

    #[test]
    fn truncated_der_has_no_subject() {
        assert_eq!(der_subject(&[0x30, 0x82, 0x01]), None);
        assert_eq!(der_subject(&[]), None);
    }
}
