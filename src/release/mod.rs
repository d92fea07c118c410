//! Releases: the push side's memory. A release is kpush's ApplySet of that name; each apply of
//! it records a [`Revision`] (manifests as applied, images, CI run, per-object actions, verdict)
//! in a Secret of the release's namespace, under a per-release deploy [`lock`]. `history`,
//! `list`, `rollback` and `drift` read those records.

pub mod drift;
pub mod lock;
pub mod record;
pub mod revision;
pub mod signature;
pub mod store;

pub use revision::{ObjectRecord, Revision, RunInfo, Status};
pub use signature::{RecordKey, Trust};
pub use store::{History, Store, StoreError, Unreadable};

/// Longest release name: the name goes into label values (63 characters at most) and Secret
/// names with room for the revision suffix.
pub const MAX_NAME: usize = 53;

/// A release: its name and the namespace holding its records (and its ApplySet parent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The name (`--release`).
    pub name: String,
    /// The namespace (`--namespace`, or the context's).
    pub namespace: String,
}

impl Release {
    /// A release after checking that `name` is usable.
    pub fn new(name: &str, namespace: &str) -> Result<Self, String> {
        validate_name(name)?;
        Ok(Self {
            name: name.into(),
            namespace: namespace.into(),
        })
    }

    /// Its ApplySet (parent Secret named like the release).
    pub fn applyset(&self) -> crate::plan::ApplySet {
        crate::plan::ApplySet::new(self.name.clone(), self.namespace.clone())
    }
}

/// Checks a release name: lowercase letters, digits, `-` and `.`, starting and ending with a
/// letter or digit, at most [`MAX_NAME`] characters.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "release name `{name}` must be at most {MAX_NAME} characters of lowercase letters, \
             digits, `-` and `.`, starting and ending with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_are_checked() {
        assert!(Release::new("shop-web.v2", "prod").is_ok());
        assert!(validate_name("Shop").is_err());
        assert!(validate_name("-a").is_err());
        assert!(validate_name(&"a".repeat(54)).is_err());
        assert!(validate_name("").is_err());
    }
}
