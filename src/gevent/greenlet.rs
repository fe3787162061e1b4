//! gevent's `Greenlet`: [`spawn`], [`spawn_later`], [`joinall`], [`kill`],
//! [`current`], and greenlet-style explicit `switch`.

#![forbid(unsafe_code)]

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::runtime::{self, Joiner, Signal, SpawnOptions, Task, deadline_after};
use crate::thread::{self, Thread};

type Body<T> = Box<dyn FnOnce() -> T + Send>;

struct Started<T> {
    /// The coroutine's task and the greenlet's share of its result.
    joiner: Joiner<T>,
}

impl<T> Started<T> {
    fn task(&self) -> &Arc<Task> {
        self.joiner.task()
    }
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
        let joiner = runtime::spawn(self.inner.options.clone(), run)
            .unwrap_or_else(|e| panic!("failed to spawn greenlet: {e}"));
        let _ = self.inner.started.set(Started { joiner });
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
        self.parts().is_some_and(|p| p.joiner.is_finished())
    }

    /// The coroutine's [`Thread`] handle, once started.
    pub fn thread(&self) -> Option<Thread> {
        self.parts().map(|p| Thread::from_task(p.task().clone()))
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
                Some(parts) if started => parts.joiner.wait(deadline, "Greenlet::join"),
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
            .joiner
            .take()
            .unwrap_or_else(|| panic!("Greenlet::get: the result of {self} was already taken"))
    }

    /// Asks the greenlet to unwind with [`Killed`](crate::Killed) at its
    /// next blocking point, and returns at once. A greenlet not yet started
    /// is started only to end at once: its function never runs.
    pub fn request_kill(&self) {
        self.start();
        if let Some(parts) = self.parts() {
            parts.task().request_kill();
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
            if parts.joiner.is_finished() {
                return;
            }
            runtime::switch_to(parts.task());
        } else if let Some(parts) = self.parts() {
            runtime::prioritise(parts.task());
        }
        while !me.take_switched() {
            crate::runtime::unwrap_wait(runtime::park(None, "Greenlet::switch"));
        }
    }
}

impl<T> fmt::Display for Greenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parts() {
            Some(parts) => f.write_str(&parts.task().describe()),
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
