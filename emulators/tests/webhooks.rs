//! The webhook receivers accept what Slack, Teams Workflows and CloudEvents accept, and refuse
//! the rest as those services answer.

use kpush_azure_emulator::{Config, Emulator};
use serde_json::{Value, json};

async fn post(
    e: &Emulator,
    kind: &str,
    id: &str,
    content_type: &str,
    body: Value,
) -> (u16, String) {
    let ca = reqwest::Certificate::from_pem(e.ca_pem().as_bytes()).expect("CA");
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .expect("client");
    let resp = http
        .post(e.webhook_url(kind, id))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

const JSON: &str = "application/json";
const CE: &str = "application/cloudevents+json";

fn card(version: &str) -> Value {
    json!({"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "version": version, "body": [
            {"type": "TextBlock", "text": "deployed"},
            {"type": "FactSet", "facts": [{"title": "Result", "value": "success"}]}
        ], "actions": [{"type": "Action.OpenUrl", "title": "run", "url": "https://github.com/x"}]}
    }]})
}

#[tokio::test]
async fn slack_wants_text_or_valid_blocks() {
    let e = Emulator::start(Config::default()).expect("emulator");
    assert_eq!(
        post(&e, "slack", "a", JSON, json!({"text": "hi"})).await,
        (200, "ok".into())
    );
    assert_eq!(
        post(&e, "slack", "a", JSON, json!({"username": "x"})).await,
        (400, "no_text".into())
    );
    let bad_block = json!({"text": "hi", "blocks": [{"type": "section", "text": "not an object"}]});
    assert_eq!(
        post(&e, "slack", "a", JSON, bad_block).await,
        (400, "invalid_blocks".into())
    );
    assert_eq!(
        post(&e, "slack", "gone", JSON, json!({"text": "hi"})).await,
        (404, "no_service".into())
    );
    assert_eq!(e.webhooks().len(), 1);
}

#[tokio::test]
async fn teams_wants_an_adaptive_card_it_renders() {
    let e = Emulator::start(Config::default()).expect("emulator");
    assert_eq!(post(&e, "teams", "a", JSON, card("1.4")).await.0, 202);
    let (status, body) = post(&e, "teams", "a", JSON, card("2.0")).await;
    assert_eq!(status, 400);
    assert!(body.contains("TriggerInputSchemaMismatch"), "{body}");
    let mut wrong = card("1.4");
    wrong["attachments"][0]["contentType"] = json!("application/json");
    assert_eq!(post(&e, "teams", "a", JSON, wrong).await.0, 400);
    let mut fact = card("1.4");
    fact["attachments"][0]["content"]["body"][1]["facts"][0]["value"] = json!(3);
    assert_eq!(post(&e, "teams", "a", JSON, fact).await.0, 400);
    assert_eq!(e.webhooks().len(), 1);
}

#[tokio::test]
async fn cloudevents_want_structured_mode_and_the_required_attributes() {
    let e = Emulator::start(Config::default()).expect("emulator");
    let event = json!({"specversion": "1.0", "id": "1", "source": "urn:x", "type": "t", "time": "2026-01-02T03:04:05Z", "data": {}});
    assert_eq!(post(&e, "cloudevents", "a", CE, event.clone()).await.0, 202);
    assert_eq!(
        post(&e, "cloudevents", "a", JSON, event.clone()).await.0,
        400
    );
    let mut no_id = event.clone();
    no_id["id"] = json!("");
    assert_eq!(post(&e, "cloudevents", "a", CE, no_id).await.0, 400);
    let mut bad_time = event.clone();
    bad_time["time"] = json!("yesterday");
    assert_eq!(post(&e, "cloudevents", "a", CE, bad_time).await.0, 400);
    e.fail_next_webhooks(1);
    assert_eq!(post(&e, "cloudevents", "a", CE, event).await.0, 503);
    assert_eq!(e.webhooks().len(), 1);
}
