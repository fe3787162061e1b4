//! `Mutex`, as std's: contended locks park the coroutine.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use crate::runtime::WaitQueue;

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
/// Differences from std: poisoning follows std's rule through std's own
/// `Mutex` inside; one corner differs (see `MIGRATION.md`): a guard dropped
/// by a coroutine while another coroutine of the thread is suspended
/// mid-unwind poisons the lock.
#[derive(Default)]
pub struct Mutex<T: ?Sized> {
    waiters: WaitQueue,
    inner: std::sync::Mutex<T>,
}

/// The guard of a locked [`Mutex`]; unlocks when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    lock: &'a Mutex<T>,
    // `None` only while a `Condvar` wait has the lock released.
    inner: Option<std::sync::MutexGuard<'a, T>>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    pub const fn new(t: T) -> Mutex<T> {
        Mutex {
            waiters: WaitQueue::new(),
            inner: std::sync::Mutex::new(t),
        }
    }

    /// Consumes the mutex, returning the data.
    ///
    /// # Errors
    /// A `PoisonError` holding the data if the mutex is poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
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
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        // The uncontended lock first, in the caller: the wait's machinery
        // stays out of line.
        crate::runtime::checkpoint();
        match self.inner.try_lock() {
            Ok(g) => self.wrap(Ok(g)),
            Err(TryLockError::Poisoned(p)) => self.wrap(Err(p)),
            Err(TryLockError::WouldBlock) => self.lock_contended(),
        }
    }

    #[track_caller]
    #[inline(never)]
    fn lock_contended(&self) -> LockResult<MutexGuard<'_, T>> {
        let waited = self
            .waiters
            .wait_for(None, "Mutex::lock", || match self.inner.try_lock() {
                Ok(g) => Some(Ok(g)),
                Err(TryLockError::Poisoned(p)) => Some(Err(p)),
                Err(TryLockError::WouldBlock) => None,
            });
        let acquired = crate::runtime::unwrap_wait(waited)
            .expect("a wait without deadline ends with the lock");
        self.wrap(acquired)
    }

    fn wrap<'a>(
        &'a self,
        acquired: Result<std::sync::MutexGuard<'a, T>, PoisonError<std::sync::MutexGuard<'a, T>>>,
    ) -> LockResult<MutexGuard<'a, T>> {
        match acquired {
            Ok(g) => Ok(MutexGuard {
                lock: self,
                inner: Some(g),
            }),
            Err(p) => Err(PoisonError::new(MutexGuard {
                lock: self,
                inner: Some(p.into_inner()),
            })),
        }
    }

    /// Locks if free, without waiting.
    ///
    /// # Errors
    /// `WouldBlock` if held; `Poisoned` if a holder panicked.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        crate::runtime::checkpoint();
        match self.inner.try_lock() {
            Ok(g) => Ok(MutexGuard {
                lock: self,
                inner: Some(g),
            }),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
            Err(TryLockError::Poisoned(p)) => {
                Err(TryLockError::Poisoned(PoisonError::new(MutexGuard {
                    lock: self,
                    inner: Some(p.into_inner()),
                })))
            }
        }
    }

    /// Whether the mutex is poisoned.
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }

    /// Clears the poisoned state.
    pub fn clear_poison(&self) {
        self.inner.clear_poison();
    }

    /// A mutable reference to the data, without locking.
    ///
    /// # Errors
    /// A `PoisonError` if the mutex is poisoned.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }

    /// Re-takes the lock after a `Condvar` wait released it.
    pub(crate) fn relock<'a>(&'a self, guard: &mut MutexGuard<'a, T>) -> bool {
        match self.lock() {
            Ok(mut g) => {
                guard.inner = g.inner.take();
                false
            }
            Err(p) => {
                guard.inner = p.into_inner().inner.take();
                true
            }
        }
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Releases the lock for a `Condvar` wait and wakes a waiter.
    pub(crate) fn release(&mut self) -> &'a Mutex<T> {
        drop(self.inner.take());
        self.lock.waiters.notify_one();
        self.lock
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        if self.inner.take().is_some() {
            self.lock.waiters.notify_one();
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_deref().expect("the guard holds the lock")
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.inner.as_deref_mut().expect("the guard holds the lock")
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(t: T) -> Self {
        Mutex::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
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
