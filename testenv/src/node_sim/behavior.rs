//! Scripted behaviours: which failure (if any) a container acts out, and the plan that follows.

use std::collections::BTreeMap;
use std::time::Duration;

use super::images::ImageRef;
use super::pull_errors::{ContainerRuntime, PullFailure, RUNTIME_ANNOTATION};
use super::timeline::{ContainerKind, ContainerPlan, RestartPolicy, Run, Startup};

/// Pod annotation choosing the behaviour of the pod's containers.
pub const BEHAVIOR_ANNOTATION: &str = "sim.kpush.dev/behavior";
/// Pod annotation: seconds until a `slow-start` container is Ready (default 5).
pub const START_SECONDS_ANNOTATION: &str = "sim.kpush.dev/start-seconds";

const DEFAULT_START_SECONDS: f64 = 5.0;
/// How long a container that exits by itself runs.
const RUN_BEFORE_EXIT: Duration = Duration::from_millis(500);
/// How long an init container runs.
const INIT_RUN: Duration = Duration::from_millis(300);

/// A scripted behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Starts and becomes Ready at once (or runs to completion in Jobs and init containers).
    Healthy,
    /// The image cannot be pulled: ErrImagePull (or the kubelet's RegistryUnavailable /
    /// SignatureValidationFailed), then ImagePullBackOff, with the runtime's message for the
    /// failure (containerd's, or CRI-O's with `sim.kpush.dev/runtime: cri-o`) (`bad-image`: not found; see [`PullFailure`]).
    PullFails(PullFailure),
    /// Exits 1 after 0.5 s, again and again: CrashLoopBackOff.
    CrashLoop,
    /// Killed for exceeding its memory limit (exit 137, OOMKilled), again and again.
    OomKill,
    /// Runs but its readiness probe always fails.
    Unready,
    /// Ready after `sim.kpush.dev/start-seconds` seconds.
    SlowStart,
    /// CreateContainerConfigError: `secret "x" not found`.
    ConfigError,
    /// Exits 1 after 0.5 s (a failing Job).
    Fail,
    /// Exits 0 after 0.5 s, even where it should keep running.
    Complete,
}

/// The behaviour vocabulary, as written in annotations and image names.
pub const VOCABULARY: [(&str, Behavior); 18] = [
    ("healthy", Behavior::Healthy),
    ("bad-image", Behavior::PullFails(PullFailure::NotFound)),
    ("pull-denied", Behavior::PullFails(PullFailure::Denied)),
    (
        "pull-unauthorized",
        Behavior::PullFails(PullFailure::Unauthorized),
    ),
    (
        "pull-no-such-host",
        Behavior::PullFails(PullFailure::NoSuchHost),
    ),
    (
        "pull-x509",
        Behavior::PullFails(PullFailure::UnknownAuthority),
    ),
    ("pull-timeout", Behavior::PullFails(PullFailure::Timeout)),
    (
        "pull-refused",
        Behavior::PullFails(PullFailure::ConnectionRefused),
    ),
    (
        "pull-unsigned",
        Behavior::PullFails(PullFailure::SignatureRejected),
    ),
    (
        "pull-rate-limited",
        Behavior::PullFails(PullFailure::RateLimited),
    ),
    (
        "pull-server-error",
        Behavior::PullFails(PullFailure::ServerError),
    ),
    ("crashloop", Behavior::CrashLoop),
    ("oomkill", Behavior::OomKill),
    ("unready", Behavior::Unready),
    ("slow-start", Behavior::SlowStart),
    ("config-error", Behavior::ConfigError),
    ("fail", Behavior::Fail),
    ("complete", Behavior::Complete),
];

impl Behavior {
    pub fn from_keyword(word: &str) -> Option<Behavior> {
        VOCABULARY.iter().find(|(w, _)| *w == word).map(|(_, b)| *b)
    }
}

/// The behaviour of a container: the pod's annotation, else the image's repository name.
pub fn choose(annotations: &BTreeMap<String, String>, image: &ImageRef) -> Behavior {
    if let Some(b) = annotations
        .get(BEHAVIOR_ANNOTATION)
        .and_then(|w| Behavior::from_keyword(w.trim()))
    {
        return b;
    }
    if image.repository().contains("does-not-exist") {
        return Behavior::PullFails(PullFailure::NotFound);
    }
    Behavior::from_keyword(image.short_name()).unwrap_or(Behavior::Healthy)
}

/// What the pod asks of one container, as far as the plan is concerned.
#[derive(Debug, Clone)]
pub struct ContainerSpec<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub kind: ContainerKind,
    pub pull_policy: Option<&'a str>,
}

/// Facts about the node and the pod's references that decide a plan.
#[derive(Debug, Clone, Default)]
pub struct Circumstances {
    /// The node already holds the image.
    pub image_present: bool,
    /// A Secret or ConfigMap the container's environment needs is missing.
    pub config_error: Option<String>,
}

/// The timeline plan of one container.
pub fn plan(
    spec: &ContainerSpec<'_>,
    annotations: &BTreeMap<String, String>,
    policy: RestartPolicy,
    circumstances: &Circumstances,
) -> ContainerPlan {
    let (startup, run) = match ImageRef::parse(spec.image) {
        Err(reason) => (
            Startup::InvalidImage {
                message: format!(
                    "Failed to apply default image tag \"{0}\": couldn't parse image reference \"{0}\": {reason}",
                    spec.image
                ),
            },
            healthy_run(spec.kind, policy),
        ),
        Ok(image) => {
            let behavior = if spec.kind == ContainerKind::Init {
                // The annotation describes the app; init containers follow their image only.
                choose(&BTreeMap::new(), &image)
            } else {
                choose(annotations, &image)
            };
            let runtime = annotations
                .get(RUNTIME_ANNOTATION)
                .and_then(|w| ContainerRuntime::from_keyword(w))
                .unwrap_or(ContainerRuntime::Containerd);
            let startup = startup(behavior, runtime, &image, spec, circumstances);
            (startup, run(behavior, spec.kind, policy, annotations))
        }
    };
    let always_pull = spec.pull_policy == Some("Always");
    ContainerPlan {
        name: spec.name.to_string(),
        image: spec.image.to_string(),
        kind: spec.kind,
        needs_pull: always_pull || !circumstances.image_present,
        startup,
        run,
    }
}

fn startup(
    behavior: Behavior,
    runtime: ContainerRuntime,
    image: &ImageRef,
    spec: &ContainerSpec<'_>,
    circumstances: &Circumstances,
) -> Startup {
    if let Behavior::PullFails(failure) = behavior {
        return Startup::PullFails {
            error: failure.cri_error(runtime, image),
        };
    }
    if spec.pull_policy == Some("Never") && !circumstances.image_present {
        return Startup::NeverPull;
    }
    if behavior == Behavior::ConfigError {
        return Startup::ConfigError {
            message: "secret \"x\" not found".into(),
        };
    }
    if let Some(message) = &circumstances.config_error {
        return Startup::ConfigError {
            message: message.clone(),
        };
    }
    Startup::Ok
}

fn healthy_run(kind: ContainerKind, policy: RestartPolicy) -> Run {
    match (kind, policy) {
        (ContainerKind::Init, _) => exit(INIT_RUN, 0, "Completed"),
        (ContainerKind::Main, RestartPolicy::Always) => Run::Serve {
            ready_after: Some(Duration::ZERO),
            unhealthy: false,
        },
        (ContainerKind::Main, _) => exit(RUN_BEFORE_EXIT, 0, "Completed"),
    }
}

fn exit(after: Duration, code: i32, reason: &str) -> Run {
    Run::Exit {
        after,
        code,
        reason: reason.to_string(),
    }
}

fn run(
    behavior: Behavior,
    kind: ContainerKind,
    policy: RestartPolicy,
    annotations: &BTreeMap<String, String>,
) -> Run {
    match behavior {
        Behavior::CrashLoop | Behavior::Fail => exit(RUN_BEFORE_EXIT, 1, "Error"),
        Behavior::OomKill => exit(RUN_BEFORE_EXIT, 137, "OOMKilled"),
        Behavior::Complete => exit(RUN_BEFORE_EXIT, 0, "Completed"),
        Behavior::Unready if kind == ContainerKind::Main => Run::Serve {
            ready_after: None,
            unhealthy: true,
        },
        Behavior::SlowStart if kind == ContainerKind::Main => {
            let seconds = annotations
                .get(START_SECONDS_ANNOTATION)
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .unwrap_or(DEFAULT_START_SECONDS);
            Run::Serve {
                ready_after: Some(Duration::from_secs_f64(seconds.min(86_400.0))),
                unhealthy: false,
            }
        }
        _ => healthy_run(kind, policy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn main_spec(image: &str) -> ContainerSpec<'_> {
        ContainerSpec {
            name: "app",
            image,
            kind: ContainerKind::Main,
            pull_policy: None,
        }
    }

    #[test]
    fn annotation_wins_over_image_name() {
        let image = ImageRef::parse("registry.example/team/crashloop:1.0").unwrap();
        let a = annotations(&[(BEHAVIOR_ANNOTATION, "unready")]);
        assert_eq!(choose(&a, &image), Behavior::Unready);
        assert_eq!(choose(&BTreeMap::new(), &image), Behavior::CrashLoop);
    }

    #[test]
    fn repository_containing_does_not_exist_is_a_bad_image() {
        let image = ImageRef::parse("registry.example/does-not-exist/app:1").unwrap();
        assert_eq!(
            choose(&BTreeMap::new(), &image),
            Behavior::PullFails(PullFailure::NotFound)
        );
    }

    #[test]
    fn unknown_names_are_healthy() {
        let image = ImageRef::parse("nginx:1.19").unwrap();
        assert_eq!(choose(&BTreeMap::new(), &image), Behavior::Healthy);
    }

    #[test]
    fn invalid_reference_gives_invalid_image_name() {
        let p = plan(
            &main_spec("Registry.example/Team/App:1"),
            &BTreeMap::new(),
            RestartPolicy::Always,
            &Circumstances::default(),
        );
        let Startup::InvalidImage { message } = p.startup else {
            panic!("{:?}", p.startup)
        };
        assert!(
            message.contains("repository name must be lowercase"),
            "{message}"
        );
    }

    #[test]
    fn healthy_containers_of_jobs_complete() {
        let p = plan(
            &main_spec("busybox"),
            &BTreeMap::new(),
            RestartPolicy::Never,
            &Circumstances::default(),
        );
        assert_eq!(p.run, exit(RUN_BEFORE_EXIT, 0, "Completed"));
    }

    #[test]
    fn slow_start_reads_its_seconds() {
        let a = annotations(&[
            (BEHAVIOR_ANNOTATION, "slow-start"),
            (START_SECONDS_ANNOTATION, "2.5"),
        ]);
        let p = plan(
            &main_spec("app"),
            &a,
            RestartPolicy::Always,
            &Circumstances::default(),
        );
        assert_eq!(
            p.run,
            Run::Serve {
                ready_after: Some(Duration::from_millis(2500)),
                unhealthy: false
            }
        );
    }

    #[test]
    fn missing_config_becomes_a_config_error() {
        let c = Circumstances {
            image_present: true,
            config_error: Some("configmap \"settings\" not found".into()),
        };
        let p = plan(
            &main_spec("app"),
            &BTreeMap::new(),
            RestartPolicy::Always,
            &c,
        );
        assert_eq!(
            p.startup,
            Startup::ConfigError {
                message: "configmap \"settings\" not found".into()
            }
        );
        assert!(!p.needs_pull);
    }
}
