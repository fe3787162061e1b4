//! The compat harness: every case is written once and compiled twice, once
//! with `use std::...` and once with `use greenstd::...` (the [`case!`]
//! macro does the import swap), then run in four contexts:
//!
//! | implementation | where |
//! |---|---|
//! | std | a plain OS thread (the reference) |
//! | std | inside a greenstd coroutine |
//! | greenstd | a plain OS thread |
//! | greenstd | inside a greenstd coroutine |
//!
//! Each run returns an [`Outcome`] (a value, an `io::ErrorKind`, a panic
//! message, all rendered with `Debug`); any difference from the reference
//! fails the test with a table of the four outcomes. This is gevent's idea
//! of running the stdlib's own tests under monkey-patching.

use std::any::Any;
use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What one run of a case produced, comparable across implementations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The case returned; its result rendered with `Debug`.
    Returned(String),
    /// The case panicked; the panic message.
    Panicked(String),
}

/// Renders a case's result.
pub fn returned<T: Debug>(value: T) -> Outcome {
    Outcome::Returned(format!("{value:?}"))
}

/// The message of a panic payload, or its type when it has none.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Maps an `io::Result` to a comparable form: the value or the error kind.
pub fn kind<T>(r: std::io::Result<T>) -> Result<T, std::io::ErrorKind> {
    r.map_err(|e| e.kind())
}

/// The contexts a case runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A fresh OS thread with no coroutines.
    Thread,
    /// A coroutine spawned from a fresh OS thread: on that thread's hub, or
    /// on a worker hub under `GREENSTD_HUBS=2`.
    Coroutine,
    /// A coroutine on a fresh OS thread's own hub, whatever `GREENSTD_HUBS`
    /// says: where std's calls run inside a coroutine for the reference, so
    /// that the OS-thread state they use (park tokens, std thread-locals)
    /// is fresh for each case, as on a plain thread, and not left over on a
    /// worker hub's thread by an earlier case.
    CoroutineHere,
}

/// Runs `case` in `context` and captures its outcome.
pub fn run_in(context: Context, case: fn() -> Outcome) -> Outcome {
    let guarded = move || match catch_unwind(AssertUnwindSafe(case)) {
        Ok(outcome) => outcome,
        Err(payload) => Outcome::Panicked(panic_message(&*payload)),
    };
    let os_thread = std::thread::spawn(move || match context {
        Context::Thread => guarded(),
        Context::Coroutine => greenstd::thread::spawn(guarded)
            .join()
            .unwrap_or_else(|p| Outcome::Panicked(panic_message(&*p))),
        Context::CoroutineHere => greenstd::thread::Builder::new()
            .placement(greenstd::Placement::ThisThread)
            .spawn(guarded)
            .expect("a coroutine on this thread's hub")
            .join()
            .unwrap_or_else(|p| Outcome::Panicked(panic_message(&*p))),
    });
    os_thread
        .join()
        .unwrap_or_else(|p| Outcome::Panicked(panic_message(&*p)))
}

/// Runs the std and greenstd versions of a case in every context and
/// panics with a table if any outcome differs from std on a plain thread.
pub fn check(name: &str, std_case: fn() -> Outcome, green_case: fn() -> Outcome) {
    let runs = [
        ("std, thread", run_in(Context::Thread, std_case)),
        ("std, coroutine", run_in(Context::CoroutineHere, std_case)),
        ("greenstd, thread", run_in(Context::Thread, green_case)),
        (
            "greenstd, coroutine",
            run_in(Context::Coroutine, green_case),
        ),
    ];
    let reference = &runs[0].1;
    if runs.iter().any(|(_, o)| o != reference) {
        let table: String = runs
            .iter()
            .map(|(ctx, o)| format!("  {ctx:<20} {o:?}\n"))
            .collect();
        panic!("case `{name}` differs from std:\n{table}");
    }
}

/// Writes a case once and compiles it against std and against greenstd.
///
/// `case!(name, |thread| { ... })` brings `thread` into scope as
/// `std::thread` in one copy and `greenstd::thread` in the other (the list
/// may name several modules), and makes a `#[test]` that runs [`check`].
#[macro_export]
macro_rules! case {
    ($name:ident, |$($module:ident),+| $body:block) => {
        #[test]
        fn $name() {
            #[allow(unused_imports)]
            fn with_std() -> $crate::Outcome {
                $(use std::$module;)+
                $body
            }
            #[allow(unused_imports)]
            fn with_greenstd() -> $crate::Outcome {
                $(use greenstd::$module;)+
                $body
            }
            $crate::check(stringify!($name), with_std, with_greenstd);
        }
    };
}
