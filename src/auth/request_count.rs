//! Counting what a client costs in round trips: the requests it sends and the rounds they go
//! out in (a request sent after an answer arrived since the previous request starts a new
//! round; requests sent together before any answer are one round), for `-v` and `-o json`
//! timings to show per phase and for tests to assert (issue 25).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};

/// Requests and rounds so far (or between two readings, with [`RequestStats::since`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// Requests sent (each retry too).
    pub requests: u64,
    /// Rounds in sequence: what the network distance multiplies.
    pub rounds: u64,
}

impl RequestStats {
    /// What was sent after `earlier` was read.
    pub fn since(self, earlier: RequestStats) -> RequestStats {
        RequestStats {
            requests: self.requests.saturating_sub(earlier.requests),
            rounds: self.rounds.saturating_sub(earlier.rounds),
        }
    }
}

/// The counters of one client, shared by its clones.
#[derive(Debug, Clone, Default)]
pub struct Requests(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    answered: AtomicU64,
    rounds: AtomicU64,
    answered_at_last_send: AtomicU64,
}

impl Requests {
    /// The counts so far.
    pub fn stats(&self) -> RequestStats {
        RequestStats {
            requests: self.0.sent.load(Ordering::SeqCst),
            rounds: self.0.rounds.load(Ordering::SeqCst),
        }
    }

    fn sent(&self) {
        let answered = self.0.answered.load(Ordering::SeqCst);
        let first = self.0.sent.fetch_add(1, Ordering::SeqCst) == 0;
        let before = self
            .0
            .answered_at_last_send
            .swap(answered, Ordering::SeqCst);
        if first || answered != before {
            self.0.rounds.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn answered(&self) {
        self.0.answered.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts every request that reaches the connection into `Requests`.
#[derive(Clone)]
pub(crate) struct CountLayer(pub Requests);

impl<S> Layer<S> for CountLayer {
    type Service = CountService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountService {
            inner,
            requests: self.0.clone(),
        }
    }
}

/// The service [`CountLayer`] makes.
#[derive(Clone)]
pub(crate) struct CountService<S> {
    inner: S,
    requests: Requests,
}

impl<S, R> Service<R> for CountService<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.requests.sent();
        let answer = self.inner.call(req);
        let requests = self.requests.clone();
        Box::pin(async move {
            let r = answer.await;
            requests.answered();
            r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_sent_before_any_answer_are_one_round() {
        let r = Requests::default();
        r.sent();
        r.sent();
        assert_eq!(
            r.stats(),
            RequestStats {
                requests: 2,
                rounds: 1
            }
        );
        r.answered();
        r.sent();
        r.answered();
        r.answered();
        r.sent();
        r.sent();
        let total = r.stats();
        assert_eq!(
            total,
            RequestStats {
                requests: 5,
                rounds: 3
            }
        );
        let earlier = RequestStats {
            requests: 2,
            rounds: 1,
        };
        assert_eq!(
            total.since(earlier),
            RequestStats {
                requests: 3,
                rounds: 2
            }
        );
    }
}
