//! Temp dirs of clusters, and cleaning up after clusters that are never dropped.
//!
//! [`TestCluster::shared`](super::TestCluster::shared) lives in a static, which Rust never drops.
//! Its processes die with the process anyway (`PR_SET_PDEATHSIG`), but its temp dir would stay:
//! an `atexit` hook kills what is still registered and removes those dirs. Dirs of processes that
//! were killed outright are removed by the next cluster that starts.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use tempfile::TempDir;

/// Environment variable choosing where cluster temp dirs go (default: /dev/shm when writable).
pub const TMPDIR_ENV: &str = "KPUSH_TESTENV_TMPDIR";

const PREFIX: &str = "kpush-testenv-";

/// A fresh temp dir named after this process, after removing dirs of dead processes.
pub fn new_cluster_dir() -> Result<TempDir> {
    let base = base_dir();
    remove_stale_dirs(&base);
    tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{}-", std::process::id()))
        .tempdir_in(&base)
        .with_context(|| format!("creating a temp dir in {}", base.display()))
}

/// tmpfs keeps etcd's fsyncs cheap (etcd 3.4 cannot turn them off).
fn base_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(TMPDIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    let writable = tempfile::tempdir_in(shm).is_ok();
    if writable {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn remove_stale_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

struct Registered {
    id: u64,
    pids: Vec<u32>,
    dir: PathBuf,
}

static REGISTRY: Mutex<Vec<Registered>> = Mutex::new(Vec::new());
static NEXT_ID: Mutex<u64> = Mutex::new(0);

/// Remembers a running cluster so process exit can clean it up; returns its id.
pub fn register(pids: Vec<u32>, dir: PathBuf) -> u64 {
    let id = {
        let mut next = NEXT_ID.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        *next
    };
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    if id == 1 {
        // SAFETY: registering a plain `extern "C" fn` with atexit.
        unsafe {
            libc::atexit(clean_up_at_exit);
        }
    }
    registry.push(Registered { id, pids, dir });
    id
}

/// Records that a cluster's process `old` was replaced by `new` (a restart).
pub fn replace_pid(id: u64, old: u32, new: u32) {
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    for cluster in registry.iter_mut().filter(|r| r.id == id) {
        for pid in cluster.pids.iter_mut().filter(|p| **p == old) {
            *pid = new;
        }
    }
}

/// Forgets a cluster that was dropped normally.
pub fn unregister(id: u64) {
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    registry.retain(|r| r.id != id);
}

extern "C" fn clean_up_at_exit() {
    let Ok(mut registry) = REGISTRY.try_lock() else {
        return;
    };
    for cluster in registry.drain(..) {
        for pid in &cluster.pids {
            // SAFETY: sending a signal to a child we started.
            unsafe {
                libc::kill(*pid as libc::pid_t, libc::SIGKILL);
            }
        }
        for pid in &cluster.pids {
            // SAFETY: reaping our own child; a pid that is not our child just fails.
            unsafe {
                libc::waitpid(*pid as libc::pid_t, std::ptr::null_mut(), 0);
            }
        }
        let _ = std::fs::remove_dir_all(&cluster.dir);
    }
}
