//! Every hook, inside a coroutine (shown to yield: a ticker coroutine on
//! the same hub progressed while it waited) and outside one (libc's
//! behaviour, errors and errno included); a non-blocking socket, a socket
//! timeout, a closed and reused fd, a forked child, errno across a park, a
//! kill during a hooked wait.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenstd::thread;

fn patch() {
    greenstd_monkey::patch_all().expect("patch");
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap()
}

fn set_errno(v: i32) {
    // SAFETY: this thread's errno slot.
    unsafe { *libc::__errno_location() = v };
}

/// Runs `call` in a coroutine beside a ticker on the same hub; returns
/// its result and how many ticks happened while it ran. A call that
/// blocked the hub would see none.
fn while_ticking<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> (T, usize) {
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t, s) = (ticks.clone(), stop.clone());
    // Both on this test thread's own hub, whatever GREENSTD_HUBS says: the
    // ticks prove the call yielded only when the ticker shares its hub
    // (with worker hubs, round robin would part them, and another test's
    // work on the ticker's worker could stall it).
    let here = || thread::Builder::new().placement(greenstd::Placement::ThisThread);
    let ticker = here()
        .spawn(move || {
            let start = Instant::now();
            while !s.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(30) {
                t.fetch_add(1, Ordering::SeqCst);
                greenstd::thread::sleep(Duration::from_millis(1));
            }
        })
        .unwrap();
    let t = ticks.clone();
    let probe = here()
        .spawn(move || {
            let before = t.load(Ordering::SeqCst);
            let value = call();
            (value, t.load(Ordering::SeqCst) - before)
        })
        .unwrap();
    let out = probe.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    ticker.join().unwrap();
    out
}

/// A connected TCP pair.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// Writes `data` to `w` after `delay`, from a greenstd sleep (so the write
/// can only happen if the hub keeps running).
fn write_later(mut w: impl Write + Send + 'static, delay: Duration, data: &'static [u8]) {
    drop(thread::spawn(move || {
        greenstd::thread::sleep(delay);
        w.write_all(data).unwrap();
        greenstd::thread::sleep(Duration::from_millis(50));
    }));
}

#[test]
fn recv_send_read_write_vectored_yield_inside_a_coroutine() {
    patch();
    let (mut a, b) = tcp_pair();
    write_later(b, Duration::from_millis(20), b"hello");
    let ((n, buf), ticks) = while_ticking(move || {
        let mut buf = [0u8; 5];
        a.read_exact(&mut buf).unwrap(); // recv
        (5, buf)
    });
    assert_eq!((n, &buf), (5, b"hello"));
    assert!(ticks > 0, "recv blocked the hub");

    // read/write on a socket fd (libc's own, not std's recv).
    let (a, b) = UnixStream::pair().unwrap();
    write_later(b, Duration::from_millis(20), b"xy");
    let (got, ticks) = while_ticking(move || {
        let mut buf = [0u8; 2];
        // SAFETY: a valid fd and buffer.
        let n = unsafe { libc::read(a.as_raw_fd(), buf.as_mut_ptr().cast(), 2) };
        (n, buf)
    });
    assert_eq!(got, (2, *b"xy"));
    assert!(ticks > 0, "read blocked the hub");

    // readv (std's read_vectored) and a send that must wait for room.
    let (mut a, mut b) = tcp_pair();
    let big = vec![7u8; 8 << 20];
    let reader = thread::spawn(move || {
        greenstd::thread::sleep(Duration::from_millis(20));
        let mut total = 0;
        let mut buf = vec![0u8; 64 << 10];
        while total < 8 << 20 {
            let mut slices = [io::IoSliceMut::new(&mut buf)];
            let n = b.read_vectored(&mut slices).unwrap();
            assert!(n > 0);
            total += n;
        }
        total
    });
    let (sent, ticks) = while_ticking(move || {
        a.write_all(&big).unwrap(); // send, waits for the reader
        big.len()
    });
    assert_eq!(reader.join().unwrap(), sent);
    assert!(ticks > 0, "send blocked the hub");
}

#[test]
fn recvfrom_sendto_recvmsg_yield_inside_a_coroutine() {
    patch();
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = a.local_addr().unwrap();
    drop(thread::spawn(move || {
        greenstd::thread::sleep(Duration::from_millis(20));
        b.send_to(b"datagram", to).unwrap(); // sendto
        greenstd::thread::sleep(Duration::from_millis(20));
        b.send_to(b"second", to).unwrap();
    }));
    let fd = a.as_raw_fd();
    let ((n, first, second), ticks) = while_ticking(move || {
        let mut buf = [0u8; 16];
        let (n, _) = a.recv_from(&mut buf).unwrap(); // recvfrom
        let first = buf[..n].to_vec();
        let mut buf2 = [0u8; 16];
        let mut iov = libc::iovec {
            iov_base: buf2.as_mut_ptr().cast(),
            iov_len: buf2.len(),
        };
        // SAFETY: a zeroed msghdr with one valid iovec.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        // SAFETY: a valid fd and message.
        let m = unsafe { libc::recvmsg(fd, &mut msg, 0) };
        (n, first, buf2[..m as usize].to_vec())
    });
    assert_eq!(
        (n, &first[..], &second[..]),
        (8, &b"datagram"[..], &b"second"[..])
    );
    assert!(ticks > 0);
}

#[test]
fn accept_and_connect_inside_a_coroutine() {
    patch();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(thread::spawn(move || {
        greenstd::thread::sleep(Duration::from_millis(20));
        let _c = TcpStream::connect(addr).unwrap(); // connect
        greenstd::thread::sleep(Duration::from_millis(50));
    }));
    let (peer, ticks) = while_ticking(move || l.accept().map(|(_, a)| a.ip())); // accept4
    assert!(peer.unwrap().is_loopback());
    assert!(ticks > 0, "accept blocked the hub");
    // A refused connect keeps std's error kind.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = thread::spawn(move || TcpStream::connect(closed).unwrap_err().kind())
        .join()
        .unwrap();
    assert_eq!(e, io::ErrorKind::ConnectionRefused);
}

#[test]
fn poll_and_ppoll_park_on_every_fd() {
    patch();
    for use_ppoll in [false, true] {
        let (a, b) = UnixStream::pair().unwrap();
        let (c, _d) = UnixStream::pair().unwrap();
        write_later(b, Duration::from_millis(20), b"!");
        let (fds, ticks) = while_ticking(move || {
            let mut fds = [
                libc::pollfd {
                    fd: c.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: a.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let n = if use_ppoll {
                let ts = libc::timespec {
                    tv_sec: 10,
                    tv_nsec: 0,
                };
                // SAFETY: valid pollfds and timeout, no signal mask.
                unsafe { libc::ppoll(fds.as_mut_ptr(), 2, &ts, std::ptr::null()) }
            } else {
                // SAFETY: valid pollfds.
                unsafe { libc::poll(fds.as_mut_ptr(), 2, 10_000) }
            };
            (n, fds[0].revents, fds[1].revents & libc::POLLIN)
        });
        assert_eq!(fds, (1, 0, libc::POLLIN), "ppoll: {use_ppoll}");
        assert!(ticks > 0, "poll blocked the hub");
    }
    // A poll that times out returns 0 after its timeout.
    let (a, _b) = UnixStream::pair().unwrap();
    let (n, ticks) = while_ticking(move || {
        let mut fds = [libc::pollfd {
            fd: a.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: a valid pollfd.
        unsafe { libc::poll(fds.as_mut_ptr(), 1, 30) }
    });
    assert_eq!(n, 0);
    assert!(ticks > 0);
}

/// `select` (or `pselect`) on the fds `read`, for `timeout`: its result,
/// which fds are left in the set, errno, and the timeout left.
fn select_on(read: &[i32], timeout: Duration, use_pselect: bool) -> (i32, Vec<i32>, i32, Duration) {
    // SAFETY: a zeroed fd_set is valid; FD_ZERO/FD_SET/FD_ISSET on fds
    // below FD_SETSIZE; the timeouts are valid.
    unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_ZERO(&mut set);
        for &fd in read {
            libc::FD_SET(fd, &mut set);
        }
        let nfds = read.iter().max().map_or(0, |m| m + 1);
        let set_ptr = if read.is_empty() {
            std::ptr::null_mut()
        } else {
            &raw mut set
        };
        set_errno(0);
        let (n, left) = if use_pselect {
            let ts = libc::timespec {
                tv_sec: timeout.as_secs() as libc::time_t,
                tv_nsec: timeout.subsec_nanos() as libc::c_long,
            };
            let n = libc::pselect(
                nfds,
                set_ptr,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &ts,
                std::ptr::null(),
            );
            (n, timeout)
        } else {
            let mut tv = libc::timeval {
                tv_sec: timeout.as_secs() as libc::time_t,
                tv_usec: timeout.subsec_micros() as libc::suseconds_t,
            };
            let n = libc::select(
                nfds,
                set_ptr,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut tv,
            );
            let left = Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
            (n, left)
        };
        let e = errno();
        let left_set = read
            .iter()
            .copied()
            .filter(|&fd| libc::FD_ISSET(fd, &set))
            .collect();
        (n, left_set, e, left)
    }
}

#[test]
fn select_and_pselect_park_on_every_fd() {
    patch();
    for use_pselect in [false, true] {
        let (a, b) = UnixStream::pair().unwrap();
        let (c, _d) = UnixStream::pair().unwrap();
        let fds = [c.as_raw_fd(), a.as_raw_fd()];
        write_later(b, Duration::from_millis(20), b"!");
        let ((n, ready, _, left), ticks) = while_ticking(move || {
            let out = select_on(&fds, Duration::from_secs(10), use_pselect);
            drop((a, c));
            out
        });
        assert_eq!((n, ready), (1, vec![fds[1]]), "pselect: {use_pselect}");
        assert!(ticks > 0, "select blocked the hub");
        if !use_pselect {
            // Linux's select leaves the time not slept in its timeout.
            assert!(left < Duration::from_secs(10) && left > Duration::from_secs(5));
        }
        // A select that times out returns 0, clears the set, and has no
        // time left.
        let (a, _b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let ((n, ready, _, left), ticks) = while_ticking(move || {
            let out = select_on(&[fd], Duration::from_millis(30), use_pselect);
            drop(a);
            out
        });
        assert_eq!((n, ready), (0, vec![]));
        assert!(ticks > 0);
        if !use_pselect {
            assert_eq!(left, Duration::ZERO);
        }
        // No fds: C's portable sleep, parked.
        let ((n, ..), ticks) =
            while_ticking(move || select_on(&[], Duration::from_millis(20), use_pselect));
        assert_eq!(n, 0);
        assert!(ticks > 0);
    }
    // A closed fd: EBADF, inside a coroutine and outside, as libc says.
    let (a, _b) = UnixStream::pair().unwrap();
    let closed = a.as_raw_fd();
    drop(a);
    let inside = thread::spawn(move || select_on(&[closed], Duration::from_secs(5), false))
        .join()
        .unwrap();
    let outside = select_on(&[closed], Duration::from_secs(5), false);
    assert_eq!((inside.0, inside.2), (-1, libc::EBADF));
    assert_eq!((outside.0, outside.2), (-1, libc::EBADF));
    // Outside a coroutine a timeout is libc's own.
    let (a, _b) = UnixStream::pair().unwrap();
    assert_eq!(
        select_on(&[a.as_raw_fd()], Duration::from_millis(10), false).0,
        0
    );
}

#[test]
fn every_sleep_parks_only_its_coroutine() {
    patch();
    type Nap = fn();
    let naps: [(&str, Nap); 5] = [
        ("std::thread::sleep (clock_nanosleep)", || {
            std::thread::sleep(Duration::from_millis(20))
        }),
        ("nanosleep", || {
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 20_000_000,
            };
            // SAFETY: a valid request, no remainder wanted.
            assert_eq!(unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) }, 0);
        }),
        ("usleep", || {
            // SAFETY: no preconditions.
            assert_eq!(unsafe { libc::usleep(20_000) }, 0);
        }),
        ("sleep", || {
            // SAFETY: no preconditions.
            assert_eq!(unsafe { libc::sleep(1) }, 0);
        }),
        ("poll(NULL, 0, ms)", || {
            // SAFETY: no fds.
            assert_eq!(unsafe { libc::poll(std::ptr::null_mut(), 0, 20) }, 0);
        }),
    ];
    for (name, nap) in naps {
        let start = Instant::now();
        let ((), ticks) = while_ticking(nap);
        assert!(
            start.elapsed() >= Duration::from_millis(19),
            "{name} returned early"
        );
        assert!(ticks > 0, "{name} blocked the hub");
    }
    // An absolute clock_nanosleep.
    let (rc, ticks) = while_ticking(|| {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid out-parameter.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        now.tv_nsec += 20_000_000;
        if now.tv_nsec >= 1_000_000_000 {
            now.tv_sec += 1;
            now.tv_nsec -= 1_000_000_000;
        }
        // SAFETY: a valid absolute request.
        unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &now,
                std::ptr::null_mut(),
            )
        }
    });
    assert_eq!(rc, 0);
    assert!(ticks > 0);
}

#[test]
fn getaddrinfo_runs_on_the_pool_inside_a_coroutine() {
    if std::env::var_os("GREENSTD_MONKEY_CHILD").is_none() {
        let (ok, stderr) = run_alone("getaddrinfo_runs_on_the_pool_inside_a_coroutine");
        assert!(ok, "{stderr}");
        return;
    }
    patch();
    // With every pool thread busy, a lookup made in a coroutine waits
    // behind them (it was handed to the pool), while the hub runs on.
    let release = Arc::new(AtomicBool::new(false));
    let busy: Vec<_> = (0..128)
        .map(|_| {
            let release = release.clone();
            thread::spawn(move || {
                greenstd::spawn_blocking(move || {
                    let start = Instant::now();
                    while !release.load(Ordering::SeqCst)
                        && start.elapsed() < Duration::from_secs(30)
                    {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })
            })
        })
        .collect();
    greenstd::thread::sleep(Duration::from_millis(50));
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let lookup = thread::spawn(move || {
        use std::net::ToSocketAddrs;
        let n = ("localhost", 80).to_socket_addrs().map(|a| a.count());
        d.store(true, Ordering::SeqCst);
        n
    });
    greenstd::thread::sleep(Duration::from_millis(200));
    let finished_while_busy = done.load(Ordering::SeqCst);
    release.store(true, Ordering::SeqCst);
    assert!(
        !finished_while_busy,
        "getaddrinfo ran on the coroutine's thread"
    );
    assert!(lookup.join().unwrap().unwrap() > 0);
    for b in busy {
        b.join().unwrap();
    }
    use std::net::ToSocketAddrs;
    let addrs = thread::spawn(|| ("localhost", 80).to_socket_addrs().map(|a| a.count()))
        .join()
        .unwrap();
    assert!(addrs.unwrap() > 0);
    let bad = thread::spawn(|| ("no-such-host.invalid", 80).to_socket_addrs().is_err())
        .join()
        .unwrap();
    assert!(bad);
}

#[test]
fn a_non_blocking_socket_still_fails_at_once() {
    patch();
    let (mut a, _b) = tcp_pair();
    let (e, _) = while_ticking(move || {
        a.set_nonblocking(true).unwrap();
        let start = Instant::now();
        let e = a.read(&mut [0u8; 4]).unwrap_err().kind();
        // The flag is the program's: fcntl still reports it.
        // SAFETY: F_GETFL on a valid fd.
        let flags = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_GETFL) };
        (
            e,
            start.elapsed() < Duration::from_secs(1),
            flags & libc::O_NONBLOCK != 0,
        )
    });
    assert_eq!(e, (io::ErrorKind::WouldBlock, true, true));
    // A blocking socket read by a coroutine keeps its flags too.
    let (mut a, b) = tcp_pair();
    write_later(b, Duration::from_millis(10), b"z");
    let (flags, _) = while_ticking(move || {
        a.read_exact(&mut [0u8; 1]).unwrap();
        // SAFETY: F_GETFL on a valid fd.
        unsafe { libc::fcntl(a.as_raw_fd(), libc::F_GETFL) }
    });
    assert_eq!(flags & libc::O_NONBLOCK, 0);
}

#[test]
fn a_socket_timeout_fails_with_eagain_as_the_kernel_would() {
    patch();
    let (mut a, _b) = tcp_pair();
    let ((kind, errno_value, waited), ticks) = while_ticking(move || {
        a.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let start = Instant::now();
        let e = a.read(&mut [0u8; 4]).unwrap_err();
        (e.kind(), e.raw_os_error(), start.elapsed())
    });
    assert_eq!(kind, io::ErrorKind::WouldBlock);
    assert_eq!(errno_value, Some(libc::EAGAIN));
    assert!(waited >= Duration::from_millis(49), "{waited:?}");
    assert!(ticks > 0);
}

/// Runs the test `name` alone in a child process (where fd numbers are
/// reused deterministically); returns whether it passed, and its stderr.
fn run_alone(name: &str) -> (bool, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("GREENSTD_MONKEY_CHILD", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_and_reused_fd_gets_a_fresh_registration() {
    if std::env::var_os("GREENSTD_MONKEY_CHILD").is_none() {
        let (ok, stderr) = run_alone("a_closed_and_reused_fd_gets_a_fresh_registration");
        assert!(ok, "{stderr}");
        return;
    }
    patch();
    let out = thread::spawn(|| {
        // Wait on a socket (registers its fd), then close it.
        let (mut a, _b) = tcp_pair();
        a.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        assert!(a.read(&mut [0u8; 1]).is_err());
        let old = a.as_raw_fd();
        drop(a);
        drop(_b);
        // The next sockets take the lowest free numbers: one is `old`.
        let pairs: Vec<(TcpStream, TcpStream)> = (0..3).map(|_| tcp_pair()).collect();
        let reused = pairs
            .into_iter()
            .find(|(c, s)| c.as_raw_fd() == old || s.as_raw_fd() == old);
        let (c, s) = reused?;
        let (mut waiter, writer) = if c.as_raw_fd() == old { (c, s) } else { (s, c) };
        write_later(writer, Duration::from_millis(20), b"fresh");
        let mut buf = [0u8; 5];
        waiter.read_exact(&mut buf).unwrap();
        Some(buf)
    })
    .join()
    .unwrap();
    assert_eq!(out, Some(*b"fresh"), "the fd number was not reused");
}

#[test]
fn outside_a_coroutine_hooks_are_libc_errors_and_errno_included() {
    patch();
    let mut buf = [0u8; 4];
    // SAFETY: an invalid fd: libc reports EBADF.
    assert_eq!(unsafe { libc::recv(-1, buf.as_mut_ptr().cast(), 4, 0) }, -1);
    assert_eq!(errno(), libc::EBADF);
    // SAFETY: as above.
    assert_eq!(
        unsafe { libc::read(1_000_000, buf.as_mut_ptr().cast(), 4) },
        -1
    );
    assert_eq!(errno(), libc::EBADF);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::close(1_000_000) }, -1);
    assert_eq!(errno(), libc::EBADF);
    // A successful call leaves errno alone.
    let (a, b) = UnixStream::pair().unwrap();
    (&b).write_all(b"x").unwrap();
    set_errno(1234);
    // SAFETY: a valid fd and buffer.
    assert_eq!(
        unsafe { libc::read(a.as_raw_fd(), buf.as_mut_ptr().cast(), 4) },
        1
    );
    assert_eq!(errno(), 1234);
    // A blocking read on a plain thread blocks the thread, as libc's.
    let (mut a, b) = UnixStream::pair().unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        (&b).write_all(b"y").unwrap();
    });
    a.read_exact(&mut [0u8; 1]).unwrap();
    writer.join().unwrap();
    // Inside a coroutine, the same errors.
    let e = thread::spawn(|| {
        let mut buf = [0u8; 4];
        // SAFETY: an invalid fd.
        let rc = unsafe { libc::recv(-1, buf.as_mut_ptr().cast(), 4, 0) };
        (rc, errno())
    })
    .join()
    .unwrap();
    assert_eq!(e, (-1, libc::EBADF));
}

#[test]
fn errno_is_kept_across_a_park() {
    patch();
    let (mut a, b) = UnixStream::pair().unwrap();
    let (clobber, _) = UnixStream::pair().unwrap();
    drop(thread::spawn(move || {
        // Runs while the reader is parked: leaves a different errno.
        set_errno(libc::ENOENT);
        greenstd::thread::sleep(Duration::from_millis(20));
        set_errno(libc::EPERM);
        (&b).write_all(b"k").unwrap();
        drop(clobber);
    }));
    let seen = thread::spawn(move || {
        set_errno(4321);
        a.read_exact(&mut [0u8; 1]).unwrap();
        errno()
    })
    .join()
    .unwrap();
    assert_eq!(seen, 4321);
}

#[test]
fn a_kill_ends_a_hooked_wait_with_an_error_then_unwinds_at_the_next_greenstd_call() {
    patch();
    let (mut a, _b) = tcp_pair();
    let reached = Arc::new(AtomicBool::new(false));
    let r = reached.clone();
    let g = greenstd::spawn(move || {
        let e = a.read(&mut [0u8; 1]).unwrap_err(); // blocks until killed
        r.store(true, Ordering::SeqCst);
        assert_eq!(e.raw_os_error(), Some(libc::ECANCELED));
        greenstd::thread::sleep(Duration::from_secs(3600)); // the kill lands here
        unreachable!();
    });
    greenstd::thread::sleep(Duration::from_millis(20));
    g.kill();
    assert!(reached.load(Ordering::SeqCst));
    assert!(g.get().unwrap_err().is::<greenstd::Killed>());
}

#[test]
fn a_forked_child_passes_every_call_through() {
    patch();
    let status = thread::spawn(|| {
        let (mut a, b) = UnixStream::pair().unwrap();
        (&b).write_all(b"to the child").unwrap();
        // SAFETY: the child only makes async-signal-safe-enough calls of
        // its own (read, write, _exit) and never returns into the runtime.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let mut buf = [0u8; 12];
            let ok = a.read_exact(&mut buf).is_ok() && &buf == b"to the child";
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        let start = Instant::now();
        loop {
            // SAFETY: waits for our own child without blocking.
            let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if rc == pid || start.elapsed() > Duration::from_secs(30) {
                break;
            }
            greenstd::thread::sleep(Duration::from_millis(5));
        }
        status
    })
    .join()
    .unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{status}"
    );
}

/// Fills `s`'s send buffer, so that the next write must wait for the peer.
fn fill(s: &std::os::unix::net::UnixStream) {
    s.set_nonblocking(true).unwrap();
    let chunk = [0u8; 65536];
    while (&*s).write(&chunk).is_ok() {}
    s.set_nonblocking(false).unwrap();
}

/// Drains `r` after a greenstd sleep (so only a running hub can drain it).
fn drain_later(r: std::os::unix::net::UnixStream) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        greenstd::thread::sleep(Duration::from_millis(20));
        r.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut total = 0;
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = (&r).read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    })
}

#[test]
fn write_writev_sendmsg_wait_for_room_inside_a_coroutine() {
    patch();
    type Send = fn(i32) -> isize;
    let sends: [(&str, Send); 3] = [
        ("write", |fd| {
            // SAFETY: a valid fd and buffer.
            unsafe { libc::write(fd, b"abc".as_ptr().cast(), 3) }
        }),
        ("writev", |fd| {
            let iov = libc::iovec {
                iov_base: b"abc".as_ptr().cast_mut().cast(),
                iov_len: 3,
            };
            // SAFETY: one valid iovec.
            unsafe { libc::writev(fd, &iov, 1) }
        }),
        ("sendmsg", |fd| {
            let mut iov = libc::iovec {
                iov_base: b"abc".as_ptr().cast_mut().cast(),
                iov_len: 3,
            };
            // SAFETY: a zeroed msghdr with one valid iovec.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            // SAFETY: a valid fd and message.
            unsafe { libc::sendmsg(fd, &msg, 0) }
        }),
    ];
    for (name, send) in sends {
        let (a, b) = UnixStream::pair().unwrap();
        fill(&a);
        let drained = drain_later(b);
        let (n, ticks) = while_ticking(move || {
            let n = send(a.as_raw_fd());
            drop(a);
            n
        });
        assert_eq!(n, 3, "{name}");
        assert!(ticks > 0, "{name} blocked the hub");
        assert!(drained.join().unwrap() > 0);
    }
}

#[test]
fn libc_accept_and_dup2_inside_a_coroutine() {
    patch();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(thread::spawn(move || {
        greenstd::thread::sleep(Duration::from_millis(20));
        let _c = TcpStream::connect(addr).unwrap();
        greenstd::thread::sleep(Duration::from_millis(50));
    }));
    let (fd, ticks) = while_ticking(move || {
        // SAFETY: a valid listener; no address wanted.
        let fd = unsafe { libc::accept(l.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut()) };
        // SAFETY: closes the fd we were given.
        unsafe { libc::close(fd) };
        fd
    });
    assert!(fd > 2);
    assert!(ticks > 0, "accept blocked the hub");
    // dup2 over a socket a coroutine waited on: the new file under that
    // number is waited on afresh (the dup2 hook forgot the old one).
    let got = thread::spawn(|| {
        let (mut a, _b) = UnixStream::pair().unwrap();
        a.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        assert!(a.read(&mut [0u8; 1]).is_err()); // registered, timed out
        let (c, d) = UnixStream::pair().unwrap();
        // SAFETY: replaces `a`'s fd by a duplicate of `c`'s.
        assert_eq!(
            unsafe { libc::dup2(c.as_raw_fd(), a.as_raw_fd()) },
            a.as_raw_fd()
        );
        drop(c);
        a.set_read_timeout(None).unwrap();
        write_later(d, Duration::from_millis(10), b"via dup2");
        let mut buf = [0u8; 8];
        a.read_exact(&mut buf).unwrap();
        buf
    })
    .join()
    .unwrap();
    assert_eq!(&got, b"via dup2");
}

/// On a plain thread every hook is libc's: errors and errno included.
#[test]
fn outside_a_coroutine_every_hook_reports_libc_s_errors() {
    patch();
    let bad = 1_000_000;
    let mut buf = [0u8; 4];
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: 4,
    };
    // SAFETY: a zeroed msghdr pointing at `iov`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = (&raw const iov).cast_mut();
    msg.msg_iovlen = 1;
    let p = buf.as_mut_ptr().cast::<libc::c_void>();
    // SAFETY: each call gets an fd that does not exist; libc fails with
    // EBADF without touching the buffers.
    let calls: Vec<(&str, isize)> = unsafe {
        vec![
            ("recv", libc::recv(bad, p, 4, 0)),
            ("send", libc::send(bad, p, 4, 0)),
            (
                "recvfrom",
                libc::recvfrom(bad, p, 4, 0, std::ptr::null_mut(), std::ptr::null_mut()),
            ),
            ("sendto", libc::sendto(bad, p, 4, 0, std::ptr::null(), 0)),
            ("recvmsg", libc::recvmsg(bad, &mut msg, 0)),
            ("sendmsg", libc::sendmsg(bad, &msg, 0)),
            ("read", libc::read(bad, p, 4)),
            ("write", libc::write(bad, p, 4)),
            ("readv", libc::readv(bad, &iov, 1)),
            ("writev", libc::writev(bad, &iov, 1)),
            (
                "accept",
                libc::accept(bad, std::ptr::null_mut(), std::ptr::null_mut()) as isize,
            ),
            (
                "accept4",
                libc::accept4(bad, std::ptr::null_mut(), std::ptr::null_mut(), 0) as isize,
            ),
            ("connect", libc::connect(bad, std::ptr::null(), 0) as isize),
            ("close", libc::close(bad) as isize),
            ("dup2", libc::dup2(bad, bad + 1) as isize),
            ("dup3", libc::dup3(bad, bad + 1, 0) as isize),
        ]
    };
    for (name, rc) in calls {
        assert_eq!(rc, -1, "{name}");
        assert_eq!(errno(), libc::EBADF, "{name}");
    }
    // The sleeps and poll: std's behaviour, and invalid input refused.
    let bad_ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 2_000_000_000,
    };
    // SAFETY: an invalid request: nanosleep fails with EINVAL.
    assert_eq!(
        unsafe { libc::nanosleep(&bad_ts, std::ptr::null_mut()) },
        -1
    );
    assert_eq!(errno(), libc::EINVAL);
    // SAFETY: clock_nanosleep returns the error number.
    let rc =
        unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &bad_ts, std::ptr::null_mut()) };
    assert_eq!(rc, libc::EINVAL);
    let mut pfd = libc::pollfd {
        fd: bad,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd; a bad fd is reported in revents.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 0) }, 1);
    assert_eq!(pfd.revents, libc::POLLNVAL);
    // SAFETY: no preconditions.
    assert_eq!(unsafe { libc::usleep(1000) }, 0);
    // getaddrinfo's own error codes.
    use std::net::ToSocketAddrs;
    assert!(("no-such-host.invalid", 80).to_socket_addrs().is_err());
    // Inside a coroutine, the same errors: the hooks act only on real
    // waits.
    let inside = thread::spawn(move || {
        let mut buf = [0u8; 4];
        // SAFETY: as above.
        let r = unsafe { libc::read(bad, buf.as_mut_ptr().cast(), 4) };
        // SAFETY: as above.
        let n = unsafe { libc::nanosleep(&bad_ts, std::ptr::null_mut()) };
        (r, n, errno())
    })
    .join()
    .unwrap();
    assert_eq!(inside, (-1, -1, libc::EINVAL));
}

/// A blocking `connect` that the kernel cannot complete at once (the
/// listener's accept queue is full, so its SYN is dropped and retried)
/// parks only its coroutine.
#[test]
fn a_slow_connect_parks_only_its_coroutine() {
    patch();
    let (listener, addr, first) = full_listener();
    // Accept once later to make room.
    drop(thread::spawn(move || {
        greenstd::thread::sleep(Duration::from_millis(50));
        let _a = listener.accept().unwrap();
        let _b = listener.accept().unwrap();
        greenstd::thread::sleep(Duration::from_millis(50));
    }));
    let (connected, ticks) = while_ticking(move || {
        let c = TcpStream::connect(addr).map(|_| ());
        drop(first);
        c
    });
    connected.unwrap();
    assert!(ticks > 0, "connect blocked the hub");
}

/// A listener whose accept queue is full (backlog 0, one connection
/// waiting): a new connect's SYN is dropped and retried a second later.
fn full_listener() -> (TcpListener, std::net::SocketAddr, TcpStream) {
    // SAFETY: plain socket calls on an fd we own; `addr` is a valid sockaddr_in.
    let (listener, addr) = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, (&raw const addr).cast(), len), 0);
        assert_eq!(libc::listen(fd, 0), 0);
        assert_eq!(libc::getsockname(fd, (&raw mut addr).cast(), &mut len), 0);
        let port = u16::from_be(addr.sin_port);
        (
            <TcpListener as std::os::fd::FromRawFd>::from_raw_fd(fd),
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
    };
    let first = TcpStream::connect(addr).unwrap();
    (listener, addr, first)
}

/// A blocking `connect` with a 100 ms `SO_SNDTIMEO` to `addr`: its result
/// and errno.
fn connect_with_send_timeout(addr: std::net::SocketAddr) -> (i32, i32) {
    let std::net::SocketAddr::V4(v4) = addr else {
        unreachable!()
    };
    // SAFETY: a fresh socket we own, a valid timeval and sockaddr_in.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        let len = size_of::<libc::timeval>() as libc::socklen_t;
        let rc = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            (&raw const tv).cast(),
            len,
        );
        assert_eq!(rc, 0);
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_port = v4.port().to_be();
        sa.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
        let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let rc = libc::connect(fd, (&raw const sa).cast(), len);
        let e = errno();
        libc::close(fd);
        (rc, e)
    }
}

/// A blocking `connect` whose `SO_SNDTIMEO` passes fails with
/// `EINPROGRESS`, as Linux's does, and parks only its coroutine meanwhile.
#[test]
fn a_connect_past_its_send_timeout_fails_with_einprogress() {
    patch();
    let (_listener, addr, first) = full_listener();
    let outside = connect_with_send_timeout(addr);
    assert_eq!(outside, (-1, libc::EINPROGRESS), "the kernel's own answer");
    let (inside, ticks) = while_ticking(move || connect_with_send_timeout(addr));
    assert_eq!(inside, outside);
    assert!(ticks > 0, "connect blocked the hub");
    drop(first);
}

/// A hooked call made while the coroutine unwinds (from a `Drop` run by a
/// panic) parks like any other, and the panic still reaches `join`.
#[test]
fn hooks_work_while_a_coroutine_unwinds() {
    patch();
    struct ReadOnDrop(Option<TcpStream>, Arc<AtomicUsize>);
    impl Drop for ReadOnDrop {
        fn drop(&mut self) {
            assert!(std::thread::panicking());
            let mut s = self.0.take().unwrap();
            let mut buf = [0u8; 3];
            s.read_exact(&mut buf).unwrap();
            std::thread::sleep(Duration::from_millis(5));
            self.1.store(usize::from(&buf == b"bye"), Ordering::SeqCst);
        }
    }
    let (a, b) = tcp_pair();
    write_later(b, Duration::from_millis(20), b"bye");
    let read = Arc::new(AtomicUsize::new(0));
    let r = read.clone();
    let (joined, ticks) = while_ticking(move || {
        let h = thread::spawn(move || {
            let _guard = ReadOnDrop(Some(a), r);
            panic!("unwinding through a hooked read");
        });
        h.join().is_err()
    });
    assert!(ticks > 0, "the read in Drop blocked the hub");
    assert!(joined, "the panic reached join");
    assert_eq!(
        read.load(Ordering::SeqCst),
        1,
        "the read in Drop got its bytes"
    );
}
