//! Real servers for the tests: each test starts its own on a free loopback
//! port, with persistence off, and stops it when done.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[path = "../../support/servers.rs"]
mod servers;

pub use servers::Server;

/// A `redis-server` on a free port, without persistence.
pub fn redis() -> Server {
    servers::redis().unwrap_or_else(|e| panic!("{e}"))
}

/// A `memcached` on a free port (TCP only).
pub fn memcached() -> Server {
    servers::memcached().unwrap_or_else(|e| panic!("{e}"))
}

/// A coroutine that counts while the others wait; `stop` it to end it.
pub struct Ticker {
    pub ticks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handle: Option<greenstd::thread::JoinHandle<()>>,
}

impl Ticker {
    pub fn start() -> Ticker {
        let ticks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (ticks.clone(), stop.clone());
        let handle = greenstd::thread::spawn(move || {
            let start = Instant::now();
            while !s.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(120) {
                t.fetch_add(1, Ordering::SeqCst);
                greenstd::thread::sleep(Duration::from_millis(1));
            }
        });
        Ticker {
            ticks,
            stop,
            handle: Some(handle),
        }
    }

    /// Stops the ticker; how many times it ticked.
    pub fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
        self.ticks.load(Ordering::SeqCst)
    }
}
