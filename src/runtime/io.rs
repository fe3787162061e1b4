//! Waiting for a file descriptor's readiness.
//!
//! Sockets stay non-blocking at the OS level. A facade runs its syscall
//! through [`Registration::io`]: the syscall is tried first; on
//! `WouldBlock` the caller waits for the next readiness event in that
//! direction and tries again. The first wait registers the fd
//! (edge-triggered, both directions) with the hub of the waiting thread; a
//! wait from another thread's hub moves it there.
//!
//! Events are counted, not stored as flags: the caller notes the count
//! before its syscall and, after `WouldBlock`, waits only if no event
//! arrived since. So an event that lands during the syscall is never lost,
//! and several waiters on one fd all retry after each event.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Token};

use super::hub::{self, Hub};
use super::task::Task;

/// The direction a caller waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Readable, or the peer closed, or an error is pending.
    Read,
    /// Writable, or the connection closed, or an error is pending.
    Write,
}

impl Direction {
    pub(crate) fn index(self) -> usize {
        match self {
            Direction::Read => 0,
            Direction::Write => 1,
        }
    }
}

/// Where an fd is registered.
#[derive(Debug)]
struct Link {
    hub_id: u64,
    token: usize,
    /// The hub's own registry handle (one per hub, not per fd).
    registry: Arc<mio::Registry>,
}

#[derive(Debug, Default)]
struct State {
    waiters: [Vec<Arc<Task>>; 2],
    link: Option<Link>,
}

#[derive(Debug)]
struct Shared {
    /// Events seen per direction; changed only with `state` locked, read
    /// without the lock before each syscall.
    ticks: [AtomicU64; 2],
    /// Per direction, the tick at which a transfer came back short, i.e.
    /// the socket was drained; `u64::MAX` when not known to be drained.
    drained_at: [AtomicU64; 2],
    /// Per direction, whether an event reported the end of the stream or
    /// an error: then a short transfer proves nothing (the next read
    /// returns 0 or the error at once) and the shortcut is off for good.
    closed: [AtomicBool; 2],
    state: Mutex<State>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            ticks: Default::default(),
            drained_at: [AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)],
            closed: Default::default(),
            state: Mutex::default(),
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_event(&self, read: bool, write: bool, read_closed: bool, write_closed: bool) {
        if read_closed {
            self.closed[0].store(true, Ordering::Release);
        }
        if write_closed {
            self.closed[1].store(true, Ordering::Release);
        }
        let woken = {
            let mut state = self.lock();
            let mut woken = Vec::new();
            for (dir, hit) in [(0, read), (1, write)] {
                if hit {
                    self.ticks[dir].fetch_add(1, Ordering::AcqRel);
                    woken.append(&mut state.waiters[dir]);
                }
            }
            woken
        };
        for task in woken {
            task.wake();
        }
    }
}

/// The hub's table from poll tokens to registered fds.
#[derive(Debug, Default)]
pub(crate) struct IoTable {
    entries: Vec<Weak<Shared>>,
    free: Vec<usize>,
    registered: usize,
}

impl IoTable {
    fn insert(&mut self, shared: &Arc<Shared>) -> usize {
        self.registered += 1;
        if let Some(token) = self.free.pop() {
            self.entries[token] = Arc::downgrade(shared);
            return token;
        }
        // Entries of fds dropped on another thread are left behind as dead
        // weak pointers; reclaim them when the table is about to double, so
        // the scan costs O(1) per insertion on average.
        if self.entries.len() >= 64 && self.entries.len().is_power_of_two() {
            let dead: Vec<usize> = (0..self.entries.len())
                .filter(|&t| self.entries[t].strong_count() == 0)
                .collect();
            self.registered = self.registered.saturating_sub(dead.len());
            self.free.extend(dead);
            if let Some(token) = self.free.pop() {
                self.entries[token] = Arc::downgrade(shared);
                return token;
            }
        }
        self.entries.push(Arc::downgrade(shared));
        self.entries.len() - 1
    }

    fn remove(&mut self, token: usize) {
        if let Some(entry) = self.entries.get_mut(token) {
            *entry = Weak::new();
            self.free.push(token);
            self.registered = self.registered.saturating_sub(1);
        }
    }

    /// Whether any fd is registered (and so an event could still arrive).
    pub(crate) fn has_waiters(&self) -> bool {
        self.registered > 0
    }

    pub(crate) fn dispatch(&self, event: &mio::event::Event) {
        let Some(shared) = self.entries.get(event.token().0).and_then(Weak::upgrade) else {
            return;
        };
        let error = event.is_error();
        let read_closed = event.is_read_closed() || error;
        let write_closed = event.is_write_closed() || error;
        shared.on_event(
            event.is_readable() || read_closed,
            event.is_writable() || write_closed,
            read_closed,
            write_closed,
        );
    }
}

thread_local! {
    /// Above 0 while the runtime makes its own non-blocking syscall on a
    /// socket it manages: libc hooks (greenstd-monkey) let such calls
    /// through untouched.
    static OWN_SYSCALL: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether the runtime is making its own syscall on this thread now.
#[inline]
pub(crate) fn in_own_syscall() -> bool {
    OWN_SYSCALL.with(std::cell::Cell::get) > 0
}

/// Runs `op`, a syscall of the runtime's own, marked as such.
#[inline]
fn own<T>(op: impl FnOnce() -> T) -> T {
    struct Unmark;
    impl Drop for Unmark {
        fn drop(&mut self) {
            OWN_SYSCALL.with(|c| c.set(c.get() - 1));
        }
    }
    OWN_SYSCALL.with(|c| c.set(c.get() + 1));
    let _unmark = Unmark;
    op()
}

/// What to do when a hooked call would block: fail at once (the caller's
/// socket is non-blocking) or wait until the deadline.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// Return the `WouldBlock` error as it is.
    Fail,
    /// Wait for readiness, until the deadline if any.
    Wait(Option<Instant>),
}

/// An fd's link with the hubs that wait on it. Dropping it deregisters the
/// fd; drop it before closing the fd.
#[derive(Debug)]
pub struct Registration {
    fd: RawFd,
    shared: Arc<Shared>,
}

impl Registration {
    /// A registration for `fd`; nothing is registered until the first wait.
    pub fn new(fd: RawFd) -> Self {
        Registration {
            fd,
            shared: Arc::new(Shared::default()),
        }
    }

    /// Runs `op` (a non-blocking syscall on the fd) until it does not
    /// fail with `WouldBlock`, waiting for readiness in `direction` between
    /// tries. `Interrupted` is retried too.
    ///
    /// Returns `Ok(None)` when `deadline` passed first.
    ///
    /// # Errors
    /// `op`'s error; an error from registering the fd; `Deadlock` from a
    /// thread's context when nothing could ever make the fd ready.
    pub fn io<T>(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        mut op: impl FnMut() -> io::Result<T>,
    ) -> io::Result<Option<T>> {
        loop {
            let tick = self.shared.ticks[direction.index()].load(Ordering::Acquire);
            match own(&mut op) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other.map(Some),
            }
            if !self.wait(direction, tick, deadline)? {
                return Ok(None);
            }
        }
    }

    /// As [`io`](Self::io), for a call whose deadline (or whether it may
    /// wait at all) is only worth finding out once it would block: `plan`
    /// is asked then, once. The path of greenstd-monkey's hooks, which
    /// learn the caller's blocking mode and socket timeout from the kernel.
    ///
    /// Returns `Ok(None)` when the plan says fail, or its deadline passed.
    ///
    /// # Errors
    /// As [`io`](Self::io); `plan`'s error.
    pub(crate) fn io_planned<T>(
        &self,
        direction: Direction,
        mut plan: impl FnMut() -> io::Result<Plan>,
        mut op: impl FnMut() -> io::Result<T>,
    ) -> io::Result<Option<T>> {
        let mut deadline = None;
        let mut planned = false;
        loop {
            let tick = self.shared.ticks[direction.index()].load(Ordering::Acquire);
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other.map(Some),
            }
            if !planned {
                planned = true;
                match plan()? {
                    Plan::Fail => return Ok(None),
                    Plan::Wait(at) => deadline = at,
                }
            }
            if !self.wait(direction, tick, deadline)? {
                return Ok(None);
            }
        }
    }

    /// As [`io`](Self::io), for a transfer of up to `len` bytes (a stream
    /// read or write). A transfer that comes back short has drained the
    /// socket in that direction, so the next one skips the syscall that
    /// would only fail with `WouldBlock` and waits for the next event at
    /// once (an event during the short transfer advances the tick and
    /// cancels the shortcut). Saves one syscall per message under load.
    pub fn io_transfer(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        len: usize,
        mut op: impl FnMut() -> io::Result<usize>,
    ) -> io::Result<Option<usize>> {
        let dir = direction.index();
        loop {
            let tick = self.shared.ticks[dir].load(Ordering::Acquire);
            if self.shared.drained_at[dir].load(Ordering::Acquire) != tick {
                match own(&mut op) {
                    Ok(n) => {
                        let short = n < len && n > 0;
                        let drained = if short && !self.shared.closed[dir].load(Ordering::Acquire) {
                            tick
                        } else {
                            u64::MAX
                        };
                        self.shared.drained_at[dir].store(drained, Ordering::Release);
                        return Ok(Some(n));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            if !self.wait(direction, tick, deadline)? {
                return Ok(None);
            }
            // Woken: whatever drained the socket is history now.
            self.shared.drained_at[dir].store(u64::MAX, Ordering::Release);
        }
    }

    /// Waits until an event in `direction` newer than `tick` arrives, or
    /// `deadline` passes. Returns `Ok(true)` when the caller should retry
    /// its syscall, `Ok(false)` when the deadline passed first.
    fn wait(&self, direction: Direction, tick: u64, deadline: Option<Instant>) -> io::Result<bool> {
        if !hub::in_coroutine() && Hub::existing().is_none_or(|h| h.live() == 0) {
            return crate::sys::poll_fd(self.fd, direction == Direction::Read, deadline);
        }
        let hub = Hub::get()?;
        let me = hub::current_task();
        let _unregister = Unregister {
            shared: &self.shared,
            me: &me,
        };
        let dir = direction.index();
        loop {
            {
                let mut state = self.shared.lock();
                if self.shared.ticks[dir].load(Ordering::Acquire) != tick {
                    return Ok(true);
                }
                if state.link.as_ref().is_none_or(|l| l.hub_id != hub.id()) {
                    self.link_to(&hub, &mut state)?;
                    // The new registration may have missed a state that
                    // already holds: let the caller retry once.
                    return Ok(true);
                }
                if !state.waiters[dir].iter().any(|t| Arc::ptr_eq(t, &me)) {
                    state.waiters[dir].push(me.clone());
                }
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(false);
            }
            super::wait::park(deadline, "socket I/O")?;
            if super::wait::interrupted_while_deferred() {
                return Err(io::Error::from_raw_os_error(libc::ECANCELED));
            }
        }
    }

    fn link_to(&self, hub: &Hub, state: &mut State) -> io::Result<()> {
        if let Some(old) = state.link.take() {
            let _ = old.registry.deregister(&mut SourceFd(&self.fd));
            if let Some(current) = Hub::existing().filter(|h| h.id() == old.hub_id) {
                current.io.borrow_mut().remove(old.token);
            }
        }
        let token = hub.io.borrow_mut().insert(&self.shared);
        let registry = hub.poll_registry();
        if let Err(e) = registry.register(
            &mut SourceFd(&self.fd),
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            hub.io.borrow_mut().remove(token);
            return Err(e);
        }
        state.link = Some(Link {
            hub_id: hub.id(),
            token,
            registry,
        });
        Ok(())
    }
}

/// Waits until any of `waits` (a registration, a direction and the tick
/// noted before the caller's last try) sees a newer event, or `deadline`
/// passes: the multi-fd wait behind a hooked `poll`. Returns `Ok(true)`
/// when the caller should look again, `Ok(false)` when the deadline passed.
/// Only inside a coroutine.
///
/// # Errors
/// An error registering an fd (`EPERM` for one epoll cannot watch);
/// `ECANCELED` when interrupted while interrupts are deferred.
pub(crate) fn wait_any(
    waits: &[(&Registration, Direction, u64)],
    deadline: Option<Instant>,
) -> io::Result<bool> {
    let hub = Hub::get()?;
    let me = hub::current_task();
    struct UnregisterAll<'a>(&'a [(&'a Registration, Direction, u64)], &'a Arc<Task>);
    impl Drop for UnregisterAll<'_> {
        fn drop(&mut self) {
            for (reg, ..) in self.0 {
                Unregister {
                    shared: &reg.shared,
                    me: self.1,
                };
            }
        }
    }
    let _unregister = UnregisterAll(waits, &me);
    loop {
        for (reg, direction, tick) in waits {
            let dir = direction.index();
            let mut state = reg.shared.lock();
            if reg.shared.ticks[dir].load(Ordering::Acquire) != *tick {
                return Ok(true);
            }
            if state.link.as_ref().is_none_or(|l| l.hub_id != hub.id()) {
                reg.link_to(&hub, &mut state)?;
                return Ok(true);
            }
            if !state.waiters[dir].iter().any(|t| Arc::ptr_eq(t, &me)) {
                state.waiters[dir].push(me.clone());
            }
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Ok(false);
        }
        super::wait::park(deadline, "poll")?;
        if super::wait::interrupted_while_deferred() {
            return Err(io::Error::from_raw_os_error(libc::ECANCELED));
        }
    }
}

impl Registration {
    /// Forgets the link without telling epoll: for an fd number that was
    /// closed meanwhile (the kernel dropped its registration with the file)
    /// and may now name another file, whose registration must not be
    /// touched.
    pub(crate) fn abandon(&self) {
        let link = self.shared.lock().link.take();
        if let Some(link) = link
            && let Some(hub) = Hub::existing().filter(|h| h.id() == link.hub_id)
        {
            hub.io.borrow_mut().remove(link.token);
        }
    }

    /// The count of events seen in `direction`, to note before a try.
    pub(crate) fn tick(&self, direction: Direction) -> u64 {
        self.shared.ticks[direction.index()].load(Ordering::Acquire)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let link = self.shared.lock().link.take();
        if let Some(link) = link {
            let _ = link.registry.deregister(&mut SourceFd(&self.fd));
            if let Some(hub) = Hub::existing().filter(|h| h.id() == link.hub_id) {
                hub.io.borrow_mut().remove(link.token);
            }
        }
    }
}

/// Takes a waiter off the lists when its wait ends, however it ends.
struct Unregister<'a> {
    shared: &'a Shared,
    me: &'a Arc<Task>,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        for list in &mut state.waiters {
            list.retain(|t| !Arc::ptr_eq(t, self.me));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        (a, b)
    }

    fn read_some(
        sock: &mut UnixStream,
        reg: &Registration,
        deadline: Option<Instant>,
    ) -> io::Result<usize> {
        let mut buf = [0u8; 64];
        reg.io(Direction::Read, deadline, || sock.read(&mut buf))?
            .ok_or_else(|| io::ErrorKind::TimedOut.into())
    }

    #[test]
    fn a_coroutine_waits_for_readability_while_others_run() {
        let (mut a, mut b) = pair();
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let reader = crate::thread::spawn(move || {
            let reg = Registration::new(a.as_raw_fd());
            let before = t.load(Ordering::SeqCst);
            let n = read_some(&mut a, &reg, None).unwrap();
            (n, t.load(Ordering::SeqCst) - before)
        });
        let t = ticks.clone();
        let writer = crate::thread::spawn(move || {
            for _ in 0..5 {
                t.fetch_add(1, Ordering::SeqCst);
                crate::thread::sleep(Duration::from_millis(2));
            }
            b.write_all(b"hello").unwrap();
            b
        });
        let _b = writer.join().unwrap();
        let (n, progressed) = reader.join().unwrap();
        assert_eq!(n, 5);
        assert!(progressed >= 5);
    }

    #[test]
    fn the_deadline_ends_a_wait() {
        let (mut a, _b) = pair();
        let h = crate::thread::spawn(move || {
            let reg = Registration::new(a.as_raw_fd());
            let deadline = Instant::now() + Duration::from_millis(10);
            let r = read_some(&mut a, &reg, Some(deadline));
            (r.unwrap_err().kind(), Instant::now() >= deadline)
        });
        assert_eq!(h.join().unwrap(), (io::ErrorKind::TimedOut, true));
    }

    #[test]
    fn a_thread_without_coroutines_polls_the_fd_alone() {
        let (mut a, mut b) = pair();
        let reg = Registration::new(a.as_raw_fd());
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            b.write_all(b"x").unwrap();
            b
        });
        assert_eq!(read_some(&mut a, &reg, None).unwrap(), 1);
        let _b = writer.join().unwrap();
        let deadline = Instant::now() + Duration::from_millis(5);
        let r = read_some(&mut a, &reg, Some(deadline));
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn a_registration_moves_to_the_hub_of_another_thread() {
        let (mut a, b) = pair();
        let reg = Registration::new(a.as_raw_fd());
        let (mut b, reg, mut a) = crate::thread::spawn(move || {
            let mut b = b;
            b.write_all(b"1").unwrap();
            read_some(&mut a, &reg, None).unwrap();
            (b, reg, a)
        })
        .join()
        .unwrap();
        let other = std::thread::spawn(move || {
            crate::thread::spawn(move || {
                b.write_all(b"2").unwrap();
                let n = read_some(&mut a, &reg, None).unwrap();
                drop(reg);
                n
            })
            .join()
            .unwrap()
        });
        assert_eq!(other.join().unwrap(), 1);
    }

    #[test]
    fn several_readers_of_one_fd_share_the_data() {
        let (a, mut b) = pair();
        let a = Arc::new(a);
        let reg = Arc::new(Registration::new(a.as_raw_fd()));
        let total = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let (a, reg, total) = (a.clone(), reg.clone(), total.clone());
                crate::thread::spawn(move || {
                    let mut buf = [0u8; 1];
                    let n = reg
                        .io(Direction::Read, None, || (&*a).read(&mut buf))
                        .unwrap()
                        .unwrap();
                    total.fetch_add(n, Ordering::SeqCst);
                })
            })
            .collect();
        crate::thread::yield_now();
        // One byte at a time, with the readers parked in between.
        for _ in 0..3 {
            b.write_all(b"!").unwrap();
            crate::thread::sleep(Duration::from_millis(2));
        }
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(total.load(Ordering::SeqCst), 3);
    }
}
