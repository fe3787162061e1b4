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
//! One coroutine per connection, all on one OS thread.
//!
//! Run: `cargo run --example echo_server [-- --port 7788]` and talk to it
//! with `nc 127.0.0.1 7788`. With `--clients N` it also starts N client
//! coroutines that connect at once, check their echoes and hang up; the
//! server then reports and exits (`--quiet` stops the per-message lines).

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenstd::net::{SocketAddr, TcpListener, TcpStream};

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

fn server(listener: TcpListener, quiet: bool, max_connections: Option<usize>) {
    let mut served = 0;
    let mut handlers = Vec::new();
    while max_connections.is_none_or(|max| served < max) {
        let (cli, _addr) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        handlers.push(greenstd::spawn(move || handle_request(cli, quiet)));
        served += 1;
    }
    greenstd::joinall(&handlers, None);
}

/// N clients connect at once (all connections open together), then each
/// sends a message and checks the echo.
fn clients(addr: SocketAddr, count: usize) -> usize {
    let connected = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..count)
        .map(|i| {
            let connected = connected.clone();
            greenstd::spawn(move || -> std::io::Result<bool> {
                // Connect in small waves: a burst far beyond the listen
                // backlog (128) makes the kernel drop handshakes.
                greenstd::sleep(Duration::from_millis((i / 16) as u64));
                let mut stream = TcpStream::connect(addr)?;
                connected.fetch_add(1, Ordering::SeqCst);
                let start = Instant::now();
                while connected.load(Ordering::SeqCst) < count
                    && start.elapsed() < Duration::from_secs(30)
                {
                    greenstd::sleep(Duration::from_millis(10));
                }
                let message = format!("hello from client {i}");
                stream.write_all(message.as_bytes())?;
                let mut echo = vec![0; message.len()];
                stream.read_exact(&mut echo)?;
                Ok(echo == message.as_bytes())
            })
        })
        .collect();
    greenstd::joinall(&clients, None);
    clients
        .into_iter()
        .filter(|c| matches!(c.clone().get(), Ok(Ok(true))))
        .count()
}

fn main() {
    let mut port = 7788;
    let mut client_count = None;
    let mut quiet = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|v| v.parse().ok()).unwrap_or(port),
            "--clients" => client_count = args.next().and_then(|v| v.parse().ok()),
            "--quiet" => quiet = true,
            _ => {
                eprintln!("usage: echo_server [--port N] [--clients N] [--quiet]");
                std::process::exit(2);
            }
        }
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
    let server = greenstd::spawn(move || server(listener, quiet, Some(count)));
    let target = SocketAddr::from(([127, 0, 0, 1], addr.port()));
    let ok = clients(target, count);
    server.join();
    println!(
        "{ok}/{count} concurrent connections echoed correctly in {:.2?}, on one OS thread",
        start.elapsed()
    );
    if ok != count {
        std::process::exit(1);
    }
}
