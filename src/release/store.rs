//! Revisions as Secrets in the release's namespace: written pending, completed, listed, capped.
//!
//! Secret `kpush.release.v1.<release>.v<N>`, type `kpush.dev/release.v1`, labels
//! `kpush.dev/release`, `kpush.dev/revision`, `kpush.dev/status` and
//! `app.kubernetes.io/managed-by: kpush`; data key `release` holds the gzip-compressed JSON of
//! [`Revision`]. Secrets (not ConfigMaps) because the manifests may include Secrets.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};

use super::Release;
use super::revision::{Revision, Status};
use super::signature::{RecordKey, Trust};
use crate::cluster::{Failure, RetryPolicy, retry::with_retry};

/// The Secret type of a revision.
pub const SECRET_TYPE: &str = "kpush.dev/release.v1";
/// Label naming the release.
pub const RELEASE_LABEL: &str = "kpush.dev/release";
/// Label holding the revision number.
pub const REVISION_LABEL: &str = "kpush.dev/revision";
/// Label holding the status word.
pub const STATUS_LABEL: &str = "kpush.dev/status";
/// Largest compressed record: a Secret holds 1 MiB, metadata included.
const MAX_RECORD: usize = 1000 * 1024;
/// The data key holding the compressed revision.
const DATA_KEY: &str = "release";
/// The data key holding the record's signature (see [`super::signature`]).
const SIGNATURE_KEY: &str = "signature";

/// Release records could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A request failed.
    #[error("cannot {action} the records of release {release} (Secrets in namespace {namespace}): {failure}{}", advice(.failure))]
    Request {
        /// What kpush was doing (`read`, `write`, `delete old`).
        action: &'static str,
        /// The release.
        release: String,
        /// Its namespace.
        namespace: String,
        /// What the server said.
        failure: Failure,
    },
    /// The compressed revision would not fit in a Secret.
    #[error(
        "revision {revision} of release {release} is {kib} KiB compressed, more than a Secret \
         holds (1 MiB); split the manifests into several releases"
    )]
    TooLarge {
        /// The release.
        release: String,
        /// The revision.
        revision: u32,
        /// Its compressed size.
        kib: usize,
    },
}

fn advice(f: &Failure) -> &'static str {
    match f.code() {
        Some(403) => {
            "; kpush's identity needs get, list, create, update and delete on Secrets in that \
             namespace (a Role and RoleBinding)"
        }
        _ => "",
    }
}

/// A Secret that looks like a revision but cannot be read; reported and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// Namespace of the Secret.
    pub namespace: String,
    /// Name of the Secret.
    pub secret: String,
    /// Why it was skipped.
    pub reason: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "skipped Secret {}/{}: {}",
            self.namespace, self.secret, self.reason
        )
    }
}

/// A release's revisions, oldest first, and the records that could not be read.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Readable revisions, by revision number.
    pub revisions: Vec<Revision>,
    /// Skipped Secrets.
    pub unreadable: Vec<Unreadable>,
    /// The highest revision number any record claims (readable or not).
    pub highest: u32,
}

impl History {
    /// The newest revision.
    pub fn latest(&self) -> Option<&Revision> {
        self.revisions.last()
    }

    /// The newest revision that succeeded.
    pub fn last_succeeded(&self) -> Option<&Revision> {
        self.revisions
            .iter()
            .rev()
            .find(|r| r.status == Status::Succeeded)
    }

    /// Revision `n`.
    pub fn get(&self, n: u32) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.revision == n)
    }

    /// The next revision number.
    pub fn next_number(&self) -> u32 {
        self.highest.saturating_add(1)
    }

    /// Revisions to delete so that at most `max` remain, oldest first; the newest succeeded
    /// revision is always kept (rollback and drift need it).
    pub fn beyond(&self, max: usize) -> Vec<u32> {
        let keep_succeeded = self.last_succeeded().map(|r| r.revision);
        let excess = self.revisions.len().saturating_sub(max.max(1));
        self.revisions
            .iter()
            .map(|r| r.revision)
            .filter(|n| Some(*n) != keep_succeeded)
            .take(excess)
            .collect()
    }
}

/// The Secret name of revision `n`.
pub fn secret_name(release: &str, n: u32) -> String {
    format!("kpush.release.v1.{release}.v{n}")
}

/// Reads and writes one release's revisions.
#[derive(Clone)]
pub struct Store {
    api: Api<Secret>,
    release: Release,
    retry: RetryPolicy,
    key: Option<RecordKey>,
}

impl Store {
    /// The store of `release`.
    pub fn new(client: &Client, release: &Release) -> Self {
        Self {
            api: Api::namespaced(client.clone(), &release.namespace),
            release: release.clone(),
            retry: RetryPolicy::default(),
            key: None,
        }
    }

    /// This store, signing the records it writes and checking those it reads with `key`.
    pub fn with_key(mut self, key: Option<RecordKey>) -> Self {
        self.key = key;
        self
    }

    fn error(&self, action: &'static str, failure: Failure) -> StoreError {
        StoreError::Request {
            action,
            release: self.release.name.clone(),
            namespace: self.release.namespace.clone(),
            failure,
        }
    }

    /// Every revision of the release, oldest first; unreadable records are listed apart.
    pub async fn history(&self) -> Result<History, StoreError> {
        let lp = ListParams::default().labels(&format!("{RELEASE_LABEL}={}", self.release.name));
        let list = with_retry(self.retry, || self.api.list(&lp))
            .await
            .map_err(|f| self.error("read", f))?;
        let mut history = History::default();
        for secret in list.items {
            if let Some(n) = label_number(&secret) {
                history.highest = history.highest.max(n);
            }
            match read(&secret, self.key.as_ref()) {
                Ok(r) if r.release == self.release.name => {
                    history.highest = history.highest.max(r.revision);
                    history.revisions.push(r);
                }
                Ok(r) => history.unreadable.push(unreadable(
                    &secret,
                    format!(
                        "it records release {}, not {}",
                        r.release, self.release.name
                    ),
                )),
                Err(reason) => history.unreadable.push(unreadable(&secret, reason)),
            }
        }
        history.revisions.sort_by_key(|r| r.revision);
        Ok(history)
    }

    /// Creates the Secret of a new revision (fails if that revision exists, or if it would
    /// not fit in a Secret).
    pub async fn create(&self, r: &Revision) -> Result<(), StoreError> {
        let secret = to_secret(r, self.key.as_ref());
        let size = secret
            .data
            .as_ref()
            .and_then(|d| d.get(DATA_KEY))
            .map_or(0, |b| b.0.len());
        if size > MAX_RECORD {
            return Err(StoreError::TooLarge {
                release: r.release.clone(),
                revision: r.revision,
                kib: size / 1024,
            });
        }
        let pp = PostParams::default();
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let created = with_retry(self.retry, || {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.api.create(&pp, &secret)
        })
        .await;
        match created {
            Ok(_) => Ok(()),
            // A retried create whose first attempt reached the server before the connection
            // dropped: the record is there already. The release's lock keeps other writers
            // away, so it is ours when its data is.
            Err(f)
                if f.code() == Some(409)
                    && attempts.load(std::sync::atomic::Ordering::Relaxed) > 1
                    && self.holds(&secret).await =>
            {
                Ok(())
            }
            Err(f) => Err(self.error("write", f)),
        }
    }

    /// Whether the stored Secret of that name holds exactly `secret`'s data.
    async fn holds(&self, secret: &Secret) -> bool {
        let Some(name) = secret.metadata.name.as_deref() else {
            return false;
        };
        match with_retry(self.retry, || self.api.get_opt(name)).await {
            Ok(Some(stored)) => stored.data == secret.data,
            _ => false,
        }
    }

    /// Overwrites a revision's record (its status and data).
    pub async fn update(&self, r: &Revision) -> Result<(), StoreError> {
        let secret = to_secret(r, self.key.as_ref());
        let name = secret_name(&r.release, r.revision);
        let mut data = serde_json::to_value(&secret.data).unwrap_or_default();
        if let Some(d) = data.as_object_mut() {
            // A merge patch keeps keys it does not name: an unsigned write removes the old
            // signature explicitly.
            d.entry(SIGNATURE_KEY).or_insert(serde_json::Value::Null);
        }
        let patch = serde_json::json!({
            "metadata": { "labels": secret.metadata.labels },
            "data": data,
        });
        let (pp, patch) = (PatchParams::default(), Patch::Merge(&patch));
        with_retry(self.retry, || self.api.patch(&name, &pp, &patch))
            .await
            .map_err(|f| self.error("write", f))?;
        Ok(())
    }

    /// Deletes the records of revisions `numbers`.
    pub async fn delete(&self, numbers: &[u32]) -> Result<(), StoreError> {
        let dp = DeleteParams::default();
        for n in numbers {
            let name = secret_name(&self.release.name, *n);
            match with_retry(self.retry, || self.api.delete(&name, &dp)).await {
                Ok(_) => {}
                Err(f) if f.is_not_found() => {}
                Err(f) => return Err(self.error("delete old", f)),
            }
        }
        Ok(())
    }
}

/// The newest revision of every release in `namespace` (all namespaces when `None`), sorted by
/// namespace and name, and the records that could not be read.
pub async fn releases(
    client: &Client,
    namespace: Option<&str>,
) -> Result<(Vec<Revision>, Vec<Unreadable>), Failure> {
    let api: Api<Secret> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let lp = ListParams::default().labels(RELEASE_LABEL);
    let list = with_retry(RetryPolicy::default(), || api.list(&lp)).await?;
    let mut newest: BTreeMap<(String, String), Revision> = BTreeMap::new();
    let mut bad = Vec::new();
    for secret in list.items {
        match read(&secret, None) {
            Ok(r) => {
                let key = (r.namespace.clone(), r.release.clone());
                if newest.get(&key).is_none_or(|o| o.revision < r.revision) {
                    newest.insert(key, r);
                }
            }
            Err(reason) => bad.push(unreadable(&secret, reason)),
        }
    }
    Ok((newest.into_values().collect(), bad))
}

fn label_number(secret: &Secret) -> Option<u32> {
    secret
        .metadata
        .labels
        .as_ref()?
        .get(REVISION_LABEL)?
        .parse()
        .ok()
}

fn unreadable(secret: &Secret, reason: String) -> Unreadable {
    Unreadable {
        namespace: secret.metadata.namespace.clone().unwrap_or_default(),
        secret: secret.metadata.name.clone().unwrap_or_default(),
        reason,
    }
}

/// Decodes a revision Secret, checking that it is one of kpush's and that its name, labels
/// and content agree; with `key`, also checks its signature (the result is in its `trust`).
fn read(secret: &Secret, key: Option<&RecordKey>) -> Result<Revision, String> {
    let kind = secret.type_.as_deref().unwrap_or("");
    if kind != SECRET_TYPE {
        return Err(format!(
            "it carries label {RELEASE_LABEL} but its type is `{kind}`, not {SECRET_TYPE} (not written by kpush)"
        ));
    }
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(DATA_KEY))
        .ok_or_else(|| format!("it has no data key `{DATA_KEY}`"))?;
    let mut r = Revision::decode(&bytes.0).map_err(|e| e.to_string())?;
    let name = secret.metadata.name.as_deref().unwrap_or("");
    if name != secret_name(&r.release, r.revision) {
        return Err(format!(
            "its content is revision {} of release {}, which does not match its name",
            r.revision, r.release
        ));
    }
    let ns = secret.metadata.namespace.as_deref().unwrap_or("");
    if !ns.is_empty() && ns != r.namespace {
        return Err(format!(
            "its content names namespace {}, but it lives in {ns}",
            r.namespace
        ));
    }
    r.trust = match key {
        None => Trust::Unchecked,
        Some(key) => {
            let signature = secret
                .data
                .as_ref()
                .and_then(|d| d.get(SIGNATURE_KEY))
                .map(|s| String::from_utf8_lossy(&s.0).into_owned());
            match signature {
                None => Trust::Unverified(
                    "it is not signed (written without KPUSH_RECORD_KEY, by an older kpush, or \
                     not by kpush)"
                        .into(),
                ),
                Some(sig) if key.verify(&r.namespace, name, &bytes.0, &sig) => Trust::Verified,
                Some(_) => Trust::Unverified(
                    "its signature does not match its content with this KPUSH_RECORD_KEY (it \
                     was changed after kpush wrote it, or signed with another key)"
                        .into(),
                ),
            }
        }
    };
    Ok(r)
}

fn to_secret(r: &Revision, key: Option<&RecordKey>) -> Secret {
    let labels = BTreeMap::from([
        (
            crate::render::metadata::MANAGED_BY_LABEL.to_string(),
            crate::render::metadata::MANAGED_BY_VALUE.to_string(),
        ),
        (RELEASE_LABEL.to_string(), r.release.clone()),
        (REVISION_LABEL.to_string(), r.revision.to_string()),
        (STATUS_LABEL.to_string(), r.status.word().to_string()),
    ]);
    let name = secret_name(&r.release, r.revision);
    let encoded = r.encode();
    let mut data = BTreeMap::new();
    if let Some(key) = key.filter(|_| r.trust.signable()) {
        let signature = key.sign(&r.namespace, &name, &encoded);
        data.insert(
            SIGNATURE_KEY.to_string(),
            ByteString(signature.into_bytes()),
        );
    }
    data.insert(DATA_KEY.to_string(), ByteString(encoded));
    Secret {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(r.namespace.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        type_: Some(SECRET_TYPE.into()),
        data: Some(data),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::revision::tests::sample;

    fn rev(n: u32, status: Status) -> Revision {
        Revision {
            revision: n,
            status,
            ..sample()
        }
    }

    #[test]
    fn a_record_reads_back_and_a_foreign_one_is_explained() {
        let r = sample();
        let s = to_secret(&r, None);
        let back = read(&s, None).unwrap();
        assert_eq!(back.trust, Trust::Unchecked);
        assert_eq!(
            Revision {
                trust: r.trust.clone(),
                ..back
            },
            r
        );
        let mut foreign = s.clone();
        foreign.type_ = Some("Opaque".into());
        assert!(
            read(&foreign, None)
                .unwrap_err()
                .contains("not written by kpush")
        );
        let mut renamed = s.clone();
        renamed.metadata.name = Some("kpush.release.v1.shop.v9".into());
        assert!(read(&renamed, None).unwrap_err().contains("does not match"));
        let mut corrupt = s;
        corrupt
            .data
            .as_mut()
            .unwrap()
            .insert(DATA_KEY.into(), ByteString(b"junk".to_vec()));
        assert!(read(&corrupt, None).unwrap_err().contains("gzip"));
    }

    #[test]
    fn signed_records_verify_and_changed_or_unsigned_ones_do_not() {
        let key = RecordKey::new("k").unwrap();
        let r = sample();
        let signed = to_secret(&r, Some(&key));
        assert_eq!(read(&signed, Some(&key)).unwrap().trust, Trust::Verified);
        // Someone rewrites the record with other manifests, keeping the signature.
        let mut forged = r.clone();
        forged.manifests[0].object["kind"] = "ClusterRoleBinding".into();
        let mut edited = to_secret(&forged, None);
        edited.data.as_mut().unwrap().insert(
            SIGNATURE_KEY.into(),
            signed.data.as_ref().unwrap()[SIGNATURE_KEY].clone(),
        );
        let t = read(&edited, Some(&key)).unwrap().trust;
        assert!(
            matches!(&t, Trust::Unverified(why) if why.contains("does not match")),
            "{t:?}"
        );
        let unsigned = to_secret(&r, None);
        let t = read(&unsigned, Some(&key)).unwrap().trust;
        assert!(
            matches!(&t, Trust::Unverified(why) if why.contains("not signed")),
            "{t:?}"
        );
        // A record that did not verify is never signed when written again.
        let bad = Revision {
            trust: Trust::Unverified("x".into()),
            ..r
        };
        assert!(
            !to_secret(&bad, Some(&key))
                .data
                .unwrap()
                .contains_key(SIGNATURE_KEY)
        );
    }

    #[test]
    fn history_cap_removes_the_oldest_but_keeps_the_last_success() {
        let h = History {
            revisions: vec![
                rev(1, Status::Failed),
                rev(2, Status::Succeeded),
                rev(3, Status::Failed),
                rev(4, Status::Failed),
            ],
            unreadable: vec![],
            highest: 4,
        };
        assert_eq!(h.beyond(10), Vec::<u32>::new());
        assert_eq!(h.beyond(3), vec![1]);
        assert_eq!(h.beyond(2), vec![1, 3]);
        assert_eq!(h.last_succeeded().unwrap().revision, 2);
        assert_eq!(h.next_number(), 5);
    }
}
