//! Unix-specific items, as [`std::os::unix`].

pub mod net;
