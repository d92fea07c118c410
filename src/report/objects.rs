//! Printing rendered objects: YAML stream, JSON `List`, or a summary table.

use std::borrow::Cow;
use std::io::Write;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::text::table;
use crate::manifest::Manifest;
use crate::render::secrets;

/// Output format for objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A multi-document YAML stream.
    Yaml,
    /// A JSON `v1/List` holding the objects.
    Json,
}

/// Writes the objects to `out`, one at a time (thousands of objects are never held as one
/// text); Secret values are redacted unless `show_secrets`.
pub fn write(
    manifests: &[Manifest],
    format: Format,
    show_secrets: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            let list = List {
                manifests,
                show_secrets,
            };
            serde_json::to_writer_pretty(&mut *out, &list)?;
            out.write_all(b"\n")?;
        }
        Format::Yaml => {
            for (i, m) in manifests.iter().enumerate() {
                if i > 0 {
                    out.write_all(b"---\n")?;
                }
                writeln!(out, "# Source: {}", m.origin.with_via())?;
                let text = serde_saphyr::to_string(shown(m, show_secrets).as_ref())?;
                out.write_all(text.as_bytes())?;
                if !text.ends_with('\n') {
                    out.write_all(b"\n")?;
                }
            }
        }
    }
    Ok(())
}

/// The object as printed: Secrets redacted unless `show_secrets`.
fn shown(m: &Manifest, show_secrets: bool) -> Cow<'_, Value> {
    if show_secrets || !secrets::needs_redaction(&m.object) {
        Cow::Borrowed(&m.object)
    } else {
        Cow::Owned(secrets::redacted(&m.object))
    }
}

/// A JSON `v1/List` of the objects, serialised item by item.
struct List<'a> {
    manifests: &'a [Manifest],
    show_secrets: bool,
}

impl Serialize for List<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Items<'a>(&'a List<'a>);
        impl Serialize for Items<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(
                    self.0
                        .manifests
                        .iter()
                        .map(|m| shown(m, self.0.show_secrets)),
                )
            }
        }
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("apiVersion", "v1")?;
        map.serialize_entry("kind", "List")?;
        map.serialize_entry("items", &Items(self))?;
        map.end()
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
    use serde_json::json;

    #[test]
    fn yaml_output_redacts_secrets_by_default() {
        let m = Manifest::new(
            Origin::new("s.yaml", 1),
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"k":"hunter2"}}),
        );
        let out = printed(std::slice::from_ref(&m), Format::Yaml, false);
        assert!(!out.contains("hunter2"), "{out}");
        let out = printed(std::slice::from_ref(&m), Format::Yaml, true);
        assert!(out.contains("hunter2"));
        let out = printed(std::slice::from_ref(&m), Format::Json, false);
        assert!(!out.contains("hunter2"), "{out}");
    }

    #[test]
    fn json_output_is_a_pretty_list_as_serde_json_writes_it() {
        let objects = [
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}),
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"k":"aGk="}}),
        ];
        let manifests: Vec<Manifest> = objects
            .iter()
            .map(|o| Manifest::new(Origin::new("a.yaml", 1), o.clone()))
            .collect();
        let expected = json!({"apiVersion": "v1", "kind": "List", "items": [
            objects[0].clone(),
            secrets::redacted(&objects[1]),
        ]});
        let mut want = serde_json::to_string_pretty(&expected).unwrap();
        want.push('\n');
        assert_eq!(printed(&manifests, Format::Json, false), want);
    }

    fn printed(manifests: &[Manifest], format: Format, show_secrets: bool) -> String {
        let mut out = Vec::new();
        write(manifests, format, show_secrets, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }
}
