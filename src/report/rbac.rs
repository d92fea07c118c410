//! `kpush rbac`'s output: the permissions an apply needs as YAML that `kubectl apply -f`
//! takes: a ClusterRole for cluster-scoped resources (and namespaces the apply itself
//! creates, where no Role can exist yet), a Role per namespace, and their bindings to the
//! subjects given. Every rule says why, per group of verbs, in a comment.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::event::Permission;
use crate::event::permission::verb_rank;

/// Who the roles are bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A user (`--subject user:NAME`; for Entra ID, the object id).
    User(String),
    /// A group (`--subject group:NAME`).
    Group(String),
    /// A service account (`--subject serviceaccount:NAMESPACE/NAME`).
    ServiceAccount {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

impl Subject {
    /// Parses `user:NAME`, `group:NAME` or `serviceaccount:NAMESPACE/NAME`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "--subject {s}: expected user:NAME, group:NAME or serviceaccount:NAMESPACE/NAME"
            )
        };
        let (kind, name) = s.split_once(':').ok_or_else(bad)?;
        if name.is_empty() {
            return Err(bad());
        }
        match kind.to_ascii_lowercase().as_str() {
            "user" => Ok(Subject::User(name.into())),
            "group" => Ok(Subject::Group(name.into())),
            "serviceaccount" | "sa" => match name.split_once('/') {
                Some((ns, n)) if !ns.is_empty() && !n.is_empty() => Ok(Subject::ServiceAccount {
                    namespace: ns.into(),
                    name: n.into(),
                }),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    fn yaml(&self) -> String {
        match self {
            Subject::User(n) => format!(
                "  - kind: User\n    apiGroup: rbac.authorization.k8s.io\n    name: {}\n",
                scalar(n)
            ),
            Subject::Group(n) => format!(
                "  - kind: Group\n    apiGroup: rbac.authorization.k8s.io\n    name: {}\n",
                scalar(n)
            ),
            Subject::ServiceAccount { namespace, name } => format!(
                "  - kind: ServiceAccount\n    name: {}\n    namespace: {}\n",
                scalar(name),
                scalar(namespace)
            ),
        }
    }
}

/// What to call the roles and whom to bind them to.
#[derive(Debug, Clone)]
pub struct RoleSettings {
    /// Name of every Role, ClusterRole and binding.
    pub name: String,
    /// Subjects; none: roles only.
    pub subjects: Vec<Subject>,
    /// Namespaces the apply creates: their rules go to the ClusterRole.
    pub created_namespaces: BTreeSet<String>,
    /// Comment lines for the top (what was derived from what).
    pub header: Vec<String>,
}

/// The YAML documents granting `permissions`.
pub fn yaml(permissions: &[Permission], s: &RoleSettings) -> String {
    let mut cluster: Vec<&Permission> = Vec::new();
    let mut namespaced: BTreeMap<&str, Vec<&Permission>> = BTreeMap::new();
    for p in permissions {
        match &p.namespace {
            Some(ns) if !s.created_namespaces.contains(ns) => {
                namespaced.entry(ns.as_str()).or_default().push(p)
            }
            _ => cluster.push(p),
        }
    }
    let mut out = String::new();
    for line in &s.header {
        let _ = writeln!(out, "# {line}");
    }
    if s.subjects.is_empty() {
        out.push_str(
            "# No --subject given: bind these roles to the deploying identity yourself.\n",
        );
    }
    let mut docs = Vec::new();
    if !cluster.is_empty() {
        let mut doc = format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {}\n",
            scalar(&s.name)
        );
        let created: Vec<&str> = cluster
            .iter()
            .filter_map(|p| p.namespace.as_deref())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !created.is_empty() {
            let _ = writeln!(
                doc,
                "# Namespaces this apply creates ({}) cannot hold a Role before it runs: their \
                 rules are granted in every namespace here. Create them first and run kpush rbac \
                 again for Roles instead.",
                created.join(", ")
            );
        }
        doc.push_str(&rules(&cluster, true));
        docs.push(doc);
        if !s.subjects.is_empty() {
            docs.push(binding("ClusterRoleBinding", "ClusterRole", None, s));
        }
    }
    for (ns, perms) in &namespaced {
        let mut doc = format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {}\n  \
             namespace: {}\n",
            scalar(&s.name),
            scalar(ns)
        );
        doc.push_str(&rules(perms, false));
        docs.push(doc);
        if !s.subjects.is_empty() {
            docs.push(binding("RoleBinding", "Role", Some(ns), s));
        }
    }
    out.push_str(&docs.join("---\n"));
    out
}

fn binding(kind: &str, role_kind: &str, namespace: Option<&str>, s: &RoleSettings) -> String {
    let mut doc = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata:\n  name: {}\n",
        scalar(&s.name)
    );
    if let Some(ns) = namespace {
        let _ = writeln!(doc, "  namespace: {}", scalar(ns));
    }
    let _ = write!(
        doc,
        "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: {role_kind}\n  name: {}\nsubjects:\n",
        scalar(&s.name)
    );
    for subject in &s.subjects {
        doc.push_str(&subject.yaml());
    }
    doc
}

/// One rule per resource (and per resource name), with its verbs and, per group of verbs, why.
fn rules(perms: &[&Permission], cluster_role: bool) -> String {
    // (group, resource, name) → verb → (needs text, namespaces)
    type Verbs = BTreeMap<String, (String, BTreeSet<String>)>;
    let mut by_resource: BTreeMap<(String, String, Option<String>), Verbs> = BTreeMap::new();
    for p in perms {
        let resource = match &p.subresource {
            Some(sub) => format!("{}/{sub}", p.resource),
            None => p.resource.clone(),
        };
        let entry = by_resource
            .entry((p.group.clone(), resource, p.name.clone()))
            .or_default()
            .entry(p.verb.clone())
            .or_insert_with(|| (p.why(), BTreeSet::new()));
        if let Some(ns) = &p.namespace {
            entry.1.insert(ns.clone());
        }
    }
    let mut out = String::from("rules:\n");
    for ((group, resource, name), verbs) in by_resource {
        let mut names: Vec<&String> = verbs.keys().collect();
        names.sort_by_key(|v| verb_rank(v));
        // Verbs that share a reason are explained together, in verb order.
        let mut reasons: Vec<(String, Vec<&str>)> = Vec::new();
        for v in &names {
            let (why, namespaces) = &verbs[*v];
            let why = match (cluster_role, namespaces.is_empty()) {
                (true, false) => format!(
                    "{why} [in {}]",
                    namespaces.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
                _ => why.clone(),
            };
            match reasons.iter_mut().find(|(w, _)| *w == why) {
                Some((_, vs)) => vs.push(v),
                None => reasons.push((why, vec![v])),
            }
        }
        for (why, vs) in &reasons {
            let _ = writeln!(out, "  # {}: {why}", vs.join(", "));
        }
        let list = |items: &[&str]| {
            items
                .iter()
                .map(|i| json_string(i))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let verb_list: Vec<&str> = names.iter().map(|v| v.as_str()).collect();
        let _ = writeln!(out, "  - apiGroups: [{}]", list(&[group.as_str()]));
        let _ = writeln!(out, "    resources: [{}]", list(&[resource.as_str()]));
        if let Some(name) = &name {
            let _ = writeln!(out, "    resourceNames: [{}]", list(&[name.as_str()]));
        }
        let _ = writeln!(out, "    verbs: [{}]", list(&verb_list));
    }
    out
}

/// `s` as a YAML scalar: plain when it is a DNS-style name that YAML reads as that string,
/// double-quoted (JSON escaping, which YAML shares) otherwise.
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !matches!(
            s,
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain { s.to_string() } else { json_string(s) }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Need;
    use serde_json::Value;

    fn perm(group: &str, resource: &str, verb: &str, ns: Option<&str>, need: Need) -> Permission {
        Permission {
            group: group.into(),
            resource: resource.into(),
            subresource: None,
            verb: verb.into(),
            namespace: ns.map(str::to_string),
            name: None,
            needs: vec![need],
        }
    }

    fn documents(text: &str) -> Vec<Value> {
        serde_saphyr::from_multiple::<Value>(text).expect("valid YAML")
    }

    #[test]
    fn roles_per_namespace_a_cluster_role_and_bindings_parse_as_yaml() {
        let perms = vec![
            perm("", "namespaces", "get", None, Need::Apply),
            perm("apps", "deployments", "get", Some("shop"), Need::Apply),
            perm("apps", "deployments", "patch", Some("shop"), Need::Apply),
            perm("apps", "deployments", "watch", Some("shop"), Need::Track),
            perm("", "configmaps", "get", Some("new"), Need::Apply),
        ];
        let s = RoleSettings {
            name: "kpush-shop".into(),
            subjects: vec![
                Subject::parse("user:6dae42f8-4368-4678-94ff-3960e28e3630").unwrap(),
                Subject::parse("serviceaccount:ci/deployer").unwrap(),
                Subject::parse("group:Deployers Team").unwrap(),
            ],
            created_namespaces: ["new".to_string()].into(),
            header: vec!["made by a test".into()],
        };
        let text = yaml(&perms, &s);
        let docs = documents(&text);
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
        );
        let role = &docs[2];
        assert_eq!(role["metadata"]["namespace"], "shop");
        assert_eq!(role["rules"][0]["apiGroups"][0], "apps");
        assert_eq!(
            role["rules"][0]["verbs"],
            serde_json::json!(["get", "watch", "patch"])
        );
        let cluster_resources: Vec<&str> = docs[0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["resources"][0].as_str().unwrap())
            .collect();
        assert_eq!(cluster_resources, ["configmaps", "namespaces"]);
        assert_eq!(docs[3]["subjects"][2]["name"], "Deployers Team");
        assert_eq!(docs[3]["subjects"][1]["namespace"], "ci");
        assert!(
            text.contains("  # get, patch: apply the manifests' objects"),
            "{text}"
        );
        assert!(
            text.contains("  # watch: watch the applied objects"),
            "{text}"
        );
        assert!(text.contains("[in new]"), "{text}");
    }

    #[test]
    fn subjects_are_parsed_or_refused_with_the_expected_forms() {
        assert_eq!(
            Subject::parse("group:ops").unwrap(),
            Subject::Group("ops".into())
        );
        for bad in ["ops", "user:", "serviceaccount:ci", "robot:x"] {
            let e = Subject::parse(bad).unwrap_err();
            assert!(e.contains("serviceaccount:NAMESPACE/NAME"), "{e}");
        }
    }

    #[test]
    fn names_that_yaml_would_misread_are_quoted() {
        assert_eq!(scalar("kpush-deployer"), "kpush-deployer");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("1234"), "\"1234\"");
        assert_eq!(scalar("a@b.c"), "\"a@b.c\"");
    }
}
