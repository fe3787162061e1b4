//! The lock under `sync::RwLock`: shared readers or one writer, whose
//! waiters park.
//!
//! One state word, as under `sync::Mutex` (lock.rs): the count of readers,
//! a bit for the writer, and one bit each for waiting readers and waiting
//! writers. Taking and releasing a read lock are one compare-and-swap and
//! one subtraction whose old value tells whether anyone waits (wrapping
//! `std::sync::RwLock`, a release also paid a fence and a look at the wait
//! queue). Writers are preferred, as by std's lock on Linux: a reader does
//! not join readers while a writer waits, so that a stream of readers
//! cannot starve a writer. A release that leaves the lock free with
//! waiters wakes them all (one queue for both kinds); each tries again.
//!
//! Poisoning as std's (see `poison.rs`): a write guard dropped while its
//! holder unwinds poisons the lock, judged per coroutine; readers do not
//! poison.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use super::error::WouldBlockForever;
use super::poison::{PoisonCell, PoisonOnUnwind};
use super::wait::WaitQueue;

/// The readers' count occupies the low bits.
const READERS: u32 = (1 << 29) - 1;
/// A writer holds the lock.
const WRITER: u32 = 1 << 29;
/// A reader waits.
const READERS_WAITING: u32 = 1 << 30;
/// A writer waits: new readers wait behind it.
const WRITERS_WAITING: u32 = 1 << 31;
/// Either kind waits.
const WAITING: u32 = READERS_WAITING | WRITERS_WAITING;

/// The state word and the wait queue, without the value: what a read guard
/// holds (so that it stays covariant in the value's type, as std's).
pub(crate) struct RawShared {
    state: AtomicU32,
    waiters: WaitQueue,
}

/// A value behind a readers-writer lock, with std's poisoning.
pub(crate) struct SharedLock<T: ?Sized> {
    raw: RawShared,
    cell: PoisonCell<T>,
}

// SAFETY: as std's `RwLock`: readers on several threads share `&T` (so
// `T: Sync`), and a writer may take the value to another thread's use
// (`T: Send`).
unsafe impl<T: ?Sized + Send> Send for SharedLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for SharedLock<T> {}
impl<T: ?Sized> UnwindSafe for SharedLock<T> {}
impl<T: ?Sized> RefUnwindSafe for SharedLock<T> {}

/// Shared access; released when dropped.
pub(crate) struct ReadGuard<'a, T: ?Sized> {
    value: NonNull<T>,
    raw: &'a RawShared,
    /// Covariant in `T` and bound to `'a`, as `&'a T`; not `Send`.
    _marker: PhantomData<(&'a T, *const ())>,
}

// SAFETY: a shared guard gives `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for ReadGuard<'_, T> {}

/// Exclusive access; released when dropped.
pub(crate) struct WriteGuard<'a, T: ?Sized> {
    lock: &'a SharedLock<T>,
    poison: PoisonOnUnwind,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared reference to the guard gives `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for WriteGuard<'_, T> {}

impl<T: Default> Default for SharedLock<T> {
    fn default() -> Self {
        SharedLock::new(T::default())
    }
}

impl<T> SharedLock<T> {
    /// A free lock holding `value`.
    pub(crate) const fn new(value: T) -> Self {
        SharedLock {
            raw: RawShared {
                state: AtomicU32::new(0),
                waiters: WaitQueue::new(),
            },
            cell: PoisonCell::new(value),
        }
    }

    /// The value, and whether the lock was poisoned.
    pub(crate) fn into_inner(self) -> (T, bool) {
        self.cell.into_inner()
    }
}

/// What the state becomes when the caller takes the lock from `state`
/// (as the writer, or as one more reader), if it may now: nobody holds it
/// against the caller, and for a reader, no writer waits.
#[inline]
fn taken(state: u32, write: bool) -> Option<u32> {
    if write {
        (state & (READERS | WRITER) == 0).then_some(state | WRITER)
    } else if state & (WRITER | WRITERS_WAITING) == 0 {
        assert!(
            state & READERS != READERS - 1,
            "too many active read locks on RwLock"
        );
        Some(state + 1)
    } else {
        None
    }
}

impl RawShared {
    /// Takes the lock (as the writer, or as a reader) if it may now.
    #[inline]
    fn try_lock(&self, write: bool) -> bool {
        self.state
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |s| taken(s, write))
            .is_ok()
    }

    /// One attempt of a waiter: takes the lock (`write` or not), or marks
    /// the state as waited for. Sequentially consistent, as the releases:
    /// the waiter registered on the queue before it, so either this sees
    /// the lock free, or the release that frees it sees the mark.
    fn attempt_or_mark(&self, write: bool) -> bool {
        let mark = if write {
            WRITERS_WAITING
        } else {
            READERS_WAITING
        };
        let before = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                taken(s, write).or_else(|| (s & mark == 0).then_some(s | mark))
            });
        before.is_ok_and(|before| taken(before, write).is_some())
    }

    #[cold]
    #[inline(never)]
    fn wait(&self, write: bool, what: &'static str) -> Result<(), WouldBlockForever> {
        let took = self
            .waiters
            .wait_for(None, what, || self.attempt_or_mark(write).then_some(()))?;
        debug_assert!(took.is_some(), "a wait without deadline ends with the lock");
        Ok(())
    }

    /// Releases a read lock; the last reader out wakes the waiters.
    #[inline]
    fn read_unlock(&self) {
        let before = self.state.fetch_sub(1, Ordering::SeqCst);
        if before & READERS == 1 && before & WAITING != 0 {
            self.wake_if_free();
        }
    }

    /// Releases the write lock, waking the waiters if any.
    #[inline]
    fn write_unlock(&self) {
        if self.state.swap(0, Ordering::SeqCst) & WAITING != 0 {
            self.waiters.notify_all();
        }
    }

    /// Clears the waiting marks of a free lock and wakes every waiter;
    /// a lock taken again meanwhile is its new holder's to release.
    #[cold]
    fn wake_if_free(&self) {
        let freed = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                (s & (READERS | WRITER) == 0 && s & WAITING != 0).then_some(0)
            });
        if freed.is_ok() {
            self.waiters.notify_all();
        }
    }

    /// Turns the write lock into a read lock, letting waiting readers in.
    fn downgrade(&self) {
        // One reader first, the writer bit still set; then the writer bit
        // goes, with the readers' mark: waiting readers may join (unless a
        // writer waits too, whom they let go first).
        self.state.fetch_add(1, Ordering::SeqCst);
        let before = self
            .state
            .fetch_and(!(WRITER | READERS_WAITING), Ordering::SeqCst);
        debug_assert!(before & WRITER != 0 && before & READERS == 1);
        if before & READERS_WAITING != 0 {
            self.waiters.notify_all();
        }
    }
}

impl<T: ?Sized> SharedLock<T> {
    /// Takes shared access if no writer holds or waits for the lock.
    #[inline]
    pub(crate) fn try_read(&self) -> Option<ReadGuard<'_, T>> {
        self.raw.try_lock(false).then(|| self.read_guard())
    }

    /// Takes shared access, parking while a writer holds or waits for it.
    ///
    /// # Errors
    /// From a thread's own context, when nothing could ever release it.
    #[inline]
    pub(crate) fn read(&self, what: &'static str) -> Result<ReadGuard<'_, T>, WouldBlockForever> {
        if !self.raw.try_lock(false) {
            self.raw.wait(false, what)?;
        }
        Ok(self.read_guard())
    }

    /// Takes exclusive access if nobody holds the lock.
    #[inline]
    pub(crate) fn try_write(&self) -> Option<WriteGuard<'_, T>> {
        self.raw
            .try_lock(true)
            .then(|| self.write_guard(PoisonOnUnwind::now()))
    }

    /// Takes exclusive access, parking while others hold it.
    ///
    /// # Errors
    /// From a thread's own context, when nothing could ever release it.
    #[inline]
    pub(crate) fn write(&self, what: &'static str) -> Result<WriteGuard<'_, T>, WouldBlockForever> {
        let poison = PoisonOnUnwind::now();
        if !self.raw.try_lock(true) {
            self.raw.wait(true, what)?;
        }
        Ok(self.write_guard(poison))
    }

    fn read_guard(&self) -> ReadGuard<'_, T> {
        ReadGuard {
            // SAFETY: `UnsafeCell::get` is never null.
            value: unsafe { NonNull::new_unchecked(self.cell.get()) },
            raw: &self.raw,
            _marker: PhantomData,
        }
    }

    fn write_guard(&self, poison: PoisonOnUnwind) -> WriteGuard<'_, T> {
        WriteGuard {
            lock: self,
            poison,
            _not_send: PhantomData,
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

impl<'a, T: ?Sized> WriteGuard<'a, T> {
    /// Turns exclusive access into shared access, no writer in between.
    pub(crate) fn downgrade(self) -> ReadGuard<'a, T> {
        let lock = self.lock;
        // As std's: a downgrade is not a release, so it does not poison.
        std::mem::forget(self);
        lock.raw.downgrade();
        lock.read_guard()
    }
}

impl<T: ?Sized> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read lock: no writer exists until it
        // is dropped, and the value outlives `'a`.
        unsafe { self.value.as_ref() }
    }
}

impl<T: ?Sized> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock.
        unsafe { &*self.lock.cell.get() }
    }
}

impl<T: ?Sized> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock and is borrowed uniquely.
        unsafe { &mut *self.lock.cell.get() }
    }
}

impl<T: ?Sized> Drop for ReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.raw.read_unlock();
    }
}

impl<T: ?Sized> Drop for WriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.poison.apply(&self.lock.cell);
        self.lock.raw.write_unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn readers_share_and_a_writer_excludes() {
        let lock = SharedLock::new(1);
        let r1 = lock.try_read().expect("free");
        let r2 = lock.try_read().expect("readers share");
        assert!(lock.try_write().is_none());
        drop((r1, r2));
        let w = lock.try_write().expect("free again");
        assert!(lock.try_read().is_none());
        assert!(lock.try_write().is_none());
        drop(w);
        assert_eq!(lock.raw.state.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_waiting_writer_holds_new_readers_back() {
        let lock = SharedLock::new(());
        let reader = lock.try_read().unwrap();
        assert!(!lock.raw.attempt_or_mark(true), "a reader holds it");
        assert!(lock.try_read().is_none(), "a writer waits");
        drop(reader);
        // The last reader out cleared the marks (and woke the waiters).
        assert_eq!(lock.raw.state.load(Ordering::Relaxed), 0);
        assert!(lock.try_write().is_some());
    }

    #[test]
    fn a_downgrade_keeps_writers_out_and_lets_readers_in() {
        let lock = SharedLock::new(3);
        let mut w = lock.try_write().unwrap();
        *w += 1;
        let r = w.downgrade();
        assert_eq!(*r, 4);
        assert!(lock.try_write().is_none());
        let r2 = lock.try_read().expect("readers join a downgraded lock");
        drop((r, r2));
        assert_eq!(lock.raw.state.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn writers_and_readers_across_threads_see_whole_updates() {
        let lock = Arc::new(SharedLock::new((0u64, 0u64)));
        let torn = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (lock, torn) = (lock.clone(), torn.clone());
                std::thread::spawn(move || {
                    for _ in 0..5_000 {
                        if i % 2 == 0 {
                            let mut w = lock.write("test").unwrap();
                            w.0 += 1;
                            w.1 += 1;
                        } else {
                            let r = lock.read("test").unwrap();
                            if r.0 != r.1 {
                                torn.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(torn.load(Ordering::Relaxed), 0);
        assert_eq!(*lock.read("test").unwrap(), (10_000, 10_000));
        assert_eq!(lock.raw.state.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn only_a_writer_that_unwinds_poisons() {
        let lock = SharedLock::new(0);
        let _ = std::panic::catch_unwind(|| {
            let _r = lock.read("test").unwrap();
            panic!("a reader unwinds");
        });
        assert!(!lock.cell().is_poisoned());
        let _ = std::panic::catch_unwind(|| {
            let _w = lock.write("test").unwrap();
            panic!("a writer unwinds");
        });
        assert!(lock.cell().is_poisoned());
    }
}
