//! Notifications: `--notify [KIND=]URL` posts a deploy's outcome to Microsoft Teams (a Workflows
//! webhook, as an Adaptive Card), Slack (an incoming webhook) or any HTTP endpoint (a
//! CloudEvent, structured mode), on success, failure or both (`--notify-on`).
//!
//! A message holds only what the run already shows: the command, its result, the environment,
//! release and revision, repository, commit and run link. Webhook URLs carry their secret in the
//! URL, so they are masked in CI logs and a warning names only the scheme and host. A receiver
//! that answers 408, 429 or 5xx (or cannot be reached) is retried within a small budget,
//! honouring `Retry-After`; one that still refuses is one warning, and the deploy's exit code
//! never changes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::event::{Event, Sink};

/// The time one notification may take, retries included.
const BUDGET: Duration = Duration::from_secs(15);
/// Attempts per notification.
const ATTEMPTS: u32 = 3;

/// Where a notification goes, in which format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Microsoft Teams Workflows webhook: a message with an Adaptive Card.
    Teams,
    /// A Slack incoming webhook.
    Slack,
    /// Any endpoint: a CloudEvent (HTTP binding, structured mode).
    CloudEvent,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Teams => "teams",
            Kind::Slack => "slack",
            Kind::CloudEvent => "cloudevents",
        }
    }
}

/// One receiver. Its `Debug` hides the URL (it holds the webhook's secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Receiver {
    /// The format.
    pub kind: Kind,
    /// The webhook URL (https).
    pub url: String,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Receiver({} {})", self.kind.word(), self.host())
    }
}

impl Receiver {
    /// Parses `teams=URL`, `slack=URL`, `cloudevents=URL`, or a bare URL (Slack for
    /// `hooks.slack.com`, Teams for Power Automate hosts, a CloudEvent otherwise).
    pub fn parse(value: &str) -> Result<Receiver, String> {
        let value = value.trim();
        let (kind, url) = match value.split_once('=') {
            Some((k, url)) if !k.contains('/') && !k.contains(':') => {
                let kind = match k.trim().to_ascii_lowercase().as_str() {
                    "teams" => Kind::Teams,
                    "slack" => Kind::Slack,
                    "cloudevents" | "cloudevent" | "http" => Kind::CloudEvent,
                    other => {
                        return Err(format!(
                            "--notify {other}=…: unknown kind {other}\n  fix: use teams=URL, \
                             slack=URL or cloudevents=URL (or a bare URL)"
                        ));
                    }
                };
                (Some(kind), url.trim())
            }
            _ => (None, value),
        };
        let parsed = url::Url::parse(url).map_err(|_| {
            "--notify needs an https URL (the webhook's address)\n  fix: pass \
             --notify teams=https://…, slack=https://… or cloudevents=https://…"
                .to_string()
        })?;
        if parsed.scheme() != "https" || parsed.host_str().is_none() {
            return Err(format!(
                "--notify {}://{}…: a webhook URL is a credential, so kpush posts to https \
                 URLs only\n  fix: pass the webhook's https URL",
                parsed.scheme(),
                parsed.host_str().unwrap_or_default()
            ));
        }
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        let kind = kind.unwrap_or(if host == "hooks.slack.com" {
            Kind::Slack
        } else if host.ends_with(".logic.azure.com") || host.ends_with(".powerplatform.com") {
            Kind::Teams
        } else {
            Kind::CloudEvent
        });
        Ok(Receiver {
            kind,
            url: url.to_string(),
        })
    }

    /// `https://host[:port]`: what a message may show of the URL.
    fn host(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(u) => format!(
                "{}://{}{}",
                u.scheme(),
                u.host_str().unwrap_or_default(),
                u.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
            Err(_) => "(unparsable URL)".into(),
        }
    }
}

/// Which outcomes are notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum When {
    /// Every run.
    #[default]
    Always,
    /// Successful runs only.
    Success,
    /// Runs that did not succeed only.
    Failure,
}

/// What to notify, and where.
#[derive(Debug, Clone, Default)]
pub struct NotifySettings {
    /// The receivers.
    pub receivers: Vec<Receiver>,
    /// Which outcomes.
    pub when: When,
    /// The command (`apply`).
    pub command: String,
    /// `--environment`.
    pub environment: Option<String>,
    /// `--release`.
    pub release: Option<String>,
    /// The repository's URL.
    pub repository: Option<String>,
    /// The commit.
    pub commit: Option<String>,
    /// The CI run's page.
    pub run_url: Option<String>,
}

/// How the run ended, as notifications tell it.
#[derive(Debug, Clone)]
pub struct Ended {
    /// Whether it succeeded.
    pub success: bool,
    /// The result name (`success`, `rollout-failed`, …).
    pub result: String,
    /// The exit code.
    pub exit_code: i32,
    /// The release revision recorded, if any.
    pub revision: Option<u32>,
}

/// Hands every webhook URL to `sink` to mask (they are credentials); call it before the deploy.
pub fn mask(settings: &NotifySettings, sink: &dyn Sink) {
    for receiver in &settings.receivers {
        sink.mask(&receiver.url);
    }
}

/// Sends the notifications `settings` asks for about `ended`: one warning into `sink` per
/// receiver that refused after its retries.
pub async fn send(settings: &NotifySettings, ended: &Ended, sink: &dyn Sink) {
    let wanted = match settings.when {
        When::Always => true,
        When::Success => ended.success,
        When::Failure => !ended.success,
    };
    if !wanted || settings.receivers.is_empty() {
        return;
    }
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("kpush/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            warn(
                sink,
                &format!("notifications not sent: cannot set up the HTTPS client: {e}"),
            );
            return;
        }
    };
    for receiver in &settings.receivers {
        let (content_type, body) = message(receiver.kind, settings, ended);
        if let Err(why) = post(&http, &receiver.url, content_type, &body).await {
            warn(
                sink,
                &format!(
                    "{} notification to {} not sent (the deploy itself is unaffected): {why}\n  \
                     fix: check the webhook URL given to --notify (is it still enabled?), or \
                     the network path (HTTPS_PROXY, NO_PROXY)",
                    receiver.kind.word(),
                    receiver.host()
                ),
            );
        } else {
            sink.event(&Event::Info {
                message: format!(
                    "{} notification sent to {}",
                    receiver.kind.word(),
                    receiver.host()
                ),
            });
        }
    }
}

fn warn(sink: &dyn Sink, message: &str) {
    sink.event(&Event::Warning {
        object: None,
        message: message.to_string(),
    });
}

/// Posts `body`, retrying network errors, 408, 429 and 5xx within [`BUDGET`].
async fn post(
    http: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: &Value,
) -> Result<(), String> {
    let started = Instant::now();
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let sent = http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.to_string())
            .send()
            .await;
        let wait = match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => {
                let status = r.status();
                let retry_after = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let text: String = r
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect();
                last = format!("{} {}", status.as_u16(), text.trim());
                let transient =
                    status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error();
                if !transient {
                    return Err(format!("the receiver answered {last}"));
                }
                retry_after.unwrap_or(Duration::from_secs(u64::from(attempt)))
            }
            Err(e) => {
                last = e.without_url().to_string();
                Duration::from_secs(u64::from(attempt))
            }
        };
        if attempt == ATTEMPTS || started.elapsed() + wait > BUDGET {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    Err(format!(
        "no success within {}s ({ATTEMPTS} attempts at most); last answer: {last}",
        BUDGET.as_secs()
    ))
}

/// The one-line summary every format starts with.
fn headline(settings: &NotifySettings, ended: &Ended) -> String {
    let mut text = format!("kpush {}", settings.command);
    if let Some(r) = &settings.release {
        text.push_str(&format!(" of release {r}"));
        if let Some(n) = ended.revision {
            text.push_str(&format!(" (revision {n})"));
        }
    }
    if let Some(e) = &settings.environment {
        text.push_str(&format!(" to {e}"));
    }
    text.push_str(&format!(": {}", ended.result));
    text
}

/// Name/value facts shown by the chat formats.
fn facts(settings: &NotifySettings, ended: &Ended) -> Vec<(&'static str, String)> {
    let mut facts = vec![("Result", ended.result.clone())];
    let mut add = |name, value: &Option<String>| {
        if let Some(v) = value {
            facts.push((name, v.clone()));
        }
    };
    add("Environment", &settings.environment);
    add("Release", &settings.release);
    add("Revision", &ended.revision.map(|n| n.to_string()));
    add("Repository", &settings.repository);
    add("Commit", &settings.commit);
    facts
}

/// The content type and body of a message in `kind`'s format.
fn message(kind: Kind, settings: &NotifySettings, ended: &Ended) -> (&'static str, Value) {
    let headline = headline(settings, ended);
    let facts = facts(settings, ended);
    match kind {
        Kind::Slack => {
            let mut fields: Vec<Value> = facts
                .iter()
                .map(|(k, v)| json!({"type": "mrkdwn", "text": format!("*{k}*\n{v}")}))
                .collect();
            fields.truncate(10); // Slack's limit per section
            let mut blocks = vec![
                json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{headline}*")}}),
                json!({"type": "section", "fields": fields}),
            ];
            if let Some(url) = &settings.run_url {
                blocks.push(json!({"type": "context", "elements": [
                    {"type": "mrkdwn", "text": format!("<{url}|CI run>")}
                ]}));
            }
            (
                "application/json",
                json!({"text": headline, "blocks": blocks}),
            )
        }
        Kind::Teams => {
            let mut card = json!({
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": headline, "weight": "Bolder", "size": "Medium", "wrap": true,
                     "color": if ended.success { "Good" } else { "Attention" }},
                    {"type": "FactSet", "facts": facts.iter().map(|(k, v)| json!({"title": k, "value": v})).collect::<Vec<_>>()},
                ],
            });
            if let Some(url) = &settings.run_url {
                card["actions"] =
                    json!([{"type": "Action.OpenUrl", "title": "CI run", "url": url}]);
            }
            (
                "application/json",
                json!({"type": "message", "attachments": [
                    {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}
                ]}),
            )
        }
        Kind::CloudEvent => {
            let source = settings
                .run_url
                .clone()
                .or_else(|| settings.repository.clone())
                .unwrap_or_else(|| "urn:kpush".into());
            (
                "application/cloudevents+json; charset=utf-8",
                json!({
                    "specversion": "1.0",
                    "id": event_id(),
                    "source": source,
                    "type": format!("dev.kpush.{}.finished", settings.command),
                    "time": now_rfc3339(),
                    "datacontenttype": "application/json",
                    "data": {
                        "command": settings.command,
                        "result": ended.result,
                        "success": ended.success,
                        "exitCode": ended.exit_code,
                        "environment": settings.environment,
                        "release": settings.release,
                        "revision": ended.revision,
                        "repository": settings.repository,
                        "commit": settings.commit,
                        "runUrl": settings.run_url,
                        "kpushVersion": env!("CARGO_PKG_VERSION"),
                    },
                }),
            )
        }
    }
}

/// A unique event id: time and process.
fn event_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("kpush-{}-{nanos}", std::process::id())
}

/// The current time, RFC 3339 UTC.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_a_prefix_or_the_host() {
        let k = |v: &str| Receiver::parse(v).map(|r| r.kind);
        assert_eq!(k("slack=https://example.com/x"), Ok(Kind::Slack));
        assert_eq!(k("teams=https://example.com/x"), Ok(Kind::Teams));
        assert_eq!(k("https://hooks.slack.com/services/T/B/X"), Ok(Kind::Slack));
        assert_eq!(
            k("https://prod-12.westeurope.logic.azure.com:443/workflows/x?sig=s"),
            Ok(Kind::Teams)
        );
        assert_eq!(k("https://events.example.com/in"), Ok(Kind::CloudEvent));
        assert!(k("http://hooks.slack.com/services/x").is_err());
        assert!(k("pager=https://example.com").is_err());
    }

    #[test]
    fn the_url_never_shows_in_debug_or_warnings() {
        let r = Receiver::parse("https://hooks.slack.com/services/T0/B0/SECRET").unwrap();
        assert!(!format!("{r:?}").contains("SECRET"));
        assert_eq!(r.host(), "https://hooks.slack.com");
    }

    #[test]
    fn times_are_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
