//! The hooks: libc's blocking calls, redefined.
//!
//! Every hook starts with the same gate ([`intercept`]): patched, not in a
//! forked child, not on stdin/stdout/stderr, inside a greenstd coroutine,
//! and not a call the runtime makes itself. Failing any of these, it calls
//! the real function with the arguments it got and returns what it
//! returned, `errno` included. Past the gate, the work is done by greenstd's
//! hook vocabulary (`greenstd::hooks`), inside `catch_unwind`: nothing may
//! unwind out of an `extern "C"` function.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use greenstd::hooks::{Direction, Plan};
use libc::{addrinfo, msghdr, nfds_t, pollfd, size_t, sockaddr, socklen_t, ssize_t, timespec};

use crate::real::{self, Real};
use crate::signals;
use crate::{IN_CHILD, PATCHED};

/// The real function behind `r`, as the function type `F`.
///
/// # Safety
/// `F` must be the C signature of the function `r` names.
#[inline]
unsafe fn real_fn<F: Copy>(r: &Real) -> Option<F> {
    let address = r.address();
    if address == 0 {
        return None;
    }
    debug_assert_eq!(size_of::<F>(), size_of::<usize>());
    // SAFETY: `address` is the address of the function `r` names, whose
    // type the caller gives as `F` (a function pointer, one word).
    Some(unsafe { std::mem::transmute_copy::<usize, F>(&address) })
}

/// Calls the real function `$real` of type `$ty` with `$args`, or fails
/// with `ENOSYS` (and `$fail`) if libc has none.
macro_rules! call_real {
    ($real:expr, $ty:ty, $fail:expr, $($arg:expr),*) => {{
        // SAFETY: `$ty` is the C signature of the function `$real` names.
        match unsafe { real_fn::<$ty>(&$real) } {
            // SAFETY: the caller's arguments, passed on unchanged.
            Some(f) => unsafe { f($($arg),*) },
            None => {
                set_errno(libc::ENOSYS);
                $fail
            }
        }
    }};
}

type RecvFn = unsafe extern "C" fn(c_int, *mut c_void, size_t, c_int) -> ssize_t;
type SendFn = unsafe extern "C" fn(c_int, *const c_void, size_t, c_int) -> ssize_t;
type RecvFromFn = unsafe extern "C" fn(
    c_int,
    *mut c_void,
    size_t,
    c_int,
    *mut sockaddr,
    *mut socklen_t,
) -> ssize_t;
type SendToFn = unsafe extern "C" fn(
    c_int,
    *const c_void,
    size_t,
    c_int,
    *const sockaddr,
    socklen_t,
) -> ssize_t;
type RecvMsgFn = unsafe extern "C" fn(c_int, *mut msghdr, c_int) -> ssize_t;
type SendMsgFn = unsafe extern "C" fn(c_int, *const msghdr, c_int) -> ssize_t;
type ReadFn = unsafe extern "C" fn(c_int, *mut c_void, size_t) -> ssize_t;
type WriteFn = unsafe extern "C" fn(c_int, *const c_void, size_t) -> ssize_t;
type ReadvFn = unsafe extern "C" fn(c_int, *const libc::iovec, c_int) -> ssize_t;
type AcceptFn = unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
type Accept4Fn = unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int;
type ConnectFn = unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;
type PollFn = unsafe extern "C" fn(*mut pollfd, nfds_t, c_int) -> c_int;
type PpollFn =
    unsafe extern "C" fn(*mut pollfd, nfds_t, *const timespec, *const libc::sigset_t) -> c_int;
type ClockNanosleepFn =
    unsafe extern "C" fn(libc::clockid_t, c_int, *const timespec, *mut timespec) -> c_int;
type NanosleepFn = unsafe extern "C" fn(*const timespec, *mut timespec) -> c_int;
type UsleepFn = unsafe extern "C" fn(libc::useconds_t) -> c_int;
type SleepFn = unsafe extern "C" fn(c_uint) -> c_uint;
type CloseFn = unsafe extern "C" fn(c_int) -> c_int;
type Dup2Fn = unsafe extern "C" fn(c_int, c_int) -> c_int;
type Dup3Fn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
type GetaddrinfoFn = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const addrinfo,
    *mut *mut addrinfo,
) -> c_int;

fn errno() -> c_int {
    // SAFETY: `__errno_location` returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

fn set_errno(value: c_int) {
    // SAFETY: as above; writing it is what libc does.
    unsafe { *libc::__errno_location() = value };
}

/// Whether the runtime should take over a call: patched, not in a forked
/// child, inside a coroutine, not the runtime's own, not in a signal
/// handler.
#[inline]
fn active() -> bool {
    PATCHED.load(Ordering::Relaxed)
        && !IN_CHILD.load(Ordering::Relaxed)
        && greenstd::hooks::should_intercept()
        && !signals::in_handler()
}

#[inline]
fn intercept(fd: c_int) -> bool {
    fd > 2 && active()
}

/// The result of a call that parked: the value with `errno` as it was at
/// entry, or -1 with the error's `errno` (`would_block` when the plan said
/// fail or the deadline passed).
fn finish<T: From<i8>>(
    outcome: std::thread::Result<io::Result<Option<T>>>,
    saved: c_int,
    would_block: c_int,
) -> T {
    match outcome {
        Ok(Ok(Some(value))) => {
            set_errno(saved);
            value
        }
        Ok(Ok(None)) => {
            set_errno(would_block);
            T::from(-1)
        }
        Ok(Err(e)) => {
            set_errno(e.raw_os_error().unwrap_or(libc::EIO));
            T::from(-1)
        }
        Err(_) => {
            set_errno(libc::EIO);
            T::from(-1)
        }
    }
}

/// What a call that would block should do: fail at once if the program
/// made the fd non-blocking, otherwise wait until its socket timeout (the
/// kernel's `SO_RCVTIMEO`/`SO_SNDTIMEO`, per call) or forever.
fn plan(fd: c_int, direction: Direction) -> io::Result<Plan> {
    // SAFETY: F_GETFL takes no argument and only reads the fd's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK != 0 {
        return Ok(Plan::Fail);
    }
    let option = match direction {
        Direction::Read => libc::SO_RCVTIMEO,
        Direction::Write => libc::SO_SNDTIMEO,
    };
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = size_of::<libc::timeval>() as socklen_t;
    // SAFETY: `tv` and `len` are valid for getsockopt to fill.
    let rc =
        unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, option, (&raw mut tv).cast(), &mut len) };
    if rc != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return Ok(Plan::Wait(None));
    }
    let timeout = Duration::from_secs(tv.tv_sec.max(0) as u64)
        + Duration::from_micros(tv.tv_usec.max(0) as u64);
    Ok(Plan::Wait(Instant::now().checked_add(timeout)))
}

/// A socket call made non-blocking by `op` (which passes `MSG_DONTWAIT` or
/// checks readiness first), parked on while it would block.
fn socket_io<T: From<i8> + PartialOrd>(
    fd: c_int,
    direction: Direction,
    would_block: c_int,
    mut op: impl FnMut() -> T,
) -> T {
    let saved = errno();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        greenstd::hooks::checkpoint();
        greenstd::hooks::io(
            fd,
            direction,
            || plan(fd, direction),
            || {
                let n = op();
                if n >= T::from(0) {
                    Ok(n)
                } else {
                    Err(io::Error::last_os_error())
                }
            },
        )
    }));
    finish(outcome, saved, would_block)
}

/// # Safety
/// As libc's `recv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    if !intercept(fd) {
        return call_real!(real::RECV, RecvFn, -1, fd, buf, len, flags);
    }
    socket_io(fd, Direction::Read, libc::EAGAIN, || {
        call_real!(
            real::RECV,
            RecvFn,
            -1,
            fd,
            buf,
            len,
            flags | libc::MSG_DONTWAIT
        )
    })
}

/// # Safety
/// As libc's `send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    if !intercept(fd) {
        return call_real!(real::SEND, SendFn, -1, fd, buf, len, flags);
    }
    socket_io(fd, Direction::Write, libc::EAGAIN, || {
        call_real!(
            real::SEND,
            SendFn,
            -1,
            fd,
            buf,
            len,
            flags | libc::MSG_DONTWAIT
        )
    })
}

/// # Safety
/// As libc's `recvfrom`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    if !intercept(fd) {
        return call_real!(
            real::RECVFROM,
            RecvFromFn,
            -1,
            fd,
            buf,
            len,
            flags,
            addr,
            addrlen
        );
    }
    socket_io(fd, Direction::Read, libc::EAGAIN, || {
        let flags = flags | libc::MSG_DONTWAIT;
        call_real!(
            real::RECVFROM,
            RecvFromFn,
            -1,
            fd,
            buf,
            len,
            flags,
            addr,
            addrlen
        )
    })
}

/// # Safety
/// As libc's `sendto`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    if !intercept(fd) {
        return call_real!(
            real::SENDTO,
            SendToFn,
            -1,
            fd,
            buf,
            len,
            flags,
            addr,
            addrlen
        );
    }
    socket_io(fd, Direction::Write, libc::EAGAIN, || {
        let flags = flags | libc::MSG_DONTWAIT;
        call_real!(
            real::SENDTO,
            SendToFn,
            -1,
            fd,
            buf,
            len,
            flags,
            addr,
            addrlen
        )
    })
}

/// # Safety
/// As libc's `recvmsg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    if !intercept(fd) {
        return call_real!(real::RECVMSG, RecvMsgFn, -1, fd, msg, flags);
    }
    socket_io(fd, Direction::Read, libc::EAGAIN, || {
        call_real!(
            real::RECVMSG,
            RecvMsgFn,
            -1,
            fd,
            msg,
            flags | libc::MSG_DONTWAIT
        )
    })
}

/// # Safety
/// As libc's `sendmsg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    if !intercept(fd) {
        return call_real!(real::SENDMSG, SendMsgFn, -1, fd, msg, flags);
    }
    socket_io(fd, Direction::Write, libc::EAGAIN, || {
        call_real!(
            real::SENDMSG,
            SendMsgFn,
            -1,
            fd,
            msg,
            flags | libc::MSG_DONTWAIT
        )
    })
}

/// # Safety
/// As libc's `read`. Only sockets are taken over; files, pipes and
/// terminals pass through.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    if !intercept(fd) || !greenstd::hooks::is_socket(fd) {
        return call_real!(real::READ, ReadFn, -1, fd, buf, count);
    }
    // On a socket, `read` is `recv` without flags.
    socket_io(fd, Direction::Read, libc::EAGAIN, || {
        call_real!(real::RECV, RecvFn, -1, fd, buf, count, libc::MSG_DONTWAIT)
    })
}

/// # Safety
/// As libc's `write`; sockets only, as [`read`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    if !intercept(fd) || !greenstd::hooks::is_socket(fd) {
        return call_real!(real::WRITE, WriteFn, -1, fd, buf, count);
    }
    // On a socket, `write` is `send` without flags (SIGPIPE included).
    socket_io(fd, Direction::Write, libc::EAGAIN, || {
        call_real!(real::SEND, SendFn, -1, fd, buf, count, libc::MSG_DONTWAIT)
    })
}

/// A `msghdr` carrying only `iov`: what `readv`/`writev` are on a socket.
fn iov_msg(iov: *const libc::iovec, iovcnt: c_int) -> msghdr {
    // SAFETY: an all-zero msghdr (no name, no control data) is valid.
    let mut msg: msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.cast_mut();
    msg.msg_iovlen = iovcnt.max(0) as _;
    msg
}

/// # Safety
/// As libc's `readv`; sockets only, as [`read`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> ssize_t {
    if !intercept(fd) || !greenstd::hooks::is_socket(fd) {
        return call_real!(real::READV, ReadvFn, -1, fd, iov, iovcnt);
    }
    let mut msg = iov_msg(iov, iovcnt);
    let msg = &raw mut msg;
    socket_io(fd, Direction::Read, libc::EAGAIN, || {
        call_real!(real::RECVMSG, RecvMsgFn, -1, fd, msg, libc::MSG_DONTWAIT)
    })
}

/// # Safety
/// As libc's `writev`; sockets only, as [`read`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> ssize_t {
    if !intercept(fd) || !greenstd::hooks::is_socket(fd) {
        return call_real!(real::WRITEV, ReadvFn, -1, fd, iov, iovcnt);
    }
    let msg = iov_msg(iov, iovcnt);
    let msg = &raw const msg;
    socket_io(fd, Direction::Write, libc::EAGAIN, || {
        call_real!(real::SENDMSG, SendMsgFn, -1, fd, msg, libc::MSG_DONTWAIT)
    })
}

/// Whether a zero-timeout real `poll` finds `fd` ready for `events`.
fn ready_now(fd: c_int, events: libc::c_short) -> bool {
    let mut pfd = pollfd {
        fd,
        events,
        revents: 0,
    };
    call_real!(real::POLL, PollFn, -1, &mut pfd, 1, 0) > 0
}

/// Whether the program made `fd` non-blocking (or it cannot be told).
fn nonblocking(fd: c_int) -> bool {
    // SAFETY: F_GETFL takes no argument and only reads the fd's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags < 0 || flags & libc::O_NONBLOCK != 0
}

/// # Safety
/// As libc's `accept`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    if !intercept(fd) {
        return call_real!(real::ACCEPT, AcceptFn, -1, fd, addr, len);
    }
    // On Linux `accept` is `accept4` without flags.
    // SAFETY: the caller's arguments, as accept requires.
    unsafe { accept4(fd, addr, len, 0) }
}

/// # Safety
/// As libc's `accept4`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    if !intercept(fd) || nonblocking(fd) {
        return call_real!(real::ACCEPT4, Accept4Fn, -1, fd, addr, len, flags);
    }
    // `accept4` has no per-call non-blocking flag for the listener: wait
    // until a connection is pending, then take it.
    socket_io(fd, Direction::Read, libc::EAGAIN, || {
        if !ready_now(fd, libc::POLLIN) {
            set_errno(libc::EAGAIN);
            return -1;
        }
        call_real!(real::ACCEPT4, Accept4Fn, -1, fd, addr, len, flags)
    })
}

/// # Safety
/// As libc's `connect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    if !intercept(fd) || nonblocking(fd) {
        return call_real!(real::CONNECT, ConnectFn, -1, fd, addr, len);
    }
    // `connect` has no per-call non-blocking flag either: start it with the
    // fd non-blocking for the one call (the handshake goes on regardless of
    // the mode), put the program's flags back, and wait for the outcome.
    // SAFETY: F_GETFL/F_SETFL only read and write the fd's status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
    let started = call_real!(real::CONNECT, ConnectFn, -1, fd, addr, len);
    let error = errno();
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
    if started == 0 || error != libc::EINPROGRESS {
        set_errno(error);
        return started;
    }
    // A blocking connect that times out (SO_SNDTIMEO) fails with
    // EINPROGRESS on Linux.
    socket_io(fd, Direction::Write, libc::EINPROGRESS, || {
        if !ready_now(fd, libc::POLLOUT) {
            set_errno(libc::EAGAIN);
            return -1;
        }
        let mut err: c_int = 0;
        let mut len = size_of::<c_int>() as socklen_t;
        // SAFETY: `err` and `len` are valid for getsockopt to fill.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut err).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return -1;
        }
        if err != 0 {
            set_errno(err);
            return -1;
        }
        0
    })
}

/// A hooked poll: parks until one of `fds` is ready or `deadline`.
/// Returns `None` when the hook must pass the call through instead.
///
/// # Safety
/// `fds` points to `nfds` valid `pollfd`s.
unsafe fn poll_parked(fds: *mut pollfd, nfds: nfds_t, deadline: Option<Instant>) -> Option<c_int> {
    // SAFETY: the caller's array, valid for `nfds` entries.
    let entries = unsafe { std::slice::from_raw_parts(fds, nfds as usize) };
    let mut watch = Vec::with_capacity(entries.len());
    for p in entries.iter().filter(|p| p.fd >= 0) {
        if p.fd <= 2 {
            return None; // never park on the standard streams
        }
        if p.events & (libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP) != 0 {
            watch.push((p.fd, Direction::Read));
        }
        if p.events & libc::POLLOUT != 0 {
            watch.push((p.fd, Direction::Write));
        }
    }
    let saved = errno();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        greenstd::hooks::poll(&watch, deadline, || {
            match call_real!(real::POLL, PollFn, -1, fds, nfds, 0) {
                n if n > 0 => Ok(Some(n)),
                0 => Ok(None),
                _ => Err(io::Error::last_os_error()),
            }
        })
    }));
    match outcome {
        Ok(Ok(Some(n))) => {
            set_errno(saved);
            Some(n)
        }
        Ok(Ok(None)) => {
            set_errno(saved);
            Some(0) // timed out; the last look cleared every revents
        }
        Ok(Err(e)) if e.raw_os_error() == Some(libc::ECANCELED) => {
            set_errno(libc::EINTR);
            Some(-1)
        }
        // An fd epoll cannot watch: let the real call block.
        Ok(Err(_)) | Err(_) => None,
    }
}

fn deadline_after_ms(timeout: c_int) -> Option<Instant> {
    (timeout >= 0)
        .then(|| Instant::now().checked_add(Duration::from_millis(timeout as u64)))
        .flatten()
}

/// # Safety
/// As libc's `poll`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    if timeout != 0 && active() {
        let deadline = deadline_after_ms(timeout);
        if nfds == 0 {
            // `poll(NULL, 0, ms)`: C's portable sleep.
            if let Some(at) = deadline {
                sleep_until(at);
            }
            return 0;
        }
        // SAFETY: the caller's array, as poll requires.
        if let Some(n) = unsafe { poll_parked(fds, nfds, deadline) } {
            return n;
        }
    }
    call_real!(real::POLL, PollFn, -1, fds, nfds, timeout)
}

/// # Safety
/// As libc's `ppoll`. A call with a signal mask passes through: the mask
/// cannot be applied to a coroutine's wait.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    if sigmask.is_null() && active() {
        // SAFETY: a non-null timeout points to a valid timespec.
        let duration = (!timeout.is_null()).then(|| duration_of(unsafe { &*timeout }));
        match duration {
            Some(None) => {
                set_errno(libc::EINVAL);
                return -1;
            }
            Some(Some(d)) if d.is_zero() => {}
            _ => {
                let deadline = duration
                    .flatten()
                    .and_then(|d| Instant::now().checked_add(d));
                if nfds == 0 {
                    if let Some(at) = deadline {
                        sleep_until(at);
                    }
                    return 0;
                }
                // SAFETY: the caller's array, as ppoll requires.
                if let Some(n) = unsafe { poll_parked(fds, nfds, deadline) } {
                    return n;
                }
            }
        }
    }
    call_real!(real::PPOLL, PpollFn, -1, fds, nfds, timeout, sigmask)
}

type SelectFn = unsafe extern "C" fn(
    c_int,
    *mut libc::fd_set,
    *mut libc::fd_set,
    *mut libc::fd_set,
    *mut libc::timeval,
) -> c_int;
type PselectFn = unsafe extern "C" fn(
    c_int,
    *mut libc::fd_set,
    *mut libc::fd_set,
    *mut libc::fd_set,
    *const timespec,
    *const libc::sigset_t,
) -> c_int;

/// The caller's three fd sets (each may be null).
#[derive(Clone, Copy)]
struct FdSets {
    nfds: c_int,
    sets: [*mut libc::fd_set; 3],
}

impl FdSets {
    /// The fds to watch, or `None` when the call must pass through (a
    /// standard stream, or an fd count select would refuse).
    fn watch(&self) -> Option<Vec<(c_int, Direction)>> {
        if !(0..=libc::FD_SETSIZE as c_int).contains(&self.nfds) {
            return None;
        }
        let mut watch = Vec::new();
        for fd in 0..self.nfds {
            // SAFETY: each non-null set is a valid fd_set; fd < FD_SETSIZE.
            let [read, write, except] = self
                .sets
                .map(|set| !set.is_null() && unsafe { libc::FD_ISSET(fd, set) });
            if !(read || write || except) {
                continue;
            }
            if fd <= 2 {
                return None;
            }
            if read || except {
                watch.push((fd, Direction::Read));
            }
            if write {
                watch.push((fd, Direction::Write));
            }
        }
        Some(watch)
    }

    /// A real select with a zero timeout on copies of the sets; on a
    /// result, the copies go back to the caller.
    fn look(&self) -> io::Result<Option<c_int>> {
        // SAFETY: each non-null set is a valid fd_set to copy.
        let mut copies = self
            .sets
            .map(|set| (!set.is_null()).then(|| unsafe { std::ptr::read(set) }));
        let [r, w, e] = copies
            .each_mut()
            .map(|c| c.as_mut().map_or(std::ptr::null_mut(), |set| set as *mut _));
        let mut zero = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        match call_real!(real::SELECT, SelectFn, -1, self.nfds, r, w, e, &mut zero) {
            0 => Ok(None),
            n if n > 0 => {
                for (set, copy) in self.sets.iter().zip(copies) {
                    if let Some(copy) = copy {
                        // SAFETY: the caller's set, valid to write.
                        unsafe { std::ptr::write(*set, copy) };
                    }
                }
                Ok(Some(n))
            }
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// Parks until one of the sets' fds is ready or `deadline`; the count
    /// select returns, or `None` to pass the call through instead.
    fn wait(&self, deadline: Option<Instant>) -> Option<c_int> {
        let watch = self.watch()?;
        if watch.is_empty() {
            // `select(0, NULL, NULL, NULL, &tv)`: the old portable sleep.
            deadline.map(sleep_until)?;
            return Some(0);
        }
        let saved = errno();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            greenstd::hooks::poll(&watch, deadline, || self.look())
        }));
        match outcome {
            Ok(Ok(Some(n))) => {
                set_errno(saved);
                Some(n)
            }
            Ok(Ok(None)) => {
                for set in self.sets.into_iter().filter(|s| !s.is_null()) {
                    // SAFETY: the caller's set; on a timeout select clears it.
                    unsafe { libc::FD_ZERO(set) };
                }
                set_errno(saved);
                Some(0)
            }
            Ok(Err(e)) => {
                set_errno(match e.raw_os_error() {
                    Some(libc::ECANCELED) | None => libc::EINTR,
                    Some(code) => code,
                });
                Some(-1)
            }
            Err(_) => None,
        }
    }
}

/// # Safety
/// As libc's `select`. Like Linux's, it leaves the time not slept in
/// `timeout`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn select(
    nfds: c_int,
    readfds: *mut libc::fd_set,
    writefds: *mut libc::fd_set,
    exceptfds: *mut libc::fd_set,
    timeout: *mut libc::timeval,
) -> c_int {
    if active() {
        // SAFETY: a non-null timeout points to a valid timeval.
        let duration = (!timeout.is_null()).then(|| duration_of_timeval(unsafe { &*timeout }));
        if !matches!(duration, Some(None)) && duration.flatten() != Some(Duration::ZERO) {
            let deadline = duration.flatten().map(greenstd_deadline);
            let sets = FdSets {
                nfds,
                sets: [readfds, writefds, exceptfds],
            };
            if let Some(n) = sets.wait(deadline) {
                if let Some(at) = deadline {
                    let left = at.saturating_duration_since(Instant::now());
                    // SAFETY: the caller's timeout, valid to write.
                    unsafe {
                        (*timeout).tv_sec = left.as_secs() as libc::time_t;
                        (*timeout).tv_usec = left.subsec_micros() as libc::suseconds_t;
                    }
                }
                return n;
            }
        }
    }
    call_real!(
        real::SELECT,
        SelectFn,
        -1,
        nfds,
        readfds,
        writefds,
        exceptfds,
        timeout
    )
}

/// # Safety
/// As libc's `pselect`. A call with a signal mask passes through, as for
/// `ppoll`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pselect(
    nfds: c_int,
    readfds: *mut libc::fd_set,
    writefds: *mut libc::fd_set,
    exceptfds: *mut libc::fd_set,
    timeout: *const timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    if sigmask.is_null() && active() {
        // SAFETY: a non-null timeout points to a valid timespec.
        let duration = (!timeout.is_null()).then(|| duration_of(unsafe { &*timeout }));
        if !matches!(duration, Some(None)) && duration.flatten() != Some(Duration::ZERO) {
            let sets = FdSets {
                nfds,
                sets: [readfds, writefds, exceptfds],
            };
            if let Some(n) = sets.wait(duration.flatten().map(greenstd_deadline)) {
                return n;
            }
        }
    }
    call_real!(
        real::PSELECT,
        PselectFn,
        -1,
        nfds,
        readfds,
        writefds,
        exceptfds,
        timeout,
        sigmask
    )
}

/// `now + d`, a far future if that overflows.
fn greenstd_deadline(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

/// A valid timeval as a duration; `None` if out of range (EINVAL).
fn duration_of_timeval(tv: &libc::timeval) -> Option<Duration> {
    if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
        return None;
    }
    Some(Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000))
}

/// A valid timespec as a duration; `None` if out of range (EINVAL).
fn duration_of(ts: &timespec) -> Option<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Parks until `deadline`. A kill or timeout ends the sleep early, as if
/// it had lasted: libc's callers retry an `EINTR` sleep, which would spin.
fn sleep_until(deadline: Instant) {
    let saved = errno();
    let _ = catch_unwind(AssertUnwindSafe(|| greenstd::hooks::sleep_until(deadline)));
    set_errno(saved);
}

/// # Safety
/// As libc's `clock_nanosleep` (which returns an error number, not -1).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    request: *const timespec,
    remain: *mut timespec,
) -> c_int {
    let known = matches!(
        clock,
        libc::CLOCK_MONOTONIC | libc::CLOCK_REALTIME | libc::CLOCK_BOOTTIME
    );
    if !known || request.is_null() || !active() {
        return call_real!(
            real::CLOCK_NANOSLEEP,
            ClockNanosleepFn,
            libc::ENOSYS,
            clock,
            flags,
            request,
            remain
        );
    }
    // SAFETY: a non-null request points to a valid timespec.
    let Some(asked) = duration_of(unsafe { &*request }) else {
        return libc::EINVAL;
    };
    let duration = if flags & libc::TIMER_ABSTIME != 0 {
        let mut now = timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is valid to fill; the clock is one of three known.
        unsafe { libc::clock_gettime(clock, &mut now) };
        duration_of(&now).map_or(Duration::ZERO, |now| asked.saturating_sub(now))
    } else {
        asked
    };
    if let Some(at) = Instant::now().checked_add(duration) {
        sleep_until(at);
    }
    0
}

/// # Safety
/// As libc's `nanosleep`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanosleep(request: *const timespec, remain: *mut timespec) -> c_int {
    if request.is_null() || !active() {
        return call_real!(real::NANOSLEEP, NanosleepFn, -1, request, remain);
    }
    // SAFETY: a non-null request points to a valid timespec.
    let Some(duration) = duration_of(unsafe { &*request }) else {
        set_errno(libc::EINVAL);
        return -1;
    };
    if let Some(at) = Instant::now().checked_add(duration) {
        sleep_until(at);
    }
    0
}

/// # Safety
/// As libc's `usleep`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usleep(usec: libc::useconds_t) -> c_int {
    if !active() {
        return call_real!(real::USLEEP, UsleepFn, -1, usec);
    }
    sleep_until(Instant::now() + Duration::from_micros(u64::from(usec)));
    0
}

/// # Safety
/// As libc's `sleep`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sleep(seconds: c_uint) -> c_uint {
    if !active() {
        return call_real!(real::SLEEP, SleepFn, seconds, seconds);
    }
    if let Some(at) = Instant::now().checked_add(Duration::from_secs(u64::from(seconds))) {
        sleep_until(at);
    }
    0
}

/// Makes the runtime forget `fd` before it is closed or replaced, so a
/// reused fd number never inherits a stale registration. Any thread.
fn forget(fd: c_int) {
    if fd >= 0 && PATCHED.load(Ordering::Relaxed) && !IN_CHILD.load(Ordering::Relaxed) {
        let saved = errno();
        if signals::in_handler() {
            // Only the lock-free part: the interrupted code may be using
            // this thread's registrations.
            greenstd::hooks::forget_fd_signal_safe(fd);
        } else {
            let _ = catch_unwind(|| greenstd::hooks::forget_fd(fd));
        }
        set_errno(saved);
    }
}

/// # Safety
/// As libc's `close`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    forget(fd);
    call_real!(real::CLOSE, CloseFn, -1, fd)
}

/// # Safety
/// As libc's `dup2`, which closes `new` first.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    if old != new {
        forget(new);
    }
    call_real!(real::DUP2, Dup2Fn, -1, old, new)
}

/// # Safety
/// As libc's `dup3`, which closes `new` first.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    if old != new {
        forget(new);
    }
    call_real!(real::DUP3, Dup3Fn, -1, old, new, flags)
}

/// The arguments of a `getaddrinfo` handed to a pool thread.
struct Lookup(
    *const c_char,
    *const c_char,
    *const addrinfo,
    *mut *mut addrinfo,
);

impl Lookup {
    /// The real lookup, on the calling (pool) thread: its code and errno.
    fn run(self) -> (c_int, c_int) {
        let Lookup(node, service, hints, res) = self;
        let code = call_real!(
            real::GETADDRINFO,
            GetaddrinfoFn,
            libc::EAI_SYSTEM,
            node,
            service,
            hints,
            res
        );
        (code, errno())
    }
}

// SAFETY: the pointers stay valid until the caller's `getaddrinfo`
// returns, and it returns only after the pool thread finished with them;
// getaddrinfo is thread-safe, and its result may be freed on any thread.
unsafe impl Send for Lookup {}

/// # Safety
/// As libc's `getaddrinfo`. Inside a coroutine the lookup runs on
/// greenstd's blocking pool while the coroutine parks.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    if !active() {
        return call_real!(
            real::GETADDRINFO,
            GetaddrinfoFn,
            libc::EAI_SYSTEM,
            node,
            service,
            hints,
            res
        );
    }
    let lookup = Lookup(node, service, hints, res);
    let saved = errno();
    let outcome = catch_unwind(AssertUnwindSafe(move || {
        greenstd::hooks::run_blocking(move || lookup.run())
    }));
    match outcome {
        Ok((code, error)) => {
            set_errno(if code == libc::EAI_SYSTEM {
                error
            } else {
                saved
            });
            code
        }
        Err(_) => {
            set_errno(libc::EIO);
            libc::EAI_SYSTEM
        }
    }
}

unsafe extern "C" {
    fn pthread_atfork(
        prepare: Option<unsafe extern "C" fn()>,
        parent: Option<unsafe extern "C" fn()>,
        child: Option<unsafe extern "C" fn()>,
    ) -> c_int;
}

unsafe extern "C" fn in_child() {
    IN_CHILD.store(true, Ordering::Relaxed);
}

/// Turns the hooks off in the child of every later `fork()`: it has one
/// thread, and the hubs' threads did not come along.
pub(crate) fn install_fork_handler() {
    // SAFETY: registers a handler that only stores to an atomic, which is
    // async-signal-safe as a child-side fork handler must be.
    unsafe { pthread_atfork(None, None, Some(in_child)) };
}

/// # Safety
/// As libc's `sigaction`. Once patched, a handler the program installs
/// runs marked as a signal handler, so the hooks it calls pass through;
/// the old action reported is the program's own.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigaction(
    signal: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    // SAFETY: the caller's arguments.
    unsafe { signals::sigaction(signal, act, old) }
}

/// # Safety
/// As libc's `signal`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signal(signal: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    if !PATCHED.load(Ordering::Relaxed) {
        type SignalFn = unsafe extern "C" fn(c_int, libc::sighandler_t) -> libc::sighandler_t;
        return call_real!(real::SIGNAL, SignalFn, libc::SIG_ERR, signal, handler);
    }
    // SAFETY: the caller's arguments.
    unsafe { signals::signal(signal, handler) }
}
