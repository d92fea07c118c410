//! Bad chart input fails `kpush render`/`apply` with exit 2, nothing applied, located where helm
//! says: template errors with file, line and column; values files that are not YAML; `--set`
//! syntax; a chart whose kubeVersion excludes the cluster; missing dependencies; no helm.

mod harness;

use harness::binary::{Run, kpush};
use kpush_testenv::helm::{HelmMajor, helm};

fn chart(dir: &std::path::Path, chart_yaml: &str, template: &str) -> String {
    std::fs::create_dir_all(dir.join("c/templates")).unwrap();
    std::fs::write(dir.join("c/Chart.yaml"), chart_yaml).unwrap();
    std::fs::write(dir.join("c/templates/cm.yaml"), template).unwrap();
    dir.join("c").display().to_string()
}

const CHART: &str = "apiVersion: v2\nname: c\nversion: 1.0.0\n";
const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n";

fn render(args: &[&str]) -> Run {
    let helm = helm(HelmMajor::V3).unwrap_or_else(|e| panic!("{e:#}"));
    let mut all: Vec<String> = vec!["render".into()];
    all.extend(args.iter().map(|s| s.to_string()));
    all.extend(["--helm".into(), helm.display().to_string()]);
    kpush(&all)
}

#[test]
fn a_template_error_names_the_template_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let c = chart(
        dir.path(),
        CHART,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.a.b }}\n",
    );
    let run = render(&[&c]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("c/templates/cm.yaml:4:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nil pointer"), "{}", run.stderr);
}

#[test]
fn values_that_are_not_yaml_and_bad_set_syntax_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let c = chart(dir.path(), CHART, CM);
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "a: [1\n").unwrap();
    let run = render(&[&c, "--values", &bad.display().to_string()]);
    run.expect_code(2);
    assert!(run.stderr.contains("bad.yaml:1"), "{}", run.stderr);
    assert!(run.stderr.contains("not valid YAML"), "{}", run.stderr);

    let run = render(&[&c, "--set", "a[=1"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--set: error"), "{}", run.stderr);
    assert!(run.stderr.contains("KEY=VALUE"), "{}", run.stderr);
}

#[test]
fn a_chart_for_a_newer_kubernetes_names_its_kube_version_line() {
    let dir = tempfile::tempdir().unwrap();
    let c = chart(
        dir.path(),
        &format!("{CHART}kubeVersion: \">=1.40.0-0\"\n"),
        CM,
    );
    let run = render(&[&c, "--kube-version", "1.35.0"]);
    run.expect_code(2);
    assert!(run.stderr.contains("c/Chart.yaml:4"), "{}", run.stderr);
    assert!(
        run.stderr.contains("incompatible with Kubernetes v1.35.0"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_dependencies_are_one_error_saying_how_to_vendor_them() {
    let dir = tempfile::tempdir().unwrap();
    let c = chart(
        dir.path(),
        &format!(
            "{CHART}dependencies:\n  - name: redis\n    version: 1.0.0\n    repository: https://charts.example\n"
        ),
        CM,
    );
    let run = render(&[&c]);
    run.expect_code(2);
    assert_eq!(run.stderr.matches("error:").count(), 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("helm dependency build"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--helm-dependency-update"),
        "{}",
        run.stderr
    );
}

#[test]
fn without_helm_the_error_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = chart(dir.path(), CHART, CM);
    let missing = dir.path().join("no-helm");
    let run = kpush(&[
        "render".into(),
        c,
        "--helm".into(),
        missing.display().to_string(),
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("cannot run"), "{}", run.stderr);
    assert!(run.stderr.contains("--helm"), "{}", run.stderr);
    // A directory (the one holding helm, say) is named as such.
    let run = kpush(&[
        "render".into(),
        chart(dir.path(), CHART, CM),
        "--helm".into(),
        dir.path().display().to_string(),
    ]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("it is a directory; pass the helm executable in it"),
        "{}",
        run.stderr
    );
}

#[test]
fn objects_name_their_template_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let c = chart(
        dir.path(),
        CHART,
        &format!(
            "# a comment\n{CM}---\n{}",
            CM.replace("{{ .Release.Name }}", "second")
        ),
    );
    let run = render(&[&c, "--summary"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("c/templates/cm.yaml:2"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("c/templates/cm.yaml:7"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_packaged_chart_renders_with_its_templates_named_inside_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let c = chart(dir.path(), CHART, CM);
    let helm = helm(HelmMajor::V3).unwrap_or_else(|e| panic!("{e:#}"));
    let out = std::process::Command::new(&helm)
        .args(["package", &c, "--destination"])
        .arg(dir.path())
        .output()
        .expect("helm package");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tgz = dir.path().join("c-1.0.0.tgz").display().to_string();
    let run = render(&[&tgz, "--release", "packed", "--summary"]);
    run.expect_code(0);
    assert!(run.stdout.contains("packed"), "{}", run.stdout);
    assert!(
        run.stdout.contains("c-1.0.0.tgz#c/templates/cm.yaml"),
        "{}",
        run.stdout
    );
}

#[test]
fn chart_flags_come_from_kpush_variables_too() {
    let dir = tempfile::tempdir().unwrap();
    let c = chart(
        dir.path(),
        CHART,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  a: {{ .Values.a | quote }}\n  b: {{ .Values.b | quote }}\n  c: {{ .Values.c | quote }}\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n",
    );
    let values = dir.path().join("v.yaml");
    std::fs::write(&values, "c: from-file\n").unwrap();
    let helm = helm(HelmMajor::V4).unwrap_or_else(|e| panic!("{e:#}"));
    let helm = helm.display().to_string();
    let values = values.display().to_string();
    let run = harness::binary::kpush_with_env(
        &["render".into(), c],
        &[
            ("KPUSH_HELM", &helm),
            ("KPUSH_SET", "a=1\nb=two"),
            ("KPUSH_RELEASE", "from-env"),
            ("KPUSH_VALUES", &values),
            ("KPUSH_KUBE_VERSION", "1.34.2"),
        ],
    );
    run.expect_code(0);
    for want in [
        "name: from-env",
        "a: \"1\"",
        "b: two",
        "c: from-file",
        "kube: v1.34.2",
    ] {
        assert!(run.stdout.contains(want), "{want}: {}", run.stdout);
    }
}
