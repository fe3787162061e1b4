//! Spawning: a coroutine's body, its join packet, and scopes (whose
//! coroutines may borrow from the caller because the scope waits for all
//! of them before it returns).

use std::any::Any;
use std::cell::UnsafeCell;
use std::io as stdio;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Instant;

use super::coroutine;
use super::error::{Killed, WouldBlockForever};
use super::hub::{Hub, RemoteSpawn};
use super::local;
use super::report;
use super::setup;
use super::task::Task;
use super::wait::{self, Signal};
use super::workers::{self, Placement};

/// A coroutine's result and the event of its end, shared by the coroutine
/// and its join handles.
pub(crate) struct Packet<T> {
    /// Written once by the coroutine (before `state` says `STORED`), then
    /// read by the one taker that wins `state`.
    result: UnsafeCell<Option<std::thread::Result<T>>>,
    state: AtomicU8,
    done: Signal,
    scope: Option<Arc<ScopeData>>,
}

/// [`Packet::state`]: no result yet, a result to take, taken.
const EMPTY: u8 = 0;
const STORED: u8 = 1;
const TAKEN: u8 = 2;

impl<T> std::fmt::Debug for Packet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("state", &self.state.load(Ordering::Relaxed))
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T> Packet<T> {
    fn new(scope: Option<Arc<ScopeData>>) -> Self {
        Packet {
            result: UnsafeCell::new(None),
            state: AtomicU8::new(EMPTY),
            done: Signal::new(),
            scope,
        }
    }

    /// Called once, by the coroutine's body.
    fn store(&self, result: std::thread::Result<T>) {
        debug_assert_eq!(self.state.load(Ordering::Relaxed), EMPTY);
        // SAFETY: nobody reads the slot before `state` says STORED, and only
        // the body (once) writes it.
        unsafe { *self.result.get() = Some(result) };
        self.state.store(STORED, Ordering::Release);
    }

    /// Whether the coroutine has ended.
    pub(crate) fn is_finished(&self) -> bool {
        self.done.is_set()
    }

    /// Waits for the end, until `deadline`; returns whether it ended.
    pub(crate) fn wait(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<bool, WouldBlockForever> {
        self.done.wait(deadline, what)
    }

    /// Takes the result of an ended coroutine; `None` if already taken (or
    /// not stored yet).
    pub(crate) fn take(&self) -> Option<std::thread::Result<T>> {
        self.state
            .compare_exchange(STORED, TAKEN, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        // SAFETY: winning STORED -> TAKEN makes this the slot's only reader,
        // after the store (Release/Acquire).
        unsafe { (*self.result.get()).take() }
    }
}

// SAFETY: as std's thread packet, whose handles are `Send` and `Sync` for
// every `T`: a packet is only made by `spawn_unchecked`, which requires
// `T: Send`, so a packet whose `T` is not `Send` never exists. For
// `T: Send` the result slot is handed between threads once, ordered by
// `state` (written before STORED, read by the one winner of STORED ->
// TAKEN); the `Signal` and the scope's `Arc` are `Send` and `Sync`.
unsafe impl<T> Send for Packet<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Packet<T> {}

/// The last holder of a packet drops a result nobody took, as std's thread
/// packet does: on the coroutine's own stack when no handle is left (the
/// coroutine drops its share last thing), or wherever the last handle is
/// dropped. Never inside the hub's bookkeeping, so the result's `Drop` may
/// block, spawn or switch. A scope counts its coroutine as ended only after
/// that drop, because the drop may still use the scope's borrows.
impl<T> Drop for Packet<T> {
    fn drop(&mut self) {
        let result = self.result.get_mut();
        let unhandled_panic = matches!(result, Some(Err(_)));
        if catch_unwind(AssertUnwindSafe(|| *result = None)).is_err() {
            report::abort_with("a coroutine's result panicked on drop");
        }
        if let Some(scope) = &self.scope {
            scope.thread_finished(unhandled_panic);
        }
    }
}

/// The largest closure a coroutine's stack carries in place, in bytes.
const INLINE_BODY: usize = 128;

/// What to spawn with.
#[derive(Debug, Default, Clone)]
pub(crate) struct SpawnOptions {
    pub(crate) name: Option<String>,
    pub(crate) stack_size: Option<usize>,
    /// Where the user asked for the coroutine (for misuse reports); the
    /// caller of `spawn` when not set.
    pub(crate) spawned_at: Option<&'static Location<'static>>,
    /// Which hub starts it (see `workers`).
    pub(crate) placement: Placement,
}

/// Starts `f` as a coroutine on this thread's hub.
///
/// # Errors
/// `WouldBlock` (as std) when no stack can be mapped; an error from creating the
/// hub's poller.
#[track_caller]
pub(crate) fn spawn<F, T>(options: SpawnOptions, f: F) -> stdio::Result<(Arc<Task>, Arc<Packet<T>>)>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: `f` and `T` are `'static`, so nothing they borrow can end
    // before the coroutine does.
    unsafe { spawn_unchecked(options, f, None) }
}

/// Starts `f`, which may borrow from the caller, as a coroutine.
///
/// # Errors
/// As [`spawn`].
///
/// # Safety
/// Everything `f` and `T` borrow must outlive the coroutine: the caller
/// makes sure the coroutine has ended before any borrow of `'a` ends (a
/// scope joins all its coroutines before it returns).
#[track_caller]
pub(crate) unsafe fn spawn_unchecked<'a, F, T>(
    options: SpawnOptions,
    f: F,
    scope: Option<Arc<ScopeData>>,
) -> stdio::Result<(Arc<Task>, Arc<Packet<T>>)>
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    setup::once();
    wait::checkpoint();
    let worker = workers::place(options.placement)?;
    let stack_size = coroutine::effective_stack_size(options.stack_size);
    let packet = Arc::new(Packet::new(scope));
    let theirs = packet.clone();
    // `Location::caller()` must be called here, not passed as a function:
    // the caller's location only flows through `#[track_caller]` calls.
    let spawned_at = match options.spawned_at {
        Some(at) => at,
        None => Location::caller(),
    };
    if let Some(remote) = worker {
        // Another thread's hub: its task is made here, so that the handles
        // can be returned at once; the body (boxed) goes over with it.
        coroutine::Coroutine::check_room(stack_size)?;
        let task = Hub::task_for(&remote, options.name, spawned_at);
        let body: Box<dyn FnOnce() + Send + 'a> = Box::new(move || run_body(f, theirs));
        // SAFETY: only the lifetime changes: the caller guarantees that the
        // coroutine ends before `'a` does (see `Remote::submit`).
        let body = unsafe {
            std::mem::transmute::<Box<dyn FnOnce() + Send + 'a>, Box<dyn FnOnce() + Send>>(body)
        };
        let mine = packet.clone();
        let failed: Box<dyn FnOnce(stdio::Error) + Send + 'a> = Box::new(move |e| {
            // No coroutine to report it: the packet says it ended with the
            // error, as a panic would, and wakes whoever joins.
            let message = format!("failed to spawn thread: {e}");
            mine.store(Err(Box::new(message)));
            mine.done.notify_all();
        });
        // SAFETY: as for the body; it holds only the packet.
        let failed = unsafe {
            std::mem::transmute::<
                Box<dyn FnOnce(stdio::Error) + Send + 'a>,
                Box<dyn FnOnce(stdio::Error) + Send>,
            >(failed)
        };
        remote.submit(RemoteSpawn {
            task: task.clone(),
            stack_size,
            body,
            failed,
        });
        return Ok((task, packet));
    }
    let hub = Hub::get()?;
    // A small closure rides on the coroutine's stack (the `generator` crate
    // keeps the body at the stack's top); a large one stays boxed, so that
    // captures never eat into the stack.
    let task = if size_of::<F>() <= INLINE_BODY {
        // SAFETY: the caller guarantees that the coroutine ends before `'a`
        // does; the body is consumed on the coroutine's stack before it
        // ends. A coroutine that never ends (one left parked when its
        // thread exited) keeps its body and its frames forever: leaked,
        // never dropped.
        unsafe {
            hub.spawn(options.name, spawned_at, stack_size, move || {
                run_body(f, theirs)
            })
        }
    } else {
        let f = Box::new(f);
        // SAFETY: as above.
        unsafe {
            hub.spawn(options.name, spawned_at, stack_size, move || {
                run_body(f, theirs)
            })
        }
    }?;
    Ok((task, packet))
}

/// The body of every coroutine: honour a kill that came before the start,
/// catch the user's panic, drop the coroutine-local values, publish the
/// result. Everything that may run user code (the locals' and the result's
/// `Drop`) runs here, on the coroutine's own stack, where it may block,
/// spawn, switch or panic like any other code of the coroutine.
fn run_body<F, T>(f: F, packet: Arc<Packet<T>>)
where
    F: FnOnce() -> T,
{
    let result = if super::context::with_current_task(Task::take_kill) {
        Err(Box::new(Killed) as Box<dyn Any + Send>)
    } else {
        catch_unwind(AssertUnwindSafe(f))
    };
    if let Err(payload) = &result
        && coroutine::is_cancellation(&**payload)
    {
        let Err(payload) = result else { unreachable!() };
        resume_unwind(payload);
    }
    // std's order: store the result, drop the thread's share of the packet
    // (and with it the result, if no handle is left), run the TLS
    // destructors, and only then let `join` return. With no handle left
    // (one count: ours), nobody can start waiting any more.
    packet.store(result);
    if Arc::strong_count(&packet) == 1 {
        drop(packet);
        local::destroy_current();
    } else {
        local::destroy_current();
        packet.done.notify_all();
        // A handle dropped meanwhile makes this the last share: the result
        // nobody took is dropped here, on the coroutine's stack.
        drop(packet);
    }
}

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
        let spawned = unsafe { spawn_unchecked(options, f, Some(self.clone())) };
        if spawned.is_err() {
            self.running.fetch_sub(1, Ordering::AcqRel);
        }
        spawned
    }

    /// Waits until every coroutine of the scope has ended. A kill or timeout
    /// that arrives meanwhile is held back and resumed after the wait: the
    /// scope must not return while a coroutine may still use its borrows.
    fn wait_all(&self) {
        let me = super::context::current_task();
        *self.waiters.lock().unwrap_or_else(|e| e.into_inner()) = Some(me);
        let mut interrupted = None;
        while self.running.load(Ordering::Acquire) != 0 {
            match catch_unwind(|| wait::park(None, "thread::scope")) {
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
