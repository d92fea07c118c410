//! Child processes that die with their parent, and the tails of their logs.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

/// A running control-plane process whose output goes to a log file.
pub struct Supervised {
    pub name: &'static str,
    child: Child,
}

impl Supervised {
    /// Starts `program` with stdout and stderr appended to `log`.
    ///
    /// The child gets `PR_SET_PDEATHSIG = SIGKILL`: the kernel kills it when the *thread* that
    /// spawned it exits, so call this from a thread that lives as long as the cluster.
    pub fn spawn(name: &'static str, program: &Path, args: &[String], log: &Path) -> Result<Self> {
        Self::spawn_with_env(name, program, args, &[], log)
    }

    /// [`Supervised::spawn`] with extra environment variables.
    pub fn spawn_with_env(
        name: &'static str,
        program: &Path,
        args: &[String],
        env: &[(&str, String)],
        log: &Path,
    ) -> Result<Self> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let parent = std::process::id();
        // SAFETY: the closure only calls async-signal-safe functions (prctl, getppid, _exit).
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        Ok(Self { name, child })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(description)` once the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.name)),
            Ok(None) => None,
            Err(e) => Some(format!("{} cannot be waited for: {e}", self.name)),
        }
    }

    /// Kills the process and reaps it.
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The log files of one cluster, in start order.
#[derive(Debug, Clone, Default)]
pub struct LogFiles {
    files: Vec<(String, PathBuf)>,
}

impl LogFiles {
    pub fn add(&mut self, name: &str, path: PathBuf) {
        self.files.push((name.to_string(), path));
    }

    /// The file of the log named `name`.
    pub fn path(&self, name: &str) -> Option<&Path> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_path())
    }

    /// The last `lines` lines of every log, each under a header.
    pub fn tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for (name, path) in &self.files {
            out.push_str(&format!("===== {name} ({}) =====\n", path.display()));
            match tail_file(path, lines) {
                Ok(text) => out.push_str(&text),
                Err(e) => out.push_str(&format!("(unreadable: {e})\n")),
            }
        }
        out
    }
}

const MAX_LINE: usize = 600;

/// The last `lines` lines of a file, long lines shortened.
pub fn tail_file(path: &Path, lines: usize) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    // Enough bytes for `lines` long lines; no need to read a huge log from the start.
    let window = (lines as u64 + 1) * 2048;
    file.seek(SeekFrom::Start(len.saturating_sub(window)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out = String::new();
    for line in &all[start..] {
        if line.len() > MAX_LINE {
            let cut = (0..=MAX_LINE)
                .rev()
                .find(|i| line.is_char_boundary(*i))
                .unwrap_or(0);
            out.push_str(&line[..cut]);
            out.push_str(" […]");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let text: String = (0..200).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let tail = tail_file(&path, 3).unwrap();
        assert_eq!(tail, "line 197\nline 198\nline 199\n");
    }

    #[test]
    fn spawned_process_can_be_killed() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let mut p = Supervised::spawn("sleep", Path::new("sleep"), &["30".into()], &log).unwrap();
        assert!(p.exited().is_none());
        p.kill();
        assert!(p.exited().is_some());
    }
}
