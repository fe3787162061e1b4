//! `RwLock`, as std's: contended locks park the coroutine.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use crate::runtime::{ReadGuard, SharedLock, WriteGuard};

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
/// Differences from std: none in behaviour. Writers are preferred, as by
/// std's lock on Linux (a reader waits while a writer waits). Poisoning
/// (by a writer that unwinds) is judged per coroutine, as std per thread.
#[derive(Default)]
pub struct RwLock<T: ?Sized> {
    inner: SharedLock<T>,
}

/// Shared access to a [`RwLock`]'s data; released when dropped. Covariant
/// in `T`, as std's.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    inner: ReadGuard<'a, T>,
}

/// Exclusive access to a [`RwLock`]'s data; released when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    inner: WriteGuard<'a, T>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock.
    pub const fn new(t: T) -> RwLock<T> {
        RwLock {
            inner: SharedLock::new(t),
        }
    }

    /// Consumes the lock, returning the data.
    ///
    /// # Errors
    /// A `PoisonError` holding the data if poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        match self.inner.into_inner() {
            (value, false) => Ok(value),
            (value, true) => Err(PoisonError::new(value)),
        }
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Takes shared access, parking while a writer holds the lock (or
    /// waits for it).
    ///
    /// # Errors
    /// A `PoisonError` holding the guard if a writer panicked.
    ///
    /// # Panics
    /// From a thread's own context, if nothing could ever release it
    /// ([`WouldBlockForever`](crate::WouldBlockForever)).
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        crate::runtime::checkpoint();
        let inner = crate::runtime::unwrap_wait(self.inner.read("RwLock::read"));
        self.poisoned_or(RwLockReadGuard { inner })
    }

    /// Takes exclusive access, parking while others hold the lock.
    ///
    /// # Errors
    /// A `PoisonError` holding the guard if a writer panicked.
    ///
    /// # Panics
    /// As [`read`](Self::read).
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        crate::runtime::checkpoint();
        let inner = crate::runtime::unwrap_wait(self.inner.write("RwLock::write"));
        self.poisoned_or(RwLockWriteGuard { inner })
    }

    /// Takes shared access if available now.
    ///
    /// # Errors
    /// `WouldBlock` if a writer holds it; `Poisoned` if poisoned.
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        crate::runtime::checkpoint();
        match self.inner.try_read() {
            Some(inner) => self
                .poisoned_or(RwLockReadGuard { inner })
                .map_err(TryLockError::Poisoned),
            None => Err(TryLockError::WouldBlock),
        }
    }

    /// Takes exclusive access if available now.
    ///
    /// # Errors
    /// `WouldBlock` if held; `Poisoned` if poisoned.
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        crate::runtime::checkpoint();
        match self.inner.try_write() {
            Some(inner) => self
                .poisoned_or(RwLockWriteGuard { inner })
                .map_err(TryLockError::Poisoned),
            None => Err(TryLockError::WouldBlock),
        }
    }

    #[inline]
    fn poisoned_or<G>(&self, guard: G) -> LockResult<G> {
        if self.inner.cell().is_poisoned() {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Whether the lock is poisoned.
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
    /// A `PoisonError` if poisoned.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        match self.inner.get_mut() {
            (value, false) => Ok(value),
            (value, true) => Err(PoisonError::new(value)),
        }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns exclusive access into shared access without letting another
    /// writer in between.
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        RwLockReadGuard {
            inner: s.inner.downgrade(),
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(t: T) -> Self {
        RwLock::new(t)
    }
}

/// As std's: `RwLock { data: .., poisoned: .., .. }`, the data shown only
/// if no writer holds the lock.
impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.inner.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.inner.cell().is_poisoned());
        d.finish_non_exhaustive()
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

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
