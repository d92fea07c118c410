//! `kpush apply`: render, plan, apply (and prune), report.

use super::args::{ApplyArgs, ClusterArgs, ManifestArgs};
use super::targets;
use crate::deploy::targets_file::Target;
use crate::deploy::{self, Interrupt, Renders};
use crate::event::{Outcome, Sink};
use crate::exit::{self, ExitError};
use crate::records::github::{Conclusion, Recorder, RevisionWatch};
use crate::records::notify;
use crate::report::{CiMode, OutputSettings, Reporter};

pub(super) async fn run(args: ApplyArgs, ci: CiMode, env: &super::Env) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "apply",
        ci,
        progress: args.out.progress(),
        json: args.out.json(),
        verbose: args.verbose.verbose,
    };
    let reporter = Reporter::new(&settings, env);
    let interrupt = Interrupt::on_signals();
    let renders = Renders::default();
    let github =
        super::settings::github_deployment(&args.deployment, args.plan.release_name(), env);
    let notify = match super::settings::notify(&args.deployment, args.plan.release_name(), env) {
        Ok(n) => n,
        Err(e) => {
            let result = Err(ExitError::from(e));
            reporter.finish(&result)?;
            return result;
        }
    };
    notify::mask(&notify, &reporter);
    let deployment = Recorder::start(github, &reporter).await;
    let watch = RevisionWatch::new(&reporter);
    let one = async |cluster: &ClusterArgs, manifests: &ManifestArgs, sink: &dyn Sink| {
        let (settings, cluster) = super::settings::apply(&args, cluster, manifests, env)?;
        deploy::apply(&settings, &cluster, sink, &renders, &interrupt).await
    };
    let result = match &args.targets.targets {
        Some(file) => {
            let each = async |t: &Target, sink: &dyn Sink| {
                let (cluster, manifests) = t.args(&args.cluster, &args.manifests);
                one(&cluster, &manifests, sink).await
            };
            targets::run(
                file,
                &args.targets,
                Some((&args.manifests, &renders)),
                &reporter,
                env,
                stops,
                each,
            )
            .await
        }
        None => exit::from_deploy(one(&args.cluster, &args.manifests, &watch).await),
    };
    let code = match &result {
        Ok(code) => *code,
        Err(e) => e.code,
    };
    deployment
        .finish(conclusion(code), watch.revision(), &reporter)
        .await;
    let ended = notify::Ended {
        success: code == exit::SUCCESS,
        result: exit::result_name(code, "apply").to_string(),
        exit_code: code,
        revision: watch.revision(),
    };
    notify::send(&notify, &ended, &reporter).await;
    reporter.finish(&result)?;
    result
}

/// Whether a target's outcome stops a sequential multi-cluster apply.
fn stops(outcome: Outcome) -> bool {
    outcome != Outcome::Success
}

/// The GitHub deployment status of a run that exits with `code`.
fn conclusion(code: i32) -> Conclusion {
    match code {
        exit::SUCCESS => Conclusion::Success,
        exit::ROLLOUT_FAILED | exit::TIMED_OUT | exit::ROLLED_BACK => Conclusion::Failure,
        _ => Conclusion::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_failures_are_failures_and_other_stops_errors() {
        assert_eq!(conclusion(exit::SUCCESS), Conclusion::Success);
        for code in [exit::ROLLOUT_FAILED, exit::TIMED_OUT, exit::ROLLED_BACK] {
            assert_eq!(conclusion(code), Conclusion::Failure, "{code}");
        }
        for code in [
            exit::BAD_INPUT,
            exit::APPLY_REJECTED,
            exit::CLUSTER_UNREACHABLE,
            exit::LOCKED,
            exit::INTERRUPTED,
            exit::INTERNAL,
        ] {
            assert_eq!(conclusion(code), Conclusion::Error, "{code}");
        }
    }
}
