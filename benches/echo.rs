//! Echo benchmark: one echo server written in std style, built with std
//! and with greenstd imports, beside tokio `current_thread` and may with one
//! worker. Each server runs in a child process pinned to CPU 0; a mio load
//! generator pinned to CPU 1 drives it.
//!
//! Reports messages per second, p99 round-trip latency, the server's CPU
//! time per message and its efficiency (messages per CPU second) against
//! tokio's, server syscalls per message (`perf stat -e
//! raw_syscalls:sys_enter`, when perf is available) and the server's peak
//! RSS. Then a connect storm: 5,000 connections, 50 at a time, each
//! connecting, echoing one 64-byte message and closing; per connection the
//! server's CPU time and syscalls.
//!
//! `-- --cores N` prints the every-core tables instead (issue #11): the
//! server on CPUs `0..N` as greenstd with 1 hub, with N hubs (one accept
//! loop, spawns spread over the workers; and a `SO_REUSEPORT` listener per
//! hub), tokio's multi-threaded runtime and may with N workers, and std
//! threads; the load generator on the CPUs after the server's, one thread
//! per spare CPU, or two threads sharing the server's CPUs when there is
//! none (said in the output). Its third part gives every server the same
//! CPU work per message (`compute`, about 20-30 µs), so that the server,
//! not a client sharing its cores, is what limits.
//!
//! Run: `cargo bench --bench echo` (`-- --quick` for 1-second runs). To
//! profile one server: run the bench binary with `--serve NAME` (it prints
//! its port and pid), then again with `--load PORT CONNECTIONS SIZE SECONDS`.

mod common;
use common::peak_rss_kib;

/// The CPU time (user + system) process `pid` has used, in microseconds,
/// from `/proc` (clock-tick resolution); 0 if unknown.
fn process_cpu_micros(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The fields after the command name (which may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime: fields 14 and 15 of the line, 12 and 13 after it.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    (ticks(11) + ticks(12)) * 1_000_000 / hz
}

use std::io::{self, BufRead, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const SERVERS: [&str; 4] = ["greenstd", "std", "tokio", "may"];

/// The echo server, written once against std's API; `net` and `spawn` are
/// the only things that change between builds.
macro_rules! std_style_echo_server {
    ($net:path, $spawn:expr) => {{
        use $net as net;
        let listener = net::TcpListener::bind("127.0.0.1:0").unwrap();
        println!(
            "{} {}",
            listener.local_addr().unwrap().port(),
            std::process::id()
        );
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            ($spawn)(move || {
                let _ = stream.set_nodelay(true);
                echo_until_closed(stream);
            });
        }
    }};
}

/// A connection's handler in every std-style server: echoes until EOF.
fn echo_until_closed(mut stream: impl Read + Write) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        compute(&buf[..n]);
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// The work per message of the every-core table's CPU-bound rows.
const WORK_STEPS: u64 = 20_000;

/// The environment variable that gives the server CPU work per message
/// (the every-core table's third part), in steps of [`compute`].
const WORK_VAR: &str = "GREENSTD_ECHO_WORK";

/// Steps of CPU work per message: 0 unless the driver asked for some.
fn work_steps() -> u64 {
    static STEPS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *STEPS.get_or_init(|| {
        std::env::var(WORK_VAR)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    })
}

/// The server's work on a message: `work_steps()` dependent multiply-adds
/// (about 1 ns each), the message itself unchanged.
fn compute(message: &[u8]) {
    let steps = work_steps();
    if steps == 0 || message.is_empty() {
        return;
    }
    let mut x = u64::from(message[0]);
    for _ in 0..steps {
        x = std::hint::black_box(
            x.wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
    // The result is kept alive (the loop is not optimised away); the
    // message goes back unchanged.
    std::hint::black_box(x);
}

/// greenstd over every hub, the other shape: a `SO_REUSEPORT` listener and
/// an accept loop per hub (`net::bind_per_hub`).
fn greenstd_listener_per_hub() {
    use greenstd::{Placement, net, thread};
    let listeners = net::bind_per_hub("127.0.0.1:0").unwrap();
    println!(
        "{} {}",
        listeners[0].local_addr().unwrap().port(),
        std::process::id()
    );
    for (i, listener) in listeners.into_iter().enumerate() {
        thread::Builder::new()
            .placement(Placement::Hub(i))
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    thread::spawn(move || {
                        let _ = stream.set_nodelay(true);
                        echo_until_closed(stream);
                    });
                }
            })
            .unwrap();
    }
    // The stdin watcher ends the process.
    loop {
        std::thread::park();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cores_arg = args
        .iter()
        .position(|a| a == "--cores")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        serve(&args[i + 1], cores_arg.unwrap_or(1));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--load") {
        // For profiling a server started alone with `--serve NAME`:
        // `--load PORT CONNECTIONS SIZE SECONDS` drives it and prints msgs/s.
        let arg = |k| number_after(&args, i, k);
        let secs = Duration::from_secs(arg(4).max(1));
        let r = load::generate(
            arg(1) as u16,
            arg(2) as usize,
            arg(3) as usize,
            secs,
            &|| 0,
            None,
        )
        .expect("load");
        println!("{:.0} msgs/s", r.messages as f64 / r.elapsed.as_secs_f64());
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--storm") {
        // For profiling a server started alone with `--serve NAME`:
        // `--storm PORT TOTAL AT_ONCE` runs a connect storm against it.
        let arg = |k| number_after(&args, i, k);
        let r = load::storm(
            arg(1) as u16,
            arg(2) as usize,
            (arg(3) as usize).max(1),
            &|| 0,
            None,
        )
        .expect("storm");
        println!(
            "{:.0} connections/s",
            r.messages as f64 / r.elapsed.as_secs_f64()
        );
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let duration = if quick {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(3)
    };
    let perf = Command::new("perf")
        .args(["stat", "-e", "raw_syscalls:sys_enter", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if let Some(cores) = cores_arg {
        every_core(cores.max(1), duration, perf, quick);
        return;
    }
    pin_to_cpus(1..2);
    let configs = [(1, 64), (100, 64), (1000, 64), (100, 16 * 1024)];
    println!(
        "| connections x message | server | msgs/s | p99 latency | server CPU/msg | CPU efficiency vs tokio | syscalls/msg | peak RSS | msgs/s vs tokio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (conns, size) in configs {
        let what = Load::Echo {
            conns,
            size,
            duration,
            work: 0,
        };
        let results = run_each(&SERVERS, what, perf, Cores::ONE);
        let tokio = results
            .iter()
            .find(|(s, _)| *s == "tokio")
            .and_then(|(_, r)| r.as_ref().ok())
            .map(|r| (r.rate, r.cpu_per_unit));
        for (server, result) in results {
            match result {
                Ok(r) => println!(
                    "| {conns} x {size} B | {server} | {:.0} | {:.0} µs | {:.2} µs | {} | {} | {} MiB | {} |",
                    r.rate,
                    r.p99.as_secs_f64() * 1e6,
                    r.cpu_per_unit,
                    tokio.map_or("-".into(), |(_, cpu)| format!(
                        "{:.2}",
                        cpu / r.cpu_per_unit
                    )),
                    r.syscalls_per_unit
                        .map_or("n/a".into(), |s| format!("{s:.2}")),
                    r.peak_rss_kib / 1024,
                    tokio.map_or("-".into(), |(t, _)| format!("{:.2}x", r.rate / t)),
                ),
                Err(e) => println!("| {conns} x {size} B | {server} | failed: {e} | | | | | | |"),
            }
        }
    }
    let (total, at_once) = storm_size(quick);
    println!();
    println!(
        "| connect storm ({total} connections, {at_once} at a time) | server | connections/s | server CPU/connection | CPU efficiency vs tokio | syscalls/connection |"
    );
    println!("|---|---|---|---|---|---|");
    let results = run_each(&SERVERS, Load::Storm { total, at_once }, perf, Cores::ONE);
    let tokio_cpu = results
        .iter()
        .find(|(s, _)| *s == "tokio")
        .and_then(|(_, r)| r.as_ref().ok())
        .map(|r| r.cpu_per_unit);
    for (server, result) in results {
        match result {
            Ok(r) => println!(
                "| connect, echo 64 B, close | {server} | {:.0} | {:.1} µs | {} | {} |",
                r.rate,
                r.cpu_per_unit,
                tokio_cpu.map_or("-".into(), |t| format!("{:.2}", t / r.cpu_per_unit)),
                r.syscalls_per_unit
                    .map_or("n/a".into(), |s| format!("{s:.1}")),
            ),
            Err(e) => println!("| connect storm | {server} | failed: {e} | | | |"),
        }
    }
}

/// Where the server and the load generator run: the server on CPUs
/// `0..server`, the generator's `clients` threads on the CPUs after them,
/// or anywhere when the machine has none left (then they share the
/// server's cores).
#[derive(Clone, Copy)]
struct Cores {
    server: usize,
    clients: usize,
    shared: bool,
}

impl Cores {
    /// The single-core tables: the server on CPU 0, one generator on CPU 1.
    const ONE: Cores = Cores {
        server: 1,
        clients: 1,
        shared: false,
    };

    fn for_server(server: usize) -> Cores {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let spare = cpus.saturating_sub(server);
        Cores {
            server,
            // One generator thread per spare CPU (at most 4); two sharing
            // the server's cores when there is none.
            clients: if spare == 0 { 2 } else { spare.min(4) },
            shared: spare == 0,
        }
    }
}

/// The servers of the every-core table: greenstd with one hub and with
/// `n` hubs (spawns spread from one accept loop, and a listener per hub),
/// tokio's multi-threaded runtime and may with `n` workers, std threads.
const EVERY_CORE_SERVERS: [&str; 6] = [
    "greenstd",
    "greenstd-hubs",
    "greenstd-hubs-reuseport",
    "tokio-mt",
    "may-mt",
    "std",
];

/// `--cores N`: the echo and connect-storm tables with the server on N
/// CPUs (issue #11's benchmark).
fn every_core(cores: usize, duration: Duration, perf: bool, quick: bool) {
    let placement = Cores::for_server(cores);
    println!(
        "Server on CPUs 0..{cores} ({cores} hubs/workers), load generator: {} thread(s){}.",
        placement.clients,
        if placement.shared {
            ", sharing the server's CPUs (no spare core on this machine)"
        } else {
            " on the CPUs after the server's"
        }
    );
    println!();
    println!(
        "| connections x 64 B | server | msgs/s | vs greenstd 1 hub | p99 latency | server CPU/msg | msgs per CPU-second vs tokio-mt | syscalls/msg |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    // The plain echo, then with CPU work per message in the server (about
    // 20 µs): then the server, not the shared client, is what limits, and
    // the hubs' scaling shows even with no spare core for the client.
    for (conns, work) in [(100, 0), (1000, 0), (100, WORK_STEPS)] {
        let what = Load::Echo {
            conns,
            size: 64,
            duration,
            work,
        };
        let results = run_each(&EVERY_CORE_SERVERS, what, perf, placement);
        let label = if work == 0 {
            format!("{conns}")
        } else {
            format!("{conns}, +{work} steps of work/msg")
        };
        every_core_rows(&label, &results, 2);
    }
    let (total, at_once) = storm_size(quick);
    println!();
    println!(
        "| connect storm ({total}, {at_once} at a time) | server | connections/s | vs greenstd 1 hub | p99 | server CPU/connection | per CPU-second vs tokio-mt | syscalls/connection |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let results = run_each(
        &EVERY_CORE_SERVERS,
        Load::Storm { total, at_once },
        perf,
        placement,
    );
    every_core_rows("storm", &results, 1);
}

/// Runs `what` against each server in turn.
fn run_each<'s>(
    servers: &[&'s str],
    what: Load,
    perf: bool,
    cores: Cores,
) -> Vec<(&'s str, io::Result<Outcome>)> {
    servers
        .iter()
        .map(|server| (*server, run(server, what, perf, cores)))
        .collect()
}

/// The connect storm's (total, at once): 5,000 connections (1,000 with
/// `--quick`), 50 at a time.
fn storm_size(quick: bool) -> (usize, usize) {
    (if quick { 1_000 } else { 5_000 }, 50)
}

fn every_core_rows(label: &str, results: &[(&str, io::Result<Outcome>)], digits: usize) {
    let find = |name: &str| {
        results
            .iter()
            .find(|(s, _)| *s == name)
            .and_then(|(_, r)| r.as_ref().ok())
    };
    let one_hub = find("greenstd").map(|r| r.rate);
    let tokio_cpu = find("tokio-mt").map(|r| r.cpu_per_unit);
    for (server, result) in results {
        match result {
            Ok(r) => println!(
                "| {label} | {server} | {:.0} | {} | {:.0} µs | {:.digits$} µs | {} | {} |",
                r.rate,
                one_hub.map_or("-".into(), |one| format!("{:.2}x", r.rate / one)),
                r.p99.as_secs_f64() * 1e6,
                r.cpu_per_unit,
                tokio_cpu.map_or("-".into(), |t| format!("{:.2}", t / r.cpu_per_unit)),
                r.syscalls_per_unit
                    .map_or("n/a".into(), |s| format!("{s:.1}")),
            ),
            Err(e) => println!("| {label} | {server} | failed: {e} | | | | | |"),
        }
    }
}

/// What the load generator does.
#[derive(Clone, Copy)]
enum Load {
    /// `conns` connections echo `size`-byte messages for `duration`.
    Echo {
        conns: usize,
        size: usize,
        duration: Duration,
        /// CPU work per message in the server (see [`compute`]).
        work: u64,
    },
    /// `total` connections, `at_once` at a time: connect, echo, close.
    Storm { total: usize, at_once: usize },
}

/// Per unit: a message (echo) or a connection (storm).
struct Outcome {
    rate: f64,
    p99: Duration,
    cpu_per_unit: f64,
    syscalls_per_unit: Option<f64>,
    peak_rss_kib: u64,
}

fn run(server: &str, what: Load, perf: bool, cores: Cores) -> io::Result<Outcome> {
    let exe = std::env::current_exe()?;
    let perf_out = std::env::temp_dir().join(format!("greenstd-echo-perf-{}", std::process::id()));
    let mut cmd = if perf {
        let mut c = Command::new("perf");
        c.args(["stat", "-e", "raw_syscalls:sys_enter", "-x,", "-o"])
            .arg(&perf_out)
            .arg("--")
            .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let work = match what {
        Load::Echo { work, .. } => work,
        Load::Storm { .. } => 0,
    };
    let mut child = cmd
        .env(WORK_VAR, work.to_string())
        .args(["--serve", server, "--cores", &cores.server.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let first = lines
        .next()
        .ok_or_else(|| io::Error::other("server printed no port"))??;
    let mut first = first.split_whitespace();
    let port: u16 = first
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(io::Error::other)?;
    let pid: u32 = first
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(io::Error::other)?;
    let cpu = || process_cpu_micros(pid);
    let clients = if cores.shared {
        None
    } else {
        Some(cores.server..cores.server + cores.clients)
    };
    let load = load::in_parallel(port, cores.clients, clients, &cpu, what);
    drop(child.stdin.take()); // EOF: the server reports and exits
    // The server's last line: its peak RSS (KiB).
    let report = lines.next().transpose()?.unwrap_or_default();
    child.wait()?;
    let load = load?;
    let peak_rss_kib = report.trim().parse().unwrap_or(0);
    let cpu = load.cpu_micros;
    let syscalls = if perf {
        std::fs::read_to_string(&perf_out)
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.contains("raw_syscalls:sys_enter"))
                    .and_then(|l| l.split(',').next())
                    .and_then(|n| n.trim().parse::<f64>().ok())
            })
            .map(|n| n / load.messages as f64)
    } else {
        None
    };
    let _ = std::fs::remove_file(&perf_out);
    Ok(Outcome {
        rate: load.messages as f64 / load.elapsed.as_secs_f64(),
        p99: load.p99,
        cpu_per_unit: cpu as f64 / load.messages.max(1) as f64,
        syscalls_per_unit: syscalls,
        peak_rss_kib,
    })
}

/// The number `k` places after the flag at `i` (`--load`, `--storm`);
/// 0 when missing or unreadable.
fn number_after(args: &[String], i: usize, k: usize) -> u64 {
    args.get(i + k)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

fn serve(server: &str, cores: usize) {
    pin_to_cpus(0..cores);
    // Exit (reporting peak RSS) when the driver closes our stdin.
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = io::stdin().read_to_end(&mut sink);
        println!("{}", peak_rss_kib());
        let _ = io::stdout().flush();
        std::process::exit(0);
    });
    match server {
        "greenstd" => std_style_echo_server!(greenstd::net, greenstd::thread::spawn),
        "greenstd-hubs" => {
            greenstd::set_hubs(cores).unwrap();
            std_style_echo_server!(greenstd::net, greenstd::thread::spawn)
        }
        "greenstd-hubs-reuseport" => {
            greenstd::set_hubs(cores).unwrap();
            greenstd_listener_per_hub()
        }
        "std" => std_style_echo_server!(std::net, std::thread::spawn),
        "may" | "may-mt" => {
            may::config().set_workers(if server == "may" { 1 } else { cores });
            let go = |f: Box<dyn FnOnce() + Send>| {
                may::go!(f);
            };
            std_style_echo_server!(may::net, |f: _| go(Box::new(f)))
        }
        "tokio" => tokio_server(tokio::runtime::Builder::new_current_thread()),
        "tokio-mt" => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(cores);
            tokio_server(builder)
        }
        other => panic!("unknown server {other}"),
    }
}

fn tokio_server(mut builder: tokio::runtime::Builder) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = builder.enable_io().build().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!(
            "{} {}",
            listener.local_addr().unwrap().port(),
            std::process::id()
        );
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    compute(&buf[..n]);
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

/// Pins the calling thread (and the threads it starts later) to `cpus`.
fn pin_to_cpus(cpus: std::ops::Range<usize>) {
    // SAFETY: `set` is a zeroed, valid cpu_set_t that outlives both calls;
    // the size passed is its own.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A single-threaded mio load generator: each connection sends a message,
/// waits for the whole echo, records the round trip, and repeats.
mod load {
    use std::io::{self, Read, Write};
    use std::net::SocketAddr;
    use std::sync::Barrier;
    use std::time::{Duration, Instant};

    use mio::net::TcpStream;
    use mio::{Events, Interest, Poll, Token};

    pub struct Report {
        pub messages: u64,
        pub elapsed: Duration,
        pub p99: Duration,
        /// The server's CPU time over the measured window.
        pub cpu_micros: u64,
        /// The round trips, sorted (microseconds).
        latencies: Vec<u32>,
    }

    /// Where a generator thread waits for the others once its
    /// connections are up, so that every thread measures the same window;
    /// waits on drop if the thread failed before (no one is left hanging).
    pub struct Start<'a> {
        barrier: &'a Barrier,
        waited: bool,
    }

    impl Start<'_> {
        fn wait(&mut self) {
            if !self.waited {
                self.waited = true;
                self.barrier.wait();
            }
        }
    }

    impl Drop for Start<'_> {
        fn drop(&mut self) {
            self.wait();
        }
    }

    /// Runs `what` against the server on `port` with `threads` generator threads (pinned to `cpus` when
    /// given), the connections split between them; the window and the
    /// server's CPU time (`cpu`) are measured from when all are connected
    /// (echo) or from the start (storm) until all are done.
    pub fn in_parallel(
        port: u16,
        threads: usize,
        cpus: Option<std::ops::Range<usize>>,
        cpu: &dyn Fn() -> u64,
        what: super::Load,
    ) -> io::Result<Report> {
        let threads = threads.max(1);
        let barrier = Barrier::new(threads + 1);
        let share = |n: usize, t: usize| n / threads + usize::from(t < n % threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (barrier, cpus) = (&barrier, cpus.clone());
                    s.spawn(move || {
                        if let Some(cpus) = cpus {
                            super::pin_to_cpus(cpus);
                        }
                        let start = Start {
                            barrier,
                            waited: false,
                        };
                        match what {
                            super::Load::Echo {
                                conns,
                                size,
                                duration,
                                ..
                            } => {
                                generate(port, share(conns, t), size, duration, &|| 0, Some(start))
                            }
                            super::Load::Storm { total, at_once } => {
                                storm(port, share(total, t), share(at_once, t), &|| 0, Some(start))
                            }
                        }
                    })
                })
                .collect();
            barrier.wait();
            let began = std::time::Instant::now();
            let cpu_at_start = cpu();
            let mut messages = 0;
            let mut latencies = Vec::new();
            let mut failure = None;
            for h in handles {
                match h.join().expect("a generator thread panicked") {
                    Ok(r) => {
                        messages += r.messages;
                        latencies.extend(r.latencies);
                    }
                    Err(e) => failure = Some(e),
                }
            }
            let cpu_micros = cpu().saturating_sub(cpu_at_start);
            match failure {
                Some(e) => Err(e),
                None => report(messages, began.elapsed(), latencies, cpu_micros),
            }
        })
    }

    struct Conn {
        stream: TcpStream,
        written: usize,
        read: usize,
        started: Instant,
        connected: bool,
    }

    pub fn generate(
        port: u16,
        conns: usize,
        size: usize,
        duration: Duration,
        cpu: &dyn Fn() -> u64,
        mut start_together: Option<Start<'_>>,
    ) -> io::Result<Report> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut poll = Poll::new()?;
        let mut events = Events::with_capacity(1024);
        let message = vec![b'x'; size];
        let mut buf = vec![0u8; size.max(64 * 1024)];
        let mut all = Vec::with_capacity(conns);
        for i in 0..conns {
            let mut stream = TcpStream::connect(addr)?;
            poll.registry().register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            all.push(Conn {
                stream,
                written: 0,
                read: 0,
                started: Instant::now(),
                connected: false,
            });
            if i % 64 == 63 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let mut latencies: Vec<u32> = Vec::with_capacity(1 << 20);
        let mut messages = 0u64;
        let mut start = None;
        let mut cpu_at_start = 0;
        let deadline_after_connect = duration;
        loop {
            poll.poll(&mut events, Some(Duration::from_millis(100)))?;
            let now = Instant::now();
            if start.is_none() && all.iter().all(|c| c.connected) {
                if let Some(s) = start_together.as_mut() {
                    s.wait();
                }
                let now = Instant::now();
                start = Some(now);
                cpu_at_start = cpu();
                latencies.clear();
                messages = 0;
            }
            if let Some(s) = start
                && now.duration_since(s) >= deadline_after_connect
            {
                break;
            }
            for event in events.iter() {
                let c = &mut all[event.token().0];
                if !c.connected {
                    if c.stream.peer_addr().is_err() {
                        continue;
                    }
                    c.connected = true;
                    c.stream.set_nodelay(true)?;
                    c.started = Instant::now();
                }
                // Drive the connection as far as it goes (edge-triggered).
                loop {
                    if c.written < size {
                        match c.stream.write(&message[c.written..]) {
                            Ok(n) => c.written += n,
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) => return Err(e),
                        }
                        continue;
                    }
                    match c.stream.read(&mut buf[..size - c.read]) {
                        Ok(0) => return Err(io::Error::other("server closed")),
                        Ok(n) => {
                            c.read += n;
                            if c.read == size {
                                let now = Instant::now();
                                latencies.push(now.duration_since(c.started).as_micros() as u32);
                                messages += 1;
                                c.read = 0;
                                c.written = 0;
                                c.started = now;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        let elapsed = start.map_or(Duration::ZERO, |s| s.elapsed());
        let cpu_micros = cpu().saturating_sub(cpu_at_start);
        report(messages, elapsed, latencies, cpu_micros)
    }

    fn report(
        messages: u64,
        elapsed: Duration,
        mut latencies: Vec<u32>,
        cpu_micros: u64,
    ) -> io::Result<Report> {
        latencies.sort_unstable();
        let p99 = latencies
            .get(latencies.len().saturating_mul(99) / 100)
            .copied()
            .unwrap_or(0);
        Ok(Report {
            messages,
            elapsed,
            p99: Duration::from_micros(u64::from(p99)),
            cpu_micros,
            latencies,
        })
    }

    /// `total` connections, `at_once` in flight: each connects, writes a
    /// 64-byte message, reads the echo, and closes; a finished one makes
    /// room for the next. `messages` counts connections.
    pub fn storm(
        port: u16,
        total: usize,
        at_once: usize,
        cpu: &dyn Fn() -> u64,
        start_together: Option<Start<'_>>,
    ) -> io::Result<Report> {
        if let Some(mut s) = start_together {
            s.wait();
        }
        const SIZE: usize = 64;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut poll = Poll::new()?;
        let mut events = Events::with_capacity(1024);
        let message = [b'x'; SIZE];
        let mut buf = [0u8; SIZE];
        let mut slots: Vec<Option<Conn>> = (0..at_once).map(|_| None).collect();
        let mut started = 0;
        let mut done = 0u64;
        let mut latencies = Vec::with_capacity(total);
        let start = Instant::now();
        let cpu_at_start = cpu();
        let limit = Duration::from_secs(120);
        let open = |poll: &Poll, i: usize| -> io::Result<Conn> {
            let mut stream = TcpStream::connect(addr)?;
            poll.registry().register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(Conn {
                stream,
                written: 0,
                read: 0,
                started: Instant::now(),
                connected: false,
            })
        };
        for (i, slot) in slots.iter_mut().enumerate().take(total) {
            *slot = Some(open(&poll, i)?);
            started += 1;
        }
        while (done as usize) < total {
            if start.elapsed() > limit {
                return Err(io::Error::other("connect storm took over 2 minutes"));
            }
            poll.poll(&mut events, Some(Duration::from_millis(100)))?;
            for event in events.iter() {
                let i = event.token().0;
                let Some(c) = slots[i].as_mut() else { continue };
                if !c.connected {
                    if c.stream.peer_addr().is_err() {
                        continue;
                    }
                    c.connected = true;
                }
                let mut finished = false;
                loop {
                    if c.written < SIZE {
                        match c.stream.write(&message[c.written..]) {
                            Ok(n) => c.written += n,
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) => return Err(e),
                        }
                        continue;
                    }
                    match c.stream.read(&mut buf[..SIZE - c.read]) {
                        Ok(0) => return Err(io::Error::other("server closed early")),
                        Ok(n) => {
                            c.read += n;
                            if c.read == SIZE {
                                finished = true;
                                break;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                if finished {
                    latencies.push(c.started.elapsed().as_micros() as u32);
                    done += 1;
                    let mut old = slots[i].take().expect("in flight");
                    poll.registry().deregister(&mut old.stream)?;
                    drop(old);
                    if started < total {
                        slots[i] = Some(open(&poll, i)?);
                        started += 1;
                    }
                }
            }
        }
        let elapsed = start.elapsed();
        report(done, elapsed, latencies, cpu().saturating_sub(cpu_at_start))
    }
}
