//! # greenstd: std's blocking APIs, backed by stackful coroutines
//!
//! greenstd does for Rust what gevent does for Python. Code written against
//! `std::thread`, `std::net`, `std::fs` and `std::sync` becomes cooperative
//! when its `use` lines say `greenstd::` instead of `std::`: [`thread::spawn`] starts a coroutine instead of an OS
//! thread, and every blocking call parks only the calling coroutine while the
//! others run, so one OS thread can hold tens of thousands of blocked
//! "threads".
//!
//! ```
//! use greenstd::thread; // was: use std::thread;
//! use std::time::Duration;
//!
//! let workers: Vec<_> = (0..1000)
//!     .map(|i| {
//!         thread::spawn(move || {
//!             thread::sleep(Duration::from_millis(20)); // 1000 sleeps at once
//!             i
//!         })
//!     })
//!     .collect();
//! let sum: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
//! assert_eq!(sum, 999 * 1000 / 2);
//! ```
//!
//! ## How it works
//!
//! Each OS thread gets a **hub**, created lazily: a `mio` event loop with
//! timers, a ready queue and an injection queue through which other threads
//! wake its coroutines. Coroutines are `generator` stacks (256 KiB of
//! address space each by default, pooled for reuse) and never move to another
//! OS thread.
//!
//! Every blocking call looks at where it runs:
//!
//! | call | inside a coroutine | thread whose hub has coroutines | thread with none |
//! |---|---|---|---|
//! | `sleep`, `park`, `join`, `sync` waits | parks; the hub runs others | runs the hub until done | as std |
//! | socket I/O that would block | parks; the hub polls the socket | runs the hub until ready | waits on that socket alone |
//! | `fs`, host-name lookup | runs on the blocking pool, parks | runs on the pool, runs the hub | std's call, directly |
//! | `spawn` | coroutine on this hub | coroutine on this hub (1 hub) or the next worker hub | coroutine on this hub (1 hub) or the next worker hub |
//!
//! **Every core.** With [`set_hubs`]`(n)` or `GREENSTD_HUBS=n` (`auto`: one
//! per core) greenstd runs `n` worker hubs, one OS thread each
//! (`greenstd-hub-0`...). Coroutines still never migrate: spreading happens
//! only when one is created. A spawn from a thread's own context goes to
//! the next worker (round robin); a spawn inside a coroutine stays on its
//! hub; [`thread::Builder::placement`] with a [`Placement`] chooses
//! otherwise, and [`net::bind_per_hub`] gives each hub a `SO_REUSEPORT`
//! listener of its own. Other threads reach a hub only through its
//! injection queue (wake-ups, spawns, report requests) and its waker; a
//! coroutine's wake state is touched by its own hub's thread only. A
//! worker with nothing that only another thread could end (no runnable
//! coroutine, timer or I/O waiter) marks itself idle, so that a wait that
//! nothing on any hub could end still fails with [`WouldBlockForever`].
//!
//! Where to look in the source: the facades (`thread/`, `net/`, `fs/`,
//! `sync/`, `gevent/`, `hooks.rs`) mirror std and gevent and hold no
//! scheduling logic; they call the runtime's small vocabulary
//! (`runtime/mod.rs`: park with a deadline, fd readiness, the blocking
//! pool, spawn, switch, timeouts, the time-slice checkpoint). The runtime
//! is built in floors, each file importing only those below: spawn and the
//! waits on top, then the hub (the run loop), then the reactor, timers,
//! errors and the running-task context, and at the bottom the task and
//! the coroutine (the only user of `generator`).
//!
//! So a plain `main` needs no `run()` call: a `join` or `sleep` in `main`
//! runs the coroutines, as gevent's main greenlet does.
//!
//! ## gevent's API
//!
//! For what std lacks: [`spawn`] returning a [`Greenlet`] you can join with a
//! timeout, [`kill`], [`joinall`], [`spawn_later`], [`Timeout`] and
//! [`with_timeout`], greenlet-style explicit [`Greenlet::switch`],
//! [`spawn_blocking`], the coordination tools [`Event`], [`AsyncResult`],
//! [`Semaphore`], [`Queue`] and [`Pool`], coroutine-local
//! [`thread_local!`], and Python-style [`generator`]s.
//!
//! ## Caveats
//!
//! - **Cooperative**: every greenstd call, even one that never blocks, lets
//!   the others run once the caller has used up its [time
//!   slice](set_time_slice) (10 ms); but a coroutine that computes for long
//!   without calling greenstd at all stalls the others of its thread; call
//!   [`thread::yield_now`].
//! - **Blocking calls inside other crates** (that use `std::net` or
//!   `std::thread::sleep` directly) block the whole OS thread; wrap them in
//!   [`spawn_blocking`].
//! - **Thread-locals**: greenstd's [`thread_local!`] is per coroutine; std's
//!   (and those inside other crates) are shared by the coroutines of one OS
//!   thread.
//! - **Stacks** are fixed-size: deep recursion needs
//!   [`thread::Builder::stack_size`]. An overflow is caught by a guard page
//!   and reported, naming the coroutine.
//! - **Unwinding** is how [`kill`] and [`Timeout`] stop a coroutine, so they
//!   need `panic = "unwind"` (the default).
//! - A wait from a thread's own context that nothing could ever end fails
//!   with [`WouldBlockForever`] (gevent's `LoopExit`) instead of hanging.

#![deny(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![doc(test(attr(deny(warnings))))]

mod runtime;
mod sys;

pub mod fs;
pub mod generator;
mod gevent;
pub mod hooks;
#[cfg(feature = "http")]
pub mod http;
pub mod net;
pub mod os;
pub mod sync;
pub mod thread;
pub mod time;

pub use gevent::greenlet;
pub use gevent::{
    AsyncResult, BoundedSemaphore, Event, Full, Group, Pool, Queue, Semaphore, SemaphorePermit,
};
pub use gevent::{
    Elapsed, Greenlet, Timeout, current, hubs, joinall, kill, set_hubs, set_time_slice, spawn,
    spawn_blocking, spawn_later, start_monitor, time_slice, with_timeout,
};
pub use runtime::{Killed, Placement, TimeoutExpired, WouldBlockForever};
pub use thread::{sleep, yield_now};
