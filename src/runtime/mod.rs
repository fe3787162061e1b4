//! The runtime: coroutines, the per-thread hub and the wait primitives.
//!
//! Facades (`thread`, the gevent API, later `net`, `fs`, `sync`) call only
//! what this module exports; none of them schedules anything itself.

pub(crate) mod coroutine;
pub(crate) mod hub;
pub(crate) mod io;
pub(crate) mod local;
pub(crate) mod monitor;
pub(crate) mod panic;
pub(crate) mod pool;
pub(crate) mod scope;
pub(crate) mod task;
pub(crate) mod timer;
pub(crate) mod wait;

use std::any::Any;
use std::io as stdio;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hub::Hub;
use panic::{Killed, WouldBlockForever};
use task::Task;
use wait::Signal;

/// A coroutine's result and the event of its end, shared by the coroutine
/// and its join handles.
#[derive(Debug)]
pub(crate) struct Packet<T> {
    result: Mutex<Option<std::thread::Result<T>>>,
    done: Signal,
    scope: Option<Arc<scope::ScopeData>>,
}

impl<T> Packet<T> {
    fn new(scope: Option<Arc<scope::ScopeData>>) -> Self {
        Packet {
            result: Mutex::new(None),
            done: Signal::new(),
            scope,
        }
    }

    fn complete(&self, result: std::thread::Result<T>) {
        let panicked = result.is_err();
        *self.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        self.done.notify_all();
        if let Some(scope) = &self.scope {
            scope.thread_finished(panicked);
        }
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

    /// Takes the result of an ended coroutine; `None` if already taken.
    pub(crate) fn take(&self) -> Option<std::thread::Result<T>> {
        let result = self.result.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let (Some(Err(_)), Some(scope)) = (&result, &self.scope) {
            scope.panic_handled();
        }
        result
    }
}

/// A coroutine body, before its lifetime is erased.
type Body<'a> = Box<dyn FnOnce(Arc<Task>) + Send + 'a>;

/// What completes a join packet when a body never returns.
type Abandon<'a> = Box<dyn FnOnce(Box<dyn Any + Send>) + 'a>;

/// What to spawn with.
#[derive(Debug, Default, Clone)]
pub(crate) struct SpawnOptions {
    pub(crate) name: Option<String>,
    pub(crate) stack_size: Option<usize>,
}

/// Starts `f` as a coroutine on this thread's hub.
///
/// # Errors
/// `OutOfMemory` when no stack can be mapped; an error from creating the
/// hub's poller.
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
pub(crate) unsafe fn spawn_unchecked<'a, F, T>(
    options: SpawnOptions,
    f: F,
    scope: Option<Arc<scope::ScopeData>>,
) -> stdio::Result<(Arc<Task>, Arc<Packet<T>>)>
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    panic::install_hook();
    let hub = Hub::get()?;
    let stack_size = coroutine::effective_stack_size(options.stack_size);
    let packet = Arc::new(Packet::new(scope));
    let theirs = packet.clone();
    let abandoned = packet.clone();
    let body: Body<'a> = Box::new(move |task| run_body(task, f, theirs));
    let on_abandon: Abandon<'a> = Box::new(move |payload| abandoned.complete(Err(payload)));
    // SAFETY: only the lifetimes change. The caller guarantees that the
    // coroutine ends before `'a` does; both closures run (or are dropped)
    // by then: the body when the coroutine ends, `on_abandon` with its
    // hub entry, which is removed when the coroutine ends.
    let body = unsafe { std::mem::transmute::<Body<'a>, Body<'static>>(body) };
    // SAFETY: as above.
    let on_abandon = unsafe { std::mem::transmute::<Abandon<'a>, Abandon<'static>>(on_abandon) };
    let task = hub.spawn(
        options.name,
        stack_size,
        move |task| move || body(task),
        on_abandon,
    )?;
    Ok((task, packet))
}

/// The body of every coroutine: honour a kill that came before the start,
/// catch the user's panic, publish the result.
fn run_body<F, T>(task: Arc<Task>, f: F, packet: Arc<Packet<T>>)
where
    F: FnOnce() -> T,
{
    let result = if task.take_kill() {
        Err(Box::new(Killed) as Box<dyn Any + Send>)
    } else {
        catch_unwind(AssertUnwindSafe(f))
    };
    drop(task);
    if let Err(payload) = &result
        && coroutine::is_cancellation(&**payload)
    {
        let Err(payload) = result else { unreachable!() };
        resume_unwind(payload);
    }
    packet.complete(result);
}
