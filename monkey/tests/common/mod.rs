//! Real servers for the tests: each test starts its own on a free loopback
//! port, with persistence off, and stops it when done.
#![allow(dead_code)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(program: &str, args: impl Fn(u16) -> Vec<String>) -> Server {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|d| d.join(program).is_file());
    assert!(
        found,
        "{program} is not installed: run ./scripts/test (the README's test command), \
         which installs it, or apt-get install -y {}",
        if program == "redis-server" {
            "redis-server"
        } else {
            program
        }
    );
    for _ in 0..5 {
        let port = free_port();
        let child = Command::new(program)
            .args(args(port))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let mut server = Server { child, port };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            if server.child.try_wait().ok().flatten().is_some() {
                break; // lost the port to someone else: try another
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = server.child.kill();
    }
    panic!("{program} did not start");
}

/// A `redis-server` on a free port, without persistence.
pub fn redis() -> Server {
    start("redis-server", |port| {
        [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxclients",
            "4000",
        ]
        .map(String::from)
        .to_vec()
    })
}

/// A `memcached` on a free port (TCP only).
pub fn memcached() -> Server {
    start("memcached", |port| {
        let mut args: Vec<String> = [
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-c",
            "4096",
        ]
        .map(String::from)
        .to_vec();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            args.extend(["-u".to_string(), "root".to_string()]);
        }
        args
    })
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
