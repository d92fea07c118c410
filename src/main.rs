//! kpush's entry point: parse flags, run, map errors to documented exit codes.

use clap::{CommandFactory, Parser};
use kpush::cli::{self, Cli};
use kpush::exit;

fn main() {
    drop_unset_equivalent_env();
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::INTERNAL);
        }
    };
    let code = match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // The message may quote a manifest or the API server: no CI command in it.
            let text = kpush::report::ci::untrusted::neutralise(&format!("error: {e}"));
            eprintln!("{text}");
            e.code
        }
    };
    std::process::exit(code);
}

/// CI systems pass left-out inputs as empty `KPUSH_*` variables and switches as `false`; drop
/// them so clap treats them as not given (see `cli::env_defaults`).
fn drop_unset_equivalent_env() {
    let vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    for name in cli::env_defaults::unset_equivalents(&Cli::command(), &vars) {
        // SAFETY: called first thing in `main`, before any other thread exists.
        unsafe { std::env::remove_var(name) };
    }
}

fn init_logging(level: &str) {
    // kube's HTTP trace layer logs every failed request at ERROR, and its TLS layer warns
    // "Server cert bypassed" on every connection to an unverified server; kpush reports both
    // itself, once and with advice, so keep them out unless asked for by target
    // (KPUSH_LOG=kube_client=debug).
    let directives = if level.contains('=') {
        level.to_string()
    } else {
        format!("{level},kube_client::client::builder=off,kube_client::client::tls=off")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .or_else(|_| tracing_subscriber::EnvFilter::try_new("warn"))
        .unwrap_or_default();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter(std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Standard error for log records, whose messages may quote a manifest or the API server:
/// CI command markers in them are broken (`report::ci::untrusted`).
struct LogWriter(std::io::Stderr);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(kpush::report::ci::untrusted::neutralise(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
