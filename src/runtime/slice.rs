//! Fairness: a time slice checked at every greenstd call.
//!
//! Coroutines cannot be preempted safely (a signal could land while one
//! holds malloc's lock or a `RefCell` borrow), but every greenstd call is a
//! safe point. Each one, including those that never block (`send` on an
//! unbounded channel, `try_recv`, `try_lock`, `spawn`, a socket call that
//! returns at once), calls [`checkpoint`](crate::runtime::checkpoint):
//! when the caller has run for longer than the slice since it was last
//! switched in, it lets the others run (a coroutine yields to its hub and
//! the hub polls for I/O before resuming it; a thread's own context runs
//! one pass of its hub). So a std
//! program that relies on the kernel's preemption (a sender looping until
//! the receiver hangs up, an `accept` loop that keeps failing with
//! `EMFILE`) terminates and stays responsive, as with threads.
//!
//! The fast path is one thread-local load, a count and a compare: the
//! coarse monotonic clock (a vDSO read of a kernel-maintained value, with a
//! resolution of a few ms) is read only at every [`SAMPLE`]th checkpoint
//! since the switch, the first of them starting the slice. A context that
//! switches out sooner (a channel ping-pong, a request served between two
//! reads) never reads the clock: those reads were most of a checkpoint's
//! cost. A slice is thus noticed up to `SAMPLE` calls late, and starts up to
//! `SAMPLE` calls after the switch. Pure computation that calls nothing
//! stays the user's job (`yield_now`, the monitor).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The default slice: 10 ms, as the DESIGN notes and Go's scheduler.
const DEFAULT_SLICE_NANOS: u64 = 10_000_000;

/// The slice in nanoseconds; 0 turns the check off.
static SLICE_NANOS: AtomicU64 = AtomicU64::new(DEFAULT_SLICE_NANOS);

/// How many checkpoints pass between two reads of the clock.
const SAMPLE: u32 = 8;

thread_local! {
    /// When the running context's slice started (coarse clock, ns; 0 until
    /// the clock was first read after a switch), and the checkpoints since
    /// the clock was last read.
    static STARTED: Cell<(u64, u32)> = const { Cell::new((0, 0)) };
}

/// Sets the slice for every thread; `None` turns the check off.
pub(crate) fn set_slice(slice: Option<Duration>) {
    let nanos = slice.map_or(0, |s| {
        u64::try_from(s.as_nanos()).unwrap_or(u64::MAX).max(1)
    });
    SLICE_NANOS.store(nanos, Ordering::Relaxed);
}

/// The slice now in force.
pub(crate) fn slice() -> Option<Duration> {
    match SLICE_NANOS.load(Ordering::Relaxed) {
        0 => None,
        n => Some(Duration::from_nanos(n)),
    }
}

/// The coarse monotonic clock in nanoseconds; never 0.
#[inline]
fn coarse_now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC_COARSE
    // exists on every Linux since 2.6.32 and cannot fail with valid
    // arguments.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
        | 1
}

/// Restarts the running context's slice: called at every switch.
#[inline]
pub(crate) fn restart() {
    let _ = STARTED.try_with(|s| s.set((0, 0)));
}

/// Whether the caller's slice has run out (and restarts it if so).
#[inline]
pub(crate) fn expired() -> bool {
    let slice = SLICE_NANOS.load(Ordering::Relaxed);
    if slice == 0 {
        return false;
    }
    STARTED
        .try_with(|s| {
            let (started, calls) = s.get();
            let (next, out) = if calls + 1 < SAMPLE {
                ((started, calls + 1), false)
            } else {
                let now = coarse_now();
                if started == 0 {
                    ((now, 0), false)
                } else if now.wrapping_sub(started) < slice {
                    ((started, 0), false)
                } else {
                    ((0, 0), true) // restarted
                }
            };
            s.set(next);
            out
        })
        .unwrap_or(false)
}
