//! `kpush version`, `kpush completions` and argument handling.

use std::process::Command;

fn kpush(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kpush"))
        .args(args)
        .output()
        .expect("run kpush")
}

#[test]
fn version_names_version_commit_target_and_kubernetes_api() {
    let out = kpush(&["version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("kpush {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("\ncommit: "), "{text}");
    assert!(text.contains("\ntarget: "), "{text}");
    assert!(text.contains("\nkubernetes api: v1.33"), "{text}");
}

#[test]
fn version_json_is_machine_readable() {
    let out = kpush(&["version", "-o", "json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["kubernetesApi"], "v1.33");
    assert!(!v["target"].as_str().unwrap_or("").is_empty());
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = kpush(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("render") && text.contains("kpush"),
            "{shell}: {text}"
        );
    }
}

#[test]
fn unknown_flags_are_bad_input_with_exit_code_2() {
    let out = kpush(&["render", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn render_without_paths_says_what_to_pass() {
    let out = kpush(&["render"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no manifests given"));
}

#[test]
fn empty_kpush_variables_and_false_switches_mean_not_set() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx:1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .arg("render")
        .arg(&file)
        .env("KPUSH_NAMESPACE", "")
        .env("KPUSH_IMAGE", "")
        .env("KPUSH_STRICT_IMAGES", "false")
        .env("KPUSH_NO_RUN_ANNOTATIONS", "true")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("namespace:"),
        "an empty KPUSH_NAMESPACE sets nothing: {text}"
    );
}
