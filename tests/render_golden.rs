//! Golden tests for `kpush render`: each directory under tests/fixtures/render holds `args`
//! (one argument per line), optional `env` (NAME=VALUE lines) and `stdin`, and `expected`
//! (exit code, stdout and stderr). Regenerate with `KPUSH_UPDATE_GOLDEN=1 cargo test`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_case(dir: &Path) -> String {
    let args: Vec<String> = fs::read_to_string(dir.join("args"))
        .expect("args file")
        .lines()
        .map(str::to_string)
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpush"));
    cmd.current_dir(root())
        .arg("render")
        .args(&args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Ok(env) = fs::read_to_string(dir.join("env")) {
        for line in env.lines().filter(|l| !l.is_empty()) {
            let (k, v) = line.split_once('=').expect("NAME=VALUE");
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().expect("run kpush");
    let stdin = fs::read(dir.join("stdin")).unwrap_or_default();
    child.stdin.take().unwrap().write_all(&stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn render_output_matches_golden_files() {
    let cases = root().join("tests/fixtures/render");
    let mut dirs: Vec<_> = fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("args").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 6, "expected the golden cases, found {dirs:?}");
    let update = std::env::var_os("KPUSH_UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for dir in dirs {
        let got = run_case(&dir);
        let golden = dir.join("expected");
        if update {
            fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- want\n{want}\n--- got\n{got}",
                dir.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (KPUSH_UPDATE_GOLDEN=1 regenerates; review the diff):\n{}",
        failures.join("\n")
    );
}
