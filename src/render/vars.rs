//! Variable substitution on manifest text: `${NAME}`, `${NAME:-default}`, and `$${` as an escape.
//!
//! Substitution runs only when asked for ([`Substitution::from_flags`]): when the run names a
//! variable (`--var`, `--var-file`, `KPUSH_VAR_*`) or passes `--substitute`. Otherwise the text
//! is left exactly as written, so shell scripts in ConfigMaps and init containers deploy as
//! `kubectl apply` would deploy them. Values never come from the rest of the environment.

use std::collections::BTreeMap;
use std::path::Path;

/// Variables available to substitution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    values: BTreeMap<String, String>,
}

/// A `${NAME}` without a value and without a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undefined {
    /// The variable's name.
    pub name: String,
    /// 1-based line in the original text.
    pub line: u32,
    /// 1-based column of the `$`.
    pub column: u32,
}

/// Substituted text and, for each of its lines, the line of the original text it came from.
#[derive(Debug, Clone)]
pub struct Substituted {
    /// The text after substitution.
    pub text: String,
    /// `line_map[i]` is the original 1-based line of output line `i + 1`.
    pub line_map: Vec<u32>,
}

impl Substituted {
    /// `text` unchanged (substitution off).
    pub fn verbatim(text: &str) -> Self {
        let lines = text.split_inclusive('\n').count().max(1) as u32;
        Substituted {
            text: text.to_string(),
            line_map: (1..=lines).collect(),
        }
    }

    /// The original line for a 1-based output line.
    pub fn original_line(&self, line: u32) -> u32 {
        let idx = line.saturating_sub(1) as usize;
        self.line_map
            .get(idx)
            .or(self.line_map.last())
            .copied()
            .unwrap_or(line)
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Annotation that turns substitution off for one object.
pub const OPT_OUT_ANNOTATION: &str = "kpush.dev/substitute";
/// Flux's annotation with the same meaning, honoured so Flux-ready manifests behave alike.
pub const FLUX_OPT_OUT_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// Whether `metadata.annotations` of `object` turns substitution off (`…/substitute: disabled`).
pub fn opts_out(object: &serde_json::Value) -> bool {
    let annotations = object.pointer("/metadata/annotations");
    [OPT_OUT_ANNOTATION, FLUX_OPT_OUT_ANNOTATION]
        .iter()
        .any(|key| {
            annotations
                .and_then(|a| a.get(*key))
                .and_then(serde_json::Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
        })
}

/// Whether, and how strictly, `${NAME}` is substituted in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Substitution {
    /// Text is left exactly as written (no variable named, no `--substitute`).
    #[default]
    Off,
    /// Known names and defaults are substituted; other `${NAME}`s are left as written.
    Lenient,
    /// Like `Lenient`, but a `${NAME}` without a value or default is an error (`--strict-vars`).
    Strict,
}

impl Substitution {
    /// The mode for a run: on when variables were given or `--substitute`/`--strict-vars` was.
    pub fn from_flags(vars: &Vars, substitute: bool, strict: bool) -> Self {
        if strict {
            Substitution::Strict
        } else if substitute || !vars.is_empty() {
            Substitution::Lenient
        } else {
            Substitution::Off
        }
    }
}

/// Prefix of environment variables that define substitution variables (`KPUSH_VAR_TAG=1` → `TAG`).
pub const ENV_PREFIX: &str = "KPUSH_VAR_";

impl Vars {
    /// Variables from `KPUSH_VAR_<NAME>` entries of `env` (`KPUSH_VAR_FILE` is a flag, not a
    /// variable); errors name the offending environment variable.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, Vec<String>> {
        let mut vars = Vars::new();
        let mut errors = Vec::new();
        for (key, value) in env {
            let Some(name) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name == "FILE" {
                continue;
            }
            if let Err(e) = vars.set(name, value) {
                errors.push(format!("environment variable {key}: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(vars)
        } else {
            Err(errors)
        }
    }

    /// No variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether substitution would do anything at all (if not, text is passed through untouched
    /// except for `$${` escapes).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Sets `name` to `value`; later definitions win.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        if !valid_name(name) {
            return Err(format!(
                "`{name}` is not a valid variable name (letters, digits and `_`, not starting with a digit)"
            ));
        }
        self.values.insert(name.to_string(), value.to_string());
        Ok(())
    }

    /// Parses `NAME=VALUE` from `--var`.
    pub fn set_pair(&mut self, pair: &str) -> Result<(), String> {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("--var `{pair}` must have the form NAME=VALUE"))?;
        self.set(k.trim(), v)
    }

    /// Reads a dotenv file: `NAME=VALUE` lines, `#` comments, optional `export `, quoted values.
    pub fn load_dotenv(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --var-file {}: {e}", path.display()))?;
        self.load_dotenv_text(&text, &path.display().to_string())
    }

    /// Parses dotenv text; `name` is used in error messages.
    pub fn load_dotenv_text(&mut self, text: &str, name: &str) -> Result<(), String> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!(
                    "{name}:{}: expected NAME=VALUE, found `{line}`",
                    i + 1
                ));
            };
            let v = v.trim();
            let value = if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                inner
                    .replace("\\n", "\n")
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\")
            } else if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
                inner.to_string()
            } else {
                // Unquoted: a ` #` starts a comment.
                match v.find(" #") {
                    Some(p) => v[..p].trim_end().to_string(),
                    None => v.to_string(),
                }
            };
            self.set(k.trim(), &value)
                .map_err(|e| format!("{name}:{}: {e}", i + 1))?;
        }
        Ok(())
    }

    /// Substitutes variables in `text`, returning every undefined reference.
    pub fn substitute(&self, text: &str) -> Result<Substituted, Vec<Undefined>> {
        let (sub, undefined) = self.substitute_all(text);
        if undefined.is_empty() {
            Ok(sub)
        } else {
            Err(undefined)
        }
    }

    /// Substitutes what it can (undefined references stay as written) and lists the undefined.
    pub fn substitute_all(&self, text: &str) -> (Substituted, Vec<Undefined>) {
        self.substitute_except(text, &[])
    }

    /// Like [`Vars::substitute_all`], leaving the lines in `skip` (1-based, inclusive ranges:
    /// documents that opted out) exactly as written.
    pub fn substitute_except(
        &self,
        text: &str,
        skip: &[std::ops::RangeInclusive<u32>],
    ) -> (Substituted, Vec<Undefined>) {
        let mut out = String::with_capacity(text.len());
        let mut line_map = Vec::new();
        let mut undefined = Vec::new();
        for (idx, line) in text.split_inclusive('\n').enumerate() {
            let lineno = idx as u32 + 1;
            let start_len = out.len();
            if skip.iter().any(|r| r.contains(&lineno)) {
                out.push_str(line);
            } else {
                self.substitute_line(line, lineno, &mut out, &mut undefined);
            }
            let added = out[start_len..].matches('\n').count();
            let lines_here = if out[start_len..].ends_with('\n') {
                added
            } else {
                added + 1
            };
            line_map.extend(std::iter::repeat_n(lineno, lines_here.max(1)));
        }
        (
            Substituted {
                text: out,
                line_map,
            },
            undefined,
        )
    }

    fn substitute_line(
        &self,
        line: &str,
        lineno: u32,
        out: &mut String,
        undefined: &mut Vec<Undefined>,
    ) {
        let bytes = line.as_bytes();
        let mut i = 0;
        let mut last = 0;
        while i < bytes.len() {
            if bytes[i] != b'$' {
                i += 1;
                continue;
            }
            // `$${` → literal `${`.
            if bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') {
                out.push_str(&line[last..i]);
                out.push_str("${");
                i += 3;
                last = i;
                continue;
            }
            if bytes.get(i + 1) != Some(&b'{') {
                i += 1;
                continue;
            }
            let Some(close) = line[i + 2..].find('}') else {
                i += 1;
                continue;
            };
            let inner = &line[i + 2..i + 2 + close];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if !valid_name(name) {
                // Not our syntax (for example `${1}` or `${a.b}`): leave it alone.
                i += 1;
                continue;
            }
            out.push_str(&line[last..i]);
            match (self.values.get(name), default) {
                (Some(v), _) => out.push_str(v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    undefined.push(Undefined {
                        name: name.to_string(),
                        line: lineno,
                        column: line[..i].chars().count() as u32 + 1,
                    });
                    out.push_str(&line[i..i + 3 + close]);
                }
            }
            i += 3 + close;
            last = i;
        }
        out.push_str(&line[last..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        let mut v = Vars::new();
        for (k, val) in pairs {
            v.set(k, val).unwrap();
        }
        v
    }

    #[test]
    fn substitutes_values_and_defaults() {
        let v = vars(&[("TAG", "1.2")]);
        let s = v
            .substitute("image: web:${TAG}\nreplicas: ${N:-3}\n")
            .unwrap();
        assert_eq!(s.text, "image: web:1.2\nreplicas: 3\n");
    }

    #[test]
    fn double_dollar_escapes() {
        let s = Vars::new().substitute("cmd: echo $${HOME}\n").unwrap();
        assert_eq!(s.text, "cmd: echo ${HOME}\n");
    }

    #[test]
    fn every_undefined_variable_is_listed_with_line_and_column() {
        let err = Vars::new()
            .substitute("a: ${ONE}\nb: x\nc: ${TWO} ${THREE}\n")
            .unwrap_err();
        let got: Vec<_> = err
            .iter()
            .map(|u| (u.name.as_str(), u.line, u.column))
            .collect();
        assert_eq!(got, vec![("ONE", 1, 4), ("TWO", 3, 4), ("THREE", 3, 11)]);
    }

    #[test]
    fn foreign_syntax_is_left_alone() {
        let s = Vars::new().substitute("a: ${1} $PATH ${a.b}\n").unwrap();
        assert_eq!(s.text, "a: ${1} $PATH ${a.b}\n");
    }

    #[test]
    fn multi_line_values_keep_the_line_map() {
        let v = vars(&[("CERT", "l1\nl2")]);
        let s = v.substitute("a: |\n  ${CERT}\nb: 1\n").unwrap();
        assert_eq!(s.line_map, vec![1, 2, 2, 3]);
        assert_eq!(s.original_line(4), 3);
    }

    #[test]
    fn skipped_lines_stay_as_written() {
        let v = vars(&[("A", "x")]);
        let (s, undefined) =
            v.substitute_except("a: ${A}\nb: ${A} $${B} ${C}\nc: ${A}\n", &[2..=2]);
        assert_eq!(s.text, "a: x\nb: ${A} $${B} ${C}\nc: x\n");
        assert!(undefined.is_empty());
    }

    #[test]
    fn mode_is_off_unless_asked() {
        assert_eq!(
            Substitution::from_flags(&Vars::new(), false, false),
            Substitution::Off
        );
        assert_eq!(
            Substitution::from_flags(&Vars::new(), true, false),
            Substitution::Lenient
        );
        assert_eq!(
            Substitution::from_flags(&vars(&[("A", "1")]), false, false),
            Substitution::Lenient
        );
        assert_eq!(
            Substitution::from_flags(&Vars::new(), false, true),
            Substitution::Strict
        );
    }

    #[test]
    fn env_variables_with_the_prefix_become_variables() {
        let env: BTreeMap<String, String> = [
            ("KPUSH_VAR_TAG", "1.2"),
            ("KPUSH_VAR_FILE", "vars.env"),
            ("KPUSH_VAR", "A=1"),
            ("HOME", "/root"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let v = Vars::from_env(&env).unwrap();
        assert_eq!(
            v.substitute("${TAG} ${FILE:-none} ${HOME:-none}")
                .unwrap()
                .text,
            "1.2 none none"
        );
        let bad: BTreeMap<String, String> = [("KPUSH_VAR_1X".to_string(), "v".to_string())].into();
        assert!(Vars::from_env(&bad).unwrap_err()[0].contains("KPUSH_VAR_1X"));
    }

    #[test]
    fn either_opt_out_annotation_disables_substitution() {
        let kp =
            serde_json::json!({"metadata": {"annotations": {"kpush.dev/substitute": "disabled"}}});
        let flux = serde_json::json!({"metadata": {"annotations": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}}});
        let other =
            serde_json::json!({"metadata": {"annotations": {"kpush.dev/substitute": "enabled"}}});
        assert!(opts_out(&kp));
        assert!(opts_out(&flux));
        assert!(!opts_out(&other));
        assert!(!opts_out(&serde_json::json!({"metadata": {}})));
    }

    #[test]
    fn dotenv_parses_quotes_comments_and_export() {
        let mut v = Vars::new();
        v.load_dotenv_text(
            "# c\nexport A=1\nB=\"x y\"\nC='z'\nD=plain # note\n",
            "f.env",
        )
        .unwrap();
        let s = v.substitute("${A} ${B} ${C} ${D}").unwrap();
        assert_eq!(s.text, "1 x y z plain");
    }

    #[test]
    fn dotenv_error_names_file_and_line() {
        let err = Vars::new()
            .load_dotenv_text("A=1\nnonsense\n", "f.env")
            .unwrap_err();
        assert!(err.starts_with("f.env:2:"), "{err}");
    }
}
