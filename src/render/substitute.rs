//! Applying a run's substitution mode to one source: the one place that decides what `${NAME}`
//! becomes in plain files and in the files a kustomization reads.

use super::problem::{Problem, ProblemKind, Severity};
use super::source::Source;
use super::vars::{Substituted, Substitution, Vars};

/// Substitutes `vars` in `src` as `mode` says.
///
/// [`Substitution::Off`] leaves the text verbatim. Otherwise documents that opt out
/// ([`super::documents::opted_out_lines`]) keep their lines as written, and each `${NAME}`
/// without a value or default is a problem at its file:line:column: an error under
/// [`Substitution::Strict`], a warning ("left as written") under [`Substitution::Lenient`].
/// Substitution keeps lines, so file:line stays true.
pub fn substitute_source(
    src: &Source,
    vars: &Vars,
    mode: Substitution,
) -> (Substituted, Vec<Problem>) {
    if mode == Substitution::Off {
        return (Substituted::verbatim(&src.text), Vec::new());
    }
    let skip = super::documents::opted_out_lines(src);
    let (sub, undefined) = vars.substitute_except(&src.text, &skip);
    let lines: Vec<&str> = src.text.lines().collect();
    let problems = undefined
        .into_iter()
        .map(|u| {
            let mut message = format!(
                "variable {} is not defined (--strict-vars): pass --var {}=VALUE, --var-file \
                 FILE or KPUSH_VAR_{}, write ${{{}:-default}}, escape it as $${{{}}}, or mark \
                 the object with the annotation kpush.dev/substitute: disabled",
                u.name, u.name, u.name, u.name, u.name
            );
            let severity = if mode == Substitution::Strict {
                Severity::Error
            } else {
                message.push_str("; left as written");
                Severity::Warning
            };
            Problem::at(
                severity,
                ProblemKind::UndefinedVariable,
                &src.name,
                u.line,
                message,
            )
            .with_column(u.column)
            .with_source_line(lines.get(u.line as usize - 1).copied())
        })
        .collect();
    (sub, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::source::Syntax;

    fn src(text: &str) -> Source {
        Source {
            name: "app.yaml".into(),
            text: text.into(),
            syntax: Syntax::Yaml,
        }
    }

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.set("TAG", "v1").unwrap();
        v
    }

    const TEXT: &str = "a: ${TAG}\nb: ${MISSING}\n";

    #[test]
    fn off_leaves_the_text_verbatim_and_reports_nothing() {
        let (sub, problems) = substitute_source(&src(TEXT), &vars(), Substitution::Off);
        assert_eq!(sub.text, TEXT);
        assert!(problems.is_empty());
    }

    #[test]
    fn lenient_substitutes_known_names_and_warns_about_the_others() {
        let (sub, problems) = substitute_source(&src(TEXT), &vars(), Substitution::Lenient);
        assert_eq!(sub.text, "a: v1\nb: ${MISSING}\n");
        assert_eq!(problems.len(), 1);
        let p = &problems[0];
        assert_eq!(p.severity, Severity::Warning);
        assert_eq!(p.kind, ProblemKind::UndefinedVariable);
        assert_eq!(
            (p.file.as_str(), p.line, p.column),
            ("app.yaml", 2, Some(4))
        );
        assert!(p.message.ends_with("; left as written"), "{}", p.message);
    }

    #[test]
    fn strict_makes_an_undefined_name_an_error_naming_the_fixes() {
        let (_, problems) = substitute_source(&src(TEXT), &vars(), Substitution::Strict);
        assert_eq!(problems.len(), 1);
        let p = &problems[0];
        assert_eq!(p.severity, Severity::Error);
        assert!(
            p.message.contains("pass --var MISSING=VALUE"),
            "{}",
            p.message
        );
        assert!(!p.message.contains("left as written"), "{}", p.message);
    }

    #[test]
    fn an_opted_out_document_keeps_its_text_and_is_not_checked() {
        let text = "a: ${TAG}\n---\nmetadata:\n  annotations:\n    kpush.dev/substitute: disabled\nb: ${TAG} ${MISSING}\n";
        let (sub, problems) = substitute_source(&src(text), &vars(), Substitution::Strict);
        assert!(sub.text.starts_with("a: v1\n"), "{}", sub.text);
        assert!(sub.text.ends_with("b: ${TAG} ${MISSING}\n"), "{}", sub.text);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
