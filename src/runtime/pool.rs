//! The blocking pool: a few OS threads for work that cannot be made
//! cooperative (name resolution with `getaddrinfo`, every `fs` call, the
//! hooked `getaddrinfo` of greenstd-monkey), and the public
//! [`spawn_blocking`](crate::spawn_blocking).
//!
//! Threads start on demand up to a cap and exit after a while idle. The
//! caller parks while its job runs, so the hub keeps running others.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::hub;
use super::task::Signal;

/// At most this many pool threads run at once.
const MAX_THREADS: usize = 64;

/// A pool thread exits after this long without work.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

struct Pool {
    queue: Mutex<Queue>,
    available: Condvar,
}

static POOL: Pool = Pool {
    queue: Mutex::new(Queue {
        jobs: VecDeque::new(),
        threads: 0,
        idle: 0,
    }),
    available: Condvar::new(),
};

fn submit(job: Job) {
    let mut queue = POOL.queue.lock().unwrap_or_else(|e| e.into_inner());
    queue.jobs.push_back(job);
    if queue.idle > 0 {
        POOL.available.notify_one();
        return;
    }
    if queue.threads < MAX_THREADS {
        let started = std::thread::Builder::new()
            .name("greenstd-blocking".into())
            .spawn(worker);
        if started.is_ok() {
            queue.threads += 1;
        }
        // If no thread could start, an existing one takes the job later.
    }
}

fn worker() {
    let mut queue = POOL.queue.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = queue.jobs.pop_front() {
            drop(queue);
            job();
            queue = POOL.queue.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        queue.idle += 1;
        // Waiting for work, it holds no user work and can wake nobody: the
        // deadlock check does not count it.
        super::context::note_idle_runtime_thread(1);
        let (guard, timeout) = POOL
            .available
            .wait_timeout(queue, IDLE_TIMEOUT)
            .unwrap_or_else(|e| e.into_inner());
        queue = guard;
        queue.idle -= 1;
        super::context::note_idle_runtime_thread(-1);
        if timeout.timed_out() && queue.jobs.is_empty() {
            queue.threads -= 1;
            return;
        }
    }
}

/// Where a pool job leaves its result.
struct Slot<T> {
    result: Mutex<Option<std::thread::Result<T>>>,
    done: Signal,
}

/// Runs `f` on the blocking pool and waits for it cooperatively; calls it
/// directly on a thread with no coroutines.
///
/// `f` may borrow from the caller: the wait cannot be cut short (a kill or
/// timeout that arrives meanwhile is held back until `f` returned), so the
/// borrow outlives the job.
pub(crate) fn run_blocking<'a, F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    if hub::is_plain_thread() {
        return f();
    }
    let slot: Arc<Slot<T>> = Arc::new(Slot {
        result: Mutex::new(None),
        done: Signal::new(),
    });
    let theirs = slot.clone();
    let job: Box<dyn FnOnce() + Send + 'a> = Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(f));
        *theirs.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        theirs.done.notify_all();
    });
    // SAFETY: only the lifetime changes. The job's borrows of `'a` live
    // at least until this function returns, and it returns only after the
    // job has run to completion (`done` is set after the job's last use
    // of `f`); interrupts during the wait are deferred below.
    let job = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + 'a>, Job>(job) };
    submit(job);
    let mut interrupted = None;
    loop {
        match catch_unwind(AssertUnwindSafe(|| slot.done.wait(None, "spawn_blocking"))) {
            Ok(Ok(true)) => break,
            // A pool thread is alive and will finish the job, so a wait
            // from the thread's context cannot be a deadlock: retry.
            Ok(Ok(false) | Err(_)) => {}
            Err(payload) => interrupted = interrupted.or(Some(payload)),
        }
    }
    if let Some(payload) = interrupted {
        resume_unwind(payload);
    }
    let result = slot
        .result
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("a finished job left its result");
    match result {
        Ok(value) => value,
        Err(payload) => resume_unwind(payload),
    }
}
