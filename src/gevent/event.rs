//! gevent's `Event`: a flag that coroutines wait for.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{deadline_after, wait};
use crate::runtime::WaitQueue;

/// A flag that coroutines wait for; gevent's `Event`.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use greenstd::Event;
///
/// let ready = Arc::new(Event::new());
/// let r = ready.clone();
/// let waiter = greenstd::spawn(move || r.wait());
/// ready.set();
/// waiter.join();
/// assert!(ready.is_set());
/// ```
#[derive(Debug, Default)]
pub struct Event {
    flag: AtomicBool,
    waiters: WaitQueue,
}

impl Event {
    /// A cleared event.
    #[must_use]
    pub const fn new() -> Event {
        Event {
            flag: AtomicBool::new(false),
            waiters: WaitQueue::new(),
        }
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        crate::runtime::checkpoint();
        self.flag.store(true, Ordering::Release);
        self.waiters.notify_all();
    }

    /// Clears the flag.
    pub fn clear(&self) {
        self.flag.store(false, Ordering::Release);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Waits until the flag is set.
    #[track_caller]
    pub fn wait(&self) {
        wait(&self.waiters, None, "Event::wait", || self.is_set());
    }

    /// Waits at most `timeout`; returns whether the flag is set.
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        wait(
            &self.waiters,
            Some(deadline_after(timeout)),
            "Event::wait",
            || self.is_set(),
        )
    }
}
