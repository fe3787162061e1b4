//! The lock under `sync::Mutex`: mutual exclusion whose waiters park.
//!
//! One state word, as a futex-based mutex keeps it: free, held, or held
//! with waiters. Taking a free lock is one compare-and-swap; releasing it
//! is one swap, whose old value tells whether anyone waits. A waiter marks
//! the word before it parks (on a [`WaitQueue`]), so a release wakes only
//! when someone may wait. Wrapping `std::sync::Mutex` (as before) cost a
//! fence on every release as well: the release swap is std's, so the
//! waiter count had to be read after it, behind a full fence (uncontended
//! lock and unlock: 19 ns, against 4 for std's own mutex).
//!
//! Poisoning follows std's rule (see `poison.rs`), judged per coroutine:
//! a coroutine that drops a guard while another coroutine of its thread is
//! switched out mid-unwind does not poison it, as a thread would not.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};

use super::error::WouldBlockForever;
use super::poison::{PoisonCell, PoisonOnUnwind};
use super::wait::WaitQueue;

/// Nobody holds the lock.
const FREE: u8 = 0;
/// Held, and nobody has asked for it since it was taken.
const HELD: u8 = 1;
/// Held, and someone may wait for it: the release wakes one waiter.
const CONTENDED: u8 = 2;

/// A value behind mutual exclusion, with std's poisoning.
pub(crate) struct Lock<T: ?Sized> {
    state: AtomicU8,
    waiters: WaitQueue,
    cell: PoisonCell<T>,
}

// SAFETY: the lock hands out one guard at a time, so the value is reached
// from one thread at a time: it needs only to be `Send`, as std's `Mutex`.
unsafe impl<T: ?Sized + Send> Send for Lock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Lock<T> {}
// Poisoning is what makes a lock safe to use after a panic, as std's.
impl<T: ?Sized> UnwindSafe for Lock<T> {}
impl<T: ?Sized> RefUnwindSafe for Lock<T> {}

/// The proof of holding a [`Lock`]; releases it when dropped.
pub(crate) struct LockGuard<'a, T: ?Sized> {
    lock: &'a Lock<T>,
    poison: PoisonOnUnwind,
    /// Not `Send`, as std's guard: released where it was taken.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard gives `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for LockGuard<'_, T> {}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Lock::new(T::default())
    }
}

impl<T> Lock<T> {
    /// A free lock holding `value`.
    pub(crate) const fn new(value: T) -> Self {
        Lock {
            state: AtomicU8::new(FREE),
            waiters: WaitQueue::new(),
            cell: PoisonCell::new(value),
        }
    }

    /// The value, and whether the lock was poisoned.
    pub(crate) fn into_inner(self) -> (T, bool) {
        self.cell.into_inner()
    }
}

impl<T: ?Sized> Lock<T> {
    /// Takes the lock if it is free.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        self.state
            .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            .then(|| self.guard(PoisonOnUnwind::now()))
    }

    /// Takes the lock, parking the caller while another holds it.
    ///
    /// # Errors
    /// From a thread's own context, when nothing could ever release it.
    #[inline]
    pub(crate) fn lock(&self, what: &'static str) -> Result<LockGuard<'_, T>, WouldBlockForever> {
        match self.try_lock() {
            Some(guard) => Ok(guard),
            None => self.lock_contended(what, PoisonOnUnwind::now()),
        }
    }

    /// Waits for the lock, marking it contended (so that its release wakes
    /// a waiter) at every attempt: an attempt that finds it free has taken
    /// it, marked, which at worst costs one needless wake-up later.
    #[cold]
    #[inline(never)]
    fn lock_contended(
        &self,
        what: &'static str,
        poison: PoisonOnUnwind,
    ) -> Result<LockGuard<'_, T>, WouldBlockForever> {
        let took = self.waiters.wait_for(None, what, || {
            // Sequentially consistent, with the waiter's registration
            // before it and the release's swap and look at the queue:
            // either this finds the lock free, or the release finds it
            // contended and this waiter registered.
            (self.state.swap(CONTENDED, Ordering::SeqCst) == FREE).then_some(())
        })?;
        debug_assert!(took.is_some(), "a wait without deadline ends with the lock");
        Ok(self.guard(poison))
    }

    fn guard(&self, poison: PoisonOnUnwind) -> LockGuard<'_, T> {
        LockGuard {
            lock: self,
            poison,
            _not_send: PhantomData,
        }
    }

    /// Releases the lock, waking a waiter if one may wait.
    #[inline]
    fn release(&self) {
        if self.state.swap(FREE, Ordering::SeqCst) == CONTENDED {
            self.waiters.notify_one();
        }
    }

    /// The value and its poison flag.
    pub(crate) fn cell(&self) -> &PoisonCell<T> {
        &self.cell
    }

    /// The value through a unique borrow (no lock needed), and whether the
    /// lock is poisoned.
    pub(crate) fn get_mut(&mut self) -> (&mut T, bool) {
        self.cell.get_mut()
    }
}

impl<'a, T: ?Sized> LockGuard<'a, T> {
    /// Whether the lock it holds is poisoned.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.lock.cell.is_poisoned()
    }

    /// Releases the lock without poisoning it, for a wait that takes it
    /// again with [`ReleasedGuard::retake`] (a condition variable's): the
    /// guard's holder goes on holding it, as far as poisoning goes.
    pub(crate) fn release_for_wait(self) -> ReleasedGuard<'a, T> {
        let released = ReleasedGuard {
            lock: self.lock,
            poison: self.poison,
        };
        std::mem::forget(self);
        released.lock.release();
        released
    }
}

/// A guard whose lock a wait released (see [`LockGuard::release_for_wait`]).
pub(crate) struct ReleasedGuard<'a, T: ?Sized> {
    lock: &'a Lock<T>,
    poison: PoisonOnUnwind,
}

impl<'a, T: ?Sized> ReleasedGuard<'a, T> {
    /// Takes the lock again, as the guard it was.
    ///
    /// # Errors
    /// From a thread's own context, when nothing could ever release it.
    pub(crate) fn retake(self, what: &'static str) -> Result<LockGuard<'a, T>, WouldBlockForever> {
        match self.lock.try_lock() {
            Some(mut guard) => {
                guard.poison = self.poison;
                Ok(guard)
            }
            None => self.lock.lock_contended(what, self.poison),
        }
    }
}

impl<T: ?Sized> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock: no other reference to the value
        // exists but through it.
        unsafe { &*self.lock.cell.get() }
    }
}

impl<T: ?Sized> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and the guard is borrowed uniquely.
        unsafe { &mut *self.lock.cell.get() }
    }
}

impl<T: ?Sized> Drop for LockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.poison.apply(&self.lock.cell);
        self.lock.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn one_holder_at_a_time_across_threads() {
        let lock = Arc::new(Lock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let mut n = lock.lock("test").expect("no deadlock");
                        *n += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock("test").unwrap(), 40_000);
        assert_eq!(lock.state.load(Ordering::Relaxed), FREE);
    }

    #[test]
    fn try_lock_fails_while_held() {
        let lock = Lock::new(());
        let held = lock.try_lock().expect("free");
        assert!(lock.try_lock().is_none());
        drop(held);
        assert!(lock.try_lock().is_some());
    }

    #[test]
    fn a_panic_while_held_poisons_and_one_before_does_not() {
        let lock = Lock::new(1);
        let _ = std::panic::catch_unwind(|| {
            let _held = lock.lock("test").unwrap();
            panic!("poison it");
        });
        assert!(lock.cell().is_poisoned());
        lock.cell().clear_poison();
        assert!(!lock.cell().is_poisoned());
        // Taken during an unwind and dropped in it: not poisoned (std's rule).
        struct TakeInDrop<'a>(&'a Lock<i32>);
        impl Drop for TakeInDrop<'_> {
            fn drop(&mut self) {
                drop(self.0.lock("test").unwrap());
            }
        }
        let _ = std::panic::catch_unwind(|| {
            let _taker = TakeInDrop(&lock);
            panic!("unwind through it");
        });
        assert!(!lock.cell().is_poisoned());
    }

    #[test]
    fn a_released_guard_is_taken_again_and_keeps_its_unwinding_flag() {
        let lock = Lock::new(5);
        let guard = lock.lock("test").unwrap();
        let released = guard.release_for_wait();
        assert!(lock.try_lock().is_some(), "released for the wait");
        let guard = released.retake("test").unwrap();
        assert_eq!(*guard, 5);
        assert!(lock.try_lock().is_none());
    }
}
