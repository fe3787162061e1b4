//! greenstd-monkey benchmarks, each case in a process of its own (patching
//! is process-wide):
//!
//! - redis GET round trips: 1,000 coroutines on one OS thread under
//!   `patch_all()`, a connection each; 1,000 OS threads, a connection each;
//!   one connection in a loop. Against a real `redis-server` started here.
//! - std TCP round trips between two plain threads: in a binary that links
//!   the crate and never patches, in one that links and patches (the hooks
//!   pass through outside coroutines), and in one that does not link it
//!   (`benches/unlinked.rs`).
//!
//! Run: `cargo bench -p greenstd-monkey --bench monkey` (needs
//! `redis-server`; add `-- --quick` for smaller counts).

use std::process::Command;
use std::time::Instant;

include!("common.rs");

const CLIENTS: usize = 1000;

fn gets_per_client(quick: bool) -> usize {
    if quick { 5 } else { 20 }
}

fn tcp_trips(quick: bool) -> u32 {
    if quick { 10_000 } else { 50_000 }
}

/// Each client: its own connection, `n` GETs of a key set beforehand.
fn redis_session(url: &str, n: usize) {
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_connection().unwrap();
    for _ in 0..n {
        let v: String = redis::cmd("GET").arg("bench-key").query(&mut con).unwrap();
        assert_eq!(v, "bench-value");
    }
}

/// Runs one case in this process; prints its time in nanoseconds.
fn run_case(case: &str, url: &str, quick: bool) -> f64 {
    let n = gets_per_client(quick);
    match case {
        "redis-coroutines" => {
            greenstd_monkey::patch_all().unwrap();
            let start = Instant::now();
            let hs: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let url = url.to_string();
                    greenstd::thread::spawn(move || redis_session(&url, n))
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed().as_nanos() as f64
        }
        "redis-threads" => {
            let start = Instant::now();
            let hs: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let url = url.to_string();
                    std::thread::Builder::new()
                        .stack_size(256 << 10)
                        .spawn(move || redis_session(&url, n))
                        .unwrap()
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed().as_nanos() as f64
        }
        "redis-one-connection" => {
            let start = Instant::now();
            redis_session(url, CLIENTS * n);
            start.elapsed().as_nanos() as f64
        }
        "tcp-linked-unpatched" => std_tcp_round_trip_ns(tcp_trips(quick), 5),
        "tcp-linked-patched" => {
            greenstd_monkey::patch_all().unwrap();
            std_tcp_round_trip_ns(tcp_trips(quick), 5)
        }
        other => panic!("unknown case {other}"),
    }
}

fn child(args: &[&str]) -> Option<f64> {
    let out = Command::new(std::env::current_exe().ok()?)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "case {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The `unlinked` benchmark binary built beside this one.
fn unlinked(quick: bool) -> Option<f64> {
    let dir = std::env::current_exe().ok()?.parent()?.to_path_buf();
    let exe = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("unlinked-") && !name.contains('.')
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())?
        .path();
    let mut cmd = Command::new(exe);
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd.output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[path = "../support/servers.rs"]
mod servers;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    if let Some(i) = args.iter().position(|a| a == "--case") {
        println!("{}", run_case(&args[i + 1], &args[i + 2], quick));
        return;
    }
    let q = if quick { "--quick" } else { "" };
    let n = gets_per_client(quick);
    println!(
        "| redis GET round trips ({CLIENTS} clients x {n}) | total | per round trip | vs 1,000 OS threads |"
    );
    println!("|---|---|---|---|");
    match servers::redis().ok() {
        None => println!("| (redis-server not available) | - | - | - |"),
        Some(server) => {
            let url = format!("redis://127.0.0.1:{}/", server.port);
            let mut c = redis::Client::open(url.as_str())
                .unwrap()
                .get_connection()
                .unwrap();
            redis::cmd("SET")
                .arg("bench-key")
                .arg("bench-value")
                .query::<()>(&mut c)
                .unwrap();
            let cases = [
                (
                    "1,000 coroutines, one OS thread, patch_all()",
                    "redis-coroutines",
                ),
                ("1,000 OS threads", "redis-threads"),
                ("one connection in a loop", "redis-one-connection"),
            ];
            let results: Vec<_> = cases
                .iter()
                .map(|(title, case)| (*title, child(&["--case", case, &url, q])))
                .collect();
            let threads = results[1].1;
            for (title, ns) in results {
                match ns {
                    Some(ns) => {
                        let per = ns / (CLIENTS * n) as f64;
                        let ratio = threads.map_or("-".into(), |t| format!("{:.2}x time", ns / t));
                        println!("| {title} | {:.1} ms | {per:.0} ns | {ratio} |", ns / 1e6);
                    }
                    None => println!("| {title} | failed | - | - |"),
                }
            }
        }
    }
    println!();
    println!("| std TCP round trip, two plain threads | per round trip | vs not linked |");
    println!("|---|---|---|");
    let base = unlinked(quick);
    let rows = [
        ("not linked", base),
        (
            "linked, not patched",
            child(&["--case", "tcp-linked-unpatched", "-", q]),
        ),
        (
            "linked and patched",
            child(&["--case", "tcp-linked-patched", "-", q]),
        ),
    ];
    for (title, ns) in rows {
        match ns {
            Some(ns) => {
                let ratio = base.map_or("-".into(), |b| format!("{:.3}x", ns / b));
                println!("| {title} | {ns:.0} ns | {ratio} |");
            }
            None => println!("| {title} | failed | - |"),
        }
    }
}
