//! The reporters of one command run: the CI system's reporter when kpush runs in one (it prints
//! the same lines plus groups, annotations, a summary and outputs), the terminal reporter
//! otherwise, and a collector that turns the events into the run's [`RunSummary`].

use std::sync::Mutex;
use std::time::Instant;

use crate::exit::ExitError;
use crate::render::Problem;
use crate::render::RenderError;
use crate::report::ci::{self, CiContext};
use crate::report::outcome::Failure;
use crate::report::{CiMode, Collector, Event, Reporter};

/// Reporters for one run of `command`.
pub struct RunReporters {
    active: Box<dyn Reporter>,
    in_ci: bool,
    collector: Collector,
    command: &'static str,
    started: Instant,
    images: Mutex<Vec<String>>,
}

impl RunReporters {
    /// The CI reporter `mode` and the environment ask for, else `terminal`.
    pub fn new(command: &'static str, terminal: Box<dyn Reporter>, mode: CiMode) -> Self {
        let env = super::process_env();
        let system = ci::detect(mode, &env);
        let ctx = CiContext::from_env(system, &env, Box::new(std::io::stderr()));
        let (active, in_ci) = match ci::reporter(system, ctx) {
            Some(r) => (r, true),
            None => (terminal, false),
        };
        Self {
            active,
            in_ci,
            collector: Collector::default(),
            command,
            started: Instant::now(),
            images: Mutex::new(Vec::new()),
        }
    }

    /// Whether a CI system's reporter is in use (it prints rollout lines itself).
    pub fn in_ci(&self) -> bool {
        self.in_ci
    }

    /// Records the container images being deployed, for the summary.
    pub fn set_images(&self, images: Vec<String>) {
        if let Ok(mut i) = self.images.lock() {
            *i = images;
        }
    }

    /// Problems that stop the run. CI systems annotate them on their file and line; on a
    /// terminal the error printed at exit already lists them.
    pub fn stopping_problems(&self, problems: &[Problem]) {
        if self.in_ci {
            for p in problems {
                self.event(&Event::Problem { problem: p.clone() });
            }
        }
    }

    /// Ends the run: hands the summary (with `result`'s exit code and error) to the reporter.
    pub fn finish(&self, result: &Result<i32, ExitError>) {
        let code = match result {
            Ok(code) => *code,
            Err(e) => e.code,
        };
        if let Err(e) = result
            && let Some(render) = e.error.downcast_ref::<RenderError>()
        {
            self.stopping_problems(&render.problems);
        }
        let mut summary = self.collector.summary(self.command, code);
        summary.duration = self.started.elapsed();
        summary.images = self.images.lock().map(|i| i.clone()).unwrap_or_default();
        if let Err(e) = result
            && summary.failures.is_empty()
        {
            summary.failures.push(Failure {
                object: None,
                message: e.to_string(),
                explained: false,
            });
        }
        self.active.finish(&summary);
    }
}

impl Reporter for RunReporters {
    fn event(&self, event: &Event) {
        self.collector.event(event);
        self.active.event(event);
    }

    fn mask(&self, secret: &str) {
        self.active.mask(secret);
    }
}
