//! Stopping a deploy that has changed nothing yet: connecting, rendering, planning and the
//! access check give way to the cancellation token at once.

use crate::apply::Interrupt;
use crate::event::Outcome;

use super::error::DeployError;

/// The error of a deploy cancelled before it changed anything.
pub fn before_changes() -> DeployError {
    DeployError::new(
        Outcome::Interrupted,
        anyhow::anyhow!("interrupted before applying anything; nothing was changed"),
    )
}

/// Runs `work`, which changes nothing, unless `interrupt` is set first (then
/// [`before_changes`]; `work` is dropped, its requests abandoned).
pub async fn unless_cancelled<T>(
    interrupt: &Interrupt,
    work: impl Future<Output = Result<T, DeployError>>,
) -> Result<T, DeployError> {
    tokio::select! {
        r = work => r,
        () = interrupt.cancelled() => Err(before_changes()),
    }
}
