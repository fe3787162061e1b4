//! `ToSocketAddrs`: std's conversion trait, with name resolution that does
//! not block the hub.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::runtime::run_blocking;

/// Values that can be turned into socket addresses, as
/// [`std::net::ToSocketAddrs`], implemented for the same types.
///
/// Literal addresses (`"127.0.0.1:80"`, `("::1", 80)`, a `SocketAddr`) are
/// parsed in place. A host name is resolved with the system resolver
/// (`getaddrinfo`, as std) on greenstd's blocking pool when the caller is a
/// coroutine or its thread has coroutines, so the hub keeps running;
/// otherwise directly, as std.
///
/// # Examples
/// ```
/// use greenstd::net::{SocketAddr, ToSocketAddrs};
///
/// let addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
/// assert_eq!(addr.to_socket_addrs().unwrap().next(), Some(addr));
/// let local: Vec<_> = ("localhost", 80).to_socket_addrs().unwrap().collect();
/// assert!(!local.is_empty());
/// ```
///
/// Differences from std: greenstd's own trait (std's resolves host names
/// by blocking the calling thread). Code with a `std::net::ToSocketAddrs`
/// bound swaps that import too; a type that implements only std's trait
/// can be passed through `std::net::ToSocketAddrs::to_socket_addrs` first
/// (its result, a `Vec<SocketAddr>` slice, implements this trait).
pub trait ToSocketAddrs {
    /// The iterator over the addresses.
    type Iter: Iterator<Item = SocketAddr>;

    /// Converts this value into an iterator of socket addresses.
    ///
    /// # Errors
    /// As std: `InvalidInput` for a malformed address, the resolver's
    /// error for an unknown host.
    fn to_socket_addrs(&self) -> io::Result<Self::Iter>;
}

macro_rules! literal_impls {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {
            type Iter = std::option::IntoIter<SocketAddr>;
            fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
                std::net::ToSocketAddrs::to_socket_addrs(self)
            }
        }
    )*};
}

literal_impls!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

/// Resolves `host:port` text: parsed in place when it is a literal
/// address, looked up on the blocking pool otherwise.
fn resolve_text(text: &str) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(vec![addr].into_iter());
    }
    run_blocking(|| std::net::ToSocketAddrs::to_socket_addrs(text))
}

fn resolve_host(host: &str, port: u16) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)].into_iter());
    }
    run_blocking(|| std::net::ToSocketAddrs::to_socket_addrs(&(host, port)))
}

impl ToSocketAddrs for str {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        resolve_text(self)
    }
}

impl ToSocketAddrs for String {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        resolve_text(self)
    }
}

impl ToSocketAddrs for (&str, u16) {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        resolve_host(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        resolve_host(&self.0, self.1)
    }
}

impl<'a> ToSocketAddrs for &'a [SocketAddr] {
    type Iter = std::iter::Cloned<std::slice::Iter<'a, SocketAddr>>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        Ok(self.iter().cloned())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    type Iter = T::Iter;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        (**self).to_socket_addrs()
    }
}

/// Tries `f` on each address in turn, as std does: the first success, or
/// the last error, or `InvalidInput` when there was no address at all.
pub(crate) fn each_addr<A: ToSocketAddrs + ?Sized, T>(
    addr: &A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last_err = None;
    for addr in addr.to_socket_addrs()? {
        match f(&addr) {
            Ok(value) => return Ok(value),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}
