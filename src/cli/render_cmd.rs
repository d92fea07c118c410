//! `kpush render`: print the rendered objects.

use std::io::Write;

use clap::Args;

use super::ManifestArgs;
use crate::exit::{self, ExitError};
use crate::render;
use crate::render::Problem;
use crate::report::ci::CiContext;
use crate::report::{self, CiMode, Event, objects};

/// Flags of `kpush render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    manifests: ManifestArgs,

    /// Output format.
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "yaml",
        env = "KPUSH_OUTPUT"
    )]
    output: objects::Format,

    /// Print a table of kind, namespace, name and file:line instead of the objects.
    #[arg(long, env = "KPUSH_SUMMARY")]
    summary: bool,

    /// Print Secret values (hidden by default so they never reach a CI log).
    #[arg(long, env = "KPUSH_SHOW_SECRETS")]
    show_secrets: bool,
}

pub(super) fn run(args: RenderArgs, ci: CiMode) -> Result<i32, ExitError> {
    let env = super::process_env();
    // In CI, problems also become annotations on the files and lines they concern.
    let system = report::ci::detect(ci, &env);
    let ci_reporter = report::ci::reporter(
        system,
        CiContext::from_env(system, &env, Box::new(std::io::stderr())),
    );
    let annotate = |problems: &[Problem]| {
        if let Some(r) = &ci_reporter {
            for p in problems {
                r.event(&Event::Problem { problem: p.clone() });
            }
        }
    };
    let opts = args
        .manifests
        .to_options(env.clone())
        .map_err(|e| ExitError::new(exit::BAD_INPUT, anyhow::anyhow!(e)))?;
    let rendered = render::render(&opts, &mut std::io::stdin().lock()).map_err(|e| {
        annotate(&e.problems);
        ExitError::new(exit::BAD_INPUT, e)
    })?;
    annotate(&rendered.warnings);
    for w in &rendered.warnings {
        eprintln!("{w}");
    }
    let text = if args.summary {
        objects::summary_table(&rendered.manifests)
    } else {
        objects::print(&rendered.manifests, args.output, args.show_secrets)
            .map_err(|e| ExitError::new(exit::INTERNAL, e))?
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| ExitError::new(exit::INTERNAL, e))?;
    Ok(exit::SUCCESS)
}
