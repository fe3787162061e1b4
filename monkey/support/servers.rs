// Real servers for greenstd-monkey's tests, benchmarks and example: each
// starts its own on a free loopback port, with persistence off, and kills
// it when dropped. Shared with `#[path]` modules (it is no part of the
// library).
#![allow(dead_code)]

use std::io;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `program` with `args(port)` on a free port; waits until it
/// accepts connections. A few tries: another process may take the port.
fn start(program: &str, args: impl Fn(u16) -> Vec<String>) -> io::Result<Server> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if !std::env::split_paths(&path).any(|d| d.join(program).is_file()) {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{program} is not installed: run ./scripts/test (the README's test \
                 command), which installs it, or apt-get install -y {program}"
            ),
        ));
    }
    for _ in 0..5 {
        let port = free_port()?;
        let child = Command::new(program)
            .args(args(port))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut server = Server { child, port };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            if server.child.try_wait().ok().flatten().is_some() {
                break; // lost the port to someone else: try another
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Err(io::Error::other(format!("{program} did not start")))
}

/// A `redis-server` on a free port, without persistence.
pub fn redis() -> io::Result<Server> {
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
pub fn memcached() -> io::Result<Server> {
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
