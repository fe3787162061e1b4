//! The runtime's vocabulary for libc hooks: what the `greenstd-monkey`
//! crate (gevent's `monkey.patch_all()`) is built on. Application code has
//! no use for it.
//!
//! A hook for a libc call (`recv`, `poll`, `clock_nanosleep`...) asks
//! [`should_intercept`]; if not, it calls the real function and nothing
//! else. Otherwise it makes the call non-blocking ([`io()`], [`poll()`]), or
//! replaces it by a coroutine wait ([`sleep_until`], [`run_blocking`]).
//! None of these unwinds: a hook sits behind an `extern "C"` boundary, so a
//! kill or an expired `Timeout` ends the wait with `ECANCELED` (or a short
//! sleep) and stays pending for the coroutine's next greenstd call. They
//! are meant for the thread of a coroutine, never for a signal handler.
//!
//! Not covered by semantic versioning yet: it changes with the runtime.
//!
//! # Examples
//! ```
//! // Outside a coroutine a hook passes straight through.
//! assert!(!greenstd::hooks::should_intercept());
//! let inside = greenstd::thread::spawn(greenstd::hooks::should_intercept);
//! assert!(inside.join().unwrap());
//! ```

use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use crate::runtime::hooks as hooked;
pub use crate::runtime::{Direction, Plan};

/// Whether a hook should act on the call it caught: the caller runs in a
/// coroutine, and the call is not one the runtime itself makes on a socket
/// it manages. One thread-local load each, no syscall.
#[inline]
pub fn should_intercept() -> bool {
    crate::runtime::in_coroutine() && !hooked::in_own_syscall()
}

/// Whether `fd` is a socket; cached per fd number until it is closed.
pub fn is_socket(fd: RawFd) -> bool {
    hooked::is_socket(fd)
}

/// Forgets what the runtime knows of `fd` (its registration with this
/// thread's hub, whether it is a socket): call it before `fd` is closed or
/// replaced (`close`, `dup2`), from any thread.
pub fn forget_fd(fd: RawFd) {
    hooked::forget(fd);
}

/// The part of [`forget_fd`] that is async-signal-safe (one atomic
/// update): for a `close` made in a signal handler. This thread's stale
/// registration, if any, is dropped when the fd number is next used.
pub fn forget_fd_signal_safe(fd: RawFd) {
    hooked::forget_generation(fd);
}

/// Runs `op` (the real call, made non-blocking) until it does not fail
/// with `WouldBlock`, parking the coroutine on `fd` in between. `plan` is
/// asked on the first `WouldBlock`: [`Plan::Fail`] (the caller's socket is
/// non-blocking) returns `Ok(None)` at once, [`Plan::Wait`] waits until its
/// deadline (`Ok(None)` when it passed).
///
/// # Errors
/// `op`'s or `plan`'s error; `ECANCELED` if a kill or timeout came.
pub fn io<T>(
    fd: RawFd,
    direction: Direction,
    plan: impl FnMut() -> io::Result<Plan>,
    op: impl FnMut() -> io::Result<T>,
) -> io::Result<Option<T>> {
    hooked::io(fd, direction, plan, op)
}

/// Parks the coroutine until `check` (a non-blocking look at `fds`, such
/// as a real `poll` with a zero timeout) reports something, or `deadline`
/// passes (`Ok(None)`).
///
/// # Errors
/// `check`'s error; an fd epoll cannot watch; `ECANCELED` if a kill or
/// timeout came.
pub fn poll<T>(
    fds: &[(RawFd, Direction)],
    deadline: Option<Instant>,
    check: impl FnMut() -> io::Result<Option<T>>,
) -> io::Result<Option<T>> {
    hooked::poll(fds, deadline, check)
}

/// Parks the coroutine until `deadline`; `false` if a kill or an expired
/// `Timeout` ended the sleep early.
pub fn sleep_until(deadline: Instant) -> bool {
    hooked::sleep_until(deadline)
}

/// Runs `f` on the blocking pool while the coroutine parks.
pub fn run_blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    hooked::run_blocking(f)
}

/// The time-slice check every greenstd call makes: lets the others run if
/// the caller has run for a whole slice.
pub fn checkpoint() {
    crate::runtime::checkpoint();
}
