//! `spawn_blocking` and the blocking pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use greenstd::thread;

#[test]
fn a_blocking_call_on_the_pool_lets_other_coroutines_run() {
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t, s) = (ticks.clone(), stop.clone());
    let ticker = thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            t.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(1));
        }
    });
    let t = ticks.clone();
    let blocker = thread::spawn(move || {
        let before = t.load(Ordering::SeqCst);
        // std's sleep blocks an OS thread: here a pool thread.
        greenstd::spawn_blocking(|| std::thread::sleep(Duration::from_millis(30)));
        t.load(Ordering::SeqCst) - before
    });
    let progressed = blocker.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    ticker.join().unwrap();
    assert!(progressed > 0);
}

#[test]
fn the_job_may_borrow_and_its_panic_reaches_the_caller() {
    let h = thread::spawn(|| {
        let words = ["a".to_string(), "bb".to_string()];
        let total = greenstd::spawn_blocking(|| words.iter().map(String::len).sum::<usize>());
        let panicked =
            std::panic::catch_unwind(|| greenstd::spawn_blocking(|| panic!("in the pool")));
        (total, panicked.is_err(), words.len())
    });
    assert_eq!(h.join().unwrap(), (3, true, 2));
}

#[test]
fn without_coroutines_it_runs_in_place() {
    let here = std::thread::current().id();
    assert_eq!(
        greenstd::spawn_blocking(|| std::thread::current().id()),
        here
    );
}

#[test]
fn many_jobs_at_once() {
    let hs: Vec<_> = (0..200u64)
        .map(|i| thread::spawn(move || greenstd::spawn_blocking(move || i * 2)))
        .collect();
    let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..200u64).map(|i| i * 2).sum());
}

#[test]
fn a_kill_during_a_job_waits_for_the_job_then_unwinds() {
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    let g = greenstd::spawn(move || {
        greenstd::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(30));
            f.store(true, Ordering::SeqCst);
        });
    });
    thread::sleep(Duration::from_millis(5));
    g.kill();
    assert!(
        finished.load(Ordering::SeqCst),
        "the job ran to its end first"
    );
    assert!(g.get().unwrap_err().is::<greenstd::Killed>());
}
