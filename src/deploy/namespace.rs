//! `--create-namespace`: the target namespace as an object of the set.

use crate::manifest::Manifest;

/// Adds a Namespace object for `namespace` (`--create-namespace`) unless the manifests define
/// it; it comes first, so its wave precedes everything in it.
pub fn add(manifests: &mut Vec<Manifest>, namespace: &str) {
    if crate::manifest::find_namespace(manifests, namespace).is_some() {
        return;
    }
    manifests.insert(
        0,
        Manifest::new(
            crate::Origin::new("--create-namespace", 0),
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": namespace,
                    "labels": {
                        crate::render::metadata::MANAGED_BY_LABEL:
                            crate::render::metadata::MANAGED_BY_VALUE
                    }
                }
            }),
        ),
    );
}
