//! `Mutex`, as std's: contended locks park the coroutine.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use crate::runtime::{Lock, LockGuard, ReleasedGuard};

/// A mutual exclusion lock, as [`std::sync::Mutex`]; a coroutine that waits
/// for it parks, so a lock held by another coroutine of the same thread
/// never deadlocks the hub.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use greenstd::sync::Mutex;
///
/// let counter = Arc::new(Mutex::new(0));
/// let handles: Vec<_> = (0..100)
///     .map(|_| {
///         let c = counter.clone();
///         greenstd::thread::spawn(move || {
///             let mut n = c.lock().unwrap();
///             greenstd::thread::yield_now(); // others run while we hold it
///             *n += 1;
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*counter.lock().unwrap(), 100);
/// ```
///
/// Differences from std: none in behaviour. Poisoning follows std's rule,
/// judged per coroutine: a guard dropped by a coroutine while another
/// coroutine of its thread is switched out mid-unwind does not poison the
/// lock, as a thread's would not.
#[derive(Default)]
pub struct Mutex<T: ?Sized> {
    inner: Lock<T>,
}

/// The guard of a locked [`Mutex`]; unlocks when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    inner: LockGuard<'a, T>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    pub const fn new(t: T) -> Mutex<T> {
        Mutex {
            inner: Lock::new(t),
        }
    }

    /// Consumes the mutex, returning the data.
    ///
    /// # Errors
    /// A `PoisonError` holding the data if the mutex is poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        match self.inner.into_inner() {
            (value, false) => Ok(value),
            (value, true) => Err(PoisonError::new(value)),
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, parking the caller while another holds the lock.
    ///
    /// # Errors
    /// A `PoisonError` holding the guard if a holder panicked.
    ///
    /// # Panics
    /// From a thread's own context, if nothing could ever unlock it
    /// ([`WouldBlockForever`](crate::WouldBlockForever)).
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        crate::runtime::checkpoint();
        let guard = crate::runtime::unwrap_wait(self.inner.lock("Mutex::lock"));
        MutexGuard::wrap(guard)
    }

    /// Locks if free, without waiting.
    ///
    /// # Errors
    /// `WouldBlock` if held; `Poisoned` if a holder panicked.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        crate::runtime::checkpoint();
        match self.inner.try_lock() {
            Some(guard) => MutexGuard::wrap(guard).map_err(TryLockError::Poisoned),
            None => Err(TryLockError::WouldBlock),
        }
    }

    /// Whether the mutex is poisoned.
    pub fn is_poisoned(&self) -> bool {
        self.inner.cell().is_poisoned()
    }

    /// Clears the poisoned state.
    pub fn clear_poison(&self) {
        self.inner.cell().clear_poison();
    }

    /// A mutable reference to the data, without locking.
    ///
    /// # Errors
    /// A `PoisonError` if the mutex is poisoned.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        match self.inner.get_mut() {
            (value, false) => Ok(value),
            (value, true) => Err(PoisonError::new(value)),
        }
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The guard `lock` gives for `inner`: poisoned or not.
    #[inline]
    fn wrap(inner: LockGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let poisoned = inner.is_poisoned();
        let guard = MutexGuard { inner };
        if poisoned {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Releases the lock for a `Condvar` wait; `retake` takes it again.
    pub(crate) fn release(self) -> ReleasedGuard<'a, T> {
        self.inner.release_for_wait()
    }

    /// Takes the lock again after a `Condvar` wait (see `release`); the
    /// guard, poisoned or not, as `lock` gives it.
    #[track_caller]
    pub(crate) fn retake(released: ReleasedGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        Self::wrap(crate::runtime::unwrap_wait(
            released.retake("Condvar::wait"),
        ))
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(t: T) -> Self {
        Mutex::new(t)
    }
}

/// As std's: `Mutex { data: .., poisoned: .., .. }`, the data shown only
/// if the lock is free.
impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.inner.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &"<locked>"),
        };
        d.field("poisoned", &self.inner.cell().is_poisoned());
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
