//! Waiting for a file descriptor's readiness.
//!
//! Sockets stay non-blocking at the OS level. A facade tries its syscall
//! first and calls [`Registration::wait`] only on `WouldBlock`. The first
//! wait registers the fd (edge-triggered, both directions) with the hub of
//! the waiting thread; a wait from another thread's hub moves it there.
//! Events set readiness bits and wake the waiters; a wait consumes the bit
//! of its direction and tells the caller to retry.

use std::io;
use std::os::fd::RawFd;
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

const READ: u8 = 1;
const WRITE: u8 = 2;

impl Direction {
    fn bit(self) -> u8 {
        match self {
            Direction::Read => READ,
            Direction::Write => WRITE,
        }
    }
}

/// Where an fd is registered.
#[derive(Debug)]
struct Link {
    hub_id: u64,
    token: usize,
    registry: mio::Registry,
}

#[derive(Debug, Default)]
struct State {
    ready: u8,
    readers: Vec<Arc<Task>>,
    writers: Vec<Arc<Task>>,
    link: Option<Link>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_event(&self, bits: u8) {
        let woken = {
            let mut state = self.lock();
            state.ready |= bits;
            let mut woken = Vec::new();
            if bits & READ != 0 {
                woken.append(&mut state.readers);
            }
            if bits & WRITE != 0 {
                woken.append(&mut state.writers);
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
        // weak pointers; reclaim them before growing.
        if let Some(token) = self.entries.iter().position(|w| w.strong_count() == 0) {
            self.entries[token] = Arc::downgrade(shared);
            return token;
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
        let mut bits = 0;
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            bits |= READ;
        }
        if event.is_writable() || event.is_write_closed() || event.is_error() {
            bits |= WRITE;
        }
        shared.on_event(bits);
    }
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

    /// Waits until `fd` may be ready in `direction` or `deadline` passes.
    /// Returns `Ok(true)` when the caller should retry its syscall, and
    /// `Ok(false)` when the deadline passed first.
    ///
    /// # Errors
    /// An error from registering the fd with the poller, or `Deadlock` from a
    /// thread's context when nothing could ever make the fd ready.
    pub fn wait(&self, direction: Direction, deadline: Option<Instant>) -> io::Result<bool> {
        if !hub::in_coroutine() && Hub::existing().is_none_or(|h| h.live() == 0) {
            return crate::sys::poll_fd(self.fd, direction == Direction::Read, deadline);
        }
        let hub = Hub::get()?;
        let me = hub::current_task();
        let _unregister = Unregister {
            shared: &self.shared,
            me: &me,
        };
        loop {
            {
                let mut state = self.shared.lock();
                if state.ready & direction.bit() != 0 {
                    state.ready &= !direction.bit();
                    return Ok(true);
                }
                if state.link.as_ref().is_none_or(|l| l.hub_id != hub.id()) {
                    self.link_to(&hub, &mut state)?;
                    // Edge-triggered registration may not report a state
                    // that already holds: let the caller retry once.
                    return Ok(true);
                }
                let list = match direction {
                    Direction::Read => &mut state.readers,
                    Direction::Write => &mut state.writers,
                };
                if !list.iter().any(|t| Arc::ptr_eq(t, &me)) {
                    list.push(me.clone());
                }
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(false);
            }
            super::wait::park(deadline, "socket I/O")?;
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
        let registry = hub.poll_registry()?;
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
        state.readers.retain(|t| !Arc::ptr_eq(t, self.me));
        state.writers.retain(|t| !Arc::ptr_eq(t, self.me));
    }
}
