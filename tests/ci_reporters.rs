//! Golden tests of what users see in CI: a scripted run (render warnings, plan notes, applied,
//! pruned and rejected objects, a ready and a failed rollout, a secret) fed to the GitHub Actions
//! and Azure DevOps reporters. The log, the job summary and the step outputs are compared with
//! files under tests/fixtures/report; `KPUSH_UPDATE_GOLDEN=1 cargo test` regenerates them.
//! Also: `kpush render` annotates manifest problems when it runs in GitHub Actions.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kpush::exit;
use kpush::render::{Problem, ProblemKind, Severity};
use kpush::report::azure_devops::AzureDevOpsReporter;
use kpush::report::ci::{CiContext, SharedLog};
use kpush::report::github::GithubReporter;
use kpush::report::{Action, Collector, Event, ObjectRef, Reporter, Stage};
use kpush::track::outcome::{
    EventLine, Explanation, Logs, ObjectOutcome, ObjectState, RunState, TrackOutcome,
};
use kpush::track::readiness::Readiness;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A log that tests can read back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn obj(kind: &str, name: &str, at: Option<(&str, u32)>) -> ObjectRef {
    ObjectRef {
        kind: kind.into(),
        group: if kind == "Deployment" { "apps" } else { "" }.into(),
        namespace: Some("shop".into()),
        name: name.into(),
        file: at.map(|(f, _)| f.into()),
        line: at.map(|(_, l)| l),
        via: Vec::new(),
    }
}

fn progress(name: &str, state: &str, message: &str, ms: u64) -> Event {
    Event::Progress {
        object: obj(
            "Deployment",
            name,
            Some((&format!("deploy/{name}.yaml"), 1)),
        ),
        state: state.into(),
        message: message.into(),
        elapsed: Duration::from_millis(ms),
    }
}

/// The scripted run: what `kpush apply` would emit for a deploy whose worker cannot pull its image.
fn script(r: &dyn Reporter) {
    let started = |stage| r.event(&Event::StageStarted { stage });
    let finished = |stage, ms| {
        r.event(&Event::StageFinished {
            stage,
            elapsed: Duration::from_millis(ms),
        })
    };
    let object = |o: ObjectRef, action, message: Option<&str>| {
        r.event(&Event::Object {
            object: o,
            action,
            message: message.map(str::to_string),
        })
    };
    started(Stage::Render);
    r.event(&Event::Problem {
        problem: Problem::at(
            Severity::Warning,
            ProblemKind::Metadata,
            "deploy/web.yaml",
            12,
            "label value \"a,b: 100%\" will be dropped\nby the API server",
        )
        .with_column(5),
    });
    r.event(&Event::Problem {
        problem: Problem::at(
            Severity::Warning,
            ProblemKind::UnusedImage,
            "--image",
            0,
            "--image redis=redis:7.4 matched no container image",
        ),
    });
    finished(Stage::Render, 120);
    started(Stage::Plan);
    r.mask("s3cr3t-token\nsecond-line");
    r.event(&Event::Info {
        message: "cluster https://aks-shop.hcp.westeurope.azmk8s.io:443 (Kubernetes v1.33.2)"
            .into(),
    });
    finished(Stage::Plan, 1_300);
    started(Stage::Apply);
    object(
        obj("Deployment", "web", Some(("deploy/web.yaml", 1))),
        Action::Created,
        None,
    );
    object(
        obj("Deployment", "worker", Some(("deploy/worker.yaml", 1))),
        Action::Configured,
        None,
    );
    object(
        obj("Service", "web", Some(("deploy/web.yaml", 40))),
        Action::Configured,
        Some("spec.ports[0].port 80 → 8080"),
    );
    object(
        obj("ConfigMap", "settings", Some(("deploy/config.yaml", 1))),
        Action::Unchanged,
        None,
    );
    object(obj("ConfigMap", "old-settings", None), Action::Pruned, None);
    object(
        obj("Job", "migrate", Some(("deploy/job.yaml", 3))),
        Action::Failed,
        Some(
            "Job.batch \"migrate\" is invalid: spec.template: Invalid value: field is immutable; fix: pass --recreate-on-immutable",
        ),
    );
    finished(Stage::Apply, 2_400);
    started(Stage::Track);
    let web = obj("Deployment", "web", Some(("deploy/web.yaml", 1)));
    let worker = obj("Deployment", "worker", Some(("deploy/worker.yaml", 1)));
    r.event(&Event::TrackStarted {
        objects: vec![web.clone(), worker.clone()],
        timeout: Duration::from_secs(300),
    });
    r.event(&progress(
        "web",
        "inProgress",
        "1 of 3 updated replicas are available",
        5_000,
    ));
    r.event(&progress(
        "worker",
        "inProgress",
        "waiting for new pods",
        5_000,
    ));
    r.event(&progress(
        "web",
        "ready",
        "3 of 3 replicas are ready",
        42_000,
    ));
    let explanation = Explanation {
        reason: "ImagePullBackOff".into(),
        message: "image \"ghcr.io/acme/worker:1.2.O\" not found | 100% sure".into(),
        pod: Some("worker-7d9f-abcde".into()),
        container: Some("worker".into()),
        restart_count: Some(0),
        events: vec![EventLine {
            object: "pod/worker-7d9f-abcde".into(),
            type_: "Warning".into(),
            reason: "Failed".into(),
            message: "Failed to pull image \"ghcr.io/acme/worker:1.2.O\": not found".into(),
            count: 3,
        }],
        logs: Some(Logs::Unavailable {
            container: "worker".into(),
            reason: "the container never started".into(),
        }),
        hint: Some("check the image tag and that the cluster may pull from the registry".into()),
    };
    r.event(&progress("worker", "failed", "ImagePullBackOff", 61_000));
    r.event(&Event::RolloutFailed {
        object: worker.clone(),
        state: ObjectState::Failed,
        elapsed: Duration::from_secs(61),
        explanation: explanation.clone(),
    });
    r.event(&Event::TrackFinished {
        outcome: TrackOutcome {
            state: RunState::Failed,
            elapsed: Duration::from_millis(61_500),
            objects: vec![
                ObjectOutcome {
                    object: web,
                    state: ObjectState::Ready,
                    readiness: Readiness::Ready,
                    duration: Duration::from_secs(42),
                    explanation: None,
                },
                ObjectOutcome {
                    object: worker,
                    state: ObjectState::Failed,
                    readiness: Readiness::failed("ImagePullBackOff", "image not found"),
                    duration: Duration::from_secs(61),
                    explanation: Some(explanation),
                },
            ],
        },
    });
    finished(Stage::Track, 61_500);
}

/// Runs the script through a collector and the reporter, then finishes both.
fn run(make: impl FnOnce(CiContext) -> Box<dyn Reporter>, dir: &Path, summary: PathBuf) -> String {
    let log = Buffer::default();
    let ctx = CiContext {
        log: SharedLog::new(Box::new(log.clone())),
        workspace: Some(PathBuf::from("/w/repo")),
        cwd: PathBuf::from("/w/repo"),
        summary: Some(summary),
        outputs: Some(dir.join("output")),
        colour: false,
    };
    let reporter = make(ctx);
    let collector = Collector::default();
    struct Both<'a>(&'a dyn Reporter, &'a dyn Reporter);
    impl Reporter for Both<'_> {
        fn event(&self, e: &Event) {
            self.0.event(e);
            self.1.event(e);
        }
        fn mask(&self, s: &str) {
            self.1.mask(s);
        }
    }
    script(&Both(&collector, reporter.as_ref()));
    let mut s = collector.summary("apply", exit::ROLLOUT_FAILED);
    s.images = vec![
        "ghcr.io/acme/web:1.2.0".into(),
        "ghcr.io/acme/worker:1.2.O".into(),
    ];
    s.report_path = Some("/w/tmp/kpush-report.json".into());
    s.duration = Duration::from_secs(65);
    reporter.finish(&s);
    log.text().replace(&dir.display().to_string(), "$TMP")
}

fn check(failures: &mut Vec<String>, name: &str, got: &str) {
    let golden = root().join("tests/fixtures/report").join(name);
    if std::env::var_os("KPUSH_UPDATE_GOLDEN").is_some() {
        fs::create_dir_all(golden.parent().unwrap()).unwrap();
        fs::write(&golden, got).unwrap();
        return;
    }
    let want = fs::read_to_string(&golden).unwrap_or_default();
    if got != want {
        failures.push(format!("{name}:\n--- want\n{want}\n--- got\n{got}"));
    }
}

fn assert_golden(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "golden mismatches (KPUSH_UPDATE_GOLDEN=1 regenerates; review the diff):\n{}",
        failures.join("\n")
    );
}

#[test]
fn github_log_summary_and_outputs_match_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    fs::write(&summary, "# Earlier step\n\n").unwrap();
    let log = run(
        |c| Box::new(GithubReporter::new(c)),
        dir.path(),
        summary.clone(),
    );
    let mut failures = Vec::new();
    check(&mut failures, "github.log", &log);
    check(
        &mut failures,
        "github-summary.md",
        &fs::read_to_string(&summary).unwrap(),
    );
    check(
        &mut failures,
        "github-output.txt",
        &fs::read_to_string(dir.path().join("output")).unwrap(),
    );
    assert_golden(failures);
}

#[test]
fn azure_devops_log_and_summary_match_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = run(
        |c| Box::new(AzureDevOpsReporter::new(c)),
        dir.path(),
        dir.path().to_path_buf(),
    );
    let mut failures = Vec::new();
    let name = format!("kpush-apply-{}-summary.md", std::process::id());
    let log = log.replace(&name, "kpush-apply-PID-summary.md");
    check(&mut failures, "azure-devops.log", &log);
    check(
        &mut failures,
        "azure-devops-summary.md",
        &fs::read_to_string(dir.path().join(&name)).unwrap(),
    );
    assert!(
        !dir.path().join("output").exists(),
        "Azure DevOps outputs are log commands, not a file"
    );
    assert_golden(failures);
}

#[test]
fn the_secret_is_masked_before_anything_else_could_print_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = run(
        |c| Box::new(GithubReporter::new(c)),
        dir.path(),
        dir.path().join("s.md"),
    );
    let first_mask = log.find("::add-mask::s3cr3t-token").expect("masked");
    assert!(log.find("second-line").unwrap() > first_mask);
    assert_eq!(log.matches("s3cr3t-token").count(), 1, "{log}");
}

#[test]
fn render_in_github_actions_annotates_problems_relative_to_the_workspace() {
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .current_dir(root().join("tests/fixtures/render"))
        .args(["render", "errors/input", "--no-run-annotations"])
        .env_clear()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(exit::BAD_INPUT));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "::error file=tests/fixtures/render/errors/input/a.yaml,line=6,col=8,title=kpush%3A undefined-variable::variable API_URL is not defined"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.matches("::error ").count(), 7, "{stderr}");
}

#[test]
fn render_with_ci_none_prints_no_workflow_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .current_dir(root().join("tests/fixtures/render"))
        .args(["render", "errors/input", "--ci", "none"])
        .env_clear()
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("::error"), "{stderr}");
}

#[test]
fn render_in_azure_pipelines_logs_issues_with_source_path_and_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .current_dir(root())
        .args(["render", "tests/fixtures/render/errors/input"])
        .env_clear()
        .env("TF_BUILD", "True")
        .env("BUILD_SOURCESDIRECTORY", root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("##vso[task.logissue type=error;sourcepath=tests/fixtures/render/errors/input/b.json;linenumber=2;code=structure;]Secret token is missing apiVersion"),
        "{stderr}"
    );
}

#[test]
fn colours_follow_no_color_and_clicolor_force() {
    let run_with = |colour: bool| {
        let log = Buffer::default();
        let r = GithubReporter::new(CiContext {
            log: SharedLog::new(Box::new(log.clone())),
            workspace: None,
            cwd: PathBuf::from("/"),
            summary: None,
            outputs: None,
            colour,
        });
        r.event(&Event::Object {
            object: obj("Deployment", "web", None),
            action: Action::Created,
            message: None,
        });
        log.text()
    };
    assert!(run_with(true).contains("\x1b[32mcreated"));
    assert!(!run_with(false).contains('\x1b'));
    let env = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let gh = CiContext::from_env(
        kpush::report::CiSystem::Github,
        &env(&[("GITHUB_ACTIONS", "true")]),
        Box::new(std::io::sink()),
    );
    assert!(gh.colour, "GitHub logs render colours without a terminal");
    let no = CiContext::from_env(
        kpush::report::CiSystem::Github,
        &env(&[("NO_COLOR", "1")]),
        Box::new(std::io::sink()),
    );
    assert!(!no.colour);
}
