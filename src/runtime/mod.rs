//! The runtime, in floors: each file imports only files below it, and the
//! facades (`thread`, `net`, `fs`, `sync`, the gevent API, `hooks`) import
//! only what this module exports, never a file's insides (the submodules
//! are private, so the compiler holds everyone to it).
//!
//! ```text
//! this module   the vocabulary, re-exported below
//! floor 7       hooked (raw fds for libc hooks)
//! floor 6       io (fd readiness: Registration) · spawn (joiners, spawn,
//!               scopes) · lock (the mutex under `sync::Mutex`) · shared
//!               (the readers-writer lock under `sync::RwLock`)
//! floor 5       wait (park, sleep, yield, the time-slice checkpoint,
//!               Signal, WaitSlot, WaitQueue) · local (coroutine-locals)
//!               · setup (one-time: hooks and handlers) · poison (a lock's
//!               value and std's poison rule)
//! floor 4       report (whether a coroutine unwinds, the panic hook,
//!               misuse reports)
//! floor 3       workers (the worker hubs, placement) · pool (the
//!               blocking pool)
//! floor 2       hub (the run loop: ready queue, timers, poll, stack pool)
//! floor 1       reactor (readiness per fd, the token table) · timer
//!               · context (the running task) · overflow (the stack
//!               overflow handler)
//! floor 0       task (wake-ups, through the `Schedule` trait the hub
//!               implements) · coroutine (the only user of `generator`)
//!               · error (the public payload types) · monitor · slice (the
//!               time slice's clock) · spin (the lock of short critical
//!               sections)
//! ```
//!
//! A new kind of wait is added to the vocabulary here, then used.

mod context;
mod coroutine;
mod error;
mod hooked;
mod hub;
mod io;
mod local;
mod lock;
mod monitor;
mod overflow;
mod poison;
mod pool;
mod reactor;
mod report;
mod setup;
mod shared;
mod slice;
mod spawn;
mod spin;
mod task;
mod timer;
mod wait;
mod workers;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use error::{Killed, TimeoutExpired, WouldBlockForever};

pub(crate) use context::{current_task, in_coroutine, with_current_task};
pub(crate) use coroutine::{LocalGen, LocalYielder};
pub(crate) use io::Registration;
pub use io::{Direction, Plan};
pub(crate) use local::get_or_init as local_get_or_init;
pub(crate) use lock::{Lock, LockGuard, ReleasedGuard};
pub(crate) use monitor::start as start_monitor;
pub(crate) use pool::run_blocking;
pub(crate) use report::{panic_would_block_forever, panicking};
pub(crate) use setup::once as setup;
pub(crate) use shared::{ReadGuard, SharedLock, WriteGuard};
pub(crate) use slice::{set_slice as set_time_slice, slice as time_slice};
pub(crate) use spawn::{
    Joiner, ScopeData, SpawnOptions, TaskHolder, run_scope, spawn, spawn_unchecked,
};
pub(crate) use spin::{SpinGuard, SpinLock};
pub(crate) use task::Signal;
pub(crate) use task::{ArmedTimeout, Task, next_id};
pub(crate) use wait::{WaitQueue, WaitSlot, checkpoint, park, sleep_until, yield_now};
pub use workers::Placement;
pub(crate) use workers::{hubs, set_hubs};

/// The vocabulary of libc hooks (`crate::hooks`, for greenstd-monkey).
pub(crate) mod hooks {
    pub(crate) use super::hooked::{
        forget, forget_generation, io, is_socket, poll, run_blocking, sleep_until,
    };
    pub(crate) use super::io::in_own_syscall;
}

/// `now + dur`, saturating to a far future for huge durations: the deadline
/// of every call that takes a timeout.
pub(crate) fn deadline_after(dur: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(dur)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// The value of a wait that has no error channel of its own: panics with
/// [`WouldBlockForever`] (gevent's `LoopExit`) if it can never end.
#[track_caller]
pub(crate) fn unwrap_wait<T>(waited: Result<T, WouldBlockForever>) -> T {
    match waited {
        Ok(value) => value,
        Err(e) => panic_would_block_forever(e),
    }
}

/// A greenlet `switch()` to `task`: flags and wakes it, and makes it the
/// next coroutine its hub runs when that hub is this thread's.
pub(crate) fn switch_to(task: &Arc<Task>) {
    task.switch_to();
    prioritise(task);
}

/// Makes `task` the next coroutine its hub runs, when it is on this thread.
pub(crate) fn prioritise(task: &Arc<Task>) {
    if let Some(slot) = task.slot()
        && task.hub_id() == Some(task::local_hub())
        && let Some(hub) = hub::Hub::existing()
    {
        hub.run_next(slot);
    }
}
