//! Auto traits and variance of every public type, against std's.
//!
//! Each greenstd type must implement `Send`, `Sync`, `Unpin`,
//! `UnwindSafe` and `RefUnwindSafe` whenever std's does, for element types
//! that are each of those or not; and must be covariant wherever std's is
//! (a function that shortens a lifetime only compiles then). Code written
//! for std then compiles against greenstd. A trait greenstd has and std
//! lacks is allowed (stable Rust cannot rely on a type *not* being `Sync`):
//! the test lists those it knows, so a new one is noticed.
//! std's own `test_read_guard_covariance` did not compile against
//! greenstd's `RwLockReadGuard`.

#![allow(clippy::type_complexity)]

use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::rc::Rc;

/// Tells, for a concrete type, which auto traits it has: the inherent
/// method applies when the bound holds, the trait's fallback otherwise.
struct Probe<T: ?Sized>(PhantomData<T>);

trait Fallback {
    fn send(&self) -> bool {
        false
    }
    fn sync(&self) -> bool {
        false
    }
    fn unpin(&self) -> bool {
        false
    }
    fn unwind_safe(&self) -> bool {
        false
    }
    fn ref_unwind_safe(&self) -> bool {
        false
    }
}

impl<T: ?Sized> Fallback for Probe<T> {}

impl<T: ?Sized + Send> Probe<T> {
    fn send(&self) -> bool {
        true
    }
}
impl<T: ?Sized + Sync> Probe<T> {
    fn sync(&self) -> bool {
        true
    }
}
impl<T: ?Sized + Unpin> Probe<T> {
    fn unpin(&self) -> bool {
        true
    }
}
impl<T: ?Sized + std::panic::UnwindSafe> Probe<T> {
    fn unwind_safe(&self) -> bool {
        true
    }
}
impl<T: ?Sized + std::panic::RefUnwindSafe> Probe<T> {
    fn ref_unwind_safe(&self) -> bool {
        true
    }
}

macro_rules! traits {
    ($t:ty) => {{
        let p = Probe::<$t>(PhantomData);
        [
            ("Send", p.send()),
            ("Sync", p.sync()),
            ("Unpin", p.unpin()),
            ("UnwindSafe", p.unwind_safe()),
            ("RefUnwindSafe", p.ref_unwind_safe()),
        ]
    }};
}

/// Collects the differences between std's types and greenstd's.
struct Report {
    /// Traits std's type has and greenstd's lacks: defects.
    missing: Vec<String>,
    /// Traits greenstd's type has and std's lacks, by type name.
    extra: Vec<String>,
}

impl Report {
    fn compare(&mut self, name: &str, std: [(&str, bool); 5], ours: [(&str, bool); 5]) {
        let name = name.replace(' ', "");
        for ((t, a), (_, b)) in std.iter().zip(ours.iter()) {
            match (a, b) {
                (true, false) => self.missing.push(format!("{name} is not {t}, std's is")),
                (false, true) => {
                    let base = name.split('<').next().unwrap_or(&name).to_string();
                    let entry = format!("{base}: {t}");
                    if !self.extra.contains(&entry) {
                        self.extra.push(entry);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The traits greenstd's types have beyond std's, each for a reason.
const KNOWN_EXTRAS: &[(&str, &str)] = &[
    // Built on std's Mutex and Arc, not on UnsafeCell: thread-safe and
    // unwind-safe where std's hand-rolled channel and packet are not.
    (
        "sync::mpsc::Receiver: Sync",
        "the receiver's state is behind a mutex",
    ),
    ("sync::mpsc::Iter: Send", "it borrows a Sync receiver"),
    ("sync::mpsc::Iter: Sync", "it borrows a Sync receiver"),
    ("sync::mpsc::TryIter: Send", "it borrows a Sync receiver"),
    ("sync::mpsc::TryIter: Sync", "it borrows a Sync receiver"),
    ("sync::mpsc::IntoIter: Sync", "it owns a Sync receiver"),
    ("sync::OnceState: Sync", "a plain bool, not a Cell"),
    ("sync::OnceState: RefUnwindSafe", "a plain bool, not a Cell"),
    (
        "thread::JoinHandle: UnwindSafe",
        "the result changes hands through atomics (runtime::End)",
    ),
    (
        "thread::JoinHandle: RefUnwindSafe",
        "the result changes hands through atomics (runtime::End)",
    ),
    (
        "thread::ScopedJoinHandle: UnwindSafe",
        "the result changes hands through atomics (runtime::End)",
    ),
    // std's JoinHandle is Send and Sync for every T (no handle with a T
    // that is not Send can exist); greenstd's packet is, so its scoped
    // handle is too.
    ("thread::ScopedJoinHandle: Send", "as std's JoinHandle"),
    ("thread::ScopedJoinHandle: Sync", "as std's JoinHandle"),
    (
        "thread::ScopedJoinHandle: RefUnwindSafe",
        "the result changes hands through atomics (runtime::End)",
    ),
];

/// Compares `std::$path<$arg>` with `greenstd::$path<$arg>` for element
/// types covering each combination of auto traits.
macro_rules! generic {
    ($report:expr, $($path:ident)::+ < $($pre:lifetime,)? _ $(, $post:ty)? >) => {
        generic!(@one $report, $($path)::+, [$($pre,)?], [$(, $post)?], i32);
        generic!(@one $report, $($path)::+, [$($pre,)?], [$(, $post)?], Rc<i32>);
        generic!(@one $report, $($path)::+, [$($pre,)?], [$(, $post)?], Cell<i32>);
        generic!(@one $report, $($path)::+, [$($pre,)?], [$(, $post)?], UnsafeCell<i32>);
        generic!(@one $report, $($path)::+, [$($pre,)?], [$(, $post)?], *const i32);
        generic!(@one $report, $($path)::+, [$($pre,)?], [$(, $post)?], std::marker::PhantomPinned);
        generic!(@one $report, $($path)::+, [$($pre,)?], [$(, $post)?], &'static mut i32);
    };
    (@one $report:expr, $($path:ident)::+, [$($pre:lifetime,)?], [$(, $post:ty)?], $arg:ty) => {
        $report.compare(
            concat!(stringify!($($path)::+), "<", stringify!($arg), ">"),
            traits!(std::$($path)::+<$($pre,)? $arg $(, $post)?>),
            traits!(greenstd::$($path)::+<$($pre,)? $arg $(, $post)?>),
        );
    };
}

macro_rules! plain {
    ($report:expr, $($path:ident)::+ $(<$($l:lifetime),+>)?) => {
        $report.compare(
            stringify!($($path)::+),
            traits!(std::$($path)::+ $(<$($l),+>)?),
            traits!(greenstd::$($path)::+ $(<$($l),+>)?),
        );
    };
}

#[test]
fn auto_traits_match_std_s() {
    let mut r = Report {
        missing: Vec::new(),
        extra: Vec::new(),
    };
    // sync
    generic!(r, sync::Mutex<_>);
    generic!(r, sync::MutexGuard<'static, _>);
    generic!(r, sync::RwLock<_>);
    generic!(r, sync::RwLockReadGuard<'static, _>);
    generic!(r, sync::RwLockWriteGuard<'static, _>);
    generic!(r, sync::OnceLock<_>);
    generic!(r, sync::LazyLock<_>);
    generic!(r, sync::mpsc::Sender<_>);
    generic!(r, sync::mpsc::SyncSender<_>);
    generic!(r, sync::mpsc::Receiver<_>);
    generic!(r, sync::mpsc::Iter<'static, _>);
    generic!(r, sync::mpsc::TryIter<'static, _>);
    generic!(r, sync::mpsc::IntoIter<_>);
    plain!(r, sync::Condvar);
    plain!(r, sync::Barrier);
    plain!(r, sync::BarrierWaitResult);
    plain!(r, sync::WaitTimeoutResult);
    plain!(r, sync::Once);
    plain!(r, sync::OnceState);
    // thread
    generic!(r, thread::JoinHandle<_>);
    generic!(r, thread::ScopedJoinHandle<'static, _>);
    generic!(r, thread::LocalKey<_>);
    plain!(r, thread::Thread);
    plain!(r, thread::ThreadId);
    plain!(r, thread::Builder);
    plain!(r, thread::Scope<'static, 'static>);
    plain!(r, thread::AccessError);
    // net
    plain!(r, net::TcpStream);
    plain!(r, net::TcpListener);
    plain!(r, net::UdpSocket);
    plain!(r, net::Incoming<'static>);
    plain!(r, os::unix::net::UnixStream);
    plain!(r, os::unix::net::UnixListener);
    plain!(r, os::unix::net::UnixDatagram);
    plain!(r, os::unix::net::Incoming<'static>);
    // fs
    plain!(r, fs::File);
    plain!(r, fs::OpenOptions);
    plain!(r, fs::ReadDir);
    plain!(r, fs::DirEntry);
    plain!(r, fs::DirBuilder);
    assert!(
        r.missing.is_empty(),
        "greenstd lacks auto traits std has:\n{}",
        r.missing.join("\n")
    );
    let unknown: Vec<&String> = r
        .extra
        .iter()
        .filter(|e| !KNOWN_EXTRAS.iter().any(|(k, _)| k == e))
        .collect();
    assert!(
        unknown.is_empty(),
        "new traits beyond std's (list them with a reason): {unknown:?}"
    );
}

/// std's own test, verbatim but for the imports.
#[test]
fn test_read_guard_covariance() {
    use greenstd::sync::{RwLock, RwLockReadGuard};
    fn do_stuff<'a>(_: RwLockReadGuard<'_, &'a i32>, _: &'a i32) {}
    let j: i32 = 5;
    let lock = RwLock::new(&j);
    {
        let i = 6;
        do_stuff(lock.read().unwrap(), &i);
    }
    drop(lock);
}

/// Each function compiles only if the type is covariant where std's is:
/// in `T` for the read guard, in the lifetime for every borrowing type.
#[allow(dead_code)]
mod covariance {
    use greenstd::{net, sync, thread};

    fn read_guard_t<'a>(
        g: sync::RwLockReadGuard<'static, &'static ()>,
    ) -> sync::RwLockReadGuard<'static, &'a ()> {
        g
    }
    fn read_guard_lifetime<'a>(
        g: sync::RwLockReadGuard<'static, ()>,
    ) -> sync::RwLockReadGuard<'a, ()> {
        g
    }
    fn write_guard_lifetime<'a>(
        g: sync::RwLockWriteGuard<'static, ()>,
    ) -> sync::RwLockWriteGuard<'a, ()> {
        g
    }
    fn mutex_guard_lifetime<'a>(g: sync::MutexGuard<'static, ()>) -> sync::MutexGuard<'a, ()> {
        g
    }
    fn iter_lifetime<'a>(i: sync::mpsc::Iter<'static, ()>) -> sync::mpsc::Iter<'a, ()> {
        i
    }
    fn try_iter_lifetime<'a>(i: sync::mpsc::TryIter<'static, ()>) -> sync::mpsc::TryIter<'a, ()> {
        i
    }
    fn incoming_lifetime<'a>(i: net::Incoming<'static>) -> net::Incoming<'a> {
        i
    }
    fn unix_incoming_lifetime<'a>(
        i: greenstd::os::unix::net::Incoming<'static>,
    ) -> greenstd::os::unix::net::Incoming<'a> {
        i
    }
    fn scoped_handle_lifetime<'a>(
        h: thread::ScopedJoinHandle<'static, ()>,
    ) -> thread::ScopedJoinHandle<'a, ()> {
        h
    }
}
