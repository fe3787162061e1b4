//! The wait primitives: the whole vocabulary the facades block with.
//!
//! Every wait follows the same pattern: register the caller's task where
//! the waker will find it, re-check the condition, then [`park`]. A wake-up
//! that lands between the re-check and the park is kept by the task's state
//! and makes the park return at once, so none is lost.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::context;
use super::coroutine::suspend;
use super::error::{Killed, TimeoutExpired, WouldBlockForever};
use super::hub::{self, DEADLOCK_CHECK_MAX, DEADLOCK_GRACE, Hub};
use super::task::{ParkMode, SIGNAL_FLAGS, SIGNAL_MORE, SIGNAL_SET, Signal, Task};

/// Parks the caller until its task is woken or `deadline` passes. May return
/// spuriously; callers re-check their condition.
///
/// Inside a coroutine it switches to the hub. In a thread's own context it
/// drives the hub if the thread has coroutines, or parks the OS thread.
///
/// # Errors
/// [`WouldBlockForever`] from a thread's context when nothing could wake it.
///
/// # Panics
/// Unwinds with [`Killed`] or [`TimeoutExpired`] when the caller was killed
/// or one of its `Timeout`s expired.
#[inline(always)]
pub(crate) fn park(deadline: Option<Instant>, what: &'static str) -> Result<(), WouldBlockForever> {
    if context::in_coroutine() {
        park_coroutine(deadline, what);
        Ok(())
    } else {
        park_thread(deadline, what)
    }
}

#[inline(always)]
fn park_coroutine(deadline: Option<Instant>, what: &'static str) {
    // Inlined down to the switch: see `with_current_task`.
    context::with_current_task(
        #[inline(always)]
        |task| park_coroutine_as(task, deadline, what),
    );
}

#[inline(always)]
fn park_coroutine_as(task: &Task, deadline: Option<Instant>, what: &'static str) {
    let hub = Hub::existing().expect("a coroutine runs on a hub");
    deliver_interrupts(task);
    if task.take_notification() {
        return;
    }
    let wake_at = earliest(deadline, task.earliest_timeout().map(|t| t.deadline));
    let timer = wake_at.map(|at| hub.arm_timer(at, context::current_task()));
    if task.prepare_park(ParkMode::Coroutine) {
        let unwinding = std::thread::panicking() && hub.suspended_unwinders() == 0;
        if unwinding {
            hub.note_suspended_unwinder(1);
        }
        hub.note_parking_on(what);
        super::coroutine::trim_before_parking();
        suspend();
        if unwinding {
            hub.note_suspended_unwinder(-1);
        }
        task.finish_park();
    }
    if let Some(key) = timer {
        hub.disarm_timer(key);
    }
    deliver_interrupts(task);
}

fn park_thread(deadline: Option<Instant>, what: &'static str) -> Result<(), WouldBlockForever> {
    let task = context::thread_task();
    deliver_interrupts(&task);
    if task.take_notification() {
        return Ok(());
    }
    let wake_at = earliest(deadline, task.earliest_timeout().map(|t| t.deadline));
    let result = match Hub::existing().filter(|h| h.live() > 0) {
        Some(hub) => hub.block_on(&task, wake_at, what).inspect_err(|e| {
            super::report::report_would_block_forever(e, &hub.describe_coroutines());
        }),
        None => {
            trim_stacks_while_idle(wake_at, &|| task.state_is_notified());
            park_os(&task, wake_at, what)
        }
    };
    deliver_interrupts(&task);
    result
}

/// For a thread's own context about to wait in the OS until `deadline`
/// (`None`: until woken) with no coroutine left on its hub: the hub may
/// still pool the stacks of a burst that ended, and never polls again to
/// unmap them, so the wait's idle time does, a batch at a time, until the
/// remaining wait is too short or `woken` says a wake-up came.
fn trim_stacks_while_idle(deadline: Option<Instant>, woken: &dyn Fn() -> bool) {
    if let Some(hub) = Hub::existing() {
        while !woken()
            && hub.trim_stacks_before(deadline.map(|d| d.saturating_duration_since(Instant::now())))
        {
        }
    }
}

fn park_os(
    task: &Arc<Task>,
    deadline: Option<Instant>,
    what: &'static str,
) -> Result<(), WouldBlockForever> {
    if !task.prepare_park(ParkMode::Os) {
        return Ok(());
    }
    let mut idle = Duration::ZERO;
    let mut check_every = DEADLOCK_GRACE;
    let result = loop {
        match deadline {
            Some(at) => {
                let now = Instant::now();
                if at <= now {
                    break Ok(());
                }
                std::thread::park_timeout(at - now);
            }
            None => {
                let started = Instant::now();
                std::thread::park_timeout(check_every);
                idle += started.elapsed();
                if task.is_parked_os() && idle >= check_every {
                    // Still parked after counting: a thread that woke us
                    // and then exited is gone from the count, but its
                    // wake-up shows in our state.
                    if !hub::others_could_wake() && task.is_parked_os() {
                        let e = WouldBlockForever::new(what);
                        super::report::report_would_block_forever(&e, "");
                        break Err(e);
                    }
                    // Another thread may still wake us: look again later,
                    // less and less often.
                    idle = Duration::ZERO;
                    check_every = (check_every * 2).min(DEADLOCK_CHECK_MAX);
                }
            }
        }
        if !task.is_parked_os() {
            break Ok(());
        }
    };
    task.finish_park();
    result
}

#[inline]
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

thread_local! {
    /// Above 0 while the caller waits on behalf of code that must not
    /// unwind (a libc hook called through a `extern "C"` boundary): kills
    /// and timeouts stay pending and end the wait instead (see
    /// [`interrupted_while_deferred`]).
    static DEFERRED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Holds interrupts back while alive; see [`defer_interrupts`].
#[derive(Debug)]
pub(crate) struct DeferInterrupts(());

impl Drop for DeferInterrupts {
    fn drop(&mut self) {
        DEFERRED.with(|d| d.set(d.get() - 1));
    }
}

/// Until the guard drops, waits of the caller neither raise a kill nor an
/// expired `Timeout`; they stay pending for the next wait that may unwind.
pub(crate) fn defer_interrupts() -> DeferInterrupts {
    DEFERRED.with(|d| d.set(d.get() + 1));
    DeferInterrupts(())
}

/// Whether interrupts are deferred and one is pending: a deferred wait
/// should end (its caller reports it as an error code, not a panic).
#[inline]
pub(crate) fn interrupted_while_deferred() -> bool {
    if DEFERRED.with(std::cell::Cell::get) == 0 {
        return false;
    }
    let task = context::current_task();
    task.kill_pending()
        || task
            .earliest_timeout()
            .is_some_and(|t| t.deadline <= Instant::now())
}

/// Raises a pending kill or an expired `Timeout` in the caller, unless it
/// is already unwinding (a second panic there would abort the process) or
/// interrupts are deferred.
#[inline]
fn deliver_interrupts(task: &Task) {
    if task.kill_pending() || task.earliest_timeout().is_some() {
        deliver_pending_interrupts(task);
    }
}

#[cold]
fn deliver_pending_interrupts(task: &Task) {
    if std::thread::panicking() || DEFERRED.with(std::cell::Cell::get) > 0 {
        return;
    }
    if task.take_kill() {
        std::panic::panic_any(Killed);
    }
    if task.earliest_timeout().is_some()
        && let Some(expired) = task.take_expired_timeout(Instant::now())
    {
        std::panic::panic_any(TimeoutExpired { id: expired.id });
    }
}

/// Raises pending interrupts at a point that does not park (a coroutine's
/// first resume, `yield_now`).
pub(crate) fn check_interrupts() {
    let task = context::current_task();
    deliver_interrupts(&task);
}

/// Sleeps until `deadline`: a hub timer inside a coroutine, std's sleep on a
/// thread without coroutines, the hub driven until then otherwise.
pub(crate) fn sleep_until(deadline: Instant) {
    if hub::is_plain_thread() {
        let task = context::thread_task();
        if task.earliest_timeout().is_none() {
            trim_stacks_while_idle(Some(deadline), &|| false);
            let now = Instant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            }
            return;
        }
    }
    while Instant::now() < deadline {
        // A wait with a deadline always ends, so it cannot block forever.
        let _ = park(Some(deadline), "sleep");
    }
}

/// A preemption point, made by every greenstd call (see `slice.rs`): when
/// the caller has used up its time slice, the others get a turn.
#[inline]
pub(crate) fn checkpoint() {
    if super::slice::expired() {
        yield_slice();
    }
}

/// Gives the others a turn at a checkpoint. Unlike [`yield_now`] it raises
/// no kill or timeout: the calls that checkpoint never unwind under std.
#[cold]
fn yield_slice() {
    if std::thread::panicking() {
        // A suspended unwinder would confuse `thread::panicking()`.
        return;
    }
    if context::in_coroutine() {
        let hub = Hub::existing().expect("a coroutine runs on a hub");
        hub.requeue_current();
        // Poll before resuming anyone: the coroutines that would run next
        // may be the ones that starve the rest (a failing accept loop).
        hub.poll_soon();
        suspend();
    } else if let Some(hub) = Hub::existing().filter(|h| h.live() > 0) {
        hub.run_once();
    }
}

/// Lets other coroutines of this thread run.
pub(crate) fn yield_now() {
    if context::in_coroutine() {
        let hub = Hub::existing().expect("a coroutine runs on a hub");
        check_interrupts();
        hub.requeue_current();
        suspend();
        check_interrupts();
    } else {
        match Hub::existing() {
            Some(hub) if hub.live() > 0 => hub.run_once(),
            _ => std::thread::yield_now(),
        }
    }
}

impl Signal {
    /// Waits until the event is set or `deadline` passes; returns whether it
    /// is set.
    pub(crate) fn wait(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<bool, WouldBlockForever> {
        if self.is_set() {
            return Ok(true);
        }
        let me = context::with_current_task(|t| t as *const Task);
        let result = self.wait_registered(me, deadline, what);
        if !matches!(result, Ok(true)) {
            self.forget(me);
        }
        result
    }

    fn wait_registered(
        &self,
        me: *const Task,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<bool, WouldBlockForever> {
        let _guard = ForgetOnUnwind { signal: self, me };
        loop {
            if self.register_current() {
                return Ok(true);
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(false);
            }
            park(deadline, what)?;
            if self.is_set() {
                return Ok(true);
            }
        }
    }

    /// Adds the caller's task to the waiters unless it is there already;
    /// whether the event is set (then it need not wait).
    fn register_current(&self) -> bool {
        let me = context::with_current_task(|t| t as *const Task) as usize;
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            if word & SIGNAL_SET != 0 {
                return true;
            }
            if word & !SIGNAL_FLAGS == me {
                return false; // already the first waiter
            }
            if word & !SIGNAL_FLAGS != 0 {
                return self.register_more();
            }
            let mine = Arc::into_raw(context::current_task()) as usize;
            debug_assert_eq!(mine & SIGNAL_FLAGS, 0);
            match self
                .word
                .compare_exchange(word, word | mine, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return false,
                Err(now) => {
                    // SAFETY: the count taken above, not published.
                    drop(unsafe { Arc::from_raw(mine as *const Task) });
                    word = now;
                }
            }
        }
    }

    /// Registers the caller behind the first waiter.
    fn register_more(&self) -> bool {
        let mut more = self.more.lock().unwrap_or_else(|e| e.into_inner());
        let me = context::with_current_task(|t| t as *const Task);
        if !more.iter().any(|w| std::ptr::eq(Arc::as_ptr(w), me)) {
            more.push(context::current_task());
        }
        // Under the lock, so that a notifier that sees the flag finds us.
        let word = self.word.fetch_or(SIGNAL_MORE, Ordering::AcqRel);
        word & SIGNAL_SET != 0
    }
}

/// Unregisters a waiter that unwinds out of `Signal::wait` (kill, timeout).
struct ForgetOnUnwind<'a> {
    signal: &'a Signal,
    me: *const Task,
}

impl Drop for ForgetOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.signal.forget(self.me);
        }
    }
}

/// A wait list of at most one waiter: for a condition only one context can
/// wait on at a time (the receiving end of a channel, whose `Receiver` is
/// not `Sync`). One word: `0`, the waiting task's address, or [`WAKING`]
/// while a notifier wakes the task it took out. The word holds no reference
/// count: a waiter does not leave its wait while a notifier is waking it,
/// so the task outlives every wake-up made through the slot. Waiting costs
/// one locked store, notifying a load (and a compare-and-swap when someone
/// waits), where a [`WaitQueue`] takes its lock and a fence each time.
///
/// Correct when the condition is changed and checked under one lock (the
/// channel's), or published with a sequentially consistent write: a
/// waiter publishes itself before it checks, a notifier looks after it
/// changed the condition.
#[derive(Debug, Default)]
pub(crate) struct WaitSlot {
    word: AtomicUsize,
}

/// [`WaitSlot`]'s word while a notifier wakes the waiter it took out. Task
/// addresses are aligned, so no task has this one.
const WAKING: usize = 1;

impl WaitSlot {
    pub(crate) const fn new() -> Self {
        WaitSlot {
            word: AtomicUsize::new(0),
        }
    }

    /// Waits until `attempt` produces a value or `deadline` passes: the
    /// value, or `None` on timeout. As [`WaitQueue::wait_for`]. Inlined
    /// into the caller, as everything down to the switch (see
    /// `with_current_task`).
    #[inline(always)]
    pub(crate) fn wait_for<T>(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
        mut attempt: impl FnMut() -> Option<T>,
    ) -> Result<Option<T>, WouldBlockForever> {
        checkpoint();
        if let Some(v) = attempt() {
            return Ok(Some(v));
        }
        let me = context::with_current_task(|t| t as *const Task) as usize;
        debug_assert!(me > WAKING && me.is_multiple_of(std::mem::align_of::<Task>()));
        let _leave = LeaveSlot { slot: self, me };
        loop {
            if self.word.load(Ordering::Relaxed) != me {
                // Only the waiter writes a task into an empty word, so once
                // a notifier of an earlier registration is done, the word
                // stays empty until this store. Sequentially consistent,
                // as the first load in `notify`: a waker may publish its
                // change with a `SeqCst` store instead of a lock the
                // attempt takes (the channel's lock-free emptiness check).
                let old = self.wait_out_wake();
                debug_assert_eq!(old, 0, "a second waiter on a WaitSlot");
                self.word.store(me, Ordering::SeqCst);
                if let Some(v) = attempt() {
                    return Ok(Some(v));
                }
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(None);
            }
            park(deadline, what)?;
            // Woken, most often by the notify that took us out: try before
            // registering again, so that the common end of a wait (a
            // message arrived) costs no store into the word and no
            // compare-exchange to leave it.
            if let Some(v) = attempt() {
                return Ok(Some(v));
            }
        }
    }

    /// Waits while a notifier is waking the waiter it took out (it runs on
    /// another thread: one of this thread's would have finished); returns
    /// the word after.
    fn wait_out_wake(&self) -> usize {
        let mut spins = 0u32;
        loop {
            let word = self.word.load(Ordering::Acquire);
            if word != WAKING {
                return word;
            }
            if spins < 64 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Whether someone waits now.
    pub(crate) fn has_waiters(&self) -> bool {
        self.word.load(Ordering::Acquire) > WAKING
    }

    /// Wakes the waiter, if any.
    pub(crate) fn notify(&self) {
        let word = self.word.load(Ordering::SeqCst);
        // `WAKING`: another notifier wakes the waiter already; the waiter
        // looks at the condition after that wake-up, so it sees this
        // notifier's change too.
        if word <= WAKING {
            return;
        }
        if self
            .word
            .compare_exchange(word, WAKING, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            // SAFETY: the waiter stays in its wait (see `LeaveSlot`), so its
            // task is alive, until the word leaves `WAKING` below.
            let kick = unsafe { (*(word as *const Task)).wake_then_kick() };
            self.word.store(0, Ordering::Release);
            // The system call last, the waiter free to leave (see `Kick`).
            kick.run();
        }
    }
}

/// Takes a waiter out of its [`WaitSlot`] when its wait ends, unless a
/// notify already did, and waits for a notifier still waking it: the
/// waiter's task must outlive that wake-up.
struct LeaveSlot<'a> {
    slot: &'a WaitSlot,
    me: usize,
}

impl Drop for LeaveSlot<'_> {
    fn drop(&mut self) {
        let word = self.slot.word.load(Ordering::Acquire);
        if word == 0 {
            return;
        }
        if word == self.me
            && self
                .slot
                .word
                .compare_exchange(self.me, 0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return;
        }
        self.slot.wait_out_wake();
    }
}

/// A queue of waiters for a condition that other parties change: the one
/// wait primitive of `greenstd::sync`. Works for any mix of coroutines and
/// threads.
#[derive(Debug, Default)]
pub(crate) struct WaitQueue {
    waiters: Mutex<std::collections::VecDeque<Arc<Task>>>,
    /// `waiters.len()`, readable without the lock: a notify with nobody
    /// waiting (an uncontended unlock) costs one load.
    len: std::sync::atomic::AtomicUsize,
}

type Waiters = std::collections::VecDeque<Arc<Task>>;

impl WaitQueue {
    pub(crate) const fn new() -> Self {
        WaitQueue {
            waiters: Mutex::new(std::collections::VecDeque::new()),
            len: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes the queue's length after a waiter joined, before it
    /// re-checks its condition. With the fence in
    /// [`nobody_waits`](WaitQueue::nobody_waits), either the notifier sees
    /// the waiter or the waiter sees the change.
    fn publish(&self, waiters: &Waiters) {
        self.len.store(waiters.len(), Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::SeqCst);
    }

    /// Publishes the length after waiters left: no waiter re-checks
    /// anything against it, so the lock's release orders it enough.
    fn publish_removal(&self, waiters: &Waiters) {
        self.len.store(waiters.len(), Ordering::Relaxed);
    }

    /// Whether the queue is empty, for a notifier that just changed the
    /// condition.
    fn nobody_waits(&self) -> bool {
        std::sync::atomic::fence(Ordering::SeqCst);
        self.len.load(Ordering::SeqCst) == 0
    }

    /// Waits until `ready()` holds or `deadline` passes; returns whether it
    /// holds. `ready` is re-checked after registering, so no wake-up that
    /// follows a change of the condition is lost.
    #[inline]
    pub(crate) fn wait_until(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
        mut ready: impl FnMut() -> bool,
    ) -> Result<bool, WouldBlockForever> {
        checkpoint();
        if ready() {
            return Ok(true);
        }
        self.wait_until_slow(deadline, what, ready)
    }

    /// The waiting part of [`WaitQueue::wait_until`], kept out of line so
    /// that the fast path (an uncontended `lock`) stays small enough to
    /// inline into its caller.
    #[inline(never)]
    fn wait_until_slow(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
        mut ready: impl FnMut() -> bool,
    ) -> Result<bool, WouldBlockForever> {
        let me = context::with_current_task(|t| t as *const Task);
        let mut guard = Dequeue {
            queue: self,
            me,
            pass_on: true,
        };
        loop {
            {
                let mut waiters = self.lock();
                if !waiters.iter().any(|w| std::ptr::eq(Arc::as_ptr(w), me)) {
                    waiters.push_back(context::current_task());
                    self.publish(&waiters);
                }
            }
            if ready() {
                guard.pass_on = false;
                return Ok(true);
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(false);
            }
            park(deadline, what)?;
            // Woken, most often by a notify that took us off the queue:
            // check before queueing again, so that the common end of a
            // wait takes the queue's lock no more (the guard skips it too
            // when the queue is empty).
            if ready() {
                guard.pass_on = false;
                return Ok(true);
            }
        }
    }

    /// Waits until `attempt` produces a value or `deadline` passes: the
    /// value, or `None` on timeout. The common shape of `lock`, `recv`,
    /// `get`: try, and on failure wait for a change and try again.
    pub(crate) fn wait_for<T>(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
        mut attempt: impl FnMut() -> Option<T>,
    ) -> Result<Option<T>, WouldBlockForever> {
        let mut got = None;
        self.wait_until(deadline, what, || {
            got = attempt();
            got.is_some()
        })?;
        Ok(got)
    }

    /// Registers the caller without waiting yet (a `Condvar` registers
    /// before it releases the mutex); follow with
    /// [`park_registered`](WaitQueue::park_registered).
    pub(crate) fn register(&self) -> Arc<Task> {
        let me = context::current_task();
        let mut waiters = self.lock();
        waiters.push_back(me.clone());
        self.publish(&waiters);
        me
    }

    /// Parks a task registered with [`register`](WaitQueue::register) until
    /// notified or `deadline`; returns whether it was notified (rather than
    /// timed out).
    pub(crate) fn park_registered(
        &self,
        me: &Arc<Task>,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<bool, WouldBlockForever> {
        let mut guard = Dequeue {
            queue: self,
            me: Arc::as_ptr(me),
            pass_on: true,
        };
        loop {
            if !self.lock().iter().any(|w| Arc::ptr_eq(w, me)) {
                guard.pass_on = false;
                return Ok(true); // a notify took us off the queue
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(false);
            }
            park(deadline, what)?;
        }
    }

    /// Wakes the longest-waiting task.
    pub(crate) fn notify_one(&self) {
        if self.nobody_waits() {
            return;
        }
        let task = {
            let mut waiters = self.lock();
            let task = waiters.pop_front();
            self.publish_removal(&waiters);
            task
        };
        if let Some(task) = task {
            task.wake();
        }
    }

    /// Wakes every waiting task.
    pub(crate) fn notify_all(&self) {
        if self.nobody_waits() {
            return;
        }
        let tasks = {
            let mut waiters = self.lock();
            let tasks = std::mem::take(&mut *waiters);
            self.publish_removal(&waiters);
            tasks
        };
        for task in tasks {
            task.wake();
        }
    }
}

/// Takes a waiter off a [`WaitQueue`] when its wait ends, however it ends.
/// A waiter that a `notify_one` picked but that leaves without using it
/// (timed out, killed) passes the notification on, so it is not lost.
struct Dequeue<'a> {
    queue: &'a WaitQueue,
    me: *const Task,
    pass_on: bool,
}

impl Drop for Dequeue<'_> {
    fn drop(&mut self) {
        // An empty queue cannot hold us: only we queue ourselves, and a
        // length of 0 published after our push means a notify took us
        // off. The common end of a wait (notified, then ready) skips the
        // lock.
        let was_queued = self.queue.len.load(Ordering::Relaxed) != 0 && {
            let mut waiters = self.queue.lock();
            let before = waiters.len();
            waiters.retain(|w| !std::ptr::eq(Arc::as_ptr(w), self.me));
            self.queue.publish_removal(&waiters);
            waiters.len() != before
        };
        if self.pass_on && !was_queued {
            self.queue.notify_one();
        }
    }
}
