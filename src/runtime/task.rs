//! The shared identity of every context that can wait: a coroutine, or an
//! OS thread's own (non-coroutine) context.
//!
//! A [`Task`] is what other parties hold to wake a waiter: wait lists, join
//! handles, `Thread` handles. It is `Send + Sync`; the state that only the
//! owning OS thread touches lives in the hub, not here. A coroutine's task
//! also keeps its [`End`] (the result and the event of its end), so that a
//! spawn makes one allocation, not a task and a join packet; the event is
//! a [`Signal`], whose waiting half (it parks) is one floor up, in `wait`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// How a task's waker reaches the hub that runs it: the hub's cross-thread
/// face implements it. Defined here, below the hub, so that a task needs
/// nothing of the hub's to be woken.
pub(crate) trait Schedule: Send + Sync + std::fmt::Debug {
    /// From another thread: asks the hub to wake the coroutine in `slot`
    /// if it is still task `id` (the hub applies [`Task::wake_here`]);
    /// whether the hub's poll must then be interrupted ([`wake_thread`],
    /// left to the caller: see [`Kick`]).
    ///
    /// [`wake_thread`]: Schedule::wake_thread
    fn inject_quietly(&self, slot: usize, id: u64) -> bool;
    /// Interrupts the hub's poll, from any thread.
    fn wake_thread(&self);
    /// Whether the hub is the calling thread's own.
    fn is_local(&self) -> bool;
}

/// A hub's queue of coroutines to run (their slots), owned by the hub and
/// pushed to by a local wake-up through [`LOCAL_HUB`].
pub(crate) type ReadyQueue = RefCell<VecDeque<usize>>;

/// This thread's hub as a wake-up sees it.
#[derive(Clone, Copy)]
struct LocalHub {
    /// Its id, 0 before the thread has a hub: tells a local wake-up from a
    /// cross-thread one.
    id: u64,
    /// Its ready queue, null before it has one and once it is dropped.
    ready: *const ReadyQueue,
}

thread_local! {
    /// Set by the hub: one thread-local load tells a wake-up whether the
    /// task is this thread's and where to queue it.
    static LOCAL_HUB: Cell<LocalHub> = const {
        Cell::new(LocalHub { id: 0, ready: std::ptr::null() })
    };
}

/// The id of the calling thread's hub; 0 if it has none.
#[inline]
pub(crate) fn local_hub() -> u64 {
    LOCAL_HUB.with(|h| h.get().id)
}

/// Records the calling thread's hub, with its ready queue, which must stay
/// where it is until [`forget_local_ready`] (the hub is reference-counted,
/// and calls that from its `Drop`).
pub(crate) fn set_local_hub(id: u64, ready: *const ReadyQueue) {
    LOCAL_HUB.with(|h| h.set(LocalHub { id, ready }));
}

/// The hub's ready queue `ready` is going away: local wake-ups after this
/// (from the hub's own destruction at thread exit) queue nothing.
pub(crate) fn forget_local_ready(ready: *const ReadyQueue) {
    LOCAL_HUB.with(|h| {
        let mut local = h.get();
        if std::ptr::eq(local.ready, ready) {
            local.ready = std::ptr::null();
            h.set(local);
        }
    });
}

/// Queues the coroutine in `slot` on this thread's hub (its ready queue,
/// if it still has one).
#[inline]
fn queue_here(ready: *const ReadyQueue, slot: usize) {
    if !ready.is_null() {
        // SAFETY: set by the hub, which owns the queue and clears the
        // pointer before the queue goes; only this thread uses it.
        unsafe { (*ready).borrow_mut().push_back(slot) };
    }
}

/// The last step of a wake-up: the system call that wakes the thread
/// which runs the task (an `eventfd` write to a hub asleep in its poll, a
/// futex wake for a parked thread). [`Task::wake_then_kick`] hands it back
/// so that a waker holding the task by a borrowed address can first let
/// the task go (`WaitSlot::notify`): otherwise the woken side, running at
/// once on another core, or preempting the waker on this one, would find
/// the task still held and wait out the syscall.
#[must_use]
pub(crate) enum Kick {
    None,
    Hub(Remote),
    Thread(std::thread::Thread),
}

impl Kick {
    /// Makes the system call, if any.
    #[inline]
    pub(crate) fn run(self) {
        match self {
            Kick::None => {}
            Kick::Hub(remote) => remote.wake_thread(),
            Kick::Thread(thread) => thread.unpark(),
        }
    }
}

/// The handle a task keeps of its hub.
pub(crate) type Remote = Arc<dyn Schedule + std::panic::RefUnwindSafe + std::panic::UnwindSafe>;

/// The task runs (or is runnable) and has no wake-up pending.
const RUNNING: u8 = 0;
/// A wake-up arrived while the task was not parked: its next park returns at once.
const NOTIFIED: u8 = 1;
/// A coroutine is switched out, waiting for a wake-up.
const PARKED_COROUTINE: u8 = 2;
/// An OS thread sleeps in `std::thread::park`.
const PARKED_OS: u8 = 3;
/// An OS thread sleeps in its hub's `mio::Poll`.
const PARKED_HUB: u8 = 4;

/// How a parked task must be woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParkMode {
    /// The task is a coroutine that switched back to its hub.
    Coroutine,
    /// The task is a thread sleeping in `std::thread::park`.
    Os,
    /// The task is a thread sleeping in its hub's poll.
    Hub,
}

/// [`Kind::Coroutine`]'s slot before the hub installs the coroutine.
pub(crate) const UNPLACED: usize = usize::MAX;

/// [`Task::locals`]: none made yet, some made (the hub keeps them), destroyed
/// at the end of the body (none can be made any more).
pub(crate) const LOCALS_NONE: u8 = 0;
pub(crate) const LOCALS_MADE: u8 = 1;
pub(crate) const LOCALS_GONE: u8 = 2;

/// Kill states.
const KILL_NONE: u8 = 0;
const KILL_PENDING: u8 = 1;
const KILL_DELIVERED: u8 = 2;

/// Who runs the task.
#[derive(Debug)]
pub(crate) enum Kind {
    /// A coroutine in slot `slot` of hub `hub`, reached through `remote`.
    /// The slot is [`UNPLACED`] until the hub installs the coroutine (a
    /// coroutine started on another thread's hub gets its handles first).
    Coroutine {
        remote: Remote,
        hub: u64,
        slot: AtomicUsize,
    },
    /// The non-coroutine context of an OS thread.
    Thread {
        os: std::thread::Thread,
        remote: OnceLock<Remote>,
    },
}

/// One gevent-style `Timeout` armed on a task.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArmedTimeout {
    pub(crate) deadline: Instant,
    pub(crate) id: u64,
}

/// The shared state of one waitable context.
///
/// A coroutine's `state` is read and written by its hub's thread only
/// (plain loads and stores, no locked instruction on the park and wake
/// paths): another thread's wake-up goes through the hub's injection
/// queue, whose lock orders it. A thread's own task is woken from any
/// thread and uses atomic read-modify-writes.
#[derive(Debug)]
pub(crate) struct Task {
    id: u64,
    name: Option<Box<str>>,
    /// Where a coroutine was spawned; `None` for a thread.
    spawned_at: Option<&'static Location<'static>>,
    kind: Kind,
    state: AtomicU8,
    /// The `park`/`unpark` token of `std::thread` semantics, kept apart from
    /// the internal wake-ups so that runtime waits never consume it.
    token: AtomicBool,
    kill: AtomicU8,
    /// Whether `extras` holds armed timeouts: the one word of them the
    /// wait path reads.
    has_timeouts: AtomicBool,
    /// Whether the coroutine made coroutine-local values, or destroyed
    /// them (see [`Task::locals`]); only its own hub's thread touches it.
    locals: AtomicU8,
    /// What only the gevent API arms on a task, made on first use: most
    /// tasks never need it, and a spawn does not pay for it.
    extras: OnceLock<Box<Extras>>,
    /// A coroutine's result and the event of its end (unused by a
    /// thread's task).
    end: End,
}

/// The state gevent's API keeps on a task (see [`Task::extras`]).
#[derive(Debug, Default)]
struct Extras {
    /// Set by a greenlet `switch()` aimed at this task.
    switched: AtomicBool,
    /// gevent `Timeout`s armed by this task; touched by its own thread
    /// only, behind a mutex because the task is shared.
    timeouts: Mutex<Vec<ArmedTimeout>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How many ids a thread takes from [`NEXT_ID`] at a time: hubs spawning
/// side by side then rarely touch the shared counter (its cache line would
/// otherwise bounce between their cores on every spawn).
const ID_BLOCK: u64 = 64;

thread_local! {
    /// This thread's unused ids: `next..end`.
    static IDS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// A fresh process-wide id for a thread or coroutine; never reused. Ids
/// are unique, not ordered across threads (each thread takes a block).
pub(crate) fn next_id() -> u64 {
    IDS.try_with(|ids| {
        let (next, end) = ids.get();
        if next < end {
            ids.set((next + 1, end));
            return next;
        }
        let start = NEXT_ID.fetch_add(ID_BLOCK, Ordering::Relaxed);
        ids.set((start + 1, start + ID_BLOCK));
        start
    })
    // During the thread's TLS teardown: one id straight from the counter.
    .unwrap_or_else(|_| NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

impl Task {
    /// The task of a coroutine that will live on hub `hub` (behind
    /// `remote`), in the slot [`Task::place`] gives it.
    ///
    /// A member of `scope` if given (see [`End::release`]).
    pub(crate) fn coroutine(
        name: Option<String>,
        spawned_at: &'static Location<'static>,
        remote: Remote,
        hub: u64,
        scope: Option<Arc<dyn ScopeMember>>,
    ) -> Task {
        let slot = AtomicUsize::new(UNPLACED);
        let mut task = Task::new(name, Kind::Coroutine { remote, hub, slot }, scope);
        task.spawned_at = Some(spawned_at);
        task
    }

    /// The task standing for the calling OS thread's own context.
    pub(crate) fn thread() -> Task {
        let os = std::thread::current();
        let name = os.name().map(String::from);
        Task::new(
            name,
            Kind::Thread {
                os,
                remote: OnceLock::new(),
            },
            None,
        )
    }

    fn new(name: Option<String>, kind: Kind, scope: Option<Arc<dyn ScopeMember>>) -> Task {
        Task {
            id: next_id(),
            name: name.map(String::into_boxed_str),
            spawned_at: None,
            kind,
            state: AtomicU8::new(RUNNING),
            token: AtomicBool::new(false),
            kill: AtomicU8::new(KILL_NONE),
            has_timeouts: AtomicBool::new(false),
            locals: AtomicU8::new(LOCALS_NONE),
            extras: OnceLock::new(),
            end: End::new(scope),
        }
    }

    /// A coroutine's end: its result and the event of its end.
    #[inline]
    pub(crate) fn end(&self) -> &End {
        &self.end
    }

    /// Where the coroutine's locals stand: [`LOCALS_NONE`], [`LOCALS_MADE`]
    /// or [`LOCALS_GONE`]. A plain load: only the coroutine's hub's thread
    /// reads or writes it.
    #[inline]
    pub(crate) fn locals(&self) -> u8 {
        self.locals.load(Ordering::Relaxed)
    }

    /// Records where the coroutine's locals stand (see [`Task::locals`]).
    #[inline]
    pub(crate) fn set_locals(&self, state: u8) {
        self.locals.store(state, Ordering::Relaxed);
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `<Greenlet "name" #id>` (or `<Thread ...>`), the way gevent prints
    /// a greenlet.
    pub(crate) fn describe(&self) -> String {
        let kind = if self.is_coroutine() {
            "Greenlet"
        } else {
            "Thread"
        };
        match self.name() {
            Some(name) => format!("<{kind} {name:?} #{}>", self.id()),
            None => format!("<{kind} #{}>", self.id()),
        }
    }

    /// Where the coroutine was spawned; `None` for a thread's own task.
    pub(crate) fn spawned_at(&self) -> Option<&'static Location<'static>> {
        self.spawned_at
    }

    /// Gives a coroutine's task its slot, on its hub's thread, before the
    /// coroutine first runs. A task that other threads could already hold
    /// (a remote spawn) needs a `SeqCst` fence after this and before the
    /// coroutine runs (the installer's side of the pair in [`Task::wake`]).
    pub(crate) fn place(&self, at: usize) {
        if let Kind::Coroutine { slot, .. } = &self.kind {
            slot.store(at, Ordering::Release);
        }
    }

    /// A coroutine's slot on its hub; `None` for a thread or a coroutine
    /// not installed yet.
    pub(crate) fn slot(&self) -> Option<usize> {
        match &self.kind {
            Kind::Coroutine { slot, .. } => {
                Some(slot.load(Ordering::Acquire)).filter(|&s| s != UNPLACED)
            }
            Kind::Thread { .. } => None,
        }
    }

    /// The id of the hub a coroutine lives on; `None` for a thread.
    pub(crate) fn hub_id(&self) -> Option<u64> {
        match &self.kind {
            Kind::Coroutine { hub, .. } => Some(*hub),
            Kind::Thread { .. } => None,
        }
    }

    #[inline]
    pub(crate) fn is_coroutine(&self) -> bool {
        matches!(self.kind, Kind::Coroutine { .. })
    }

    /// Records the hub of a thread task once that thread has one, so that
    /// other threads can wake it while it polls.
    pub(crate) fn attach_remote(&self, remote: &Remote) {
        if let Kind::Thread { remote: slot, .. } = &self.kind {
            let _ = slot.set(remote.clone());
        }
    }

    /// Consumes a pending wake-up, if any. Called before parking.
    #[inline]
    pub(crate) fn take_notification(&self) -> bool {
        // A plain load first: the common answer (none pending) needs no
        // locked instruction.
        if self.state.load(Ordering::Relaxed) != NOTIFIED {
            return false;
        }
        if self.is_coroutine() {
            // Only the hub's thread touches a coroutine's state.
            self.state.store(RUNNING, Ordering::Relaxed);
            return true;
        }
        self.state
            .compare_exchange(NOTIFIED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Announces that the task is about to sleep in `mode`. Returns `false`
    /// if a wake-up raced in, in which case the task must not sleep.
    #[inline]
    pub(crate) fn prepare_park(&self, mode: ParkMode) -> bool {
        let parked = match mode {
            ParkMode::Coroutine => {
                // Only the hub's thread touches a coroutine's state.
                if self.state.load(Ordering::Relaxed) == NOTIFIED {
                    self.state.store(RUNNING, Ordering::Relaxed);
                    return false;
                }
                self.state.store(PARKED_COROUTINE, Ordering::Relaxed);
                return true;
            }
            ParkMode::Os => PARKED_OS,
            ParkMode::Hub => PARKED_HUB,
        };
        match self
            .state
            .compare_exchange(RUNNING, parked, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(_) => {
                // Only NOTIFIED can be here: nobody else moves a running task.
                self.state.store(RUNNING, Ordering::Release);
                false
            }
        }
    }

    /// Whether a wake-up is pending, without consuming it.
    pub(crate) fn state_is_notified(&self) -> bool {
        self.state.load(Ordering::Acquire) == NOTIFIED
    }

    /// Whether the task still sleeps in `std::thread::park`.
    pub(crate) fn is_parked_os(&self) -> bool {
        self.state.load(Ordering::Acquire) == PARKED_OS
    }

    /// Ends a sleep in the hub's poll; returns whether a wake-up arrived.
    pub(crate) fn end_hub_park(&self) -> bool {
        self.state.swap(RUNNING, Ordering::AcqRel) == NOTIFIED
    }

    /// Marks the task running again after it slept; whatever woke it (or a
    /// timeout) ends the sleep, so a pending notification is consumed.
    #[inline]
    pub(crate) fn finish_park(&self) {
        self.state.store(RUNNING, Ordering::Release);
    }

    /// Wakes the task from any thread. Cheap when the task is not asleep.
    #[inline]
    pub(crate) fn wake(&self) {
        // The common case first, kept small: a placed coroutine of this
        // thread's hub, which needs no kick.
        if let Kind::Coroutine { hub, slot, .. } = &self.kind {
            let at = slot.load(Ordering::Acquire);
            let local = LOCAL_HUB.with(Cell::get);
            if at != UNPLACED && *hub == local.id {
                if self.wake_here() {
                    queue_here(local.ready, at);
                }
                return;
            }
        }
        self.wake_then_kick().run();
    }

    /// Wakes the task, all but the system call that wakes the thread
    /// which runs it: that is returned, for the caller to make once it no
    /// longer needs the task alive (see [`Kick`]).
    #[inline]
    pub(crate) fn wake_then_kick(&self) -> Kick {
        if let Kind::Coroutine { remote, hub, slot } = &self.kind {
            // A coroutine not installed yet needs no wake-up: it starts
            // runnable, and what a waker can have asked of it before its
            // start (an unpark, a kill, a switch) is kept in its flags.
            let mut at = slot.load(Ordering::Acquire);
            if at == UNPLACED {
                // The flag this wake-up announces was set before; with the
                // installer's fence after `place`, either its slot is seen
                // now, or the coroutine will see the flag when it runs.
                std::sync::atomic::fence(Ordering::SeqCst);
                at = slot.load(Ordering::Acquire);
                if at == UNPLACED {
                    return Kick::None;
                }
            }
            let slot = at;
            let local = LOCAL_HUB.with(Cell::get);
            if *hub != local.id {
                if remote.inject_quietly(slot, self.id) {
                    return Kick::Hub(remote.clone());
                }
            } else if self.wake_here() {
                queue_here(local.ready, slot);
            }
            return Kick::None;
        }
        if self.state.load(Ordering::Acquire) == NOTIFIED {
            return Kick::None; // already woken: nothing more to do
        }
        match self.state.swap(NOTIFIED, Ordering::AcqRel) {
            PARKED_OS => {
                if let Kind::Thread { os, .. } = &self.kind {
                    return Kick::Thread(os.clone());
                }
            }
            PARKED_HUB => {
                if let Kind::Thread { remote, .. } = &self.kind
                    && let Some(remote) = remote.get()
                {
                    return Kick::Hub(remote.clone());
                }
            }
            _ => {}
        }
        Kick::None
    }

    /// Wakes a coroutine on its hub's own thread: marks it notified;
    /// whether it was parked (then the caller queues it to run).
    #[inline]
    pub(crate) fn wake_here(&self) -> bool {
        let was = self.state.load(Ordering::Relaxed);
        if was == NOTIFIED {
            return false;
        }
        self.state.store(NOTIFIED, Ordering::Relaxed);
        was == PARKED_COROUTINE
    }

    /// `Thread::unpark`: makes the park token available, then wakes.
    #[inline]
    pub(crate) fn unpark(&self) {
        self.token.store(true, Ordering::Release);
        self.wake();
    }

    /// Takes the park token of `std::thread::park` semantics.
    ///
    /// A load and a store, not a swap: an `unpark` landing between the two
    /// is one that came before the take (tokens do not add up, and its
    /// wake-up makes the next park return at once, spuriously).
    #[inline]
    pub(crate) fn take_token(&self) -> bool {
        if !self.token.load(Ordering::Acquire) {
            return false;
        }
        self.token.store(false, Ordering::Relaxed);
        true
    }

    /// Asks the task to unwind at its next blocking point. Returns `false`
    /// if it was already asked.
    pub(crate) fn request_kill(self: &Arc<Self>) -> bool {
        let first = self
            .kill
            .compare_exchange(KILL_NONE, KILL_PENDING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if first {
            self.wake();
        }
        first
    }

    /// Whether a kill was requested and not yet delivered (it stays so).
    #[inline]
    pub(crate) fn kill_pending(&self) -> bool {
        self.kill.load(Ordering::Acquire) == KILL_PENDING
    }

    /// Whether a kill was requested and not yet delivered; marks it delivered.
    pub(crate) fn take_kill(&self) -> bool {
        self.kill.load(Ordering::Acquire) == KILL_PENDING
            && self
                .kill
                .compare_exchange(
                    KILL_PENDING,
                    KILL_DELIVERED,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    fn extras(&self) -> &Extras {
        self.extras.get_or_init(Box::default)
    }

    /// A greenlet `switch()` to this task: flag it, then wake it.
    pub(crate) fn switch_to(self: &Arc<Self>) {
        self.extras().switched.store(true, Ordering::Release);
        self.wake();
    }

    /// Takes the flag set by a `switch()` to this task.
    pub(crate) fn take_switched(&self) -> bool {
        self.extras
            .get()
            .is_some_and(|e| e.switched.swap(false, Ordering::Acquire))
    }

    /// Arms a gevent-style timeout on this task.
    pub(crate) fn arm_timeout(&self, timeout: ArmedTimeout) {
        let mut list = self
            .extras()
            .timeouts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        list.push(timeout);
        self.has_timeouts.store(true, Ordering::Release);
    }

    /// Disarms the timeout `id`, if still armed.
    pub(crate) fn disarm_timeout(&self, id: u64) {
        let Some(extras) = self.extras.get() else {
            return;
        };
        let mut list = extras.timeouts.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|t| t.id != id);
        self.has_timeouts.store(!list.is_empty(), Ordering::Release);
    }

    /// The earliest armed timeout, if any.
    #[inline]
    pub(crate) fn earliest_timeout(&self) -> Option<ArmedTimeout> {
        if !self.has_timeouts.load(Ordering::Acquire) {
            return None;
        }
        self.earliest_armed()
    }

    #[cold]
    fn earliest_armed(&self) -> Option<ArmedTimeout> {
        let list = self
            .extras
            .get()?
            .timeouts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        list.iter().min_by_key(|t| t.deadline).copied()
    }

    /// Removes and returns the earliest timeout if it has expired at `now`.
    pub(crate) fn take_expired_timeout(&self, now: Instant) -> Option<ArmedTimeout> {
        let expired = self.earliest_timeout().filter(|t| t.deadline <= now)?;
        self.disarm_timeout(expired.id);
        Some(expired)
    }
}

/// A one-shot event: once set it stays set and wakes every waiter.
///
/// One word holds the set flag and the first waiter (an `Arc<Task>` as a
/// raw pointer; tasks are aligned, so the low bits are free): the usual
/// case, one joiner, costs one compare-and-swap to wait and one swap to
/// notify. Further waiters queue behind a mutex.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    pub(super) word: AtomicUsize,
    pub(super) more: Mutex<Vec<Arc<Task>>>,
}

/// Set in [`Signal::word`] once the event is set.
pub(super) const SIGNAL_SET: usize = 1;
/// Set in [`Signal::word`] while `more` may hold waiters.
pub(super) const SIGNAL_MORE: usize = 2;
pub(super) const SIGNAL_FLAGS: usize = SIGNAL_SET | SIGNAL_MORE;

impl Signal {
    pub(crate) fn new() -> Self {
        Signal::default()
    }

    pub(crate) fn is_set(&self) -> bool {
        self.word.load(Ordering::Acquire) & SIGNAL_SET != 0
    }

    /// Sets the event and wakes everyone waiting for it.
    pub(crate) fn notify_all(&self) {
        let word = self.word.swap(SIGNAL_SET, Ordering::AcqRel);
        let first = (word & !SIGNAL_FLAGS) as *const Task;
        if !first.is_null() {
            // SAFETY: the word held one strong count of this task, put
            // there by `register`; the swap moved it to us.
            let task = unsafe { Arc::from_raw(first) };
            task.wake();
        }
        if word & SIGNAL_MORE != 0 {
            let more = std::mem::take(&mut *self.more.lock().unwrap_or_else(|e| e.into_inner()));
            for task in more {
                task.wake();
            }
        }
    }

    /// Removes the task at `me` from the waiters.
    pub(super) fn forget(&self, me: *const Task) {
        let word = self.word.load(Ordering::Acquire);
        if word & !SIGNAL_FLAGS == me as usize
            && self
                .word
                .compare_exchange(
                    word,
                    word & SIGNAL_FLAGS,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
        {
            // SAFETY: the word's strong count of our task, taken back.
            drop(unsafe { Arc::from_raw(me) });
            return;
        }
        if word & SIGNAL_MORE != 0 {
            let mut more = self.more.lock().unwrap_or_else(|e| e.into_inner());
            more.retain(|w| !std::ptr::eq(Arc::as_ptr(w), me));
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        let first = (*self.word.get_mut() & !SIGNAL_FLAGS) as *const Task;
        if !first.is_null() {
            // SAFETY: the word's strong count, released with the signal.
            drop(unsafe { Arc::from_raw(first) });
        }
    }
}

/// What a scope counts of its coroutines (implemented by the scope's data,
/// above this floor): told when a coroutine's end is let go of by both its
/// body and its handle, after which it no longer touches the scope's
/// borrows.
pub(crate) trait ScopeMember: Send + Sync + std::fmt::Debug {
    /// The coroutine ended and is let go of; `panicked` if it panicked and
    /// nobody took the panic.
    fn thread_finished(&self, panicked: bool);
}

/// How many words of a coroutine's result its task holds in place; a larger
/// (or more aligned) result is boxed.
const RESULT_WORDS: usize = 4;

/// [`End::state`]: no result yet, a result to take, taken.
const RESULT_EMPTY: u8 = 0;
const RESULT_STORED: u8 = 1;
const RESULT_TAKEN: u8 = 2;

/// A coroutine's end, kept in its task (one allocation for both): the result
/// its body returns, the event of its end, and the two shares of the result
/// (the body's and the join handle's), as std keeps them in a thread's
/// packet. The result's type is known to the body and the handle, not here:
/// it is written and read through typed calls whose callers promise the type.
pub(crate) struct End {
    /// The body's and the handle's shares: the last to let go drops a result
    /// nobody took (see [`End::release`]).
    shares: AtomicU8,
    state: AtomicU8,
    /// Whether the stored result is a panic.
    panicked: AtomicBool,
    /// Set when the body has ended (after its locals are destroyed).
    pub(crate) done: Signal,
    scope: Option<Arc<dyn ScopeMember>>,
    /// Drops the stored result in place; set with it.
    drop_result: std::cell::UnsafeCell<Option<unsafe fn(*mut u8)>>,
    /// Written once by the body (before `state` says stored), read by the
    /// one taker that wins `state`.
    result: std::cell::UnsafeCell<std::mem::MaybeUninit<[usize; RESULT_WORDS]>>,
}

impl std::fmt::Debug for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("End")
            .field("shares", &self.shares.load(Ordering::Relaxed))
            .field("state", &self.state.load(Ordering::Relaxed))
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

// SAFETY: the result slot is handed between threads once, ordered by
// `state` (written before STORED with Release, read by the one winner of
// STORED -> TAKEN with Acquire, or by the last share, after the AcqRel
// release of the other); a result type that is not `Send` never gets here
// (the spawn functions require `T: Send`). The rest is `Send + Sync`.
unsafe impl Send for End {}
// SAFETY: as above.
unsafe impl Sync for End {}

// A panic cannot leave an end half-updated where another party would see
// it: the slot changes hands only through the atomic `state` and `shares`
// (so `thread::Thread`, which holds the task, stays unwind-safe as std's).
impl std::panic::RefUnwindSafe for End {}
impl std::panic::UnwindSafe for End {}

/// The result as the slot holds it: in place, or boxed when it does not fit.
fn fits_in_place<R>() -> bool {
    size_of::<R>() <= size_of::<[usize; RESULT_WORDS]>() && align_of::<R>() <= align_of::<usize>()
}

/// Drops an `R` in place.
///
/// # Safety
/// `at` holds a live `R`, dropped only here.
unsafe fn drop_in_slot<R>(at: *mut u8) {
    // SAFETY: the caller's promise.
    unsafe { std::ptr::drop_in_place(at.cast::<R>()) };
}

impl End {
    /// The end of a coroutine about to be spawned (two shares: its body's
    /// and its handle's), a member of `scope` if given.
    fn new(scope: Option<Arc<dyn ScopeMember>>) -> End {
        End {
            shares: AtomicU8::new(2),
            state: AtomicU8::new(RESULT_EMPTY),
            panicked: AtomicBool::new(false),
            done: Signal::new(),
            scope,
            drop_result: std::cell::UnsafeCell::new(None),
            result: std::cell::UnsafeCell::new(std::mem::MaybeUninit::uninit()),
        }
    }

    /// Stores the body's result; once, by the body (or, for a coroutine
    /// that could not start, by its spawner's stand-in).
    ///
    /// # Safety
    /// `T` is the type the coroutine was spawned for, the one every
    /// [`End::take`] of this end names.
    pub(crate) unsafe fn store<T>(&self, result: std::thread::Result<T>) {
        debug_assert_eq!(self.state.load(Ordering::Relaxed), RESULT_EMPTY);
        self.panicked.store(result.is_err(), Ordering::Relaxed);
        let at = self.result.get().cast::<u8>();
        // SAFETY: nobody reads the slot before `state` says stored, and only
        // the body (once) writes it; the slot is large and aligned enough
        // for the in-place case, and a `Box` always fits.
        unsafe {
            if fits_in_place::<std::thread::Result<T>>() {
                at.cast::<std::thread::Result<T>>().write(result);
                *self.drop_result.get() = Some(drop_in_slot::<std::thread::Result<T>>);
            } else {
                at.cast::<Box<std::thread::Result<T>>>()
                    .write(Box::new(result));
                *self.drop_result.get() = Some(drop_in_slot::<Box<std::thread::Result<T>>>);
            }
        }
        self.state.store(RESULT_STORED, Ordering::Release);
    }

    /// Takes the result of an ended coroutine; `None` if already taken (or
    /// not stored yet).
    ///
    /// # Safety
    /// As [`End::store`].
    pub(crate) unsafe fn take<T>(&self) -> Option<std::thread::Result<T>> {
        self.state
            .compare_exchange(
                RESULT_STORED,
                RESULT_TAKEN,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()?;
        let at = self.result.get().cast::<u8>();
        // SAFETY: winning STORED -> TAKEN makes this the slot's only reader,
        // after the store (Release/Acquire); the caller names the stored type.
        unsafe {
            if fits_in_place::<std::thread::Result<T>>() {
                Some(at.cast::<std::thread::Result<T>>().read())
            } else {
                Some(*at.cast::<Box<std::thread::Result<T>>>().read())
            }
        }
    }

    /// Whether the handle still holds its share (the body's is held until
    /// [`End::release`] from the body).
    pub(crate) fn handle_holds(&self) -> bool {
        self.shares.load(Ordering::Acquire) > 1
    }

    /// Lets go of one share (the body's at its end, the handle's when it is
    /// dropped). The last one drops a result nobody took, here, as std's
    /// thread packet does: on the coroutine's stack when no handle is left,
    /// or wherever the last handle is dropped; never inside the hub's
    /// bookkeeping, so the result's `Drop` may block, spawn or switch. A
    /// scope counts its coroutine as ended only after that drop, because
    /// the drop may still use the scope's borrows.
    pub(crate) fn release(&self) {
        if self.shares.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let unhandled_panic = self.drop_unclaimed();
        if let Some(scope) = &self.scope {
            scope.thread_finished(unhandled_panic);
        }
    }

    /// Drops a stored result nobody took; whether it was a panic.
    fn drop_unclaimed(&self) -> bool {
        if self.state.load(Ordering::Acquire) != RESULT_STORED {
            return false;
        }
        self.state.store(RESULT_TAKEN, Ordering::Relaxed);
        // SAFETY: the last share (or the end's own drop) is the slot's only
        // user now, after the store; `drop_result` was set with the result.
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
            if let Some(drop_result) = *self.drop_result.get() {
                drop_result(self.result.get().cast());
            }
        }));
        if dropped.is_err() {
            // As std: a thread's result whose `Drop` panics aborts (with
            // the runtime's abort message, `report::abort_with`'s).
            eprintln!("fatal runtime error: a coroutine's result panicked on drop, aborting");
            std::process::abort();
        }
        self.panicked.load(Ordering::Relaxed)
    }
}

impl Drop for End {
    fn drop(&mut self) {
        // Only if a share was never let go of (a coroutine whose body never
        // ran to its end): its result, if any, still goes.
        self.drop_unclaimed();
    }
}
