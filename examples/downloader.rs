//! The seed's gevent downloader, ported: one coroutine per URL, each a
//! plain blocking `urlopen(url).read()`, the answers arriving in whatever
//! order the servers answer.
//!
//! ```python
//! def myDownLoad(url):
//!     print('GET: %s' % url)
//!     resp = urllib2.urlopen(url)
//!     data = resp.read()
//!     print('%d bytes received from %s.' % (len(data), url))
//!
//! gevent.joinall([gevent.spawn(myDownLoad, url) for url in urls])
//! ```
//!
//! Run: `cargo run --features http --example downloader [-- URL...]`
//!
//! With no URL it starts a local HTTP server in the same process (itself
//! greenstd code) with pages of different sizes and response delays, and
//! downloads them all at once: the wall time comes out close to the longest
//! single download, not the sum. Options: `-j N` caps how many run at once,
//! `-o DIR` saves the bodies, `--sequential` runs them one after another for
//! comparison, `--timeout SECS` bounds each download as a whole. Every
//! download gives up on a server that does not accept the connection within
//! 10 s or stops sending for 30 s. Exits non-zero if any download failed.

use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use greenstd::http::Opener;
use greenstd::net::{TcpListener, TcpStream};
use greenstd::{Pool, fs, thread};

/// The built-in pages: name, size in bytes, response delay, chunked.
const PAGES: [(&str, usize, u64, bool); 5] = [
    ("small", 20 * 1024, 150, false),
    ("medium", 200 * 1024, 400, false),
    ("large", 1024 * 1024, 600, false),
    ("slow", 50 * 1024, 900, false),
    ("chunked", 300 * 1024, 300, true),
];

struct Options {
    urls: Vec<String>,
    jobs: usize,
    out_dir: Option<PathBuf>,
    sequential: bool,
    opener: Opener,
}

/// A server that does not accept within this long is given up on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A server that sends nothing for this long is given up on.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

fn parse_args() -> Options {
    let mut options = Options {
        urls: Vec::new(),
        jobs: 0,
        out_dir: None,
        sequential: false,
        opener: Opener::new()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-j" => {
                options.jobs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "-o" => {
                options.out_dir = Some(args.next().map(PathBuf::from).unwrap_or_else(|| usage()))
            }
            "--sequential" => options.sequential = true,
            "--timeout" => {
                let secs: f64 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .unwrap_or_else(|| usage());
                options.opener = options.opener.total_timeout(Duration::from_secs_f64(secs));
            }
            "-h" | "--help" => usage(),
            url => options.urls.push(url.to_string()),
        }
    }
    options
}

fn usage() -> ! {
    eprintln!("usage: downloader [-j N] [-o DIR] [--sequential] [--timeout SECS] [URL...]");
    std::process::exit(2);
}

/// How downloads report: plain lines (as the seed prints), or progress
/// bars when stdout is a terminal.
#[derive(Clone)]
enum Report {
    Lines,
    Bars {
        all: indicatif::MultiProgress,
        total: indicatif::ProgressBar,
    },
}

impl Report {
    fn new() -> Report {
        if !io::stdout().is_terminal() {
            return Report::Lines;
        }
        let all = indicatif::MultiProgress::new();
        let total = all.add(indicatif::ProgressBar::new(0));
        total.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>40} {bytes:>10} total, {binary_bytes_per_sec}",
            )
            .expect("a valid template"),
        );
        total.set_message("all downloads");
        Report::Bars { all, total }
    }

    fn line(&self, text: String) {
        match self {
            Report::Lines => println!("{text}"),
            Report::Bars { all, .. } => {
                let _ = all.println(text);
            }
        }
    }

    fn bar(&self, url: &str) -> Option<indicatif::ProgressBar> {
        let Report::Bars { all, .. } = self else {
            return None;
        };
        let bar = all.insert_from_back(1, indicatif::ProgressBar::new(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>40} [{bar:30}] {bytes:>10}/{total_bytes}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_message(url.to_string());
        Some(bar)
    }

    fn add(&self, bar: Option<&indicatif::ProgressBar>, n: usize) {
        if let (Some(bar), Report::Bars { total, .. }) = (bar, self) {
            bar.inc(n as u64);
            total.inc(n as u64);
        }
    }
}

/// The seed's `myDownLoad`: GET, read the whole body, report.
fn download(
    opener: &Opener,
    url: &str,
    out_dir: Option<&PathBuf>,
    index: usize,
    report: &Report,
) -> io::Result<(usize, Duration)> {
    report.line(format!("GET: {url}"));
    let start = Instant::now();
    let mut response = opener.open(url)?;
    if response.status() != 200 {
        return Err(io::Error::other(format!(
            "{url}: HTTP {} {}",
            response.status(),
            response.reason()
        )));
    }
    let bar = report.bar(url);
    if let (Some(bar), Some(len)) = (&bar, response.content_length()) {
        bar.set_length(len);
    }
    let mut data = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = response.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&chunk[..n]);
        report.add(bar.as_ref(), n);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(dir) = out_dir {
        fs::write(dir.join(format!("{index}.body")), &data)?;
    }
    report.line(format!("{} bytes received from {url}.", data.len()));
    Ok((data.len(), start.elapsed()))
}

fn main() {
    let mut options = parse_args();
    if let Some(dir) = &options.out_dir
        && let Err(e) = fs::create_dir_all(dir)
    {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    if options.urls.is_empty() {
        match start_local_server() {
            Ok(base) => {
                println!(
                    "no URL given: serving {} pages from a local greenstd server at {base}",
                    PAGES.len()
                );
                options.urls = PAGES
                    .iter()
                    .map(|(name, ..)| format!("{base}/{name}"))
                    .collect();
            }
            Err(e) => {
                eprintln!("cannot start the local server: {e}");
                std::process::exit(1);
            }
        }
    }
    let report = Report::new();
    let started = Instant::now();
    let results: Vec<(String, io::Result<(usize, Duration)>)> = if options.sequential {
        options
            .urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                (
                    url.clone(),
                    download(&options.opener, url, options.out_dir.as_ref(), i, &report),
                )
            })
            .collect()
    } else {
        let pool = if options.jobs == 0 {
            Pool::group()
        } else {
            Pool::new(options.jobs)
        };
        let greenlets: Vec<_> = options
            .urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let (url, dir, report) = (url.clone(), options.out_dir.clone(), report.clone());
                let opener = options.opener.clone();
                pool.spawn(move || download(&opener, &url, dir.as_ref(), i, &report))
            })
            .collect();
        greenstd::joinall(&greenlets, None);
        options
            .urls
            .iter()
            .cloned()
            .zip(greenlets)
            .map(|(url, g)| {
                let result = g
                    .get()
                    .unwrap_or_else(|_| Err(io::Error::other("the download panicked")));
                (url, result)
            })
            .collect()
    };
    let wall = started.elapsed();
    if let Report::Bars { total, .. } = &report {
        total.finish_and_clear();
    }
    let mut total = 0;
    let mut sum = Duration::ZERO;
    let mut failed = 0;
    for (url, result) in &results {
        match result {
            Ok((bytes, took)) => {
                total += bytes;
                sum += *took;
            }
            Err(e) => {
                failed += 1;
                eprintln!("FAILED {url}: {e}");
            }
        }
    }
    println!(
        "\n{} downloads, {} failed, {total} bytes in {:.2?} wall time; the individual times add up to {:.2?}{}",
        results.len(),
        failed,
        wall,
        sum,
        if options.sequential {
            " (sequential)"
        } else {
            ""
        }
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

/// Starts the built-in HTTP server on a free loopback port; returns its
/// base URL. Each connection is served by its own coroutine.
fn start_local_server() -> io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                if let Err(e) = serve(stream) {
                    eprintln!("local server: {e}");
                }
            });
        }
    });
    Ok(base)
}

fn serve(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(&stream);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if reader.read_until(b'\n', &mut head)? == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let path = match request.parse(&head) {
        Ok(httparse::Status::Complete(_)) => request.path.unwrap_or("/").to_string(),
        _ => return respond(&stream, "400 Bad Request", b"bad request", false),
    };
    let Some(&(_, size, delay, chunked)) =
        PAGES.iter().find(|(name, ..)| path == format!("/{name}"))
    else {
        return respond(&stream, "404 Not Found", b"no such page", false);
    };
    thread::sleep(Duration::from_millis(delay)); // the "server think time"
    let body: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    respond(&stream, "200 OK", &body, chunked)
}

fn respond(mut stream: &TcpStream, status: &str, body: &[u8], chunked: bool) -> io::Result<()> {
    if chunked {
        write!(
            stream,
            "HTTP/1.1 {status}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )?;
        for chunk in body.chunks(16 * 1024) {
            write!(stream, "{:x}\r\n", chunk.len())?;
            stream.write_all(chunk)?;
            stream.write_all(b"\r\n")?;
        }
        stream.write_all(b"0\r\n\r\n")
    } else {
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        stream.write_all(body)
    }
}
