//! Kustomize conformance: `kpush render DIR` against `kubectl kustomize DIR` over the corpus in
//! tests/fixtures/kustomize/{krusty,krusty-errors,repos} (see docs/testing.md, "Kustomize
//! corpus").
//!
//! Each case is a directory with a `SOURCE` file (`render:` names the directory to render,
//! `kind:` is `output` or `error`). An output case passes when kpush's objects equal the case's
//! `expected.yaml` (contents; keys unordered) and the live oracle's output (contents and order).
//! An error case passes when kpush exits 2 and the oracle fails too.
//!
//! The oracle is `kubectl kustomize` from the test control plane (`kpush_testenv::locate`, the
//! same build the cluster tests use), checked to embed the kustomize version pinned in
//! testenv/tools/kustomize/go.mod. `KPUSH_KUSTOMIZE_ORACLE=/path/to/kubectl-or-kustomize`
//! replaces it (same version check).
//!
//! Known differences are listed, one `group/case: reason` a line, in
//! tests/fixtures/kustomize/known-differences.txt. The test fails when an unlisted case differs,
//! when a listed case passes, or when a listed case no longer exists. A report with every
//! difference is written to `$CARGO_TARGET_TMPDIR/kustomize-conformance.md`.
//! `KPUSH_CONFORMANCE_FILTER=text` runs only cases whose name contains `text`;
//! `KPUSH_UPDATE_KNOWN_DIFFERENCES=1` rewrites the list from this run (keeping existing reasons,
//! new entries get a summary to replace with a reason).

#[path = "kustomize_conformance/compare.rs"]
mod compare;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use compare::{Difference, compare, parse_stream, strip_kpush_additions};

const GROUPS: [&str; 3] = ["krusty", "krusty-errors", "repos"];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kustomize")
}

/// One directory of the corpus.
struct Case {
    /// `group/name`, as in known-differences.txt.
    name: String,
    dir: PathBuf,
    render: PathBuf,
    expects_error: bool,
    /// The case has `helmCharts` (`SOURCE` says `helm: true`): both tools get the pinned Helm 3
    /// (kustomize v5.7.1 runs only Helm 3), kustomize with `--enable-helm`.
    helm: bool,
}

fn cases(filter: Option<&str>) -> Vec<Case> {
    let mut out = Vec::new();
    for group in GROUPS {
        let Ok(entries) = fs::read_dir(corpus().join(group)) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let Ok(source) = fs::read_to_string(dir.join("SOURCE")) else {
                continue;
            };
            let field = |key: &str| {
                source
                    .lines()
                    .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
            };
            let name = format!("{group}/{}", entry.file_name().to_string_lossy());
            if filter.is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let render = dir.join(field("render:").unwrap_or_else(|| ".".into()));
            let expects_error = field("kind:").as_deref() == Some("error");
            let helm = field("helm:").as_deref() == Some("true");
            out.push(Case {
                name,
                dir,
                render,
                expects_error,
                helm,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// What a process printed and how it ended.
struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(program: &Path, args: &[&std::ffi::OsStr]) -> Output {
    let out = Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The reference renderer: `kubectl kustomize DIR` or `kustomize build DIR`.
struct Oracle {
    program: PathBuf,
    subcommand: &'static str,
    version: String,
}

impl Oracle {
    fn locate() -> Oracle {
        let pinned = pinned_kustomize_version();
        let program = match std::env::var_os("KPUSH_KUSTOMIZE_ORACLE").filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => kpush_testenv::locate()
                .unwrap_or_else(|e| {
                    panic!("the control plane (for kubectl) is not available: {e:#}")
                })
                .kubectl
                .unwrap_or_else(|| {
                    panic!(
                        "the control-plane build has no kubectl; run scripts/build-control-plane.sh"
                    )
                }),
        };
        let is_kubectl = program
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("kubectl"));
        let version = if is_kubectl {
            let out = run(
                &program,
                &[
                    "version".as_ref(),
                    "--client".as_ref(),
                    "-o".as_ref(),
                    "json".as_ref(),
                ],
            );
            let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
                panic!("{} version -o json: {e}\n{}", program.display(), out.stderr)
            });
            v["kustomizeVersion"].as_str().unwrap_or("").to_string()
        } else {
            run(&program, &["version".as_ref()])
                .stdout
                .trim()
                .to_string()
        };
        assert!(
            version.ends_with(&pinned),
            "{} embeds kustomize {version:?}, but the corpus was made with {pinned} \
             (testenv/tools/kustomize/go.mod): move both together",
            program.display()
        );
        Oracle {
            program,
            subcommand: if is_kubectl { "kustomize" } else { "build" },
            version,
        }
    }

    fn render(&self, dir: &Path, helm: Option<&Path>) -> Output {
        let mut args: Vec<&std::ffi::OsStr> = vec![self.subcommand.as_ref(), dir.as_os_str()];
        if let Some(h) = helm {
            args.extend([
                "--enable-helm".as_ref(),
                "--helm-command".as_ref(),
                h.as_os_str(),
            ]);
        }
        run(&self.program, &args)
    }

    fn name(&self) -> String {
        let tool = if self.subcommand == "kustomize" {
            "kubectl kustomize"
        } else {
            "kustomize build"
        };
        format!("{tool} ({} {})", self.program.display(), self.version)
    }
}

fn pinned_kustomize_version() -> String {
    let go_mod = Path::new(env!("CARGO_MANIFEST_DIR")).join("testenv/tools/kustomize/go.mod");
    let text = fs::read_to_string(&go_mod).unwrap_or_else(|e| panic!("{}: {e}", go_mod.display()));
    text.lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            let first = words.next()?;
            let first = if first == "require" {
                words.next()?
            } else {
                first
            };
            (first == "sigs.k8s.io/kustomize/kustomize/v5")
                .then(|| words.next())
                .flatten()
        })
        .unwrap_or_else(|| {
            panic!(
                "{}: no sigs.k8s.io/kustomize/kustomize/v5 version",
                go_mod.display()
            )
        })
        .to_string()
}

/// The verdict on one case: `None` passes, `Some((summary, details))` differs.
type Verdict = Option<(String, String)>;

/// The line of kpush's stderr that says what went wrong: the first problem under the "the
/// manifests have N errors" header, or a panic's message, without paths and thread ids.
fn first_problem(stderr: &str) -> String {
    let mut lines = stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut line = lines.next().unwrap_or("");
    if line.starts_with("error: the manifests have") || line.starts_with("thread '") {
        line = lines.next().unwrap_or(line);
    }
    let line = match line.find(": error: ") {
        Some(i) => &line[i + ": error: ".len()..],
        None => line,
    };
    line.replace(env!("CARGO_MANIFEST_DIR"), "")
}

fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join("\n")
}

/// The pinned Helm 3 for the cases with `helmCharts`.
fn helm_v3() -> PathBuf {
    kpush_testenv::helm::helm(kpush_testenv::helm::HelmMajor::V3)
        .unwrap_or_else(|e| panic!("{e:#}"))
}

fn check(case: &Case, oracle: &Oracle) -> Verdict {
    let helm = case.helm.then(helm_v3);
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "render".as_ref(),
        case.render.as_os_str(),
        "--no-run-annotations".as_ref(),
        "--show-secrets".as_ref(),
    ];
    if let Some(h) = &helm {
        args.extend(["--helm".as_ref(), h.as_os_str()]);
    }
    let kpush = run(Path::new(env!("CARGO_BIN_EXE_kpush")), &args);
    let live = oracle.render(&case.render, helm.as_deref());
    if case.expects_error {
        let expected = fs::read_to_string(case.dir.join("expected-error.txt")).unwrap_or_default();
        if live.code == 0 {
            return Some((
                "the oracle renders this error case (refresh the corpus)".into(),
                format!("  kustomize's recorded error: {}", expected.trim()),
            ));
        }
        return match kpush.code {
            2 => None,
            0 => Some((
                "kpush renders what kustomize refuses".into(),
                format!("  kustomize: {}\n", first_lines(live.stderr.trim(), 3)),
            )),
            code => Some((
                format!("kpush exits {code}, not 2"),
                format!("  kpush stderr:\n{}\n", first_lines(&kpush.stderr, 20)),
            )),
        };
    }
    if live.code != 0 {
        return Some((
            "the oracle fails on this case (refresh the corpus)".into(),
            format!("  {}\n", first_lines(&live.stderr, 5)),
        ));
    }
    if kpush.code != 0 {
        let first = first_problem(&kpush.stderr);
        return Some((
            format!(
                "kpush exits {}: {}",
                kpush.code,
                first.chars().take(160).collect::<String>()
            ),
            format!("  kpush stderr:\n{}\n", first_lines(&kpush.stderr, 20)),
        ));
    }
    let parse =
        |what: &str, text: &str| parse_stream(text).map_err(|e| format!("{what} is not YAML: {e}"));
    let (expected, live_objects, mut ours) = match (
        parse(
            "expected.yaml",
            &fs::read_to_string(case.dir.join("expected.yaml")).unwrap_or_default(),
        ),
        parse("the oracle's output", &live.stdout),
        parse("kpush's output", &kpush.stdout),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (a, b, c) => {
            let errors: Vec<String> = [a.err(), b.err(), c.err()].into_iter().flatten().collect();
            return Some((errors[0].clone(), String::new()));
        }
    };
    strip_kpush_additions(&mut ours, &live_objects);
    let drift = compare(&expected, &live_objects, false);
    if !drift.same_objects() {
        return Some((
            format!(
                "expected.yaml and the oracle disagree ({}): refresh the corpus",
                drift.summary()
            ),
            drift.details("expected.yaml"),
        ));
    }
    let d: Difference = compare(&live_objects, &ours, true);
    if d.is_empty() {
        return None;
    }
    Some((d.summary(), d.details("kustomize")))
}

/// known-differences.txt: case name → reason.
fn known_differences(path: &Path) -> BTreeMap<String, String> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(": ") {
            Some((name, reason)) => (name.trim().to_string(), reason.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

const KNOWN_HEADER: &str = "\
# Corpus cases where `kpush render` and `kubectl kustomize` are known to differ, one a line:
#   group/case: reason
# Checked by tests/kustomize_conformance.rs: an unlisted case that differs fails the test, and
# so does a listed case that agrees (remove its line) or no longer exists.
";

fn write_known_differences(path: &Path, entries: &BTreeMap<String, String>) {
    let mut text = KNOWN_HEADER.to_string();
    for (name, reason) in entries {
        let _ = writeln!(text, "{name}: {reason}");
    }
    fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[test]
fn kpush_renders_the_kustomize_corpus_like_kubectl_kustomize() {
    let filter = std::env::var("KPUSH_CONFORMANCE_FILTER")
        .ok()
        .filter(|f| !f.is_empty());
    let cases = cases(filter.as_deref());
    if filter.is_none() {
        assert!(
            cases.len() >= 150,
            "the corpus has only {} cases",
            cases.len()
        );
    }
    let oracle = Oracle::locate();

    // Two workers: the machine is shared, and each case runs two processes.
    let verdicts: Mutex<BTreeMap<String, Verdict>> = Mutex::new(BTreeMap::new());
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some(case) = cases.get(i) else { break };
                    let v = check(case, &oracle);
                    verdicts.lock().unwrap().insert(case.name.clone(), v);
                }
            });
        }
    });
    let verdicts = verdicts.into_inner().unwrap();

    let known_path = corpus().join("known-differences.txt");
    let known = known_differences(&known_path);
    let mut unexpected = Vec::new();
    let mut now_passing = Vec::new();
    for (name, verdict) in &verdicts {
        match (verdict, known.contains_key(name)) {
            (Some((summary, details)), false) => {
                unexpected.push(format!("{name}: {summary}\n{details}"))
            }
            (None, true) => now_passing.push(name.clone()),
            _ => {}
        }
    }
    let stale: Vec<&String> = known
        .keys()
        .filter(|k| !verdicts.contains_key(*k) && filter.as_deref().is_none_or(|f| k.contains(f)))
        .collect();

    let passed = verdicts.values().filter(|v| v.is_none()).count();
    let total = verdicts.len();
    let mut by_group: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (name, v) in &verdicts {
        let e = by_group
            .entry(name.split('/').next().unwrap_or(""))
            .or_default();
        e.1 += 1;
        if v.is_none() {
            e.0 += 1;
        }
    }
    let mut report = format!(
        "# Kustomize conformance\n\noracle: {}\n\npassed {passed} of {total} cases ({:.1}%)\n\n",
        oracle.name(),
        100.0 * passed as f64 / total.max(1) as f64
    );
    for (group, (p, t)) in &by_group {
        let _ = writeln!(report, "- {group}: {p} of {t}");
    }
    report.push_str("\n## Differences\n\n");
    for (name, verdict) in &verdicts {
        if let Some((summary, details)) = verdict {
            let listed = if known.contains_key(name) {
                " (known)"
            } else {
                ""
            };
            let _ = writeln!(
                report,
                "### {name}{listed}\n\n{summary}\n\n```\n{details}```\n"
            );
        }
    }
    let report_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kustomize-conformance.md");
    fs::write(&report_path, &report).unwrap_or_else(|e| panic!("{}: {e}", report_path.display()));
    eprintln!(
        "kustomize conformance: passed {passed} of {total} ({:.1}%) against {}; report: {}",
        100.0 * passed as f64 / total.max(1) as f64,
        oracle.name(),
        report_path.display()
    );

    if std::env::var_os("KPUSH_UPDATE_KNOWN_DIFFERENCES").is_some_and(|v| !v.is_empty()) {
        let mut entries = known.clone();
        for (name, verdict) in &verdicts {
            match verdict {
                Some((summary, _)) => {
                    entries
                        .entry(name.clone())
                        .or_insert_with(|| summary.clone());
                }
                None => {
                    entries.remove(name);
                }
            }
        }
        if filter.is_none() {
            entries.retain(|k, _| verdicts.contains_key(k));
        }
        write_known_differences(&known_path, &entries);
        eprintln!("rewrote {}", known_path.display());
        return;
    }

    let mut problems = String::new();
    if !unexpected.is_empty() {
        let _ = writeln!(
            problems,
            "{} cases differ from kustomize and are not in known-differences.txt:\n",
            unexpected.len()
        );
        for u in unexpected.iter().take(15) {
            let _ = writeln!(problems, "{}", first_lines(u, 40));
        }
        if unexpected.len() > 15 {
            let _ = writeln!(
                problems,
                "... and {} more (see the report)",
                unexpected.len() - 15
            );
        }
    }
    if !now_passing.is_empty() {
        let _ = writeln!(
            problems,
            "these cases now agree with kustomize: remove them from known-differences.txt: {}",
            now_passing.join(", ")
        );
    }
    if !stale.is_empty() {
        let _ = writeln!(
            problems,
            "known-differences.txt lists cases that do not exist: {stale:?}"
        );
    }
    assert!(
        problems.is_empty(),
        "{problems}\nfull report: {}",
        report_path.display()
    );
}
