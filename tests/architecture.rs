//! The allowed imports between kpush's modules (the table in docs/architecture.md), checked by
//! reading every file under `src/`: a stage never imports `report`, `report` never imports a
//! stage, and no module imports one the table does not list.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// module → allowed targets (`plan`, or `render::problem` for one submodule).
fn allowed_table() -> BTreeMap<String, BTreeSet<String>> {
    let doc =
        fs::read_to_string(root().join("docs/architecture.md")).expect("docs/architecture.md");
    let start = doc
        .find("<!-- allowed-imports:start -->")
        .expect("start marker");
    let end = doc
        .find("<!-- allowed-imports:end -->")
        .expect("end marker");
    let mut table = BTreeMap::new();
    for line in doc[start..end].lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || cells[1] == "module" || cells[1].starts_with("---") {
            continue;
        }
        let allowed = cells[2]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        table.insert(cells[1].to_string(), allowed);
    }
    table
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/plan/diff.rs` → `plan`, `src/exit.rs` → `exit`.
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(root().join("src")).expect("under src");
    let first = rel.components().next().expect("component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// Every `crate::a::b` path in `code` (comments removed), as (`a`, `b`) with `b` possibly
/// empty; `crate::{a::x, b}` groups are expanded.
fn references(code: &str) -> Vec<(String, String)> {
    let code: String = code
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = j;
                    break;
                }
            }
            let mut item = String::new();
            let mut d = 0;
            for c in group[..end].chars().chain(std::iter::once(',')) {
                match c {
                    '{' => d += 1,
                    '}' => d -= 1,
                    ',' if d == 0 => {
                        out.push(path_of(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else {
            out.push(path_of(rest));
        }
    }
    out.into_iter().filter(|(a, _)| !a.is_empty()).collect()
}

fn path_of(s: &str) -> (String, String) {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let first = ident(s);
    let after = &s[first.len()..];
    let second = after.strip_prefix("::").map(ident).unwrap_or_default();
    (first, second)
}

const STAGES: [&str; 4] = ["render", "plan", "apply", "track"];

#[test]
fn the_table_keeps_stages_and_report_apart() {
    let table = allowed_table();
    for stage in STAGES {
        let allowed = table
            .get(stage)
            .unwrap_or_else(|| panic!("{stage} has no row"));
        for banned in ["report", "cli", "exit"] {
            assert!(
                !allowed
                    .iter()
                    .any(|a| a == banned || a.starts_with(&format!("{banned}::"))),
                "the table lets stage {stage} import {banned}"
            );
        }
    }
    let report = &table["report"];
    for stage in ["plan", "apply", "track"] {
        assert!(
            !report
                .iter()
                .any(|a| a == stage || a.starts_with(&format!("{stage}::"))),
            "the table lets report import {stage}"
        );
    }
    for (m, allowed) in &table {
        if m != "cli" {
            assert!(!allowed.contains("cli"), "{m} may not import cli");
        }
    }
    let event = &table["event"];
    for higher in STAGES.iter().chain(&["report", "exit", "cluster", "auth"]) {
        assert!(
            !event.contains(*higher),
            "the event vocabulary sits below {higher}"
        );
    }
}

#[test]
fn every_import_in_src_is_allowed_by_the_table() {
    let table = allowed_table();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in &files {
        let module = module_of(file);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(allowed) = table.get(&module) else {
            violations.push(format!(
                "{}: module {module} has no row in the table",
                file.display()
            ));
            continue;
        };
        let code = fs::read_to_string(file).expect("read");
        for (target, sub) in references(&code) {
            checked += 1;
            let ok = target == module
                || allowed.contains(&target)
                || allowed.contains(&format!("{target}::{sub}"))
                // `crate::Manifest` and friends are re-exports of `manifest`.
                || (target.starts_with(char::is_uppercase) && allowed.contains("manifest"));
            if !ok {
                let what = if sub.is_empty() {
                    target.clone()
                } else {
                    format!("{target}::{sub}")
                };
                violations.push(format!(
                    "{}: {module} imports crate::{what}",
                    file.strip_prefix(root()).unwrap_or(file).display()
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "found only {checked} references: is the scanner broken?"
    );
    assert!(
        violations.is_empty(),
        "imports not allowed by docs/architecture.md:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_sees_paths_groups_and_skips_comments() {
    let code = "use crate::report::Event;\n// crate::cli is only mentioned\nuse crate::{plan::Plan, event};\nlet x = crate::exit::SUCCESS;";
    assert_eq!(
        references(code),
        vec![
            ("report".to_string(), "Event".to_string()),
            ("plan".to_string(), "Plan".to_string()),
            ("event".to_string(), String::new()),
            ("exit".to_string(), "SUCCESS".to_string()),
        ]
    );
}

/// `src/report/ci/lines.rs` → `["report", "ci", "lines"]`; a `mod.rs` is its directory.
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root().join("src")).expect("under src");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The modules `code` (in module `me`) refers to through `crate::…`, `super::…` or `self::…`,
/// each cut to the longest prefix that is a module in `modules`.
fn module_references(
    code: &str,
    me: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let code: String = code
        .lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("::") {
        // The whole path this `::` belongs to, read once from its start.
        let start = code[..i].rfind(|c: char| !ident(c)).map_or(0, |s| s + 1);
        if start != i - code[start..i].len() || code[..start].ends_with("::") {
            continue;
        }
        let end = code[start..]
            .find(|c: char| !ident(c))
            .map_or(code.len(), |e| start + e);
        if code[start..i].contains("::") {
            continue; // not the path's first `::`
        }
        let segs: Vec<&str> = code[start..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .collect();
        let mut path: Vec<String> = match segs.first() {
            Some(&"crate") => Vec::new(),
            Some(&"super") => me[..me.len().saturating_sub(1)].to_vec(),
            Some(&"self") => me.to_vec(),
            _ => continue,
        };
        let mut rest = &segs[1..];
        while let Some(&"super") = rest.first() {
            path.pop();
            rest = &rest[1..];
        }
        let mut best = path.clone();
        for s in rest {
            path.push(s.to_string());
            if modules.contains(&path) {
                best = path.clone();
            }
        }
        if best != me {
            out.insert(best);
        }
    }
    out
}

/// Fails when the modules under `src/<top>` refer to each other in a circle (a file's tests
/// excluded); `at_least` guards against a scan that finds nothing.
fn assert_no_import_circles(top: &str, at_least: usize) {
    let mut files = Vec::new();
    rust_files(&root().join("src").join(top), &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_path(f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for f in &files {
        let me = module_path(f);
        let code = fs::read_to_string(f).expect("read");
        let code = code.split("#[cfg(test)]").next().unwrap_or("");
        let refs = module_references(code, &me, &modules)
            .into_iter()
            .filter(|m| m.first().map(String::as_str) == Some(top))
            .collect();
        edges.insert(me, refs);
    }
    // Depth-first search for a cycle.
    fn visit(
        m: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        if let Some(i) = stack.iter().position(|s| s == m) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(m.clone());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.clone());
        for n in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(n, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.clone());
        None
    }
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        if let Some(cycle) = visit(m, &edges, &mut Vec::new(), &mut done) {
            let names: Vec<String> = cycle.iter().map(|c| c.join("::")).collect();
            panic!("import circle in {top}: {}", names.join(" -> "));
        }
    }
    assert!(
        edges.len() >= at_least,
        "found only {} {top} modules",
        edges.len()
    );
}

#[test]
fn the_report_module_has_no_import_circles() {
    assert_no_import_circles("report", 10);
}

#[test]
fn the_cli_has_no_import_circles() {
    assert_no_import_circles("cli", 20);
}

#[test]
fn the_deploy_layer_has_no_import_circles() {
    assert_no_import_circles("deploy", 15);
}

#[test]
fn clap_is_used_only_by_the_command_line() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let cli = root().join("src/cli");
    let main = root().join("src/main.rs");
    let mut offenders = Vec::new();
    for f in files.iter().filter(|f| !f.starts_with(&cli) && **f != main) {
        let code = fs::read_to_string(f).expect("read");
        let code: String = code
            .lines()
            .map(|l| l.find("//").map_or(l, |i| &l[..i]))
            .collect::<Vec<_>>()
            .join("\n");
        if code.contains("clap::") || code.contains("use clap") {
            offenders.push(f.display().to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "clap outside src/cli (settings below the command line are plain values): {offenders:?}"
    );
}
