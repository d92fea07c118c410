//! How results and progress are shown: `-o`, `--progress`, `-v` (declared once, flattened into
//! every command that has them).

use clap::{Args, ValueEnum};

use crate::report::Progress;

/// Result formats of the commands that track rollouts (`apply`, `rollback`, `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human output on standard error only.
    Text,
    /// A JSON document on standard output (see docs/rollouts.md).
    Json,
}

/// `-o` and `--progress`.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Result format on standard output: `text` (one line per object), or `json` (one JSON
    /// document for the whole run; human output then goes to standard error).
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "text",
        env = "KPUSH_OUTPUT"
    )]
    pub output: Output,

    /// Progress display while waiting: live rows on a terminal, or plain lines for logs.
    #[arg(long, value_enum, env = "KPUSH_PROGRESS", default_value = "auto")]
    pub progress: Progress,
}

impl OutputArgs {
    /// Whether the result is one JSON document.
    pub fn json(&self) -> bool {
        self.output == Output::Json
    }
}

/// `-v`.
#[derive(Debug, Clone, Args)]
pub struct VerboseArgs {
    /// Print what kpush is doing (discovery, waves, timings) on standard error.
    #[arg(short, long, env = "KPUSH_VERBOSE")]
    pub verbose: bool,
}

/// Formats of `history` and `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableOutput {
    /// A table.
    Table,
    /// One JSON document.
    Json,
}
