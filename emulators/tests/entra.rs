//! Entra ID token endpoint: each grant, and each documented failure with its AADSTS code.

mod common;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use kpush_azure_emulator::jwt::{self, SigningKey};
use kpush_azure_emulator::{KUBELOGIN_CLIENT_ID, Mint, SignWith, TokenIssuer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};

/// Verifies `token` with the keys served at the discovery document's `jwks_uri`.
async fn verify_with_published_jwks(f: &Fixture, token: &str) -> serde_json::Map<String, Value> {
    let (status, discovery) = f
        .get_json(&format!("/{TENANT}/v2.0/.well-known/openid-configuration"))
        .await;
    assert_eq!(status, 200);
    let decoded = jwt::decode(token).expect("JWT");
    assert_eq!(
        decoded.str_claim("iss"),
        discovery["issuer"].as_str(),
        "iss must equal the discovery issuer"
    );
    let jwks: Value = f
        .http
        .get(discovery["jwks_uri"].as_str().expect("jwks_uri"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"].as_str() == decoded.kid())
        .expect("kid is published");
    let n = URL_SAFE_NO_PAD
        .decode(key["n"].as_str().expect("n"))
        .expect("n");
    let e = URL_SAFE_NO_PAD
        .decode(key["e"].as_str().expect("e"))
        .expect("e");
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            decoded.signing_input.as_bytes(),
            &decoded.signature,
        )
        .expect("signature verifies with the published JWKS");
    decoded.claims
}

#[tokio::test]
async fn discovery_document_names_the_real_endpoints() {
    let f = start();
    let (status, doc) = f
        .get_json(&format!("/{TENANT}/v2.0/.well-known/openid-configuration"))
        .await;
    assert_eq!(status, 200);
    let base = f.emulator.url();
    assert_eq!(doc["issuer"], json!(format!("{base}/{TENANT}/v2.0")));
    assert_eq!(doc["issuer"], json!(f.emulator.tenant_issuer(TENANT)));
    assert_eq!(
        doc["jwks_uri"],
        json!(format!("{base}/{TENANT}/discovery/v2.0/keys"))
    );
    assert_eq!(
        doc["token_endpoint"],
        json!(format!("{base}/{TENANT}/oauth2/v2.0/token"))
    );
    assert_eq!(
        doc["device_authorization_endpoint"],
        json!(format!("{base}/{TENANT}/oauth2/v2.0/devicecode"))
    );
    let unknown = f
        .get_json("/nope/v2.0/.well-known/openid-configuration")
        .await;
    assert_aadsts(&unknown, 400, 90002);
}

#[tokio::test]
async fn client_secret_grant_issues_a_verifiable_token_for_the_resource() {
    let f = start();
    let (status, body) = f.secret_token(SECRET_APP, SECRET, ARM_SCOPE).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["ext_expires_in"], 600);
    let claims =
        verify_with_published_jwks(&f, body["access_token"].as_str().expect("token")).await;
    assert_eq!(claims["aud"], "https://management.azure.com");
    assert_eq!(claims["oid"], SECRET_APP_OID);
    assert_eq!(claims["sub"], SECRET_APP_OID);
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["appid"], SECRET_APP);
    assert_eq!(claims["azp"], SECRET_APP);
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 600);
    assert!(claims["nbf"].as_i64().is_some());
    assert!(claims["groups"].is_array());
}

#[tokio::test]
async fn aks_scope_gives_the_aks_server_app_as_audience() {
    let f = start();
    let (status, body) = f.secret_token(SECRET_APP, SECRET, AKS_SCOPE).await;
    assert_eq!(status, 200, "{body}");
    let claims = f
        .emulator
        .verify_entra_token(body["access_token"].as_str().unwrap())
        .expect("verifies");
    assert_eq!(claims["aud"], "6dae42f8-4368-4678-94ff-3960e28e3630");
}

#[tokio::test]
async fn client_credential_failures_carry_their_aadsts_codes() {
    let f = start();
    assert_aadsts(
        &f.secret_token(SECRET_APP, "wrong", ARM_SCOPE).await,
        401,
        7000215,
    );
    assert_aadsts(
        &f.secret_token("99999999-9999-4999-8999-999999999999", SECRET, ARM_SCOPE)
            .await,
        400,
        700016,
    );
    assert_aadsts(
        &f.secret_token(ORPHAN_APP, SECRET, ARM_SCOPE).await,
        400,
        7000229,
    );
    assert_aadsts(
        &f.secret_token(
            SECRET_APP,
            SECRET,
            "https://management.azure.com/user_impersonation",
        )
        .await,
        400,
        1002012,
    );
    assert_aadsts(
        &f.secret_token(SECRET_APP, SECRET, "https://unknown.example/.default")
            .await,
        400,
        500011,
    );
    let other_tenant = f
        .post_form(
            "/00000000-dead-4000-8000-000000000000/oauth2/v2.0/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", SECRET_APP),
                ("client_secret", SECRET),
                ("scope", ARM_SCOPE),
            ],
        )
        .await;
    assert_aadsts(&other_tenant, 400, 90002);
    let common = f
        .post_form(
            "/common/oauth2/v2.0/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", SECRET_APP),
                ("client_secret", SECRET),
                ("scope", ARM_SCOPE),
            ],
        )
        .await;
    assert_aadsts(&common, 400, 50059);
    let no_client = f
        .post_form(
            &format!("/{TENANT}/oauth2/v2.0/token"),
            &[("grant_type", "client_credentials"), ("scope", ARM_SCOPE)],
        )
        .await;
    assert_aadsts(&no_client, 400, 900144);
    let no_credential = f
        .post_form(
            &format!("/{TENANT}/oauth2/v2.0/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", SECRET_APP),
                ("scope", ARM_SCOPE),
            ],
        )
        .await;
    assert_aadsts(&no_credential, 401, 7000218);
    let bad_grant = f
        .post_form(
            &format!("/{TENANT}/oauth2/v2.0/token"),
            &[
                ("grant_type", "password"),
                ("client_id", SECRET_APP),
                ("scope", ARM_SCOPE),
            ],
        )
        .await;
    assert_aadsts(&bad_grant, 400, 70003);
    assert_eq!(bad_grant.1["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn github_assertion_is_exchanged_for_an_entra_token() {
    let f = start();
    let id_token = f.github_id_token().await;
    let gh = jwt::decode(&id_token).unwrap();
    assert_eq!(gh.str_claim("sub"), Some(GITHUB_SUBJECT));
    assert_eq!(gh.str_claim("aud"), Some("api://AzureADTokenExchange"));
    assert_eq!(gh.str_claim("repository"), Some("contoso/app"));
    let (status, body) = f.assertion_token(FED_APP, &id_token, AKS_SCOPE).await;
    assert_eq!(status, 200, "{body}");
    let claims = verify_with_published_jwks(&f, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["oid"], FED_APP_OID);
    assert_eq!(claims["groups"], json!([DEPLOYERS]));
}

#[tokio::test]
async fn github_request_token_must_match() {
    let f = start();
    let resp = f
        .http
        .get(format!(
            "{}&audience=api://AzureADTokenExchange",
            f.emulator.github_request_url()
        ))
        .header("authorization", "bearer wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn federated_subject_mismatch_fails_with_700213_naming_the_subject() {
    let f = start();
    f.emulator
        .configure(|c| c.github.subject = "repo:contoso/app:ref:refs/heads/feature".into());
    let id_token = f.github_id_token().await;
    let got = f.assertion_token(FED_APP, &id_token, AKS_SCOPE).await;
    assert_aadsts(&got, 400, 700213);
    assert!(
        got.1["error_description"]
            .as_str()
            .unwrap()
            .contains("'repo:contoso/app:ref:refs/heads/feature'")
    );
    f.emulator
        .configure(|c| c.github.subject = "repo:Contoso/App:ref:refs/heads/main".into());
    let id_token = f.github_id_token().await;
    assert_aadsts(
        &f.assertion_token(FED_APP, &id_token, AKS_SCOPE).await,
        400,
        7002138,
    );
}

#[tokio::test]
async fn federated_assertion_failures_carry_their_aadsts_codes() {
    let f = start();
    let gh = |m: Mint| {
        f.emulator.mint_token(
            m.claim("sub", GITHUB_SUBJECT)
                .claim("aud", "api://AzureADTokenExchange"),
        )
    };
    let expired = gh(Mint::new(TokenIssuer::Github).lifetime(-120));
    assert_aadsts(
        &f.assertion_token(FED_APP, &expired, AKS_SCOPE).await,
        400,
        700024,
    );
    let forged = gh(Mint::new(TokenIssuer::Github).signed_with(SignWith::WrongKey));
    assert_aadsts(
        &f.assertion_token(FED_APP, &forged, AKS_SCOPE).await,
        400,
        50013,
    );
    let unknown_kid = gh(Mint::new(TokenIssuer::Github).signed_with(SignWith::UnknownKey));
    assert_aadsts(
        &f.assertion_token(FED_APP, &unknown_kid, AKS_SCOPE).await,
        400,
        50013,
    );
    let wrong_aud = f.emulator.mint_token(
        Mint::new(TokenIssuer::Github)
            .claim("sub", GITHUB_SUBJECT)
            .claim("aud", "https://github.com/contoso"),
    );
    assert_aadsts(
        &f.assertion_token(FED_APP, &wrong_aud, AKS_SCOPE).await,
        400,
        700212,
    );
    // An issuer the app does not trust: AADSTS700211.
    let valid = gh(Mint::new(TokenIssuer::Github));
    assert_aadsts(
        &f.assertion_token(SECRET_APP, &valid, AKS_SCOPE).await,
        400,
        700211,
    );
    assert_aadsts(
        &f.assertion_token(FED_APP, "not.a.jwt", AKS_SCOPE).await,
        400,
        50027,
    );
}

#[tokio::test]
async fn azure_devops_token_is_exchanged_for_an_entra_token() {
    let f = start();
    let config = f.emulator.config();
    let connection = &config.ado.service_connections[0];
    let url = format!(
        "{}?api-version=7.1&serviceConnectionId={}",
        f.emulator.ado_oidc_url(),
        connection.id
    );
    let unauthorized = f.http.post(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);
    let resp = f
        .http
        .post(&url)
        .bearer_auth(f.emulator.ado_system_access_token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let oidc = body["oidcToken"].as_str().unwrap();
    let decoded = jwt::decode(oidc).unwrap();
    assert_eq!(
        decoded.str_claim("sub"),
        Some("sc://contoso/deploy/aks-prod")
    );
    assert_eq!(
        decoded.str_claim("iss").map(str::to_string),
        Some(format!("{}/ado/{}", f.emulator.url(), config.ado.org_id))
    );
    let (status, token) = f.assertion_token(FED_APP, oidc, AKS_SCOPE).await;
    assert_eq!(status, 200, "{token}");
}

#[tokio::test]
async fn workload_identity_token_is_exchanged_for_an_entra_token() {
    let f = start();
    let sa_token = f.emulator.mint_token(
        Mint::new(TokenIssuer::Workload)
            .claim("sub", "system:serviceaccount:ci:deployer")
            .claim("aud", json!(["api://AzureADTokenExchange"])),
    );
    let (status, body) = f.assertion_token(FED_APP, &sa_token, ARM_SCOPE).await;
    assert_eq!(status, 200, "{body}");
    let (_, discovery) = f
        .get_json("/workload/.well-known/openid-configuration")
        .await;
    assert_eq!(
        discovery["issuer"],
        json!(format!("{}/workload", f.emulator.url()))
    );
}

fn certificate_assertion(f: &Fixture, aud: &str, lifetime: i64, iss: &str) -> String {
    let cert = CertificateDer::from_pem_slice(f.cert.cert_pem.as_bytes()).unwrap();
    let key = PrivatePkcs8KeyDer::from_pem_slice(f.cert.key_pem.as_bytes()).unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.as_ref());
    let signer = SigningKey::from_pkcs8(key.secret_pkcs8_der(), "cert").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let header =
        json!({"alg": "RS256", "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(digest.as_ref())});
    let claims = json!({"aud": aud, "iss": iss, "sub": iss, "jti": "1", "nbf": now + lifetime - 3600, "exp": now + lifetime});
    signer.sign_with_header(&header, &claims)
}

#[tokio::test]
async fn certificate_assertion_is_accepted_and_checked() {
    let f = start();
    let endpoint = f.url(&format!("/{TENANT}/oauth2/v2.0/token"));
    let good = certificate_assertion(&f, &endpoint, 600, CERT_APP);
    let (status, body) = f.assertion_token(CERT_APP, &good, ARM_SCOPE).await;
    assert_eq!(status, 200, "{body}");
    let expired = certificate_assertion(&f, &endpoint, -60, CERT_APP);
    assert_aadsts(
        &f.assertion_token(CERT_APP, &expired, ARM_SCOPE).await,
        400,
        700024,
    );
    let wrong_aud = certificate_assertion(&f, "https://elsewhere.example/token", 600, CERT_APP);
    assert_aadsts(
        &f.assertion_token(CERT_APP, &wrong_aud, ARM_SCOPE).await,
        401,
        700023,
    );
    // A certificate the app does not have.
    let other = kpush_azure_emulator::generate_client_certificate("other").unwrap();
    f.emulator
        .configure(|c| c.tenants[0].apps[2].certificates = vec![other.cert_pem.clone()]);
    assert_aadsts(
        &f.assertion_token(CERT_APP, &good, ARM_SCOPE).await,
        401,
        700027,
    );
}

#[tokio::test]
async fn device_code_flow_waits_for_approval_then_issues_user_tokens() {
    let f = start();
    let scope = format!("{AKS_SCOPE} offline_access");
    let (status, dc) = f
        .post_form(
            &format!("/{TENANT}/oauth2/v2.0/devicecode"),
            &[("client_id", KUBELOGIN_CLIENT_ID), ("scope", &scope)],
        )
        .await;
    assert_eq!(status, 200, "{dc}");
    let user_code = dc["user_code"].as_str().unwrap().to_string();
    assert!(dc["message"].as_str().unwrap().contains(&user_code));
    assert_eq!(dc["interval"], 1);
    assert_eq!(f.emulator.pending_user_codes(), vec![user_code.clone()]);
    let token_path = format!("/{TENANT}/oauth2/v2.0/token");
    let device_code = dc["device_code"].as_str().unwrap().to_string();
    let pairs = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", KUBELOGIN_CLIENT_ID),
        ("device_code", device_code.as_str()),
    ];
    let poll = || f.post_form(&token_path, &pairs);
    let pending = poll().await;
    assert_aadsts(&pending, 400, 70016);
    assert_eq!(pending.1["error"], "authorization_pending");
    f.emulator
        .approve_device_code(&user_code, USER_OID)
        .unwrap();
    let (status, token) = poll().await;
    assert_eq!(status, 200, "{token}");
    let claims = f
        .emulator
        .verify_entra_token(token["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["oid"], USER_OID);
    assert_eq!(claims["upn"], "dev@contoso.example");
    assert_eq!(claims["aud"], "6dae42f8-4368-4678-94ff-3960e28e3630");
    // The code is used up.
    assert_aadsts(&poll().await, 400, 70000);
    // The refresh token gets a token for another resource.
    let refresh = token["refresh_token"].as_str().unwrap();
    let (status, refreshed) = f
        .post_form(
            &format!("/{TENANT}/oauth2/v2.0/token"),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", KUBELOGIN_CLIENT_ID),
                ("refresh_token", refresh),
                (
                    "scope",
                    "https://management.azure.com/.default offline_access",
                ),
            ],
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let claims = f
        .emulator
        .verify_entra_token(refreshed["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["aud"], "https://management.azure.com");
}

#[tokio::test]
async fn declined_device_code_and_confidential_clients_fail() {
    let f = start();
    let (_, dc) = f
        .post_form(
            &format!("/{TENANT}/oauth2/v2.0/devicecode"),
            &[("client_id", KUBELOGIN_CLIENT_ID), ("scope", AKS_SCOPE)],
        )
        .await;
    f.emulator
        .decline_device_code(dc["user_code"].as_str().unwrap())
        .unwrap();
    let declined = f
        .post_form(
            &format!("/{TENANT}/oauth2/v2.0/token"),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", KUBELOGIN_CLIENT_ID),
                ("device_code", dc["device_code"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(declined.1["error"], "authorization_declined");
    let confidential = f
        .post_form(
            &format!("/{TENANT}/oauth2/v2.0/devicecode"),
            &[("client_id", SECRET_APP), ("scope", AKS_SCOPE)],
        )
        .await;
    assert_aadsts(&confidential, 400, 7000218);
}

#[tokio::test]
async fn managed_identity_endpoint_speaks_the_app_service_protocol() {
    let f = start();
    let url = format!(
        "{}?api-version=2019-08-01&resource=https://management.azure.com",
        f.emulator.managed_identity_endpoint()
    );
    let denied = f
        .http
        .get(&url)
        .header("x-identity-header", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let resp = f
        .http
        .get(&url)
        .header("x-identity-header", MI_HEADER)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["expires_on"].is_string(),
        "expires_on is a string of seconds"
    );
    assert_eq!(body["token_type"], "Bearer");
    let claims = f
        .emulator
        .verify_entra_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["oid"], MI_OID);
    assert_eq!(claims["aud"], "https://management.azure.com");
    let unknown = f
        .http
        .get(format!(
            "{url}&client_id=00000000-0000-4000-8000-000000000000"
        ))
        .header("x-identity-header", MI_HEADER)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
}

#[tokio::test]
async fn request_log_records_paths_and_statuses_but_no_secrets() {
    let f = start();
    let _ = f.secret_token(SECRET_APP, SECRET, ARM_SCOPE).await;
    let _ = f.secret_token(SECRET_APP, "wrong", ARM_SCOPE).await;
    let log = f.emulator.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].path, format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!((log[0].status, log[1].status), (200, 401));
    assert!(!format!("{log:?}").contains(SECRET));
    f.emulator.clear_requests();
    assert!(f.emulator.requests().is_empty());
}
