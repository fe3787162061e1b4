// Shared by the monkey benchmarks through `include!`.

/// Round trips of one byte between two plain OS threads over std's TCP:
/// nanoseconds per round trip, the best of `rounds` runs.
#[allow(dead_code)]
fn std_tcp_round_trip_ns(trips: u32, rounds: u32) -> f64 {
    use std::io::{Read, Write};
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let echo = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_nodelay(true).unwrap();
            let mut b = [0u8; 1];
            for _ in 0..trips {
                s.read_exact(&mut b).unwrap();
                s.write_all(&b).unwrap();
            }
        });
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_nodelay(true).unwrap();
        let mut b = [7u8; 1];
        let start = std::time::Instant::now();
        for _ in 0..trips {
            c.write_all(&b).unwrap();
            c.read_exact(&mut b).unwrap();
        }
        let ns = start.elapsed().as_nanos() as f64 / f64::from(trips);
        echo.join().unwrap();
        best = best.min(ns);
    }
    best
}
