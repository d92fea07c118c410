//! Deploying a release: take its lock, record a pending revision, deploy, record the verdict,
//! and with `--rollback-on-failure` restore the last succeeded revision. `apply` and `rollback`
//! both come through here.

use std::time::Duration;

use super::engine::{Deployed, Deployer};
use super::error::{DeployError, Verdict};
use super::settings::ReleaseSettings;
use crate::event::Outcome;
use crate::event::{Event, ReleaseNote, Sink};
use crate::manifest::Manifest;
use crate::release::lock::{self, LockError};
use crate::release::record::{Begin, Recorder, restatus};
use crate::release::{
    History, ObjectRecord, Release, Revision, RunInfo, Status, Store, StoreError, Trust, Unreadable,
};

/// What to deploy.
pub enum Source {
    /// Freshly rendered manifests (`kpush apply`).
    Manifests(Vec<Manifest>),
    /// A recorded revision's manifests (`kpush rollback`); `None`: the newest succeeded
    /// revision before the current one.
    Revision(Option<u32>),
}

/// Reports `note` to `sink`.
pub fn note(sink: &dyn Sink, note: ReleaseNote) {
    sink.event(&Event::Release { note });
}

/// Reports skipped records.
pub fn skipped(sink: &dyn Sink, unreadable: &[Unreadable]) {
    for u in unreadable {
        note(
            sink,
            ReleaseNote::Skipped {
                record: format!("{}/{}", u.namespace, u.secret),
                reason: u.reason.clone(),
            },
        );
    }
}

/// A failed request about release records, classified.
pub fn store_error(e: StoreError) -> DeployError {
    DeployError::new(super::error::of_store_error(&e), e)
}

fn lock_error(e: LockError) -> DeployError {
    DeployError::new(super::error::of_lock_error(&e), e)
}

/// Deploys `source` as a revision of `release` under its lock.
pub async fn deploy(
    d: &Deployer<'_>,
    release: &Release,
    settings: &ReleaseSettings,
    source: Source,
) -> Result<Verdict, DeployError> {
    let run = settings.run.clone();
    let sink: &dyn Sink = d.reporter;
    let waiting = |holder: &str| {
        note(
            sink,
            ReleaseNote::LockHeld {
                release: release.name.clone(),
                holder: holder.to_string(),
                timeout: settings.lock_timeout,
            },
        )
    };
    let created = match &source {
        Source::Manifests(manifests) => create_release_namespace(d, release, manifests).await?,
        _ => None,
    };
    // Its wave then reports it created, as it is from the user's point of view.
    let with_namespace;
    let d = match created {
        Some(key) => {
            let mut copy = d.clone();
            copy.plan.created_first.push(key);
            with_namespace = copy;
            &with_namespace
        }
        None => d,
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
    // Pruning happens only while this run still holds the lock.
    let mut guarded = d.clone();
    guarded.apply.before_prune = Some(lock.before_prune());
    let result = locked(&guarded, &lock, release, settings, source, &run).await;
    if lock.lost() {
        note(
            sink,
            ReleaseNote::LockLost {
                release: release.name.clone(),
            },
        );
    }
    lock.release().await;
    result
}

/// Creates the release's namespace before its lock when the manifests (or
/// `--create-namespace`) define it and it does not exist yet: the lock and the revision records
/// live there, so they cannot wait for the namespace's wave. The Namespace is server-side
/// applied as written, with kpush's field manager; its wave then adds the release's labels and
/// owns it as any other member. Returns the Namespace's key when it was created.
async fn create_release_namespace(
    d: &Deployer<'_>,
    release: &Release,
    manifests: &[Manifest],
) -> Result<Option<crate::manifest::ObjectKey>, DeployError> {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, Patch, PatchParams};

    let Some(defined) = crate::manifest::find_namespace(manifests, &release.namespace) else {
        return Ok(None);
    };
    let api: Api<Namespace> = Api::all(d.client.clone());
    let failed = |e: kube::Error| {
        let failure = crate::cluster::failure::classify(e);
        DeployError::new(
            super::error::of_store_error(&StoreError::Request {
                action: "create the namespace of",
                release: release.name.clone(),
                namespace: release.namespace.clone(),
                failure: failure.clone(),
            }),
            anyhow::anyhow!(
                "cannot create namespace {} ({}), which holds release {}'s lock and records: {}; nothing was applied",
                release.namespace,
                defined.origin.with_via(),
                release.name,
                failure.message()
            ),
        )
    };
    match api.get_opt(&release.namespace).await {
        Ok(Some(_)) => return Ok(None),
        Ok(None) => {}
        Err(e) => return Err(failed(e)),
    }
    let params = PatchParams::apply(&d.plan.field_manager);
    api.patch(&release.namespace, &params, &Patch::Apply(&defined.object))
        .await
        .map_err(failed)?;
    d.reporter.event(&Event::Info {
        message: format!(
            "created namespace {} first: it holds release {}'s lock and records",
            release.namespace, release.name
        ),
    });
    Ok(Some(defined.key()))
}

/// Stops the run when its lock was taken over: nothing more is recorded, pruned or rolled back
/// (`when` says where kpush stopped).
async fn still_held(
    lock: &lock::Lock,
    release: &Release,
    revision: u32,
    when: &str,
) -> Result<(), DeployError> {
    match lock.check().await {
        Ok(()) => Ok(()),
        // Unconfirmed (the Lease cannot be read): recording reports its own failure.
        Err(lost) if !lost.taken => Ok(()),
        Err(lost) => Err(DeployError::new(
            Outcome::Locked,
            anyhow::anyhow!(
                "release {}: {lost}. kpush stopped {when}: revision {revision} stays pending \
                 (the next deploy marks it interrupted) and the cluster may hold part of it. \
                 Two deploys of this release ran at once: check `kpush history {}` and the \
                 other deploy, then deploy again",
                release.name,
                release.name
            ),
        )),
    }
}

async fn locked(
    d: &Deployer<'_>,
    lock: &lock::Lock,
    release: &Release,
    settings: &ReleaseSettings,
    source: Source,
    run: &RunInfo,
) -> Result<Verdict, DeployError> {
    let sink: &dyn Sink = d.reporter;
    let store = Store::new(d.client, release).with_key(settings.record_key.clone());
    let mut history = store.history().await.map_err(store_error)?;
    skipped(sink, &history.unreadable);
    let (manifests, images, rollback_to) = match source {
        Source::Manifests(m) => {
            let images = crate::render::images::images(&m);
            (m, images, None)
        }
        Source::Revision(n) => {
            let r = pick(&history, n, &release.name)?;
            note(
                sink,
                ReleaseNote::RollingBack {
                    release: release.name.clone(),
                    failed: None,
                    to: r.revision,
                    commit: r.run.commit.clone(),
                    budget: None,
                },
            );
            let manifests = restorable(r, release, settings, sink)?;
            sink.event(&Event::Rendered {
                objects: manifests.len(),
                images: r.images.clone(),
            });
            if manifests.is_empty() {
                sink.event(&Event::Warning {
                    object: None,
                    message: format!(
                        "revision {} of release {} holds no objects; restoring it prunes the \
                         release's objects only with --allow-empty",
                        r.revision, release.name
                    ),
                });
            }
            (manifests, r.images.clone(), Some(r.revision))
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
    for revision in abandoned {
        note(
            sink,
            ReleaseNote::Abandoned {
                release: release.name.clone(),
                revision,
            },
        );
    }
    let number = recorder.number();
    let deployed = d.deploy(manifests).await;
    let when = match &deployed.result {
        Err(e) if e.outcome == Outcome::Locked => "before pruning (nothing was pruned)",
        _ => "before recording the revision's result",
    };
    still_held(lock, release, number, when).await?;
    let (status, message) = verdict(&deployed, rollback_to);
    let objects = records(&deployed);
    let rollback = settings.rollback_on_failure.filter(|_| {
        matches!(
            deployed.result,
            Ok(Verdict::RolloutFailed | Verdict::TimedOut)
        )
    });
    let Some(rollback_timeout) = rollback else {
        finish(sink, recorder, status, objects, message, release).await;
        return deployed.result;
    };
    // A target whose record fails the checks is not restored: the failed revision stays.
    let previous_success = match previous_success {
        Some(t) => match restorable(&t, release, settings, sink) {
            Ok(m) => Some((t, m)),
            Err(e) => {
                sink.event(&Event::Warning {
                    object: None,
                    message: format!("not rolled back: {}", e.error),
                });
                let message = Some(match message {
                    Some(m) => format!(
                        "{m}; not rolled back: revision {} failed kpush's checks",
                        t.revision
                    ),
                    None => format!(
                        "not rolled back: revision {} failed kpush's checks",
                        t.revision
                    ),
                });
                still_held(
                    lock,
                    release,
                    number,
                    "before recording the revision's result",
                )
                .await?;
                finish(sink, recorder, status, objects, message, release).await;
                return deployed.result;
            }
        },
        None => None,
    };
    let Some((target, restore)) = previous_success else {
        let nothing = ReleaseNote::NothingToRollBack {
            release: release.name.clone(),
            first: number == 1,
        };
        let why = nothing.text();
        note(sink, nothing);
        let message = Some(match message {
            Some(m) => format!("{m}; {why}"),
            None => why,
        });
        finish(sink, recorder, status, objects, message, release).await;
        return deployed.result;
    };
    let failed = finish(sink, recorder, status, objects, message, release).await;
    note(
        sink,
        ReleaseNote::RollingBack {
            release: release.name.clone(),
            failed: Some((number, status.word().to_string())),
            to: target.revision,
            commit: target.run.commit.clone(),
            budget: Some(rollback_timeout),
        },
    );
    still_held(lock, release, number, "before rolling back").await?;
    let (restored, n) = roll_back(
        d,
        lock,
        release,
        settings,
        &store,
        (&target, restore),
        rollback_timeout,
        run,
    )
    .await?;
    let failed_code = deployed
        .result
        .as_ref()
        .map_or(Outcome::Internal, |v| v.outcome());
    match restored {
        Status::Succeeded => {
            if let Some(mut failed) = failed {
                let text = format!(
                    "{status}; rolled back to revision {} (recorded as revision {n})",
                    target.revision
                );
                if let Err(e) = restatus(&store, &mut failed, Status::RolledBack, text).await {
                    note(
                        sink,
                        ReleaseNote::NotRecorded {
                            release: release.name.clone(),
                            revision: number,
                            reason: e.to_string(),
                        },
                    );
                }
            }
            Err(DeployError::new(
                Outcome::RolledBack,
                anyhow::anyhow!(
                    "release {}: revision {number} {status}; rolled back to revision {} \
                     (recorded as revision {n}), whose rollout is ready",
                    release.name,
                    target.revision
                ),
            ))
        }
        Status::Interrupted => Err(DeployError::new(
            Outcome::Interrupted,
            anyhow::anyhow!(
                "release {}: revision {number} {status}; the rollback to revision {} (revision \
                 {n}) was interrupted: the cluster may hold parts of both",
                release.name,
                target.revision
            ),
        )),
        other => Err(DeployError::new(
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
    d: &Deployer<'_>,
    lock: &lock::Lock,
    release: &Release,
    settings: &ReleaseSettings,
    store: &Store,
    (target, manifests): (&Revision, Vec<Manifest>),
    timeout: Duration,
    run: &RunInfo,
) -> Result<(Status, u32), DeployError> {
    let mut history = store.history().await.map_err(store_error)?;
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
    let when = match &deployed.result {
        Err(e) if e.outcome == Outcome::Locked => "before pruning (nothing was pruned)",
        _ => "before recording the rollback's result",
    };
    still_held(lock, release, number, when).await?;
    let (status, message) = verdict(&deployed, Some(target.revision));
    if let Err(e) = &deployed.result {
        d.reporter.event(&Event::Warning {
            object: None,
            message: format!("rollback to revision {}: {e}", target.revision),
        });
    }
    let objects = records(&deployed);
    finish(d.reporter, recorder, status, objects, message, release).await;
    Ok((status, number))
}

/// The manifests of `r` to restore, once its record passed the checks: its signature verifies
/// with `KPUSH_RECORD_KEY` (or `--trust-unverified-records`), and its objects obey the namespace
/// rules of a render (namespaced objects in the release's namespace unless
/// `--allow-other-namespaces`; cluster-scoped objects as for `apply`).
fn restorable(
    r: &Revision,
    release: &Release,
    settings: &ReleaseSettings,
    sink: &dyn Sink,
) -> Result<Vec<Manifest>, DeployError> {
    let record = format!(
        "{}/{}",
        release.namespace,
        crate::release::store::secret_name(&release.name, r.revision)
    );
    match &r.trust {
        Trust::Verified | Trust::New => {}
        Trust::Unchecked => sink.event(&Event::Warning {
            object: None,
            message: format!(
                "restoring revision {} of release {} from record {record}, which is not signed \
                 (KPUSH_RECORD_KEY is not set): kpush cannot tell it from a record written by \
                 anyone who may write Secrets in namespace {}; see docs/releases.md",
                r.revision, release.name, release.namespace
            ),
        }),
        Trust::Unverified(why) if settings.trust_unverified_records => {
            sink.event(&Event::Warning {
                object: None,
                message: format!(
                    "restoring revision {} of release {} although its record {record} does not \
                     verify ({why}): --trust-unverified-records",
                    r.revision, release.name
                ),
            })
        }
        Trust::Unverified(why) => {
            return Err(DeployError::new(
                Outcome::InvalidInput,
                anyhow::anyhow!(
                    "release {}: refusing to restore revision {}: its record {record} does not \
                     verify with KPUSH_RECORD_KEY: {why}. Anyone who may write Secrets in \
                     namespace {} can write such a record, and restoring it applies its objects \
                     with this pipeline's rights. Inspect it (`kpush history {} -o json`); if \
                     you trust it, pass --trust-unverified-records \
                     (KPUSH_TRUST_UNVERIFIED_RECORDS=true); nothing was applied",
                    release.name,
                    r.revision,
                    release.namespace,
                    release.name
                ),
            ));
        }
    }
    let mut manifests = r.manifests();
    let mut problems = Vec::new();
    crate::render::namespace::apply(
        &mut manifests,
        &release.namespace,
        settings.allow_other_namespaces,
        &mut problems,
    );
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        return Err(DeployError::new(
            Outcome::InvalidInput,
            anyhow::anyhow!(
                "release {}: refusing to restore revision {} (record {record}): its objects do not \
                 obey the namespace rules of a render in namespace {}:\n{}\nnothing was applied; \
                 pass --allow-other-namespaces if the release really spans namespaces",
                release.name,
                r.revision,
                release.namespace,
                list.join("\n")
            ),
        ));
    }
    Ok(manifests)
}

/// Completes a revision; a failure to write is reported (the deploy itself happened).
async fn finish(
    sink: &dyn Sink,
    recorder: Recorder,
    status: Status,
    objects: Vec<ObjectRecord>,
    message: Option<String>,
    release: &Release,
) -> Option<Revision> {
    let revision = recorder.number();
    match recorder.finish(status, objects, message).await {
        Ok((stored, _)) => {
            note(
                sink,
                ReleaseNote::Recorded {
                    release: release.name.clone(),
                    revision,
                    status: status.word().to_string(),
                },
            );
            Some(stored)
        }
        Err(e) => {
            note(
                sink,
                ReleaseNote::NotRecorded {
                    release: release.name.clone(),
                    revision,
                    reason: e.to_string(),
                },
            );
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
        Ok(Verdict::Success) => (Status::Succeeded, None),
        Ok(Verdict::RolloutFailed) => (Status::Failed, Some("a rollout failed".to_string())),
        Ok(Verdict::TimedOut) => (
            Status::TimedOut,
            Some("a rollout did not finish in time".to_string()),
        ),
        Ok(Verdict::Unknown) => (
            Status::Failed,
            Some(
                "the API server became unreachable while kpush watched the rollout; its outcome is unknown"
                    .to_string(),
            ),
        ),
        Ok(Verdict::Interrupted) => (
            Status::Interrupted,
            Some("interrupted while waiting for the rollout".to_string()),
        ),
        Ok(other) => (Status::Failed, Some(format!("{other:?}"))),
        Err(e) if e.outcome == Outcome::Interrupted => (Status::Interrupted, Some(e.to_string())),
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
        group: o.object.key.group.clone(),
        kind: o.object.key.kind.clone(),
        namespace: o
            .target
            .as_ref()
            .and_then(|t| t.namespace.clone())
            .or_else(|| o.object.key.namespace.clone()),
        name: o.object.key.name.clone(),
        action: o.action.word().to_string(),
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
pub fn pick<'h>(
    history: &'h History,
    n: Option<u32>,
    release: &str,
) -> Result<&'h Revision, DeployError> {
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
    found.map_err(|e| DeployError::new(Outcome::InvalidInput, e))
}
