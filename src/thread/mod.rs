//! Coroutines with the API of [`std::thread`].
//!
//! [`spawn`] starts a coroutine on the calling OS thread's hub instead of a
//! new OS thread; everything else mirrors std: [`Builder`], [`JoinHandle`],
//! [`scope`], [`current`], [`park`], [`sleep`], [`yield_now`]...
//!
//! Blocking calls made from a coroutine park only that coroutine. Blocking
//! calls made from the thread's own context (`main`, say) run the thread's
//! coroutines while they wait, so no explicit event loop is needed:
//!
//! ```
//! use greenstd::thread;
//! use std::time::Duration;
//!
//! let handles: Vec<_> = (0..3)
//!     .map(|i| {
//!         thread::spawn(move || {
//!             thread::sleep(Duration::from_millis(10)); // parks this coroutine only
//!             i * 2
//!         })
//!     })
//!     .collect();
//! let results: Vec<i32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
//! assert_eq!(results, [0, 2, 4]);
//! ```
//!
//! Differences from std: coroutines of one OS thread take turns, so code
//! that computes for long without a blocking call stalls its siblings (call
//! [`yield_now`]); thread-locals are shared by the coroutines of one OS
//! thread; [`ThreadId`] and [`Thread`] are greenstd's own types, distinct
//! from std's. See `MIGRATION.md` for the full list.

#![deny(unsafe_code)]

mod builder;
mod handle;
mod local;
mod scoped;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::runtime;
use crate::runtime::Task;

pub use builder::Builder;
pub use handle::JoinHandle;
pub use scoped::{Scope, ScopedJoinHandle, scope};

pub use local::{AccessError, LocalKey};
pub use std::thread::available_parallelism;

/// A specialized [`Result`](std::result::Result) type for threads, as
/// [`std::thread::Result`]: `Err` holds the panic payload.
pub type Result<T> = std::thread::Result<T>;

/// Spawns a new coroutine on the calling thread's hub, returning a
/// [`JoinHandle`] for it.
///
/// The coroutine starts the next time this thread blocks (in a `join`, a
/// `sleep`, socket I/O...) or yields; it never moves to another OS thread.
///
/// # Panics
/// Panics if no stack can be mapped for the coroutine (see
/// [`Builder::spawn`] for the error); use [`Builder::spawn`] to handle that.
///
/// # Examples
/// ```
/// let handle = greenstd::thread::spawn(|| 6 * 7);
/// assert_eq!(handle.join().unwrap(), 42);
/// ```
///
/// Differences from std: a coroutine, not an OS thread.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new()
        .spawn(f)
        .unwrap_or_else(|e| panic!("failed to spawn thread: {e}"))
}

/// A handle to a coroutine or to an OS thread's own context.
///
/// Returned by [`current`] and by the handles' `thread()` methods. Its
/// `Display` reads like gevent's `<Greenlet "name" #3>`.
///
/// # Examples
/// ```
/// let t = greenstd::thread::current();
/// println!("{t}"); // <Thread "main" #1> on the main thread
/// ```
///
/// Differences from std: greenstd's own type; `Display` is an addition.
#[derive(Clone)]
pub struct Thread {
    task: Arc<Task>,
}

impl runtime::TaskHolder for Thread {
    fn task(&self) -> &Arc<Task> {
        &self.task
    }
}

impl Thread {
    pub(crate) fn from_task(task: Arc<Task>) -> Self {
        Thread { task }
    }

    /// The unique identifier of this coroutine or thread.
    ///
    /// # Examples
    /// ```
    /// let other = greenstd::thread::spawn(|| greenstd::thread::current().id());
    /// let id = other.thread().id();
    /// assert_eq!(other.join().unwrap(), id);
    /// assert_ne!(id, greenstd::thread::current().id());
    /// ```
    pub fn id(&self) -> ThreadId {
        // Task ids count from 1, so never 0.
        ThreadId(std::num::NonZeroU64::new(self.task.id()).unwrap_or(std::num::NonZeroU64::MAX))
    }

    /// The name given with [`Builder::name`]; for an OS thread's own
    /// context, the OS thread's name (`"main"` for the main thread).
    ///
    /// # Examples
    /// ```
    /// use greenstd::thread::Builder;
    ///
    /// let h = Builder::new()
    ///     .name("worker".into())
    ///     .spawn(|| greenstd::thread::current().name().map(String::from))
    ///     .unwrap();
    /// assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.task.name()
    }

    /// Makes the park token available; a [`park`] of this coroutine or
    /// thread returns (now, or at its next call).
    ///
    /// # Examples
    /// ```
    /// use greenstd::thread;
    ///
    /// let parked = thread::spawn(|| thread::park());
    /// parked.thread().unpark();
    /// parked.join().unwrap();
    /// ```
    #[inline]
    pub fn unpark(&self) {
        self.task.unpark();
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread")
            .field("id", &self.id())
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.task.describe())
    }
}

/// A unique identifier for a running coroutine or thread, never reused.
///
/// Differences from std: greenstd's own type (coroutines need ids of
/// their own); it does not compare with [`std::thread::ThreadId`]. As
/// std's, it holds a non-zero integer, so `Option<ThreadId>` is no larger.
///
/// ```
/// use greenstd::thread::ThreadId;
/// assert_eq!(size_of::<Option<ThreadId>>(), size_of::<ThreadId>());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ThreadId(std::num::NonZeroU64);

/// The handle of the caller: its coroutine, or its OS thread's context.
///
/// # Examples
/// ```
/// let me = greenstd::thread::current();
/// assert_eq!(me.id(), greenstd::thread::current().id());
/// ```
pub fn current() -> Thread {
    Thread::from_task(runtime::current_task())
}

/// Puts the current coroutine or thread to sleep for at least `dur`.
///
/// Inside a coroutine this arms a hub timer and parks; in a thread with no
/// coroutines it is [`std::thread::sleep`]; in a thread with coroutines it
/// runs them until the time is up.
///
/// # Examples
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// greenstd::thread::sleep(Duration::from_millis(5));
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
pub fn sleep(dur: Duration) {
    runtime::sleep_until(deadline_after(dur));
}

/// Deprecated form of [`sleep`], as in std.
#[deprecated(note = "replaced by `greenstd::thread::sleep`")]
pub fn sleep_ms(ms: u32) {
    sleep(Duration::from_millis(u64::from(ms)))
}

/// Lets the other coroutines of this thread run before continuing.
///
/// Inside a coroutine it goes to the back of the ready queue; in a thread's
/// own context it runs the coroutines that are ready, or yields the OS
/// thread when there are none. (With several hubs, a thread's own spawns
/// start on worker hubs and run in parallel; the example shows one hub.)
///
/// # Examples
/// ```
/// use greenstd::thread;
/// # greenstd::set_hubs(1).unwrap();
///
/// let h = thread::spawn(|| 1);
/// thread::yield_now(); // the coroutine runs here
/// assert!(h.is_finished());
/// ```
pub fn yield_now() {
    runtime::yield_now();
}

/// Blocks until the park token is available, then consumes it. May return
/// spuriously, as std's.
///
/// # Panics
/// Panics with [`WouldBlockForever`](crate::WouldBlockForever) when called
/// from a thread's own context that nothing could ever unpark.
///
/// # Examples
/// ```
/// use greenstd::thread;
///
/// let me = thread::current();
/// let waker = thread::spawn(move || me.unpark());
/// thread::park();
/// waker.join().unwrap();
/// ```
#[track_caller]
#[inline]
pub fn park() {
    park_until(None, "thread::park");
}

/// As [`park`], but returns after `dur` at the latest.
///
/// # Examples
/// ```
/// use std::time::Duration;
///
/// greenstd::thread::park_timeout(Duration::from_millis(1));
/// ```
#[track_caller]
pub fn park_timeout(dur: Duration) {
    park_until(Some(deadline_after(dur)), "thread::park_timeout");
}

/// Deprecated form of [`park_timeout`], as in std.
#[deprecated(note = "replaced by `greenstd::thread::park_timeout`")]
pub fn park_timeout_ms(ms: u32) {
    park_timeout(Duration::from_millis(u64::from(ms)))
}

#[track_caller]
#[inline(always)]
fn park_until(deadline: Option<Instant>, what: &'static str) {
    // The task is borrowed, not counted; the wait stays outside a closure
    // so that a would-block-forever panic names the caller's line.
    if runtime::with_current_task(|task| task.take_token()) {
        return;
    }
    crate::runtime::unwrap_wait(runtime::park(deadline, what));
    runtime::with_current_task(|task| task.take_token());
}

/// Whether the current coroutine (or thread) is unwinding because of a
/// panic.
///
/// Differences from std: std's answer is per OS thread; this one is per
/// coroutine, except that while another coroutine of the thread is
/// suspended mid-unwind, a coroutine that is itself unwinding reports
/// `false`.
///
/// # Examples
/// ```
/// assert!(!greenstd::thread::panicking());
/// ```
pub fn panicking() -> bool {
    runtime::panicking()
}

pub(crate) use crate::runtime::deadline_after;
