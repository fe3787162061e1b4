//! The seed's downloader idea with Redis: N coroutines, one unmodified
//! `redis` client each, all on one OS thread. Each asks the server for
//! something that takes a while (`BLPOP` on an empty list, answered after
//! its 200 ms timeout), and the answers come back together: the wall time
//! is one wait, not N. With `--no-patch` the very same code runs without
//! `patch_all()`, and each client's wait blocks the whole thread: the
//! waits add up.
//!
//! Run: `cargo run -p greenstd-monkey --example monkey_redis [-- --clients N]
//! [--url redis://HOST:PORT/] [--no-patch]`. Without `--url` it starts its
//! own `redis-server` on a free loopback port (persistence off).

use std::time::{Duration, Instant};

/// One client's work: an unmodified redis-rs session.
fn session(url: &str, i: usize) -> redis::RedisResult<Duration> {
    let start = Instant::now();
    let client = redis::Client::open(url)?;
    let mut con = client.get_connection()?;
    redis::cmd("SET")
        .arg(format!("greeting:{i}"))
        .arg(format!("hello from client {i}"))
        .query::<()>(&mut con)?;
    // Waits 200 ms on the server: nobody pushes to this list.
    let _: Option<(String, String)> = redis::cmd("BLPOP")
        .arg(format!("empty:{i}"))
        .arg(0.2)
        .query(&mut con)?;
    let back: String = redis::cmd("GET")
        .arg(format!("greeting:{i}"))
        .query(&mut con)?;
    assert_eq!(back, format!("hello from client {i}"));
    Ok(start.elapsed())
}

#[path = "../support/servers.rs"]
mod servers;

fn usage() -> ! {
    eprintln!("usage: monkey_redis [--clients N] [--url redis://HOST:PORT/] [--no-patch]");
    std::process::exit(2);
}

fn main() {
    let mut clients = 10;
    let mut url = None;
    let mut patch = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--clients" => {
                clients = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--url" => url = Some(args.next().unwrap_or_else(|| usage())),
            "--no-patch" => patch = false,
            _ => usage(),
        }
    }
    let (_server, url) = match url {
        Some(url) => (None, url),
        None => match servers::redis() {
            Ok(server) => {
                let url = format!("redis://127.0.0.1:{}/", server.port);
                println!("started redis-server at {url}");
                (Some(server), url)
            }
            Err(e) => {
                eprintln!("cannot start redis-server ({e}); install it or pass --url");
                std::process::exit(1);
            }
        },
    };
    if patch {
        if let Err(e) = greenstd_monkey::patch_all() {
            eprintln!("{e}");
            std::process::exit(1);
        }
        println!("patched: each client parks only its coroutine while it waits");
    } else {
        println!("not patched: each client's wait blocks the whole thread");
    }
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let url = url.clone();
            greenstd::thread::spawn(move || (i, session(&url, i)))
        })
        .collect();
    let mut total = Duration::ZERO;
    let mut failed = 0;
    for h in handles {
        match h.join() {
            Ok((i, Ok(took))) => {
                println!("client {i}: SET, BLPOP (200 ms), GET in {took:.2?}");
                total += took;
            }
            Ok((i, Err(e))) => {
                println!("client {i} FAILED: {e}");
                failed += 1;
            }
            Err(_) => failed += 1,
        }
    }
    println!(
        "\n{clients} clients on one OS thread: {:.2?} wall time; their own times add up to {total:.2?}",
        start.elapsed()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
