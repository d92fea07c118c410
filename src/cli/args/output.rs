//! How results and progress are shown: `-o`, `--progress`, `-v` (declared once, flattened into
//! every command that has them).

use clap::{Args, ValueEnum};

use crate::report::{CiMode, Progress, objects};

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
    /// Result format: `text` (human output on standard error, nothing on standard output), or
    /// `json` (one JSON document for the whole run on standard output; see docs/rollouts.md).
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
    pub progress: ProgressArg,
}

impl OutputArgs {
    /// Whether the result is one JSON document.
    pub fn json(&self) -> bool {
        self.output == Output::Json
    }

    /// The progress display.
    pub fn progress(&self) -> Progress {
        self.progress.into()
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

/// `--progress`, as the flag spells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// Live rows when standard error is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Live rows (indicatif).
    Terminal,
    /// Plain lines, for logs.
    Plain,
}

impl From<ProgressArg> for Progress {
    fn from(p: ProgressArg) -> Self {
        match p {
            ProgressArg::Auto => Progress::Auto,
            ProgressArg::Terminal => Progress::Terminal,
            ProgressArg::Plain => Progress::Plain,
        }
    }
}

/// `--ci`, as the flag spells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum CiArg {
    /// Detect from the environment.
    #[default]
    Auto,
    /// GitHub Actions workflow commands, job summary and step outputs.
    Github,
    /// Azure Pipelines logging commands, summary and output variables.
    AzureDevops,
    /// GitLab CI collapsible sections and a dotenv output file.
    Gitlab,
    /// Plain output, whatever the environment says.
    None,
}

impl From<CiArg> for CiMode {
    fn from(c: CiArg) -> Self {
        match c {
            CiArg::Auto => CiMode::Auto,
            CiArg::Github => CiMode::Github,
            CiArg::AzureDevops => CiMode::AzureDevops,
            CiArg::Gitlab => CiMode::Gitlab,
            CiArg::None => CiMode::None,
        }
    }
}

/// `kpush render -o`, as the flag spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// A multi-document YAML stream.
    Yaml,
    /// A JSON `v1/List` holding the objects.
    Json,
}

impl From<FormatArg> for objects::Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Yaml => objects::Format::Yaml,
            FormatArg::Json => objects::Format::Json,
        }
    }
}
