//! `kpush render DIR` on kustomizations: the output equals `kubectl kustomize DIR` object by
//! object and in order (kubectl is the oracle), and bad overlays fail with file:line, exit 2.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/kustomize-render"
);

/// The kubectl built with the test control plane (`kpush_testenv::locate`, the same lookup the
/// cluster tests use), unless `KPUSH_TEST_KUBECTL` names another.
fn kubectl() -> PathBuf {
    if let Ok(p) = std::env::var("KPUSH_TEST_KUBECTL") {
        return p.into();
    }
    kpush_testenv::locate()
        .ok()
        .and_then(|b| b.kubectl)
        .unwrap_or_else(|| {
            panic!("no kubectl beside the test control plane (scripts/build-control-plane.sh)")
        })
}

fn kpush(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .current_dir(dir)
        .arg("render")
        .args(args)
        .args(["--no-run-annotations", "--show-secrets"])
        .output()
        .expect("run kpush");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Objects from `kubectl kustomize DIR`.
fn oracle(dir: &Path) -> Result<Vec<Value>, String> {
    let out = Command::new(kubectl())
        .arg("kustomize")
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", kubectl().display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_saphyr::from_multiple::<Value>(&text)
        .map(|v| v.into_iter().filter(|d| !d.is_null()).collect())
        .map_err(|e| format!("kubectl output is not YAML: {e}"))
}

/// Objects from `kpush render DIR -o json`, without the label kpush itself adds.
fn rendered(dir: &Path) -> Result<Vec<Value>, String> {
    let (code, out, err) = kpush(
        dir.parent().unwrap(),
        &[dir.file_name().unwrap().to_str().unwrap(), "-o", "json"],
    );
    if code != 0 {
        return Err(err);
    }
    let list: Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
    let mut items = list["items"].as_array().cloned().unwrap_or_default();
    for o in &mut items {
        if let Some(labels) = o
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
            && labels.get("app.kubernetes.io/managed-by") == Some(&Value::from("kpush"))
        {
            labels.remove("app.kubernetes.io/managed-by");
            if labels.is_empty() {
                o["metadata"].as_object_mut().unwrap().remove("labels");
            }
        }
    }
    Ok(items)
}

fn id(o: &Value) -> String {
    format!(
        "{} {}/{}",
        o["kind"].as_str().unwrap_or("?"),
        o.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(""),
        o.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?")
    )
}

fn compare(case: &str, dir: &Path) -> Option<String> {
    let want = match oracle(dir) {
        Ok(w) => w,
        Err(e) => return Some(format!("{case}: kubectl kustomize failed: {e}")),
    };
    let got = match rendered(dir) {
        Ok(g) => g,
        Err(e) => return Some(format!("{case}: kpush failed: {e}")),
    };
    let want_ids: Vec<String> = want.iter().map(id).collect();
    let got_ids: Vec<String> = got.iter().map(id).collect();
    if want_ids != got_ids {
        return Some(format!(
            "{case}: objects or order differ\n  kubectl: {want_ids:?}\n  kpush:   {got_ids:?}"
        ));
    }
    for (w, g) in want.iter().zip(&got) {
        if w != g {
            return Some(format!(
                "{case}: {} differs\n  kubectl: {w}\n  kpush:   {g}",
                id(w)
            ));
        }
    }
    None
}

#[test]
fn every_fixture_renders_as_kubectl_kustomize_does() {
    let mut cases: Vec<PathBuf> = fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("kustomization.yaml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 9, "fixtures missing: {cases:?}");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| compare(c.file_name().unwrap().to_str().unwrap(), c))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";

/// Runs kpush on `dir` (relative to `t`) expecting exit 2, no output, and `needle` in stderr;
/// checks that kubectl kustomize refuses the same input.
fn refused(t: &Path, dir: &str, needle: &str) -> String {
    let (code, out, err) = kpush(t, &[dir]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains(needle), "expected {needle:?} in:\n{err}");
    assert!(
        oracle(&t.join(dir)).is_err(),
        "kubectl kustomize accepts {dir}"
    );
    err
}

#[test]
fn cycle_between_kustomizations_names_the_chain() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "a/kustomization.yaml", "resources:\n- ../b\n");
    write(t.path(), "b/kustomization.yaml", "resources:\n- ../a\n");
    refused(
        t.path(),
        "a",
        "b/kustomization.yaml:2: error: kustomizations include each other in a cycle: a → b → a",
    );
}

#[test]
fn missing_resource_file_names_the_kustomization_line() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "resources:\n- a.yaml\n- gone.yaml\n",
    );
    write(t.path(), "k/a.yaml", CM);
    refused(
        t.path(),
        "k",
        "k/kustomization.yaml:3: error: resources entry `gone.yaml`",
    );
}

#[test]
fn file_outside_the_kustomization_directory_is_refused() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "resources:\n- ../a.yaml\n",
    );
    write(t.path(), "a.yaml", CM);
    refused(
        t.path(),
        "k",
        "k/kustomization.yaml:2: error: resources entry `../a.yaml` is outside",
    );
}

#[test]
fn duplicate_generators_are_refused() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "configMapGenerator:\n- name: x\n  literals: [a=1]\n- name: x\n  literals: [b=2]\n",
    );
    refused(
        t.path(),
        "k",
        "k/kustomization.yaml:4: error: configMapGenerator x: ConfigMap already exists",
    );
}

#[test]
fn unknown_field_is_refused_with_its_line() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "resources: []\nnamePrefx: a-\n",
    );
    refused(t.path(), "k", "k/kustomization.yaml:2");
}

#[test]
fn remote_resource_is_refused_with_a_hint() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "resources:\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0\n",
    );
    let (code, _, err) = kpush(t.path(), &["k"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("k/kustomization.yaml:2: error") && err.contains("offline"),
        "{err}"
    );
}

#[test]
fn plugins_are_refused_naming_the_field() {
    for (field, text) in [
        ("generators", "resources: []\ngenerators:\n- gen.yaml\n"),
        ("validators", "resources: []\nvalidators:\n- v.yaml\n"),
    ] {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "k/kustomization.yaml", text);
        let (code, _, err) = kpush(t.path(), &["k"]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!(
                "k/kustomization.yaml:2: error: `{field}` is not supported"
            )),
            "{err}"
        );
    }
}

#[test]
fn two_bases_with_the_same_object_are_refused_naming_both_files() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "a/kustomization.yaml", "resources: [c.yaml]\n");
    write(t.path(), "a/c.yaml", CM);
    write(t.path(), "b/kustomization.yaml", "resources: [c.yaml]\n");
    write(t.path(), "b/c.yaml", CM);
    write(
        t.path(),
        "k/kustomization.yaml",
        "resources:\n- ../a\n- ../b\n",
    );
    let err = refused(
        t.path(),
        "k",
        "k/kustomization.yaml:3: error: ConfigMap c is included twice",
    );
    assert!(
        err.contains("a/c.yaml:1") && err.contains("b/c.yaml:1"),
        "{err}"
    );
}

#[test]
fn namespace_flag_that_contradicts_the_overlay_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "namespace: prod\nresources: [c.yaml]\n",
    );
    write(t.path(), "k/c.yaml", CM);
    let (code, _, err) = kpush(t.path(), &["k", "-n", "staging"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("k/kustomization.yaml:1: error: the kustomization sets `namespace: prod`"),
        "{err}"
    );
    let (code, out, err) = kpush(t.path(), &["k", "-n", "prod"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("namespace: prod"), "{out}");
}

#[test]
fn objects_name_their_file_and_the_overlay_entries_that_changed_them() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "base/kustomization.yaml",
        "resources:\n- c.yaml\n",
    );
    write(t.path(), "base/c.yaml", &format!("# comment\n{CM}"));
    write(
        t.path(),
        "prod/kustomization.yaml",
        "resources:\n- ../base\nnamePrefix: prod-\ncommonLabels:\n  a: b\n",
    );
    let (code, out, err) = kpush(t.path(), &["prod", "--summary"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("base/c.yaml:2 via namePrefix (prod/kustomization.yaml:3) via commonLabels (prod/kustomization.yaml:4)"),
        "{out}"
    );
}

#[test]
fn variables_are_substituted_in_resource_files_only_when_given() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "k/kustomization.yaml", "resources: [c.yaml]\n");
    write(
        t.path(),
        "k/c.yaml",
        &format!("{CM}data:\n  tag: ${{TAG}}\n  script: echo ${{HOME:-/root}} ${{OTHER}}\n"),
    );
    // Without --var the overlay renders exactly as kubectl kustomize renders it.
    let (code, out, err) = kpush(t.path(), &["k"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("tag: ${TAG}") && out.contains("echo ${HOME:-/root} ${OTHER}"),
        "{out}"
    );
    let (code, out, err) = kpush(t.path(), &["k", "--var", "TAG=v1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("tag: v1"), "{out}");
    assert!(
        err.contains("k/c.yaml:7:31: warning: variable OTHER is not defined"),
        "{err}"
    );
}

#[test]
fn strict_variables_and_opt_outs_hold_in_overlays_as_in_plain_files() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "resources: [c.yaml, script.yaml]\npatches:\n- path: p.yaml\n",
    );
    write(
        t.path(),
        "k/c.yaml",
        &format!("{CM}data:\n  region: ${{REGION}}\n"),
    );
    write(
        t.path(),
        "k/script.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\n  annotations:\n    kpush.dev/substitute: disabled\ndata:\n  run: echo ${SHELL_ONLY}\n",
    );
    write(
        t.path(),
        "k/p.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  zone: ${ZONE}\n",
    );
    // --strict-vars: every undefined name in resource and patch files is an error with
    // file:line:column, nothing is printed; the opted-out object is not checked.
    let (code, out, err) = kpush(t.path(), &["k", "--strict-vars"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("k/c.yaml:6:11: error: variable REGION is not defined"),
        "{err}"
    );
    assert!(
        err.contains("k/p.yaml:6:9: error: variable ZONE is not defined"),
        "{err}"
    );
    assert!(!err.contains("SHELL_ONLY"), "{err}");
    // With values, both are substituted and the opted-out object keeps its text.
    let (code, out, err) = kpush(
        t.path(),
        &[
            "k",
            "--strict-vars",
            "--var",
            "REGION=weu",
            "--var",
            "ZONE=1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("region: weu") && out.contains("zone: 1"),
        "{out}"
    );
    assert!(out.contains("echo ${SHELL_ONLY}"), "{out}");
}

#[test]
fn deeply_nested_kustomizations_are_refused_by_a_limit() {
    let t = tempfile::tempdir().unwrap();
    for i in 0..70 {
        write(
            t.path(),
            &format!("k{i}/kustomization.yaml"),
            &format!("resources:\n- ../k{}\n", i + 1),
        );
    }
    write(t.path(), "k70/kustomization.yaml", "resources: [c.yaml]\n");
    write(t.path(), "k70/c.yaml", CM);
    let (code, out, err) = kpush(t.path(), &["k0"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("nested deeper than 64 levels"), "{err}");
}

#[test]
fn huge_generator_input_is_refused() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "configMapGenerator:\n- name: big\n  files:\n  - big.txt\n",
    );
    write(t.path(), "k/big.txt", &"x".repeat(9 * 1024 * 1024));
    let (code, _, err) = kpush(t.path(), &["k"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "k/kustomization.yaml:2: error: configMapGenerator big: the generator reads 9 MiB"
        ),
        "{err}"
    );
}

#[test]
fn invalid_patch_yaml_names_the_entry() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "resources: [c.yaml]\npatches:\n- path: p.yaml\n",
    );
    write(t.path(), "k/c.yaml", CM);
    write(
        t.path(),
        "k/p.yaml",
        "kind: ConfigMap\nmetadata: {name: [c\n",
    );
    refused(
        t.path(),
        "k",
        "k/kustomization.yaml:3: error: patches p.yaml: cannot parse patch",
    );
}

#[test]
fn strategic_merge_patch_for_a_missing_object_is_refused() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "resources: [c.yaml]\npatchesStrategicMerge:\n- p.yaml\n",
    );
    write(t.path(), "k/c.yaml", CM);
    write(
        t.path(),
        "k/p.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  a: b\n",
    );
    refused(
        t.path(),
        "k",
        "k/kustomization.yaml:3: error: patchesStrategicMerge",
    );
}

/// Renders `dir` (relative to `t`) with kpush and kubectl kustomize and fails on any difference.
fn agrees(t: &Path, dir: &str) {
    if let Some(diff) = compare(dir, &t.join(dir)) {
        panic!("{diff}");
    }
}

#[test]
fn long_comment_blocks_between_entries_are_read_as_kubectl_reads_them() {
    // The shape of kubebuilder's config/default: dozens of commented-out entries between two
    // entries of one list (kpush refused it: "too many buffered comments while looking ahead").
    let t = tempfile::tempdir().unwrap();
    let comments: String = (0..80)
        .map(|i| format!("# - path: patch_{i}.yaml\n#   target:\n#     kind: Deployment\n"))
        .collect();
    write(
        t.path(),
        "k/kustomization.yaml",
        &format!("resources:\n- c.yaml\n{comments}- d.yaml\n{comments}namePrefix: p-\n"),
    );
    write(
        t.path(),
        "k/c.yaml",
        &format!("{comments}{CM}{comments}data:\n{comments}  a: b\n"),
    );
    write(
        t.path(),
        "k/d.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n",
    );
    agrees(t.path(), "k");
}

#[test]
fn one_anchor_used_many_times_is_read_as_kubectl_reads_it() {
    let t = tempfile::tempdir().unwrap();
    let refs: String = (0..150).map(|i| format!("  k{i}: *v\n")).collect();
    write(t.path(), "k/kustomization.yaml", "resources: [c.yaml]\n");
    write(
        t.path(),
        "k/c.yaml",
        &format!("{CM}  annotations:\n    x: &v shared\ndata:\n{refs}"),
    );
    agrees(t.path(), "k");
}

#[test]
fn one_name_in_two_api_versions_renders_both_as_kubectl_kustomize_does() {
    // kubebuilder's config/samples for a kind served in v1 and v2.
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "resources:\n- v1.yaml\n- v2.yaml\n",
    );
    for v in ["v1", "v2"] {
        write(
            t.path(),
            &format!("k/{v}.yaml"),
            &format!(
                "apiVersion: crew.example.org/{v}\nkind: FirstMate\nmetadata:\n  name: \
                 firstmate-sample\nspec:\n  version: {v}\n"
            ),
        );
    }
    agrees(t.path(), "k");
    // Outside one kustomize build the two files are still one object defined twice.
    let (code, _, err) = kpush(&t.path().join("k"), &["v1.yaml", "v2.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "v2.yaml:1: error: FirstMate firstmate-sample is defined twice: here and at v1.yaml:1"
        ),
        "{err}"
    );
}

#[test]
fn unknown_generator_behavior_is_create_as_in_kustomize_with_a_warning() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "configMapGenerator:\n- name: c\n  behavior: Merge\n  literals: [a=b]\n",
    );
    agrees(t.path(), "k");
    let (code, _, err) = kpush(t.path(), &["k"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "k/kustomization.yaml:2: warning: configMapGenerator c: behavior `Merge` is not create, merge or replace; kustomize treats it as create"
        ),
        "{err}"
    );
}

#[test]
fn legacy_json6902_patch_targets_match_as_kustomize_matches_them() {
    // A `patchesJson6902` entry that renames an object records no previous name in kustomize,
    // so a later entry written against the old name matches nothing (kpush matched it).
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "resources: [c.yaml]\npatchesJson6902:\n\
         - target: {version: v1, kind: ConfigMap, name: c}\n  \
           patch: '[{\"op\": \"replace\", \"path\": \"/metadata/name\", \"value\": \"renamed\"}]'\n\
         - target: {version: v1, kind: ConfigMap, name: c}\n  \
           patch: '[{\"op\": \"add\", \"path\": \"/data\", \"value\": {\"x\": \"y\"}}]'\n\
         - target: {version: v1, kind: ConfigMap, name: renamed}\n  \
           patch: '[{\"op\": \"add\", \"path\": \"/metadata/labels\", \"value\": {\"l\": \"v\"}}]'\n",
    );
    write(t.path(), "k/c.yaml", CM);
    agrees(t.path(), "k");
    // A `patches` entry does record the old name: a later one still finds the object by it.
    write(
        t.path(),
        "p/kustomization.yaml",
        "resources: [c.yaml]\npatches:\n\
         - target: {kind: ConfigMap, name: c}\n  \
           patch: '[{\"op\": \"replace\", \"path\": \"/metadata/name\", \"value\": \"renamed\"}]'\n\
         - target: {kind: ConfigMap, name: c}\n  \
           patch: '[{\"op\": \"add\", \"path\": \"/data\", \"value\": {\"x\": \"y\"}}]'\n",
    );
    write(t.path(), "p/c.yaml", CM);
    agrees(t.path(), "p");
    // kustomize requires a name in a `patchesJson6902` target.
    write(
        t.path(),
        "n/kustomization.yaml",
        "resources: [c.yaml]\npatchesJson6902:\n\
         - target: {version: v1, kind: ConfigMap}\n  \
           patch: '[{\"op\": \"add\", \"path\": \"/data\", \"value\": {\"x\": \"y\"}}]'\n",
    );
    write(t.path(), "n/c.yaml", CM);
    refused(t.path(), "n", "needs a `target` with a `name`");
}

#[test]
fn empty_data_is_kept_or_dropped_as_kustomize_does() {
    let t = tempfile::tempdir().unwrap();
    // `data: {}` written in a resource is kept, on a ConfigMap and a Secret.
    write(t.path(), "k/kustomization.yaml", "resources: [c.yaml]\n");
    let empty = format!(
        "{CM}data: {{}}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata: {{}}\n"
    );
    write(t.path(), "k/c.yaml", &empty);
    agrees(t.path(), "k");
    // A Secret generator without entries makes `data: {}` (and hashes it); a ConfigMap
    // generator without entries makes no `data`.
    write(
        t.path(),
        "g/kustomization.yaml",
        "configMapGenerator:\n- name: a\nsecretGenerator:\n- name: b\n",
    );
    agrees(t.path(), "g");
    // Merging and replacing: kustomize sets the merged map again, and drops it when empty.
    write(
        t.path(),
        "m/kustomization.yaml",
        "resources: [c.yaml]\nconfigMapGenerator:\n- name: c\n  behavior: merge\n\
         secretGenerator:\n- name: s\n  behavior: replace\n",
    );
    write(t.path(), "m/c.yaml", &empty);
    agrees(t.path(), "m");
}

#[test]
fn patch_targets_see_namespaces_as_kustomize_does_for_newer_cluster_scoped_types() {
    // kustomize knows cluster scope by exact apiVersion from its own (Kubernetes 1.21) list:
    // a ValidatingAdmissionPolicy or a flowcontrol v1 FlowSchema is namespaced to it, so a
    // target's `namespace: default` selects them (and the namespace transformer sets one).
    // kpush used Kubernetes 1.35's scopes there and selected nothing.
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "k/kustomization.yaml",
        "namespace: x\nresources: [r.yaml]\npatches:\n\
         - target: {namespace: default}\n  \
           patch: '[{\"op\": \"add\", \"path\": \"/metadata/annotations\", \"value\": {\"d\": \"yes\"}}]'\n",
    );
    write(
        t.path(),
        "k/r.yaml",
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\n\
         metadata:\n  name: vap\n---\napiVersion: flowcontrol.apiserver.k8s.io/v1\n\
         kind: FlowSchema\nmetadata:\n  name: fs\n---\napiVersion: rbac.authorization.k8s.io/v1\n\
         kind: ClusterRole\nmetadata:\n  name: cr\n",
    );
    agrees(t.path(), "k");
}
