//! One revision of a release: what was applied, by which run, and how it ended. Stored gzip-
//! compressed JSON inside a Secret (see [`super::store`]); this module is the format.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifest::{Manifest, Origin};

/// Version of the stored format; a Secret with another is reported and skipped.
pub const FORMAT: u32 = 1;

/// Upper bound on a decompressed revision, against a hostile or broken Secret (a Secret holds
/// at most 1 MiB compressed).
const MAX_DECOMPRESSED: u64 = 64 * 1024 * 1024;

/// How a revision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Written before applying; the run has not finished (or died without saying so).
    Pending,
    /// Applied, and every rollout became ready (or `--wait=false` and applying worked).
    Succeeded,
    /// The API server rejected objects, or a rollout failed.
    Failed,
    /// A rollout did not finish within `--timeout`.
    TimedOut,
    /// Failed or timed out, then the previous succeeded revision was restored.
    RolledBack,
    /// Stopped by Ctrl-C or SIGTERM, or found pending after its run died.
    Interrupted,
}

impl Status {
    /// The word used in labels, tables and JSON (`succeeded`, `timed-out`, ...).
    pub fn word(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::TimedOut => "timed-out",
            Status::RolledBack => "rolled-back",
            Status::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// The CI run (or person) that made a revision; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunInfo {
    /// `github-actions`, `azure-pipelines`, or absent outside CI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<String>,
    /// Repository URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Commit SHA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Workflow or pipeline name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// Link to the CI run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// Who started the run (CI actor), or the local user outside CI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl RunInfo {
    /// Reads the run from CI variables (the same as the `kpush.dev/*` run annotations); outside
    /// CI, the actor is `$USER@$HOSTNAME` when known.
    pub fn from_env(env: &std::collections::BTreeMap<String, String>) -> Self {
        let mut run = RunInfo::default();
        for (k, v) in crate::render::metadata::run_annotations(env) {
            let field = match k.trim_start_matches(crate::render::metadata::RUN_ANNOTATION_PREFIX) {
                "ci" => &mut run.ci,
                "repository" => &mut run.repository,
                "commit" => &mut run.commit,
                "workflow" => &mut run.workflow,
                "run-url" => &mut run.run_url,
                "actor" => &mut run.actor,
                _ => continue,
            };
            *field = Some(v);
        }
        if run.actor.is_none() {
            let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
            run.actor = match (get("USER").or(get("USERNAME")), get("HOSTNAME")) {
                (Some(u), Some(h)) => Some(format!("{u}@{h}")),
                (Some(u), None) => Some(u),
                _ => None,
            };
        }
        run
    }

    /// Who, in a few words: the run URL, else the actor, else `unknown`.
    pub fn who(&self) -> String {
        match (&self.run_url, &self.actor) {
            (Some(url), Some(actor)) => format!("{url} ({actor})"),
            (Some(url), None) => url.clone(),
            (None, Some(actor)) => actor.clone(),
            (None, None) => "an unknown user".into(),
        }
    }
}

/// What happened to one object in a revision's run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRecord {
    /// API group (empty for the core group).
    #[serde(default)]
    pub group: String,
    /// `Deployment`.
    pub kind: String,
    /// Namespace, for namespaced objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// `created`, `configured`, `unchanged`, `recreated`, `failed`, `skipped`, `pruned`.
    pub action: String,
}

/// One manifest as applied, with the file and line it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredManifest {
    /// The file (or `-`, or `--create-namespace`).
    pub file: String,
    /// The line of its document.
    pub line: u32,
    /// Rendered from a Helm chart (its `helm.sh/hook` annotations are honoured).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub chart: bool,
    /// The object.
    pub object: Value,
}

/// One revision of a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// Format version ([`FORMAT`]).
    pub format: u32,
    /// The release.
    pub release: String,
    /// The release's namespace (where this record lives).
    pub namespace: String,
    /// 1, 2, 3, ...
    pub revision: u32,
    /// How it ended (pending while running).
    pub status: Status,
    /// For a rollback: the revision whose manifests were re-applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_to: Option<u32>,
    /// One sentence on how it ended (what failed, what was restored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// kpush's version.
    pub kpush_version: String,
    /// The run that made it.
    pub run: RunInfo,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 end time (absent while pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Container images deployed, sorted.
    pub images: Vec<String>,
    /// Per object: what applying did (empty while pending).
    #[serde(default)]
    pub objects: Vec<ObjectRecord>,
    /// The manifests as applied.
    pub manifests: Vec<StoredManifest>,
    /// Whether its record's signature verified (not stored: found when read).
    #[serde(skip)]
    pub trust: super::signature::Trust,
}

/// Why a stored revision cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not gzip, or larger than the bound.
    #[error("the data is not a gzip-compressed revision: {0}")]
    Compression(String),
    /// Not the JSON kpush writes.
    #[error("the revision is not valid JSON of kpush's format: {0}")]
    Json(String),
    /// Written by a newer (or unknown) format.
    #[error("the revision has format {0}; this kpush reads format {FORMAT}")]
    Format(u32),
}

impl Revision {
    /// The manifests as kpush's [`Manifest`]s, origins restored.
    pub fn manifests(&self) -> Vec<Manifest> {
        self.manifests
            .iter()
            .map(|m| {
                let origin = Origin::new(m.file.as_str(), m.line);
                let origin = if m.chart { origin.from_chart() } else { origin };
                Manifest::new(origin, m.object.clone())
            })
            .collect()
    }

    /// Gzip-compressed JSON, for the Secret.
    pub fn encode(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        // Writing to a Vec cannot fail.
        let _ = gz.write_all(&json);
        gz.finish().unwrap_or_default()
    }

    /// Reads what [`Revision::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<Revision, DecodeError> {
        let mut json = Vec::new();
        GzDecoder::new(bytes)
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(&mut json)
            .map_err(|e| DecodeError::Compression(e.to_string()))?;
        if json.len() as u64 > MAX_DECOMPRESSED {
            return Err(DecodeError::Compression(format!(
                "more than {} MiB uncompressed",
                MAX_DECOMPRESSED / 1024 / 1024
            )));
        }
        let head: Value =
            serde_json::from_slice(&json).map_err(|e| DecodeError::Json(e.to_string()))?;
        match head.get("format").and_then(Value::as_u64) {
            Some(f) if f == u64::from(FORMAT) => {}
            Some(f) => return Err(DecodeError::Format(u32::try_from(f).unwrap_or(u32::MAX))),
            None => return Err(DecodeError::Json("no `format` field".into())),
        }
        serde_json::from_value(head).map_err(|e| DecodeError::Json(e.to_string()))
    }
}

/// Stores manifests with their origins.
pub fn store_manifests(manifests: &[Manifest]) -> Vec<StoredManifest> {
    manifests
        .iter()
        .map(|m| StoredManifest {
            file: m.origin.file.to_string(),
            line: m.origin.line,
            chart: m.origin.chart,
            object: m.object.clone(),
        })
        .collect()
}

/// The current time, RFC 3339 in UTC to the second.
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .unwrap_or_else(|_| k8s_openapi::jiff::Timestamp::now())
        .to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn sample() -> Revision {
        Revision {
            format: FORMAT,
            release: "shop".into(),
            namespace: "prod".into(),
            revision: 3,
            status: Status::Succeeded,
            rollback_to: None,
            message: None,
            kpush_version: "0.1.0".into(),
            run: RunInfo {
                commit: Some("abc123".into()),
                ..Default::default()
            },
            started_at: "2026-11-29T10:00:00Z".into(),
            finished_at: Some("2026-11-29T10:01:00Z".into()),
            images: vec!["nginx:1.27".into()],
            objects: vec![ObjectRecord {
                group: String::new(),
                kind: "ConfigMap".into(),
                namespace: Some("prod".into()),
                name: "c".into(),
                action: "created".into(),
            }],
            manifests: vec![StoredManifest {
                file: "c.yaml".into(),
                line: 1,
                chart: false,
                object: json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}),
            }],
            trust: Default::default(),
        }
    }

    #[test]
    fn a_revision_survives_encoding() {
        let r = sample();
        let bytes = r.encode();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
        assert_eq!(Revision::decode(&bytes).unwrap(), r);
        let m = &r.manifests()[0];
        assert_eq!(m.origin.to_string(), "c.yaml:1");
        assert!(!m.origin.chart);
        assert!(!String::from_utf8_lossy(&serde_json::to_vec(&r).unwrap()).contains("chart"));
    }

    #[test]
    fn a_chart_manifest_stays_one_so_a_rollback_runs_its_hooks() {
        let mut r = sample();
        let from_chart = Manifest::new(
            Origin::new("app/templates/job.yaml", 3).from_chart(),
            json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"}}),
        );
        r.manifests = store_manifests(&[from_chart]);
        let back = Revision::decode(&r.encode()).unwrap().manifests();
        assert!(back[0].origin.chart);
        assert_eq!(back[0].origin.to_string(), "app/templates/job.yaml:3");
    }

    #[test]
    fn garbage_and_other_formats_are_errors_not_panics() {
        assert!(matches!(
            Revision::decode(b"not gzip"),
            Err(DecodeError::Compression(_))
        ));
        let gz = |s: &str| {
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(s.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        assert!(matches!(
            Revision::decode(&gz("{\"x\":1")),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            Revision::decode(&gz("{\"format\":2}")),
            Err(DecodeError::Format(2))
        ));
        assert!(matches!(
            Revision::decode(&gz("{\"format\":1,\"release\":5}")),
            Err(DecodeError::Json(_))
        ));
    }

    #[test]
    fn run_info_comes_from_ci_variables_or_the_user() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let gh = RunInfo::from_env(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "7"),
            ("GITHUB_SHA", "abc"),
            ("GITHUB_ACTOR", "octocat"),
        ]));
        assert_eq!(gh.commit.as_deref(), Some("abc"));
        assert_eq!(gh.who(), "https://github.com/o/r/actions/runs/7 (octocat)");
        let local = RunInfo::from_env(&env(&[("USER", "ana"), ("HOSTNAME", "box")]));
        assert_eq!(local.who(), "ana@box");
        assert_eq!(RunInfo::default().who(), "an unknown user");
    }
}
