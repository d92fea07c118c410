//! An encrypted file as sops reads it: YAML (or JSON, read as YAML) nodes with their byte spans,
//! and scalars resolved as Go's yaml.v3 resolves them into `interface{}` (what sops hashes).

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use granit_parser::{Event, Parser, ScalarStyle};

/// One YAML node with where it sits in the text.
#[derive(Debug, Clone)]
pub enum Node {
    /// A scalar: its text, whether it is plain (unquoted), an explicit tag, its byte span, its line.
    Scalar {
        value: String,
        plain: bool,
        tag: Option<String>,
        span: (usize, usize),
        line: u32,
    },
    /// A sequence of nodes, and its byte span.
    Seq(Vec<Node>, (usize, usize)),
    /// A mapping: (key, value) pairs in order, and its byte span.
    Map(Vec<(Node, Node)>, (usize, usize)),
}

impl Node {
    /// The node's byte span in the text.
    pub fn span(&self) -> (usize, usize) {
        match self {
            Node::Scalar { span, .. } | Node::Seq(_, span) | Node::Map(_, span) => *span,
        }
    }
}

/// A scalar's value as yaml.v3 decodes it into `interface{}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A timestamp, already in Go's `MarshalText` form.
    Time(String),
    Str(String),
}

impl Scalar {
    /// sops's `ToBytes`: what the MAC hashes for this value (`None` for null: not hashed).
    pub fn mac_bytes(&self) -> Option<Vec<u8>> {
        Some(match self {
            Scalar::Null => return None,
            Scalar::Bool(b) => if *b { "True" } else { "False" }.as_bytes().to_vec(),
            Scalar::Int(i) => i.to_string().into_bytes(),
            Scalar::Float(f) => go_format_float(*f).into_bytes(),
            Scalar::Time(t) => t.clone().into_bytes(),
            Scalar::Str(s) => s.clone().into_bytes(),
        })
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub fn go_format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        // Rust's Display is the shortest representation that round-trips, never with an
        // exponent: the same digits as Go's 'f' format with precision -1.
        format!("{f}")
    }
}

/// Parses every document of `text`; `None` when the text is not YAML (the caller then leaves it
/// to the ordinary parser, which reports the syntax error).
pub fn parse(text: &str) -> Option<Vec<Node>> {
    let mut events = Vec::new();
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.ok()?;
        let start = byte_offset(text, span.start.byte_offset(), span.start.index());
        let end = byte_offset(text, span.end.byte_offset(), span.end.index());
        events.push((ev, start, end, span.start.line()));
    }
    let mut b = Builder {
        events,
        pos: 0,
        anchors: HashMap::new(),
        depth: 0,
    };
    let mut docs = Vec::new();
    while b.pos < b.events.len() {
        match &b.events[b.pos].0 {
            Event::DocumentStart(..) => {
                b.pos += 1;
                if let Some(Event::DocumentEnd) = b.events.get(b.pos).map(|e| &e.0) {
                    b.pos += 1;
                    continue;
                }
                docs.push(b.node()?);
            }
            _ => b.pos += 1,
        }
    }
    Some(docs)
}

fn byte_offset(text: &str, bytes: Option<usize>, chars: usize) -> usize {
    bytes.unwrap_or_else(|| {
        text.char_indices()
            .nth(chars)
            .map(|(i, _)| i)
            .unwrap_or(text.len())
    })
}

struct Builder<'a> {
    events: Vec<(Event<'a>, usize, usize, usize)>,
    pos: usize,
    anchors: HashMap<usize, Node>,
    depth: usize,
}

/// Deeper nesting is left to the ordinary parser, which refuses it (rendering.md's limits).
const MAX_DEPTH: usize = 64;

impl Builder<'_> {
    fn node(&mut self) -> Option<Node> {
        self.depth += 1;
        let node = if self.depth > MAX_DEPTH {
            None
        } else {
            self.node_inner()
        };
        self.depth -= 1;
        node
    }

    fn node_inner(&mut self) -> Option<Node> {
        let (ev, start, end, line) = self.events.get(self.pos)?.clone();
        self.pos += 1;
        let (node, anchor) = match ev {
            Event::Scalar(value, style, anchor, tag) => (
                Node::Scalar {
                    value: value.into_owned(),
                    plain: style == ScalarStyle::Plain,
                    tag: tag.map(|t| t.to_string()),
                    span: (start, end),
                    line: line as u32,
                },
                anchor,
            ),
            Event::SequenceStart(_, anchor, _) => {
                let mut items = Vec::new();
                while !matches!(self.events.get(self.pos)?.0, Event::SequenceEnd) {
                    items.push(self.node()?);
                }
                let end = self.events[self.pos].2;
                self.pos += 1;
                (Node::Seq(items, (start, end)), anchor)
            }
            Event::MappingStart(_, anchor, _) => {
                let mut pairs = Vec::new();
                while !matches!(self.events.get(self.pos)?.0, Event::MappingEnd) {
                    let k = self.node()?;
                    let v = self.node()?;
                    pairs.push((k, v));
                }
                let end = self.events[self.pos].2;
                self.pos += 1;
                (Node::Map(pairs, (start, end)), anchor)
            }
            Event::Alias(id) => return self.anchors.get(&id).cloned(),
            _ => return None,
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Some(node)
    }
}

/// yaml.v3's resolution of a scalar decoded into `interface{}` (its `resolve.go`).
pub fn resolve(value: &str, plain: bool, tag: Option<&str>) -> Scalar {
    let short = tag.map(|t| {
        t.trim_start_matches("tag:yaml.org,2002:")
            .trim_start_matches("!!")
    });
    if matches!(short, Some("str" | "binary")) || (!plain && short.is_none()) {
        return Scalar::Str(value.to_string());
    }
    match value {
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    let first = value.as_bytes()[0];
    if first == b'.' {
        if let Ok(f) = value.parse::<f64>() {
            return Scalar::Float(f);
        }
        return Scalar::Str(value.to_string());
    }
    if !(first.is_ascii_digit() || first == b'-' || first == b'+') {
        return Scalar::Str(value.to_string());
    }
    if let Some(t) = timestamp(value) {
        return Scalar::Time(t);
    }
    let plain_digits = value.replace('_', "");
    if let Some(i) = go_parse_int(&plain_digits) {
        return Scalar::Int(i);
    }
    if FLOAT.is_match(&plain_digits)
        && let Ok(f) = plain_digits.parse::<f64>()
    {
        return Scalar::Float(f);
    }
    Scalar::Str(value.to_string())
}

// yaml.v3's patterns (constant, so compiling them cannot fail).
static FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").expect("a valid regex")
});
static DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{4})-(\d{1,2})-(\d{1,2})$").expect("a valid regex"));
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
        .expect("a valid regex")
});

/// Go's `strconv.ParseInt(s, 0, 64)` plus yaml.v3's `0b`/`0o` forms.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = rest.strip_prefix("0x").or(rest.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = rest.strip_prefix("0b").or(rest.strip_prefix("0B")) {
        (2, d)
    } else if let Some(d) = rest.strip_prefix("0o").or(rest.strip_prefix("0O")) {
        (8, d)
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if neg { -v } else { v }).ok()
}

/// A YAML timestamp (yaml.v3's formats) as Go's `time.Time.MarshalText` writes it.
fn timestamp(s: &str) -> Option<String> {
    if let Some(c) = DATE.captures(s) {
        let (y, m, d) = (&c[1], c[2].parse::<u32>().ok()?, c[3].parse::<u32>().ok()?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        return Some(format!("{y}-{m:02}-{d:02}T00:00:00Z"));
    }
    // Other layouts (a space instead of `T`, no zone) are rare in manifests; they stay strings
    // here and a MAC over them would not match: sops re-writes them in this layout anyway.
    TIMESTAMP.is_match(s).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_resolve_as_yaml_v3_does() {
        assert_eq!(resolve("yes", true, None), Scalar::Str("yes".into()));
        assert_eq!(resolve("True", true, None), Scalar::Bool(true));
        assert_eq!(resolve("3", true, None), Scalar::Int(3));
        assert_eq!(resolve("3", false, None), Scalar::Str("3".into()));
        assert_eq!(resolve("0x1F", true, None), Scalar::Int(31));
        assert_eq!(resolve("1_000", true, None), Scalar::Int(1000));
        assert_eq!(resolve("1.50", true, None), Scalar::Float(1.5));
        assert_eq!(resolve("~", true, None), Scalar::Null);
        assert_eq!(
            resolve("2024-01-02", true, None),
            Scalar::Time("2024-01-02T00:00:00Z".into())
        );
        assert_eq!(resolve("v1", true, None), Scalar::Str("v1".into()));
        assert_eq!(
            resolve("3", true, Some("tag:yaml.org,2002:str")),
            Scalar::Str("3".into())
        );
    }

    #[test]
    fn mac_bytes_are_gos_formatting() {
        assert_eq!(Scalar::Float(1.5).mac_bytes().unwrap(), b"1.5");
        assert_eq!(Scalar::Float(2.0).mac_bytes().unwrap(), b"2");
        assert_eq!(Scalar::Bool(false).mac_bytes().unwrap(), b"False");
        assert_eq!(Scalar::Null.mac_bytes(), None);
    }

    #[test]
    fn spans_point_at_the_scalar_text() {
        let text = "a: b\nc:\n  - 'd'\n";
        let docs = parse(text).unwrap();
        let Node::Map(pairs, _) = &docs[0] else {
            panic!()
        };
        let Node::Seq(items, _) = &pairs[1].1 else {
            panic!()
        };
        let Node::Scalar { span, line, .. } = &items[0] else {
            panic!()
        };
        assert_eq!(&text[span.0..span.1], "'d'");
        assert_eq!(*line, 3);
    }
}
