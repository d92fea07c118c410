//! `kpush render`: print the rendered objects (the command's data, on standard output).

use std::io::Write;

use clap::Args;

use super::args::ManifestArgs;
use crate::event::Sink;
use crate::exit::{self, ExitError};
use crate::render::secrets;
use crate::report::{CiMode, OutputSettings, Progress, Reporter, objects};

/// Flags of `kpush render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    manifests: ManifestArgs,

    /// Helm release name for charts given as PATH (`.Release.Name`); defaults to the chart's name.
    #[arg(long, value_name = "NAME", env = "KPUSH_RELEASE")]
    release: Option<String>,

    /// Output format.
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "yaml",
        env = "KPUSH_OUTPUT"
    )]
    output: super::args::FormatArg,

    /// Print a table of kind, namespace, name and file:line instead of the objects.
    #[arg(long, env = "KPUSH_SUMMARY")]
    summary: bool,

    /// Print Secret values (hidden by default so they never reach a CI log; in CI they are
    /// masked first).
    #[arg(long, env = "KPUSH_SHOW_SECRETS")]
    show_secrets: bool,
}

pub(super) fn run(args: RenderArgs, ci: CiMode, env: &super::Env) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "render",
        ci,
        progress: Progress::Plain,
        json: false,
        verbose: false,
    };
    let reporter = Reporter::new(&settings, env);
    // Warnings are shown by the reporter; in CI, errors also become annotations on the files
    // and lines they concern. No run summary: render changes nothing.
    let manifests = args
        .manifests
        .to_options(env)
        .map_err(crate::deploy::DeployError::invalid)
        .and_then(|mut opts| {
            opts.sops =
                super::settings::sops(None, env).map_err(crate::deploy::DeployError::invalid)?;
            crate::deploy::render::render_offline(&opts, &reporter, args.release.as_deref())
        })
        .inspect_err(|e| {
            reporter.stopping_problems(&e.error);
        })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = if args.summary {
        out.write_all(objects::summary_table(&manifests).as_bytes())
            .map_err(anyhow::Error::from)
    } else {
        if args.show_secrets {
            for m in &manifests {
                for value in secrets::values(&m.object) {
                    reporter.mask(&value);
                }
            }
        }
        objects::write(&manifests, args.output.into(), args.show_secrets, &mut out)
    };
    written
        .and_then(|()| out.flush().map_err(anyhow::Error::from))
        .map_err(|e| ExitError::new(exit::INTERNAL, e))?;
    Ok(exit::SUCCESS)
}
