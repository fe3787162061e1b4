//! `sync` and `fs` benchmarks: greenstd beside std threads, tokio
//! (`current_thread`, its `sync` and `fs`) and may (one worker), in one run.
//!
//! Run: `cargo bench --bench sync` (`-- --quick` for smaller counts).

use std::sync::Arc;
use std::time::{Duration, Instant};

const RUNTIMES: [&str; 4] = ["greenstd", "std", "tokio", "may"];

struct Sizes {
    uncontended: u64,
    tasks: u64,
    increments: u64,
    round_trips: u64,
    files: u64,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let s = if quick {
        Sizes {
            uncontended: 200_000,
            tasks: 20,
            increments: 200,
            round_trips: 10_000,
            files: 200,
        }
    } else {
        Sizes {
            uncontended: 2_000_000,
            tasks: 100,
            increments: 1_000,
            round_trips: 100_000,
            files: 1_000,
        }
    };
    may::config().set_workers(1);
    type Case = fn(&str, &Sizes) -> Option<Duration>;
    let cases: [(&str, String, u64, Case); 6] = [
        (
            "uncontended",
            format!("uncontended lock+unlock ({})", s.uncontended),
            s.uncontended,
            uncontended,
        ),
        (
            "read",
            format!("uncontended RwLock read+unlock ({})", s.uncontended),
            s.uncontended,
            uncontended_read,
        ),
        (
            "contended",
            format!("{} tasks x {} locked increments", s.tasks, s.increments),
            s.tasks * s.increments,
            contended,
        ),
        (
            "pingpong",
            format!(
                "channel ping-pong, one thread ({} round trips)",
                s.round_trips
            ),
            s.round_trips,
            pingpong_local,
        ),
        (
            "pingpong2",
            format!(
                "channel ping-pong, two threads ({} round trips)",
                s.round_trips
            ),
            s.round_trips,
            pingpong_two,
        ),
        (
            "files",
            format!("{} tasks each write+read a 4 KiB file", s.files),
            s.files,
            files,
        ),
    ];
    println!("| case | runtime | total | per op | vs tokio |");
    println!("|---|---|---|---|---|");
    for (_, title, ops, run) in cases {
        let results: Vec<(&str, Option<Duration>)> =
            RUNTIMES.iter().map(|rt| (*rt, run(rt, &s))).collect();
        let tokio = results
            .iter()
            .find(|(rt, _)| *rt == "tokio")
            .and_then(|(_, d)| *d);
        for (rt, d) in results {
            match d {
                Some(d) => println!(
                    "| {title} | {rt} | {:.1} ms | {:.0} ns | {} |",
                    d.as_secs_f64() * 1e3,
                    d.as_secs_f64() * 1e9 / ops as f64,
                    tokio.map_or("-".into(), |t| format!(
                        "{:.2}x",
                        d.as_secs_f64() / t.as_secs_f64()
                    ))
                ),
                None => println!("| {title} | {rt} | n/a | - | - |"),
            }
        }
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn uncontended(rt: &str, s: &Sizes) -> Option<Duration> {
    let n = s.uncontended;
    Some(match rt {
        "greenstd" => {
            let m = greenstd::sync::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                *m.lock().unwrap() += 1;
            }
            start.elapsed()
        }
        "std" => {
            let m = std::sync::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                *m.lock().unwrap() += 1;
            }
            start.elapsed()
        }
        "tokio" => current_thread().block_on(async move {
            let m = tokio::sync::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                *m.lock().await += 1;
            }
            start.elapsed()
        }),
        "may" => {
            let m = may::sync::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                *m.lock().unwrap() += 1;
            }
            start.elapsed()
        }
        _ => return None,
    })
}

fn uncontended_read(rt: &str, s: &Sizes) -> Option<Duration> {
    let n = s.uncontended;
    Some(match rt {
        "greenstd" => {
            let l = greenstd::sync::RwLock::new(1u64);
            let start = Instant::now();
            for _ in 0..n {
                std::hint::black_box(*l.read().unwrap());
            }
            start.elapsed()
        }
        "std" => {
            let l = std::sync::RwLock::new(1u64);
            let start = Instant::now();
            for _ in 0..n {
                std::hint::black_box(*l.read().unwrap());
            }
            start.elapsed()
        }
        "tokio" => current_thread().block_on(async move {
            let l = tokio::sync::RwLock::new(1u64);
            let start = Instant::now();
            for _ in 0..n {
                std::hint::black_box(*l.read().await);
            }
            start.elapsed()
        }),
        "may" => {
            let l = may::sync::RwLock::new(1u64);
            let start = Instant::now();
            for _ in 0..n {
                std::hint::black_box(*l.read().unwrap());
            }
            start.elapsed()
        }
        _ => return None,
    })
}

fn contended(rt: &str, s: &Sizes) -> Option<Duration> {
    let (tasks, incs) = (s.tasks, s.increments);
    Some(match rt {
        "greenstd" => {
            let m = Arc::new(greenstd::sync::Mutex::new(0u64));
            let start = Instant::now();
            let hs: Vec<_> = (0..tasks)
                .map(|_| {
                    let m = m.clone();
                    greenstd::thread::spawn(move || {
                        for _ in 0..incs {
                            let mut g = m.lock().unwrap();
                            *g += 1;
                            greenstd::thread::yield_now(); // hold it across a switch
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed()
        }
        "std" => {
            let m = Arc::new(std::sync::Mutex::new(0u64));
            let start = Instant::now();
            let hs: Vec<_> = (0..tasks)
                .map(|_| {
                    let m = m.clone();
                    std::thread::spawn(move || {
                        for _ in 0..incs {
                            let mut g = m.lock().unwrap();
                            *g += 1;
                            std::thread::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed()
        }
        "tokio" => current_thread().block_on(async move {
            let m = Arc::new(tokio::sync::Mutex::new(0u64));
            let start = Instant::now();
            let hs: Vec<_> = (0..tasks)
                .map(|_| {
                    let m = m.clone();
                    tokio::spawn(async move {
                        for _ in 0..incs {
                            let mut g = m.lock().await;
                            *g += 1;
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
            start.elapsed()
        }),
        "may" => {
            let m = Arc::new(may::sync::Mutex::new(0u64));
            let start = Instant::now();
            let hs: Vec<_> = (0..tasks)
                .map(|_| {
                    let m = m.clone();
                    may::go!(move || {
                        for _ in 0..incs {
                            let mut g = m.lock().unwrap();
                            *g += 1;
                            may::coroutine::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed()
        }
        _ => return None,
    })
}

/// Two tasks bounce a counter over two channels.
macro_rules! pingpong_blocking {
    ($n:expr, $channel:path, $spawn_a:expr, $spawn_b:expr, $join:expr) => {{
        let n = $n;
        let (to_b, from_a) = $channel();
        let (to_a, from_b) = $channel();
        let start = Instant::now();
        let b = $spawn_b(move || {
            for _ in 0..n {
                let v: u64 = from_a.recv().unwrap();
                to_a.send(v + 1).unwrap();
            }
        });
        let a = $spawn_a(move || {
            for i in 0..n {
                to_b.send(i).unwrap();
                from_b.recv().unwrap();
            }
        });
        $join(a);
        $join(b);
        start.elapsed()
    }};
}

fn pingpong_local(rt: &str, s: &Sizes) -> Option<Duration> {
    let n = s.round_trips;
    Some(match rt {
        "greenstd" => pingpong_blocking!(
            n,
            greenstd::sync::mpsc::channel,
            greenstd::thread::spawn,
            greenstd::thread::spawn,
            |h: greenstd::thread::JoinHandle<()>| h.join().unwrap()
        ),
        "std" => return None, // two OS threads are the two-thread case
        "tokio" => current_thread().block_on(async move {
            let (to_b, mut from_a) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let (to_a, mut from_b) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let start = Instant::now();
            let b = tokio::spawn(async move {
                for _ in 0..n {
                    let v = from_a.recv().await.unwrap();
                    to_a.send(v + 1).unwrap();
                }
            });
            let a = tokio::spawn(async move {
                for i in 0..n {
                    to_b.send(i).unwrap();
                    from_b.recv().await.unwrap();
                }
            });
            a.await.unwrap();
            b.await.unwrap();
            start.elapsed()
        }),
        "may" => pingpong_blocking!(
            n,
            may::sync::mpsc::channel,
            |f| may::go!(f),
            |f| may::go!(f),
            |h: may::coroutine::JoinHandle<()>| h.join().unwrap()
        ),
        _ => return None,
    })
}

fn pingpong_two(rt: &str, s: &Sizes) -> Option<Duration> {
    let n = s.round_trips;
    Some(match rt {
        // A coroutine on each of two OS threads.
        "greenstd" => pingpong_blocking!(
            n,
            greenstd::sync::mpsc::channel,
            |f| std::thread::spawn(move || greenstd::thread::spawn(f).join().unwrap()),
            |f| std::thread::spawn(move || greenstd::thread::spawn(f).join().unwrap()),
            |h: std::thread::JoinHandle<()>| h.join().unwrap()
        ),
        "std" => pingpong_blocking!(
            n,
            std::sync::mpsc::channel,
            std::thread::spawn,
            std::thread::spawn,
            |h: std::thread::JoinHandle<()>| h.join().unwrap()
        ),
        "tokio" => {
            let (to_b, mut from_a) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let (to_a, mut from_b) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let start = Instant::now();
            let b = std::thread::spawn(move || {
                current_thread().block_on(async move {
                    for _ in 0..n {
                        let v = from_a.recv().await.unwrap();
                        to_a.send(v + 1).unwrap();
                    }
                })
            });
            let a = std::thread::spawn(move || {
                current_thread().block_on(async move {
                    for i in 0..n {
                        to_b.send(i).unwrap();
                        from_b.recv().await.unwrap();
                    }
                })
            });
            a.join().unwrap();
            b.join().unwrap();
            start.elapsed()
        }
        "may" => return None, // one worker: both ends would share it
        _ => return None,
    })
}

fn files(rt: &str, s: &Sizes) -> Option<Duration> {
    let n = s.files;
    let dir =
        std::env::temp_dir().join(format!("greenstd-bench-files-{}-{rt}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let data = Arc::new(vec![7u8; 4096]);
    let elapsed = match rt {
        "greenstd" => {
            let start = Instant::now();
            let hs: Vec<_> = (0..n)
                .map(|i| {
                    let (path, data) = (dir.join(i.to_string()), data.clone());
                    greenstd::thread::spawn(move || {
                        greenstd::fs::write(&path, &*data).unwrap();
                        assert_eq!(greenstd::fs::read(&path).unwrap().len(), 4096);
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed()
        }
        "std" => {
            let start = Instant::now();
            let hs: Vec<_> = (0..n)
                .map(|i| {
                    let (path, data) = (dir.join(i.to_string()), data.clone());
                    std::thread::Builder::new()
                        .stack_size(64 * 1024)
                        .spawn(move || {
                            std::fs::write(&path, &*data).unwrap();
                            assert_eq!(std::fs::read(&path).unwrap().len(), 4096);
                        })
                        .unwrap()
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed()
        }
        "tokio" => {
            let dir = dir.clone();
            current_thread().block_on(async move {
                let start = Instant::now();
                let hs: Vec<_> = (0..n)
                    .map(|i| {
                        let (path, data) = (dir.join(i.to_string()), data.clone());
                        tokio::spawn(async move {
                            tokio::fs::write(&path, &*data).await.unwrap();
                            assert_eq!(tokio::fs::read(&path).await.unwrap().len(), 4096);
                        })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
                start.elapsed()
            })
        }
        "may" => {
            // may has no fs layer: std calls inside its coroutines.
            let start = Instant::now();
            let hs: Vec<_> = (0..n)
                .map(|i| {
                    let (path, data) = (dir.join(i.to_string()), data.clone());
                    may::go!(move || {
                        std::fs::write(&path, &*data).unwrap();
                        assert_eq!(std::fs::read(&path).unwrap().len(), 4096);
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed()
        }
        _ => return None,
    };
    let _ = std::fs::remove_dir_all(&dir);
    Some(elapsed)
}
