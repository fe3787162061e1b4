//! The seed's first program: a generator `A` driven by a loop `B`.
//!
//! ```python
//! def A():
//!     while True:
//!         print("----A---")
//!         yield
//!         time.sleep(0.5)
//!
//! def B(c):
//!     while True:
//!         print("----B---")
//!         c.next()
//!         time.sleep(0.5)
//! ```
//!
//! The port runs a bounded number of rounds so that it ends on its own.
//!
//! Run: `cargo run --example generator_ab [-- --rounds N] [--delay-ms MS]`

use std::time::Duration;

use greenstd::generator::Generator;
use greenstd::thread;

fn a(delay: Duration) -> Generator<'static, ()> {
    Generator::new(move |co| {
        loop {
            println!("----A---");
            co.yield_(());
            thread::sleep(delay);
        }
    })
}

fn b(mut c: Generator<'static, ()>, rounds: u32, delay: Duration) {
    for _ in 0..rounds {
        println!("----B---");
        c.next();
        thread::sleep(delay);
    }
}

fn main() {
    let mut rounds = 6;
    let mut delay_ms = 100;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--rounds", Some(v)) => rounds = v,
            ("--delay-ms", Some(v)) => delay_ms = v,
            _ => {
                eprintln!("usage: generator_ab [--rounds N] [--delay-ms MS]");
                std::process::exit(2);
            }
        }
    }
    let delay = Duration::from_millis(u64::from(delay_ms));
    b(a(delay), rounds, delay);
}
