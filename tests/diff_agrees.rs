//! `kpush diff` and `kpush apply` agree on generated changes: diff exits 1 exactly when the
//! apply that follows reports the object `configured`, and 0 exactly when it is `unchanged`,
//! whatever spelling the manifest uses (`cpu: 1` or `1000m`, `memory: 1Gi` or `1024Mi`, key
//! order, `emptyDir: {}`).

mod harness;

use harness::binary::Ctx;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(Debug, Clone)]
struct Variant {
    replicas: u8,
    cpu: &'static str,
    memory: &'static str,
    env: Vec<(String, String)>,
    volume_first: bool,
    tier: Option<&'static str>,
}

fn variant() -> impl Strategy<Value = Variant> {
    (
        1u8..3,
        prop::sample::select(vec!["1", "1000m", "500m", "0.5"]),
        prop::sample::select(vec!["1Gi", "1024Mi", "512Mi"]),
        prop::collection::vec(("[A-C]", "[a-b]"), 0..3),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec!["web", "api"])),
    )
        .prop_map(|(replicas, cpu, memory, env, volume_first, tier)| {
            // Env names are a list map: keep the first of each name.
            let mut seen = std::collections::BTreeSet::new();
            let env = env
                .into_iter()
                .filter(|(k, _)| seen.insert(k.clone()))
                .collect();
            Variant {
                replicas,
                cpu,
                memory,
                env,
                volume_first,
                tier,
            }
        })
}

fn manifest(v: &Variant) -> String {
    let labels = match v.tier {
        Some(t) => format!("\n  labels:\n    tier: {t}"),
        None => String::new(),
    };
    let env: String = v
        .env
        .iter()
        .map(|(k, val)| format!("\n            - name: {k}\n              value: \"{val}\""))
        .collect();
    let env = if env.is_empty() {
        String::new()
    } else {
        format!("\n          env:{env}")
    };
    let volumes = "\n      volumes:\n        - name: scratch\n          emptyDir: {}";
    let (before, after) = if v.volume_first {
        (volumes, "")
    } else {
        ("", volumes)
    };
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web{labels}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:{before}
      containers:
        - name: app
          image: nginx:1.27
          resources:
            requests:
              cpu: \"{cpu}\"
              memory: {memory}{env}{after}
",
        replicas = v.replicas,
        cpu = v.cpu,
        memory = v.memory,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_exits_1_exactly_when_apply_then_configures() {
    let ctx = Ctx::new("diff-agrees").await;
    let dir = ctx.path().display().to_string();
    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    });
    let first = std::sync::atomic::AtomicBool::new(true);
    let seen = std::sync::Mutex::new((0, 0));
    runner
        .run(&variant(), |v| {
            ctx.write("web.yaml", &manifest(&v));
            if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                ctx.kpush(&["apply", &dir, "--wait=false"]).expect_code(0);
            }
            let diff = ctx.kpush(&["diff", &dir]);
            let apply = ctx.kpush(&["apply", &dir, "--wait=false"]);
            prop_assert_eq!(apply.code, 0, "{}", apply.stderr);
            let configured = apply.stderr.contains("1 configured");
            let unchanged = apply.stderr.contains("1 unchanged");
            prop_assert!(configured != unchanged, "{}", apply.stderr);
            if let Ok(mut s) = seen.lock() {
                if configured { s.0 += 1 } else { s.1 += 1 }
            }
            prop_assert_eq!(
                diff.code,
                if configured { 1 } else { 0 },
                "diff said {} but apply said {}:\n{}\n{}",
                diff.code,
                if configured {
                    "configured"
                } else {
                    "unchanged"
                },
                diff.stdout,
                manifest(&v)
            );
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let (configured, unchanged) = *seen.lock().expect("counts");
    assert!(
        configured > 0 && unchanged > 0,
        "the generated changes must include both outcomes: {configured} configured, {unchanged} unchanged"
    );
}
