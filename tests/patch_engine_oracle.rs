//! The patch engine (`kpush::render::patch`) against `kubectl kustomize` as the oracle: each
//! case is a set of resources and a kustomization using `patches`, `replacements` or `vars`;
//! the engine's objects must equal kubectl's, object by object.
//!
//! kubectl comes from the test control plane build (`kpush_testenv::locate`,
//! kustomize v5.7.1); `KPUSH_TEST_KUBECTL` overrides it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use kpush::render::patch::{
    self, PatchOptions, Replacement, Selector, Var, apply_patch, apply_replacements, bind_vars,
    parse_patch, resolve_vars, strip_internal_annotations, substitute_vars,
};
use serde::Deserialize;
use serde_json::Value;

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

#[derive(Deserialize, Default)]
#[serde(default)]
struct Kustomization {
    patches: Vec<PatchEntry>,
    replacements: Vec<Replacement>,
    vars: Vec<Var>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PatchEntry {
    patch: String,
    target: Option<Selector>,
    options: PatchOptions,
}

fn docs(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

/// Objects keyed by kind/namespace/name, for an order-free comparison.
fn keyed(objects: Vec<Value>) -> BTreeMap<String, Value> {
    objects
        .into_iter()
        .map(|o| {
            let key = format!(
                "{}/{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            );
            (key, o)
        })
        .collect()
}

/// What `kubectl kustomize` makes of the resources and kustomization fields.
fn oracle(resources: &str, kustomization: &str) -> Result<Vec<Value>, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("resources.yaml"), resources).expect("write resources");
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!("resources: [resources.yaml]\n{kustomization}"),
    )
    .expect("write kustomization");
    let out = Command::new(kubectl())
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", kubectl().display()));
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(docs(&String::from_utf8_lossy(&out.stdout)))
}

/// What the engine makes of them, in kustomize's order: vars bound, patches, replacements,
/// vars resolved and substituted, internal annotations removed.
fn engine(resources: &str, kustomization: &str) -> Result<Vec<Value>, String> {
    let k: Kustomization = serde_saphyr::from_str(kustomization).map_err(|e| e.to_string())?;
    let mut objects = docs(resources);
    let run = |objects: &mut Vec<Value>| -> Result<(), patch::PatchError> {
        bind_vars(objects, &k.vars)?;
        for p in &k.patches {
            let content = parse_patch(&p.patch)?;
            apply_patch(objects, &content, p.target.as_ref(), p.options)?;
            objects.retain(|o| !o.is_null());
        }
        apply_replacements(objects, &k.replacements)?;
        if !k.vars.is_empty() {
            let values = resolve_vars(objects, &k.vars)?;
            substitute_vars(objects, &values, &[])?;
        }
        Ok(())
    };
    run(&mut objects).map_err(|e| e.to_string())?;
    for o in &mut objects {
        strip_internal_annotations(o);
    }
    Ok(objects)
}

fn check(name: &str, resources: &str, kustomization: &str) {
    let want = oracle(resources, kustomization).unwrap_or_else(|e| panic!("{name}: kubectl: {e}"));
    let got = engine(resources, kustomization).unwrap_or_else(|e| panic!("{name}: engine: {e}"));
    let (want, got) = (keyed(want), keyed(got));
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "{name}: objects"
    );
    for (key, w) in &want {
        assert_eq!(
            w,
            &got[key],
            "{name}: {key}\nkubectl: {}\nengine:  {}",
            serde_json::to_string(w).unwrap_or_default(),
            serde_json::to_string(&got[key]).unwrap_or_default()
        );
    }
}

fn check_error(name: &str, resources: &str, kustomization: &str, needle: &str) {
    let want = oracle(resources, kustomization).expect_err(name);
    assert!(want.contains(needle), "{name}: kubectl said {want}");
    let got = engine(resources, kustomization).expect_err(name);
    assert!(got.contains(needle), "{name}: engine said {got}");
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
  annotations: {team: a, old: x}
  finalizers: [a, b]
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      tolerations: [{key: k1, operator: Exists}]
      hostAliases: [{ip: 10.0.0.1, hostnames: [a]}]
      imagePullSecrets: [{name: reg1}]
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}
      initContainers:
      - {name: init, image: busybox, command: [sh, -c, "true"]}
      containers:
      - name: app
        image: nginx:1.25
        args: [--port, "8080"]
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
        ports:
        - containerPort: 8080
        - containerPort: 9090
          protocol: UDP
        - {containerPort: 7070, protocol: TCP}
        volumeMounts: [{name: data, mountPath: /data}, {name: tmp, mountPath: /tmp}]
      - name: sidecar
        image: envoy:1
      volumes:
      - {name: data, emptyDir: {}}
      - {name: tmp, emptyDir: {}}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {tier: front}}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080, protocol: TCP}
  - {name: dns, port: 53, protocol: UDP}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: gadget, labels: {tier: back}}
spec:
  containers: [{name: a, image: A}, {name: b, image: B}]
  items: [1, 2, 3]
  nested: {x: 1, y: 2}
"#;

#[test]
fn strategic_merge_of_workload_lists_matches_kubectl() {
    check(
        "containers, env, ports, mounts, volumes",
        DEPLOYMENT,
        r#"
patches:
- patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      template:
        spec:
          containers:
          - name: sidecar
            image: envoy:2
          - name: new
            image: new:1
          - name: app
            env: [{name: B, value: "22"}, {name: C, value: "3"}]
            ports:
            - {containerPort: 9090, protocol: UDP, name: metrics}
            - {containerPort: 6060}
            - {containerPort: 7070, name: seven}
            volumeMounts: [{name: cache, mountPath: /cache}]
          volumes:
          - name: tmp
            configMap: {name: cm}
          - name: cache
            emptyDir: {medium: Memory}
"#,
    );
}

#[test]
fn strategic_merge_of_pod_spec_details_matches_kubectl() {
    check(
        "tolerations replaced, hostAliases by ip, pull secrets by name, spread by two keys",
        DEPLOYMENT,
        r#"
patches:
- patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, finalizers: [c, a]}
    spec:
      template:
        spec:
          tolerations: [{key: k2, operator: Exists}]
          hostAliases: [{ip: 10.0.0.2, hostnames: [b]}, {ip: 10.0.0.1, hostnames: [c]}]
          imagePullSecrets: [{name: reg2}]
          topologySpreadConstraints:
          - {maxSkew: 2, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}
          - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway}
          initContainers:
          - {name: init, command: [sh, -c, "echo"]}
"#,
    );
}

#[test]
fn directives_and_nulls_match_kubectl() {
    check(
        "$patch delete/replace, null",
        DEPLOYMENT,
        r#"
patches:
- patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      annotations: {old: null, new: z}
    spec:
      replicas: null
      template:
        spec:
          containers:
          - name: sidecar
            $patch: delete
          - name: app
            env:
            - {name: Z, value: "26"}
            - $patch: replace
            resources:
              $patch: replace
              limits: {cpu: "1"}
- patch: |
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec:
      ports:
      - {port: 53, protocol: UDP, targetPort: 5353}
      - {port: 443, protocol: TCP, name: https}
"#,
    );
}

#[test]
fn custom_resources_replace_lists_and_merge_maps_like_kubectl() {
    check(
        "custom resource",
        DEPLOYMENT,
        r#"
patches:
- target: {kind: Widget}
  patch: |
    apiVersion: example.com/v1
    kind: Widget
    metadata: {name: ignored}
    spec:
      containers: [{name: b, image: B2}]
      items: [4]
      nested: {y: null, z: 3}
"#,
    );
}

#[test]
fn targets_and_json_patches_match_kubectl() {
    check(
        "targets by regex and labels, JSON 6902, delete by target",
        DEPLOYMENT,
        r#"
patches:
- target: {kind: "Deploy.*|Service", name: "w.b"}
  patch: |
    kind: Whatever
    metadata: {name: anything, labels: {patched: "yes"}}
- target: {labelSelector: "tier in (front),tier!=back", kind: Service}
  patch: |
    - op: add
      path: /metadata/annotations
      value: {via: json}
    - op: replace
      path: /spec/ports/0/port
      value: 8080
    - op: copy
      from: /spec/selector
      path: /metadata/labels
    - op: remove
      path: /spec/ports/1
- target: {group: example.com, version: v1}
  patch: |-
    [{"op": "move", "from": "/spec/nested/x", "path": "/spec/x"},
     {"op": "test", "path": "/spec/items/0", "value": 1}]
- target: {annotationSelector: "team=a"}
  options: {allowNameChange: true}
  patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web-renamed}
"#,
    );
    check(
        "delete through a target",
        DEPLOYMENT,
        r#"
patches:
- target: {kind: Service}
  patch: |
    kind: Service
    metadata: {name: x}
    $patch: delete
"#,
    );
}

#[test]
fn patch_errors_match_kubectl() {
    check_error(
        "no target for the id",
        DEPLOYMENT,
        r#"
patches:
- patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: missing}
"#,
        "no matches for Id Deployment.v1.apps/missing.[noNs]",
    );
    check_error(
        "unknown directive",
        DEPLOYMENT,
        r#"
patches:
- patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec: {$patch: frob}
"#,
        "unknown patch strategy 'frob'",
    );
}

#[test]
fn replacements_match_kubectl() {
    check(
        "delimiter, index, create, reject, regex items",
        DEPLOYMENT,
        r#"
replacements:
- source:
    kind: Deployment
    name: web
    fieldPath: spec.template.spec.containers.[name=app].image
    options: {delimiter: ":", index: 1}
  targets:
  - select: {kind: Deployment}
    fieldPaths:
    - spec.template.spec.containers.[name=sidecar].image
    options: {delimiter: ":", index: 1}
  - select: {kind: Service}
    fieldPaths:
    - metadata.annotations.version
    - spec.ports.[name=http].name
    options: {create: true}
  - select: {labelSelector: "tier"}
    reject: [{kind: Service}, {labelSelector: "tier=back"}]
    fieldPaths: [metadata.labels.version]
    options: {create: true}
- source: {kind: Service, name: web, fieldPath: spec.ports.0.port}
  targets:
  - select: {kind: Deployment}
    fieldPaths:
    - spec.template.spec.containers.0.args.1
    - spec.template.spec.containers.[name=app].env.[name=A].value
  - select: {kind: Widget}
    fieldPaths: [spec.port, spec.items.1]
    options: {create: true}
"#,
    );
    check_error(
        "missing target field",
        DEPLOYMENT,
        r#"
replacements:
- source: {kind: Service, name: web}
  targets:
  - select: {kind: Deployment}
    fieldPaths: [spec.nope.x]
"#,
        r#"unable to find field "spec.nope.x" in replacement target"#,
    );
    check_error(
        "ambiguous source",
        DEPLOYMENT,
        r#"
replacements:
- source: {name: web}
  targets:
  - select: {kind: Deployment}
"#,
        "multiple matches for selector",
    );
}

#[test]
fn vars_match_kubectl() {
    check(
        "vars in command, env and labels",
        r#"
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels: {db: $(DB)}
spec:
  template:
    spec:
      containers:
      - name: c
        command: [run, "--db=$(DB):$(DB_PORT)", "$$(NOT_A_VAR)", "$(UNKNOWN)"]
        args: ["$(DB_PORT)"]
        env: [{name: PORT, value: "$(DB_PORT)"}, {name: HOST, value: "$(DB).svc"}]
"#,
        r#"
vars:
- name: DB
  objref: {apiVersion: v1, kind: Service, name: db}
- name: DB_PORT
  objref: {apiVersion: v1, kind: Service, name: db}
  fieldref:
    fieldpath: spec.ports[0].port
"#,
    );
}

const MORE: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  serviceName: db
  template:
    spec:
      containers:
      - name: pg
        image: postgres:16
        env:
        - {name: PGDATA, value: /var/lib/pg}
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: pg, key: password}}
        resources: {requests: {cpu: 100m}}
      volumes: [{name: shm, emptyDir: {medium: Memory}}, {name: cfg, configMap: {name: pg}}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: backup, image: tool:1, args: [--all]}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: a.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1", b: "2"}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
"#;

#[test]
fn common_overlay_patches_match_kubectl() {
    check(
        "statefulset, cronjob, ingress, configmap, hpa",
        MORE,
        r#"
patches:
- patch: |
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db, namespace: data}
    spec:
      template:
        spec:
          containers:
          - name: pg
            env:
            - name: PASSWORD
              valueFrom: {secretKeyRef: {name: pg-prod}}
            - {name: EXTRA, value: "x"}
            resources: {limits: {memory: 1Gi}}
          volumes:
          - name: cfg
            $patch: delete
      volumeClaimTemplates:
      - metadata: {name: data}
        spec: {resources: {requests: {storage: 10Gi}}}
- target: {kind: CronJob}
  patch: |
    kind: CronJob
    metadata: {name: x}
    spec:
      schedule: "*/5 * * * *"
      jobTemplate:
        spec:
          template:
            spec:
              containers: [{name: backup, args: [--incremental]}, {name: side, image: s:1}]
- target: {kind: Ingress}
  patch: |
    - {op: replace, path: /spec/rules/0/host, value: b.example.com}
    - {op: add, path: /spec/tls, value: [{hosts: [b.example.com], secretName: tls}]}
- patch: |
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
    data: {b: null, c: "3"}
- target: {kind: HorizontalPodAutoscaler, namespace: default}
  patch: |
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata: {name: web}
    spec:
      maxReplicas: 10
      metrics:
      - type: Resource
        resource: {name: memory, target: {type: Utilization, averageUtilization: 70}}
"#,
    );
    check(
        "namespace selectors: an object without namespace is in default",
        MORE,
        r#"
patches:
- target: {namespace: "def.*"}
  patch: |
    kind: Any
    metadata: {name: any, labels: {ns: default}}
- target: {namespace: data}
  patch: |
    kind: Any
    metadata: {name: any, labels: {ns: data}}
"#,
    );
}
