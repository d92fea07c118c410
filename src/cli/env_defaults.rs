//! `KPUSH_*` variables that mean "not set": empty values, and false values of switches.
//!
//! CI systems pass every input as a variable, empty when the user left it out
//! (`KPUSH_NAMESPACE=`), and switches as `false` (`KPUSH_PRUNE=false`). clap would treat both as
//! given (an empty namespace is an error; a `false` switch still satisfies or breaks `requires`
//! and `conflicts_with`), so such variables are dropped before parsing.

use clap::{ArgAction, Command};

/// Names of the variables in `vars` that should be treated as unset for `command`.
pub fn unset_equivalents(command: &Command, vars: &[(String, String)]) -> Vec<String> {
    let mut switches = Vec::new();
    collect_switch_envs(command, &mut switches);
    vars.iter()
        .filter(|(k, _)| k.starts_with("KPUSH_"))
        .filter(|(k, v)| v.trim().is_empty() || (switches.iter().any(|s| s == k) && is_false(v)))
        .map(|(k, _)| k.clone())
        .collect()
}

fn collect_switch_envs(command: &Command, out: &mut Vec<String>) {
    for arg in command.get_arguments() {
        if matches!(arg.get_action(), ArgAction::SetTrue)
            && let Some(env) = arg.get_env().and_then(|e| e.to_str())
        {
            out.push(env.to_string());
        }
    }
    for sub in command.get_subcommands() {
        collect_switch_envs(sub, out);
    }
}

fn is_false(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "false" | "0" | "no" | "off" | "n" | "f"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::CommandFactory;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_values_and_false_switches_count_as_unset() {
        let unset = unset_equivalents(
            &Cli::command(),
            &vars(&[
                ("KPUSH_NAMESPACE", ""),
                ("KPUSH_PRUNE", "false"),
                ("KPUSH_FORCE_CONFLICTS", "false"),
                ("KPUSH_STRICT_IMAGES", "0"),
                ("KPUSH_WAIT", "false"),
                ("KPUSH_FAILURE_THRESHOLD", "0"),
                ("KPUSH_IMAGE", "a=b"),
                ("HOME", ""),
            ]),
        );
        assert_eq!(
            unset,
            // KPUSH_PRUNE takes a value (`false` turns a release's default prune off).
            vec![
                "KPUSH_NAMESPACE",
                "KPUSH_FORCE_CONFLICTS",
                "KPUSH_STRICT_IMAGES"
            ]
        );
    }
}
