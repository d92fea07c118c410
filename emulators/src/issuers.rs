//! OIDC token issuers CI systems run: GitHub Actions, Azure DevOps, and a Kubernetes
//! service-account issuer for workload identity.

use crate::config::{ServiceConnection, TOKEN_EXCHANGE_AUDIENCE};
use crate::jwt::SigningKey;
use crate::server::{Reply, Req, State};
use crate::util;
use serde_json::json;

/// `GET {issuer}/.well-known/openid-configuration` for an issuer at `{base}/{path}`.
pub(crate) fn discovery(base: &str, path: &str) -> Reply {
    let issuer = format!("{base}/{path}");
    Reply::json(
        200,
        &json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks"),
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
        }),
    )
}

/// `GET {issuer}/.well-known/jwks`
pub(crate) fn jwks(key: &SigningKey) -> Reply {
    Reply::json(200, &json!({ "keys": [key.jwk()] }))
}

/// `GET /github/idtoken?audience=...` with `Authorization: bearer <request token>`.
pub(crate) fn github_token(state: &State, req: &Req) -> Reply {
    let config = state.config();
    let gh = &config.github;
    if req.bearer() != Some(gh.request_token.as_str()) {
        return Reply::json(
            401,
            &json!({"message": "Bad credentials: the request token is missing, wrong or expired."}),
        );
    }
    let owner = gh.repository.split('/').next().unwrap_or_default();
    let audience = req
        .query
        .get("audience")
        .cloned()
        .unwrap_or_else(|| format!("https://github.com/{owner}"));
    let now = util::now();
    let claims = json!({
        "jti": util::uuid(),
        "sub": gh.subject,
        "aud": audience,
        "ref": gh.git_ref,
        "sha": util::random_hex(20),
        "repository": gh.repository,
        "repository_owner": owner,
        "run_id": "1",
        "run_number": "1",
        "run_attempt": "1",
        "actor": "kpush-test",
        "workflow": "deploy",
        "event_name": "push",
        "ref_type": "branch",
        "job_workflow_ref": format!("{}/.github/workflows/deploy.yml@{}", gh.repository, gh.git_ref),
        "runner_environment": "github-hosted",
        "iss": format!("{}/github", state.base),
        "iat": now,
        "nbf": now - 5,
        "exp": now + gh.token_lifetime.as_secs() as i64,
    });
    Reply::json(
        200,
        &json!({ "count": 1, "value": state.keys.github.sign(&claims, None) }),
    )
}

/// `POST /ado/{org}/.../oidctoken?api-version=7.1&serviceConnectionId=ID` with
/// `Authorization: Bearer <System.AccessToken>`.
pub(crate) fn ado_token(state: &State, req: &Req) -> Reply {
    let config = state.config();
    let ado = &config.ado;
    let e2e = util::uuid();
    if req.bearer() != Some(ado.system_access_token.as_str()) {
        return Reply::json(
            401,
            &json!({"message": "TF400813: The user is not authorized to access this resource."}),
        )
        .with_header("x-vss-e2eid", e2e)
        .with_header("x-msedge-ref", "Ref A: emulator");
    }
    let Some(id) = req.query.get("serviceConnectionId") else {
        return Reply::json(
            400,
            &json!({"message": "The serviceConnectionId query parameter is required.", "typeKey": "ArgumentNullException"}),
        )
        .with_header("x-vss-e2eid", e2e);
    };
    let Some(connection): Option<&ServiceConnection> = ado
        .service_connections
        .iter()
        .find(|c| c.id.eq_ignore_ascii_case(id))
    else {
        return Reply::json(
            404,
            &json!({"message": format!("Service connection {id} was not found or the pipeline is not authorized to use it."), "typeKey": "ServiceEndpointNotFoundException"}),
        )
        .with_header("x-vss-e2eid", e2e);
    };
    let now = util::now();
    let claims = json!({
        "jti": util::uuid(),
        "sub": ado.subject(connection),
        "aud": TOKEN_EXCHANGE_AUDIENCE,
        "iss": format!("{}/ado/{}", state.base, ado.org_id),
        "iat": now,
        "nbf": now,
        "exp": now + ado.token_lifetime.as_secs() as i64,
    });
    Reply::json(
        200,
        &json!({ "oidcToken": state.keys.ado.sign(&claims, None) }),
    )
    .with_header("x-vss-e2eid", e2e)
}
