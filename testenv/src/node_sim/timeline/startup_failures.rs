//! Containers that never start: image pulls that fail, invalid names, configuration errors.

use std::time::Duration;

use super::{MS, PULL, PULL_BACKOFF_AFTER, RETRY, Segments, State, seg};
use crate::node_sim::pull_errors::KubeletPullError;

/// Image pulls that fail: ErrImagePull, then ImagePullBackOff, retried on [`RETRY`].
pub(super) fn pull_failures(segs: &mut Segments<'_>, start: Duration, error: &str) -> Option<()> {
    let image = segs.plan.image.clone();
    // The kubelet's view of the runtime's error: reason, status message, back-off message.
    let failed = KubeletPullError::from_cri_error(&image, error);
    let backoff_event = format!("Back-off pulling image \"{image}\"");
    let backoff_message = failed.back_off_message(&image);
    for k in 0.. {
        let cycle = start + RETRY.nth(k);
        let before = if k == 0 {
            State::waiting("ContainerCreating", None)
        } else {
            State::waiting("ImagePullBackOff", Some(backoff_message.clone()))
        };
        let mut s = seg(cycle, before);
        s.events.push(segs.event(
            cycle,
            false,
            "Pulling",
            format!("Pulling image \"{image}\""),
        ));
        segs.push(s)?;

        let at = cycle + PULL;
        let mut s = seg(
            at,
            State::waiting(&failed.reason, Some(failed.message.clone())),
        );
        s.events.push(segs.event(
            at,
            true,
            "Failed",
            format!("Failed to pull image \"{image}\": {error}"),
        ));
        s.events
            .push(segs.event(at, true, "Failed", format!("Error: {}", failed.reason)));
        segs.push(s)?;

        let at = cycle + PULL + PULL_BACKOFF_AFTER;
        let mut s = seg(
            at,
            State::waiting("ImagePullBackOff", Some(backoff_message.clone())),
        );
        s.events
            .push(segs.event(at, false, "BackOff", backoff_event.clone()));
        s.events
            .push(segs.event(at, true, "Failed", "Error: ImagePullBackOff".into()));
        segs.push(s)?;
    }
    Some(())
}

/// How a failure before the container exists is reported.
pub(super) struct Failure<'a> {
    /// The waiting reason (`InvalidImageName`, `CreateContainerConfigError`, ...).
    pub reason: &'a str,
    pub message: String,
    /// Warning events recorded with `message` before the `Failed` one.
    pub detail_events: &'a [&'a str],
    /// The image was pulled before the failure (config errors happen after the pull).
    pub after_pull: bool,
}

/// A failure before the container exists, reported again on every retry.
pub(super) fn repeated_failure(
    segs: &mut Segments<'_>,
    start: Duration,
    failure: Failure<'_>,
) -> Option<()> {
    let image = segs.plan.image.clone();
    // Config errors show the message after "Error:"; image problems show the reason.
    let error = if failure.after_pull {
        failure.message.clone()
    } else {
        failure.reason.to_string()
    };
    let mut first = seg(start, State::waiting("ContainerCreating", None));
    first.pulled = failure.after_pull;
    segs.push(first)?;
    for k in 0.. {
        let at = start + 100 * MS + RETRY.nth(k);
        let mut s = seg(
            at,
            State::waiting(failure.reason, Some(failure.message.clone())),
        );
        s.pulled = failure.after_pull;
        if failure.after_pull && segs.plan.needs_pull {
            s.events
                .push(segs.event(at, false, "Pulling", format!("Pulling image \"{image}\"")));
            s.events.push(segs.event(
                at,
                false,
                "Pulled",
                format!(
                    "Successfully pulled image \"{image}\" in {}ms",
                    PULL.as_millis()
                ),
            ));
        } else if failure.after_pull {
            s.events.push(segs.event(
                at,
                false,
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
            ));
        }
        for detail in failure.detail_events {
            s.events
                .push(segs.event(at, true, detail, failure.message.clone()));
        }
        s.events
            .push(segs.event(at, true, "Failed", format!("Error: {error}")));
        segs.push(s)?;
    }
    Some(())
}
