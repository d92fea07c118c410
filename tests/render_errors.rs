//! Error messages of `kpush render`: each names the file and line, and exit code 2 means bad input.

use std::fs;
use std::path::Path;
use std::process::Command;

fn kpush_render(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .current_dir(dir)
        .arg("render")
        .args(args)
        .arg("--no-run-annotations")
        .output()
        .expect("run kpush");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

#[test]
fn every_undefined_variable_is_listed_with_file_and_line() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: ${ONE}\n  b: ${TWO}\n",
    );
    let (code, out, err) = kpush_render(t.path(), &["app.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "nothing may be printed on failure: {out}");
    assert!(
        err.contains("app.yaml:6:6: error: variable ONE is not defined"),
        "{err}"
    );
    assert!(
        err.contains("app.yaml:7:6: error: variable TWO is not defined"),
        "{err}"
    );
}

#[test]
fn variables_come_only_from_flags_never_from_the_environment() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .current_dir(t.path())
        .args(["render", "a.yaml"])
        .env("NAME", "from-env")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (code, out, _) = kpush_render(t.path(), &["a.yaml", "--var", "NAME=from-flag"]);
    assert_eq!(code, 0);
    assert!(out.contains("name: from-flag"));
}

#[test]
fn var_file_and_var_flag_combine_with_flag_winning() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${A}-${B}\n",
    );
    write(t.path(), "vars.env", "A=file\nB=file\n");
    let (code, out, err) = kpush_render(
        t.path(),
        &["a.yaml", "--var-file", "vars.env", "--var", "B=flag"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("name: file-flag"), "{out}");
}

#[test]
fn yaml_syntax_error_names_file_line_and_column() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "dir/x.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [d\n",
    );
    let (code, _, err) = kpush_render(t.path(), &["dir"]);
    assert_eq!(code, 2);
    assert!(err.contains("dir/x.yaml:"), "{err}");
    let line: u32 = err
        .split("dir/x.yaml:")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .and_then(|s| s.parse().ok())
        .expect("a line number");
    assert!((9..=10).contains(&line), "line {line} in {err}");
    assert!(err.contains("invalid YAML"), "{err}");
}

#[test]
fn duplicate_objects_name_both_locations() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    write(
        t.path(),
        "b.yaml",
        "# again\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    let (code, _, err) = kpush_render(t.path(), &[".", "-n", "x"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("b.yaml:2: error: ConfigMap x/c is defined twice: here and at a.yaml:1"),
        "{err}"
    );
}

#[test]
fn huge_file_is_refused_without_reading_it_all() {
    let t = tempfile::tempdir().unwrap();
    let f = fs::File::create(t.path().join("huge.yaml")).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap();
    let (code, _, err) = kpush_render(t.path(), &["huge.yaml"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("huge.yaml: error: huge.yaml is larger than 64 MiB"),
        "{err}"
    );
}

#[test]
fn alias_bomb_is_refused_with_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\nx: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = "a".to_string();
    for i in 0..9 {
        let name = format!("n{i}");
        let refs = vec![format!("*{prev}"); 9].join(",");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        prev = name;
    }
    write(t.path(), "bomb.yaml", &bomb);
    let (code, _, err) = kpush_render(t.path(), &["bomb.yaml"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bomb.yaml:") && err.contains("alias bomb"),
        "{err}"
    );
}

#[test]
fn kustomization_inside_a_plain_directory_is_refused_with_advice() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "deploy/k/kustomization.yaml",
        "resources: [a.yaml]\n",
    );
    write(
        t.path(),
        "deploy/k/a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    let (code, out, err) = kpush_render(t.path(), &["deploy"]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(
            "deploy/k: error: deploy/k is a kustomization inside a directory of plain manifests"
        ) && err.contains("kpush render deploy/k"),
        "{err}"
    );
}

#[test]
fn strict_images_turns_an_unused_override_into_an_error() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "p.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx:1\n",
    );
    let (code, _, err) = kpush_render(t.path(), &["p.yaml", "--image", "redis=redis:7"]);
    assert_eq!(code, 0);
    assert!(
        err.contains("warning: --image redis=redis:7 matched no container image"),
        "{err}"
    );
    assert!(err.contains("images present: nginx:1"), "{err}");
    let (code, _, err) = kpush_render(
        t.path(),
        &["p.yaml", "--image", "redis=redis:7", "--strict-images"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("error: --image redis=redis:7 matched no container image"),
        "{err}"
    );
}

#[test]
fn flags_can_come_from_kpush_environment_variables() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "p.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${N}\nspec:\n  containers:\n  - name: c\n    image: nginx:1\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .current_dir(t.path())
        .arg("render")
        .env("KPUSH_FILENAME", "p.yaml")
        .env("KPUSH_VAR", "N=pod1\nUNUSED=x")
        .env("KPUSH_IMAGE", "nginx=nginx:2")
        .env("KPUSH_NAMESPACE", "web")
        .env("KPUSH_OUTPUT", "json")
        .env("KPUSH_NO_RUN_ANNOTATIONS", "true")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pod = &list["items"][0];
    assert_eq!(pod["metadata"]["name"], "pod1");
    assert_eq!(pod["metadata"]["namespace"], "web");
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:2");
}

#[test]
fn bad_flags_are_bad_input() {
    let t = tempfile::tempdir().unwrap();
    let (code, _, err) = kpush_render(
        t.path(),
        &["x.yaml", "--label", "not valid=x", "-n", "Bad_NS"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("--label `not valid=x`"), "{err}");
    assert!(err.contains("--namespace `Bad_NS`"), "{err}");
}
