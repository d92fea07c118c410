//! Riding out blips: transient failures and lost connections are retried with backoff and
//! jitter, within one time budget for the whole run.
//!
//! Every request kpush sends is safe to repeat: reads, server-side apply (idempotent by design),
//! dry runs, and deletes (with preconditions; a repeated delete answers 404, which callers treat
//! as done). So a connection that is refused, reset or times out mid-request is retried like a
//! 429 or 503: an AKS control-plane restart or a load balancer reset costs seconds, not the run.
//!
//! The budget is wall time spent in outages, shared by all requests of a run (16 requests
//! failing together during a 3 s outage use 3 s, not 48 s), and never reaches past the run's
//! deadline (`--timeout`). An outage is logged once when it starts and once when it ends.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use super::failure::{self, Failure, classify, is_connection_blip};

/// The default `--retry-budget`.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(30);

/// How patiently to retry one request, drawing on a run-wide [`RetryBudget`].
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Delay before the second attempt; doubled each time, with jitter.
    pub first_delay: Duration,
    /// Upper bound for one delay, including a server's Retry-After.
    pub max_delay: Duration,
    /// The run's budget (one per process: a run is one command).
    pub budget: &'static RetryBudget,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        static DEFAULT: LazyLock<RetryBudget> =
            LazyLock::new(|| RetryBudget::new(DEFAULT_BUDGET, None));
        Self::with_budget(&DEFAULT)
    }
}

impl RetryPolicy {
    /// The standard backoff (200 ms doubling to 5 s) drawing on `budget`.
    pub fn with_budget(budget: &'static RetryBudget) -> Self {
        Self {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            budget,
        }
    }

    /// Delay before the next attempt after `failures` failures: exponential backoff with
    /// "equal jitter" (between half and all of the step), or the server's Retry-After.
    fn delay(&self, failures: u32, retry_after: Option<u64>) -> Duration {
        if let Some(secs) = retry_after {
            return Duration::from_secs(secs).min(self.max_delay);
        }
        let step = self
            .first_delay
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)))
            .min(self.max_delay);
        let half = step / 2;
        half + half.mul_f64(jitter())
    }
}

/// A number in [0, 1) that differs between calls and processes (no cryptographic quality).
fn jitter() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = u64::from(nanos) ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Time a run may spend waiting for the API server to come back, shared by all its requests.
#[derive(Debug)]
pub struct RetryBudget {
    total: Duration,
    deadline: Option<Instant>,
    state: Mutex<BudgetState>,
}

#[derive(Debug, Default)]
struct BudgetState {
    /// Outage time used by outages that ended.
    spent: Duration,
    /// When the current outage began.
    outage_since: Option<Instant>,
    /// Whether any request of this run got an answer: a server never reached is a wrong
    /// address or a closed network, not a blip, and is reported at once.
    reached: bool,
    /// Whether the budget or the deadline ran out (retries stop for the rest of the run).
    exhausted: bool,
}

impl RetryBudget {
    /// A budget of `total`, never waiting past `deadline`.
    pub fn new(total: Duration, deadline: Option<Instant>) -> Self {
        Self {
            total,
            deadline,
            state: Mutex::new(BudgetState::default()),
        }
    }

    /// A budget that lives as long as the process (one per run).
    pub fn for_run(total: Duration, deadline: Option<Instant>) -> &'static Self {
        Box::leak(Box::new(Self::new(total, deadline)))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Outage time used so far, including the current outage.
    pub fn spent(&self) -> Duration {
        let s = self.state();
        s.spent + s.outage_since.map(|t| t.elapsed()).unwrap_or_default()
    }

    /// A request sent at `sent` got an answer: ends the current outage, if any. An answer to a
    /// request sent before the outage began says nothing about the server now.
    fn answered(&self, sent: Instant) {
        let mut s = self.state();
        s.reached = true;
        if let Some(since) = s.outage_since.filter(|since| sent >= *since) {
            s.outage_since = None;
            let lasted = since.elapsed();
            s.spent += lasted;
            tracing::warn!(
                "the API server answers again after {:.1}s; continuing",
                lasted.as_secs_f64()
            );
        }
    }

    /// How long a request that failed with `message` waits before trying again, or `None` to
    /// give up. A backoff is cut to what is left of the budget, so that the whole budget is
    /// used; a `firm` delay (the server's Retry-After) is not.
    fn admit(
        &self,
        message: &str,
        delay: Duration,
        connection: bool,
        firm: bool,
    ) -> Option<Duration> {
        let mut s = self.state();
        if connection && !s.reached {
            return None;
        }
        let now = Instant::now();
        let since = match s.outage_since {
            Some(t) => t,
            None => {
                tracing::warn!(
                    "requests to the API server fail ({message}); retrying for up to {:.0}s (--retry-budget)",
                    self.total.saturating_sub(s.spent).as_secs_f64()
                );
                s.outage_since = Some(now);
                now
            }
        };
        if s.exhausted {
            return None;
        }
        let left = self.total.saturating_sub(s.spent + (now - since));
        let delay = if firm { delay } else { delay.min(left) };
        let within_budget = !left.is_zero() && delay <= left;
        let within_deadline = self.deadline.is_none_or(|d| now + delay < d);
        let admitted = within_budget && within_deadline;
        if !admitted {
            s.exhausted = true;
            tracing::warn!(
                "giving up: the API server was unavailable for {:.1}s in this run ({}); last error: {message}",
                (s.spent + (now - since)).as_secs_f64(),
                if within_budget {
                    "the run's --timeout is reached"
                } else {
                    "--retry-budget is used up"
                }
            );
        }
        admitted.then_some(delay)
    }
}

/// Runs `op` until it succeeds, fails for good, or the run's retry budget is used up.
///
/// Retried: answers that say the server is temporarily unable to serve (see
/// [`failure::is_outage`]: 429, 502, 503, 504, a Retry-After, a 500 naming etcd, a timeout or a
/// lost connection; honouring Retry-After) and connections refused, reset, closed or timed
/// out once the server has answered this run. Never retried: rejections (4xx, and a 500 about
/// the object such as a value of the wrong type), authentication, DNS and TLS failures.
pub async fn with_retry<T, F, Fut>(policy: RetryPolicy, mut op: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut failures = 0;
    // Whether an earlier attempt may have reached the server before its connection broke.
    let mut maybe_delivered = false;
    loop {
        let sent = Instant::now();
        let err = match op().await {
            Ok(v) => {
                policy.budget.answered(sent);
                return Ok(v);
            }
            Err(e) => e,
        };
        let blip = is_connection_blip(&err);
        maybe_delivered |= failure::maybe_delivered(&err);
        if matches!(err, kube::Error::Api(_)) {
            // The server answered, even if with an error.
            policy.budget.answered_with_error();
        }
        let failure = classify(err);
        let give_up = |failure: Failure| {
            if maybe_delivered && !matches!(failure, Failure::Status(_) | Failure::Unauthorized(_))
            {
                Failure::InFlight(failure.message())
            } else {
                failure
            }
        };
        let retry_after = match &failure {
            Failure::Transient { retry_after, .. } => *retry_after,
            _ if blip => None,
            _ => return Err(give_up(failure)),
        };
        failures += 1;
        let delay = policy.delay(failures, retry_after);
        let firm = retry_after.is_some();
        let Some(delay) = policy.budget.admit(&failure.message(), delay, blip, firm) else {
            return Err(give_up(failure));
        };
        tracing::debug!("retrying in {delay:?} after: {}", failure.message());
        tokio::time::sleep(delay).await;
    }
}

impl RetryPolicy {
    /// The backoff after `failures` failures in a row (200 ms doubling to 5 s, with jitter).
    pub fn backoff(&self, failures: u32) -> Duration {
        self.delay(failures.max(1), None)
    }

    /// For a request that retries by itself (a watch re-establishing): the one sent at `sent`
    /// was answered, which ends an outage (logged once).
    pub fn answered(&self, sent: Instant) {
        self.budget.answered(sent);
    }

    /// For a request that retries by itself (a watch re-establishing): how long to wait after
    /// its `failures`-th failure in a row with `err`, or `None` to stop.
    ///
    /// Lost connections and outages ([`failure::is_outage`]) draw on the run's budget (logged
    /// as with [`with_retry`]) and never wait past its deadline. Other answers of the server
    /// (403, 404, a 500 about the request, ...) wait the plain backoff: the caller decides what
    /// they mean.
    pub fn wait_after(&self, failures: u32, err: &kube::Error) -> Option<Duration> {
        let (retry_after, message) = match err {
            kube::Error::Api(status) => {
                self.budget.answered_with_error();
                if !failure::is_outage(status) {
                    return Some(self.backoff(failures));
                }
                (
                    failure::retry_after(status),
                    format!("{} ({}): {}", status.reason, status.code, status.message),
                )
            }
            other => (None, other.to_string()),
        };
        let delay = self.delay(failures.max(1), retry_after);
        // Tracking runs after the server answered (discovery, apply): a lost connection is an
        // outage to ride out, not a server never reached.
        self.budget
            .admit(&message, delay, false, retry_after.is_some())
    }
}

impl RetryBudget {
    /// The server answered with a status: it is reachable (but the outage, if it is 429/503,
    /// goes on).
    fn answered_with_error(&self) {
        self.state().reached = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy(total: Duration) -> RetryPolicy {
        RetryPolicy {
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            budget: RetryBudget::for_run(total, None),
        }
    }

    fn status(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("msg", reason)
                .with_code(code)
                .boxed(),
        )
    }

    fn refused() -> kube::Error {
        kube::Error::Service(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )))
    }

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after_within_the_cap() {
        let p = RetryPolicy::default();
        for _ in 0..50 {
            let d = p.delay(1, None);
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(200));
            let d = p.delay(3, None);
            assert!(d >= Duration::from_millis(400) && d <= Duration::from_millis(800));
        }
        assert_eq!(
            p.delay(10, None).max(Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        assert_eq!(p.delay(1, Some(2)), Duration::from_secs(2));
        assert_eq!(p.delay(1, Some(600)), Duration::from_secs(5));
    }

    #[tokio::test]
    async fn retries_429_then_succeeds_and_gives_up_on_rejections() {
        let policy = policy(Duration::from_secs(5));
        let calls = AtomicU32::new(0);
        let r = with_retry(policy, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err(status(429, "TooManyRequests"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.ok(), Some(1));
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = with_retry(policy, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(status(422, "Invalid")) }
        })
        .await;
        assert!(matches!(r, Err(Failure::Status(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn refused_connections_are_retried_only_after_the_server_answered_once() {
        let policy = policy(Duration::from_secs(5));
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = with_retry(policy, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(refused()) }
        })
        .await;
        assert!(matches!(r, Err(Failure::Unreachable(_))), "{r:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a server never reached");

        let ok: Result<(), _> = with_retry(policy, || async { Ok(()) }).await;
        assert!(ok.is_ok());
        let calls = AtomicU32::new(0);
        let r = with_retry(policy, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { if n < 3 { Err(refused()) } else { Ok(n) } }
        })
        .await;
        assert_eq!(r.ok(), Some(3));
    }

    #[tokio::test]
    async fn the_budget_is_shared_and_bounds_the_wait() {
        let policy = policy(Duration::from_millis(150));
        let _ = with_retry(policy, || async { Ok::<_, kube::Error>(()) }).await;
        let start = Instant::now();
        let r: Result<(), _> = with_retry(policy, || async { Err(refused()) }).await;
        assert!(r.is_err());
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(140), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        // The budget is used up: the next failure is not retried at all.
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = with_retry(policy, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(refused()) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_last_backoff_is_cut_to_what_is_left_so_the_whole_budget_is_used() {
        // Backoff 200 ms, 400 ms, 800 ms: without the cut, the third wait would overshoot a
        // 1 s budget and the run would give up after 0.6 s of a 1 s outage allowance.
        let policy = RetryPolicy {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            budget: RetryBudget::for_run(Duration::from_secs(1), None),
        };
        let _ = with_retry(policy, || async { Ok::<_, kube::Error>(()) }).await;
        let start = Instant::now();
        let r: Result<(), _> = with_retry(policy, || async { Err(refused()) }).await;
        assert!(r.is_err());
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(950), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    }

    #[test]
    fn watches_draw_outages_on_the_budget_but_not_the_servers_answers() {
        let policy = policy(Duration::from_millis(50));
        for failures in 1..20 {
            let wait = policy.wait_after(failures, &status(403, "Forbidden"));
            assert!(wait.is_some_and(|d| d <= Duration::from_millis(5)));
        }
        assert_eq!(policy.budget.spent(), Duration::ZERO, "403 is an answer");
        let wait = policy.wait_after(
            1,
            &kube::Error::Api(
                kube::core::Status::failure("slow down", "TooManyRequests")
                    .with_code(429)
                    .boxed(),
            ),
        );
        assert!(wait.is_some(), "429 is retried while the budget lasts");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            policy.wait_after(2, &refused()),
            None,
            "the budget is used up"
        );
        assert!(policy.budget.spent() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn the_deadline_bounds_the_wait_before_the_budget() {
        let budget = RetryBudget::for_run(
            Duration::from_secs(60),
            Some(Instant::now() + Duration::from_millis(100)),
        );
        let policy = RetryPolicy {
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            budget,
        };
        let start = Instant::now();
        let r: Result<(), _> =
            with_retry(policy, || async { Err(status(503, "ServiceUnavailable")) }).await;
        assert!(r.is_err());
        assert!(start.elapsed() < Duration::from_millis(500));
    }
}
