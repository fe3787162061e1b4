//! Downloader benchmark: 1,000 downloads of 100 KiB from a local server,
//! 100 at a time, with `greenstd::http::urlopen`:
//!
//! - greenstd: 100 coroutines at a time (a `Pool`) on one OS thread;
//! - threads: the same calls on 100 OS threads at a time (greenstd's sockets
//!   on a thread without coroutines behave as std's);
//! - sequential: one after another.
//!
//! The server runs in a child process of its own; each client mode runs in
//! another, reporting wall time, CPU time (user + system) and peak RSS.
//!
//! Run: `cargo bench --features http --bench downloader` (`-- --quick`).

mod common;
use common::peak_rss_kib;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

const PAGE: usize = 100 * 1024;
const AT_A_TIME: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve") {
        serve();
        return;
    }
    let downloads: usize = if args.iter().any(|a| a == "--quick") {
        200
    } else {
        1000
    };
    if let Some(i) = args.iter().position(|a| a == "--client") {
        let (mode, port) = (&args[i + 1], args[i + 2].parse().expect("a port"));
        client(mode, port, downloads);
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    let mut server = Command::new(&exe)
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("the server's port");
    let port = line.trim().to_string();
    println!(
        "{downloads} downloads of {} KiB, {AT_A_TIME} at a time\n",
        PAGE / 1024
    );
    println!("| client | wall time | CPU time | peak RSS | wall vs greenstd |");
    println!("|---|---|---|---|---|");
    let mut greenstd_wall = None;
    for mode in ["greenstd", "threads", "sequential"] {
        let mut cmd = Command::new(&exe);
        cmd.args(["--client", mode, &port]);
        if args.iter().any(|a| a == "--quick") {
            cmd.arg("--quick");
        }
        let out = cmd.output().expect("run a client");
        let text = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<f64> = text
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if !out.status.success() || fields.len() < 3 {
            println!(
                "| {mode} | failed: {} | | | |",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            continue;
        }
        let (wall, cpu, rss) = (fields[0], fields[1], fields[2]);
        let base = *greenstd_wall.get_or_insert(wall);
        println!(
            "| {mode} | {wall:.3} s | {cpu:.3} s | {} MiB | {:.2}x |",
            rss as u64 / 1024,
            wall / base
        );
    }
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();
}

/// Runs one client mode; prints "wall_seconds cpu_seconds peak_rss_kib".
fn client(mode: &str, port: u16, downloads: usize) {
    let url = format!("http://127.0.0.1:{port}/page");
    let fetch = move |url: &str| {
        let mut body = Vec::with_capacity(PAGE);
        greenstd::http::urlopen(url)
            .and_then(|mut r| r.read_to_end(&mut body))
            .expect("a download");
        assert_eq!(body.len(), PAGE);
    };
    let start = Instant::now();
    match mode {
        "greenstd" => {
            let pool = greenstd::Pool::new(AT_A_TIME);
            for _ in 0..downloads {
                let url = url.clone();
                let _ = pool.spawn(move || fetch(&url));
            }
            pool.join();
        }
        "threads" => {
            for _ in 0..downloads / AT_A_TIME {
                let handles: Vec<_> = (0..AT_A_TIME)
                    .map(|_| {
                        let url = url.clone();
                        std::thread::spawn(move || fetch(&url))
                    })
                    .collect();
                for h in handles {
                    h.join().expect("a download thread");
                }
            }
        }
        "sequential" => {
            for _ in 0..downloads {
                fetch(&url);
            }
        }
        other => panic!("unknown mode {other}"),
    }
    let wall = start.elapsed().as_secs_f64();
    println!("{wall} {} {}", cpu_seconds(), peak_rss_kib());
}

fn cpu_seconds() -> f64 {
    // SAFETY: `usage` is a zeroed rusage that getrusage fills in; it
    // outlives the call.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A greenstd server answering every request with a 100 KiB page, a
/// coroutine per connection; prints its port, serves until killed.
fn serve() {
    let listener = greenstd::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("{}", listener.local_addr().expect("address").port());
    let _ = std::io::stdout().flush();
    let page: &'static [u8] = Box::leak(vec![b'x'; PAGE].into_boxed_slice());
    for stream in listener.incoming().flatten() {
        greenstd::thread::spawn(move || {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {PAGE}\r\nConnection: close\r\n\r\n");
            let _ = (&stream).write_all(head.as_bytes());
            let _ = (&stream).write_all(page);
        });
    }
}
