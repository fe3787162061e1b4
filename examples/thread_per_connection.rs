//! An ordinary thread-per-connection server, written against std's API.
//! The only greenstd-specific lines are the two `use` lines below: swap them
//! for the commented std ones and the same program runs on OS threads.
//!
//! Run: `cargo run --example thread_per_connection [-- --clients N]`
//! (without `--clients` it serves line-echo on 127.0.0.1:7878 until killed).

use greenstd::net::{SocketAddr, TcpListener, TcpStream};
use greenstd::thread;
// use std::net::{SocketAddr, TcpListener, TcpStream};
// use std::thread;

use std::io::{self, BufRead, BufReader, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Echoes lines back, upper-cased, until the client hangs up.
fn handle(stream: TcpStream) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    for line in BufReader::new(stream).lines() {
        writeln!(writer, "{}", line?.to_uppercase())?;
    }
    Ok(())
}

/// Accepts connections until `stop` is set (checked after each accept).
///
/// The handlers run in a scope, which waits for them at the end but keeps
/// nothing of those that finished, so a long-running server does not grow.
/// When `accept` fails for want of file descriptors, the loop backs off
/// (5 ms, doubling up to 1 s, as Go's net/http) instead of spinning.
fn serve(listener: TcpListener, stop: Arc<AtomicBool>) -> io::Result<()> {
    thread::scope(|s| {
        let mut backoff = Duration::ZERO;
        for stream in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            match stream {
                Ok(stream) => {
                    backoff = Duration::ZERO;
                    s.spawn(move || {
                        if let Err(e) = handle(stream) {
                            eprintln!("a connection failed: {e}");
                        }
                    });
                }
                Err(e) if out_of_descriptors(&e) => {
                    backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    eprintln!("accept failed: {e}; retrying in {backoff:?}");
                    thread::sleep(backoff);
                }
                // A connection reset before we took it, say: carry on.
                Err(e) => eprintln!("accept failed: {e}"),
            }
        }
    });
    Ok(())
}

/// `EMFILE` or `ENFILE`: the process or the system has no descriptor left.
fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// `count` clients, all connected at the same time, each checking one echo.
fn run_clients(addr: SocketAddr, count: usize) -> usize {
    let connected = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..count)
        .map(|i| {
            let connected = connected.clone();
            thread::spawn(move || -> io::Result<bool> {
                // Connect in small waves: a burst far beyond the listen
                // backlog (128) makes the kernel drop handshakes.
                thread::sleep(Duration::from_millis((i / 16) as u64));
                let stream = TcpStream::connect(addr)?;
                connected.fetch_add(1, Ordering::SeqCst);
                let start = Instant::now();
                while connected.load(Ordering::SeqCst) < count
                    && start.elapsed() < Duration::from_secs(30)
                {
                    thread::sleep(Duration::from_millis(10));
                }
                writeln!(&stream, "client {i}")?;
                let mut reply = String::new();
                BufReader::new(&stream).read_line(&mut reply)?;
                Ok(reply == format!("CLIENT {i}\n"))
            })
        })
        .collect();
    let mut ok = 0;
    for client in clients {
        match client.join().expect("client panicked") {
            Ok(true) => ok += 1,
            Ok(false) => eprintln!("a client got a wrong reply"),
            Err(e) => eprintln!("a client failed: {e}"),
        }
    }
    ok
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let clients = match (args.next().as_deref(), args.next()) {
        (Some("--clients"), Some(n)) => Some(n.parse::<usize>().unwrap_or(1000)),
        (None, _) => None,
        _ => {
            eprintln!("usage: thread_per_connection [--clients N]");
            std::process::exit(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let Some(count) = clients else {
        let listener = TcpListener::bind("127.0.0.1:7878")?;
        println!("serving on {}", listener.local_addr()?);
        return serve(listener, stop);
    };
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let start = Instant::now();
    // The clients run on a thread of their own; the server runs here, as
    // it does without --clients (with greenstd over several hubs, the
    // handlers a thread's own context spawns spread over them).
    let clients = {
        let stop = stop.clone();
        thread::spawn(move || {
            let ok = run_clients(addr, count);
            // Stop the server: set the flag, then wake its accept with a
            // connection.
            stop.store(true, Ordering::SeqCst);
            drop(TcpStream::connect(addr));
            ok
        })
    };
    serve(listener, stop)?;
    let ok = clients.join().expect("the clients panicked");
    println!(
        "{ok}/{count} concurrent clients served in {:.2?}",
        start.elapsed()
    );
    if ok != count {
        std::process::exit(1);
    }
    Ok(())
}
