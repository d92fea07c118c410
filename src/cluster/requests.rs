//! The few requests kpush sends, addressed by [`Target`], returning plain JSON, with retry.

use kube::Client;
use kube::core::params::{DeleteParams, GetParams, ListParams, Patch, PatchParams, Preconditions};
use kube::core::{ApiResource, Request};
use serde_json::Value;

use super::failure::Failure;
use super::retry::{RetryPolicy, with_retry};

/// Where an object lives in the API: its resource and, for namespaced kinds, the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Group, version, kind and plural.
    pub resource: ApiResource,
    /// `Some` for namespaced kinds.
    pub namespace: Option<String>,
    /// Whether the kind has a `status` subresource (so readiness waits for status).
    pub has_status: bool,
}

impl Target {
    /// The collection URL: `/apis/apps/v1/namespaces/shop/deployments`.
    pub fn collection_url(&self) -> String {
        let ar = &self.resource;
        let base = if ar.group.is_empty() {
            format!("/api/{}", ar.version)
        } else {
            format!("/apis/{}/{}", ar.group, ar.version)
        };
        match &self.namespace {
            Some(ns) => format!("{base}/namespaces/{ns}/{}", ar.plural),
            None => format!("{base}/{}", ar.plural),
        }
    }

    fn request(&self) -> Request {
        Request::new(self.collection_url())
    }
}

fn build_error(e: kube::core::request::Error) -> Failure {
    Failure::Other(format!("cannot build the request: {e}"))
}

async fn send(
    client: &Client,
    policy: RetryPolicy,
    req: http::Request<Vec<u8>>,
) -> Result<Value, Failure> {
    with_retry(policy, || {
        let mut r = http::Request::builder()
            .method(req.method().clone())
            .uri(req.uri().clone());
        if let Some(h) = r.headers_mut() {
            h.extend(req.headers().clone());
        }
        let built = r.body(req.body().clone());
        let client = client.clone();
        async move {
            client
                .request::<Value>(built.map_err(kube::Error::HttpError)?)
                .await
        }
    })
    .await
}

/// Server-side apply of `object` (named `name`) with field manager `manager`.
pub async fn server_apply(
    client: &Client,
    policy: RetryPolicy,
    target: &Target,
    name: &str,
    object: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, Failure> {
    let mut pp = PatchParams::apply(manager);
    pp.force = force;
    let req = target
        .request()
        .patch(name, &pp, &Patch::Apply(object))
        .map_err(build_error)?;
    send(client, policy, req).await
}

/// JSON merge patch of `patch` onto object `name` (a `metadata.resourceVersion` in the patch
/// makes it fail with a conflict when the object changed meanwhile).
pub async fn merge_patch(
    client: &Client,
    policy: RetryPolicy,
    target: &Target,
    name: &str,
    patch: &Value,
    manager: &str,
) -> Result<Value, Failure> {
    let pp = PatchParams {
        field_manager: Some(manager.to_string()),
        ..Default::default()
    };
    let req = target
        .request()
        .patch(name, &pp, &Patch::Merge(patch))
        .map_err(build_error)?;
    send(client, policy, req).await
}

/// Server-side apply with `dryRun=All`: what the object would look like, nothing stored.
pub async fn dry_run_apply(
    client: &Client,
    policy: RetryPolicy,
    target: &Target,
    name: &str,
    object: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, Failure> {
    let mut pp = PatchParams::apply(manager).dry_run();
    pp.force = force;
    let req = target
        .request()
        .patch(name, &pp, &Patch::Apply(object))
        .map_err(build_error)?;
    send(client, policy, req).await
}

/// GET one object; `Ok(None)` when it does not exist.
pub async fn get(
    client: &Client,
    policy: RetryPolicy,
    target: &Target,
    name: &str,
) -> Result<Option<Value>, Failure> {
    let req = target
        .request()
        .get(name, &GetParams::default())
        .map_err(build_error)?;
    match send(client, policy, req).await {
        Ok(v) => Ok(Some(v)),
        Err(f) if f.is_not_found() => Ok(None),
        Err(f) => Err(f),
    }
}

/// LIST every object in the collection matching `label_selector`, following continue tokens.
pub async fn list(
    client: &Client,
    policy: RetryPolicy,
    target: &Target,
    label_selector: Option<&str>,
) -> Result<Vec<Value>, Failure> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (page, next) =
            list_page(client, policy, target, label_selector, token.as_deref()).await?;
        items.extend(page);
        token = next;
        if token.is_none() {
            return Ok(items);
        }
    }
}

/// One page (at most 500 objects) of a LIST, from continue token `token` (`None`: the first
/// page); returns its items and the token for the next page, `None` after the last.
pub async fn list_page(
    client: &Client,
    policy: RetryPolicy,
    target: &Target,
    label_selector: Option<&str>,
    token: Option<&str>,
) -> Result<(Vec<Value>, Option<String>), Failure> {
    let mut lp = ListParams::default().limit(500);
    if let Some(sel) = label_selector {
        lp = lp.labels(sel);
    }
    if let Some(t) = token {
        lp = lp.continue_token(t);
    }
    let req = target.request().list(&lp).map_err(build_error)?;
    let mut page = send(client, policy, req).await?;
    let items = match page.get_mut("items").map(Value::take) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    let next = page
        .pointer("/metadata/continue")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok((items, next))
}

/// DELETE one object (background propagation); `Ok(false)` when it was already gone, or, with
/// `uid`, when the object now there is another one (same name, new uid: the precondition fails
/// with 409 and nothing is deleted).
pub async fn delete(
    client: &Client,
    policy: RetryPolicy,
    target: &Target,
    name: &str,
    uid: Option<&str>,
) -> Result<bool, Failure> {
    let mut params = DeleteParams::background();
    if let Some(uid) = uid {
        params = params.preconditions(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        });
    }
    let req = target
        .request()
        .delete(name, &params)
        .map_err(build_error)?;
    match send(client, policy, req).await {
        Ok(_) => Ok(true),
        Err(f) if f.is_not_found() => Ok(false),
        Err(f) if uid.is_some() && f.code() == Some(409) => Ok(false),
        Err(f) => Err(f),
    }
}
