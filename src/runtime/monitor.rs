//! The starvation monitor (gevent's monitor thread): a watchdog that
//! reports a hub whose running coroutine has not switched out for longer
//! than a threshold, naming the coroutine and its thread.
//!
//! Each hub publishes a probe: a counter of coroutine resumes and the id
//! of the coroutine running now. The hot path pays two relaxed atomic
//! stores and an increment per resume. Named coroutines are listed in a
//! table of names when they are spawned (and removed when they end), so
//! the report can name the culprit; unnamed ones cost nothing there.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// What a hub shows the monitor.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    thread: String,
    resumes: AtomicU64,
    running: AtomicU64,
}

static PROBES: Mutex<Vec<Weak<Probe>>> = Mutex::new(Vec::new());
static STARTED: AtomicBool = AtomicBool::new(false);
/// Whether the monitor thread is running (it can wake nobody, so the
/// would-block-forever check does not count it).
static RUNNING: AtomicBool = AtomicBool::new(false);

/// The names of live named coroutines, by task id.
static NAMES: Mutex<Option<HashMap<u64, Box<str>>>> = Mutex::new(None);

/// Notes the name of a coroutine being spawned.
pub(crate) fn name_spawned(id: u64, name: &str) {
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    names
        .get_or_insert_with(HashMap::new)
        .insert(id, name.into());
}

/// Forgets the name of a named coroutine that ended.
pub(crate) fn name_ended(id: u64) {
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(names) = names.as_mut() {
        names.remove(&id);
    }
}

fn name_of(id: u64) -> Option<Box<str>> {
    let names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    names.as_ref()?.get(&id).cloned()
}

/// How many threads the monitor runs (0 or 1): threads that never wake a
/// waiter.
pub(crate) fn threads() -> usize {
    usize::from(RUNNING.load(Ordering::Acquire))
}

impl Probe {
    /// A probe for the calling thread's hub, registered with the monitor.
    pub(crate) fn register() -> Arc<Probe> {
        let probe = Arc::new(Probe {
            thread: std::thread::current().name().map_or_else(
                || format!("{:?}", std::thread::current().id()),
                String::from,
            ),
            ..Probe::default()
        });
        let mut probes = PROBES.lock().unwrap_or_else(|e| e.into_inner());
        probes.retain(|p| p.strong_count() > 0);
        probes.push(Arc::downgrade(&probe));
        probe
    }

    /// A coroutine (task `id`) is about to run.
    #[inline]
    pub(crate) fn enter(&self, id: u64) {
        // Only the hub's thread writes it: no locked add needed.
        let n = self.resumes.load(Ordering::Relaxed);
        self.resumes.store(n.wrapping_add(1), Ordering::Relaxed);
        self.running.store(id, Ordering::Relaxed);
    }

    /// The running coroutine switched out.
    #[inline]
    pub(crate) fn leave(&self) {
        self.running.store(0, Ordering::Relaxed);
    }
}

/// Starts the monitor thread (once per process): every `threshold / 2` it
/// checks each hub, and reports on stderr a coroutine that has run for
/// `threshold` or more without a blocking call or `yield_now`.
pub(crate) fn start(threshold: Duration) {
    if STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    let period = (threshold / 2).max(Duration::from_millis(1));
    let started = std::thread::Builder::new()
        .name("greenstd-monitor".into())
        .spawn(move || watch(threshold, period));
    if started.is_ok() {
        RUNNING.store(true, Ordering::Release);
    }
}

fn watch(threshold: Duration, period: Duration) {
    // Per probe: (resumes seen, running id seen, since when, reported).
    let mut seen: Vec<(Weak<Probe>, u64, u64, Instant, bool)> = Vec::new();
    loop {
        std::thread::sleep(period);
        let probes: Vec<Weak<Probe>> = PROBES.lock().unwrap_or_else(|e| e.into_inner()).clone();
        seen.retain(|(p, ..)| p.strong_count() > 0);
        for weak in probes {
            let Some(probe) = weak.upgrade() else {
                continue;
            };
            let (resumes, running) = (
                probe.resumes.load(Ordering::Relaxed),
                probe.running.load(Ordering::Relaxed),
            );
            let now = Instant::now();
            match seen.iter_mut().find(|(p, ..)| p.ptr_eq(&weak)) {
                None => seen.push((weak, resumes, running, now, false)),
                Some(entry) => {
                    let (_, last_resumes, last_running, since, reported) = entry;
                    if *last_resumes != resumes || *last_running != running || running == 0 {
                        *entry = (entry.0.clone(), resumes, running, now, false);
                    } else if !*reported && now.duration_since(*since) >= threshold {
                        *reported = true;
                        let who = match name_of(running) {
                            Some(name) => format!("<Greenlet {name:?} #{running}>"),
                            None => format!("<Greenlet #{running}>"),
                        };
                        eprintln!(
                            "greenstd monitor: coroutine {who} on thread '{}' has run for \
                             {:.0?} without switching out, stalling every other coroutine of \
                             its thread; add greenstd::thread::yield_now() to long computations \
                             or move them to greenstd::spawn_blocking",
                            probe.thread,
                            now.duration_since(*since)
                        );
                    }
                }
            }
        }
    }
}
