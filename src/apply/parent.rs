//! The ApplySet parent's record of member kinds and namespaces, kept before, during and after
//! an apply: read first, the union of old and new recorded before the first change, exactly
//! the current set recorded after a prune.

use std::collections::BTreeSet;

use kube::Client;

use super::{ApplyError, prune};
use crate::cluster::RetryPolicy;
use crate::manifest::ObjectKey;
use crate::plan::applyset::{self, ApplySet};
use crate::plan::{Plan, Wave};

/// What the parent records, and whether the union has been written yet.
pub struct ParentRecord {
    set: Option<ApplySet>,
    retry: RetryPolicy,
    manager: String,
    new_kinds: BTreeSet<String>,
    new_namespaces: BTreeSet<String>,
    union_kinds: BTreeSet<String>,
    union_namespaces: BTreeSet<String>,
    written: bool,
    /// The parent known to be on the server: as read, or as last written.
    on_server: Option<serde_json::Value>,
}

impl ParentRecord {
    /// Reads the parent (if the plan has an ApplySet) and computes the union of old and new.
    pub async fn read(client: &Client, plan: &Plan) -> Result<Self, ApplyError> {
        let recorded = match &plan.options.applyset {
            Some(set) => {
                let parent = prune::read_parent(client, plan.options.retry, set)
                    .await
                    .map_err(|e| ApplyError::ApplySet(e.to_string()))?;
                return Ok(Self::recorded(
                    plan,
                    prune::recorded(parent.as_ref()),
                    parent,
                ));
            }
            None => Default::default(),
        };
        Ok(Self::recorded(plan, recorded, None))
    }

    /// The record of a parent already read and checked (by [`prune::preview`], under the
    /// release's lock): the kinds and namespaces it recorded, and the parent as read.
    pub fn recorded(
        plan: &Plan,
        recorded: (BTreeSet<String>, BTreeSet<String>),
        parent: Option<serde_json::Value>,
    ) -> Self {
        let (new_kinds, new_namespaces) = plan.group_kinds_and_namespaces();
        let (old_kinds, old_namespaces) = recorded;
        Self {
            union_kinds: old_kinds.union(&new_kinds).cloned().collect(),
            union_namespaces: old_namespaces.union(&new_namespaces).cloned().collect(),
            set: plan.options.applyset.clone(),
            retry: plan.options.retry,
            manager: plan.options.field_manager.clone(),
            new_kinds,
            new_namespaces,
            written: false,
            on_server: parent,
        }
    }

    /// Whether the server already has the parent recording `kinds` and `namespaces` exactly as
    /// kpush would apply it (then the apply is left out: an unchanged deploy writes nothing).
    fn current(&self, kinds: &BTreeSet<String>, namespaces: &BTreeSet<String>) -> bool {
        match (&self.set, &self.on_server) {
            (Some(set), Some(live)) => {
                applyset::parent_is_current(live, &set.parent(kinds, namespaces), &self.manager)
            }
            _ => false,
        }
    }

    /// The ApplySet, if any.
    pub fn set(&self) -> Option<&ApplySet> {
        self.set.as_ref()
    }

    /// Old and new kinds and namespaces together: where members may be.
    pub fn union(&self) -> (&BTreeSet<String>, &BTreeSet<String>) {
        (&self.union_kinds, &self.union_namespaces)
    }

    /// Records the union before `wave` changes anything (once). The parent's namespace may be
    /// created by the first wave: then it is written after that wave instead.
    pub async fn record_before(
        &mut self,
        client: &Client,
        wave: Option<Wave>,
    ) -> Result<(), ApplyError> {
        let Some(set) = self.set.as_ref().filter(|_| !self.written) else {
            return Ok(());
        };
        if self.current(&self.union_kinds, &self.union_namespaces) {
            self.written = true;
            return Ok(());
        }
        let written = prune::write_parent(
            client,
            self.retry,
            &self.manager,
            set,
            &self.union_kinds,
            &self.union_namespaces,
        )
        .await;
        match written {
            Ok(live) => {
                self.written = true;
                self.on_server = Some(live);
                Ok(())
            }
            Err(f) if f.is_not_found() && wave == Some(Wave::Foundation) => Ok(()),
            Err(f) => Err(ApplyError::ApplySet(format!(
                "cannot write the parent Secret {}/{}: {f}",
                set.namespace, set.name
            ))),
        }
    }

    /// After a prune: records exactly the current members, plus the `kept` ones.
    pub async fn record_final(
        &self,
        client: &Client,
        kept: &[&ObjectKey],
    ) -> Result<(), ApplyError> {
        let Some(set) = &self.set else {
            return Ok(());
        };
        let mut kinds = self.new_kinds.clone();
        let mut namespaces = self.new_namespaces.clone();
        for key in kept {
            kinds.insert(applyset::group_kind(&key.group, &key.kind));
            if let Some(ns) = &key.namespace {
                namespaces.insert(ns.clone());
            }
        }
        if self.written && self.current(&kinds, &namespaces) {
            return Ok(());
        }
        prune::write_parent(client, self.retry, &self.manager, set, &kinds, &namespaces)
            .await
            .map(|_| ())
            .map_err(|f| ApplyError::ApplySet(format!("cannot update the parent Secret: {f}")))
    }
}
