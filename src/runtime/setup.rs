//! The runtime's one-time process setup, done before anything can need it.
//!
//! Three things must happen once per process: our panic hook, the
//! `generator` crate's own setup (its panic hook and fault handler, which it
//! would otherwise install when the first coroutine starts), and our stack
//! overflow handler in front of both. `std::panic::set_hook` aborts the
//! process when called on a thread that is panicking, and the first
//! coroutine may well start there (a guard whose `Drop` joins a coroutine
//! while `main` unwinds), so the setup runs on the first spawn, and on a
//! helper thread if the spawning thread is itself unwinding.

use std::sync::Once;

use super::{coroutine, overflow, report};

/// Does the setup if it has not been done; cheap afterwards (one atomic
/// load).
pub(crate) fn once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::thread::panicking() {
            let helper = std::thread::Builder::new()
                .name("greenstd-setup".into())
                .spawn(setup);
            // With no thread to do it on, carry on without the hooks
            // rather than abort in `set_hook`.
            if let Ok(helper) = helper {
                let _ = helper.join();
            }
        } else {
            setup();
        }
    });
}

fn setup() {
    report::install_hook();
    overflow::prepare();
    overflow::remember_original_handlers();
    coroutine::warm_up();
    overflow::install();
}
