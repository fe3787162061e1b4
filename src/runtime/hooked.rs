//! File descriptors greenstd did not open: what libc hooks (the
//! `greenstd-monkey` crate) wait with.
//!
//! A hooked socket call that would block parks its coroutine on the fd
//! through a [`Registration`] kept in a per-thread table indexed by fd
//! number, so the epoll registration survives from one call to the next
//! (one `epoll_ctl` per fd and hub, not two per wait).
//!
//! A process-wide table of generations (one atomic word per fd number,
//! lock-free and bounded) makes this correct across `close`, `dup2` and fd
//! reuse from any thread: the `close` hook bumps the fd's generation (and
//! drops the calling thread's registration before the real close), and a
//! thread that finds its entry's generation outdated drops it and
//! registers afresh. The same word caches whether the fd is a socket (an
//! `fstat` the first time), so `read`/`write` hooks can let files, pipes
//! and terminals through at the cost of one atomic load.

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::io::{Direction, Plan, Registration};

/// Fd numbers the tables cover; larger ones get a registration per call.
const TABLE_FDS: usize = 1 << 16;

/// Per fd number: `generation << 2 | kind`.
static WORDS: [AtomicU64; TABLE_FDS] = [const { AtomicU64::new(0) }; TABLE_FDS];

const KIND_UNKNOWN: u64 = 0;
const KIND_SOCKET: u64 = 1;
const KIND_OTHER: u64 = 2;
const KIND_MASK: u64 = 3;

struct Entry {
    generation: u64,
    registration: Rc<Registration>,
}

thread_local! {
    static TABLE: RefCell<Vec<Option<Entry>>> = const { RefCell::new(Vec::new()) };
}

fn slot(fd: RawFd) -> Option<&'static AtomicU64> {
    usize::try_from(fd).ok().and_then(|i| WORDS.get(i))
}

/// Whether `fd` is a socket (cached; an `fstat` on first sight, and again
/// after the fd was closed). Unknown and invalid fds count as not sockets.
pub(crate) fn is_socket(fd: RawFd) -> bool {
    let Some(word) = slot(fd) else {
        return fstat_is_socket(fd);
    };
    let seen = word.load(Ordering::Acquire);
    match seen & KIND_MASK {
        KIND_SOCKET => true,
        KIND_OTHER => false,
        _ => {
            let socket = fstat_is_socket(fd);
            let kind = if socket { KIND_SOCKET } else { KIND_OTHER };
            // Only if no close came in between: otherwise leave it unknown.
            let _ = word.compare_exchange(
                seen,
                (seen & !KIND_MASK) | kind,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            socket
        }
    }
}

fn fstat_is_socket(fd: RawFd) -> bool {
    // SAFETY: an all-zero `stat` is a valid buffer for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes only into `st`; an invalid fd makes it fail.
    let rc = unsafe { libc::fstat(fd, &mut st) };
    rc == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK
}

fn generation(fd: RawFd) -> u64 {
    slot(fd).map_or(0, |w| w.load(Ordering::Acquire) >> 2)
}

/// Forgets everything known of `fd`: called by the `close` and `dup2`
/// hooks before the real call, from any thread. Drops this thread's
/// registration (deregistering the fd from its hub while the number still
/// names it); other threads notice the new generation on their next use.
pub(crate) fn forget(fd: RawFd) {
    forget_generation(fd);
    let removed = TABLE
        .try_with(|t| {
            let mut table = t.try_borrow_mut().ok()?;
            let i = usize::try_from(fd).ok()?;
            table.get_mut(i)?.take()
        })
        .ok()
        .flatten();
    drop(removed);
}

/// Starts a new generation of `fd`'s global word: every thread's
/// registration of the old one is stale. One atomic loop; signal-safe.
pub(crate) fn forget_generation(fd: RawFd) {
    if let Some(word) = slot(fd) {
        let mut seen = word.load(Ordering::Acquire);
        loop {
            let next = ((seen >> 2).wrapping_add(1) << 2) | KIND_UNKNOWN;
            match word.compare_exchange_weak(seen, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => seen = now,
            }
        }
    }
}

/// This thread's registration of `fd`, made (or renewed) if needed.
fn registration(fd: RawFd) -> Rc<Registration> {
    let Ok(i) = usize::try_from(fd) else {
        return Rc::new(Registration::new(fd));
    };
    if i >= TABLE_FDS {
        return Rc::new(Registration::new(fd));
    }
    let current = generation(fd);
    let stale = TABLE.with(|t| {
        let mut table = t.borrow_mut();
        if table.len() <= i {
            table.resize_with(i + 1, || None);
        }
        match &table[i] {
            Some(e) if e.generation == current => return Err(e.registration.clone()),
            _ => {}
        }
        Ok(table[i].take())
    });
    let stale = match stale {
        Err(fresh) => return fresh,
        Ok(stale) => stale,
    };
    // The fd number was closed (by another thread) since: the kernel
    // dropped that registration, and the number may name another file now.
    if let Some(stale) = stale {
        stale.registration.abandon();
    }
    let registration = Rc::new(Registration::new(fd));
    TABLE.with(|t| {
        t.borrow_mut()[i] = Some(Entry {
            generation: current,
            registration: registration.clone(),
        });
    });
    registration
}

/// Runs a hooked call on `fd` (the real syscall, made non-blocking) until
/// it does not fail with `WouldBlock`; on the first `WouldBlock` `plan`
/// decides between failing at once and waiting until a deadline. Only
/// inside a coroutine; kills and timeouts never unwind out of it (they end
/// the wait with `ECANCELED` and stay pending).
///
/// # Errors
/// `op`'s or `plan`'s error; `ECANCELED` when interrupted.
pub(crate) fn io<T>(
    fd: RawFd,
    direction: Direction,
    plan: impl FnMut() -> io::Result<Plan>,
    op: impl FnMut() -> io::Result<T>,
) -> io::Result<Option<T>> {
    let _defer = super::wait::defer_interrupts();
    registration(fd).io_planned(direction, plan, op)
}

/// Waits until one of `fds` may be ready in its direction, or `deadline`:
/// a hooked `poll`. `check` is the caller's non-blocking look (a real
/// `poll` with a zero timeout): it runs after the ticks are noted, so no
/// readiness is missed; the wait ends when it reports something.
///
/// # Errors
/// An fd epoll cannot watch; `ECANCELED` when interrupted.
pub(crate) fn poll<T>(
    fds: &[(RawFd, Direction)],
    deadline: Option<Instant>,
    mut check: impl FnMut() -> io::Result<Option<T>>,
) -> io::Result<Option<T>> {
    let _defer = super::wait::defer_interrupts();
    let registrations: Vec<(Rc<Registration>, Direction)> =
        fds.iter().map(|&(fd, d)| (registration(fd), d)).collect();
    loop {
        let ticks: Vec<(&Registration, Direction, u64)> = registrations
            .iter()
            .map(|(r, d)| (&**r, *d, r.tick(*d)))
            .collect();
        if let Some(found) = check()? {
            return Ok(Some(found));
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Ok(None);
        }
        if !super::io::wait_any(&ticks, deadline, "poll")? {
            return Ok(None);
        }
    }
}

/// Sleeps until `deadline` without unwinding: returns `false` if a kill
/// or an expired `Timeout` ended it early (they stay pending).
pub(crate) fn sleep_until(deadline: Instant) -> bool {
    let _defer = super::wait::defer_interrupts();
    while Instant::now() < deadline {
        let _ = super::wait::park(Some(deadline), "sleep");
        if super::wait::interrupted_while_deferred() {
            return false;
        }
    }
    true
}

/// Runs `f` on the blocking pool, parking the coroutine, without unwinding.
pub(crate) fn run_blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let _defer = super::wait::defer_interrupts();
    super::pool::run_blocking(f)
}
