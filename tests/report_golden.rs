//! What users see, for one scripted run (render warnings, a rejection, a prune, an object kept
//! from pruning, a quick rollout, a slow one and a failed one): the TTY frames, plain lines,
//! GitHub Actions, Azure Pipelines and GitLab CI logs (with their summaries and outputs) and
//! the `-o json` document, each compared with a golden file under tests/fixtures/report.
//! `KPUSH_UPDATE_GOLDEN=1 cargo test --test report_golden` regenerates them; review the diff.
//! The JSON document is also decoded independently and checked field by field.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressDrawTarget};
use serde_json::Value;

use kpush::event::{
    Action, Event, EventLine, Explanation, Logs, ObjectOutcome, ObjectRef, ObjectState,
    ObjectStatus, Outcome, Readiness, Rejection, RejectionKind, RolloutState, RunState, Sink,
    Stage, TrackOutcome,
};
use kpush::exit::{self, ExitError};
use kpush::render::{Problem, ProblemKind, Severity};
use kpush::report::ci::{self, CiContext, CiSystem, LineReporter, SharedLog};
use kpush::report::terminal::{Terminal, frame_text};
use kpush::report::{HumanOutput, Reporter};
use kpush::{ObjectKey, Origin};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A log that tests can read back.
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

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().map(|b| b.clone()).unwrap_or_default()).expect("utf-8")
    }
}

fn obj(kind: &str, group: &str, name: &str, at: Option<(&str, u32)>) -> ObjectRef {
    ObjectRef::new(
        ObjectKey {
            group: group.into(),
            kind: kind.into(),
            namespace: Some("shop".into()),
            name: name.into(),
        },
        at.map(|(f, l)| Origin::new(f, l)),
    )
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn waiting(message: &str) -> RolloutState {
    RolloutState::InProgress {
        message: message.into(),
    }
}

/// The scripted run, as `kpush apply` would emit it.
fn script() -> Vec<Event> {
    let web = obj("Deployment", "apps", "web", Some(("deploy/web.yaml", 1)));
    let api = obj("Deployment", "apps", "api", Some(("deploy/api.yaml", 1)));
    let worker = obj(
        "Deployment",
        "apps",
        "worker",
        Some(("deploy/worker.yaml", 1)),
    );
    let explanation = Explanation {
        reason: "ErrImagePull".into(),
        message: "pod worker-7d9f-abcde container worker: ErrImagePull: image \"ghcr.io/acme/worker:1.2.O\" not found | 100% sure".into(),
        pod: Some("worker-7d9f-abcde".into()),
        container: Some("worker".into()),
        restart_count: Some(0),
        events: vec![
            EventLine {
                object: "Deployment worker".into(),
                type_: "Normal".into(),
                reason: "ScalingReplicaSet".into(),
                message: "Scaled up replica set worker-7d9f to 1".into(),
                count: 1,
            },
            EventLine {
                object: "Pod worker-7d9f-abcde".into(),
                type_: "Warning".into(),
                reason: "Failed".into(),
                message: "Failed to pull image \"ghcr.io/acme/worker:1.2.O\": not found".into(),
                count: 3,
            },
        ],
        logs: Some(Logs::Unavailable {
            container: "worker".into(),
            reason: "the container never started".into(),
        }),
        hint: Some("check the image tag and that the cluster may pull from the registry".into()),
    };
    let status = |o: &ObjectRef, state: RolloutState, counts: Option<(i64, i64)>| ObjectStatus {
        object: o.clone(),
        state,
        ready: counts.map(|c| c.0),
        desired: counts.map(|c| c.1),
    };
    let progress = |o: &ObjectRef, state: RolloutState, at: u64| Event::Progress {
        object: o.clone(),
        state,
        elapsed: ms(at),
    };
    vec![
        Event::StageStarted {
            stage: Stage::Render,
        },
        Event::Problem {
            problem: Problem::at(
                Severity::Warning,
                ProblemKind::Metadata,
                "deploy/web.yaml",
                12,
                "label value \"a,b: 100%\" will be dropped\nby the API server",
            )
            .with_column(5),
        },
        Event::Rendered {
            objects: 7,
            images: vec![
                "ghcr.io/acme/api:1.2.0".into(),
                "ghcr.io/acme/web:1.2.0".into(),
                "ghcr.io/acme/worker:1.2.O".into(),
            ],
        },
        Event::StageFinished {
            stage: Stage::Render,
            elapsed: ms(120),
        },
        Event::StageStarted { stage: Stage::Plan },
        Event::Info {
            message: "discovered 3 API group-versions in 130 ms".into(),
        },
        Event::StageFinished {
            stage: Stage::Plan,
            elapsed: ms(1_300),
        },
        Event::StageStarted {
            stage: Stage::Apply,
        },
        Event::Object {
            object: obj("ConfigMap", "", "settings", Some(("deploy/config.yaml", 1))),
            action: Action::Unchanged,
        },
        Event::Object {
            object: web.clone(),
            action: Action::Created,
        },
        Event::Object {
            object: api.clone(),
            action: Action::Configured,
        },
        Event::Object {
            object: worker.clone(),
            action: Action::Configured,
        },
        Event::Rejected {
            rejection: Rejection {
                object: obj("Job", "batch", "migrate", Some(("deploy/job.yaml", 3))),
                kind: RejectionKind::Immutable {
                    fields: vec!["spec.template".into()],
                },
                reason: "Invalid (422): Job.batch \"migrate\" is invalid: spec.template: Invalid value: field is immutable".into(),
                advice: "spec.template cannot change after the object is created. Restore the old value, or pass --recreate-on-immutable".into(),
            },
        },
        Event::Object {
            object: obj("ConfigMap", "", "old-settings", None),
            action: Action::Pruned,
        },
        Event::Warning {
            object: Some(ObjectRef::new(
                ObjectKey {
                    group: String::new(),
                    kind: "Namespace".into(),
                    namespace: None,
                    name: "legacy".into(),
                },
                None,
            )),
            message: "not pruned: Namespace legacy is no longer in the manifests; pass --prune-namespaces-and-crds to delete it (and everything in it)".into(),
        },
        Event::StageFinished {
            stage: Stage::Apply,
            elapsed: ms(2_400),
        },
        Event::StageStarted {
            stage: Stage::Track,
        },
        Event::TrackStarted {
            objects: vec![web.clone(), api.clone(), worker.clone()],
            timeout: Duration::from_secs(300),
        },
        progress(&web, waiting("0 of 2 updated replicas are available"), 100),
        progress(&api, waiting("waiting for new pods"), 100),
        progress(&worker, waiting("waiting for new pods"), 100),
        progress(&web, RolloutState::Ready, 900),
        progress(&worker, RolloutState::Failed {
            reason: "ErrImagePull".into(),
            message: explanation.message.clone(),
        }, 4_100),
        Event::TrackStatus {
            elapsed: ms(5_000),
            objects: vec![
                status(&web, RolloutState::Ready, Some((2, 2))),
                status(&api, waiting("1 of 3 updated replicas are available"), Some((1, 3))),
                status(&worker, RolloutState::Failed {
                    reason: "ErrImagePull".into(),
                    message: explanation.message.clone(),
                }, Some((0, 1))),
            ],
        },
        progress(&api, waiting("2 of 3 updated replicas are available"), 20_000),
        progress(&api, RolloutState::Ready, 42_000),
        Event::RolloutFailed {
            object: worker.clone(),
            state: ObjectState::Failed,
            elapsed: ms(4_100),
            explanation: explanation.clone(),
        },
        Event::TrackFinished {
            outcome: TrackOutcome {
                state: RunState::Failed,
                elapsed: ms(42_300),
                objects: vec![
                    ObjectOutcome {
                        object: web,
                        state: ObjectState::Ready,
                        readiness: Readiness::Ready,
                        duration: ms(900),
                        explanation: None,
                    },
                    ObjectOutcome {
                        object: api,
                        state: ObjectState::Ready,
                        readiness: Readiness::Ready,
                        duration: ms(42_000),
                        explanation: None,
                    },
                    ObjectOutcome {
                        object: worker,
                        state: ObjectState::Failed,
                        readiness: Readiness::failed("ErrImagePull", explanation.message.clone()),
                        duration: ms(4_100),
                        explanation: Some(explanation),
                    },
                ],
            },
        },
        Event::StageFinished {
            stage: Stage::Track,
            elapsed: ms(42_300),
        },
    ]
}

/// Runs the script through the one reporter over `human` and finishes it.
fn run(human: Box<dyn HumanOutput>, json: Option<&Buffer>) {
    let data = json.cloned().unwrap_or_default();
    let reporter = Reporter::with_output("apply", human, json.is_some(), Box::new(data))
        .with_duration(Duration::from_secs(45));
    for (i, e) in script().iter().enumerate() {
        if i == 5 {
            reporter.mask("s3cr3t-token\nsecond-line");
        }
        reporter.event(e);
    }
    let failed: Result<i32, ExitError> = Ok(exit::ROLLOUT_FAILED);
    reporter.finish(&failed).expect("finish");
}

/// A context logging to `log`, with files in `dir` and a fixed clock.
fn context(system: CiSystem, log: &Buffer, dir: &Path) -> CiContext {
    let mut ctx = CiContext::from_env(system, &Default::default(), Box::new(log.clone()), false);
    ctx.log = SharedLog::new(Box::new(log.clone()));
    ctx.workspace = Some(PathBuf::from("/w/repo"));
    ctx.cwd = PathBuf::from("/w/repo");
    ctx.colour = false;
    ctx.clock = Arc::new(|| 1_764_400_000);
    match system {
        CiSystem::Github => {
            ctx.summary = Some(dir.join("summary.md"));
            ctx.outputs = Some(dir.join("output"));
        }
        CiSystem::AzureDevOps => ctx.summary = Some(dir.to_path_buf()),
        CiSystem::Gitlab => ctx.outputs = Some(dir.join("kpush.env")),
        CiSystem::Plain => {}
    }
    ctx
}

fn line_log(system: CiSystem, dir: &Path) -> String {
    let log = Buffer::default();
    run(
        Box::new(LineReporter::new(
            context(system, &log, dir),
            ci::dialect(system),
        )),
        None,
    );
    log.text().replace(&dir.display().to_string(), "$TMP")
}

struct Golden(Vec<String>);

impl Golden {
    fn check(&mut self, name: &str, got: &str) {
        let golden = root().join("tests/fixtures/report").join(name);
        if std::env::var_os("KPUSH_UPDATE_GOLDEN").is_some() {
            fs::create_dir_all(golden.parent().expect("parent")).expect("mkdir");
            fs::write(&golden, got).expect("write golden");
            return;
        }
        let want = fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            self.0
                .push(format!("{name}:\n--- want\n{want}\n--- got\n{got}"));
        }
    }

    fn done(self) {
        assert!(
            self.0.is_empty(),
            "golden mismatches (KPUSH_UPDATE_GOLDEN=1 regenerates; review the diff):\n{}",
            self.0.join("\n")
        );
    }
}

#[test]
fn plain_lines_match_the_golden_file_and_say_each_thing_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = line_log(CiSystem::Plain, dir.path());
    let mut g = Golden(Vec::new());
    g.check("plain.log", &log);
    g.done();
    assert!(!log.contains('\u{1b}'), "no escape sequences:\n{log}");
    // The failure's full message once (in its block), its short reason in the verdict line
    // and the table.
    assert_eq!(log.matches("100% sure").count(), 1, "{log}");
    // Applied, verdict, table row (plus the error block's title for the failed one, and the
    // periodic status lines for the slow one).
    for name in ["shop/web", "shop/api", "shop/worker"] {
        let lines = log
            .lines()
            .filter(|l| l.contains(name) && !l.contains("ready; waiting for"))
            .count();
        let extra = usize::from(name == "shop/worker");
        assert!(lines <= 3 + extra, "{name} on {lines} lines:\n{log}");
    }
    assert!(
        !log.contains("s3cr3t"),
        "a plain log cannot mask, and was not given the secret to print"
    );
}

#[test]
fn a_no_op_re_apply_names_each_object_on_at_most_three_plain_lines() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = Buffer::default();
    let reporter = Reporter::with_output(
        "apply",
        Box::new(LineReporter::new(
            context(CiSystem::Plain, &log, dir.path()),
            ci::dialect(CiSystem::Plain),
        )),
        false,
        Box::new(std::io::sink()),
    )
    .with_duration(Duration::from_secs(2));
    let objects: Vec<ObjectRef> = (0..36)
        .map(|i| {
            obj(
                "Deployment",
                "apps",
                &format!("app-{i:02}"),
                Some(("deploy/apps.yaml", i * 20 + 1)),
            )
        })
        .collect();
    for o in &objects {
        reporter.event(&Event::Object {
            object: o.clone(),
            action: Action::Unchanged,
        });
    }
    reporter.event(&Event::TrackStarted {
        objects: objects.clone(),
        timeout: Duration::from_secs(300),
    });
    for o in &objects {
        reporter.event(&Event::Progress {
            object: o.clone(),
            state: RolloutState::Ready,
            elapsed: ms(40),
        });
    }
    reporter.event(&Event::TrackFinished {
        outcome: TrackOutcome {
            state: RunState::Ready,
            elapsed: ms(45),
            objects: objects
                .iter()
                .map(|o| ObjectOutcome {
                    object: o.clone(),
                    state: ObjectState::Ready,
                    readiness: Readiness::Ready,
                    duration: ms(40),
                    explanation: None,
                })
                .collect(),
        },
    });
    reporter.finish(&Ok(0)).expect("finish");
    let text = log.text();
    for o in &objects {
        let name = format!("shop/{} ", o.key.name);
        let lines = text
            .lines()
            .filter(|l| format!("{l} ").contains(&name))
            .count();
        assert!(lines <= 3, "{name} on {lines} lines:\n{text}");
    }
    assert!(text.lines().count() <= 36 * 3 + 4, "{text}");
    assert!(
        text.ends_with("kpush apply: success: 36 objects: 36 unchanged in 2.0s\n"),
        "{text}"
    );
}

#[test]
fn terminal_frames_match_the_golden_file() {
    let log = Buffer::default();
    let dir = tempfile::tempdir().expect("tmp");
    let terminal = Terminal::new(
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
        context(CiSystem::Plain, &log, dir.path()),
    );
    let mut frames = String::new();
    let mut printed = 0;
    for (i, e) in script().iter().enumerate() {
        terminal.event(e);
        let text = log.text();
        if text.len() > printed {
            frames.push_str(&text[printed..]);
            printed = text.len();
        }
        let frame = terminal.frame();
        if !frame.is_empty() {
            frames.push_str(&format!(
                "--- frame after event {i} ---\n{}",
                frame_text(&frame)
            ));
        }
    }
    let mut g = Golden(Vec::new());
    g.check("terminal.frames", &frames);
    g.done();
}

#[test]
fn github_log_summary_and_outputs_match_golden_files() {
    let dir = tempfile::tempdir().expect("tmp");
    fs::write(dir.path().join("summary.md"), "# Earlier step\n\n").expect("write");
    let log = line_log(CiSystem::Github, dir.path());
    let mut g = Golden(Vec::new());
    g.check("github.log", &log);
    g.check(
        "github-summary.md",
        &fs::read_to_string(dir.path().join("summary.md")).expect("summary"),
    );
    g.check(
        "github-output.txt",
        &fs::read_to_string(dir.path().join("output")).expect("outputs"),
    );
    g.done();
    let mask = log.find("::add-mask::s3cr3t-token").expect("masked");
    assert!(log.find("::add-mask::second-line").expect("second line") > mask);
    assert_eq!(log.matches("100%25 sure").count(), 1, "{log}");
}

#[test]
fn azure_devops_log_and_summary_match_golden_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let name = format!("kpush-apply-{}-summary.md", std::process::id());
    let log =
        line_log(CiSystem::AzureDevOps, dir.path()).replace(&name, "kpush-apply-PID-summary.md");
    let mut g = Golden(Vec::new());
    g.check("azure-devops.log", &log);
    g.check(
        "azure-devops-summary.md",
        &fs::read_to_string(dir.path().join(&name)).expect("summary"),
    );
    g.done();
    assert!(log.contains("##vso[task.setsecret]s3cr3t-token"), "{log}");
    assert_eq!(log.matches("100%AZP25 sure").count(), 1, "{log}");
}

#[test]
fn gitlab_log_and_dotenv_match_golden_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = line_log(CiSystem::Gitlab, dir.path());
    let mut g = Golden(Vec::new());
    g.check("gitlab.log", &log);
    g.check(
        "gitlab.env",
        &fs::read_to_string(dir.path().join("kpush.env")).expect("dotenv"),
    );
    g.done();
    assert!(log.contains(
        "\u{1b}[0Ksection_start:1764400000:kpush_apply[collapsed=true]\r\u{1b}[0Kkpush: apply"
    ));
    assert!(log.contains("\u{1b}[0Ksection_end:1764400000:kpush_apply\r\u{1b}[0K"));
}

#[test]
fn json_result_matches_the_golden_file_and_describes_every_object() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = Buffer::default();
    let data = Buffer::default();
    run(
        Box::new(LineReporter::new(
            context(CiSystem::Plain, &log, dir.path()),
            ci::dialect(CiSystem::Plain),
        )),
        Some(&data),
    );
    let text = data.text();
    let mut g = Golden(Vec::new());
    g.check("result.json", &text);
    g.done();
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(doc["apiVersion"], "kpush.dev/v1");
    assert_eq!(doc["kind"], "RunResult");
    assert_eq!(doc["result"], "failed");
    assert_eq!(doc["exitCode"], 4);
    assert_eq!(doc["durationMs"], 42_300);
    let objects = doc["objects"].as_array().expect("objects");
    let by_name = |n: &str| {
        objects
            .iter()
            .find(|o| o["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing"))
    };
    let worker = by_name("worker");
    assert_eq!(worker["kind"], "Deployment");
    assert_eq!(worker["group"], "apps");
    assert_eq!(worker["namespace"], "shop");
    assert_eq!(worker["file"], "deploy/worker.yaml");
    assert_eq!(worker["line"], 1);
    assert_eq!(worker["action"], "configured");
    assert_eq!(worker["readiness"], "failed");
    assert_eq!(worker["durationMs"], 4_100);
    let failure = &worker["failure"];
    assert_eq!(failure["reason"], "ErrImagePull");
    assert_eq!(failure["pod"], "worker-7d9f-abcde");
    assert_eq!(failure["restartCount"], 0);
    assert_eq!(failure["events"][1]["type"], "Warning");
    assert_eq!(failure["events"][1]["count"], 3);
    assert_eq!(
        failure["logs"]["unavailable"],
        "the container never started"
    );
    let job = by_name("migrate");
    assert_eq!(job["action"], "failed");
    assert_eq!(job["rejection"]["type"], "immutable");
    assert_eq!(job["rejection"]["fields"][0], "spec.template");
    assert!(job.get("readiness").is_none());
    assert_eq!(by_name("old-settings")["action"], "pruned");
    assert!(by_name("old-settings").get("file").is_none());
    assert_eq!(by_name("api")["readiness"], "ready");
    assert!(by_name("api").get("message").is_none());
}

#[test]
fn json_result_without_tracking_says_not_tracked() {
    let data = Buffer::default();
    let dir = tempfile::tempdir().expect("tmp");
    let reporter = Reporter::with_output(
        "apply",
        Box::new(LineReporter::new(
            context(CiSystem::Plain, &Buffer::default(), dir.path()),
            ci::dialect(CiSystem::Plain),
        )),
        true,
        Box::new(data.clone()),
    );
    reporter.event(&Event::Object {
        object: obj("ConfigMap", "", "settings", Some(("c.yaml", 1))),
        action: Action::Created,
    });
    reporter.finish(&Ok(0)).expect("finish");
    let doc: Value = serde_json::from_str(&data.text()).expect("valid JSON");
    assert_eq!(doc["result"], "notTracked");
    assert!(doc.get("durationMs").is_none());
    assert_eq!(doc["objects"][0]["action"], "created");
    assert!(doc["objects"][0].get("readiness").is_none());
}

/// A multi-cluster run (`--targets`): `weu` runs the script above while `neu` applies one
/// ConfigMap at the same time (their events interleave), then `us` is not started.
fn targets_script() -> Vec<Event> {
    use kpush::event::{TargetResult, TargetState};
    let scoped = |target: &str, event: Event| Event::Scoped {
        target: target.into(),
        event: Box::new(event),
    };
    let settings = obj("ConfigMap", "", "settings", Some(("deploy/config.yaml", 1)));
    let neu = [
        Event::Object {
            object: settings.clone(),
            action: Action::Created,
        },
        Event::TrackStarted {
            objects: vec![settings.clone()],
            timeout: Duration::from_secs(300),
        },
        Event::Progress {
            object: settings.clone(),
            state: RolloutState::Ready,
            elapsed: ms(100),
        },
    ];
    let mut events = vec![
        Event::TargetStarted {
            name: "weu".into(),
            cluster: "AKS cluster aks-weu (resource group rg-weu, subscription SUB)".into(),
            alone: false,
        },
        Event::TargetStarted {
            name: "neu".into(),
            cluster: "kubeconfig /ci/kubeconfig-neu".into(),
            alone: false,
        },
    ];
    let weu = script();
    for (i, e) in weu.into_iter().enumerate() {
        events.push(scoped("weu", e));
        if let Some(n) = neu.get(i / 8).filter(|_| i % 8 == 0) {
            events.push(scoped("neu", n.clone()));
        }
    }
    events.push(Event::TargetFinished {
        result: TargetResult {
            name: "neu".into(),
            state: TargetState::Succeeded,
            outcome: Outcome::Success,
            message: None,
            elapsed: ms(1_200),
        },
    });
    events.push(Event::TargetFinished {
        result: TargetResult {
            name: "weu".into(),
            state: TargetState::Failed,
            outcome: Outcome::RolloutFailed,
            message: None,
            elapsed: ms(45_000),
        },
    });
    events.push(Event::TargetFinished {
        result: TargetResult {
            name: "us".into(),
            state: TargetState::NotStarted,
            outcome: Outcome::Success,
            message: Some("an earlier target (weu) failed".into()),
            elapsed: Duration::ZERO,
        },
    });
    events
}

/// The targets script through the one reporter: the log of `system`, and the JSON document.
fn targets_run(system: CiSystem, dir: &Path) -> (String, String) {
    let log = Buffer::default();
    let data = Buffer::default();
    let human = Box::new(LineReporter::new(
        context(system, &log, dir),
        ci::dialect(system),
    ));
    let reporter = Reporter::with_output("apply", human, true, Box::new(data.clone()))
        .with_duration(Duration::from_secs(46));
    for e in targets_script() {
        reporter.event(&e);
    }
    reporter.finish(&Ok(exit::ROLLOUT_FAILED)).expect("finish");
    (
        log.text().replace(&dir.display().to_string(), "$TMP"),
        data.text(),
    )
}

#[test]
fn targets_runs_label_each_line_and_report_every_target() {
    let dir = tempfile::tempdir().expect("tmp");
    let (plain, json) = targets_run(CiSystem::Plain, dir.path());
    let (github, _) = targets_run(CiSystem::Github, dir.path());
    let mut g = Golden(Vec::new());
    g.check("targets-plain.log", &plain);
    g.check("targets-github.log", &github);
    g.check(
        "targets-github-summary.md",
        &fs::read_to_string(dir.path().join("summary.md")).expect("summary"),
    );
    g.check("targets-result.json", &json);
    g.done();
    // Every line a target's stage printed names the target.
    assert!(
        plain.contains("[neu] created    ConfigMap shop/settings"),
        "{plain}"
    );
    assert!(
        plain.contains("[weu] error: Deployment shop/worker"),
        "{plain}"
    );
    assert!(
        plain.contains("target us: not started (an earlier target (weu) failed)"),
        "{plain}"
    );
    assert!(
        !github.contains("::group::"),
        "groups would swallow other targets' lines"
    );
    let doc: Value = serde_json::from_str(&json).expect("JSON");
    let targets = doc["targets"].as_array().expect("targets");
    let names: Vec<&str> = targets.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["weu", "neu", "us"]);
    assert_eq!(targets[0]["state"], "failed");
    assert_eq!(targets[0]["exitCode"], 4);
    assert_eq!(targets[1]["objects"][0]["action"], "created");
    assert_eq!(targets[2]["state"], "notStarted");
    assert_eq!(doc["result"], "failed");
    assert_eq!(doc["exitCode"], 4);
}

#[test]
fn a_target_running_alone_gets_live_rows_and_targets_at_once_get_labelled_lines() {
    for alone in [true, false] {
        let log = Buffer::default();
        let dir = tempfile::tempdir().expect("tmp");
        let terminal = Terminal::new(
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            context(CiSystem::Plain, &log, dir.path()),
        );
        terminal.event(&Event::TargetStarted {
            name: "weu".into(),
            cluster: "kubeconfig kc".into(),
            alone,
        });
        let web = obj("Deployment", "apps", "web", Some(("deploy/web.yaml", 1)));
        for e in [
            Event::TrackStarted {
                objects: vec![web.clone()],
                timeout: Duration::from_secs(300),
            },
            Event::Progress {
                object: web.clone(),
                state: RolloutState::InProgress {
                    message: "0 of 2 updated replicas are available".into(),
                },
                elapsed: ms(100),
            },
        ] {
            terminal.event(&Event::Scoped {
                target: "weu".into(),
                event: Box::new(e),
            });
        }
        let frame = terminal.frame();
        let text = log.text();
        match alone {
            true => {
                assert_eq!(frame.len(), 1, "{frame:?}");
                assert!(frame[0].contains("0 of 2 updated replicas"), "{frame:?}");
                assert!(
                    text.contains("target weu: kubeconfig kc\nwaiting up to 5m"),
                    "{text}"
                );
            }
            false => {
                assert!(frame.is_empty(), "{frame:?}");
                assert!(
                    text.contains("[weu] waiting up to 5m for 1 object"),
                    "{text}"
                );
            }
        }
    }
}
