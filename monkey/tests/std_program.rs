//! An unmodified std-only program (std's `TcpListener`, `TcpStream` and
//! `thread::sleep`; no greenstd import inside it) run in greenstd
//! coroutines: an echo server and 1,000 clients on one OS thread, all
//! connected at once, every byte verified.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// The std program's server: one "thread" per connection.
fn serve(listener: TcpListener, connections: usize) {
    for _ in 0..connections {
        let (mut stream, _) = listener.accept().unwrap();
        spawn_thread(move || {
            let mut buf = [0u8; 4096];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => stream
                        .write_all(&buf[..n])
                        .unwrap_or_else(|e| panic!("server: write: {e}")),
                    Err(e) => panic!("server: read: {e}"),
                }
            }
        });
    }
}

/// The std program's client: waits a little (std's sleep), sends its
/// bytes, reads them back.
fn client(addr: SocketAddr, i: usize) -> bool {
    std::thread::sleep(Duration::from_millis((i % 50) as u64));
    let mut stream =
        TcpStream::connect(addr).unwrap_or_else(|e| panic!("client {i}: connect: {e}"));
    let message: Vec<u8> = (0..2048).map(|k| (i * 7 + k) as u8).collect();
    stream
        .write_all(&message)
        .unwrap_or_else(|e| panic!("client {i}: write: {e}"));
    let mut echo = vec![0u8; message.len()];
    stream
        .read_exact(&mut echo)
        .unwrap_or_else(|e| panic!("client {i}: read: {e}"));
    echo == message
}

/// Where the std program says `std::thread::spawn`, the test starts a
/// greenstd coroutine instead: the program itself is unchanged.
fn spawn_thread<F: FnOnce() + Send + 'static>(f: F) {
    drop(greenstd::thread::spawn(f));
}

#[test]
fn an_unmodified_std_echo_server_serves_a_thousand_clients_on_one_thread() {
    // About one thread's hub: one hub, whatever GREENSTD_HUBS says.
    greenstd::set_hubs(1).unwrap();
    greenstd_monkey::patch_all().unwrap();
    const CLIENTS: usize = 1000;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let os_thread = std::thread::current().id();
    let server = greenstd::thread::spawn(move || serve(listener, CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            greenstd::thread::spawn(move || {
                assert_eq!(std::thread::current().id(), os_thread);
                client(addr, i)
            })
        })
        .collect();
    let ok = clients
        .into_iter()
        .map(|c| c.join().unwrap())
        .filter(|&echoed| echoed)
        .count();
    server.join().unwrap();
    assert_eq!(ok, CLIENTS);
}
