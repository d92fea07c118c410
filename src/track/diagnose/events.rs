//! Picking the events that concern one pod or container, and the most telling of them.

use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::Timestamp;

/// The events whose involved object is `pod` (matched by name, and by namespace and uid when
/// both sides carry them).
pub(super) fn of_pod<'a>(pod: &Pod, events: &'a [Event]) -> Vec<&'a Event> {
    let Some(name) = pod.metadata.name.as_deref() else {
        return Vec::new();
    };
    let agree = |a: Option<&str>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    events
        .iter()
        .filter(|e| {
            let o = &e.involved_object;
            o.kind.as_deref().is_none_or(|k| k == "Pod")
                && o.name.as_deref() == Some(name)
                && agree(o.namespace.as_deref(), pod.metadata.namespace.as_deref())
                && agree(o.uid.as_deref(), pod.metadata.uid.as_deref())
        })
        .collect()
}

/// True when the event is about `container` or about the pod as a whole.
pub(super) fn concerns_container(e: &Event, container: &str) -> bool {
    match e.involved_object.field_path.as_deref() {
        Some(path) if !path.is_empty() => path
            .split_once('{')
            .and_then(|(_, rest)| rest.strip_suffix('}'))
            .is_some_and(|name| name == container),
        _ => true,
    }
}

/// When the event last happened, from the newest timestamp it carries.
pub(super) fn last_seen(e: &Event) -> Option<Timestamp> {
    [
        e.series
            .as_ref()
            .and_then(|s| s.last_observed_time.as_ref())
            .map(|t| t.0),
        e.last_timestamp.as_ref().map(|t| t.0),
        e.event_time.as_ref().map(|t| t.0),
        e.first_timestamp.as_ref().map(|t| t.0),
        e.metadata.creation_timestamp.as_ref().map(|t| t.0),
    ]
    .into_iter()
    .flatten()
    .max()
}

/// How many times the event happened.
pub(super) fn occurrences(e: &Event) -> i32 {
    e.series
        .as_ref()
        .and_then(|s| s.count)
        .or(e.count)
        .unwrap_or(1)
        .max(1)
}

/// The newest event's non-empty message among those that `keep`.
pub(super) fn latest_message<'a>(
    events: &[&'a Event],
    keep: impl Fn(&Event) -> bool,
) -> Option<&'a str> {
    events
        .iter()
        .filter(|e| keep(e) && e.message.as_deref().is_some_and(|m| !m.is_empty()))
        .max_by_key(|e| last_seen(e))
        .and_then(|e| e.message.as_deref())
}

/// True when the event's reason is one of `reasons`.
pub(super) fn has_reason(e: &Event, reasons: &[&str]) -> bool {
    e.reason.as_deref().is_some_and(|r| reasons.contains(&r))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn events_of_other_pods_or_namesakes_are_ignored() {
        let p = pod(json!({}), json!({}));
        let mine = event("Failed", "mine", true, 5, 1);
        let mut other_pod = event("Failed", "other", true, 5, 1);
        other_pod.involved_object.name = Some("web-other".into());
        let mut namesake = event("Failed", "old pod of the same name", true, 5, 1);
        namesake.involved_object.uid = Some("older-uid".into());
        let all = [mine, other_pod, namesake];
        let found = of_pod(&p, &all);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].message.as_deref(), Some("mine"));
    }

    #[test]
    fn container_events_are_matched_by_field_path() {
        let e = event("Failed", "x", true, 5, 1);
        assert!(concerns_container(&e, "app"));
        assert!(!concerns_container(&e, "sidecar"));
        let pod_level = event("FailedScheduling", "x", false, 5, 1);
        assert!(concerns_container(&pod_level, "sidecar"));
    }

    #[test]
    fn latest_message_prefers_the_newest_event() {
        let old = event("Failed", "old", true, 50, 1);
        let new = event("Failed", "new", true, 5, 1);
        let events = [&old, &new];
        assert_eq!(latest_message(&events, |_| true), Some("new"));
    }
}
