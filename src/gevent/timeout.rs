//! gevent's `Timeout` and `with_timeout`.

#![forbid(unsafe_code)]

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::runtime::{self, ArmedTimeout, Task, TimeoutExpired, deadline_after, next_id};

/// A deadline for the blocking calls of the current coroutine (or thread);
/// gevent's `Timeout`.
///
/// While it is armed, the first blocking call that is still blocked when
/// the deadline passes unwinds with a [`TimeoutExpired`] payload. Use
/// [`with_timeout`] to turn that into an `Err`; dropping the `Timeout`
/// disarms it.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use greenstd::Timeout;
///
/// let result = std::panic::catch_unwind(|| {
///     let _t = Timeout::start_new(Duration::from_millis(10));
///     greenstd::sleep(Duration::from_secs(60)); // interrupted after 10 ms
/// });
/// let payload = result.unwrap_err();
/// assert!(payload.is::<greenstd::TimeoutExpired>());
/// ```
pub struct Timeout {
    task: Arc<Task>,
    armed: ArmedTimeout,
}

impl Timeout {
    /// Arms a timeout of `duration` on the caller.
    pub fn start_new(duration: Duration) -> Timeout {
        let task = runtime::current_task();
        let armed = ArmedTimeout {
            deadline: deadline_after(duration),
            id: next_id(),
        };
        task.arm_timeout(armed);
        Timeout { task, armed }
    }

    /// When the timeout expires.
    pub fn deadline(&self) -> Instant {
        self.armed.deadline
    }

    /// Disarms the timeout (as dropping it does).
    pub fn cancel(self) {}

    /// Whether `payload` is this timeout's expiry.
    pub fn is_expiry_of(&self, payload: &(dyn std::any::Any + Send)) -> bool {
        payload
            .downcast_ref::<TimeoutExpired>()
            .is_some_and(|e| e.id == self.armed.id)
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        self.task.disarm_timeout(self.armed.id);
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.armed.deadline)
            .finish_non_exhaustive()
    }
}

/// The error of [`with_timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `f`, bounding all its blocking calls by `duration` together;
/// gevent's `with_timeout`.
///
/// # Errors
/// [`Elapsed`] if a blocking call of `f` was still blocked at the deadline;
/// `f` was unwound then (its destructors ran).
///
/// # Examples
/// ```
/// use std::time::Duration;
///
/// let r = greenstd::with_timeout(Duration::from_millis(10), || {
///     greenstd::sleep(Duration::from_secs(60));
/// });
/// assert!(r.is_err());
/// assert_eq!(greenstd::with_timeout(Duration::from_secs(5), || 7), Ok(7));
/// ```
pub fn with_timeout<T>(duration: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let timeout = Timeout::start_new(duration);
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Ok(value),
        Err(payload) if timeout.is_expiry_of(&*payload) => Err(Elapsed(())),
        Err(payload) => resume_unwind(payload),
    }
}
