//! The seed's gevent spawn/join programs, ported.
//!
//! Three coroutines each run `f(5)`. Without `--sleep` nothing in `f`
//! blocks, so the runs come one after another, as the seed shows for
//! gevent. With `--sleep`, `f` sleeps cooperatively after each line and the
//! three interleave.
//!
//! Run: `cargo run --example spawn_join [-- --sleep] [--count N] [--delay-ms MS]`

use std::time::Duration;

use greenstd::thread;

fn f(n: u32, delay: Option<Duration>) {
    for i in 0..n {
        println!("{} {i}", greenstd::current());
        if let Some(delay) = delay {
            // The seed's gevent.sleep(1): parks this coroutine only.
            thread::sleep(delay);
        }
    }
}

fn main() {
    let mut sleep = false;
    let mut count = 5;
    let mut delay_ms = 100;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sleep" => sleep = true,
            "--count" => count = parse(args.next(), "--count"),
            "--delay-ms" => delay_ms = parse(args.next(), "--delay-ms"),
            other => {
                eprintln!("unknown argument {other:?}; use --sleep, --count N, --delay-ms MS");
                std::process::exit(2);
            }
        }
    }
    let delay = sleep.then(|| Duration::from_millis(u64::from(delay_ms)));
    // gevent shows each greenlet as `<Greenlet at 0x...: f(5)>`; the name
    // plays that part here.
    let spawn = || {
        thread::Builder::new()
            .name(format!("f({count})"))
            .spawn(move || f(count, delay))
            .expect("spawn a coroutine")
    };
    let g1 = spawn();
    let g2 = spawn();
    let g3 = spawn();
    g1.join().unwrap();
    g2.join().unwrap();
    g3.join().unwrap();
}

fn parse(value: Option<String>, flag: &str) -> u32 {
    value.and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        eprintln!("{flag} needs a number");
        std::process::exit(2);
    })
}
