//! Sending every event to several reporters (human output on stderr, JSON on stdout, ...).

use super::events::{Event, Reporter};

/// A reporter that passes each event to each of its sinks, in order.
#[derive(Default)]
pub struct Fanout<'a> {
    sinks: Vec<&'a dyn Reporter>,
}

impl<'a> Fanout<'a> {
    /// A fan-out to `sinks`.
    pub fn new(sinks: Vec<&'a dyn Reporter>) -> Self {
        Self { sinks }
    }
}

impl Reporter for Fanout<'_> {
    fn event(&self, event: &Event) {
        for s in &self.sinks {
            s.event(event);
        }
    }
}
