//! Ctrl-C and SIGTERM: stop starting new requests, let those in flight finish, then report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A flag set when the process is asked to stop.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// A flag that nothing sets (library use, tests).
    pub fn never() -> Self {
        Self::default()
    }

    /// A flag set by Ctrl-C (SIGINT) or SIGTERM; needs a running Tokio runtime.
    pub fn on_signals() -> Self {
        let flag = Self::default();
        let f = flag.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let term = signal(SignalKind::terminate());
                match term {
                    Ok(mut term) => {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = term.recv() => {}
                        }
                    }
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
            f.set();
        });
        flag
    }

    /// Asks everything watching the flag to stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
