//! Retrying transient failures with exponential backoff, honouring the server's Retry-After.
//!
//! Every request kpush sends is safe to repeat: reads, server-side apply (idempotent by design),
//! and deletes (a repeated delete answers 404, which callers treat as done).

use std::future::Future;
use std::time::Duration;

use super::failure::{Failure, classify};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in total, including the first.
    pub attempts: u32,
    /// Delay before the second attempt; doubled each time.
    pub first_delay: Duration,
    /// Upper bound for one delay, including a server's Retry-After.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt `n` (1-based count of failures so far).
    fn delay(&self, failures: u32, retry_after: Option<u64>) -> Duration {
        let backoff = self
            .first_delay
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)));
        let wanted = retry_after.map(Duration::from_secs).unwrap_or(backoff);
        wanted.min(self.max_delay)
    }
}

/// Runs `op` until it succeeds, fails for good, or the attempts are used up.
pub async fn with_retry<T, F, Fut>(policy: RetryPolicy, mut op: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut failures = 0;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => match classify(e) {
                Failure::Transient {
                    message,
                    retry_after,
                } if failures + 1 < policy.attempts => {
                    failures += 1;
                    let delay = policy.delay(failures, retry_after);
                    tracing::info!("transient failure ({message}); retrying in {delay:?}");
                    tokio::time::sleep(delay).await;
                }
                other => return Err(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_doubles_and_honours_retry_after_within_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, None), Duration::from_millis(200));
        assert_eq!(p.delay(3, None), Duration::from_millis(800));
        assert_eq!(p.delay(1, Some(2)), Duration::from_secs(2));
        assert_eq!(p.delay(1, Some(600)), Duration::from_secs(30));
    }

    #[tokio::test]
    async fn retries_429_then_succeeds_and_gives_up_on_rejections() {
        let policy = RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        };
        let calls = AtomicU32::new(0);
        let r = with_retry(policy, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err(kube::Error::Api(
                        kube::core::Status::failure("slow down", "TooManyRequests")
                            .with_code(429)
                            .boxed(),
                    ))
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
            async {
                Err(kube::Error::Api(
                    kube::core::Status::failure("bad", "Invalid")
                        .with_code(422)
                        .boxed(),
                ))
            }
        })
        .await;
        assert!(matches!(r, Err(Failure::Status(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
