//! The App Service managed identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`,
//! api-version 2019-08-01): the one source azure_identity 1.0's `ManagedIdentityCredential`
//! lets a caller point elsewhere (IMDS is fixed at 169.254.169.254).

use crate::entra;
use crate::server::{Reply, Req, State};
use crate::util;
use serde_json::json;

/// `GET /msi/token?api-version=2019-08-01&resource=R[&client_id=C|&object_id=O|&principal_id=O]`
pub(crate) fn token(state: &State, req: &Req) -> Reply {
    let config = state.config();
    let correlation = util::uuid();
    let fail = |status: u16, message: &str| {
        Reply::json(
            status,
            &json!({"statusCode": status, "message": message, "correlationId": correlation}),
        )
    };
    let Some(mi) = &config.managed_identity else {
        return fail(
            404,
            "No managed identity endpoint is configured on this host.",
        );
    };
    if req.header("x-identity-header") != Some(mi.identity_header.as_str()) {
        return fail(
            401,
            "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
        );
    }
    if req.query.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return fail(
            400,
            "api-version 2019-08-01 is the only version this endpoint supports.",
        );
    }
    let Some(resource) = req.query.get("resource") else {
        return fail(400, "The resource query parameter is required.");
    };
    let Some(tenant) = config.tenant(&mi.tenant) else {
        return fail(500, "The managed identity's tenant does not exist.");
    };
    let requested_client = req.query.get("client_id");
    let requested_object = req
        .query
        .get("object_id")
        .or_else(|| req.query.get("principal_id"));
    let principal = if let Some(client_id) = requested_client {
        mi.user_assigned_client_ids
            .iter()
            .any(|c| c.eq_ignore_ascii_case(client_id))
            .then(|| {
                tenant
                    .principal_for_client(client_id)
                    .map(|p| (p, client_id.clone()))
            })
            .flatten()
    } else if let Some(oid) = requested_object {
        tenant.principal(oid).and_then(|p| {
            let client = p.client_ids.iter().find(|c| {
                mi.user_assigned_client_ids
                    .iter()
                    .any(|u| u.eq_ignore_ascii_case(c))
            })?;
            Some((p, client.clone()))
        })
    } else {
        tenant
            .principal_for_client(&mi.system_assigned_client_id)
            .map(|p| (p, mi.system_assigned_client_id.clone()))
    };
    let Some((principal, client_id)) = principal else {
        return fail(
            400,
            "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
        );
    };
    let known = config
        .resources
        .iter()
        .any(|r| r.trim_end_matches('/') == resource.trim_end_matches('/'));
    if !known {
        return fail(
            400,
            &format!("The resource principal named {resource} was not found in the tenant."),
        );
    }
    let lifetime = config.token_lifetime.as_secs() as i64;
    let token = entra::issue_access_token(
        state, tenant, principal, &client_id, resource, false, lifetime,
    );
    Reply::json(
        200,
        &json!({
            "access_token": token,
            "expires_on": (util::now() + lifetime).to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }),
    )
}
