//! `Once`, `OnceLock` and `LazyLock`, as std's: a caller that finds the
//! initialisation running in another coroutine parks until it is done, so
//! an initialiser that blocks never deadlocks the hub.

use std::fmt;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Mutex;

use crate::runtime::WaitQueue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Incomplete,
    Running,
    Poisoned,
    Complete,
}

/// A one-time initialisation, as [`std::sync::Once`].
///
/// # Examples
/// ```
/// use greenstd::sync::Once;
///
/// static INIT: Once = Once::new();
/// let mut runs = 0;
/// INIT.call_once(|| runs += 1);
/// INIT.call_once(|| runs += 1);
/// assert_eq!(runs, 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    phase: Mutex<Phase>,
    waiters: WaitQueue,
}

/// A `Once` for static initialisers; deprecated in std in favour of
/// `Once::new()`.
#[deprecated(note = "the `Once::new()` function is now preferred")]
#[allow(clippy::declare_interior_mutable_const)]
pub const ONCE_INIT: Once = Once::new();

/// The state handed to [`Once::call_once_force`]'s closure, as
/// [`std::sync::OnceState`].
///
/// Differences from std: greenstd's own type; same method.
#[derive(Debug)]
pub struct OnceState {
    poisoned: bool,
}

impl OnceState {
    /// Whether an earlier initialisation panicked.
    #[must_use]
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

impl Once {
    /// A new `Once`.
    #[must_use]
    pub const fn new() -> Once {
        Once {
            phase: Mutex::new(Phase::Incomplete),
            waiters: WaitQueue::new(),
        }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` if no call has completed yet; waits (parking) while another
    /// caller runs it.
    ///
    /// # Panics
    /// If an earlier `f` panicked (the `Once` is poisoned), as std.
    #[track_caller]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        self.run(false, |_| f());
    }

    /// As [`call_once`](Self::call_once), running `f` even when poisoned.
    #[track_caller]
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        self.run(true, f);
    }

    /// Whether a call has completed.
    pub fn is_completed(&self) -> bool {
        self.phase() == Phase::Complete
    }

    /// Waits until a call has completed.
    ///
    /// # Panics
    /// If the `Once` is poisoned, as std.
    #[track_caller]
    pub fn wait(&self) {
        self.wait_done(false);
    }

    /// Waits until a call has completed, ignoring poisoning.
    #[track_caller]
    pub fn wait_force(&self) {
        self.wait_done(true);
    }

    #[track_caller]
    fn wait_done(&self, force: bool) {
        let waited = self
            .waiters
            .wait_until(None, "Once::wait", || match self.phase() {
                Phase::Complete => true,
                Phase::Poisoned => !force,
                _ => false,
            });
        crate::runtime::unwrap_wait(waited);
        if self.phase() == Phase::Poisoned {
            panic!("Once instance has previously been poisoned");
        }
    }

    #[track_caller]
    fn run(&self, force: bool, f: impl FnOnce(&OnceState)) {
        let mut claimed = None;
        let waited = self.waiters.wait_until(None, "Once::call_once", || {
            let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
            match *phase {
                Phase::Complete => true,
                Phase::Running => false,
                Phase::Poisoned if !force => true,
                Phase::Incomplete | Phase::Poisoned => {
                    claimed = Some(*phase == Phase::Poisoned);
                    *phase = Phase::Running;
                    true
                }
            }
        });
        crate::runtime::unwrap_wait(waited);
        let Some(poisoned) = claimed else {
            if self.phase() == Phase::Poisoned {
                panic!("Once instance has previously been poisoned");
            }
            return;
        };
        let result = catch_unwind(AssertUnwindSafe(|| f(&OnceState { poisoned })));
        let end = if result.is_ok() {
            Phase::Complete
        } else {
            Phase::Poisoned
        };
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = end;
        self.waiters.notify_all();
        if let Err(payload) = result {
            resume_unwind(payload);
        }
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

/// A cell written once, as [`std::sync::OnceLock`].
///
/// # Examples
/// ```
/// use greenstd::sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// let value = CONFIG.get_or_init(|| {
///     greenstd::thread::sleep(std::time::Duration::from_millis(1)); // may block
///     "ready".to_string()
/// });
/// assert_eq!(value, "ready");
/// ```
pub struct OnceLock<T> {
    once: Once,
    value: std::sync::OnceLock<T>,
}

impl<T> OnceLock<T> {
    /// An empty cell.
    #[must_use]
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            once: Once::new(),
            value: std::sync::OnceLock::new(),
        }
    }

    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// A mutable reference to the value, if set.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut()
    }

    /// Waits (parking) until the cell is set, then returns the value.
    #[track_caller]
    pub fn wait(&self) -> &T {
        if let Some(v) = self.value.get() {
            return v;
        }
        self.once.wait_force();
        self.value.get().expect("a completed Once set the value")
    }

    /// Sets the value if empty.
    ///
    /// # Errors
    /// `Err(value)` if the cell was already set.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("taken once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, initialising it with `f` if empty. A caller that finds
    /// another coroutine running `f` parks until it is done.
    ///
    /// # Panics
    /// Resumes `f`'s panic; the cell stays empty and a later call retries.
    #[track_caller]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.value.get() {
            return v;
        }
        self.once.call_once_force(|_| {
            let _ = self.value.set(f());
        });
        self.value.get().expect("a completed Once set the value")
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        std::mem::take(self).into_inner()
    }

    /// The value, if set.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    fn clone(&self) -> Self {
        let cell = OnceLock::new();
        if let Some(v) = self.get() {
            let _ = cell.set(v.clone());
        }
        cell
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        cell
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

/// A value initialised on first access, as [`std::sync::LazyLock`]. A
/// coroutine that accesses it while another coroutine's initialiser runs
/// (and blocks) parks until the value is ready.
///
/// # Examples
/// ```
/// use greenstd::sync::LazyLock;
///
/// static TABLE: LazyLock<Vec<u32>> = LazyLock::new(|| (1..=3).collect());
/// assert_eq!(TABLE.len(), 3);
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    init: Mutex<Option<F>>,
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lazy value initialised by `f`.
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            cell: OnceLock::new(),
            init: Mutex::new(Some(f)),
        }
    }

    /// Forces the initialisation and returns the value.
    ///
    /// # Panics
    /// If the initialiser panicked (now or before), as std.
    #[track_caller]
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| {
            let f = this
                .init
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .unwrap_or_else(|| panic!("LazyLock instance has previously been poisoned"));
            f()
        })
    }
}

impl<T, F> LazyLock<T, F> {
    /// The value if already initialised, without forcing it.
    pub fn get(this: &LazyLock<T, F>) -> Option<&T> {
        this.cell.get()
    }

    /// A mutable reference to the value if already initialised.
    pub fn get_mut(this: &mut LazyLock<T, F>) -> Option<&mut T> {
        this.cell.get_mut()
    }
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// Forces the initialisation and returns a mutable reference.
    ///
    /// # Panics
    /// If the initialiser panicked, as std.
    #[track_caller]
    pub fn force_mut(this: &mut LazyLock<T, F>) -> &mut T {
        LazyLock::force(this);
        this.cell.get_mut().expect("forced")
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;

    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    fn default() -> Self {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match self.cell.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}
