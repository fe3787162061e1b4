//! Waiting for a file descriptor's readiness.
//!
//! Sockets stay non-blocking at the OS level. A facade runs its syscall
//! through [`Registration::io`]: the syscall is tried first; on
//! `WouldBlock` the caller waits for the next readiness event in that
//! direction and tries again. The first wait registers the fd
//! (edge-triggered, both directions) with the hub of the waiting thread; a
//! wait from another thread's hub moves it there.
//!
//! The readiness counts and waiter lists live in the reactor
//! ([`super::reactor`]), which the hub's poll feeds.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Token};

use super::context;
use super::hub::{self, Hub};
pub use super::reactor::Direction;
use super::reactor::{Link, Shared, State};
use super::task::Task;

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
        self.io_planned(direction, || Ok(Plan::Wait(deadline)), || own(&mut op))
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
        if hub::is_plain_thread() {
            return crate::sys::poll_fd(self.fd, direction == Direction::Read, deadline);
        }
        wait_any(&[(self, direction, tick)], deadline, "socket I/O")
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
    what: &'static str,
) -> io::Result<bool> {
    let hub = Hub::get()?;
    let me = context::with_current_task(|t| t as *const Task);
    struct UnregisterAll<'a>(&'a [(&'a Registration, Direction, u64)], *const Task);
    impl Drop for UnregisterAll<'_> {
        fn drop(&mut self) {
            for (reg, ..) in self.0 {
                let mut state = reg.shared.lock();
                for list in &mut state.waiters {
                    list.retain(|t| !std::ptr::eq(Arc::as_ptr(t), self.1));
                }
            }
        }
    }
    let _unregister = UnregisterAll(waits, me);
    loop {
        for (reg, direction, tick) in waits {
            let dir = direction.index();
            let mut state = reg.shared.lock();
            if reg.shared.ticks[dir].load(Ordering::Acquire) != *tick {
                return Ok(true);
            }
            if state.link.as_ref().is_none_or(|l| l.hub_id != hub.id()) {
                // No retry needed: registering an fd edge-triggered reports
                // the readiness it already has at the next poll, so a state
                // that held before is not missed (and a retry would cost a
                // syscall that fails with `WouldBlock` whenever the fd is
                // not ready yet, the usual case).
                reg.link_to(&hub, &mut state)?;
            }
            if !state.waiters[dir]
                .iter()
                .any(|t| std::ptr::eq(Arc::as_ptr(t), me))
            {
                state.waiters[dir].push(context::current_task());
            }
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Ok(false);
        }
        super::wait::park(deadline, what)?;
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
        // Both on this thread's hub, whatever GREENSTD_HUBS says: the test
        // counts what the other coroutine of the same hub did meanwhile.
        let here = || crate::thread::Builder::new().placement(crate::Placement::ThisThread);
        let reader = here()
            .spawn(move || {
                let reg = Registration::new(a.as_raw_fd());
                let before = t.load(Ordering::SeqCst);
                let n = read_some(&mut a, &reg, None).unwrap();
                (n, t.load(Ordering::SeqCst) - before)
            })
            .unwrap();
        let t = ticks.clone();
        let writer = here()
            .spawn(move || {
                for _ in 0..5 {
                    t.fetch_add(1, Ordering::SeqCst);
                    crate::thread::sleep(Duration::from_millis(2));
                }
                b.write_all(b"hello").unwrap();
                b
            })
            .unwrap();
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
