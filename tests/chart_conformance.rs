//! Conformance: for every vendored public chart (tests/fixtures/charts/<name>/, origin and
//! license in its SOURCE file) and every values file of its `ci/` directory, the objects
//! `kpush render` produces are exactly those `helm template` produces with the same values, with
//! both pinned Helm releases (3 and 4). kpush adds only its managed-by label where a chart sets
//! none.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kpush_testenv::helm::{HelmMajor, helm};
use serde_json::Value;

const CHARTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/charts");
const KUBE_VERSION: &str = "1.35.0";

type Key = (String, String, String, String);

fn key(o: &Value) -> Key {
    let s = |p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (
        s("/apiVersion"),
        s("/kind"),
        s("/metadata/namespace"),
        s("/metadata/name"),
    )
}

/// `helm template`'s objects, decoded from its YAML stream, and whether two share an identity.
fn helm_objects(helm: &Path, chart: &Path, values: Option<&Path>) -> (BTreeMap<Key, Value>, bool) {
    let mut cmd = Command::new(helm);
    cmd.args(["template", "conformance"]).arg(chart).args([
        "--include-crds",
        "--skip-tests",
        "--kube-version",
        KUBE_VERSION,
    ]);
    if let Some(v) = values {
        cmd.arg("--values").arg(v);
    }
    let out = cmd.output().expect("run helm");
    assert!(
        out.status.success(),
        "helm template {} {values:?}: {}",
        chart.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("helm's output is YAML");
    // A `kind: List` stands for its items: helm install creates them (its kube client flattens
    // lists, as kubectl does), and kpush renders them one by one.
    let docs: Vec<Value> = docs
        .into_iter()
        .filter(|d| d.is_object())
        .flat_map(|d| match d["items"].as_array() {
            Some(items) if d["kind"] == "List" => items.clone(),
            _ => vec![d],
        })
        .collect();
    let n = docs.len();
    let objects: BTreeMap<Key, Value> = docs.into_iter().map(|d| (key(&d), d)).collect();
    let duplicates = objects.len() != n;
    (objects, duplicates)
}

/// `kpush render`'s objects (JSON list), or its error output.
fn kpush_objects(
    helm: &Path,
    chart: &Path,
    values: Option<&Path>,
) -> Result<BTreeMap<Key, Value>, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpush"));
    cmd.arg("render")
        .arg(chart)
        .arg("--helm")
        .arg(helm)
        .args(["--release", "conformance", "--kube-version", KUBE_VERSION])
        .args(["-o", "json", "--show-secrets", "--no-run-annotations"]);
    if let Some(v) = values {
        cmd.arg("--values").arg(v);
    }
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KPUSH_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().expect("run kpush");
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(2), "bad input exits 2");
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let list: Value = serde_json::from_slice(&out.stdout).expect("JSON list");
    Ok(list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| (key(o), o.clone()))
        .collect())
}

/// Removes the managed-by label kpush adds to objects whose chart sets none.
fn without_kpush_label(mut o: Value, oracle: Option<&Value>) -> Value {
    let chart_sets_it = oracle
        .and_then(|v| v.pointer("/metadata/labels/app.kubernetes.io~1managed-by"))
        .is_some();
    if !chart_sets_it && let Some(Value::Object(labels)) = o.pointer_mut("/metadata/labels") {
        labels.remove("app.kubernetes.io/managed-by");
        if labels.is_empty()
            && oracle.and_then(|v| v.pointer("/metadata/labels")).is_none()
            && let Some(Value::Object(m)) = o.get_mut("metadata")
        {
            m.remove("labels");
        }
    }
    o
}

/// Replaces, in `a`, `b` and `c`, the values that differ between two helm runs (`a`, `b`):
/// generated passwords and certificates (`randAlphaNum`, `genCA`).
fn mask_random(a: &mut Value, b: &mut Value, c: &mut Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a.iter_mut() {
                if let (Some(vb), Some(vc)) = (b.get_mut(k), c.get_mut(k)) {
                    mask_random(va, vb, vc);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            if let Value::Array(c) = c {
                for ((va, vb), vc) in a.iter_mut().zip(b.iter_mut()).zip(c.iter_mut()) {
                    mask_random(va, vb, vc);
                }
            }
        }
        (a, b) if a != b => {
            *a = Value::String("<varies>".into());
            *b = a.clone();
            *c = a.clone();
        }
        _ => {}
    }
}

fn cases(chart: &Path) -> Vec<Option<PathBuf>> {
    let mut cases = vec![None];
    if let Ok(rd) = std::fs::read_dir(chart.join("ci")) {
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        files.sort();
        cases.extend(files.into_iter().map(Some));
    }
    cases
}

fn conformance(major: HelmMajor) {
    let helm = helm(major).unwrap_or_else(|e| panic!("{e:#}"));
    let mut charts: Vec<PathBuf> = std::fs::read_dir(CHARTS)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Chart.yaml").is_file())
        .collect();
    charts.sort();
    assert!(charts.len() >= 10, "the corpus has {} charts", charts.len());
    let mut checked = 0;
    let mut objects = 0;
    for chart in &charts {
        let source =
            std::fs::read_to_string(chart.join("SOURCE")).expect("SOURCE beside the chart");
        assert!(
            source.contains("license: Apache-2.0") || source.contains("license: MIT"),
            "{}: {source}",
            chart.display()
        );
        for values in cases(chart) {
            let (mut want, duplicates) = helm_objects(&helm, chart, values.as_deref());
            let (mut again, _) = helm_objects(&helm, chart, values.as_deref());
            let got = kpush_objects(&helm, chart, values.as_deref());
            let case = format!("{} {:?}", chart.display(), values);
            // helm template prints two objects of one identity; a deploy could not hold both,
            // and kpush refuses the set naming the template.
            let got = match (got, duplicates) {
                (Err(e), true) => {
                    assert!(
                        e.contains("is defined twice") && e.contains("templates/"),
                        "{case}: {e}"
                    );
                    checked += 1;
                    continue;
                }
                (Err(e), false) => panic!("kpush render failed: {case}: {e}"),
                (Ok(_), true) => panic!("kpush accepted duplicate objects: {case}"),
                (Ok(got), false) => got,
            };
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>(),
                "object sets differ: {case}"
            );
            for (k, mut o) in got {
                if let (Some(w), Some(a)) = (want.get_mut(&k), again.get_mut(&k)) {
                    mask_random(w, a, &mut o);
                }
                let oracle = want.get(&k);
                assert_eq!(
                    Some(&without_kpush_label(o, oracle)),
                    oracle,
                    "{k:?} differs: {case}"
                );
                objects += 1;
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 30 && objects >= 100,
        "{checked} cases, {objects} objects"
    );
}

#[test]
fn kpush_renders_what_helm_3_templates_for_every_corpus_chart() {
    conformance(HelmMajor::V3);
}

#[test]
fn kpush_renders_what_helm_4_templates_for_every_corpus_chart() {
    conformance(HelmMajor::V4);
}
