//! `net` cases: each runs against std and greenstd, on a plain thread and
//! inside a coroutine; any difference from std fails.

use std::io::{Read, Write};
use std::time::Duration;

use compat_tests::{case, kind, returned};

case!(connect_to_a_closed_port, |net| {
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    returned(kind(net::TcpStream::connect(addr)).map(|_| ()))
});

case!(bind_to_an_address_in_use, |net| {
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let again = net::TcpListener::bind(l.local_addr().unwrap());
    returned(kind(again).map(|_| ()))
});

case!(connect_to_no_address, |net| {
    let none: &[net::SocketAddr] = &[];
    returned(kind(net::TcpStream::connect(none)).map(|_| ()))
});

case!(unparsable_address, |net| {
    returned(kind(net::TcpStream::connect("not an address")).map(|_| ()))
});

case!(echo_and_read_after_peer_close, |net, thread| {
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    let mut s = net::TcpStream::connect(addr).unwrap();
    s.write_all(b"hello").unwrap();
    let mut back = [0; 5];
    s.read_exact(&mut back).unwrap();
    server.join().unwrap();
    let after_close = kind(s.read(&mut [0; 4]));
    returned((back, after_close))
});

case!(half_close, |net, thread| {
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        s.write_all(&all).unwrap();
        all.len()
    });
    let mut s = net::TcpStream::connect(addr).unwrap();
    s.write_all(b"0123456789").unwrap();
    s.shutdown(net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    returned((server.join().unwrap(), back))
});

case!(read_timeout_kind, |net, thread| {
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        thread::sleep(Duration::from_millis(100));
        drop(s);
    });
    let mut s = net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let r = kind(s.read(&mut [0; 1]));
    let t = s.read_timeout().unwrap();
    server.join().unwrap();
    returned((r, t))
});

case!(zero_timeouts_are_invalid, |net| {
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let s = net::TcpStream::connect(addr).unwrap();
    returned((
        kind(s.set_read_timeout(Some(Duration::ZERO))),
        kind(s.set_write_timeout(Some(Duration::ZERO))),
        kind(net::TcpStream::connect_timeout(&addr, Duration::ZERO)).map(|_| ()),
    ))
});

case!(peek_then_read, |net, thread| {
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let client = thread::spawn(move || {
        let mut s = net::TcpStream::connect(addr).unwrap();
        s.write_all(b"peek").unwrap();
        thread::sleep(Duration::from_millis(50));
    });
    let (s, _) = l.accept().unwrap();
    let mut buf = [0; 4];
    let mut n = 0;
    while n < 4 {
        n = s.peek(&mut buf).unwrap();
    }
    let mut again = [0; 4];
    (&s).read_exact(&mut again).unwrap();
    client.join().unwrap();
    returned((buf, again))
});

case!(nonblocking_mode, |net| {
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let accept = kind(l.accept()).map(|_| ());
    let s = net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    s.set_nonblocking(true).unwrap();
    let read = kind((&s).read(&mut [0; 4]));
    returned((accept, read))
});

case!(socket_options, |net| {
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let s = net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_ttl(33).unwrap();
    l.set_ttl(34).unwrap();
    returned((
        s.nodelay().unwrap(),
        s.ttl().unwrap(),
        l.ttl().unwrap(),
        s.take_error().unwrap().is_none(),
        l.take_error().unwrap().is_none(),
        s.peer_addr().unwrap() == l.local_addr().unwrap(),
    ))
});

case!(ipv6_loopback, |net, thread| {
    let Ok(l) = net::TcpListener::bind("[::1]:0") else {
        return returned("no IPv6");
    };
    let addr = l.local_addr().unwrap();
    let c = thread::spawn(move || net::TcpStream::connect(addr).map(|s| s.peer_addr().is_ok()));
    let (_s, peer) = l.accept().unwrap();
    returned((peer.is_ipv6(), c.join().unwrap().unwrap()))
});

case!(large_transfer, |net, thread| {
    const SIZE: usize = 3 * 1024 * 1024;
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let sender = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let data: Vec<u8> = (0..SIZE).map(|i| (i % 253) as u8).collect();
        s.write_all(&data).unwrap();
    });
    let mut s = net::TcpStream::connect(addr).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    sender.join().unwrap();
    let ok = got.iter().enumerate().all(|(i, &b)| b == (i % 253) as u8);
    returned((got.len(), ok))
});

case!(many_concurrent_connections, |net, thread| {
    const N: usize = 50;
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = thread::spawn(move || {
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let (mut s, _) = l.accept().unwrap();
                thread::spawn(move || {
                    let mut b = [0; 1];
                    s.read_exact(&mut b).unwrap();
                    s.write_all(&[b[0] + 1]).unwrap();
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    let clients: Vec<_> = (0..N as u8)
        .map(|i| {
            thread::spawn(move || {
                let mut s = net::TcpStream::connect(addr).unwrap();
                s.write_all(&[i]).unwrap();
                let mut b = [0; 1];
                s.read_exact(&mut b).unwrap();
                b[0] == i + 1
            })
        })
        .collect();
    let ok = clients.into_iter().all(|c| c.join().unwrap());
    server.join().unwrap();
    returned(ok)
});

case!(udp_round_trip_and_errors, |net| {
    let a = net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.send_to(b"dgram", b.local_addr().unwrap()).unwrap();
    let mut buf = [0; 16];
    let (n, from) = b.peek_from(&mut buf).unwrap();
    let (m, _) = b.recv_from(&mut buf).unwrap();
    b.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let timed_out = kind(b.recv_from(&mut buf)).map(|_| ());
    let not_connected = kind(a.peer_addr());
    let in_use = kind(net::UdpSocket::bind(a.local_addr().unwrap())).map(|_| ());
    let none: &[net::SocketAddr] = &[];
    let no_target = kind(a.send_to(b"x", none));
    returned((
        n,
        m,
        from == a.local_addr().unwrap(),
        timed_out,
        not_connected,
        in_use,
        no_target,
    ))
});

case!(udp_connected, |net| {
    let a = net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    a.send(b"c").unwrap();
    let mut buf = [0; 4];
    let n = b.recv(&mut buf).unwrap();
    a.set_nonblocking(true).unwrap();
    returned((
        n,
        kind(a.recv(&mut buf)),
        a.peer_addr().unwrap() == b.local_addr().unwrap(),
    ))
});

case!(debug_output_shape, |net| {
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let s = net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let u = net::UdpSocket::bind("127.0.0.1:0").unwrap();
    returned((
        format!("{l:?}").starts_with("TcpListener { addr: 127.0.0.1:"),
        format!("{s:?}").starts_with("TcpStream { addr: 127.0.0.1:"),
        format!("{u:?}").starts_with("UdpSocket { addr: 127.0.0.1:"),
    ))
});

/// A fresh socket path for a case (each run gets its own).
fn unix_path(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("greenstd-compat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!(
        "{tag}-{}.sock",
        NEXT.fetch_add(1, Ordering::SeqCst)
    ))
}

#[test]
fn unix_stream_cases() {
    fn with_std() -> compat_tests::Outcome {
        use std::os::unix::net::{UnixListener, UnixStream};
        unix_body!(UnixListener, UnixStream, std::thread)
    }
    fn with_greenstd() -> compat_tests::Outcome {
        use greenstd::os::unix::net::{UnixListener, UnixStream};
        unix_body!(UnixListener, UnixStream, greenstd::thread)
    }
    compat_tests::check("unix_stream_cases", with_std, with_greenstd);
}

macro_rules! unix_body {
    ($listener:ident, $stream:ident, $thread:path) => {{
        use $thread as thread;
        let path = unix_path("stream");
        let missing = kind($stream::connect(unix_path("missing"))).map(|_| ());
        let l = $listener::bind(&path).unwrap();
        let in_use = kind($listener::bind(&path)).map(|_| ());
        let p = path.clone();
        let client = thread::spawn(move || {
            let mut s = $stream::connect(p).unwrap();
            s.write_all(b"abc").unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let mut back = Vec::new();
            s.read_to_end(&mut back).unwrap();
            back
        });
        let (mut s, _) = l.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(&got).unwrap();
        drop(s);
        let back = client.join().unwrap();
        let (a, _b) = $stream::pair().unwrap();
        a.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let timed_out = kind((&a).read(&mut [0; 1]));
        let zero = kind(a.set_read_timeout(Some(Duration::ZERO)));
        a.set_nonblocking(true).unwrap();
        let nonblocking = kind((&a).read(&mut [0; 1]));
        std::fs::remove_file(&path).unwrap();
        returned((missing, in_use, back, timed_out, zero, nonblocking))
    }};
}
use unix_body;

case!(write_after_peer_reset_fails, |net, thread| {
    let l = net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = thread::spawn(move || drop(l.accept().unwrap()));
    let mut s = net::TcpStream::connect(addr).unwrap();
    server.join().unwrap();
    thread::sleep(Duration::from_millis(20));
    let mut failure = None;
    for _ in 0..200 {
        if let Err(e) = s.write_all(&[0; 1024]) {
            failure = Some(e.kind());
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    // Which of the two the first failing write reports depends on timing.
    returned(matches!(
        failure,
        Some(std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
    ))
});
