//! The runtime's public error and payload types: what a kill, a `Timeout`
//! and a wait that can never end look like to the user.

use std::fmt;

/// The payload a coroutine unwinds with when it is killed.
///
/// [`kill`](crate::kill) makes the target raise this at its next blocking
/// point; `join` then returns `Err` holding it. gevent calls it
/// `GreenletExit`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let g = greenstd::spawn(|| greenstd::sleep(Duration::from_secs(60)));
/// g.kill();
/// let payload = g.get().unwrap_err();
/// assert!(payload.is::<greenstd::Killed>());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Killed;

impl fmt::Display for Killed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the coroutine was killed")
    }
}

impl std::error::Error for Killed {}

/// The payload a coroutine unwinds with when a [`Timeout`](crate::Timeout)
/// armed by it expires outside [`with_timeout`](crate::with_timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutExpired {
    pub(crate) id: u64,
}

impl fmt::Display for TimeoutExpired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timeout expired")
    }
}

impl std::error::Error for TimeoutExpired {}

/// A wait from a thread's own context that nothing could ever end: no
/// coroutine can run, no timer is armed, no I/O is registered and no other
/// thread exists that could wake it. gevent calls this `LoopExit`.
///
/// `JoinHandle::join` returns it as its `Err` payload; calls returning
/// `io::Result` give an `io::Error` of kind `Deadlock` wrapping it; calls
/// with no error channel (`park`, `Greenlet::switch`) panic with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WouldBlockForever {
    waited_on: &'static str,
}

impl WouldBlockForever {
    pub(crate) fn new(waited_on: &'static str) -> Self {
        WouldBlockForever { waited_on }
    }

    /// What the blocked call waited for, e.g. `"JoinHandle::join"`.
    pub fn waited_on(&self) -> &'static str {
        self.waited_on
    }
}

impl fmt::Display for WouldBlockForever {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} would block forever: no coroutine on this thread can run, no timer is armed, \
             no I/O is registered and no other thread (worker hubs included) could wake it",
            self.waited_on
        )
    }
}

impl std::error::Error for WouldBlockForever {}

impl From<WouldBlockForever> for std::io::Error {
    fn from(e: WouldBlockForever) -> Self {
        std::io::Error::new(std::io::ErrorKind::Deadlock, e)
    }
}
