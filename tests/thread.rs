//! `greenstd::thread`: each blocking call outside a coroutine, inside one
//! (shown to yield: another coroutine progressed meanwhile), its timeout
//! path and its error path.
//!
//! One hub throughout (`common::one_hub`, first in every test): these tests
//! are about one thread's hub, where coroutines run and in which order;
//! `tests/hubs.rs` covers the same calls across worker hubs.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{PATIENCE, eventually, is_child, run_child, run_child_status};
use greenstd::thread::{self, Builder};

/// A coroutine that counts while others block; shows that they yielded.
fn ticker(ticks: &Arc<AtomicUsize>, stop: &Arc<AtomicBool>) -> thread::JoinHandle<()> {
    let (ticks, stop) = (ticks.clone(), stop.clone());
    thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            ticks.fetch_add(1, Ordering::SeqCst);
            thread::yield_now();
        }
    })
}

#[test]
fn spawn_join_returns_the_value() {
    common::one_hub();
    let h = thread::spawn(|| 40 + 2);
    assert_eq!(h.join().unwrap(), 42);
}

#[test]
fn many_coroutines_join_in_any_order() {
    common::one_hub();
    let handles: Vec<_> = (0..1000u64).map(|i| thread::spawn(move || i * i)).collect();
    let sum: u64 = handles.into_iter().rev().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..1000u64).map(|i| i * i).sum());
}

#[test]
fn coroutine_runs_on_the_spawning_os_thread() {
    common::one_hub();
    let os = std::thread::current().id();
    let h = thread::spawn(move || std::thread::current().id() == os);
    assert!(h.join().unwrap());
}

#[test]
fn panic_is_returned_by_join_and_others_keep_running() {
    common::one_hub();
    let survivor = thread::spawn(|| {
        thread::sleep(Duration::from_millis(20));
        "alive"
    });
    let n = std::hint::black_box(7);
    let h = thread::spawn(move || -> u32 { panic!("boom {n}") });
    let payload = h.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "boom 7");
    assert_eq!(survivor.join().unwrap(), "alive");
}

#[test]
fn panic_payload_of_any_type_round_trips() {
    common::one_hub();
    #[derive(Debug, PartialEq)]
    struct Custom(u8);
    let h = thread::spawn(|| std::panic::panic_any(Custom(9)));
    let payload = h.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<Custom>(), Some(&Custom(9)));
}

#[test]
fn panic_is_reported_with_the_coroutine_name() {
    common::one_hub();
    if is_child() {
        let h = Builder::new()
            .name("reporter".into())
            .spawn(|| panic!("reported panic"))
            .unwrap();
        let _ = h.join();
        return;
    }
    let (ok, stderr) = run_child("panic_is_reported_with_the_coroutine_name");
    assert!(ok, "{stderr}");
    assert!(stderr.contains("\"reporter\""), "{stderr}");
    assert!(stderr.contains("panicked at"), "{stderr}");
    assert!(stderr.contains("reported panic"), "{stderr}");
}

#[test]
fn names_ids_and_current() {
    common::one_hub();
    let h = Builder::new()
        .name("named".into())
        .spawn(|| {
            let me = thread::current();
            (me.id(), me.name().map(String::from), me.to_string())
        })
        .unwrap();
    let expected_id = h.thread().id();
    assert_eq!(h.thread().name(), Some("named"));
    let (id, name, shown) = h.join().unwrap();
    assert_eq!(id, expected_id);
    assert_eq!(name.as_deref(), Some("named"));
    assert!(shown.starts_with("<Greenlet \"named\" #"), "{shown}");
    assert_ne!(thread::current().id(), id);
    let unnamed = thread::spawn(|| thread::current().name().map(String::from));
    assert_eq!(unnamed.join().unwrap(), None);
}

#[test]
fn thread_context_has_the_os_thread_name() {
    common::one_hub();
    let h = std::thread::Builder::new()
        .name("os-worker".into())
        .spawn(|| thread::current().name().map(String::from))
        .unwrap();
    assert_eq!(h.join().unwrap().as_deref(), Some("os-worker"));
}

#[test]
fn ids_are_unique() {
    common::one_hub();
    let handles: Vec<_> = (0..100)
        .map(|_| thread::spawn(|| thread::current().id()))
        .collect();
    let mut ids: Vec<_> = handles
        .into_iter()
        .map(|h| format!("{:?}", h.join().unwrap()))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100);
}

#[test]
#[should_panic(expected = "thread name may not contain interior null bytes")]
fn builder_rejects_nul_in_name() {
    common::one_hub();
    let _ = Builder::new().name("a\0b".into()).spawn(|| ());
}

#[test]
fn builder_stack_size_is_honoured() {
    common::one_hub();
    // Recursion that needs ~1 MiB of stack.
    fn deep(n: usize) -> usize {
        let buf = [n as u8; 1024];
        std::hint::black_box(&buf);
        if n == 0 { 0 } else { 1 + deep(n - 1) }
    }
    let h = Builder::new()
        .stack_size(4 * 1024 * 1024)
        .spawn(|| deep(1000))
        .unwrap();
    assert_eq!(h.join().unwrap(), 1000);
    // A tiny request is rounded up to a usable minimum.
    let tiny = Builder::new().stack_size(1).spawn(|| 5).unwrap();
    assert_eq!(tiny.join().unwrap(), 5);
}

/// A coroutine that overflowed used to have its frames abandoned, leaving
/// every lock guard in them held (a channel's, stdout's): now the process
/// aborts with one report naming the coroutine, as std does for a thread.
#[test]
fn stack_overflow_left_locks_held_now_aborts_with_the_coroutine_s_name() {
    common::one_hub();
    if is_child() {
        fn recurse(n: u64) -> u64 {
            let buf = [n; 256];
            std::hint::black_box(&buf);
            if n == u64::MAX {
                return 0;
            }
            recurse(n + 1) + buf[0]
        }
        let h = Builder::new()
            .name("deep-diver".into())
            .stack_size(64 * 1024)
            .spawn(|| {
                let _stdout = std::io::stdout().lock();
                recurse(0)
            })
            .unwrap();
        let _ = h.join();
        eprintln!("the process went on after the overflow");
        return;
    }
    let (status, stderr) =
        run_child_status("stack_overflow_left_locks_held_now_aborts_with_the_coroutine_s_name");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status}: {stderr}");
    assert!(
        stderr.contains("coroutine <Greenlet \"deep-diver\" #"),
        "{stderr}"
    );
    assert!(
        stderr.contains("has overflowed its stack of 64 KiB"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("overflowed its stack").count(),
        1,
        "one report, not generator's unnamed line too: {stderr}"
    );
    assert!(!stderr.contains("went on"), "{stderr}");
}

#[test]
fn is_finished_reports_the_end() {
    common::one_hub();
    let h = thread::spawn(|| thread::sleep(Duration::from_millis(10)));
    assert!(!h.is_finished());
    assert!(eventually(|| h.is_finished()));
    h.join().unwrap();
}

#[test]
fn sleep_inside_a_coroutine_yields() {
    common::one_hub();
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let t = ticker(&ticks, &stop);
    let sleeper = {
        let ticks = ticks.clone();
        thread::spawn(move || {
            let before = ticks.load(Ordering::SeqCst);
            thread::sleep(Duration::from_millis(20));
            ticks.load(Ordering::SeqCst) - before
        })
    };
    let progressed = sleeper.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    t.join().unwrap();
    assert!(
        progressed > 0,
        "the ticker made no progress during the sleep"
    );
}

#[test]
fn sleep_lasts_at_least_the_duration() {
    common::one_hub();
    for &ms in &[0u64, 1, 15] {
        let d = Duration::from_millis(ms);
        let start = Instant::now();
        thread::sleep(d); // thread, no coroutines: std's sleep
        assert!(start.elapsed() >= d);
        let h = thread::spawn(move || {
            let start = Instant::now();
            thread::sleep(d);
            start.elapsed()
        });
        assert!(h.join().unwrap() >= d);
    }
}

#[test]
fn many_sleepers_overlap() {
    common::one_hub();
    let start = Instant::now();
    let handles: Vec<_> = (0..2000)
        .map(|_| thread::spawn(|| thread::sleep(Duration::from_millis(50))))
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Sequential sleeps would take 100 s; overlapping ones well under that.
    assert!(start.elapsed() < PATIENCE);
}

#[test]
fn yield_now_interleaves_coroutines() {
    common::one_hub();
    let log = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..2)
        .map(|id| {
            let log = log.clone();
            thread::spawn(move || {
                for step in 0..3 {
                    log.lock().unwrap().push((id, step));
                    thread::yield_now();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let log = log.lock().unwrap();
    assert_eq!(*log, [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)]);
}

#[test]
fn yield_now_outside_runs_ready_coroutines() {
    common::one_hub();
    let h = thread::spawn(|| 1);
    thread::yield_now();
    assert!(h.is_finished());
    thread::yield_now(); // and with none ready: std's yield
}

#[test]
fn park_consumes_an_earlier_unpark() {
    common::one_hub();
    thread::current().unpark();
    thread::park(); // returns at once
    let h = thread::spawn(|| {
        thread::current().unpark();
        thread::park();
        "done"
    });
    assert_eq!(h.join().unwrap(), "done");
}

#[test]
fn park_inside_a_coroutine_yields_until_unparked() {
    common::one_hub();
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let t = ticker(&ticks, &stop);
    let woken = Arc::new(AtomicBool::new(false));
    let parked = {
        let (ticks, woken) = (ticks.clone(), woken.clone());
        thread::spawn(move || {
            let before = ticks.load(Ordering::SeqCst);
            while !woken.load(Ordering::SeqCst) {
                thread::park();
            }
            ticks.load(Ordering::SeqCst) - before
        })
    };
    let waker = {
        let (target, woken) = (parked.thread().clone(), woken.clone());
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            woken.store(true, Ordering::SeqCst);
            target.unpark();
        })
    };
    waker.join().unwrap();
    let progressed = parked.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    t.join().unwrap();
    assert!(progressed > 0);
}

#[test]
fn park_timeout_returns_after_the_timeout() {
    common::one_hub();
    let d = Duration::from_millis(10);
    let start = Instant::now();
    thread::park_timeout(d);
    assert!(start.elapsed() >= d);
    let h = thread::spawn(move || {
        let start = Instant::now();
        thread::park_timeout(d);
        start.elapsed()
    });
    assert!(h.join().unwrap() >= d);
}

#[test]
fn unpark_from_another_os_thread_wakes_a_coroutine() {
    common::one_hub();
    let woken = Arc::new(AtomicBool::new(false));
    let w = woken.clone();
    let parked = thread::spawn(move || {
        while !w.load(Ordering::SeqCst) {
            thread::park();
        }
    });
    let target = parked.thread().clone();
    let os = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        woken.store(true, Ordering::SeqCst);
        target.unpark();
    });
    parked.join().unwrap();
    os.join().unwrap();
}

#[test]
fn unpark_from_a_coroutine_wakes_a_parked_os_thread() {
    common::one_hub();
    let (tx, rx) = std::sync::mpsc::channel();
    let os = std::thread::spawn(move || {
        tx.send(thread::current()).unwrap();
        thread::park_timeout(PATIENCE);
        "woken"
    });
    let target = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(10));
    thread::spawn(move || target.unpark()).join().unwrap();
    assert_eq!(os.join().unwrap(), "woken");
}

#[test]
fn join_from_another_os_thread() {
    common::one_hub();
    let h = thread::spawn(|| {
        thread::sleep(Duration::from_millis(10));
        7
    });
    let joiner = std::thread::spawn(move || h.join().unwrap());
    // This thread's hub must run for the coroutine to progress.
    let keep_hub_busy = thread::spawn(move || {
        while !joiner.is_finished() {
            thread::sleep(Duration::from_millis(1));
        }
        joiner.join().unwrap()
    });
    assert_eq!(keep_hub_busy.join().unwrap(), 7);
}

#[test]
fn coroutines_of_two_os_threads_stay_apart() {
    common::one_hub();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| {
                let os = std::thread::current().id();
                let hs: Vec<_> = (0..50)
                    .map(|_| {
                        thread::spawn(move || {
                            thread::sleep(Duration::from_millis(1));
                            std::thread::current().id() == os
                        })
                    })
                    .collect();
                hs.into_iter().all(|h| h.join().unwrap())
            })
        })
        .collect();
    for w in workers {
        assert!(w.join().unwrap());
    }
}

#[test]
fn scope_borrows_and_joins_everything() {
    common::one_hub();
    let mut counter = 0;
    let data = [1, 2, 3];
    let len = thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(5));
            counter += data.iter().sum::<i32>();
        });
        let h = s.spawn(|| data.len());
        h.join().unwrap()
    });
    assert_eq!(len, 3);
    assert_eq!(counter, 6);
}

#[test]
fn scope_panics_for_an_unjoined_panicking_coroutine() {
    common::one_hub();
    let r = std::panic::catch_unwind(|| {
        thread::scope(|s| {
            s.spawn(|| panic!("scoped"));
        })
    });
    let payload = r.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"a scoped thread panicked")
    );
    // Joined: handled, no panic.
    thread::scope(|s| assert!(s.spawn(|| panic!("joined")).join().is_err()));
}

#[test]
fn scope_inside_a_coroutine() {
    common::one_hub();
    let h = thread::spawn(|| {
        let mut v = vec![0; 4];
        thread::scope(|s| {
            for (i, slot) in v.iter_mut().enumerate() {
                s.spawn(move || {
                    thread::sleep(Duration::from_millis(1));
                    *slot = i * 10;
                });
            }
        });
        v
    });
    assert_eq!(h.join().unwrap(), [0, 10, 20, 30]);
}

#[test]
fn spawn_inside_a_coroutine_and_nested_joins() {
    common::one_hub();
    let h = thread::spawn(|| {
        let inner = thread::spawn(|| thread::spawn(|| 3).join().unwrap() + 2);
        inner.join().unwrap() + 1
    });
    assert_eq!(h.join().unwrap(), 6);
}

#[test]
fn panicking_is_per_coroutine() {
    common::one_hub();
    struct Probe(Arc<AtomicBool>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.store(thread::panicking(), Ordering::SeqCst);
        }
    }
    let seen = Arc::new(AtomicBool::new(false));
    let s = seen.clone();
    let h = thread::spawn(move || {
        let _probe = Probe(s);
        panic!("unwind");
    });
    assert!(h.join().is_err());
    assert!(seen.load(Ordering::SeqCst));
    assert!(!thread::panicking());
    assert!(!thread::spawn(thread::panicking).join().unwrap());
}

/// Coroutines left parked when their OS thread exits used to be killed,
/// unwinding code that std never unwinds (a blocking read). Now they stay
/// parked for good, like a detached std thread blocked until the process
/// exits: their destructors never run.
#[test]
fn coroutines_left_at_thread_exit_were_unwound_now_stay_parked() {
    common::one_hub();
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    std::thread::spawn(move || {
        struct Guard(Arc<AtomicBool>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let h = thread::spawn(move || {
            let _g = Guard(d);
            thread::park(); // never unparked
        });
        thread::yield_now(); // let it start and park
        drop(h);
    })
    .join()
    .unwrap();
    assert!(!dropped.load(Ordering::SeqCst));
}

/// The reduced HTTP-server case: a reader that takes its stream
/// from a channel, blocks in `read`, and only then records that it holds
/// the stream; its `Drop` receives from the channel if it never got there.
/// Under std its thread just stays blocked. When greenstd unwound the read
/// at thread exit, the `Drop` unwrapped a disconnected channel during the
/// unwind and the process aborted (134).
#[test]
fn a_reader_blocked_at_thread_exit_was_unwound_and_aborted() {
    common::one_hub();
    if is_child() {
        use greenstd::net::{TcpListener, TcpStream};
        use greenstd::sync::mpsc;
        use std::io::Read;
        enum Turn {
            Waiting(mpsc::Receiver<TcpStream>),
            #[allow(dead_code)] // held, as the server crate holds it
            Mine(TcpStream),
        }
        struct Reader {
            turn: Turn,
        }
        impl Reader {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Turn::Waiting(rx) = &self.turn else {
                    unreachable!()
                };
                let mut stream = rx.recv().unwrap();
                let n = stream.read(buf)?; // blocks: the peer never writes
                self.turn = Turn::Mine(stream);
                Ok(n)
            }
        }
        impl Drop for Reader {
            fn drop(&mut self) {
                if let Turn::Waiting(rx) = &self.turn {
                    rx.recv().unwrap();
                }
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || listener.accept().unwrap());
        std::thread::spawn(move || {
            let (tx, rx) = mpsc::channel();
            tx.send(TcpStream::connect(addr).unwrap()).unwrap();
            drop(tx);
            let _reader = thread::spawn(move || {
                let mut reader = Reader {
                    turn: Turn::Waiting(rx),
                };
                let _ = reader.read(&mut [0; 16]);
            });
            std::thread::sleep(Duration::from_millis(50));
        })
        .join()
        .unwrap();
        let _peer = peer.join().unwrap();
        eprintln!("done");
        return;
    }
    let (status, stderr) =
        run_child_status("a_reader_blocked_at_thread_exit_was_unwound_and_aborted");
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("done"), "{stderr}");
}

#[test]
fn available_parallelism_is_std_s() {
    common::one_hub();
    assert_eq!(
        thread::available_parallelism().unwrap(),
        std::thread::available_parallelism().unwrap()
    );
}

#[test]
fn thread_local_is_shared_by_the_coroutines_of_a_thread() {
    common::one_hub();
    std::thread_local!(static COUNT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
    let hs: Vec<_> = (0..10)
        .map(|_| thread::spawn(|| COUNT.with(|c| c.set(c.get() + 1))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(COUNT.with(std::cell::Cell::get), 10);
}

/// Every blocking call of this module, made inside a coroutine, lets a
/// ticking coroutine progress while it blocks.
#[test]
fn every_blocking_call_yields_inside_a_coroutine() {
    common::one_hub();
    type Call = fn();
    let calls: [(&str, Call); 6] = [
        ("sleep", || thread::sleep(Duration::from_millis(10))),
        ("park_timeout", || {
            thread::park_timeout(Duration::from_millis(10))
        }),
        ("join", || {
            thread::spawn(|| thread::sleep(Duration::from_millis(10)))
                .join()
                .unwrap()
        }),
        ("scope", || {
            thread::scope(|s| {
                s.spawn(|| thread::sleep(Duration::from_millis(10)));
            })
        }),
        ("Greenlet::join_timeout", || {
            let g = greenstd::spawn(|| thread::sleep(Duration::from_secs(3600)));
            assert!(!g.join_timeout(Duration::from_millis(10)));
            g.kill();
        }),
        ("with_timeout(park)", || {
            assert!(greenstd::with_timeout(Duration::from_millis(10), thread::park).is_err())
        }),
    ];
    for (name, call) in calls {
        let ticks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let t = ticker(&ticks, &stop);
        let probe = {
            let ticks = ticks.clone();
            thread::spawn(move || {
                let before = ticks.load(Ordering::SeqCst);
                call();
                ticks.load(Ordering::SeqCst) - before
            })
        };
        let progressed = probe.join().unwrap();
        stop.store(true, Ordering::SeqCst);
        t.join().unwrap();
        assert!(progressed > 0, "{name} did not yield");
    }
}

/// std's `ThreadId` wraps a `NonZero`, so `Option<ThreadId>` costs nothing
/// more; greenstd's wrapped a plain `u64`.
#[test]
fn option_of_thread_id_was_larger_than_std_s() {
    common::one_hub();
    use std::mem::size_of;
    assert_eq!(
        size_of::<Option<thread::ThreadId>>(),
        size_of::<thread::ThreadId>()
    );
    assert_eq!(
        size_of::<Option<std::thread::ThreadId>>(),
        size_of::<Option<thread::ThreadId>>()
    );
}

/// A closure that captures most of a coroutine's stack still runs:
/// only small bodies are kept on the coroutine's stack.
#[test]
fn a_closure_capturing_most_of_the_stack_still_spawns() {
    common::one_hub();
    // 200 KB of a 256 KiB stack: kept in place, the body's own frames
    // (and a debug build's copies of the array) would overflow it.
    let array = [5u8; 200_000];
    let h = greenstd::thread::spawn(move || array.iter().map(|&b| usize::from(b)).sum::<usize>());
    assert_eq!(h.join().unwrap(), 1_000_000);
    let small = [3u8; 64];
    let h = greenstd::thread::spawn(move || small.len());
    assert_eq!(h.join().unwrap(), 64);
}

/// A spawn that cannot map its stack drops the closure as std drops the
/// closure of a thread it could not start: normally, so that a capture's
/// panicking `Drop` reaches the spawner. It used to run during the
/// `generator` crate's own unwind, a double panic that aborted the process.
#[test]
fn a_failed_spawn_drops_its_closure_as_std_does() {
    common::one_hub();
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("a capture's Drop panics");
        }
    }
    let spawn = || {
        let capture = PanicsOnDrop;
        thread::Builder::new()
            .placement(greenstd::Placement::ThisThread)
            .stack_size(1 << 46) // 64 TiB: no such mapping
            .spawn(move || {
                let _keep = &capture;
            })
            .map(|_| ())
    };
    let outcome = std::panic::catch_unwind(spawn);
    let payload = outcome.expect_err("the capture's Drop panic reaches the spawner");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"a capture's Drop panics")
    );
    // A failure without a panicking capture is an error, as std's.
    let err = thread::Builder::new()
        .placement(greenstd::Placement::ThisThread)
        .stack_size(1 << 46)
        .spawn(|| ())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock); // std's kind
    // The hub is none the worse.
    assert_eq!(thread::spawn(|| 7).join().unwrap(), 7);
}

/// The process's memory maps (two per live or pooled coroutine stack).
fn memory_maps() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("read /proc/self/maps")
        .lines()
        .count()
}

/// Ends a burst of coroutines, then idles the thread's own context with
/// `idle` until the hub has unmapped all but the stacks it keeps for good
/// (1,024, two maps each). Runs in a child process (`name`), so that no
/// other test's stacks move the map count.
fn burst_then_idle(name: &str, idle: fn()) {
    if !is_child() {
        let (ok, stderr) = run_child(name);
        assert!(ok, "{stderr}");
        return;
    }
    common::one_hub();
    const BURST: usize = 4000;
    let before = memory_maps();
    // The burst ends at once: its coroutines wait on one barrier, so no
    // long poll (the hub's chance to trim) falls between their ends, as a
    // staggered end on a loaded machine let it (a CI flake).
    let gate = Arc::new(greenstd::sync::Barrier::new(BURST + 1));
    let handles: Vec<_> = (0..BURST)
        .map(|_| {
            let gate = Arc::clone(&gate);
            thread::spawn(move || {
                gate.wait();
            })
        })
        .collect();
    gate.wait();
    for h in handles {
        h.join().unwrap();
    }
    let after_burst = memory_maps();
    assert!(
        after_burst >= before + BURST,
        "the burst's stacks are pooled at first: {before} -> {after_burst}"
    );
    let kept = before + 2 * 1024 + 100;
    let start = Instant::now();
    while memory_maps() > kept && start.elapsed() < PATIENCE {
        idle();
    }
    let now = memory_maps();
    assert!(
        now <= kept,
        "{now} maps left after idling (before the burst {before}, after it {after_burst})"
    );
}

#[test]
fn stacks_left_over_from_a_burst_are_unmapped_once_the_thread_idles() {
    burst_then_idle(
        "stacks_left_over_from_a_burst_are_unmapped_once_the_thread_idles",
        || thread::sleep(Duration::from_millis(50)),
    );
}

#[test]
fn stacks_left_over_from_a_burst_are_unmapped_while_the_thread_parks() {
    // Any wait of a thread with no coroutine left (park, a join, a lock)
    // goes through the same idle path as its sleep.
    burst_then_idle(
        "stacks_left_over_from_a_burst_are_unmapped_while_the_thread_parks",
        || thread::park_timeout(Duration::from_millis(50)),
    );
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[repr(align(64))]
#[derive(Debug, PartialEq, Clone, Copy)]
struct Aligned([u8; 64]);

#[test]
fn results_of_every_size_and_alignment_come_back_whole() {
    common::one_hub();
    // The task keeps a small result in place and boxes a large or very
    // aligned one: both ways round trip.
    thread::spawn(|| ()).join().unwrap();
    assert_eq!(thread::spawn(|| 7u8).join().unwrap(), 7);
    assert_eq!(thread::spawn(|| [3u64; 4]).join().unwrap(), [3u64; 4]);
    let big = thread::spawn(|| [9u8; 4096]).join().unwrap();
    assert!(big.iter().all(|&b| b == 9));
    let aligned = thread::spawn(|| Aligned([5; 64])).join().unwrap();
    assert_eq!(aligned, Aligned([5; 64]));
    assert_eq!(std::ptr::from_ref(&aligned) as usize % 64, 0);
    assert_eq!(
        thread::spawn(|| String::from("whole")).join().unwrap(),
        "whole"
    );
    let payload = thread::spawn(|| -> [u8; 4096] { panic!("big and panicked") })
        .join()
        .unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"big and panicked"));
}

#[test]
fn a_result_is_dropped_exactly_once_whoever_lets_go_last() {
    common::one_hub();
    let drops = Arc::new(AtomicUsize::new(0));
    let small = |d: &Arc<AtomicUsize>| {
        let d = d.clone();
        move || Counted(d)
    };
    let large = |d: &Arc<AtomicUsize>| {
        let d = d.clone();
        move || (Counted(d), [0u8; 512])
    };
    // Joined: the joiner owns it.
    drop(thread::spawn(small(&drops)).join().unwrap());
    drop(thread::spawn(large(&drops)).join().unwrap());
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    // Detached before the end: the coroutine drops it.
    drop(thread::spawn(small(&drops)));
    drop(thread::spawn(large(&drops)));
    assert!(eventually(|| drops.load(Ordering::SeqCst) == 4));
    // Detached after the end: the handle drops it.
    let (a, b) = (thread::spawn(small(&drops)), thread::spawn(large(&drops)));
    assert!(eventually(|| a.is_finished() && b.is_finished()));
    assert_eq!(drops.load(Ordering::SeqCst), 4, "not before the handles go");
    drop((a, b));
    assert_eq!(drops.load(Ordering::SeqCst), 6);
    thread::sleep(Duration::from_millis(10));
    assert_eq!(drops.load(Ordering::SeqCst), 6, "and never twice");
}

/// A generator's body runs on a stack of its own, nested in the coroutine
/// that drives it: when it blocks, the coroutine (not the generator) must
/// be the one suspended, and the values must still come out in order.
/// (A wait on the coroutine's own stack switches by a shorter path; this
/// is the other one.)
#[test]
fn a_generator_body_that_blocks_suspends_the_coroutine_driving_it() {
    let (tx, rx) = greenstd::sync::mpsc::channel::<u32>();
    let consumer = thread::spawn(move || {
        let received = greenstd::generator::Generator::new(move |co| {
            for _ in 0..3 {
                let v = rx.recv().unwrap();
                thread::sleep(Duration::from_millis(1));
                co.yield_(v * 10);
            }
        });
        received.collect::<Vec<_>>()
    });
    let producer = thread::spawn(move || {
        for v in 1..=3 {
            thread::yield_now();
            tx.send(v).unwrap();
            // Blocks on the coroutine's own stack meanwhile.
            thread::park_timeout(Duration::from_millis(1));
        }
    });
    producer.join().unwrap();
    assert_eq!(consumer.join().unwrap(), [10, 20, 30]);
}

/// A coroutine spawned while no pooled stack is free takes its stack at
/// its first run. If the kernel refuses the stack then (here: an address
/// space limit), `spawn` has already returned, so the join reports the
/// failure as std reports a failed spawn, and the others carry on.
#[test]
fn a_start_that_gets_no_memory_for_its_stack_fails_through_its_join() {
    if !is_child() {
        let (ok, stderr) =
            run_child("a_start_that_gets_no_memory_for_its_stack_fails_through_its_join");
        assert!(ok, "{stderr}");
        return;
    }
    greenstd::set_hubs(1).expect("one hub: the spawns start on this thread");
    // One pooled stack: the first spawn below takes it, the second waits.
    thread::spawn(|| ()).join().unwrap();
    let holder = thread::spawn(thread::park);
    let starved = thread::spawn(|| 7);
    // One whose closure panics when dropped unrun: the hub, which drops it,
    // carries on. (A quiet hook: a backtrace would need memory now.)
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("the closure's drop panicked");
        }
    }
    let bomb = Bomb;
    let bombed = thread::spawn(move || {
        let _bomb = &bomb;
        9
    });
    std::panic::set_hook(Box::new(|_| {}));
    let limit = {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split_whitespace().next().unwrap().parse().unwrap();
        // Room for small allocations, none for a 256 KiB stack.
        pages * 4096 + 64 * 1024
    };
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain calls on valid rlimit structs.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_AS, &mut old), 0);
        let new = libc::rlimit {
            rlim_cur: limit,
            rlim_max: old.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &new), 0);
    }
    let joined = starved.join();
    let joined_bombed = bombed.join();
    // SAFETY: as above.
    unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &old), 0) };
    let _ = std::panic::take_hook();
    let payload = joined.expect_err("no stack could be mapped for it");
    let message = payload.downcast_ref::<String>().expect("a message");
    assert!(message.contains("failed to spawn thread"), "{message}");
    let payload = joined_bombed.expect_err("no stack could be mapped for it");
    let message = payload.downcast_ref::<String>().expect("a message");
    assert!(
        message.contains("closure panicked while being dropped"),
        "{message}"
    );
    holder.thread().unpark();
    holder.join().unwrap();
    assert_eq!(thread::spawn(|| 8).join().unwrap(), 8);
}
