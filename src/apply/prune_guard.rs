//! The prune guard: a prune that would empty a release because its render came out empty (a
//! `kustomize build | kpush apply -` pipe without `pipefail`, an empty directory, a chart whose
//! conditions render nothing), or that would delete most of it, is refused before anything
//! changes unless the run says so (`--allow-empty`, `--prune-limit`).
//!
//! The rules, on the release's live members (found by the ApplySet label) and the members the
//! prune would delete (Namespaces and CRDs that are kept do not count):
//! - nothing rendered and at least one member to delete: refused unless `allow_empty`;
//! - `--prune-limit N%` (default 50%): refused when the prune deletes more than N% of the
//!   members *and* at least [`MIN_REFUSED`] objects (removing 1 of 2 objects stays ordinary);
//! - `--prune-limit N`: refused when the prune deletes more than N objects (`0`: any).

use std::fmt;
use std::str::FromStr;

use super::outcome::PrunedObject;
use crate::manifest::ObjectKey;

/// A share limit never refuses a prune of fewer objects than this.
pub const MIN_REFUSED: usize = 5;
/// How many of the objects a refusal names (the rest are counted).
const LISTED: usize = 10;

/// How much of a release one prune may delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneLimit {
    /// At most this share (percent) of the release's live members, unless fewer than
    /// [`MIN_REFUSED`] objects go.
    Percent(u8),
    /// At most this many objects.
    Count(usize),
}

impl Default for PruneLimit {
    fn default() -> Self {
        PruneLimit::Percent(50)
    }
}

impl fmt::Display for PruneLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PruneLimit::Percent(p) => write!(f, "{p}%"),
            PruneLimit::Count(n) => write!(f, "{n}"),
        }
    }
}

impl FromStr for PruneLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || {
            format!(
                "invalid prune limit {s:?}: expected a share of the release such as 50% \
                 (0% to 100%), or a number of objects such as 10"
            )
        };
        match s.strip_suffix('%') {
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= 100 => Ok(PruneLimit::Percent(p)),
                _ => Err(bad()),
            },
            None => s.parse::<usize>().map(PruneLimit::Count).map_err(|_| bad()),
        }
    }
}

/// The guard's settings (`--allow-empty`, `--prune-limit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneGuard {
    /// Let a prune go ahead although the render produced no objects.
    pub allow_empty: bool,
    /// How much of the release one prune may delete.
    pub limit: PruneLimit,
}

/// Why a prune was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The render produced no objects.
    EmptyRender,
    /// The prune deletes more than `--prune-limit` allows.
    OverLimit(PruneLimit),
}

/// A refused prune: why, what it would have deleted, and of how many members.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PruneRefusal {
    /// The release (ApplySet) name.
    pub release: String,
    /// Why.
    pub why: Refused,
    /// The objects the prune would have deleted.
    pub deleting: Vec<ObjectKey>,
    /// The release's live members.
    pub members: usize,
}

impl PruneGuard {
    /// Checks a prune of `release` that deletes the candidates not kept, out of `members` live
    /// members, after a render of `rendered` objects.
    pub fn check(
        &self,
        release: &str,
        rendered: usize,
        members: usize,
        candidates: &[PrunedObject],
    ) -> Result<(), PruneRefusal> {
        let deleting: Vec<ObjectKey> = candidates
            .iter()
            .filter(|p| !p.kept)
            .map(|p| p.key.clone())
            .collect();
        let n = deleting.len();
        let members = members.max(n);
        let why = if n == 0 {
            None
        } else if rendered == 0 && !self.allow_empty {
            Some(Refused::EmptyRender)
        } else {
            let over = match self.limit {
                PruneLimit::Percent(p) => n >= MIN_REFUSED && n * 100 > usize::from(p) * members,
                PruneLimit::Count(c) => n > c,
            };
            over.then_some(Refused::OverLimit(self.limit))
        };
        match why {
            None => Ok(()),
            Some(why) => Err(PruneRefusal {
                release: release.to_string(),
                why,
                deleting,
                members,
            }),
        }
    }
}

impl PruneRefusal {
    /// The objects, the first few named and the rest counted.
    pub fn listing(&self) -> String {
        let mut names: Vec<String> = self
            .deleting
            .iter()
            .take(LISTED)
            .map(ToString::to_string)
            .collect();
        if self.deleting.len() > LISTED {
            names.push(format!("and {} more", self.deleting.len() - LISTED));
        }
        names.join(", ")
    }
}

impl fmt::Display for PruneRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.deleting.len();
        let whole = if n == self.members {
            format!("all {n} objects")
        } else {
            format!("{n} of the {} objects", self.members)
        };
        match &self.why {
            Refused::EmptyRender => write!(
                f,
                "refusing to prune: the manifests rendered no objects, so the prune would delete \
                 {whole} of release {}: {}; nothing was changed. Check the render (a \
                 `kustomize build | kpush apply -` pipe without `set -o pipefail`, an empty \
                 directory, a chart whose conditions render nothing); if the release really \
                 should be emptied, pass --allow-empty (KPUSH_ALLOW_EMPTY=true)",
                self.release,
                self.listing()
            ),
            Refused::OverLimit(limit) => {
                let share = (n * 100).div_ceil(self.members.max(1));
                write!(
                    f,
                    "refusing to prune {whole} of release {} ({share}%, more than --prune-limit \
                     {limit} allows): {}; nothing was changed. If these objects should go, pass \
                     --prune-limit {n} (or --prune-limit 100%; KPUSH_PRUNE_LIMIT) for this run",
                    self.release,
                    self.listing()
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(n: usize, kept: usize) -> Vec<PrunedObject> {
        (0..n + kept)
            .map(|i| PrunedObject {
                key: ObjectKey {
                    group: String::new(),
                    kind: if i < n { "ConfigMap" } else { "Namespace" }.into(),
                    namespace: (i < n).then(|| "shop".into()),
                    name: format!("o{i}"),
                },
                target: crate::cluster::Target {
                    resource: kube::core::ApiResource {
                        group: String::new(),
                        version: "v1".into(),
                        api_version: "v1".into(),
                        kind: "ConfigMap".into(),
                        plural: "configmaps".into(),
                    },
                    namespace: None,
                    has_status: false,
                },
                kept: i >= n,
                uid: None,
            })
            .collect()
    }

    #[test]
    fn limits_parse_as_a_share_or_a_count() {
        assert_eq!("50%".parse(), Ok(PruneLimit::Percent(50)));
        assert_eq!("100%".parse(), Ok(PruneLimit::Percent(100)));
        assert_eq!("7".parse(), Ok(PruneLimit::Count(7)));
        assert!("101%".parse::<PruneLimit>().is_err());
        assert!("half".parse::<PruneLimit>().is_err());
        assert!("-1".parse::<PruneLimit>().is_err());
    }

    #[test]
    fn an_empty_render_may_prune_only_when_allowed() {
        let guard = PruneGuard::default();
        let e = guard.check("shop", 0, 1, &candidates(1, 0)).unwrap_err();
        assert_eq!(e.why, Refused::EmptyRender);
        assert!(e.to_string().contains("--allow-empty"), "{e}");
        assert!(e.to_string().contains("ConfigMap shop/o0"), "{e}");
        let allowed = PruneGuard {
            allow_empty: true,
            ..guard
        };
        assert!(allowed.check("shop", 0, 1, &candidates(1, 0)).is_ok());
        // Nothing to delete (kept Namespaces only): nothing to refuse.
        assert!(guard.check("shop", 0, 1, &candidates(0, 1)).is_ok());
    }

    #[test]
    fn a_share_limit_refuses_large_prunes_but_not_small_ones() {
        let guard = PruneGuard::default();
        // 4 of 5: over half, but fewer than MIN_REFUSED.
        assert!(guard.check("shop", 1, 5, &candidates(4, 0)).is_ok());
        // 5 of 10: exactly half is allowed.
        assert!(guard.check("shop", 5, 10, &candidates(5, 0)).is_ok());
        // 6 of 10: refused.
        let e = guard.check("shop", 4, 10, &candidates(6, 0)).unwrap_err();
        assert_eq!(e.why, Refused::OverLimit(PruneLimit::Percent(50)));
        assert!(e.to_string().contains("6 of the 10 objects"), "{e}");
        assert!(e.to_string().contains("60%"), "{e}");
        let all = PruneGuard {
            allow_empty: false,
            limit: PruneLimit::Percent(100),
        };
        assert!(all.check("shop", 4, 10, &candidates(6, 0)).is_ok());
    }

    #[test]
    fn a_count_limit_refuses_more_than_the_count() {
        let guard = PruneGuard {
            allow_empty: false,
            limit: PruneLimit::Count(2),
        };
        assert!(guard.check("shop", 8, 10, &candidates(2, 0)).is_ok());
        assert!(guard.check("shop", 7, 10, &candidates(3, 0)).is_err());
    }

    #[test]
    fn a_refusal_names_the_first_objects_and_counts_the_rest() {
        let e = PruneGuard::default()
            .check("shop", 0, 25, &candidates(25, 0))
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("all 25 objects"), "{text}");
        assert!(text.contains("ConfigMap shop/o9, and 15 more"), "{text}");
        assert!(!text.contains("o10"), "{text}");
    }
}
