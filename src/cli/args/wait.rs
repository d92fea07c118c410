//! Flags that tune waiting for rollouts (`kpush status`, and `kpush apply` unless --wait=false).

use std::time::Duration;

use clap::Args;

use crate::track::TrackOptions;

/// The shortest `--watch-deadline`: each watch request must be able to end well before it.
const MIN_WATCH_DEADLINE: Duration = Duration::from_secs(2);

/// How long to wait and what to tolerate.
#[derive(Debug, Clone, Args)]
pub struct TrackArgs {
    /// Bound on the whole wait, e.g. 90s, 5m, 1h30m.
    #[arg(long, env = "KPUSH_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Fail an object whose rollout shows no change for this long.
    #[arg(long, env = "KPUSH_NO_PROGRESS_TIMEOUT", default_value = "3m", value_parser = parse_duration)]
    pub no_progress_timeout: Duration,

    /// Restarts tolerated per container before a crash loop fails the rollout (0: none).
    #[arg(long, env = "KPUSH_FAILURE_THRESHOLD", default_value_t = 2)]
    pub failure_threshold: i32,

    /// How long a pod may stay unschedulable before the rollout fails.
    #[arg(long, env = "KPUSH_UNSCHEDULABLE_GRACE", default_value = "15s", value_parser = parse_duration)]
    pub unschedulable_grace: Duration,

    /// Log lines shown of a failing container (0: read no logs).
    #[arg(long, env = "KPUSH_LOG_LINES", default_value_t = 20)]
    pub log_lines: usize,

    /// Re-establish and re-list a watch that hears nothing for this long (at least 2s). Hidden:
    /// for tests and unusual networks (docs/reliability.md, "Watch deadlines").
    #[arg(long, env = "KPUSH_WATCH_DEADLINE", default_value = "30s", value_parser = parse_duration, hide = true)]
    pub watch_deadline: Duration,
}

/// `--wait`: whether a command that applies waits for the rollouts.
#[derive(Debug, Clone, Args)]
pub struct WaitFlag {
    /// Wait until every applied object is ready, failing fast with the reason; `--wait=false`
    /// returns as soon as the objects are applied (and needs no watch permissions: `kpush rbac`
    /// derives them for the same setting).
    #[arg(
        long = "wait",
        env = "KPUSH_WAIT",
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub wait_for_rollout: bool,
}

impl TrackArgs {
    /// The tracking options these flags describe.
    pub fn to_options(&self) -> TrackOptions {
        TrackOptions {
            timeout: self.timeout,
            no_progress_timeout: self.no_progress_timeout,
            failure_threshold: self.failure_threshold.max(0),
            unschedulable_grace: self.unschedulable_grace,
            log_lines: self.log_lines,
            watch_deadline: self.watch_deadline.max(MIN_WATCH_DEADLINE),
            ..TrackOptions::default()
        }
    }

    /// The watch deadline for a client whose reads give up after `request_timeout`: never
    /// longer, so a quiet healthy watch (it speaks at least every two thirds of the deadline)
    /// never runs into the read timeout.
    pub fn watch_deadline_within(&self, request_timeout: Duration) -> Duration {
        self.watch_deadline
            .min(request_timeout)
            .max(MIN_WATCH_DEADLINE)
    }
}

/// Parses `90s`, `5m`, `1h30m`, `1.5s`, `250ms`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration; write e.g. 90s, 5m or 1h30m".into());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|e| format!("{t:?}: {e}"));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{t:?}: the last number has no unit (ms, s, m or h)"))?;
        if digits == 0 {
            return Err(format!("{t:?}: expected a number before {rest:?}"));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{t:?}: {:?} is not a number", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => return Err(format!("{t:?}: unknown unit {other:?} (use ms, s, m or h)")),
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(number * scale).map_err(|e| format!("{t:?}: {e}"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_deadline_stays_within_the_request_timeout_and_above_2s() {
        let args = |deadline: u64| TrackArgs {
            timeout: Duration::from_secs(300),
            no_progress_timeout: Duration::from_secs(180),
            failure_threshold: 2,
            unschedulable_grace: Duration::from_secs(15),
            log_lines: 20,
            watch_deadline: Duration::from_secs(deadline),
        };
        let secs = Duration::from_secs;
        assert_eq!(args(30).watch_deadline_within(secs(30)), secs(30));
        assert_eq!(args(30).watch_deadline_within(secs(10)), secs(10));
        assert_eq!(args(1).watch_deadline_within(secs(30)), secs(2));
        assert_eq!(args(1).to_options().watch_deadline, secs(2));
    }

    #[test]
    fn durations_parse_like_go_durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("").is_err());
    }
}
