//! Sets that upgrade their own CRDs (an operator's bundle, a chart's `crds/`) against the real
//! control plane: custom resources are checked against the schema the same run installs, and
//! CRD changes that would break stored objects are refused before anything is applied.

mod harness;

use harness::binary::{Ctx, config_map};
use kpush_testenv::helm::{HelmMajor, helm};

const SEALED_SECRETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/crd-upgrade");

/// A namespaced CRD `<plural>.<group>` of kind `kind` in v1 whose `spec` has `fields` (all
/// strings) and requires `required`.
fn crd(group: &str, kind: &str, plural: &str, fields: &[&str], required: &[&str]) -> String {
    let props: String = fields
        .iter()
        .map(|f| format!("                {f}: {{type: string}}\n"))
        .collect();
    let req = match required.is_empty() {
        true => String::new(),
        false => format!("              required: [{}]\n", required.join(", ")),
    };
    format!(
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: {plural}, singular: {singular}, kind: {kind}}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
{req}              properties:
{props}",
        singular = kind.to_lowercase(),
    )
}

/// A custom resource of `group`/v1 `kind` named `name` whose spec sets `fields` (name, value).
fn custom(group: &str, kind: &str, name: &str, fields: &[(&str, &str)]) -> String {
    let spec: String = fields
        .iter()
        .map(|(k, v)| format!("  {k}: {v}\n"))
        .collect();
    format!("apiVersion: {group}/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

fn dir(ctx: &Ctx) -> String {
    ctx.path().display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crd_extended_by_a_field_and_a_resource_using_it_apply_in_one_run() {
    let ctx = Ctx::new("crd-two-step").await;
    let group = "twostep.example.com";
    ctx.write("crd.yaml", &crd(group, "Gadget", "gadgets", &["a"], &[]));
    ctx.write(
        "gadget.yaml",
        &custom(group, "Gadget", "g", &[("a", "one")]),
    );
    ctx.kpush(&["apply", &dir(&ctx), "--wait=false"])
        .expect_code(0);

    ctx.write(
        "crd.yaml",
        &crd(group, "Gadget", "gadgets", &["a", "b"], &[]),
    );
    ctx.write(
        "gadget.yaml",
        &custom(group, "Gadget", "g", &[("a", "one"), ("b", "two")]),
    );
    let run = ctx.kpush(&["apply", &dir(&ctx), "--wait=false"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("configured CustomResourceDefinition gadgets.twostep.example.com")
            || run
                .stderr
                .contains("configured  CustomResourceDefinition gadgets.twostep.example.com"),
        "{}",
        run.stderr
    );
    let g = ctx
        .get(&ctx.grouped(&format!("{group}/v1"), "gadgets", "g"))
        .await
        .expect("gadget exists");
    assert_eq!(g["spec"]["b"], "two", "{g}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misspelled_field_against_the_new_crd_is_refused_after_the_crd_wave_naming_file_line() {
    let ctx = Ctx::new("crd-misspelled").await;
    let group = "misspelled.example.com";
    ctx.write("crd.yaml", &crd(group, "Gizmo", "gizmos", &["a"], &[]));
    ctx.write("gizmo.yaml", &custom(group, "Gizmo", "g", &[("a", "one")]));
    ctx.kpush(&["apply", &dir(&ctx), "--wait=false"])
        .expect_code(0);

    ctx.write("crd.yaml", &crd(group, "Gizmo", "gizmos", &["a", "b"], &[]));
    ctx.write(
        "gizmo.yaml",
        &custom(group, "Gizmo", "g", &[("a", "one"), ("bb", "two")]),
    );
    ctx.write("settings.yaml", &config_map("settings", "x"));
    let run = ctx.kpush(&["apply", &dir(&ctx), "--wait=false"]);
    run.expect_code(3);
    let gizmo_yaml = ctx.path().join("gizmo.yaml").display().to_string();
    assert!(
        run.stderr.contains(&format!("{gizmo_yaml}:1")),
        "names file:line: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("does not declare spec.bb")
            && run.stderr.contains("declared there: a, b"),
        "the advice names the misspelling against the CRD in the set: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "applied before this check: CustomResourceDefinition gizmos.misspelled.example.com (configured); nothing else was applied"
        ),
        "{}",
        run.stderr
    );
    assert!(
        ctx.get(&ctx.core("configmaps", "settings")).await.is_none(),
        "a later wave was applied"
    );
    assert!(
        !run.stderr.contains("skipped    Gizmo"),
        "the rejected object is reported once, as rejected: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_bundle_upgraded_to_its_next_release_applies_and_prunes() {
    let ctx = Ctx::new("crd-bundle").await;
    let sealed = |name: &str, immutable: bool| {
        format!(
            "apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: {name}
spec:
  encryptedData:
    password: AgBy3i4OJSWK+PiTySYZZA==
  template:
    type: Opaque{}
",
            if immutable {
                "\n    immutable: true"
            } else {
                ""
            }
        )
    };
    let release = |v: &str| {
        std::fs::read_to_string(format!(
            "{SEALED_SECRETS}/sealed-secrets-{v}/bitnami.com_sealedsecrets.yaml"
        ))
        .expect("fixture")
    };
    ctx.write("crds.yaml", &release("v0.24.5"));
    ctx.write("db.yaml", &sealed("db", false));
    ctx.write("cache.yaml", &sealed("cache", false));
    let args = [
        "apply",
        &dir(&ctx),
        "--applyset",
        "bundle",
        "--prune",
        "--wait=false",
    ];
    ctx.kpush(&args).expect_code(0);

    // The next release: its CRD adds spec.template.immutable, which db now sets; cache is gone.
    ctx.write("crds.yaml", &release("v0.25.0"));
    ctx.write("db.yaml", &sealed("db", true));
    ctx.remove("cache.yaml");
    let run = ctx.kpush(&args);
    run.expect_code(0);
    let db = ctx
        .get(&ctx.grouped("bitnami.com/v1alpha1", "sealedsecrets", "db"))
        .await
        .expect("db exists");
    assert_eq!(db["spec"]["template"]["immutable"], true, "{db}");
    assert!(
        ctx.get(&ctx.grouped("bitnami.com/v1alpha1", "sealedsecrets", "cache"))
            .await
            .is_none(),
        "cache was pruned: {}",
        run.stderr
    );
}

fn write_chart(ctx: &Ctx, version: &str, crd_fields: &[&str], spec: &[(&str, &str)]) -> String {
    let group = "chart.example.com";
    ctx.write(
        "widgets/Chart.yaml",
        &format!("apiVersion: v2\nname: widgets\nversion: {version}\n"),
    );
    ctx.write(
        "widgets/crds/widgets.yaml",
        &crd(group, "Widget", "widgets", crd_fields, &[]),
    );
    ctx.write(
        "widgets/templates/widget.yaml",
        &custom(group, "Widget", "{{ .Release.Name }}-main", spec),
    );
    ctx.path().join("widgets").display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chart_whose_crds_changed_between_versions_upgrades() {
    let ctx = Ctx::new("crd-chart").await;
    let helm = helm(HelmMajor::V3)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .display()
        .to_string();
    let chart = write_chart(&ctx, "1.0.0", &["size"], &[("size", "small")]);
    ctx.kpush(&[
        "apply",
        &chart,
        "--helm",
        &helm,
        "--applyset",
        "w",
        "--wait=false",
    ])
    .expect_code(0);

    let chart = write_chart(
        &ctx,
        "2.0.0",
        &["size", "colour"],
        &[("size", "small"), ("colour", "blue")],
    );
    let run = ctx.kpush(&[
        "apply",
        &chart,
        "--helm",
        &helm,
        "--applyset",
        "w",
        "--wait=false",
    ]);
    run.expect_code(0);
    let w = ctx
        .get(&ctx.grouped("chart.example.com/v1", "widgets", "w-main"))
        .await
        .expect("widget exists");
    assert_eq!(w["spec"]["colour"], "blue", "{w}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crd_making_a_field_required_that_stored_objects_lack_is_refused_before_anything_is_applied()
 {
    let ctx = Ctx::new("crd-required").await;
    let group = "required.example.com";
    ctx.write(
        "crd.yaml",
        &crd(group, "Doohickey", "doohickeys", &["a"], &[]),
    );
    ctx.write(
        "old.yaml",
        &custom(group, "Doohickey", "old", &[("a", "one")]),
    );
    ctx.kpush(&["apply", &dir(&ctx), "--wait=false"])
        .expect_code(0);

    // The next set no longer holds `old` (it stays stored) and makes spec.size required.
    ctx.remove("old.yaml");
    ctx.write(
        "crd.yaml",
        &crd(group, "Doohickey", "doohickeys", &["a", "size"], &["size"]),
    );
    ctx.write(
        "new.yaml",
        &custom(group, "Doohickey", "new", &[("a", "two"), ("size", "big")]),
    );
    ctx.write("settings.yaml", &config_map("settings", "x"));
    let run = ctx.kpush(&["apply", &dir(&ctx), "--wait=false"]);
    run.expect_code(3);
    let crd_yaml = ctx.path().join("crd.yaml").display().to_string();
    assert!(
        run.stderr.contains(&format!("{crd_yaml}:1"))
            && run.stderr.contains("makes spec.size required in v1")
            && run.stderr.contains("crd-required/old")
            && run.stderr.contains("spec.size: Required value"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    let live = ctx
        .get(&format!(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/doohickeys.{group}"
        ))
        .await
        .expect("crd exists");
    assert!(
        live.pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec/required")
            .is_none(),
        "the CRD was not changed: {live}"
    );
    assert!(ctx.get(&ctx.core("configmaps", "settings")).await.is_none());
    assert!(
        ctx.get(&ctx.grouped(&format!("{group}/v1"), "doohickeys", "new"))
            .await
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crd_dropping_a_stored_version_is_refused_at_preflight_saying_how_to_migrate() {
    let ctx = Ctx::new("crd-stored").await;
    let group = "stored.example.com";
    let with_versions = |versions: &[&str]| {
        let vs: String = versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "    - name: {v}
      served: true
      storage: {}
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
",
                    i + 1 == versions.len()
                )
            })
            .collect();
        format!(
            "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: thingies.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: thingies, singular: thingy, kind: Thingy}}
  versions:
{vs}"
        )
    };
    ctx.write("crd.yaml", &with_versions(&["v1alpha1"]));
    ctx.write(
        "thingy.yaml",
        &format!("apiVersion: {group}/v1alpha1\nkind: Thingy\nmetadata:\n  name: t\nspec: {{}}\n"),
    );
    ctx.kpush(&["apply", &dir(&ctx), "--wait=false"])
        .expect_code(0);

    ctx.write("crd.yaml", &with_versions(&["v1"]));
    ctx.write(
        "thingy.yaml",
        &format!("apiVersion: {group}/v1\nkind: Thingy\nmetadata:\n  name: t\nspec: {{}}\n"),
    );
    let run = ctx.kpush(&["apply", &dir(&ctx), "--wait=false"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("status.storedVersions")
            && run.stderr.contains("keep v1alpha1 in spec.versions")
            && run.stderr.contains("nothing was applied"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_shows_the_crd_change_and_its_resources_saying_what_it_could_not_check() {
    let ctx = Ctx::new("crd-diff").await;
    let group = "diff.example.com";
    ctx.write("crd.yaml", &crd(group, "Doodad", "doodads", &["a"], &[]));
    ctx.write(
        "doodad.yaml",
        &custom(group, "Doodad", "d", &[("a", "one")]),
    );
    ctx.write("plain.yaml", &custom(group, "Doodad", "p", &[("a", "one")]));
    ctx.kpush(&["apply", &dir(&ctx), "--wait=false"])
        .expect_code(0);

    ctx.write(
        "crd.yaml",
        &crd(group, "Doodad", "doodads", &["a", "b"], &[]),
    );
    ctx.write(
        "doodad.yaml",
        &custom(group, "Doodad", "d", &[("a", "one"), ("b", "two")]),
    );
    ctx.write(
        "plain.yaml",
        &custom(group, "Doodad", "p", &[("a", "three")]),
    );
    let run = ctx.kpush(&["diff", &dir(&ctx)]);
    run.expect_code(1);
    let out = &run.stdout;
    assert!(
        out.contains("CustomResourceDefinition doodads.diff.example.com")
            && out.contains("+              b:"),
        "the CRD change is shown: {out}"
    );
    assert!(
        out.contains("Doodad crd-diff/d")
            && out.contains("not dry-run: the cluster's current schema does not declare .spec.b")
            && out.contains("+  b: two"),
        "the resource using the new field is shown as written, saying why: {out}"
    );
    assert!(
        out.contains("Doodad crd-diff/p")
            && out.contains("dry-run against the cluster's current schema")
            && out.contains("+  a: three"),
        "{out}"
    );
}

fn kubectl(ctx: &Ctx, args: &[&str]) {
    let kubectl = ctx
        .cluster
        .kubectl()
        .expect("kubectl is built with the control plane");
    let out = std::process::Command::new(kubectl)
        .args(args)
        .arg("--kubeconfig")
        .arg(ctx.cluster.kubeconfig_path("admin"))
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_breaking_change_check_the_identity_may_not_make_warns_and_the_upgrade_applies() {
    let ctx = Ctx::new("crd-least").await;
    let group = "least.example.com";
    ctx.write("crd.yaml", &crd(group, "Thing", "things", &["a"], &[]));
    ctx.write("thing.yaml", &custom(group, "Thing", "t", &[("a", "one")]));
    ctx.kpush(&["apply", &dir(&ctx), "--wait=false"])
        .expect_code(0);

    // The upgrade makes spec.size required and gives the one object it; bob holds exactly
    // what `kpush rbac` says the apply needs (not a list of Things in every namespace).
    ctx.write(
        "crd.yaml",
        &crd(group, "Thing", "things", &["a", "size"], &["size"]),
    );
    ctx.write(
        "thing.yaml",
        &custom(group, "Thing", "t", &[("a", "one"), ("size", "big")]),
    );
    let rbac = ctx.kpush(&[
        "rbac",
        &dir(&ctx),
        "--subject",
        "user:bob",
        "--name",
        "crd-least",
        "--wait=false",
    ]);
    rbac.expect_code(0);
    let side = tempfile::tempdir().expect("temp dir");
    let roles = side.path().join("roles.yaml");
    std::fs::write(&roles, &rbac.stdout).expect("write roles");
    kubectl(&ctx, &["apply", "-f", &roles.display().to_string()]);

    let run = ctx.kpush_as("bob", &["apply", &dir(&ctx), "--wait=false"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("not checked whether this CRD change breaks stored objects")
            && run.stderr.contains("whether stored objects lack spec.size"),
        "{}",
        run.stderr
    );
    let t = ctx
        .get(&ctx.grouped(&format!("{group}/v1"), "things", "t"))
        .await
        .expect("thing exists");
    assert_eq!(t["spec"]["size"], "big", "{t}");
}
