//! What users see in CI from the binary itself: `kpush render` annotates manifest problems in
//! GitHub Actions and Azure Pipelines, `--ci none` turns that off, secrets printed by
//! `render --show-secrets` are masked first (checked on the combined log, in order), and
//! colours follow `NO_COLOR` / `CLICOLOR_FORCE`, and a hostile manifest's text (its diff, the
//! API server's rejection quoting it) cannot act as a CI command. The reporters' own output is
//! checked against golden files in tests/report_golden.rs.

mod harness;

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
        .args([
            "render",
            "errors/input",
            "--no-run-annotations",
            "--strict-vars",
        ])
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
        .args(["render", "errors/input", "--ci", "none", "--strict-vars"])
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

/// Lines of `log` that GitHub's runner reads as a workflow command: `::` first after leading
/// white space (lines end at LF or CR), or the legacy `##[` anywhere.
fn github_commands(log: &str) -> Vec<&str> {
    log.split(['\n', '\r'])
        .filter(|l| l.trim_start().starts_with("::") || l.contains("##["))
        .collect()
}

/// The logging commands the Azure Pipelines agent reads in `log`: from the first `##vso[` of
/// a line on, and `##[` formatting at a line's start.
fn azure_commands(log: &str) -> Vec<&str> {
    log.split(['\n', '\r'])
        .filter_map(|l| {
            let at = l.to_ascii_lowercase().find("##vso[");
            match at {
                Some(i) => Some(&l[i..]),
                None if l.trim_start().starts_with("##[") => Some(l),
                None => None,
            }
        })
        .collect()
}

/// A ConfigMap whose text holds a command for each CI system, as context and added lines.
const HOSTILE: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: hostile
data:
  script: |
    ::add-mask::PWNED
    ::error title=PWNED::PWNED
    echo ##[error]PWNED
    echo ##vso[task.setvariable variable=PWNED;isoutput=true]PWNED
";

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_manifests_diff_cannot_emit_a_workflow_or_logging_command() {
    let ctx = harness::binary::Ctx::new("ci-hostile-diff").await;
    ctx.write("hostile.yaml", HOSTILE);
    let dir = ctx.path().display().to_string();
    // Applied first, so the diff shows the lines as context (` ` + indentation) too.
    ctx.kpush(&["apply", &dir]).expect_code(0);
    ctx.write(
        "hostile.yaml",
        &HOSTILE.replace("echo ##[", "echo again ##["),
    );
    for (ci, env) in [
        ("github", ("GITHUB_ACTIONS", "true")),
        ("azure", ("TF_BUILD", "True")),
        ("plain in github", ("GITHUB_ACTIONS", "true")),
    ] {
        let mut args = vec!["diff", dir.as_str()];
        if ci.starts_with("plain") {
            args.extend(["--ci", "none"]);
        }
        let run = ctx.kpush_env("admin", &args, &[env]);
        run.expect_code(1);
        let log = format!("{}{}", run.stdout, run.stderr);
        assert!(log.contains("PWNED"), "{ci}: the text is shown:\n{log}");
        for c in github_commands(&log) {
            assert!(
                !c.contains("PWNED"),
                "{ci}: workflow command {c:?} in\n{log}"
            );
        }
        for c in azure_commands(&log) {
            assert!(
                !c.contains("PWNED"),
                "{ci}: logging command {c:?} in\n{log}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejection_quoting_a_hostile_value_cannot_emit_a_logging_command() {
    let ctx = harness::binary::Ctx::new("ci-hostile-reject").await;
    // An invalid label value: the API server's 422 quotes it.
    ctx.write(
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  labels:\n    x: \"##vso[task.complete result=Succeeded;]PWNED\"\n",
    );
    let dir = ctx.path().display().to_string();
    for (ci, env) in [
        ("azure, plain dialect", ("TF_BUILD", "True")),
        ("gitlab", ("GITLAB_CI", "true")),
    ] {
        let mut args = vec!["apply", dir.as_str()];
        if ci.contains("plain") {
            args.extend(["--ci", "none"]);
        }
        let run = ctx.kpush_env("admin", &args, &[env]);
        run.expect_code(3);
        let log = format!("{}{}", run.stdout, run.stderr);
        assert!(
            log.contains("PWNED"),
            "{ci}: the server's message is shown:\n{log}"
        );
        for c in azure_commands(&log) {
            assert!(
                !c.contains("PWNED"),
                "{ci}: logging command {c:?} in\n{log}"
            );
        }
    }
}

#[test]
fn a_secret_is_masked_also_in_the_form_the_log_prints_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("log");
    let mut ctx = CiContext::from_env(
        CiSystem::Github,
        &Default::default(),
        Box::new(std::io::sink()),
        false,
    );
    ctx.log = SharedLog::new(Box::new(fs::File::create(&log).expect("log")));
    ctx.colour = false;
    let r = LineReporter::new(ctx, ci::dialect(CiSystem::Github));
    let secret = "::s3cr3t ##[x]";
    r.mask(secret);
    // Printed as text (notes are shown in CI logs): at a line's start, then after other text.
    r.event(&Event::Info {
        message: secret.into(),
    });
    r.event(&Event::Info {
        message: format!("the server said {secret}"),
    });
    let text = fs::read_to_string(&log).expect("read");
    let masks: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .collect();
    assert!(masks.contains(&secret), "{text}");
    let printed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("s3cr3t") && !l.starts_with("::add-mask::"))
        .collect();
    assert_eq!(printed.len(), 2, "{text}");
    for line in printed {
        assert!(
            !github_commands(line).iter().any(|c| c.contains("s3cr3t")),
            "{line:?}"
        );
        assert!(
            masks.iter().any(|m| line.contains(m)),
            "the printed form {line:?} is not masked: {masks:?}"
        );
    }
}
