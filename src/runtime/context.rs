//! Who is running: the current coroutine's task (one thread-local pointer),
//! the thread's own task, the per-context local storage, and how many
//! threads of the runtime's own can never wake anyone.

use std::any::Any;
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::task::Task;

thread_local! {
    /// The task of the coroutine running on this thread, null outside one.
    /// Set by the hub around each resume, to a task it keeps alive.
    static CURRENT: Cell<*const Task> = const { Cell::new(std::ptr::null()) };
    static THREAD_TASK: OnceCell<Arc<Task>> = const { OnceCell::new() };
}

/// Whether the caller runs inside a coroutine: one thread-local load.
#[inline]
pub(crate) fn in_coroutine() -> bool {
    CURRENT.with(|c| !c.get().is_null())
}

/// Makes `task` (or none) the running coroutine's; returns the previous.
/// The caller keeps `task` alive for as long as it is current.
pub(crate) fn set_current(task: *const Task) -> *const Task {
    CURRENT.with(|c| c.replace(task))
}

/// The task of this thread's own (non-coroutine) context.
pub(crate) fn thread_task() -> Arc<Task> {
    THREAD_TASK.with(|t| t.get_or_init(|| Arc::new(Task::thread())).clone())
}

/// The task of the caller: its coroutine's, or its thread's.
pub(crate) fn current_task() -> Arc<Task> {
    let running = CURRENT.with(Cell::get);
    if running.is_null() {
        return thread_task();
    }
    // SAFETY: `running` came from `Arc::as_ptr` of the task the hub holds
    // while the coroutine runs (see `set_current`), so the allocation is
    // alive; taking one more strong count makes the new `Arc` ours.
    unsafe {
        Arc::increment_strong_count(running);
        Arc::from_raw(running)
    }
}

/// Runs `f` with the caller's task borrowed (no reference count taken):
/// its coroutine's, or its thread's. `f` may park: the hub keeps a
/// coroutine's task alive until the coroutine's body has returned, so the
/// borrow outlives every frame of the coroutine that can see it.
///
/// Always inlined, with `f` called in one place: a coroutine's wait runs
/// through here, and every frame between a blocking call and the switch
/// to the hub costs a mispredicted return on each resume (the CPU's return
/// predictions are the hub's after the switch), about 5-9 ns apiece.
#[inline(always)]
pub(crate) fn with_current_task<R>(f: impl FnOnce(&Task) -> R) -> R {
    let mut running = CURRENT.with(Cell::get);
    if running.is_null() {
        running = thread_task_ptr();
    }
    // SAFETY: a coroutine's task is the one the hub holds for the coroutine
    // whose code this is, alive for as long as that code runs; a thread's
    // is held by its thread-local until the thread ends, after this call.
    f(unsafe { &*running })
}

/// The calling thread's task, borrowed from the thread-local rather than
/// cloned: a thread's waits would otherwise pay two locked reference-count
/// updates per look.
#[cold]
#[inline(never)]
fn thread_task_ptr() -> *const Task {
    THREAD_TASK.with(|t| Arc::as_ptr(t.get_or_init(|| Arc::new(Task::thread()))))
}

/// One context's coroutine-local values (`greenstd::thread_local!`),
/// keyed by the address of their `LocalKey`.
#[derive(Default)]
pub(crate) struct Locals {
    pub(crate) values: RefCell<HashMap<usize, Rc<dyn Any>>>,
    /// Set once the values were destroyed: later accesses fail, as std's
    /// do after a thread's TLS teardown.
    pub(crate) destroyed: Cell<bool>,
}

/// Threads of the runtime's own that sit idle and wake nobody (the
/// blocking pool's idle workers).
static IDLE_RUNTIME_THREADS: AtomicUsize = AtomicUsize::new(0);

/// A runtime thread went idle (`1`) or back to work (`-1`).
pub(crate) fn note_idle_runtime_thread(delta: isize) {
    if delta >= 0 {
        IDLE_RUNTIME_THREADS.fetch_add(delta as usize, Ordering::AcqRel);
    } else {
        IDLE_RUNTIME_THREADS.fetch_sub(delta.unsigned_abs(), Ordering::AcqRel);
    }
}

/// How many runtime threads are idle now: the pool's idle workers and
/// the worker hubs that sleep with nothing but another thread to wake them.
pub(crate) fn idle_runtime_threads() -> usize {
    IDLE_RUNTIME_THREADS.load(Ordering::Acquire) + IDLE_HUBS.load(Ordering::Acquire)
}

/// Worker hubs marked idle; changed only under [`IDLE_HUB_CHANGES`],
/// together with the hub's own mark, so that every read sees a count that
/// matches the marks.
static IDLE_HUBS: AtomicUsize = AtomicUsize::new(0);
static IDLE_HUB_CHANGES: Mutex<()> = Mutex::new(());

/// A worker hub about to sleep with nothing that could wake it but another
/// thread marks itself idle in `mark`, unless `pending` (its injection
/// queue's flag) shows work handed over meanwhile; returns whether it did.
///
/// The mark is set before `pending` is read, and a sender sets `pending`
/// before it reads the mark (both sequentially consistent): so either the
/// hub sees the work, or the sender sees the mark and ends it with
/// [`end_hub_idle`] while the sender itself is still running. A wake-up on
/// its way thus always has a thread not counted idle behind it, and the
/// deadlock check never counts out a hub that is about to run something.
pub(crate) fn mark_hub_idle(mark: &AtomicBool, pending: &AtomicBool) -> bool {
    let _changing = IDLE_HUB_CHANGES.lock().unwrap_or_else(|e| e.into_inner());
    mark.store(true, Ordering::SeqCst);
    if pending.load(Ordering::SeqCst) {
        mark.store(false, Ordering::SeqCst);
        return false;
    }
    IDLE_HUBS.fetch_add(1, Ordering::AcqRel);
    true
}

/// Ends a hub's idle mark if it has one (see [`mark_hub_idle`]); one load
/// when it has none.
pub(crate) fn end_hub_idle(mark: &AtomicBool) {
    if !mark.load(Ordering::SeqCst) {
        return;
    }
    let _changing = IDLE_HUB_CHANGES.lock().unwrap_or_else(|e| e.into_inner());
    if mark.swap(false, Ordering::SeqCst) {
        IDLE_HUBS.fetch_sub(1, Ordering::AcqRel);
    }
}
