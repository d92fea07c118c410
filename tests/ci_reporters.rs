//! What users see in CI from the binary itself: `kpush render` annotates manifest problems in
//! GitHub Actions and Azure Pipelines, `--ci none` turns that off, secrets printed by
//! `render --show-secrets` are masked first (checked on the combined log, in order), and
//! colours follow `NO_COLOR` / `CLICOLOR_FORCE`. The reporters' own output is checked against
//! golden files in tests/report_golden.rs.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use kpush::event::{Action, Event, ObjectRef};
use kpush::exit;
use kpush::report::HumanOutput;
use kpush::report::ci::{self, CiContext, CiSystem, LineReporter, SharedLog};
use kpush::{ObjectKey, Origin};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

/// Runs `kpush` with stdout and stderr into one file, as a CI runner logs them; returns it.
fn combined_log(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("log");
    let file = fs::File::create(&path).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpush"));
    cmd.current_dir(root())
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("clone"))
        .stderr(file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().expect("run kpush");
    (status.code(), fs::read_to_string(&path).expect("read log"))
}

const SECRET: &str = "tests/fixtures/report/input/secret.yaml";

#[test]
fn show_secrets_in_github_actions_masks_each_value_before_printing_it() {
    let (code, log) = combined_log(
        &["render", SECRET, "--show-secrets", "--no-run-annotations"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(code, Some(0), "{log}");
    for value in ["hunter2-password", "c2VjcmV0LXRva2Vu", "secret-token"] {
        let mask = log
            .find(&format!("::add-mask::{value}"))
            .unwrap_or_else(|| panic!("{value} not masked:\n{log}"));
        let shown = log
            .match_indices(value)
            .map(|(i, _)| i)
            .find(|i| !log[..*i].ends_with("::add-mask::"));
        if let Some(shown) = shown {
            assert!(mask < shown, "{value} printed before its mask:\n{log}");
        }
    }
    assert!(log.contains("password: hunter2-password"), "{log}");
}

#[test]
fn show_secrets_in_azure_pipelines_sets_secrets_before_printing_them() {
    let (code, log) = combined_log(
        &["render", SECRET, "--show-secrets", "--no-run-annotations"],
        &[("TF_BUILD", "True")],
    );
    assert_eq!(code, Some(0), "{log}");
    let mask = log
        .find("##vso[task.setsecret]hunter2-password")
        .unwrap_or_else(|| panic!("not masked:\n{log}"));
    let shown = log.find("password: hunter2-password").expect("printed");
    assert!(mask < shown, "{log}");
}

#[test]
fn secrets_stay_hidden_without_show_secrets_and_nothing_is_masked() {
    let (code, log) = combined_log(
        &["render", SECRET, "--no-run-annotations"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("hunter2-password"), "{log}");
    assert!(!log.contains("::add-mask::"), "{log}");
}

#[test]
fn colours_follow_no_color_and_clicolor_force() {
    let run_with = |colour: bool| {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("log");
        let mut ctx = CiContext::from_env(
            CiSystem::Github,
            &Default::default(),
            Box::new(std::io::sink()),
            false,
        );
        ctx.log = SharedLog::new(Box::new(fs::File::create(&log).expect("log")));
        ctx.colour = colour;
        let r = LineReporter::new(ctx, ci::dialect(CiSystem::Github));
        r.event(&Event::Object {
            object: ObjectRef::new(
                ObjectKey {
                    group: "apps".into(),
                    kind: "Deployment".into(),
                    namespace: Some("shop".into()),
                    name: "web".into(),
                },
                Some(Origin::new("web.yaml", 1)),
            ),
            action: Action::Created,
        });
        fs::read_to_string(&log).expect("read")
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
        CiSystem::Github,
        &env(&[("GITHUB_ACTIONS", "true")]),
        Box::new(std::io::sink()),
        false,
    );
    assert!(gh.colour, "GitHub logs render colours without a terminal");
    let no = CiContext::from_env(
        CiSystem::Github,
        &env(&[("NO_COLOR", "1")]),
        Box::new(std::io::sink()),
        false,
    );
    assert!(!no.colour);
}
