//! How tracking results look: CI lines (golden file, durations masked) and the `-o json`
//! document (decoded independently as `serde_json::Value`). No cluster needed.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use kpush::ObjectKey;
use kpush::report::{Action, CiLines, Event, JsonResult, ObjectRef, Reporter};
use kpush::track::{
    EventLine, Explanation, Logs, ObjectOutcome, ObjectState, ObjectStatus, Readiness, RunState,
    TrackOutcome,
};
use kpush::{Origin, exit};

fn object(kind: &str, group: &str, name: &str, file: &str, line: u32) -> ObjectRef {
    let key = ObjectKey {
        group: group.into(),
        kind: kind.into(),
        namespace: Some("shop".into()),
        name: name.into(),
    };
    ObjectRef::new(&key, Some(&Origin::new(file, line)))
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A failing run: web fails on a bad image, db was ready, migrate was still pending.
fn scripted_run() -> Vec<Event> {
    let web = object("Deployment", "apps", "web", "deploy/web.yaml", 1);
    let db = object("StatefulSet", "apps", "db", "deploy/db.yaml", 12);
    let migrate = object("Job", "batch", "migrate", "deploy/migrate.yaml", 3);
    let explanation = Explanation {
        reason: "ImagePullBackOff".into(),
        message: "pod web-7d9f-x2x7z container app: ImagePullBackOff: Back-off pulling image \"registry.example/web:typo\"".into(),
        pod: Some("web-7d9f-x2x7z".into()),
        container: Some("app".into()),
        restart_count: Some(0),
        events: vec![
            EventLine {
                object: "Deployment web".into(),
                type_: "Normal".into(),
                reason: "ScalingReplicaSet".into(),
                message: "Scaled up replica set web-7d9f to 2".into(),
                count: 1,
            },
            EventLine {
                object: "Pod web-7d9f-x2x7z".into(),
                type_: "Warning".into(),
                reason: "Failed".into(),
                message: "Failed to pull image \"registry.example/web:typo\": not found".into(),
                count: 3,
            },
        ],
        logs: Some(Logs::Unavailable {
            container: "app".into(),
            reason: "the API server could not fetch them from the node (500): dial tcp 10.0.0.4:10250: connect: connection refused".into(),
        }),
        hint: Some("check the image name and tag".into()),
    };
    let outcome = TrackOutcome {
        state: RunState::Failed,
        elapsed: secs(6.4),
        objects: vec![
            ObjectOutcome {
                object: web.clone(),
                state: ObjectState::Failed,
                readiness: Readiness::failed("ImagePullBackOff", explanation.message.clone()),
                duration: secs(6.3),
                explanation: Some(explanation.clone()),
            },
            ObjectOutcome {
                object: db.clone(),
                state: ObjectState::Ready,
                readiness: Readiness::Ready,
                duration: secs(4.2),
                explanation: None,
            },
            ObjectOutcome {
                object: migrate.clone(),
                state: ObjectState::Pending,
                readiness: Readiness::in_progress("0 of 1 completions"),
                duration: secs(6.4),
                explanation: None,
            },
        ],
    };
    let status =
        |o: &ObjectRef, state: &str, message: &str, counts: Option<(i64, i64)>| ObjectStatus {
            object: o.clone(),
            state: state.into(),
            message: message.into(),
            ready: counts.map(|c| c.0),
            desired: counts.map(|c| c.1),
        };
    let progress = |o: &ObjectRef, state: &str, message: &str, at: f64| Event::Progress {
        object: o.clone(),
        state: state.into(),
        message: message.into(),
        elapsed: secs(at),
    };
    vec![
        Event::TrackStarted {
            objects: vec![web.clone(), db.clone(), migrate.clone()],
            timeout: Duration::from_secs(300),
        },
        progress(
            &web,
            "inProgress",
            "0 out of 2 new replicas have been updated",
            0.1,
        ),
        progress(&db, "inProgress", "0 of 2 replicas are ready", 0.1),
        progress(&migrate, "inProgress", "0 of 1 completions", 0.1),
        // A message change without a state change prints nothing.
        progress(
            &web,
            "inProgress",
            "0 of 2 updated replicas are available",
            0.9,
        ),
        progress(&db, "ready", "", 4.2),
        Event::TrackStatus {
            elapsed: secs(5.0),
            objects: vec![
                status(
                    &web,
                    "inProgress",
                    "0 of 2 updated replicas are available",
                    Some((0, 2)),
                ),
                status(&db, "ready", "", Some((2, 2))),
                status(&migrate, "inProgress", "0 of 1 completions", None),
            ],
        },
        progress(&web, "failed", &explanation.message, 6.3),
        Event::RolloutFailed {
            object: web.clone(),
            state: ObjectState::Failed,
            elapsed: secs(6.3),
            explanation,
        },
        Event::TrackFinished { outcome },
    ]
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::ErrorKind::Other)?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Replaces durations (`850ms`, `4.2s`, `1m30s`, `5m`, `1h5m`) with `<dur>`.
fn mask_durations(text: &str) -> String {
    let re = regex::Regex::new(r"\b\d+(\.\d+)?(ms|s|m\d+s|m|h\d+m|h)\b").expect("regex");
    re.replace_all(text, "<dur>").into_owned()
}

#[test]
fn ci_lines_match_the_golden_file() {
    let buffer = Buffer::default();
    let reporter = CiLines::new(Box::new(buffer.clone()));
    for e in scripted_run() {
        reporter.event(&e);
    }
    let got =
        mask_durations(&String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8"));
    assert!(
        !got.contains('\u{1b}'),
        "CI lines never contain escape sequences:\n{got}"
    );
    let golden =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/track/ci_lines.txt");
    if std::env::var_os("KPUSH_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(
        got, want,
        "CI lines changed (KPUSH_UPDATE_GOLDEN=1 regenerates; review the diff)"
    );
}

#[test]
fn json_result_describes_every_object_with_action_readiness_duration_and_failure() {
    let json = JsonResult::default();
    let web = object("Deployment", "apps", "web", "deploy/web.yaml", 1);
    let db = object("StatefulSet", "apps", "db", "deploy/db.yaml", 12);
    json.event(&Event::Object {
        object: web,
        action: Action::Configured,
        message: None,
    });
    json.event(&Event::Object {
        object: db,
        action: Action::Unchanged,
        message: None,
    });
    for e in scripted_run() {
        json.event(&e);
    }
    let doc: Value = serde_json::from_str(&json.render(exit::ROLLOUT_FAILED)).expect("valid JSON");
    assert_eq!(doc["apiVersion"], "kpush.dev/v1");
    assert_eq!(doc["kind"], "RunResult");
    assert_eq!(doc["result"], "failed");
    assert_eq!(doc["exitCode"], 4);
    assert_eq!(doc["durationMs"], 6400);
    let objects = doc["objects"].as_array().expect("objects");
    assert_eq!(
        objects.len(),
        3,
        "two applied objects, then the tracked Job apply did not mention"
    );
    let web = &objects[0];
    assert_eq!(web["kind"], "Deployment");
    assert_eq!(web["namespace"], "shop");
    assert_eq!(web["file"], "deploy/web.yaml");
    assert_eq!(web["line"], 1);
    assert_eq!(web["action"], "configured");
    assert_eq!(web["readiness"], "failed");
    assert_eq!(web["durationMs"], 6300);
    let failure = &web["failure"];
    assert_eq!(failure["reason"], "ImagePullBackOff");
    assert_eq!(failure["pod"], "web-7d9f-x2x7z");
    assert_eq!(failure["container"], "app");
    assert_eq!(failure["restartCount"], 0);
    assert_eq!(failure["events"][1]["type"], "Warning");
    assert_eq!(failure["events"][1]["count"], 3);
    assert_eq!(failure["logs"]["container"], "app");
    assert!(
        failure["logs"]["unavailable"]
            .as_str()
            .is_some_and(|s| s.contains("connection refused"))
    );
    assert_eq!(objects[1]["readiness"], "ready");
    assert_eq!(objects[1]["action"], "unchanged");
    assert!(objects[1].get("failure").is_none());
    assert!(objects[1].get("message").is_none());
    assert_eq!(objects[2]["kind"], "Job");
    assert!(objects[2].get("action").is_none());
    assert_eq!(objects[2]["readiness"], "pending");
    assert_eq!(objects[2]["message"], "0 of 1 completions");
}

#[test]
fn json_result_without_tracking_says_not_tracked() {
    let json = JsonResult::default();
    json.event(&Event::Object {
        object: object("ConfigMap", "", "settings", "c.yaml", 1),
        action: Action::Created,
        message: None,
    });
    let doc: Value = serde_json::from_str(&json.render(0)).expect("valid JSON");
    assert_eq!(doc["result"], "notTracked");
    assert!(doc.get("durationMs").is_none());
    assert_eq!(doc["objects"][0]["action"], "created");
    assert!(doc["objects"][0].get("readiness").is_none());
}
