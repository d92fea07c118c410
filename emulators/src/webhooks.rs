//! Webhook receivers that check what they are sent against the services' published formats:
//! - `POST /webhooks/slack/{id}`: a Slack incoming webhook — JSON with `text` or `blocks`
//!   (Block Kit: `section` with a `text` object or up to 10 `fields`, `header`, `context`,
//!   `divider`); answers `200 ok`, `400 invalid_payload`, `400 no_text`, `404 no_service`;
//! - `POST /webhooks/teams/{id}`: a Teams Workflows webhook — a `message` whose
//!   `attachments` hold an Adaptive Card (`application/vnd.microsoft.card.adaptive`, `type`
//!   `AdaptiveCard`, `version` up to 1.5 as Teams renders, `TextBlock`/`FactSet`/`Container`
//!   elements, `Action.OpenUrl` actions); answers `202`, or `400` with a Logic Apps error;
//! - `POST /webhooks/cloudevents/{id}`: the CloudEvents HTTP binding in structured mode
//!   (`Content-Type: application/cloudevents+json`, `specversion` 1.0, non-empty `id`,
//!   `source`, `type`, an RFC 3339 `time`); answers `202` or `400`.
//!
//! The id `gone` answers 404 (a deleted webhook). [`crate::Emulator::fail_next_webhooks`]
//! makes the next requests answer `503` with `Retry-After: 1`.

use crate::server::{Reply, Req, State};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// One message a receiver accepted.
#[derive(Debug, Clone)]
pub struct ReceivedWebhook {
    /// `slack`, `teams` or `cloudevents`.
    pub kind: String,
    /// The receiver's id (the last path segment).
    pub id: String,
    /// The body.
    pub body: Value,
}

pub(crate) fn handle(state: &State, req: &Req, kind: &str, id: &str) -> Reply {
    if id == "gone" {
        return match kind {
            "slack" => Reply::text(404, "no_service"),
            _ => Reply::json(
                404,
                &json!({"error": {"code": "WorkflowNotFound", "message": "The workflow was not found."}}),
            ),
        };
    }
    let failing = state.webhook_failures.load(Ordering::SeqCst);
    if failing > 0 {
        state.webhook_failures.store(failing - 1, Ordering::SeqCst);
        return Reply::text(503, "service unavailable").with_header("retry-after", "1");
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) if kind == "slack" => return Reply::text(400, "invalid_payload"),
        Err(e) => return bad(kind, &format!("the body is not JSON: {e}")),
    };
    let checked = match kind {
        "slack" => slack(&body),
        "teams" => teams(&body),
        "cloudevents" => cloudevent(req, &body),
        _ => return Reply::text(404, "no such receiver"),
    };
    if let Err(why) = checked {
        return if kind == "slack" {
            Reply::text(400, why)
        } else {
            bad(kind, &why)
        };
    }
    if let Ok(mut got) = state.webhooks.lock() {
        got.push(ReceivedWebhook {
            kind: kind.to_string(),
            id: id.to_string(),
            body,
        });
    }
    match kind {
        "slack" => Reply::text(200, "ok"),
        _ => Reply::text(202, ""),
    }
}

fn bad(kind: &str, why: &str) -> Reply {
    if kind == "teams" {
        Reply::json(
            400,
            &json!({"error": {"code": "TriggerInputSchemaMismatch", "message": why}}),
        )
    } else {
        Reply::text(400, why.to_string())
    }
}

fn text_object(v: &Value) -> bool {
    matches!(v["type"].as_str(), Some("mrkdwn" | "plain_text"))
        && v["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty() && t.len() <= 3000)
}

/// Slack's incoming webhook payload: `text`, or `blocks` of Block Kit.
fn slack(body: &Value) -> Result<(), String> {
    let Some(map) = body.as_object() else {
        return Err("invalid_payload".into());
    };
    let text = map.get("text").and_then(Value::as_str).unwrap_or_default();
    let blocks = map.get("blocks");
    if text.is_empty() && blocks.is_none() {
        return Err("no_text".into());
    }
    if let Some(blocks) = blocks {
        let blocks = blocks.as_array().ok_or("invalid_blocks")?;
        if blocks.len() > 50 {
            return Err("invalid_blocks".into());
        }
        for b in blocks {
            let ok = match b["type"].as_str() {
                Some("section") => {
                    let text_ok = b.get("text").is_none_or(text_object);
                    let fields_ok = b.get("fields").is_none_or(|f| {
                        f.as_array()
                            .is_some_and(|f| f.len() <= 10 && f.iter().all(text_object))
                    });
                    text_ok && fields_ok && (b.get("text").is_some() || b.get("fields").is_some())
                }
                Some("header") => b["text"]["type"] == "plain_text" && text_object(&b["text"]),
                Some("context") => b["elements"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty() && e.len() <= 10 && e.iter().all(text_object)),
                Some("divider") => true,
                _ => false,
            };
            if !ok {
                return Err("invalid_blocks".into());
            }
        }
    }
    Ok(())
}

/// A Teams Workflows message with Adaptive Card attachments.
fn teams(body: &Value) -> Result<(), String> {
    if body["type"] != "message" {
        return Err("'type' must be 'message'".into());
    }
    let attachments = body["attachments"]
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or("'attachments' must be a non-empty array")?;
    for a in attachments {
        if a["contentType"] != "application/vnd.microsoft.card.adaptive" {
            return Err(
                "an attachment's contentType must be application/vnd.microsoft.card.adaptive"
                    .into(),
            );
        }
        let card = &a["content"];
        if card["type"] != "AdaptiveCard" {
            return Err("an attachment's content must be an AdaptiveCard".into());
        }
        let version = card["version"].as_str().unwrap_or_default();
        if !["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"].contains(&version) {
            return Err(format!(
                "Adaptive Card version '{version}' is not one Teams renders (1.0 to 1.5)"
            ));
        }
        let elements = card["body"].as_array().ok_or("the card has no body")?;
        elements.iter().try_for_each(element)?;
        if let Some(actions) = card.get("actions") {
            for action in actions.as_array().ok_or("'actions' must be an array")? {
                let url_ok = action["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("https://") || u.starts_with("http://"));
                if action["type"] != "Action.OpenUrl" || !url_ok {
                    return Err("an action must be Action.OpenUrl with a url".into());
                }
            }
        }
    }
    Ok(())
}

fn element(e: &Value) -> Result<(), String> {
    match e["type"].as_str() {
        Some("TextBlock") if e["text"].is_string() => Ok(()),
        Some("FactSet") => {
            let facts = e["facts"].as_array().ok_or("a FactSet needs facts")?;
            if facts
                .iter()
                .all(|f| f["title"].is_string() && f["value"].is_string())
            {
                Ok(())
            } else {
                Err("every fact needs a string title and value".into())
            }
        }
        Some("Container") => e["items"]
            .as_array()
            .ok_or("a Container needs items")?
            .iter()
            .try_for_each(element),
        other => Err(format!(
            "element {other:?} is not one this receiver knows, or lacks its required fields"
        )),
    }
}

/// A structured-mode CloudEvent (CloudEvents 1.0, HTTP protocol binding).
fn cloudevent(req: &Req, body: &Value) -> Result<(), String> {
    let content_type = req.header("content-type").unwrap_or_default();
    if !content_type.starts_with("application/cloudevents+json") {
        return Err(format!(
            "structured mode needs Content-Type application/cloudevents+json, not {content_type:?}"
        ));
    }
    if body["specversion"] != "1.0" {
        return Err("specversion must be \"1.0\"".into());
    }
    for attr in ["id", "source", "type"] {
        if body[attr].as_str().is_none_or(str::is_empty) {
            return Err(format!("the required attribute {attr} is missing or empty"));
        }
    }
    if let Some(time) = body.get("time") {
        let t = time.as_str().unwrap_or_default();
        let ok = t.len() >= 20
            && t.as_bytes().get(4) == Some(&b'-')
            && t.as_bytes().get(10) == Some(&b'T')
            && (t.ends_with('Z') || t.contains('+'));
        if !ok {
            return Err(format!("time {t:?} is not RFC 3339"));
        }
    }
    Ok(())
}
