use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn pod() -> PodIdent {
    PodIdent {
        namespace: "ns".into(),
        name: "web-1".into(),
        uid: "u1".into(),
    }
}

fn plan(startup: Startup, run: Run) -> ContainerPlan {
    ContainerPlan {
        name: "app".into(),
        image: "registry.example/team/app:1.0".into(),
        kind: ContainerKind::Main,
        needs_pull: true,
        startup,
        run,
    }
}

fn serve() -> Run {
    Run::Serve {
        ready_after: Some(Duration::ZERO),
        unhealthy: false,
    }
}

fn crash() -> Run {
    Run::Exit {
        after: ms(500),
        code: 1,
        reason: "Error".into(),
    }
}

fn at(p: &ContainerPlan, policy: RestartPolicy, now: Duration) -> (ContainerView, Vec<SimEvent>) {
    container_at(
        p,
        policy,
        &pod(),
        Some(Duration::ZERO),
        now,
        "PodInitializing",
    )
}

fn reasons(events: &[SimEvent]) -> Vec<&str> {
    events.iter().map(|e| e.reason.as_str()).collect()
}

#[test]
fn healthy_container_is_running_and_ready_within_200ms() {
    let p = plan(Startup::Ok, serve());
    let (view, events) = at(&p, RestartPolicy::Always, ms(100));
    assert!(
        matches!(view.state, State::Waiting { ref reason, .. } if reason == "ContainerCreating")
    );
    assert_eq!(view.next_change, Some(PULL));
    assert_eq!(reasons(&events), ["Pulling"]);

    let (view, events) = at(&p, RestartPolicy::Always, ms(200));
    assert!(matches!(view.state, State::Running { .. }));
    assert!(view.ready);
    assert_eq!(view.next_change, None);
    assert_eq!(
        reasons(&events),
        ["Pulling", "Pulled", "Created", "Started"]
    );
    assert_eq!(
        events[3].field_path.as_deref(),
        Some("spec.containers{app}")
    );
}

#[test]
fn present_image_is_not_pulled_again() {
    let mut p = plan(Startup::Ok, serve());
    p.needs_pull = false;
    let (_, events) = at(&p, RestartPolicy::Always, ms(100));
    assert_eq!(reasons(&events), ["Pulled", "Created", "Started"]);
    assert!(events[0].message.contains("already present on machine"));
}

#[test]
fn bad_image_goes_from_err_image_pull_to_image_pull_back_off() {
    let p = plan(
        Startup::PullFails {
            error: "rpc error: not found".into(),
        },
        serve(),
    );
    let (view, events) = at(&p, RestartPolicy::Always, ms(500));
    assert_eq!(
        view.state,
        State::Waiting {
            reason: "ErrImagePull".into(),
            message: Some("rpc error: not found".into())
        }
    );
    assert_eq!(reasons(&events), ["Pulling", "Failed", "Failed"]);
    assert_eq!(events[2].message, "Error: ErrImagePull");

    let (view, events) = at(&p, RestartPolicy::Always, ms(2500));
    // The kubelet's status keeps the pull error during the back-off; its event does not.
    let image = p.image.clone();
    assert_eq!(
        view.state,
        State::Waiting {
            reason: "ImagePullBackOff".into(),
            message: Some(format!(
                "Back-off pulling image \"{image}\": ErrImagePull: rpc error: not found"
            ))
        }
    );
    assert_eq!(
        reasons(&events),
        ["Pulling", "Failed", "Failed", "BackOff", "Failed"]
    );
    assert_eq!(
        events[3].message,
        format!("Back-off pulling image \"{image}\"")
    );
    assert!(
        !events[3].warning,
        "kubelet records the pull back-off as Normal"
    );
    assert_eq!(events[4].message, "Error: ImagePullBackOff");

    // Retried ten seconds later.
    let (_, events) = at(&p, RestartPolicy::Always, Duration::from_secs(11));
    assert_eq!(
        reasons(&events).iter().filter(|r| **r == "Pulling").count(),
        2
    );
}

#[test]
fn crashloop_restarts_about_once_a_second_into_crash_loop_back_off() {
    let p = plan(Startup::Ok, crash());
    let (view, _) = at(&p, RestartPolicy::Always, ms(300));
    assert!(matches!(view.state, State::Running { run: 0, .. }));
    assert!(!view.ready);

    let (view, _) = at(&p, RestartPolicy::Always, ms(700));
    assert!(matches!(view.state, State::Terminated(ref t) if t.code == 1 && t.reason == "Error"));

    let (view, events) = at(&p, RestartPolicy::Always, ms(900));
    assert!(
        matches!(view.state, State::Waiting { ref reason, .. } if reason == "CrashLoopBackOff")
    );
    assert_eq!(view.last.as_ref().map(|t| t.code), Some(1));
    assert_eq!(events.last().map(|e| e.reason.as_str()), Some("BackOff"));

    let (view, _) = at(&p, RestartPolicy::Always, Duration::from_millis(2300));
    assert!(view.restarts >= 2, "{view:?}");
    assert!(view.finished.is_none());
}

#[test]
fn jobs_run_to_completion_without_restarting() {
    let p = plan(
        Startup::Ok,
        Run::Exit {
            after: ms(500),
            code: 0,
            reason: "Completed".into(),
        },
    );
    let (view, _) = at(&p, RestartPolicy::Never, Duration::from_secs(5));
    assert_eq!(view.finished, Some((0, ms(700))));
    assert_eq!(view.restarts, 0);
    assert_eq!(view.next_change, None);
}

#[test]
fn on_failure_restarts_only_failures() {
    let p = plan(Startup::Ok, crash());
    let (view, _) = at(&p, RestartPolicy::OnFailure, Duration::from_secs(3));
    assert!(view.restarts >= 2);
    let (view, _) = at(&p, RestartPolicy::Never, Duration::from_secs(3));
    assert_eq!(view.finished.map(|f| f.0), Some(1));
}

#[test]
fn unready_containers_report_failing_probes_repeatedly() {
    let p = plan(
        Startup::Ok,
        Run::Serve {
            ready_after: None,
            unhealthy: true,
        },
    );
    let (view, events) = at(&p, RestartPolicy::Always, Duration::from_millis(3500));
    assert!(matches!(view.state, State::Running { .. }));
    assert!(!view.ready);
    assert_eq!(
        reasons(&events)
            .iter()
            .filter(|r| **r == "Unhealthy")
            .count(),
        3
    );
    assert!(view.next_change.is_some());
}

#[test]
fn slow_start_becomes_ready_after_its_delay() {
    let p = plan(
        Startup::Ok,
        Run::Serve {
            ready_after: Some(Duration::from_secs(2)),
            unhealthy: false,
        },
    );
    assert!(
        !at(&p, RestartPolicy::Always, Duration::from_secs(1))
            .0
            .ready
    );
    assert!(
        at(&p, RestartPolicy::Always, Duration::from_millis(2300))
            .0
            .ready
    );
}

#[test]
fn invalid_image_name_is_reported_with_inspect_failed() {
    let p = plan(
        Startup::InvalidImage {
            message: "Failed to apply default image tag".into(),
        },
        serve(),
    );
    let (view, events) = at(&p, RestartPolicy::Always, ms(200));
    assert!(
        matches!(view.state, State::Waiting { ref reason, .. } if reason == "InvalidImageName")
    );
    assert_eq!(reasons(&events), ["InspectFailed", "Failed"]);
    assert_eq!(events[1].message, "Error: InvalidImageName");
}

#[test]
fn config_errors_name_the_missing_object() {
    let p = plan(
        Startup::ConfigError {
            message: "secret \"x\" not found".into(),
        },
        serve(),
    );
    let (view, events) = at(&p, RestartPolicy::Always, ms(200));
    assert_eq!(
        view.state,
        State::Waiting {
            reason: "CreateContainerConfigError".into(),
            message: Some("secret \"x\" not found".into())
        }
    );
    assert_eq!(
        events.last().unwrap().message,
        "Error: secret \"x\" not found"
    );
}

#[test]
fn later_samples_extend_the_event_list() {
    let p = plan(Startup::Ok, crash());
    let mut previous: Vec<SimEvent> = Vec::new();
    for tenth in 0..60 {
        let (_, events) = at(&p, RestartPolicy::Always, ms(tenth * 100));
        assert!(events.starts_with(&previous), "at {tenth}");
        previous = events;
    }
}

#[test]
fn schedule_goes_from_fast_to_slow() {
    assert_eq!(RETRY.nth(0), Duration::ZERO);
    assert_eq!(RETRY.nth(6), Duration::from_secs(60));
    assert_eq!(RETRY.nth(7), Duration::from_secs(120));
    assert_eq!(RETRY.interval(5), Duration::from_secs(10));
    assert_eq!(RETRY.interval(6), Duration::from_secs(60));
}
