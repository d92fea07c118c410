//! Entra ID error responses, shaped like `login.microsoftonline.com`'s.

use crate::server::Reply;
use crate::util;
use serde_json::json;

/// An Entra error: HTTP status, OAuth `error`, AADSTS number and message.
#[derive(Debug, Clone)]
pub(crate) struct EntraError {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub message: String,
}

impl EntraError {
    /// Builds an error.
    pub fn new(status: u16, error: &'static str, code: u32, message: impl Into<String>) -> Self {
        EntraError {
            status,
            error,
            code,
            message: message.into(),
        }
    }

    /// The JSON body Entra sends, with trace id, correlation id and timestamp.
    pub fn reply(&self, base: &str) -> Reply {
        let now = util::now();
        let trace_id = util::uuid();
        let correlation_id = util::uuid();
        let timestamp = util::entra_timestamp(now);
        let description = format!(
            "AADSTS{}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}",
            self.code, self.message
        );
        Reply::json(
            self.status,
            &json!({
                "error": self.error,
                "error_description": description,
                "error_codes": [self.code],
                "timestamp": timestamp,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": format!("{base}/error?code={}", self.code),
            }),
        )
        .with_header("x-ms-request-id", trace_id)
    }
}

/// AADSTS90002: the tenant does not exist.
pub(crate) fn tenant_not_found(tenant: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_request",
        90002,
        format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

/// AADSTS50059: a multi-tenant alias was used where a tenant is required.
pub(crate) fn no_tenant() -> EntraError {
    EntraError::new(
        400,
        "invalid_request",
        50059,
        "No tenant-identifying information found in either the request or implied by any provided credentials.",
    )
}

/// AADSTS700016: the application does not exist in the tenant.
pub(crate) fn app_not_found(client_id: &str, tenant: &str) -> EntraError {
    EntraError::new(
        400,
        "unauthorized_client",
        700016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

/// AADSTS900144: a required parameter is missing.
pub(crate) fn missing_parameter(name: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// AADSTS7000215: the client secret is wrong.
pub(crate) fn invalid_secret(client_id: &str) -> EntraError {
    EntraError::new(
        401,
        "invalid_client",
        7000215,
        format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        ),
    )
}

/// AADSTS7000218: a confidential client sent no credential.
pub(crate) fn missing_credential() -> EntraError {
    EntraError::new(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )
}

/// AADSTS70003: unsupported grant type.
pub(crate) fn unsupported_grant(grant: &str) -> EntraError {
    EntraError::new(
        400,
        "unsupported_grant_type",
        70003,
        format!("The app requested an unsupported grant type '{grant}'."),
    )
}

/// AADSTS1002012: client-credential scopes must end in `/.default`.
pub(crate) fn invalid_scope(scope: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_scope",
        1002012,
        format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        ),
    )
}

/// AADSTS500011: the resource does not exist in the tenant.
pub(crate) fn resource_not_found(resource: &str, tenant: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_resource",
        500011,
        format!(
            "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
        ),
    )
}

/// AADSTS50027: the assertion is not a well-formed JWT.
pub(crate) fn malformed_jwt(detail: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_request",
        50027,
        format!("JWT token is invalid or malformed. {detail}"),
    )
}

/// AADSTS700211: no federated credential trusts the assertion's issuer.
pub(crate) fn fic_issuer(issuer: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_client",
        700211,
        format!(
            "No matching federated identity record found for presented assertion issuer '{issuer}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
        ),
    )
}

/// AADSTS700212: no federated credential accepts the assertion's audience.
pub(crate) fn fic_audience(audience: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_client",
        700212,
        format!(
            "No matching federated identity record found for presented assertion audience '{audience}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
        ),
    )
}

/// AADSTS700213: no federated credential has the assertion's subject.
pub(crate) fn fic_subject(subject: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_client",
        700213,
        format!(
            "No matching federated identity record found for presented assertion subject '{subject}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
        ),
    )
}

/// AADSTS7002138: the subject matches only when case is ignored.
pub(crate) fn fic_subject_case(subject: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_client",
        7002138,
        format!(
            "No matching federated identity record found for presented assertion subject '{subject}'. The subject matches with case-insensitive comparison, but not with case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. See documentation at: https://learn.microsoft.com/entra/workload-id/workload-identity-federation."
        ),
    )
}

/// AADSTS50013: the assertion's signature does not verify.
pub(crate) fn bad_signature(reason: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_client",
        50013,
        format!("Assertion failed signature validation. [Reason - {reason}]"),
    )
}

/// AADSTS700024: the assertion is expired or not yet valid.
pub(crate) fn assertion_time(now: i64, nbf: Option<i64>, exp: Option<i64>) -> EntraError {
    let from = nbf.map(util::iso_timestamp).unwrap_or_default();
    let to = exp.map(util::iso_timestamp).unwrap_or_default();
    EntraError::new(
        400,
        "invalid_client",
        700024,
        format!(
            "Client assertion is not within its valid time range. Current time: {}, assertion valid from {from}, expiry time of assertion {to}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
            util::iso_timestamp(now)
        ),
    )
}

/// AADSTS700027: the signing certificate is not registered on the app.
pub(crate) fn unknown_certificate(thumbprint: &str, client_id: &str) -> EntraError {
    EntraError::new(
        401,
        "invalid_client",
        700027,
        format!(
            "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'.]"
        ),
    )
}

/// AADSTS700027: the certificate assertion's signature does not verify.
pub(crate) fn certificate_signature() -> EntraError {
    EntraError::new(
        401,
        "invalid_client",
        700027,
        "Client assertion failed signature validation.",
    )
}

/// AADSTS700021: the assertion names another application.
pub(crate) fn assertion_client_mismatch() -> EntraError {
    EntraError::new(
        401,
        "invalid_client",
        700021,
        "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
    )
}

/// AADSTS700023: the certificate assertion's audience is not this token endpoint.
pub(crate) fn assertion_audience() -> EntraError {
    EntraError::new(
        401,
        "invalid_client",
        700023,
        "Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
    )
}

/// AADSTS7000229: the app has no service principal in the tenant.
pub(crate) fn no_service_principal(client_id: &str, tenant: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_client",
        7000229,
        format!(
            "The client application {client_id} is missing service principal in the tenant {tenant}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119"
        ),
    )
}

/// AADSTS70016: the user has not finished signing in.
pub(crate) fn authorization_pending() -> EntraError {
    EntraError::new(
        400,
        "authorization_pending",
        70016,
        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
    )
}

/// AADSTS70020: the device code expired.
pub(crate) fn device_code_expired() -> EntraError {
    EntraError::new(
        400,
        "expired_token",
        70020,
        "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
    )
}

/// AADSTS70000: the user declined the sign-in.
pub(crate) fn authorization_declined() -> EntraError {
    EntraError::new(
        400,
        "authorization_declined",
        70000,
        "The user declined the authorization request.",
    )
}

/// AADSTS70000: an unknown device code or refresh token.
pub(crate) fn invalid_grant(what: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_grant",
        70000,
        format!("The provided value for the input parameter '{what}' is not valid."),
    )
}

/// AADSTS7000218: a confidential client tried the device-code flow.
pub(crate) fn not_public_client(client_id: &str) -> EntraError {
    EntraError::new(
        400,
        "invalid_client",
        7000218,
        format!(
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'. Application '{client_id}' is not a public client, so it cannot use the device code flow."
        ),
    )
}
