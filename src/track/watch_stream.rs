//! One watch as a stream that never stalls silently.
//!
//! It lists (page by page), watches from the list's resource version with bookmarks, resumes
//! from the newest resource version when the API server ends the watch, and re-lists when the
//! resource version has expired (410 Gone).
//!
//! **Progress deadline.** Every watch request asks the API server to end it after two thirds
//! of the deadline (`timeoutSeconds`), so a healthy watch always says something in time, even
//! on a quiet resource or behind a server that sends no bookmarks: an event, a bookmark, or
//! the end of the request and the answer to the next one. Silence past the deadline therefore
//! means a dead connection (a load balancer or NAT that forgot the flow, a hung server): the
//! stream drops it, lists afresh (recovering whatever changed meanwhile) and watches again.
//! Requests that hang while re-establishing are dropped the same way. Once the fresh list is
//! in, the stream says so once ([`Output::Recovered`]), however many attempts it took.
//!
//! **Errors.** A watch stream that breaks is resumed at once; a failed list or watch request
//! is retried with backoff, drawing lost connections, 429 and 5xx on the run's retry budget
//! (`--retry-budget`, never past `--timeout`). When the budget refuses, the stream ends with
//! [`Output::GaveUp`].

use std::collections::VecDeque;
use std::fmt::Debug;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::cluster::RetryPolicy;

/// Objects per list page.
const PAGE_SIZE: u32 = 500;

/// What one watch produces.
#[derive(Debug)]
pub(crate) enum Output<K> {
    /// A change (or, between `Init` and `InitDone`, a fresh list).
    Event(watcher::Event<K>),
    /// A failed request or a broken stream; the watch retries by itself.
    Error(watcher::Error),
    /// Nothing arrived for this long; the watch was re-established and has just re-listed.
    Recovered(Duration),
    /// The run's retry budget refused another attempt: the watch ends after this.
    GaveUp,
}

/// How patient a watch is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patience {
    /// Silence longer than this is a stall.
    pub deadline: Duration,
    /// Backoff and the run's retry budget.
    pub retry: RetryPolicy,
}

impl Patience {
    /// `timeoutSeconds` of each watch request: two thirds of the deadline (at least 1 s).
    fn watch_timeout(&self) -> u32 {
        let secs = (self.deadline.as_secs_f64() * 2.0 / 3.0).floor();
        (secs as u32).max(1)
    }
}

/// Watches `api` narrowed by `labels` and `fields` (selectors), with `patience`.
pub(crate) fn watch<K>(
    api: Api<K>,
    labels: Option<&str>,
    fields: Option<&str>,
    patience: Patience,
) -> BoxStream<'static, Output<K>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut list = ListParams::default().limit(PAGE_SIZE);
    let mut watch = WatchParams::default().timeout(patience.watch_timeout());
    if let Some(l) = labels.filter(|l| !l.is_empty()) {
        list = list.labels(l);
        watch = watch.labels(l);
    }
    if let Some(f) = fields.filter(|f| !f.is_empty()) {
        list = list.fields(f);
        watch = watch.fields(f);
    }
    let state = WatchLoop {
        api,
        list,
        watch,
        patience,
        resume_at: None,
        stream: None,
        queue: VecDeque::new(),
        last_heard: Instant::now(),
        stalled_since: None,
        failures: 0,
        breaks: 0,
        pause_until: None,
        done: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        let out = s.next().await?;
        Some((out, s))
    })
    .boxed()
}

type EventStream<K> = BoxStream<'static, kube::Result<WatchEvent<K>>>;

struct WatchLoop<K> {
    api: Api<K>,
    list: ListParams,
    watch: WatchParams,
    patience: Patience,
    /// Resource version to watch from; `None`: list first.
    resume_at: Option<String>,
    stream: Option<EventStream<K>>,
    queue: VecDeque<Output<K>>,
    /// When the API server last said anything on this watch (or an attempt began).
    last_heard: Instant,
    /// When the current stall began (the last thing heard before it), until the re-list is in.
    stalled_since: Option<Instant>,
    /// Failed requests in a row.
    failures: u32,
    /// Watch streams broken in a row before anything arrived.
    breaks: u32,
    pause_until: Option<Instant>,
    done: bool,
}

impl<K> WatchLoop<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    async fn next(&mut self) -> Option<Output<K>> {
        loop {
            if let Some(out) = self.queue.pop_front() {
                return Some(out);
            }
            if self.done {
                return None;
            }
            if let Some(until) = self.pause_until.take() {
                tokio::time::sleep_until(until).await;
                self.last_heard = Instant::now();
            }
            match (self.resume_at.clone(), self.stream.is_some()) {
                (None, _) => self.relist().await,
                (Some(version), false) => self.start_watch(&version).await,
                (Some(_), true) => self.read().await,
            }
        }
    }

    /// Time left before silence counts as a stall.
    fn patience_left(&self) -> Duration {
        (self.last_heard + self.patience.deadline).saturating_duration_since(Instant::now())
    }

    fn answered(&mut self, sent: Instant) {
        self.last_heard = Instant::now();
        self.failures = 0;
        self.patience.retry.answered(sent.into_std());
    }

    /// Nothing arrived in time: drop the connection and list afresh.
    fn stalled(&mut self) {
        let since = *self.stalled_since.get_or_insert(self.last_heard);
        tracing::debug!(
            "watch of {} heard nothing for {:.0}s; re-establishing it with a fresh list",
            self.api.resource_url(),
            since.elapsed().as_secs_f64()
        );
        self.stream = None;
        self.resume_at = None;
        self.last_heard = Instant::now();
    }

    /// A request failed: retry after a backoff, or give up when the run's budget says so.
    fn failed(&mut self, err: kube::Error, wrap: fn(kube::Error) -> watcher::Error) {
        if matches!(&err, kube::Error::Api(s) if s.code == 410) {
            // The resource version expired: list afresh, at once.
            self.resume_at = None;
            return;
        }
        self.failures += 1;
        let wait = self.patience.retry.wait_after(self.failures, &err);
        self.queue.push_back(Output::Error(wrap(err)));
        match wait {
            Some(d) => self.pause_until = Some(Instant::now() + d),
            None => {
                self.queue.push_back(Output::GaveUp);
                self.done = true;
            }
        }
    }

    async fn relist(&mut self) {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        let version = loop {
            let mut lp = self.list.clone();
            lp.continue_token = token.clone();
            let sent = Instant::now();
            let page = match tokio::time::timeout(self.patience_left(), self.api.list(&lp)).await {
                Err(_) => return self.stalled(),
                Ok(Err(e)) => return self.failed(e, watcher::Error::InitialListFailed),
                Ok(Ok(page)) => page,
            };
            self.answered(sent);
            items.extend(page.items);
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                break page.metadata.resource_version.filter(|v| !v.is_empty());
            }
        };
        let Some(version) = version else {
            self.queue
                .push_back(Output::Error(watcher::Error::NoResourceVersion));
            self.failures += 1;
            self.pause_until = Some(Instant::now() + self.patience.retry.backoff(self.failures));
            return;
        };
        self.queue.push_back(Output::Event(watcher::Event::Init));
        self.queue.extend(
            items
                .into_iter()
                .map(|o| Output::Event(watcher::Event::InitApply(o))),
        );
        self.queue
            .push_back(Output::Event(watcher::Event::InitDone));
        if let Some(since) = self.stalled_since.take() {
            self.queue.push_back(Output::Recovered(since.elapsed()));
        }
        self.resume_at = Some(version);
    }

    async fn start_watch(&mut self, version: &str) {
        let sent = Instant::now();
        match tokio::time::timeout(self.patience_left(), self.api.watch(&self.watch, version)).await
        {
            Err(_) => self.stalled(),
            Ok(Err(e)) => self.failed(e, watcher::Error::WatchStartFailed),
            Ok(Ok(stream)) => {
                self.answered(sent);
                self.stream = Some(stream.boxed());
            }
        }
    }

    async fn read(&mut self) {
        let left = self.patience_left();
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let next = match tokio::time::timeout(left, stream.next()).await {
            Err(_) => return self.stalled(),
            Ok(next) => next,
        };
        self.last_heard = Instant::now();
        if matches!(next, Some(Ok(_))) {
            self.breaks = 0;
        }
        match next {
            // The server ended the watch (timeoutSeconds): resume where it stopped.
            None => self.stream = None,
            Some(Ok(WatchEvent::Added(obj) | WatchEvent::Modified(obj))) => {
                self.advance(&obj);
                self.queue
                    .push_back(Output::Event(watcher::Event::Apply(obj)));
            }
            Some(Ok(WatchEvent::Deleted(obj))) => {
                self.advance(&obj);
                self.queue
                    .push_back(Output::Event(watcher::Event::Delete(obj)));
            }
            Some(Ok(WatchEvent::Bookmark(mark))) => {
                self.resume_at = Some(mark.metadata.resource_version);
            }
            Some(Ok(WatchEvent::Error(status))) => {
                self.stream = None;
                self.failed(kube::Error::Api(status), watcher::Error::WatchFailed);
            }
            Some(Err(e)) => {
                // A broken stream (a cut connection): resume at once, then with backoff if it
                // breaks again before anything arrives. Objects still waiting show the error
                // until the next event clears it.
                self.stream = None;
                self.breaks += 1;
                if self.breaks > 1 {
                    self.pause_until =
                        Some(Instant::now() + self.patience.retry.backoff(self.breaks - 1));
                }
                self.queue
                    .push_back(Output::Error(watcher::Error::WatchFailed(e)));
            }
        }
    }

    fn advance(&mut self, obj: &K) {
        if let Some(v) = obj.resource_version().filter(|v| !v.is_empty()) {
            self.resume_at = Some(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_watch_request_ends_well_before_the_deadline() {
        let p = |secs: f64| Patience {
            deadline: Duration::from_secs_f64(secs),
            retry: RetryPolicy::default(),
        };
        assert_eq!(p(30.0).watch_timeout(), 20);
        assert_eq!(p(45.0).watch_timeout(), 30);
        assert_eq!(p(3.0).watch_timeout(), 2);
        assert_eq!(p(1.0).watch_timeout(), 1, "never 0: that means no timeout");
    }
}
