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
        .spawn()
        .expect("start the child");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "deadlock cases failed: {status}");
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
    eprintln!("child: ok");
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
