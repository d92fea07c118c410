//! The GitHub REST subset: deployments and statuses, a job token's permissions, schema checks
//! and `auto_inactive`, as GitHub's REST API description documents them.

use kpush_azure_emulator::{Config, Emulator, GithubAccess, GithubApiConfig, GithubToken};
use serde_json::{Value, json};

const WRITE: &str = "ghs_write";
const READ: &str = "ghs_read";

struct Api {
    emulator: Emulator,
    http: reqwest::Client,
}

fn start() -> Api {
    let token = |t: &str, deployments| GithubToken {
        token: t.into(),
        repository: "contoso/app".into(),
        deployments,
    };
    let emulator = Emulator::start(Config {
        github_api: GithubApiConfig {
            tokens: vec![
                token(WRITE, GithubAccess::Write),
                token(READ, GithubAccess::Read),
            ],
        },
        ..Config::default()
    })
    .expect("emulator starts");
    let ca = reqwest::Certificate::from_pem(emulator.ca_pem().as_bytes()).expect("CA PEM");
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .user_agent("kpush-test")
        .build()
        .expect("client");
    Api { emulator, http }
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value, Option<String>) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.emulator.github_api_url()))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let permission = resp
            .headers()
            .get("x-accepted-github-permissions")
            .map(|v| v.to_str().unwrap_or_default().to_string());
        (status, resp.json().await.unwrap_or(Value::Null), permission)
    }

    async fn deploy(&self, environment: &str) -> u64 {
        let (status, body, _) = self
            .send(
                reqwest::Method::POST,
                "/repos/contoso/app/deployments",
                WRITE,
                Some(json!({"ref": "abc", "environment": environment, "required_contexts": []})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_u64().expect("id")
    }

    async fn status(&self, id: u64, state: &str) -> (u16, Value) {
        let (status, body, _) = self
            .send(
                reqwest::Method::POST,
                &format!("/repos/contoso/app/deployments/{id}/statuses"),
                WRITE,
                Some(json!({"state": state, "log_url": "https://github.com/contoso/app/actions/runs/1"})),
            )
            .await;
        (status, body)
    }
}

#[tokio::test]
async fn a_read_only_token_is_refused_as_github_refuses_an_integration() {
    let api = start();
    let (status, body, permission) = api
        .send(
            reqwest::Method::POST,
            "/repos/contoso/app/deployments",
            READ,
            Some(json!({"ref": "abc"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["message"], "Resource not accessible by integration");
    assert_eq!(permission.as_deref(), Some("deployments=write"));
    let (status, _, _) = api
        .send(
            reqwest::Method::GET,
            "/repos/contoso/app/deployments",
            READ,
            None,
        )
        .await;
    assert_eq!(status, 200, "reading needs only deployments: read");
}

#[tokio::test]
async fn unknown_tokens_and_other_repositories_are_401_and_404() {
    let api = start();
    let path = "/repos/contoso/app/deployments";
    let (status, body, _) = api
        .send(reqwest::Method::GET, path, "ghs_unknown", None)
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Bad credentials"))
    );
    let (status, _, _) = api
        .send(
            reqwest::Method::GET,
            "/repos/contoso/other/deployments",
            WRITE,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bodies_are_checked_against_the_schema() {
    let api = start();
    let path = "/repos/contoso/app/deployments";
    for (body, why) in [
        (json!({"environment": "qa"}), "\"ref\" wasn't supplied"),
        (json!({"ref": "abc", "auto_merge": "no"}), "auto_merge"),
        (json!({"ref": "abc", "enviroment": "qa"}), "enviroment"),
    ] {
        let (status, answer, _) = api
            .send(reqwest::Method::POST, path, WRITE, Some(body))
            .await;
        assert_eq!(status, 422, "{answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| m.contains(why)),
            "{answer}"
        );
    }
    let id = api.deploy("qa").await;
    let (status, _) = api.status(id, "done").await;
    assert_eq!(status, 422, "state must be one of GitHub's");
    let (status, _, _) = api
        .send(
            reqwest::Method::POST,
            &format!("{path}/{id}/statuses"),
            WRITE,
            Some(json!({"state": "success", "description": "x".repeat(141)})),
        )
        .await;
    assert_eq!(status, 422, "descriptions are at most 140 characters");
}

#[tokio::test]
async fn auto_inactive_retires_earlier_successes_of_non_production_environments_only() {
    let api = start();
    let qa_old = api.deploy("qa").await;
    assert_eq!(api.status(qa_old, "success").await.0, 201);
    let prod_old = api.deploy("production").await;
    assert_eq!(api.status(prod_old, "success").await.0, 201);
    let qa_new = api.deploy("qa").await;
    let (status, body) = api.status(qa_new, "success").await;
    assert_eq!(status, 201);
    assert_eq!(
        body["target_url"], body["log_url"],
        "log_url sets target_url"
    );
    let prod_new = api.deploy("production").await;
    assert_eq!(api.status(prod_new, "success").await.0, 201);

    let states = |id: u64| {
        api.emulator
            .github_deployments()
            .into_iter()
            .find(|d| d.deployment["id"] == id)
            .map(|d| d.states())
            .unwrap_or_default()
    };
    assert_eq!(states(qa_old), ["success", "inactive"]);
    assert_eq!(
        states(prod_old),
        ["success"],
        "production is left to the client"
    );
    let (status, listed, _) = api
        .send(
            reqwest::Method::GET,
            &format!("/repos/contoso/app/deployments/{qa_old}/statuses?per_page=1"),
            READ,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["state"], "inactive", "newest first: {listed}");
    let (_, listed, _) = api
        .send(
            reqwest::Method::GET,
            "/repos/contoso/app/deployments?environment=production",
            READ,
            None,
        )
        .await;
    let ids: Vec<u64> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["id"].as_u64())
        .collect();
    assert_eq!(ids, [prod_new, prod_old], "newest first, filtered");
}

#[tokio::test]
async fn requests_without_a_user_agent_are_refused() {
    let api = start();
    let ca = reqwest::Certificate::from_pem(api.emulator.ca_pem().as_bytes()).expect("CA");
    let bare = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .expect("client");
    let resp = bare
        .get(format!(
            "{}/repos/contoso/app/deployments",
            api.emulator.github_api_url()
        ))
        .bearer_auth(WRITE)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 403);
}
