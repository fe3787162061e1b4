//! greenstd's `thread_local!`: per coroutine inside coroutines, per thread
//! outside, dropped when the coroutine ends.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use greenstd::thread;

greenstd::thread_local! {
    static COUNTER: Cell<u32> = const { Cell::new(0) };
    static NAMES: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
}

#[test]
fn each_coroutine_has_its_own_value() {
    let hs: Vec<_> = (1..=50u32)
        .map(|i| {
            thread::spawn(move || {
                COUNTER.set(i);
                thread::yield_now();
                COUNTER.replace(0)
            })
        })
        .collect();
    let seen: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(seen, (1..=50).collect::<Vec<_>>());
    assert_eq!(COUNTER.get(), 0);
}

#[test]
fn the_thread_context_keeps_one_value() {
    NAMES.with_borrow_mut(|n| n.push("main"));
    NAMES.with_borrow_mut(|n| n.push("again"));
    assert_eq!(NAMES.take(), ["main", "again"]);
    assert!(NAMES.with_borrow(Vec::is_empty));
}

#[test]
fn values_are_dropped_when_their_coroutine_ends() {
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    greenstd::thread_local!(static TRACKED: RefCell<Option<Tracked>> = const { RefCell::new(None) });
    let drops = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..10)
        .map(|_| {
            let d = drops.clone();
            thread::spawn(move || TRACKED.set(Some(Tracked(d))))
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(drops.load(Ordering::SeqCst), 10);
}

#[test]
fn an_initialiser_may_use_another_local() {
    greenstd::thread_local! {
        static BASE: u32 = 40;
        static DERIVED: u32 = BASE.with(|b| b + 2);
    }
    assert_eq!(thread::spawn(|| DERIVED.with(|d| *d)).join().unwrap(), 42);
}
