//! gevent's `Queue`: FIFO, optionally bounded, with `JoinableQueue`'s
//! `task_done`/`join`.

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use super::{deadline_after, lock, wait, wait_for};
use crate::runtime::WaitQueue;

/// The error of [`Queue::try_put`]/[`Queue::put_timeout`]: the queue stayed
/// full; the item comes back.
#[derive(Debug, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is full")
    }
}

impl<T: fmt::Debug> std::error::Error for Full<T> {}

struct QueueState<T> {
    items: VecDeque<T>,
    unfinished: usize,
}

/// A FIFO queue for producers and consumers, optionally bounded, with
/// gevent's `JoinableQueue` `task_done`/`join`.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use greenstd::Queue;
///
/// let q = Arc::new(Queue::bounded(2));
/// let worker = {
///     let q = q.clone();
///     greenstd::spawn(move || {
///         let mut sum = 0;
///         for _ in 0..3 {
///             sum += q.get();
///             q.task_done();
///         }
///         sum
///     })
/// };
/// for i in 1..=3 {
///     q.put(i); // parks while the queue is full
/// }
/// q.join(); // every item was taken and marked done
/// assert_eq!(worker.get().unwrap(), 6);
/// ```
pub struct Queue<T> {
    state: Mutex<QueueState<T>>,
    bound: Option<usize>,
    getters: WaitQueue,
    putters: WaitQueue,
    joiners: WaitQueue,
}

impl<T> Queue<T> {
    /// An unbounded queue.
    #[must_use]
    pub fn new() -> Self {
        Queue::with_bound(None)
    }

    /// A queue holding at most `maxsize` items (at least one).
    #[must_use]
    pub fn bounded(maxsize: usize) -> Self {
        Queue::with_bound(Some(maxsize.max(1)))
    }

    fn with_bound(bound: Option<usize>) -> Self {
        Queue {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                unfinished: 0,
            }),
            bound,
            getters: WaitQueue::new(),
            putters: WaitQueue::new(),
            joiners: WaitQueue::new(),
        }
    }

    fn try_push(&self, item: &mut Option<T>) -> bool {
        let mut s = lock(&self.state);
        if self.bound.is_some_and(|b| s.items.len() >= b) {
            return false;
        }
        s.items.push_back(item.take().expect("not yet put"));
        s.unfinished += 1;
        drop(s);
        self.getters.notify_one();
        true
    }

    fn try_pop(&self) -> Option<T> {
        let item = lock(&self.state).items.pop_front();
        if item.is_some() {
            self.putters.notify_one();
        }
        item
    }

    /// Adds an item, parking while the queue is full.
    #[track_caller]
    pub fn put(&self, item: T) {
        let mut item = Some(item);
        wait(&self.putters, None, "Queue::put", || {
            self.try_push(&mut item)
        });
    }

    /// Adds an item if there is room now.
    ///
    /// # Errors
    /// [`Full`] with the item when the queue is full.
    pub fn try_put(&self, item: T) -> Result<(), Full<T>> {
        crate::runtime::checkpoint();
        let mut item = Some(item);
        if self.try_push(&mut item) {
            Ok(())
        } else {
            Err(Full(item.expect("not put")))
        }
    }

    /// Adds an item, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`Full`] with the item when the queue stayed full.
    #[track_caller]
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), Full<T>> {
        let mut item = Some(item);
        wait(
            &self.putters,
            Some(deadline_after(timeout)),
            "Queue::put",
            || self.try_push(&mut item),
        );
        item.map_or(Ok(()), |i| Err(Full(i)))
    }

    /// Takes the oldest item, parking while the queue is empty.
    #[track_caller]
    pub fn get(&self) -> T {
        wait_for(&self.getters, None, "Queue::get", || self.try_pop())
            .expect("a wait without deadline ends with an item")
    }

    /// Takes the oldest item if there is one.
    pub fn try_get(&self) -> Option<T> {
        crate::runtime::checkpoint();
        self.try_pop()
    }

    /// Takes the oldest item, waiting at most `timeout`.
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Option<T> {
        let deadline = Some(deadline_after(timeout));
        wait_for(&self.getters, deadline, "Queue::get", || self.try_pop())
    }

    /// How many items wait in the queue.
    pub fn len(&self) -> usize {
        lock(&self.state).items.len()
    }

    /// Whether the queue holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks one taken item as processed (for [`join`](Self::join)).
    ///
    /// # Panics
    /// If called more times than items were put (gevent's `ValueError`).
    pub fn task_done(&self) {
        let done = {
            let mut s = lock(&self.state);
            assert!(s.unfinished > 0, "Queue::task_done called too many times");
            s.unfinished -= 1;
            s.unfinished == 0
        };
        if done {
            self.joiners.notify_all();
        }
    }

    /// Waits until every item put was marked done.
    #[track_caller]
    pub fn join(&self) {
        wait(&self.joiners, None, "Queue::join", || {
            lock(&self.state).unfinished == 0
        });
    }
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue::new()
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.state);
        f.debug_struct("Queue")
            .field("len", &s.items.len())
            .field("unfinished", &s.unfinished)
            .field("bound", &self.bound)
            .finish()
    }
}
