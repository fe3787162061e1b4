//! Coroutine-local storage: the values behind `greenstd::thread_local!`.
//!
//! Inside a coroutine each key has one value per coroutine, kept by the hub
//! and dropped on the coroutine's own stack when its body has returned
//! (so a value's `Drop` may block or spawn, as a std TLS destructor may); in
//! a thread's own context one value per thread, as std's `thread_local!`.

use std::any::Any;
use std::rc::Rc;

use super::context;
use super::hub::Hub;
use super::task::{LOCALS_GONE, LOCALS_MADE};

pub(crate) use super::context::Locals;

thread_local! {
    static THREAD_LOCALS: Locals = Locals::default();
}

/// The value of `key` for the calling context, made by `init` on first use.
/// `None` during thread teardown, when the storage is gone.
pub(crate) fn get_or_init(key: usize, init: &dyn Fn() -> Rc<dyn Any>) -> Option<Rc<dyn Any>> {
    if context::in_coroutine() {
        let hub = Hub::existing()?;
        let locals = hub.current_locals(true)?;
        if locals.destroyed.get() {
            return None;
        }
        Some(lookup(&locals, key, init))
    } else {
        THREAD_LOCALS
            .try_with(|locals| lookup(locals, key, init))
            .ok()
    }
}

fn lookup(locals: &Locals, key: usize, init: &dyn Fn() -> Rc<dyn Any>) -> Rc<dyn Any> {
    if let Some(value) = locals.values.borrow().get(&key) {
        return value.clone();
    }
    // No borrow is held while `init` runs: it may use other locals.
    let value = init();
    locals
        .values
        .borrow_mut()
        .entry(key)
        .or_insert(value)
        .clone()
}

/// How many rounds of destructors run when destructors keep creating new
/// values; what is left after that is leaked, as std leaks TLS values
/// re-created during teardown.
const DESTROY_ROUNDS: usize = 8;

/// Drops the running coroutine's values, last thing in its body. A
/// destructor may touch other keys, even re-create a value: no borrow is
/// held while destructors run, and the rounds repeat until none is left.
///
/// # Panics
/// Never: a destructor that panics aborts the process, as std aborts when a
/// TLS destructor panics.
pub(crate) fn destroy_current() {
    // None were ever made (most coroutines): the task says so, and from now
    // on says that none can be made, without a look at the hub.
    let made = context::with_current_task(|task| {
        let made = task.locals() == LOCALS_MADE;
        task.set_locals(LOCALS_GONE);
        made
    });
    if !made {
        return;
    }
    let Some(locals) = Hub::existing().and_then(|hub| hub.current_locals(false)) else {
        return;
    };
    for _ in 0..DESTROY_ROUNDS {
        let values = std::mem::take(&mut *locals.values.borrow_mut());
        if values.is_empty() {
            break;
        }
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(values)));
        if dropped.is_err() {
            super::report::abort_with("a coroutine-local value panicked on drop");
        }
    }
    locals.destroyed.set(true);
    std::mem::forget(std::mem::take(&mut *locals.values.borrow_mut()));
}
