//! The kustomization fields served by the patch engine (`patches`, `patchesStrategicMerge`,
//! `patchesJson6902`, `replacements`, `vars`): reading their files and reporting file:line.

use std::sync::Arc;

use serde_json::Value;

use super::KError;
use super::build::{Builder, Dir};
use super::file::{Lined, line_of};
use super::resource::Resource;
use crate::render::problem::ProblemKind;

/// What a patch entry needs: the builder (to read files), the directory and its kustomization.
pub struct Ctx<'b, 'a> {
    pub builder: &'b mut Builder<'a>,
    pub dir: &'b Dir,
    pub kfile: &'b Arc<str>,
}

impl Ctx<'_, '_> {
    fn unsupported(&self, field: &str, line: u32) -> KError {
        KError::new(
            self.kfile,
            line,
            format!(
                "`{field}` is not supported by this kpush build yet; render the overlay with \
                 `kubectl kustomize` and pipe it into `kpush render -`"
            ),
        )
        .kind(ProblemKind::Unsupported)
    }

    /// One `patchesStrategicMerge` entry.
    pub fn strategic_merge_entry(
        &mut self,
        p: &Lined<String>,
        _ra: &mut [Resource],
    ) -> Result<(), KError> {
        Err(self.unsupported("patchesStrategicMerge", line_of(p)))
    }

    /// One `patches` entry.
    pub fn patch_entry(&mut self, p: &Lined<Value>, _ra: &mut [Resource]) -> Result<(), KError> {
        Err(self.unsupported("patches", line_of(p)))
    }

    /// One `patchesJson6902` entry.
    pub fn json6902_entry(&mut self, p: &Lined<Value>, _ra: &mut [Resource]) -> Result<(), KError> {
        Err(self.unsupported("patchesJson6902", line_of(p)))
    }

    /// `replacements`.
    pub fn replacements(
        &mut self,
        list: &[Lined<Value>],
        _ra: &mut [Resource],
    ) -> Result<(), KError> {
        Err(self.unsupported("replacements", list.first().map(line_of).unwrap_or(0)))
    }

    /// `vars`.
    pub fn vars(&mut self, list: &[Lined<Value>], _ra: &mut [Resource]) -> Result<(), KError> {
        Err(self.unsupported("vars", list.first().map(line_of).unwrap_or(0)))
    }
}
