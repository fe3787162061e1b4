//! Networking, as [`std::net`]: TCP and UDP sockets whose blocking calls
//! park the calling coroutine instead of blocking the thread.
//!
//! `use greenstd::net::*` replaces `use std::net::*`: the socket types are
//! greenstd's, the plain data types (`SocketAddr`, `IpAddr`, `Shutdown`...)
//! are std's own, re-exported.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use greenstd::net::{TcpListener, TcpStream};
//! use greenstd::thread;
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! // A thread-per-connection server... with coroutines.
//! let server = thread::spawn(move || {
//!     for stream in listener.incoming().take(3) {
//!         let stream = stream.unwrap();
//!         thread::spawn(move || {
//!             let mut line = String::new();
//!             BufReader::new(&stream).read_line(&mut line).unwrap();
//!             (&stream).write_all(line.to_uppercase().as_bytes()).unwrap();
//!         });
//!     }
//! });
//! let clients: Vec<_> = ["a\n", "b\n", "c\n"]
//!     .into_iter()
//!     .map(|msg| {
//!         thread::spawn(move || {
//!             let mut s = TcpStream::connect(addr).unwrap();
//!             s.write_all(msg.as_bytes()).unwrap();
//!             let mut reply = String::new();
//!             BufReader::new(s).read_line(&mut reply).unwrap();
//!             reply
//!         })
//!     })
//!     .collect();
//! let replies: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
//! assert_eq!(replies, ["A\n", "B\n", "C\n"]);
//! server.join().unwrap();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Differences from std: [`ToSocketAddrs`] is greenstd's own trait (host
//! names are resolved on the blocking pool, so the hub keeps running).

#![deny(unsafe_code)]

mod addr;
mod evented;
mod tcp;
mod udp;

pub use addr::ToSocketAddrs;
pub use tcp::{Incoming, TcpListener, TcpStream, bind_per_hub};
pub use udp::UdpSocket;

pub use std::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6,
};

pub(crate) use evented::Evented;

/// The fd traits, `Debug` and the conversions from and to std's type that
/// every greenstd socket has.
macro_rules! socket_traits {
    ($ty:ident, $std:ty) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self.inner.get_ref(), f)
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.inner.get_ref().as_fd()
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.inner.get_ref().as_raw_fd()
            }
        }

        #[allow(unsafe_code)]
        impl std::os::fd::FromRawFd for $ty {
            /// Takes ownership of `fd`, as std's.
            ///
            /// # Safety
            /// `fd` must be an open socket of the right kind that nothing
            /// else owns, as for std's `from_raw_fd`.
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> Self {
                // SAFETY: forwarded to the caller, whose contract is std's.
                let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
                Self::from(owned)
            }
        }

        impl std::os::fd::IntoRawFd for $ty {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                std::os::fd::OwnedFd::from(self).into_raw_fd()
            }
        }

        impl From<std::os::fd::OwnedFd> for $ty {
            fn from(fd: std::os::fd::OwnedFd) -> Self {
                $ty {
                    inner: $crate::net::Evented::adopt(<$std>::from(fd)),
                }
            }
        }

        impl From<$ty> for std::os::fd::OwnedFd {
            fn from(socket: $ty) -> Self {
                <$std>::from(socket).into()
            }
        }

        impl From<$std> for $ty {
            /// Wraps a std socket; its blocking mode becomes greenstd's.
            fn from(socket: $std) -> Self {
                $ty {
                    inner: $crate::net::Evented::adopt(socket),
                }
            }
        }

        impl From<$ty> for $std {
            /// The std socket, in the blocking mode the user last set.
            fn from(socket: $ty) -> Self {
                socket.inner.into_std()
            }
        }
    };
}
pub(crate) use socket_traits;

/// `Read` and `Write` for a stream socket and for a shared reference to it,
/// vectored forms included; `flush` has nothing to do.
macro_rules! stream_io {
    ($ty:ident) => {
        impl std::io::Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let len = buf.len();
                self.inner
                    .read_transfer(len, |mut s| std::io::Read::read(&mut s, buf))
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.inner
                    .read(|mut s| std::io::Read::read_vectored(&mut s, bufs))
            }
        }

        impl std::io::Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.inner
                    .write_transfer(buf.len(), |mut s| std::io::Write::write(&mut s, buf))
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.inner
                    .write(|mut s| std::io::Write::write_vectored(&mut s, bufs))
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self).read(buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
        }

        impl std::io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self).write(buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                (&*self).write_vectored(bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}
pub(crate) use stream_io;

/// The options every greenstd socket with timeouts shares with std: the
/// read and write timeouts, the non-blocking flag and `take_error`.
macro_rules! timeout_options {
    () => {
        /// Sets the read timeout; a call that waits longer fails with
        /// `WouldBlock`, as std on Unix. `None` waits forever.
        ///
        /// # Errors
        /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
        pub fn set_read_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
            self.inner.set_read_timeout(dur)
        }

        /// Sets the write timeout, as [`set_read_timeout`](Self::set_read_timeout).
        ///
        /// # Errors
        /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
        pub fn set_write_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
            self.inner.set_write_timeout(dur)
        }

        /// The read timeout, as the kernel rounded it (std's getter).
        ///
        /// # Errors
        /// As std.
        pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            self.inner.read_timeout()
        }

        /// The write timeout, as the kernel rounded it (std's getter).
        ///
        /// # Errors
        /// As std.
        pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            self.inner.write_timeout()
        }

        /// In non-blocking mode calls fail with `WouldBlock` instead of
        /// waiting, as std.
        ///
        /// # Errors
        /// Never, in greenstd; `io::Result` for std's signature.
        pub fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
            self.inner.set_nonblocking(nonblocking);
            Ok(())
        }

        /// Takes the pending `SO_ERROR`.
        ///
        /// # Errors
        /// As std.
        pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
            self.inner.get_ref().take_error()
        }
    };
}
pub(crate) use timeout_options;
