//! Stack overflow in a coroutine: report it by name and abort, as std does
//! for a thread.
//!
//! A coroutine that runs into its stack's guard page cannot continue, and
//! abandoning its frames is not safe: a lock guard among them (a channel's,
//! stdout's) would stay held forever. So, like std's own handler for thread
//! stacks, ours prints one line naming the coroutine and its stack size and
//! aborts the process.
//!
//! The handler is installed for `SIGSEGV` and `SIGBUS` in front of the ones
//! already there (std's, and the `generator` crate's, which would print its
//! own unnamed line and switch out of the faulting coroutine). A fault that
//! is not a coroutine's overflow goes to the handler that was installed
//! before `generator`'s (std's, which reports a thread's own overflow), or
//! to the default action.

use std::cell::Cell;
use std::fmt::Write;
use std::sync::OnceLock;

use super::coroutine;
use super::task::Task;

/// Linux's `si_code` for a fault on a mapped page without permission.
const SEGV_ACCERR: libc::c_int = 2;

/// The actions found before ours, one per signal (`SIGSEGV`, `SIGBUS`).
/// Written once before our handler is installed, only read afterwards.
static PREVIOUS: [OnceLock<Action>; 2] = [OnceLock::new(), OnceLock::new()];

/// A `sigaction` that may be kept in a static.
struct Action(libc::sigaction);

// SAFETY: a `sigaction` is plain data (a handler address, a mask, flags);
// it is written once, before any reader exists, and only read afterwards.
unsafe impl Sync for Action {}
// SAFETY: as above.
unsafe impl Send for Action {}

thread_local! {
    /// Set while this thread reports an overflow, so a fault in the report
    /// itself does not recurse.
    static REPORTING: Cell<bool> = const { Cell::new(false) };
}

/// Reads the current action for `signal`.
fn current_action(signal: libc::c_int) -> Option<libc::sigaction> {
    // SAFETY: an all-zero `sigaction` is a valid value to be overwritten.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current one into `old`,
    // which is valid for writes.
    let rc = unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) };
    (rc == 0).then_some(old)
}

/// Notes the actions in place before `generator` installs its own; call
/// before the first generator runs.
pub(crate) fn remember_original_handlers() {
    for (i, signal) in [libc::SIGSEGV, libc::SIGBUS].into_iter().enumerate() {
        if let Some(old) = current_action(signal) {
            let _ = PREVIOUS[i].set(Action(old));
        }
    }
}

/// Installs our handler in front of whatever is there now.
pub(crate) fn install() {
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: an all-zero `sigaction` is valid; every field we rely on
        // is set below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = handler as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `action.sa_mask` is a valid sigset to initialise.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: `action` is fully initialised and `handler` has the
        // signature `SA_SIGINFO` requires; the old action is not wanted.
        unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) };
    }
}

/// The fault handler.
extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO`
    // handler.
    let (addr, code) = unsafe { ((*info).si_addr() as usize, (*info).si_code) };
    let stack = coroutine::running_stack();
    if (signal == libc::SIGBUS || code == SEGV_ACCERR) && is_overflow(addr, &stack) {
        if REPORTING.try_with(|r| !r.replace(true)).unwrap_or(false) {
            // SAFETY: the hub tags each coroutine with its live task, which
            // the hub keeps alive while the coroutine runs.
            let task = unsafe { stack.tag.cast::<Task>().as_ref() };
            write_report(task, stack.size);
        }
        std::process::abort();
    }
    chain(signal, info, context);
}

/// Whether a fault at `addr` is the running coroutine running into its
/// guard page: the address lies at most one stack size (plus the guard and
/// rounding pages) below the stack's top, and every page from it up to the
/// top is mapped, so it is the page right under this very stack.
fn is_overflow(addr: usize, stack: &coroutine::StackInfo) -> bool {
    if stack.near_top == 0 || addr >= stack.near_top {
        return false;
    }
    let page = page_size();
    if stack.near_top - addr > stack.size + 4 * page {
        return false;
    }
    let mut start = addr & !(page - 1);
    let end = stack.near_top & !(page - 1);
    let mut residency = [0u8; 64];
    while start <= end {
        let pages = ((end - start) / page + 1).min(residency.len());
        // SAFETY: `mincore` only inspects the mappings of the range and
        // writes one byte per page into `residency`, which has room for
        // `pages` bytes. It fails with ENOMEM if any page is unmapped.
        let rc = unsafe {
            libc::mincore(
                start as *mut libc::c_void,
                pages * page,
                residency.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return false;
        }
        start += pages * page;
    }
    true
}

fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    // Read once at install time (see `install`), so the handler only loads it.
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n).unwrap_or(4096)
    })
}

/// Makes sure the page size is known before the handler may need it.
pub(crate) fn prepare() {
    page_size();
}

/// Hands a fault that is not ours to the handler that was there first.
fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let index = usize::from(signal != libc::SIGSEGV);
    let previous = PREVIOUS[index].get().map(|a| a.0);
    match previous {
        Some(action)
            if action.sa_flags & libc::SA_SIGINFO != 0
                && action.sa_sigaction != libc::SIG_DFL
                && action.sa_sigaction != libc::SIG_IGN =>
        {
            // SAFETY: an `SA_SIGINFO` handler has this signature; we pass
            // it the arguments the kernel gave us.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(action.sa_sigaction) };
            f(signal, info, context);
        }
        Some(action)
            if action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN =>
        {
            // SAFETY: a plain handler takes the signal number only.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(action.sa_sigaction) };
            f(signal);
        }
        _ => {
            // Restore the default action and return: the faulting
            // instruction runs again and the default action ends the
            // process, as if we had never been installed.
            // SAFETY: an all-zero `sigaction` with `SIG_DFL` is the default.
            let mut default: libc::sigaction = unsafe { std::mem::zeroed() };
            default.sa_sigaction = libc::SIG_DFL;
            // SAFETY: `default` is a valid action.
            unsafe { libc::sigaction(signal, &default, std::ptr::null_mut()) };
        }
    }
}

/// A fixed buffer to format into without allocating (we run in a signal
/// handler).
struct Buffer {
    bytes: [u8; 512],
    len: usize,
}

impl Write for Buffer {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Writes the report with one `write(2)`, without allocating.
fn write_report(task: Option<&Task>, stack_size: usize) {
    let mut out = Buffer {
        bytes: [0; 512],
        len: 0,
    };
    let _ = out.write_str("\ncoroutine ");
    let _ = match task {
        Some(task) => describe_into(&mut out, task),
        None => out.write_str("<Greenlet>"),
    };
    let _ = write!(
        out,
        " has overflowed its stack of {} KiB\nfatal runtime error: stack overflow, aborting \
         (give it a larger stack with greenstd::thread::Builder::stack_size)\n",
        stack_size / 1024
    );
    // SAFETY: `out.bytes[..out.len]` is initialised; write(2) is
    // async-signal-safe and a short or failed write only loses the report.
    unsafe { libc::write(libc::STDERR_FILENO, out.bytes.as_ptr().cast(), out.len) };
}

/// `<Greenlet "name" #id>`, as [`Task::describe`] prints it.
fn describe_into(out: &mut Buffer, task: &Task) -> std::fmt::Result {
    match task.name() {
        Some(name) => write!(out, "<Greenlet {name:?} #{}>", task.id()),
        None => write!(out, "<Greenlet #{}>", task.id()),
    }
}

/// Reports an overflow the `generator` crate caught before us (it switched
/// out of the coroutine) and aborts: the coroutine's frames cannot be
/// resumed or unwound.
pub(crate) fn report_and_abort(task: &Task, stack_size: usize) -> ! {
    write_report(Some(task), stack_size);
    std::process::abort();
}
