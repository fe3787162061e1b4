//! The compat harness.
