//! The parity check: std's public items per module against greenstd's.
//!
//! Each std item is in a table as provided (and then its signature is
//! checked at compile time below) or not provided with a reason. The test
//! reads the list of std's stable items (functions, types and methods) from
//! the toolchain's own documentation and fails on any item the table does
//! not cover, so a new std release cannot add an item unnoticed.

use std::path::PathBuf;

/// Whether greenstd provides a std item.
#[derive(Debug, Clone, Copy)]
enum Status {
    Provided,
    /// std's own item, re-exported (its methods come with it).
    Reexported,
    NotProvided(&'static str),
}
use Status::{NotProvided, Provided, Reexported};

/// `std::thread`: items as `kind.name`, methods as `Type::method`.
const THREAD: &[(&str, Status)] = &[
    ("fn.available_parallelism", Provided),
    ("fn.current", Provided),
    ("fn.panicking", Provided),
    ("fn.park", Provided),
    ("fn.park_timeout", Provided),
    ("fn.park_timeout_ms", Provided),
    ("fn.scope", Provided),
    ("fn.sleep", Provided),
    ("fn.sleep_ms", Provided),
    ("fn.spawn", Provided),
    ("fn.yield_now", Provided),
    ("struct.AccessError", Provided),
    ("struct.Builder", Provided),
    ("struct.JoinHandle", Provided),
    ("struct.LocalKey", Provided),
    ("struct.Scope", Provided),
    ("struct.ScopedJoinHandle", Provided),
    ("struct.Thread", Provided),
    ("struct.ThreadId", Provided),
    ("type.Result", Provided),
    ("Builder::new", Provided),
    ("Builder::name", Provided),
    ("Builder::stack_size", Provided),
    ("Builder::spawn", Provided),
    ("Builder::spawn_unchecked", Provided),
    ("Builder::spawn_scoped", Provided),
    ("Thread::unpark", Provided),
    ("Thread::id", Provided),
    ("Thread::name", Provided),
    ("JoinHandle::thread", Provided),
    ("JoinHandle::join", Provided),
    ("JoinHandle::is_finished", Provided),
    (
        "JoinHandle::as_pthread_t",
        NotProvided("JoinHandleExt: a coroutine has no pthread of its own"),
    ),
    (
        "JoinHandle::into_pthread_t",
        NotProvided("JoinHandleExt: a coroutine has no pthread of its own"),
    ),
    (
        "JoinHandle::as_handle",
        NotProvided("Windows only; greenstd supports Unix"),
    ),
    (
        "JoinHandle::as_raw_handle",
        NotProvided("Windows only; greenstd supports Unix"),
    ),
    (
        "JoinHandle::into_raw_handle",
        NotProvided("Windows only; greenstd supports Unix"),
    ),
    ("ScopedJoinHandle::thread", Provided),
    ("ScopedJoinHandle::join", Provided),
    ("ScopedJoinHandle::is_finished", Provided),
    ("Scope::spawn", Provided),
    ("LocalKey::with", Provided),
    ("LocalKey::try_with", Provided),
    ("LocalKey::set", Provided),
    ("LocalKey::get", Provided),
    ("LocalKey::take", Provided),
    ("LocalKey::replace", Provided),
    ("LocalKey::with_borrow", Provided),
    ("LocalKey::with_borrow_mut", Provided),
];

/// `std::net`.
const NET: &[(&str, Status)] = &[
    ("TcpListener::accept", Provided),
    ("TcpListener::bind", Provided),
    ("TcpListener::incoming", Provided),
    ("TcpListener::local_addr", Provided),
    ("TcpListener::only_v6", Provided),
    ("TcpListener::set_nonblocking", Provided),
    ("TcpListener::set_only_v6", Provided),
    ("TcpListener::set_ttl", Provided),
    ("TcpListener::take_error", Provided),
    ("TcpListener::try_clone", Provided),
    ("TcpListener::ttl", Provided),
    ("TcpStream::connect", Provided),
    ("TcpStream::connect_timeout", Provided),
    ("TcpStream::local_addr", Provided),
    ("TcpStream::nodelay", Provided),
    ("TcpStream::peek", Provided),
    ("TcpStream::peer_addr", Provided),
    ("TcpStream::read_timeout", Provided),
    ("TcpStream::set_nodelay", Provided),
    ("TcpStream::set_nonblocking", Provided),
    ("TcpStream::set_read_timeout", Provided),
    ("TcpStream::set_ttl", Provided),
    ("TcpStream::set_write_timeout", Provided),
    ("TcpStream::shutdown", Provided),
    ("TcpStream::take_error", Provided),
    ("TcpStream::try_clone", Provided),
    ("TcpStream::ttl", Provided),
    ("TcpStream::write_timeout", Provided),
    ("UdpSocket::bind", Provided),
    ("UdpSocket::broadcast", Provided),
    ("UdpSocket::connect", Provided),
    ("UdpSocket::join_multicast_v4", Provided),
    ("UdpSocket::join_multicast_v6", Provided),
    ("UdpSocket::leave_multicast_v4", Provided),
    ("UdpSocket::leave_multicast_v6", Provided),
    ("UdpSocket::local_addr", Provided),
    ("UdpSocket::multicast_loop_v4", Provided),
    ("UdpSocket::multicast_loop_v6", Provided),
    ("UdpSocket::multicast_ttl_v4", Provided),
    ("UdpSocket::peek", Provided),
    ("UdpSocket::peek_from", Provided),
    ("UdpSocket::peer_addr", Provided),
    ("UdpSocket::read_timeout", Provided),
    ("UdpSocket::recv", Provided),
    ("UdpSocket::recv_from", Provided),
    ("UdpSocket::send", Provided),
    ("UdpSocket::send_to", Provided),
    ("UdpSocket::set_broadcast", Provided),
    ("UdpSocket::set_multicast_loop_v4", Provided),
    ("UdpSocket::set_multicast_loop_v6", Provided),
    ("UdpSocket::set_multicast_ttl_v4", Provided),
    ("UdpSocket::set_nonblocking", Provided),
    ("UdpSocket::set_read_timeout", Provided),
    ("UdpSocket::set_ttl", Provided),
    ("UdpSocket::set_write_timeout", Provided),
    ("UdpSocket::take_error", Provided),
    ("UdpSocket::try_clone", Provided),
    ("UdpSocket::ttl", Provided),
    ("UdpSocket::write_timeout", Provided),
    ("struct.Incoming", Provided),
    ("struct.TcpListener", Provided),
    ("struct.TcpStream", Provided),
    ("struct.UdpSocket", Provided),
    ("trait.ToSocketAddrs", Provided),
    ("enum.IpAddr", Reexported),
    ("enum.Shutdown", Reexported),
    ("enum.SocketAddr", Reexported),
    ("struct.AddrParseError", Reexported),
    ("struct.Ipv4Addr", Reexported),
    ("struct.Ipv6Addr", Reexported),
    ("struct.SocketAddrV4", Reexported),
    ("struct.SocketAddrV6", Reexported),
    (
        "enum.Ipv6MulticastScope",
        NotProvided("unstable in std 1.95"),
    ),
    (
        "struct.IntoIncoming",
        NotProvided("unstable in std 1.95 (TcpListener::into_incoming)"),
    ),
];

/// `std::fs`.
const FS: &[(&str, Status)] = &[
    ("DirBuilder::create", Provided),
    ("DirBuilder::new", Provided),
    ("DirBuilder::recursive", Provided),
    ("DirEntry::file_name", Provided),
    ("DirEntry::file_type", Provided),
    ("DirEntry::metadata", Provided),
    ("DirEntry::path", Provided),
    ("File::create", Provided),
    ("File::create_new", Provided),
    ("File::lock", Provided),
    ("File::lock_shared", Provided),
    ("File::metadata", Provided),
    ("File::open", Provided),
    ("File::options", Provided),
    ("File::set_len", Provided),
    ("File::set_modified", Provided),
    ("File::set_permissions", Provided),
    ("File::set_times", Provided),
    ("File::sync_all", Provided),
    ("File::sync_data", Provided),
    ("File::try_clone", Provided),
    ("File::try_lock", Provided),
    ("File::try_lock_shared", Provided),
    ("File::unlock", Provided),
    ("OpenOptions::append", Provided),
    ("OpenOptions::create", Provided),
    ("OpenOptions::create_new", Provided),
    ("OpenOptions::new", Provided),
    ("OpenOptions::open", Provided),
    ("OpenOptions::read", Provided),
    ("OpenOptions::truncate", Provided),
    ("OpenOptions::write", Provided),
    ("fn.canonicalize", Provided),
    ("fn.copy", Provided),
    ("fn.create_dir", Provided),
    ("fn.create_dir_all", Provided),
    ("fn.exists", Provided),
    ("fn.hard_link", Provided),
    ("fn.metadata", Provided),
    ("fn.read", Provided),
    ("fn.read_dir", Provided),
    ("fn.read_link", Provided),
    ("fn.read_to_string", Provided),
    ("fn.remove_dir", Provided),
    ("fn.remove_dir_all", Provided),
    ("fn.remove_file", Provided),
    ("fn.rename", Provided),
    ("fn.set_permissions", Provided),
    ("fn.soft_link", Provided),
    ("fn.symlink_metadata", Provided),
    ("fn.write", Provided),
    ("struct.DirBuilder", Provided),
    ("struct.DirEntry", Provided),
    ("struct.File", Provided),
    ("struct.OpenOptions", Provided),
    ("struct.ReadDir", Provided),
    ("struct.FileTimes", Reexported),
    ("struct.FileType", Reexported),
    ("struct.Metadata", Reexported),
    ("struct.Permissions", Reexported),
    ("enum.TryLockError", Reexported),
    (
        "File::as_handle",
        NotProvided("Windows only; greenstd supports Unix"),
    ),
    (
        "File::as_raw_handle",
        NotProvided("Windows only; greenstd supports Unix"),
    ),
    (
        "File::into_raw_handle",
        NotProvided("Windows only; greenstd supports Unix"),
    ),
];

/// `std::sync`.
const SYNC: &[(&str, Status)] = &[
    ("Barrier::new", Provided),
    ("Barrier::wait", Provided),
    ("BarrierWaitResult::is_leader", Provided),
    ("Condvar::new", Provided),
    ("Condvar::notify_all", Provided),
    ("Condvar::notify_one", Provided),
    ("Condvar::wait", Provided),
    ("Condvar::wait_timeout", Provided),
    ("Condvar::wait_timeout_ms", Provided),
    ("Condvar::wait_timeout_while", Provided),
    ("Condvar::wait_while", Provided),
    ("LazyLock::force", Provided),
    ("LazyLock::force_mut", Provided),
    ("LazyLock::get", Provided),
    ("LazyLock::get_mut", Provided),
    ("LazyLock::new", Provided),
    ("Mutex::clear_poison", Provided),
    ("Mutex::get_mut", Provided),
    ("Mutex::into_inner", Provided),
    ("Mutex::is_poisoned", Provided),
    ("Mutex::lock", Provided),
    ("Mutex::new", Provided),
    ("Mutex::try_lock", Provided),
    ("Once::call_once", Provided),
    ("Once::call_once_force", Provided),
    ("Once::is_completed", Provided),
    ("Once::new", Provided),
    ("Once::wait", Provided),
    ("Once::wait_force", Provided),
    ("OnceLock::get", Provided),
    ("OnceLock::get_mut", Provided),
    ("OnceLock::get_or_init", Provided),
    ("OnceLock::into_inner", Provided),
    ("OnceLock::new", Provided),
    ("OnceLock::set", Provided),
    ("OnceLock::take", Provided),
    ("OnceLock::wait", Provided),
    ("OnceState::is_poisoned", Provided),
    ("RwLock::clear_poison", Provided),
    ("RwLock::get_mut", Provided),
    ("RwLock::into_inner", Provided),
    ("RwLock::is_poisoned", Provided),
    ("RwLock::new", Provided),
    ("RwLock::read", Provided),
    ("RwLock::try_read", Provided),
    ("RwLock::try_write", Provided),
    ("RwLock::write", Provided),
    ("RwLockWriteGuard::downgrade", Provided),
    ("WaitTimeoutResult::timed_out", Provided),
    ("constant.ONCE_INIT", Provided),
    ("struct.Barrier", Provided),
    ("struct.BarrierWaitResult", Provided),
    ("struct.Condvar", Provided),
    ("struct.LazyLock", Provided),
    ("struct.Mutex", Provided),
    ("struct.MutexGuard", Provided),
    ("struct.Once", Provided),
    ("struct.OnceLock", Provided),
    ("struct.OnceState", Provided),
    ("struct.RwLock", Provided),
    ("struct.RwLockReadGuard", Provided),
    ("struct.RwLockWriteGuard", Provided),
    ("struct.WaitTimeoutResult", Provided),
    ("struct.Arc", Reexported),
    ("struct.Weak", Reexported),
    ("struct.PoisonError", Reexported),
    ("enum.TryLockError", Reexported),
    ("type.LockResult", Reexported),
    ("type.TryLockResult", Reexported),
];

/// `std::sync::mpsc`.
const MPSC: &[(&str, Status)] = &[
    ("Receiver::iter", Provided),
    ("Receiver::recv", Provided),
    ("Receiver::recv_timeout", Provided),
    ("Receiver::try_iter", Provided),
    ("Receiver::try_recv", Provided),
    ("Sender::send", Provided),
    ("SyncSender::send", Provided),
    ("SyncSender::try_send", Provided),
    ("fn.channel", Provided),
    ("fn.sync_channel", Provided),
    ("struct.IntoIter", Provided),
    ("struct.Iter", Provided),
    ("struct.Receiver", Provided),
    ("struct.Sender", Provided),
    ("struct.SyncSender", Provided),
    ("struct.TryIter", Provided),
    ("enum.RecvTimeoutError", Reexported),
    ("enum.TryRecvError", Reexported),
    ("enum.TrySendError", Reexported),
    ("struct.RecvError", Reexported),
    ("struct.SendError", Reexported),
];

/// `std::os::unix::fs`: std's own traits, implemented for greenstd's types
/// (the compile-time proof below uses each on them), and the functions.
const UNIX_FS: &[(&str, Status)] = &[
    ("fn.chown", Provided),
    ("fn.chroot", Provided),
    ("fn.fchown", Provided),
    ("fn.lchown", Provided),
    ("fn.symlink", Provided),
    ("trait.DirBuilderExt", Reexported),
    ("trait.DirEntryExt", Reexported),
    ("trait.FileExt", Reexported),
    ("trait.FileTypeExt", Reexported),
    ("trait.MetadataExt", Reexported),
    ("trait.OpenOptionsExt", Reexported),
    ("trait.PermissionsExt", Reexported),
];

/// `std::os::unix::net`.
const UNIX_NET: &[(&str, Status)] = &[
    ("UnixDatagram::bind", Provided),
    ("UnixDatagram::bind_addr", Provided),
    ("UnixDatagram::connect", Provided),
    ("UnixDatagram::connect_addr", Provided),
    ("UnixDatagram::local_addr", Provided),
    ("UnixDatagram::pair", Provided),
    ("UnixDatagram::peer_addr", Provided),
    ("UnixDatagram::read_timeout", Provided),
    ("UnixDatagram::recv", Provided),
    ("UnixDatagram::recv_from", Provided),
    ("UnixDatagram::send", Provided),
    ("UnixDatagram::send_to", Provided),
    ("UnixDatagram::send_to_addr", Provided),
    ("UnixDatagram::set_nonblocking", Provided),
    ("UnixDatagram::set_read_timeout", Provided),
    ("UnixDatagram::set_write_timeout", Provided),
    ("UnixDatagram::shutdown", Provided),
    ("UnixDatagram::take_error", Provided),
    ("UnixDatagram::try_clone", Provided),
    ("UnixDatagram::unbound", Provided),
    ("UnixDatagram::write_timeout", Provided),
    ("UnixListener::accept", Provided),
    ("UnixListener::bind", Provided),
    ("UnixListener::bind_addr", Provided),
    ("UnixListener::incoming", Provided),
    ("UnixListener::local_addr", Provided),
    ("UnixListener::set_nonblocking", Provided),
    ("UnixListener::take_error", Provided),
    ("UnixListener::try_clone", Provided),
    ("UnixStream::connect", Provided),
    ("UnixStream::connect_addr", Provided),
    ("UnixStream::local_addr", Provided),
    ("UnixStream::pair", Provided),
    ("UnixStream::peer_addr", Provided),
    ("UnixStream::read_timeout", Provided),
    ("UnixStream::set_nonblocking", Provided),
    ("UnixStream::set_read_timeout", Provided),
    ("UnixStream::set_write_timeout", Provided),
    ("UnixStream::shutdown", Provided),
    ("UnixStream::take_error", Provided),
    ("UnixStream::try_clone", Provided),
    ("UnixStream::write_timeout", Provided),
    ("struct.Incoming", Provided),
    ("struct.UnixDatagram", Provided),
    ("struct.UnixListener", Provided),
    ("struct.UnixStream", Provided),
    ("struct.SocketAddr", Reexported),
    (
        "struct.Messages",
        NotProvided("unstable in std 1.95 (ancillary data, peer credentials)"),
    ),
    (
        "struct.ScmCredentials",
        NotProvided("unstable in std 1.95 (ancillary data, peer credentials)"),
    ),
    (
        "struct.ScmRights",
        NotProvided("unstable in std 1.95 (ancillary data, peer credentials)"),
    ),
    (
        "struct.UCred",
        NotProvided("unstable in std 1.95 (ancillary data, peer credentials)"),
    ),
    (
        "struct.SocketAncillary",
        NotProvided("unstable in std 1.95 (ancillary data, peer credentials)"),
    ),
    (
        "struct.SocketCred",
        NotProvided("unstable in std 1.95 (ancillary data, peer credentials)"),
    ),
    (
        "enum.AncillaryData",
        NotProvided("unstable in std 1.95 (ancillary data, peer credentials)"),
    ),
    (
        "enum.AncillaryError",
        NotProvided("unstable in std 1.95 (ancillary data, peer credentials)"),
    ),
];

/// Compile-time proof that every provided item exists with std's signature.
#[allow(deprecated, clippy::type_complexity)]
fn _signatures() {
    use greenstd::thread::{self, Builder, JoinHandle, Scope, ScopedJoinHandle, Thread, ThreadId};
    use std::time::Duration;

    let _: fn() -> std::io::Result<std::num::NonZero<usize>> = thread::available_parallelism;
    let _: fn() -> Thread = thread::current;
    let _: fn() -> bool = thread::panicking;
    let _: fn() = thread::park;
    let _: fn(Duration) = thread::park_timeout;
    let _: fn(u32) = thread::park_timeout_ms;
    let _: fn(Duration) = thread::sleep;
    let _: fn(u32) = thread::sleep_ms;
    let _: fn() = thread::yield_now;
    let _: fn(fn() -> u8) -> JoinHandle<u8> = thread::spawn::<fn() -> u8, u8>;
    let _: fn(_) -> u8 = thread::scope::<for<'s> fn(&'s Scope<'s, '_>) -> u8, u8>;
    let _: fn() -> Builder = Builder::new;
    let _: fn(Builder, String) -> Builder = Builder::name;
    let _: fn(Builder, usize) -> Builder = Builder::stack_size;
    let _: fn(Builder, fn() -> u8) -> std::io::Result<JoinHandle<u8>> = Builder::spawn;
    let _: unsafe fn(Builder, fn() -> u8) -> std::io::Result<JoinHandle<u8>> =
        Builder::spawn_unchecked;
    fn scoped<'s, 'e>(s: &'s Scope<'s, 'e>) -> std::io::Result<()> {
        let h: ScopedJoinHandle<'s, u8> = Builder::new().spawn_scoped(s, || 1u8)?;
        let _: &Thread = h.thread();
        let _: bool = h.is_finished();
        let _: thread::Result<u8> = h.join();
        let h2: ScopedJoinHandle<'s, ()> = s.spawn(|| ());
        drop(h2);
        Ok(())
    }
    let _ = scoped;
    let _: fn(&Thread) = Thread::unpark;
    let _: fn(&Thread) -> ThreadId = Thread::id;
    let _: fn(&Thread) -> Option<&str> = Thread::name;
    let _: fn(&JoinHandle<u8>) -> &Thread = JoinHandle::thread;
    let _: fn(JoinHandle<u8>) -> thread::Result<u8> = JoinHandle::join;
    let _: fn(&JoinHandle<u8>) -> bool = JoinHandle::is_finished;
    let _: Option<thread::AccessError> = None;
    let _: Option<&thread::LocalKey<u8>> = None;
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_traits::<Thread>();
    fn assert_id<T: Copy + Eq + std::hash::Hash + std::fmt::Debug + Send + Sync>() {}
    assert_id::<ThreadId>();
    fn assert_handle<T: Send + Sync + std::fmt::Debug>() {}
    assert_handle::<JoinHandle<u8>>();
    assert_handle::<Builder>();
}

/// Compile-time proof for `net`: std's signatures, traits and conversions.
#[allow(deprecated, clippy::type_complexity)]
fn _net_signatures() {
    use greenstd::net::{
        Incoming, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket,
    };
    use std::io::{self, Read, Write};
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
    use std::time::Duration;

    let _: fn(SocketAddr) -> io::Result<TcpStream> = TcpStream::connect::<SocketAddr>;
    let _: fn(&'static str) -> io::Result<TcpStream> = TcpStream::connect::<&'static str>;
    let _: fn(&SocketAddr, Duration) -> io::Result<TcpStream> = TcpStream::connect_timeout;
    let _: fn(&TcpStream) -> io::Result<SocketAddr> = TcpStream::peer_addr;
    let _: fn(&TcpStream) -> io::Result<SocketAddr> = TcpStream::local_addr;
    let _: fn(&TcpStream, Shutdown) -> io::Result<()> = TcpStream::shutdown;
    let _: fn(&TcpStream) -> io::Result<TcpStream> = TcpStream::try_clone;
    let _: fn(&TcpStream, Option<Duration>) -> io::Result<()> = TcpStream::set_read_timeout;
    let _: fn(&TcpStream, Option<Duration>) -> io::Result<()> = TcpStream::set_write_timeout;
    let _: fn(&TcpStream) -> io::Result<Option<Duration>> = TcpStream::read_timeout;
    let _: fn(&TcpStream) -> io::Result<Option<Duration>> = TcpStream::write_timeout;
    let _: fn(&TcpStream, &mut [u8]) -> io::Result<usize> = TcpStream::peek;
    let _: fn(&TcpStream, bool) -> io::Result<()> = TcpStream::set_nodelay;
    let _: fn(&TcpStream) -> io::Result<bool> = TcpStream::nodelay;
    let _: fn(&TcpStream, u32) -> io::Result<()> = TcpStream::set_ttl;
    let _: fn(&TcpStream) -> io::Result<u32> = TcpStream::ttl;
    let _: fn(&TcpStream) -> io::Result<Option<io::Error>> = TcpStream::take_error;
    let _: fn(&TcpStream, bool) -> io::Result<()> = TcpStream::set_nonblocking;
    let _: fn(SocketAddr) -> io::Result<TcpListener> = TcpListener::bind::<SocketAddr>;
    let _: fn(&TcpListener) -> io::Result<(TcpStream, SocketAddr)> = TcpListener::accept;
    let _: fn(&TcpListener) -> Incoming<'_> = TcpListener::incoming;
    let _: fn(&TcpListener) -> io::Result<TcpListener> = TcpListener::try_clone;
    let _: fn(&TcpListener, bool) -> io::Result<()> = TcpListener::set_only_v6;
    let _: fn(&TcpListener) -> io::Result<bool> = TcpListener::only_v6;
    let _: fn(SocketAddr) -> io::Result<UdpSocket> = UdpSocket::bind::<SocketAddr>;
    let _: fn(&UdpSocket, &mut [u8]) -> io::Result<(usize, SocketAddr)> = UdpSocket::recv_from;
    let _: fn(&UdpSocket, &mut [u8]) -> io::Result<(usize, SocketAddr)> = UdpSocket::peek_from;
    let _: fn(&UdpSocket, &[u8], SocketAddr) -> io::Result<usize> =
        UdpSocket::send_to::<SocketAddr>;
    let _: fn(&UdpSocket, &Ipv4Addr, &Ipv4Addr) -> io::Result<()> = UdpSocket::join_multicast_v4;
    let _: fn(&UdpSocket, &Ipv6Addr, u32) -> io::Result<()> = UdpSocket::join_multicast_v6;
    let _: fn(&UdpSocket, &Ipv4Addr, &Ipv4Addr) -> io::Result<()> = UdpSocket::leave_multicast_v4;
    let _: fn(&UdpSocket, &Ipv6Addr, u32) -> io::Result<()> = UdpSocket::leave_multicast_v6;
    let _: fn(&UdpSocket, SocketAddr) -> io::Result<()> = UdpSocket::connect::<SocketAddr>;
    let _: fn(&UdpSocket, &[u8]) -> io::Result<usize> = UdpSocket::send;
    let _: fn(&UdpSocket, &mut [u8]) -> io::Result<usize> = UdpSocket::recv;
    fn socket_traits<T>()
    where
        T: AsFd + AsRawFd + FromRawFd + IntoRawFd + From<OwnedFd> + std::fmt::Debug + Send + Sync,
        OwnedFd: From<T>,
    {
    }
    socket_traits::<TcpStream>();
    socket_traits::<TcpListener>();
    socket_traits::<UdpSocket>();
    fn rw<T: Read + Write>() {}
    rw::<TcpStream>();
    rw::<&TcpStream>();
    let _: fn(std::net::TcpStream) -> TcpStream = TcpStream::from;
    let _: fn(TcpStream) -> std::net::TcpStream = std::net::TcpStream::from;
    let _: fn(std::net::UdpSocket) -> UdpSocket = UdpSocket::from;
    let _: fn(std::net::TcpListener) -> TcpListener = TcpListener::from;
}

/// Compile-time proof for `fs`.
#[allow(deprecated, clippy::type_complexity)]
fn _fs_signatures() {
    use greenstd::fs::{
        self, DirBuilder, DirEntry, File, FileTimes, Metadata, OpenOptions, Permissions, ReadDir,
        TryLockError,
    };
    use std::io::{self, Read, Seek, Write};
    use std::path::PathBuf;
    use std::time::SystemTime;

    type P = &'static str;
    let _: fn(P) -> io::Result<PathBuf> = fs::canonicalize::<P>;
    let _: fn(P, P) -> io::Result<u64> = fs::copy::<P, P>;
    let _: fn(P) -> io::Result<()> = fs::create_dir::<P>;
    let _: fn(P) -> io::Result<()> = fs::create_dir_all::<P>;
    let _: fn(P) -> io::Result<bool> = fs::exists::<P>;
    let _: fn(P, P) -> io::Result<()> = fs::hard_link::<P, P>;
    let _: fn(P) -> io::Result<Metadata> = fs::metadata::<P>;
    let _: fn(P) -> io::Result<Vec<u8>> = fs::read::<P>;
    let _: fn(P) -> io::Result<ReadDir> = fs::read_dir::<P>;
    let _: fn(P) -> io::Result<PathBuf> = fs::read_link::<P>;
    let _: fn(P) -> io::Result<String> = fs::read_to_string::<P>;
    let _: fn(P) -> io::Result<()> = fs::remove_dir::<P>;
    let _: fn(P) -> io::Result<()> = fs::remove_dir_all::<P>;
    let _: fn(P) -> io::Result<()> = fs::remove_file::<P>;
    let _: fn(P, P) -> io::Result<()> = fs::rename::<P, P>;
    let _: fn(P, Permissions) -> io::Result<()> = fs::set_permissions::<P>;
    let _: fn(P, P) -> io::Result<()> = fs::soft_link::<P, P>;
    let _: fn(P) -> io::Result<Metadata> = fs::symlink_metadata::<P>;
    let _: fn(P, &'static [u8]) -> io::Result<()> = fs::write::<P, &'static [u8]>;
    let _: fn(P) -> io::Result<File> = File::open::<P>;
    let _: fn(P) -> io::Result<File> = File::create::<P>;
    let _: fn(P) -> io::Result<File> = File::create_new::<P>;
    let _: fn() -> OpenOptions = File::options;
    let _: fn(&File) -> io::Result<()> = File::sync_all;
    let _: fn(&File) -> io::Result<()> = File::sync_data;
    let _: fn(&File, u64) -> io::Result<()> = File::set_len;
    let _: fn(&File) -> io::Result<Metadata> = File::metadata;
    let _: fn(&File) -> io::Result<File> = File::try_clone;
    let _: fn(&File, Permissions) -> io::Result<()> = File::set_permissions;
    let _: fn(&File, FileTimes) -> io::Result<()> = File::set_times;
    let _: fn(&File, SystemTime) -> io::Result<()> = File::set_modified;
    let _: fn(&File) -> io::Result<()> = File::lock;
    let _: fn(&File) -> io::Result<()> = File::lock_shared;
    let _: fn(&File) -> Result<(), TryLockError> = File::try_lock;
    let _: fn(&File) -> Result<(), TryLockError> = File::try_lock_shared;
    let _: fn(&File) -> io::Result<()> = File::unlock;
    let _: fn(&OpenOptions, P) -> io::Result<File> = OpenOptions::open::<P>;
    let _: fn(&mut OpenOptions, bool) -> &mut OpenOptions = OpenOptions::read;
    let _: fn(&DirBuilder, P) -> io::Result<()> = DirBuilder::create::<P>;
    let _: fn(&DirEntry) -> io::Result<Metadata> = DirEntry::metadata;
    fn file_traits<T: Read + Write + Seek + std::fmt::Debug + Send + Sync>() {}
    file_traits::<File>();
    file_traits::<&File>();
    fn iter<T: Iterator<Item = io::Result<DirEntry>> + std::fmt::Debug>() {}
    iter::<ReadDir>();
}

/// Compile-time proof for `sync`.
#[allow(deprecated, clippy::type_complexity)]
fn _sync_signatures() {
    use greenstd::sync::{
        Barrier, BarrierWaitResult, Condvar, LazyLock, LockResult, Mutex, MutexGuard, Once,
        OnceLock, RwLock, TryLockResult, WaitTimeoutResult, mpsc,
    };
    use std::time::Duration;

    let _: fn(u8) -> Mutex<u8> = Mutex::new;
    let _: for<'a> fn(&'a Mutex<u8>) -> LockResult<MutexGuard<'a, u8>> = Mutex::lock;
    let _: for<'a> fn(&'a Mutex<u8>) -> TryLockResult<MutexGuard<'a, u8>> = Mutex::try_lock;
    let _: fn(Mutex<u8>) -> LockResult<u8> = Mutex::into_inner;
    let _: for<'a> fn(&Condvar, MutexGuard<'a, u8>) -> LockResult<MutexGuard<'a, u8>> =
        Condvar::wait;
    let _: for<'a> fn(
        &Condvar,
        MutexGuard<'a, u8>,
        Duration,
    ) -> LockResult<(MutexGuard<'a, u8>, WaitTimeoutResult)> = Condvar::wait_timeout;
    let _: fn(&Barrier) -> BarrierWaitResult = Barrier::wait;
    let _: fn(&RwLock<u8>) -> bool = RwLock::is_poisoned;
    let _: fn(&Once) -> bool = Once::is_completed;
    let _: fn(&OnceLock<u8>) -> Option<&u8> = OnceLock::get;
    let _: fn(&LazyLock<u8>) -> &u8 = LazyLock::force;
    let _: fn() -> (mpsc::Sender<u8>, mpsc::Receiver<u8>) = mpsc::channel;
    let _: fn(usize) -> (mpsc::SyncSender<u8>, mpsc::Receiver<u8>) = mpsc::sync_channel;
    let _: fn(&mpsc::Receiver<u8>) -> Result<u8, mpsc::RecvError> = mpsc::Receiver::recv;
    let _: fn(&mpsc::Receiver<u8>, Duration) -> Result<u8, mpsc::RecvTimeoutError> =
        mpsc::Receiver::recv_timeout;
    let _: fn(&mpsc::SyncSender<u8>, u8) -> Result<(), mpsc::TrySendError<u8>> =
        mpsc::SyncSender::try_send;
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Mutex<u8>>();
    send_sync::<RwLock<u8>>();
    send_sync::<Condvar>();
    send_sync::<Barrier>();
    send_sync::<Once>();
    send_sync::<OnceLock<u8>>();
    send_sync::<LazyLock<u8>>();
    send_sync::<mpsc::Sender<u8>>();
    send_sync::<mpsc::SyncSender<u8>>();
    fn send<T: Send>() {}
    send::<mpsc::Receiver<u8>>();
}

/// Compile-time proof for `os::unix::net`.
#[allow(clippy::type_complexity)]
fn _unix_net_signatures() {
    use greenstd::os::unix::net::{Incoming, SocketAddr, UnixDatagram, UnixListener, UnixStream};
    use std::io;
    use std::path::Path;

    let _: fn(&'static Path) -> io::Result<UnixStream> = UnixStream::connect::<&'static Path>;
    let _: fn(&SocketAddr) -> io::Result<UnixStream> = UnixStream::connect_addr;
    let _: fn() -> io::Result<(UnixStream, UnixStream)> = UnixStream::pair;
    let _: fn(&'static Path) -> io::Result<UnixListener> = UnixListener::bind::<&'static Path>;
    let _: fn(&UnixListener) -> io::Result<(UnixStream, SocketAddr)> = UnixListener::accept;
    let _: fn(&UnixListener) -> Incoming<'_> = UnixListener::incoming;
    let _: fn() -> io::Result<UnixDatagram> = UnixDatagram::unbound;
    let _: fn(&UnixDatagram, &mut [u8]) -> io::Result<(usize, SocketAddr)> =
        UnixDatagram::recv_from;
    let _: fn(&UnixDatagram, &[u8], &SocketAddr) -> io::Result<usize> = UnixDatagram::send_to_addr;
}

/// Compile-time proof for `os::unix::fs`: the functions' signatures, and
/// std's extension traits on greenstd's types.
#[allow(clippy::type_complexity)]
fn _unix_fs_signatures() {
    use greenstd::fs::{DirBuilder, DirEntry, File, OpenOptions};
    use greenstd::os::unix::fs::{
        self as ufs, DirBuilderExt, DirEntryExt, FileExt, FileTypeExt, MetadataExt, OpenOptionsExt,
        PermissionsExt,
    };
    use std::io;
    use std::path::Path;

    let _: fn(&'static Path, &'static Path) -> io::Result<()> =
        ufs::symlink::<&'static Path, &'static Path>;
    let _: fn(&'static Path, Option<u32>, Option<u32>) -> io::Result<()> =
        ufs::chown::<&'static Path>;
    let _: fn(&'static File, Option<u32>, Option<u32>) -> io::Result<()> =
        ufs::fchown::<&'static File>;
    let _: fn(&'static Path, Option<u32>, Option<u32>) -> io::Result<()> =
        ufs::lchown::<&'static Path>;
    let _: fn(&'static Path) -> io::Result<()> = ufs::chroot::<&'static Path>;
    let _: fn(&File, &mut [u8], u64) -> io::Result<usize> = <File as FileExt>::read_at;
    let _: fn(&File, &[u8], u64) -> io::Result<usize> = <File as FileExt>::write_at;
    let _: fn(&File, &mut [u8], u64) -> io::Result<()> = <File as FileExt>::read_exact_at;
    let _: fn(&File, &[u8], u64) -> io::Result<()> = <File as FileExt>::write_all_at;
    let _: fn(&mut OpenOptions, u32) -> &mut OpenOptions = <OpenOptions as OpenOptionsExt>::mode;
    let _: fn(&mut OpenOptions, i32) -> &mut OpenOptions =
        <OpenOptions as OpenOptionsExt>::custom_flags;
    let _: fn(&mut DirBuilder, u32) -> &mut DirBuilder = <DirBuilder as DirBuilderExt>::mode;
    let _: fn(&DirEntry) -> u64 = <DirEntry as DirEntryExt>::ino;
    let _: fn(&greenstd::fs::Metadata) -> u64 = <greenstd::fs::Metadata as MetadataExt>::ino;
    let _: fn(&greenstd::fs::Permissions) -> u32 =
        <greenstd::fs::Permissions as PermissionsExt>::mode;
    let _: fn(&greenstd::fs::FileType) -> bool = <greenstd::fs::FileType as FileTypeExt>::is_fifo;
}

/// The std documentation folder of the toolchain, if installed.
fn std_docs() -> Option<PathBuf> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = std::process::Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = String::from_utf8(out.stdout).ok()?;
    let dir = PathBuf::from(sysroot.trim()).join("share/doc/rust/html/std");
    dir.is_dir().then_some(dir)
}

/// The stable items and methods of `std::<module>`, read from the docs.
fn stable_items(docs: &std::path::Path, module: &str) -> Vec<String> {
    let dir = docs.join(module);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("module docs") {
        let file = entry.unwrap().file_name().into_string().unwrap();
        let Some(item) = file.strip_suffix(".html") else {
            continue;
        };
        if ![
            "fn.",
            "struct.",
            "enum.",
            "type.",
            "trait.",
            "macro.",
            "constant.",
        ]
        .iter()
        .any(|p| item.starts_with(p))
        {
            continue;
        }
        let page = std::fs::read_to_string(dir.join(&file)).unwrap();
        let head = &page[..page.find("id=\"implementations\"").unwrap_or(page.len())];
        let item_unstable =
            head.contains("class=\"stab unstable\"") && !head.contains("title=\"Stable since");
        if item_unstable && item.starts_with("fn.") {
            continue;
        }
        if item.starts_with("fn.") || !item_unstable {
            found.push(item.to_string());
        }
        if let Some(ty) = item.strip_prefix("struct.") {
            found.extend(
                stable_methods(&page)
                    .into_iter()
                    .map(|m| format!("{ty}::{m}")),
            );
        }
    }
    found.sort();
    found
}

/// Inherent and platform-extension methods marked stable on a type page.
fn stable_methods(page: &str) -> Vec<String> {
    let trait_impls = page
        .find("id=\"trait-implementations\"")
        .unwrap_or(page.len());
    let mut methods = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find("id=\"method.") {
        let offset = page.len() - rest.len() + at;
        let tail = &rest[at + "id=\"method.".len()..];
        let anchor: String = tail.chars().take_while(|&c| c != '"').collect();
        // rustdoc numbers the anchors of same-named methods: `set-1`.
        let name = match anchor.rsplit_once('-') {
            Some((base, n)) if n.chars().all(|c| c.is_ascii_digit()) => base.to_string(),
            _ => anchor,
        };
        let section_end = tail.find("id=\"method.").unwrap_or(tail.len());
        let section = &tail[..section_end];
        let stable = section.contains("title=\"Stable since") && !section.contains("stab unstable");
        let extension = [
            "as_pthread_t",
            "into_pthread_t",
            "as_handle",
            "as_raw_handle",
            "into_raw_handle",
        ]
        .contains(&name.as_str());
        if stable && (offset < trait_impls || extension) {
            methods.push(name);
        }
        rest = tail;
    }
    methods.sort();
    methods.dedup();
    methods
}

fn check_module(module: &str, table: &[(&str, Status)]) {
    let Some(docs) = std_docs() else {
        eprintln!(
            "std docs not installed (rustup component add rust-docs): checked the table only"
        );
        return;
    };
    let reexported = |item: &str| {
        item.split_once("::").is_some_and(|(ty, _)| {
            table.iter().any(|(name, status)| {
                matches!(status, Reexported) && name.split_once('.').is_some_and(|(_, n)| n == ty)
            })
        })
    };
    let missing: Vec<String> = stable_items(&docs, module)
        .into_iter()
        .filter(|item| !reexported(item))
        .filter(|item| !table.iter().any(|(name, _)| name == item))
        .collect();
    assert!(
        missing.is_empty(),
        "std::{module} items neither provided nor listed with a reason: {missing:#?}"
    );
    for (name, status) in table {
        if let NotProvided(reason) = status {
            assert!(!reason.is_empty(), "{name} needs a reason");
        }
    }
}

#[test]
fn thread_parity() {
    check_module("thread", THREAD);
}

#[test]
fn unix_net_parity() {
    check_module("os/unix/net", UNIX_NET);
}

#[test]
fn unix_fs_parity() {
    check_module("os/unix/fs", UNIX_FS);
}

#[test]
fn fs_parity() {
    check_module("fs", FS);
}

#[test]
fn sync_parity() {
    check_module("sync", SYNC);
}

#[test]
fn mpsc_parity() {
    check_module("sync/mpsc", MPSC);
}

#[test]
fn net_parity() {
    check_module("net", NET);
}
