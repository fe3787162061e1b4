//! Worker hubs: one OS thread each (`greenstd-hub-0`...), started on the
//! first spawn that wants one, living until the process exits. How many:
//! [`set_hubs`] before the first spawn, or `GREENSTD_HUBS` in the
//! environment (`0` or `auto`: one per available core); by default 1,
//! which means none: every coroutine runs on the thread that spawned it.
//!
//! Coroutines never migrate. Spreading happens only at creation: a spawn
//! from a thread's own context (not inside a coroutine) starts the
//! coroutine on the next worker, round robin; a spawn inside a coroutine
//! stays on that coroutine's hub. [`Placement`] overrides the rule.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::context;
use super::hub::{Hub, Remote};

/// 0 until decided; then the hub count.
static HUBS: AtomicUsize = AtomicUsize::new(0);

static WORKERS: OnceLock<Vec<Arc<Remote>>> = OnceLock::new();

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Where a new coroutine starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Placement {
    /// The rule: on a worker hub when there are several hubs (see
    /// [`set_hubs`](crate::set_hubs)) and the
    /// spawner is a thread's own context; on the spawner's hub otherwise.
    #[default]
    Auto,
    /// On the spawning thread's own hub, whatever the hub count.
    ThisThread,
    /// On a worker hub when there are several hubs, even from inside a
    /// coroutine; on the spawner's hub when there is one.
    Worker,
    /// On worker hub `i` (counted modulo the hub count) when there are
    /// several hubs; on the spawner's hub when there is one. For one
    /// coroutine per hub, such as an accept loop per hub over
    /// [`net::bind_per_hub`](crate::net::bind_per_hub)'s listeners.
    Hub(usize),
}

/// `n`, or one per available core for 0.
fn resolve(n: usize) -> usize {
    if n == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    } else {
        n
    }
}

/// The hub count from `GREENSTD_HUBS`; 1 when unset; an unreadable value
/// is reported once on stderr and counts as 1.
fn from_env() -> usize {
    match std::env::var("GREENSTD_HUBS") {
        Err(_) => 1,
        Ok(v) if v.trim().eq_ignore_ascii_case("auto") => resolve(0),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) => resolve(n),
            Err(_) => {
                eprintln!("greenstd: GREENSTD_HUBS={v:?} is not a number or \"auto\"; using 1 hub");
                1
            }
        },
    }
}

/// How many hubs coroutines spread over (1: none but the spawner's).
pub(crate) fn hubs() -> usize {
    match HUBS.load(Ordering::Acquire) {
        0 => {
            let n = from_env();
            match HUBS.compare_exchange(0, n, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => n,
                Err(set) => set,
            }
        }
        n => n,
    }
}

/// Sets the hub count (0: one per core) before the first spawn.
///
/// # Errors
/// `InvalidInput` once the count was decided (by an earlier call, or by
/// the first spawn) and `n` differs from it.
pub(crate) fn set_hubs(n: usize) -> io::Result<()> {
    let n = resolve(n);
    match HUBS.compare_exchange(0, n, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Ok(()),
        Err(set) if set == n => Ok(()),
        Err(set) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "greenstd::set_hubs({n}): the hub count is already {set}; set it before the \
                 first spawn"
            ),
        )),
    }
}

/// The worker hub a new coroutine should start on, or `None` for the
/// spawner's own hub.
pub(crate) fn place(placement: Placement) -> io::Result<Option<Arc<Remote>>> {
    let wanted = match placement {
        Placement::ThisThread => false,
        Placement::Auto => !context::in_coroutine(),
        Placement::Worker | Placement::Hub(_) => true,
    };
    if !wanted || hubs() <= 1 {
        return Ok(None);
    }
    let workers = workers()?;
    let i = match placement {
        Placement::Hub(i) => i % workers.len(),
        _ => NEXT.fetch_add(1, Ordering::Relaxed) % workers.len(),
    };
    let remote = &workers[i];
    // A worker's turn that falls on the spawner's own hub spawns in place:
    // the same outcome without a trip through its injection queue.
    if super::task::Schedule::is_local(&**remote) {
        return Ok(None);
    }
    Ok(Some(remote.clone()))
}

/// The coroutines of every worker hub but the caller's, for a
/// would-block-forever report: a paragraph per hub that has any. Empty
/// when there are no workers.
pub(crate) fn describe_workers() -> String {
    let Some(workers) = WORKERS.get() else {
        return String::new();
    };
    let mut text = String::new();
    for (i, remote) in workers.iter().enumerate() {
        if super::task::Schedule::is_local(&**remote) {
            continue;
        }
        match remote.describe(std::time::Duration::from_millis(500)) {
            Some(list) if list.is_empty() => {}
            Some(list) => {
                text.push_str(&format!("On hub thread 'greenstd-hub-{i}':\n{list}"));
            }
            None => text.push_str(&format!("Hub thread 'greenstd-hub-{i}' did not answer.\n")),
        }
    }
    text
}

/// The worker hubs, started on first use.
fn workers() -> io::Result<&'static [Arc<Remote>]> {
    if let Some(w) = WORKERS.get() {
        return Ok(w);
    }
    static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = WORKERS.get() {
        return Ok(w);
    }
    let n = hubs();
    let mut remotes = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name(format!("greenstd-hub-{i}"))
            .spawn(move || match Hub::get() {
                Ok(hub) => {
                    let _ = tx.send(Ok(hub.remote()));
                    hub.serve_forever()
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            })?;
        let remote = rx
            .recv()
            .map_err(|_| io::Error::other("a worker hub ended before it started"))??;
        remotes.push(remote);
    }
    Ok(WORKERS.get_or_init(|| remotes))
}
