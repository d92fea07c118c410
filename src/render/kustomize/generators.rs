//! `configMapGenerator` and `secretGenerator` (kustomize's `api/internal/generators`, `api/kv`).

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::file::{GeneratorArgs, GeneratorOptions};
use super::resource::Behavior;

/// Which generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ConfigMap,
    Secret,
}

impl Kind {
    /// The kustomization field.
    pub fn field(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configMapGenerator",
            Kind::Secret => "secretGenerator",
        }
    }
}

/// Largest total data one generator may read (the API server refuses objects above ~1.5 MiB).
pub const MAX_GENERATED_BYTES: usize = 8 * 1024 * 1024;

/// A generated object and how it combines with an existing one.
pub struct Generated {
    pub object: Value,
    pub behavior: Behavior,
    pub needs_hash: bool,
}

/// Builds the object for one generator entry; `read` loads a file relative to the kustomization.
pub fn generate(
    kind: Kind,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
    read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) -> Result<Generated, String> {
    if args.name.is_empty() {
        return Err("a generator needs a `name`".to_string());
    }
    // kustomize's `NewGenerationBehavior`: any other word (`Merge` too: the match is exact) is
    // "unspecified", which behaves as `create`.
    let behavior = match args.behavior.as_str() {
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        _ => Behavior::Create,
    };
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut envs = args.envs.clone();
    if !args.env.is_empty() {
        envs.push(args.env.clone());
    }
    let mut total = 0usize;
    for env in &envs {
        let content = read(env)?;
        total += content.len();
        for (i, line) in content.split(|b| *b == b'\n').enumerate() {
            let line = std::str::from_utf8(line)
                .map_err(|_| format!("{env}: line {} is not valid UTF-8", i + 1))?;
            let line = if i == 0 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            let line = line.strip_suffix('\r').unwrap_or(line).trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            if !is_env_var_name(k) {
                return Err(format!(
                    "{env}: line {}: `{k}` is not a valid environment variable name",
                    i + 1
                ));
            }
            pairs.push((k.to_string(), v.as_bytes().to_vec()));
        }
    }
    for lit in &args.literals {
        let Some((k, v)) = lit.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("invalid literal `{lit}`: expected KEY=VALUE"));
        };
        pairs.push((k.to_string(), remove_quotes(v).as_bytes().to_vec()));
    }
    for f in &args.files {
        let (key, path) = parse_file_source(f)?;
        let content = read(&path)?;
        total += content.len();
        pairs.push((key, content));
    }
    if total > MAX_GENERATED_BYTES {
        return Err(format!(
            "the generator reads {} MiB of files; kpush refuses more than {} MiB (the API server \
             accepts objects of at most about 1.5 MiB)",
            total / 1024 / 1024,
            MAX_GENERATED_BYTES / 1024 / 1024
        ));
    }
    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (k, v) in pairs {
        if !is_config_key(&k) {
            return Err(format!(
                "`{k}` is not a valid key: use letters, digits, `-`, `_` and `.`"
            ));
        }
        if data.insert(k.clone(), v).is_some() {
            return Err(format!(
                "{} {} repeats the key `{k}`",
                kind_word(kind),
                args.name
            ));
        }
    }

    let opts = GeneratorOptions::merged(args.options.as_ref(), global);
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(args.name));
    if !args.namespace.is_empty() {
        metadata.insert("namespace".into(), json!(args.namespace));
    }
    if !opts.labels.is_empty() {
        metadata.insert("labels".into(), json!(opts.labels));
    }
    if !opts.annotations.is_empty() {
        metadata.insert("annotations".into(), json!(opts.annotations));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), json!("v1"));
    obj.insert("kind".into(), json!(kind_word(kind)));
    obj.insert("metadata".into(), Value::Object(metadata));
    match kind {
        Kind::ConfigMap => {
            let mut text = Map::new();
            let mut binary = Map::new();
            for (k, v) in data {
                match String::from_utf8(v) {
                    Ok(s) => {
                        text.insert(k, Value::String(s));
                    }
                    Err(e) => {
                        binary.insert(k, Value::String(encode_base64(e.as_bytes())));
                    }
                }
            }
            if !text.is_empty() {
                obj.insert("data".into(), Value::Object(text));
            }
            if !binary.is_empty() {
                obj.insert("binaryData".into(), Value::Object(binary));
            }
        }
        Kind::Secret => {
            let t = if args.type_.is_empty() {
                "Opaque"
            } else {
                &args.type_
            };
            obj.insert("type".into(), json!(t));
            let enc: Map<String, Value> = data
                .into_iter()
                .map(|(k, v)| (k, Value::String(encode_base64(&v))))
                .collect();
            // kyaml's `LoadMapIntoSecretData` creates `data` before filling it: a Secret
            // generator without entries still has `data: {}` (and hashes it), where a ConfigMap
            // generator without entries has no `data`.
            obj.insert("data".into(), Value::Object(enc));
        }
    }
    if opts.immutable == Some(true) {
        obj.insert("immutable".into(), json!(true));
    }
    Ok(Generated {
        object: Value::Object(obj),
        behavior,
        needs_hash: opts.disable_name_suffix_hash != Some(true),
    })
}

/// kyaml's `encodeBase64`: standard base64 broken into 70-character lines, each ending in a
/// newline, once the text is 70 characters or longer (Kubernetes' decoder skips the newlines).
fn encode_base64(data: &[u8]) -> String {
    const LINE: usize = 70;
    let enc = base64::engine::general_purpose::STANDARD.encode(data);
    if enc.len() < LINE {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / LINE + 1);
    for chunk in enc.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::ConfigMap => "ConfigMap",
        Kind::Secret => "Secret",
    }
}

/// kustomize's `removeQuotes`: strips one pair of matching quotes.
fn remove_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// kustomize's `ParseFileSource`: `path` or `key=path`.
fn parse_file_source(s: &str) -> Result<(String, String), String> {
    match s.matches('=').count() {
        0 => {
            let base = s.rsplit('/').find(|p| !p.is_empty()).unwrap_or(s);
            Ok((base.to_string(), s.to_string()))
        }
        1 if s.starts_with('=') => Err(format!("missing key name for file source `{s}`")),
        1 if s.ends_with('=') => Err(format!("missing file path for file source `{s}`")),
        1 => {
            let (k, p) = s.split_once('=').unwrap_or((s, s));
            Ok((k.to_string(), p.to_string()))
        }
        _ => Err(format!(
            "file source `{s}`: key name or file path contains `=`"
        )),
    }
}

fn is_env_var_name(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '-' || c == '.')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn is_config_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k != "."
        && k != ".."
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(literals: &[&str], files: &[&str]) -> GeneratorArgs {
        GeneratorArgs {
            name: "cfg".into(),
            literals: literals.iter().map(|s| s.to_string()).collect(),
            files: files.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn literals_files_and_binary_data() {
        let mut read = |p: &str| -> Result<Vec<u8>, String> {
            Ok(match p {
                "a.txt" => b"hello".to_vec(),
                _ => vec![0xff, 0x00],
            })
        };
        let g = generate(
            Kind::ConfigMap,
            &args(&["K='v'"], &["a.txt", "bin=x.bin"]),
            None,
            &mut read,
        )
        .unwrap();
        assert_eq!(g.object["data"], json!({"K":"v","a.txt":"hello"}));
        assert_eq!(g.object["binaryData"], json!({"bin":"/wA="}));
        assert!(g.needs_hash);
    }

    #[test]
    fn long_base64_is_broken_into_lines_as_kustomize_does() {
        assert_eq!(encode_base64(b"abc"), "YWJj");
        let long = encode_base64(&[b'x'; 60]);
        let lines: Vec<&str> = long.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 70);
        assert!(long.ends_with('\n'));
    }

    #[test]
    fn repeated_key_is_an_error() {
        let mut read = |_: &str| -> Result<Vec<u8>, String> { Ok(Vec::new()) };
        let e = generate(Kind::Secret, &args(&["a=1", "a=2"], &[]), None, &mut read)
            .err()
            .unwrap();
        assert!(e.contains("repeats the key `a`"), "{e}");
    }

    #[test]
    fn env_files_skip_comments_and_keep_values() {
        let mut read = |_: &str| -> Result<Vec<u8>, String> { Ok(b"# c\nA=1\n\nB= x \n".to_vec()) };
        let mut a = args(&[], &[]);
        a.envs = vec!["e.env".into()];
        let g = generate(Kind::ConfigMap, &a, None, &mut read).unwrap();
        assert_eq!(g.object["data"], json!({"A":"1","B":" x "}));
    }
}
