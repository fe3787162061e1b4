//! `UdpSocket`, as std's.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use super::ToSocketAddrs;
use super::addr::each_addr;
use super::evented::Evented;

/// A UDP socket, as [`std::net::UdpSocket`]; `recv`/`send` and their
/// relatives park the calling coroutine instead of blocking the thread.
///
/// # Examples
/// ```
/// use greenstd::net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0")?;
/// let b = UdpSocket::bind("127.0.0.1:0")?;
/// a.send_to(b"ping", b.local_addr()?)?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf)?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Differences from std: none in behaviour.
pub struct UdpSocket {
    inner: Evented<std::net::UdpSocket>,
}

impl UdpSocket {
    super::timeout_options!();

    /// Binds a socket to `addr` (the first address that binds).
    ///
    /// # Errors
    /// As std (`AddrInUse`, ...).
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let socket = each_addr(&addr, |a| std::net::UdpSocket::bind(a))?;
        Ok(UdpSocket {
            inner: Evented::new(socket)?,
        })
    }

    /// Receives a datagram and its sender's address.
    ///
    /// # Errors
    /// As std; `WouldBlock` when the read timeout expires.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read(|s| s.recv_from(buf))
    }

    /// As [`recv_from`](Self::recv_from), leaving the datagram queued.
    ///
    /// # Errors
    /// As `recv_from`.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read(|s| s.peek_from(buf))
    }

    /// Sends a datagram to `addr` (its first address, as std).
    ///
    /// # Errors
    /// As std (`InvalidInput` when `addr` yields no address).
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let target = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.inner.write(|s| s.send_to(buf, target))
    }

    /// The connected peer's address.
    ///
    /// # Errors
    /// `NotConnected` if not connected, as std.
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

    /// A new handle to the same socket.
    ///
    /// # Errors
    /// As std.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let fd = self.inner.get_ref().try_clone()?;
        Ok(UdpSocket {
            inner: Evented::clone_of(&self.inner, fd)?,
        })
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    /// As std.
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.inner.get_ref().set_broadcast(broadcast)
    }

    /// Reads `SO_BROADCAST`.
    ///
    /// # Errors
    /// As std.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.get_ref().broadcast()
    }

    /// Sets `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    /// As std.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_multicast_loop_v4(on)
    }

    /// Reads `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    /// As std.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.inner.get_ref().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    /// As std.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// Reads `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    /// As std.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.inner.get_ref().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    ///
    /// # Errors
    /// As std.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_multicast_loop_v6(on)
    }

    /// Reads `IPV6_MULTICAST_LOOP`.
    ///
    /// # Errors
    /// As std.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.inner.get_ref().multicast_loop_v6()
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

    /// Joins an IPv4 multicast group.
    ///
    /// # Errors
    /// As std.
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.get_ref().join_multicast_v4(multiaddr, interface)
    }

    /// Joins an IPv6 multicast group.
    ///
    /// # Errors
    /// As std.
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get_ref().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group.
    ///
    /// # Errors
    /// As std.
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner
            .get_ref()
            .leave_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// # Errors
    /// As std.
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner
            .get_ref()
            .leave_multicast_v6(multiaddr, interface)
    }

    /// Connects to `addr` (the first address that connects): `send` and
    /// `recv` then talk to it only.
    ///
    /// # Errors
    /// As std.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(&addr, |a| self.inner.get_ref().connect(a))
    }

    /// Sends a datagram to the connected peer.
    ///
    /// # Errors
    /// As std (`NotConnected`...).
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(|s| s.send(buf))
    }

    /// Receives a datagram from the connected peer.
    ///
    /// # Errors
    /// As std; `WouldBlock` when the read timeout expires.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.recv(buf))
    }

    /// As [`recv`](Self::recv), leaving the datagram queued.
    ///
    /// # Errors
    /// As `recv`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.peek(buf))
    }
}

super::socket_traits!(UdpSocket, std::net::UdpSocket);
