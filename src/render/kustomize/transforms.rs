//! kustomize's built-in transformers that need no patch engine: namespace, name prefix and
//! suffix, labels, annotations, replicas and images (`api/internal/builtins`, `api/filters`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fieldspec::{self, Config, FieldSpec, Leaf};
use super::file::{Image, Label, Replica};
use super::resource::Resource;
use crate::manifest::Via;

/// Applies `spec` to `r` when its original kind is selected; `set` changes the field found.
fn apply_spec(
    r: &mut Resource,
    spec: &FieldSpec,
    leaf: Leaf,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    if !r.gvk().selected_by(&spec.gvk()) {
        return Ok(());
    }
    let path = fieldspec::split_path(&spec.path);
    fieldspec::walk(&mut r.object, &path, spec.create, leaf, set)
        .map_err(|e| format!("{} ({}): {e}", spec.path, r.describe()))
}

/// `namespace`: sets the namespace of namespaced objects and of references that need it.
pub fn namespace(res: &mut [Resource], ns: &str, cfg: &Config, via: &Via) -> Result<(), String> {
    let specs = &cfg.namespace;
    for r in res.iter_mut() {
        r.store_previous_id();
        let before = r.object.clone();
        if !r.is_cluster_scoped() {
            r.set_namespace(ns);
        }
        let kind = r.kind().to_string();
        if (kind == "RoleBinding" || kind == "ClusterRoleBinding")
            && let Some(Value::Array(subjects)) = r.object.get_mut("subjects")
        {
            for s in subjects.iter_mut() {
                if s.get("name").and_then(Value::as_str) == Some("default")
                    && let Some(m) = s.as_object_mut()
                {
                    m.insert("namespace".into(), Value::String(ns.to_string()));
                }
            }
        }
        let api_version = r.api_version().to_string();
        for spec in specs {
            if spec.path == "metadata/namespace"
                || (spec.path == "metadata/name" && api_version != "v1")
            {
                continue;
            }
            apply_spec(r, spec, Leaf::Scalar, &mut |n| {
                *n = Value::String(ns.to_string());
                Ok(())
            })?;
        }
        if r.object != before {
            r.touched(via);
        }
    }
    check_unique(res, "namespace")
}

/// Errors when two objects now have the same identity.
pub fn check_unique(res: &[Resource], what: &str) -> Result<(), String> {
    let mut seen: BTreeMap<(Gvk2, String, String), usize> = BTreeMap::new();
    for (i, r) in res.iter().enumerate() {
        let g = r.gvk();
        let key = (
            (g.group, g.version, g.kind),
            r.effective_namespace(),
            r.name().to_string(),
        );
        if let Some(j) = seen.insert(key, i) {
            return Err(format!(
                "{what} gives two objects the same identity: {} and {}",
                res[j].describe(),
                r.describe()
            ));
        }
    }
    Ok(())
}

type Gvk2 = (String, String, String);

/// kinds whose names never get a prefix or suffix.
fn skips_name_affix(r: &Resource) -> bool {
    let g = r.org_gvk();
    g.kind == "CustomResourceDefinition"
        || g.kind == "Namespace"
        || (g.kind == "APIService" && g.group == "apiregistration.k8s.io")
}

/// `namePrefix` / `nameSuffix` (`prefix` true for a prefix).
pub fn name_affix(
    res: &mut [Resource],
    affix: &str,
    prefix: bool,
    cfg: &Config,
    via: &Via,
) -> Result<(), String> {
    if affix.is_empty() {
        return Ok(());
    }
    let extra: Vec<&FieldSpec> = if prefix {
        &cfg.name_prefix
    } else {
        &cfg.name_suffix
    }
    .iter()
    .filter(|f| f.path != "metadata/name")
    .collect();
    for r in res.iter_mut() {
        if skips_name_affix(r) {
            continue;
        }
        if prefix {
            r.prefixes.push(affix.to_string());
        } else {
            r.suffixes.push(affix.to_string());
        }
        r.store_previous_id();
        let name = r.name();
        let new = if prefix {
            format!("{affix}{name}")
        } else {
            format!("{name}{affix}")
        };
        r.set_name(&new);
        for spec in &extra {
            apply_spec(r, spec, Leaf::Scalar, &mut |n| {
                if let Some(v) = n.as_str() {
                    *n = Value::String(if prefix {
                        format!("{affix}{v}")
                    } else {
                        format!("{v}{affix}")
                    });
                }
                Ok(())
            })?;
        }
        r.touched(via);
    }
    Ok(())
}

fn set_entries(
    pairs: &BTreeMap<String, String>,
) -> impl FnMut(&mut Value) -> Result<(), String> + '_ {
    move |n: &mut Value| {
        if n.is_null() {
            *n = Value::Object(Map::new());
        }
        let Some(m) = n.as_object_mut() else {
            return Err("expected a mapping".to_string());
        };
        for (k, v) in pairs {
            m.insert(k.clone(), Value::String(v.clone()));
        }
        Ok(())
    }
}

fn apply_map_specs(
    res: &mut [Resource],
    specs: &[FieldSpec],
    pairs: &BTreeMap<String, String>,
    via: &Via,
) -> Result<(), String> {
    if pairs.is_empty() {
        return Ok(());
    }
    for r in res.iter_mut() {
        let before = r.object.clone();
        for spec in specs {
            apply_spec(r, spec, Leaf::Map, &mut set_entries(pairs))?;
        }
        if r.object != before {
            r.touched(via);
        }
    }
    Ok(())
}

/// `commonLabels`: metadata, templates and selectors (kustomize's commonLabels field specs).
pub fn common_labels(
    res: &mut [Resource],
    pairs: &BTreeMap<String, String>,
    cfg: &Config,
    via: &Via,
) -> Result<(), String> {
    apply_map_specs(res, &cfg.common_labels, pairs, via)
}

/// One `labels` entry, honouring `includeSelectors`, `includeTemplates` and `fields`.
pub fn labels(res: &mut [Resource], label: &Label, cfg: &Config, via: &Via) -> Result<(), String> {
    let d = cfg;
    let mut specs: Vec<FieldSpec> = label
        .fields
        .iter()
        .map(|f| FieldSpec {
            group: f.group.clone(),
            version: f.version.clone(),
            kind: f.kind.clone(),
            path: f.path.clone(),
            create: f.create,
        })
        .collect();
    specs.extend(d.labels.iter().cloned());
    if label.include_selectors {
        specs.extend(d.common_labels.iter().cloned());
    } else {
        if label.include_templates {
            specs.extend(d.template_labels.iter().cloned());
        }
        specs.push(FieldSpec {
            path: "metadata/labels".into(),
            create: true,
            ..Default::default()
        });
    }
    apply_map_specs(res, &specs, &label.pairs, via)
}

/// `commonAnnotations`.
pub fn common_annotations(
    res: &mut [Resource],
    pairs: &BTreeMap<String, String>,
    cfg: &Config,
    via: &Via,
) -> Result<(), String> {
    apply_map_specs(res, &cfg.common_annotations, pairs, via)
}

/// One `replicas` entry; an entry that matches no object is an error, as in kustomize.
pub fn replicas(
    res: &mut [Resource],
    rep: &Replica,
    cfg: &Config,
    via: &Via,
) -> Result<(), String> {
    let specs = &cfg.replicas;
    let mut found = false;
    for spec in specs {
        let sel = spec.gvk();
        for r in res.iter_mut() {
            let named = r.name() == rep.name || r.prev_ids.iter().any(|p| p.name == rep.name);
            let selected = r.gvk().selected_by(&sel)
                || r.prev_ids.iter().any(|p| {
                    let mut g = r.gvk();
                    g.kind = p.kind.clone();
                    g.selected_by(&sel)
                });
            if !(named && selected) {
                continue;
            }
            found = true;
            let path = fieldspec::split_path(&spec.path);
            fieldspec::walk(&mut r.object, &path, spec.create, Leaf::Scalar, &mut |n| {
                *n = Value::from(rep.count);
                Ok(())
            })?;
            r.touched(via);
        }
    }
    if found {
        Ok(())
    } else {
        Err(format!(
            "replicas: no Deployment, ReplicationController, ReplicaSet or StatefulSet is named {}",
            rep.name
        ))
    }
}

/// One `images` entry: every `containers`/`initContainers` image anywhere in an object (except
/// CRDs), and image volumes.
pub fn images(res: &mut [Resource], img: &Image, cfg: &Config, via: &Via) -> Result<(), String> {
    for r in res.iter_mut() {
        let before = r.object.clone();
        if r.kind() != "CustomResourceDefinition" {
            walk_containers(&mut r.object, img);
        }
        // kustomize runs its legacy walk and then the field specs, so a `tagSuffix` is
        // appended twice to containers the specs also reach; kpush does the same.
        if r.kind() != "CustomResourceDefinition" {
            for spec in &cfg.images {
                apply_spec(r, spec, Leaf::Never, &mut |n| {
                    update_image(n, img);
                    Ok(())
                })?;
            }
        }
        if r.object != before {
            r.touched(via);
        }
    }
    Ok(())
}

fn walk_containers(v: &mut Value, img: &Image) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                walk_containers(child, img);
                if (k == "containers" || k == "initContainers")
                    && let Value::Array(items) = child
                {
                    for c in items {
                        if let Some(i) = c.get_mut("image") {
                            update_image(i, img);
                        }
                    }
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| walk_containers(x, img)),
        _ => {}
    }
}

/// kustomize's `IsImageMatched`: the name, then an optional `:tag` and `@sha256:digest`.
fn image_matches(value: &str, name: &str) -> bool {
    let Some(rest) = value.strip_prefix(name) else {
        return false;
    };
    let ok = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.{}-".contains(c))
    };
    let (tag, digest) = match rest.find("@sha256:") {
        Some(p) => (&rest[..p], Some(&rest[p + 8..])),
        None => (rest, None),
    };
    let tag_ok = tag.is_empty() || (tag.starts_with(':') && ok(&tag[1..]));
    tag_ok && digest.is_none_or(ok)
}

/// kustomize's `image.Split`: name, tag and digest.
fn split_image(s: &str) -> (String, String, String) {
    let slash = match s.find('/') {
        Some(i) if i > 0 => i,
        _ => 0,
    };
    let search = &s[slash..];
    let id = search.find('@');
    let ic = search.find(':');
    match (ic, id) {
        (None, None) => (s.to_string(), String::new(), String::new()),
        (ic, Some(d)) if ic.is_none_or(|c| d < c) => {
            let d = d + slash;
            (s[..d].to_string(), String::new(), s[d + 1..].to_string())
        }
        (Some(c), Some(d)) => {
            let (c, d) = (c + slash, d + slash);
            (
                s[..c].to_string(),
                s[c + 1..d].to_string(),
                s[d + 1..].to_string(),
            )
        }
        (Some(c), None) => {
            let c = c + slash;
            (s[..c].to_string(), s[c + 1..].to_string(), String::new())
        }
        (None, Some(_)) => unreachable!("handled by the digest arm"),
    }
}

fn update_image(node: &mut Value, img: &Image) {
    let Some(value) = node.as_str() else { return };
    if !image_matches(value, &img.name) {
        return;
    }
    let (mut name, mut tag, mut digest) = split_image(value);
    if !img.new_name.is_empty() {
        name = img.new_name.clone();
    }
    if !img.new_tag.is_empty() && !img.digest.is_empty() {
        tag = img.new_tag.clone();
        digest = img.digest.clone();
    } else if !img.new_tag.is_empty() {
        tag = img.new_tag.clone();
        digest.clear();
    } else if !img.digest.is_empty() {
        tag.clear();
        digest = img.digest.clone();
    } else if !img.tag_suffix.is_empty() {
        tag.push_str(&img.tag_suffix);
        digest.clear();
    }
    if !tag.is_empty() {
        name = format!("{name}:{tag}");
    }
    if !digest.is_empty() {
        name = format!("{name}@{digest}");
    }
    *node = Value::String(name);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use serde_json::json;

    fn via() -> Via {
        super::super::resource::via("test", &"k.yaml".into(), 1)
    }

    fn res(v: Value) -> Resource {
        Resource::new(v, Origin::new("r.yaml", 1))
    }

    #[test]
    fn image_split_and_match_follow_kustomize() {
        assert_eq!(
            split_image("gcr.io/x/nginx:1.2@sha256:abc"),
            ("gcr.io/x/nginx".into(), "1.2".into(), "sha256:abc".into())
        );
        assert_eq!(
            split_image("localhost:5000/app"),
            ("localhost:5000/app".into(), String::new(), String::new())
        );
        assert!(image_matches("nginx:1.0", "nginx"));
        assert!(image_matches("nginx@sha256:abc", "nginx"));
        assert!(!image_matches("nginx-x:1.0", "nginx"));
    }

    #[test]
    fn images_change_containers_anywhere() {
        let mut r = vec![res(json!({"apiVersion":"example.com/v1","kind":"Thing",
            "metadata":{"name":"t"},"spec":{"x":{"containers":[{"image":"nginx:1"}]}}}))];
        let img = Image {
            name: "nginx".into(),
            new_tag: "2".into(),
            ..Default::default()
        };
        images(&mut r, &img, fieldspec::defaults(), &via()).unwrap();
        assert_eq!(
            r[0].object.pointer("/spec/x/containers/0/image"),
            Some(&json!("nginx:2"))
        );
        assert_eq!(r[0].origin.via.len(), 1);
    }

    #[test]
    fn common_labels_reach_selectors_and_templates() {
        let mut r = vec![res(json!({"apiVersion":"apps/v1","kind":"Deployment",
            "metadata":{"name":"d"},"spec":{"template":{"metadata":{}}}}))];
        let pairs = BTreeMap::from([("app".to_string(), "web".to_string())]);
        common_labels(&mut r, &pairs, fieldspec::defaults(), &via()).unwrap();
        assert_eq!(
            r[0].object.pointer("/spec/selector/matchLabels/app"),
            Some(&json!("web"))
        );
        assert_eq!(
            r[0].object.pointer("/spec/template/metadata/labels/app"),
            Some(&json!("web"))
        );
        assert_eq!(
            r[0].object.pointer("/metadata/labels/app"),
            Some(&json!("web"))
        );
    }

    #[test]
    fn namespace_skips_cluster_scoped_and_sets_default_subjects() {
        let mut r = vec![
            res(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"old"}})),
            res(
                json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",
                "metadata":{"name":"b"},"subjects":[{"kind":"ServiceAccount","name":"default"}]}),
            ),
        ];
        namespace(&mut r, "prod", fieldspec::defaults(), &via()).unwrap();
        assert_eq!(r[0].object.pointer("/metadata/name"), Some(&json!("prod")));
        assert_eq!(r[0].object.pointer("/metadata/namespace"), None);
        assert_eq!(
            r[1].object.pointer("/subjects/0/namespace"),
            Some(&json!("prod"))
        );
    }

    #[test]
    fn replicas_without_a_match_is_an_error() {
        let mut r = vec![res(
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}),
        )];
        let rep = Replica {
            name: "x".into(),
            count: 3,
        };
        assert!(replicas(&mut r, &rep, fieldspec::defaults(), &via()).is_err());
        let rep = Replica {
            name: "d".into(),
            count: 3,
        };
        replicas(&mut r, &rep, fieldspec::defaults(), &via()).unwrap();
        assert_eq!(r[0].object.pointer("/spec/replicas"), Some(&json!(3)));
    }
}
