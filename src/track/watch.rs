//! The watches a tracking run stands on: one per (resource, namespace) for the tracked objects,
//! and one per namespace for pods, ReplicaSets and events.
//!
//! Every watch is a [`watch_stream`](super::watch_stream): it lists, then watches from the
//! list's resource version, resumes after the API server closes the connection, and re-lists
//! (announced by `Init` … `InitDone`) when the resource version has expired or nothing arrived
//! for longer than the progress deadline. Errors are passed on (and retried with back-off) so
//! the run can tell a forbidden watch from a flaky one.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::watcher;
use kube::{Client, Resource};

use super::targets::TrackTarget;
use super::watch_stream::{self, Output, Patience};

/// Which watch an update came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// The object watch with this index in the run's feed plan.
    Object(usize),
    /// Pods of a namespace.
    Pods(String),
    /// ReplicaSets of a namespace.
    ReplicaSets(String),
    /// Events of a namespace.
    Events(String),
}

/// One watch event, typed by what is watched.
#[derive(Debug)]
pub(crate) enum Item {
    /// A tracked object (or its neighbours of the same kind).
    Object(watcher::Event<DynamicObject>),
    /// A pod.
    Pod(watcher::Event<Pod>),
    /// A ReplicaSet.
    ReplicaSet(watcher::Event<ReplicaSet>),
    /// A core/v1 Event.
    Event(watcher::Event<CoreEvent>),
    /// The watch heard nothing for this long, was re-established and has re-listed.
    Recovered(Duration),
    /// The run's retry budget refused to re-establish the watch: it has ended.
    GaveUp,
}

/// What a watch produced: an event, a note, or an error (after which it retries by itself).
#[derive(Debug)]
pub(crate) struct Update {
    /// Which watch.
    pub source: Source,
    /// What it produced.
    pub item: Result<Item, watcher::Error>,
}

/// A running watch.
pub(crate) type Feed = BoxStream<'static, Update>;

/// One object watch: all objects of `resource` in `namespace`, or only `name`.
#[derive(Debug, Clone)]
pub(crate) struct ObjectFeed {
    /// What to watch.
    pub resource: ApiResource,
    /// Where (`None`: cluster-scoped).
    pub namespace: Option<String>,
    /// Set when only one object of this resource and namespace is tracked: the watch then uses
    /// the field selector `metadata.name=<name>`.
    pub name: Option<String>,
}

/// Groups targets into object watches; returns the watches and, per target, its watch's index.
pub(crate) fn plan_object_feeds(targets: &[TrackTarget]) -> (Vec<ObjectFeed>, Vec<usize>) {
    let mut feeds: Vec<ObjectFeed> = Vec::new();
    let mut of_target = Vec::with_capacity(targets.len());
    for t in targets {
        let same = |f: &ObjectFeed| {
            f.resource.group == t.resource.group
                && f.resource.version == t.resource.version
                && f.resource.plural == t.resource.plural
                && f.namespace.as_deref() == t.namespace()
        };
        match feeds.iter().position(same) {
            Some(i) => {
                if feeds[i].name.as_deref() != Some(t.name()) {
                    feeds[i].name = None;
                }
                of_target.push(i);
            }
            None => {
                feeds.push(ObjectFeed {
                    resource: t.resource.clone(),
                    namespace: t.namespace().map(str::to_string),
                    name: Some(t.name().to_string()),
                });
                of_target.push(feeds.len() - 1);
            }
        }
    }
    (feeds, of_target)
}

impl ObjectFeed {
    /// What the watch covers, for messages: `Deployment shop/web`, `deployments in shop`.
    pub fn describe(&self) -> String {
        match (&self.name, &self.namespace) {
            (Some(name), Some(ns)) => format!("{} {ns}/{name}", self.resource.kind),
            (Some(name), None) => format!("{} {name}", self.resource.kind),
            (None, Some(ns)) => format!("{} in {ns}", self.resource.plural),
            (None, None) => self.resource.plural.clone(),
        }
    }
}

impl Source {
    /// What the watch covers, for messages; object watches are described by `objects`.
    pub fn describe(&self, objects: &[ObjectFeed]) -> String {
        match self {
            Source::Object(i) => objects
                .get(*i)
                .map(ObjectFeed::describe)
                .unwrap_or_else(|| "tracked objects".to_string()),
            Source::Pods(ns) => format!("pods in {ns}"),
            Source::ReplicaSets(ns) => format!("replicasets in {ns}"),
            Source::Events(ns) => format!("events in {ns}"),
        }
    }
}

/// Starts the watch for object feed `index`.
pub(crate) fn object_feed(
    client: &Client,
    index: usize,
    feed: &ObjectFeed,
    patience: Patience,
) -> Feed {
    let api: Api<DynamicObject> = match &feed.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &feed.resource),
        None => Api::all_with(client.clone(), &feed.resource),
    };
    let fields = feed
        .name
        .as_ref()
        .map(|name| format!("metadata.name={name}"));
    start(
        watch_stream::watch(api, None, fields.as_deref(), patience),
        Source::Object(index),
        Item::Object,
    )
}

/// Starts the pod watch of `namespace`, narrowed by a label selector when one is given.
pub(crate) fn pod_feed(
    client: &Client,
    namespace: &str,
    selector: Option<&str>,
    patience: Patience,
) -> Feed {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    start(
        watch_stream::watch(api, selector, None, patience),
        Source::Pods(namespace.to_string()),
        Item::Pod,
    )
}

/// Starts the ReplicaSet watch of `namespace`, narrowed by a label selector when one is given.
pub(crate) fn replica_set_feed(
    client: &Client,
    namespace: &str,
    selector: Option<&str>,
    patience: Patience,
) -> Feed {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    start(
        watch_stream::watch(api, selector, None, patience),
        Source::ReplicaSets(namespace.to_string()),
        Item::ReplicaSet,
    )
}

/// Starts the core/v1 Event watch of `namespace`.
pub(crate) fn event_feed(client: &Client, namespace: &str, patience: Patience) -> Feed {
    let api: Api<CoreEvent> = Api::namespaced(client.clone(), namespace);
    start(
        watch_stream::watch(api, None, None, patience),
        Source::Events(namespace.to_string()),
        Item::Event,
    )
}

fn start<K>(
    stream: BoxStream<'static, Output<K>>,
    source: Source,
    wrap: fn(watcher::Event<K>) -> Item,
) -> Feed
where
    K: Resource + Send + 'static,
{
    stream
        .map(move |out| Update {
            source: source.clone(),
            item: match out {
                Output::Event(e) => Ok(wrap(e)),
                Output::Error(e) => Err(e),
                Output::Recovered(silent) => Ok(Item::Recovered(silent)),
                Output::GaveUp => Ok(Item::GaveUp),
            },
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ObjectRef;
    use crate::manifest::ObjectKey;
    use kube::core::GroupVersionKind;

    fn target(kind: &str, ns: &str, name: &str) -> TrackTarget {
        let gvk = GroupVersionKind::gvk("apps", "v1", kind);
        let key = ObjectKey {
            group: "apps".into(),
            kind: kind.into(),
            namespace: Some(ns.into()),
            name: name.into(),
        };
        TrackTarget::from_parts(
            ObjectRef::new(key.clone(), None),
            ApiResource::from_gvk(&gvk),
            Some(ns.into()),
            false,
            None,
        )
    }

    #[test]
    fn one_object_of_a_kind_is_watched_by_name_several_by_namespace() {
        let targets = [
            target("Deployment", "a", "web"),
            target("StatefulSet", "a", "db"),
            target("Deployment", "a", "api"),
            target("Deployment", "b", "web"),
        ];
        let (feeds, of_target) = plan_object_feeds(&targets);
        assert_eq!(of_target, vec![0, 1, 0, 2]);
        assert_eq!(
            feeds[0].name, None,
            "two Deployments in a: watch the namespace"
        );
        assert_eq!(feeds[1].name.as_deref(), Some("db"));
        assert_eq!(feeds[2].name.as_deref(), Some("web"));
    }

    #[test]
    fn watches_are_named_by_what_they_cover() {
        let (feeds, _) = plan_object_feeds(&[
            target("Deployment", "shop", "web"),
            target("StatefulSet", "shop", "db"),
            target("StatefulSet", "shop", "cache"),
        ]);
        assert_eq!(Source::Object(0).describe(&feeds), "Deployment shop/web");
        assert_eq!(Source::Object(1).describe(&feeds), "statefulsets in shop");
        assert_eq!(Source::Pods("shop".into()).describe(&feeds), "pods in shop");
    }
}
