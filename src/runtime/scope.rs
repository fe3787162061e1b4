//! Scoped coroutines: the bookkeeping that lets coroutines borrow from the
//! caller, because the scope waits for all of them before it returns.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::hub;
use super::task::Task;
use super::{Packet, SpawnOptions};

/// What a scope knows of its coroutines.
#[derive(Debug, Default)]
pub(crate) struct ScopeData {
    running: AtomicUsize,
    unhandled_panics: AtomicUsize,
    waiters: std::sync::Mutex<Option<Arc<Task>>>,
}

impl ScopeData {
    /// A coroutine's packet was dropped (with a panic nobody joined, if
    /// `panicked`): the coroutine can no longer touch the scope's borrows.
    pub(crate) fn thread_finished(&self, panicked: bool) {
        if panicked {
            self.unhandled_panics.fetch_add(1, Ordering::AcqRel);
        }
        if self.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            let waiter = self
                .waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let Some(task) = waiter {
                task.wake();
            }
        }
    }

    /// Spawns `f`, borrowing for `'scope`, as a coroutine of this scope.
    #[track_caller]
    pub(crate) fn spawn<'scope, F, T>(
        self: &Arc<Self>,
        options: SpawnOptions,
        f: F,
    ) -> std::io::Result<(Arc<Task>, Arc<Packet<T>>)>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.running.fetch_add(1, Ordering::AcqRel);
        // SAFETY: `run_scope` waits, before it returns and so before
        // `'scope` ends, until every coroutine counted in `running` ended.
        let spawned = unsafe { super::spawn_unchecked(options, f, Some(self.clone())) };
        if spawned.is_err() {
            self.running.fetch_sub(1, Ordering::AcqRel);
        }
        spawned
    }

    /// Waits until every coroutine of the scope has ended. A kill or timeout
    /// that arrives meanwhile is held back and resumed after the wait: the
    /// scope must not return while a coroutine may still use its borrows.
    fn wait_all(&self) {
        let me = hub::current_task();
        *self.waiters.lock().unwrap_or_else(|e| e.into_inner()) = Some(me);
        let mut interrupted = None;
        while self.running.load(Ordering::Acquire) != 0 {
            match catch_unwind(|| super::wait::park(None, "thread::scope")) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    eprintln!("greenstd: {e}");
                    std::process::abort();
                }
                Err(payload) => interrupted = interrupted.or(Some(payload)),
            }
        }
        if let Some(payload) = interrupted {
            resume_unwind(payload);
        }
    }
}

/// Runs `f` with a fresh scope, then waits for the scope's coroutines.
///
/// # Panics
/// Resumes `f`'s panic after the wait; panics if a coroutine of the scope
/// panicked and nobody joined it.
pub(crate) fn run_scope<T>(f: impl FnOnce(&Arc<ScopeData>) -> T) -> T {
    let data = Arc::new(ScopeData::default());
    let result = catch_unwind(AssertUnwindSafe(|| f(&data)));
    data.wait_all();
    match result {
        Err(payload) => resume_unwind(payload),
        Ok(_) if data.unhandled_panics.load(Ordering::Acquire) > 0 => {
            panic!("a scoped thread panicked")
        }
        Ok(value) => value,
    }
}
