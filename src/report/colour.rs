//! Whether output carries ANSI colours, following `NO_COLOR` and `CLICOLOR_FORCE`.

use std::collections::BTreeMap;

/// Whether to colour output: `NO_COLOR` (non-empty) turns colours off, else `CLICOLOR_FORCE`
/// (non-empty, not `0`) turns them on, else `CLICOLOR=0` turns them off, else `default`
/// (true for a terminal, and for CI logs, which render colours without a terminal).
pub fn enabled(env: &BTreeMap<String, String>, default: bool) -> bool {
    let set = |k: &str| env.get(k).filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        return false;
    }
    if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    if set("CLICOLOR").is_some_and(|v| v == "0") {
        return false;
    }
    default
}

/// Paints text with ANSI colours, or leaves it alone when colours are off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    /// Whether colours are on.
    pub enabled: bool,
}

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Success.
    pub fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }

    /// Failure.
    pub fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }

    /// Caution or change.
    pub fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }

    /// Deletion.
    pub fn magenta(self, text: &str) -> String {
        self.wrap("35", text)
    }

    /// Secondary detail.
    pub fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }

    /// Emphasis.
    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_color_wins_over_everything() {
        assert!(!enabled(
            &env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]),
            true
        ));
    }

    #[test]
    fn clicolor_force_turns_colours_on_without_a_terminal() {
        assert!(enabled(&env(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(!enabled(&env(&[("CLICOLOR_FORCE", "0")]), false));
        assert!(!enabled(&env(&[("NO_COLOR", "")]), false));
        assert!(enabled(&env(&[("NO_COLOR", "")]), true));
        assert!(!enabled(&env(&[("CLICOLOR", "0")]), true));
    }

    #[test]
    fn paint_wraps_only_when_enabled() {
        assert_eq!(Paint { enabled: true }.red("x"), "\x1b[31mx\x1b[0m");
        assert_eq!(Paint { enabled: false }.red("x"), "x");
    }
}
