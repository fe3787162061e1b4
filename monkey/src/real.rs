//! The real libc functions behind the hooks, found with
//! `dlsym(RTLD_NEXT, name)`: the next definition after ours, libc's.
//!
//! Each is looked up once, by the constructor below at load time (before
//! `main`) or by the first hook that needs it, and kept in an atomic, so a
//! hook's pass-through path is one load and an indirect call.

use std::ffi::{CStr, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

/// glibc's `RTLD_NEXT`: search the objects loaded after the caller's.
const RTLD_NEXT: *mut c_void = -1isize as *mut c_void;

/// One real function: its name and where it was found (0: not looked up).
pub(crate) struct Real {
    name: &'static CStr,
    address: AtomicUsize,
}

impl Real {
    const fn new(name: &'static CStr) -> Real {
        Real {
            name,
            address: AtomicUsize::new(0),
        }
    }

    /// The function's address, looked up on first use; 0 if libc has none.
    #[inline]
    pub(crate) fn address(&self) -> usize {
        match self.address.load(Ordering::Acquire) {
            0 => self.resolve(),
            found => found,
        }
    }

    #[cold]
    fn resolve(&self) -> usize {
        // SAFETY: `name` is a NUL-terminated string; RTLD_NEXT is a valid
        // pseudo-handle for dlsym on glibc.
        let found = unsafe { libc::dlsym(RTLD_NEXT, self.name.as_ptr()) } as usize;
        self.address.store(found, Ordering::Release);
        found
    }
}

macro_rules! reals {
    ($($id:ident => $name:literal),* $(,)?) => {
        $(pub(crate) static $id: Real = Real::new($name);)*
        /// Every real function, for `resolve_all`.
        static ALL: &[&Real] = &[$(&$id),*];
    };
}

reals! {
    RECV => c"recv",
    SEND => c"send",
    RECVFROM => c"recvfrom",
    SENDTO => c"sendto",
    RECVMSG => c"recvmsg",
    SENDMSG => c"sendmsg",
    READ => c"read",
    WRITE => c"write",
    READV => c"readv",
    WRITEV => c"writev",
    ACCEPT => c"accept",
    ACCEPT4 => c"accept4",
    CONNECT => c"connect",
    POLL => c"poll",
    PPOLL => c"ppoll",
    CLOCK_NANOSLEEP => c"clock_nanosleep",
    NANOSLEEP => c"nanosleep",
    USLEEP => c"usleep",
    SLEEP => c"sleep",
    CLOSE => c"close",
    DUP2 => c"dup2",
    DUP3 => c"dup3",
    GETADDRINFO => c"getaddrinfo",
    SIGACTION => c"sigaction",
    SIGNAL => c"signal",
    SELECT => c"select",
    PSELECT => c"pselect",
}

/// Looks every real function up; the name of the first one missing.
pub(crate) fn resolve_all() -> Option<&'static str> {
    ALL.iter()
        .find(|r| r.address() == 0)
        .map(|r| r.name.to_str().unwrap_or("?"))
}

/// Resolves the real functions at load time, before any hook may run
/// patched: the lookup itself may allocate, which a hook must not do.
extern "C" fn resolve_at_load() {
    let _ = resolve_all();
}

#[used]
#[unsafe(link_section = ".init_array")]
static RESOLVE_AT_LOAD: extern "C" fn() = resolve_at_load;
