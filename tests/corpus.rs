//! Public projects' manifests deploy as they are (`tests/corpus/<project>/`, each with a
//! SOURCE file naming origin, commit and license): every project renders; on the test cluster
//! each applies, re-applies unchanged, diffs clean, rolls one changed image (the diff shows
//! exactly that change) and prunes an object that left the manifests.

mod harness;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use harness::binary::Ctx;
use serde_json::Value;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn projects() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(corpus())
        .expect("tests/corpus")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn render_json(dir: &Path, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .arg("render")
        .arg(dir)
        .args(["-o", "json", "--no-run-annotations"])
        .args(extra)
        .output()
        .expect("run kpush");
    assert!(
        out.status.success(),
        "{} does not render: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("render -o json is JSON")
}

#[test]
fn every_corpus_project_renders_and_names_its_origin_commit_and_license() {
    let names = projects();
    assert!(names.len() >= 12, "at least 12 projects: {names:?}");
    for name in &names {
        let dir = corpus().join(name);
        let source =
            fs::read_to_string(dir.join("SOURCE")).unwrap_or_else(|e| panic!("{name}/SOURCE: {e}"));
        assert!(source.contains("origin: https://github.com/"), "{name}");
        let commit = source
            .lines()
            .find_map(|l| l.strip_prefix("commit: "))
            .unwrap_or_else(|| panic!("{name}: commit"));
        assert_eq!(commit.len(), 40, "{name}: a full commit id");
        let license = source
            .lines()
            .find_map(|l| l.strip_prefix("license: "))
            .unwrap_or_else(|| panic!("{name}: license"));
        assert!(
            ["Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause"].contains(&license),
            "{name}: {license} is not license-compatible"
        );
        assert!(dir.join("LICENSE").exists(), "{name}: the license text");
        let list = render_json(&dir, &[]);
        let items = list["items"].as_array().expect("items");
        assert!(!items.is_empty(), "{name} renders objects");
    }
}

/// The kind and first container image of a rolling workload, unless a Job uses the same
/// repository (a Job's template is immutable: changing its image needs
/// `--recreate-on-immutable`).
fn first_workload_image(list: &Value) -> Option<(String, String)> {
    let items = list["items"].as_array()?;
    let job_repos: Vec<String> = items
        .iter()
        .filter(|o| o["kind"] == "Job")
        .flat_map(|o| {
            o["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["image"].as_str().map(repository))
        })
        .collect();
    items.iter().find_map(|o| {
        let spec = match o["kind"].as_str()? {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicationController" => {
                &o["spec"]["template"]["spec"]
            }
            _ => return None,
        };
        spec["containers"][0]["image"]
            .as_str()
            .filter(|i| !job_repos.contains(&repository(i)))
            .map(|i| (o["kind"].as_str().unwrap_or("").to_string(), i.to_string()))
    })
}

/// The repository part of an image reference (no tag, no digest).
fn repository(image: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo.to_string(),
        _ => no_digest.to_string(),
    }
}

/// Removes one object that prune may delete: the last document of the last file (or the file).
fn drop_one_object(dir: &Path) -> String {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    let last = files.last().expect("a manifest file");
    let text = fs::read_to_string(last).expect("read");
    let docs: Vec<&str> = text
        .split("\n---")
        .filter(|d| d.lines().any(|l| l.starts_with("kind:")))
        .collect();
    if docs.len() > 1 {
        let dropped = docs.last().expect("doc").to_string();
        let kept = &docs[..docs.len() - 1];
        fs::write(last, kept.join("\n---")).expect("write");
        dropped
    } else {
        fs::remove_file(last).expect("remove");
        text
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for e in fs::read_dir(from).expect("read corpus dir").flatten() {
        fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

/// Projects whose objects never become ready on the test cluster, and why (docs/testing.md).
fn wait_args(project: &str) -> &'static [&'static str] {
    match project {
        // Its PersistentVolumeClaim names StorageClass `slow`, which does not exist: it never
        // binds (kpush says so while waiting).
        "kube-state-metrics-kinds" => &["--wait=false"],
        _ => &["--timeout", "120s"],
    }
}

async fn round_trip(project: &str) {
    let ctx = Ctx::new(&format!("corpus-{project}")).await;
    copy_dir(&corpus().join(project), ctx.path());
    let dir = ctx.path().display().to_string();
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--applyset", "corpus", "--allow-other-namespaces"]);
        if args[0] == "apply" {
            all.extend(wait_args(project));
        }
        ctx.kpush(&all)
    };
    let count = render_json(ctx.path(), &[])["items"]
        .as_array()
        .expect("items")
        .len();

    let first = run(&["apply", &dir]);
    first.expect_code(0);
    assert!(
        first
            .stderr
            .contains(&format!("{count} objects: {count} created")),
        "{project}: first apply\n{}",
        first.stderr
    );

    let again = run(&["apply", &dir]);
    again.expect_code(0);
    assert!(
        again
            .stderr
            .contains(&format!("{count} objects: {count} unchanged")),
        "{project}: re-apply\n{}\n{}",
        again.stderr,
        again.stderr
    );

    let clean = run(&["diff", &dir]);
    assert_eq!(
        clean.code, 0,
        "{project}: diff after apply\n{}\n{}",
        clean.stdout, clean.stderr
    );

    if let Some((kind, image)) = first_workload_image(&render_json(ctx.path(), &[])) {
        let repo = repository(&image);
        let new_image = format!("{repo}:kpush-corpus");
        let flag = format!("{repo}=:kpush-corpus");
        let diff = run(&["diff", &dir, "--image", &flag]);
        assert_eq!(diff.code, 1, "{project}: diff\n{}", diff.stderr);
        let changed: Vec<&str> = diff
            .stdout
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .collect();
        assert!(
            !changed.is_empty()
                && changed.iter().all(|l| l.contains("image:")
                    || l.contains(&repo)
                    || l.contains("generation:")),
            "{project}: the diff shows only the image change:\n{}",
            diff.stdout
        );
        assert!(
            changed.iter().any(|l| l.contains(&new_image)),
            "{}",
            diff.stdout
        );

        let rolled = run(&["apply", &dir, "--image", &flag]);
        // A ReplicationController never replaces its pods: the rollout fails saying so
        // (docs/rollouts.md), and the prune below goes back to the image its pods run.
        let keeps_old_pods = kind == "ReplicationController";
        rolled.expect_code(if keeps_old_pods { 4 } else { 0 });
        assert!(
            rolled.stderr.contains("configured")
                && (!keeps_old_pods || rolled.stderr.contains("PodsNotReplaced")),
            "{project}: image change\n{}",
            rolled.stderr
        );

        drop_one_object(ctx.path());
        let image_args: &[&str] = if keeps_old_pods {
            &[]
        } else {
            &["--image", &flag]
        };
        let mut args = vec!["apply", dir.as_str(), "--prune"];
        args.extend(image_args);
        let pruned = run(&args);
        pruned.expect_code(0);
        assert!(
            pruned.stderr.contains("pruned"),
            "{project}: prune\n{}\n{}",
            pruned.stderr,
            pruned.stderr
        );
    } else {
        drop_one_object(ctx.path());
        let pruned = run(&["apply", &dir, "--prune"]);
        pruned.expect_code(0);
        assert!(
            pruned.stderr.contains("pruned"),
            "{project}: prune\n{}\n{}",
            pruned.stderr,
            pruned.stderr
        );
    }
}

macro_rules! corpus_tests {
    ($($test:ident => $project:literal,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $test() {
                round_trip($project).await;
            }
        )*

        #[test]
        fn every_corpus_project_has_a_cluster_test() {
            let tested = [$($project),*];
            for p in projects() {
                assert!(tested.contains(&p.as_str()), "{p} has no round-trip test");
            }
        }
    };
}

corpus_tests! {
    aks_store_demo => "aks-store-demo",
    aks_store_ingress => "aks-store-ingress",
    k8s_cassandra => "k8s-cassandra",
    k8s_guestbook => "k8s-guestbook",
    k8s_guestbook_go => "k8s-guestbook-go",
    k8s_model_serving => "k8s-model-serving",
    k8s_storm_json => "k8s-storm-json",
    kube_state_metrics => "kube-state-metrics",
    kube_state_metrics_kinds => "kube-state-metrics-kinds",
    microservices_demo => "microservices-demo",
    microservices_demo_network_policies => "microservices-demo-network-policies",
    prometheus_operator => "prometheus-operator",
}
