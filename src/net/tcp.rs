//! `TcpStream` and `TcpListener`, as std's.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::ToSocketAddrs;
use super::addr::each_addr;
use super::evented::Evented;
use crate::runtime::Direction;

/// A TCP stream between a local and a remote socket, as
/// [`std::net::TcpStream`]; reads, writes and connects park the calling
/// coroutine instead of blocking the thread.
///
/// # Examples
/// ```
/// use std::io::{Read, Write};
/// use greenstd::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = greenstd::thread::spawn(move || -> std::io::Result<()> {
///     let (mut conn, _) = listener.accept()?;
///     let mut buf = [0; 5];
///     conn.read_exact(&mut buf)?;
///     conn.write_all(&buf)
/// });
/// let mut stream = TcpStream::connect(addr)?;
/// stream.write_all(b"hello")?;
/// let mut echo = [0; 5];
/// stream.read_exact(&mut echo)?;
/// assert_eq!(&echo, b"hello");
/// server.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Differences from std: none in behaviour. The socket is non-blocking at
/// the OS level; `set_nonblocking` sets greenstd's own flag.
pub struct TcpStream {
    inner: Evented<std::net::TcpStream>,
}

/// A TCP socket server, listening for connections, as
/// [`std::net::TcpListener`].
///
/// # Examples
/// ```
/// use greenstd::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let client = greenstd::thread::spawn(move || TcpStream::connect(addr).map(|_| ()));
/// let (_conn, peer) = listener.accept()?;
/// assert!(peer.ip().is_loopback());
/// client.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Differences from std: none in behaviour.
pub struct TcpListener {
    inner: Evented<std::net::TcpListener>,
}

/// An iterator over a listener's connections: [`TcpListener::incoming`].
#[derive(Debug)]
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

/// The listen backlog of greenstd's listeners (see `TcpListener::bind`).
const BACKLOG: i32 = 1024;

/// Binds and listens on one address, as std does but with [`BACKLOG`].
fn listen(addr: &SocketAddr) -> io::Result<std::net::TcpListener> {
    listen_with(addr, false)
}

/// `listen`, with `SO_REUSEPORT` when `share_port`.
fn listen_with(addr: &SocketAddr, share_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if share_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&(*addr).into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// std's `accept`, with the new socket non-blocking from the start: std
/// accepts with `SOCK_CLOEXEC` alone, and greenstd would then need two
/// `fcntl` calls per connection.
fn accept_nonblocking(
    listener: &std::net::TcpListener,
) -> io::Result<(std::net::TcpStream, SocketAddr)> {
    use std::os::fd::AsRawFd;
    let (fd, peer) = crate::sys::accept_nonblocking(listener.as_raw_fd())?;
    let peer = peer
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an IP peer"))?;
    Ok((std::net::TcpStream::from(fd), peer))
}

/// Connects one address, waiting at most until `deadline`.
fn connect_addr(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
    // Non-blocking from its creation (`SOCK_NONBLOCK`): no `fcntl` later.
    let socket = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    let in_progress = match socket.connect(&(*addr).into()) {
        Ok(()) => false,
        Err(e) if crate::sys::is_connect_in_progress(&e) => true,
        Err(e) => return Err(e),
    };
    let stream = TcpStream {
        inner: Evented::new_nonblocking(std::net::TcpStream::from(socket)),
    };
    if in_progress {
        let connected = stream.inner.wait_until(Direction::Write, deadline, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        })?;
        if connected.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out",
            ));
        }
    }
    Ok(stream)
}

impl TcpStream {
    super::timeout_options!();

    /// Opens a TCP connection to a remote host, trying each address in
    /// turn, as std.
    ///
    /// # Errors
    /// The last address's error (`ConnectionRefused`, ...), or
    /// `InvalidInput` if `addr` yields no address.
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(&addr, |a| connect_addr(a, None))
    }

    /// Opens a TCP connection to `addr`, failing with `TimedOut` after
    /// `timeout`.
    ///
    /// # Errors
    /// `InvalidInput` for a zero timeout (as std); `TimedOut`; the
    /// connection's error.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let listener = greenstd::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// greenstd::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        connect_addr(addr, Some(crate::runtime::deadline_after(timeout)))
    }

    /// The remote address.
    ///
    /// # Errors
    /// `NotConnected` once the connection is gone, as std.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// As std.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Shuts down the read half, the write half or both.
    ///
    /// # Errors
    /// As std (`NotConnected` on a socket that is not connected).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// A new handle to the same socket (a duplicated fd); each handle can be
    /// used from its own coroutine, e.g. one reading and one writing.
    ///
    /// # Errors
    /// As std (out of file descriptors).
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let fd = self.inner.get_ref().try_clone()?;
        Ok(TcpStream {
            inner: Evented::clone_of(&self.inner, fd)?,
        })
    }

    /// Receives data without removing it from the queue.
    ///
    /// # Errors
    /// As `read`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    /// As std.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// # Errors
    /// As std.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    /// As std.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// # Errors
    /// As std.
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }
}

super::stream_io!(TcpStream);

impl TcpListener {
    /// Binds a listener to `addr` (the first address that binds), as std:
    /// `SO_REUSEADDR` set.
    ///
    /// # Errors
    /// `AddrInUse`, `AddrNotAvailable`, `PermissionDenied`...; as std.
    ///
    /// Differences from std: the listen backlog is 1024 (std's is 128).
    /// One thread's accept loop competes with thousands of coroutines for
    /// its turns, so bursts of connections need a deeper queue; with 128, a
    /// burst of a few hundred connects overflows it and the kernel drops or
    /// resets handshakes.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListener::from_std(each_addr(&addr, listen)?)
    }

    fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Evented::new(listener)?,
        })
    }

    /// The local address.
    ///
    /// # Errors
    /// As std.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// A new handle to the same listener.
    ///
    /// # Errors
    /// As std.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let fd = self.inner.get_ref().try_clone()?;
        Ok(TcpListener {
            inner: Evented::clone_of(&self.inner, fd)?,
        })
    }

    /// Accepts a connection, parking the coroutine until one arrives.
    ///
    /// # Errors
    /// As std; `WouldBlock` in non-blocking mode with no connection ready.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.inner.read(accept_nonblocking)?;
        Ok((
            TcpStream {
                inner: Evented::new_nonblocking(stream),
            },
            addr,
        ))
    }

    /// An endless iterator over accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    /// As std.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// # Errors
    /// As std.
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }

    /// Deprecated in std; sets `IPV6_V6ONLY`.
    ///
    /// # Errors
    /// As std.
    #[deprecated(note = "TcpListener::set_only_v6 is deprecated in std")]
    pub fn set_only_v6(&self, only_v6: bool) -> io::Result<()> {
        socket2::SockRef::from(self.inner.get_ref()).set_only_v6(only_v6)
    }

    /// Deprecated in std; reads `IPV6_V6ONLY`.
    ///
    /// # Errors
    /// As std.
    #[deprecated(note = "TcpListener::only_v6 is deprecated in std")]
    pub fn only_v6(&self) -> io::Result<bool> {
        socket2::SockRef::from(self.inner.get_ref()).only_v6()
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Errors
    /// As std.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get_ref().take_error()
    }

    /// In non-blocking mode `accept` fails with `WouldBlock` instead of
    /// waiting.
    ///
    /// # Errors
    /// Never, in greenstd; `io::Result` for std's signature.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}

impl std::iter::FusedIterator for Incoming<'_> {}

super::socket_traits!(TcpStream, std::net::TcpStream);
super::socket_traits!(TcpListener, std::net::TcpListener);

/// One listener per hub, all on the same address with `SO_REUSEPORT`: the
/// kernel spreads new connections over them, so each hub accepts its own
/// and no connection crosses threads. Start one accept loop per listener
/// with [`Placement::Hub(i)`](crate::Placement::Hub); a handler spawned in
/// an accept loop stays on its hub. With one hub, one listener.
///
/// Port 0 picks a free port for the first listener; the others share it.
///
/// ```
/// use std::io::{Read, Write};
/// use greenstd::net::{self, TcpStream};
/// use greenstd::thread::{self, Builder};
/// use greenstd::Placement;
///
/// let listeners = net::bind_per_hub("127.0.0.1:0")?;
/// let addr = listeners[0].local_addr()?;
/// for (i, listener) in listeners.into_iter().enumerate() {
///     Builder::new().placement(Placement::Hub(i)).spawn(move || {
///         for stream in listener.incoming() {
///             let Ok(mut stream) = stream else { continue };
///             thread::spawn(move || {
///                 let mut buf = [0u8; 5];
///                 if stream.read_exact(&mut buf).is_ok() {
///                     let _ = stream.write_all(&buf);
///                 }
///             });
///         }
///     })?;
/// }
/// let mut client = TcpStream::connect(addr)?;
/// client.write_all(b"hello")?;
/// let mut echo = [0u8; 5];
/// client.read_exact(&mut echo)?;
/// assert_eq!(&echo, b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// As [`TcpListener::bind`], for any of the listeners.
pub fn bind_per_hub<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<TcpListener>> {
    let first = each_addr(&addr, |a| listen_with(a, true))?;
    let shared = first.local_addr()?;
    let mut listeners = vec![TcpListener::from_std(first)?];
    for _ in 1..crate::hubs() {
        listeners.push(TcpListener::from_std(listen_with(&shared, true)?)?);
    }
    Ok(listeners)
}
