//! The simulator's log file.

use std::fmt::Display;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Appends timestamped lines to the simulator's log (and emits them as tracing events).
pub struct SimLog {
    file: Mutex<Option<File>>,
}

impl SimLog {
    /// Opens (creates) the log; a log that cannot be opened drops its lines.
    pub fn open(path: &Path) -> SimLog {
        let file = File::options().create(true).append(true).open(path).ok();
        SimLog {
            file: Mutex::new(file),
        }
    }

    pub fn line(&self, message: impl Display) {
        let text = format!("{} {message}\n", chrono::Utc::now().format("%H:%M:%S%.3f"));
        tracing::debug!(target: "kpush_testenv::node_sim", "{}", text.trim_end());
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = file.as_mut() {
            let _ = f.write_all(text.as_bytes());
        }
    }
}
