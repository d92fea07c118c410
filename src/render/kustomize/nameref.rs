//! Name references: after prefixes, suffixes, namespaces and hashes changed names, every field
//! that refers to a renamed object is rewritten (kustomize's `api/filters/nameref` with the
//! `nameReference` field specs).

use serde_json::Value;

use super::fieldspec::{self, Config, FieldSpec, Leaf};
use super::resource::{Gvk, Resource};

/// Rewrites references in all resources.
pub fn fix(res: &mut [Resource], d: &Config) -> Result<(), String> {
    // (referrer index, field spec, referral target) in kustomize's order.
    let org_gvks: Vec<Gvk> = res.iter().map(Resource::org_gvk).collect();
    let mut work: Vec<(usize, &FieldSpec, Gvk, std::rc::Rc<Vec<String>>)> = Vec::new();
    for back in &d.name_reference {
        let target = Gvk {
            group: back.group.clone(),
            version: back.version.clone(),
            kind: back.kind.clone(),
        };
        for spec in &back.field_specs {
            let sel = spec.gvk();
            let path = std::rc::Rc::new(fieldspec::split_path(&spec.path));
            for (i, g) in org_gvks.iter().enumerate() {
                if g.selected_by(&sel) {
                    work.push((i, spec, target.clone(), path.clone()));
                }
            }
        }
    }
    if work.is_empty() {
        return Ok(());
    }
    // Candidates are judged on a snapshot; references change only the referrer.
    let snapshot: Vec<Resource> = res.to_vec();
    let facts = Facts::of(&snapshot);
    let mut subjects: std::collections::HashMap<usize, Vec<String>> = Default::default();
    for (i, spec, target, path) in work {
        let referrer = &snapshot[i];
        let sa_namespaces = match subjects.entry(i) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(role_binding_namespaces(referrer)?)
            }
        };
        let ctx = Ctx {
            referrer,
            referrer_idx: i,
            spec,
            target: &target,
            all: &snapshot,
            facts: &facts,
            sa_namespaces,
        };
        let mut obj = std::mem::take(&mut res[i].object);
        let result = fieldspec::walk(&mut obj, &path, false, Leaf::Never, &mut |n| ctx.set(n));
        res[i].object = obj;
        result.map_err(|e| {
            format!(
                "updating the name reference in `{}` of {}: {e}",
                spec.path,
                referrer.describe()
            )
        })?;
    }
    Ok(())
}

/// Per-object facts computed once: scope, namespaces, and an index of previous names.
struct Facts<'a> {
    cluster: Vec<bool>,
    effective_ns: Vec<String>,
    by_prev_name: std::collections::HashMap<&'a str, Vec<usize>>,
}

impl<'a> Facts<'a> {
    fn of(all: &'a [Resource]) -> Self {
        let mut by_prev_name: std::collections::HashMap<&str, Vec<usize>> = Default::default();
        for (j, r) in all.iter().enumerate() {
            let mut names: Vec<&str> = r.prev_ids.iter().map(|p| p.name.as_str()).collect();
            names.dedup();
            for n in names {
                by_prev_name.entry(n).or_default().push(j);
            }
        }
        Self {
            cluster: all.iter().map(Resource::is_cluster_scoped).collect(),
            effective_ns: all.iter().map(Resource::effective_namespace).collect(),
            by_prev_name,
        }
    }
}

/// Namespaces of a RoleBinding's ServiceAccount subjects (kustomize's
/// `getNamespacesForRoleBinding`); a blank one is an error, as in kustomize.
fn role_binding_namespaces(referrer: &Resource) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    if referrer.kind() == "RoleBinding"
        && let Some(Value::Array(subjects)) = referrer.object.get("subjects")
    {
        for s in subjects {
            if s.get("kind").and_then(Value::as_str) != Some("ServiceAccount") {
                continue;
            }
            match s.get("namespace") {
                Some(Value::String(ns)) if !ns.is_empty() => out.push(ns.clone()),
                Some(_) => {
                    return Err(format!(
                        "a ServiceAccount subject of {} has a blank namespace; set it or \
                         remove the field",
                        referrer.describe()
                    ));
                }
                None => {}
            }
        }
    }
    Ok(out)
}

struct Ctx<'a> {
    referrer: &'a Resource,
    referrer_idx: usize,
    spec: &'a FieldSpec,
    target: &'a Gvk,
    all: &'a [Resource],
    facts: &'a Facts<'a>,
    sa_namespaces: &'a [String],
}

impl<'a> Ctx<'a> {
    /// kustomize's `SubsetThatCouldBeReferencedByResource`, for object `j`.
    fn could_refer_to(&self, j: usize) -> bool {
        let f = self.facts;
        let i = self.referrer_idx;
        f.cluster[i]
            || f.cluster[j]
            || f.effective_ns[j] == f.effective_ns[i]
            || self
                .sa_namespaces
                .iter()
                .any(|n| n == self.all[j].namespace())
    }

    /// Objects that could be referred to and once had the name `old`.
    fn named(&self, old: &str) -> Vec<&'a Resource> {
        self.facts
            .by_prev_name
            .get(old)
            .into_iter()
            .flatten()
            .filter(|j| self.could_refer_to(**j))
            .map(|j| &self.all[*j])
            .collect()
    }

    fn set(&self, node: &mut Value) -> Result<(), String> {
        match node {
            Value::Null => Ok(()),
            Value::String(_) => self.set_scalar(node),
            Value::Object(_) => self.set_mapping(node),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(_) => self.set_scalar(item)?,
                        Value::Object(_) => self.set_mapping(item)?,
                        _ => {}
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn set_scalar(&self, node: &mut Value) -> Result<(), String> {
        let Some(old) = node.as_str() else {
            return Ok(());
        };
        let Some(r) = self.select(old, self.named(old), false)? else {
            return Ok(());
        };
        if r.name() != old {
            *node = Value::String(r.name().to_string());
        }
        Ok(())
    }

    fn set_mapping(&self, node: &mut Value) -> Result<(), String> {
        let Some(m) = node.as_object_mut() else {
            return Ok(());
        };
        let Some(old) = m.get("name").and_then(Value::as_str).map(str::to_string) else {
            return Err("no `name` field in the reference".to_string());
        };
        let candidates: Vec<&Resource> = match m.get("namespace").and_then(Value::as_str) {
            None => self.named(&old),
            Some(ns) => {
                // Grouped over every object that could be referred to, as kustomize groups.
                let subset: Vec<usize> = (0..self.all.len())
                    .filter(|j| self.could_refer_to(*j))
                    .collect();
                let by_original: Vec<usize> = subset
                    .iter()
                    .copied()
                    .filter(|j| original_namespace(&self.all[*j]) == ns)
                    .collect();
                let group = if by_original.is_empty() {
                    subset
                        .into_iter()
                        .filter(|j| self.all[*j].namespace() == ns)
                        .collect()
                } else {
                    by_original
                };
                group.into_iter().map(|j| &self.all[j]).collect()
            }
        };
        let Some(r) = self.select(&old, candidates, true)? else {
            return Ok(());
        };
        if r.name() == old && r.namespace().is_empty() {
            return Ok(());
        }
        m.insert("name".into(), Value::String(r.name().to_string()));
        if !r.namespace().is_empty() {
            m.insert("namespace".into(), Value::String(r.namespace().to_string()));
        }
        Ok(())
    }

    /// kustomize's `selectReferral`.
    fn select(
        &self,
        old: &str,
        mut c: Vec<&'a Resource>,
        with_namespace: bool,
    ) -> Result<Option<&'a Resource>, String> {
        c.retain(|r| r.prev_ids.iter().any(|p| p.name == old));
        c.retain(|r| prev_selected(r, self.target));
        if self.spec.path.ends_with("roleRef/name")
            && let Some(sel) = role_ref_gvk(self.referrer)
        {
            c.retain(|r| prev_selected(r, &sel));
        }
        if !self.referrer.is_cluster_scoped() {
            let my_ns = self.referrer.effective_namespace();
            c.retain(|r| {
                r.is_cluster_scoped()
                    || r.kind() == "ServiceAccount"
                    || r.effective_namespace() == my_ns
            });
        }
        if c.len() == 1 {
            return Ok(Some(c[0]));
        }
        c.retain(|r| affixes_equal(r, self.referrer, true));
        if c.len() > 1 {
            c.retain(|r| affixes_equal(r, self.referrer, false));
        }
        match c.len() {
            0 => Ok(None),
            1 => Ok(Some(c[0])),
            _ => {
                let same = c.iter().all(|r| {
                    r.name() == c[0].name()
                        && (!with_namespace || r.namespace() == c[0].namespace())
                });
                if same {
                    Ok(Some(c[0]))
                } else {
                    let names: Vec<String> = c.iter().map(|r| r.describe()).collect();
                    Err(format!(
                        "`{old}` could refer to several objects: {}; give them distinct names",
                        names.join(", ")
                    ))
                }
            }
        }
    }
}

fn original_namespace(r: &Resource) -> String {
    match r.prev_ids.first() {
        Some(p) => p.namespace.clone(),
        None => r.effective_namespace(),
    }
}

fn prev_selected(r: &Resource, sel: &Gvk) -> bool {
    r.prev_ids.iter().any(|p| {
        let mut g = r.gvk();
        g.kind = p.kind.clone();
        g.selected_by(sel)
    })
}

fn role_ref_gvk(r: &Resource) -> Option<Gvk> {
    let rr = r.object.get("roleRef")?;
    Some(Gvk {
        group: rr.get("apiGroup")?.as_str()?.to_string(),
        version: String::new(),
        kind: rr.get("kind")?.as_str()?.to_string(),
    })
}

/// kustomize's `SameEndingSubSlice`.
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}

fn affixes_equal(r: &Resource, o: &Resource, allow_empty: bool) -> bool {
    if allow_empty {
        let p = r.prefixes.is_empty() || o.prefixes.is_empty();
        let s = r.suffixes.is_empty() || o.suffixes.is_empty();
        (p || same_ending(&r.prefixes, &o.prefixes)) && (s || same_ending(&r.suffixes, &o.suffixes))
    } else {
        same_ending(&r.prefixes, &o.prefixes) && same_ending(&r.suffixes, &o.suffixes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use serde_json::json;

    fn res(v: Value) -> Resource {
        Resource::new(v, Origin::new("r.yaml", 1))
    }

    #[test]
    fn renamed_configmap_is_followed_by_deployment_volume() {
        let mut cm = res(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"}}));
        cm.store_previous_id();
        cm.set_name("p-cfg");
        let d = res(
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
            "spec":{"template":{"spec":{"volumes":[{"name":"v","configMap":{"name":"cfg"}}],
            "containers":[{"name":"c","envFrom":[{"configMapRef":{"name":"cfg"}}]}]}}}}),
        );
        let mut all = vec![cm, d];
        fix(&mut all, fieldspec::defaults()).unwrap();
        let o = &all[1].object;
        assert_eq!(
            o.pointer("/spec/template/spec/volumes/0/configMap/name"),
            Some(&json!("p-cfg"))
        );
        assert_eq!(
            o.pointer("/spec/template/spec/containers/0/envFrom/0/configMapRef/name"),
            Some(&json!("p-cfg"))
        );
    }

    #[test]
    fn service_account_subject_gets_name_and_namespace() {
        let mut sa =
            res(json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa"}}));
        sa.store_previous_id();
        sa.set_namespace("prod");
        sa.store_previous_id();
        sa.set_name("p-sa");
        let rb = res(
            json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",
            "metadata":{"name":"b"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"r"},
            "subjects":[{"kind":"ServiceAccount","name":"sa"}]}),
        );
        let mut all = vec![sa, rb];
        fix(&mut all, fieldspec::defaults()).unwrap();
        assert_eq!(
            all[1].object.pointer("/subjects/0"),
            Some(&json!({"kind":"ServiceAccount","name":"p-sa","namespace":"prod"}))
        );
    }
}
