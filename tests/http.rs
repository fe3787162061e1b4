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
                if path == "/trickle" {
                    // A byte every 50 ms: each read is quick, the whole
                    // body takes 5 s.
                    let _ = (&stream).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
                    for _ in 0..100 {
                        if (&stream).write_all(b"x").is_err() {
                            return;
                        }
                        thread::sleep(Duration::from_millis(50));
                    }
                    return;
                }
                let _ = (&stream).write_all(&reply(&path, port));
                if path == "/stall" || path.starts_with("/keep-alive") {
                    // Keeps the connection open, as a keep-alive server.
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
        "/keep-alive/interim" => b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
        "/keep-alive/204" => b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
        "/keep-alive/304" => b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n".to_vec(),
        "/keep-alive/same-lengths" => b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
        "/two-lengths" => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello".to_vec(),
        "/plus-length" => b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello".to_vec(),
        "/notchunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: notchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(),
        "/chunked-twice" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(),
        "/keep-alive/te-over-length" => b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(),
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

/// Each used to be read as the response itself or to hang: an interim
/// `100 Continue`/`103 Early Hints` head was returned as the final one, and
/// a 204 or 304 from a keep-alive server was read until a close that never
/// came. Each server here keeps its connection open.
#[test]
fn interim_heads_and_bodiless_responses_were_misread_or_hung() {
    let base = scripted_server(reply);
    let r = urlopen(&format!("{base}/keep-alive/interim")).unwrap();
    assert_eq!(r.status(), 200);
    let mut text = String::new();
    { r }.read_to_string(&mut text).unwrap();
    assert_eq!(text, "hello");
    for (path, status) in [("/keep-alive/204", 204), ("/keep-alive/304", 304)] {
        let mut r = urlopen(&format!("{base}{path}")).unwrap();
        assert_eq!(r.status(), status);
        let mut body = Vec::new();
        r.read_to_end(&mut body).unwrap();
        assert!(body.is_empty(), "{path}");
    }
    assert_eq!(
        body(&format!("{base}/keep-alive/same-lengths")).unwrap(),
        "hello"
    );
    // Transfer-Encoding overrides Content-Length (RFC 9112 6.3).
    assert_eq!(
        body(&format!("{base}/keep-alive/te-over-length")).unwrap(),
        "hello"
    );
}

/// RFC 9110/9112 framing rules: conflicting lengths and a signed length
/// were accepted (the first won), and any Transfer-Encoding mentioning
/// "chunked" was decoded as chunked.
#[test]
fn ambiguous_framing_was_accepted() {
    let base = scripted_server(reply);
    for (path, text) in [
        ("/two-lengths", "conflicting Content-Length"),
        ("/plus-length", "invalid Content-Length"),
        ("/notchunked", "unsupported transfer coding"),
        ("/chunked-twice", "chunked must be applied once, last"),
    ] {
        let e = body(&format!("{base}{path}")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{path}: {e}");
        assert!(e.to_string().contains(text), "{path}: {e}");
    }
}

/// The read timeout bounds each wait, so a server trickling a byte every
/// 50 ms was never cut off; the total timeout bounds the whole request.
#[test]
fn a_trickling_server_was_never_cut_off() {
    let base = scripted_server(reply);
    let url = format!("{base}/trickle");
    let e = greenstd::spawn(move || {
        let mut r = Opener::new()
            .read_timeout(Duration::from_secs(2))
            .total_timeout(Duration::from_millis(300))
            .open(&url)?;
        let mut sink = Vec::new();
        r.read_to_end(&mut sink)
    })
    .get()
    .unwrap()
    .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    assert!(e.to_string().contains("total timeout"), "{e}");
}
