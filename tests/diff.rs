//! `kpush diff` against the real control plane: unified diffs of what would change, Secret
//! values never shown, exit codes 0 (no differences) / 1 (differences) / >1 (error).

mod harness;

use harness::binary::{Ctx, config_map};

fn secret(password_b64: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ntype: Opaque\ndata:\n  user: YWRtaW4=\n  password: {password_b64}\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_shows_a_changed_field_and_exits_1_then_0_once_applied() {
    let ctx = Ctx::new("diff-field").await;
    let path = ctx
        .write("cm.yaml", &config_map("settings", "old-value"))
        .display()
        .to_string();

    let before = ctx.kpush(&["diff", &path]);
    before.expect_code(1);
    assert!(
        before.stdout.contains("ConfigMap diff-field/settings (")
            && before.stdout.contains(":1) would be created"),
        "{}",
        before.stdout
    );
    assert!(
        before.stdout.contains("+  key: old-value"),
        "{}",
        before.stdout
    );
    assert!(
        ctx.get(&ctx.core("configmaps", "settings")).await.is_none(),
        "diff changes nothing"
    );

    ctx.kpush(&["apply", &path]).expect_code(0);
    let same = ctx.kpush(&["diff", &path]);
    same.expect_code(0);
    assert_eq!(same.stdout, "", "no differences, nothing printed");

    ctx.write("cm.yaml", &config_map("settings", "new-value"));
    let changed = ctx.kpush(&["diff", &path]);
    changed.expect_code(1);
    assert!(
        changed.stdout.contains("ConfigMap diff-field/settings (")
            && changed.stdout.contains(":1) would change"),
        "{}",
        changed.stdout
    );
    assert!(
        changed.stdout.contains("-  key: old-value")
            && changed.stdout.contains("+  key: new-value"),
        "{}",
        changed.stdout
    );
    assert!(
        !changed.stdout.contains("resourceVersion") && !changed.stdout.contains("managedFields"),
        "noise removed: {}",
        changed.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_hides_secret_values_and_lists_changed_keys() {
    let ctx = Ctx::new("diff-secret").await;
    // "b2xkLXBhc3M=" is "old-pass", "bmV3LXBhc3M=" is "new-pass".
    let path = ctx
        .write("secret.yaml", &secret("b2xkLXBhc3M="))
        .display()
        .to_string();
    let created = ctx.kpush(&["diff", &path]);
    created.expect_code(1);
    assert!(
        !created.stdout.contains("b2xkLXBhc3M") && !created.stdout.contains("old-pass"),
        "{}",
        created.stdout
    );
    assert!(
        created
            .stdout
            .contains("+ data.password: added (value hidden)"),
        "{}",
        created.stdout
    );

    ctx.kpush(&["apply", &path]).expect_code(0);
    ctx.kpush(&["diff", &path]).expect_code(0);

    ctx.write("secret.yaml", &secret("bmV3LXBhc3M="));
    let run = ctx.kpush(&["diff", &path]);
    run.expect_code(1);
    for value in [
        "b2xkLXBhc3M",
        "bmV3LXBhc3M",
        "old-pass",
        "new-pass",
        "YWRtaW4",
    ] {
        assert!(
            !run.stdout.contains(value),
            "{value} leaked: {}",
            run.stdout
        );
        assert!(
            !run.stderr.contains(value),
            "{value} leaked: {}",
            run.stderr
        );
    }
    assert!(
        run.stdout
            .contains("~ data.password: changed (value hidden)"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("data.user"),
        "unchanged keys are not listed: {}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_with_prune_lists_what_would_be_deleted() {
    let ctx = Ctx::new("diff-prune").await;
    ctx.write("a.yaml", &config_map("a", "v"));
    ctx.write("b.yaml", &config_map("b", "v"));
    let path = ctx.path().display().to_string();
    ctx.kpush(&["apply", &path, "--applyset", "app", "--prune"])
        .expect_code(0);
    ctx.kpush(&["diff", &path, "--applyset", "app", "--prune"])
        .expect_code(0);
    ctx.remove("b.yaml");
    let run = ctx.kpush(&["diff", &path, "--applyset", "app", "--prune"]);
    run.expect_code(1);
    assert_eq!(
        run.stdout.trim(),
        "ConfigMap diff-prune/b would be pruned (deleted)",
        "{}",
        run.stdout
    );
    assert!(
        ctx.get(&ctx.core("configmaps", "b")).await.is_some(),
        "diff deletes nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_errors_exit_above_1() {
    let ctx = Ctx::new("diff-error").await;
    let path = ctx
        .write(
            "widget.yaml",
            "apiVersion: widgets.example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec: {}\n",
        )
        .display()
        .to_string();
    let run = ctx.kpush(&["diff", &path]);
    run.expect_code(3);
    assert!(run.stderr.contains("widget.yaml:1"), "{}", run.stderr);
    assert!(
        run.stderr.contains("CustomResourceDefinition"),
        "an unknown kind is explained: {}",
        run.stderr
    );
}
