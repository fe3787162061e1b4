//! Coroutine-local storage: the values behind `greenstd::thread_local!`.
//!
//! Inside a coroutine each key has one value per coroutine, kept by the hub
//! and dropped (on the hub's thread) when the coroutine ends; in a thread's
//! own context one value per thread, as std's `thread_local!`.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::hub::{self, Hub};

/// One context's values, keyed by the address of their `LocalKey`.
pub(crate) type Locals = RefCell<HashMap<usize, Rc<dyn Any>>>;

thread_local! {
    static THREAD_LOCALS: Locals = RefCell::new(HashMap::new());
}

/// The value of `key` for the calling context, made by `init` on first use.
/// `None` during thread teardown, when the storage is gone.
pub(crate) fn get_or_init(key: usize, init: &dyn Fn() -> Rc<dyn Any>) -> Option<Rc<dyn Any>> {
    if hub::in_coroutine() {
        let hub = Hub::existing()?;
        let locals = hub.current_locals()?;
        Some(lookup(&locals, key, init))
    } else {
        THREAD_LOCALS
            .try_with(|locals| lookup(locals, key, init))
            .ok()
    }
}

fn lookup(locals: &Locals, key: usize, init: &dyn Fn() -> Rc<dyn Any>) -> Rc<dyn Any> {
    if let Some(value) = locals.borrow().get(&key) {
        return value.clone();
    }
    // No borrow is held while `init` runs: it may use other locals.
    let value = init();
    locals.borrow_mut().entry(key).or_insert(value).clone()
}
