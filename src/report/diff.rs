//! Printing `kpush diff`: a unified diff per changed object, Secret keys (never values), and
//! what `--prune` and a chart's hooks would delete.

use crate::event::{DiffKind, HookDeletion, KeyChange, ObjectDiff, PruneCandidate};

/// Renders the differences; `color` adds ANSI colours to +/- lines.
pub fn render(diffs: &[ObjectDiff], pruned: &[PruneCandidate], color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for d in diffs {
        let what = match d.kind {
            DiffKind::Unchanged => continue,
            DiffKind::Create => "would be created",
            DiffKind::Unverified => {
                "would be created (not dry-run: its CRD or namespace is created by this set)"
            }
            DiffKind::Update => "would change",
        };
        let what = match (&d.note, &d.kind) {
            (Some(note), DiffKind::Create | DiffKind::Update) => format!("{what} ({note})"),
            _ => what.to_string(),
        };
        out.push_str(&paint("1", &format!("{} {what}", d.object.label_at())));
        out.push('\n');
        for line in d.text.lines() {
            let l = if line.starts_with("+++") || line.starts_with("---") {
                paint("1", line)
            } else if line.starts_with('+') {
                paint("32", line)
            } else if line.starts_with('-') {
                paint("31", line)
            } else if line.starts_with("@@") {
                paint("36", line)
            } else {
                line.to_string()
            };
            out.push_str(&l);
            out.push('\n');
        }
        for (k, change) in &d.secret_keys {
            let (sign, word, code) = match change {
                KeyChange::Added => ("+", "added", "32"),
                KeyChange::Changed => ("~", "changed", "33"),
                KeyChange::Removed => ("-", "removed", "31"),
            };
            out.push_str(&paint(
                code,
                &format!("{sign} data.{k}: {word} (value hidden)"),
            ));
            out.push('\n');
        }
        out.push('\n');
    }
    for p in pruned {
        let line = if p.kept {
            format!(
                "{} would be kept although no longer in the manifests (pass --prune-namespaces-and-crds to delete it)",
                p.object.label()
            )
        } else {
            format!("{} would be pruned (deleted)", p.object.label())
        };
        out.push_str(&paint("35", &line));
        out.push('\n');
    }
    out
}

/// The live objects running a chart's hooks would delete (or that kpush would refuse to
/// delete, stopping the apply), one line each.
pub fn render_hook_deletions(hooks: &[HookDeletion], color: bool) -> String {
    let mut out = String::new();
    for h in hooks {
        if h.refused.is_none() && h.policy == "none" {
            // Applied over like any object of the release; nothing is deleted.
            continue;
        }
        let (line, code) = match (&h.refused, h.policy.as_str()) {
            (Some(reason), policy) => (
                format!(
                    "{} would NOT be {} for the Helm hook of that name \
                     (helm.sh/hook-delete-policy: {policy}): {reason}; kpush apply would stop \
                     before changing anything",
                    h.object.label_at(),
                    if policy == "none" {
                        "applied over"
                    } else {
                        "deleted"
                    }
                ),
                "31",
            ),
            (None, policy @ "before-hook-creation") => (
                format!(
                    "{} would be deleted and created again (Helm hook, \
                     helm.sh/hook-delete-policy: {policy})",
                    h.object.label_at()
                ),
                "35",
            ),
            (_, policy) => (
                format!(
                    "{} would be applied, then deleted when the hook ends (Helm hook, \
                     helm.sh/hook-delete-policy: {policy})",
                    h.object.label_at()
                ),
                "35",
            ),
        };
        if color {
            out.push_str(&format!("\x1b[{code}m{line}\x1b[0m\n"));
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Whether anything would change.
pub fn has_differences(diffs: &[ObjectDiff], pruned: &[PruneCandidate]) -> bool {
    diffs.iter().any(|d| d.kind != DiffKind::Unchanged) || pruned.iter().any(|p| !p.kept)
}
