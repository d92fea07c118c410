//! Recording one run of a release: mark revisions left pending by dead runs as interrupted,
//! write the new revision pending, complete it with the verdict, then cap the history.

use super::Release;
use super::revision::{FORMAT, ObjectRecord, Revision, RunInfo, Status, now, store_manifests};
use super::store::{History, Store, StoreError, Unreadable};
use crate::manifest::Manifest;

/// What the new revision is.
#[derive(Debug, Clone)]
pub struct Begin<'a> {
    /// The manifests as they will be applied.
    pub manifests: &'a [Manifest],
    /// Container images they deploy.
    pub images: Vec<String>,
    /// The run.
    pub run: RunInfo,
    /// For a rollback: the revision re-applied.
    pub rollback_to: Option<u32>,
}

/// A revision being recorded (call [`Recorder::finish`]).
pub struct Recorder {
    store: Store,
    revision: Revision,
    history_max: usize,
}

impl Recorder {
    /// Marks revisions of `history` left pending (their run died: this run holds the lock) as
    /// interrupted, then writes the new revision as pending; returns the recorder and the
    /// numbers of the abandoned revisions.
    pub async fn begin(
        store: &Store,
        release: &Release,
        begin: Begin<'_>,
        history_max: usize,
        history: &mut History,
    ) -> Result<(Recorder, Vec<u32>), StoreError> {
        let mut abandoned = Vec::new();
        for r in history.revisions.iter_mut() {
            if r.status == Status::Pending {
                r.status = Status::Interrupted;
                r.message = Some(
                    "its kpush stopped before recording the result (killed, or lost its \
                     connection); the cluster may hold part of this revision"
                        .into(),
                );
                store.update(r).await?;
                abandoned.push(r.revision);
            }
        }
        let revision = Revision {
            format: FORMAT,
            release: release.name.clone(),
            namespace: release.namespace.clone(),
            revision: history.next_number(),
            status: Status::Pending,
            rollback_to: begin.rollback_to,
            message: None,
            kpush_version: env!("CARGO_PKG_VERSION").into(),
            run: begin.run,
            started_at: now(),
            finished_at: None,
            images: begin.images,
            objects: Vec::new(),
            manifests: store_manifests(begin.manifests),
            trust: Default::default(),
        };
        store.create(&revision).await?;
        Ok((
            Recorder {
                store: store.clone(),
                revision,
                history_max,
            },
            abandoned,
        ))
    }

    /// The revision number being recorded.
    pub fn number(&self) -> u32 {
        self.revision.revision
    }

    /// Completes the revision and deletes the oldest beyond `--history-max`; returns the
    /// revision as stored and the records skipped while capping.
    pub async fn finish(
        mut self,
        status: Status,
        objects: Vec<ObjectRecord>,
        message: Option<String>,
    ) -> Result<(Revision, Vec<Unreadable>), StoreError> {
        self.revision.status = status;
        self.revision.objects = objects;
        self.revision.message = message;
        self.revision.finished_at = Some(now());
        self.store.update(&self.revision).await?;
        let history = self.store.history().await?;
        self.store.delete(&history.beyond(self.history_max)).await?;
        Ok((self.revision, history.unreadable))
    }
}

/// Changes the status of an already completed revision (a failed one that was rolled back).
pub async fn restatus(
    store: &Store,
    revision: &mut Revision,
    status: Status,
    message: String,
) -> Result<(), StoreError> {
    revision.status = status;
    revision.message = Some(message);
    store.update(revision).await
}
