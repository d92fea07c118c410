//! Records the git commit and target triple for `kpush version`.
use std::process::Command;

fn main() {
    // KPUSH_GIT_COMMIT wins (container builds have no .git); otherwise ask git.
    println!("cargo:rerun-if-env-changed=KPUSH_GIT_COMMIT");
    let commit = std::env::var("KPUSH_GIT_COMMIT")
        .ok()
        .filter(|s| !s.is_empty() && s != "unknown")
        .unwrap_or_else(git_commit);
    println!("cargo:rustc-env=KPUSH_GIT_COMMIT={commit}");
    println!(
        "cargo:rustc-env=KPUSH_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    // In a git worktree `.git` is a file; only watch paths that exist, or cargo reruns every time.
    for p in [".git/HEAD", ".git/refs/heads"] {
        if std::path::Path::new(p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn git_commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
