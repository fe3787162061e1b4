//! User code that runs inside the runtime's bookkeeping: a coroutine's
//! result, its panic payload, its coroutine-local values. Each `Drop` may
//! block, spawn, switch, kill or join, on a plain thread and inside a
//! coroutine, as it may under std; the runtime must stay consistent.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{is_child, run_child_status};
use greenstd::thread::{self, Scope};

/// Runs `case` on the test's thread, then inside a coroutine.
fn both_ways(case: fn()) {
    case();
    thread::spawn(case).join().unwrap();
}

/// The reproduction: a scoped coroutine's result whose `Drop`
/// sleeps, then spawns on the same scope. Inside a coroutine this reused a
/// stack the hub was still recycling and crashed with SIGSEGV.
#[test]
fn a_scoped_result_whose_drop_spawns_on_the_scope_segfaulted() {
    fn body() {
        let done = &AtomicBool::new(false);
        struct X<'scope, 'env>(&'scope Scope<'scope, 'env>, &'env AtomicBool);
        impl Drop for X<'_, '_> {
            fn drop(&mut self) {
                thread::sleep(Duration::from_millis(20));
                let done = self.1;
                self.0.spawn(move || {
                    thread::sleep(Duration::from_millis(20));
                    done.store(true, Ordering::Relaxed)
                });
            }
        }
        thread::scope(|s| {
            s.spawn(move || {
                thread::sleep(Duration::from_millis(20));
                X(s, done)
            });
        });
        // The scope waited for the coroutine spawned by the drop, as std's
        // scope waits for a thread spawned by a result's drop.
        assert!(done.load(Ordering::Relaxed));
    }
    both_ways(body);
}

/// Something whose `Drop` does everything a coroutine may do.
struct Busy(Arc<AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        thread::sleep(Duration::from_millis(2));
        thread::yield_now();
        let inner = thread::spawn(|| {
            thread::sleep(Duration::from_millis(1));
            7
        });
        assert_eq!(inner.join().unwrap(), 7);
        let victim = greenstd::spawn(|| thread::sleep(Duration::from_secs(3600)));
        victim.kill();
        let g = greenstd::Greenlet::new(|| 1);
        g.switch();
        assert_eq!(g.get().unwrap(), 1);
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_detached_coroutine_s_result_may_block_spawn_switch_and_kill_in_drop() {
    fn body() {
        let drops = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let d = drops.clone();
            drop(thread::spawn(move || Busy(d)));
        }
        assert!(common::eventually(|| drops.load(Ordering::SeqCst) == 3));
    }
    both_ways(body);
}

#[test]
fn a_joined_result_drops_in_the_joiner() {
    fn body() {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let busy = thread::spawn(move || Busy(d)).join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(busy);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
    both_ways(body);
}

#[test]
fn a_panic_payload_may_block_and_spawn_in_drop() {
    fn body() {
        let drops = Arc::new(AtomicUsize::new(0));
        // Joined: the payload drops where the joiner drops it.
        let d = drops.clone();
        let err = thread::spawn(move || std::panic::panic_any(Busy(d)))
            .join()
            .unwrap_err();
        drop(err);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // Not joined: it drops on the coroutine's own stack.
        let d = drops.clone();
        drop(thread::spawn(move || std::panic::panic_any(Busy(d))));
        assert!(common::eventually(|| drops.load(Ordering::SeqCst) == 2));
    }
    both_ways(body);
}

#[test]
fn a_coroutine_local_may_block_and_spawn_in_drop() {
    greenstd::thread_local!(static LOCAL: std::cell::RefCell<Option<Busy>> = const { std::cell::RefCell::new(None) });
    fn body() {
        let drops = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let d = drops.clone();
                thread::spawn(move || LOCAL.set(Some(Busy(d))))
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        // std runs TLS destructors before `join` returns.
        assert_eq!(drops.load(Ordering::SeqCst), 3);
    }
    both_ways(body);
}

/// The first coroutine ever to run started while `main` unwound: the
/// `generator` crate set its panic hook then, and `set_hook` aborts on a
/// panicking thread (exit 134). std exits with a test failure there.
#[test]
fn the_first_coroutine_starting_during_a_panic_aborted() {
    if is_child() {
        struct JoinOnDrop(Option<thread::JoinHandle<u32>>);
        impl Drop for JoinOnDrop {
            fn drop(&mut self) {
                if let Some(h) = self.0.take() {
                    eprintln!("joined: {}", h.join().unwrap());
                }
            }
        }
        let _guard = JoinOnDrop(Some(thread::spawn(|| 5)));
        panic!("the test panics before any coroutine ran");
    }
    let (status, stderr) = run_child_status("the_first_coroutine_starting_during_a_panic_aborted");
    assert_eq!(status.code(), Some(101), "{stderr}");
    assert!(stderr.contains("joined: 5"), "{stderr}");
}

/// As above, with the very first spawn of the process made while the
/// thread unwinds.
#[test]
fn the_first_spawn_during_a_panic_aborted() {
    if is_child() {
        struct SpawnOnDrop;
        impl Drop for SpawnOnDrop {
            fn drop(&mut self) {
                eprintln!("joined: {}", thread::spawn(|| 6).join().unwrap());
            }
        }
        let _guard = SpawnOnDrop;
        panic!("the test panics before any coroutine was spawned");
    }
    let (status, stderr) = run_child_status("the_first_spawn_during_a_panic_aborted");
    assert_eq!(status.code(), Some(101), "{stderr}");
    assert!(stderr.contains("joined: 6"), "{stderr}");
}
