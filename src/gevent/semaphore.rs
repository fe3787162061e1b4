//! gevent's `Semaphore` and `BoundedSemaphore`.

#![forbid(unsafe_code)]

use std::sync::Mutex;
use std::time::Duration;

use super::{deadline_after, lock, wait};
use crate::runtime::WaitQueue;

/// A counting semaphore; gevent's `Semaphore`. [`acquire`](Self::acquire)
/// returns a permit that gives the count back when dropped.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use greenstd::Semaphore;
///
/// let sem = Arc::new(Semaphore::new(2));
/// let a = sem.acquire();
/// let _b = sem.acquire();
/// assert!(sem.try_acquire().is_none());
/// drop(a);
/// assert!(sem.try_acquire().is_some());
/// ```
#[derive(Debug)]
pub struct Semaphore {
    count: Mutex<usize>,
    waiters: WaitQueue,
    bound: Option<usize>,
}

/// A semaphore that refuses to be released above its initial count;
/// gevent's `BoundedSemaphore`.
pub type BoundedSemaphore = Semaphore;

/// A unit of a [`Semaphore`]'s count, given back when dropped.
#[derive(Debug)]
#[must_use = "the permit is released as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `count` permits.
    #[must_use]
    pub const fn new(count: usize) -> Semaphore {
        Semaphore {
            count: Mutex::new(count),
            waiters: WaitQueue::new(),
            bound: None,
        }
    }

    /// A semaphore with `count` permits that never holds more.
    #[must_use]
    pub const fn bounded(count: usize) -> BoundedSemaphore {
        Semaphore {
            count: Mutex::new(count),
            waiters: WaitQueue::new(),
            bound: Some(count),
        }
    }

    fn take(&self) -> bool {
        let mut count = lock(&self.count);
        if *count > 0 {
            *count -= 1;
            true
        } else {
            false
        }
    }

    /// Takes a permit, parking until one is free.
    #[track_caller]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        wait(&self.waiters, None, "Semaphore::acquire", || self.take());
        SemaphorePermit { semaphore: self }
    }

    /// Takes a permit if one is free now.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        crate::runtime::checkpoint();
        self.take().then_some(SemaphorePermit { semaphore: self })
    }

    /// Takes a permit, waiting at most `timeout`.
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        let got = wait(
            &self.waiters,
            Some(deadline_after(timeout)),
            "Semaphore::acquire",
            || self.take(),
        );
        got.then_some(SemaphorePermit { semaphore: self })
    }

    /// Adds a permit (what dropping a permit does).
    ///
    /// # Panics
    /// For a bounded semaphore, when the count would exceed its bound
    /// (gevent's `ValueError`: released too many times).
    pub fn release(&self) {
        crate::runtime::checkpoint();
        self.give_back();
    }

    /// `release` without the time-slice check, for destructors.
    pub(super) fn give_back(&self) {
        {
            let mut count = lock(&self.count);
            if self.bound.is_some_and(|b| *count >= b) {
                drop(count);
                panic!("BoundedSemaphore released too many times");
            }
            *count += 1;
        }
        self.waiters.notify_one();
    }

    /// How many permits are free.
    pub fn available(&self) -> usize {
        *lock(&self.count)
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken: the count stays lowered.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.give_back();
    }
}
