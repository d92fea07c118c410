use super::*;
use crate::node_sim::timeline::{ContainerKind, Run, Startup};

fn container(name: &str, kind: ContainerKind, run: Run) -> ContainerPlan {
    ContainerPlan {
        name: name.into(),
        image: "app".into(),
        kind,
        needs_pull: false,
        startup: Startup::Ok,
        run,
    }
}

fn exit(code: i32) -> Run {
    Run::Exit {
        after: Duration::from_millis(300),
        code,
        reason: if code == 0 { "Completed" } else { "Error" }.into(),
    }
}

fn serve() -> Run {
    Run::Serve {
        ready_after: Some(Duration::ZERO),
        unhealthy: false,
    }
}

fn plan(policy: RestartPolicy, init: Vec<ContainerPlan>, main: Vec<ContainerPlan>) -> PodPlan {
    PodPlan {
        ident: PodIdent::default(),
        policy,
        init,
        main,
        mount_error: None,
    }
}

#[test]
fn app_containers_wait_for_init_containers() {
    let p = plan(
        RestartPolicy::Always,
        vec![container("migrate", ContainerKind::Init, exit(0))],
        vec![container("app", ContainerKind::Main, serve())],
    );
    let early = pod_at(&p, Duration::from_millis(200));
    assert_eq!(early.phase, Phase::Pending);
    assert!(
        matches!(early.main[0].state, State::Waiting { ref reason, .. } if reason == "PodInitializing")
    );

    let later = pod_at(&p, Duration::from_millis(600));
    assert_eq!(later.phase, Phase::Running);
    assert!(later.main[0].ready);
    assert!(later.events.starts_with(&early.events));
}

#[test]
fn failed_init_container_fails_a_never_restarting_pod() {
    let p = plan(
        RestartPolicy::Never,
        vec![container("migrate", ContainerKind::Init, exit(1))],
        vec![container("app", ContainerKind::Main, serve())],
    );
    let snap = pod_at(&p, Duration::from_secs(2));
    assert_eq!(snap.phase, Phase::Failed);
    assert_eq!(snap.next_change, None);
}

#[test]
fn job_pods_succeed_or_fail_by_exit_code() {
    let ok = plan(
        RestartPolicy::Never,
        vec![],
        vec![container("job", ContainerKind::Main, exit(0))],
    );
    assert_eq!(pod_at(&ok, Duration::from_secs(1)).phase, Phase::Succeeded);
    let failing = plan(
        RestartPolicy::Never,
        vec![],
        vec![container("job", ContainerKind::Main, exit(1))],
    );
    assert_eq!(
        pod_at(&failing, Duration::from_secs(1)).phase,
        Phase::Failed
    );
}

#[test]
fn crash_looping_pods_stay_running() {
    let p = plan(
        RestartPolicy::Always,
        vec![],
        vec![container("app", ContainerKind::Main, exit(1))],
    );
    let snap = pod_at(&p, Duration::from_secs(3));
    assert_eq!(snap.phase, Phase::Running);
}

#[test]
fn image_pull_errors_keep_the_pod_pending() {
    let mut c = container("app", ContainerKind::Main, serve());
    c.startup = Startup::PullFails {
        error: "not found".into(),
    };
    let p = plan(RestartPolicy::Always, vec![], vec![c]);
    assert_eq!(pod_at(&p, Duration::from_secs(3)).phase, Phase::Pending);
}

#[test]
fn missing_volume_blocks_every_container_with_failed_mount() {
    let mut p = plan(
        RestartPolicy::Always,
        vec![],
        vec![container("app", ContainerKind::Main, serve())],
    );
    p.mount_error = Some("MountVolume.SetUp failed".into());
    let snap = pod_at(&p, Duration::from_secs(1));
    assert_eq!(snap.phase, Phase::Pending);
    assert_eq!(snap.events[0].reason, "FailedMount");
    assert!(
        matches!(snap.main[0].state, State::Waiting { ref reason, .. } if reason == "ContainerCreating")
    );
}
