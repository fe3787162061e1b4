//! Unwinding and reports on stderr: whether a coroutine unwinds, the panic
//! hook that reports coroutine panics the way std reports thread panics,
//! the would-block-forever report, and std's "fatal runtime error" aborts.

use std::panic::{self, PanicHookInfo};
use std::sync::Once;

use super::context;
use super::error::{Killed, TimeoutExpired, WouldBlockForever};

/// Whether the caller unwinds: std's answer, corrected for coroutines of
/// this thread switched out mid-unwind (std's flag is per OS thread).
#[inline]
pub(crate) fn panicking() -> bool {
    std::thread::panicking() && no_other_unwinder()
}

/// Whether no coroutine of this thread is switched out mid-unwind (so that
/// std's per-thread flag is the caller's own).
#[cold]
fn no_other_unwinder() -> bool {
    super::hub::Hub::existing().is_none_or(|h| h.suspended_unwinders() == 0)
}

/// Prints the report of a would-block-forever wait on stderr, as gevent
/// prints `LoopExit`'s traceback: the error is returned as well, but a
/// `join().unwrap()` would show only `Any { .. }`. `here` lists the
/// thread's own coroutines; those of the worker hubs, if any, follow.
pub(crate) fn report_would_block_forever(e: &WouldBlockForever, here: &str) {
    let elsewhere = super::workers::describe_workers();
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("<unnamed>");
    let mut text = format!("\ngreenstd: on thread '{name}': {e}.\n");
    if here.is_empty() {
        text.push_str("This thread has no coroutines left.\n");
    } else {
        text.push_str("Its coroutines, none of which can run:\n");
        text.push_str(here);
    }
    if !elsewhere.is_empty() {
        text.push_str("The worker hubs' coroutines, all parked:\n");
        text.push_str(&elsewhere);
    }
    text.push_str(
        "Each waits for something only another coroutine or thread could do; look for \
         the wait that was never answered (a lock never released, a channel with no \
         sender left, a park with no unpark).\n",
    );
    eprint!("{text}");
}

/// Prints std's "fatal runtime error" line for `what` and aborts, as std
/// does when a thread's result or TLS value panics on drop.
pub(crate) fn abort_with(what: &str) -> ! {
    eprintln!("fatal runtime error: {what}, aborting");
    std::process::abort();
}

/// Whether `payload` is one the runtime raises on purpose.
pub(crate) fn is_runtime_payload(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<Killed>() || payload.is::<TimeoutExpired>()
}

/// Installs, once per process, a panic hook that reports panics inside
/// coroutines with the coroutine's name, stays quiet about the runtime's
/// own unwinding payloads, and defers to the previous hook otherwise.
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if is_runtime_payload(info.payload())
                || super::coroutine::panics_silenced()
                || super::coroutine::is_cancellation(info.payload())
            {
                return;
            }
            if context::in_coroutine() {
                report_coroutine_panic(info);
            } else if let Some(e) = info.payload().downcast_ref::<WouldBlockForever>() {
                report_thread_panic(info, &e.to_string());
            } else {
                previous(info);
            }
        }));
    });
}

/// Raises `e` as a panic from a call that has no error channel.
#[track_caller]
pub(crate) fn panic_would_block_forever(e: WouldBlockForever) -> ! {
    install_hook();
    panic::panic_any(e)
}

fn report_coroutine_panic(info: &PanicHookInfo<'_>) {
    let task = context::current_task();
    let described;
    let message = match info.payload() {
        p if p.is::<&str>() => p.downcast_ref::<&str>().copied().unwrap_or_default(),
        p if p.is::<String>() => p.downcast_ref::<String>().map_or("", String::as_str),
        p if p.is::<WouldBlockForever>() => {
            described = p
                .downcast_ref::<WouldBlockForever>()
                .map(ToString::to_string);
            described.as_deref().unwrap_or_default()
        }
        _ => "Box<dyn Any>",
    };
    report(&format!("coroutine {}", task.describe()), info, message);
}

fn report_thread_panic(info: &PanicHookInfo<'_>, message: &str) {
    let name = std::thread::current()
        .name()
        .map_or_else(|| "<unnamed>".to_string(), String::from);
    report(&format!("thread '{name}'"), info, message);
}

fn report(who: &str, info: &PanicHookInfo<'_>, message: &str) {
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    let backtrace = std::backtrace::Backtrace::capture();
    let mut text = format!("\n{who} panicked at {location}:\n{message}\n");
    if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
        text.push_str(&format!("stack backtrace:\n{backtrace}\n"));
    } else {
        text.push_str(
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        );
    }
    eprint!("{text}");
}
