//! The human reporter: one line per object on standard output (`created  Deployment.apps
//! shop/web  (web.yaml:14)`), notes and rejections on standard error, colour on a terminal.

use std::io::Write;
use std::sync::Mutex;

use super::events::{Action, Event, ObjectRef, Reporter};

/// Writes apply results for people.
pub struct TerminalReporter {
    out: Mutex<Box<dyn Write + Send>>,
    err: Mutex<Box<dyn Write + Send>>,
    color: bool,
    verbose: bool,
    /// Advice already printed: repeated for many objects (a missing RoleBinding), it is shown once.
    fixes_shown: Mutex<std::collections::HashSet<String>>,
}

impl TerminalReporter {
    /// Reports to standard output and standard error; colour when stdout is a terminal.
    pub fn stdio(verbose: bool) -> Self {
        use is_terminal::IsTerminal;
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self::new(
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
            color,
            verbose,
        )
    }

    /// Reports to the given writers (tests use buffers).
    pub fn new(
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
        color: bool,
        verbose: bool,
    ) -> Self {
        Self {
            out: Mutex::new(out),
            err: Mutex::new(err),
            color,
            verbose,
            fixes_shown: Mutex::new(Default::default()),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// The verb printed for an action.
pub fn verb(action: Action) -> &'static str {
    match action {
        Action::Created => "created",
        Action::Configured => "configured",
        Action::Unchanged => "unchanged",
        Action::Recreated => "recreated",
        Action::Pruned => "pruned",
        Action::WouldChange => "would change",
        Action::Skipped => "skipped",
        Action::Failed => "rejected",
    }
}

/// `Deployment.apps shop/web`.
pub fn qualified_name(o: &ObjectRef) -> String {
    let kind = if o.group.is_empty() {
        o.kind.clone()
    } else {
        format!("{}.{}", o.kind, o.group)
    };
    match &o.namespace {
        Some(ns) => format!("{kind} {ns}/{}", o.name),
        None => format!("{kind} {}", o.name),
    }
}

impl Reporter for TerminalReporter {
    fn event(&self, event: &Event) {
        match event {
            Event::Object {
                object,
                action,
                message,
            } => {
                let colour = match action {
                    Action::Created | Action::Recreated => "32",
                    Action::Configured => "33",
                    Action::Pruned => "35",
                    Action::Failed => "31",
                    _ => "2",
                };
                let where_ = object
                    .location()
                    .map(|l| format!("  ({l})"))
                    .unwrap_or_default();
                let line = format!(
                    "{} {}{where_}",
                    self.paint(colour, &format!("{:<10}", verb(*action))),
                    qualified_name(object)
                );
                if *action == Action::Failed {
                    if let Ok(mut e) = self.err.lock() {
                        let _ = writeln!(e, "{line}");
                        if let Some(m) = message {
                            let mut fix_lines = m
                                .lines()
                                .skip_while(|l| !l.trim_start().starts_with("fix:"))
                                .peekable();
                            let fix: String = fix_lines
                                .by_ref()
                                .map(str::trim_start)
                                .collect::<Vec<_>>()
                                .join("\n");
                            let repeated = !fix.is_empty()
                                && self
                                    .fixes_shown
                                    .lock()
                                    .map(|mut shown| !shown.insert(fix.clone()))
                                    .unwrap_or(false);
                            for l in m.lines() {
                                let l = l.trim_start();
                                if repeated && l.starts_with("fix:") {
                                    let _ = writeln!(e, "    fix: as above");
                                    break;
                                }
                                let _ = writeln!(e, "    {l}");
                            }
                        }
                    }
                } else if let Ok(mut o) = self.out.lock() {
                    let _ = writeln!(o, "{}", line.trim_end());
                    // A note on a success, such as a take-over from another tool.
                    for l in message.iter().flat_map(|m| m.lines()) {
                        let _ = writeln!(o, "    {}", self.paint("2", l));
                    }
                }
            }
            Event::Problem { problem } => {
                if let Ok(mut e) = self.err.lock() {
                    let _ = writeln!(e, "{problem}");
                }
            }
            Event::Info { message } if self.verbose => {
                if let Ok(mut e) = self.err.lock() {
                    let _ = writeln!(e, "{}", self.paint("2", message));
                }
            }
            Event::Progress {
                object, message, ..
            } => {
                if let Ok(mut e) = self.err.lock() {
                    let _ = writeln!(e, "{}: {message}", qualified_name(object));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{ObjectKey, Origin};
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn objects_print_verb_name_and_origin_and_rejections_go_to_stderr() {
        let (out, err) = (Buf::default(), Buf::default());
        let r = TerminalReporter::new(Box::new(out.clone()), Box::new(err.clone()), false, false);
        let key = ObjectKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        };
        let object = ObjectRef::new(&key, Some(&Origin::new("web.yaml", 14)));
        r.event(&Event::Object {
            object: object.clone(),
            action: Action::Created,
            message: None,
        });
        r.event(&Event::Object {
            object,
            action: Action::Failed,
            message: Some("Invalid (422): bad\n  fix: do this".into()),
        });
        let out = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let err = String::from_utf8(err.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out, "created    Deployment.apps shop/web  (web.yaml:14)\n");
        assert_eq!(
            err,
            "rejected   Deployment.apps shop/web  (web.yaml:14)\n    Invalid (422): bad\n    fix: do this\n"
        );
    }

    #[test]
    fn the_same_advice_for_many_objects_is_printed_once() {
        let err = Buf::default();
        let r = TerminalReporter::new(
            Box::new(Buf::default()),
            Box::new(err.clone()),
            false,
            false,
        );
        for name in ["a", "b"] {
            let key = ObjectKey {
                group: String::new(),
                kind: "ConfigMap".into(),
                namespace: Some("shop".into()),
                name: name.into(),
            };
            r.event(&Event::Object {
                object: ObjectRef::new(&key, Some(&Origin::new("c.yaml", 1))),
                action: Action::Failed,
                message: Some(
                    "Forbidden (403): no\n  fix: grant it\n    kubectl create rolebinding x".into(),
                ),
            });
        }
        let err = String::from_utf8(err.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            err.matches("kubectl create rolebinding").count(),
            1,
            "{err}"
        );
        assert!(
            err.contains(
                "ConfigMap shop/b  (c.yaml:1)\n    Forbidden (403): no\n    fix: as above\n"
            ),
            "{err}"
        );
    }
}
