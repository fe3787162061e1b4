//! Runtime benchmarks: greenstd beside may (one worker), tokio's
//! `current_thread` runtime and std threads, in one run.
//!
//! Each (case, runtime) pair runs in a child process of its own so that its
//! peak RSS (`VmHWM`) is its own. Prints a table with ratios to tokio.
//!
//! Run: `cargo bench --bench runtime` (add `-- --quick` for smaller counts).

mod common;
use common::{peak_rss_kib, rss_kib};

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const RUNTIMES: [&str; 4] = ["greenstd", "may", "tokio", "std"];

struct Sizes {
    round_trips: u64,
    spawns: usize,
    batch: usize,
    sleepers: usize,
    naps: u32,
    nap: Duration,
}

fn sizes(quick: bool) -> Sizes {
    if quick {
        Sizes {
            round_trips: 20_000,
            spawns: 10_000,
            batch: 1_000,
            sleepers: 1_000,
            naps: 10,
            nap: Duration::from_millis(10),
        }
    } else {
        Sizes {
            round_trips: 200_000,
            spawns: 100_000,
            batch: 1_000,
            sleepers: 10_000,
            naps: 10,
            nap: Duration::from_millis(10),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    if let Some(i) = args.iter().position(|a| a == "--case") {
        let (case, runtime) = (&args[i + 1], &args[i + 2]);
        let elapsed = run_case(case, runtime, &sizes(quick));
        println!("{} {}", elapsed.as_nanos(), peak_rss_kib());
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--idle") {
        let (runtime, n) = (&args[i + 1], args[i + 2].parse().expect("a count"));
        let (made, kib, took) = idle_case(runtime, n);
        println!("{made} {kib} {}", took.as_nanos());
        return;
    }
    let s = sizes(quick);
    let cases = [
        (
            "pingpong",
            format!("park+unpark round trip ({} round trips)", s.round_trips),
            s.round_trips as f64,
        ),
        (
            "spawn_join",
            format!("spawn+join ({} in batches of {})", s.spawns, s.batch),
            s.spawns as f64,
        ),
        (
            "sleepers",
            format!(
                "{} sleepers x {} naps of {:?} (ideal {:?})",
                s.sleepers,
                s.naps,
                s.nap,
                s.nap * s.naps
            ),
            1.0,
        ),
    ];
    println!("| case | runtime | total | per op | peak RSS | time vs tokio |");
    println!("|---|---|---|---|---|---|");
    for (case, title, ops) in &cases {
        let results: Vec<(&str, Option<(Duration, u64)>)> = RUNTIMES
            .iter()
            .map(|rt| (*rt, measure(case, rt, quick)))
            .collect();
        let tokio = results
            .iter()
            .find(|(rt, _)| *rt == "tokio")
            .and_then(|(_, r)| *r)
            .map(|(d, _)| d);
        for (rt, result) in &results {
            match result {
                Some((d, rss)) => {
                    let per_op = d.as_secs_f64() / ops;
                    let ratio = tokio.map_or("-".into(), |t| {
                        format!("{:.2}x", d.as_secs_f64() / t.as_secs_f64())
                    });
                    let per = if *ops > 1.0 {
                        format_secs(per_op)
                    } else {
                        "-".into()
                    };
                    println!(
                        "| {title} | {rt} | {} | {per} | {} MiB | {ratio} |",
                        format_secs(d.as_secs_f64()),
                        rss / 1024
                    );
                }
                None => println!("| {title} | {rt} | failed | - | - | - |"),
            }
        }
    }
    plain_tcp_table(quick);
    idle_table(quick);
}

/// Resident memory per parked task, and how many can be parked at once.
fn idle_table(quick: bool) {
    let n = if quick { 2_000 } else { 10_000 };
    println!();
    println!("| {n} parked tasks | runtime | made | resident memory per task | vs tokio |");
    println!("|---|---|---|---|---|");
    let results: Vec<_> = RUNTIMES.iter().map(|rt| (*rt, idle_child(rt, n))).collect();
    let tokio = results
        .iter()
        .find(|(rt, _)| *rt == "tokio")
        .and_then(|(_, r)| *r)
        .map(|(_, kib, _)| kib);
    for (rt, result) in &results {
        match result {
            Some((made, kib, _)) => println!(
                "| parked, waiting to be woken | {rt} | {made} | {kib:.2} KiB | {} |",
                tokio.map_or("-".into(), |t| format!("{:.1}x", kib / t))
            ),
            None => println!("| parked, waiting to be woken | {rt} | failed | - | - |"),
        }
    }
    // A million coroutines need two memory maps each: raise the kernel's
    // limit for the run when allowed (root), and put it back afterwards.
    let million = if quick { 100_000 } else { 1_000_000 };
    let limit_path = "/proc/sys/vm/max_map_count";
    let old_limit = std::fs::read_to_string(limit_path).ok();
    let wanted = million * 2 + 100_000;
    let raised = old_limit
        .as_deref()
        .and_then(|l| l.trim().parse::<usize>().ok())
        .is_some_and(|old| old >= wanted || std::fs::write(limit_path, wanted.to_string()).is_ok());
    println!();
    println!(
        "| {million} parked at once | runtime | made | time to make | resident memory | per task |"
    );
    println!("|---|---|---|---|---|---|");
    for rt in ["greenstd", "tokio"] {
        match idle_child(rt, million) {
            Some((made, kib, took)) => println!(
                "| parked at once{} | {rt} | {made} | {} | {:.2} GiB | {kib:.2} KiB |",
                if rt == "greenstd" && !raised {
                    " (vm.max_map_count could not be raised)"
                } else {
                    ""
                },
                format_secs(took.as_secs_f64()),
                kib * made as f64 / (1024.0 * 1024.0)
            ),
            None => println!("| parked at once | {rt} | failed | - | - | - |"),
        }
    }
    if let Some(old) = old_limit
        && raised
    {
        let _ = std::fs::write(limit_path, old.trim());
    }
}

/// Runs one idle case in a child: (made, KiB per task, time to make them).
fn idle_child(runtime: &str, n: usize) -> Option<(usize, f64, Duration)> {
    let out = Command::new(std::env::current_exe().ok()?)
        .args(["--idle", runtime, &n.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "idle/{runtime} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let made = parts.next()?.parse().ok()?;
    let kib = parts.next()?.parse().ok()?;
    let nanos: u64 = parts.next()?.parse().ok()?;
    Some((made, kib, Duration::from_nanos(nanos)))
}

/// Parks up to `n` tasks at once (fewer if the runtime refuses more);
/// returns how many, the resident memory each added, and the time taken
/// to make them all and see them parked. Then wakes and joins them.
fn idle_case(runtime: &str, n: usize) -> (usize, f64, Duration) {
    use std::sync::atomic::AtomicUsize;
    let started = Arc::new(AtomicUsize::new(0));
    let before = rss_kib();
    let start = Instant::now();
    let per_task = |made: usize| {
        let after = rss_kib();
        after.saturating_sub(before) as f64 / made.max(1) as f64
    };
    match runtime {
        "greenstd" => {
            let mut handles = Vec::with_capacity(n);
            for _ in 0..n {
                let s = started.clone();
                let made = greenstd::thread::Builder::new().spawn(move || {
                    s.fetch_add(1, Ordering::SeqCst);
                    greenstd::thread::park();
                });
                match made {
                    Ok(h) => handles.push(h),
                    Err(e) => {
                        eprintln!("stopped after {}: {e}", handles.len());
                        break;
                    }
                }
            }
            while started.load(Ordering::SeqCst) < handles.len() {
                greenstd::thread::sleep(Duration::from_millis(1));
            }
            let took = start.elapsed();
            let kib = per_task(handles.len());
            for h in &handles {
                h.thread().unpark();
            }
            let made = handles.len();
            for h in handles {
                h.join().unwrap();
            }
            (made, kib, took)
        }
        "may" => {
            may::config().set_workers(1);
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let s = started.clone();
                    may::go!(move || {
                        s.fetch_add(1, Ordering::SeqCst);
                        may::coroutine::park();
                    })
                })
                .collect();
            while started.load(Ordering::SeqCst) < n {
                std::thread::sleep(Duration::from_millis(1));
            }
            let took = start.elapsed();
            let kib = per_task(n);
            for h in &handles {
                h.coroutine().unpark();
            }
            for h in handles {
                let _ = h.join();
            }
            (n, kib, took)
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async {
                let wake = Arc::new(tokio::sync::Notify::new());
                let handles: Vec<_> = (0..n)
                    .map(|_| {
                        let (s, w) = (started.clone(), wake.clone());
                        tokio::spawn(async move {
                            let notified = w.notified();
                            s.fetch_add(1, Ordering::SeqCst);
                            notified.await;
                        })
                    })
                    .collect();
                while started.load(Ordering::SeqCst) < n {
                    tokio::task::yield_now().await;
                }
                let took = start.elapsed();
                let kib = per_task(n);
                // Those not yet waiting get their permit from notify_one's
                // stored permit; loop until all have ended.
                for h in handles {
                    wake.notify_waiters();
                    wake.notify_one();
                    let _ = h.await;
                }
                (n, kib, took)
            })
        }
        "std" => {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let s = started.clone();
                    std::thread::spawn(move || {
                        s.fetch_add(1, Ordering::SeqCst);
                        std::thread::park();
                    })
                })
                .collect();
            while started.load(Ordering::SeqCst) < n {
                std::thread::sleep(Duration::from_millis(1));
            }
            let took = start.elapsed();
            let kib = per_task(n);
            for h in &handles {
                h.thread().unpark();
            }
            for h in handles {
                let _ = h.join();
            }
            (n, kib, took)
        }
        other => panic!("unknown runtime {other}"),
    }
}

/// greenstd sockets on threads with no coroutines against std's: the cost
/// of the "outside" path (try the syscall, `poll(2)` when it would block).
fn plain_tcp_table(quick: bool) {
    let trips = sizes(quick).round_trips / 4;
    println!();
    println!(
        "| TCP round trips between two plain OS threads ({trips}, 64 B) | total | per round trip | vs std |"
    );
    println!("|---|---|---|---|");
    let std_time = measure("plain_tcp", "std", quick).map(|(d, _)| d);
    for rt in ["std", "greenstd"] {
        match measure("plain_tcp", rt, quick) {
            Some((d, _)) => println!(
                "| {rt} | {} | {} | {} |",
                format_secs(d.as_secs_f64()),
                format_secs(d.as_secs_f64() / trips as f64),
                std_time.map_or("-".into(), |t| format!(
                    "{:.2}x",
                    d.as_secs_f64() / t.as_secs_f64()
                ))
            ),
            None => println!("| {rt} | failed | - | - |"),
        }
    }
}

macro_rules! plain_tcp {
    ($name:ident, $net:path) => {
        fn $name(trips: u64) -> Duration {
            use std::io::{Read, Write};
            use $net as net;
            let listener = net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                s.set_nodelay(true).unwrap();
                let mut buf = [0u8; 64];
                for _ in 0..trips {
                    s.read_exact(&mut buf).unwrap();
                    s.write_all(&buf).unwrap();
                }
            });
            let mut c = net::TcpStream::connect(addr).unwrap();
            c.set_nodelay(true).unwrap();
            let mut buf = [7u8; 64];
            let start = Instant::now();
            for _ in 0..trips {
                c.write_all(&buf).unwrap();
                c.read_exact(&mut buf).unwrap();
            }
            let elapsed = start.elapsed();
            server.join().unwrap();
            elapsed
        }
    };
}

plain_tcp!(plain_tcp_std, std::net);
plain_tcp!(plain_tcp_greenstd, greenstd::net);

fn format_secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.0} ns", s * 1e9)
    }
}

fn measure(case: &str, runtime: &str, quick: bool) -> Option<(Duration, u64)> {
    let mut cmd = Command::new(std::env::current_exe().ok()?);
    cmd.args(["--case", case, runtime]);
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "{case}/{runtime} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let nanos: u64 = parts.next()?.parse().ok()?;
    let rss: u64 = parts.next()?.parse().ok()?;
    Some((Duration::from_nanos(nanos), rss))
}

fn run_case(case: &str, runtime: &str, s: &Sizes) -> Duration {
    match (case, runtime) {
        ("pingpong", "greenstd") => pingpong_greenstd(s.round_trips),
        ("pingpong", "may") => pingpong_may(s.round_trips),
        ("pingpong", "tokio") => pingpong_tokio(s.round_trips),
        ("pingpong", "std") => pingpong_std(s.round_trips),
        ("spawn_join", "greenstd") => spawn_join_greenstd(s.spawns, s.batch),
        ("spawn_join", "may") => spawn_join_may(s.spawns, s.batch),
        ("spawn_join", "tokio") => spawn_join_tokio(s.spawns, s.batch),
        ("spawn_join", "std") => spawn_join_std(s.spawns, s.batch),
        ("sleepers", "greenstd") => sleepers_greenstd(s.sleepers, s.naps, s.nap),
        ("sleepers", "may") => sleepers_may(s.sleepers, s.naps, s.nap),
        ("sleepers", "tokio") => sleepers_tokio(s.sleepers, s.naps, s.nap),
        ("sleepers", "std") => sleepers_std(s.sleepers, s.naps, s.nap),
        ("plain_tcp", "greenstd") => plain_tcp_greenstd(s.round_trips / 4),
        ("plain_tcp", "std") => plain_tcp_std(s.round_trips / 4),
        _ => panic!("unknown case {case}/{runtime}"),
    }
}

// Ping-pong: `turn` counts half round trips; each side waits for its turn
// with park and hands over with unpark.

fn pingpong_greenstd(n: u64) -> Duration {
    use greenstd::thread;
    let turn = Arc::new(AtomicU64::new(0));
    // Coroutines start when main first blocks, so both handles can be
    // exchanged before either runs.
    let ping_handle = Arc::new(std::sync::OnceLock::<thread::Thread>::new());
    let start = Instant::now();
    let (t, p) = (turn.clone(), ping_handle.clone());
    let pong = thread::spawn(move || {
        let ping = p.get().expect("set before the first switch");
        for i in 0..n {
            while t.load(Ordering::Acquire) != 2 * i + 1 {
                thread::park();
            }
            t.store(2 * i + 2, Ordering::Release);
            ping.unpark();
        }
    });
    let pong_thread = pong.thread().clone();
    let t = turn.clone();
    let ping = thread::spawn(move || {
        for i in 0..n {
            t.store(2 * i + 1, Ordering::Release);
            pong_thread.unpark();
            while t.load(Ordering::Acquire) != 2 * i + 2 {
                thread::park();
            }
        }
    });
    let _ = ping_handle.set(ping.thread().clone());
    ping.join().unwrap();
    pong.join().unwrap();
    start.elapsed()
}

fn pingpong_may(n: u64) -> Duration {
    may::config().set_workers(1);
    let turn = Arc::new(AtomicU64::new(0));
    let ping_handle = Arc::new(std::sync::OnceLock::<may::coroutine::Coroutine>::new());
    let start = Instant::now();
    let (t, p) = (turn.clone(), ping_handle.clone());
    let pong = may::go!(move || {
        // may starts coroutines at once: wait for the handle to be set.
        let ping = loop {
            if let Some(ping) = p.get() {
                break ping;
            }
            may::coroutine::yield_now();
        };
        for i in 0..n {
            while t.load(Ordering::Acquire) != 2 * i + 1 {
                may::coroutine::park();
            }
            t.store(2 * i + 2, Ordering::Release);
            ping.unpark();
        }
    });
    let pong_co = pong.coroutine().clone();
    let t = turn.clone();
    let ping = may::go!(move || {
        for i in 0..n {
            t.store(2 * i + 1, Ordering::Release);
            pong_co.unpark();
            while t.load(Ordering::Acquire) != 2 * i + 2 {
                may::coroutine::park();
            }
        }
    });
    let _ = ping_handle.set(ping.coroutine().clone());
    ping.join().unwrap();
    pong.join().unwrap();
    start.elapsed()
}

fn pingpong_tokio(n: u64) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move {
        let turn = Arc::new(AtomicU64::new(0));
        let ping_n = Arc::new(tokio::sync::Notify::new());
        let pong_n = Arc::new(tokio::sync::Notify::new());
        let start = Instant::now();
        let (t, pi, po) = (turn.clone(), ping_n.clone(), pong_n.clone());
        let pong = tokio::spawn(async move {
            for i in 0..n {
                while t.load(Ordering::Acquire) != 2 * i + 1 {
                    po.notified().await;
                }
                t.store(2 * i + 2, Ordering::Release);
                pi.notify_one();
            }
        });
        let (t, pi, po) = (turn.clone(), ping_n.clone(), pong_n.clone());
        let ping = tokio::spawn(async move {
            for i in 0..n {
                t.store(2 * i + 1, Ordering::Release);
                po.notify_one();
                while t.load(Ordering::Acquire) != 2 * i + 2 {
                    pi.notified().await;
                }
            }
        });
        ping.await.unwrap();
        pong.await.unwrap();
        start.elapsed()
    })
}

fn pingpong_std(n: u64) -> Duration {
    let turn = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel::<std::thread::Thread>();
    let t = turn.clone();
    let pong = std::thread::spawn(move || {
        let ping = rx.recv().unwrap();
        for i in 0..n {
            while t.load(Ordering::Acquire) != 2 * i + 1 {
                std::thread::park();
            }
            t.store(2 * i + 2, Ordering::Release);
            ping.unpark();
        }
    });
    let pong_thread = pong.thread().clone();
    let t = turn.clone();
    let ping = std::thread::spawn(move || {
        tx.send(std::thread::current()).unwrap();
        for i in 0..n {
            t.store(2 * i + 1, Ordering::Release);
            pong_thread.unpark();
            while t.load(Ordering::Acquire) != 2 * i + 2 {
                std::thread::park();
            }
        }
    });
    ping.join().unwrap();
    pong.join().unwrap();
    start.elapsed()
}

fn spawn_join_greenstd(total: usize, batch: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..total / batch {
        let hs: Vec<_> = (0..batch)
            .map(|i| greenstd::thread::spawn(move || i))
            .collect();
        for h in hs {
            std::hint::black_box(h.join().unwrap());
        }
    }
    start.elapsed()
}

fn spawn_join_may(total: usize, batch: usize) -> Duration {
    may::config().set_workers(1);
    let start = Instant::now();
    for _ in 0..total / batch {
        let hs: Vec<_> = (0..batch).map(|i| may::go!(move || i)).collect();
        for h in hs {
            std::hint::black_box(h.join().unwrap());
        }
    }
    start.elapsed()
}

fn spawn_join_tokio(total: usize, batch: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move {
        let start = Instant::now();
        for _ in 0..total / batch {
            let hs: Vec<_> = (0..batch).map(|i| tokio::spawn(async move { i })).collect();
            for h in hs {
                std::hint::black_box(h.await.unwrap());
            }
        }
        start.elapsed()
    })
}

fn spawn_join_std(total: usize, batch: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..total / batch {
        let hs: Vec<_> = (0..batch)
            .map(|i| {
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || i)
                    .unwrap()
            })
            .collect();
        for h in hs {
            std::hint::black_box(h.join().unwrap());
        }
    }
    start.elapsed()
}

fn sleepers_greenstd(count: usize, naps: u32, nap: Duration) -> Duration {
    let start = Instant::now();
    let hs: Vec<_> = (0..count)
        .map(|_| {
            greenstd::thread::spawn(move || {
                for _ in 0..naps {
                    greenstd::thread::sleep(nap);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    start.elapsed()
}

fn sleepers_may(count: usize, naps: u32, nap: Duration) -> Duration {
    may::config().set_workers(1);
    let start = Instant::now();
    let hs: Vec<_> = (0..count)
        .map(|_| {
            may::go!(move || {
                for _ in 0..naps {
                    may::coroutine::sleep(nap);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    start.elapsed()
}

fn sleepers_tokio(count: usize, naps: u32, nap: Duration) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async move {
        let start = Instant::now();
        let hs: Vec<_> = (0..count)
            .map(|_| {
                tokio::spawn(async move {
                    for _ in 0..naps {
                        tokio::time::sleep(nap).await;
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        start.elapsed()
    })
}

fn sleepers_std(count: usize, naps: u32, nap: Duration) -> Duration {
    let start = Instant::now();
    let hs: Vec<_> = (0..count)
        .map(|_| {
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    for _ in 0..naps {
                        std::thread::sleep(nap);
                    }
                })
                .unwrap()
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    start.elapsed()
}
