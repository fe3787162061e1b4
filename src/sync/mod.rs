//! Synchronization, as [`std::sync`]: locks, condition variables, barriers,
//! one-time initialisation and channels whose waits park the calling
//! coroutine instead of the OS thread, working across coroutines and
//! threads in any mix.
//!
//! With `std::sync`, a coroutine that locks a mutex held by another
//! coroutine of the same thread blocks the thread, and so the holder never
//! runs again: a deadlock. With `greenstd::sync` the waiter parks and the
//! holder runs on.
//!
//! The non-blocking items (`Arc`, `Weak`, `atomic`,
//! `PoisonError`, `TryLockError`, `LockResult`, `TryLockResult`) are std's,
//! re-exported, so `use greenstd::sync::*` replaces `use std::sync::*`.

#![forbid(unsafe_code)]

mod barrier;
mod condvar;
pub mod mpsc;
mod mutex;
mod once;
mod rwlock;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
#[allow(deprecated)]
pub use once::ONCE_INIT;
pub use once::{LazyLock, Once, OnceLock, OnceState};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use std::sync::{Arc, LockResult, PoisonError, TryLockError, TryLockResult, Weak, atomic};
