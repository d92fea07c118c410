//! Strategic merge tests: kustomize's own cases (ported by scripts/port-kustomize-patch-tests.py
//! into testdata/, Apache-2.0, each naming its source test) and cases checked against
//! `kubectl kustomize` (kustomize v5.5.0).

use serde_json::{Value, json};

use super::*;

#[derive(serde::Deserialize)]
struct Fixture {
    commit: String,
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    source: String,
    patch: String,
    dest: String,
    expected: String,
    prepend: bool,
    #[serde(default)]
    skip: Option<String>,
}

fn docs(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

fn run_fixture(json: &str) -> usize {
    let fixture: Fixture = serde_json::from_str(json).unwrap();
    assert_eq!(fixture.commit.len(), 40);
    let mut ran = 0;
    let mut failures = Vec::new();
    for case in &fixture.cases {
        if case.skip.is_some() {
            continue;
        }
        let patch = docs(&case.patch).into_iter().next().unwrap_or(Value::Null);
        let mut actual = Vec::new();
        let mut error = None;
        for mut d in docs(&case.dest) {
            match merge(&mut d, &patch, case.prepend, None) {
                Ok(()) if d.is_null() => {}
                Ok(()) => actual.push(d),
                Err(e) => error = Some(e),
            }
        }
        let expected = docs(&case.expected);
        ran += 1;
        if let Some(e) = error {
            failures.push(format!("{}: error {e}", case.source));
        } else if actual != expected {
            failures.push(format!(
                "{}:\n  expected {}\n  actual   {}",
                case.source,
                serde_json::to_string(&expected).unwrap(),
                serde_json::to_string(&actual).unwrap()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    ran
}

#[test]
fn kyaml_merge2_cases_pass() {
    let ran = run_fixture(include_str!("../testdata/kyaml-merge2.json"));
    assert!(ran >= 55, "{ran}");
}

#[test]
fn kustomize_patchstrategicmerge_filter_cases_pass() {
    let ran = run_fixture(include_str!("../testdata/kustomize-psm.json"));
    assert!(ran >= 20, "{ran}");
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "finalizers": ["a", "b"]},
        "spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "A",
             "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
             "ports": [{"containerPort": 80}, {"containerPort": 81, "protocol": "UDP"},
                       {"containerPort": 90, "protocol": "TCP"}]},
            {"name": "b", "image": "B", "args": ["x", "y"]}
        ]}}}
    })
}

fn patched(patch: Value) -> Value {
    let mut d = deployment();
    strategic_merge(&mut d, &patch).unwrap_or_else(|e| panic!("{e}"));
    d
}

fn containers(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]["containers"]
}

// Checked with `kubectl kustomize` (v5.5.0): patched items move first, new ones are added
// before the rest, ports merge on containerPort+protocol (and a port without protocol in the
// patch does not reach a port with one).
#[test]
fn patched_and_new_items_come_first_as_in_kustomize() {
    let out = patched(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "b", "image": "B2"}, {"name": "c", "image": "C"}
        ]}}}
    }));
    let names: Vec<&str> = containers(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "c", "a"]);
    assert_eq!(
        containers(&out)[0],
        json!({"name": "b", "image": "B2", "args": ["x", "y"]})
    );
}

#[test]
fn ports_merge_on_container_port_and_protocol_as_in_kustomize() {
    let out = patched(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "finalizers": ["c", "a"]},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "ports": [
            {"containerPort": 81, "protocol": "UDP", "name": "u"},
            {"containerPort": 82},
            {"containerPort": 90, "name": "n"}
        ]}]}}}
    }));
    assert_eq!(
        containers(&out)[0]["ports"],
        json!([
            {"containerPort": 82},
            {"containerPort": 80},
            {"containerPort": 81, "protocol": "UDP", "name": "u"},
            {"containerPort": 90, "protocol": "TCP"}
        ])
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
}

#[test]
fn null_deletes_and_patch_directives_apply() {
    let out = patched(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": null, "env": [{"name": "X", "$patch": "delete"}]},
            {"name": "b", "$patch": "delete"}
        ]}}}
    }));
    assert_eq!(
        containers(&out),
        &json!([{"name": "a", "env": [{"name": "Y", "value": "2"}],
                 "ports": [{"containerPort": 80}, {"containerPort": 81, "protocol": "UDP"},
                           {"containerPort": 90, "protocol": "TCP"}]}])
    );
    let out = patched(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "z", "image": "Z"}]}}}
    }));
    assert_eq!(containers(&out), &json!([{"name": "z", "image": "Z"}]));
    let out = patched(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"$patch": "replace", "spec": {"containers": [{"name": "z"}]}}}
    }));
    assert_eq!(
        out["spec"]["template"],
        json!({"spec": {"containers": [{"name": "z"}]}})
    );
    let out = patched(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                             "metadata": {"name": "d"}, "$patch": "delete"}));
    assert!(out.is_null());
}

#[test]
fn lists_of_custom_resources_and_unkeyed_lists_are_replaced() {
    let mut cr = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                        "spec": {"containers": [{"name": "a", "image": "A"}], "args": [1, 2]}});
    strategic_merge(
        &mut cr,
        &json!({"spec": {"containers": [{"name": "b"}], "args": [3]}}),
    )
    .unwrap();
    assert_eq!(
        cr["spec"],
        json!({"containers": [{"name": "b"}], "args": [3]})
    );
    let out = patched(
        json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "args": ["z"]}]}}}}),
    );
    assert_eq!(containers(&out)[0]["args"], json!(["z"]));
}

#[test]
fn kubernetes_directives_kustomize_does_not_know_are_applied() {
    let out = patched(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "B2",
                            "$deleteFromPrimitiveList/args": ["x"]},
                           {"name": "a", "$retainKeys": ["name", "image"], "image": "A2"}]
        }}}
    }));
    assert_eq!(
        containers(&out),
        &json!([{"name": "a", "image": "A2"}, {"name": "b", "image": "B2", "args": ["y"]}])
    );
}

#[test]
fn type_mismatches_name_the_field() {
    let mut d = deployment();
    let err = strategic_merge(
        &mut d,
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "ports": {"$patch": "replace"}}]}}}}),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("spec.template.spec.containers.[name=a].ports"),
        "{msg}"
    );
    assert!(
        msg.contains("expected SequenceNode but got MappingNode"),
        "{msg}"
    );
    let err = strategic_merge(&mut deployment(), &json!({"spec": {"$patch": "frob"}})).unwrap_err();
    assert!(
        err.to_string().contains("unknown patch strategy 'frob'"),
        "{err}"
    );
}

#[test]
fn retired_api_versions_still_merge_by_key() {
    let mut d = deployment();
    d["apiVersion"] = json!("extensions/v1beta1");
    strategic_merge(
        &mut d,
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "B2"}]}}}}),
    )
    .unwrap();
    assert_eq!(containers(&d).as_array().unwrap().len(), 2);
}

// kustomize drops an empty value (`annotations:`, common in Helm-rendered manifests) that the
// patch does not mention, and keeps an explicit null; kpush does the first for built-in kinds
// and the second for custom resources (kustomize's "should retain existing null values in
// targets", a HelmRelease).
#[test]
fn nulls_the_patch_does_not_mention_go_in_builtin_kinds_and_stay_in_custom_resources() {
    let mut svc = json!({"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": "s", "annotations": null}, "spec": {"type": "ClusterIP"}});
    strategic_merge(&mut svc, &json!({"spec": {"type": "NodePort"}})).unwrap();
    assert_eq!(
        svc,
        json!({"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": "s"}, "spec": {"type": "NodePort"}})
    );
    let mut hr = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                        "metadata": {"name": "h"}, "spec": {"values": {"replicaCount": null}}});
    strategic_merge(&mut hr, &json!({"spec": {"values": {"x": 1}}})).unwrap();
    assert_eq!(hr["spec"]["values"], json!({"replicaCount": null, "x": 1}));
}

// kustomize api/krusty TestCustomOpenApiFieldBasicUsage (Apache-2.0): a user's OpenAPI
// document gives a custom resource merge keys, partly through Kubernetes' own definitions.
#[test]
fn a_users_openapi_document_gives_custom_resources_merge_keys() {
    let doc = json!({"definitions": {
        "v1alpha1.MyCRD": {
            "properties": {"spec": {"properties": {"template": {
                "$ref": "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"}}, "type": "object"}},
            "type": "object",
            "x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "MyCRD", "version": "v1alpha1"}]
        },
        "io.k8s.api.core.v1.PodTemplateSpec": {"properties": {
            "spec": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}}, "type": "object"},
        "io.k8s.api.core.v1.PodSpec": {"properties": {"containers": {
            "items": {"$ref": "#/definitions/io.k8s.api.core.v1.Container"}, "type": "array",
            "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}},
            "type": "object"}
    }});
    let schema = OpenApiSchema::from_document(&doc).unwrap();
    let cr = json!({"apiVersion": "example.com/v1alpha1", "kind": "MyCRD", "metadata": {"name": "service"},
                    "spec": {"template": {"spec": {"containers": [
                        {"name": "server", "image": "server", "command": "example",
                         "ports": [{"name": "grpc", "protocol": "TCP", "containerPort": 8080}]}]}}}});
    let patch = json!({"apiVersion": "example.com/v1alpha1", "kind": "MyCRD", "metadata": {"name": "service"},
                       "spec": {"template": {"spec": {"containers": [{"name": "server", "image": "nginx"}]}}}});
    let mut with = cr.clone();
    strategic_merge_with(&mut with, &patch, Some(&schema)).unwrap();
    assert_eq!(
        with["spec"]["template"]["spec"]["containers"],
        json!([{"name": "server", "image": "nginx", "command": "example",
                "ports": [{"name": "grpc", "protocol": "TCP", "containerPort": 8080}]}])
    );
    let mut without = cr;
    strategic_merge(&mut without, &patch).unwrap();
    assert_eq!(
        without["spec"]["template"]["spec"]["containers"],
        json!([{"name": "server", "image": "nginx"}])
    );
    // The document's own PodTemplateSpec lacks metadata; Kubernetes' PodSpec fills in nothing
    // it did not ask for, and a definition it names but lacks comes from the built-in table.
    let doc = json!({"definitions": {"v1.Thing": {
        "properties": {"spec": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}},
        "x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Thing", "version": "v1"}]}}});
    let schema = OpenApiSchema::from_document(&doc).unwrap();
    let mut thing = json!({"apiVersion": "example.com/v1", "kind": "Thing",
                           "spec": {"volumes": [{"name": "a", "emptyDir": {}}]}});
    strategic_merge_with(
        &mut thing,
        &json!({"spec": {"volumes": [{"name": "b", "emptyDir": {}}]}}),
        Some(&schema),
    )
    .unwrap();
    assert_eq!(thing["spec"]["volumes"].as_array().unwrap().len(), 2);
    assert!(OpenApiSchema::from_document(&json!({"openapi": "3"})).is_err());
    let yaml = "definitions:\n  v1.Thing:\n    x-kubernetes-group-version-kind:\n    - {group: example.com, kind: Thing, version: v1}\n";
    let schema = OpenApiSchema::parse(yaml).unwrap();
    assert!(schema.for_object("example.com/v1", "Thing").is_some());
}
