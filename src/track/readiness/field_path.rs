//! A tiny dotted-path lookup for `kpush.dev/ready-jsonpath`: `status.items[0].phase`.
//!
//! Field names cannot contain dots; there are no wildcards or filters.

use serde_json::Value;

/// One step of a dotted path: a field name or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Parses `status.conditions[0].type` (also `.status.phase` and `{.status.phase}`).
pub(super) fn parse_path(path: &str) -> Result<Vec<Step<'_>>, String> {
    let inner = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path);
    let inner = inner.strip_prefix('.').unwrap_or(inner);
    if inner.is_empty() {
        return Err("the path is empty".to_string());
    }
    let mut steps = Vec::new();
    for segment in inner.split('.') {
        let (key, mut rest) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
        if key.is_empty() && rest.is_empty() {
            return Err(format!("empty field name in {path:?}"));
        }
        if !key.is_empty() {
            steps.push(Step::Key(key));
        }
        while !rest.is_empty() {
            let Some((index, after)) = rest.strip_prefix('[').and_then(|r| r.split_once(']'))
            else {
                return Err(format!("bad index in {path:?}: use field[0]"));
            };
            let index = index
                .trim()
                .parse()
                .map_err(|_| format!("index {index:?} in {path:?} is not a number"))?;
            steps.push(Step::Index(index));
            rest = after;
        }
    }
    Ok(steps)
}

/// The value at `steps` inside `obj`, if every step exists.
pub(super) fn lookup<'a>(obj: &'a Value, steps: &[Step<'_>]) -> Option<&'a Value> {
    steps.iter().try_fold(obj, |v, step| match step {
        Step::Key(k) => v.get(*k),
        Step::Index(i) => v.get(*i),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_parser_reads_keys_and_indexes() {
        assert_eq!(
            parse_path("status.conditions[1].type"),
            Ok(vec![
                Step::Key("status"),
                Step::Key("conditions"),
                Step::Index(1),
                Step::Key("type")
            ])
        );
        assert_eq!(
            parse_path("items[0][2]"),
            Ok(vec![Step::Key("items"), Step::Index(0), Step::Index(2)])
        );
    }

    #[test]
    fn lookup_follows_keys_and_indexes() {
        let obj = json!({"status": {"items": [{"phase": "A"}, {"phase": "B"}]}});
        let steps = parse_path("status.items[1].phase").expect("path");
        assert_eq!(lookup(&obj, &steps), Some(&json!("B")));
        let steps = parse_path("status.items[2].phase").expect("path");
        assert_eq!(lookup(&obj, &steps), None);
    }

    #[test]
    fn path_parser_rejects_malformed_paths() {
        for bad in ["", "{}", "a..b", "a[x]", "a[0", "a[0]b"] {
            assert!(parse_path(bad).is_err(), "{bad:?}");
        }
    }
}
