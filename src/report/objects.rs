//! Printing rendered objects: YAML stream, JSON `List`, or a summary table.

use serde_json::{Value, json};

use super::text::table;
use crate::manifest::Manifest;
use crate::render::secrets;

/// Output format for objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A multi-document YAML stream.
    Yaml,
    /// A JSON `v1/List` holding the objects.
    Json,
}

/// Serialises the objects; Secret values are redacted unless `show_secrets`.
pub fn print(manifests: &[Manifest], format: Format, show_secrets: bool) -> anyhow::Result<String> {
    let objs: Vec<Value> = manifests
        .iter()
        .map(|m| {
            if show_secrets {
                m.object.clone()
            } else {
                secrets::redacted(&m.object)
            }
        })
        .collect();
    match format {
        Format::Json => {
            let list = json!({"apiVersion": "v1", "kind": "List", "items": objs});
            let mut s = serde_json::to_string_pretty(&list)?;
            s.push('\n');
            Ok(s)
        }
        Format::Yaml => {
            let mut out = String::new();
            for (i, (o, m)) in objs.iter().zip(manifests).enumerate() {
                if i > 0 {
                    out.push_str("---\n");
                }
                out.push_str(&format!("# Source: {}\n", m.origin.with_via()));
                out.push_str(&serde_saphyr::to_string(o)?);
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            Ok(out)
        }
    }
}

/// A table of kind, namespace, name and source, one object per row.
pub fn summary_table(manifests: &[Manifest]) -> String {
    let rows: Vec<[String; 4]> = manifests
        .iter()
        .map(|m| {
            // `kind.group`, as kubectl's resource names: the table has no apiVersion column.
            let kind = if m.group().is_empty() {
                m.kind().to_string()
            } else {
                format!("{}.{}", m.kind(), m.group())
            };
            [
                kind,
                m.namespace().unwrap_or("-").to_string(),
                m.name().to_string(),
                m.origin.with_via(),
            ]
        })
        .collect();
    table(&["KIND", "NAMESPACE", "NAME", "SOURCE"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;

    #[test]
    fn yaml_output_redacts_secrets_by_default() {
        let m = Manifest::new(
            Origin::new("s.yaml", 1),
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"k":"hunter2"}}),
        );
        let out = print(std::slice::from_ref(&m), Format::Yaml, false).unwrap();
        assert!(!out.contains("hunter2"), "{out}");
        let out = print(&[m], Format::Yaml, true).unwrap();
        assert!(out.contains("hunter2"));
    }
}
