//! Image overrides (`--image NAME=REF`) applied to every container of every pod template.

use serde_json::Value;

use crate::manifest::Manifest;

/// One `--image NAME=REF` override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOverride {
    /// What the user wrote before `=`.
    pub name: String,
    /// Normalised repository the override matches (`docker.io/library/nginx`).
    repository: String,
    /// What to put instead: a full reference, or `:tag` / `@digest` to keep the repository.
    pub replacement: String,
}

impl ImageOverride {
    /// Parses `NAME=REF`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, replacement) = spec
            .split_once('=')
            .ok_or_else(|| format!("--image `{spec}` must have the form NAME=REF (for example web=myacr.azurecr.io/web:1.4.2)"))?;
        let (name, replacement) = (name.trim(), replacement.trim());
        if name.is_empty() || replacement.is_empty() {
            return Err(format!("--image `{spec}` must have the form NAME=REF"));
        }
        let repository = normalize_repository(split_reference(name).0);
        if !(replacement.starts_with(':') || replacement.starts_with('@')) {
            validate_reference(replacement)
                .map_err(|e| format!("--image `{spec}`: `{replacement}` {e}"))?;
        }
        Ok(Self {
            name: name.to_string(),
            repository,
            replacement: replacement.to_string(),
        })
    }

    fn apply_to(&self, image: &str) -> Option<String> {
        let (repo, _, _) = split_reference(image);
        if normalize_repository(repo) != self.repository {
            return None;
        }
        Some(
            if self.replacement.starts_with(':') || self.replacement.starts_with('@') {
                format!("{repo}{}", self.replacement)
            } else {
                self.replacement.clone()
            },
        )
    }
}

/// Splits an image reference into repository, tag and digest.
pub fn split_reference(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let last_slash = rest.rfind('/').map(|p| p + 1).unwrap_or(0);
    match rest[last_slash..].rfind(':') {
        Some(p) => (
            &rest[..last_slash + p],
            Some(&rest[last_slash + p + 1..]),
            digest,
        ),
        None => (rest, None, digest),
    }
}

/// Normalises a repository the way container runtimes do: `nginx` → `docker.io/library/nginx`.
pub fn normalize_repository(repo: &str) -> String {
    let repo = repo.to_ascii_lowercase();
    let (first, rest) = match repo.split_once('/') {
        Some((f, r)) => (f, Some(r)),
        None => (repo.as_str(), None),
    };
    let is_registry =
        rest.is_some() && (first.contains('.') || first.contains(':') || first == "localhost");
    match (is_registry, rest) {
        (true, Some(_)) => {
            let r = repo.replacen("index.docker.io/", "docker.io/", 1);
            if let Some(path) = r.strip_prefix("docker.io/")
                && !path.contains('/')
            {
                return format!("docker.io/library/{path}");
            }
            r
        }
        (false, Some(_)) => format!("docker.io/{repo}"),
        (_, None) => format!("docker.io/library/{repo}"),
    }
}

fn validate_reference(r: &str) -> Result<(), &'static str> {
    let (repo, tag, digest) = split_reference(r);
    if repo.is_empty() {
        return Err("has no repository");
    }
    if repo.chars().any(|c| c.is_whitespace()) {
        return Err("contains whitespace");
    }
    if tag.is_some_and(str::is_empty) {
        return Err("has an empty tag");
    }
    if digest.is_some_and(|d| !d.contains(':')) {
        return Err("has a digest without an algorithm (expected @sha256:...)");
    }
    Ok(())
}

/// JSON paths (as keys) to the pod spec of each kind that carries one.
pub fn pod_spec_path(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    match (group, kind) {
        ("", "Pod") => Some(&["spec"]),
        ("", "PodTemplate") => Some(&["template", "spec"]),
        ("", "ReplicationController")
        | ("apps" | "extensions", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => Some(&["spec", "template", "spec"]),
        ("batch", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

/// Mutable pod spec of a manifest, if its kind has one.
pub fn pod_spec_mut(m: &mut Manifest) -> Option<&mut Value> {
    let path = pod_spec_path(m.group(), m.kind())?;
    let mut v = &mut m.object;
    for p in path {
        v = v.get_mut(*p)?;
    }
    Some(v)
}

/// Read-only pod spec of a manifest, if its kind has one.
pub fn pod_spec(m: &Manifest) -> Option<&Value> {
    let path = pod_spec_path(m.group(), m.kind())?;
    let mut v = &m.object;
    for p in path {
        v = v.get(*p)?;
    }
    Some(v)
}

const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// Applies all overrides to all manifests; returns how many containers each override changed.
pub fn apply(manifests: &mut [Manifest], overrides: &[ImageOverride]) -> Vec<usize> {
    let mut hits = vec![0; overrides.len()];
    if overrides.is_empty() {
        return hits;
    }
    for m in manifests.iter_mut() {
        let Some(spec) = pod_spec_mut(m) else {
            continue;
        };
        for list in CONTAINER_LISTS {
            let Some(Value::Array(containers)) = spec.get_mut(list) else {
                continue;
            };
            for c in containers {
                let Some(Value::String(image)) = c.get_mut("image") else {
                    continue;
                };
                // The last matching override wins, like repeated flags elsewhere.
                for (i, o) in overrides.iter().enumerate().rev() {
                    if let Some(new) = o.apply_to(image) {
                        *image = new;
                        hits[i] += 1;
                        break;
                    }
                }
            }
        }
    }
    hits
}

/// Every container image in the manifests, in order, without duplicates.
pub fn images(manifests: &[Manifest]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in manifests {
        let Some(spec) = pod_spec(m) else { continue };
        for list in CONTAINER_LISTS {
            for c in spec
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(img) = c.get("image").and_then(Value::as_str)
                    && !out.iter().any(|i| i == img)
                {
                    out.push(img.to_string());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use serde_json::json;

    #[test]
    fn references_split_into_repo_tag_digest() {
        assert_eq!(split_reference("nginx"), ("nginx", None, None));
        assert_eq!(
            split_reference("localhost:5000/a/b:1.0@sha256:ab"),
            ("localhost:5000/a/b", Some("1.0"), Some("sha256:ab"))
        );
    }

    #[test]
    fn repositories_normalise_like_docker() {
        assert_eq!(normalize_repository("nginx"), "docker.io/library/nginx");
        assert_eq!(
            normalize_repository("bitnami/redis"),
            "docker.io/bitnami/redis"
        );
        assert_eq!(
            normalize_repository("docker.io/nginx"),
            "docker.io/library/nginx"
        );
        assert_eq!(
            normalize_repository("myacr.azurecr.io/web"),
            "myacr.azurecr.io/web"
        );
    }

    #[test]
    fn overrides_reach_every_container_list_and_cronjobs() {
        let mut ms = vec![
            Manifest::new(
                Origin::new("a", 1),
                json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"w"},
                "spec":{"template":{"spec":{"initContainers":[{"name":"i","image":"nginx:1"}],"containers":[{"name":"c","image":"docker.io/library/nginx@sha256:aa"},{"name":"s","image":"redis"}]}}}}),
            ),
            Manifest::new(
                Origin::new("a", 9),
                json!({"apiVersion":"batch/v1beta1","kind":"CronJob","metadata":{"name":"c"},
                "spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}}}),
            ),
        ];
        let o = vec![
            ImageOverride::parse("nginx=myacr.azurecr.io/nginx:2").unwrap(),
            ImageOverride::parse("redis=:7").unwrap(),
            ImageOverride::parse("unused=x:1").unwrap(),
        ];
        let hits = apply(&mut ms, &o);
        assert_eq!(hits, vec![3, 1, 0]);
        assert_eq!(images(&ms), vec!["myacr.azurecr.io/nginx:2", "redis:7"]);
    }

    #[test]
    fn bad_override_specs_are_refused() {
        assert!(ImageOverride::parse("nginx").is_err());
        assert!(ImageOverride::parse("nginx=").is_err());
        assert!(ImageOverride::parse("nginx=a b").is_err());
        assert!(ImageOverride::parse("nginx=x@abc").is_err());
    }
}
