//! A 403 from the API server, explained: who was refused what, where, and the least-privilege
//! grant (a Kubernetes RoleBinding, or an Azure RBAC role assignment on AKS) that would allow it.

use kube::core::Status;

/// What a 403 says: the user, verb, resource, API group and namespace (`None`: cluster scope).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Refusal {
    user: Option<String>,
    verb: Option<String>,
    resource: Option<String>,
    group: String,
    namespace: Option<String>,
    cluster_scope: bool,
}

/// The quoted value after `marker` in `text`: `resource "deployments"` → `deployments`.
fn quoted_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let rest = rest.strip_prefix('"')?;
    rest.split('"').next()
}

/// Reads kube-apiserver's RBAC message: `deployments.apps "web" is forbidden: User "U" cannot
/// patch resource "deployments" in API group "apps" in the namespace "ns"` (or `at the cluster
/// scope`); falls back on the status details.
fn parse(status: &Status) -> Refusal {
    let message = status.message.as_str();
    let user = quoted_after(message, "User ").map(str::to_string);
    let verb = quoted_after(message, "User ")
        .and_then(|u| message.split(&format!("\"{u}\" cannot ")).nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string);
    let details = status.details.as_ref();
    let resource = quoted_after(message, "resource ")
        .map(str::to_string)
        .or_else(|| details.map(|d| d.kind.clone()).filter(|k| !k.is_empty()));
    let group = quoted_after(message, "API group ")
        .map(str::to_string)
        .or_else(|| details.map(|d| d.group.clone()))
        .unwrap_or_default();
    let namespace = quoted_after(message, "in the namespace ").map(str::to_string);
    Refusal {
        user,
        verb,
        resource,
        group,
        namespace,
        cluster_scope: message.contains("at the cluster scope"),
    }
}

/// Whether `s` looks like an Entra object id (a GUID), the user name AKS gives Entra principals.
fn is_object_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Explains a 403 `status` from the API server: who (`identity` when the message does not say;
/// on AKS the principal's object id) may not do what to which resource in which namespace
/// (`namespace` when the message does not say), and the narrowest grant that would allow it:
/// `kubectl create rolebinding … --clusterrole=edit --user=<oid> -n NS`, or on AKS with Azure
/// RBAC the "Azure Kubernetes Service RBAC Writer" role assigned on the namespace's scope.
/// Multi-line; never contains credentials.
pub fn explain_forbidden(
    status: &Status,
    identity: Option<&str>,
    namespace: Option<&str>,
) -> String {
    let mut r = parse(status);
    if r.namespace.is_none() && !r.cluster_scope {
        r.namespace = namespace.map(str::to_string);
    }
    let user = r.user.clone().or_else(|| identity.map(str::to_string));
    let who = user
        .as_deref()
        .map(|u| format!("\"{u}\""))
        .unwrap_or_else(|| "the identity in use".into());
    let verb = r.verb.as_deref().unwrap_or("change");
    let resource = r.resource.as_deref().unwrap_or("this resource");
    let qualified = match (r.group.as_str(), resource) {
        ("", res) => res.to_string(),
        (g, res) => format!("{res}.{g}"),
    };
    let where_ = match (&r.namespace, r.cluster_scope) {
        (Some(n), _) => format!(" in namespace {n}"),
        (None, true) => " at cluster scope".into(),
        (None, false) => String::new(),
    };
    let mut out = format!("{who} may not {verb} {qualified}{where_} (Kubernetes RBAC refused it)");

    let service_account = user
        .as_deref()
        .and_then(|u| u.strip_prefix("system:serviceaccount:"));
    let subject = match (service_account, user.as_deref()) {
        (Some(sa), _) => format!("--serviceaccount={sa}"),
        (None, Some(u)) => format!("--user={u}"),
        (None, None) => "--user=OBJECT_ID".to_string(),
    };
    let entra = service_account.is_none() && user.as_deref().is_none_or(is_object_id);
    let assignee = user.as_deref().unwrap_or("OBJECT_ID");

    if r.cluster_scope && r.namespace.is_none() {
        let name = format!("kpush-{}", resource.replace(['/', '.'], "-"));
        out.push_str(&format!(
            ".\n  {qualified} is cluster-wide: a namespace RoleBinding cannot allow it. Either let a cluster \
             admin create these objects once and leave them out of the deploy, or grant exactly this:\n    \
             kubectl create clusterrole {name} --verb={verb},get,list --resource={qualified}\n    \
             kubectl create clusterrolebinding {name} --clusterrole={name} {subject}"
        ));
        if entra {
            out.push_str(
                "\n  (with Azure RBAC for Kubernetes authorization, cluster-scope objects need a role assigned on the \
                 whole cluster, such as \"Azure Kubernetes Service RBAC Cluster Admin\": prefer the first option)",
            );
        }
        return out;
    }
    let ns = r.namespace.as_deref().unwrap_or("NAMESPACE");
    // `edit` writes workloads, config and services, but not RBAC objects.
    let rbac_objects = matches!(resource, "roles" | "rolebindings");
    let (cluster_role, azure_role) = if rbac_objects {
        ("admin", "Azure Kubernetes Service RBAC Admin")
    } else {
        ("edit", "Azure Kubernetes Service RBAC Writer")
    };
    out.push_str(&format!(
        ".\n  Grant it {cluster_role} in namespace {ns} only (least privilege), with a Kubernetes RoleBinding:\n    \
         kubectl create rolebinding kpush-deployer --clusterrole={cluster_role} {subject} -n {ns}"
    ));
    if entra {
        out.push_str(&format!(
            "\n  or, on an AKS cluster that uses Azure RBAC for Kubernetes authorization:\n    \
             az role assignment create --assignee {assignee} --role \"{azure_role}\" \
             --scope \"$(az aks show -g RESOURCE_GROUP -n CLUSTER --query id -o tsv)/namespaces/{ns}\""
        ));
    }
    out.push_str(&format!(
        "\n  or deploy to a namespace {who} may already write to (--namespace)"
    ));
    out
}

/// Advice for an identity that lacks permissions a deploy needs (found before any request
/// failed): `kpush rbac` for exactly those, bound to `user` (a service account's name becomes
/// `serviceaccount:NS/NAME`), or on AKS with Azure RBAC for an Entra principal, the "Azure
/// Kubernetes Service RBAC Writer" role on each of `namespaces`. Multi-line.
pub fn advise_missing(user: Option<&str>, namespaces: &[&str]) -> String {
    let mut out = format!(
        "  Grant exactly these: run `kpush rbac` with this apply's manifests and flags and \
         `--subject {}`, and apply its output (`kubectl apply -f -`) as a cluster admin",
        rbac_subject(user)
    );
    let entra = user.is_none_or(is_object_id);
    if entra && !namespaces.is_empty() {
        let assignee = user.unwrap_or("OBJECT_ID");
        out.push_str(
            "\n  or, on an AKS cluster that uses Azure RBAC for Kubernetes authorization, assign \
             \"Azure Kubernetes Service RBAC Writer\" on each namespace:",
        );
        for ns in namespaces {
            out.push_str(&format!(
                "\n    az role assignment create --assignee {assignee} --role \
                 \"Azure Kubernetes Service RBAC Writer\" --scope \
                 \"$(az aks show -g RESOURCE_GROUP -n CLUSTER --query id -o tsv)/namespaces/{ns}\""
            ));
        }
    }
    out
}

/// `kpush rbac`'s `--subject` for the user name the API server knows.
fn rbac_subject(user: Option<&str>) -> String {
    match user {
        Some(u) => match u.strip_prefix("system:serviceaccount:") {
            Some(sa) => format!("serviceaccount:{}", sa.replacen(':', "/", 1)),
            None => format!("user:{u}"),
        },
        None => "user:OBJECT_ID".to_string(),
    }
}

/// [`advise_missing`] for a deploy through an Azure Kubernetes Fleet Manager hub: `kpush rbac`
/// with the fleet flags, applied on the hub; or, for an Entra principal, a built-in Fleet
/// Manager role that grants Fleet's cluster-scoped placement objects, "Azure Kubernetes Fleet
/// Manager RBAC Cluster Admin" (every Kubernetes resource on the hub), on the fleet
/// (`fleet_id`, its ARM resource id, when known). The namespace-scoped Fleet Manager RBAC
/// roles do not grant them.
pub fn advise_missing_on_fleet(user: Option<&str>, fleet_id: Option<&str>) -> String {
    let mut out = format!(
        "  Grant exactly these: run `kpush rbac` with this apply's manifests and flags (the fleet \
         flags included) and `--subject {}`, and apply its output (`kubectl apply -f -`) on the \
         fleet's hub as its admin",
        rbac_subject(user)
    );
    let entra = user.is_none_or(is_object_id);
    if entra {
        let assignee = user.unwrap_or("OBJECT_ID");
        let scope = fleet_id.map_or_else(
            || "$(az fleet show -g RESOURCE_GROUP -n FLEET --query id -o tsv)".to_string(),
            str::to_string,
        );
        out.push_str(&format!(
            "\n  or, with Azure RBAC on the hub, assign \"Azure Kubernetes Fleet Manager RBAC Cluster \
             Admin\" on the fleet (it grants every Kubernetes resource on the hub, far more than \
             this deploy needs; the namespace-scoped \"RBAC Writer\" and \"RBAC Admin\" roles do \
             not grant Fleet's cluster-scoped placement objects):\n    \
             az role assignment create --assignee {assignee} --role \"Azure Kubernetes Fleet \
             Manager RBAC Cluster Admin\" --scope \"{scope}\""
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(message: &str) -> Status {
        serde_json::from_value(serde_json::json!({
            "status": "Failure",
            "reason": "Forbidden",
            "code": 403,
            "message": message,
            "details": {"name": "web", "group": "apps", "kind": "deployments"},
        }))
        .expect("a Status")
    }

    const OID: &str = "aaaaaaaa-0000-4000-8000-000000000002";

    #[test]
    fn missing_permissions_are_granted_with_kpush_rbac_for_the_identity() {
        let text = advise_missing(Some(OID), &["shop"]);
        assert!(
            text.contains(&format!("flags and `--subject user:{OID}`, and apply")),
            "{text}"
        );
        assert!(
            text.contains("RBAC Writer") && text.contains("/namespaces/shop"),
            "{text}"
        );
        let sa = advise_missing(Some("system:serviceaccount:ci:deployer"), &["shop"]);
        assert!(sa.contains("--subject serviceaccount:ci/deployer"), "{sa}");
        assert!(!sa.contains("az role"), "{sa}");
    }

    #[test]
    fn missing_permissions_on_a_fleet_hub_name_fleet_flags_and_the_fleet_role() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/fleets/f";
        let text = advise_missing_on_fleet(Some(OID), Some(id));
        assert!(text.contains(&format!("`--subject user:{OID}`")), "{text}");
        assert!(text.contains("the fleet flags included"), "{text}");
        assert!(
            text.contains(&format!(
                "--role \"Azure Kubernetes Fleet Manager RBAC Cluster Admin\" --scope \"{id}\""
            )),
            "{text}"
        );
        assert!(!text.contains("Azure Kubernetes Service RBAC"), "{text}");
        let sa = advise_missing_on_fleet(Some("system:serviceaccount:ci:deployer"), None);
        assert!(sa.contains("--subject serviceaccount:ci/deployer"), "{sa}");
        assert!(!sa.contains("az role"), "{sa}");
        assert!(advise_missing_on_fleet(None, None).contains("az fleet show"));
    }

    #[test]
    fn a_namespaced_refusal_names_who_what_where_and_both_grants() {
        let s = status(&format!(
            "deployments.apps \"web\" is forbidden: User \"{OID}\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"other\""
        ));
        let text = explain_forbidden(&s, None, None);
        assert!(
            text.starts_with(&format!(
                "\"{OID}\" may not patch deployments.apps in namespace other"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "kubectl create rolebinding kpush-deployer --clusterrole=edit --user={OID} -n other"
            )),
            "{text}"
        );
        assert!(
            text.contains("--role \"Azure Kubernetes Service RBAC Writer\""),
            "{text}"
        );
        assert!(text.contains("/namespaces/other\""), "{text}");
    }

    #[test]
    fn service_accounts_get_a_serviceaccount_binding_and_no_azure_role() {
        let s = status(
            "configmaps \"x\" is forbidden: User \"system:serviceaccount:ci:deployer\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"prod\"",
        );
        let text = explain_forbidden(&s, Some(OID), None);
        assert!(text.contains("may not create configmaps in namespace prod"));
        assert!(
            text.contains("--serviceaccount=ci:deployer -n prod"),
            "{text}"
        );
        assert!(!text.contains("az role assignment"), "{text}");
    }

    #[test]
    fn rbac_objects_need_admin_and_cluster_scope_needs_a_cluster_role() {
        let s = status(&format!(
            "rolebindings.rbac.authorization.k8s.io \"r\" is forbidden: User \"{OID}\" cannot patch resource \"rolebindings\" in API group \"rbac.authorization.k8s.io\" in the namespace \"app\""
        ));
        let text = explain_forbidden(&s, None, None);
        assert!(text.contains("--clusterrole=admin"), "{text}");
        assert!(
            text.contains("Azure Kubernetes Service RBAC Admin"),
            "{text}"
        );

        let s = status(&format!(
            "namespaces \"app\" is forbidden: User \"{OID}\" cannot patch resource \"namespaces\" in API group \"\" at the cluster scope"
        ));
        let text = explain_forbidden(&s, None, None);
        assert!(
            text.contains("may not patch namespaces at cluster scope"),
            "{text}"
        );
        assert!(
            text.contains("kubectl create clusterrole kpush-namespaces --verb=patch,get,list --resource=namespaces"),
            "{text}"
        );
    }

    #[test]
    fn an_unparsable_message_uses_the_known_identity_and_the_details() {
        let s = status("forbidden by policy");
        let text = explain_forbidden(&s, Some(OID), Some("shop"));
        assert!(
            text.starts_with(&format!(
                "\"{OID}\" may not change deployments.apps in namespace shop"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("--user={OID} -n shop")), "{text}");
    }
}
