//! The few requests kpush sends, addressed by [`Target`], returning plain JSON, with retry.

use kube::Client;
use kube::core::params::{DeleteParams, GetParams, ListParams, Patch, PatchParams};
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

/// A JSON merge patch (RFC 7386) of object `name`, such as a `managedFields` take-over.
pub async fn merge_patch(
    client: &Client,
    policy: RetryPolicy,
    target: &Target,
    name: &str,
    patch: &Value,
) -> Result<Value, Failure> {
    let req = target
        .request()
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
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
        let mut lp = ListParams::default().limit(500);
        if let Some(sel) = label_selector {
            lp = lp.labels(sel);
        }
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let req = target.request().list(&lp).map_err(build_error)?;
        let mut page = send(client, policy, req).await?;
        if let Some(Value::Array(a)) = page.get_mut("items").map(Value::take) {
            items.extend(a);
        }
        token = page
            .pointer("/metadata/continue")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok(items);
        }
    }
}

/// DELETE one object (background propagation); `Ok(false)` when it was already gone.
pub async fn delete(
    client: &Client,
    policy: RetryPolicy,
    target: &Target,
    name: &str,
) -> Result<bool, Failure> {
    let req = target
        .request()
        .delete(name, &DeleteParams::background())
        .map_err(build_error)?;
    match send(client, policy, req).await {
        Ok(_) => Ok(true),
        Err(f) if f.is_not_found() => Ok(false),
        Err(f) => Err(f),
    }
}
