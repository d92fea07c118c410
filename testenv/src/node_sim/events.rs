//! core/v1 Events, recorded and aggregated (count, lastTimestamp) like client-go's recorder.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event, Pod, Service};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::log::SimLog;

/// Who records an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Kubelet,
    Scheduler,
    ServiceController,
}

impl Source {
    fn component(self) -> &'static str {
        match self {
            Source::Kubelet => "kubelet",
            Source::Scheduler => "default-scheduler",
            Source::ServiceController => "service-controller",
        }
    }
}

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Involved {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: Option<String>,
    pub field_path: Option<String>,
}

impl Involved {
    pub fn pod(pod: &Pod) -> Involved {
        Involved {
            kind: "Pod",
            namespace: pod.namespace().unwrap_or_default(),
            name: pod.name_any(),
            uid: pod.uid().unwrap_or_default(),
            resource_version: pod.resource_version(),
            field_path: None,
        }
    }

    pub fn service(svc: &Service) -> Involved {
        Involved {
            kind: "Service",
            namespace: svc.namespace().unwrap_or_default(),
            name: svc.name_any(),
            uid: svc.uid().unwrap_or_default(),
            resource_version: svc.resource_version(),
            field_path: None,
        }
    }

    pub fn with_field_path(&self, field_path: Option<String>) -> Involved {
        Involved {
            field_path,
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    uid: String,
    field_path: Option<String>,
    source: Source,
    warning: bool,
    reason: String,
    message: String,
}

#[derive(Debug, Clone)]
struct Recorded {
    name: String,
    count: i32,
}

/// Creates Events, and bumps `count`/`lastTimestamp` when the same event repeats.
pub struct EventRecorder {
    client: kube::Client,
    node_name: String,
    log: Arc<SimLog>,
    seen: Mutex<HashMap<Key, Recorded>>,
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl EventRecorder {
    pub fn new(client: kube::Client, node_name: String, log: Arc<SimLog>) -> EventRecorder {
        EventRecorder {
            client,
            node_name,
            log,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records an event; failures are logged, never returned.
    pub async fn record(
        &self,
        involved: &Involved,
        source: Source,
        warning: bool,
        reason: &str,
        message: &str,
    ) {
        let key = Key {
            uid: involved.uid.clone(),
            field_path: involved.field_path.clone(),
            source,
            warning,
            reason: reason.to_string(),
            message: message.to_string(),
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &involved.namespace);
        let previous = self.lock().get(&key).cloned();
        if let Some(previous) = previous {
            let count = previous.count + 1;
            let patch = json!({"count": count, "lastTimestamp": now()});
            match api
                .patch(
                    &previous.name,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => {
                    self.lock().insert(
                        key,
                        Recorded {
                            name: previous.name,
                            count,
                        },
                    );
                    return;
                }
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => {
                    self.log.line(format_args!(
                        "updating event {}/{}: {e}",
                        involved.namespace, previous.name
                    ));
                    return;
                }
            }
        }
        let event = self.event(involved, source, warning, reason, message);
        match api.create(&PostParams::default(), &event).await {
            Ok(created) => {
                self.lock().insert(
                    key,
                    Recorded {
                        name: created.name_any(),
                        count: 1,
                    },
                );
            }
            Err(e) => self.log.line(format_args!(
                "creating event {reason} for {} {}/{}: {e}",
                involved.kind, involved.namespace, involved.name
            )),
        }
    }

    /// Forgets the events of an object that is gone.
    pub fn forget(&self, uid: &str) {
        self.lock().retain(|k, _| k.uid != uid);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Recorded>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn event(
        &self,
        involved: &Involved,
        source: Source,
        warning: bool,
        reason: &str,
        message: &str,
    ) -> Event {
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let name = format!("{}.{:x}", involved.name, nanos);
        let mut object_ref = json!({
            "apiVersion": "v1",
            "kind": involved.kind,
            "namespace": involved.namespace,
            "name": involved.name,
            "uid": involved.uid,
        });
        if let Some(rv) = &involved.resource_version {
            object_ref["resourceVersion"] = json!(rv);
        }
        if let Some(fp) = &involved.field_path {
            object_ref["fieldPath"] = json!(fp);
        }
        let (source_json, instance) = match source {
            Source::Kubelet => (
                json!({"component": "kubelet", "host": self.node_name}),
                self.node_name.clone(),
            ),
            other => (json!({"component": other.component()}), String::new()),
        };
        let stamp = now();
        let value = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": involved.namespace},
            "involvedObject": object_ref,
            "reason": reason,
            "message": message,
            "type": if warning { "Warning" } else { "Normal" },
            "source": source_json,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "eventTime": null,
            "reportingComponent": source.component(),
            "reportingInstance": instance,
        });
        // The JSON above always matches the Event schema; fall back to a bare event otherwise.
        serde_json::from_value(value).unwrap_or_else(|_| Event {
            metadata: kube::api::ObjectMeta {
                name: Some(format!("{}.{:x}", involved.name, nanos)),
                namespace: Some(involved.namespace.clone()),
                ..Default::default()
            },
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            ..Default::default()
        })
    }
}
