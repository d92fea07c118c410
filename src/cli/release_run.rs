//! Deploying a release: take its lock, record a pending revision, deploy, record the verdict,
//! and with `--rollback-on-failure` restore the last succeeded revision. `apply` and `rollback`
//! both come through here.

use std::time::Duration;

use super::apply_cmd::{Deploy, Deployed};
use super::release_args::ReleaseSettings;
use super::run_report::RunReporters;
use crate::exit::{self, ExitError};
use crate::manifest::Manifest;
use crate::release::lock::{self, LockError};
use crate::release::record::{Begin, Recorder, restatus};
use crate::release::{
    History, ObjectRecord, Release, Revision, RunInfo, Status, Store, StoreError,
};
use crate::report::{Event, Reporter};

/// What to deploy.
pub(super) enum Source {
    /// Freshly rendered manifests (`kpush apply`).
    Manifests(Vec<Manifest>),
    /// A recorded revision's manifests (`kpush rollback`); `None`: the newest succeeded
    /// revision before the current one.
    Revision(Option<u32>),
}

/// Lines about the release, said once: CI logs get them through the reporter, a terminal on
/// standard error.
pub(super) struct Notes<'a>(pub &'a RunReporters);

impl Notes<'_> {
    /// An informational line.
    pub fn say(&self, line: &str) {
        if self.0.in_ci() {
            self.0.event(&Event::Info {
                message: line.to_string(),
            });
        } else {
            eprintln!("{line}");
        }
    }

    /// Something that went wrong but did not stop the run.
    pub fn warn(&self, line: &str) {
        self.say(&format!("warning: {line}"));
    }
}

/// The exit code for a failed request about release records.
pub(super) fn store_error(e: StoreError) -> ExitError {
    use crate::cluster::Failure;
    let code = match &e {
        StoreError::TooLarge { .. } => exit::BAD_INPUT,
        StoreError::Request {
            failure: Failure::Status(_),
            ..
        } => exit::APPLY_REJECTED,
        StoreError::Request { .. } => exit::CLUSTER_UNREACHABLE,
    };
    ExitError::new(code, e)
}

fn lock_error(e: LockError) -> ExitError {
    let code = match &e {
        LockError::Timeout { .. } => exit::LOCKED,
        LockError::Interrupted(_) => exit::INTERRUPTED,
        LockError::Request { failure, .. } => match failure {
            crate::cluster::Failure::Status(_) => exit::APPLY_REJECTED,
            _ => exit::CLUSTER_UNREACHABLE,
        },
    };
    ExitError::new(code, e)
}

/// Deploys `source` as a revision of `release` under its lock.
pub(super) async fn deploy(
    d: &Deploy<'_>,
    release: &Release,
    settings: &ReleaseSettings,
    source: Source,
) -> Result<i32, ExitError> {
    let run = RunInfo::from_env(&super::process_env());
    let notes = Notes(d.run);
    let waiting = |holder: &str| {
        notes.say(&format!(
            "release {}: waiting up to {}s for the deploy lock, held by {holder}",
            release.name,
            settings.lock_timeout.as_secs()
        ))
    };
    let lock = lock::acquire(
        d.client,
        release,
        &run,
        settings.lock_timeout,
        &d.interrupt,
        &waiting,
    )
    .await
    .map_err(lock_error)?;
    let result = locked(d, release, settings, source, &run, &notes).await;
    if lock.lost() {
        notes.warn(&format!(
            "release {}: another deploy took the lock over while this one ran (kpush could not \
             renew it for {}s); check the release's history",
            release.name,
            lock::LEASE_DURATION.as_secs()
        ));
    }
    lock.release().await;
    result
}

async fn locked(
    d: &Deploy<'_>,
    release: &Release,
    settings: &ReleaseSettings,
    source: Source,
    run: &RunInfo,
    notes: &Notes<'_>,
) -> Result<i32, ExitError> {
    let store = Store::new(d.client, release);
    let mut history = store.history().await.map_err(store_error)?;
    for u in &history.unreadable {
        notes.warn(&u.to_string());
    }
    let (manifests, images, rollback_to) = match source {
        Source::Manifests(m) => {
            let images = crate::render::images::images(&m);
            (m, images, None)
        }
        Source::Revision(n) => {
            let r = pick(&history, n, &release.name)?;
            d.run.set_images(r.images.clone());
            notes.say(&format!(
                "release {}: rolling back to revision {} ({}{})",
                release.name,
                r.revision,
                r.status,
                r.run
                    .commit
                    .as_ref()
                    .map(|c| format!(", commit {c}"))
                    .unwrap_or_default()
            ));
            (r.manifests(), r.images.clone(), Some(r.revision))
        }
    };
    let previous_success = history.last_succeeded().cloned();
    let begin = Begin {
        manifests: &manifests,
        images,
        run: run.clone(),
        rollback_to,
    };
    let (recorder, abandoned) =
        Recorder::begin(&store, release, begin, settings.history_max, &mut history)
            .await
            .map_err(|e| {
                let mut e = store_error(e);
                e.error = e.error.context("nothing was applied");
                e
            })?;
    for n in abandoned {
        notes.warn(&format!(
            "release {}: revision {n} was left pending by a kpush that stopped without recording \
             its result; marked interrupted",
            release.name
        ));
    }
    let number = recorder.number();
    let deployed = d.deploy(manifests).await;
    let (status, message) = verdict(&deployed, rollback_to);
    let objects = records(&deployed);
    let rollback = settings
        .rollback_on_failure
        .filter(|_| matches!(deployed.result, Ok(exit::ROLLOUT_FAILED | exit::TIMED_OUT)));
    let Some(rollback_timeout) = rollback else {
        finish(recorder, status, objects, message, release, notes).await;
        return deployed.result;
    };
    let Some(target) = previous_success else {
        let why = format!(
            "nothing to roll back to: release {} has no succeeded revision before this one{}",
            release.name,
            if number == 1 {
                " (this was its first deploy)"
            } else {
                ""
            }
        );
        notes.warn(&why);
        let message = Some(match message {
            Some(m) => format!("{m}; {why}"),
            None => why,
        });
        finish(recorder, status, objects, message, release, notes).await;
        return deployed.result;
    };
    let failed = finish(recorder, status, objects, message, release, notes).await;
    notes.warn(&format!(
        "release {}: revision {number} {status}; rolling back to revision {} (rollout budget {}s)",
        release.name,
        target.revision,
        rollback_timeout.as_secs()
    ));
    let restored = roll_back(
        d,
        release,
        settings,
        &store,
        &target,
        rollback_timeout,
        run,
        notes,
    )
    .await?;
    let failed_code = deployed.result.as_ref().map_or(exit::INTERNAL, |c| *c);
    match restored {
        (Status::Succeeded, n) => {
            if let Some(mut failed) = failed {
                let text = format!(
                    "{status}; rolled back to revision {} (recorded as revision {n})",
                    target.revision
                );
                if let Err(e) = restatus(&store, &mut failed, Status::RolledBack, text).await {
                    notes.warn(&e.to_string());
                }
            }
            Err(ExitError::new(
                exit::ROLLED_BACK,
                anyhow::anyhow!(
                    "release {}: revision {number} {status}; rolled back to revision {} \
                     (recorded as revision {n}), whose rollout is ready",
                    release.name,
                    target.revision
                ),
            ))
        }
        (Status::Interrupted, n) => Err(ExitError::new(
            exit::INTERRUPTED,
            anyhow::anyhow!(
                "release {}: revision {number} {status}; the rollback to revision {} (revision \
                 {n}) was interrupted: the cluster may hold parts of both",
                release.name,
                target.revision
            ),
        )),
        (other, n) => Err(ExitError::new(
            failed_code,
            anyhow::anyhow!(
                "release {}: revision {number} {status}, and the rollback to revision {} \
                 (revision {n}) {other} too; see the rollout failures above",
                release.name,
                target.revision
            ),
        )),
    }
}

/// Re-applies `target` as a new revision with its own tracking budget; returns its status and
/// number.
#[allow(clippy::too_many_arguments)]
async fn roll_back(
    d: &Deploy<'_>,
    release: &Release,
    settings: &ReleaseSettings,
    store: &Store,
    target: &Revision,
    timeout: Duration,
    run: &RunInfo,
    notes: &Notes<'_>,
) -> Result<(Status, u32), ExitError> {
    let mut history = store.history().await.map_err(store_error)?;
    let manifests = target.manifests();
    let begin = Begin {
        manifests: &manifests,
        images: target.images.clone(),
        run: run.clone(),
        rollback_to: Some(target.revision),
    };
    let (recorder, _) = Recorder::begin(store, release, begin, settings.history_max, &mut history)
        .await
        .map_err(store_error)?;
    let number = recorder.number();
    let deployed = d.deploy_with_timeout(manifests, Some(timeout)).await;
    let (status, message) = verdict(&deployed, Some(target.revision));
    if let Err(e) = &deployed.result {
        notes.warn(&format!("rollback: {e}"));
    }
    let objects = records(&deployed);
    finish(recorder, status, objects, message, release, notes).await;
    Ok((status, number))
}

/// Completes a revision; a failure to write is a warning (the deploy itself happened).
async fn finish(
    recorder: Recorder,
    status: Status,
    objects: Vec<ObjectRecord>,
    message: Option<String>,
    release: &Release,
    notes: &Notes<'_>,
) -> Option<Revision> {
    let number = recorder.number();
    match recorder.finish(status, objects, message).await {
        Ok((revision, _)) => {
            notes.say(&format!(
                "release {}: revision {number} {status}",
                release.name
            ));
            Some(revision)
        }
        Err(e) => {
            notes.warn(&format!(
                "revision {number} of release {} stays pending: {e}",
                release.name
            ));
            None
        }
    }
}

/// The revision's status and message from a deploy's result.
fn verdict(deployed: &Deployed, rollback_to: Option<u32>) -> (Status, Option<String>) {
    let prefix = rollback_to
        .map(|n| format!("rollback to revision {n}: "))
        .unwrap_or_default();
    let (status, what) = match &deployed.result {
        Ok(exit::SUCCESS) => (Status::Succeeded, None),
        Ok(exit::ROLLOUT_FAILED) => (Status::Failed, Some("a rollout failed".to_string())),
        Ok(exit::TIMED_OUT) => (
            Status::TimedOut,
            Some("a rollout did not finish in time".to_string()),
        ),
        Ok(exit::INTERRUPTED) => (
            Status::Interrupted,
            Some("interrupted while waiting for the rollout".to_string()),
        ),
        Ok(code) => (Status::Failed, Some(format!("exit code {code}"))),
        Err(e) if e.code == exit::INTERRUPTED => (Status::Interrupted, Some(e.to_string())),
        Err(e) => (Status::Failed, Some(e.to_string())),
    };
    let message = match (what, rollback_to) {
        (Some(w), _) => Some(format!("{prefix}{w}")),
        (None, Some(n)) => Some(format!("rollback to revision {n}")),
        (None, None) => None,
    };
    (status, message)
}

/// Per object: what applying did (pruned objects included).
fn records(deployed: &Deployed) -> Vec<ObjectRecord> {
    let Some(outcome) = &deployed.outcome else {
        return Vec::new();
    };
    let applied = outcome.objects.iter().map(|o| ObjectRecord {
        group: o.key.group.clone(),
        kind: o.key.kind.clone(),
        namespace: o
            .target
            .as_ref()
            .and_then(|t| t.namespace.clone())
            .or_else(|| o.key.namespace.clone()),
        name: o.key.name.clone(),
        action: crate::report::terminal::verb(o.action).to_string(),
    });
    let pruned = outcome
        .pruned
        .iter()
        .filter(|p| !p.kept)
        .map(|p| ObjectRecord {
            group: p.key.group.clone(),
            kind: p.key.kind.clone(),
            namespace: p.key.namespace.clone(),
            name: p.key.name.clone(),
            action: "pruned".into(),
        });
    applied.chain(pruned).collect()
}

/// Revision `n` of the history, or the newest succeeded one before the newest revision.
fn pick<'h>(
    history: &'h History,
    n: Option<u32>,
    release: &str,
) -> Result<&'h Revision, ExitError> {
    let listing = || {
        if history.revisions.is_empty() {
            format!("release {release} has no readable revisions in this namespace")
        } else {
            let all: Vec<String> = history
                .revisions
                .iter()
                .map(|r| format!("{} ({})", r.revision, r.status))
                .collect();
            format!("its revisions: {}", all.join(", "))
        }
    };
    let found = match n {
        Some(n) => history
            .get(n)
            .ok_or_else(|| anyhow::anyhow!("release {release} has no revision {n}; {}", listing())),
        None => {
            let newest = history.latest().map(|r| r.revision);
            history
                .revisions
                .iter()
                .rev()
                .filter(|r| Some(r.revision) != newest)
                .find(|r| r.status == Status::Succeeded)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "release {release} has no succeeded revision before its newest to roll \
                         back to; {}; pass --to N",
                        listing()
                    )
                })
        }
    };
    found.map_err(|e| ExitError::new(exit::BAD_INPUT, e))
}
