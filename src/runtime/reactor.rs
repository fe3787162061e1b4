//! The reactor's data: per fd, the readiness seen so far and who waits
//! for it ([`Shared`]); per hub, the table from poll tokens to fds
//! ([`IoTable`]) through which the hub's poll delivers events.
//!
//! Events are counted, not stored as flags: a waiter notes the count
//! before its syscall and, after `WouldBlock`, waits only if no event
//! arrived since. So an event that lands during the syscall is never lost,
//! and several waiters on one fd all retry after each event.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

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
pub(crate) struct Link {
    pub(crate) hub_id: u64,
    pub(crate) token: usize,
    /// The hub's own registry handle (one per hub, not per fd).
    pub(crate) registry: Arc<mio::Registry>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) waiters: [Vec<Arc<Task>>; 2],
    pub(crate) link: Option<Link>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// Events seen per direction; changed only with `state` locked, read
    /// without the lock before each syscall.
    pub(crate) ticks: [AtomicU64; 2],
    /// Per direction, the tick at which a transfer came back short, i.e.
    /// the socket was drained; `u64::MAX` when not known to be drained.
    pub(crate) drained_at: [AtomicU64; 2],
    /// Per direction, whether an event reported the end of the stream or
    /// an error: then a short transfer proves nothing (the next read
    /// returns 0 or the error at once) and the shortcut is off for good.
    pub(crate) closed: [AtomicBool; 2],
    pub(crate) state: Mutex<State>,
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
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_event(&self, read: bool, write: bool, read_closed: bool, write_closed: bool) {
        if read_closed {
            self.closed[0].store(true, Ordering::Release);
        }
        if write_closed {
            self.closed[1].store(true, Ordering::Release);
        }
        let mut state = self.lock();
        for (dir, hit) in [(0, read), (1, write)] {
            if hit {
                // Only changed with `state` locked: a load and a store.
                let tick = self.ticks[dir].load(Ordering::Relaxed);
                self.ticks[dir].store(tick.wrapping_add(1), Ordering::Release);
                // Woken under the lock, which keeps the list's allocation:
                // a wake-up takes no lock of its own that could be held
                // while this one is wanted (a local one takes none at all).
                for task in state.waiters[dir].drain(..) {
                    task.wake();
                }
            }
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
    pub(crate) fn insert(&mut self, shared: &Arc<Shared>) -> usize {
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

    pub(crate) fn remove(&mut self, token: usize) {
        if let Some(entry) = self.entries.get_mut(token) {
            *entry = Weak::new();
            self.free.push(token);
            self.registered = self.registered.saturating_sub(1);
        }
    }

    /// Whether any fd is registered (and so an event could still arrive).
    pub(crate) fn has_registrations(&self) -> bool {
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
