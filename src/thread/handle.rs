//! `JoinHandle`: owned permission to join a coroutine.

use std::fmt;

use super::Thread;
use crate::runtime::{Joiner, TaskHolder};

/// An owned permission to join a coroutine (wait for its end and take its
/// result). Dropping it detaches the coroutine, which keeps running.
///
/// It can be sent to and joined from any coroutine or OS thread.
///
/// # Examples
/// ```
/// let h = greenstd::thread::spawn(|| "hello");
/// let from_os_thread = std::thread::spawn(move || h.join().unwrap());
/// # // the coroutine runs when this thread waits for the OS thread
/// # let waiter = greenstd::thread::spawn(|| ());
/// # waiter.join().unwrap();
/// # while !from_os_thread.is_finished() { greenstd::thread::yield_now(); }
/// assert_eq!(from_os_thread.join().unwrap(), "hello");
/// ```
///
/// Differences from std: no `JoinHandleExt` (a coroutine has no pthread).
pub struct JoinHandle<T> {
    /// The coroutine's task (held by its `Thread`) and the handle's share
    /// of its result.
    joiner: Joiner<T, Thread>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(joiner: Joiner<T>) -> Self {
        JoinHandle {
            joiner: joiner.map_holder(Thread::from_task),
        }
    }

    /// The handle of the coroutine.
    pub fn thread(&self) -> &Thread {
        self.joiner.holder()
    }

    /// Waits for the coroutine to end and returns its result; `Err` holds
    /// the panic payload if it panicked.
    ///
    /// # Errors
    /// The coroutine's panic payload; [`Killed`](crate::Killed) if it was
    /// killed; [`WouldBlockForever`](crate::WouldBlockForever) if this is a
    /// thread's own context and nothing could ever end the wait.
    ///
    /// # Examples
    /// ```
    /// let h = greenstd::thread::spawn(|| panic!("oops"));
    /// let payload = h.join().unwrap_err();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"oops"));
    /// ```
    pub fn join(self) -> super::Result<T> {
        join_end(&self.joiner)
    }

    /// Whether the coroutine has ended; `join` will then not block.
    pub fn is_finished(&self) -> bool {
        self.joiner.is_finished()
    }
}

/// Waits for a coroutine's end and takes its result.
pub(crate) fn join_end<T, H: TaskHolder>(joiner: &Joiner<T, H>) -> super::Result<T> {
    if let Err(e) = joiner.wait(None, "JoinHandle::join") {
        return Err(Box::new(e));
    }
    joiner
        .take()
        .unwrap_or_else(|| unreachable!("a join handle is the only taker of its result"))
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").finish_non_exhaustive()
    }
}
