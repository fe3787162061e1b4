//! OS-specific items, as [`std::os`].

pub mod unix;
