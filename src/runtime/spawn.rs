//! Spawning: a coroutine's body, its joining side ([`Joiner`], over the
//! result its task keeps), and scopes (whose
//! coroutines may borrow from the caller because the scope waits for all
//! of them before it returns).

use std::any::Any;
use std::io as stdio;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::coroutine;
use super::error::{Killed, WouldBlockForever};
use super::hub::{Hub, NewCoroutine, RemoteSpawn};
use super::local;
use super::setup;
use super::task::Task;
use super::task::{End, ScopeMember};
use super::wait;
use super::workers::{self, Placement};

/// What holds a coroutine's task on the joining side: the task itself, or a
/// facade's handle wrapping it (`thread::Thread`), so that a join handle
/// holds one reference, not two.
pub(crate) trait TaskHolder {
    fn task(&self) -> &Arc<Task>;
}

impl TaskHolder for Arc<Task> {
    fn task(&self) -> &Arc<Task> {
        self
    }
}

/// The joining side of a coroutine: its task (whose [`End`] keeps the
/// result, in the same allocation) and the handle's share of the result,
/// let go of when this is dropped. `T` is the type the coroutine was
/// spawned for; only [`spawn_unchecked`] makes one, for `T: Send`.
pub(crate) struct Joiner<T, H: TaskHolder = Arc<Task>> {
    holder: std::mem::ManuallyDrop<H>,
    result: PhantomData<fn() -> T>,
}

impl<T, H: TaskHolder> std::fmt::Debug for Joiner<T, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joiner")
            .field("end", self.end())
            .finish_non_exhaustive()
    }
}

impl<T, H: TaskHolder> Joiner<T, H> {
    fn end(&self) -> &End {
        self.holder.task().end()
    }

    /// The coroutine's task.
    pub(crate) fn task(&self) -> &Arc<Task> {
        self.holder.task()
    }

    /// What holds the task.
    pub(crate) fn holder(&self) -> &H {
        &self.holder
    }

    /// The same joiner with its task held by `wrap(holder)`.
    pub(crate) fn map_holder<H2: TaskHolder>(self, wrap: impl FnOnce(H) -> H2) -> Joiner<T, H2> {
        let mut this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the holder is moved out once;
        // the handle's share moves with it to the new joiner.
        let holder = unsafe { std::mem::ManuallyDrop::take(&mut this.holder) };
        Joiner {
            holder: std::mem::ManuallyDrop::new(wrap(holder)),
            result: PhantomData,
        }
    }

    /// Whether the coroutine has ended.
    pub(crate) fn is_finished(&self) -> bool {
        self.end().done.is_set()
    }

    /// Waits for the end, until `deadline`; returns whether it ended.
    pub(crate) fn wait(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<bool, WouldBlockForever> {
        self.end().done.wait(deadline, what)
    }

    /// Takes the result of an ended coroutine; `None` if already taken (or
    /// not stored yet).
    pub(crate) fn take(&self) -> Option<std::thread::Result<T>> {
        // SAFETY: the coroutine was spawned for `T` (only `spawn_unchecked`
        // makes a joiner, with the `T` of its body).
        unsafe { self.end().take::<T>() }
    }
}

impl<T, H: TaskHolder> Drop for Joiner<T, H> {
    fn drop(&mut self) {
        self.end().release();
        // SAFETY: dropped once, here; `map_holder` moves it out only from a
        // joiner that is never dropped.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.holder) };
    }
}

/// For a coroutine whose hub could not start it: its end says it ended with
/// the error, as a panic would, and wakes whoever joins; the body's share
/// goes with it.
fn fail_start<T>(task: &Task, e: stdio::Error) {
    let end = task.end();
    let message = format!("failed to spawn thread: {e}");
    // SAFETY: the task was made for a coroutine returning `T` (this function
    // is chosen with it), whose body never ran and never stores.
    unsafe { end.store::<T>(Err(Box::new(message))) };
    end.done.notify_all();
    end.release();
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
pub(crate) fn spawn<F, T>(options: SpawnOptions, f: F) -> stdio::Result<Joiner<T>>
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
) -> stdio::Result<Joiner<T>>
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    setup::once();
    wait::checkpoint();
    let worker = workers::place(options.placement)?;
    let stack_size = coroutine::effective_stack_size(options.stack_size);
    let scope = scope.map(|s| s as Arc<dyn ScopeMember>);
    // `Location::caller()` must be called here, not passed as a function:
    // the caller's location only flows through `#[track_caller]` calls.
    let spawned_at = match options.spawned_at {
        Some(at) => at,
        None => Location::caller(),
    };
    if let Some(remote) = worker {
        // Another thread's hub: its task is made here, so that the handle
        // can be returned at once; the body (boxed) goes over with it.
        let room = coroutine::Coroutine::reserve_room(stack_size)?;
        let task = Hub::task_for(&remote, options.name, spawned_at, scope);
        let body: Box<dyn FnOnce() + Send + 'a> = Box::new(move || run_body(f));
        // SAFETY: only the lifetime changes: the caller guarantees that the
        // coroutine ends before `'a` does (see `Remote::submit`).
        let body = unsafe {
            std::mem::transmute::<Box<dyn FnOnce() + Send + 'a>, Box<dyn FnOnce() + Send>>(body)
        };
        remote.submit(RemoteSpawn {
            task: task.clone(),
            room,
            body,
            failed: fail_start::<T>,
        });
        return Ok(Joiner::new(task));
    }
    let hub = Hub::get()?;
    // A small closure rides on the coroutine's stack (the `generator` crate
    // keeps the body at the stack's top); a large one stays boxed, so that
    // captures never eat into the stack.
    let new = NewCoroutine {
        name: options.name,
        spawned_at,
        stack_size,
        scope,
        failed: fail_start::<T>,
    };
    let task = if size_of::<F>() <= INLINE_BODY {
        // SAFETY: the caller guarantees that the coroutine ends before `'a`
        // does; the body is consumed on the coroutine's stack before it
        // ends. A coroutine that never ends (one left parked when its
        // thread exited) keeps its body and its frames forever: leaked,
        // never dropped.
        unsafe { hub.spawn(new, move || run_body::<F, T>(f)) }
    } else {
        let f = Box::new(f);
        // SAFETY: as above.
        unsafe { hub.spawn(new, move || run_body::<Box<F>, T>(f)) }
    }?;
    Ok(Joiner::new(task))
}

impl<T> Joiner<T> {
    /// The handle's side of a task just made for a coroutine returning `T`.
    fn new(task: Arc<Task>) -> Self {
        Joiner {
            holder: std::mem::ManuallyDrop::new(task),
            result: PhantomData,
        }
    }
}

/// The body of every coroutine: honour a kill that came before the start,
/// catch the user's panic, drop the coroutine-local values, publish the
/// result. Everything that may run user code (the locals' and the result's
/// `Drop`) runs here, on the coroutine's own stack, where it may block,
/// spawn, switch or panic like any other code of the coroutine.
fn run_body<F, T>(f: F)
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
    // The task is borrowed from the hub's entry, which holds it until the
    // body has returned.
    super::context::with_current_task(|task| {
        let end = task.end();
        // std's order: store the result, drop the thread's share of the
        // result (and with it the result, if no handle is left), run the
        // TLS destructors, and only then let `join` return. With no handle
        // left (one share: ours), nobody can start waiting any more.
        // SAFETY: this coroutine was spawned for `T`; its body stores once.
        unsafe { end.store::<T>(result) };
        if !end.handle_holds() {
            end.release();
            local::destroy_current();
        } else {
            local::destroy_current();
            end.done.notify_all();
            // A handle dropped meanwhile makes this the last share: the
            // result nobody took is dropped here, on the coroutine's stack.
            end.release();
        }
    });
}

/// What a scope knows of its coroutines.
#[derive(Debug, Default)]
pub(crate) struct ScopeData {
    running: AtomicUsize,
    unhandled_panics: AtomicUsize,
    waiters: std::sync::Mutex<Option<Arc<Task>>>,
}

impl ScopeMember for ScopeData {
    /// A coroutine's end was let go of (with a panic nobody joined, if
    /// `panicked`): the coroutine can no longer touch the scope's borrows.
    fn thread_finished(&self, panicked: bool) {
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
}

impl ScopeData {
    /// Spawns `f`, borrowing for `'scope`, as a coroutine of this scope.
    #[track_caller]
    pub(crate) fn spawn<'scope, F, T>(
        self: &Arc<Self>,
        options: SpawnOptions,
        f: F,
    ) -> std::io::Result<Joiner<T>>
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
