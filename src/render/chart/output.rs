//! Reading `helm template`'s output: one document per `# Source: <chart>/templates/<file>`
//! block, each named after the template file on disk, its lines mapped to the template's lines.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::render::source::{Source, Syntax};
use crate::render::vars::Substituted;

/// Where a chart's templates are: maps helm's `# Source:` paths to files the user can open.
#[derive(Debug, Clone)]
pub struct Layout {
    chart: PathBuf,
    display: String,
    packaged: bool,
}

impl Layout {
    /// The chart at `chart` (shown as `display`).
    pub fn new(chart: &Path, display: &str, _name: &str) -> Self {
        Self {
            chart: chart.to_path_buf(),
            display: display.trim_end_matches('/').to_string(),
            packaged: is_packaged(chart),
        }
    }

    /// The template's display name and, when it is a file on disk, its path.
    ///
    /// `helm_path` is `<chart name>/templates/x.yaml` (or `<chart>/charts/<sub>/templates/...`).
    pub fn file_of(&self, helm_path: &str) -> (String, Option<PathBuf>) {
        if self.packaged {
            return (format!("{}#{helm_path}", self.display), None);
        }
        let rest = helm_path.split_once('/').map_or(helm_path, |(_, r)| r);
        let on_disk = self.chart.join(rest);
        let display = format!("{}/{rest}", self.display);
        (display, on_disk.is_file().then_some(on_disk))
    }
}

/// Whether `chart` names a packaged chart (`.tgz`) rather than a directory.
pub fn is_packaged(chart: &Path) -> bool {
    chart
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".tgz") || n.ends_with(".tar.gz"))
}

/// Splits helm's output into one source per document, in helm's order.
pub fn split(text: &str, layout: &Layout) -> Vec<(Source, Substituted)> {
    let mut out = Vec::new();
    let mut templates: HashMap<PathBuf, Vec<String>> = HashMap::new();
    // (template, kind) → how many documents of that kind the template has produced so far.
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for block in blocks(text) {
        let helm_path = block.iter().find_map(|l| l.strip_prefix("# Source: "));
        let (name, on_disk) = match helm_path {
            Some(p) => layout.file_of(p.trim()),
            None => (layout.display.clone(), None),
        };
        let kind = block
            .iter()
            .find_map(|l| l.strip_prefix("kind:"))
            .map(|k| unquote(k.trim()).to_string())
            .unwrap_or_default();
        let nth = seen.entry((name.clone(), kind.clone())).or_default();
        let line = match &on_disk {
            Some(path) => {
                let lines = templates.entry(path.clone()).or_insert_with(|| {
                    std::fs::read_to_string(path)
                        .map(|t| t.lines().map(str::to_string).collect())
                        .unwrap_or_default()
                });
                document_line(lines, &kind, *nth)
            }
            None => 1,
        };
        *nth += 1;
        let text = block.join("\n") + "\n";
        let sub = Substituted {
            line_map: vec![line; block.len().max(1)],
            text: text.clone(),
        };
        out.push((
            Source {
                name,
                text,
                syntax: Syntax::Yaml,
            },
            sub,
        ));
    }
    out
}

/// Documents of helm's output: the lines between `---` markers, without empty ones.
fn blocks(text: &str) -> Vec<Vec<&str>> {
    let mut blocks = vec![Vec::new()];
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            blocks.push(Vec::new());
        } else if let Some(b) = blocks.last_mut() {
            b.push(line);
        }
    }
    blocks
        .into_iter()
        .filter(|b| {
            b.iter()
                .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
        })
        .collect()
}

/// The 1-based line of the template where the `nth` document of `kind` starts: the first
/// top-level key of the `---` section that declares `kind: <kind>`, else line 1.
pub fn document_line(template: &[String], kind: &str, nth: usize) -> u32 {
    let mut sections: Vec<(usize, usize)> = Vec::new(); // [start, end) line indices
    let mut start = 0;
    for (i, l) in template.iter().enumerate() {
        if l.trim_start().starts_with("---") {
            sections.push((start, i));
            start = i + 1;
        }
    }
    sections.push((start, template.len()));
    let declares = |&(s, e): &(usize, usize)| {
        template[s..e].iter().any(|l| {
            l.trim()
                .strip_prefix("kind:")
                .is_some_and(|k| unquote(k.trim()) == kind)
        })
    };
    let candidates: Vec<_> = sections.iter().filter(|s| declares(s)).collect();
    let section = match candidates.as_slice() {
        [] => return 1,
        c => c.get(nth).unwrap_or(&c[0]),
    };
    let (s, e) = **section;
    let first = (s..e)
        .find(|&i| template[i].starts_with(|c: char| c.is_ascii_alphabetic()))
        .or_else(|| (s..e).find(|&i| !template[i].trim().is_empty()))
        .unwrap_or(s);
    first as u32 + 1
}

fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '\'')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn document_line_finds_the_section_declaring_the_kind() {
        let t = lines(
            "{{- if .Values.enabled }}\napiVersion: v1\nkind: Service\n---\n# x\napiVersion: apps/v1\nkind: Deployment\n{{- end }}\n",
        );
        assert_eq!(document_line(&t, "Service", 0), 2);
        assert_eq!(document_line(&t, "Deployment", 0), 6);
        assert_eq!(document_line(&t, "ConfigMap", 0), 1);
    }

    #[test]
    fn documents_of_the_same_kind_map_in_order() {
        let t = lines("kind: ConfigMap\n---\nkind: ConfigMap\n");
        assert_eq!(document_line(&t, "ConfigMap", 0), 1);
        assert_eq!(document_line(&t, "ConfigMap", 1), 3);
        // A range that makes more documents than sections: the first section.
        assert_eq!(document_line(&t, "ConfigMap", 5), 1);
    }

    #[test]
    fn split_names_each_document_after_its_template() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(
            dir.path().join("templates/cm.yaml"),
            "# comment\napiVersion: v1\nkind: ConfigMap\n",
        )
        .unwrap();
        let out = "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# Source: demo/templates/gone.yaml\nkind: Secret\n";
        let layout = Layout::new(dir.path(), "charts/demo", "demo");
        let docs = split(out, &layout);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].0.name, "charts/demo/templates/cm.yaml");
        assert_eq!(docs[0].1.original_line(1), 2);
        assert_eq!(docs[1].0.name, "charts/demo/templates/gone.yaml");
        assert_eq!(docs[1].1.original_line(1), 1);
    }
}
