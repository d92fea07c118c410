//! Microsoft Entra ID: discovery, keys, the v2.0 token endpoint and the device-code flow.

use crate::aadsts::{self, EntraError};
use crate::config::{App, Config, Principal, TOKEN_EXCHANGE_AUDIENCE, Tenant};
use crate::jwt::{self, Decoded};
use crate::server::{Reply, Req, State};
use crate::util;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};
use std::collections::HashMap;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const DEVICE_CODE_LIFETIME: i64 = 900;
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// A pending device-code sign-in.
#[derive(Debug, Clone)]
pub(crate) struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    pub tenant: String,
    pub client_id: String,
    pub scope: String,
    pub expires_at: i64,
    pub state: DeviceState,
}

/// Where a device-code sign-in stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceState {
    Pending,
    Approved(String),
    Declined,
}

/// What a refresh token stands for.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub tenant: String,
    pub client_id: String,
    pub oid: String,
}

/// The issuer Entra uses for `tenant`'s v2.0 tokens.
pub(crate) fn tenant_issuer(base: &str, tenant: &str) -> String {
    format!("{base}/{tenant}/v2.0")
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`
pub(crate) fn discovery(state: &State, tenant: &str) -> Reply {
    let config = state.config();
    let Some(t) = config.tenant(tenant) else {
        return aadsts::tenant_not_found(tenant).reply(&state.base);
    };
    let base = &state.base;
    let id = &t.id;
    Reply::json(
        200,
        &json!({
            "token_endpoint": format!("{base}/{id}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{base}/{id}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": tenant_issuer(base, id),
            "request_uri_parameter_supported": false,
            "authorization_endpoint": format!("{base}/{id}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/{id}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}/{id}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "groups", "azp", "appid", "ver"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "emulator",
        }),
    )
}

/// `GET /{tenant}/discovery/v2.0/keys`
pub(crate) fn keys(state: &State, tenant: &str) -> Reply {
    let config = state.config();
    if config.tenant(tenant).is_none() {
        return aadsts::tenant_not_found(tenant).reply(&state.base);
    }
    let mut jwk = state.keys.entra.jwk();
    if let Some(map) = jwk.as_object_mut() {
        map.insert(
            "issuer".into(),
            tenant_issuer(&state.base, "{tenantid}").into(),
        );
    }
    Reply::json(200, &json!({ "keys": [jwk] }))
}

/// `POST /{tenant}/oauth2/v2.0/token`
pub(crate) fn token(state: &State, tenant: &str, req: &Req) -> Reply {
    match token_inner(state, tenant, req) {
        Ok(body) => Reply::json(200, &body)
            .with_header("cache-control", "no-store, no-cache")
            .with_header("x-ms-request-id", util::uuid()),
        Err(e) => e.reply(&state.base),
    }
}

fn token_inner(state: &State, tenant_seg: &str, req: &Req) -> Result<Value, EntraError> {
    let config = state.config();
    let form = req.form();
    if is_tenant_alias(tenant_seg) {
        return Err(aadsts::no_tenant());
    }
    let tenant = config
        .tenant(tenant_seg)
        .ok_or_else(|| aadsts::tenant_not_found(tenant_seg))?;
    let grant = form
        .get("grant_type")
        .ok_or_else(|| aadsts::missing_parameter("grant_type"))?;
    match grant.as_str() {
        "client_credentials" => client_credentials(state, &config, tenant, &form),
        DEVICE_CODE_GRANT => device_code_grant(state, &config, tenant, &form),
        "refresh_token" => refresh_grant(state, &config, tenant, &form),
        other => Err(aadsts::unsupported_grant(other)),
    }
}

fn is_tenant_alias(tenant: &str) -> bool {
    ["common", "organizations", "consumers"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(tenant))
}

fn client_credentials(
    state: &State,
    config: &Config,
    tenant: &Tenant,
    form: &HashMap<String, String>,
) -> Result<Value, EntraError> {
    let client_id = form
        .get("client_id")
        .ok_or_else(|| aadsts::missing_parameter("client_id"))?;
    let scope = form
        .get("scope")
        .ok_or_else(|| aadsts::missing_parameter("scope"))?;
    let app = tenant
        .app(client_id)
        .ok_or_else(|| aadsts::app_not_found(client_id, &tenant.id))?;
    if let Some(secret) = form.get("client_secret") {
        if !app.secrets.iter().any(|s| s == secret) {
            return Err(aadsts::invalid_secret(client_id));
        }
    } else if let Some(assertion) = form.get("client_assertion") {
        match form.get("client_assertion_type").map(String::as_str) {
            Some(ASSERTION_TYPE) => {}
            Some(_) => {
                return Err(aadsts::malformed_jwt(
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
                ));
            }
            None => return Err(aadsts::missing_parameter("client_assertion_type")),
        }
        check_assertion(state, config, tenant, app, assertion)?;
    } else {
        return Err(aadsts::missing_credential());
    }
    let resource = client_credentials_resource(scope)?;
    check_resource(config, tenant, &resource)?;
    let principal = tenant
        .principal_for_client(client_id)
        .ok_or_else(|| aadsts::no_service_principal(client_id, &tenant.id))?;
    Ok(token_response(
        state,
        config,
        tenant,
        principal,
        &app.client_id,
        &resource,
        false,
        None,
    ))
}

fn client_credentials_resource(scope: &str) -> Result<String, EntraError> {
    let mut scopes = scope.split_whitespace();
    match (scopes.next(), scopes.next()) {
        (Some(one), None) => one
            .strip_suffix("/.default")
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .ok_or_else(|| aadsts::invalid_scope(scope)),
        _ => Err(aadsts::invalid_scope(scope)),
    }
}

/// The resource of a delegated scope list such as `X/.default offline_access`.
fn delegated_resource(scope: &str) -> Result<String, EntraError> {
    scope
        .split_whitespace()
        .filter(|s| !OIDC_SCOPES.contains(s))
        .find_map(|s| s.rsplit_once('/').map(|(r, _)| r.to_string()))
        .filter(|r| !r.is_empty())
        .ok_or_else(|| aadsts::invalid_scope(scope))
}

fn check_resource(config: &Config, tenant: &Tenant, resource: &str) -> Result<(), EntraError> {
    let known = config
        .resources
        .iter()
        .any(|r| r.trim_end_matches('/') == resource.trim_end_matches('/'));
    if known {
        Ok(())
    } else {
        Err(aadsts::resource_not_found(resource, &tenant.id))
    }
}

/// Validates a client assertion: a federated token or a certificate-signed JWT.
fn check_assertion(
    state: &State,
    config: &Config,
    tenant: &Tenant,
    app: &App,
    assertion: &str,
) -> Result<(), EntraError> {
    let decoded = jwt::decode(assertion).map_err(|e| aadsts::malformed_jwt(&e.to_string()))?;
    let is_certificate = decoded.header.contains_key("x5t")
        || decoded.header.contains_key("x5t#S256")
        || decoded.str_claim("iss") == Some(app.client_id.as_str());
    if is_certificate {
        check_certificate_assertion(state, tenant, app, &decoded)
    } else {
        check_federated_assertion(state, config, app, &decoded)
    }
}

fn check_time(decoded: &Decoded) -> Result<(), EntraError> {
    let now = util::now();
    let nbf = decoded.num_claim("nbf");
    let exp = decoded.num_claim("exp");
    let expired = exp.is_none_or(|e| e <= now);
    let early = nbf.is_some_and(|n| n > now + 300);
    if expired || early {
        return Err(aadsts::assertion_time(now, nbf, exp));
    }
    Ok(())
}

fn check_federated_assertion(
    state: &State,
    config: &Config,
    app: &App,
    decoded: &Decoded,
) -> Result<(), EntraError> {
    let issuer = decoded.str_claim("iss").unwrap_or_default();
    let subject = decoded.str_claim("sub").unwrap_or_default();
    let audiences = decoded.audiences();
    let by_issuer: Vec<_> = app
        .federated_credentials
        .iter()
        .filter(|fc| crate::issuer_url(&state.base, config, &fc.issuer) == issuer)
        .collect();
    if by_issuer.is_empty() {
        return Err(aadsts::fic_issuer(issuer));
    }
    let Some(key) = crate::issuer_key(state, config, issuer) else {
        return Err(aadsts::bad_signature(
            "The issuer's signing keys could not be fetched.",
        ));
    };
    if decoded.kid() != Some(key.kid()) {
        return Err(aadsts::bad_signature("The key was not found."));
    }
    if !key.verifies(decoded.signing_input.as_bytes(), &decoded.signature) {
        return Err(aadsts::bad_signature("The signature is invalid."));
    }
    check_time(decoded)?;
    let by_audience: Vec<_> = by_issuer
        .into_iter()
        .filter(|fc| audiences.contains(&fc.audience))
        .collect();
    if by_audience.is_empty() {
        let shown = audiences
            .first()
            .cloned()
            .unwrap_or_else(|| TOKEN_EXCHANGE_AUDIENCE.to_string());
        return Err(aadsts::fic_audience(&shown));
    }
    if by_audience.iter().any(|fc| fc.subject == subject) {
        return Ok(());
    }
    if by_audience
        .iter()
        .any(|fc| fc.subject.eq_ignore_ascii_case(subject))
    {
        return Err(aadsts::fic_subject_case(subject));
    }
    Err(aadsts::fic_subject(subject))
}

fn check_certificate_assertion(
    state: &State,
    tenant: &Tenant,
    app: &App,
    decoded: &Decoded,
) -> Result<(), EntraError> {
    let header_str = |k: &str| decoded.header.get(k).and_then(Value::as_str);
    let presented = header_str("x5t#S256")
        .map(|t| (t, true))
        .or_else(|| header_str("x5t").map(|t| (t, false)));
    let Some((thumbprint, sha256)) = presented else {
        return Err(aadsts::malformed_jwt(
            "No certificate thumbprint specified in token header.",
        ));
    };
    let cert = app.certificates.iter().find_map(|pem| {
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
        let digest = if sha256 {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref())
        } else {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der.as_ref())
        };
        (URL_SAFE_NO_PAD.encode(digest.as_ref()) == thumbprint
            || STANDARD.encode(digest.as_ref()) == thumbprint)
            .then_some(der)
    });
    let Some(cert) = cert else {
        return Err(aadsts::unknown_certificate(thumbprint, &app.client_id));
    };
    if !jwt::verifies_with_certificate(decoded, cert.as_ref()) {
        return Err(aadsts::certificate_signature());
    }
    let client = app.client_id.as_str();
    if decoded.str_claim("iss") != Some(client) || decoded.str_claim("sub") != Some(client) {
        return Err(aadsts::assertion_client_mismatch());
    }
    let endpoint = format!("{}/{}/oauth2/v2.0/token", state.base, tenant.id);
    let issuer = tenant_issuer(&state.base, &tenant.id);
    let audience_ok = decoded
        .audiences()
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&endpoint) || *a == issuer);
    if !audience_ok {
        return Err(aadsts::assertion_audience());
    }
    check_time(decoded)
}

/// Issues an access token (and maybe a refresh token) in Entra's response shape.
#[allow(clippy::too_many_arguments)]
fn token_response(
    state: &State,
    config: &Config,
    tenant: &Tenant,
    principal: &Principal,
    client_id: &str,
    resource: &str,
    user: bool,
    scope: Option<&str>,
) -> Value {
    let lifetime = config.token_lifetime.as_secs() as i64;
    let token = issue_access_token(
        state, tenant, principal, client_id, resource, user, lifetime,
    );
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    });
    if let Some(scope) = scope {
        body["scope"] = json!(scope);
        if scope.split_whitespace().any(|s| s == "offline_access") {
            let refresh = format!("rt.{}", util::random_hex(32));
            if let Ok(mut grants) = state.refresh_tokens.lock() {
                grants.insert(
                    refresh.clone(),
                    RefreshGrant {
                        tenant: tenant.id.clone(),
                        client_id: client_id.to_string(),
                        oid: principal.oid.clone(),
                    },
                );
            }
            body["refresh_token"] = json!(refresh);
        }
    }
    body
}

/// Signs an Entra v2.0 access token for `principal`.
pub(crate) fn issue_access_token(
    state: &State,
    tenant: &Tenant,
    principal: &Principal,
    client_id: &str,
    resource: &str,
    user: bool,
    lifetime: i64,
) -> String {
    let now = util::now();
    let issuer = tenant_issuer(&state.base, &tenant.id);
    let mut claims = json!({
        "aud": resource.trim_end_matches('/'),
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "azp": client_id,
        "appid": client_id,
        "azpacr": "1",
        "idp": issuer,
        "oid": principal.oid,
        "sub": principal.oid,
        "tid": tenant.id,
        "groups": principal.groups,
        "uti": util::random_hex(11),
        "ver": "2.0",
        "idtyp": if user { "user" } else { "app" },
    });
    if user && let Some(name) = &principal.username {
        claims["name"] = json!(name);
        claims["preferred_username"] = json!(name);
        claims["upn"] = json!(name);
        claims["scp"] = json!("user_impersonation");
    }
    state.keys.entra.sign(&claims, None)
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`
pub(crate) fn devicecode(state: &State, tenant_seg: &str, req: &Req) -> Reply {
    match devicecode_inner(state, tenant_seg, req) {
        Ok(body) => Reply::json(200, &body),
        Err(e) => e.reply(&state.base),
    }
}

fn devicecode_inner(state: &State, tenant_seg: &str, req: &Req) -> Result<Value, EntraError> {
    let config = state.config();
    let form = req.form();
    if is_tenant_alias(tenant_seg) {
        return Err(aadsts::no_tenant());
    }
    let tenant = config
        .tenant(tenant_seg)
        .ok_or_else(|| aadsts::tenant_not_found(tenant_seg))?;
    let client_id = form
        .get("client_id")
        .ok_or_else(|| aadsts::missing_parameter("client_id"))?;
    let scope = form
        .get("scope")
        .ok_or_else(|| aadsts::missing_parameter("scope"))?;
    let app = tenant
        .app(client_id)
        .ok_or_else(|| aadsts::app_not_found(client_id, &tenant.id))?;
    if !app.public_client {
        return Err(aadsts::not_public_client(client_id));
    }
    let resource = delegated_resource(scope)?;
    check_resource(&config, tenant, &resource)?;
    let user_code = user_code();
    let device_code = format!("dc.{}", util::random_hex(32));
    let verification_uri = format!("{}/devicelogin", state.base);
    if let Ok(mut codes) = state.device_codes.lock() {
        codes.push(DeviceCode {
            device_code: device_code.clone(),
            user_code: user_code.clone(),
            tenant: tenant.id.clone(),
            client_id: app.client_id.clone(),
            scope: scope.clone(),
            expires_at: util::now() + DEVICE_CODE_LIFETIME,
            state: DeviceState::Pending,
        });
    }
    Ok(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": DEVICE_CODE_LIFETIME,
        "interval": config.device_code_interval,
        "message": format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."),
    }))
}

fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 9];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

fn device_code_grant(
    state: &State,
    config: &Config,
    tenant: &Tenant,
    form: &HashMap<String, String>,
) -> Result<Value, EntraError> {
    let client_id = form
        .get("client_id")
        .ok_or_else(|| aadsts::missing_parameter("client_id"))?;
    let code = form
        .get("device_code")
        .ok_or_else(|| aadsts::missing_parameter("device_code"))?;
    let entry = {
        let codes = state
            .device_codes
            .lock()
            .map_err(|_| aadsts::invalid_grant("device_code"))?;
        codes
            .iter()
            .find(|c| {
                &c.device_code == code
                    && c.client_id.eq_ignore_ascii_case(client_id)
                    && c.tenant == tenant.id
            })
            .cloned()
    };
    let Some(entry) = entry else {
        return Err(aadsts::invalid_grant("device_code"));
    };
    if entry.expires_at <= util::now() {
        return Err(aadsts::device_code_expired());
    }
    let oid = match &entry.state {
        DeviceState::Pending => return Err(aadsts::authorization_pending()),
        DeviceState::Declined => return Err(aadsts::authorization_declined()),
        DeviceState::Approved(oid) => oid.clone(),
    };
    if let Ok(mut codes) = state.device_codes.lock() {
        codes.retain(|c| c.device_code != entry.device_code);
    }
    let principal = tenant
        .principal(&oid)
        .ok_or_else(|| aadsts::invalid_grant("device_code"))?;
    let resource = delegated_resource(&entry.scope)?;
    Ok(token_response(
        state,
        config,
        tenant,
        principal,
        &entry.client_id,
        &resource,
        true,
        Some(&entry.scope),
    ))
}

fn refresh_grant(
    state: &State,
    config: &Config,
    tenant: &Tenant,
    form: &HashMap<String, String>,
) -> Result<Value, EntraError> {
    let client_id = form
        .get("client_id")
        .ok_or_else(|| aadsts::missing_parameter("client_id"))?;
    let token = form
        .get("refresh_token")
        .ok_or_else(|| aadsts::missing_parameter("refresh_token"))?;
    let scope = form
        .get("scope")
        .ok_or_else(|| aadsts::missing_parameter("scope"))?;
    let grant = state
        .refresh_tokens
        .lock()
        .ok()
        .and_then(|g| g.get(token).cloned())
        .filter(|g| g.tenant == tenant.id && g.client_id.eq_ignore_ascii_case(client_id))
        .ok_or_else(|| aadsts::invalid_grant("refresh_token"))?;
    let principal = tenant
        .principal(&grant.oid)
        .ok_or_else(|| aadsts::invalid_grant("refresh_token"))?;
    let resource = delegated_resource(scope)?;
    check_resource(config, tenant, &resource)?;
    Ok(token_response(
        state,
        config,
        tenant,
        principal,
        &grant.client_id,
        &resource,
        true,
        Some(scope),
    ))
}
