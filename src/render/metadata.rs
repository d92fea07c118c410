//! Labels, annotations and CI run metadata added to every object's metadata (never to selectors).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::manifest::Manifest;

/// The label kpush puts on everything it deploys (unless the manifest already sets it).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGED_BY_VALUE: &str = "kpush";

/// Prefix of the run annotations.
pub const RUN_ANNOTATION_PREFIX: &str = "kpush.dev/";

/// Parses and validates `K=V` for `--label` (`label = true`) or `--annotation`.
pub fn parse_pair(spec: &str, label: bool) -> Result<(String, String), String> {
    let flag = if label { "--label" } else { "--annotation" };
    let (k, v) = spec
        .split_once('=')
        .ok_or_else(|| format!("{flag} `{spec}` must have the form KEY=VALUE"))?;
    validate_key(k).map_err(|e| format!("{flag} `{spec}`: {e}"))?;
    if label {
        validate_label_value(v).map_err(|e| format!("{flag} `{spec}`: {e}"))?;
    }
    Ok((k.to_string(), v.to_string()))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

fn validate_key(k: &str) -> Result<(), String> {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            });
        if !ok {
            return Err(format!(
                "the key prefix `{p}` must be a DNS subdomain (for example example.com)"
            ));
        }
    }
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(is_name_char)
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the key name `{name}` must be at most 63 characters of letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit"
        ))
    }
}

fn validate_label_value(v: &str) -> Result<(), String> {
    let ok = v.is_empty()
        || (v.len() <= 63
            && v.chars().all(is_name_char)
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the label value `{v}` must be at most 63 characters of letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit"
        ))
    }
}

/// Adds labels (plus managed-by) and annotations to every manifest's metadata.
pub fn apply(
    manifests: &mut [Manifest],
    labels: &[(String, String)],
    annotations: &[(String, String)],
) {
    for m in manifests.iter_mut() {
        let l = m.metadata_map_mut("labels");
        for (k, v) in labels {
            l.insert(k.clone(), Value::String(v.clone()));
        }
        l.entry(MANAGED_BY_LABEL)
            .or_insert_with(|| Value::String(MANAGED_BY_VALUE.into()));
        if !annotations.is_empty() {
            let a = m.metadata_map_mut("annotations");
            for (k, v) in annotations {
                a.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
}

/// Run metadata annotations read from a CI environment (GitHub Actions or Azure DevOps).
///
/// Keys, all under `kpush.dev/`: `ci`, `repository`, `commit`, `workflow` (GitHub workflow or
/// Azure DevOps pipeline), `run-url`, `actor`. No network call is made.
pub fn run_annotations(env: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let get = |k: &str| env.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let mut out = Vec::new();
    let mut push = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            out.push((format!("{RUN_ANNOTATION_PREFIX}{k}"), v));
        }
    };
    if get("GITHUB_ACTIONS") == Some("true") {
        let server = get("GITHUB_SERVER_URL").unwrap_or("https://github.com");
        let repo = get("GITHUB_REPOSITORY");
        push("ci", Some("github-actions".into()));
        push("repository", repo.map(|r| format!("{server}/{r}")));
        push("commit", get("GITHUB_SHA").map(str::to_string));
        push("workflow", get("GITHUB_WORKFLOW").map(str::to_string));
        push(
            "run-url",
            repo.zip(get("GITHUB_RUN_ID"))
                .map(|(r, id)| match get("GITHUB_RUN_ATTEMPT") {
                    Some(a) if a != "1" => format!("{server}/{r}/actions/runs/{id}/attempts/{a}"),
                    _ => format!("{server}/{r}/actions/runs/{id}"),
                }),
        );
        push("actor", get("GITHUB_ACTOR").map(str::to_string));
    } else if get("TF_BUILD").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        push("ci", Some("azure-pipelines".into()));
        push(
            "repository",
            get("BUILD_REPOSITORY_URI")
                .or(get("BUILD_REPOSITORY_NAME"))
                .map(str::to_string),
        );
        push("commit", get("BUILD_SOURCEVERSION").map(str::to_string));
        push("workflow", get("BUILD_DEFINITIONNAME").map(str::to_string));
        push(
            "run-url",
            get("SYSTEM_COLLECTIONURI")
                .zip(get("SYSTEM_TEAMPROJECT"))
                .zip(get("BUILD_BUILDID"))
                .map(|((c, p), id)| {
                    format!(
                        "{}/{}/_build/results?buildId={id}",
                        c.trim_end_matches('/'),
                        p.replace(' ', "%20")
                    )
                }),
        );
        push("actor", get("BUILD_REQUESTEDFOR").map(str::to_string));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_go_on_metadata_not_selectors() {
        let mut ms = vec![Manifest::new(
            Origin::new("f", 1),
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"w"},
                "spec":{"selector":{"matchLabels":{"app":"w"}}}}),
        )];
        apply(
            &mut ms,
            &[("team".into(), "a".into())],
            &[("note".into(), "x".into())],
        );
        assert_eq!(ms[0].label("team"), Some("a"));
        assert_eq!(ms[0].label(MANAGED_BY_LABEL), Some("kpush"));
        assert_eq!(ms[0].annotation("note"), Some("x"));
        assert_eq!(
            ms[0].object["spec"]["selector"],
            json!({"matchLabels":{"app":"w"}})
        );
    }

    #[test]
    fn keys_and_values_are_validated() {
        assert!(parse_pair("app.kubernetes.io/part-of=shop", true).is_ok());
        assert!(parse_pair("bad key=x", true).is_err());
        assert!(parse_pair("k=not a label value", true).is_err());
        assert!(parse_pair("k=any text, even spaces", false).is_ok());
        assert!(parse_pair("Example.com/k=v", true).is_err());
    }

    #[test]
    fn github_run_annotations() {
        let a = run_annotations(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "org/repo"),
            ("GITHUB_SHA", "abc"),
            ("GITHUB_WORKFLOW", "deploy"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_ACTOR", "octo"),
        ]));
        assert_eq!(
            a,
            vec![
                ("kpush.dev/ci".into(), "github-actions".into()),
                (
                    "kpush.dev/repository".into(),
                    "https://github.com/org/repo".into()
                ),
                ("kpush.dev/commit".into(), "abc".into()),
                ("kpush.dev/workflow".into(), "deploy".into()),
                (
                    "kpush.dev/run-url".into(),
                    "https://github.com/org/repo/actions/runs/42".into()
                ),
                ("kpush.dev/actor".into(), "octo".into()),
            ]
        );
    }

    #[test]
    fn azure_devops_run_annotations() {
        let a = run_annotations(&env(&[
            ("TF_BUILD", "True"),
            ("BUILD_REPOSITORY_URI", "https://dev.azure.com/o/p/_git/r"),
            ("BUILD_SOURCEVERSION", "def"),
            ("BUILD_DEFINITIONNAME", "ci"),
            ("SYSTEM_COLLECTIONURI", "https://dev.azure.com/o/"),
            ("SYSTEM_TEAMPROJECT", "My Project"),
            ("BUILD_BUILDID", "7"),
            ("BUILD_REQUESTEDFOR", "Ann"),
        ]));
        assert_eq!(
            a[4].1,
            "https://dev.azure.com/o/My%20Project/_build/results?buildId=7"
        );
        assert_eq!(a.len(), 6);
    }

    #[test]
    fn no_ci_no_annotations() {
        assert!(run_annotations(&env(&[("HOME", "/root")])).is_empty());
    }
}
