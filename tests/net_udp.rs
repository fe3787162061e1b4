//! `greenstd::net::UdpSocket`.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use greenstd::net::UdpSocket;
use greenstd::thread;

fn socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

#[test]
fn send_to_and_recv_from() {
    let (a, b) = (socket(), socket());
    a.send_to(b"hi", b.local_addr().unwrap()).unwrap();
    let mut buf = [0; 8];
    let (n, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
}

#[test]
fn recv_inside_a_coroutine_yields() {
    let (a, b) = (socket(), socket());
    let b_addr = b.local_addr().unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let receiver = spawn_here(move || {
        let before = t.load(Ordering::SeqCst);
        let mut buf = [0; 8];
        let n = b.recv(&mut buf).unwrap();
        (n, t.load(Ordering::SeqCst) - before)
    });
    let t = ticks.clone();
    let sender = spawn_here(move || {
        for _ in 0..3 {
            t.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(2));
        }
        a.send_to(b"late", b_addr).unwrap();
    });
    sender.join().unwrap();
    let (n, progressed) = receiver.join().unwrap();
    assert_eq!(n, 4);
    assert!(progressed >= 3);
}

#[test]
fn connected_send_recv_peek() {
    let (a, b) = (socket(), socket());
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    a.send(b"xyz").unwrap();
    let mut buf = [0; 8];
    assert_eq!(b.peek(&mut buf).unwrap(), 3);
    assert_eq!(b.recv(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"xyz");
}

#[test]
fn read_timeout_and_nonblocking_kinds() {
    let s = socket();
    s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let inside = thread::spawn(move || {
        let e = s.recv_from(&mut [0; 4]).unwrap_err().kind();
        s.set_nonblocking(true).unwrap();
        (e, s.recv(&mut [0; 4]).unwrap_err().kind())
    });
    assert_eq!(
        inside.join().unwrap(),
        (io::ErrorKind::WouldBlock, io::ErrorKind::WouldBlock)
    );
}

#[test]
fn unconnected_peer_addr_and_options() {
    let s = socket();
    assert_eq!(
        s.peer_addr().unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
    s.set_broadcast(true).unwrap();
    assert!(s.broadcast().unwrap());
    s.set_ttl(42).unwrap();
    assert_eq!(s.ttl().unwrap(), 42);
    assert!(s.take_error().unwrap().is_none());
    let clone = s.try_clone().unwrap();
    assert_eq!(clone.local_addr().unwrap(), s.local_addr().unwrap());
}

#[test]
fn bind_in_use_fails() {
    let s = socket();
    let e = UdpSocket::bind(s.local_addr().unwrap()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
}

/// Spawns on this thread's own hub whatever the hub count: the test shows
/// one hub running others while a coroutine waits.
fn spawn_here<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> thread::JoinHandle<T> {
    thread::Builder::new()
        .placement(greenstd::Placement::ThisThread)
        .spawn(f)
        .unwrap()
}
