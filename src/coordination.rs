//! gevent's coordination tools, for what `std::sync` lacks: [`Event`],
//! [`AsyncResult`], [`Semaphore`] and [`BoundedSemaphore`], a [`Queue`] with
//! an optional bound and `join`/`task_done`, and a [`Pool`] that caps how
//! many coroutines run at once (a [`Group`] is a pool without a cap).
//! All of them work across coroutines and threads; all waits park.

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::greenlet::Greenlet;
use crate::runtime::WaitQueue;
use crate::runtime::deadline_after;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `queue` until `ready` or `deadline`; a wait that could never
/// end panics with `WouldBlockForever`.
#[track_caller]
fn wait(
    queue: &WaitQueue,
    deadline: Option<Instant>,
    what: &'static str,
    ready: impl FnMut() -> bool,
) -> bool {
    crate::runtime::unwrap_wait(queue.wait_until(deadline, what, ready))
}

/// Waits on `queue` until `attempt` yields a value or `deadline` passes.
#[track_caller]
fn wait_for<T>(
    queue: &WaitQueue,
    deadline: Option<Instant>,
    what: &'static str,
    attempt: impl FnMut() -> Option<T>,
) -> Option<T> {
    crate::runtime::unwrap_wait(queue.wait_for(deadline, what, attempt))
}

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
    fn give_back(&self) {
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

/// A set of coroutines of which at most `size` run at once; gevent's
/// `Pool`. [`spawn`](Self::spawn) parks the caller while the pool is full.
///
/// # Examples
/// ```
/// let pool = greenstd::Pool::new(3);
/// let squares = pool.map(|x: u64| x * x, 1..=5);
/// assert_eq!(squares, [1, 4, 9, 16, 25]);
/// ```
#[derive(Debug, Clone)]
pub struct Pool {
    slots: Arc<Semaphore>,
    running: Arc<(Mutex<usize>, WaitQueue)>,
}

/// A pool without a cap; gevent's `Group`.
pub type Group = Pool;

/// Gives a pool slot back and counts the coroutine out, however it ends.
struct Leave {
    slots: Arc<Semaphore>,
    running: Arc<(Mutex<usize>, WaitQueue)>,
}

impl Drop for Leave {
    fn drop(&mut self) {
        self.slots.give_back();
        let none_left = {
            let mut n = lock(&self.running.0);
            *n -= 1;
            *n == 0
        };
        if none_left {
            self.running.1.notify_all();
        }
    }
}

impl Pool {
    /// A pool running at most `size` coroutines at once (at least one).
    #[must_use]
    pub fn new(size: usize) -> Pool {
        Pool {
            slots: Arc::new(Semaphore::new(size.max(1))),
            running: Arc::new((Mutex::new(0), WaitQueue::new())),
        }
    }

    /// A pool without a cap (gevent's `Group`).
    #[must_use]
    pub fn group() -> Group {
        Pool::new(usize::MAX)
    }

    /// Spawns `f` once a slot is free, parking the caller until then.
    ///
    /// # Panics
    /// If no stack can be mapped, as [`spawn`](crate::spawn).
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.slots.acquire().forget();
        *lock(&self.running.0) += 1;
        let leave = Leave {
            slots: self.slots.clone(),
            running: self.running.clone(),
        };
        crate::spawn(move || {
            let _leave = leave;
            f()
        })
    }

    /// Runs `f` on every item, at most the pool's size at once; returns the
    /// results in the items' order.
    ///
    /// # Panics
    /// Resumes the first panic of `f`, after all have ended.
    #[track_caller]
    pub fn map<F, I, T>(&self, f: F, items: I) -> Vec<T>
    where
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
    {
        let f = Arc::new(f);
        let greenlets: Vec<Greenlet<T>> = items
            .into_iter()
            .map(|item| {
                let f = f.clone();
                self.spawn(move || f(item))
            })
            .collect();
        greenlets
            .into_iter()
            .map(|g| g.get().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    }

    /// Runs `f` on every item, at most the pool's size at once, and yields
    /// the results as they finish. An item whose `f` panicked yields no
    /// result (its panic is reported as any coroutine's).
    #[track_caller]
    pub fn imap_unordered<F, I, T>(&self, f: F, items: I) -> impl Iterator<Item = T> + use<F, I, T>
    where
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
    {
        let f = Arc::new(f);
        let (tx, rx) = crate::sync::mpsc::channel();
        for item in items {
            let (f, tx) = (f.clone(), tx.clone());
            self.spawn(move || {
                let _ = tx.send(f(item));
            });
        }
        drop(tx);
        rx.into_iter()
    }

    /// Waits until every coroutine of the pool has ended.
    #[track_caller]
    pub fn join(&self) {
        wait(&self.running.1, None, "Pool::join", || {
            *lock(&self.running.0) == 0
        });
    }

    /// How many coroutines of the pool are running.
    pub fn running(&self) -> usize {
        *lock(&self.running.0)
    }

    /// How many more coroutines could start now.
    pub fn free_count(&self) -> usize {
        self.slots.available()
    }
}
