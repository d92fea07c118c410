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
fn with_strict_vars_every_undefined_variable_is_listed_with_file_and_line() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: ${ONE}\n  b: ${TWO}\n",
    );
    let (code, out, err) = kpush_render(t.path(), &["app.yaml", "--strict-vars"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "nothing may be printed on failure: {out}");
    assert!(
        err.contains("nothing was sent to the cluster") && !err.contains("applied"),
        "render applies nothing, and does not claim to: {err}"
    );
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
fn without_strict_vars_an_undefined_variable_is_left_as_written_with_a_warning() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: ${ONE}\n  b: ${TAGG}\n",
    );
    let (code, out, err) = kpush_render(t.path(), &["app.yaml", "--var", "ONE=1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("a: 1"), "{out}");
    assert!(out.contains("b: ${TAGG}"), "{out}");
    assert!(
        err.contains("app.yaml:7:6: warning: variable TAGG is not defined; left as written"),
        "the same rule as kustomize overlays: {err}"
    );
    assert_eq!(err.matches("not defined").count(), 1, "{err}");
}

#[test]
fn variables_come_from_flags_and_kpush_var_prefixed_environment_only() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .current_dir(t.path())
        .args(["render", "a.yaml", "--strict-vars"])
        .env("NAME", "from-env")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (code, out, _) = kpush_render(t.path(), &["a.yaml", "--var", "NAME=from-flag"]);
    assert_eq!(code, 0);
    assert!(out.contains("name: from-flag"));
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .current_dir(t.path())
        .args(["render", "a.yaml", "--no-run-annotations"])
        .env("KPUSH_VAR_NAME", "from-prefixed-env")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("name: from-prefixed-env"));
    // A flag wins over the prefixed environment variable.
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .current_dir(t.path())
        .args([
            "render",
            "a.yaml",
            "--no-run-annotations",
            "--var",
            "NAME=flag",
        ])
        .env("KPUSH_VAR_NAME", "env")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("name: flag"));
}

const SCRIPT_CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: script
data:
  run.sh: |
    for attempt in 1 2 3; do curl http://${FRONTEND_ADDR}/ && break; echo \"try ${attempt}\"; done
    echo $${literal} ${PORT:-8080}
";

#[test]
fn without_variables_manifests_are_left_exactly_as_written() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "s.yaml", SCRIPT_CONFIGMAP);
    let (code, out, err) = kpush_render(t.path(), &["s.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("curl http://${FRONTEND_ADDR}/ && break; echo \"try ${attempt}\"; done"),
        "{out}"
    );
    assert!(out.contains("echo $${literal} ${PORT:-8080}"), "{out}");
}

#[test]
fn when_asked_known_names_are_substituted_and_other_names_left_alone() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "s.yaml", SCRIPT_CONFIGMAP);
    let (code, out, err) = kpush_render(t.path(), &["s.yaml", "--var", "FRONTEND_ADDR=web:80"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("curl http://web:80/"), "{out}");
    assert!(out.contains("echo \"try ${attempt}\""), "{out}");
    assert!(out.contains("echo ${literal} 8080"), "{out}");
    let (code, out, err) = kpush_render(t.path(), &["s.yaml", "--substitute"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("curl http://${FRONTEND_ADDR}/"), "{out}");
    assert!(out.contains("echo ${literal} 8080"), "{out}");
}

#[test]
fn an_object_can_opt_out_with_the_kpush_or_the_flux_annotation() {
    let t = tempfile::tempdir().unwrap();
    let opted = |key: &str, name: &str| {
        SCRIPT_CONFIGMAP.replace(
            "  name: script\n",
            &format!("  name: {name}\n  annotations:\n    {key}: disabled\n"),
        )
    };
    write(
        t.path(),
        "s.yaml",
        &format!(
            "{}---\n{}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${{NAME}}\n",
            opted("kpush.dev/substitute", "a"),
            opted("kustomize.toolkit.fluxcd.io/substitute", "b"),
        ),
    );
    write(
        t.path(),
        "s.json",
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j", "annotations": {"kpush.dev/substitute": "disabled"}}, "data": {"x": "${NAME}"}}"#,
    );
    let (code, out, err) = kpush_render(
        t.path(),
        &[
            "s.yaml",
            "s.json",
            "--var",
            "NAME=named",
            "--var",
            "FRONTEND_ADDR=web:80",
            "--strict-vars",
        ],
    );
    assert_eq!(
        code, 0,
        "opted-out objects are not checked by --strict-vars: {err}"
    );
    assert_eq!(
        out.matches("curl http://${FRONTEND_ADDR}/").count(),
        2,
        "{out}"
    );
    assert_eq!(
        out.matches("echo $${literal} ${PORT:-8080}").count(),
        2,
        "{out}"
    );
    assert!(
        out.contains("name: named\n"),
        "the other object is substituted: {out}"
    );
    assert!(out.contains("x: ${NAME}"), "{out}");
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
