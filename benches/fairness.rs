//! The cost of the fairness check on the fast path: calls that never block,
//! with the time slice on (the default) and off, on a plain thread and
//! inside a coroutine, beside std's own call. The difference between the
//! "on" and "off" rows is what the check costs per call.
//!
//! Run: `cargo bench --bench fairness` (add `-- --quick` for smaller counts).

use std::hint::black_box;
use std::time::{Duration, Instant};

fn per_call(n: u64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn measure(n: u64) -> Vec<(&'static str, f64)> {
    let (_tx, rx) = greenstd::sync::mpsc::channel::<u64>();
    let (_stx, srx) = std::sync::mpsc::channel::<u64>();
    let m = greenstd::sync::Mutex::new(0u64);
    let sm = std::sync::Mutex::new(0u64);
    vec![
        (
            "std try_recv (empty)",
            per_call(n, || {
                black_box(srx.try_recv()).ok();
            }),
        ),
        (
            "greenstd try_recv (empty)",
            per_call(n, || {
                black_box(rx.try_recv()).ok();
            }),
        ),
        (
            "std try_lock + unlock",
            per_call(n, || drop(black_box(sm.try_lock()))),
        ),
        (
            "greenstd try_lock + unlock",
            per_call(n, || drop(black_box(m.try_lock()))),
        ),
    ]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 1_000_000 } else { 20_000_000 };
    println!("| call | where | slice on (10 ms) | slice off | check costs |");
    println!("|---|---|---|---|---|");
    for place in ["thread", "coroutine"] {
        let run = move || {
            greenstd::set_time_slice(Some(Duration::from_millis(10)));
            let on = measure(n);
            greenstd::set_time_slice(None);
            let off = measure(n);
            greenstd::set_time_slice(Some(Duration::from_millis(10)));
            (on, off)
        };
        let (on, off) = if place == "thread" {
            run()
        } else {
            greenstd::thread::spawn(run).join().unwrap()
        };
        for ((name, a), (_, b)) in on.iter().zip(&off) {
            let cost = if name.starts_with("std") {
                "-".to_string()
            } else {
                format!("{:.1} ns", a - b)
            };
            println!("| {name} | {place} | {a:.1} ns | {b:.1} ns | {cost} |");
        }
    }
}
