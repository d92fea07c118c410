//! Each sign-in method against the Entra emulator, and the errors users see when one fails.

mod harness;

use harness::azure::*;
use kpush::auth::{AuthError, AuthMethod, access_token};
use kpush_azure_emulator::{Mint, TokenIssuer};
use std::time::Duration;

fn claims(
    f: &Fixture,
    token: &kpush::auth::AccessToken,
) -> serde_json::Map<String, serde_json::Value> {
    f.emulator
        .verify_entra_token(token.secret())
        .expect("an emulator-issued token")
}

#[tokio::test]
async fn client_secret_signs_in_for_the_aks_scope() {
    let f = start(Duration::from_secs(3600));
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", SECRET_APP),
        ("AZURE_CLIENT_SECRET", SECRET),
    ])
    .await;
    let token = access_token(&f.settings(AuthMethod::ClientSecret), AKS_SCOPE)
        .await
        .unwrap();
    let c = claims(&f, &token);
    assert_eq!(c["aud"], "6dae42f8-4368-4678-94ff-3960e28e3630");
    assert_eq!(c["appid"], SECRET_APP);
    assert!(token.remaining() > Duration::from_secs(3500));
}

#[tokio::test]
async fn wrong_client_secret_explains_7000215_and_hides_the_secret() {
    let f = start(Duration::from_secs(3600));
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", SECRET_APP),
        ("AZURE_CLIENT_SECRET", "not-it"),
    ])
    .await;
    let err = access_token(&f.settings(AuthMethod::ClientSecret), AKS_SCOPE)
        .await
        .unwrap_err();
    assert_eq!(err.aadsts_code(), Some("AADSTS7000215"), "{err}");
    let text = err.to_string();
    assert!(text.contains("Value, not its Secret ID"), "{text}");
    assert!(!text.contains("not-it") && !format!("{err:?}").contains("not-it"));
}

#[tokio::test]
async fn unknown_tenant_and_app_are_explained() {
    let f = start(Duration::from_secs(3600));
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", SECRET_APP),
        ("AZURE_CLIENT_SECRET", SECRET),
    ])
    .await;
    let mut settings = f.settings(AuthMethod::ClientSecret);
    settings.tenant_id = Some("00000000-dead-4000-8000-000000000000".into());
    let err = access_token(&settings, AKS_SCOPE).await.unwrap_err();
    assert_eq!(err.aadsts_code(), Some("AADSTS90002"), "{err}");
    assert!(err.to_string().contains("--cloud"));
    let mut settings = f.settings(AuthMethod::ClientSecret);
    settings.client_id = Some("99999999-9999-4999-8999-999999999999".into());
    let err = access_token(&settings, AKS_SCOPE).await.unwrap_err();
    assert_eq!(err.aadsts_code(), Some("AADSTS700016"), "{err}");
}

#[tokio::test]
async fn github_oidc_fetches_a_fresh_github_token_for_every_entra_request() {
    // Short-lived Entra tokens are never reused by the SDK, so each call goes to Entra.
    let f = start(Duration::from_secs(30));
    let env = f.github_env();
    let _env = EnvGuard::set(&pairs(&env)).await;
    let settings = f.settings(AuthMethod::GithubOidc);
    let first = access_token(&settings, AKS_SCOPE).await.unwrap();
    let second = access_token(&settings, "https://management.azure.com/.default")
        .await
        .unwrap();
    assert_eq!(claims(&f, &first)["oid"], FED_APP_OID);
    assert_eq!(claims(&f, &second)["aud"], "https://management.azure.com");
    assert_eq!(f.count("/github/idtoken", 200), 2);
    assert_eq!(f.count("/oauth2/v2.0/token", 200), 2);
}

#[tokio::test]
async fn github_subject_mismatch_names_the_presented_subject_and_the_expected_formats() {
    let f = start(Duration::from_secs(3600));
    f.emulator
        .configure(|c| c.github.subject = "repo:contoso/app:ref:refs/heads/feature-x".into());
    let env = f.github_env();
    let _env = EnvGuard::set(&pairs(&env)).await;
    let err = access_token(&f.settings(AuthMethod::GithubOidc), AKS_SCOPE)
        .await
        .unwrap_err();
    assert_eq!(err.aadsts_code(), Some("AADSTS700213"), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("subject 'repo:contoso/app:ref:refs/heads/feature-x'"),
        "{text}"
    );
    assert!(
        text.contains(&format!("issuer '{}/github'", f.emulator.url())),
        "{text}"
    );
    assert!(text.contains("repo:ORG/REPO:ref:refs/heads/main"), "{text}");
    assert!(text.contains("repo:ORG/REPO:environment:NAME"), "{text}");
    assert!(!text.contains("eyJ"), "no token in {text}");
    match err {
        AuthError::Entra {
            presented: Some(p), ..
        } => {
            assert_eq!(p.subject, "repo:contoso/app:ref:refs/heads/feature-x");
            assert_eq!(p.audience, vec!["api://AzureADTokenExchange"]);
        }
        other => panic!("expected an Entra error with the presented assertion, got {other:?}"),
    }
}

#[tokio::test]
async fn github_request_token_refused_tells_to_grant_id_token_write() {
    let f = start(Duration::from_secs(3600));
    let mut env = f.github_env();
    env[1].1 = "expired".into();
    let _env = EnvGuard::set(&pairs(&env)).await;
    let err = access_token(&f.settings(AuthMethod::GithubOidc), AKS_SCOPE)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::TokenSource { .. }), "{err:?}");
    assert!(err.to_string().contains("id-token: write"), "{err}");
}

#[tokio::test]
async fn client_certificate_pem_signs_its_own_assertion() {
    let f = start(Duration::from_secs(3600));
    let path = f.dir.path().join("cert.pem");
    std::fs::write(&path, format!("{}{}", f.cert.cert_pem, f.cert.key_pem)).unwrap();
    let path = path.to_string_lossy().to_string();
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", CERT_APP),
        ("AZURE_CLIENT_CERTIFICATE_PATH", &path),
    ])
    .await;
    let token = access_token(&f.settings(AuthMethod::ClientCertificate), AKS_SCOPE)
        .await
        .unwrap();
    assert_eq!(claims(&f, &token)["appid"], CERT_APP);
}

#[tokio::test]
async fn client_certificate_not_registered_is_700027() {
    let f = start(Duration::from_secs(3600));
    let other = kpush_azure_emulator::generate_client_certificate("other").unwrap();
    let path = f.dir.path().join("other.pem");
    std::fs::write(&path, format!("{}{}", other.cert_pem, other.key_pem)).unwrap();
    let path = path.to_string_lossy().to_string();
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", CERT_APP),
        ("AZURE_CLIENT_CERTIFICATE_PATH", &path),
    ])
    .await;
    let err = access_token(&f.settings(AuthMethod::ClientCertificate), AKS_SCOPE)
        .await
        .unwrap_err();
    assert_eq!(err.aadsts_code(), Some("AADSTS700027"), "{err}");
    assert!(err.to_string().contains("upload the certificate"), "{err}");
}

#[tokio::test]
async fn workload_identity_reads_the_federated_token_file() {
    let f = start(Duration::from_secs(3600));
    let token = f.emulator.mint_token(
        Mint::new(TokenIssuer::Workload)
            .claim("sub", WORKLOAD_SUBJECT)
            .claim("aud", "api://AzureADTokenExchange"),
    );
    let file = f.dir.path().join("token");
    std::fs::write(&file, &token).unwrap();
    let file = file.to_string_lossy().to_string();
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", FED_APP),
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_FEDERATED_TOKEN_FILE", &file),
    ])
    .await;
    let got = access_token(&f.settings(AuthMethod::Auto), AKS_SCOPE)
        .await
        .unwrap();
    assert_eq!(claims(&f, &got)["oid"], FED_APP_OID);
    // An expired projected token is explained, with the subject it presented.
    let expired = f.emulator.mint_token(
        Mint::new(TokenIssuer::Workload)
            .claim("sub", WORKLOAD_SUBJECT)
            .claim("aud", "api://AzureADTokenExchange")
            .lifetime(-60),
    );
    std::fs::write(&file, &expired).unwrap();
    let err = access_token(
        &f.settings(AuthMethod::WorkloadIdentity),
        "https://management.azure.com/.default",
    )
    .await
    .unwrap_err();
    assert_eq!(err.aadsts_code(), Some("AADSTS700024"), "{err}");
    assert!(err.to_string().contains(WORKLOAD_SUBJECT), "{err}");
}

#[tokio::test]
async fn azure_pipelines_service_connection_signs_in() {
    let f = start(Duration::from_secs(3600));
    let config = f.emulator.config();
    let connection = config.ado.service_connections[0].id.clone();
    let (url, system_token) = (
        f.emulator.ado_oidc_url(),
        f.emulator.ado_system_access_token(),
    );
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", FED_APP),
        ("AZURE_TENANT_ID", TENANT),
        ("SYSTEM_OIDCREQUESTURI", &url),
        ("SYSTEM_ACCESSTOKEN", &system_token),
        ("AZURE_SERVICE_CONNECTION_ID", &connection),
    ])
    .await;
    let token = access_token(&f.settings(AuthMethod::Auto), AKS_SCOPE)
        .await
        .unwrap();
    assert_eq!(claims(&f, &token)["oid"], FED_APP_OID);
    assert_eq!(f.count("/oidctoken", 200), 1);
}

#[tokio::test]
async fn azure_pipelines_unknown_service_connection_is_a_token_source_error() {
    let f = start(Duration::from_secs(3600));
    let (url, system_token) = (
        f.emulator.ado_oidc_url(),
        f.emulator.ado_system_access_token(),
    );
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", FED_APP),
        ("SYSTEM_OIDCREQUESTURI", &url),
        ("SYSTEM_ACCESSTOKEN", &system_token),
        ("AZURE_SERVICE_CONNECTION_ID", "no-such-connection"),
    ])
    .await;
    let err = access_token(&f.settings(AuthMethod::AzurePipelines), AKS_SCOPE)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::TokenSource { .. }), "{err:?}");
    assert!(err.to_string().contains("service connection"), "{err}");
}

#[tokio::test]
async fn managed_identity_uses_the_app_service_endpoint() {
    let f = start(Duration::from_secs(3600));
    let endpoint = f.emulator.managed_identity_endpoint();
    let _env = EnvGuard::set(&[
        ("IDENTITY_ENDPOINT", &endpoint),
        ("IDENTITY_HEADER", MI_HEADER),
    ])
    .await;
    let mut settings = f.settings(AuthMethod::Auto);
    settings.tenant_id = None;
    let token = access_token(&settings, AKS_SCOPE).await.unwrap();
    assert_eq!(claims(&f, &token)["oid"], MI_OID);
}

#[tokio::test]
async fn authority_host_must_be_https() {
    let f = start(Duration::from_secs(3600));
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", SECRET_APP),
        ("AZURE_CLIENT_SECRET", SECRET),
    ])
    .await;
    let mut settings = f.settings(AuthMethod::ClientSecret);
    settings.authority_host = Some(f.emulator.url().replace("https://", "http://"));
    let err = access_token(&settings, AKS_SCOPE).await.unwrap_err();
    assert!(matches!(err, AuthError::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("does not use https"), "{err}");
}

#[tokio::test]
async fn unreachable_authority_is_reported_as_such() {
    let f = start(Duration::from_secs(3600));
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", SECRET_APP),
        ("AZURE_CLIENT_SECRET", SECRET),
    ])
    .await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = f.settings(AuthMethod::ClientSecret);
    settings.authority_host = Some(format!("https://127.0.0.1:{port}"));
    let err = access_token(&settings, AKS_SCOPE).await.unwrap_err();
    assert!(matches!(err, AuthError::Unreachable { .. }), "{err:?}");
}

#[tokio::test]
async fn auto_with_nothing_configured_lists_what_it_looked_for() {
    let f = start(Duration::from_secs(3600));
    let _env = EnvGuard::set(&[("GITHUB_ACTIONS", "true")]).await;
    let mut settings = f.settings(AuthMethod::Auto);
    settings.tenant_id = None;
    // `az` may be installed on a developer machine; only assert when it is not.
    if std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("az").is_file())
    {
        return;
    }
    let err = access_token(&settings, AKS_SCOPE).await.unwrap_err();
    assert!(matches!(err, AuthError::NoCredential { .. }), "{err:?}");
    assert!(err.to_string().contains("id-token: write"), "{err}");
}
