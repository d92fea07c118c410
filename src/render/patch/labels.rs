//! Kubernetes label selectors in their string form (`a=b,c!=d,e in (f,g),h notin (i),j,!k`),
//! as `k8s.io/apimachinery/pkg/labels.Parse` reads them; kustomize uses them for
//! `labelSelector` and `annotationSelector`.

use std::collections::BTreeMap;

use super::error::PatchError;

/// A parsed label (or annotation) selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Not,
    Eq,
    NotEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            '>' => {
                out.push(Token::Gt);
                i += 1;
            }
            '<' => {
                out.push(Token::Lt);
                i += 1;
            }
            '=' => {
                i += if chars.get(i + 1) == Some(&'=') { 2 } else { 1 };
                out.push(Token::Eq);
            }
            '!' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Token::NotEq);
                    i += 2;
                } else {
                    out.push(Token::Not);
                    i += 1;
                }
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], ',' | '(' | ')' | '=' | '!' | '<' | '>')
                {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

/// Whether `key` is a valid qualified name with optional DNS prefix (`example.com/app`).
fn valid_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
    });
    name_ok && prefix_ok
}

/// Whether `value` is a valid label value (empty allowed).
fn valid_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn ident(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Token::Ident(s)) => Ok(s),
            other => Err(format!(
                "expected {what}, found {}",
                describe(other.as_ref())
            )),
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            let key = self.ident("a key after `!`")?;
            return Ok(Requirement {
                key,
                op: Op::DoesNotExist,
                values: vec![],
            });
        }
        let key = self.ident("a key")?;
        let (op, values) = match self.peek() {
            None | Some(Token::Comma) => (Op::Exists, vec![]),
            Some(Token::Eq) | Some(Token::NotEq) => {
                let op = if self.next() == Some(Token::Eq) {
                    Op::In
                } else {
                    Op::NotIn
                };
                let value = match self.peek() {
                    Some(Token::Ident(_)) => self.ident("a value")?,
                    _ => String::new(),
                };
                (op, vec![value])
            }
            Some(Token::Gt) | Some(Token::Lt) => {
                let op = if self.next() == Some(Token::Gt) {
                    Op::GreaterThan
                } else {
                    Op::LessThan
                };
                let value = self.ident("a number")?;
                if value.parse::<i64>().is_err() {
                    return Err(format!("`{value}` is not an integer, as `>` and `<` need"));
                }
                (op, vec![value])
            }
            Some(Token::Ident(w)) if w == "in" || w == "notin" => {
                let op = if w == "in" { Op::In } else { Op::NotIn };
                self.pos += 1;
                (op, self.value_set()?)
            }
            other => {
                return Err(format!(
                    "expected an operator after `{key}`, found {}",
                    describe(other)
                ));
            }
        };
        Ok(Requirement { key, op, values })
    }

    fn value_set(&mut self) -> Result<Vec<String>, String> {
        match self.next() {
            Some(Token::Open) => {}
            other => return Err(format!("expected `(`, found {}", describe(other.as_ref()))),
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                Some(Token::Ident(v)) => {
                    values.push(v);
                    match self.next() {
                        Some(Token::Comma) => continue,
                        Some(Token::Close) => break,
                        other => {
                            return Err(format!(
                                "expected `,` or `)`, found {}",
                                describe(other.as_ref())
                            ));
                        }
                    }
                }
                Some(Token::Comma) => values.push(String::new()),
                Some(Token::Close) => {
                    if values.is_empty()
                        || matches!(self.tokens.get(self.pos - 2), Some(Token::Comma))
                    {
                        values.push(String::new());
                    }
                    break;
                }
                other => {
                    return Err(format!(
                        "expected a value, found {}",
                        describe(other.as_ref())
                    ));
                }
            }
        }
        Ok(values)
    }
}

fn describe(t: Option<&Token>) -> String {
    match t {
        None => "the end".to_string(),
        Some(Token::Ident(s)) => format!("`{s}`"),
        Some(Token::Not) => "`!`".to_string(),
        Some(Token::Eq) => "`=`".to_string(),
        Some(Token::NotEq) => "`!=`".to_string(),
        Some(Token::Gt) => "`>`".to_string(),
        Some(Token::Lt) => "`<`".to_string(),
        Some(Token::Open) => "`(`".to_string(),
        Some(Token::Close) => "`)`".to_string(),
        Some(Token::Comma) => "`,`".to_string(),
    }
}

impl LabelSelector {
    /// Parses the string syntax of `k8s.io/apimachinery/pkg/labels`.
    pub fn parse(text: &str) -> Result<Self, PatchError> {
        let err = |message: String| PatchError::Selector {
            message: format!("selector `{text}`: {message}"),
        };
        let tokens = lex(text).map_err(err)?;
        let mut p = Parser { tokens, pos: 0 };
        let mut requirements = Vec::new();
        while p.peek().is_some() {
            let r = p.requirement().map_err(err)?;
            if !valid_key(&r.key) {
                return Err(err(format!(
                    "invalid key `{}`: a key is a name of at most 63 letters, digits, `-`, `_` \
                     or `.` starting and ending with a letter or digit, with an optional DNS \
                     prefix and `/`",
                    r.key
                )));
            }
            if let Some(v) = r.values.iter().find(|v| !valid_value(v))
                && !matches!(r.op, Op::GreaterThan | Op::LessThan)
            {
                return Err(err(format!(
                    "invalid value `{v}`: at most 63 letters, digits, `-`, `_` or `.`, \
                         starting and ending with a letter or digit"
                )));
            }
            requirements.push(r);
            match p.next() {
                None => break,
                Some(Token::Comma) => {
                    if p.peek().is_none() {
                        return Err(err("a `,` must be followed by a requirement".to_string()));
                    }
                }
                other => {
                    return Err(err(format!(
                        "expected `,`, found {}",
                        describe(other.as_ref())
                    )));
                }
            }
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether the selector has no requirement (it matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| {
            let value = labels.get(&r.key);
            match r.op {
                Op::In => value.is_some_and(|v| r.values.contains(v)),
                Op::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                Op::Exists => value.is_some(),
                Op::DoesNotExist => value.is_none(),
                Op::GreaterThan | Op::LessThan => {
                    let (Some(have), Ok(want)) = (
                        value.and_then(|v| v.parse::<i64>().ok()),
                        r.values[0].parse::<i64>(),
                    ) else {
                        return false;
                    };
                    if r.op == Op::GreaterThan {
                        have > want
                    } else {
                        have < want
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sel(text: &str) -> LabelSelector {
        LabelSelector::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    // Cases after k8s.io/apimachinery/pkg/labels selector_test.go TestSelectorMatches.
    #[test]
    fn equality_and_set_operators_match_as_kubernetes_does() {
        let l = labels(&[("x", "y"), ("z", "w"), ("n", "5")]);
        for (text, want) in [
            ("", true),
            ("x=y", true),
            ("x==y", true),
            ("x=y,z=w", true),
            ("x!=z", true),
            ("x!=y", false),
            ("notin!=y", true),
            ("x in (y,z)", true),
            ("x in (z)", false),
            ("x notin (z)", true),
            ("x notin (y)", false),
            ("x", true),
            ("!x", false),
            ("!q", true),
            ("q", false),
            ("n>4", true),
            ("n<4", false),
            ("x>4", false),
            ("x=y, z in (w, v)", true),
            ("q=", false),
            ("q!=", true),
        ] {
            assert_eq!(sel(text).matches(&l), want, "{text}");
        }
        assert!(sel("x in (,y)").matches(&l));
        assert!(sel("q in (a,)").matches(&labels(&[("q", "")])));
    }

    #[test]
    fn malformed_selectors_are_refused_with_the_reason() {
        for (text, needle) in [
            ("x=y,", "must be followed"),
            ("x y", "expected an operator"),
            ("x in y", "expected `(`"),
            ("x in (y", "expected `,` or `)`"),
            ("n>a", "not an integer"),
            ("-x=y", "invalid key"),
            ("x=-y", "invalid value"),
            ("!", "a key after"),
        ] {
            let err = LabelSelector::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn keys_may_carry_a_dns_prefix() {
        let l = labels(&[("app.kubernetes.io/name", "web")]);
        assert!(sel("app.kubernetes.io/name=web").matches(&l));
        assert!(sel("app.kubernetes.io/name in (web, api)").matches(&l));
    }
}
