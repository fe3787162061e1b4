//! A hook entered from a signal handler passes straight through, even when
//! the signal interrupts a coroutine: parking inside a handler would switch
//! stacks with the signal blocked and the hub's state half-updated. One
//! test, in its own binary, because it must install a handler before
//! `patch_all` runs.

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SA_RESTORER: libc::c_int = 0x0400_0000;

/// The socket the handlers read from (no data ever comes).
static SOCKET: AtomicI32 = AtomicI32::new(-1);
/// Ticks of the ticker coroutine, seen by the handler before and after
/// its read.
static TICKS: AtomicUsize = AtomicUsize::new(0);
/// What the handler saw: ticks during its read (`usize::MAX`: not run),
/// and its errno.
static TICKS_DURING: AtomicUsize = AtomicUsize::new(usize::MAX);
static HANDLER_ERRNO: AtomicI32 = AtomicI32::new(0);

/// A handler that makes a blocking socket read (100 ms `SO_RCVTIMEO`):
/// passed through, it blocks the thread, so no tick happens meanwhile.
fn read_in_handler() {
    let before = TICKS.load(Ordering::SeqCst);
    let mut byte = 0u8;
    // SAFETY: a valid socket and a one-byte buffer.
    let n = unsafe { libc::recv(SOCKET.load(Ordering::SeqCst), (&raw mut byte).cast(), 1, 0) };
    // SAFETY: this thread's errno.
    let e = unsafe { *libc::__errno_location() };
    HANDLER_ERRNO.store(if n < 0 { e } else { 0 }, Ordering::SeqCst);
    TICKS_DURING.store(TICKS.load(Ordering::SeqCst) - before, Ordering::SeqCst);
}

extern "C" fn plain_handler(_: libc::c_int) {
    read_in_handler();
}

extern "C" fn info_handler(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // The kernel's siginfo reaches the program's handler.
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    assert_eq!(unsafe { (*info).si_signo }, libc::SIGUSR1);
    read_in_handler();
}

fn install(signal: libc::c_int, handler: usize, flags: libc::c_int) {
    // SAFETY: a valid sigaction for a catchable signal.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = handler;
        act.sa_flags = flags;
        libc::sigemptyset(&mut act.sa_mask);
        assert_eq!(libc::sigaction(signal, &act, std::ptr::null_mut()), 0);
    }
}

fn current(signal: libc::c_int) -> (usize, libc::c_int) {
    // SAFETY: a query into a valid sigaction.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signal, std::ptr::null(), &mut old), 0);
        // glibc adds SA_RESTORER (its return trampoline) to every action.
        (old.sa_sigaction, old.sa_flags & !SA_RESTORER)
    }
}

/// Raises `signal` at this thread from inside a coroutine, beside a ticker
/// on the same hub; returns (ticks during the handler's read, its errno).
fn raise_in_coroutine(signal: libc::c_int) -> (usize, i32) {
    TICKS_DURING.store(usize::MAX, Ordering::SeqCst);
    let ticker = greenstd::thread::spawn(|| {
        let start = Instant::now();
        while TICKS_DURING.load(Ordering::SeqCst) == usize::MAX
            && start.elapsed() < Duration::from_secs(30)
        {
            TICKS.fetch_add(1, Ordering::SeqCst);
            greenstd::thread::sleep(Duration::from_millis(1));
        }
    });
    let raiser = greenstd::thread::spawn(move || {
        greenstd::thread::sleep(Duration::from_millis(5));
        // SAFETY: signals this thread; the handler runs before it returns.
        assert_eq!(
            unsafe { libc::pthread_kill(libc::pthread_self(), signal) },
            0
        );
    });
    raiser.join().unwrap();
    ticker.join().unwrap();
    (
        TICKS_DURING.load(Ordering::SeqCst),
        HANDLER_ERRNO.load(Ordering::SeqCst),
    )
}

#[test]
fn a_hook_called_from_a_signal_handler_passes_through() {
    // About one thread's hub: one hub, whatever GREENSTD_HUBS says.
    greenstd::set_hubs(1).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let socket = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let _peer = listener.accept().unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    SOCKET.store(socket.as_raw_fd(), Ordering::SeqCst);

    // Installed before patch_all: wrapped by it.
    let info = info_handler as *const () as usize;
    install(libc::SIGUSR1, info, libc::SA_SIGINFO);
    greenstd_monkey::patch_all().unwrap();
    assert_eq!(current(libc::SIGUSR1), (info, libc::SA_SIGINFO));
    // The read blocked the thread for its timeout and failed as the kernel
    // says; no tick happened meanwhile: the hook did not park.
    assert_eq!(raise_in_coroutine(libc::SIGUSR1), (0, libc::EAGAIN));

    // Installed after patch_all, with `signal`: wrapped, and reported back
    // as given (glibc's BSD semantics: SA_RESTART).
    let plain = plain_handler as *const () as usize;
    // SAFETY: installs a valid handler for a catchable signal.
    let previous = unsafe { libc::signal(libc::SIGUSR2, plain) };
    assert_eq!(previous, libc::SIG_DFL);
    assert_eq!(current(libc::SIGUSR2), (plain, libc::SA_RESTART));
    assert_eq!(raise_in_coroutine(libc::SIGUSR2), (0, libc::EAGAIN));
    // SAFETY: as above; the old handler comes back as the program's.
    assert_eq!(unsafe { libc::signal(libc::SIGUSR2, libc::SIG_IGN) }, plain);
    assert_eq!(current(libc::SIGUSR2).0, libc::SIG_IGN);

    // Outside a handler the same read, in a coroutine, parks as usual.
    let mut during = 0;
    let ticker = greenstd::thread::spawn(|| {
        for _ in 0..20 {
            TICKS.fetch_add(1, Ordering::SeqCst);
            greenstd::thread::sleep(Duration::from_millis(1));
        }
    });
    let reader = greenstd::thread::spawn(|| {
        let before = TICKS.load(Ordering::SeqCst);
        read_in_handler();
        TICKS.load(Ordering::SeqCst) - before
    });
    during += reader.join().unwrap();
    ticker.join().unwrap();
    assert!(during > 0, "a plain hooked read did not park");
    assert_eq!(HANDLER_ERRNO.load(Ordering::SeqCst), libc::EAGAIN);
}
