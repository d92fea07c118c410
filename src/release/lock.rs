//! The deploy lock: one `coordination.k8s.io/v1` Lease per release, named
//! `kpush.lock.<release>` in the release's namespace.
//!
//! The holder renews it every third of its duration while kpush runs and deletes it on exit
//! (Ctrl-C and SIGTERM included), but only while the Lease still names it as holder. When the
//! holder dies, the Lease expires: as in client-go's leader election, another deploy takes it
//! over only once it has itself watched the Lease unchanged (same resourceVersion) for a whole
//! lease duration on its own monotonic clock. The `renewTime` written by the holder is never
//! compared with the local clock, so a runner whose clock runs ahead cannot take a live lock.
//!
//! A holder checks the Lease again just before pruning and before recording the revision's
//! verdict (see [`Lock::check`]); when another deploy took it over, kpush stops there. While
//! its own last write of the Lease (taking or renewing it) is younger than half a lease
//! duration, that check needs no request: a deploy that follows this protocol cannot have taken
//! it over yet, since it must first see the Lease unchanged for a whole duration.
//! Different releases use different Leases and never wait for each other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, PostParams, Preconditions};
use kube::{Api, Client};
use serde::{Deserialize, Serialize};

use super::Release;
use super::revision::RunInfo;
use crate::apply::Interrupt;
use crate::cluster::retry::with_retry;
use crate::cluster::{Failure, RetryPolicy, classify};

/// Annotation on the Lease describing its holder (JSON of [`Holder`]).
pub const HOLDER_ANNOTATION: &str = "kpush.dev/holder";

/// How long a Lease lives without renewal.
pub const LEASE_DURATION: Duration = Duration::from_secs(30);

/// How often a waiting deploy looks again.
const POLL: Duration = Duration::from_secs(2);

/// How long after this run's last write of the Lease [`Lock::check`] trusts it without reading
/// it: half a lease duration, leaving the other half for clocks that run at different rates
/// and for the time between the check and what it guards.
const FRESH: Duration = Duration::from_secs(LEASE_DURATION.as_secs() / 2);

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    /// The run (CI run URL and actor, or user@host).
    pub run: RunInfo,
    /// The process id of the holding kpush.
    pub pid: u32,
    /// When it took the lock (RFC 3339).
    pub since: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (kpush pid {}), since {}",
            self.run.who(),
            self.pid,
            self.since
        )
    }
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another deploy held it for the whole `--lock-timeout`.
    #[error(
        "release {release} is locked by another deploy: {holder}; waited {}s (--lock-timeout). \
         Wait for that deploy to finish, or, if it is gone, for its lease to expire ({}s after its \
         last renewal)",
        .waited.as_secs(), LEASE_DURATION.as_secs()
    )]
    Timeout {
        /// The release.
        release: String,
        /// Who holds it.
        holder: String,
        /// How long kpush waited.
        waited: Duration,
    },
    /// Ctrl-C or SIGTERM while waiting.
    #[error("interrupted while waiting for the deploy lock of release {0}; nothing was changed")]
    Interrupted(String),
    /// Reading or writing the Lease failed.
    #[error("cannot {action} the deploy lock (Lease {name} in namespace {namespace}): {failure}{}",
        if .failure.code() == Some(403) { "; kpush's identity needs get, create, update and delete on leases.coordination.k8s.io in that namespace" } else { "" })]
    Request {
        /// `take` or `renew`.
        action: &'static str,
        /// The Lease.
        name: String,
        /// Its namespace.
        namespace: String,
        /// What the server said.
        failure: Failure,
    },
}

/// The Lease name of a release's lock.
pub fn lease_name(release: &str) -> String {
    format!("kpush.lock.{release}")
}

/// A held lock; call [`Lock::release`] when done.
pub struct Lock {
    api: Api<Lease>,
    name: String,
    namespace: String,
    identity: String,
    lost: Arc<AtomicBool>,
    /// When this run last wrote the Lease (took or renewed it), on the monotonic clock: taken
    /// before the request was sent, so never later than the write.
    written: Arc<std::sync::Mutex<Instant>>,
    renewer: tokio::task::JoinHandle<()>,
}

/// This run no longer holds its release's lock.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the deploy lock (Lease {name} in namespace {namespace}) is no longer this run's: {why}")]
pub struct Lost {
    /// The Lease.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Who holds it now, or why it could not be confirmed.
    pub why: String,
    /// Whether another deploy holds it (or it was deleted); false when it could not be read.
    pub taken: bool,
}

/// What [`acquire`] reports while it waits.
pub trait LockWait {
    /// Another deploy holds the lock (called when waiting starts and when the holder changes).
    fn held_by(&self, holder: &str);
}

impl<F: Fn(&str)> LockWait for F {
    fn held_by(&self, holder: &str) {
        self(holder)
    }
}

/// Takes the lock of `release`, waiting up to `timeout` while another deploy holds it.
pub async fn acquire(
    client: &Client,
    release: &Release,
    run: &RunInfo,
    timeout: Duration,
    interrupt: &Interrupt,
    wait: &dyn LockWait,
) -> Result<Lock, LockError> {
    let api: Api<Lease> = Api::namespaced(client.clone(), &release.namespace);
    let name = lease_name(&release.name);
    let err = |action, e: kube::Error| LockError::Request {
        action,
        name: name.clone(),
        namespace: release.namespace.clone(),
        failure: classify(e),
    };
    let me = Holder {
        run: run.clone(),
        pid: std::process::id(),
        since: super::revision::now(),
    };
    // A random part: two runners in containers can share the pid, the run and the second.
    let nonce = {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let identity = format!("{} pid {} {} {nonce:016x}", run.who(), me.pid, me.since);
    let started = Instant::now();
    // When this run sent the write that took the Lease.
    let mut written;
    // (resourceVersion, when first seen on our monotonic clock): a record unchanged for a lease
    // duration is stale.
    let mut seen: Option<(String, Instant)> = None;
    let mut announced: Option<String> = None;
    loop {
        if interrupt.is_set() {
            return Err(LockError::Interrupted(release.name.clone()));
        }
        let current = with_retry(RetryPolicy::default(), || api.get_opt(&name))
            .await
            .map_err(|failure| LockError::Request {
                action: "take",
                name: name.clone(),
                namespace: release.namespace.clone(),
                failure,
            })?;
        match current {
            None => {
                let lease = lease(&name, &identity, &me, None);
                written = Instant::now();
                match api.create(&PostParams::default(), &lease).await {
                    Ok(_) => break,
                    Err(kube::Error::Api(s)) if s.code == 409 => continue,
                    Err(e) => return Err(err("take", e)),
                }
            }
            Some(current) => {
                let rv = current
                    .metadata
                    .resource_version
                    .clone()
                    .unwrap_or_default();
                let first_seen = match &seen {
                    Some((v, at)) if *v == rv => *at,
                    _ => {
                        seen = Some((rv.clone(), Instant::now()));
                        Instant::now()
                    }
                };
                if is_free(&current, first_seen) {
                    let lease = lease(&name, &identity, &me, Some(rv));
                    written = Instant::now();
                    match api.replace(&name, &PostParams::default(), &lease).await {
                        Ok(_) => break,
                        Err(kube::Error::Api(s)) if s.code == 409 => continue,
                        Err(e) => return Err(err("take", e)),
                    }
                }
                let holder = describe(&current);
                if started.elapsed() >= timeout {
                    return Err(LockError::Timeout {
                        release: release.name.clone(),
                        holder,
                        waited: started.elapsed(),
                    });
                }
                if announced.as_ref() != Some(&holder) {
                    wait.held_by(&holder);
                    announced = Some(holder);
                }
                let left = timeout.saturating_sub(started.elapsed());
                tokio::time::sleep(POLL.min(left).max(Duration::from_millis(100))).await;
            }
        }
    }
    let lost = Arc::new(AtomicBool::new(false));
    let written = Arc::new(std::sync::Mutex::new(written));
    let renewer = tokio::spawn(renew(
        api.clone(),
        name.clone(),
        identity.clone(),
        lost.clone(),
        written.clone(),
    ));
    Ok(Lock {
        api,
        name,
        namespace: release.namespace.clone(),
        identity,
        lost,
        written,
        renewer,
    })
}

impl Lock {
    /// Whether another deploy took the lock over (kpush could not renew it in time).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Confirms this run still holds the lock: without a request while its last write of the
    /// Lease is fresh (see [`FRESH`]), else by reading it; marks the lock lost when another
    /// deploy took it over or deleted it. A Lease that cannot be read is not confirmed.
    pub async fn check(&self) -> Result<(), Lost> {
        if fresh(&self.lost, &self.written) {
            return Ok(());
        }
        check(
            &self.api,
            &self.name,
            &self.namespace,
            &self.identity,
            &self.lost,
        )
        .await
    }

    /// A guard for [`crate::apply::ApplyOptions::before_prune`]: pruning happens only while
    /// this run holds the lock.
    pub fn before_prune(&self) -> crate::apply::BeforePrune {
        let (api, name, namespace, identity, lost, written) = (
            self.api.clone(),
            self.name.clone(),
            self.namespace.clone(),
            self.identity.clone(),
            self.lost.clone(),
            self.written.clone(),
        );
        crate::apply::BeforePrune::new(move || {
            let (api, name, namespace, identity, lost, written) = (
                api.clone(),
                name.clone(),
                namespace.clone(),
                identity.clone(),
                lost.clone(),
                written.clone(),
            );
            async move {
                if fresh(&lost, &written) {
                    return Ok(());
                }
                check(&api, &name, &namespace, &identity, &lost)
                    .await
                    .map_err(|e| e.to_string())
            }
            .boxed()
        })
    }

    /// Stops renewing and deletes the Lease, only while it still names this run as holder
    /// (a Lease another deploy took over is left alone).
    pub async fn release(self) {
        self.renewer.abort();
        if self.lost() {
            return;
        }
        let Ok(Some(current)) = self.api.get_opt(&self.name).await else {
            return;
        };
        if holder_identity(&current) != Some(self.identity.as_str()) {
            self.lost.store(true, Ordering::SeqCst);
            return;
        }
        // The preconditions make the delete fail if the Lease changed since it was read.
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: current.metadata.uid.clone(),
                resource_version: current.metadata.resource_version.clone(),
            }),
            ..Default::default()
        };
        if let Err(e) = self.api.delete(&self.name, &dp).await {
            tracing::warn!(
                "could not release the deploy lock {}: {e}; it expires by itself within {}s",
                self.name,
                LEASE_DURATION.as_secs()
            );
        }
    }
}

fn holder_identity(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref()
}

async fn check(
    api: &Api<Lease>,
    name: &str,
    namespace: &str,
    identity: &str,
    lost: &AtomicBool,
) -> Result<(), Lost> {
    let gone = |why: String| {
        lost.store(true, Ordering::SeqCst);
        Lost {
            name: name.to_string(),
            namespace: namespace.to_string(),
            why,
            taken: true,
        }
    };
    match with_retry(RetryPolicy::default(), || api.get_opt(name)).await {
        Ok(Some(current)) if holder_identity(&current) == Some(identity) => Ok(()),
        Ok(Some(current)) => Err(gone(format!(
            "another deploy took it over: {}",
            describe(&current)
        ))),
        Ok(None) => Err(gone("someone deleted it".into())),
        // Not marked lost: the Lease may still be ours, but it cannot be confirmed now.
        Err(failure) => Err(Lost {
            name: name.to_string(),
            namespace: namespace.to_string(),
            why: format!("it could not be read to confirm: {failure}"),
            taken: false,
        }),
    }
}

/// Whether the lock is certainly still this run's without asking: not lost, and written by
/// this run less than [`FRESH`] ago.
fn fresh(lost: &AtomicBool, written: &std::sync::Mutex<Instant>) -> bool {
    !lost.load(Ordering::SeqCst)
        && written
            .lock()
            .map(|at| at.elapsed() < FRESH)
            .unwrap_or(false)
}

/// Renews the Lease every third of its duration until aborted; marks it lost when another
/// holder appears.
async fn renew(
    api: Api<Lease>,
    name: String,
    identity: String,
    lost: Arc<AtomicBool>,
    written: Arc<std::sync::Mutex<Instant>>,
) {
    loop {
        tokio::time::sleep(LEASE_DURATION / 3).await;
        let current = match api.get_opt(&name).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                lost.store(true, Ordering::SeqCst);
                tracing::warn!("the deploy lock {name} was deleted by someone else");
                return;
            }
            Err(e) => {
                tracing::warn!("could not renew the deploy lock {name}: {e}; trying again");
                continue;
            }
        };
        let spec = current.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(identity.as_str()) {
            lost.store(true, Ordering::SeqCst);
            tracing::warn!(
                "the deploy lock {name} was taken over by {}",
                describe(&current)
            );
            return;
        }
        let mut next = current.clone();
        next.spec = Some(LeaseSpec {
            renew_time: Some(MicroTime(Timestamp::now())),
            ..spec
        });
        let sent = Instant::now();
        match api.replace(&name, &PostParams::default(), &next).await {
            Ok(_) => {
                if let Ok(mut at) = written.lock() {
                    *at = sent;
                }
            }
            Err(e) => {
                tracing::warn!("could not renew the deploy lock {name}: {e}; trying again");
            }
        }
    }
}

fn lease(name: &str, identity: &str, me: &Holder, resource_version: Option<String>) -> Lease {
    let now = MicroTime(Timestamp::now());
    Lease {
        metadata: ObjectMeta {
            name: Some(name.into()),
            resource_version,
            labels: Some(
                [(
                    crate::render::metadata::MANAGED_BY_LABEL.to_string(),
                    crate::render::metadata::MANAGED_BY_VALUE.to_string(),
                )]
                .into(),
            ),
            annotations: Some(
                [(
                    HOLDER_ANNOTATION.to_string(),
                    serde_json::to_string(me).unwrap_or_default(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(identity.into()),
            lease_duration_seconds: Some(
                i32::try_from(LEASE_DURATION.as_secs()).unwrap_or(i32::MAX),
            ),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..Default::default()
        }),
    }
}

/// Whether nobody holds `lease`: no holder, or this process has watched it unchanged for a
/// whole lease duration since `first_seen` (its `renewTime` is the holder's clock, not ours,
/// and is never compared with the local time).
fn is_free(lease: &Lease, first_seen: Instant) -> bool {
    let Some(spec) = &lease.spec else { return true };
    if spec.holder_identity.as_deref().unwrap_or("").is_empty() {
        return true;
    }
    let duration =
        Duration::from_secs(u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0));
    first_seen.elapsed() >= duration
}

/// Who holds `lease`, in words: its holder annotation when that describes the holder identity
/// (a holder other than kpush may have left kpush's annotation behind), else the identity.
fn describe(lease: &Lease) -> String {
    let identity = holder_identity(lease).unwrap_or_default();
    let annotated = lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(HOLDER_ANNOTATION))
        .and_then(|h| serde_json::from_str::<Holder>(h).ok())
        .filter(|h| identity.starts_with(&format!("{} pid {} {}", h.run.who(), h.pid, h.since)));
    match annotated {
        Some(h) => h.to_string(),
        None if identity.is_empty() => "an unknown holder".into(),
        None => identity.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_written_less_than_half_a_duration_ago_needs_no_read() {
        let now = std::sync::Mutex::new(Instant::now());
        assert!(fresh(&AtomicBool::new(false), &now));
        assert!(
            !fresh(&AtomicBool::new(true), &now),
            "a lost lock is never fresh"
        );
        let Some(old) = Instant::now().checked_sub(FRESH + Duration::from_secs(1)) else {
            return; // a monotonic clock younger than 16 s: nothing to compare
        };
        assert!(!fresh(&AtomicBool::new(false), &std::sync::Mutex::new(old)));
    }

    fn held(renewed_secs_ago: i64, duration: i32) -> Lease {
        let renewed =
            Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(renewed_secs_ago);
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: Some("someone".into()),
                lease_duration_seconds: Some(duration),
                renew_time: Some(MicroTime(renewed)),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_lease_is_free_only_when_unheld_or_unchanged_for_a_duration_here() {
        assert!(
            !is_free(&held(5, 30), Instant::now()),
            "fresh lease is held"
        );
        // Its renewTime is long past by our clock (the holder's clock is behind ours, or ours
        // ahead): still held until we have watched it unchanged for a duration.
        assert!(
            !is_free(&held(3600, 30), Instant::now()),
            "a renewTime in the past by the local clock does not free a lease"
        );
        let stale_seen = Instant::now() - Duration::from_secs(31);
        assert!(
            is_free(&held(0, 30), stale_seen),
            "unchanged for a duration"
        );
        let mut released = held(0, 30);
        released.spec.as_mut().unwrap().holder_identity = None;
        assert!(is_free(&released, Instant::now()));
    }

    #[test]
    fn the_holder_is_described_from_its_annotation() {
        let me = Holder {
            run: RunInfo {
                run_url: Some("https://ci/run/1".into()),
                actor: Some("ana".into()),
                ..Default::default()
            },
            pid: 42,
            since: "2026-11-29T10:00:00Z".into(),
        };
        let id = "https://ci/run/1 (ana) pid 42 2026-11-29T10:00:00Z 00000000000000ff";
        let mut l = lease("kpush.lock.shop", id, &me, None);
        assert_eq!(
            describe(&l),
            "https://ci/run/1 (ana) (kpush pid 42), since 2026-11-29T10:00:00Z"
        );
        // Another holder kept kpush's annotation: it is named by its identity.
        l.spec.as_mut().unwrap().holder_identity = Some("intruder".into());
        assert_eq!(describe(&l), "intruder");
    }
}
