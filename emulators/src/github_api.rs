//! A subset of GitHub's REST API: deployments and deployment statuses
//! (`/repos/{owner}/{repo}/deployments[/{id}[/statuses]]`), with a job `GITHUB_TOKEN`'s
//! permission model and request bodies checked against the fields GitHub's REST API
//! description publishes for them.
//!
//! Answers look like GitHub's: `{"message", "documentation_url", "status"}`; 401 `Bad
//! credentials` for an unknown token, 404 `Not Found` for a repository the token is not scoped
//! to (GitHub hides repositories it will not show), 403 `Resource not accessible by
//! integration` with `X-Accepted-GitHub-Permissions: deployments=write` for a token without the
//! permission, 422 `Invalid request` for a body the schema refuses. Deliberately stricter than
//! GitHub: a field the schema does not list is refused (422), so a misspelt field fails a test
//! instead of being ignored.

use crate::config::{GithubAccess, GithubToken};
use crate::server::{Reply, Req, State};
use crate::util;
use hyper::Method;
use serde_json::{Map, Value, json};

const DOCS: &str = "https://docs.github.com/rest/deployments";

/// Deployments and their statuses, per repository, as created.
#[derive(Debug, Default)]
pub(crate) struct Store {
    next_id: u64,
    deployments: Vec<Stored>,
}

#[derive(Debug, Clone)]
struct Stored {
    repository: String,
    deployment: Value,
    /// Oldest first.
    statuses: Vec<Value>,
}

/// One deployment the emulator holds, as the tests see it.
#[derive(Debug, Clone)]
pub struct GithubDeployment {
    /// `owner/repo`.
    pub repository: String,
    /// The deployment as GitHub returns it.
    pub deployment: Value,
    /// Its statuses, oldest first, as GitHub returns them.
    pub statuses: Vec<Value>,
}

impl GithubDeployment {
    /// The states of its statuses, oldest first.
    pub fn states(&self) -> Vec<String> {
        self.statuses
            .iter()
            .filter_map(|s| s["state"].as_str().map(str::to_string))
            .collect()
    }
}

impl Store {
    pub(crate) fn snapshot(&self) -> Vec<GithubDeployment> {
        self.deployments
            .iter()
            .map(|d| GithubDeployment {
                repository: d.repository.clone(),
                deployment: d.deployment.clone(),
                statuses: d.statuses.clone(),
            })
            .collect()
    }
}

fn error(status: u16, message: &str, doc: &str) -> Reply {
    Reply::json(
        status,
        &json!({"message": message, "documentation_url": format!("{DOCS}/{doc}"), "status": status.to_string()}),
    )
}

/// Routes `/repos/{owner}/{repo}/deployments…`; `rest` starts after `repos`.
pub(crate) fn handle(state: &State, req: &Req, rest: &[&str]) -> Reply {
    let (owner, repo, tail) = match rest {
        [owner, repo, "deployments", tail @ ..] => (*owner, *repo, tail),
        _ => return error(404, "Not Found", "deployments"),
    };
    let repository = format!("{owner}/{repo}");
    let write = req.method == Method::POST;
    let doc = match (tail, write) {
        ([], true) => "deployments#create-a-deployment",
        ([], false) => "deployments#list-deployments",
        ([_], false) => "deployments#get-a-deployment",
        ([_, "statuses"], true) => "statuses#create-a-deployment-status",
        ([_, "statuses"], false) => "statuses#list-deployment-statuses",
        _ => return error(404, "Not Found", "deployments"),
    };
    if req.method != Method::GET && req.method != Method::POST {
        return error(404, "Not Found", doc);
    }
    if req
        .header("user-agent")
        .is_none_or(|ua| ua.trim().is_empty())
    {
        return Reply::text(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.",
        );
    }
    let token = match authorize(state, req) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    if !token.repository.eq_ignore_ascii_case(&repository) {
        return error(404, "Not Found", doc);
    }
    let needed = if write {
        GithubAccess::Write
    } else {
        GithubAccess::Read
    };
    if token.deployments < needed {
        let level = if write { "write" } else { "read" };
        return error(403, "Resource not accessible by integration", doc).with_header(
            "x-accepted-github-permissions",
            format!("deployments={level}"),
        );
    }
    let mut store = match state.github.lock() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    match tail {
        [] if write => create_deployment(state, &mut store, &repository, req),
        [] => list_deployments(&store, &repository, req),
        [id] => match find(&store, &repository, id) {
            Some(i) => Reply::json(200, &store.deployments[i].deployment),
            None => error(404, "Not Found", doc),
        },
        [id, _] => match find(&store, &repository, id) {
            Some(i) if write => create_status(&mut store, i, req),
            Some(i) => {
                let mut statuses = store.deployments[i].statuses.clone();
                statuses.reverse();
                Reply::json(200, &Value::Array(page(statuses, req)))
            }
            None => error(404, "Not Found", doc),
        },
        _ => error(404, "Not Found", doc),
    }
}

/// The token of `Authorization: Bearer …` or `Authorization: token …`, if the emulator knows it.
fn authorize(state: &State, req: &Req) -> Result<GithubToken, Reply> {
    let value = req.header("authorization").unwrap_or_default();
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(error(401, "Requires authentication", "deployments"));
    };
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("token") {
        return Err(error(401, "Bad credentials", "deployments"));
    }
    state
        .config()
        .github_api
        .tokens
        .iter()
        .find(|t| t.token == token.trim())
        .cloned()
        .ok_or_else(|| error(401, "Bad credentials", "deployments"))
}

fn find(store: &Store, repository: &str, id: &str) -> Option<usize> {
    let id: u64 = id.parse().ok()?;
    store
        .deployments
        .iter()
        .position(|d| d.repository == repository && d.deployment["id"].as_u64() == Some(id))
}

/// `per_page` (default 30, at most 100) and `page` (from 1) of `items`.
fn page(items: Vec<Value>, req: &Req) -> Vec<Value> {
    let per_page = req
        .query
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = req
        .query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect()
}

/// A JSON object body, or the 422 GitHub sends for anything else.
fn body(req: &Req, doc: &str) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(error(
            422,
            "Invalid request.\n\nFor 'links/0/schema', is not an object.",
            doc,
        )),
        Err(_) => Err(error(400, "Problems parsing JSON", doc)),
    }
}

/// What a field of a request schema may hold.
#[derive(Clone, Copy)]
enum Kind {
    String,
    NullableString,
    Bool,
    Strings,
    ObjectOrString,
}

/// Checks `map` against the schema's `fields`; `required` must be present.
fn check(map: &Map<String, Value>, fields: &[(&str, Kind)], required: &str) -> Result<(), String> {
    if !map.contains_key(required) {
        return Err(format!("\"{required}\" wasn't supplied."));
    }
    for (key, value) in map {
        let Some((_, kind)) = fields.iter().find(|(f, _)| f == key) else {
            return Err(format!("\"{key}\" is not a permitted key."));
        };
        let ok = match kind {
            Kind::String => value.is_string(),
            Kind::NullableString => value.is_string() || value.is_null(),
            Kind::Bool => value.is_boolean(),
            Kind::Strings => value
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_string)),
            Kind::ObjectOrString => value.is_object() || value.is_string(),
        };
        if !ok {
            return Err(format!("For '{key}', {value} is not of the schema's type."));
        }
    }
    Ok(())
}

fn create_deployment(state: &State, store: &mut Store, repository: &str, req: &Req) -> Reply {
    let doc = "deployments#create-a-deployment";
    let map = match body(req, doc) {
        Ok(m) => m,
        Err(reply) => return reply,
    };
    let fields = [
        ("ref", Kind::String),
        ("task", Kind::String),
        ("auto_merge", Kind::Bool),
        ("required_contexts", Kind::Strings),
        ("payload", Kind::ObjectOrString),
        ("environment", Kind::String),
        ("description", Kind::NullableString),
        ("transient_environment", Kind::Bool),
        ("production_environment", Kind::Bool),
    ];
    if let Err(why) = check(&map, &fields, "ref") {
        return error(422, &format!("Invalid request.\n\n{why}"), doc);
    }
    let environment = map
        .get("environment")
        .and_then(Value::as_str)
        .unwrap_or("production")
        .to_string();
    let payload = match map.get("payload") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| json!({})),
        Some(v) => v.clone(),
        None => json!({}),
    };
    store.next_id += 1;
    let id = 1_000_000 + store.next_id;
    let url = format!("{}/repos/{repository}/deployments/{id}", state.base);
    let now = util::iso_timestamp(util::now());
    let deployment = json!({
        "url": url,
        "id": id,
        "node_id": format!("DE_emulated{id}"),
        "sha": map["ref"],
        "ref": map["ref"],
        "task": map.get("task").cloned().unwrap_or(json!("deploy")),
        "payload": payload,
        "original_environment": environment,
        "environment": environment,
        "description": map.get("description").cloned().unwrap_or(Value::Null),
        "creator": {"login": "github-actions[bot]", "type": "Bot"},
        "created_at": now,
        "updated_at": now,
        "statuses_url": format!("{url}/statuses"),
        "repository_url": format!("{}/repos/{repository}", state.base),
        "transient_environment": map.get("transient_environment").cloned().unwrap_or(json!(false)),
        "production_environment": map
            .get("production_environment")
            .cloned()
            .unwrap_or(json!(environment == "production")),
    });
    store.deployments.push(Stored {
        repository: repository.to_string(),
        deployment: deployment.clone(),
        statuses: Vec::new(),
    });
    Reply::json(201, &deployment)
}

fn list_deployments(store: &Store, repository: &str, req: &Req) -> Reply {
    let matches = |d: &Stored, field: &str| {
        req.query
            .get(field)
            .is_none_or(|want| d.deployment[field].as_str() == Some(want.as_str()))
    };
    let mut found: Vec<Value> = store
        .deployments
        .iter()
        .filter(|d| d.repository == repository)
        .filter(|d| {
            ["sha", "ref", "task", "environment"]
                .iter()
                .all(|f| matches(d, f))
        })
        .map(|d| d.deployment.clone())
        .collect();
    found.reverse();
    Reply::json(200, &Value::Array(page(found, req)))
}

fn create_status(store: &mut Store, index: usize, req: &Req) -> Reply {
    let doc = "statuses#create-a-deployment-status";
    let map = match body(req, doc) {
        Ok(m) => m,
        Err(reply) => return reply,
    };
    let fields = [
        ("state", Kind::String),
        ("target_url", Kind::String),
        ("log_url", Kind::String),
        ("description", Kind::String),
        ("environment", Kind::String),
        ("environment_url", Kind::String),
        ("auto_inactive", Kind::Bool),
    ];
    if let Err(why) = check(&map, &fields, "state") {
        return error(422, &format!("Invalid request.\n\n{why}"), doc);
    }
    const STATES: [&str; 7] = [
        "error",
        "failure",
        "inactive",
        "in_progress",
        "queued",
        "pending",
        "success",
    ];
    let state_word = map["state"].as_str().unwrap_or_default().to_string();
    if !STATES.contains(&state_word.as_str()) {
        return error(
            422,
            &format!(
                "Invalid request.\n\nFor 'properties/state', \"{state_word}\" is not one of {STATES:?}."
            ),
            doc,
        );
    }
    let description = map
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if description.chars().count() > 140 {
        return error(
            422,
            "Validation Failed: description is too long (maximum is 140 characters)",
            doc,
        );
    }
    let deployment = store.deployments[index].deployment.clone();
    let environment = map
        .get("environment")
        .and_then(Value::as_str)
        .or(deployment["environment"].as_str())
        .unwrap_or("production")
        .to_string();
    let log_url = map
        .get("log_url")
        .or(map.get("target_url"))
        .cloned()
        .unwrap_or(json!(""));
    let status = new_status(
        store,
        &deployment,
        &state_word,
        json!({
            "description": description,
            "environment": environment,
            "target_url": log_url,
            "log_url": log_url,
            "environment_url": map.get("environment_url").cloned().unwrap_or(json!("")),
        }),
    );
    store.deployments[index].statuses.push(status.clone());
    // `auto_inactive` (default true): prior non-transient, non-production deployments of the
    // same environment whose last state is `success` get an `inactive` status.
    if state_word == "success" && map.get("auto_inactive") != Some(&json!(false)) {
        let id = deployment["id"].as_u64().unwrap_or_default();
        let repository = store.deployments[index].repository.clone();
        let earlier: Vec<usize> = (0..store.deployments.len())
            .filter(|&i| {
                let d = &store.deployments[i];
                d.repository == repository
                    && d.deployment["id"].as_u64().unwrap_or_default() < id
                    && d.deployment["environment"].as_str() == Some(environment.as_str())
                    && d.deployment["transient_environment"] != json!(true)
                    && d.deployment["production_environment"] != json!(true)
                    && d.statuses.last().and_then(|s| s["state"].as_str()) == Some("success")
            })
            .collect();
        for i in earlier {
            let d = store.deployments[i].deployment.clone();
            let inactive = new_status(
                store,
                &d,
                "inactive",
                json!({"description": "", "environment": environment, "target_url": "", "log_url": "", "environment_url": ""}),
            );
            store.deployments[i].statuses.push(inactive);
        }
    }
    Reply::json(201, &status)
}

fn new_status(store: &mut Store, deployment: &Value, word: &str, fields: Value) -> Value {
    store.next_id += 1;
    let id = 2_000_000 + store.next_id;
    let url = deployment["url"].as_str().unwrap_or_default();
    let now = util::iso_timestamp(util::now());
    let mut status = json!({
        "url": format!("{url}/statuses/{id}"),
        "id": id,
        "node_id": format!("DES_emulated{id}"),
        "state": word,
        "creator": {"login": "github-actions[bot]", "type": "Bot"},
        "created_at": now,
        "updated_at": now,
        "deployment_url": url,
        "repository_url": deployment["repository_url"],
    });
    if let (Some(s), Some(f)) = (status.as_object_mut(), fields.as_object()) {
        for (k, v) in f {
            s.insert(k.clone(), v.clone());
        }
    }
    status
}
