//! `RwLock`, as std's: contended locks park the coroutine.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use crate::runtime::WaitQueue;

/// A reader-writer lock, as [`std::sync::RwLock`]; waiting parks the
/// coroutine.
///
/// # Examples
/// ```
/// use greenstd::sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read().unwrap();
///     let r2 = lock.read().unwrap();
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write().unwrap() += 1;
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
///
/// Differences from std: poisoning is judged by std's per-OS-thread
/// `panicking()`, kept in std's own lock inside: a guard dropped by a
/// coroutine while another coroutine of its thread is switched out
/// mid-unwind poisons the lock (greenstd's `Mutex` judges per coroutine).
#[derive(Default)]
pub struct RwLock<T: ?Sized> {
    waiters: WaitQueue,
    inner: std::sync::RwLock<T>,
}

/// Shared access to a [`RwLock`]'s data; released when dropped.
///
/// Covariant in `T`, as std's: it holds the lock's wait queue, not the lock
/// (`&RwLock<T>` would make it invariant).
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    waiters: &'a WaitQueue,
    inner: Option<std::sync::RwLockReadGuard<'a, T>>,
}

/// Exclusive access to a [`RwLock`]'s data; released when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    inner: Option<std::sync::RwLockWriteGuard<'a, T>>,
}

/// Waits on `lock`'s queue until `attempt` succeeds or reports poison.
fn acquire<T: ?Sized, G>(
    lock: &RwLock<T>,
    what: &'static str,
    mut attempt: impl FnMut() -> TryLockResult<G>,
) -> LockResult<G> {
    let waited = lock.waiters.wait_for(None, what, || match attempt() {
        Ok(g) => Some(Ok(g)),
        Err(TryLockError::Poisoned(p)) => Some(Err(PoisonError::new(p.into_inner()))),
        Err(TryLockError::WouldBlock) => None,
    });
    crate::runtime::unwrap_wait(waited).expect("a wait without deadline ends with the lock")
}

impl<T> RwLock<T> {
    /// A new unlocked lock.
    pub const fn new(t: T) -> RwLock<T> {
        RwLock {
            waiters: WaitQueue::new(),
            inner: std::sync::RwLock::new(t),
        }
    }

    /// Consumes the lock, returning the data.
    ///
    /// # Errors
    /// A `PoisonError` holding the data if poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Takes shared access, parking while a writer holds the lock.
    ///
    /// # Errors
    /// A `PoisonError` holding the guard if a writer panicked.
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        acquire(self, "RwLock::read", || self.attempt_read())
    }

    /// Takes exclusive access, parking while others hold the lock.
    ///
    /// # Errors
    /// A `PoisonError` holding the guard if a writer panicked.
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        acquire(self, "RwLock::write", || self.attempt_write())
    }

    /// Takes shared access if available now.
    ///
    /// # Errors
    /// `WouldBlock` if a writer holds it; `Poisoned` if poisoned.
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        crate::runtime::checkpoint();
        self.attempt_read()
    }

    fn attempt_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        let wrap = |g| RwLockReadGuard {
            waiters: &self.waiters,
            inner: Some(g),
        };
        match self.inner.try_read() {
            Ok(g) => Ok(wrap(g)),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
            Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(wrap(
                p.into_inner(),
            )))),
        }
    }

    /// Takes exclusive access if available now.
    ///
    /// # Errors
    /// `WouldBlock` if held; `Poisoned` if poisoned.
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        crate::runtime::checkpoint();
        self.attempt_write()
    }

    fn attempt_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        let wrap = |g| RwLockWriteGuard {
            lock: self,
            inner: Some(g),
        };
        match self.inner.try_write() {
            Ok(g) => Ok(wrap(g)),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
            Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(wrap(
                p.into_inner(),
            )))),
        }
    }

    /// Whether the lock is poisoned.
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
    /// A `PoisonError` if poisoned.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns exclusive access into shared access without letting another
    /// writer in between.
    pub fn downgrade(mut s: Self) -> RwLockReadGuard<'a, T> {
        let write = s.inner.take().expect("the guard holds the lock");
        let lock = s.lock;
        drop(s);
        let read = std::sync::RwLockWriteGuard::downgrade(write);
        lock.waiters.notify_all();
        RwLockReadGuard {
            waiters: &lock.waiters,
            inner: Some(read),
        }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        drop(self.inner.take());
        self.waiters.notify_all();
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        drop(self.inner.take());
        self.lock.waiters.notify_all();
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_deref().expect("the guard holds the lock")
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_deref().expect("the guard holds the lock")
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.inner.as_deref_mut().expect("the guard holds the lock")
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(t: T) -> Self {
        RwLock::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
