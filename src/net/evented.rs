//! What every greenstd socket shares: a std socket kept non-blocking at the
//! OS level, its registration with the hub, the user-visible
//! non-blocking flag and the read/write timeouts.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::runtime::io::{Direction, Registration};

/// A std socket made cooperative.
#[derive(Debug)]
pub(crate) struct Evented<S: AsFd> {
    // Declared first: dropped (and deregistered) before the fd closes.
    registration: Registration,
    inner: S,
    /// Shared by `try_clone`d handles: in std the flag (`O_NONBLOCK`) and
    /// the timeouts (`SO_RCVTIMEO`...) belong to the socket, not the fd.
    settings: Arc<Mutex<Settings>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Settings {
    nonblocking: bool,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
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
        let nonblocking = self.settings().nonblocking;
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

    fn settings(&self) -> Settings {
        *self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut Settings)) {
        f(&mut self.settings.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Runs a read-side syscall: at once in non-blocking mode, otherwise
    /// waiting for readiness until the read timeout (`WouldBlock`, as std
    /// on Unix).
    pub(crate) fn read<T>(&self, op: impl FnMut(&S) -> io::Result<T>) -> io::Result<T> {
        let settings = self.settings();
        self.run(
            Direction::Read,
            settings.nonblocking,
            settings.read_timeout,
            op,
        )
    }

    /// As [`read`](Self::read), for the write side and its timeout.
    pub(crate) fn write<T>(&self, op: impl FnMut(&S) -> io::Result<T>) -> io::Result<T> {
        let settings = self.settings();
        self.run(
            Direction::Write,
            settings.nonblocking,
            settings.write_timeout,
            op,
        )
    }

    /// A stream read of up to `len` bytes; see `Registration::io_transfer`.
    pub(crate) fn read_transfer(
        &self,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let settings = self.settings();
        self.transfer(
            Direction::Read,
            settings.nonblocking,
            settings.read_timeout,
            len,
            op,
        )
    }

    /// A stream write of up to `len` bytes; see `Registration::io_transfer`.
    pub(crate) fn write_transfer(
        &self,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let settings = self.settings();
        self.transfer(
            Direction::Write,
            settings.nonblocking,
            settings.write_timeout,
            len,
            op,
        )
    }

    fn transfer(
        &self,
        direction: Direction,
        nonblocking: bool,
        timeout: Option<Duration>,
        len: usize,
        mut op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if nonblocking {
            return op(&self.inner);
        }
        let deadline = timeout.map(crate::thread::deadline_after);
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
        self.registration
            .io(direction, deadline, || op(&self.inner))
    }

    fn run<T>(
        &self,
        direction: Direction,
        nonblocking: bool,
        timeout: Option<Duration>,
        mut op: impl FnMut(&S) -> io::Result<T>,
    ) -> io::Result<T> {
        if nonblocking {
            return op(&self.inner);
        }
        let deadline = timeout.map(crate::thread::deadline_after);
        self.registration
            .io(direction, deadline, || op(&self.inner))?
            .ok_or_else(crate::sys::socket_timeout_error)
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) {
        self.update(|s| s.nonblocking = nonblocking);
    }

    /// Sets the read timeout. It is also set on the socket (where, the
    /// socket being non-blocking, it has no effect) so that the getter
    /// reports the kernel's rounding of it, as std's does.
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        socket2::SockRef::from(&self.inner).set_read_timeout(timeout)?;
        self.update(|s| s.read_timeout = timeout);
        Ok(())
    }

    /// Sets the write timeout; see [`set_read_timeout`](Self::set_read_timeout).
    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        socket2::SockRef::from(&self.inner).set_write_timeout(timeout)?;
        self.update(|s| s.write_timeout = timeout);
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
