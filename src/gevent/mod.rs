//! gevent's own API, for what `std::thread` lacks: [`Greenlet`] handles
//! that can be joined with a timeout, killed and switched to, [`spawn`],
//! [`spawn_later`], [`joinall`], [`kill`], [`Timeout`] and
//! [`with_timeout`]. All of it is re-exported at the crate root.
//!
//! # Examples
//! ```
//! use std::time::Duration;
//!
//! let slow = greenstd::spawn(|| greenstd::sleep(Duration::from_secs(60)));
//! let quick = greenstd::spawn(|| greenstd::sleep(Duration::from_millis(1)));
//! assert!(quick.join_timeout(Duration::from_secs(5)));
//! assert!(!slow.join_timeout(Duration::from_millis(10)));
//! slow.kill(); // unwinds it at its sleep
//! assert!(slow.get().unwrap_err().is::<greenstd::Killed>());
//! ```
//!
//! gevent's coordination tools, for what `std::sync` lacks: [`Event`],
//! [`AsyncResult`], [`Semaphore`] and [`BoundedSemaphore`], a [`Queue`] with
//! an optional bound and `join`/`task_done`, and a [`Pool`] that caps how
//! many coroutines run at once (a [`Group`] is a pool without a cap).
//! All of them work across coroutines and threads; all waits park.

#![forbid(unsafe_code)]

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::runtime::{self, WaitQueue, deadline_after};

mod async_result;
mod event;
pub mod greenlet;
mod pool;
mod queue;
mod semaphore;
mod timeout;

pub use async_result::AsyncResult;
pub use event::Event;
pub use greenlet::{Greenlet, current, joinall, kill, spawn, spawn_later};
pub use pool::{Group, Pool};
pub use queue::{Full, Queue};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphorePermit};
pub use timeout::{Elapsed, Timeout, with_timeout};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `queue` until `ready` or `deadline`; a wait that could never
/// end panics with `WouldBlockForever`.
#[track_caller]
fn wait(
    queue: &WaitQueue,
    deadline: Option<Instant>,
    what: &'static str,
    ready: impl FnMut() -> bool,
) -> bool {
    crate::runtime::unwrap_wait(queue.wait_until(deadline, what, ready))
}

/// Waits on `queue` until `attempt` yields a value or `deadline` passes.
#[track_caller]
fn wait_for<T>(
    queue: &WaitQueue,
    deadline: Option<Instant>,
    what: &'static str,
    attempt: impl FnMut() -> Option<T>,
) -> Option<T> {
    crate::runtime::unwrap_wait(queue.wait_for(deadline, what, attempt))
}

/// Runs `f` on greenstd's blocking pool (a few OS threads) and returns its
/// result, parking only the calling coroutine meanwhile; gevent's
/// `threadpool.apply`. For calls that cannot be made cooperative: a C
/// library, a crate doing its own blocking I/O, heavy computation.
///
/// On a thread without coroutines it simply calls `f`. `f` may borrow from
/// the caller: the call does not return (nor unwind on a kill or timeout)
/// before `f` has finished.
///
/// # Panics
/// Resumes `f`'s panic in the caller.
///
/// # Examples
/// ```
/// let data = vec![3, 1, 2];
/// let g = greenstd::spawn(move || {
///     greenstd::spawn_blocking(|| {
///         let mut sorted = data.clone();
///         sorted.sort();
///         sorted
///     })
/// });
/// assert_eq!(g.get().unwrap(), [1, 2, 3]);
/// ```
pub fn spawn_blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    runtime::run_blocking(f)
}

/// Starts gevent's monitor thread: a watchdog that reports on stderr any
/// coroutine that runs for `threshold` or longer without a blocking call or
/// `yield_now` (it stalls every other coroutine of its thread), naming the
/// coroutine by its id (as in `<Greenlet #17>`) and its OS thread. Starting
/// it again does nothing; the first threshold stays.
///
/// # Examples
/// ```
/// greenstd::start_monitor(std::time::Duration::from_millis(500));
/// ```
pub fn start_monitor(threshold: Duration) {
    runtime::start_monitor(threshold);
}

/// Sets the time slice for every thread: how long a coroutine (or a
/// thread's own context whose hub has coroutines) may run between two
/// greenstd calls before the next call lets the others run. `None` turns
/// the check off. The default is 10 ms.
///
/// Every greenstd call, including those that never block (`send` on an
/// unbounded channel, `try_recv`, `try_lock`, `spawn`, a socket call that
/// returns at once), checks the slice, so a loop over such calls cannot
/// starve the other coroutines of its thread, as the kernel's preemption
/// ensures for threads. A loop that calls nothing of greenstd's still has
/// to call [`yield_now`](crate::yield_now) (see [`start_monitor`]).
///
/// # Examples
/// ```
/// use std::time::Duration;
///
/// greenstd::set_time_slice(Some(Duration::from_millis(5)));
/// assert_eq!(greenstd::time_slice(), Some(Duration::from_millis(5)));
/// greenstd::set_time_slice(Some(Duration::from_millis(10))); // the default
/// ```
pub fn set_time_slice(slice: Option<Duration>) {
    runtime::set_time_slice(slice);
}

/// The time slice in force; see [`set_time_slice`].
///
/// # Examples
/// ```
/// assert!(greenstd::time_slice().is_some());
/// ```
pub fn time_slice() -> Option<Duration> {
    runtime::time_slice()
}

/// Sets how many hubs (OS threads running coroutines) spawns spread over:
/// call it before the first spawn. `0` means one per available core. The
/// default is 1, or `GREENSTD_HUBS` from the environment (a number, or
/// `auto`).
///
/// With more than one, a spawn from a thread's own context (not inside a
/// coroutine) starts the coroutine on a worker hub (`greenstd-hub-0`...,
/// round robin; started on first use, living until the process exits); a
/// spawn inside a coroutine stays on that coroutine's hub. Coroutines never
/// move once started. [`Builder::placement`](crate::thread::Builder::placement)
/// chooses otherwise.
///
/// # Errors
/// `InvalidInput` if the count was already decided (by an earlier call, or
/// by the first spawn) and `n` is another.
///
/// # Examples
/// ```
/// greenstd::set_hubs(2).unwrap();
/// assert_eq!(greenstd::hubs(), 2);
/// let h = greenstd::thread::spawn(|| std::thread::current().name().map(String::from));
/// assert!(h.join().unwrap().unwrap().starts_with("greenstd-hub-"));
/// ```
pub fn set_hubs(n: usize) -> std::io::Result<()> {
    runtime::set_hubs(n)
}

/// How many hubs spawns spread over (see [`set_hubs`]); reading it decides
/// the count if nothing did yet.
///
/// # Examples
/// ```
/// assert!(greenstd::hubs() >= 1);
/// ```
pub fn hubs() -> usize {
    runtime::hubs()
}
