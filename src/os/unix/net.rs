//! Unix domain sockets, as [`std::os::unix::net`]: blocking calls park the
//! calling coroutine instead of blocking the thread.
//!
//! # Examples
//! ```
//! use std::io::{Read, Write};
//! use greenstd::os::unix::net::UnixStream;
//!
//! let (mut a, mut b) = UnixStream::pair()?;
//! let reader = greenstd::thread::spawn(move || {
//!     let mut buf = [0; 5];
//!     b.read_exact(&mut buf).map(|_| buf)
//! });
//! a.write_all(b"hello")?;
//! assert_eq!(&reader.join().unwrap()?, b"hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Differences from std: none in behaviour; a `connect` to a listener whose
//! backlog is full retries cooperatively instead of blocking the thread.

#![deny(unsafe_code)]

use std::io;
use std::net::Shutdown;
use std::path::Path;
use std::time::Duration;

pub use std::os::unix::net::SocketAddr;

use crate::net::Evented;

/// A Unix stream socket, as [`std::os::unix::net::UnixStream`].
pub struct UnixStream {
    inner: Evented<std::os::unix::net::UnixStream>,
}

/// A Unix socket server, as [`std::os::unix::net::UnixListener`].
///
/// # Examples
/// ```
/// use greenstd::os::unix::net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("greenstd-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("listener.sock");
/// let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let p = path.clone();
/// let client = greenstd::thread::spawn(move || UnixStream::connect(p).map(|_| ()));
/// let (_conn, _addr) = listener.accept()?;
/// client.join().unwrap()?;
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    inner: Evented<std::os::unix::net::UnixListener>,
}

/// A Unix datagram socket, as [`std::os::unix::net::UnixDatagram`].
///
/// # Examples
/// ```
/// use greenstd::os::unix::net::UnixDatagram;
///
/// let (a, b) = UnixDatagram::pair()?;
/// a.send(b"dgram")?;
/// let mut buf = [0; 8];
/// assert_eq!(b.recv(&mut buf)?, 5);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    inner: Evented<std::os::unix::net::UnixDatagram>,
}

/// An iterator over a listener's connections: [`UnixListener::incoming`].
#[derive(Debug)]
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

/// Connects a fresh socket to `addr`, retrying cooperatively while the
/// listener's backlog is full (a non-blocking Unix `connect` then fails with
/// `EAGAIN` instead of waiting).
fn connect_to(addr: &socket2::SockAddr) -> io::Result<std::os::unix::net::UnixStream> {
    let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    let mut pause = Duration::from_micros(100);
    loop {
        match socket.connect(addr) {
            Ok(()) => return Ok(socket.into()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                crate::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

impl UnixStream {
    crate::net::timeout_options!();

    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// As std (`NotFound`, `ConnectionRefused`...).
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let addr = socket2::SockAddr::unix(path)?;
        Ok(UnixStream {
            inner: Evented::new(connect_to(&addr)?)?,
        })
    }

    /// Connects to the socket at `socket_addr`.
    ///
    /// # Errors
    /// As std.
    pub fn connect_addr(socket_addr: &SocketAddr) -> io::Result<UnixStream> {
        match socket_addr.as_pathname() {
            Some(path) => UnixStream::connect(path),
            None => std::os::unix::net::UnixStream::connect_addr(socket_addr).and_then(Self::wrap),
        }
    }

    fn wrap(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: Evented::new(stream)?,
        })
    }

    /// An unnamed pair of connected sockets.
    ///
    /// # Errors
    /// As std.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((Self::wrap(a)?, Self::wrap(b)?))
    }

    /// A new handle to the same socket.
    ///
    /// # Errors
    /// As std.
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let fd = self.inner.get_ref().try_clone()?;
        Ok(UnixStream {
            inner: Evented::clone_of(&self.inner, fd)?,
        })
    }

    /// The local address.
    ///
    /// # Errors
    /// As std.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    /// As std.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Shuts down the read half, the write half or both.
    ///
    /// # Errors
    /// As std.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }
}

crate::net::stream_io!(UnixStream);

impl UnixListener {
    /// Binds a listener to `path`.
    ///
    /// # Errors
    /// As std (`AddrInUse` if the path exists...).
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        Self::wrap(std::os::unix::net::UnixListener::bind(path)?)
    }

    /// Binds a listener to `socket_addr`.
    ///
    /// # Errors
    /// As std.
    pub fn bind_addr(socket_addr: &SocketAddr) -> io::Result<UnixListener> {
        Self::wrap(std::os::unix::net::UnixListener::bind_addr(socket_addr)?)
    }

    fn wrap(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: Evented::new(listener)?,
        })
    }

    /// Accepts a connection, parking the coroutine until one arrives.
    ///
    /// # Errors
    /// As std; `WouldBlock` in non-blocking mode with none pending.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.inner.read(|l| l.accept())?;
        Ok((UnixStream::wrap(stream)?, addr))
    }

    /// A new handle to the same listener.
    ///
    /// # Errors
    /// As std.
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        let fd = self.inner.get_ref().try_clone()?;
        Ok(UnixListener {
            inner: Evented::clone_of(&self.inner, fd)?,
        })
    }

    /// The local address.
    ///
    /// # Errors
    /// As std.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// In non-blocking mode `accept` fails with `WouldBlock` instead of
    /// waiting.
    ///
    /// # Errors
    /// Never, in greenstd.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Errors
    /// As std.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get_ref().take_error()
    }

    /// An endless iterator over accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl std::iter::FusedIterator for Incoming<'_> {}

impl<'a> IntoIterator for &'a UnixListener {
    type Item = io::Result<UnixStream>;
    type IntoIter = Incoming<'a>;

    fn into_iter(self) -> Incoming<'a> {
        self.incoming()
    }
}

impl UnixDatagram {
    crate::net::timeout_options!();

    /// Binds a datagram socket to `path`.
    ///
    /// # Errors
    /// As std.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        Self::wrap(std::os::unix::net::UnixDatagram::bind(path)?)
    }

    /// Binds a datagram socket to `socket_addr`.
    ///
    /// # Errors
    /// As std.
    pub fn bind_addr(socket_addr: &SocketAddr) -> io::Result<UnixDatagram> {
        Self::wrap(std::os::unix::net::UnixDatagram::bind_addr(socket_addr)?)
    }

    /// A datagram socket bound to no address.
    ///
    /// # Errors
    /// As std.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Self::wrap(std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// An unnamed pair of connected datagram sockets.
    ///
    /// # Errors
    /// As std.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((Self::wrap(a)?, Self::wrap(b)?))
    }

    fn wrap(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: Evented::new(socket)?,
        })
    }

    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// As std.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.inner.get_ref().connect(path)
    }

    /// Connects to `socket_addr`.
    ///
    /// # Errors
    /// As std.
    pub fn connect_addr(&self, socket_addr: &SocketAddr) -> io::Result<()> {
        self.inner.get_ref().connect_addr(socket_addr)
    }

    /// A new handle to the same socket.
    ///
    /// # Errors
    /// As std.
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        let fd = self.inner.get_ref().try_clone()?;
        Ok(UnixDatagram {
            inner: Evented::clone_of(&self.inner, fd)?,
        })
    }

    /// The local address.
    ///
    /// # Errors
    /// As std.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    /// As std (`NotConnected`).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Receives a datagram and its sender's address.
    ///
    /// # Errors
    /// As std; `WouldBlock` when the read timeout expires.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read(|s| s.recv_from(buf))
    }

    /// Receives a datagram from the connected peer.
    ///
    /// # Errors
    /// As std.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.recv(buf))
    }

    /// Sends a datagram to the socket at `path`.
    ///
    /// # Errors
    /// As std.
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner.write(|s| s.send_to(buf, path))
    }

    /// Sends a datagram to `socket_addr`.
    ///
    /// # Errors
    /// As std.
    pub fn send_to_addr(&self, buf: &[u8], socket_addr: &SocketAddr) -> io::Result<usize> {
        self.inner.write(|s| s.send_to_addr(buf, socket_addr))
    }

    /// Sends a datagram to the connected peer.
    ///
    /// # Errors
    /// As std.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(|s| s.send(buf))
    }

    /// Shuts down the read half, the write half or both.
    ///
    /// # Errors
    /// As std.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }
}

crate::net::socket_traits!(UnixStream, std::os::unix::net::UnixStream);
crate::net::socket_traits!(UnixListener, std::os::unix::net::UnixListener);
crate::net::socket_traits!(UnixDatagram, std::os::unix::net::UnixDatagram);
