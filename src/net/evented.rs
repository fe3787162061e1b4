//! What every greenstd socket shares: a std socket kept non-blocking at the
//! OS level, its registration with the hub, the user-visible
//! non-blocking flag and the read/write timeouts.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::runtime::{Direction, Registration};

/// A std socket made cooperative.
#[derive(Debug)]
pub(crate) struct Evented<S: AsFd> {
    // Declared first: dropped (and deregistered) before the fd closes.
    registration: Registration,
    inner: S,
    /// Shared by `try_clone`d handles: in std the flag (`O_NONBLOCK`) and
    /// the timeouts (`SO_RCVTIMEO`...) belong to the socket, not the fd.
    settings: Arc<Settings>,
}

/// Read on every call, so kept in atomics rather than behind a lock.
#[derive(Debug, Default)]
struct Settings {
    nonblocking: AtomicBool,
    /// Per direction, the timeout in nanoseconds; 0 for none (std refuses
    /// a zero timeout, so 0 is free to mean "none").
    timeouts: [AtomicU64; 2],
}

impl Settings {
    fn timeout(&self, direction: Direction) -> Option<Duration> {
        match self.timeouts[direction.index()].load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    fn set_timeout(&self, direction: Direction, timeout: Option<Duration>) {
        let nanos = timeout.map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
        self.timeouts[direction.index()].store(nanos, Ordering::Relaxed);
    }
}

impl<S: AsFd> Evented<S> {
    /// Takes a std socket and makes it non-blocking at the OS level.
    pub(crate) fn new(inner: S) -> io::Result<Self> {
        socket2::SockRef::from(&inner).set_nonblocking(true)?;
        Ok(Evented {
            registration: Registration::new(inner.as_fd().as_raw_fd()),
            inner,
            settings: Arc::default(),
        })
    }

    /// Takes a std socket that is already non-blocking at the OS level (made
    /// with `SOCK_NONBLOCK`, accepted with `accept4`): no syscall.
    pub(crate) fn new_nonblocking(inner: S) -> Self {
        debug_assert!(socket2::SockRef::from(&inner).nonblocking().unwrap_or(true));
        Evented {
            registration: Registration::new(inner.as_fd().as_raw_fd()),
            inner,
            settings: Arc::default(),
        }
    }

    /// Wraps `inner`, a new fd for the same socket as `original`'s, sharing
    /// its settings (`try_clone`).
    pub(crate) fn clone_of(original: &Self, inner: S) -> io::Result<Self> {
        let mut clone = Evented::new(inner)?;
        clone.settings = original.settings.clone();
        Ok(clone)
    }

    /// Wraps a socket handed over as an fd (`From<OwnedFd>`), which cannot
    /// fail; should the fd refuse non-blocking mode, calls on it block the
    /// thread instead of the coroutine.
    pub(crate) fn adopt(inner: S) -> Self {
        let _ = socket2::SockRef::from(&inner).set_nonblocking(true);
        Evented {
            registration: Registration::new(inner.as_fd().as_raw_fd()),
            inner,
            settings: Arc::default(),
        }
    }

    /// The std socket, still non-blocking at the OS level.
    pub(crate) fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Gives the std socket back in the blocking mode the user last set.
    pub(crate) fn into_std(self) -> S {
        let nonblocking = self.settings.nonblocking.load(Ordering::Relaxed);
        let Evented {
            registration,
            inner,
            ..
        } = self;
        drop(registration);
        // Only an invalid fd refuses this, and ours is valid.
        let _ = socket2::SockRef::from(&inner).set_nonblocking(nonblocking);
        inner
    }

    /// Runs a read-side syscall: at once in non-blocking mode, otherwise
    /// waiting for readiness until the read timeout (`WouldBlock`, as std
    /// on Unix).
    pub(crate) fn read<T>(&self, op: impl FnMut(&S) -> io::Result<T>) -> io::Result<T> {
        self.run(Direction::Read, op)
    }

    /// As [`read`](Self::read), for the write side and its timeout.
    pub(crate) fn write<T>(&self, op: impl FnMut(&S) -> io::Result<T>) -> io::Result<T> {
        self.run(Direction::Write, op)
    }

    /// A stream read of up to `len` bytes; see `Registration::io_transfer`.
    pub(crate) fn read_transfer(
        &self,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.transfer(Direction::Read, len, op)
    }

    /// A stream write of up to `len` bytes; see `Registration::io_transfer`.
    pub(crate) fn write_transfer(
        &self,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.transfer(Direction::Write, len, op)
    }

    /// The deadline of a call in `direction`, or `None` in non-blocking
    /// mode (the call is made once, without waiting).
    fn blocking_deadline(&self, direction: Direction) -> Option<Option<Instant>> {
        if self.settings.nonblocking.load(Ordering::Relaxed) {
            return None;
        }
        Some(
            self.settings
                .timeout(direction)
                .map(crate::runtime::deadline_after),
        )
    }

    fn transfer(
        &self,
        direction: Direction,
        len: usize,
        mut op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        crate::runtime::checkpoint();
        let Some(deadline) = self.blocking_deadline(direction) else {
            return op(&self.inner);
        };
        self.registration
            .io_transfer(direction, deadline, len, || op(&self.inner))?
            .ok_or_else(crate::sys::socket_timeout_error)
    }

    /// Waits without a timeout of the socket's own, until `deadline`
    /// (`connect`, `accept`): `Ok(None)` when it passed.
    pub(crate) fn wait_until<T>(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        mut op: impl FnMut(&S) -> io::Result<T>,
    ) -> io::Result<Option<T>> {
        crate::runtime::checkpoint();
        self.registration
            .io(direction, deadline, || op(&self.inner))
    }

    fn run<T>(
        &self,
        direction: Direction,
        mut op: impl FnMut(&S) -> io::Result<T>,
    ) -> io::Result<T> {
        crate::runtime::checkpoint();
        let Some(deadline) = self.blocking_deadline(direction) else {
            return op(&self.inner);
        };
        self.registration
            .io(direction, deadline, || op(&self.inner))?
            .ok_or_else(crate::sys::socket_timeout_error)
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) {
        self.settings
            .nonblocking
            .store(nonblocking, Ordering::Relaxed);
    }

    /// Sets the read timeout. It is also set on the socket (where, the
    /// socket being non-blocking, it has no effect) so that the getter
    /// reports the kernel's rounding of it, as std's does.
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        socket2::SockRef::from(&self.inner).set_read_timeout(timeout)?;
        self.settings.set_timeout(Direction::Read, timeout);
        Ok(())
    }

    /// Sets the write timeout; see [`set_read_timeout`](Self::set_read_timeout).
    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        socket2::SockRef::from(&self.inner).set_write_timeout(timeout)?;
        self.settings.set_timeout(Direction::Write, timeout);
        Ok(())
    }

    /// The read timeout as the socket reports it (std's getter).
    pub(crate) fn read_timeout(&self) -> io::Result<Option<Duration>> {
        socket2::SockRef::from(&self.inner).read_timeout()
    }

    /// The write timeout as the socket reports it (std's getter).
    pub(crate) fn write_timeout(&self) -> io::Result<Option<Duration>> {
        socket2::SockRef::from(&self.inner).write_timeout()
    }
}

/// std rejects a zero timeout with this error.
fn check_timeout(timeout: Option<Duration>) -> io::Result<()> {
    if timeout == Some(Duration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(())
}
