//! PersistentVolumeClaim: bound, or waiting for its first consumer by design.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;

use super::Readiness;

/// Whether a PersistentVolumeClaim is ready, given its StorageClass if known.
///
/// `Bound` is ready and `Lost` fails. A `Pending` claim is ready when its class binds with
/// `WaitForFirstConsumer` (it stays pending until a pod uses it, and that pod's rollout is
/// what to wait for); otherwise it waits. A class whose name differs from the claim's
/// `storageClassName` is ignored.
pub fn persistent_volume_claim(
    pvc: &PersistentVolumeClaim,
    storage_class: Option<&StorageClass>,
) -> Readiness {
    let phase = pvc
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending");
    match phase {
        "Bound" => Readiness::Ready,
        "Lost" => Readiness::failed(
            "ClaimLost",
            "the claim's PersistentVolume no longer exists; the data may be gone",
        ),
        _ if waits_for_first_consumer(pvc, storage_class) => Readiness::Ready,
        _ => {
            let class = pvc
                .spec
                .as_ref()
                .and_then(|s| s.storage_class_name.as_deref());
            Readiness::in_progress(match class {
                Some(c) => format!("waiting for a volume to be bound (storage class {c})"),
                None => "waiting for a volume to be bound".to_string(),
            })
        }
    }
}

/// A waiting claim's message, followed by why from the newest Warning event about it (the
/// persistent-volume controller's `ProvisioningFailed` / `FailedBinding`: a StorageClass that
/// does not exist, no StorageClass and no matching volume). `events` are `(reason, message)`,
/// oldest first.
pub fn explained(readiness: Readiness, events: &[(&str, &str)]) -> Readiness {
    match (readiness, events.last()) {
        (Readiness::InProgress { message }, Some((reason, why))) => {
            let advice = if why.contains("storageclass") && why.contains("not found") {
                ": create that StorageClass or set spec.storageClassName to one the cluster has \
                 (kubectl get storageclass)"
            } else if why.contains("no storage class is set") {
                ": the cluster has no default StorageClass; set spec.storageClassName, or create \
                 a PersistentVolume the claim can bind to"
            } else {
                ""
            };
            Readiness::in_progress(format!("{message} ({reason}: {why}{advice})"))
        }
        (other, _) => other,
    }
}

fn waits_for_first_consumer(pvc: &PersistentVolumeClaim, class: Option<&StorageClass>) -> bool {
    let Some(class) = class else {
        return false;
    };
    let claim_class = pvc
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref());
    let names_match = match (claim_class, class.metadata.name.as_deref()) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    names_match && class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_claim_quotes_the_controllers_event_with_advice() {
        let r = explained(
            Readiness::in_progress("waiting for a volume to be bound (storage class slow)"),
            &[(
                "ProvisioningFailed",
                "storageclass.storage.k8s.io \"slow\" not found",
            )],
        );
        let Readiness::InProgress { message } = r else {
            panic!("still waiting")
        };
        assert!(message.contains("ProvisioningFailed: storageclass.storage.k8s.io \"slow\" not found: create that StorageClass"), "{message}");
        assert_eq!(
            explained(Readiness::Ready, &[("FailedBinding", "x")]),
            Readiness::Ready
        );
    }
    use serde_json::json;

    fn claim(phase: &str) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {"storageClassName": "managed-csi"},
            "status": {"phase": phase},
        }))
        .expect("fixture")
    }

    fn class(name: &str, mode: &str) -> StorageClass {
        serde_json::from_value(json!({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name},
            "provisioner": "disk.csi.azure.com",
            "volumeBindingMode": mode,
        }))
        .expect("fixture")
    }

    #[test]
    fn bound_claim_is_ready() {
        assert_eq!(
            persistent_volume_claim(&claim("Bound"), None),
            Readiness::Ready
        );
    }

    #[test]
    fn lost_claim_fails() {
        assert!(persistent_volume_claim(&claim("Lost"), None).is_failed());
    }

    #[test]
    fn pending_claim_waits_for_immediate_binding() {
        let c = class("managed-csi", "Immediate");
        assert_eq!(
            persistent_volume_claim(&claim("Pending"), Some(&c)),
            Readiness::in_progress("waiting for a volume to be bound (storage class managed-csi)")
        );
        assert!(!persistent_volume_claim(&claim("Pending"), None).is_ready());
    }

    #[test]
    fn pending_claim_of_a_wait_for_first_consumer_class_is_ready() {
        let c = class("managed-csi", "WaitForFirstConsumer");
        assert_eq!(
            persistent_volume_claim(&claim("Pending"), Some(&c)),
            Readiness::Ready
        );
    }

    #[test]
    fn storage_class_of_another_name_is_ignored() {
        let c = class("azurefile", "WaitForFirstConsumer");
        assert!(!persistent_volume_claim(&claim("Pending"), Some(&c)).is_ready());
    }
}
