//! GitHub deployments: a deploy from GitHub Actions becomes a deployment of the commit to an
//! environment (`POST /repos/{owner}/{repo}/deployments`), with statuses `in_progress` and then
//! `success`, `failure` or `error` (`…/deployments/{id}/statuses`), linking the run (`log_url`)
//! and the environment (`environment_url`). On success, earlier deployments of the environment
//! still marked `success` become `inactive`: GitHub does that itself (`auto_inactive`) for
//! non-production environments only, so kpush marks the rest (production ones) explicitly.
//!
//! GitHub's refusal (missing `deployments: write`, a token of another repository, a body it
//! refuses) or an unreachable API is one warning, and the rest of the record is skipped; the
//! deploy's verdict and exit code never change. The token is sent only in the `Authorization`
//! header (marked sensitive) and is never printed or logged.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use crate::event::{Event, ReleaseNote, Sink};

/// `X-GitHub-Api-Version` kpush speaks.
const API_VERSION: &str = "2022-11-28";
/// A status's description: GitHub refuses more than 140 characters.
const MAX_DESCRIPTION: usize = 140;
/// Earlier deployments looked at when marking them inactive (GitHub's largest page).
const EARLIER: usize = 100;

/// A GitHub token: its `Debug` never shows the value.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token's value.
    pub fn new(value: impl Into<String>) -> Self {
        Token(value.into())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Where and what to record: from `GITHUB_*` variables and kpush's flags.
#[derive(Debug, Clone)]
pub struct GithubSettings {
    /// `GITHUB_API_URL` (`https://api.github.com`, or a GitHub Enterprise Server's).
    pub api_url: String,
    /// `owner/repo` (`GITHUB_REPOSITORY`).
    pub repository: String,
    /// The commit deployed (`GITHUB_SHA`).
    pub sha: String,
    /// `GITHUB_TOKEN`.
    pub token: Token,
    /// The deployment environment (`--environment`).
    pub environment: String,
    /// The environment's address (`--environment-url`).
    pub environment_url: Option<String>,
    /// The run's page (`log_url`).
    pub log_url: Option<String>,
    /// The kpush release deployed, if any.
    pub release: Option<String>,
}

/// Whether this run records a GitHub deployment.
#[derive(Debug)]
pub enum Setup {
    /// No: off, no environment, or not in GitHub Actions.
    Off,
    /// Yes, with these settings.
    Record(GithubSettings),
    /// Asked for, but the environment lacks what it needs: one warning saying what.
    Unusable(String),
}

/// How the deploy ended, in GitHub's words for a deployment status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// `success`: everything applied is ready.
    Success,
    /// `failure`: a rollout failed or timed out (rolled back included).
    Failure,
    /// `error`: the deploy could not run to its end (refused, unreachable, invalid, …).
    Error,
}

impl Conclusion {
    fn state(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Error => "error",
        }
    }
}

/// A deployment being recorded (or nothing to record).
#[derive(Debug)]
pub struct Recorder {
    active: Option<Active>,
}

#[derive(Debug)]
struct Active {
    http: reqwest::Client,
    settings: GithubSettings,
    id: u64,
}

impl Recorder {
    /// Creates the deployment and its `in_progress` status as `setup` says; a refusal is one
    /// warning into `sink`, and nothing more is recorded.
    pub async fn start(setup: Setup, sink: &dyn Sink) -> Recorder {
        let settings = match setup {
            Setup::Off => return Recorder { active: None },
            Setup::Unusable(why) => {
                warn(sink, &why);
                return Recorder { active: None };
            }
            Setup::Record(s) => s,
        };
        let http = match client() {
            Ok(c) => c,
            Err(e) => {
                warn(
                    sink,
                    &format!(
                        "{}: cannot set up the HTTPS client: {e}",
                        not_recorded(&settings)
                    ),
                );
                return Recorder { active: None };
            }
        };
        let mut active = Active {
            http,
            settings,
            id: 0,
        };
        match active.create().await {
            Ok(()) => {
                sink.event(&Event::Info {
                    message: format!(
                        "GitHub deployment {} of {} to environment {} recorded (in progress)",
                        active.id, active.settings.sha, active.settings.environment
                    ),
                });
                Recorder {
                    active: Some(active),
                }
            }
            Err(refusal) => {
                warn(
                    sink,
                    &refusal.warning(&active.settings, "create a deployment"),
                );
                Recorder { active: None }
            }
        }
    }

    /// Sets the deployment's final status (`revision`: the release revision this deploy
    /// recorded); on success, marks earlier deployments of the environment inactive. A refusal
    /// is one warning into `sink`.
    pub async fn finish(self, conclusion: Conclusion, revision: Option<u32>, sink: &dyn Sink) {
        let Some(active) = self.active else { return };
        let result = async {
            active
                .status(
                    conclusion.state(),
                    &active.description(conclusion, revision),
                )
                .await
                .map_err(|r| (r, "set the deployment's status"))?;
            if conclusion == Conclusion::Success {
                active
                    .deactivate_earlier()
                    .await
                    .map_err(|r| (r, "mark earlier deployments inactive"))?;
            }
            Ok::<(), (Refusal, &str)>(())
        }
        .await;
        match result {
            Ok(()) => sink.event(&Event::Info {
                message: format!(
                    "GitHub deployment {} to environment {}: {}",
                    active.id,
                    active.settings.environment,
                    conclusion.state()
                ),
            }),
            Err((refusal, what)) => warn(sink, &refusal.warning(&active.settings, what)),
        }
    }
}

fn warn(sink: &dyn Sink, message: &str) {
    sink.event(&Event::Warning {
        object: None,
        message: message.to_string(),
    });
}

fn not_recorded(settings: &GithubSettings) -> String {
    format!(
        "GitHub deployment to environment {} not recorded (the deploy itself is unaffected)",
        settings.environment
    )
}

/// The HTTPS client: system roots (and `SSL_CERT_FILE`), proxies from `HTTPS_PROXY`,
/// `NO_PROXY` and friends as for every other kpush connection, bounded waits.
fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(20))
        .user_agent(concat!("kpush/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Why GitHub did not do what was asked.
#[derive(Debug)]
struct Refusal {
    /// The HTTP status, or `None` when GitHub was not reached.
    status: Option<u16>,
    /// GitHub's `message`, or the connection error.
    message: String,
    /// `X-Accepted-GitHub-Permissions` (`deployments=write`).
    permission: Option<String>,
}

impl Refusal {
    /// The one warning: what failed, GitHub's answer, and what to fix.
    fn warning(&self, settings: &GithubSettings, what: &str) -> String {
        let head = not_recorded(settings);
        let repo = &settings.repository;
        match self.status {
            None => format!(
                "{head}: cannot reach GitHub at {} to {what}: {}\n  fix: check the network \
                 path to GitHub (HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE for a private CA) or pass \
                 --no-github-deployment",
                settings.api_url, self.message
            ),
            Some(401) => format!(
                "{head}: GitHub refused GITHUB_TOKEN (401 {})\n  fix: pass the job's token to \
                 the step (`env: GITHUB_TOKEN: ${{{{ github.token }}}}`)",
                self.message
            ),
            Some(403) => {
                let permission = self
                    .permission
                    .as_deref()
                    .unwrap_or("deployments=write")
                    .replace('=', ": ");
                format!(
                    "{head}: GitHub refused to {what} in {repo} (403 {})\n  fix: give the job \
                     `permissions: {permission}` in the workflow (a job's GITHUB_TOKEN has only \
                     the permissions the workflow lists), or pass --no-github-deployment",
                    self.message
                )
            }
            Some(404) => format!(
                "{head}: GitHub answered 404 ({}) to {what} in {repo}\n  fix: GITHUB_TOKEN \
                 must be a token of {repo} (GITHUB_REPOSITORY), and GITHUB_API_URL GitHub's \
                 API ({})",
                self.message, settings.api_url
            ),
            Some(code) => format!(
                "{head}: GitHub refused to {what} in {repo} ({code} {})\n  fix: check the \
                 environment name and --environment-url, or pass --no-github-deployment",
                self.message
            ),
        }
    }
}

impl Active {
    fn url(&self, path: &str) -> String {
        format!(
            "{}/repos/{}/deployments{path}",
            self.settings.api_url.trim_end_matches('/'),
            self.settings.repository
        )
    }

    /// One request to GitHub; its JSON answer, or why not.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Refusal> {
        let mut auth =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.settings.token.0))
                .map_err(|_| Refusal {
                    status: Some(401),
                    message: "GITHUB_TOKEN holds characters a header cannot carry".into(),
                    permission: None,
                })?;
        auth.set_sensitive(true);
        let mut request = self
            .http
            .request(method, self.url(path))
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .header(reqwest::header::AUTHORIZATION, auth);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| Refusal {
            status: None,
            message: error_chain(&e),
            permission: None,
        })?;
        let status = response.status();
        let permission = response
            .headers()
            .get("x-accepted-github-permissions")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.map_err(|e| Refusal {
            status: None,
            message: error_chain(&e),
            permission: None,
        })?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let message = value["message"]
            .as_str()
            .map(|m| {
                m.lines()
                    .filter(|l| !l.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        Err(Refusal {
            status: Some(status.as_u16()),
            message,
            permission,
        })
    }

    /// Creates the deployment and its `in_progress` status.
    async fn create(&mut self) -> Result<(), Refusal> {
        let s = &self.settings;
        let description = match &s.release {
            Some(r) => format!("kpush apply: release {r}"),
            None => "kpush apply".to_string(),
        };
        let body = json!({
            "ref": s.sha,
            "task": "deploy",
            // The commit is deployed as it is: no merge of the default branch into it, and no
            // wait for commit statuses (this job's own checks are still running).
            "auto_merge": false,
            "required_contexts": [],
            "environment": s.environment,
            "description": description,
            "payload": {
                "kpush": {
                    "version": env!("CARGO_PKG_VERSION"),
                    "release": s.release,
                }
            },
        });
        let created = self.call(reqwest::Method::POST, "", Some(&body)).await?;
        self.id = created["id"].as_u64().ok_or_else(|| Refusal {
            // 202: GitHub would merge the default branch first; kpush asked it not to.
            status: Some(202),
            message: created["message"]
                .as_str()
                .unwrap_or("no deployment id in GitHub's answer")
                .to_string(),
            permission: None,
        })?;
        self.status("in_progress", &description).await
    }

    /// Adds a status to the deployment.
    async fn status(&self, state: &str, description: &str) -> Result<(), Refusal> {
        let s = &self.settings;
        let mut body = json!({
            "state": state,
            "description": shorten(description),
            "environment": s.environment,
        });
        if let Some(url) = &s.log_url {
            body["log_url"] = json!(url);
        }
        if let Some(url) = &s.environment_url {
            body["environment_url"] = json!(url);
        }
        self.call(
            reqwest::Method::POST,
            &format!("/{}/statuses", self.id),
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// The final status's description: release, revision, outcome.
    fn description(&self, conclusion: Conclusion, revision: Option<u32>) -> String {
        let what = match conclusion {
            Conclusion::Success => "succeeded",
            Conclusion::Failure => "failed (a rollout did not become ready)",
            Conclusion::Error => "stopped with an error",
        };
        match (&self.settings.release, revision) {
            (Some(r), Some(n)) => format!("kpush apply: release {r} revision {n} {what}"),
            (Some(r), None) => format!("kpush apply: release {r} {what}"),
            _ => format!("kpush apply {what}"),
        }
    }

    /// Marks earlier deployments of the environment whose latest status is `success` inactive
    /// (those GitHub's `auto_inactive` left: production environments).
    async fn deactivate_earlier(&self) -> Result<(), Refusal> {
        let query = format!(
            "?environment={}&per_page={EARLIER}",
            url_encode(&self.settings.environment)
        );
        let listed = self.call(reqwest::Method::GET, &query, None).await?;
        let earlier = listed
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["id"].as_u64())
            .filter(|&id| id != self.id && id < self.id);
        for id in earlier {
            let latest = self
                .call(
                    reqwest::Method::GET,
                    &format!("/{id}/statuses?per_page=1"),
                    None,
                )
                .await?;
            if latest[0]["state"].as_str() != Some("success") {
                continue;
            }
            let body = json!({
                "state": "inactive",
                "description": shorten(&format!("superseded by deployment {}", self.id)),
                "environment": self.settings.environment,
            });
            self.call(
                reqwest::Method::POST,
                &format!("/{id}/statuses"),
                Some(&body),
            )
            .await?;
        }
        Ok(())
    }
}

/// At most [`MAX_DESCRIPTION`] characters.
fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_DESCRIPTION {
        return text.to_string();
    }
    let mut short: String = text.chars().take(MAX_DESCRIPTION - 1).collect();
    short.push('…');
    short
}

/// Percent-encodes a query value.
fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An error and its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A sink that passes every event on and remembers the first release revision recorded (the
/// deploy's own), for the deployment's final status.
pub struct RevisionWatch<'a> {
    inner: &'a dyn Sink,
    revision: Mutex<Option<u32>>,
}

impl<'a> RevisionWatch<'a> {
    /// Watches the events going to `inner`.
    pub fn new(inner: &'a dyn Sink) -> Self {
        RevisionWatch {
            inner,
            revision: Mutex::new(None),
        }
    }

    /// The first revision recorded, if any.
    pub fn revision(&self) -> Option<u32> {
        match self.revision.lock() {
            Ok(r) => *r,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

impl Sink for RevisionWatch<'_> {
    fn event(&self, event: &Event) {
        if let Event::Release {
            note: ReleaseNote::Recorded { revision, .. },
        } = event
            && let Ok(mut seen) = self.revision.lock()
            && seen.is_none()
        {
            *seen = Some(*revision);
        }
        self.inner.event(event);
    }

    fn mask(&self, secret: &str) {
        self.inner.mask(secret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> GithubSettings {
        GithubSettings {
            api_url: "https://api.github.com".into(),
            repository: "contoso/app".into(),
            sha: "abc".into(),
            token: Token::new("ghs_secret_value"),
            environment: "production".into(),
            environment_url: None,
            log_url: None,
            release: Some("web".into()),
        }
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let text = format!("{:?}", settings());
        assert!(!text.contains("ghs_secret_value"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn a_403_names_the_permission_github_asks_for() {
        let refusal = Refusal {
            status: Some(403),
            message: "Resource not accessible by integration".into(),
            permission: Some("deployments=write".into()),
        };
        let text = refusal.warning(&settings(), "create a deployment");
        assert!(text.contains("permissions: deployments: write"), "{text}");
        assert!(text.contains("the deploy itself is unaffected"), "{text}");
    }

    #[test]
    fn descriptions_fit_githubs_limit() {
        let long = "x".repeat(300);
        assert_eq!(shorten(&long).chars().count(), MAX_DESCRIPTION);
        assert_eq!(shorten("short"), "short");
    }

    #[test]
    fn environment_names_are_encoded_in_queries() {
        assert_eq!(url_encode("prod eu/1"), "prod%20eu%2F1");
    }
}
