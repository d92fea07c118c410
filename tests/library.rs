//! kpush as a library, without its command line: `deploy::apply` renders a directory, applies
//! it and tracks the rollout on the real control plane; a cancelled token stops a deploy
//! before it changes anything; a release deploy is recorded and its prune guard refuses an
//! empty render — typed verdicts and errors, no exit codes, no clap.

mod harness;

use harness::binary::{Ctx, config_map, deployment};
use kpush::deploy::{self, ClusterSettings, DeploySettings, Interrupt, ReleaseSettings, Renders};
use kpush::event::{Event, Outcome, RecordingSink};

fn settings(ctx: &Ctx, dir: &std::path::Path) -> DeploySettings {
    let mut s = DeploySettings::new(vec![dir.to_path_buf()]);
    s.render.namespace = Some(ctx.namespace.clone());
    s.timeout = std::time::Duration::from_secs(60);
    if let Some(w) = &mut s.wait {
        w.timeout = s.timeout;
    }
    s
}

fn cluster(ctx: &Ctx) -> ClusterSettings {
    ClusterSettings::kubeconfig(ctx.cluster.kubeconfig_path("admin"), None)
}

#[tokio::test]
async fn a_directory_deploys_and_becomes_ready_through_the_library() {
    let ctx = Ctx::new("lib-deploy").await;
    ctx.write("cm.yaml", &config_map("settings", "a"));
    ctx.write("web.yaml", &deployment("web", "nginx:1.27", "web"));
    let sink = RecordingSink::default();
    let verdict = deploy::apply(
        &settings(&ctx, ctx.path()),
        &cluster(&ctx),
        &sink,
        &Renders::default(),
        &Interrupt::never(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verdict, deploy::Verdict::Success);
    assert!(ctx.get(&ctx.core("configmaps", "settings")).await.is_some());
    let ready = sink
        .events()
        .iter()
        .filter(|e| matches!(e, Event::TrackFinished { .. }))
        .count();
    assert_eq!(ready, 1, "tracking ran once: {:?}", sink.events());
}

#[tokio::test]
async fn a_cancelled_deploy_changes_nothing_and_says_so() {
    let ctx = Ctx::new("lib-cancel").await;
    ctx.write("cm.yaml", &config_map("untouched", "a"));
    let cancel = Interrupt::never();
    cancel.set();
    let e = deploy::apply(
        &settings(&ctx, ctx.path()),
        &cluster(&ctx),
        &RecordingSink::default(),
        &Renders::default(),
        &cancel,
    )
    .await
    .expect_err("cancelled");
    assert_eq!(e.outcome, Outcome::Interrupted, "{e}");
    assert!(e.to_string().contains("nothing was changed"), "{e}");
    assert!(
        ctx.get(&ctx.core("configmaps", "untouched"))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_release_refuses_an_empty_render_as_invalid_input() {
    let ctx = Ctx::new("lib-release").await;
    ctx.write("cm.yaml", &config_map("kept", "a"));
    let mut s = settings(&ctx, ctx.path());
    s.release = Some(ReleaseSettings::new("shop"));
    s.prune = true;
    let run = async |s: &DeploySettings| {
        deploy::apply(
            s,
            &cluster(&ctx),
            &RecordingSink::default(),
            &Renders::default(),
            &Interrupt::never(),
        )
        .await
    };
    assert_eq!(run(&s).await.expect("deploys"), deploy::Verdict::Success);
    let empty = tempfile::tempdir().expect("dir");
    s.render.paths = vec![empty.path().to_path_buf()];
    let e = run(&s).await.expect_err("refused");
    assert_eq!(e.outcome, Outcome::InvalidInput, "{e}");
    assert!(ctx.get(&ctx.core("configmaps", "kept")).await.is_some());
}
