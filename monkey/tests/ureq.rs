//! `ureq` 3 with its default connector and resolver, unmodified: 100
//! downloads at once from a local greenstd server by host name
//! (`localhost`, resolved through the hooked `getaddrinfo`), each answered
//! after 200 ms: the wall time is near one answer's, not the sum.

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use greenstd::net::TcpListener;

fn slow_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(greenstd::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            drop(greenstd::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                greenstd::thread::sleep(Duration::from_millis(200));
                let _ = (&stream).write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                );
            }));
        }
    }));
    port
}

#[test]
fn a_hundred_ureq_downloads_at_once_on_one_thread() {
    greenstd_monkey::patch_all().unwrap();
    let port = slow_server();
    let start = Instant::now();
    let downloads: Vec<_> = (0..100)
        .map(|_| {
            greenstd::thread::spawn(move || {
                let agent = ureq::Agent::new_with_defaults();
                agent
                    .get(&format!("http://localhost:{port}/"))
                    .call()
                    .and_then(|mut r| r.body_mut().read_to_string())
            })
        })
        .collect();
    let bodies: Vec<String> = downloads
        .into_iter()
        .map(|d| d.join().unwrap().unwrap())
        .collect();
    let wall = start.elapsed();
    assert!(bodies.iter().all(|b| b == "hello"));
    // Serialised, 100 answers of 200 ms would take 20 s.
    assert!(wall < Duration::from_secs(10), "took {wall:?}");
    eprintln!("100 ureq downloads of 200 ms each took {wall:?}");
}
