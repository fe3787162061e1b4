//! The seed's single-process gevent TCP server, ported.
//!
//! ```python
//! def handle_request(conn):
//!     while True:
//!         data = conn.recv(1024)
//!         if not data:
//!             conn.close()
//!             break
//!         print("recv:", data)
//!         conn.send(data)
//!
//! def server(port):
//!     s = socket.socket()
//!     s.bind(('', port))
//!     s.listen(5)
//!     while True:
//!         cli, addr = s.accept()
//!         gevent.spawn(handle_request, cli)
//!
//! server(7788)
//! ```
//!
//! One coroutine per connection, all on one OS thread by default; with
//! `GREENSTD_HUBS=2` (or `auto`) the handlers spread over that many hub
//! threads, with no change to the code. The server keeps
//! no handle of finished connections (a `Group` counts them instead), and
//! backs off when `accept` fails for want of file descriptors (`EMFILE`,
//! `ENFILE`) instead of spinning: copy it, it is meant to be copied.
//!
//! Run: `cargo run --example echo_server [-- --port 7788]` and talk to it
//! with `nc 127.0.0.1 7788`. With `--clients N` it also starts N client
//! coroutines that connect at once (all N connections open together),
//! send 1 KiB each, verify every byte of the echo and hang up; the server
//! then reports and exits (`--quiet` stops the per-message lines). With
//! `--client-process` those clients run in a second process (this same
//! program, started with `--connect ADDR`), so that the server's process
//! holds only its own end of each connection: `--clients 10000
//! --client-process` shows 10,000 concurrent connections on one hub within
//! a 20,000 file-descriptor limit.

use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenstd::net::{SocketAddr, TcpListener, TcpStream};

/// How many bytes each client sends and checks.
const MESSAGE_LEN: usize = 1024;

fn handle_request(mut conn: TcpStream, quiet: bool) {
    let mut data = [0u8; 1024];
    loop {
        let n = match conn.read(&mut data) {
            Ok(0) | Err(_) => break, // the peer closed: drop (close) the socket
            Ok(n) => n,
        };
        if !quiet {
            println!("recv: {:?}", String::from_utf8_lossy(&data[..n]));
        }
        if conn.write_all(&data[..n]).is_err() {
            break;
        }
    }
}

/// Whether an `accept` error means the process or system ran out of file
/// descriptors (or memory for sockets): retrying at once would spin.
fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

fn server(listener: TcpListener, quiet: bool, max_connections: Option<usize>) {
    // Counts the handlers without keeping their handles.
    let handlers = greenstd::Pool::group();
    let mut served = 0;
    // As Go's net/http: wait 5 ms after the first such failure, doubling up
    // to 1 s, while connections in progress finish and free descriptors.
    let mut backoff = Duration::ZERO;
    while max_connections.is_none_or(|max| served < max) {
        let (cli, _addr) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) if is_resource_exhaustion(&e) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                eprintln!("accept failed: {e}; retrying in {backoff:?}");
                greenstd::sleep(backoff);
                continue;
            }
            Err(e) => {
                // A connection that was reset before we took it, say.
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        backoff = Duration::ZERO;
        drop(handlers.spawn(move || handle_request(cli, quiet)));
        served += 1;
    }
    handlers.join();
}

/// The bytes client `i` sends: different for every client.
fn message(i: usize) -> Vec<u8> {
    (0..MESSAGE_LEN)
        .map(|k| (i.wrapping_mul(31) ^ k.wrapping_mul(7)) as u8)
        .collect()
}

/// N clients connect at once (all connections open together), then each
/// sends its message and checks every byte of the echo. Returns how many
/// got their message back intact.
fn clients(addr: SocketAddr, count: usize) -> usize {
    let connected = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..count)
        .map(|i| {
            let connected = connected.clone();
            greenstd::spawn(move || -> io::Result<bool> {
                // Connect in small waves: a burst far beyond the listen
                // backlog makes the kernel drop handshakes.
                greenstd::sleep(Duration::from_millis((i / 16) as u64));
                let mut stream = TcpStream::connect(addr)?;
                connected.fetch_add(1, Ordering::SeqCst);
                let start = Instant::now();
                while connected.load(Ordering::SeqCst) < count
                    && start.elapsed() < Duration::from_secs(60)
                {
                    greenstd::sleep(Duration::from_millis(10));
                }
                let message = message(i);
                stream.write_all(&message)?;
                let mut echo = vec![0; message.len()];
                stream.read_exact(&mut echo)?;
                Ok(echo == message)
            })
        })
        .collect();
    greenstd::joinall(&clients, None);
    let ok = clients
        .into_iter()
        .filter(|c| matches!(c.clone().get(), Ok(Ok(true))))
        .count();
    let peak = connected.load(Ordering::SeqCst);
    eprintln!("clients: {peak} connected, {ok} echoes verified");
    ok
}

/// Runs the clients in a child process (this program with `--connect`);
/// returns how many echoes it verified.
fn clients_in_a_child(addr: SocketAddr, count: usize) -> usize {
    let exe = std::env::current_exe().expect("the path of this program");
    let child = Command::new(exe)
        .args([
            "--connect",
            &addr.to_string(),
            "--clients",
            &count.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn();
    let output = match child.and_then(|c| c.wait_with_output()) {
        Ok(output) => output,
        Err(e) => {
            eprintln!("cannot run the client process: {e}");
            return 0;
        }
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("verified ")?.parse().ok())
        .unwrap_or(0)
}

/// Raises this process's soft limit on open files to its hard limit, as a
/// load generator should (the server keeps whatever limit it was given).
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit to fill and then to pass back.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: echo_server [--port N] [--clients N [--client-process]] [--quiet]\n       \
         echo_server --connect ADDR --clients N"
    );
    std::process::exit(2);
}

fn main() {
    let mut port = 7788;
    let mut client_count = None;
    let mut quiet = false;
    let mut client_process = false;
    let mut connect: Option<SocketAddr> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--clients" => client_count = args.next().and_then(|v| v.parse().ok()),
            "--quiet" => quiet = true,
            "--client-process" => client_process = true,
            "--connect" => connect = args.next().and_then(|v| v.parse().ok()),
            _ => usage(),
        }
    }
    if let Some(addr) = connect {
        // The client side of --client-process.
        let count = client_count.unwrap_or_else(|| usage());
        raise_fd_limit();
        println!("verified {}", clients(addr, count));
        return;
    }
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on port {port}: {e}");
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    println!("echo server listening on {addr}");
    let Some(count) = client_count else {
        server(listener, quiet, None);
        return;
    };
    let start = Instant::now();
    let target = SocketAddr::from(([127, 0, 0, 1], addr.port()));
    // The clients start first, as coroutines; the server then runs here, in
    // the thread's own context, as it does without --clients: with several
    // hubs (GREENSTD_HUBS), its handlers then spread over them.
    let clients = greenstd::thread::spawn(move || {
        if client_process {
            // A pool thread waits for the child process.
            greenstd::spawn_blocking(move || clients_in_a_child(target, count))
        } else {
            clients(target, count)
        }
    });
    server(listener, quiet, Some(count));
    let ok = clients.join().expect("the clients panicked");
    let where_ = if client_process {
        "clients in another process"
    } else {
        "clients in this process"
    };
    let hubs = greenstd::hubs();
    let on = if hubs == 1 {
        "on one OS thread".to_string()
    } else {
        format!("over {hubs} hubs (GREENSTD_HUBS)")
    };
    println!(
        "{ok}/{count} concurrent connections echoed {MESSAGE_LEN} bytes each intact in {:.2?}, \
         {on} ({where_})",
        start.elapsed()
    );
    if ok != count {
        std::process::exit(1);
    }
}
