//! SOPS-encrypted manifests through the `kpush` binary: `SOPS_AGE_KEY` decrypts them for
//! `apply` on the real control plane, GitHub Actions masks every decrypted value before any
//! line could show it, `diff` never shows one, and a file without its key is refused before
//! anything is applied.

mod harness;

use harness::binary::{Ctx, kpush_with_env};
use harness::sops::{age_key, encrypt};

const PLAIN: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  password: s3cr3t-from-sops
  mode: fast
";

/// A directory holding `cm.yaml`, its `password` encrypted for `recipient` by the real sops.
fn encrypted(ctx: &Ctx, recipient: &str) -> String {
    let path = ctx.write("cm.yaml", PLAIN);
    encrypt(
        ctx.path(),
        "cm.yaml",
        recipient,
        &["--encrypted-regex", "^password$"],
    );
    path.display().to_string()
}

fn args(ctx: &Ctx, command: &str, path: &str) -> Vec<String> {
    [
        command,
        path,
        "--kubeconfig",
        &ctx.cluster.kubeconfig_path("admin").display().to_string(),
        "-n",
        &ctx.namespace,
        "--no-run-annotations",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[tokio::test]
async fn apply_decrypts_with_sops_age_key_and_masks_the_values_in_github_actions() {
    let ctx = Ctx::new("sops-apply").await;
    let key = age_key();
    let path = encrypted(&ctx, &key.recipient);
    let run = kpush_with_env(
        &args(&ctx, "apply", &path),
        &[
            ("SOPS_AGE_KEY", key.identity.as_str()),
            ("GITHUB_ACTIONS", "true"),
        ],
    );
    run.expect_code(0);
    let log = format!("{}{}", run.stdout, run.stderr);
    let mask = log
        .find("::add-mask::s3cr3t-from-sops")
        .unwrap_or_else(|| panic!("the decrypted value is not masked:\n{log}"));
    let shown = log
        .match_indices("s3cr3t-from-sops")
        .map(|(i, _)| i)
        .find(|i| !log[..*i].ends_with("::add-mask::"));
    assert!(
        shown.is_none_or(|s| mask < s),
        "printed before its mask:\n{log}"
    );
    let live = ctx
        .get(&ctx.core("configmaps", "settings"))
        .await
        .expect("applied");
    assert_eq!(live["data"]["password"], "s3cr3t-from-sops");
    assert_eq!(live["data"]["mode"], "fast");
    let enc = std::fs::read_to_string(&path).expect("read");
    assert!(
        !enc.contains("s3cr3t-from-sops"),
        "the file stays encrypted"
    );
}

#[tokio::test]
async fn diff_never_shows_a_decrypted_value() {
    let ctx = Ctx::new("sops-diff").await;
    let key = age_key();
    let path = encrypted(&ctx, &key.recipient);
    let run = kpush_with_env(
        &args(&ctx, "diff", &path),
        &[("SOPS_AGE_KEY", key.identity.as_str())],
    );
    run.expect_code(1);
    assert!(run.stdout.contains("settings"), "{}", run.stdout);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!all.contains("s3cr3t-from-sops"), "{all}");
}

#[tokio::test]
async fn a_file_without_its_key_is_refused_naming_it_and_nothing_is_applied() {
    let ctx = Ctx::new("sops-nokey").await;
    let path = encrypted(&ctx, &age_key().recipient);
    let other = age_key();
    let run = kpush_with_env(
        &args(&ctx, "apply", &path),
        &[("SOPS_AGE_KEY", other.identity.as_str())],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("cm.yaml"), "{}", run.stderr);
    assert!(
        ctx.get(&ctx.core("configmaps", "settings")).await.is_none(),
        "nothing applied"
    );
}

#[tokio::test]
async fn an_unreadable_sops_age_key_file_is_invalid_input_naming_the_variable() {
    let ctx = Ctx::new("sops-keyfile").await;
    let path = encrypted(&ctx, &age_key().recipient);
    let run = kpush_with_env(
        &args(&ctx, "apply", &path),
        &[("SOPS_AGE_KEY_FILE", "/nonexistent/keys.txt")],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("SOPS_AGE_KEY_FILE"), "{}", run.stderr);
}
