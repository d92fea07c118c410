//! `kpush apply --notify`: the real binary against the real control plane posts the outcome to
//! the emulator's Slack, Teams Workflows and CloudEvents receivers (over TLS), which check the
//! payloads against the published formats. Transient refusals are retried; a lasting one is one
//! warning; the exit code never changes; webhook URLs (they hold secrets) are never printed.

mod harness;

use harness::binary::{Ctx, Run, config_map, deployment};
use kpush::exit;
use kpush_azure_emulator::{Config, Emulator};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn run(ctx: &Ctx, e: &Emulator, args: &[&str]) -> Run {
    let ca = e.ca_file().display().to_string();
    ctx.kpush_env(
        "admin",
        args,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "contoso/app"),
            ("GITHUB_SHA", SHA),
            ("GITHUB_RUN_ID", "42"),
            ("SSL_CERT_FILE", &ca),
            ("NO_PROXY", "127.0.0.1"),
        ],
    )
}

/// The output without GitHub's `::add-mask::` commands (which hand the runner the values to
/// hide, webhook URLs included).
fn unmasked(out: &Run) -> String {
    format!("{}\n{}", out.stdout, out.stderr)
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn warnings(stderr: &str) -> usize {
    stderr.matches("::warning").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_success_is_posted_to_slack_teams_and_a_cloudevents_endpoint() {
    let ctx = Ctx::new("notify-success").await;
    let e = Emulator::start(Config::default()).expect("emulator");
    ctx.write("cm.yaml", &config_map("settings", "one"));
    let dir = ctx.path().display().to_string();
    let slack = format!("slack={}", e.webhook_url("slack", "T0-B0-secret1"));
    let teams = format!("teams={}", e.webhook_url("teams", "wf-secret2"));
    let events = format!("cloudevents={}", e.webhook_url("cloudevents", "in-secret3"));
    // Slack's first answer is 503 with Retry-After: kpush tries again.
    e.fail_next_webhooks(1);
    let out = run(
        &ctx,
        &e,
        &[
            "apply",
            &dir,
            "--release",
            "web",
            "--environment",
            "production",
            "--no-github-deployment",
            "--notify",
            &slack,
            "--notify",
            &teams,
            "--notify",
            &events,
        ],
    );
    out.expect_code(exit::SUCCESS);
    assert_eq!(warnings(&out.stderr), 0, "{}", out.stderr);
    assert!(!unmasked(&out).contains("secret"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "::add-mask::{}",
            e.webhook_url("teams", "wf-secret2")
        )),
        "the URLs are masked: {}",
        out.stderr
    );
    let got = e.webhooks();
    assert_eq!(
        got.iter().map(|w| w.kind.as_str()).collect::<Vec<_>>(),
        ["slack", "teams", "cloudevents"],
        "{got:#?}"
    );
    let headline = "kpush apply of release web (revision 1) to production: success";
    assert!(
        got[0].body["text"]
            .as_str()
            .is_some_and(|t| t.contains(headline)),
        "{:#}",
        got[0].body
    );
    let card = &got[1].body["attachments"][0]["content"];
    assert_eq!(card["body"][0]["text"], headline, "{card:#}");
    assert_eq!(
        card["actions"][0]["url"],
        "https://github.com/contoso/app/actions/runs/42"
    );
    let event = &got[2].body;
    assert_eq!(event["type"], "dev.kpush.apply.finished");
    assert_eq!(
        event["source"],
        "https://github.com/contoso/app/actions/runs/42"
    );
    assert_eq!(event["data"]["result"], "success");
    assert_eq!(event["data"]["revision"], 1);
    assert_eq!(event["data"]["commit"], SHA);
    let slack_posts = e
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/webhooks/slack/"))
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert_eq!(slack_posts, [503, 200], "retried after the 503");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_rollout_is_posted_and_a_deleted_webhook_is_one_warning() {
    let ctx = Ctx::new("notify-failure").await;
    let e = Emulator::start(Config::default()).expect("emulator");
    ctx.write(
        "quota.yaml",
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: no-pods\nspec:\n  hard:\n    pods: \"0\"\n",
    );
    ctx.write("web.yaml", &deployment("web", "nginx:1.27", "web"));
    let dir = ctx.path().display().to_string();
    let gone = format!("slack={}", e.webhook_url("slack", "gone"));
    let events = e.webhook_url("cloudevents", "in-1");
    let out = run(
        &ctx,
        &e,
        &[
            "apply",
            &dir,
            "--timeout",
            "90s",
            "--notify-on",
            "failure",
            "--notify",
            &gone,
            "--notify",
            &events,
        ],
    );
    out.expect_code(exit::ROLLOUT_FAILED);
    let got = e.webhooks();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].body["data"]["result"], "rollout-failed");
    assert_eq!(got[0].body["data"]["exitCode"], 4);
    assert_eq!(warnings(&out.stderr), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "slack notification to https://127.0.0.1:{} not sent",
            e.addr().port()
        )) && out.stderr.contains("404 no_service"),
        "{}",
        out.stderr
    );
    assert!(!unmasked(&out).contains("/webhooks/"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_on_failure_posts_nothing_for_a_success() {
    let ctx = Ctx::new("notify-filtered").await;
    let e = Emulator::start(Config::default()).expect("emulator");
    ctx.write("cm.yaml", &config_map("settings", "one"));
    let dir = ctx.path().display().to_string();
    let events = e.webhook_url("cloudevents", "in-1");
    let out = run(
        &ctx,
        &e,
        &["apply", &dir, "--notify-on", "failure", "--notify", &events],
    );
    out.expect_code(exit::SUCCESS);
    assert!(e.requests().is_empty(), "{:?}", e.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_http_webhook_is_refused_before_deploying_without_printing_it() {
    let ctx = Ctx::new("notify-http").await;
    ctx.write("cm.yaml", &config_map("settings", "one"));
    let dir = ctx.path().display().to_string();
    let out = ctx.kpush(&[
        "apply",
        &dir,
        "--notify",
        "slack=http://hooks.example.com/services/T0/B0/secret",
    ]);
    out.expect_code(exit::BAD_INPUT);
    assert!(out.stderr.contains("https URLs only"), "{}", out.stderr);
    assert!(!out.stderr.contains("secret"), "{}", out.stderr);
    assert!(
        ctx.get(&ctx.core("configmaps", "settings")).await.is_none(),
        "nothing was applied"
    );
}
