//! Asking the API server whether the deploying identity holds permissions: one
//! SelfSubjectAccessReview per permission, in parallel (bounded), before anything changes.

use futures::stream::{self, StreamExt};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};

use crate::cluster::retry::with_retry;
use crate::cluster::{Failure, RetryPolicy};
use crate::event::Permission;

/// The authorizer's answer about one permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Whether the identity holds it.
    pub allowed: bool,
    /// The authorizer's reason or evaluation error, when it gave one.
    pub reason: Option<String>,
}

/// Asks about each of `permissions` (at most `concurrency` at once); answers in the same
/// order. Fails when a review cannot be made at all (the server unreachable, or reviews
/// forbidden: then nothing can be said).
pub async fn review(
    client: &Client,
    policy: RetryPolicy,
    concurrency: usize,
    permissions: &[Permission],
) -> Result<Vec<Answer>, Failure> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answers: Vec<Result<Answer, Failure>> = stream::iter(permissions)
        .map(|p| {
            let api = api.clone();
            async move {
                let request = request(p);
                let pp = PostParams::default();
                let done = with_retry(policy, || api.create(&pp, &request)).await?;
                let status = done.status.unwrap_or_default();
                let reason = status
                    .evaluation_error
                    .filter(|e| !e.is_empty())
                    .or(status.reason.filter(|r| !r.is_empty()));
                Ok(Answer {
                    allowed: status.allowed && status.denied != Some(true),
                    reason,
                })
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    answers.into_iter().collect()
}

/// The review of one permission.
pub fn request(p: &Permission) -> SelfSubjectAccessReview {
    SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(p.group.clone()),
                resource: Some(p.resource.clone()),
                subresource: p.subresource.clone(),
                verb: Some(p.verb.clone()),
                namespace: p.namespace.clone(),
                name: p.name.clone(),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The user name the API server knows the identity by (on AKS with Entra ID, its object id),
/// from a SelfSubjectReview; `None` when the server does not say.
pub async fn user_name(client: &Client) -> Option<String> {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .ok()?;
    review.status?.user_info?.username.filter(|u| !u.is_empty())
}
