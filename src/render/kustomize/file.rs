//! The kustomization file: its fields, each remembering its line, read with the plain-YAML budgets.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::KError;

/// A field value together with the 1-based line it was written on.
pub type Lined<T> = Spanned<T>;

/// Line of a spanned value.
pub fn line_of<T>(s: &Spanned<T>) -> u32 {
    s.referenced.line() as u32
}

/// `kustomization.yaml` as kustomize v5 defines it (`api/types/kustomization.go`).
///
/// Unknown fields are refused, as kustomize refuses them. Fields kpush does not implement are
/// read only so that [`Kustomization::unsupported`] can name them with their line.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Kustomization {
    pub api_version: Option<String>,
    pub kind: Option<Lined<String>>,
    pub metadata: Option<Value>,
    pub resources: Option<Vec<Lined<String>>>,
    pub bases: Option<Vec<Lined<String>>>,
    pub components: Option<Vec<Lined<String>>>,
    pub namespace: Option<Lined<String>>,
    pub name_prefix: Option<Lined<String>>,
    pub name_suffix: Option<Lined<String>>,
    pub common_labels: Option<Lined<BTreeMap<String, String>>>,
    pub labels: Option<Vec<Lined<Label>>>,
    pub common_annotations: Option<Lined<BTreeMap<String, String>>>,
    pub images: Option<Vec<Lined<Image>>>,
    pub image_tags: Option<Vec<Lined<Image>>>,
    pub replicas: Option<Vec<Lined<Replica>>>,
    pub config_map_generator: Option<Vec<Lined<GeneratorArgs>>>,
    pub secret_generator: Option<Vec<Lined<GeneratorArgs>>>,
    pub generator_options: Option<GeneratorOptions>,
    pub patches: Option<Vec<Lined<Value>>>,
    pub patches_strategic_merge: Option<Vec<Lined<String>>>,
    pub patches_json6902: Option<Vec<Lined<Value>>>,
    pub replacements: Option<Vec<Lined<Value>>>,
    pub vars: Option<Vec<Lined<Value>>>,
    pub sort_options: Option<Lined<SortOptions>>,
    // Read only to be refused with their line.
    pub openapi: Option<Lined<Value>>,
    pub crds: Option<Lined<Value>>,
    pub helm_globals: Option<Lined<HelmGlobals>>,
    pub helm_charts: Option<Vec<Lined<HelmChart>>>,
    pub helm_chart_inflation_generator: Option<Vec<Lined<HelmChartArgs>>>,
    pub configurations: Option<Vec<Lined<String>>>,
    pub generators: Option<Lined<Value>>,
    pub transformers: Option<Lined<Value>>,
    pub validators: Option<Lined<Value>>,
    pub build_metadata: Option<Lined<Value>>,
    /// Line of each top-level key (a block value's span starts on the line below its key).
    #[serde(skip)]
    pub key_lines: BTreeMap<String, u32>,
}

/// `helmGlobals` (kustomize's `types.HelmGlobals`).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmGlobals {
    /// Directory (relative to the kustomization) holding one directory per chart; `charts`.
    #[serde(default)]
    pub chart_home: String,
    /// helm's configuration directory; kpush refuses it (it uses a fresh one).
    #[serde(default)]
    pub config_home: String,
}

/// An entry of `helmCharts` (kustomize's `types.HelmChart`).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmChart {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub repo: String,
    #[serde(default)]
    pub release_name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub additional_values_files: Vec<String>,
    #[serde(default)]
    pub values_file: String,
    #[serde(default)]
    pub values_inline: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    pub values_merge: String,
    #[serde(default, rename = "includeCRDs")]
    pub include_crds: bool,
    #[serde(default)]
    pub skip_hooks: bool,
    #[serde(default)]
    pub api_versions: Vec<String>,
    #[serde(default)]
    pub kube_version: String,
    #[serde(default)]
    pub name_template: String,
    #[serde(default)]
    pub skip_tests: bool,
    #[serde(default)]
    pub debug: bool,
    #[serde(default)]
    pub devel: bool,
}

/// An entry of the deprecated `helmChartInflationGenerator` (kustomize's `types.HelmChartArgs`),
/// which kustomize turns into `helmCharts` and `helmGlobals`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmChartArgs {
    #[serde(default)]
    pub chart_name: String,
    #[serde(default)]
    pub chart_version: String,
    #[serde(default)]
    pub chart_repo_url: String,
    #[serde(default)]
    pub chart_home: String,
    #[serde(default)]
    pub chart_repo_name: String,
    /// Ignored, as kustomize ignores it (kpush runs its own helm).
    #[serde(default)]
    pub helm_bin: String,
    #[serde(default)]
    pub helm_home: String,
    #[serde(default)]
    pub values: String,
    #[serde(default)]
    pub values_local: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    pub values_merge: String,
    #[serde(default)]
    pub release_name: String,
    /// Ignored, as kustomize ignores it.
    #[serde(default)]
    pub release_namespace: String,
    /// Ignored, as kustomize ignores it.
    #[serde(default)]
    pub extra_args: Vec<String>,
}

impl HelmChartArgs {
    /// kustomize's `makeHelmChartFromHca`.
    pub fn to_chart(&self) -> HelmChart {
        HelmChart {
            name: self.chart_name.clone(),
            version: self.chart_version.clone(),
            repo: self.chart_repo_url.clone(),
            values_file: self.values.clone(),
            values_inline: self.values_local.clone(),
            values_merge: self.values_merge.clone(),
            release_name: self.release_name.clone(),
            ..Default::default()
        }
    }
}

/// An entry of `labels`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Label {
    #[serde(default)]
    pub pairs: BTreeMap<String, String>,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    #[serde(default)]
    pub fields: Vec<FieldSpecArgs>,
}

/// A field spec written in a kustomization (`labels[].fields`).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldSpecArgs {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    pub path: String,
    #[serde(default)]
    pub create: bool,
}

/// An entry of `images`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub new_name: String,
    #[serde(default)]
    pub new_tag: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub tag_suffix: String,
}

/// An entry of `replicas`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Replica {
    pub name: String,
    pub count: i64,
}

/// An entry of `configMapGenerator` or `secretGenerator`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratorArgs {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub behavior: String,
    #[serde(default)]
    pub literals: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub envs: Vec<String>,
    #[serde(default)]
    pub env: String,
    pub options: Option<GeneratorOptions>,
    /// Secret type (secretGenerator only).
    #[serde(default, rename = "type")]
    pub type_: String,
}

/// `generatorOptions`, or a generator's `options`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratorOptions {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub disable_name_suffix_hash: Option<bool>,
    pub immutable: Option<bool>,
}

impl GeneratorOptions {
    /// kustomize's `MergeGlobalOptionsIntoLocal`: local keys win, global switches turn on.
    pub fn merged(local: Option<&GeneratorOptions>, global: Option<&GeneratorOptions>) -> Self {
        let mut out = local.cloned().unwrap_or_default();
        if let Some(g) = global {
            for (k, v) in &g.labels {
                out.labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (k, v) in &g.annotations {
                out.annotations
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
            if g.disable_name_suffix_hash == Some(true) {
                out.disable_name_suffix_hash = Some(true);
            }
            if g.immutable == Some(true) {
                out.immutable = Some(true);
            }
        }
        out
    }
}

/// `sortOptions`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SortOptions {
    pub order: String,
    pub legacy_sort_options: Option<LegacySortOptions>,
}

/// `sortOptions.legacySortOptions`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegacySortOptions {
    #[serde(default)]
    pub order_first: Vec<String>,
    #[serde(default)]
    pub order_last: Vec<String>,
}

impl Kustomization {
    /// Parses a kustomization file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, KError> {
        if text.trim().is_empty() {
            return Err(KError::new(
                file,
                0,
                "the kustomization file is empty; list `resources:` (or delete the file)",
            ));
        }
        // kustomize reads the file through JSON: keys match fields whatever their case, and a
        // repeated key keeps its last value.
        let text = &normalize_key_case(text);
        let mut opts = super::super::documents::yaml_options();
        opts.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
        let mut k =
            serde_saphyr::from_str_with_options::<Kustomization>(text, opts).map_err(|e| {
                let line = e.location().map(|l| l.line() as u32).unwrap_or(0);
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or(&msg).to_string();
                let first = match first.find(" at line ") {
                    Some(p) => first[..p].to_string(),
                    None => first,
                };
                KError::new(
                    file,
                    line,
                    format!(
                        "invalid kustomization: {first}; see \
                     https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/"
                    ),
                )
            })?;
        for (i, line) in text.lines().enumerate() {
            let starts_key = line
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '"' || c == '\'');
            if let Some((key, _)) = line.split_once(':').filter(|_| starts_key) {
                let key = key.trim().trim_matches(['"', '\'']);
                k.key_lines.entry(key.to_string()).or_insert(i as u32 + 1);
            }
        }
        Ok(k)
    }

    /// kustomize's `EnforceFields`: the kind and the apiVersion that goes with it.
    pub fn enforce_fields(&self, file: &str) -> Result<(), KError> {
        let kind = self.kind.as_ref().map(|k| k.value.as_str()).unwrap_or("");
        if !matches!(kind, "" | "Kustomization" | "Component") {
            return Err(KError::new(
                file,
                self.key_line("kind", 0),
                "kind should be Kustomization or Component",
            ));
        }
        let required = if kind == "Component" {
            "kustomize.config.k8s.io/v1alpha1"
        } else {
            "kustomize.config.k8s.io/v1beta1"
        };
        match self.api_version.as_deref() {
            Some(v) if !v.is_empty() && v != required => Err(KError::new(
                file,
                self.key_line("apiVersion", 0),
                format!(
                    "apiVersion for {} should be {required}",
                    if kind.is_empty() {
                        "Kustomization"
                    } else {
                        kind
                    }
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Line of the top-level `key`, else `fallback`.
    pub fn key_line(&self, key: &str, fallback: u32) -> u32 {
        self.key_lines.get(key).copied().unwrap_or(fallback)
    }

    /// The first field set that kpush does not implement, with its line.
    pub fn unsupported(&self) -> Option<(&'static str, u32, &'static str)> {
        if let Some(o) = &self.openapi {
            let only_path = o
                .value
                .as_object()
                .is_some_and(|m| m.keys().all(|k| k == "path"));
            if !only_path {
                return Some((
                    "openapi",
                    self.key_line("openapi", line_of(o)),
                    "only `openapi: {path: FILE}` is supported (kpush has Kubernetes' own merge \
                     keys built in; `version` is not read)",
                ));
            }
        }
        let fields: [(&str, &Option<Lined<Value>>, &str); 5] = [
            (
                "crds",
                &self.crds,
                "custom resource field specs from CRD files are not supported",
            ),
            (
                "generators",
                &self.generators,
                "generator plugins are not supported (kpush runs no plugins or functions)",
            ),
            (
                "transformers",
                &self.transformers,
                "transformer plugins are not supported (kpush runs no plugins or functions)",
            ),
            (
                "validators",
                &self.validators,
                "validator plugins are not supported (kpush runs no plugins or functions)",
            ),
            (
                "buildMetadata",
                &self.build_metadata,
                "kpush records provenance itself (`kpush render --summary`); remove buildMetadata",
            ),
        ];
        fields.into_iter().find_map(|(name, v, why)| {
            v.as_ref()
                .filter(|v| !is_empty_value(&v.value))
                .map(|v| (name, self.key_line(name, line_of(v)), why))
        })
    }
}

/// Top-level keys of kustomize's fields, as Go's JSON decoder matches them (case-insensitively).
const FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "imageTags",
    "replicas",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "replacements",
    "vars",
    "sortOptions",
    "openapi",
    "crds",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
];

/// Rewrites top-level keys written in another case (`nameprefix:`) to the field's spelling.
fn normalize_key_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let fixed = line
            .split_once(':')
            .filter(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()))
            .and_then(|(k, rest)| {
                FIELDS
                    .iter()
                    .find(|f| f.eq_ignore_ascii_case(k) && **f != k)
                    .map(|f| format!("{f}:{rest}"))
            });
        out.push_str(fixed.as_deref().unwrap_or(line));
    }
    out
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_lines() {
        let k = Kustomization::parse(
            "resources:\n- a.yaml\n- ../base\nnamePrefix: p-\n",
            "k.yaml",
        )
        .unwrap();
        let r = k.resources.unwrap();
        assert_eq!(line_of(&r[1]), 3);
        assert_eq!(line_of(k.name_prefix.as_ref().unwrap()), 4);
    }

    #[test]
    fn unknown_field_is_refused_with_its_line() {
        let e = Kustomization::parse("resources: []\nnamePrefx: p-\n", "k.yaml").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        assert!(e.message.contains("namePrefx"), "{e:?}");
    }

    #[test]
    fn keys_match_in_any_case_and_repeats_keep_the_last() {
        let k = Kustomization::parse("nameprefix: a-\nnamePrefix: b-\n", "k.yaml").unwrap();
        assert_eq!(k.name_prefix.unwrap().value, "b-");
    }

    #[test]
    fn helm_charts_entries_are_read_and_misspelled_fields_refused() {
        let k = Kustomization::parse(
            "helmGlobals:\n  chartHome: vendor\nhelmCharts:\n- name: web\n  includeCRDs: true\n  valuesInline:\n    a: 1\n",
            "k.yaml",
        )
        .unwrap();
        let c = &k.helm_charts.unwrap()[0];
        assert_eq!(line_of(c), 4);
        assert!(c.value.include_crds);
        assert_eq!(k.helm_globals.unwrap().value.chart_home, "vendor");
        let e = Kustomization::parse("helmCharts:\n- name: web\n  relaseName: w\n", "k.yaml")
            .unwrap_err();
        assert!(e.message.contains("relaseName"), "{e:?}");
        assert_eq!(e.line, 3, "{e:?}");
    }

    #[test]
    fn unsupported_field_is_named() {
        let k = Kustomization::parse("resources: []\ngenerators:\n- g.yaml\n", "k.yaml").unwrap();
        let (f, line, _) = k.unsupported().unwrap();
        assert_eq!((f, line), ("generators", 2));
    }
}
