//! Two hubs: where coroutines start, and everything that works across
//! threads (join, kill, channels, locks, `Event`, `Queue`, sockets) used
//! between coroutines of different hubs, under load.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::PATIENCE;
use greenstd::net::{TcpListener, TcpStream};
use greenstd::sync::{Condvar, Mutex, mpsc};
use greenstd::thread::{self, Builder};
use greenstd::{Event, Placement, Queue};

/// Sets two hubs and holds this binary's tests one at a time: placement
/// is round robin over one process-wide counter, and spawns of tests
/// running side by side would interleave with the ones a test counts.
fn two_hubs() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    greenstd::set_hubs(2).expect("two hubs, before any spawn of this binary");
    guard
}

fn os_thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

#[test]
fn a_thread_s_spawns_go_to_the_workers_a_coroutine_s_stay_on_its_hub() {
    let _serial = two_hubs();
    assert_eq!(greenstd::hubs(), 2);
    let names: Vec<(String, String, String)> = (0..8)
        .map(|_| {
            thread::spawn(|| {
                let mine = os_thread_name();
                let child = thread::spawn(os_thread_name).join().unwrap();
                let worker = Builder::new()
                    .placement(Placement::Worker)
                    .spawn(os_thread_name)
                    .unwrap()
                    .join()
                    .unwrap();
                (mine, child, worker)
            })
        })
        .map(|h| h.join().unwrap())
        .collect();
    for (mine, child, worker) in &names {
        assert!(mine.starts_with("greenstd-hub-"), "{mine}");
        assert_eq!(child, mine, "a coroutine's spawn stays on its hub");
        assert!(worker.starts_with("greenstd-hub-"), "{worker}");
    }
    // Round robin: spawns from this thread, nothing else spawning
    // meanwhile, alternate over the two workers.
    let handles: Vec<_> = (0..8).map(|_| thread::spawn(os_thread_name)).collect();
    let used: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let distinct: HashSet<&String> = used.iter().collect();
    assert_eq!(distinct.len(), 2, "round robin over both workers: {used:?}");
    assert!(
        used.windows(2).all(|w| w[0] != w[1]),
        "consecutive spawns alternate: {used:?}"
    );
    // Placement::ThisThread keeps it here.
    let here = os_thread_name();
    let h = Builder::new()
        .placement(Placement::ThisThread)
        .spawn(os_thread_name)
        .unwrap();
    assert_eq!(h.join().unwrap(), here);
}

#[test]
fn scoped_spawns_follow_the_same_rule() {
    let _serial = two_hubs();
    let data = [1, 2, 3];
    let names = thread::scope(|s| {
        let a = s.spawn(|| (os_thread_name(), data.iter().sum::<i32>()));
        let b = s.spawn(|| (os_thread_name(), data.len() as i32));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(names.0.0.starts_with("greenstd-hub-"));
    assert!(names.1.0.starts_with("greenstd-hub-"));
    assert_eq!((names.0.1, names.1.1), (6, 3));
}

#[test]
fn join_kill_and_a_panic_across_hubs() {
    let _serial = two_hubs();
    // A greenlet on one worker killed from a coroutine on the other.
    let sleeper = greenstd::spawn(|| thread::sleep(Duration::from_secs(3600)));
    let killer_hub = Builder::new()
        .placement(Placement::Worker)
        .spawn(move || {
            thread::sleep(Duration::from_millis(10));
            sleeper.kill();
            sleeper.join_timeout(PATIENCE);
            sleeper.ready()
        })
        .unwrap();
    assert!(killer_hub.join().unwrap(), "the kill reached the other hub");
    // A panic in a coroutine takes no hub down: both still run coroutines.
    let panicked = thread::spawn(|| panic!("one coroutine's panic"));
    assert!(panicked.join().is_err());
    let after: HashSet<String> = (0..4)
        .map(|_| thread::spawn(os_thread_name))
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(after.len(), 2);
}

#[test]
fn channels_locks_events_and_queues_across_hubs_under_load() {
    let _serial = two_hubs();
    const N: usize = 200;
    // Channels: producers on both hubs, one consumer.
    let (tx, rx) = mpsc::channel();
    let producers: Vec<_> = (0..N)
        .map(|i| {
            let tx = tx.clone();
            thread::spawn(move || {
                for k in 0..10 {
                    tx.send(i * 10 + k).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = thread::spawn(move || rx.iter().sum::<usize>());
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(consumer.join().unwrap(), (0..N * 10).sum::<usize>());
    // A mutex and a condvar: counters from both hubs.
    let shared = Arc::new((Mutex::new(0usize), Condvar::new()));
    let incrementers: Vec<_> = (0..N)
        .map(|_| {
            let shared = shared.clone();
            thread::spawn(move || {
                for _ in 0..50 {
                    *shared.0.lock().unwrap() += 1;
                    thread::yield_now();
                }
                shared.1.notify_all();
            })
        })
        .collect();
    {
        let (lock, cv) = &*shared;
        let guard = cv
            .wait_timeout_while(lock.lock().unwrap(), PATIENCE, |n| *n < N * 50)
            .unwrap()
            .0;
        assert_eq!(*guard, N * 50);
    }
    for h in incrementers {
        h.join().unwrap();
    }
    // An event set on one hub wakes waiters on both.
    let event = Arc::new(Event::new());
    let woken = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..N)
        .map(|_| {
            let (event, woken) = (event.clone(), woken.clone());
            thread::spawn(move || {
                assert!(event.wait_timeout(PATIENCE));
                woken.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(20));
    let setter_event = event.clone();
    thread::spawn(move || setter_event.set()).join().unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(woken.load(Ordering::SeqCst), N);
    // A queue: items put on both hubs, taken on both.
    let queue: Arc<Queue<usize>> = Arc::new(Queue::bounded(8));
    let putters: Vec<_> = (0..N)
        .map(|i| {
            let q = queue.clone();
            thread::spawn(move || q.put(i))
        })
        .collect();
    let takers: Vec<_> = (0..4)
        .map(|_| {
            let q = queue.clone();
            thread::spawn(move || (0..N / 4).map(|_| q.get()).sum::<usize>())
        })
        .collect();
    for p in putters {
        p.join().unwrap();
    }
    let total: usize = takers.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, (0..N).sum::<usize>());
}

#[test]
fn a_thousand_connections_over_two_hubs_every_byte_verified() {
    let _serial = two_hubs();
    const CONNECTIONS: usize = 1000;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The server: std's shape, accepting in this thread's own context and
    // handing each connection to a coroutine, which starts on a worker.
    let server = std::thread::spawn(move || {
        let mut handlers = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let (mut stream, _) = listener.accept().unwrap();
            handlers.push(thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => stream.write_all(&buf[..n]).unwrap(),
                    }
                }
                os_thread_name()
            }));
        }
        handlers
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<HashSet<String>>()
    });
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let message: Vec<u8> = (0..3000).map(|k| (i * 31 + k) as u8).collect();
                s.write_all(&message).unwrap();
                let mut echo = vec![0u8; message.len()];
                s.read_exact(&mut echo).unwrap();
                echo == message
            })
        })
        .collect();
    let verified = clients
        .into_iter()
        .map(|c| c.join().unwrap())
        .filter(|&ok| ok)
        .count();
    assert_eq!(verified, CONNECTIONS);
    let server_hubs = server.join().unwrap();
    assert_eq!(
        server_hubs.len(),
        2,
        "handlers ran on both hubs: {server_hubs:?}"
    );
}

/// The monitor watches every hub: a coroutine computing without a break on
/// a worker is reported with its name and its hub's thread.
#[test]
fn the_monitor_names_a_stalled_coroutine_and_its_worker_hub() {
    let _serial = two_hubs();
    if common::is_child() {
        greenstd::start_monitor(Duration::from_millis(50));
        let hog = Builder::new()
            .name("hog".into())
            .spawn(|| {
                let start = std::time::Instant::now();
                let mut x = 0u64;
                while start.elapsed() < Duration::from_millis(400) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                eprintln!("hog ran on {}", os_thread_name());
                x
            })
            .unwrap();
        hog.join().unwrap();
        return;
    }
    let (ok, stderr) =
        common::run_child("the_monitor_names_a_stalled_coroutine_and_its_worker_hub");
    assert!(ok, "{stderr}");
    let hub = stderr
        .lines()
        .find_map(|l| l.strip_prefix("hog ran on "))
        .expect("the hog's thread");
    assert!(hub.starts_with("greenstd-hub-"), "{hub}");
    assert!(
        stderr.contains("coroutine <Greenlet \"hog\" #")
            && stderr.contains(&format!("on thread '{hub}'"))
            && stderr.contains("without switching out"),
        "{stderr}"
    );
}

/// `net::bind_per_hub`: a listener per hub on one port, an accept loop on
/// each hub (`Placement::Hub`); the kernel spreads the connections, each is
/// served on the hub that accepted it, every byte verified.
#[test]
fn a_listener_per_hub_serves_on_both_hubs() {
    let _serial = two_hubs();
    let listeners = greenstd::net::bind_per_hub("127.0.0.1:0").unwrap();
    assert_eq!(listeners.len(), 2);
    let addr = listeners[0].local_addr().unwrap();
    assert_eq!(listeners[1].local_addr().unwrap(), addr);
    let (served_tx, served_rx) = mpsc::channel::<(String, String)>();
    for (i, listener) in listeners.into_iter().enumerate() {
        let served_tx = served_tx.clone();
        Builder::new()
            .placement(Placement::Hub(i))
            .spawn(move || {
                let acceptor = os_thread_name();
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { continue };
                    let served_tx = served_tx.clone();
                    let acceptor = acceptor.clone();
                    thread::spawn(move || {
                        let mut buf = [0u8; 64];
                        let n = stream.read(&mut buf).unwrap();
                        stream.write_all(&buf[..n]).unwrap();
                        let _ = served_tx.send((acceptor, os_thread_name()));
                    });
                }
            })
            .unwrap();
    }
    drop(served_tx);
    const CONNS: usize = 200;
    let clients: Vec<_> = (0..CONNS)
        .map(|i| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let msg = format!("message {i}");
                s.write_all(msg.as_bytes()).unwrap();
                let mut back = vec![0u8; msg.len()];
                s.read_exact(&mut back).unwrap();
                assert_eq!(back, msg.as_bytes());
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let mut hubs = HashSet::new();
    for _ in 0..CONNS {
        let (acceptor, handler) = served_rx.recv_timeout(PATIENCE).unwrap();
        assert_eq!(acceptor, handler, "a handler runs on its acceptor's hub");
        hubs.insert(handler);
    }
    assert_eq!(
        hubs.len(),
        2,
        "the kernel spread connections over both: {hubs:?}"
    );
}

/// A `Pool` shared by spawners on both hubs: its cap holds across hubs, and
/// `join` waits for the greenlets of every hub.
#[test]
fn a_pool_caps_and_joins_across_hubs() {
    let _serial = two_hubs();
    const CAP: usize = 3;
    const TASKS: usize = 40;
    let pool = Arc::new(greenstd::Pool::new(CAP));
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let hubs_seen = Arc::new(std::sync::Mutex::new(HashSet::new()));
    // One spawner per worker hub, each putting half of the tasks in.
    let spawners: Vec<_> = (0..2)
        .map(|hub| {
            let (pool, running, peak, done, hubs_seen) = (
                pool.clone(),
                running.clone(),
                peak.clone(),
                done.clone(),
                hubs_seen.clone(),
            );
            Builder::new()
                .placement(Placement::Hub(hub))
                .spawn(move || {
                    for _ in 0..TASKS / 2 {
                        let (running, peak, done, hubs_seen) = (
                            running.clone(),
                            peak.clone(),
                            done.clone(),
                            hubs_seen.clone(),
                        );
                        drop(pool.spawn(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            hubs_seen.lock().unwrap().insert(os_thread_name());
                            thread::sleep(Duration::from_millis(2));
                            running.fetch_sub(1, Ordering::SeqCst);
                            done.fetch_add(1, Ordering::SeqCst);
                        }));
                    }
                })
                .unwrap()
        })
        .collect();
    for s in spawners {
        s.join().unwrap();
    }
    pool.join();
    assert_eq!(done.load(Ordering::SeqCst), TASKS);
    assert!(
        peak.load(Ordering::SeqCst) <= CAP,
        "the cap holds across hubs"
    );
    assert_eq!(
        hubs_seen.lock().unwrap().len(),
        2,
        "greenlets ran on both hubs"
    );
}

/// An unpark, kill or switch sent to a coroutine that a worker has not
/// installed yet is kept in the coroutine's flags and seen when it starts:
/// spawned from here, woken from here at once, many times over.
#[test]
fn a_wake_up_sent_before_the_worker_installs_the_coroutine_is_kept() {
    let _serial = two_hubs();
    for round in 0..2000 {
        let h = thread::spawn(move || {
            thread::park();
            round
        });
        h.thread().unpark();
        assert_eq!(h.join().unwrap(), round);
    }
    for _ in 0..500 {
        let g = greenstd::spawn(|| thread::sleep(Duration::from_secs(3600)));
        g.kill();
        assert!(g.join_timeout(PATIENCE));
    }
}

/// A spawn for a worker that cannot get a stack of that size is refused at
/// the spawner, as std's `Builder::spawn` refuses a thread it cannot start:
/// `WouldBlock` from `spawn`, the closure dropped there, so that a capture
/// whose `Drop` panics reaches the spawner (std's behaviour) and never a
/// worker's loop. The workers go on serving.
#[test]
fn a_spawn_a_worker_cannot_start_is_refused_at_the_spawner() {
    let _serial = two_hubs();
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("a capture's Drop panics");
        }
    }
    for hub in 0..2 {
        let spawn = || {
            let capture = PanicsOnDrop;
            Builder::new()
                .placement(Placement::Hub(hub))
                .stack_size(1 << 46) // 64 TiB: no such mapping
                .spawn(move || {
                    let _keep = &capture;
                })
                .map(|_| ())
        };
        let payload = std::panic::catch_unwind(spawn)
            .expect_err("the capture's Drop panic reaches the spawner");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"a capture's Drop panics")
        );
        let err = Builder::new()
            .placement(Placement::Hub(hub))
            .stack_size(1 << 46)
            .spawn(|| ())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock); // std's kind
        // Both workers still serve.
        let served = Builder::new()
            .placement(Placement::Hub(hub))
            .spawn(os_thread_name)
            .unwrap()
            .join()
            .unwrap();
        assert!(served.starts_with("greenstd-hub-"), "{served}");
    }
}

/// The hub count: `GREENSTD_HUBS` (a number, `0` or `auto` for one per
/// core; anything else is reported and counts as 1), unset meaning 1;
/// once decided, `set_hubs` with another count fails with `InvalidInput`
/// and with the same count succeeds.
#[test]
fn the_hub_count_comes_from_the_environment_and_is_set_once() {
    const NAME: &str = "the_hub_count_comes_from_the_environment_and_is_set_once";
    if common::is_child() {
        let n = greenstd::hubs();
        assert!(greenstd::set_hubs(n).is_ok(), "the same count again");
        let other = greenstd::set_hubs(n + 1).unwrap_err();
        assert_eq!(other.kind(), std::io::ErrorKind::InvalidInput);
        eprintln!("hubs={n}");
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    for (value, expected) in [
        (None, 1),
        (Some("2"), 2),
        (Some("auto"), cores),
        (Some("0"), cores),
        (Some("bogus"), 1),
    ] {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env("GREENSTD_CHILD", "1")
            .env_remove("GREENSTD_HUBS");
        if let Some(v) = value {
            cmd.env("GREENSTD_HUBS", v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{value:?}: {stderr}");
        assert!(
            stderr.contains(&format!("hubs={expected}")),
            "{value:?}: {stderr}"
        );
        if value == Some("bogus") {
            assert!(stderr.contains("GREENSTD_HUBS=\"bogus\""), "{stderr}");
        }
    }
}
