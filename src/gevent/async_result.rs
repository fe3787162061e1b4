//! gevent's `AsyncResult`: a value delivered once, that coroutines wait for.

#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use super::{deadline_after, lock, wait_for};
use crate::runtime::WaitQueue;

/// A value delivered once, that coroutines wait for; gevent's
/// `AsyncResult`.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use greenstd::AsyncResult;
///
/// let result = Arc::new(AsyncResult::new());
/// let r = result.clone();
/// greenstd::spawn(move || r.set(42));
/// assert_eq!(result.get(), 42);
/// ```
pub struct AsyncResult<T> {
    value: Mutex<Option<T>>,
    waiters: WaitQueue,
}

impl<T: Clone> AsyncResult<T> {
    /// An empty result.
    #[must_use]
    pub const fn new() -> Self {
        AsyncResult {
            value: Mutex::new(None),
            waiters: WaitQueue::new(),
        }
    }

    /// Delivers the value (replacing an earlier one) and wakes every waiter.
    pub fn set(&self, value: T) {
        crate::runtime::checkpoint();
        *lock(&self.value) = Some(value);
        self.waiters.notify_all();
    }

    /// Whether a value was delivered.
    pub fn ready(&self) -> bool {
        lock(&self.value).is_some()
    }

    /// The value if delivered, without waiting.
    pub fn peek(&self) -> Option<T> {
        lock(&self.value).clone()
    }

    /// Waits for the value.
    #[track_caller]
    pub fn get(&self) -> T {
        wait_for(&self.waiters, None, "AsyncResult::get", || self.peek())
            .expect("a wait without deadline ends with the value")
    }

    /// Waits at most `timeout` for the value.
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Option<T> {
        let deadline = Some(deadline_after(timeout));
        wait_for(&self.waiters, deadline, "AsyncResult::get", || self.peek())
    }
}

impl<T: Clone> Default for AsyncResult<T> {
    fn default() -> Self {
        AsyncResult::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("value", &*lock(&self.value))
            .finish()
    }
}
