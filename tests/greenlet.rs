//! gevent's API: Greenlet handles, kill, joinall, spawn_later, Timeout,
//! with_timeout and explicit switch.
//!
//! One hub throughout (`common::one_hub`, first in every test): these tests
//! are about one thread's hub, where coroutines run and in which order;
//! `tests/hubs.rs` covers the same calls across worker hubs.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::PATIENCE;
use greenstd::{Greenlet, Killed, Timeout, TimeoutExpired, thread};

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn kill_unwinds_a_blocked_coroutine_and_runs_destructors() {
    common::one_hub();
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let g = greenstd::spawn(move || {
        let _guard = SetOnDrop(d);
        thread::sleep(Duration::from_secs(3600));
    });
    thread::sleep(Duration::from_millis(5)); // let it block
    assert!(!g.ready());
    greenstd::kill(&g);
    assert!(g.ready());
    assert!(dropped.load(Ordering::SeqCst));
    assert!(g.get().unwrap_err().is::<Killed>());
}

#[test]
fn kill_from_another_coroutine() {
    common::one_hub();
    let victim = greenstd::spawn(|| {
        loop {
            thread::park();
        }
    });
    let v = victim.clone();
    let killer = greenstd::spawn(move || {
        v.kill();
        v.ready()
    });
    assert!(killer.get().unwrap());
    assert!(victim.get().unwrap_err().is::<Killed>());
}

#[test]
fn kill_before_start_never_runs_the_function() {
    common::one_hub();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let g = greenstd::spawn(move || r.store(true, Ordering::SeqCst));
    g.kill();
    assert!(!ran.load(Ordering::SeqCst));
    assert!(g.get().unwrap_err().is::<Killed>());

    let r = ran.clone();
    let unstarted = Greenlet::new(move || r.store(true, Ordering::SeqCst));
    unstarted.kill();
    assert!(unstarted.ready());
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn kill_of_a_finished_greenlet_does_nothing() {
    common::one_hub();
    let g = greenstd::spawn(|| 3);
    g.join();
    g.kill();
    assert_eq!(g.get().unwrap(), 3);
}

#[test]
fn killed_coroutine_that_catches_the_unwind_can_still_block() {
    common::one_hub();
    let g = greenstd::spawn(|| {
        let r = std::panic::catch_unwind(|| thread::sleep(Duration::from_secs(3600)));
        assert!(r.unwrap_err().is::<Killed>());
        thread::sleep(Duration::from_millis(1)); // blocking again works
        "cleaned up"
    });
    thread::sleep(Duration::from_millis(5));
    g.request_kill();
    assert_eq!(g.get().unwrap(), "cleaned up");
}

#[test]
fn join_timeout_and_joinall() {
    common::one_hub();
    let quick: Vec<_> = (0..3u64)
        .map(|i| greenstd::spawn(move || thread::sleep(Duration::from_millis(i))))
        .collect();
    assert_eq!(greenstd::joinall(&quick, Some(PATIENCE)), 3);

    let slow = vec![
        greenstd::spawn(|| thread::sleep(Duration::from_millis(1))),
        greenstd::spawn(|| thread::sleep(Duration::from_secs(3600))),
    ];
    let start = Instant::now();
    assert_eq!(greenstd::joinall(&slow, Some(Duration::from_millis(50))), 1);
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert!(!slow[1].join_timeout(Duration::from_millis(1)));
    slow[1].kill();
    assert_eq!(greenstd::joinall(&slow, None), 2);
}

#[test]
fn spawn_later_waits_then_runs() {
    common::one_hub();
    let start = Instant::now();
    let g = greenstd::spawn_later(Duration::from_millis(20), move || start.elapsed());
    assert!(g.get().unwrap() >= Duration::from_millis(20));

    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let g = greenstd::spawn_later(Duration::from_secs(3600), move || {
        r.store(true, Ordering::SeqCst)
    });
    thread::yield_now();
    g.kill();
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn display_reads_like_gevent() {
    common::one_hub();
    let g = Greenlet::with_name("f(5)", || ());
    assert_eq!(g.to_string(), "<Greenlet \"f(5)\" (not started)>");
    g.start();
    let shown = g.to_string();
    assert!(shown.starts_with("<Greenlet \"f(5)\" #"), "{shown}");
    let inside = greenstd::spawn(|| greenstd::current().to_string())
        .get()
        .unwrap();
    assert!(inside.starts_with("<Greenlet #"), "{inside}");
}

#[test]
#[should_panic(expected = "was already taken")]
fn get_twice_is_a_named_misuse() {
    common::one_hub();
    let g = greenstd::spawn(|| 1);
    let again = g.clone();
    assert_eq!(g.get().unwrap(), 1);
    let _ = again.get();
}

#[test]
fn with_timeout_interrupts_a_coroutine() {
    common::one_hub();
    let g = greenstd::spawn(|| {
        let dropped = Arc::new(AtomicBool::new(false));
        let d = dropped.clone();
        let r = greenstd::with_timeout(Duration::from_millis(10), move || {
            let _guard = SetOnDrop(d);
            thread::sleep(Duration::from_secs(3600));
        });
        (r.is_err(), dropped.load(Ordering::SeqCst))
    });
    assert_eq!(g.get().unwrap(), (true, true));
}

#[test]
fn with_timeout_in_the_thread_context() {
    common::one_hub();
    let start = Instant::now();
    let r = greenstd::with_timeout(Duration::from_millis(10), thread::park);
    assert!(r.is_err());
    assert!(start.elapsed() >= Duration::from_millis(10));
    // With coroutines on the thread too.
    let bg = greenstd::spawn(|| thread::sleep(Duration::from_millis(50)));
    let r = greenstd::with_timeout(Duration::from_millis(10), thread::park);
    assert!(r.is_err());
    bg.join();
}

#[test]
fn with_timeout_that_does_not_expire_returns_the_value() {
    common::one_hub();
    let r = greenstd::with_timeout(PATIENCE, || {
        thread::sleep(Duration::from_millis(1));
        5
    });
    assert_eq!(r, Ok(5));
    // A disarmed timeout never fires later.
    thread::sleep(Duration::from_millis(5));
}

#[test]
fn nested_timeouts_each_catch_their_own() {
    common::one_hub();
    let g = greenstd::spawn(|| {
        greenstd::with_timeout(Duration::from_millis(20), || {
            let inner = greenstd::with_timeout(Duration::from_secs(3600), || {
                thread::sleep(Duration::from_secs(3600));
            });
            // The outer timeout fires inside the inner block and passes through it.
            unreachable!("inner returned {inner:?}");
        })
    });
    assert!(g.get().unwrap().is_err());
}

#[test]
fn a_timeout_outside_with_timeout_ends_the_coroutine() {
    common::one_hub();
    let g = greenstd::spawn(|| {
        let _t = Timeout::start_new(Duration::from_millis(5));
        thread::sleep(Duration::from_secs(3600));
    });
    assert!(g.get().unwrap_err().is::<TimeoutExpired>());
}

#[test]
fn cancelled_timeout_does_not_fire() {
    common::one_hub();
    let g = greenstd::spawn(|| {
        let t = Timeout::start_new(Duration::from_millis(1));
        t.cancel();
        thread::sleep(Duration::from_millis(10));
        "survived"
    });
    assert_eq!(g.get().unwrap(), "survived");
}

/// The seed's greenlet program: A and B switch to each other explicitly.
#[test]
fn switch_alternates_like_the_seed() {
    common::one_hub();
    let log = Arc::new(Mutex::new(Vec::new()));
    let gr2_slot: Arc<Mutex<Option<Greenlet<()>>>> = Arc::default();
    let gr1_slot: Arc<Mutex<Option<Greenlet<()>>>> = Arc::default();
    let gr1 = {
        let (log, gr2_slot) = (log.clone(), gr2_slot.clone());
        Greenlet::new(move || {
            for _ in 0..3 {
                log.lock().unwrap().push("A");
                let gr2 = gr2_slot.lock().unwrap().clone().unwrap();
                gr2.switch();
            }
        })
    };
    let gr2 = {
        let (log, gr1_slot) = (log.clone(), gr1_slot.clone());
        Greenlet::new(move || {
            loop {
                log.lock().unwrap().push("B");
                let gr1 = gr1_slot.lock().unwrap().clone().unwrap();
                gr1.switch();
            }
        })
    };
    *gr1_slot.lock().unwrap() = Some(gr1.clone());
    *gr2_slot.lock().unwrap() = Some(gr2.clone());
    gr1.switch(); // returns when gr1 ends: it switches back to its parent
    assert_eq!(*log.lock().unwrap(), ["A", "B", "A", "B", "A", "B"]);
    assert!(gr1.ready());
    assert!(!gr2.ready());
    gr2.kill();
}

#[test]
fn switch_preempts_the_ready_queue() {
    common::one_hub();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    let _bystander = greenstd::spawn(move || o.lock().unwrap().push("bystander"));
    let o = order.clone();
    let g = Greenlet::new(move || o.lock().unwrap().push("switched-to"));
    g.switch();
    assert_eq!(order.lock().unwrap()[0], "switched-to");
}

#[test]
fn kill_reaches_many_blocked_coroutines() {
    common::one_hub();
    let finished = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let gs: Vec<_> = (0..500)
        .map(|_| {
            let (f, s) = (finished.clone(), started.clone());
            greenstd::spawn(move || {
                let _g = SetOnDropCount(f);
                s.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_secs(3600));
            })
        })
        .collect();
    // Every one of them is blocked (a kill before the start would skip the
    // body, and with it the guard this test counts).
    let waiting = Instant::now();
    while started.load(Ordering::SeqCst) < 500 && waiting.elapsed() < PATIENCE {
        thread::sleep(Duration::from_millis(1));
    }
    for g in &gs {
        g.request_kill();
    }
    assert_eq!(greenstd::joinall(&gs, Some(PATIENCE)), 500);
    assert_eq!(finished.load(Ordering::SeqCst), 500);
}

struct SetOnDropCount(Arc<AtomicUsize>);

impl Drop for SetOnDropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The starvation monitor names a coroutine that computes without yielding;
/// it used to report only `coroutine #3` for one named "hog".
#[test]
fn the_monitor_reported_a_named_coroutine_by_number_only() {
    common::one_hub();
    if common::is_child() {
        greenstd::start_monitor(Duration::from_millis(50));
        let hog = greenstd::Greenlet::with_name("hog", || {
            let start = Instant::now();
            let mut x = 0u64;
            while start.elapsed() < Duration::from_millis(400) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            x
        });
        hog.start();
        let id = hog.thread().unwrap().id();
        eprintln!("hog is {id:?}");
        hog.join();
        return;
    }
    let (ok, stderr) = common::run_child("the_monitor_reported_a_named_coroutine_by_number_only");
    assert!(ok, "{stderr}");
    let id_line = stderr
        .lines()
        .find(|l| l.starts_with("hog is ThreadId("))
        .expect("the id");
    let id = id_line
        .trim_start_matches("hog is ThreadId(")
        .trim_end_matches(')');
    assert!(id.chars().all(|c| c.is_ascii_digit()), "{id_line}");
    assert!(
        stderr.contains(&format!("coroutine <Greenlet \"hog\" #{id}> on thread"))
            && stderr.contains("without switching out"),
        "{stderr}"
    );
}
