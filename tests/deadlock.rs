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
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("GREENSTD_DEADLOCK_CHILD", "1")
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
            assert!(status.success(), "deadlock cases failed: {status}");
            check_reports(&stderr);
            println!("deadlock: all cases passed");
            return;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("the deadlock cases hung for {LIMIT:?}");
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
