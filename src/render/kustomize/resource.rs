//! An object while kustomize works on it: the object, where it came from, and the bookkeeping
//! kustomize keeps in build annotations (previous names, prefixes and suffixes, hash, behavior).

use std::sync::Arc;

use serde_json::Value;

use crate::manifest::{Origin, Via, split_api_version};
use crate::render::patch::selector::{PREVIOUS_KINDS, PREVIOUS_NAMES, PREVIOUS_NAMESPACES};

/// A group/version/kind selector: empty fields match anything (kustomize's `Gvk.IsSelected`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    /// Whether `self` (a concrete gvk) is selected by `sel`.
    pub fn selected_by(&self, sel: &Gvk) -> bool {
        (sel.group.is_empty() || sel.group == self.group)
            && (sel.version.is_empty() || sel.version == self.version)
            && (sel.kind.is_empty() || sel.kind == self.kind)
    }
}

/// Whether kustomize treats `apiVersion`/`kind` as cluster-scoped (the patch engine's table).
pub fn is_cluster_scoped(api_version: &str, kind: &str) -> bool {
    crate::render::patch::selector::kustomize_cluster_scoped(api_version, kind)
}

/// A past identity: kind, name and effective namespace (`default` for an empty one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrevId {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// How a generated object combines with one of the same name from a base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    #[default]
    Create,
    Merge,
    Replace,
}

/// One object in the accumulation.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The object.
    pub object: Value,
    /// Where it was read (or which generator made it) and what changed it.
    pub origin: Origin,
    /// Identities before each rename, oldest first (`previousNames`/`previousKinds`/…).
    pub prev_ids: Vec<PrevId>,
    /// Name prefixes applied, innermost first.
    pub prefixes: Vec<String>,
    /// Name suffixes applied, innermost first.
    pub suffixes: Vec<String>,
    /// A generated object whose name gets the content hash.
    pub needs_hash: bool,
    /// Generator behavior.
    pub behavior: Behavior,
}

/// Sentinel effective namespace of cluster-scoped objects.
const CLUSTER: &str = "_non_namespaceable_";

impl Resource {
    /// Wraps a freshly read object.
    pub fn new(object: Value, origin: Origin) -> Self {
        Self {
            object,
            origin,
            prev_ids: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            needs_hash: false,
            behavior: Behavior::Create,
        }
    }

    fn str_at(&self, path: &[&str]) -> &str {
        let mut v = &self.object;
        for p in path {
            match v.get(p) {
                Some(x) => v = x,
                None => return "",
            }
        }
        v.as_str().unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        self.str_at(&["kind"])
    }
    pub fn name(&self) -> &str {
        self.str_at(&["metadata", "name"])
    }
    pub fn namespace(&self) -> &str {
        self.str_at(&["metadata", "namespace"])
    }
    pub fn api_version(&self) -> &str {
        self.str_at(&["apiVersion"])
    }

    /// Current group/version/kind.
    pub fn gvk(&self) -> Gvk {
        let (g, v) = split_api_version(self.api_version());
        Gvk {
            group: g.to_string(),
            version: v.to_string(),
            kind: self.kind().to_string(),
        }
    }

    /// Whether the current kind is cluster-scoped.
    pub fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped(self.api_version(), self.kind())
    }

    /// Namespace as kustomize compares it: `default` when empty, a sentinel when cluster-scoped.
    pub fn effective_namespace(&self) -> String {
        effective_namespace(self.is_cluster_scoped(), self.namespace())
    }

    /// Records the current identity before a transform changes it (`StorePreviousId`).
    pub fn store_previous_id(&mut self) {
        let id = PrevId {
            kind: self.kind().to_string(),
            name: self.name().to_string(),
            namespace: self.effective_namespace(),
        };
        self.prev_ids.push(id);
    }

    /// Original identity's gvk (the first previous kind, else the current one).
    pub fn org_gvk(&self) -> Gvk {
        let mut g = self.gvk();
        if let Some(p) = self.prev_ids.first() {
            g.kind = p.kind.clone();
        }
        g
    }

    /// Original name (before any rename).
    pub fn org_name(&self) -> &str {
        self.prev_ids
            .first()
            .map(|p| p.name.as_str())
            .unwrap_or_else(|| self.name())
    }

    /// Whether the current identity or any earlier one equals (gvk, name, namespace).
    pub fn any_id_equals(&self, gvk: &Gvk, name: &str, ns: &str) -> bool {
        let me = self.gvk();
        let cluster = self.is_cluster_scoped();
        let target_ns = effective_namespace(cluster, ns);
        let same_gv = me.group == gvk.group && me.version == gvk.version;
        if same_gv
            && me.kind == gvk.kind
            && self.name() == name
            && self.effective_namespace() == target_ns
        {
            return true;
        }
        same_gv
            && self
                .prev_ids
                .iter()
                .any(|p| p.kind == gvk.kind && p.name == name && p.namespace == target_ns)
    }

    /// Sets `metadata.name`.
    pub fn set_name(&mut self, name: &str) {
        set_metadata_field(&mut self.object, "name", name);
    }

    /// Sets `metadata.namespace`.
    pub fn set_namespace(&mut self, ns: &str) {
        set_metadata_field(&mut self.object, "namespace", ns);
    }

    /// Notes that an overlay entry changed this object (once per entry).
    pub fn touched(&mut self, via: &Via) {
        if self.origin.via.last() != Some(via) {
            self.origin.via.push(via.clone());
        }
    }

    /// `Kind name` for messages, with the source.
    pub fn describe(&self) -> String {
        let ns = self.namespace();
        if ns.is_empty() {
            format!("{} {} ({})", self.kind(), self.name(), self.origin)
        } else {
            format!("{} {}/{} ({})", self.kind(), ns, self.name(), self.origin)
        }
    }
}

/// Writes the previous ids into kustomize's internal annotations, for the patch engine.
pub fn export_ids(r: &mut Resource) {
    if r.prev_ids.is_empty() {
        return;
    }
    let join = |f: fn(&PrevId) -> &str| r.prev_ids.iter().map(f).collect::<Vec<_>>().join(",");
    let names = join(|p| &p.name);
    let kinds = join(|p| &p.kind);
    let namespaces = join(|p| &p.namespace);
    let o = crate::manifest::ensure_object(&mut r.object);
    let md = crate::manifest::ensure_object(
        o.entry("metadata")
            .or_insert_with(|| Value::Object(Default::default())),
    );
    let ann = crate::manifest::ensure_object(
        md.entry("annotations")
            .or_insert_with(|| Value::Object(Default::default())),
    );
    ann.insert(PREVIOUS_NAMES.into(), Value::String(names));
    ann.insert(PREVIOUS_KINDS.into(), Value::String(kinds));
    ann.insert(PREVIOUS_NAMESPACES.into(), Value::String(namespaces));
}

/// Reads back (and removes) the previous-id annotations after the patch engine ran; other
/// internal annotations (var bindings) stay until the build ends.
pub fn import_ids(r: &mut Resource) {
    let Some(md) = r.object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(ann) = md.get_mut("annotations").and_then(Value::as_object_mut) else {
        return;
    };
    let mut take = |k: &str| {
        ann.remove(k)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let (names, kinds, namespaces) = (
        take(PREVIOUS_NAMES),
        take(PREVIOUS_KINDS),
        take(PREVIOUS_NAMESPACES),
    );
    if ann.is_empty() {
        md.remove("annotations");
    }
    if names.is_empty() {
        return;
    }
    let kinds: Vec<&str> = kinds.split(',').collect();
    let namespaces: Vec<&str> = namespaces.split(',').collect();
    let current_kind = r.kind().to_string();
    r.prev_ids = names
        .split(',')
        .enumerate()
        .map(|(i, n)| PrevId {
            kind: kinds.get(i).map_or(current_kind.clone(), |k| k.to_string()),
            name: n.to_string(),
            namespace: namespaces
                .get(i)
                .map_or("default".to_string(), |k| k.to_string()),
        })
        .collect();
}

/// kustomize's `EffectiveNamespace`.
pub fn effective_namespace(cluster_scoped: bool, ns: &str) -> String {
    if cluster_scoped {
        CLUSTER.to_string()
    } else if ns.is_empty() {
        "default".to_string()
    } else {
        ns.to_string()
    }
}

fn set_metadata_field(obj: &mut Value, field: &str, value: &str) {
    let o = crate::manifest::ensure_object(obj);
    let md = crate::manifest::ensure_object(
        o.entry("metadata")
            .or_insert_with(|| Value::Object(Default::default())),
    );
    md.insert(field.to_string(), Value::String(value.to_string()));
}

/// An overlay entry for provenance.
pub fn via(what: &str, file: &Arc<str>, line: u32) -> Via {
    Via {
        what: what.into(),
        file: file.clone(),
        line,
    }
}
