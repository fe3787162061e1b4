//! Running out of memory maps for stacks is a clear `io::Error` from
//! `Builder::spawn` and a clear panic from `spawn`, never a crash.
//!
//! Each live coroutine uses two memory maps (stack and guard page), so
//! Linux's default `vm.max_map_count` caps live coroutines near 32,700. The
//! case runs in a child process (it exhausts the process's maps on purpose)
//! and without libtest's harness, whose threads would share the limit.

use std::io;
use std::process::Command;
use std::time::{Duration, Instant};

use greenstd::thread::{self, Builder};

const MAX_COROUTINES: usize = 200_000;
const LIMIT: Duration = Duration::from_secs(300);

fn main() {
    if std::env::var_os("GREENSTD_STACK_CHILD").is_some() {
        child();
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("GREENSTD_STACK_CHILD", "1")
        .spawn()
        .expect("start the child");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "stack limit case failed: {status}");
            println!("stack_limits: passed");
            return;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("the stack limit case hung for {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn child() {
    let mut handles = Vec::with_capacity(MAX_COROUTINES);
    let error = loop {
        if handles.len() == MAX_COROUTINES {
            eprintln!("no map limit reached after {MAX_COROUTINES} coroutines; nothing to test");
            return;
        }
        match Builder::new().spawn(thread::park) {
            Ok(h) => handles.push(h),
            Err(e) => break e,
        }
    };
    eprintln!("refused after {} live coroutines: {error}", handles.len());
    assert_eq!(error.kind(), io::ErrorKind::WouldBlock); // std's kind
    assert!(error.to_string().contains("vm.max_map_count"), "{error}");

    let panicked = std::panic::catch_unwind(|| thread::spawn(|| ()));
    let payload = panicked.expect_err("spawn must panic when no stack can be mapped");
    let message = payload.downcast_ref::<String>().expect("a message");
    assert!(message.contains("vm.max_map_count"), "{message}");

    // Freeing the coroutines makes room again.
    let live = handles.len();
    for h in &handles {
        h.thread().unpark();
    }
    for h in handles {
        h.join().unwrap();
    }
    let again = thread::spawn(|| 1);
    assert_eq!(again.join().unwrap(), 1);
    // The ended coroutines' stacks may still be pooled (the hub unmaps the
    // excess when idle): a stack of another size still finds room, as the
    // pool gives its idle stacks back first.
    let other_size = Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| 2)
        .expect("room made by the pool");
    assert_eq!(other_size.join().unwrap(), 2);
    eprintln!("recovered after releasing {live} coroutines");
    // Returning drops the pooled stacks with the hub, at thread exit.
}
