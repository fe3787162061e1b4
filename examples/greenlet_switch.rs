//! The seed's greenlet program: two greenlets hand control to each other
//! with explicit `switch()`.
//!
//! ```python
//! def test1():
//!     while True:
//!         print "---A--"
//!         gr2.switch()
//!         time.sleep(0.5)
//!
//! def test2():
//!     while True:
//!         print "---B--"
//!         gr1.switch()
//!         time.sleep(0.5)
//!
//! gr1 = greenlet(test1)
//! gr2 = greenlet(test2)
//! gr1.switch()
//! ```
//!
//! In the port `test1` stops after a number of rounds; its end switches
//! back to its parent, `main`, which then kills `test2` and exits.
//!
//! Run: `cargo run --example greenlet_switch [-- --rounds N] [--delay-ms MS]`

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use greenstd::{Greenlet, thread};

type Slot = Arc<OnceLock<Greenlet<()>>>;

fn main() {
    let mut rounds: u32 = 4;
    let mut delay_ms: u32 = 100;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--rounds", Some(v)) => rounds = v,
            ("--delay-ms", Some(v)) => delay_ms = v,
            _ => {
                eprintln!("usage: greenlet_switch [--rounds N] [--delay-ms MS]");
                std::process::exit(2);
            }
        }
    }
    let delay = Duration::from_millis(u64::from(delay_ms));

    // Each greenlet needs the other's handle, as the seed's globals do.
    let gr1_slot: Slot = Arc::default();
    let gr2_slot: Slot = Arc::default();

    let gr2 = gr2_slot.clone();
    let gr1 = Greenlet::with_name("test1", move || {
        for _ in 0..rounds {
            println!("---A--");
            gr2.get().expect("gr2 exists").switch();
            thread::sleep(delay);
        }
    });
    let gr1_handle = gr1_slot.clone();
    let gr2 = Greenlet::with_name("test2", move || {
        loop {
            println!("---B--");
            gr1_handle.get().expect("gr1 exists").switch();
            thread::sleep(delay);
        }
    });
    let _ = gr1_slot.set(gr1.clone());
    let _ = gr2_slot.set(gr2.clone());

    // Switch to gr1; control comes back here when test1 ends.
    gr1.switch();
    gr2.kill();
}
