//! Secrets and ConfigMaps a pod needs, and the kubelet's complaint when one is missing.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, Secret};
use kube::Api;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Secret,
    ConfigMap,
}

impl Kind {
    /// As in `secret "x" not found`.
    fn lower(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::ConfigMap => "configmap",
        }
    }

    /// As in `couldn't find key k in Secret ns/x`.
    fn title(self) -> &'static str {
        match self {
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
        }
    }
}

/// A reference to a Secret or ConfigMap (or one key of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub kind: Kind,
    pub name: String,
    pub key: Option<String>,
    pub optional: bool,
}

/// References in a container's `env` and `envFrom`.
pub fn env_references(c: &Container) -> Vec<Reference> {
    let mut refs = Vec::new();
    for env in c.env.iter().flatten() {
        let Some(from) = &env.value_from else {
            continue;
        };
        if let Some(s) = &from.secret_key_ref {
            refs.push(Reference {
                kind: Kind::Secret,
                name: s.name.clone(),
                key: Some(s.key.clone()),
                optional: s.optional.unwrap_or(false),
            });
        }
        if let Some(c) = &from.config_map_key_ref {
            refs.push(Reference {
                kind: Kind::ConfigMap,
                name: c.name.clone(),
                key: Some(c.key.clone()),
                optional: c.optional.unwrap_or(false),
            });
        }
    }
    for from in c.env_from.iter().flatten() {
        if let Some(s) = &from.secret_ref {
            refs.push(Reference {
                kind: Kind::Secret,
                name: s.name.clone(),
                key: None,
                optional: s.optional.unwrap_or(false),
            });
        }
        if let Some(c) = &from.config_map_ref {
            refs.push(Reference {
                kind: Kind::ConfigMap,
                name: c.name.clone(),
                key: None,
                optional: c.optional.unwrap_or(false),
            });
        }
    }
    refs
}

/// References in the pod's volumes, with the volume's name.
pub fn volume_references(spec: &PodSpec) -> Vec<(String, Reference)> {
    let mut refs = Vec::new();
    for v in spec.volumes.iter().flatten() {
        if let Some(s) = &v.secret {
            refs.push((
                v.name.clone(),
                Reference {
                    kind: Kind::Secret,
                    name: s.secret_name.clone().unwrap_or_default(),
                    key: None,
                    optional: s.optional.unwrap_or(false),
                },
            ));
        }
        if let Some(c) = &v.config_map {
            refs.push((
                v.name.clone(),
                Reference {
                    kind: Kind::ConfigMap,
                    name: c.name.clone(),
                    key: None,
                    optional: c.optional.unwrap_or(false),
                },
            ));
        }
        for source in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = &source.secret {
                refs.push((
                    v.name.clone(),
                    Reference {
                        kind: Kind::Secret,
                        name: s.name.clone(),
                        key: None,
                        optional: s.optional.unwrap_or(false),
                    },
                ));
            }
            if let Some(c) = &source.config_map {
                refs.push((
                    v.name.clone(),
                    Reference {
                        kind: Kind::ConfigMap,
                        name: c.name.clone(),
                        key: None,
                        optional: c.optional.unwrap_or(false),
                    },
                ));
            }
        }
    }
    refs
}

/// Looks Secrets and ConfigMaps up once each; lookups that fail for other reasons than
/// "not found" count as present (the simulator must not invent failures).
pub struct Lookup {
    client: kube::Client,
    namespace: String,
    /// `None` inside: the object does not exist. Values: the object's keys.
    cache: HashMap<(Kind, String), Option<Vec<String>>>,
}

impl Lookup {
    pub fn new(client: kube::Client, namespace: &str) -> Lookup {
        Lookup {
            client,
            namespace: namespace.to_string(),
            cache: HashMap::new(),
        }
    }

    async fn keys(&mut self, kind: Kind, name: &str) -> Option<Option<Vec<String>>> {
        if let Some(found) = self.cache.get(&(kind, name.to_string())) {
            return Some(found.clone());
        }
        let found = match kind {
            Kind::Secret => {
                let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
                match api.get_opt(name).await {
                    Ok(found) => found.map(|s| {
                        let mut keys: Vec<String> =
                            s.data.unwrap_or_default().into_keys().collect();
                        keys.extend(s.string_data.unwrap_or_default().into_keys());
                        keys
                    }),
                    Err(_) => return None,
                }
            }
            Kind::ConfigMap => {
                let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
                match api.get_opt(name).await {
                    Ok(found) => found.map(|c| {
                        let mut keys: Vec<String> =
                            c.data.unwrap_or_default().into_keys().collect();
                        keys.extend(c.binary_data.unwrap_or_default().into_keys());
                        keys
                    }),
                    Err(_) => return None,
                }
            }
        };
        self.cache.insert((kind, name.to_string()), found.clone());
        Some(found)
    }

    /// The kubelet's CreateContainerConfigError message for the first unmet reference.
    pub async fn env_problem(&mut self, refs: &[Reference]) -> Option<String> {
        for r in refs {
            if r.optional {
                continue;
            }
            match self.keys(r.kind, &r.name).await {
                Some(None) => return Some(format!("{} \"{}\" not found", r.kind.lower(), r.name)),
                Some(Some(keys)) => {
                    if let Some(key) = &r.key
                        && !keys.contains(key)
                    {
                        return Some(format!(
                            "couldn't find key {key} in {} {}/{}",
                            r.kind.title(),
                            self.namespace,
                            r.name
                        ));
                    }
                }
                None => {}
            }
        }
        None
    }

    /// The kubelet's FailedMount message for the first volume whose source is missing.
    pub async fn volume_problem(&mut self, refs: &[(String, Reference)]) -> Option<String> {
        for (volume, r) in refs {
            if r.optional {
                continue;
            }
            if let Some(None) = self.keys(r.kind, &r.name).await {
                return Some(format!(
                    "MountVolume.SetUp failed for volume \"{volume}\" : {} \"{}\" not found",
                    r.kind.lower(),
                    r.name
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    #[test]
    fn env_and_volume_references_are_found() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {
                "containers": [{"name": "a",
                    "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                    "envFrom": [{"configMapRef": {"name": "c", "optional": true}}]}],
                "volumes": [{"name": "v", "secret": {"secretName": "tls"}}]
            }
        }))
        .unwrap();
        let spec = pod.spec.unwrap();
        let env = env_references(&spec.containers[0]);
        assert_eq!(env.len(), 2);
        assert_eq!(env[0].key.as_deref(), Some("k"));
        assert!(env[1].optional);
        let volumes = volume_references(&spec);
        assert_eq!(volumes[0].0, "v");
        assert_eq!(volumes[0].1.name, "tls");
    }
}
