//! gevent's `Pool` and `Group`: sets of coroutines, capped or not.

#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};

use super::greenlet::Greenlet;
use super::semaphore::Semaphore;
use super::{lock, wait};
use crate::runtime::WaitQueue;

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
