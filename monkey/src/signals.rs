//! Signal handlers: a hook entered from one must pass straight through.
//!
//! A handler runs on whatever stack the thread was on, a coroutine's
//! included, and may call `write`, `send` or `nanosleep` (all
//! async-signal-safe in libc). Parking there would switch stacks inside
//! the handler, with the signal still blocked, while the interrupted code
//! may hold the hub's own state. So once patched, every handler the program
//! installs (with `sigaction` or `signal`, and those already installed when
//! [`wrap_installed`] runs at `patch_all`) runs inside a trampoline that
//! marks the thread "in a signal handler" for the handler's duration, and
//! every hook's gate reads that mark.
//!
//! The program never sees the trampoline: `sigaction`'s old action reports
//! the handler and flags the program gave. `SIGSEGV` and `SIGBUS` are left
//! alone (the stack-overflow handlers of std and greenstd live there, and
//! no fault handler makes a socket call worth parking).

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use crate::PATCHED;
use crate::real;

type SigactionFn =
    unsafe extern "C" fn(c_int, *const libc::sigaction, *mut libc::sigaction) -> c_int;
type Handler = unsafe extern "C" fn(c_int);
type InfoHandler = unsafe extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void);

/// Signal numbers are below this (glibc's `_NSIG`).
const SIGNALS: usize = 65;

thread_local! {
    /// How many signal handlers this thread is inside (they may nest).
    /// A `const` thread-local without a destructor: reading it is a plain
    /// TLS access, safe in a handler.
    static IN_HANDLER: Cell<u32> = const { Cell::new(0) };
}

/// The program's handler for one signal, as it gave it.
struct Slot {
    handler: AtomicUsize,
    flags: AtomicI32,
}

static SLOTS: [Slot; SIGNALS] = [const {
    Slot {
        handler: AtomicUsize::new(libc::SIG_DFL),
        flags: AtomicI32::new(0),
    }
}; SIGNALS];

/// Whether this thread is running a signal handler the program installed.
#[inline]
pub(crate) fn in_handler() -> bool {
    IN_HANDLER.with(Cell::get) != 0
}

fn slot(signal: c_int) -> Option<&'static Slot> {
    usize::try_from(signal).ok().and_then(|i| SLOTS.get(i))
}

/// Whether handlers for `signal` are wrapped.
fn wrappable(signal: c_int) -> bool {
    signal != libc::SIGSEGV && signal != libc::SIGBUS && slot(signal).is_some()
}

fn is_function(handler: usize) -> bool {
    handler != libc::SIG_DFL && handler != libc::SIG_IGN && handler != libc::SIG_ERR
}

/// Runs the program's handler for `signal`, marked as in a handler.
unsafe extern "C" fn trampoline(signal: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    let Some(slot) = slot(signal) else { return };
    let flags = slot.flags.load(Ordering::Acquire);
    let handler = slot.handler.load(Ordering::Acquire);
    if !is_function(handler) {
        // Replaced by SIG_DFL or SIG_IGN while this delivery was on its way.
        return;
    }
    IN_HANDLER.with(|n| n.set(n.get() + 1));
    if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the program installed `handler` with SA_SIGINFO: it has
        // the three-argument signature, and gets the kernel's arguments.
        unsafe {
            let f: InfoHandler = std::mem::transmute::<usize, InfoHandler>(handler);
            f(signal, info, context);
        }
    } else {
        // SAFETY: installed without SA_SIGINFO: a one-argument handler.
        unsafe {
            let f: Handler = std::mem::transmute::<usize, Handler>(handler);
            f(signal);
        }
    }
    IN_HANDLER.with(|n| n.set(n.get() - 1));
}

fn trampoline_address() -> usize {
    trampoline as *const () as usize
}

/// The real `sigaction`.
///
/// # Safety
/// As libc's `sigaction`.
unsafe fn real_sigaction(
    signal: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    let address = real::SIGACTION.address();
    if address == 0 {
        // SAFETY: this thread's errno slot.
        unsafe { *libc::__errno_location() = libc::ENOSYS };
        return -1;
    }
    // SAFETY: `address` is libc's sigaction, whose signature this is.
    let f = unsafe { std::mem::transmute::<usize, SigactionFn>(address) };
    // SAFETY: the caller's arguments, as sigaction requires.
    unsafe { f(signal, act, old) }
}

/// `sigaction`, with a function handler replaced by the trampoline and
/// the trampoline reported back as the program's handler.
///
/// # Safety
/// As libc's `sigaction`.
pub(crate) unsafe fn sigaction(
    signal: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    if !PATCHED.load(Ordering::Relaxed) {
        // SAFETY: the caller's arguments.
        return unsafe { real_sigaction(signal, act, old) };
    }
    // SAFETY: as this function's.
    unsafe { wrapping_sigaction(signal, act, old) }
}

/// [`sigaction`] once patched.
///
/// # Safety
/// As libc's `sigaction`.
unsafe fn wrapping_sigaction(
    signal: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    let Some(slot) = slot(signal).filter(|_| wrappable(signal)) else {
        // SAFETY: the caller's arguments.
        return unsafe { real_sigaction(signal, act, old) };
    };
    let previous = (
        slot.handler.load(Ordering::Acquire),
        slot.flags.load(Ordering::Acquire),
    );
    // SAFETY: a zeroed sigaction is a valid value to be overwritten.
    let mut was: libc::sigaction = unsafe { std::mem::zeroed() };
    let rc = if act.is_null() {
        // SAFETY: a query; `was` is valid to fill.
        unsafe { real_sigaction(signal, act, &mut was) }
    } else {
        // SAFETY: the caller's `act` points to a valid sigaction.
        let mut wrapped = unsafe { std::ptr::read(act) };
        if is_function(wrapped.sa_sigaction) {
            slot.flags.store(wrapped.sa_flags, Ordering::Release);
            slot.handler.store(wrapped.sa_sigaction, Ordering::Release);
            wrapped.sa_sigaction = trampoline_address();
            wrapped.sa_flags |= libc::SA_SIGINFO;
        }
        // SAFETY: `wrapped` is the caller's action with our handler.
        let rc = unsafe { real_sigaction(signal, &wrapped, &mut was) };
        if rc != 0 {
            slot.handler.store(previous.0, Ordering::Release);
            slot.flags.store(previous.1, Ordering::Release);
        }
        rc
    };
    if rc == 0 && !old.is_null() {
        if was.sa_sigaction == trampoline_address() {
            // The kernel's flags (glibc adds SA_RESTORER), with the
            // program's choice of SA_SIGINFO instead of ours.
            was.sa_sigaction = previous.0;
            was.sa_flags = (was.sa_flags & !libc::SA_SIGINFO) | (previous.1 & libc::SA_SIGINFO);
        }
        // SAFETY: the caller's `old` is valid to write, as sigaction needs.
        unsafe { std::ptr::write(old, was) };
    }
    rc
}

/// `signal`, as glibc defines it (BSD semantics: `SA_RESTART`, the signal
/// blocked in its handler), through the wrapping `sigaction`.
///
/// # Safety
/// As libc's `signal`.
pub(crate) unsafe fn signal(signal: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    // SAFETY: zeroed is a valid sigaction; the set calls fill its mask.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler;
    act.sa_flags = libc::SA_RESTART;
    // SAFETY: `act.sa_mask` is a valid set; an invalid signal makes
    // sigaddset fail, and sigaction below reports it.
    unsafe {
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaddset(&mut act.sa_mask, signal);
    }
    // SAFETY: zeroed is a valid sigaction to fill.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both point to valid sigactions.
    if unsafe { sigaction(signal, &act, &mut old) } != 0 {
        return libc::SIG_ERR;
    }
    old.sa_sigaction
}

/// Wraps the handlers installed before `patch_all` (which calls this
/// before it turns the hooks on).
pub(crate) fn wrap_installed() {
    for signal in 1..SIGNALS as c_int {
        if !wrappable(signal) {
            continue;
        }
        // SAFETY: a zeroed sigaction is valid to fill.
        let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a query; glibc refuses its own internal signals and
        // signals that cannot be caught (rc != 0).
        if unsafe { real_sigaction(signal, std::ptr::null(), &mut current) } != 0 {
            continue;
        }
        if is_function(current.sa_sigaction) && current.sa_sigaction != trampoline_address() {
            // SAFETY: reinstalls the handler the kernel reported, wrapped.
            unsafe { wrapping_sigaction(signal, &current, std::ptr::null_mut()) };
        }
    }
}
