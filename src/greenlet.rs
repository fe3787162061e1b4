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

#![forbid(unsafe_code)]

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::runtime::{
    self, ArmedTimeout, Packet, Signal, SpawnOptions, Task, TimeoutExpired, next_id,
};
use crate::thread::{self, Thread, deadline_after};

type Body<T> = Box<dyn FnOnce() -> T + Send>;

struct Started<T> {
    task: Arc<Task>,
    packet: Arc<Packet<T>>,
}

struct Inner<T> {
    body: Mutex<Option<Body<T>>>,
    started: OnceLock<Started<T>>,
    /// Set once `started` is.
    started_signal: Signal,
    options: SpawnOptions,
    /// Who resumes when this greenlet ends, for greenlets made with
    /// [`Greenlet::new`] (greenlet's `parent`).
    parent: Option<Arc<Task>>,
}

/// A coroutine handle in gevent's style: joinable with a timeout, killable,
/// and switchable to (greenlet's explicit `switch`).
///
/// Clones are handles to the same coroutine. [`spawn`] makes one that is
/// already scheduled; [`Greenlet::new`] makes one that starts when first
/// switched to (or [`start`](Greenlet::start)ed), and whose end switches
/// back to the coroutine or thread that created it.
///
/// `Display` prints `<Greenlet "name" #id>`.
///
/// # Examples
/// ```
/// let g = greenstd::spawn(|| 2 + 2);
/// g.join();
/// assert!(g.ready());
/// assert_eq!(g.get().unwrap(), 4);
/// ```
pub struct Greenlet<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Greenlet<T> {
    fn clone(&self) -> Self {
        Greenlet {
            inner: self.inner.clone(),
        }
    }
}

/// Spawns `f` as a coroutine on this thread's hub and returns its
/// [`Greenlet`]; gevent's `spawn`.
///
/// # Panics
/// If no stack can be mapped, as [`thread::spawn`].
///
/// # Examples
/// ```
/// let g = greenstd::spawn(|| "hi");
/// assert_eq!(g.get().unwrap(), "hi");
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> Greenlet<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let g = Greenlet::build(SpawnOptions::default(), Box::new(f), None);
    g.start();
    g
}

/// Spawns `f` to start after `delay`; gevent's `spawn_later`. Killing it
/// before then means `f` never runs.
///
/// # Examples
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let g = greenstd::spawn_later(Duration::from_millis(10), move || start.elapsed());
/// assert!(g.get().unwrap() >= Duration::from_millis(10));
/// ```
#[track_caller]
pub fn spawn_later<F, T>(delay: Duration, f: F) -> Greenlet<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn(move || {
        thread::sleep(delay);
        f()
    })
}

/// Waits until every greenlet in `greenlets` has ended or `timeout` passed;
/// returns how many have ended. gevent's `joinall`.
///
/// # Examples
/// ```
/// let gs: Vec<_> = (0..3).map(|i| greenstd::spawn(move || i)).collect();
/// assert_eq!(greenstd::joinall(&gs, None), 3);
/// ```
pub fn joinall<T: Send + 'static>(greenlets: &[Greenlet<T>], timeout: Option<Duration>) -> usize {
    let deadline = timeout.map(deadline_after);
    for g in greenlets {
        if !g.join_until(deadline) {
            break;
        }
    }
    greenlets.iter().filter(|g| g.ready()).count()
}

/// Kills `greenlet` and waits for it to end; gevent's `kill`. See
/// [`Greenlet::kill`].
pub fn kill<T: Send + 'static>(greenlet: &Greenlet<T>) {
    greenlet.kill();
}

/// The handle of the running coroutine (or thread); gevent's
/// `getcurrent()`. Its `Display` reads `<Greenlet "name" #id>`.
///
/// # Examples
/// ```
/// let g = greenstd::spawn(|| greenstd::current().to_string());
/// assert!(g.get().unwrap().starts_with("<Greenlet #"));
/// ```
pub fn current() -> Thread {
    thread::current()
}

impl<T: Send + 'static> Greenlet<T> {
    /// A greenlet that runs `f` once started: by [`switch`](Self::switch)
    /// (greenlet's way) or [`start`](Self::start). When `f` returns, control
    /// switches back to the creator, as greenlet's `parent`.
    ///
    /// # Examples
    /// ```
    /// let g = greenstd::Greenlet::new(|| 5);
    /// assert!(!g.started());
    /// g.switch(); // runs it; it ends and switches back here
    /// assert_eq!(g.get().unwrap(), 5);
    /// ```
    #[track_caller]
    pub fn new<F>(f: F) -> Self
    where
        F: FnOnce() -> T + Send + 'static,
    {
        Greenlet::build(
            SpawnOptions::default(),
            Box::new(f),
            Some(runtime::current_task()),
        )
    }

    /// As [`Greenlet::new`], with a name for its `Display` and panics.
    #[track_caller]
    pub fn with_name<F>(name: impl Into<String>, f: F) -> Self
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let options = SpawnOptions {
            name: Some(name.into()),
            ..SpawnOptions::default()
        };
        Greenlet::build(options, Box::new(f), Some(runtime::current_task()))
    }

    #[track_caller]
    fn build(mut options: SpawnOptions, body: Body<T>, parent: Option<Arc<Task>>) -> Self {
        options.spawned_at = Some(std::panic::Location::caller());
        Greenlet {
            inner: Arc::new(Inner {
                body: Mutex::new(Some(body)),
                started: OnceLock::new(),
                started_signal: Signal::new(),
                options,
                parent,
            }),
        }
    }

    /// Schedules the greenlet if it has not started; returns whether this
    /// call started it.
    ///
    /// # Panics
    /// If no stack can be mapped, as [`thread::spawn`].
    pub fn start(&self) -> bool {
        let Some(body) = self
            .inner
            .body
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return false;
        };
        let parent = self.inner.parent.clone();
        let run = move || {
            let result = catch_unwind(AssertUnwindSafe(body));
            if let Some(parent) = parent {
                parent.switch_to();
            }
            match result {
                Ok(value) => value,
                Err(payload) => resume_unwind(payload),
            }
        };
        let (task, packet) = runtime::spawn(self.inner.options.clone(), run)
            .unwrap_or_else(|e| panic!("failed to spawn greenlet: {e}"));
        let _ = self.inner.started.set(Started { task, packet });
        self.inner.started_signal.notify_all();
        true
    }
}

impl<T> Greenlet<T> {
    fn parts(&self) -> Option<&Started<T>> {
        self.inner.started.get()
    }

    /// Whether the greenlet has been started.
    pub fn started(&self) -> bool {
        self.parts().is_some()
    }

    /// Whether the greenlet has ended (returned, panicked or was killed).
    pub fn ready(&self) -> bool {
        self.parts().is_some_and(|p| p.packet.is_finished())
    }

    /// The coroutine's [`Thread`] handle, once started.
    pub fn thread(&self) -> Option<Thread> {
        self.parts().map(|p| Thread::from_task(p.task.clone()))
    }
}

impl<T: Send + 'static> Greenlet<T> {
    /// Waits until the greenlet ends.
    ///
    /// # Panics
    /// With [`WouldBlockForever`](crate::WouldBlockForever) from a thread's own context that nothing
    /// could ever wake (the greenlet was never started, say).
    #[track_caller]
    pub fn join(&self) {
        self.join_until(None);
    }

    /// Waits until the greenlet ends or `timeout` passes; returns whether it
    /// ended.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let g = greenstd::spawn(|| greenstd::sleep(Duration::from_secs(60)));
    /// assert!(!g.join_timeout(Duration::from_millis(1)));
    /// g.kill();
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.join_until(Some(deadline_after(timeout)))
    }

    fn join_until(&self, deadline: Option<Instant>) -> bool {
        let waited = self
            .inner
            .started_signal
            .wait(deadline, "Greenlet::join")
            .and_then(|started| match self.parts() {
                Some(parts) if started => parts.packet.wait(deadline, "Greenlet::join"),
                _ => Ok(false),
            });
        runtime::unwrap_wait(waited)
    }

    /// Waits for the end and takes the result: the value, or the panic
    /// payload ([`Killed`](crate::Killed) if it was killed).
    ///
    /// # Panics
    /// If another clone of this handle already took the result; as
    /// [`join`](Self::join) otherwise.
    pub fn get(self) -> thread::Result<T> {
        self.join();
        let parts = self.parts().expect("a joined greenlet has started");
        parts
            .packet
            .take()
            .unwrap_or_else(|| panic!("Greenlet::get: the result of {self} was already taken"))
    }

    /// Asks the greenlet to unwind with [`Killed`](crate::Killed) at its
    /// next blocking point, and returns at once. A greenlet not yet started
    /// is started only to end at once: its function never runs.
    pub fn request_kill(&self) {
        self.start();
        if let Some(parts) = self.parts() {
            parts.task.request_kill();
        }
    }

    /// Kills the greenlet and waits until it has ended; gevent's
    /// `Greenlet.kill()` (with `block=True`). Its destructors run as it
    /// unwinds. Killing an ended greenlet does nothing.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let g = greenstd::spawn(|| loop {
    ///     greenstd::sleep(Duration::from_millis(1));
    /// });
    /// g.kill();
    /// assert!(g.ready());
    /// ```
    pub fn kill(&self) {
        self.request_kill();
        self.join();
    }

    /// Transfers control to this greenlet now (starting it if needed) and
    /// suspends the caller until something switches back to it: another
    /// greenlet's `switch()` to the caller, or the end of a greenlet the
    /// caller created. greenlet's `switch()`.
    ///
    /// # Panics
    /// With [`WouldBlockForever`](crate::WouldBlockForever) when called from a thread's own context
    /// and nothing could ever switch back.
    ///
    /// # Examples
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// let l = log.clone();
    /// let g = greenstd::Greenlet::new(move || l.lock().unwrap().push("in greenlet"));
    /// log.lock().unwrap().push("before");
    /// g.switch();
    /// log.lock().unwrap().push("after");
    /// assert_eq!(*log.lock().unwrap(), ["before", "in greenlet", "after"]);
    /// ```
    #[track_caller]
    pub fn switch(&self) {
        let me = runtime::current_task();
        me.take_switched();
        if !self.start() {
            let Some(parts) = self.parts() else { return };
            if parts.packet.is_finished() {
                return;
            }
            runtime::switch_to(&parts.task);
        } else if let Some(parts) = self.parts() {
            runtime::prioritise(&parts.task);
        }
        while !me.take_switched() {
            crate::runtime::unwrap_wait(runtime::park(None, "Greenlet::switch"));
        }
    }
}

impl<T> fmt::Display for Greenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parts() {
            Some(parts) => f.write_str(&parts.task.describe()),
            None => match &self.inner.options.name {
                Some(name) => write!(f, "<Greenlet {name:?} (not started)>"),
                None => f.write_str("<Greenlet (not started)>"),
            },
        }
    }
}

impl<T> fmt::Debug for Greenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Greenlet")
            .field("thread", &self.thread())
            .field("ready", &self.ready())
            .finish_non_exhaustive()
    }
}

/// A deadline for the blocking calls of the current coroutine (or thread);
/// gevent's `Timeout`.
///
/// While it is armed, the first blocking call that is still blocked when
/// the deadline passes unwinds with a [`TimeoutExpired`] payload. Use
/// [`with_timeout`] to turn that into an `Err`; dropping the `Timeout`
/// disarms it.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use greenstd::Timeout;
///
/// let result = std::panic::catch_unwind(|| {
///     let _t = Timeout::start_new(Duration::from_millis(10));
///     greenstd::sleep(Duration::from_secs(60)); // interrupted after 10 ms
/// });
/// let payload = result.unwrap_err();
/// assert!(payload.is::<greenstd::TimeoutExpired>());
/// ```
pub struct Timeout {
    task: Arc<Task>,
    armed: ArmedTimeout,
}

impl Timeout {
    /// Arms a timeout of `duration` on the caller.
    pub fn start_new(duration: Duration) -> Timeout {
        let task = runtime::current_task();
        let armed = ArmedTimeout {
            deadline: deadline_after(duration),
            id: next_id(),
        };
        task.arm_timeout(armed);
        Timeout { task, armed }
    }

    /// When the timeout expires.
    pub fn deadline(&self) -> Instant {
        self.armed.deadline
    }

    /// Disarms the timeout (as dropping it does).
    pub fn cancel(self) {}

    /// Whether `payload` is this timeout's expiry.
    pub fn is_expiry_of(&self, payload: &(dyn std::any::Any + Send)) -> bool {
        payload
            .downcast_ref::<TimeoutExpired>()
            .is_some_and(|e| e.id == self.armed.id)
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        self.task.disarm_timeout(self.armed.id);
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.armed.deadline)
            .finish_non_exhaustive()
    }
}

/// The error of [`with_timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `f`, bounding all its blocking calls by `duration` together;
/// gevent's `with_timeout`.
///
/// # Errors
/// [`Elapsed`] if a blocking call of `f` was still blocked at the deadline;
/// `f` was unwound then (its destructors ran).
///
/// # Examples
/// ```
/// use std::time::Duration;
///
/// let r = greenstd::with_timeout(Duration::from_millis(10), || {
///     greenstd::sleep(Duration::from_secs(60));
/// });
/// assert!(r.is_err());
/// assert_eq!(greenstd::with_timeout(Duration::from_secs(5), || 7), Ok(7));
/// ```
pub fn with_timeout<T>(duration: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let timeout = Timeout::start_new(duration);
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Ok(value),
        Err(payload) if timeout.is_expiry_of(&*payload) => Err(Elapsed(())),
        Err(payload) => resume_unwind(payload),
    }
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
