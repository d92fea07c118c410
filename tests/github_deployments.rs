//! GitHub deployments from `kpush apply` in GitHub Actions: the real binary against the real
//! control plane, recording into the emulator's GitHub REST API (over TLS, with a job
//! `GITHUB_TOKEN`'s permission model). A deployment of the commit to the environment, statuses
//! `in_progress` → `success`/`failure`, earlier ones `inactive`; a refusal is one warning and
//! never changes the deploy's exit code.

mod harness;

use harness::binary::{Ctx, Run, config_map, deployment};
use kpush::exit;
use kpush_azure_emulator::{
    Config, Emulator, GithubAccess, GithubApiConfig, GithubDeployment, GithubToken,
};

const REPO: &str = "contoso/app";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const WRITE_TOKEN: &str = "ghs_emulatedWriteToken0123456789";
const READ_TOKEN: &str = "ghs_emulatedReadToken01234567890";

fn emulator() -> Emulator {
    let token = |token: &str, deployments| GithubToken {
        token: token.into(),
        repository: REPO.into(),
        deployments,
    };
    Emulator::start(Config {
        github_api: GithubApiConfig {
            tokens: vec![
                token(WRITE_TOKEN, GithubAccess::Write),
                token(READ_TOKEN, GithubAccess::Read),
            ],
        },
        ..Config::default()
    })
    .expect("start the emulator")
}

/// `kpush <args>` as a GitHub Actions step of run 42 with `token`, trusting the emulator.
fn kpush_in_actions(ctx: &Ctx, e: &Emulator, token: &str, args: &[&str]) -> Run {
    let api = e.github_api_url();
    let ca = e.ca_file().display().to_string();
    ctx.kpush_env(
        "admin",
        args,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", REPO),
            ("GITHUB_SHA", SHA),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_API_URL", &api),
            ("GITHUB_TOKEN", token),
            ("SSL_CERT_FILE", &ca),
            ("NO_PROXY", "127.0.0.1"),
        ],
    )
}

fn deployments_to(e: &Emulator, environment: &str) -> Vec<GithubDeployment> {
    e.github_deployments()
        .into_iter()
        .filter(|d| d.deployment["environment"] == environment)
        .collect()
}

fn warnings(stderr: &str) -> usize {
    stderr.matches("::warning").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_successful_apply_records_a_deployment_and_retires_the_previous_one() {
    let ctx = Ctx::new("gh-deploy-success").await;
    let e = emulator();
    ctx.write("cm.yaml", &config_map("settings", "one"));
    let dir = ctx.path().display().to_string();
    let args = [
        "apply",
        dir.as_str(),
        "--release",
        "web",
        "--environment",
        "production",
        "--environment-url",
        "https://shop.example.com",
    ];
    let first = kpush_in_actions(&ctx, &e, WRITE_TOKEN, &args);
    first.expect_code(exit::SUCCESS);
    ctx.write("cm.yaml", &config_map("settings", "two"));
    let second = kpush_in_actions(&ctx, &e, WRITE_TOKEN, &args);
    second.expect_code(exit::SUCCESS);

    let recorded = deployments_to(&e, "production");
    assert_eq!(recorded.len(), 2, "{recorded:#?}");
    let (old, new) = (&recorded[0], &recorded[1]);
    assert_eq!(new.repository, REPO);
    assert_eq!(new.deployment["sha"], SHA);
    assert_eq!(new.deployment["task"], "deploy");
    assert_eq!(new.deployment["payload"]["kpush"]["release"], "web");
    assert_eq!(new.states(), ["in_progress", "success"], "{new:#?}");
    let done = &new.statuses[1];
    assert_eq!(
        done["log_url"], "https://github.com/contoso/app/actions/runs/42",
        "{done:#}"
    );
    assert_eq!(done["environment_url"], "https://shop.example.com");
    assert!(
        done["description"]
            .as_str()
            .is_some_and(|d| d.contains("release web revision 2 succeeded")),
        "{done:#}"
    );
    // A production environment: GitHub's auto_inactive leaves it; kpush retires it.
    assert_eq!(
        old.states(),
        ["in_progress", "success", "inactive"],
        "{old:#?}"
    );
    for run in [&first, &second] {
        assert_eq!(warnings(&run.stderr), 0, "{}", run.stderr);
        assert!(!run.stderr.contains(WRITE_TOKEN) && !run.stdout.contains(WRITE_TOKEN));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_rollout_is_a_failure_status_and_still_exits_4() {
    let ctx = Ctx::new("gh-deploy-failure").await;
    let e = emulator();
    ctx.write(
        "quota.yaml",
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: no-pods\nspec:\n  hard:\n    pods: \"0\"\n",
    );
    ctx.write("web.yaml", &deployment("web", "nginx:1.27", "web"));
    let dir = ctx.path().display().to_string();
    let run = ctx.kpush_env(
        "admin",
        &["apply", &dir, "--timeout", "90s"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", REPO),
            ("GITHUB_SHA", SHA),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_API_URL", &e.github_api_url()),
            ("GITHUB_TOKEN", WRITE_TOKEN),
            ("SSL_CERT_FILE", &e.ca_file().display().to_string()),
            ("NO_PROXY", "127.0.0.1"),
            ("KPUSH_ENVIRONMENT", "staging"),
        ],
    );
    run.expect_code(exit::ROLLOUT_FAILED);
    let recorded = deployments_to(&e, "staging");
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(
        recorded[0].states(),
        ["in_progress", "failure"],
        "{recorded:#?}"
    );
    assert_eq!(warnings(&run.stderr), 0, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_deployments_write_is_one_warning_and_the_exit_code_is_unchanged() {
    let ctx = Ctx::new("gh-deploy-forbidden").await;
    let e = emulator();
    ctx.write("cm.yaml", &config_map("settings", "one"));
    let dir = ctx.path().display().to_string();
    let run = kpush_in_actions(
        &ctx,
        &e,
        READ_TOKEN,
        &["apply", &dir, "--environment", "production"],
    );
    run.expect_code(exit::SUCCESS);
    assert!(e.github_deployments().is_empty());
    assert!(
        e.requests()
            .iter()
            .any(|r| r.path == "/repos/contoso/app/deployments" && r.status == 403),
        "{:?}",
        e.requests()
    );
    assert_eq!(warnings(&run.stderr), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("403 Resource not accessible by integration")
            && run.stderr.contains("permissions: deployments: write"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(READ_TOKEN) && !run.stdout.contains(READ_TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_github_deployment_sends_nothing_to_github() {
    let ctx = Ctx::new("gh-deploy-off").await;
    let e = emulator();
    ctx.write("cm.yaml", &config_map("settings", "one"));
    let dir = ctx.path().display().to_string();
    let run = kpush_in_actions(
        &ctx,
        &e,
        WRITE_TOKEN,
        &[
            "apply",
            &dir,
            "--environment",
            "production",
            "--no-github-deployment",
        ],
    );
    run.expect_code(exit::SUCCESS);
    assert!(e.requests().is_empty(), "{:?}", e.requests());
    assert_eq!(warnings(&run.stderr), 0, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_environment_without_github_token_is_one_warning_naming_the_token() {
    let ctx = Ctx::new("gh-deploy-no-token").await;
    ctx.write("cm.yaml", &config_map("settings", "one"));
    let dir = ctx.path().display().to_string();
    let run = ctx.kpush_env(
        "admin",
        &["apply", &dir, "--environment", "production"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", REPO),
            ("GITHUB_SHA", SHA),
            ("GITHUB_TOKEN", ""),
        ],
    );
    run.expect_code(exit::SUCCESS);
    assert_eq!(warnings(&run.stderr), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("GITHUB_TOKEN is not set")
            && run.stderr.contains("GITHUB_TOKEN: ${{ github.token }}"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_github_is_one_warning_and_the_rollout_failure_still_exits_4() {
    let ctx = Ctx::new("gh-deploy-unreachable").await;
    // A port nobody listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    ctx.write(
        "quota.yaml",
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: no-pods\nspec:\n  hard:\n    pods: \"0\"\n",
    );
    ctx.write("web.yaml", &deployment("web", "nginx:1.27", "web"));
    let dir = ctx.path().display().to_string();
    let api = format!("https://127.0.0.1:{port}");
    let run = ctx.kpush_env(
        "admin",
        &[
            "apply",
            &dir,
            "--timeout",
            "90s",
            "--environment",
            "production",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", REPO),
            ("GITHUB_SHA", SHA),
            ("GITHUB_API_URL", &api),
            ("GITHUB_TOKEN", WRITE_TOKEN),
            ("NO_PROXY", "127.0.0.1"),
        ],
    );
    run.expect_code(exit::ROLLOUT_FAILED);
    assert_eq!(warnings(&run.stderr), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot reach GitHub at") && run.stderr.contains("HTTPS_PROXY"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(WRITE_TOKEN));
}
