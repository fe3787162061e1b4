//! `Condvar`, as std's: waits park the coroutine.

use std::sync::{LockResult, PoisonError};
use std::time::{Duration, Instant};

use super::MutexGuard;
use crate::runtime::WaitQueue;

/// A condition variable, as [`std::sync::Condvar`], used with greenstd's
/// [`Mutex`](super::Mutex); works across coroutines and threads in any mix.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use greenstd::sync::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let p = pair.clone();
/// greenstd::thread::spawn(move || {
///     *p.0.lock().unwrap() = true;
///     p.1.notify_one();
/// });
/// let (lock, cvar) = &*pair;
/// let ready = cvar.wait_while(lock.lock().unwrap(), |ready| !*ready).unwrap();
/// assert!(*ready);
/// ```
///
/// Differences from std: works only with `greenstd::sync::Mutex`.
#[derive(Debug, Default)]
pub struct Condvar {
    waiters: WaitQueue,
}

/// Whether a timed wait timed out, as [`std::sync::WaitTimeoutResult`].
///
/// Differences from std: greenstd's own type (std's cannot be made
/// outside std); same method.
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait ended because the timeout elapsed.
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A new condition variable.
    #[must_use]
    pub const fn new() -> Condvar {
        Condvar {
            waiters: WaitQueue::new(),
        }
    }

    /// Releases the lock, waits for a notification, re-takes the lock. May
    /// wake spuriously, as std's.
    ///
    /// # Errors
    /// A `PoisonError` holding the guard if the mutex is poisoned.
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        self.wait_until(guard, None).map(|(g, _)| g).map_err(|p| {
            let (g, _) = p.into_inner();
            PoisonError::new(g)
        })
    }

    /// Waits while `condition` holds.
    ///
    /// # Errors
    /// A `PoisonError` holding the guard if the mutex is poisoned.
    #[track_caller]
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// As [`wait`](Self::wait), giving up after `dur`.
    ///
    /// # Errors
    /// A `PoisonError` holding the guard and the result if poisoned.
    #[track_caller]
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        self.wait_until(guard, Some(crate::runtime::deadline_after(dur)))
    }

    /// Deprecated form of [`wait_timeout`](Self::wait_timeout), as in std.
    ///
    /// # Errors
    /// As `wait_timeout`.
    #[deprecated(note = "replaced by `greenstd::sync::Condvar::wait_timeout`")]
    #[track_caller]
    pub fn wait_timeout_ms<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        ms: u32,
    ) -> LockResult<(MutexGuard<'a, T>, bool)> {
        match self.wait_timeout(guard, Duration::from_millis(u64::from(ms))) {
            Ok((g, r)) => Ok((g, !r.timed_out())),
            Err(p) => {
                let (g, r) = p.into_inner();
                Err(PoisonError::new((g, !r.timed_out())))
            }
        }
    }

    /// As [`wait_while`](Self::wait_while), giving up after `dur`.
    ///
    /// # Errors
    /// A `PoisonError` holding the guard and the result if poisoned.
    #[track_caller]
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = crate::runtime::deadline_after(dur);
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            if Instant::now() >= deadline {
                return Ok((guard, WaitTimeoutResult(true)));
            }
            guard = match self.wait_until(guard, Some(deadline)) {
                Ok((g, _)) => g,
                Err(p) => {
                    let (g, r) = p.into_inner();
                    return Err(PoisonError::new((g, r)));
                }
            };
        }
    }

    #[track_caller]
    fn wait_until<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        // Registered before the mutex is released: a notify that follows
        // the release cannot be missed.
        let me = self.waiters.register();
        let released = guard.release();
        let waited = self.waiters.park_registered(&me, deadline, "Condvar::wait");
        let retaken = MutexGuard::retake(released);
        let timed_out = WaitTimeoutResult(!crate::runtime::unwrap_wait(waited));
        match retaken {
            Ok(guard) => Ok((guard, timed_out)),
            Err(poisoned) => Err(PoisonError::new((poisoned.into_inner(), timed_out))),
        }
    }

    /// Wakes one waiter.
    pub fn notify_one(&self) {
        crate::runtime::checkpoint();
        self.waiters.notify_one();
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        crate::runtime::checkpoint();
        self.waiters.notify_all();
    }
}
