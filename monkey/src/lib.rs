//! # greenstd-monkey: gevent's `monkey.patch_all()` for greenstd
//!
//! ```no_run
//! use std::io::{Read, Write};
//!
//! fn main() {
//!     greenstd_monkey::patch_all().expect("a dynamically linked binary");
//!     // std's own types, or any crate that opens its own sockets (redis,
//!     // memcache, ureq...), now park only their coroutine while they wait:
//!     let handles: Vec<_> = (0..100)
//!         .map(|_| {
//!             greenstd::thread::spawn(|| {
//!                 let mut s = std::net::TcpStream::connect("127.0.0.1:6379")?;
//!                 s.write_all(b"PING\r\n")?;
//!                 let mut reply = [0u8; 7];
//!                 s.read_exact(&mut reply)?;
//!                 Ok::<_, std::io::Error>(reply)
//!             })
//!         })
//!         .collect();
//!     for h in handles {
//!         let _ = h.join();
//!     }
//! }
//! ```
//!
//! Libraries you do not own open their own `std::net` sockets and call
//! `std::thread::sleep`; under greenstd alone each such call blocks the
//! whole hub. Linking this crate defines `recv`, `send`, `poll`,
//! `select`, `clock_nanosleep`, `getaddrinfo`... as `#[no_mangle] extern "C"`
//! functions: in the final binary they take the place of libc's, for std's
//! calls and for C code linked in. Each hook reaches the real function
//! through `dlsym(RTLD_NEXT)`.
//!
//! ## What a hook does
//!
//! - **Until [`patch_all`]**, and always outside a greenstd coroutine (a
//!   plain thread, the hub's own work, the blocking pool), in a forked
//!   child, and on stdin/stdout/stderr: it calls the real function and
//!   nothing else: no allocation, no lock, `errno` untouched. A program
//!   that links the crate and never patches behaves as before.
//! - **Inside a coroutine, once patched**: a socket call is tried with
//!   `MSG_DONTWAIT` (the fd's flags are never changed, so `fcntl(F_GETFL)`
//!   reports what the program set); if it would block, the hook looks at
//!   the fd's real flags: a socket the program made non-blocking gets
//!   `EAGAIN` at once, a blocking one parks the coroutine on the fd until
//!   ready or until its `SO_RCVTIMEO`/`SO_SNDTIMEO` passes (then `EAGAIN`,
//!   as the kernel says). Sleeps park on a hub timer, `poll` parks on all
//!   its fds, `getaddrinfo` runs on greenstd's blocking pool. `errno` is
//!   what the real call left, whatever other coroutines did meanwhile.
//! - **In a signal handler** the program installed (with `sigaction` or
//!   `signal`, before or after [`patch_all`]), every hook passes through:
//!   the handler runs inside a trampoline that marks the thread, and
//!   `sigaction` reports the program's handler, not the trampoline.
//! - **`close` and `dup2`** (from any thread) first make the runtime forget
//!   the fd, so a reused fd number never inherits a stale registration.
//!
//! A kill or an expired `Timeout` cannot unwind through libc: it ends a
//! hooked socket wait with `ECANCELED` (a sleep returns early) and is
//! delivered at the coroutine's next greenstd call.
//!
//! ## Limits
//!
//! `std::sync::Mutex` and `Condvar` wait in futexes through `syscall()`:
//! out of reach (use `greenstd::sync`). Regular files always read as ready.
//! `ppoll` and `pselect` with a signal mask pass through (they block the
//! hub). OS threads a crate starts
//! itself are plain threads: their calls pass through, as they should.
//! Static builds (`-C target-feature=+crt-static`) cannot interpose libc:
//! there the hooks are left out and [`patch_all`] fails with a clear error.
#![deny(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(not(target_feature = "crt-static"))]
mod hooks;
#[cfg(not(target_feature = "crt-static"))]
mod real;
#[cfg(not(target_feature = "crt-static"))]
mod signals;

/// Set by [`patch_all`]; read by every hook first.
pub(crate) static PATCHED: AtomicBool = AtomicBool::new(false);

/// Set in the child of a `fork()`: its hooks pass through for good.
pub(crate) static IN_CHILD: AtomicBool = AtomicBool::new(false);

/// Why [`patch_all`] could not patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError {
    reason: String,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for PatchError {}

impl From<PatchError> for std::io::Error {
    fn from(e: PatchError) -> Self {
        std::io::Error::new(std::io::ErrorKind::Unsupported, e)
    }
}

/// Turns the hooks on for the whole process: from now on, libc calls that
/// would block, made inside greenstd coroutines, park only their coroutine.
/// gevent's `monkey.patch_all()`. Calling it again does nothing.
///
/// # Errors
/// In a static build (`crt-static`), or when the real libc functions
/// cannot be found: the hooks stay off and every call keeps reaching libc.
///
/// # Examples
/// ```
/// greenstd_monkey::patch_all().unwrap();
/// assert!(greenstd_monkey::is_patched());
/// // A std sleep inside a coroutine now parks the coroutine only.
/// let h = greenstd::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(1)));
/// h.join().unwrap();
/// ```
pub fn patch_all() -> Result<(), PatchError> {
    #[cfg(target_feature = "crt-static")]
    {
        Err(PatchError {
            reason: "greenstd-monkey cannot patch a statically linked binary (crt-static): \
                     libc's functions are linked in directly and cannot be interposed; \
                     build without `-C target-feature=+crt-static`"
                .into(),
        })
    }
    #[cfg(not(target_feature = "crt-static"))]
    {
        if PATCHED.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Some(missing) = real::resolve_all() {
            return Err(PatchError {
                reason: format!(
                    "greenstd-monkey found no libc definition of `{missing}` behind its hook \
                     (dlsym(RTLD_NEXT) returned nothing): is this binary statically linked?"
                ),
            });
        }
        hooks::install_fork_handler();
        signals::wrap_installed();
        PATCHED.store(true, Ordering::Release);
        Ok(())
    }
}

/// Whether [`patch_all`] has turned the hooks on.
///
/// # Examples
/// ```
/// let _ = greenstd_monkey::is_patched(); // false until patch_all()
/// ```
pub fn is_patched() -> bool {
    PATCHED.load(Ordering::Acquire)
}
