//! The shared identity of every context that can wait: a coroutine, or an
//! OS thread's own (non-coroutine) context.
//!
//! A [`Task`] is what other parties hold to wake a waiter: wait lists, join
//! packets, `Thread` handles. It is `Send + Sync`; the state that only the
//! owning OS thread touches lives in the hub, not here.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// How a task's waker reaches the hub that runs it: the hub's cross-thread
/// face implements it. Defined here, below the hub, so that a task needs
/// nothing of the hub's to be woken.
pub(crate) trait Schedule: Send + Sync + std::fmt::Debug {
    /// Queues the coroutine in `slot` to run; only on the hub's own thread.
    fn run_local(&self, slot: usize);
    /// From another thread: asks the hub to wake the coroutine in `slot`
    /// if it is still task `id` (the hub applies [`Task::wake_here`]).
    fn inject(&self, slot: usize, id: u64);
    /// Interrupts the hub's poll, from any thread.
    fn wake_thread(&self);
    /// Whether the hub is the calling thread's own.
    fn is_local(&self) -> bool;
}

thread_local! {
    /// The id of this thread's hub, 0 before it has one (set by the hub):
    /// tells a local wake-up from a cross-thread one with one load.
    static LOCAL_HUB: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The id of the calling thread's hub; 0 if it has none.
#[inline]
pub(crate) fn local_hub() -> u64 {
    LOCAL_HUB.with(std::cell::Cell::get)
}

/// Records the calling thread's hub (once, when it is made).
pub(crate) fn set_local_hub(id: u64) {
    LOCAL_HUB.with(|h| h.set(id));
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
    pub(crate) fn coroutine(
        name: Option<String>,
        spawned_at: &'static Location<'static>,
        remote: Remote,
        hub: u64,
    ) -> Task {
        let slot = AtomicUsize::new(UNPLACED);
        let mut task = Task::new(name, Kind::Coroutine { remote, hub, slot });
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
        )
    }

    fn new(name: Option<String>, kind: Kind) -> Task {
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
        }
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
    pub(crate) fn finish_park(&self) {
        self.state.store(RUNNING, Ordering::Release);
    }

    /// Wakes the task from any thread. Cheap when the task is not asleep.
    pub(crate) fn wake(&self) {
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
                    return;
                }
            }
            let slot = at;
            if *hub != local_hub() {
                remote.inject(slot, self.id);
            } else if self.wake_here() {
                remote.run_local(slot);
            }
            return;
        }
        if self.state.load(Ordering::Acquire) == NOTIFIED {
            return; // already woken: nothing more to do
        }
        match self.state.swap(NOTIFIED, Ordering::AcqRel) {
            PARKED_OS => {
                if let Kind::Thread { os, .. } = &self.kind {
                    os.unpark();
                }
            }
            PARKED_HUB => {
                if let Kind::Thread { remote, .. } = &self.kind
                    && let Some(remote) = remote.get()
                {
                    remote.wake_thread();
                }
            }
            _ => {}
        }
    }

    /// Wakes a coroutine on its hub's own thread: marks it notified;
    /// whether it was parked (then the caller queues it to run).
    pub(crate) fn wake_here(&self) -> bool {
        let was = self.state.load(Ordering::Relaxed);
        if was == NOTIFIED {
            return false;
        }
        self.state.store(NOTIFIED, Ordering::Relaxed);
        was == PARKED_COROUTINE
    }

    /// `Thread::unpark`: makes the park token available, then wakes.
    pub(crate) fn unpark(&self) {
        self.token.store(true, Ordering::Release);
        self.wake();
    }

    /// Takes the park token of `std::thread::park` semantics.
    ///
    /// A load and a store, not a swap: an `unpark` landing between the two
    /// is one that came before the take (tokens do not add up, and its
    /// wake-up makes the next park return at once, spuriously).
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
