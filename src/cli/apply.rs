//! `kpush apply`: render, plan, apply (and prune), report.

use super::args::ApplyArgs;
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
    let one = async |t: Option<&Target>, sink: &dyn Sink| {
        let (cluster, manifests) = match t {
            Some(t) => t.args(&args.cluster, &args.manifests),
            None => (args.cluster.clone(), args.manifests.clone()),
        };
        let (settings, cluster) = super::settings::apply(&args, &cluster, &manifests, env)?;
        deploy::apply(&settings, &cluster, sink, &renders, &interrupt).await
    };
    let manifests = Some((&args.manifests, &renders));
    let ended =
        targets::run_or_once(&args.targets, manifests, &reporter, &watch, env, stops, one).await;
    let outcome = match &ended {
        Ok(o) => *o,
        Err(e) => e.outcome,
    };
    let code = exit::of_outcome(outcome);
    deployment
        .finish(conclusion(outcome), watch.revision(), &reporter)
        .await;
    let message = notify::Ended {
        success: outcome == Outcome::Success,
        result: exit::result_name(code, "apply").to_string(),
        exit_code: code,
        revision: watch.revision(),
    };
    notify::send(&notify, &message, &reporter).await;
    let result = ended.map(exit::of_outcome).map_err(ExitError::from);
    reporter.finish(&result)?;
    result
}

/// Whether a target's outcome stops a sequential multi-cluster apply.
fn stops(outcome: Outcome) -> bool {
    outcome != Outcome::Success
}

/// The GitHub deployment status of a run that ended as `outcome`.
fn conclusion(outcome: Outcome) -> Conclusion {
    match outcome {
        Outcome::Success => Conclusion::Success,
        Outcome::RolloutFailed | Outcome::TimedOut | Outcome::RolledBack => Conclusion::Failure,
        _ => Conclusion::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_failures_are_failures_and_other_stops_errors() {
        assert_eq!(conclusion(Outcome::Success), Conclusion::Success);
        for o in [
            Outcome::RolloutFailed,
            Outcome::TimedOut,
            Outcome::RolledBack,
        ] {
            assert_eq!(conclusion(o), Conclusion::Failure, "{o:?}");
        }
        for o in [
            Outcome::InvalidInput,
            Outcome::Rejected,
            Outcome::Unreachable,
            Outcome::Locked,
            Outcome::Interrupted,
            Outcome::Internal,
        ] {
            assert_eq!(conclusion(o), Conclusion::Error, "{o:?}");
        }
    }
}
