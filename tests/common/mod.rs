//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// A generous bound for waits in tests: the machine is small and noisy.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Runs the test `name` of the current test binary in a child process with
/// `GREENSTD_CHILD=1` and returns (success, stderr).
pub fn run_child(name: &str) -> (bool, String) {
    let (status, stderr) = run_child_status(name);
    (status.success(), stderr)
}

/// As [`run_child`], returning the child's exit status itself (to tell a
/// test failure, exit code 101, from an abort, signal 6).
pub fn run_child_status(name: &str) -> (std::process::ExitStatus, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("GREENSTD_CHILD", "1")
        .output()
        .expect("run the test binary");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether this process is a child started by [`run_child`].
pub fn is_child() -> bool {
    std::env::var_os("GREENSTD_CHILD").is_some()
}

/// Polls `cond` (yielding to coroutines meanwhile) until it holds or
/// [`PATIENCE`] runs out.
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        if cond() {
            return true;
        }
        greenstd::thread::sleep(Duration::from_millis(1));
    }
    cond()
}

/// How many file descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// Holds the test binary to one hub, whatever `GREENSTD_HUBS` says: for
/// files whose tests are about one thread's hub (where coroutines run,
/// their order). Every test of such a file calls it first, so that no
/// spawn decides the count before it.
pub fn one_hub() {
    greenstd::set_hubs(1).expect("one hub for this test binary");
}
