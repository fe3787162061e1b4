//! Unix-specific items, as [`std::os::unix`].

pub mod fs;
pub mod net;
