//! Stage 3, apply.
