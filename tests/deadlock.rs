//! "Would block forever": a wait from the thread's own context that nothing
//! could end fails (gevent's `LoopExit`) instead of hanging.
//!
//! Runs without libtest's harness: libtest keeps extra threads alive, and a
//! thread that could still wake us makes the wait legitimately endless. The
//! cases run in a child process so that the parent can enforce a time limit.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;
use std::time::{Duration, Instant};

use greenstd::WouldBlockForever;
use greenstd::thread;

const LIMIT: Duration = Duration::from_secs(60);

fn main() {
    if std::env::var_os("GREENSTD_DEADLOCK_CHILD").is_some() {
        child();
        return;
    }
    // Once with one hub (the default), once with two worker hubs: then the
    // coroutines live on the workers, and the check must count both idle.
    for hubs in ["1", "2"] {
        run_child(hubs);
    }
    println!("deadlock: all cases passed");
}

fn run_child(hubs: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("GREENSTD_DEADLOCK_CHILD", "1")
        .env("GREENSTD_HUBS", hubs)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the child");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let stderr = reader.join().unwrap();
            eprint!("{stderr}");
            assert!(
                status.success(),
                "deadlock cases failed ({hubs} hubs): {status}"
            );
            check_reports(&stderr);
            if hubs != "1" {
                assert!(stderr.contains("On hub thread 'greenstd-hub-"), "{stderr}");
            }
            return;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("the deadlock cases hung for {LIMIT:?} ({hubs} hubs)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn child() {
    join_of_a_coroutine_parked_forever();
    park_with_nothing_to_wake_it();
    switch_that_nobody_answers();
    no_false_alarm_with_a_timer();
    no_false_alarm_with_another_thread();
    no_false_alarm_while_coroutines_wake_each_other();
    a_deadlock_under_the_monitor_hung();
    eprintln!("child: ok");
}

/// A would-block-forever `join` used to fail silently: `join().unwrap()`
/// showed only `Any { .. }`. Now stderr tells what waited, and which
/// coroutines are parked, where they were spawned and on what they wait.
fn check_reports(stderr: &str) {
    assert!(
        stderr.contains("greenstd: on thread 'main': JoinHandle::join would block forever"),
        "{stderr}"
    );
    assert!(stderr.contains("spawned at tests/deadlock.rs:"), "{stderr}");
    assert!(stderr.contains("parked in thread::park"), "{stderr}");
    assert!(stderr.contains("<Greenlet \"left\" #"), "{stderr}");
    assert!(stderr.contains("parked in Receiver::recv"), "{stderr}");
}

/// `start_monitor` used to switch deadlock detection off (its thread
/// counted as one that could wake the waiter): two coroutines waiting on
/// each other's channel hung instead of failing.
fn a_deadlock_under_the_monitor_hung() {
    use greenstd::sync::mpsc;
    greenstd::start_monitor(Duration::from_secs(5));
    let (to_left, from_right) = mpsc::channel::<()>();
    let (to_right, from_left) = mpsc::channel::<()>();
    let left = thread::Builder::new()
        .name("left".into())
        .spawn(move || {
            let _keep = to_right;
            from_right.recv().unwrap();
        })
        .unwrap();
    let right = thread::spawn(move || {
        let _keep = to_left;
        from_left.recv().unwrap();
    });
    let err = left.join().unwrap_err();
    assert!(err.is::<WouldBlockForever>());
    drop(right);
}

fn join_of_a_coroutine_parked_forever() {
    let h = thread::spawn(thread::park);
    let err = h.join().unwrap_err();
    let e = err
        .downcast_ref::<WouldBlockForever>()
        .expect("a WouldBlockForever payload");
    assert_eq!(e.waited_on(), "JoinHandle::join");
    assert!(e.to_string().contains("would block forever"));
    eprintln!("case 1: {e}");
}

fn park_with_nothing_to_wake_it() {
    let r = catch_unwind(thread::park);
    let payload = r.unwrap_err();
    let e = payload.downcast_ref::<WouldBlockForever>().unwrap();
    assert_eq!(e.waited_on(), "thread::park");
}

fn switch_that_nobody_answers() {
    // The greenlet parks for good; it never ends, so nothing switches back.
    let g = greenstd::Greenlet::new(thread::park);
    let r = catch_unwind(AssertUnwindSafe(|| g.switch()));
    let payload = r.unwrap_err();
    assert!(payload.is::<WouldBlockForever>());
}

fn no_false_alarm_with_a_timer() {
    let h = thread::spawn(|| {
        thread::sleep(Duration::from_millis(300));
        1
    });
    assert_eq!(h.join().unwrap(), 1);
}

fn no_false_alarm_with_another_thread() {
    let parked = thread::spawn(|| {
        thread::park();
        2
    });
    let target = parked.thread().clone();
    let os = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        target.unpark();
    });
    assert_eq!(parked.join().unwrap(), 2);
    os.join().unwrap();
}

/// Two coroutines (on two worker hubs when there are two) hand a token back
/// and forth for a while; the thread joining them waits with nothing of its
/// own to do, and its deadlock checks must never count out both sides
/// while a wake-up is on its way from one to the other.
fn no_false_alarm_while_coroutines_wake_each_other() {
    use greenstd::sync::mpsc;
    const ROUNDS: usize = 1_000_000;
    let run_for = Duration::from_millis(1500);
    let (to_b, at_b) = mpsc::channel::<usize>();
    let (to_a, at_a) = mpsc::channel::<usize>();
    let a = thread::spawn(move || {
        let start = Instant::now();
        let mut rounds = 0;
        while rounds < ROUNDS && start.elapsed() < run_for {
            to_b.send(rounds).unwrap();
            rounds = at_a.recv().unwrap() + 1;
        }
        rounds
    });
    let b = thread::spawn(move || {
        while let Ok(n) = at_b.recv() {
            if to_a.send(n).is_err() {
                break;
            }
        }
    });
    assert!(a.join().unwrap() > 0);
    b.join().unwrap();
}
