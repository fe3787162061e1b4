//! A third-party blocking HTTP client made cooperative: `ureq` over
//! greenstd sockets, through ureq's connector hook (`Agent::with_parts`).
//!
//! ureq does its own blocking I/O on `std::net::TcpStream`; left alone, it
//! blocks the whole OS thread and the coroutines run one after another. Its
//! transport layer is pluggable, so a connector that opens
//! `greenstd::net::TcpStream`s makes every ureq wait park only its
//! coroutine. The same downloads then overlap.
//!
//! Run: `cargo run --features http --example ureq_downloader [-- URL...]`
//! (with no URL: five pages with delays from a local greenstd server).
//!
//! Caveats: ureq's transport API is marked unversioned (it may change in a
//! minor release); its default resolver calls `getaddrinfo` on the calling
//! thread, which blocks the hub for host names (literal addresses, as here,
//! never block); no TLS in this sketch (chain ureq's `RustlsConnector`
//! after this one for https).

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use greenstd::net::{TcpListener, TcpStream};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
};

/// Opens greenstd sockets for ureq.
#[derive(Debug, Default)]
struct GreenConnector;

impl<In: Transport> Connector<In> for GreenConnector {
    type Out = Either<In, GreenTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
        for addr in details.addrs.iter() {
            match TcpStream::connect(addr) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let buffers = LazyBuffers::new(64 * 1024, 64 * 1024);
                    return Ok(Some(Either::B(GreenTransport { stream, buffers })));
                }
                Err(e) => last = e,
            }
        }
        Err(last.into())
    }
}

/// ureq's byte pipe over a greenstd socket: every read and write parks the
/// calling coroutine instead of blocking the thread.
#[derive(Debug)]
struct GreenTransport {
    stream: TcpStream,
    buffers: LazyBuffers,
}

impl Transport for GreenTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream
            .set_write_timeout(timeout.not_zero().map(|t| *t))?;
        let output = &self.buffers.output()[..amount];
        (&self.stream).write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream
            .set_read_timeout(timeout.not_zero().map(|t| *t))?;
        let input = self.buffers.input_append_buf();
        let n = (&self.stream).read(input)?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        // A pooled connection is usable if nothing (no data, no EOF) is
        // waiting on it.
        let _ = self.stream.set_nonblocking(true);
        let open = matches!(
            self.stream.peek(&mut [0u8]),
            Err(ref e) if e.kind() == io::ErrorKind::WouldBlock
        );
        let _ = self.stream.set_nonblocking(false);
        open
    }
}

fn main() {
    let mut urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        let base = start_local_server().expect("start the local server");
        println!("no URL given: a local greenstd server at {base} with delayed pages");
        urls = [200, 400, 600, 800, 1000]
            .iter()
            .map(|ms| format!("{base}/delay/{ms}"))
            .collect();
    }
    let agent = ureq::Agent::with_parts(
        ureq::Agent::config_builder().build(),
        GreenConnector,
        ureq::unversioned::resolver::DefaultResolver::default(),
    );
    let start = Instant::now();
    let downloads: Vec<_> = urls
        .into_iter()
        .map(|url| {
            let agent = agent.clone();
            greenstd::spawn(move || -> Result<usize, ureq::Error> {
                println!("GET: {url}");
                let body = agent.get(&url).call()?.body_mut().read_to_vec()?;
                println!("{} bytes received from {url}.", body.len());
                Ok(body.len())
            })
        })
        .collect();
    greenstd::joinall(&downloads, None);
    let mut failed = 0;
    for d in downloads {
        match d.get() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                eprintln!("FAILED: {e}");
                failed += 1;
            }
            Err(_) => {
                eprintln!("FAILED: the download panicked");
                failed += 1;
            }
        }
    }
    println!(
        "all done in {:.2?} (the delays add up to 3 s)",
        start.elapsed()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

/// A tiny greenstd server: `/delay/<ms>` answers after `ms` milliseconds.
fn start_local_server() -> io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    greenstd::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            greenstd::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match (&stream).read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut request = httparse::Request::new(&mut headers);
                let path = match request.parse(&head) {
                    Ok(httparse::Status::Complete(_)) => request.path.unwrap_or("/").to_string(),
                    _ => return,
                };
                let ms = path
                    .strip_prefix("/delay/")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                greenstd::thread::sleep(Duration::from_millis(ms));
                let body = format!("waited {ms} ms\n");
                let _ = write!(
                    &stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    Ok(base)
}
