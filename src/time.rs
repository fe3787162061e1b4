//! Time, as [`std::time`]: the same types, re-exported.
//!
//! Nothing in `std::time` blocks, so these are std's own items; sleeping is
//! [`thread::sleep`](crate::thread::sleep).
//!
//! # Examples
//! ```
//! use greenstd::time::{Duration, Instant};
//!
//! let start = Instant::now();
//! greenstd::thread::sleep(Duration::from_millis(1));
//! assert!(start.elapsed() >= Duration::from_millis(1));
//! ```

pub use std::time::{
    Duration, Instant, SystemTime, SystemTimeError, TryFromFloatSecsError, UNIX_EPOCH,
};
