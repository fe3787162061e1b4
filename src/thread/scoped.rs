//! Scoped coroutines, as `std::thread::scope`.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::Arc;

use super::{Thread, handle::join_end};
use crate::runtime::{Joiner, SpawnOptions};
use crate::runtime::{ScopeData, run_scope};

/// A scope to spawn coroutines that borrow from outside it; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// An owned permission to join a scoped coroutine.
pub struct ScopedJoinHandle<'scope, T> {
    /// As [`JoinHandle`](super::JoinHandle)'s.
    joiner: Joiner<T, Thread>,
    scope: PhantomData<&'scope ()>,
}

/// Creates a scope for spawning coroutines that borrow local data.
///
/// All coroutines spawned in the scope are joined before `scope` returns.
///
/// # Panics
/// If `f` panics, after every coroutine ended, with `f`'s payload; if a
/// scoped coroutine panicked and was not joined, with "a scoped thread
/// panicked".
///
/// # Examples
/// ```
/// let mut a = vec![1, 2, 3];
/// let mut x = 0;
/// greenstd::thread::scope(|s| {
///     s.spawn(|| println!("hello from the first scoped coroutine: {a:?}"));
///     s.spawn(|| x += a[0] + a[2]);
/// });
/// a.push(4);
/// assert_eq!(x, 4);
/// ```
///
/// Differences from std: none beyond coroutines instead of threads.
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    run_scope(|data| {
        let scope = Scope {
            data: data.clone(),
            scope: PhantomData,
            env: PhantomData,
        };
        f(&scope)
    })
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a scoped coroutine.
    ///
    /// # Panics
    /// If no stack can be mapped, as [`spawn`](super::spawn).
    ///
    /// # Examples
    /// ```
    /// let v = vec![1, 2];
    /// let n = greenstd::thread::scope(|s| s.spawn(|| v.len()).join().unwrap());
    /// assert_eq!(n, 2);
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.spawn_with(SpawnOptions::default(), f)
            .unwrap_or_else(|e| panic!("failed to spawn thread: {e}"))
    }

    #[track_caller]
    pub(crate) fn spawn_with<F, T>(
        &'scope self,
        options: SpawnOptions,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let joiner = self.data.spawn(options, f)?;
        Ok(ScopedJoinHandle {
            joiner: joiner.map_holder(Thread::from_task),
            scope: PhantomData,
        })
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// The handle of the coroutine.
    pub fn thread(&self) -> &Thread {
        self.joiner.holder()
    }

    /// Waits for the coroutine to end and returns its result.
    ///
    /// # Errors
    /// As [`JoinHandle::join`](super::JoinHandle::join).
    ///
    /// # Examples
    /// ```
    /// greenstd::thread::scope(|s| {
    ///     let h = s.spawn(|| panic!("oops"));
    ///     assert!(h.join().is_err()); // joined: the scope does not panic
    /// });
    /// ```
    pub fn join(self) -> super::Result<T> {
        join_end(&self.joiner)
    }

    /// Whether the coroutine has ended.
    pub fn is_finished(&self) -> bool {
        self.joiner.is_finished()
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle").finish_non_exhaustive()
    }
}
