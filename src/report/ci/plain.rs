//! Plain logs (no CI system, or one kpush has no dialect for): no groups, no annotations,
//! nothing to mask with; failures are printed as plain blocks.

use super::dialect::Dialect;

/// The dialect of a plain log.
#[derive(Debug, Default, Clone, Copy)]
pub struct Plain;

impl Dialect for Plain {}
