//! Kustomizations with `helmCharts`: charts from a chart repository served over local HTTP (the
//! real `helm package` and `helm repo index`) render as `kubectl kustomize --enable-helm` renders
//! them, with provenance naming the chart template; an overlay around a chart deploys on the real
//! control plane through the kpush binary; and an entry cannot make helm read files outside the
//! repository, run code, or see the runner's secrets.

mod harness;

#[path = "kustomize_conformance/compare.rs"]
#[allow(dead_code)]
mod compare;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use harness::binary::{Ctx, Run, kpush_with_env};
use kpush_testenv::helm::{HelmMajor, helm};

fn helm3() -> PathBuf {
    helm(HelmMajor::V3).unwrap_or_else(|e| panic!("{e:#}"))
}

fn kpush(args: &[&str]) -> Run {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    kpush_with_env(&args, &[])
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// A small chart: a ConfigMap and a Deployment, parameterised by values.
fn write_chart(dir: &Path, name: &str) {
    write(
        dir,
        "Chart.yaml",
        &format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\nappVersion: \"2.0\"\n"),
    );
    write(
        dir,
        "values.yaml",
        "image: example.com/web:1.0\nreplicas: 1\ngreeting: hello\n",
    );
    write(
        dir,
        "templates/configmap.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: {{ .Values.greeting | quote }}
",
    );
    write(
        dir,
        "templates/deployment.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels:
    app: web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
          envFrom:
            - configMapRef:
                name: {{ .Release.Name }}-config
",
    );
}

/// A chart repository over local HTTP: serves the files of a directory until dropped (at most
/// two minutes), one request per connection.
struct ChartRepo {
    url: String,
    stop: Arc<AtomicBool>,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
}

impl ChartRepo {
    fn serve(dir: PathBuf) -> ChartRepo {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, r) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((conn, _)) => {
                        if let Some(path) = answer(conn, &dir) {
                            r.lock().expect("lock").push(path);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        ChartRepo {
            url,
            stop,
            requests,
        }
    }
}

impl Drop for ChartRepo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(conn: TcpStream, dir: &Path) -> Option<String> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let path = first.split_whitespace().nth(1)?.to_string();
    let file = dir.join(path.trim_start_matches('/'));
    let mut conn = conn;
    let served = !path.contains("..") && file.is_file();
    let body = if served {
        std::fs::read(&file).ok()?
    } else {
        Vec::new()
    };
    let status = if served { "200 OK" } else { "404 Not Found" };
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(&body);
    Some(path)
}

/// `helm package` + `helm repo index` of the chart `name` into a served directory.
fn chart_repository(root: &Path, name: &str) -> ChartRepo {
    let src = root.join("src").join(name);
    write_chart(&src, name);
    let served = root.join("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    let helm = helm3();
    let ok = |cmd: &mut Command| {
        let out = cmd.stdin(Stdio::null()).output().expect("helm");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(Command::new(&helm)
        .arg("package")
        .arg(&src)
        .arg("-d")
        .arg(&served));
    let repo = ChartRepo::serve(served.clone());
    ok(Command::new(&helm)
        .args(["repo", "index"])
        .arg(&served)
        .args(["--url", &repo.url]));
    repo
}

fn kubectl() -> PathBuf {
    kpush_testenv::locate()
        .unwrap_or_else(|e| panic!("{e:#}"))
        .kubectl
        .expect("the control plane build has kubectl")
}

fn kubectl_kustomize(dir: &Path) -> String {
    let out = Command::new(kubectl())
        .arg("kustomize")
        .arg(dir)
        .arg("--enable-helm")
        .arg("--helm-command")
        .arg(helm3())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl kustomize: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn a_chart_from_an_http_repository_renders_as_kubectl_kustomize_enable_helm() {
    let tmp = tempfile::tempdir().expect("dir");
    let repo = chart_repository(tmp.path(), "shop");
    let overlay = tmp.path().join("overlay");
    write(
        &overlay,
        "kustomization.yaml",
        &format!(
            "namespace: prod
namePrefix: eu-
helmCharts:
- name: shop
  repo: {}/
  version: 0.1.0
  releaseName: store
  valuesInline:
    replicas: 3
images:
- name: example.com/web
  newTag: \"2.0\"
",
            repo.url
        ),
    );
    let helm = helm3().display().to_string();
    let dir = overlay.display().to_string();
    let run = kpush(&["render", &dir, "--helm", &helm, "--no-run-annotations"]);
    run.expect_code(0);
    // Pulled into kpush's own directory, never into the checkout (kustomize writes chartHome).
    assert!(
        !overlay.join("charts").exists(),
        "kpush wrote into the checkout"
    );
    assert!(
        repo.requests
            .lock()
            .expect("lock")
            .iter()
            .any(|p| p.ends_with("shop-0.1.0.tgz")),
        "the chart was not pulled from the repository"
    );

    // The oracle pulls into the kustomization's chartHome: give it a copy.
    let copy = tmp.path().join("oracle");
    copy_dir(&overlay, &copy);
    let expected = compare::parse_stream(&kubectl_kustomize(&copy)).expect("oracle YAML");
    let mut ours = compare::parse_stream(&run.stdout).expect("kpush YAML");
    compare::strip_kpush_additions(&mut ours, &expected);
    let d = compare::compare(&expected, &ours, true);
    assert!(d.is_empty(), "{}\n{}", d.summary(), d.details("kustomize"));
    assert_eq!(ours.len(), 2);
    assert!(run.stdout.contains("name: eu-store-web"), "{}", run.stdout);

    // Helm 4 pulls and renders the same objects.
    let helm4 = kpush_testenv::helm::helm(HelmMajor::V4).unwrap_or_else(|e| panic!("{e:#}"));
    let run4 = kpush(&[
        "render",
        &dir,
        "--helm",
        &helm4.display().to_string(),
        "--no-run-annotations",
    ]);
    run4.expect_code(0);
    let mut ours4 = compare::parse_stream(&run4.stdout).expect("kpush YAML");
    compare::strip_kpush_additions(&mut ours4, &expected);
    let d = compare::compare(&expected, &ours4, true);
    assert!(
        d.is_empty(),
        "helm 4: {}\n{}",
        d.summary(),
        d.details("kustomize")
    );

    // A password in the repository URL is never shown, neither in provenance nor in errors.
    let with_password = repo.url.replace("http://", "http://bot:s3cret@");
    let secret = tmp.path().join("secret");
    for (chart, code) in [("shop", 0), ("absent", 2)] {
        write(
            &secret,
            "kustomization.yaml",
            &format!(
                "helmCharts:\n- name: {chart}\n  repo: {with_password}\n  version: 0.1.0\n  releaseName: s\n"
            ),
        );
        let run = kpush(&[
            "render",
            &secret.display().to_string(),
            "--helm",
            &helm,
            "--summary",
        ]);
        run.expect_code(code);
        assert!(
            !run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"),
            "{}\n{}",
            run.stdout,
            run.stderr
        );
    }

    // Provenance names the chart template (in the pulled chart) and the entry.
    let summary = kpush(&["render", &dir, "--helm", &helm, "--summary"]);
    summary.expect_code(0);
    let line = summary
        .stdout
        .lines()
        .find(|l| l.contains("Deployment"))
        .unwrap_or_else(|| panic!("{}", summary.stdout));
    assert!(
        line.contains(&format!(
            "{}#shop-0.1.0/templates/deployment.yaml:1 via helmCharts shop ({dir}/kustomization.yaml:4)",
            repo.url
        )),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overlay_around_a_chart_deploys_through_the_overlays_transformers() {
    let ctx = Ctx::new("kustomize-helm-charts").await;
    let root = ctx.path().join("repo");
    write_chart(&root.join("overlay/charts/web"), "web");
    write(
        &root,
        "overlay/kustomization.yaml",
        &format!(
            "namespace: {}
commonLabels:
  team: shop
helmCharts:
- name: web
  releaseName: web
  valuesInline:
    greeting: hallo
patches:
- target:
    kind: Deployment
  patch: |
    - op: replace
      path: /spec/replicas
      value: 2
images:
- name: example.com/web
  newTag: \"1.1\"
",
            ctx.namespace
        ),
    );
    let dir = root.join("overlay").display().to_string();
    let helm = helm3().display().to_string();
    let run = ctx.kpush(&["apply", &dir, "--helm", &helm, "--applyset", "web"]);
    run.expect_code(0);
    let dep = ctx
        .get(&ctx.grouped("apps/v1", "deployments", "web-web"))
        .await
        .expect("the chart's Deployment was applied");
    assert_eq!(dep["spec"]["replicas"], 2, "{dep}");
    assert_eq!(dep["metadata"]["labels"]["team"], "shop", "{dep}");
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["image"],
        "example.com/web:1.1"
    );
    let cm = ctx
        .get(&ctx.core("configmaps", "web-config"))
        .await
        .expect("the chart's ConfigMap was applied");
    assert_eq!(cm["data"]["greeting"], "hallo");

    // Applying again changes nothing.
    let again = ctx.kpush(&["apply", &dir, "--helm", &helm, "--applyset", "web"]);
    again.expect_code(0);
    let diff = ctx.kpush(&["diff", &dir, "--helm", &helm, "--applyset", "web"]);
    diff.expect_code(0);
}

/// A repository with a kustomization `k` and a chart `app` in its chart home.
fn repository(k: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("dir");
    std::fs::create_dir(tmp.path().join(".git")).expect(".git");
    write_chart(&tmp.path().join("overlay/charts/app"), "app");
    write(tmp.path(), "overlay/kustomization.yaml", k);
    tmp
}

fn render_overlay(tmp: &tempfile::TempDir) -> Run {
    let dir = tmp.path().join("overlay").display().to_string();
    kpush(&["render", &dir, "--helm", &helm3().display().to_string()])
}

#[test]
fn helm_charts_entries_cannot_read_files_outside_the_kustomization() {
    for (k, expect) in [
        (
            "helmCharts:\n- name: app\n  releaseName: a\n  valuesFile: ../secret.yaml\n",
            "kustomization.yaml:2: error: helmCharts valuesFile entry `../secret.yaml` is outside the kustomization's directory",
        ),
        (
            "helmCharts:\n- name: app\n  releaseName: a\n  additionalValuesFiles:\n  - /etc/passwd\n",
            "kustomization.yaml:2: error: helmCharts additionalValuesFiles entry `/etc/passwd` is outside the kustomization's directory",
        ),
        (
            "helmGlobals:\n  chartHome: ../vendor\nhelmCharts:\n- name: app\n  releaseName: a\n",
            "helmGlobals.chartHome `../vendor` leaves the kustomization's directory",
        ),
        (
            "helmCharts:\n- name: ../../app\n  releaseName: a\n",
            "must be a chart's name, not a path",
        ),
    ] {
        let tmp = repository(k);
        write(tmp.path(), "secret.yaml", "password: hunter2\n");
        let run = render_overlay(&tmp);
        run.expect_code(2);
        assert!(run.stderr.contains(expect), "{k}\n{}", run.stderr);
        assert!(!run.stdout.contains("hunter2"));
    }

    // A chart whose file links outside the repository (here to the process environment).
    let tmp = repository("helmCharts:\n- name: app\n  releaseName: a\n");
    symlink(
        "/proc/self/environ",
        tmp.path().join("overlay/charts/app/leak"),
    )
    .expect("symlink");
    let run = render_overlay(&tmp);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("overlay/charts/app/leak is a symlink to /proc/"),
        "{}",
        run.stderr
    );

    // A chart directory that is a link leaving the repository.
    let outside = tempfile::tempdir().expect("dir");
    write_chart(&outside.path().join("app"), "app");
    let tmp = repository("helmCharts:\n- name: other\n  releaseName: a\n");
    symlink(
        outside.path().join("app"),
        tmp.path().join("overlay/charts/other"),
    )
    .expect("symlink");
    let run = render_overlay(&tmp);
    run.expect_code(2);
    assert!(
        run.stderr.contains("outside the repository"),
        "{}",
        run.stderr
    );
}

#[test]
fn helm_charts_entries_cannot_run_code_or_reach_helm_as_flags() {
    let marker = tempfile::tempdir().expect("dir");
    let ran = marker.path().join("ran");
    let script = marker.path().join("post.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch '{}'\ncat\n", ran.display()),
    )
    .expect("w");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let k = format!(
        "helmCharts:\n- name: app\n  releaseName: --post-renderer={}\n",
        script.display()
    );
    let tmp = repository(&k);
    let run = render_overlay(&tmp);
    run.expect_code(2);
    assert!(
        run.stderr.contains("kustomization.yaml:2")
            && run.stderr.contains("which helm would read as a flag"),
        "{}",
        run.stderr
    );
    assert!(!ran.exists(), "the post-renderer ran");

    // The deprecated helmChartInflationGenerator's helmBin and extraArgs are ignored (as
    // kustomize ignores them), with a warning.
    let k = format!(
        "helmChartInflationGenerator:\n- chartName: app\n  releaseName: a\n  helmBin: {}\n  extraArgs:\n  - --post-renderer={}\n",
        script.display(),
        script.display()
    );
    let tmp = repository(&k);
    let run = render_overlay(&tmp);
    run.expect_code(0);
    assert!(
        run.stderr.contains("helmBin, extraArgs ignored"),
        "{}",
        run.stderr
    );
    assert!(!ran.exists(), "helmBin or the post-renderer ran");
    assert!(run.stdout.contains("name: a-web"), "{}", run.stdout);

    // A repository URL of a scheme only a helm plugin serves is refused, and a helm
    // configuration shipped in the repository (which could install such a plugin) is ignored.
    let tmp = repository(
        "helmGlobals:\n  configHome: helmhome\nhelmCharts:\n- name: remote\n  repo: evil://x\n  releaseName: a\n",
    );
    let run = render_overlay(&tmp);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("`repo: evil://x` is not an http:// or https:// chart repository"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("helmGlobals.configHome `helmhome` is ignored"),
        "{}",
        run.stderr
    );

    // oci:// is named as not supported yet, with the entry's file:line.
    let tmp = repository(
        "resources: []\nhelmCharts:\n- name: remote\n  repo: oci://myacr.azurecr.io/helm\n  version: 1.0.0\n  releaseName: a\n",
    );
    let run = render_overlay(&tmp);
    run.expect_code(2);
    assert!(
        run.stderr.contains("kustomization.yaml:3")
            && run.stderr.contains("charts from OCI registries")
            && run.stderr.contains("oci://myacr.azurecr.io/helm"),
        "{}",
        run.stderr
    );
}

#[test]
fn helm_for_helm_charts_sees_none_of_kpushs_secrets_nor_its_helm_settings() {
    let dir = tempfile::tempdir().expect("dir");
    let dump = dir.path().join("helm-env");
    let fake = dir.path().join("fake-helm");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then printf v3.99.0; exit 0; fi\nenv > '{}'\n\
             printf -- '---\\n# Source: app/templates/cm.yaml\\napiVersion: v1\\nkind: ConfigMap\\n\
             metadata:\\n  name: c\\n'\n",
            dump.display()
        ),
    )
    .expect("write");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let tmp = repository("helmCharts:\n- name: app\n  releaseName: a\n");
    let overlay = tmp.path().join("overlay").display().to_string();
    let args: Vec<String> = ["render", &overlay, "--helm", &fake.display().to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let run = kpush_with_env(
        &args,
        &[
            ("AZURE_CLIENT_SECRET", "topsecret-azure"),
            ("SYSTEM_ACCESSTOKEN", "topsecret-ado"),
            ("HELM_PLUGINS", "/runner/helm-plugins"),
            ("HELM_REPOSITORY_CONFIG", "/runner/repositories.yaml"),
        ],
    );
    run.expect_code(0);
    let mut seen = String::new();
    std::fs::File::open(&dump)
        .expect("helm ran")
        .read_to_string(&mut seen)
        .expect("read");
    assert!(!seen.contains("topsecret"), "{seen}");
    assert!(!seen.contains("/runner/"), "{seen}");
    assert!(seen.contains("HELM_CONFIG_HOME=/"), "{seen}");
    assert!(seen.contains("HELM_PLUGINS=/"), "{seen}");
}

#[test]
fn a_chart_that_fails_to_render_is_named_by_its_template_line_and_entry() {
    let tmp = repository("namespace: x\nhelmCharts:\n- name: app\n  releaseName: a\n");
    write(
        tmp.path(),
        "overlay/charts/app/templates/check.yaml",
        "# checks\n{{- required \"region is required\" .Values.region }}\n",
    );
    let run = render_overlay(&tmp);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("overlay/charts/app/templates/check.yaml:2")
            && run.stderr.contains("region is required"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("kustomization.yaml:3: error: helmCharts app: helm could not render"),
        "{}",
        run.stderr
    );
}
