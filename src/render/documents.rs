//! Splitting sources into documents and parsing them into JSON values, with their lines.

use serde_json::Value;

use super::problem::{Problem, ProblemKind, Severity};
use super::source::{Source, Syntax};
use super::vars::Substituted;

/// Largest single document kpush accepts (the API server's own limit is about 3 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;
/// Deepest nesting accepted in a document.
pub const MAX_DEPTH: usize = 64;

/// A parsed document and the original line where its content starts.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document's value (any JSON value; validation checks it is a mapping).
    pub value: Value,
    /// 1-based line in the original file.
    pub line: u32,
    /// Lines of `items[i]` when the document is a `*List` (empty otherwise or when unknown).
    pub item_lines: Vec<u32>,
}

struct Chunk<'a> {
    text: String,
    /// 1-based line (in the substituted text) of the chunk's first line.
    first_line: u32,
    /// Lines of the substituted text, for showing the offending line.
    lines: &'a [&'a str],
}

/// Parses `source` (whose text has been substituted into `sub`) into documents.
pub fn parse(source: &Source, sub: &Substituted, problems: &mut Vec<Problem>) -> Vec<Document> {
    match source.syntax {
        Syntax::Json => parse_json(source, sub, problems),
        Syntax::Yaml => parse_yaml(source, sub, problems),
    }
}

/// Line ranges (1-based, inclusive, in the original text) of the documents of `source` that opt
/// out of variable substitution ([`super::vars::opts_out`]). Read before substitution, so only
/// documents that parse as written can opt out.
pub fn opted_out_lines(source: &Source) -> Vec<std::ops::RangeInclusive<u32>> {
    // Cheap guard: both annotations end in `/substitute`.
    if !source.text.contains("/substitute") {
        return Vec::new();
    }
    let mut ranges = Vec::new();
    match source.syntax {
        Syntax::Yaml => {
            let lines: Vec<&str> = source.text.lines().collect();
            for chunk in split_documents(&lines) {
                if !chunk.text.contains("/substitute") {
                    continue;
                }
                let opted_out =
                    serde_saphyr::from_str_with_options::<Value>(&chunk.text, yaml_options())
                        .is_ok_and(|v| opts_out_or_list(&v));
                if opted_out {
                    let n = chunk.text.lines().count().max(1) as u32;
                    ranges.push(chunk.first_line..=chunk.first_line + n - 1);
                }
            }
        }
        Syntax::Json => {
            let text = &source.text;
            let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
            loop {
                let start = stream.byte_offset();
                match stream.next() {
                    Some(Ok(v)) => {
                        if opts_out_or_list(&v) {
                            let end = stream.byte_offset();
                            ranges.push(line_of_offset(text, start)..=line_of_offset(text, end));
                        }
                    }
                    _ => break,
                }
            }
        }
    }
    ranges
}

/// An object that opts out, or a `*List` whose items all do.
fn opts_out_or_list(v: &Value) -> bool {
    if is_list(v) {
        v.get("items")
            .and_then(Value::as_array)
            .is_some_and(|items| !items.is_empty() && items.iter().all(super::vars::opts_out))
    } else {
        super::vars::opts_out(v)
    }
}

fn parse_yaml(source: &Source, sub: &Substituted, problems: &mut Vec<Problem>) -> Vec<Document> {
    let lines: Vec<&str> = sub.text.lines().collect();
    let mut docs = Vec::new();
    for chunk in split_documents(&lines) {
        let Some(content_offset) = chunk
            .text
            .lines()
            .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        else {
            continue; // empty document
        };
        let content_line = chunk.first_line + content_offset as u32;
        if chunk.text.len() > MAX_DOCUMENT_BYTES {
            problems.push(Problem::at(
                Severity::Error,
                ProblemKind::Limit,
                &source.name,
                sub.original_line(content_line),
                format!(
                    "this document is larger than {} MiB; the API server would refuse it",
                    MAX_DOCUMENT_BYTES / 1024 / 1024
                ),
            ));
            continue;
        }
        match serde_saphyr::from_str_with_options::<Value>(&chunk.text, yaml_options()) {
            Ok(Value::Null) => {}
            Ok(value) => {
                let item_lines = if is_list(&value) {
                    list_item_lines(&chunk.text)
                        .into_iter()
                        .map(|l| sub.original_line(chunk.first_line + l - 1))
                        .collect()
                } else {
                    Vec::new()
                };
                docs.push(Document {
                    value,
                    line: sub.original_line(content_line),
                    item_lines,
                });
            }
            Err(e) => problems.push(yaml_problem(source, sub, &chunk, &e)),
        }
    }
    // A file without a final line break ends its last block scalar without one (`|` keeps
    // only the line breaks that are there; the parser adds one at the end of input).
    let tail = sub.text.trim_end_matches([' ', '\t']);
    if !tail.ends_with('\n')
        && !tail.ends_with(['"', '\''])
        && let Some(last) = docs.last_mut()
        && let Some(Value::String(s)) = last_leaf(&mut last.value)
        && s.ends_with('\n')
    {
        s.pop();
    }
    docs
}

/// The last scalar of a value in document order.
fn last_leaf(v: &mut Value) -> Option<&mut Value> {
    match v {
        Value::Object(m) => m.values_mut().last().and_then(last_leaf),
        Value::Array(a) => a.last_mut().and_then(last_leaf),
        other => Some(other),
    }
}

/// The parser's budgets against hostile input, sized so that no file `kubectl` reads is refused.
///
/// Kept: nesting depth ([`MAX_DEPTH`]), alias expansion (the parser's replay limit, which bounds
/// what aliases expand to, plus at most 10,000 aliases) and total text ([`MAX_DOCUMENT_BYTES`]).
/// Lifted, because a real document can reach them and they protect nothing the others do not:
/// node and event counts (a `List` of many objects, bounded by the size limit anyway) and the
/// alias-to-anchor ratio (one `&defaults` used a hundred times is ordinary YAML; what aliases
/// expand to is bounded by the replay limit).
pub fn yaml_budget(documents: usize) -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_documents = documents;
    budget.max_aliases = 10_000;
    budget.max_total_scalar_bytes = MAX_DOCUMENT_BYTES;
    budget.max_nodes = MAX_DOCUMENT_BYTES;
    budget.max_events = MAX_DOCUMENT_BYTES;
    budget.enforce_alias_anchor_ratio = false;
    budget
}

/// Parser options with kpush's budgets ([`yaml_budget`]) for one document.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut opts = serde_saphyr::Options::default();
    opts.budget = Some(yaml_budget(1));
    // Comments are read and skipped, never kept: the parser's comment buffer (32 comments
    // between two entries of a list, which every kubebuilder `config/default` exceeds) and
    // comment byte budgets then do not apply. Comment text is bounded by the file size limit.
    opts.emit_comments = false;
    opts.with_snippet = false;
    // Kubernetes reads YAML 1.1: `defaultMode: 0644` is octal (420), as kubectl sends it.
    opts.legacy_octal_numbers = true;
    opts
}

fn yaml_problem(
    source: &Source,
    sub: &Substituted,
    chunk: &Chunk<'_>,
    err: &serde_saphyr::Error,
) -> Problem {
    let (line_in_chunk, column) = match err.location() {
        Some(loc) if loc.line() > 0 => (loc.line() as u32, Some(loc.column() as u32)),
        _ => (1, None),
    };
    let sub_line = chunk.first_line + line_in_chunk - 1;
    let raw = clean_yaml_message(&err.to_string());
    let (kind, text) = match budget_explanation(&raw) {
        Some(why) => (ProblemKind::Limit, format!("refused: {why}")),
        None => (ProblemKind::Syntax, format!("invalid YAML: {raw}")),
    };
    let mut p = Problem::at(
        Severity::Error,
        kind,
        &source.name,
        sub.original_line(sub_line),
        text,
    )
    .with_source_line(chunk.lines.get(sub_line as usize - 1).copied());
    if let Some(c) = column.filter(|c| *c > 0) {
        p = p.with_column(c);
    }
    p
}

/// Plain words for the parser's budget breaches (hostile or oversized input).
fn budget_explanation(m: &str) -> Option<String> {
    let rest = m.split_once("budget breached:")?.1.trim();
    let what = rest.split([' ', '{', '(']).next().unwrap_or(rest);
    Some(match what {
        "Depth" => format!("the document is nested deeper than {MAX_DEPTH} levels"),
        "Nodes"
        | "Events"
        | "Aliases"
        | "AliasAnchorRatio"
        | "RecordedAnchorEvents"
        | "RecordedAnchorBytes" => {
            "the document expands to too many nodes through YAML aliases (an alias bomb) or is far \
             larger than any Kubernetes object"
                .to_string()
        }
        "ScalarBytes" | "TotalScalarBytes" | "InputBytes" => format!(
            "the document holds (or its aliases expand to) more than {} MiB of text",
            MAX_DOCUMENT_BYTES / 1024 / 1024
        ),
        _ => format!("the document exceeds a parser safety limit ({rest})"),
    })
}

/// Drops the " at line X column Y" suffix that refers to the document, not the file.
fn clean_yaml_message(m: &str) -> String {
    let first = m.lines().next().unwrap_or(m).trim();
    let cut = first
        .find(" at line ")
        .or_else(|| first.rfind(" at "))
        .filter(|p| first[*p..].contains("line"))
        .unwrap_or(first.len());
    let msg = first[..cut].trim_end_matches([',', ':']);
    // Advice meant for programmers using the parser, not for manifest authors.
    match msg.find(", set ") {
        Some(p) => msg[..p].to_string(),
        None => msg.to_string(),
    }
}

/// Splits YAML text into documents at `---` / `...` markers in column 0.
fn split_documents<'a>(lines: &'a [&'a str]) -> Vec<Chunk<'a>> {
    let mut chunks = Vec::new();
    let mut cur = String::new();
    let mut first = 1u32;
    for (i, line) in lines.iter().enumerate() {
        let lineno = i as u32 + 1;
        let is_start = line.starts_with("---")
            && line[3..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == '\t');
        let is_end = line.starts_with("...")
            && line[3..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == '\t');
        if is_start || is_end {
            if !cur.is_empty() {
                chunks.push(Chunk {
                    text: std::mem::take(&mut cur),
                    first_line: first,
                    lines,
                });
            }
            first = lineno;
            if is_start {
                // Keep content after the marker, with columns preserved.
                cur.push_str("   ");
                cur.push_str(&line[3..]);
                cur.push('\n');
            } else {
                first = lineno + 1;
            }
            continue;
        }
        if cur.is_empty() {
            first = lineno;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    if !cur.is_empty() {
        chunks.push(Chunk {
            text: cur,
            first_line: first,
            lines,
        });
    }
    chunks
}

fn is_list(v: &Value) -> bool {
    v.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && v.get("items").is_some_and(Value::is_array)
}

#[derive(serde::Deserialize)]
struct ListSpans {
    #[serde(default)]
    items: Vec<serde_saphyr::Spanned<serde::de::IgnoredAny>>,
}

/// Lines (1-based, within the chunk) of each item of a `*List` document.
fn list_item_lines(text: &str) -> Vec<u32> {
    serde_saphyr::from_str_with_options::<ListSpans>(text, yaml_options())
        .map(|l| l.items.iter().map(|s| s.referenced.line() as u32).collect())
        .unwrap_or_default()
}

fn parse_json(source: &Source, sub: &Substituted, problems: &mut Vec<Problem>) -> Vec<Document> {
    let text = &sub.text;
    let mut docs = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    loop {
        // Offset of the next document's first byte.
        let start = stream.byte_offset();
        let skipped = text[start..].len() - text[start..].trim_start().len();
        match stream.next() {
            None => break,
            Some(Ok(value)) => {
                let sub_line = line_of_offset(text, start + skipped);
                let item_lines = if is_list(&value) {
                    json_item_lines(&text[start + skipped..])
                        .into_iter()
                        .map(|off| sub.original_line(line_of_offset(text, start + skipped + off)))
                        .collect()
                } else {
                    Vec::new()
                };
                if depth(&value) > MAX_DEPTH {
                    problems.push(Problem::at(
                        Severity::Error,
                        ProblemKind::Limit,
                        &source.name,
                        sub.original_line(sub_line),
                        format!("refused: the document is nested deeper than {MAX_DEPTH} levels"),
                    ));
                    continue;
                }
                docs.push(Document {
                    value,
                    line: sub.original_line(sub_line),
                    item_lines,
                });
            }
            Some(Err(e)) => {
                let line = e.line() as u32;
                let lines: Vec<&str> = text.lines().collect();
                let msg = e.to_string();
                let msg = match msg.find(" at line ") {
                    Some(p) => msg[..p].to_string(),
                    None => msg,
                };
                let kind = if msg.contains("recursion limit") {
                    ProblemKind::Limit
                } else {
                    ProblemKind::Syntax
                };
                problems.push(
                    Problem::at(
                        Severity::Error,
                        kind,
                        &source.name,
                        sub.original_line(line.max(1)),
                        format!("invalid JSON: {msg}"),
                    )
                    .with_column(e.column() as u32)
                    .with_source_line(lines.get(line.max(1) as usize - 1).copied()),
                );
                break;
            }
        }
    }
    docs
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn line_of_offset(text: &str, offset: usize) -> u32 {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u32
        + 1
}

/// Byte offsets (relative to `text`) where each element of the top-level `items` array starts.
fn json_item_lines(text: &str) -> Vec<usize> {
    // A small scanner: find `"items"` at depth 1, then element starts at depth 2.
    let b = text.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    let mut in_items = false;
    let mut items_depth = 0;
    let mut expect_value = false;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if in_items && expect_value && depth == items_depth {
                    out.push(start);
                    expect_value = false;
                }
                if depth == 1 && !in_items && &text[start..=i.min(b.len() - 1)] == "\"items\"" {
                    in_items = true;
                    items_depth = -1;
                }
            }
            b'[' | b'{' => {
                if in_items && items_depth == -1 && c == b'[' {
                    items_depth = depth + 1;
                    expect_value = true;
                } else if in_items && expect_value && depth == items_depth {
                    out.push(i);
                    expect_value = false;
                }
                depth += 1;
            }
            b']' | b'}' => {
                depth -= 1;
                if in_items && depth < items_depth {
                    break;
                }
            }
            b',' if in_items && depth == items_depth => expect_value = true,
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str, syntax: Syntax) -> (Source, Substituted) {
        let s = Source {
            name: "t".into(),
            text: text.into(),
            syntax,
        };
        let sub = super::super::vars::Vars::new().substitute(text).unwrap();
        (s, sub)
    }

    #[test]
    fn multi_document_yaml_records_content_lines() {
        let (s, sub) = src(
            "# header\n---\napiVersion: v1\nkind: A\n---\n\n---\n# c\nkind: B\n...\n",
            Syntax::Yaml,
        );
        let mut p = Vec::new();
        let docs = parse(&s, &sub, &mut p);
        assert!(p.is_empty(), "{p:?}");
        let lines: Vec<u32> = docs.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![3, 9]);
    }

    #[test]
    fn block_scalar_at_the_end_of_a_file_without_line_break_has_none() {
        let (s, sub) = src("kind: A\ndata:\n  x: |\n    a\n    b", Syntax::Yaml);
        let mut p = Vec::new();
        let docs = parse(&s, &sub, &mut p);
        assert_eq!(docs[0].value["data"]["x"], serde_json::json!("a\nb"));
    }

    #[test]
    fn leading_zero_numbers_are_octal_as_in_kubernetes() {
        let (s, sub) = src("kind: A\nmode: 0644\n", Syntax::Yaml);
        let mut p = Vec::new();
        let docs = parse(&s, &sub, &mut p);
        assert_eq!(docs[0].value["mode"], serde_json::json!(420));
    }

    #[test]
    fn yaml_syntax_error_points_into_the_file() {
        let (s, sub) = src("kind: A\n---\nkind: B\nmetadata: {name: [x\n", Syntax::Yaml);
        let mut p = Vec::new();
        let docs = parse(&s, &sub, &mut p);
        assert_eq!(docs.len(), 1);
        assert_eq!(p.len(), 1);
        assert!(p[0].line >= 4, "{:?}", p[0]);
        assert_eq!(p[0].kind, ProblemKind::Syntax);
    }

    #[test]
    fn json_stream_has_lines_and_list_items() {
        let (s, sub) = src(
            "{\"kind\":\"A\"}\n\n{\n \"kind\": \"List\",\n \"items\": [\n  {\"kind\":\"B\"},\n  {\"kind\":\"C\"}\n ]\n}\n",
            Syntax::Json,
        );
        let mut p = Vec::new();
        let docs = parse(&s, &sub, &mut p);
        assert!(p.is_empty());
        assert_eq!(docs[0].line, 1);
        assert_eq!(docs[1].line, 3);
        assert_eq!(docs[1].item_lines, vec![6, 7]);
    }

    #[test]
    fn yaml_list_items_have_lines() {
        let (s, sub) = src(
            "apiVersion: v1\nkind: List\nitems:\n- kind: A\n  x: 1\n- kind: B\n",
            Syntax::Yaml,
        );
        let mut p = Vec::new();
        let docs = parse(&s, &sub, &mut p);
        assert_eq!(docs[0].item_lines, vec![4, 6]);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            bomb.push_str(&format!(
                "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = c;
        }
        let (s, sub) = src(&bomb, Syntax::Yaml);
        let mut p = Vec::new();
        let docs = parse(&s, &sub, &mut p);
        assert!(docs.is_empty());
        assert_eq!(p.len(), 1, "{p:?}");
    }

    #[test]
    fn comments_in_any_number_are_read() {
        // kubebuilder's config/default: long commented-out blocks after a key, before its first
        // entry, and between entries.
        let block = "#- ../prometheus\n#  target:\n#    kind: Deployment\n".repeat(60);
        let text = format!("kind: A\nresources:\n{block}- ../crd\n{block}- ../rbac\n{block}x: 1\n");
        let (s, sub) = src(&text, Syntax::Yaml);
        let mut p = Vec::new();
        let docs = parse(&s, &sub, &mut p);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            docs[0].value["resources"],
            serde_json::json!(["../crd", "../rbac"])
        );
    }

    #[test]
    fn one_anchor_used_many_times_and_many_nodes_are_read() {
        let refs: String = (0..500).map(|i| format!("  k{i}: *v\n")).collect();
        let items = "- 1\n".repeat(300_000);
        let text =
            format!("kind: A\nx: &v shared\ndata:\n{refs}---\nkind: List\nitems: []\nn:\n{items}");
        let (s, sub) = src(&text, Syntax::Yaml);
        let mut p = Vec::new();
        let docs = parse(&s, &sub, &mut p);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(docs[0].value["data"]["k499"], serde_json::json!("shared"));
        assert_eq!(docs[1].value["n"].as_array().map(Vec::len), Some(300_000));
    }

    #[test]
    fn aliases_of_a_long_scalar_are_refused_by_the_size_limit() {
        let long = "x".repeat(1024 * 1024);
        let refs = vec!["*a"; 20].join(",");
        let text = format!("kind: A\nx: &a {long}\ny: [{refs}]\n");
        let (s, sub) = src(&text, Syntax::Yaml);
        let mut p = Vec::new();
        let docs = parse(&s, &sub, &mut p);
        assert!(docs.is_empty());
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].kind, ProblemKind::Limit, "{p:?}");
        assert!(p[0].message.contains("8 MiB"), "{p:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        for syntax in [Syntax::Yaml, Syntax::Json] {
            let (s, sub) = src(&deep, syntax);
            let mut p = Vec::new();
            let docs = parse(&s, &sub, &mut p);
            assert!(docs.is_empty());
            assert_eq!(p.len(), 1, "{p:?}");
            assert_eq!(p[0].kind, ProblemKind::Limit, "{p:?}");
        }
    }
}
