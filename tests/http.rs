//! `greenstd::http`: each bad input gets a clear error, never a hang or a
//! panic, and the other downloads are unaffected.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::time::Duration;

use greenstd::http::{Opener, urlopen};
use greenstd::net::TcpListener;
use greenstd::thread;

/// A one-connection-at-a-time server answering every request with the raw
/// bytes `reply` makes from the request path. Returns its base URL.
fn scripted_server(reply: fn(&str, u16) -> Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let _ = (&stream).write_all(&reply(&path, port));
                if path == "/stall" {
                    thread::sleep(Duration::from_secs(3600));
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn reply(path: &str, port: u16) -> Vec<u8> {
    match path {
        "/ok" => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
        "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec(),
        "/close" => b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close".to_vec(),
        "/bad-status" => b"HTTP/1.1 abc OK\r\n\r\n".to_vec(),
        "/bad-header" => b"HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n".to_vec(),
        "/huge-header" => {
            let mut r = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
            r.extend_from_slice("x".repeat(100 * 1024).as_bytes());
            r.extend_from_slice(b"\r\n\r\n");
            r
        }
        "/truncated" => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a few bytes".to_vec(),
        "/bad-chunk" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n".to_vec(),
        "/loop" => format!("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/loop\r\nContent-Length: 0\r\n\r\n").into_bytes(),
        "/redirect" => b"HTTP/1.1 301 Moved\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n".to_vec(),
        "/stall" => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial".to_vec(),
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
    }
}

fn body(url: &str) -> io::Result<String> {
    let mut text = String::new();
    urlopen(url)?.read_to_string(&mut text)?;
    Ok(text)
}

#[test]
fn well_formed_responses() {
    let base = scripted_server(reply);
    assert_eq!(body(&format!("{base}/ok")).unwrap(), "hello");
    assert_eq!(body(&format!("{base}/chunked")).unwrap(), "hello world");
    assert_eq!(body(&format!("{base}/close")).unwrap(), "until close");
    let r = urlopen(&format!("{base}/redirect")).unwrap();
    assert_eq!((r.status(), r.url().ends_with("/ok")), (200, true));
    assert_eq!(urlopen(&format!("{base}/missing")).unwrap().status(), 404);
}

/// Every bad input at once, each in its own coroutine, beside a good
/// download that must still succeed.
#[test]
fn bad_inputs_fail_clearly_and_spare_the_others() {
    let base = scripted_server(reply);
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        port
    };
    let cases: Vec<(String, io::ErrorKind, &str)> = vec![
        (
            format!("{base}/bad-status"),
            io::ErrorKind::InvalidData,
            "malformed",
        ),
        (
            format!("{base}/bad-header"),
            io::ErrorKind::InvalidData,
            "malformed",
        ),
        (
            format!("{base}/huge-header"),
            io::ErrorKind::InvalidData,
            "exceeds",
        ),
        (
            format!("{base}/truncated"),
            io::ErrorKind::UnexpectedEof,
            "short",
        ),
        (
            format!("{base}/bad-chunk"),
            io::ErrorKind::InvalidData,
            "chunk size",
        ),
        (
            format!("{base}/loop"),
            io::ErrorKind::InvalidData,
            "too many redirects",
        ),
        (
            format!("http://127.0.0.1:{closed}/"),
            io::ErrorKind::ConnectionRefused,
            "",
        ),
        (
            "not a url".to_string(),
            io::ErrorKind::InvalidInput,
            "invalid URL",
        ),
        (
            "ftp://127.0.0.1/file".to_string(),
            io::ErrorKind::InvalidInput,
            "unsupported scheme",
        ),
    ];
    let good = {
        let url = format!("{base}/ok");
        greenstd::spawn(move || body(&url))
    };
    let failures: Vec<_> = cases
        .into_iter()
        .map(|(url, kind, text)| {
            greenstd::spawn(move || {
                let e = body(&url).expect_err(&url);
                assert_eq!(e.kind(), kind, "{url}: {e}");
                assert!(e.to_string().contains(text), "{url}: {e}");
            })
        })
        .collect();
    for f in &failures {
        f.join();
    }
    for f in failures {
        f.get().unwrap();
    }
    assert_eq!(good.get().unwrap().unwrap(), "hello");
}

#[test]
fn unknown_host_is_an_error() {
    // `.invalid` never resolves (RFC 2606); the lookup runs on the pool.
    let e = greenstd::spawn(|| body("http://no-such-host.invalid/"))
        .get()
        .unwrap()
        .unwrap_err();
    assert!(
        e.kind() != io::ErrorKind::TimedOut,
        "a resolver failure, not a hang: {e}"
    );
}

#[test]
fn a_server_that_stops_sending_times_out() {
    let base = scripted_server(reply);
    let url = format!("{base}/stall");
    let e = greenstd::spawn(move || {
        let mut r = Opener::new()
            .read_timeout(Duration::from_millis(100))
            .open(&url)?;
        let mut sink = Vec::new();
        r.read_to_end(&mut sink)
    })
    .get()
    .unwrap()
    .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
}
