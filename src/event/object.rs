//! The one identity every event, result and output uses for an object.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::manifest::{ObjectKey, Origin};

/// An object as outputs name it: its identity and, when it came from a file, where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// Group, kind, namespace and name.
    pub key: ObjectKey,
    /// File and line it came from; `None` for objects found only in the cluster (pruned ones).
    pub origin: Option<Origin>,
    /// The Fleet member cluster this is about (a placement's rollout on one member), when the
    /// object lives on a Fleet hub and the state is a member's.
    pub member: Option<String>,
}

impl ObjectRef {
    /// An object from `origin` (or from the cluster only, when `None`).
    pub fn new(key: ObjectKey, origin: Option<Origin>) -> Self {
        Self {
            key,
            origin,
            member: None,
        }
    }

    /// The same object, about its rollout on the Fleet member cluster `member`.
    pub fn on_member(mut self, member: &str) -> Self {
        self.member = Some(member.to_string());
        self
    }

    /// The one label of an object in every output: `Deployment shop/web`, and for a Fleet
    /// member's share of a placement `ClusterResourcePlacement web on member-1`.
    pub fn label(&self) -> String {
        match &self.member {
            Some(member) => format!("{} on {member}", self.key),
            None => self.key.to_string(),
        }
    }

    /// `file:line`, if known (just the file, or the flag, when the line is 0), followed by
    /// ` via field (file:line)` for each overlay entry that changed the object (kustomize).
    pub fn location(&self) -> Option<String> {
        let o = self.origin.as_ref()?;
        let mut s = match o.line {
            0 => o.file.to_string(),
            line => format!("{}:{line}", o.file),
        };
        for v in &o.via {
            s.push_str(" via ");
            s.push_str(&v.to_string());
        }
        Some(s)
    }

    /// `Deployment shop/web (deploy/web.yaml:3)`, or the label alone when the origin is unknown.
    pub fn label_at(&self) -> String {
        match self.location() {
            Some(at) => format!("{} ({at})", self.label()),
            None => self.label(),
        }
    }

    /// The file, if known.
    pub fn file(&self) -> Option<&str> {
        self.origin.as_ref().map(|o| &*o.file)
    }

    /// The 1-based line, if known and not 0.
    pub fn line(&self) -> Option<u32> {
        self.origin.as_ref().map(|o| o.line).filter(|l| *l > 0)
    }
}

/// JSON form: `{"kind", "group", "namespace"?, "name", "member"?, "file"?, "line"?, "via"?}`;
/// `member` is the Fleet member cluster; `via` lists the overlay entries that changed the
/// object as `field (file:line)`.
impl Serialize for ObjectRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", &self.key.kind)?;
        m.serialize_entry("group", &self.key.group)?;
        if let Some(ns) = &self.key.namespace {
            m.serialize_entry("namespace", ns)?;
        }
        m.serialize_entry("name", &self.key.name)?;
        if let Some(member) = &self.member {
            m.serialize_entry("member", member)?;
        }
        if let Some(o) = &self.origin {
            m.serialize_entry("file", &*o.file)?;
            m.serialize_entry("line", &o.line)?;
            if !o.via.is_empty() {
                let via: Vec<String> = o.via.iter().map(ToString::to_string).collect();
                m.serialize_entry("via", &via)?;
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_use_the_one_spelling_of_kinds() {
        let key = ObjectKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        };
        let o = ObjectRef::new(key.clone(), Some(Origin::new("web.yaml", 3)));
        assert_eq!(o.label(), "Deployment shop/web");
        assert_eq!(o.label_at(), "Deployment shop/web (web.yaml:3)");
        assert_eq!(
            ObjectRef::new(key.clone(), None).label_at(),
            "Deployment shop/web"
        );
        let member = ObjectRef::new(key, None).on_member("member-1");
        assert_eq!(member.label(), "Deployment shop/web on member-1");
        let json = serde_json::to_value(&member).unwrap();
        assert_eq!(json["member"], "member-1");
    }
}
