//! `thread` cases: each runs against std and greenstd, on a plain thread
//! and inside a coroutine; any difference from std fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use compat_tests::{case, panic_message, returned};

/// Bounds for sleep accuracy: at least the duration, and not absurdly more
/// (a generous bound for a small, noisy machine).
const SLACK: Duration = Duration::from_secs(5);

case!(spawn_join_returns_values, |thread| {
    let handles: Vec<_> = (0..10u32).map(|i| thread::spawn(move || i * 3)).collect();
    returned(
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>(),
    )
});

case!(join_returns_the_panic_payload, |thread| {
    let h = thread::spawn(|| -> u8 { panic!("payload text") });
    returned(h.join().map_err(|p| panic_message(&*p)))
});

case!(formatted_panic_payload, |thread| {
    let n = std::hint::black_box(5);
    let h = thread::spawn(move || -> u8 { panic!("n = {n}") });
    let payload = h.join().unwrap_err();
    returned((payload.is::<String>(), panic_message(&*payload)))
});

case!(panic_any_payload_type_survives, |thread| {
    let h = thread::spawn(|| std::panic::panic_any(17u64));
    returned(h.join().unwrap_err().downcast::<u64>().map(|b| *b).ok())
});

case!(other_threads_survive_a_panic, |thread| {
    let ok = thread::spawn(|| {
        thread::sleep(Duration::from_millis(10));
        "survivor"
    });
    let bad = thread::spawn(|| panic!("dies"));
    returned((bad.join().is_err(), ok.join().unwrap()))
});

case!(builder_name_is_visible_inside_and_outside, |thread| {
    let h = thread::Builder::new()
        .name("compat-worker".to_string())
        .spawn(|| thread::current().name().map(String::from))
        .unwrap();
    let outside = h.thread().name().map(String::from);
    returned((outside, h.join().unwrap()))
});

case!(unnamed_threads_have_no_name, |thread| {
    let h = thread::spawn(|| thread::current().name().map(String::from));
    returned((h.thread().name().map(String::from), h.join().unwrap()))
});

case!(builder_nul_in_name_panics, |thread| {
    let r = std::panic::catch_unwind(|| {
        thread::Builder::new()
            .name("bad\0name".to_string())
            .spawn(|| ())
            .map(|h| h.join().is_ok())
    });
    returned(r.map_err(|p| panic_message(&*p)).map(|r| r.is_ok()))
});

case!(builder_stack_size_allows_deep_recursion, |thread| {
    fn depth(n: u32) -> u32 {
        let pad = [n as u8; 512];
        std::hint::black_box(&pad);
        if n == 0 { 0 } else { 1 + depth(n - 1) }
    }
    let h = thread::Builder::new()
        .stack_size(8 * 1024 * 1024)
        .spawn(|| depth(2000))
        .unwrap();
    returned(h.join().unwrap())
});

// A stack the OS cannot map (64 TiB): std's `Builder::spawn` returns an
// error of kind `WouldBlock` (`pthread_create`'s `EAGAIN`); greenstd's must
// return it from `spawn` too, also when the coroutine would start on
// another thread's hub (`GREENSTD_HUBS=2`), not later through its join.
case!(
    a_stack_that_cannot_be_mapped_is_a_would_block_error,
    |thread| {
        let err = thread::Builder::new()
            .stack_size(1 << 46)
            .spawn(|| ())
            .map(|_| ())
            .unwrap_err();
        returned(err.kind())
    }
);

// The same refusal for a scoped spawn: the scope does not count the
// coroutine that never started, so it still ends (it used to count it
// off twice, and then waited forever).
case!(
    a_scoped_spawn_whose_stack_cannot_be_mapped_fails_and_the_scope_ends,
    |thread| {
        let outcome = thread::scope(|s| {
            let started = s.spawn(|| 1);
            let err = thread::Builder::new()
                .stack_size(1 << 46)
                .spawn_scoped(s, || ())
                .map(|_| ())
                .unwrap_err();
            (started.join().unwrap(), err.kind())
        });
        returned(outcome)
    }
);

case!(ids_are_distinct_and_stable, |thread| {
    let me = thread::current().id();
    let h = thread::spawn(|| thread::current().id());
    let announced = h.thread().id();
    let inside = h.join().unwrap();
    returned((
        inside == announced,
        inside != me,
        me == thread::current().id(),
    ))
});

case!(thread_handles_are_clone_and_debug, |thread| {
    let t = thread::current();
    let clone = t.clone();
    let shown = format!("{clone:?}");
    returned((clone.id() == t.id(), shown.starts_with("Thread {")))
});

case!(scope_borrows_locals, |thread| {
    let mut total = 0;
    let words = ["a", "bb", "ccc"];
    let lens = thread::scope(|s| {
        let hs: Vec<_> = words.iter().map(|w| s.spawn(move || w.len())).collect();
        s.spawn(|| total += 10);
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    returned((lens, total))
});

case!(scope_waits_for_unjoined_threads, |thread| {
    let counter = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..5 {
            s.spawn(|| {
                thread::sleep(Duration::from_millis(5));
                counter.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    returned(counter.load(Ordering::SeqCst))
});

case!(scope_panics_when_a_thread_panicked_unjoined, |thread| {
    let r = std::panic::catch_unwind(|| {
        thread::scope(|s| {
            s.spawn(|| panic!("inner"));
        })
    });
    returned(r.map_err(|p| panic_message(&*p)))
});

case!(scope_propagates_the_closure_panic, |thread| {
    let r = std::panic::catch_unwind(|| {
        thread::scope(|s| {
            s.spawn(|| thread::sleep(Duration::from_millis(5)));
            panic!("from the scope closure");
        })
    });
    returned(r.map_err(|p| panic_message(&*p)))
});

case!(scoped_builder_spawn, |thread| {
    let data = [4, 5, 6];
    let sum = thread::scope(|s| {
        thread::Builder::new()
            .name("scoped".into())
            .spawn_scoped(s, || {
                (
                    thread::current().name().map(String::from),
                    data.iter().sum::<i32>(),
                )
            })
            .unwrap()
            .join()
            .unwrap()
    });
    returned(sum)
});

case!(unpark_before_park_is_remembered, |thread| {
    thread::current().unpark();
    thread::park();
    returned("returned")
});

case!(park_unpark_between_threads, |thread| {
    let flag = Arc::new(AtomicUsize::new(0));
    let f = flag.clone();
    let parked = thread::spawn(move || {
        while f.load(Ordering::SeqCst) == 0 {
            thread::park();
        }
        "woken"
    });
    thread::sleep(Duration::from_millis(10));
    flag.store(1, Ordering::SeqCst);
    parked.thread().unpark();
    returned(parked.join().unwrap())
});

case!(park_timeout_times_out, |thread| {
    let d = Duration::from_millis(20);
    let start = Instant::now();
    thread::park_timeout(d);
    let e = start.elapsed();
    returned(e >= d && e < d + SLACK)
});

case!(sleep_accuracy, |thread| {
    let results: Vec<bool> = [0u64, 1, 10, 30]
        .iter()
        .map(|&ms| {
            let d = Duration::from_millis(ms);
            let start = Instant::now();
            thread::sleep(d);
            let e = start.elapsed();
            e >= d && e < d + SLACK
        })
        .collect();
    returned(results)
});

case!(sleeping_threads_overlap, |thread| {
    let start = Instant::now();
    let hs: Vec<_> = (0..20)
        .map(|_| thread::spawn(|| thread::sleep(Duration::from_millis(100))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    // Twenty 100 ms sleeps in sequence would take 2 s.
    returned(start.elapsed() < Duration::from_millis(1900))
});

case!(is_finished_after_the_end, |thread| {
    let h = thread::spawn(|| thread::sleep(Duration::from_millis(50)));
    let early = h.is_finished();
    let start = Instant::now();
    while !h.is_finished() && start.elapsed() < SLACK {
        thread::sleep(Duration::from_millis(1));
    }
    returned((early, h.is_finished(), h.join().is_ok()))
});

case!(yield_now_returns, |thread| {
    for _ in 0..10 {
        thread::yield_now();
    }
    returned(())
});

case!(panicking_is_false_normally, |thread| {
    returned((
        thread::panicking(),
        thread::spawn(thread::panicking).join().unwrap(),
    ))
});

case!(panicking_is_true_in_destructors_during_unwind, |thread| {
    struct Probe(Arc<Mutex<Option<bool>>>);
    impl Drop for Probe {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(thread::panicking());
        }
    }
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let h = thread::spawn(move || {
        let _p = Probe(s);
        panic!("unwinding");
    });
    let _ = h.join();
    let v = *seen.lock().unwrap();
    returned(v)
});

case!(available_parallelism_matches, |thread| {
    returned(
        thread::available_parallelism()
            .map(|n| n.get())
            .map_err(|e| e.kind()),
    )
});

case!(thread_local_with_and_set, |thread| {
    std::thread_local!(static VALUE: std::cell::Cell<u32> = const { std::cell::Cell::new(1) });
    VALUE.set(5);
    // std's own key in both builds: greenstd's `thread_local!` is per
    // coroutine by design, so it is tested in greenstd's tests/local.rs.
    returned(VALUE.get())
});

case!(join_handle_debug, |thread| {
    let h = thread::spawn(|| ());
    let shown = format!("{h:?}");
    h.join().unwrap();
    returned(shown.starts_with("JoinHandle"))
});
