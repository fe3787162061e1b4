//! `greenstd::os::unix::net`.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use greenstd::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use greenstd::thread;

fn socket_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("greenstd-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn stream_echo_through_a_listener_inside_coroutines() {
    let path = socket_path("echo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0; 4];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    let p = path.clone();
    let client = thread::spawn(move || {
        let mut s = UnixStream::connect(p).unwrap();
        s.write_all(b"unix").unwrap();
        let mut buf = [0; 4];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    assert_eq!(&client.join().unwrap(), b"unix");
    server.join().unwrap();
    std::fs::remove_file(path).unwrap();
}

#[test]
fn read_yields_and_times_out_with_would_block() {
    let (a, b) = UnixStream::pair().unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let reader = spawn_here(move || {
        a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let before = t.load(Ordering::SeqCst);
        let e = (&a).read(&mut [0; 4]).unwrap_err().kind();
        (e, t.load(Ordering::SeqCst) - before)
    });
    let t = ticks.clone();
    let ticker = spawn_here(move || {
        for _ in 0..5 {
            t.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(1));
        }
    });
    let (kind, progressed) = reader.join().unwrap();
    ticker.join().unwrap();
    assert_eq!(kind, io::ErrorKind::WouldBlock);
    assert!(progressed > 0);
    drop(b);
}

#[test]
fn connect_to_a_missing_path_fails_as_std() {
    let path = socket_path("missing.sock");
    let ours = UnixStream::connect(&path).unwrap_err().kind();
    let std = std::os::unix::net::UnixStream::connect(&path)
        .unwrap_err()
        .kind();
    assert_eq!(ours, std);
}

#[test]
fn datagrams_pair_and_paths() {
    let (a, b) = UnixDatagram::pair().unwrap();
    a.send(b"one").unwrap();
    let mut buf = [0; 8];
    assert_eq!(b.recv(&mut buf).unwrap(), 3);
    let path = socket_path("dgram.sock");
    let bound = UnixDatagram::bind(&path).unwrap();
    let sender = UnixDatagram::unbound().unwrap();
    let receiver = thread::spawn(move || {
        let mut buf = [0; 8];
        bound.recv_from(&mut buf).map(|(n, _)| n)
    });
    thread::yield_now();
    sender.send_to(b"four", &path).unwrap();
    assert_eq!(receiver.join().unwrap().unwrap(), 4);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn many_unix_connections_at_once() {
    const N: usize = 200;
    let path = socket_path("many.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = thread::spawn(move || {
        let hs: Vec<_> = (&listener)
            .into_iter()
            .take(N)
            .map(|s| {
                let mut s = s.unwrap();
                thread::spawn(move || {
                    let mut b = [0; 1];
                    s.read_exact(&mut b).unwrap();
                    s.write_all(&b).unwrap();
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    let clients: Vec<_> = (0..N)
        .map(|i| {
            let p = path.clone();
            thread::spawn(move || {
                let mut s = UnixStream::connect(p).unwrap();
                s.write_all(&[i as u8]).unwrap();
                let mut b = [0; 1];
                s.read_exact(&mut b).unwrap();
                b[0] == i as u8
            })
        })
        .collect();
    assert!(clients.into_iter().all(|c| c.join().unwrap()));
    server.join().unwrap();
    std::fs::remove_file(path).unwrap();
}

/// Spawns on this thread's own hub whatever the hub count: the test shows
/// one hub running others while a coroutine waits.
fn spawn_here<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> thread::JoinHandle<T> {
    thread::Builder::new()
        .placement(greenstd::Placement::ThisThread)
        .spawn(f)
        .unwrap()
}
