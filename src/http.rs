//! A urllib-style blocking HTTP/1.1 client over greenstd sockets (feature
//! `http`): [`urlopen`] returns a [`Response`] whose body implements
//! [`Read`]. Inside a coroutine every wait parks only that coroutine, so
//! many downloads run at once on one thread, as the seed's gevent
//! downloader does.
//!
//! Protocol parsing is `httparse`'s (status line, headers, chunk sizes) and
//! URLs are `url`'s.
//!
//! # Examples
//! ```no_run
//! use std::io::Read;
//!
//! let mut response = greenstd::http::urlopen("http://example.com/")?;
//! assert_eq!(response.status(), 200);
//! let mut body = Vec::new();
//! response.read_to_end(&mut body)?;
//! # Ok::<(), std::io::Error>(())
//! ```

#![forbid(unsafe_code)]

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

use url::Url;

use crate::net::{TcpStream, ToSocketAddrs};

/// What the scheme error names as supported.
#[cfg(feature = "https")]
const SUPPORTED: &str = "http and https are supported";
#[cfg(not(feature = "https"))]
const SUPPORTED: &str = "only http is supported (https needs the `https` feature)";

/// Opens `url` with the default [`Opener`]: a GET that follows up to 10
/// redirects, with no timeouts.
///
/// # Errors
/// See [`Opener::open`].
pub fn urlopen(url: &str) -> io::Result<Response> {
    Opener::new().open(url)
}

/// Settings for opening URLs.
///
/// # Examples
/// ```no_run
/// use std::time::Duration;
///
/// let opener = greenstd::http::Opener::new()
///     .connect_timeout(Duration::from_secs(5))
///     .read_timeout(Duration::from_secs(30))
///     .max_redirects(3);
/// let response = opener.open("http://example.com/")?;
/// println!("{}", response.status());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Opener {
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    max_redirects: u32,
    max_header_bytes: usize,
    #[cfg(feature = "https")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// The connection under a response: plain TCP, or TLS over it.
enum Conn {
    Plain(TcpStream),
    #[cfg(feature = "https")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            #[cfg(feature = "https")]
            Conn::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            #[cfg(feature = "https")]
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            #[cfg(feature = "https")]
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            #[cfg(feature = "https")]
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// An HTTP response: status, headers, and the body as a [`Read`].
pub struct Response {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    url: Url,
    /// The announced length, as validated when the head was read.
    content_length: Option<u64>,
    body: Body,
}

enum Framing {
    Length(u64),
    Chunked { left_in_chunk: u64, done: bool },
    UntilClose,
}

struct Body {
    reader: BufReader<Conn>,
    framing: Framing,
    limits: Limits,
}

/// The time limits of one request: the per-read timeout, and the deadline
/// of the whole request when a total timeout is set.
#[derive(Debug, Clone, Copy)]
struct Limits {
    read_timeout: Option<Duration>,
    deadline: Option<Instant>,
}

impl Limits {
    /// Sets the socket's timeouts for the next read or write: the read
    /// timeout, shortened to what is left of the total deadline.
    ///
    /// # Errors
    /// `TimedOut` once the deadline has passed.
    fn arm(&self, conn: &Conn) -> io::Result<()> {
        let Some(deadline) = self.deadline else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(total_timeout_error());
        }
        let timeout = self.read_timeout.map_or(left, |t| t.min(left));
        conn.tcp().set_read_timeout(Some(timeout))?;
        conn.tcp().set_write_timeout(Some(timeout))
    }

    /// Maps a timed-out read to the error that says which limit it hit.
    fn timeouts(&self, e: io::Error) -> io::Error {
        if e.kind() != io::ErrorKind::WouldBlock {
            return e;
        }
        if self.deadline.is_some_and(|d| d <= Instant::now()) {
            total_timeout_error()
        } else {
            timeouts(e)
        }
    }
}

fn total_timeout_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the request did not finish within its total timeout",
    )
}

fn invalid_data(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

impl Default for Opener {
    fn default() -> Self {
        Opener::new()
    }
}

impl Opener {
    /// No timeouts, up to 10 redirects, headers up to 64 KiB.
    #[must_use]
    pub fn new() -> Opener {
        Opener {
            connect_timeout: None,
            read_timeout: None,
            total_timeout: None,
            max_redirects: 10,
            max_header_bytes: 64 * 1024,
            #[cfg(feature = "https")]
            tls: None,
        }
    }

    /// The TLS settings for `https` URLs (feature `https`); by default
    /// Mozilla's root certificates (`webpki-roots`) with rustls's safe
    /// defaults.
    #[cfg(feature = "https")]
    #[must_use]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    #[cfg(feature = "https")]
    fn tls(&self) -> io::Result<std::sync::Arc<rustls::ClientConfig>> {
        if let Some(config) = &self.tls {
            return Ok(config.clone());
        }
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(std::sync::Arc::new(config))
    }

    /// Fail a connect that takes longer than `timeout` (`TimedOut`).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Fail a read that waits longer than `timeout` (`TimedOut`).
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Bounds the whole request, redirects, the response's head and its
    /// body included: once `timeout` has passed since [`open`](Self::open)
    /// was called, the next read fails with `TimedOut`. The read timeout
    /// bounds each wait alone, so a server trickling a byte now and then
    /// never trips it; this one does.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let opener = greenstd::http::Opener::new()
    ///     .read_timeout(Duration::from_secs(30))
    ///     .total_timeout(Duration::from_secs(300));
    /// # drop(opener);
    /// ```
    #[must_use]
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = Some(timeout);
        self
    }

    /// Follow at most `n` redirects.
    #[must_use]
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.max_redirects = n;
        self
    }

    /// Refuse a header section larger than `bytes`.
    #[must_use]
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// GETs `url`, following redirects.
    ///
    /// # Errors
    /// `InvalidInput` for an invalid URL or a scheme other than `http`;
    /// the connection's error (`ConnectionRefused`, a resolver error for an
    /// unknown host...); `TimedOut` when a timeout expires; `InvalidData` for
    /// a malformed status line or header, a header section over the limit,
    /// too many redirects or a bad redirect target.
    pub fn open(&self, url: &str) -> io::Result<Response> {
        let mut url = Url::parse(url).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid URL {url:?}: {e}"),
            )
        })?;
        let limits = Limits {
            read_timeout: self.read_timeout,
            deadline: self.total_timeout.map(crate::runtime::deadline_after),
        };
        for _ in 0..=self.max_redirects {
            let response = self.get(&url, limits)?;
            let Some(location) = response.redirect_target() else {
                return Ok(response);
            };
            url = url
                .join(location)
                .map_err(|e| invalid_data(format!("bad redirect target {location:?}: {e}")))?;
        }
        Err(invalid_data(format!(
            "too many redirects (more than {}), last to {url}",
            self.max_redirects
        )))
    }

    fn get(&self, url: &Url, limits: Limits) -> io::Result<Response> {
        let tls = match url.scheme() {
            "http" => false,
            #[cfg(feature = "https")]
            "https" => true,
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unsupported scheme {other:?} in {url}: {SUPPORTED}"),
                ));
            }
        };
        let host = url.host_str().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("no host in {url}"))
        })?;
        let port = url.port_or_known_default().unwrap_or(80);
        let stream = self.connect(host, port, limits)?;
        stream.set_read_timeout(self.read_timeout)?;
        stream.set_write_timeout(self.read_timeout)?;
        let host_header = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: greenstd-urlopen\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let mut conn = self.secure(stream, host, tls)?;
        limits.arm(&conn)?;
        conn.write_all(request.as_bytes())
            .map_err(|e| limits.timeouts(e))?;
        conn.flush().map_err(|e| limits.timeouts(e))?;
        let mut reader = BufReader::new(conn);
        // Interim (1xx) responses come before the final one: skip them
        // (`100 Continue`, `103 Early Hints`...). A `101 Switching
        // Protocols` was never asked for.
        let (status, reason, headers) = loop {
            let head = self.read_head(&mut reader, limits)?;
            match head.0 {
                101 => {
                    return Err(invalid_data(
                        "the server switched protocols (101) without being asked to",
                    ));
                }
                100..=199 => continue,
                _ => break head,
            }
        };
        let framing = framing(status, &headers)?;
        let content_length = match framing {
            Framing::Length(n) if header(&headers, "content-length").is_some() => Some(n),
            _ => None,
        };
        Ok(Response {
            status,
            reason,
            headers,
            url: url.clone(),
            content_length,
            body: Body {
                reader,
                framing,
                limits,
            },
        })
    }

    /// Wraps the connection in TLS for `https`.
    fn secure(&self, stream: TcpStream, host: &str, tls: bool) -> io::Result<Conn> {
        #[cfg(feature = "https")]
        if tls {
            let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("bad TLS server name {host:?}: {e}"),
                )
            })?;
            let connection =
                rustls::ClientConnection::new(self.tls()?, name).map_err(io::Error::other)?;
            return Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(
                connection, stream,
            ))));
        }
        let _ = (host, tls);
        Ok(Conn::Plain(stream))
    }

    fn connect(&self, host: &str, port: u16, limits: Limits) -> io::Result<TcpStream> {
        let addrs: Vec<_> = (host, port).to_socket_addrs()?.collect();
        let mut last = None;
        for addr in &addrs {
            let left = match limits.deadline {
                Some(d) => Some(
                    Some(d.saturating_duration_since(Instant::now()))
                        .filter(|l| !l.is_zero())
                        .ok_or_else(total_timeout_error)?,
                ),
                None => None,
            };
            let timeout = match (self.connect_timeout, left) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let attempt = match timeout {
                Some(t) => TcpStream::connect_timeout(addr, t),
                None => TcpStream::connect(addr),
            };
            match attempt {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host} resolved to no address"),
            )
        }))
    }

    /// Reads and parses the status line and headers.
    #[allow(clippy::type_complexity)]
    fn read_head(
        &self,
        reader: &mut BufReader<Conn>,
        limits: Limits,
    ) -> io::Result<(u16, String, Vec<(String, String)>)> {
        let mut head = Vec::new();
        loop {
            limits.arm(reader.get_ref())?;
            let available = reader.fill_buf().map_err(|e| limits.timeouts(e))?;
            if available.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection before sending a complete header",
                ));
            }
            let take = available
                .len()
                .min(self.max_header_bytes + 1 - head.len().min(self.max_header_bytes));
            head.extend_from_slice(&available[..take]);
            let mut headers = [httparse::EMPTY_HEADER; 128];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(&head) {
                Ok(httparse::Status::Complete(len)) => {
                    // Give back what belongs to the body.
                    let consumed = take - (head.len() - len);
                    reader.consume(consumed);
                    let status = parsed.code.unwrap_or(0);
                    let reason = parsed.reason.unwrap_or("").to_string();
                    let headers = parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_string(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    return Ok((status, reason, headers));
                }
                Ok(httparse::Status::Partial) => {
                    reader.consume(take);
                    if head.len() > self.max_header_bytes {
                        return Err(invalid_data(format!(
                            "the response header section exceeds {} bytes",
                            self.max_header_bytes
                        )));
                    }
                }
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(invalid_data(
                        "the response header section has more than 128 headers",
                    ));
                }
                Err(e) => return Err(invalid_data(format!("malformed response header: {e}"))),
            }
        }
    }
}

/// Read and write timeouts surface as `WouldBlock` from the socket (std's
/// kind on Unix); a client reports them as `TimedOut`.
fn timeouts(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "the server stopped sending (read timeout)",
        )
    } else {
        e
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The values of every `name` header, each split at its commas (a list
/// may be sent in one field or several).
fn list_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// How the body of a response to a GET is delimited (RFC 9112 section 6.3).
fn framing(status: u16, headers: &[(String, String)]) -> io::Result<Framing> {
    // 1xx, 204 and 304 responses never have a body, whatever they say.
    if matches!(status, 100..=199 | 204 | 304) {
        return Ok(Framing::Length(0));
    }
    let codings: Vec<&str> = list_values(headers, "transfer-encoding").collect();
    if !codings.is_empty() {
        // Transfer-Encoding overrides any Content-Length.
        return transfer_framing(&codings);
    }
    let mut length = None;
    for value in list_values(headers, "content-length") {
        let parsed = (value.bytes().all(|b| b.is_ascii_digit()))
            .then(|| value.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| invalid_data(format!("invalid Content-Length {value:?}")))?;
        match length {
            Some(previous) if previous != parsed => {
                return Err(invalid_data(format!(
                    "conflicting Content-Length values {previous} and {parsed}"
                )));
            }
            _ => length = Some(parsed),
        }
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

/// The framing a `Transfer-Encoding` list gives: chunked when `chunked` is
/// the last coding, until close otherwise (RFC 9112 section 6.3). Only
/// `chunked` (and `identity`) can be decoded here.
fn transfer_framing(codings: &[&str]) -> io::Result<Framing> {
    let name = |c: &str| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let names: Vec<String> = codings.iter().map(|c| name(c)).collect();
    if let Some(other) = names.iter().find(|n| *n != "chunked" && *n != "identity") {
        return Err(invalid_data(format!(
            "unsupported transfer coding {other:?} (only chunked can be decoded)"
        )));
    }
    let chunked = names.iter().filter(|n| *n == "chunked").count();
    match (chunked, names.last().map(String::as_str)) {
        (0, _) => Ok(Framing::UntilClose),
        (1, Some("chunked")) => Ok(Framing::Chunked {
            left_in_chunk: 0,
            done: false,
        }),
        _ => Err(invalid_data(format!(
            "invalid Transfer-Encoding {:?}: chunked must be applied once, last",
            codings.join(", ")
        ))),
    }
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The headers, in the order received.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The URL this response came from (after redirects).
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The body's length, when the server announced it.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    fn redirect_target(&self) -> Option<&str> {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
            .then(|| self.header("location"))
            .flatten()
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let limits = self.body.limits;
        if limits.deadline.is_some() && !self.body.is_done() {
            limits.arm(self.body.reader.get_ref())?;
        }
        self.body.read(buf).map_err(|e| limits.timeouts(e))
    }
}

impl Body {
    /// Whether the whole body has been read (nothing left to wait for).
    fn is_done(&self) -> bool {
        match self.framing {
            Framing::Length(left) => left == 0,
            Framing::Chunked { done, .. } => done,
            Framing::UntilClose => false,
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match &mut self.framing {
            Framing::UntilClose => self.reader.read(buf),
            Framing::Length(left) => {
                if *left == 0 {
                    return Ok(0);
                }
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the body ended {left} bytes short of its Content-Length"),
                    ));
                }
                *left -= n as u64;
                Ok(n)
            }
            Framing::Chunked {
                left_in_chunk,
                done,
            } => {
                if *done {
                    return Ok(0);
                }
                if *left_in_chunk == 0 {
                    let size = read_chunk_size(&mut self.reader)?;
                    if size == 0 {
                        skip_trailers(&mut self.reader)?;
                        *done = true;
                        return Ok(0);
                    }
                    *left_in_chunk = size;
                }
                let want = buf
                    .len()
                    .min(usize::try_from(*left_in_chunk).unwrap_or(usize::MAX));
                let n = self.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the chunked body ended mid-chunk",
                    ));
                }
                *left_in_chunk -= n as u64;
                if *left_in_chunk == 0 {
                    expect_crlf(&mut self.reader)?;
                }
                Ok(n)
            }
        }
    }
}

/// Reads one chunk-size line (parsed by `httparse`).
fn read_chunk_size(reader: &mut BufReader<Conn>) -> io::Result<u64> {
    let mut line = Vec::new();
    reader.take(4096).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the chunked body ended before its last chunk",
        ));
    }
    match httparse::parse_chunk_size(&line) {
        Ok(httparse::Status::Complete((_, size))) => Ok(size),
        _ => Err(invalid_data(format!(
            "invalid chunk size line {:?}",
            String::from_utf8_lossy(&line).trim_end()
        ))),
    }
}

fn expect_crlf(reader: &mut BufReader<Conn>) -> io::Result<()> {
    let mut crlf = [0u8; 2];
    reader.read_exact(&mut crlf)?;
    if &crlf == b"\r\n" {
        Ok(())
    } else {
        Err(invalid_data("a chunk is not followed by CRLF"))
    }
}

fn skip_trailers(reader: &mut BufReader<Conn>) -> io::Result<()> {
    loop {
        let mut line = Vec::new();
        reader.take(8192).read_until(b'\n', &mut line)?;
        if line.is_empty() || line == b"\r\n" || line == b"\n" {
            return Ok(());
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url.as_str())
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}
