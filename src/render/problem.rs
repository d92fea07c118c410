//! Problems found while rendering: each names its file and line, and they are reported together.

use std::fmt;

use crate::manifest::Origin;

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Rendering continues; the problem is shown.
    Warning,
    /// Rendering fails; nothing is sent to a cluster.
    Error,
}

/// What kind of problem it is, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// A file or directory could not be read.
    Io,
    /// YAML or JSON syntax error.
    Syntax,
    /// Input refused as hostile or too large (alias bombs, depth, size).
    Limit,
    /// A document is not a Kubernetes object (not a mapping, missing fields).
    Structure,
    /// `${NAME}` used without a value.
    UndefinedVariable,
    /// An `--image` override that matched nothing.
    UnusedImage,
    /// A namespace that conflicts with `--namespace`.
    Namespace,
    /// Two objects with the same identity.
    Duplicate,
    /// Input kpush does not support (a kustomize plugin, a remote resource).
    Unsupported,
    /// A kustomization that kustomize would refuse (cycles, conflicts, bad entries).
    Kustomize,
    /// An invalid label or annotation.
    Metadata,
    /// A Helm chart that helm could not render (template, values, `--set`, dependencies).
    Chart,
    /// A SOPS-encrypted file that could not be decrypted (no key, wrong key, MAC mismatch).
    Decrypt,
}

/// One problem with its location.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Category.
    pub kind: ProblemKind,
    /// File and line (line 0 when the problem concerns a whole file or a flag).
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// What is wrong and what to do.
    pub message: String,
    /// The offending source line, shown under the message.
    #[serde(skip)]
    pub source_line: Option<String>,
}

impl Problem {
    /// An error at `origin`.
    pub fn error(kind: ProblemKind, origin: &Origin, message: impl Into<String>) -> Self {
        Self::at(Severity::Error, kind, &origin.file, origin.line, message)
    }

    /// A warning at `origin`.
    pub fn warning(kind: ProblemKind, origin: &Origin, message: impl Into<String>) -> Self {
        Self::at(Severity::Warning, kind, &origin.file, origin.line, message)
    }

    /// A problem at an explicit file and line.
    pub fn at(
        severity: Severity,
        kind: ProblemKind,
        file: &str,
        line: u32,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            kind,
            file: file.to_string(),
            line,
            column: None,
            message: message.into(),
            source_line: None,
        }
    }

    /// Adds a column.
    pub fn with_column(mut self, column: u32) -> Self {
        self.column = Some(column);
        self
    }

    /// Adds the offending source line.
    pub fn with_source_line(mut self, line: Option<&str>) -> Self {
        self.source_line = line.map(|l| truncate(l, 160));
        self
    }

    /// `file:line[:column]`, or just the file when the line is unknown.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (0, _) => self.file.clone(),
            (l, Some(c)) => format!("{}:{}:{}", self.file, l, c),
            (l, None) => format!("{}:{}", self.file, l),
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {sev}: {}", self.location(), self.message)?;
        if let Some(src) = &self.source_line {
            let n = self.line.to_string();
            write!(f, "\n  {n} | {src}")?;
            if let Some(c) = self.column {
                let pad = " ".repeat(n.len());
                let col = " ".repeat(c.saturating_sub(1) as usize);
                write!(f, "\n  {pad} | {col}^")?;
            }
        }
        Ok(())
    }
}

/// Rendering failed: every error found (and the warnings seen before).
#[derive(Debug, Clone, thiserror::Error)]
pub struct RenderError {
    /// All problems, errors and warnings, in input order.
    pub problems: Vec<Problem>,
}

impl RenderError {
    /// Only the errors.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
    }
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        writeln!(
            f,
            "the manifests have {n} error{}; nothing was sent to the cluster:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_location_source_line_and_caret() {
        let p = Problem::at(
            Severity::Error,
            ProblemKind::Syntax,
            "a.yaml",
            7,
            "bad thing",
        )
        .with_column(3)
        .with_source_line(Some("  x: [1"));
        assert_eq!(
            p.to_string(),
            "a.yaml:7:3: error: bad thing\n  7 |   x: [1\n    |   ^"
        );
    }
}
