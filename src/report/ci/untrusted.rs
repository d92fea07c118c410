//! Text kpush did not write (manifest lines, diffs, the API server's messages, pod events)
//! made unable to act as a CI log command, whatever the CI system.
//!
//! A repository is untrusted input: a value in a manifest can hold `::add-mask::`,
//! `##vso[task.setvariable …]` or a GitLab section marker, and kpush echoes such text in diffs
//! and rejections. The runners read commands like this:
//!
//! - GitHub Actions: `::name …::` at the start of a line after leading white space is trimmed
//!   (`TryParseV2`), and the legacy `##[name …]` anywhere in a line (`TryParse`). Lines end at
//!   LF, CR or CRLF.
//! - Azure Pipelines: `##vso[area.action …]` anywhere in a line; `##[group]`, `##[error]`, …
//!   format a line that starts with them.
//! - GitLab CI: `section_start:TIME:NAME` / `section_end:TIME:NAME` markers (after `ESC[0K`).
//!
//! Each is broken by a zero-width space (U+200B) inside the marker: the log shows the text as
//! it was, and no runner reads a command in it. kpush's own commands are written around this
//! (see `CiContext::command`).

/// U+200B ZERO WIDTH SPACE: not white space to .NET's `TrimStart` nor to Rust's `trim_start`.
const ZWSP: char = '\u{200B}';

/// `text` with every CI command marker broken (see the module's documentation); unchanged when
/// it holds none.
pub fn neutralise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at_line_start = true;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if at_line_start && c.is_whitespace() && c != '\n' && c != '\r' {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if at_line_start && rest.starts_with("::") {
            out.push(':');
            out.push(ZWSP);
            out.push(':');
            rest = &rest[2..];
            at_line_start = false;
            continue;
        }
        at_line_start = false;
        if rest.starts_with("##")
            && (rest[2..].starts_with('[') || starts_with_ci(&rest[2..], "vso["))
        {
            out.push('#');
            out.push(ZWSP);
            out.push('#');
            rest = &rest[2..];
            continue;
        }
        if ["section_start:", "section_end:"]
            .iter()
            .any(|m| starts_with_ci(rest, m))
        {
            out.push_str(&rest[.."section".len()]);
            out.push(ZWSP);
            rest = &rest["section".len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
        if c == '\n' || c == '\r' {
            at_line_start = true;
        }
    }
    out
}

/// The forms other than `secret` itself in which [`neutralise`] prints it: at the start of a
/// line and after other text (a `::` is broken only at a line's start). A log must mask these
/// too.
pub fn printed_forms(secret: &str) -> Vec<String> {
    let mut forms: Vec<String> = Vec::new();
    let mid_line = neutralise(&format!("x{secret}"));
    for form in [neutralise(secret), mid_line[1..].to_string()] {
        if form != secret && !forms.contains(&form) {
            forms.push(form);
        }
    }
    forms
}

/// Whether `s` starts with `prefix`, ASCII case ignored.
fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether GitHub's runner would read a command in `line` (after splitting at CR/LF).
    fn github_command(text: &str) -> bool {
        text.split(['\n', '\r'])
            .any(|l| l.trim_start().starts_with("::") || l.contains("##["))
    }

    /// Whether the Azure Pipelines agent would read a command in `text`.
    fn azure_command(text: &str) -> bool {
        text.split(['\n', '\r'])
            .any(|l| l.to_ascii_lowercase().contains("##vso[") || l.trim_start().starts_with("##["))
    }

    fn gitlab_section(text: &str) -> bool {
        text.contains("section_start:") || text.contains("section_end:")
    }

    #[test]
    fn hostile_lines_are_broken_for_every_runner() {
        for hostile in [
            "::add-mask::x",
            "   ::error file=a.yaml::pwned",
            "+  ::warning::pwned",
            "ok\r::stop-commands::t",
            "value ##[error]pwned",
            "x ##vso[task.setvariable variable=a]b",
            "x ##VSO[task.complete result=Failed;]b",
            "##[group]pwned",
            "\u{1b}[0Ksection_start:1:x\r\u{1b}[0Kpwned",
            "a\n\t::set-output name=a::b\n",
        ] {
            let safe = neutralise(hostile);
            assert!(!github_command(&safe), "{hostile:?} → {safe:?}");
            assert!(!azure_command(&safe), "{hostile:?} → {safe:?}");
            assert!(!gitlab_section(&safe), "{hostile:?} → {safe:?}");
            assert_eq!(safe.replace(ZWSP, ""), hostile, "only marks are added");
        }
    }

    #[test]
    fn a_secret_has_a_printed_form_per_position_in_a_line() {
        assert_eq!(
            printed_forms("::k ##[x]"),
            vec![":\u{200B}:k #\u{200B}#[x]", "::k #\u{200B}#[x]"]
        );
        assert_eq!(printed_forms("##vso[a]"), vec!["#\u{200B}#vso[a]"]);
        assert!(printed_forms("plain").is_empty());
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for text in [
            "Deployment shop/web (web.yaml:3) would change",
            "+  image: nginx:1.27",
            "a::b and # heading ## [x] std::io",
            "",
            "ünïcödé: ✅",
        ] {
            assert_eq!(neutralise(text), text);
        }
    }
}
