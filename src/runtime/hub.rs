//! The hub: one per OS thread, created lazily. It owns that thread's
//! coroutines, a ready queue, the timers and a `mio::Poll`, and runs
//! coroutines whenever the thread's own context waits.
//!
//! Other threads reach a hub only through its [`Remote`]: an injection queue
//! of coroutines to make runnable and a `mio::Waker` that interrupts its poll.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};

use super::context::{self, Locals};
use super::coroutine::{Coroutine, StackPool, StackReservation, Status};
use super::error::WouldBlockForever;
use super::reactor::IoTable;
use super::task::{LOCALS_MADE, LOCALS_NONE, ParkMode, ReadyQueue, Schedule, ScopeMember, Task};
use super::timer::{TimerKey, Timers};

/// The token of the hub's own waker.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// How many coroutines the hub resumes between two polls for I/O while
/// coroutines stay runnable (Go's scheduler and tokio's use 61).
const POLL_INTERVAL: usize = 61;

/// The shortest sleep a hub fills with unmapping left-over stacks (a batch
/// of them takes about a third of a millisecond).
const TRIM_WHEN_IDLE_FOR: Duration = Duration::from_millis(2);

/// How long a thread waits with nothing at all to do before it checks
/// whether anything could ever wake it.
pub(crate) const DEADLOCK_GRACE: Duration = Duration::from_millis(100);

/// While other threads exist, the check repeats at growing intervals up to
/// this one.
pub(crate) const DEADLOCK_CHECK_MAX: Duration = Duration::from_secs(10);

static NEXT_HUB_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static HUB: OnceCell<Rc<Hub>> = const { OnceCell::new() };
}

/// A coroutine started on this hub from another thread: its task was made
/// there (so that its handles could be returned at once), its body runs
/// here. `failed` reports a coroutine that could not be installed (no
/// stack) to whoever waits for it.
pub(crate) struct RemoteSpawn {
    pub(crate) task: Arc<Task>,
    /// Room in the map budget for its stack, taken by the spawner.
    pub(crate) room: StackReservation,
    pub(crate) body: Box<dyn FnOnce() + Send + 'static>,
    /// Ends the task with the error, as a panic would, when the hub cannot
    /// start it (monomorphised for the coroutine's result type).
    pub(crate) failed: fn(&Task, io::Error),
}

impl std::fmt::Debug for RemoteSpawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSpawn")
            .field("task", &self.task.id())
            .finish_non_exhaustive()
    }
}

/// What other threads hand a hub.
#[derive(Debug, Default)]
struct Injected {
    /// Wake-ups: (slot, task id).
    wakes: Vec<(usize, u64)>,
    spawns: Vec<RemoteSpawn>,
    /// Requests for a report of the hub's coroutines (for another
    /// thread's would-block-forever report).
    reports: Vec<std::sync::mpsc::Sender<String>>,
}

impl Injected {
    fn is_empty(&self) -> bool {
        self.wakes.is_empty() && self.spawns.is_empty() && self.reports.is_empty()
    }
}

/// The cross-thread face of a hub.
#[derive(Debug)]
pub(crate) struct Remote {
    hub_id: u64,
    injected: Mutex<Injected>,
    /// Whether `injected` may be non-empty; spares the hub a lock per turn.
    pending: AtomicBool,
    /// Set while a worker hub sleeps with nothing that could wake it but
    /// another thread (no runnable coroutine, timer or I/O waiter): it then
    /// counts among the idle runtime threads of the deadlock check.
    /// Whoever hands it work ends the mark (see `context::mark_hub_idle`).
    idle: AtomicBool,
    /// How the hub sleeps, if it does: [`AWAKE`], [`POLLING`] (in its
    /// poll, woken by `waker`) or [`PARKED`] (parked, woken by unparking
    /// `thread`). A wake-up from another thread makes a system call only
    /// when the hub sleeps (see [`Hub::sleep`]).
    sleep: AtomicU8,
    waker: Waker,
    /// The hub's thread.
    thread: std::thread::Thread,
}

/// The hub runs, or is about to look at its injection queue before it
/// sleeps: a wake-up needs no system call.
const AWAKE: u8 = 0;
/// The hub waits in its poll: an `eventfd` write wakes it.
const POLLING: u8 = 1;
/// The hub, with no file descriptor to watch, is parked: unparking its
/// thread (a futex wake) wakes it.
const PARKED: u8 = 2;

impl Remote {
    /// Starts a coroutine on this hub from another thread. Its body is
    /// `'static` here: a scoped spawn erased its lifetime, under the
    /// scope's promise to wait for it.
    pub(crate) fn submit(&self, spawn: RemoteSpawn) {
        self.hand_over(|injected| injected.spawns.push(spawn));
    }

    /// Asks the hub for a report of its coroutines, the way
    /// [`Hub::describe_coroutines`] gives it, waiting at most `patience`.
    /// `None` if the hub did not answer in time (it is busy: then it was
    /// not part of a deadlock either).
    pub(crate) fn describe(&self, patience: Duration) -> Option<String> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.hand_over(|injected| injected.reports.push(tx));
        rx.recv_timeout(patience).ok()
    }

    /// Adds to the injection queue, waking the hub's poll when the queue
    /// was empty (a non-empty one has a wake-up on its way already).
    fn hand_over(&self, add: impl FnOnce(&mut Injected)) {
        if self.hand_over_quietly(add) {
            self.wake_thread();
        }
    }

    /// As [`Remote::hand_over`], leaving the interruption of the hub's poll
    /// to the caller: whether it is needed.
    fn hand_over_quietly(&self, add: impl FnOnce(&mut Injected)) -> bool {
        let was_empty = {
            let mut injected = self.injected.lock().unwrap_or_else(|e| e.into_inner());
            let was_empty = injected.is_empty();
            add(&mut injected);
            // Sequentially consistent, with the idle mark read below: the
            // worker sets its mark, then reads `pending`; so either it sees
            // this work, or this sender sees its mark and clears it.
            self.pending.store(true, Ordering::SeqCst);
            was_empty
        };
        context::end_hub_idle(&self.idle);
        was_empty
    }
}

impl Schedule for Remote {
    fn inject_quietly(&self, slot: usize, id: u64) -> bool {
        self.hand_over_quietly(|injected| injected.wakes.push((slot, id)))
    }

    fn is_local(&self) -> bool {
        super::task::local_hub() == self.hub_id
    }

    /// Wakes the hub if it sleeps (see [`Hub::sleep`]).
    fn wake_thread(&self) {
        if super::task::local_hub() == self.hub_id {
            // The thread itself: it notices the wake-up when its poll returns.
            return;
        }
        // After the wake-up's own write (the injection queue's `pending`,
        // a thread task's state), before reading how the hub sleeps: the
        // hub does the two in the other order (see `Hub::sleep`), so either
        // it sees the wake-up, or this sees it asleep.
        fence(Ordering::SeqCst);
        match self.sleep.load(Ordering::Relaxed) {
            // A failed eventfd write means the counter is saturated, which
            // already guarantees a wake-up.
            POLLING => drop(self.waker.wake()),
            PARKED => self.thread.unpark(),
            _ => {}
        }
    }
}

/// One live coroutine.
struct Entry {
    task: Arc<Task>,
    /// `None` while the coroutine runs (it is taken out to be resumed).
    /// Boxed, so that taking it out and putting it back moves a pointer,
    /// not the whole record, at every resume; the box is pooled with the
    /// stack.
    co: Option<Box<Coroutine>>,
    /// Its body, while it waits for its first run and a stack (see
    /// [`Unstarted`]); `co` is `None` meanwhile. (One enum of the three
    /// states, running, on its stack, unstarted, measured 6% slower on a
    /// park+unpark round trip: the resume path then moves three words
    /// instead of one.)
    unstarted: Option<Box<dyn Unstarted>>,
    /// Its coroutine-local values, made on first use; the body destroys
    /// them before it ends, so dropping the entry runs no user code. Its
    /// task says whether it has any ([`Task::locals`]).
    locals: Option<Rc<Locals>>,
    /// What it last parked on (for the would-block-forever report).
    waiting_on: &'static str,
}

/// The body of a coroutine spawned while no pooled stack was free. It
/// waits, boxed with room reserved in the map budget, for the coroutine's
/// first run, and takes a stack only then: most often one that a coroutine
/// ending meanwhile gave back, so that a burst of short coroutines (spawned
/// by the thousand, then joined) maps a few stacks, not one each, and a
/// start costs a small allocation instead of a fresh stack's `mmap`,
/// `mprotect` and first page faults (about 7 µs on the reference machine).
trait Unstarted {
    /// Puts the body on a pooled stack, or on one mapped now.
    fn start(
        self: Box<Self>,
        stacks: &RefCell<StackPool>,
        tag: *mut u8,
    ) -> io::Result<Box<Coroutine>>;
    /// What reports a start that failed to whoever waits for the coroutine.
    fn failed(&self) -> fn(&Task, io::Error);
}

struct Later<F> {
    reservation: StackReservation,
    failed: fn(&Task, io::Error),
    body: F,
}

impl<F: FnOnce() + Send> Unstarted for Later<F> {
    fn start(
        self: Box<Self>,
        stacks: &RefCell<StackPool>,
        tag: *mut u8,
    ) -> io::Result<Box<Coroutine>> {
        let Later {
            reservation, body, ..
        } = *self;
        // SAFETY: the promise `Hub::install` was given for the body.
        unsafe { start_on(stacks, reservation, tag, body) }
    }

    fn failed(&self) -> fn(&Task, io::Error) {
        self.failed
    }
}

/// Puts `body` on a pooled stack, giving `room` back (a pooled stack holds
/// room in the budget already), or on a stack mapped now on `room`.
///
/// # Safety
/// As [`Coroutine::new`].
unsafe fn start_on<'a, F>(
    stacks: &RefCell<StackPool>,
    room: StackReservation,
    tag: *mut u8,
    body: F,
) -> io::Result<Box<Coroutine>>
where
    F: FnOnce() + Send + 'a,
{
    let pooled = stacks.borrow_mut().take(room.stack_size());
    match pooled {
        Some(mut co) => {
            drop(room);
            // SAFETY: the caller's promise, passed on.
            unsafe { co.reuse(tag, body) };
            Ok(co)
        }
        // SAFETY: as above.
        None => Ok(Box::new(unsafe {
            Coroutine::new_reserved(room, tag, body)
        }?)),
    }
}

/// Runs a start that may fail (no stack), and may panic: the closure of a
/// start that failed is dropped, and its `Drop` may panic (std raises that
/// in the spawner; here the spawn has returned, or its thread is another).
/// The hub carries on either way; the join reports the failure.
fn start_or_fail<R>(
    task: &Task,
    failed: fn(&Task, io::Error),
    start: impl FnOnce() -> io::Result<R>,
) -> Option<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(start)) {
        Ok(Ok(started)) => Some(started),
        Ok(Err(e)) => {
            failed(task, e);
            None
        }
        Err(_) => {
            failed(
                task,
                io::Error::other(
                    "no stack for the coroutine, and its closure panicked while being dropped",
                ),
            );
            None
        }
    }
}

/// What [`Hub::spawn`] makes a coroutine with, besides its body.
pub(crate) struct NewCoroutine {
    pub(crate) name: Option<String>,
    pub(crate) spawned_at: &'static std::panic::Location<'static>,
    pub(crate) stack_size: usize,
    pub(crate) scope: Option<Arc<dyn ScopeMember>>,
    /// Reports a start that got no stack to whoever waits for it.
    pub(crate) failed: fn(&Task, io::Error),
}

/// Where a coroutine being installed comes from (see [`Hub::install`]).
enum Start {
    /// A spawn on this hub's own thread: room in the map budget is taken
    /// when a stack is needed; `failed` reports a start that got none.
    Here {
        stack_size: usize,
        failed: fn(&Task, io::Error),
    },
    /// A spawn handed over by another thread, with the room its spawner
    /// reserved.
    HandedOver(StackReservation),
}

/// A thread's scheduler.
pub(crate) struct Hub {
    id: u64,
    remote: Arc<Remote>,
    poll: RefCell<Poll>,
    /// One handle to the poll's registry, shared by every socket that
    /// registers here: a registration costs no file descriptor of its own.
    registry: Arc<mio::Registry>,
    events: RefCell<Events>,
    ready: ReadyQueue,
    entries: RefCell<Vec<Option<Entry>>>,
    free_slots: RefCell<Vec<usize>>,
    live: Cell<usize>,
    timers: RefCell<Timers>,
    stacks: RefCell<StackPool>,
    pub(crate) io: RefCell<IoTable>,
    /// Coroutines switched out while unwinding (see `thread::panicking`).
    suspended_unwinders: Cell<usize>,
    /// What the running coroutine parks on, noted by `park` before it
    /// switches out and moved to its entry when it has.
    parking_on: Cell<&'static str>,
    /// Set when a coroutine gave up its time slice: poll for I/O before the
    /// next batch, even if coroutines stay runnable.
    poll_due: Cell<bool>,
    /// What the starvation monitor watches.
    probe: Arc<super::monitor::Probe>,
    expired: RefCell<Vec<Arc<Task>>>,
    /// See `absorb_injected`.
    spare_wakes: RefCell<Vec<(usize, u64)>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("id", &self.id)
            .field("live", &self.live.get())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// This thread's hub, created on first use.
    pub(crate) fn get() -> io::Result<Rc<Hub>> {
        if let Some(hub) = Hub::existing() {
            return Ok(hub);
        }
        let hub = Rc::new(Hub::new()?);
        HUB.with(|cell| {
            let _ = cell.set(hub.clone());
        });
        super::task::set_local_hub(hub.id, &raw const hub.ready);
        let remote: super::task::Remote = hub.remote.clone();
        context::thread_task().attach_remote(&remote);
        Ok(hub)
    }

    /// This thread's hub if it has one.
    #[inline]
    pub(crate) fn existing() -> Option<Rc<Hub>> {
        HUB.try_with(|cell| cell.get().cloned()).ok().flatten()
    }

    fn new() -> io::Result<Hub> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER_TOKEN)?;
        let registry = Arc::new(poll.registry().try_clone()?);
        let id = NEXT_HUB_ID.fetch_add(1, Ordering::Relaxed);
        Ok(Hub {
            id,
            remote: Arc::new(Remote {
                hub_id: id,
                injected: Mutex::new(Injected::default()),
                pending: AtomicBool::new(false),
                idle: AtomicBool::new(false),
                sleep: AtomicU8::new(AWAKE),
                waker,
                thread: std::thread::current(),
            }),
            poll: RefCell::new(poll),
            registry,
            events: RefCell::new(Events::with_capacity(1024)),
            ready: RefCell::new(VecDeque::new()),
            entries: RefCell::new(Vec::new()),
            free_slots: RefCell::new(Vec::new()),
            live: Cell::new(0),
            timers: RefCell::new(Timers::default()),
            stacks: RefCell::new(StackPool::default()),
            io: RefCell::new(IoTable::default()),
            suspended_unwinders: Cell::new(0),
            poll_due: Cell::new(false),
            parking_on: Cell::new("yield_now"),
            probe: super::monitor::Probe::register(),
            expired: RefCell::new(Vec::new()),
            spare_wakes: RefCell::new(Vec::new()),
        })
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The registry sockets register with; shared, never duplicated.
    pub(crate) fn poll_registry(&self) -> Arc<mio::Registry> {
        self.registry.clone()
    }

    /// How many coroutines live on this hub.
    pub(crate) fn live(&self) -> usize {
        self.live.get()
    }

    /// Creates a coroutine running `body` and makes it runnable.
    ///
    /// # Safety
    /// Everything the body borrows must outlive the coroutine (see
    /// [`Coroutine::new`]).
    pub(crate) unsafe fn spawn<'a, F>(&self, new: NewCoroutine, body: F) -> io::Result<Arc<Task>>
    where
        F: FnOnce() + Send + 'a,
    {
        let NewCoroutine {
            name,
            spawned_at,
            stack_size,
            scope,
            failed,
        } = new;
        let task = Arc::new(Task::coroutine(
            name,
            spawned_at,
            self.remote.clone(),
            self.id,
            scope,
        ));
        // SAFETY: the caller's promise, passed on.
        unsafe { self.install(&task, Start::Here { stack_size, failed }, body) }?;
        Ok(task)
    }

    /// A task for a coroutine to be started on this hub from another
    /// thread (see [`Remote::submit`]).
    pub(crate) fn task_for(
        remote: &Arc<Remote>,
        name: Option<String>,
        spawned_at: &'static std::panic::Location<'static>,
        scope: Option<Arc<dyn ScopeMember>>,
    ) -> Arc<Task> {
        let handle: super::task::Remote = remote.clone();
        Arc::new(Task::coroutine(
            name,
            spawned_at,
            handle,
            remote.hub_id,
            scope,
        ))
    }

    /// Installs the coroutine of `task` (made for this hub) running `body`
    /// and makes it runnable.
    ///
    /// # Safety
    /// As [`Hub::spawn`].
    ///
    /// A start of this hub's own that finds no pooled stack waits for its
    /// first run to take one (see [`Unstarted`]); a failure then goes to
    /// the start's `failed`. A start handed over from another thread does
    /// not wait: it maps its stack now, on the room its spawner reserved,
    /// unless it reuses a pooled stack, which gives the room back.
    unsafe fn install<'a, F>(&self, task: &Arc<Task>, start: Start, body: F) -> io::Result<()>
    where
        F: FnOnce() + Send + 'a,
    {
        debug_assert_eq!(task.hub_id(), Some(self.id));
        let tag = Arc::as_ptr(task) as *mut u8;
        let (co, unstarted) = match start {
            Start::HandedOver(room) => {
                // SAFETY: the caller's promise, passed on.
                (
                    Some(unsafe { start_on(&self.stacks, room, tag, body) }?),
                    None,
                )
            }
            Start::Here { stack_size, failed } => {
                // SAFETY: the caller's promise, passed on.
                unsafe { self.start_here(stack_size, failed, tag, body) }?
            }
        };
        // The slot last: a start that fails (or whose closure panics in
        // its drop when it does) takes none.
        let slot = self.free_slots.borrow_mut().pop().unwrap_or_else(|| {
            let mut entries = self.entries.borrow_mut();
            entries.push(None);
            entries.len() - 1
        });
        if let Some(name) = task.name() {
            super::monitor::name_spawned(task.id(), name);
        }
        task.place(slot);
        self.entries.borrow_mut()[slot] = Some(Entry {
            task: task.clone(),
            co,
            unstarted,
            locals: None,
            waiting_on: "its start",
        });
        self.live.set(self.live.get() + 1);
        self.ready.borrow_mut().push_back(slot);
        Ok(())
    }

    /// A start of this hub's own: on a pooled stack; or, for the default
    /// size, unstarted until its first run (see [`Unstarted`]), with room
    /// reserved now, so that a spawn past the budget fails here, as std's
    /// would; or on a stack of another size mapped now.
    ///
    /// # Safety
    /// As [`Hub::spawn`].
    #[expect(
        clippy::type_complexity,
        reason = "the two halves of an entry's coroutine (see `Entry::co`)"
    )]
    unsafe fn start_here<'a, F>(
        &self,
        stack_size: usize,
        failed: fn(&Task, io::Error),
        tag: *mut u8,
        body: F,
    ) -> io::Result<(Option<Box<Coroutine>>, Option<Box<dyn Unstarted>>)>
    where
        F: FnOnce() + Send + 'a,
    {
        let pooled = self.stacks.borrow_mut().take(stack_size);
        Ok(match pooled {
            Some(mut co) => {
                // SAFETY: the caller's promise, passed on.
                unsafe { co.reuse(tag, body) };
                (Some(co), None)
            }
            None if stack_size == super::coroutine::DEFAULT_STACK_SIZE => {
                // No stack to spare now: the start takes one later.
                let later: Box<dyn Unstarted + 'a> = Box::new(Later {
                    reservation: StackReservation::take(stack_size)?,
                    failed,
                    body,
                });
                // SAFETY: only the lifetime changes: the body is dropped
                // or run by the coroutine, which ends before `'a` does (the
                // caller's promise).
                let later = unsafe {
                    std::mem::transmute::<Box<dyn Unstarted + 'a>, Box<dyn Unstarted>>(later)
                };
                (None, Some(later))
            }
            None => {
                // Mapped now: a stack of another size (never pooled, so
                // that a size the kernel refuses fails the spawn). Idle
                // pooled stacks count against the map budget: give them
                // back before failing for lack of room.
                while !Coroutine::room_for_one() && self.stacks.borrow_mut().release_one() {}
                // SAFETY: the caller's promise, passed on.
                let co = Box::new(unsafe { Coroutine::new(stack_size, tag, body) }?);
                (Some(co), None)
            }
        })
    }

    /// The slot of the coroutine running on this thread, if any.
    fn current_slot() -> Option<usize> {
        if !context::in_coroutine() {
            return None;
        }
        context::with_current_task(Task::slot)
    }

    /// The coroutine-local values of the running coroutine, made now if
    /// it has none and `create` says so; `None` once destroyed.
    pub(crate) fn current_locals(&self, create: bool) -> Option<Rc<Locals>> {
        let slot = Hub::current_slot()?;
        let mut entries = self.entries.borrow_mut();
        let entry = entries.get_mut(slot)?.as_mut()?;
        if entry.locals.is_none() && create && entry.task.locals() == LOCALS_NONE {
            entry.task.set_locals(LOCALS_MADE);
            entry.locals = Some(Rc::default());
        }
        entry.locals.clone()
    }

    /// Queues the running coroutine behind the others (`yield_now`).
    pub(crate) fn requeue_current(&self) {
        if let Some(slot) = Hub::current_slot() {
            self.ready.borrow_mut().push_back(slot);
        }
    }

    /// Puts `slot` at the front of the ready queue (greenlet `switch`).
    /// A slot already queued moves to the front rather than being queued
    /// twice (a second entry would resume it spuriously).
    pub(crate) fn run_next(&self, slot: usize) {
        let mut ready = self.ready.borrow_mut();
        ready.retain(|&s| s != slot);
        ready.push_front(slot);
    }

    /// Notes what the running coroutine is about to park on.
    pub(crate) fn note_parking_on(&self, what: &'static str) {
        self.parking_on.set(what);
    }

    /// A report of this hub's coroutines for a would-block-forever error:
    /// each with its name, where it was spawned and what it waits on.
    pub(crate) fn describe_coroutines(&self) -> String {
        const SHOWN: usize = 20;
        let entries = self.entries.borrow();
        let live: Vec<&Entry> = entries.iter().flatten().collect();
        let mut text = String::new();
        for entry in live.iter().take(SHOWN) {
            let at = entry
                .task
                .spawned_at()
                .map_or_else(String::new, |l| format!(", spawned at {l}"));
            text.push_str(&format!(
                "  {}{at}, parked in {}\n",
                entry.task.describe(),
                entry.waiting_on
            ));
        }
        if live.len() > SHOWN {
            text.push_str(&format!("  ... and {} more\n", live.len() - SHOWN));
        }
        text
    }

    /// Asks for a poll before the next batch of ready coroutines.
    pub(crate) fn poll_soon(&self) {
        self.poll_due.set(true);
    }

    /// Whether a coroutine is runnable now, or something handed over from
    /// another thread (or by this one, to its own queue) awaits absorbing:
    /// the poll must then only look, not sleep.
    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.borrow().is_empty() || self.remote.pending.load(Ordering::Acquire)
    }

    pub(crate) fn arm_timer(&self, deadline: Instant, task: Arc<Task>) -> TimerKey {
        self.timers.borrow_mut().insert(deadline, task)
    }

    pub(crate) fn disarm_timer(&self, key: TimerKey) {
        self.timers.borrow_mut().remove(key);
    }

    pub(crate) fn note_suspended_unwinder(&self, delta: isize) {
        let n = self.suspended_unwinders.get() as isize + delta;
        self.suspended_unwinders.set(n.max(0) as usize);
    }

    pub(crate) fn suspended_unwinders(&self) -> usize {
        self.suspended_unwinders.get()
    }

    /// Resumes the coroutine in `slot` until it parks or ends.
    fn run_slot(&self, slot: usize) {
        let taken = {
            let mut entries = self.entries.borrow_mut();
            match entries.get_mut(slot).and_then(Option::as_mut) {
                Some(entry) => match entry.co.take() {
                    Some(co) => Some((Ok(co), Arc::as_ptr(&entry.task))),
                    None => entry
                        .unstarted
                        .take()
                        .map(|later| (Err(later), Arc::as_ptr(&entry.task))),
                },
                None => None,
            }
        };
        // An empty slot or a coroutine already running is a stale wake-up.
        let Some((co, task)) = taken else { return };
        let mut co = match co {
            Ok(co) => co,
            Err(later) => match self.start(slot, task, later) {
                Some(co) => co,
                None => return,
            },
        };
        // SAFETY: the entry keeps the task alive until `remove` below, and
        // nothing else takes a running coroutine's entry out.
        let id = unsafe { (*task).id() };
        let previous = context::set_current(task);
        self.probe.enter(id);
        super::slice::restart();
        let status = co.resume();
        super::slice::restart();
        self.probe.leave();
        context::set_current(previous);
        match status {
            Status::Suspended => {
                if let Some(Some(entry)) = self.entries.borrow_mut().get_mut(slot) {
                    entry.co = Some(co);
                    entry.waiting_on = self.parking_on.replace("yield_now");
                }
            }
            Status::Finished => {
                self.remove(slot);
                self.stacks.borrow_mut().give(co);
            }
            Status::Overflowed => {
                // The overflow handler normally reports and aborts before
                // the generator gets here; this is its fallback.
                // SAFETY: the entry (not removed on this path) keeps it alive.
                super::overflow::report_and_abort(unsafe { &*task }, co.stack_size());
            }
        }
    }

    /// Puts an unstarted coroutine's body on a stack (see [`Unstarted`]).
    /// If none can be had, the coroutine ends there, its join reporting
    /// why, as for a start handed over from another thread.
    #[cold]
    fn start(
        &self,
        slot: usize,
        task: *const Task,
        later: Box<dyn Unstarted>,
    ) -> Option<Box<Coroutine>> {
        let failed = later.failed();
        // SAFETY: the entry, still in its slot, keeps the task alive.
        let started = start_or_fail(unsafe { &*task }, failed, || {
            later.start(&self.stacks, task as *mut u8)
        });
        if started.is_none() {
            self.remove(slot);
        }
        started
    }

    /// Starts loading the coroutine in `slot` into the cache (see
    /// [`Coroutine::prefetch`]), the next to run.
    #[inline]
    fn prefetch_slot(&self, slot: usize) {
        if let Some(Some(Entry { co: Some(co), .. })) = self.entries.borrow().get(slot) {
            co.prefetch();
        }
    }

    /// Forgets a finished coroutine. Its entry holds no user value any more
    /// (the body consumed its closure and destroyed its locals), so nothing
    /// here runs user code.
    fn remove(&self, slot: usize) {
        let entry = self.entries.borrow_mut()[slot].take();
        if let Some(entry) = &entry
            && entry.task.name().is_some()
        {
            super::monitor::name_ended(entry.task.id());
        }
        self.free_slots.borrow_mut().push(slot);
        self.live.set(self.live.get() - 1);
        drop(entry);
    }

    /// Runs ready coroutines, those they make ready included, up to
    /// `budget` of them; stops early when one gave up its time slice (the
    /// hub polls before resuming anyone). Returns how many ran.
    fn run_ready(&self, budget: usize) -> usize {
        let mut ran = 0;
        while ran < budget {
            let (slot, next) = {
                let mut ready = self.ready.borrow_mut();
                let Some(slot) = ready.pop_front() else {
                    break;
                };
                (slot, ready.front().copied())
            };
            if let Some(next) = next {
                self.prefetch_slot(next);
            }
            self.run_slot(slot);
            ran += 1;
            if self.poll_due.get() {
                break;
            }
        }
        ran
    }

    fn absorb_injected(&self) {
        if !self.remote.pending.load(Ordering::Acquire) {
            return;
        }
        // The wake list swaps with a spare, so that neither side allocates
        // once both have grown.
        let mut wakes = self.spare_wakes.take();
        let (spawns, reports) = {
            let mut injected = self
                .remote
                .injected
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.remote.pending.store(false, Ordering::Release);
            std::mem::swap(&mut wakes, &mut injected.wakes);
            (
                std::mem::take(&mut injected.spawns),
                std::mem::take(&mut injected.reports),
            )
        };
        for report in reports {
            let _ = report.send(self.describe_coroutines());
        }
        // Spawns first: a wake-up for a coroutine handed over with them
        // was either sent before it had a slot (and is not needed) or after
        // it was installed.
        let installed_any = !spawns.is_empty();
        for spawn in spawns {
            let RemoteSpawn {
                task,
                room,
                body,
                failed,
            } = spawn;
            // SAFETY: the body is `'static`, or a scoped spawn's whose scope
            // waits for the coroutine to end.
            start_or_fail(&task, failed, || unsafe {
                self.install(&task, Start::HandedOver(room), body)
            });
        }
        if installed_any {
            // Other threads hold these tasks: a waker that saw one still
            // unplaced fenced too (see `Task::wake`), so either it queued
            // its wake-up, or the coroutine, running after this, sees the
            // flag the wake-up announced.
            std::sync::atomic::fence(Ordering::SeqCst);
        }
        let entries = self.entries.borrow();
        let mut ready = self.ready.borrow_mut();
        for (slot, id) in wakes.drain(..) {
            // A slot whose coroutine ended (or was reused) since is skipped.
            if let Some(Some(entry)) = entries.get(slot)
                && entry.task.id() == id
                && entry.task.wake_here()
            {
                ready.push_back(slot);
            }
        }
        self.spare_wakes.replace(wakes);
    }

    fn fire_timers(&self, now: Instant) {
        if self.timers.borrow().next_deadline().is_none_or(|d| d > now) {
            return;
        }
        let mut expired = self.expired.borrow_mut();
        self.timers.borrow_mut().expire(now, &mut expired);
        for task in expired.drain(..) {
            task.wake();
        }
    }

    /// Polls for I/O and cross-thread wake-ups for at most `timeout`.
    fn poll(&self, timeout: Option<Duration>) -> io::Result<()> {
        let mut events = self.events.borrow_mut();
        match self.poll.borrow_mut().poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        let io = self.io.borrow();
        for event in events.iter() {
            if event.token() != WAKER_TOKEN {
                io.dispatch(event);
            }
        }
        Ok(())
    }

    /// Waits for at most `timeout` (`None`: until woken) for I/O or another
    /// thread's wake-up, unless `woken` says (or the injection queue shows)
    /// that one came already. Announces the sleep first, so that a waker
    /// on another thread makes a system call only while the hub sleeps
    /// (see [`Remote::wake_thread`]), and then looks once more. With no
    /// file descriptor registered, so that only another thread or a timer
    /// can end the sleep, the hub parks its thread (a futex, as a plain
    /// thread's wait) instead of polling: cheaper to sleep and to be woken
    /// from.
    fn sleep(&self, timeout: Option<Duration>, woken: impl FnOnce() -> bool) -> io::Result<()> {
        if timeout == Some(Duration::ZERO) {
            return self.poll(timeout);
        }
        let park = !self.io.borrow().has_registrations();
        self.remote
            .sleep
            .store(if park { PARKED } else { POLLING }, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let result = if self.remote.pending.load(Ordering::Relaxed) || woken() {
            Ok(())
        } else if park {
            match timeout {
                Some(timeout) => std::thread::park_timeout(timeout),
                None => std::thread::park(),
            }
            Ok(())
        } else {
            self.poll(timeout)
        };
        self.remote.sleep.store(AWAKE, Ordering::Relaxed);
        result
    }

    /// Whether anything on this hub could still produce a wake-up.
    fn has_pending_work(&self) -> bool {
        self.has_ready() || !self.timers.borrow().is_empty() || self.io.borrow().has_registrations()
    }

    /// The thread context waits here: runs coroutines, timers and I/O until
    /// `task` (this thread's task) is woken or `deadline` passes.
    pub(crate) fn block_on(
        &self,
        task: &Arc<Task>,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<(), WouldBlockForever> {
        let mut idle_since: Option<Instant> = None;
        let mut check_every = DEADLOCK_GRACE;
        loop {
            if task.take_notification() {
                return Ok(());
            }
            self.absorb_injected();
            // A whole batch, even once the thread's context is woken (as
            // tokio's `block_on` and gevent's hub loop do): a thread joining
            // many coroutines in turn then finds the next ones ended and
            // needs no wait, where stopping at its wake-up made it wait,
            // register and be woken once per coroutine (spawn+join of
            // batches of 1,000: 332-355 vs 423-509 ns, pinned).
            self.run_ready(POLL_INTERVAL);
            if task.take_notification() {
                return Ok(());
            }
            // Reading the clock is not free (it is most of a park's cost
            // on some VMs): only when a deadline or a timer needs it.
            if deadline.is_some() || !self.timers.borrow().is_empty() {
                let now = Instant::now();
                if deadline.is_some_and(|d| d <= now) {
                    return Ok(());
                }
                self.fire_timers(now);
            }
            // Coroutines may still be runnable: then the poll below only
            // looks (a zero timeout), so that I/O and other threads get in
            // every POLL_INTERVAL resumes.
            self.poll_due.set(false);
            let now = Instant::now();
            let next_timer = self.timers.borrow().next_deadline();
            let wake_at = match (deadline, next_timer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut timeout = if self.has_ready() {
                Some(Duration::ZERO)
            } else {
                wake_at.map(|t| t.saturating_duration_since(now))
            };
            if timeout.is_none() && !self.has_pending_work() {
                let since = *idle_since.get_or_insert(now);
                if now.duration_since(since) >= check_every {
                    // Look again after counting: a thread that woke us and
                    // then exited is gone from the count, but its wake-up
                    // is here.
                    if !others_could_wake() && !self.has_pending_work() && !task.is_notified() {
                        return Err(WouldBlockForever::new(what));
                    }
                    // Another thread may still wake us: look again later,
                    // less and less often.
                    idle_since = Some(now);
                    check_every = (check_every * 2).min(DEADLOCK_CHECK_MAX);
                }
                timeout = Some(check_every);
            } else {
                idle_since = None;
            }
            if self.trim_stacks_before(timeout) {
                continue;
            }
            if !task.prepare_park(ParkMode::Hub) {
                return Ok(());
            }
            let polled = self.sleep(timeout, || task.is_notified());
            let woken = task.end_hub_park();
            if let Err(e) = polled {
                // A broken poll leaves nothing to wait with; report it as
                // the wait's failure rather than spinning.
                eprintln!("greenstd: hub poll failed: {e}");
                return Err(WouldBlockForever::new(what));
            }
            if woken {
                return Ok(());
            }
        }
    }

    /// A worker hub's whole life: runs the coroutines handed to it, their
    /// timers and their I/O, and waits in its poll when there is nothing
    /// to do.
    pub(crate) fn serve_forever(&self) -> ! {
        loop {
            self.absorb_injected();
            self.run_ready(POLL_INTERVAL);
            if !self.timers.borrow().is_empty() {
                self.fire_timers(Instant::now());
            }
            self.poll_due.set(false);
            let timeout = if self.has_ready() {
                Some(Duration::ZERO)
            } else {
                self.timers
                    .borrow()
                    .next_deadline()
                    .map(|t| t.saturating_duration_since(Instant::now()))
            };
            if self.trim_stacks_before(timeout) {
                continue;
            }
            // With nothing that could end the sleep but another thread, the
            // worker counts as idle for the deadlock check. The mark first,
            // then one more look at the injection queue (see
            // `Remote::idle`): work handed over meanwhile ends the mark.
            if timeout.is_none()
                && !self.has_pending_work()
                && !context::mark_hub_idle(&self.remote.idle, &self.remote.pending)
            {
                continue;
            }
            let polled = self.sleep(timeout, || false);
            context::end_hub_idle(&self.remote.idle);
            if let Err(e) = polled {
                eprintln!("greenstd: worker hub poll failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Before a poll that may sleep `timeout` (`None`: until woken), unmaps
    /// a batch of the stacks left over from a burst, if there are any and
    /// the sleep is long enough to hide the work: only then, because a
    /// hub that polls again within a millisecond (timers due, as when
    /// thousands of coroutines sleep in turn) is busy, and unmapping then
    /// would delay the coroutines due next. Whether it unmapped (the caller
    /// looks again before sleeping).
    pub(crate) fn trim_stacks_before(&self, timeout: Option<Duration>) -> bool {
        if timeout.is_some_and(|t| t < TRIM_WHEN_IDLE_FOR) || !self.stacks.borrow().has_excess() {
            return false;
        }
        self.stacks.borrow_mut().trim();
        true
    }

    /// This hub's cross-thread face.
    pub(crate) fn remote(&self) -> Arc<Remote> {
        self.remote.clone()
    }

    /// One pass of the hub from the thread context without waiting (the
    /// thread's `yield_now`).
    pub(crate) fn run_once(&self) {
        self.absorb_injected();
        self.fire_timers(Instant::now());
        let _ = self.poll(Some(Duration::ZERO));
        // One batch: the coroutines ready now, not those they wake.
        let batch = self.ready.borrow().len();
        self.run_ready(batch);
    }
}

impl Task {
    /// Whether a wake-up is pending (without consuming it).
    pub(crate) fn is_notified(&self) -> bool {
        self.state_is_notified()
    }
}

/// Whether the caller is a thread's own context with no coroutine on its
/// hub: the context in which every call behaves (and costs) as std's.
#[inline]
pub(crate) fn is_plain_thread() -> bool {
    !context::in_coroutine() && Hub::existing().is_none_or(|h| h.live() == 0)
}

/// Whether some other thread exists that could still wake this one. The
/// pool's idle threads, worker hubs marked idle and the monitor thread
/// wake nobody. A caller that gets `false` looks at its own state once
/// more before it reports: a thread that woke it and then exited is gone
/// from the count.
pub(crate) fn others_could_wake() -> bool {
    let bystanders = context::idle_runtime_threads() + super::monitor::threads();
    crate::sys::os_thread_count().is_none_or(|n| n > 1 + bystanders)
}

/// A hub is dropped when its thread exits.
///
/// Coroutines still alive then can never run again: their thread is gone.
/// std's detached threads stay blocked until the process exits, and code
/// written for std never expects a blocking call to unwind, so these
/// coroutines are not killed: their entries are leaked, keeping their
/// stacks mapped (wait queues may still point into them), and none of
/// their frames ever runs again.
impl Drop for Hub {
    fn drop(&mut self) {
        super::task::forget_local_ready(&raw const self.ready);
        let entries = std::mem::take(self.entries.get_mut());
        if self.live.get() > 0 {
            std::mem::forget(entries);
        }
    }
}
