//! An in-memory copy of what one watch has seen, kept right across re-lists.

use std::collections::BTreeMap;

use kube::Resource;
use kube::runtime::watcher;

/// The objects one watch has seen, keyed by `namespace/name`.
///
/// A re-list (after the API server closed the watch and its resource version expired) is
/// buffered and swapped in whole at `InitDone`, so objects missing from it count as deleted and
/// a half-finished re-list never shows as an empty store.
#[derive(Debug)]
pub(crate) struct Store<K> {
    items: BTreeMap<String, K>,
    relist: Option<BTreeMap<String, K>>,
    synced: bool,
    error: Option<watcher::Error>,
    given_up: bool,
}

impl<K> Default for Store<K> {
    fn default() -> Self {
        Self {
            items: BTreeMap::new(),
            relist: None,
            synced: false,
            error: None,
            given_up: false,
        }
    }
}

impl<K: Resource> Store<K> {
    /// Applies one watch event.
    pub fn apply(&mut self, event: watcher::Event<K>) {
        match event {
            watcher::Event::Init => self.relist = Some(BTreeMap::new()),
            watcher::Event::InitApply(obj) => {
                let key = key_of(&obj);
                match &mut self.relist {
                    Some(buffer) => buffer.insert(key, obj),
                    None => self.items.insert(key, obj),
                };
            }
            watcher::Event::InitDone => {
                if let Some(buffer) = self.relist.take() {
                    self.items = buffer;
                }
                self.synced = true;
                self.error = None;
            }
            watcher::Event::Apply(obj) => {
                self.items.insert(key_of(&obj), obj);
                self.error = None;
            }
            watcher::Event::Delete(obj) => {
                self.items.remove(&key_of(&obj));
            }
        }
    }

    /// Remembers the latest error; the watch retries by itself.
    pub fn failed(&mut self, error: watcher::Error) {
        self.error = Some(error);
    }

    /// The watch ended for good (the run's retry budget refused to re-establish it).
    pub fn give_up(&mut self) {
        self.given_up = true;
    }

    /// Whether the watch ended for good: what the store holds will not change any more.
    pub fn given_up(&self) -> bool {
        self.given_up
    }

    /// True once a complete list has been received.
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// The latest error, cleared by the next successful event.
    pub fn error(&self) -> Option<&watcher::Error> {
        self.error.as_ref()
    }

    /// The object `name` in `namespace`.
    pub fn get(&self, namespace: Option<&str>, name: &str) -> Option<&K> {
        self.items
            .get(&format!("{}/{name}", namespace.unwrap_or("")))
    }

    /// All objects, ordered by namespace and name.
    pub fn values(&self) -> impl Iterator<Item = &K> {
        self.items.values()
    }
}

fn key_of<K: Resource>(obj: &K) -> String {
    let meta = obj.meta();
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

/// The HTTP status code of a watch error, when the API server answered.
pub(crate) fn error_code(error: &watcher::Error) -> Option<u16> {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        watcher::Error::WatchError(s) => Some(s.code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn cm(name: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some("ns".into());
        c
    }

    #[test]
    fn relist_replaces_the_contents_only_when_complete() {
        let mut s = Store::default();
        s.apply(watcher::Event::Init);
        s.apply(watcher::Event::InitApply(cm("a")));
        s.apply(watcher::Event::InitApply(cm("b")));
        assert!(!s.synced());
        s.apply(watcher::Event::InitDone);
        assert!(s.synced());
        assert_eq!(s.values().count(), 2);
        // The watch is re-listed: until InitDone the old contents stay visible.
        s.apply(watcher::Event::Init);
        s.apply(watcher::Event::InitApply(cm("b")));
        assert!(s.get(Some("ns"), "a").is_some());
        s.apply(watcher::Event::InitDone);
        assert!(
            s.get(Some("ns"), "a").is_none(),
            "missing from the re-list: deleted"
        );
        assert!(s.get(Some("ns"), "b").is_some());
    }

    #[test]
    fn apply_and_delete_update_the_store() {
        let mut s = Store::default();
        s.apply(watcher::Event::Apply(cm("a")));
        assert!(s.get(Some("ns"), "a").is_some());
        s.apply(watcher::Event::Delete(cm("a")));
        assert!(s.get(Some("ns"), "a").is_none());
    }
}
