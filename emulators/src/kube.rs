//! A stand-in for an AKS API server that only checks Entra bearer tokens (for client tests
//! that do not need a real kube-apiserver): `GET /kube/version`, `GET /kube/api`.

use crate::config::AKS_SERVER_APP_ID;
use crate::jwt;
use crate::server::{Reply, Req, State};
use crate::{entra, util};
use serde_json::json;
use std::sync::atomic::Ordering;

fn unauthorized() -> Reply {
    Reply::json(
        401,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401}),
    )
}

/// Whether `req` carries a valid, unexpired Entra token for AKS.
fn authenticated(state: &State, req: &Req) -> bool {
    let Some(token) = req.bearer() else {
        return false;
    };
    let Ok(decoded) = jwt::decode(token) else {
        return false;
    };
    let config = state.config();
    let issuer_ok = config.tenants.iter().any(|t| {
        Some(entra::tenant_issuer(&state.base, &t.id).as_str()) == decoded.str_claim("iss")
    });
    issuer_ok
        && decoded.kid() == Some(state.keys.entra.kid())
        && state
            .keys
            .entra
            .verifies(decoded.signing_input.as_bytes(), &decoded.signature)
        && decoded.audiences().iter().any(|a| a == AKS_SERVER_APP_ID)
        && decoded.num_claim("exp").is_some_and(|e| e > util::now())
}

/// Routes `/kube/...`.
pub(crate) fn handle(state: &State, req: &Req, rest: &[&str]) -> Reply {
    let rejected = state
        .kube_rejections
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if rejected || !authenticated(state, req) {
        return unauthorized();
    }
    match rest {
        ["version"] => Reply::json(
            200,
            &json!({
                "major": "1", "minor": "35", "gitVersion": "v1.35.4",
                "gitCommit": "", "gitTreeState": "clean",
                "buildDate": "2026-04-14T00:00:00Z", "goVersion": "go1.26.8", "compiler": "gc",
                "platform": "linux/amd64"
            }),
        ),
        ["api"] => Reply::json(
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        ),
        _ => Reply::json(
            404,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "the server could not find the requested resource", "reason": "NotFound", "code": 404}),
        ),
    }
}
