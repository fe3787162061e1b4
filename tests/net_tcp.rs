//! `greenstd::net` TCP: blocking calls outside and inside coroutines (shown
//! to yield), timeouts, errors, and reliability under load.

mod common;

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{PATIENCE, is_child, open_fds, run_child};
use greenstd::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use greenstd::thread;

fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// A bound-then-closed port: connecting to it is refused.
fn closed_port() -> SocketAddr {
    let (l, addr) = listener();
    drop(l);
    addr
}

fn echo_once(l: &TcpListener) -> io::Result<()> {
    let (mut s, _) = l.accept()?;
    let mut buf = [0; 1024];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n])?;
    }
}

#[test]
fn echo_outside_any_coroutine() {
    let (l, addr) = listener();
    let server = std::thread::spawn(move || echo_once(&l));
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"plain thread").unwrap();
    let mut buf = [0; 12];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"plain thread");
    drop(s);
    server.join().unwrap().unwrap();
}

#[test]
fn read_inside_a_coroutine_yields() {
    let (l, addr) = listener();
    let ticks = Arc::new(AtomicUsize::new(0));
    let server = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0; 4];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    let t = ticks.clone();
    let client = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        for _ in 0..5 {
            t.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(2));
        }
        s.write_all(b"ping").unwrap();
        s
    });
    let before = ticks.load(Ordering::SeqCst);
    assert_eq!(&server.join().unwrap(), b"ping");
    assert!(ticks.load(Ordering::SeqCst) > before);
    drop(client.join().unwrap());
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let addr = closed_port();
    let e = TcpStream::connect(addr).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    let inside = thread::spawn(move || TcpStream::connect(addr).unwrap_err().kind());
    assert_eq!(inside.join().unwrap(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn bind_to_an_address_in_use_fails() {
    let (_l, addr) = listener();
    let e = TcpListener::bind(addr).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
}

#[test]
fn connect_with_no_addresses_is_invalid_input() {
    let none: &[SocketAddr] = &[];
    let e = TcpStream::connect(none).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn read_timeout_fails_with_would_block() {
    let (l, addr) = listener();
    let _server = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        thread::sleep(Duration::from_millis(200));
        drop(s);
    });
    let inside = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let start = Instant::now();
        let e = s.read(&mut [0; 8]).unwrap_err();
        (e.kind(), start.elapsed() >= Duration::from_millis(20))
    });
    assert_eq!(inside.join().unwrap(), (io::ErrorKind::WouldBlock, true));
}

#[test]
fn zero_timeouts_are_rejected_as_std() {
    let (_l, addr) = listener();
    let s = TcpStream::connect(addr).unwrap();
    let e = s.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let e = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(s.read_timeout().unwrap(), None);
}

#[test]
fn connect_timeout_connects() {
    let (_l, addr) = listener();
    let s = TcpStream::connect_timeout(&addr, PATIENCE).unwrap();
    assert_eq!(s.peer_addr().unwrap(), addr);
}

#[test]
fn nonblocking_mode_returns_would_block() {
    let (l, addr) = listener();
    l.set_nonblocking(true).unwrap();
    assert_eq!(l.accept().unwrap_err().kind(), io::ErrorKind::WouldBlock);
    let s = TcpStream::connect(addr).unwrap();
    s.set_nonblocking(true).unwrap();
    assert_eq!(
        (&s).read(&mut [0; 4]).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
}

#[test]
fn peek_leaves_the_data() {
    let (l, addr) = listener();
    let client = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"abc").unwrap();
        s
    });
    let (mut s, _) = l.accept().unwrap();
    let mut buf = [0; 3];
    assert_eq!(s.peek(&mut buf).unwrap(), 3);
    assert_eq!(&buf, b"abc");
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"abc");
    drop(client.join().unwrap());
}

#[test]
fn half_close_and_read_after_peer_close() {
    let (l, addr) = listener();
    let server = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap(); // ends at the client's shutdown(Write)
        s.write_all(&all).unwrap();
    });
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"half").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"half");
    server.join().unwrap();
    assert_eq!(s.read(&mut [0; 4]).unwrap(), 0);
}

#[test]
fn write_after_peer_reset_fails() {
    let (l, addr) = listener();
    let server = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        drop(s);
    });
    let mut s = TcpStream::connect(addr).unwrap();
    server.join().unwrap();
    thread::sleep(Duration::from_millis(20));
    let mut failed = None;
    for _ in 0..100 {
        if let Err(e) = s.write_all(&[0; 1024]) {
            failed = Some(e.kind());
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    let kind = failed.expect("writes to a closed peer must fail");
    assert!(
        matches!(
            kind,
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "{kind:?}"
    );
}

#[test]
fn ipv6_loopback() {
    let Ok(l) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    let addr = l.local_addr().unwrap();
    let client = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"v6").unwrap();
    });
    let (mut s, peer) = l.accept().unwrap();
    assert!(peer.is_ipv6());
    let mut buf = [0; 2];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"v6");
    client.join().unwrap();
}

#[test]
fn hostnames_resolve_without_blocking_the_hub() {
    let (l, addr) = listener();
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t, st) = (ticks.clone(), stop.clone());
    let ticker = thread::spawn(move || {
        while !st.load(Ordering::SeqCst) {
            t.fetch_add(1, Ordering::SeqCst);
            thread::yield_now();
        }
    });
    let client = thread::spawn(move || TcpStream::connect(("localhost", addr.port())));
    let accepted = l.accept();
    let s = client.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    ticker.join().unwrap();
    // localhost may resolve to ::1 first, where nothing listens; std tries
    // every address, and so do we.
    assert!(s.is_ok() && accepted.is_ok());
}

#[test]
fn large_transfer_verified_byte_for_byte() {
    const SIZE: usize = 8 * 1024 * 1024;
    let (l, addr) = listener();
    let data: Arc<Vec<u8>> = Arc::new((0..SIZE).map(|i| (i * 31 % 251) as u8).collect());
    let d = data.clone();
    let sender = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(&d).unwrap();
    });
    let receiver = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut got = Vec::with_capacity(SIZE);
        s.read_to_end(&mut got).unwrap();
        got
    });
    sender.join().unwrap();
    let got = receiver.join().unwrap();
    assert_eq!(got.len(), SIZE);
    assert!(got == *data);
}

#[test]
fn slow_reader_makes_writes_wait_without_losing_data() {
    const SIZE: usize = 4 * 1024 * 1024;
    let (l, addr) = listener();
    let writer = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 256) as u8).collect();
        for _ in 0..SIZE / chunk.len() {
            s.write_all(&chunk).unwrap();
        }
    });
    let reader = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut buf = vec![0; 16 * 1024];
        let mut total = 0;
        let mut position = 0usize;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                return total;
            }
            for &b in &buf[..n] {
                assert_eq!(b, (position % (64 * 1024) % 256) as u8);
                position += 1;
            }
            total += n;
            thread::sleep(Duration::from_micros(200)); // slow
        }
    });
    writer.join().unwrap();
    assert_eq!(reader.join().unwrap(), SIZE);
}

#[test]
fn try_clone_shares_the_socket_between_a_reader_and_a_writer() {
    let (l, addr) = listener();
    let server = thread::spawn(move || echo_once(&l));
    let s = TcpStream::connect(addr).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = thread::spawn(move || {
        for i in 0..100u8 {
            w.write_all(&[i; 10]).unwrap();
        }
        w.shutdown(Shutdown::Write).unwrap();
    });
    let reader = thread::spawn(move || {
        let mut s = s;
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all
    });
    writer.join().unwrap();
    let all = reader.join().unwrap();
    server.join().unwrap().unwrap();
    assert_eq!(all.len(), 1000);
    assert!(
        all.chunks(10)
            .enumerate()
            .all(|(i, c)| c.iter().all(|&b| b == i as u8))
    );
}

#[test]
fn a_socket_moves_to_another_os_thread() {
    let (l, addr) = listener();
    let server = thread::spawn(move || echo_once(&l));
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"a").unwrap();
    let mut b = [0; 1];
    s.read_exact(&mut b).unwrap();
    let other = std::thread::spawn(move || {
        thread::spawn(move || {
            s.write_all(b"b").unwrap();
            s.read_exact(&mut b).unwrap();
            b
        })
        .join()
        .unwrap()
    });
    let keep_hub = thread::spawn(move || {
        while !other.is_finished() {
            thread::sleep(Duration::from_millis(1));
        }
        other.join().unwrap()
    });
    assert_eq!(&keep_hub.join().unwrap(), b"b");
    server.join().unwrap().unwrap();
}

#[test]
fn thousand_concurrent_echo_connections_on_one_hub() {
    const N: usize = 1000;
    let (l, addr) = listener();
    let server = thread::spawn(move || {
        let mut handlers = Vec::new();
        for _ in 0..N {
            let (mut s, _) = l.accept().unwrap();
            handlers.push(thread::spawn(move || {
                let mut buf = [0; 256];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => s.write_all(&buf[..n]).unwrap(),
                    }
                }
            }));
        }
        for h in handlers {
            h.join().unwrap();
        }
    });
    let connected = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..N)
        .map(|i| {
            let connected = connected.clone();
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                connected.fetch_add(1, Ordering::SeqCst);
                let start = Instant::now();
                while connected.load(Ordering::SeqCst) < N && start.elapsed() < PATIENCE {
                    thread::sleep(Duration::from_millis(10));
                }
                for round in 0..3u32 {
                    let msg = format!("client {i} round {round}");
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut back = vec![0; msg.len()];
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg.as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
    assert_eq!(connected.load(Ordering::SeqCst), N);
}

#[test]
fn peer_reset_mid_transfer_is_an_error_not_a_hang() {
    let (l, addr) = listener();
    let server = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        // SO_LINGER 0 makes close send a reset.
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        thread::sleep(Duration::from_millis(20));
        drop(s);
    });
    let reader = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut buf = [0; 64];
        s.read(&mut buf).map_err(|e| e.kind())
    });
    server.join().unwrap();
    let r = reader.join().unwrap();
    assert!(
        matches!(r, Err(io::ErrorKind::ConnectionReset) | Ok(0)),
        "{r:?}"
    );
}

#[test]
fn killing_a_reader_releases_its_registration_and_no_fd_leaks() {
    // Counting fds needs a process of its own: other tests open sockets.
    if !is_child() {
        let (ok, stderr) = run_child("killing_a_reader_releases_its_registration_and_no_fd_leaks");
        assert!(ok, "{stderr}");
        return;
    }
    // The hub's own poller and waker (two fds) exist before we count.
    thread::spawn(|| ()).join().unwrap();
    let before = open_fds();
    for _ in 0..20 {
        let (l, addr) = listener();
        let server = thread::spawn(move || l.accept().map(|(s, _)| s));
        let reader = greenstd::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let _ = s.read(&mut [0; 8]); // blocks until killed
        });
        let conn = server.join().unwrap().unwrap();
        thread::sleep(Duration::from_millis(2));
        reader.kill();
        assert!(reader.get().unwrap_err().is::<greenstd::Killed>());
        drop(conn);
    }
    assert!(
        open_fds() <= before,
        "fds before {before}, after {}",
        open_fds()
    );
}

#[test]
fn conversions_to_and_from_std_keep_the_mode() {
    let (l, addr) = listener();
    let s = TcpStream::connect(addr).unwrap();
    let std_stream: std::net::TcpStream = s.into();
    // Back in blocking mode for std: a read with a timeout times out.
    std_stream
        .set_read_timeout(Some(Duration::from_millis(5)))
        .unwrap();
    let e = (&std_stream).read(&mut [0; 1]).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    let back = TcpStream::from(std_stream);
    let (mut peer, _) = l.accept().unwrap();
    peer.write_all(b"x").unwrap();
    let mut buf = [0; 1];
    (&back).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"x");
    assert!(format!("{back:?}").starts_with("TcpStream"));
}

/// Regression: data and the peer's FIN reported by one event made a short
/// read look like a drained socket, and the next read waited forever for
/// an event that had already come instead of returning 0.
#[test]
fn eof_arriving_with_the_data_is_seen_after_a_short_read() {
    let (l, addr) = listener();
    let server = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut reads = Vec::new();
        let mut buf = [0; 1024];
        loop {
            let n = s.read(&mut buf).unwrap();
            reads.push(n);
            if n == 0 {
                return reads;
            }
        }
    });
    let client = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&[7; 50]).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        s
    });
    let _s = client.join().unwrap();
    assert_eq!(server.join().unwrap(), [50, 0]);
}

/// Each socket that waited used to hold its own copy of the hub's epoll fd
/// (`Registry::try_clone` per registration), so 10,000 connections needed
/// 20,000 descriptors and a `read` could fail with `EMFILE`. Now a waiting
/// connection costs one descriptor, as with std.
#[test]
fn each_waiting_socket_held_a_second_descriptor() {
    const N: usize = 200;
    if !is_child() {
        // Alone in a process: other tests open descriptors meanwhile.
        let (ok, stderr) = run_child("each_waiting_socket_held_a_second_descriptor");
        assert!(ok, "{stderr}");
        return;
    }
    thread::spawn(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Warm up: the hub, its poll and waker exist before counting.
        thread::spawn(|| thread::sleep(Duration::from_millis(1)))
            .join()
            .unwrap();
        let before = open_fds();
        let clients: Vec<TcpStream> = (0..N).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let readers: Vec<_> = (0..N)
            .map(|_| {
                let (mut s, _) = listener.accept().unwrap();
                thread::spawn(move || {
                    let mut buf = [0u8; 1];
                    s.read(&mut buf).unwrap()
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(20)); // every reader parks on its socket
        let during = open_fds();
        assert!(
            during - before <= 2 * N + 4,
            "{} descriptors for {N} connections",
            during - before
        );
        drop(clients); // each reader sees the end of the stream
        for r in readers {
            assert_eq!(r.join().unwrap(), 0);
        }
    })
    .join()
    .unwrap();
}
