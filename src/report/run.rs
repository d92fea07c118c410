//! The one reporter of a run, built by the CLI from [`OutputSettings`].

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

use super::ci::{self, CiMode, CiSystem};
use super::human::HumanOutput;
use super::json_result::JsonResult;
use super::outcome::{Collector, Failure};
use super::{colour, terminal};
use crate::event::{Event, Sink};
use crate::exit::ExitError;
use crate::render::problem::RenderError;

/// The progress display while waiting for rollouts (`--progress`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Progress {
    /// Live rows when standard error is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Live rows (indicatif).
    Terminal,
    /// Plain lines, for logs.
    Plain,
}

/// How a run's output should look; the CLI fills it from flags and `KPUSH_*` variables.
#[derive(Debug, Clone, Copy)]
pub struct OutputSettings {
    /// The command (`apply`, `diff`, `status`, `render`, `token`).
    pub command: &'static str,
    /// `--ci`.
    pub ci: CiMode,
    /// `--progress`.
    pub progress: Progress,
    /// `-o json`: one JSON document on standard output at the end.
    pub json: bool,
    /// `--verbose`: notes on what kpush is doing.
    pub verbose: bool,
}

/// The one reporter of a run.
pub struct Reporter {
    command: &'static str,
    system: CiSystem,
    human: Box<dyn HumanOutput>,
    /// The run's wall time so far (fixed in golden tests).
    clock: Box<dyn Fn() -> std::time::Duration + Send + Sync>,
    collector: Collector,
    json: Option<JsonResult>,
    data: Mutex<Box<dyn Write + Send>>,
}

impl Reporter {
    /// The reporter `settings` ask for, in the environment `env`: human output on standard
    /// error, data on standard output.
    pub fn new(settings: &OutputSettings, env: &BTreeMap<String, String>) -> Self {
        let system = ci::detect(settings.ci, env);
        let tty = std::io::stderr().is_terminal();
        let live = system == CiSystem::Plain
            && match settings.progress {
                Progress::Auto => tty,
                Progress::Terminal => true,
                Progress::Plain => false,
            };
        let human: Box<dyn HumanOutput> = if live {
            Box::new(terminal::Terminal::stderr(
                settings.verbose,
                colour::enabled(env, tty),
            ))
        } else {
            let mut ctx =
                ci::CiContext::from_env(system, env, Box::new(std::io::stderr()), settings.verbose);
            if system == CiSystem::Plain {
                ctx.colour = colour::enabled(env, tty);
            }
            Box::new(ci::LineReporter::new(ctx, ci::dialect(system)))
        };
        let mut r = Self::with_output(
            settings.command,
            human,
            settings.json,
            Box::new(std::io::stdout()),
        );
        r.system = system;
        r
    }

    /// A reporter over `human`, writing the JSON document (when `json`) to `data`.
    pub fn with_output(
        command: &'static str,
        human: Box<dyn HumanOutput>,
        json: bool,
        data: Box<dyn Write + Send>,
    ) -> Self {
        let started = Instant::now();
        Self {
            command,
            system: CiSystem::Plain,
            clock: Box::new(move || started.elapsed()),
            human,
            collector: Collector::default(),
            json: json.then(JsonResult::default),
            data: Mutex::new(data),
        }
    }

    /// The same reporter, reporting `duration` as the run's wall time (for golden tests).
    pub fn with_duration(mut self, duration: std::time::Duration) -> Self {
        self.clock = Box::new(move || duration);
        self
    }

    /// The CI system whose dialect is spoken.
    pub fn system(&self) -> CiSystem {
        self.system
    }

    /// Ends the run with `result`: manifest errors as annotations (CI), the summary, outputs
    /// and summary files, then the JSON document on standard output.
    pub fn finish(&self, result: &Result<i32, ExitError>) -> Result<(), ExitError> {
        let code = match result {
            Ok(code) => *code,
            Err(e) => e.code,
        };
        if let Err(e) = result {
            self.stopping_problems(&e.error);
        }
        let mut summary = self.collector.summary(self.command, code);
        summary.duration = (self.clock)();
        if let Err(e) = result
            && summary.failures.is_empty()
        {
            summary.failures.push(Failure {
                object: None,
                message: e.to_string(),
            });
        }
        self.human.finish(&summary);
        if let Some(json) = &self.json {
            let mut out = match self.data.lock() {
                Ok(o) => o,
                Err(poisoned) => poisoned.into_inner(),
            };
            out.write_all(json.render(code).as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| ExitError::new(crate::exit::INTERNAL, e))?;
        }
        Ok(())
    }
}

impl Reporter {
    /// The manifest problems that stopped the run, when `e` is a render error: CI systems
    /// annotate each on its file and line; on a terminal the error printed at exit lists them.
    pub fn stopping_problems(&self, e: &anyhow::Error) {
        if let Some(render) = e.downcast_ref::<RenderError>()
            && self.system != CiSystem::Plain
        {
            for p in &render.problems {
                self.event(&Event::Problem { problem: p.clone() });
            }
        }
    }
}

impl Sink for Reporter {
    fn event(&self, event: &Event) {
        self.collector.record(event);
        if let Some(json) = &self.json {
            json.record(event);
        }
        self.human.event(event);
    }

    fn mask(&self, secret: &str) {
        self.human.mask(secret);
    }
}
