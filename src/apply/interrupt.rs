//! Cancellation: Ctrl-C and SIGTERM for the command line, [`Interrupt::set`] for a library
//! caller. Stop starting new requests, let those in flight finish, then report.

use std::sync::Arc;

use tokio::sync::watch;

/// A cancellation token shared by everything one deploy runs; clones share it.
#[derive(Debug, Clone)]
pub struct Interrupt(Arc<watch::Sender<bool>>);

impl Default for Interrupt {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(false)))
    }
}

impl Interrupt {
    /// A token that nothing sets until [`Interrupt::set`] is called (library use, tests).
    pub fn never() -> Self {
        Self::default()
    }

    /// A token set by Ctrl-C (SIGINT) or SIGTERM; needs a running Tokio runtime. The command
    /// line makes one per process: its only signal handler.
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
                        // Ctrl-C that cannot be watched never sets the token.
                        let ctrl_c = async {
                            if tokio::signal::ctrl_c().await.is_err() {
                                std::future::pending::<()>().await;
                            }
                        };
                        tokio::select! {
                            () = ctrl_c => {}
                            _ = term.recv() => {}
                        }
                    }
                    Err(_) => {
                        if tokio::signal::ctrl_c().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                }
            }
            #[cfg(not(unix))]
            {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            f.set();
        });
        flag
    }

    /// Asks everything watching the token to stop.
    pub fn set(&self) {
        self.0.send_replace(true);
    }

    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when a stop is asked for (at once if it was already).
    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_set_token_wakes_its_waiters_and_later_ones() {
        let token = Interrupt::never();
        let waiter = tokio::spawn({
            let t = token.clone();
            async move { t.cancelled().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        token.set();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
        tokio::time::timeout(std::time::Duration::from_secs(5), token.cancelled())
            .await
            .expect("already set");
        assert!(token.is_set());
    }
}
