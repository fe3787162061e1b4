//! The few OS specifics, and the only place for OS-specific `cfg`.

use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

/// How many OS threads this process has, if the OS tells.
pub(crate) fn os_thread_count() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_dir("/proc/self/task")
            .ok()
            .map(Iterator::count)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// `accept4(fd, SOCK_NONBLOCK | SOCK_CLOEXEC)`: the new socket, already
/// non-blocking, and the peer's address.
pub(crate) fn accept_nonblocking(
    fd: RawFd,
) -> io::Result<(std::os::fd::OwnedFd, socket2::SockAddr)> {
    use std::os::fd::FromRawFd;
    // SAFETY: `try_init` hands accept4 a zeroed storage and its length to
    // fill; on success the returned fd is a new socket that nothing else
    // owns.
    unsafe {
        socket2::SockAddr::try_init(|storage, len| {
            let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
            match libc::accept4(fd, storage.cast(), len, flags) {
                -1 => Err(io::Error::last_os_error()),
                new => Ok(std::os::fd::OwnedFd::from_raw_fd(new)),
            }
        })
    }
}

/// Waits on one fd alone with `poll(2)`: the path of a thread that has no
/// coroutines. Returns `Ok(true)` when the fd is (or may be) ready and
/// `Ok(false)` when `deadline` passed first.
pub(crate) fn poll_fd(fd: RawFd, read: bool, deadline: Option<Instant>) -> io::Result<bool> {
    let events = if read { libc::POLLIN } else { libc::POLLOUT };
    loop {
        let timeout_ms = match deadline {
            None => -1,
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                // Round up so that a sub-millisecond wait does not spin.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid, initialised pollfd that outlives the
        // call, and we pass a count of exactly one.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        match n {
            -1 => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
            0 => {
                if deadline.is_some_and(|d| d <= Instant::now()) {
                    return Ok(false);
                }
            }
            _ => return Ok(true),
        }
    }
}

/// The size of a memory page (read once).
pub(crate) fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n)
            .ok()
            .filter(|&n| n.is_power_of_two())
            .unwrap_or(4096)
    })
}

/// Whether the kernel would map a coroutine stack of `size` bytes now: maps
/// it as the `generator` crate does (readable, writable, private,
/// anonymous, no page touched) and unmaps it at once.
pub(crate) fn probe_stack_mapping(size: usize) -> io::Result<()> {
    #[cfg(any(target_os = "openbsd", target_os = "netbsd"))]
    const MAP_STACK: libc::c_int = 0;
    #[cfg(not(any(target_os = "openbsd", target_os = "netbsd")))]
    const MAP_STACK: libc::c_int = libc::MAP_STACK;
    let size = size
        .checked_add(page_size())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "stack size overflows"))?;
    // SAFETY: a fresh anonymous mapping aliases nothing, and is unmapped
    // before anything could use it.
    unsafe {
        let ptr = libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANON | MAP_STACK,
            -1,
            0,
        );
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        libc::munmap(ptr, size);
    }
    Ok(())
}

/// The kernel's limit on memory maps per process (`vm.max_map_count`).
pub(crate) fn max_map_count() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The error std gives on Unix when a socket's `SO_RCVTIMEO` or
/// `SO_SNDTIMEO` expires: `EAGAIN`, of kind `WouldBlock`.
pub(crate) fn socket_timeout_error() -> io::Error {
    io::Error::from_raw_os_error(libc::EAGAIN)
}

/// Whether a non-blocking `connect` is under way (`EINPROGRESS`).
pub(crate) fn is_connect_in_progress(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINPROGRESS)
}
