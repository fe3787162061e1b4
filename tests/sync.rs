//! `greenstd::sync`: waits park the coroutine (no hub deadlock), work
//! across coroutines and threads, keep std's poisoning and error kinds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenstd::sync::{Barrier, Condvar, LazyLock, Mutex, OnceLock, RwLock, mpsc};
use greenstd::thread;

#[test]
fn ten_thousand_coroutines_contend_on_one_mutex() {
    let counter = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..10_000)
        .map(|i| {
            let c = counter.clone();
            thread::spawn(move || {
                let mut n = c.lock().unwrap();
                if i % 10 == 0 {
                    thread::yield_now(); // hold it across a switch
                }
                *n += 1;
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(*counter.lock().unwrap(), 10_000);
}

#[test]
fn a_lock_held_across_a_sleep_does_not_deadlock_the_hub() {
    let m = Arc::new(Mutex::new(()));
    let m2 = m.clone();
    let (locked, is_locked) = mpsc::channel();
    let holder = thread::spawn(move || {
        let _g = m2.lock().unwrap();
        locked.send(()).unwrap();
        thread::sleep(Duration::from_millis(20));
    });
    is_locked.recv().unwrap(); // the holder took the lock and sleeps
    let waiter = thread::spawn(move || {
        let start = Instant::now();
        drop(m.lock().unwrap());
        start.elapsed()
    });
    holder.join().unwrap();
    assert!(waiter.join().unwrap() >= Duration::from_millis(10));
}

#[test]
fn poisoning_after_a_panic() {
    let m = Arc::new(Mutex::new(1));
    let m2 = m.clone();
    let r = thread::spawn(move || {
        let _g = m2.lock().unwrap();
        panic!("poison it");
    })
    .join();
    assert!(r.is_err());
    assert!(m.is_poisoned());
    let g = m.lock().unwrap_err().into_inner();
    assert_eq!(*g, 1);
    drop(g);
    m.clear_poison();
    assert!(m.lock().is_ok());
}

#[test]
fn condvar_notify_and_timeout() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p = pair.clone();
    let waiter = thread::spawn(move || {
        let (m, cv) = &*p;
        let g = cv.wait_while(m.lock().unwrap(), |ready| !*ready).unwrap();
        *g
    });
    thread::spawn({
        let p = pair.clone();
        move || {
            thread::sleep(Duration::from_millis(5));
            *p.0.lock().unwrap() = true;
            p.1.notify_all();
        }
    });
    assert!(waiter.join().unwrap());
    let (m, cv) = &*pair;
    let (g, r) = cv
        .wait_timeout(m.lock().unwrap(), Duration::from_millis(10))
        .unwrap();
    assert!(r.timed_out());
    drop(g);
}

#[test]
fn condvar_shared_by_coroutines_and_a_plain_thread() {
    let state = Arc::new((Mutex::new(0u32), Condvar::new()));
    let s = state.clone();
    let os = std::thread::spawn(move || {
        let (m, cv) = &*s;
        let g = cv.wait_while(m.lock().unwrap(), |n| *n < 3).unwrap();
        *g
    });
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let s = state.clone();
            thread::spawn(move || {
                *s.0.lock().unwrap() += 1;
                s.1.notify_all();
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(os.join().unwrap(), 3);
}

#[test]
fn barrier_has_one_leader_per_round() {
    let b = Arc::new(Barrier::new(5));
    let hs: Vec<_> = (0..10)
        .map(|_| {
            let b = b.clone();
            thread::spawn(move || b.wait().is_leader())
        })
        .collect();
    let leaders = hs
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&l| l)
        .count();
    assert_eq!(leaders, 2);
}

#[test]
fn rwlock_readers_share_and_writers_exclude() {
    let l = Arc::new(RwLock::new(0));
    let r1 = l.read().unwrap();
    let r2 = l.read().unwrap();
    assert!(l.try_write().is_err());
    let l2 = l.clone();
    let writer = thread::spawn(move || *l2.write().unwrap() += 1);
    thread::yield_now();
    assert_eq!(*r1 + *r2, 0);
    drop((r1, r2));
    writer.join().unwrap();
    assert_eq!(*l.read().unwrap(), 1);
}

/// Readers that hold the lock across switches, writers that update two
/// fields, coroutines and threads together: no reader sees half an update,
/// every write lands, nobody waits for good.
#[test]
fn rwlock_under_load_from_coroutines_and_threads() {
    let l = Arc::new(RwLock::new((0u64, 0u64)));
    let torn = Arc::new(AtomicUsize::new(0));
    let work = |i: usize, l: Arc<RwLock<(u64, u64)>>, torn: Arc<AtomicUsize>| {
        move || {
            for _ in 0..200 {
                if i.is_multiple_of(4) {
                    let mut w = l.write().unwrap();
                    w.0 += 1;
                    thread::yield_now(); // others run while it writes
                    w.1 += 1;
                } else {
                    let r = l.read().unwrap();
                    thread::yield_now(); // and while they read
                    if r.0 != r.1 {
                        torn.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    };
    let coroutines: Vec<_> = (0..40)
        .map(|i| thread::spawn(work(i, l.clone(), torn.clone())))
        .collect();
    let threads: Vec<_> = (0..4)
        .map(|i| std::thread::spawn(work(i, l.clone(), torn.clone())))
        .collect();
    for h in coroutines {
        h.join().unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(torn.load(Ordering::Relaxed), 0);
    assert_eq!(*l.read().unwrap(), (11 * 200, 11 * 200));
}

/// A waiting writer holds new readers back (as std's lock on Linux), so a
/// stream of readers cannot starve it; it gets the lock when the readers
/// before it are done.
#[test]
fn a_waiting_writer_goes_before_later_readers() {
    let l = Arc::new(RwLock::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let (l2, o2) = (l.clone(), order.clone());
    // Spawned from a coroutine: all on one hub, run in turn.
    thread::spawn(move || {
        let first = l2.read().unwrap();
        let (l3, o3) = (l2.clone(), o2.clone());
        let writer = thread::spawn(move || {
            *l3.write().unwrap() += 1;
            o3.lock().unwrap().push("writer");
        });
        thread::yield_now(); // the writer now waits
        assert!(
            l2.try_read().is_err(),
            "a reader must wait behind the writer"
        );
        let (l4, o4) = (l2.clone(), o2.clone());
        let reader = thread::spawn(move || {
            let v = *l4.read().unwrap();
            o4.lock().unwrap().push("reader");
            v
        });
        thread::yield_now(); // the later reader now waits too
        drop(first);
        writer.join().unwrap();
        assert_eq!(reader.join().unwrap(), 1, "the reader saw the write");
    })
    .join()
    .unwrap();
    assert_eq!(*order.lock().unwrap(), ["writer", "reader"]);
}

#[test]
fn channel_errors_and_timeouts() {
    let (tx, rx) = mpsc::channel::<u8>();
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(5)),
        Err(mpsc::RecvTimeoutError::Timeout)
    );
    drop(tx);
    assert_eq!(rx.recv(), Err(mpsc::RecvError));
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
    let (tx, rx) = mpsc::channel::<u8>();
    drop(rx);
    assert_eq!(tx.send(3), Err(mpsc::SendError(3)));
    let (stx, srx) = mpsc::sync_channel::<u8>(1);
    stx.try_send(1).unwrap();
    assert_eq!(stx.try_send(2), Err(mpsc::TrySendError::Full(2)));
    drop(srx);
    assert_eq!(stx.try_send(2), Err(mpsc::TrySendError::Disconnected(2)));
}

#[test]
fn rendezvous_channel_hands_over() {
    let (tx, rx) = mpsc::sync_channel(0);
    let handed = Arc::new(AtomicBool::new(false));
    let h = handed.clone();
    let sender = thread::spawn(move || {
        tx.send(7).unwrap();
        h.store(true, Ordering::SeqCst);
    });
    thread::yield_now();
    thread::yield_now();
    assert!(
        !handed.load(Ordering::SeqCst),
        "a rendezvous send waits for the receiver"
    );
    assert_eq!(rx.recv().unwrap(), 7);
    sender.join().unwrap();
    assert!(handed.load(Ordering::SeqCst));
}

#[test]
fn a_channel_between_hubs_on_two_threads_loses_nothing() {
    const N: u64 = 1_000_000;
    let (tx, rx) = mpsc::sync_channel(64);
    let producer = std::thread::spawn(move || {
        thread::spawn(move || {
            for i in 0..N {
                tx.send(i).unwrap();
            }
        })
        .join()
        .unwrap();
    });
    let consumer = thread::spawn(move || {
        let mut expected = 0;
        for v in rx.iter() {
            assert_eq!(v, expected);
            expected += 1;
        }
        expected
    });
    assert_eq!(consumer.join().unwrap(), N);
    producer.join().unwrap();
}

/// A receiver whose wait ends (a timeout, or the message) while a sender
/// on another thread is waking it: the receiver's task must outlive that
/// wake-up, though its coroutine ends right after and the task goes.
#[test]
fn a_receiver_may_leave_while_another_thread_wakes_it() {
    const ROUNDS: u64 = 2_000;
    let (to_sender, jobs) = std::sync::mpsc::channel::<mpsc::Sender<u64>>();
    let sender = std::thread::spawn(move || {
        for tx in jobs {
            let _ = tx.send(1);
        }
    });
    let mut received = 0;
    for i in 0..ROUNDS {
        let (tx, rx) = mpsc::channel();
        to_sender.send(tx).unwrap();
        let timeout = Duration::from_micros(i % 50);
        received += thread::spawn(move || rx.recv_timeout(timeout).unwrap_or(0))
            .join()
            .unwrap();
    }
    drop(to_sender);
    sender.join().unwrap();
    assert!(received <= ROUNDS);
}

/// Wake-ups from other threads reach a hub however it sleeps: parked (no
/// file descriptor registered: a futex), in its poll (a listener waits for
/// a connection: the `eventfd`), or running a thread's own wait (the main
/// thread's receive, with a coroutine of its hub parked). Each round trip
/// passes all three; a lost wake-up stalls one, which `recv_timeout` turns
/// into a failure instead of a hang.
#[test]
fn wake_ups_from_other_threads_reach_a_hub_asleep_either_way() {
    const ROUNDS: u64 = 5_000;
    const PATIENCE: Duration = Duration::from_secs(30);
    let (to_parked, parked_rx) = mpsc::channel::<u64>();
    let (to_polling, polling_rx) = mpsc::channel::<u64>();
    let (to_main, main_rx) = mpsc::channel::<u64>();
    let parked = std::thread::spawn(move || {
        thread::spawn(move || {
            for v in parked_rx.iter() {
                to_polling.send(v + 1).unwrap();
            }
        })
        .join()
        .unwrap();
    });
    let polling = std::thread::spawn(move || {
        let listener = greenstd::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = thread::spawn(move || listener.accept().map(|_| ()));
        thread::spawn(move || {
            for v in polling_rx.iter() {
                to_main.send(v + 1).unwrap();
            }
        })
        .join()
        .unwrap();
        let _release = greenstd::net::TcpStream::connect(addr).unwrap();
        acceptor.join().unwrap().unwrap();
    });
    let (release, held) = mpsc::channel::<()>();
    let holder = thread::spawn(move || held.recv());
    for i in 0..ROUNDS {
        to_parked.send(i).unwrap();
        assert_eq!(main_rx.recv_timeout(PATIENCE), Ok(i + 2), "round {i}");
    }
    drop(to_parked);
    parked.join().unwrap();
    polling.join().unwrap();
    release.send(()).unwrap();
    holder.join().unwrap().unwrap();
}

/// Poisoning is judged per coroutine, as per thread with std: a coroutine
/// that drops a guard normally, while another coroutine of its thread is
/// switched out in the middle of an unwind, does not poison the lock.
#[test]
fn a_guard_dropped_while_another_coroutine_unwinds_does_not_poison() {
    struct BlockInDrop(Arc<AtomicBool>, mpsc::Receiver<()>);
    impl Drop for BlockInDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
            let _ = self.1.recv(); // parks mid-unwind
        }
    }
    let m = Arc::new(Mutex::new(0));
    let m2 = m.clone();
    // Both coroutines on one hub: spawned from a coroutine, they start on
    // its hub.
    let (poisoned, unwinder_panicked) = thread::spawn(move || {
        let (release, blocked) = mpsc::channel();
        let parked = Arc::new(AtomicBool::new(false));
        let p = parked.clone();
        let unwinder = thread::spawn(move || {
            let _blocks = BlockInDrop(p, blocked);
            panic!("unwinds, and parks in a destructor");
        });
        let start = Instant::now();
        while !parked.load(Ordering::SeqCst) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the unwinder never parked"
            );
            thread::yield_now();
        }
        *m2.lock().unwrap() += 1;
        let poisoned = m2.is_poisoned();
        release.send(()).unwrap();
        (poisoned, unwinder.join().is_err())
    })
    .join()
    .unwrap();
    assert!(!poisoned);
    assert!(unwinder_panicked);
    assert_eq!(*m.lock().unwrap(), 1);
}

#[test]
fn once_lock_init_that_blocks_does_not_deadlock_the_hub() {
    static CELL: OnceLock<u32> = OnceLock::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..5)
        .map(|_| {
            let runs = runs.clone();
            thread::spawn(move || {
                *CELL.get_or_init(|| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(10)); // parks mid-init
                    42
                })
            })
        })
        .collect();
    assert!(hs.into_iter().all(|h| h.join().unwrap() == 42));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn lazy_lock_initialises_once_across_coroutines() {
    static VALUE: LazyLock<String> = LazyLock::new(|| {
        thread::sleep(Duration::from_millis(5));
        "lazy".to_string()
    });
    let hs: Vec<_> = (0..5).map(|_| thread::spawn(|| VALUE.clone())).collect();
    assert!(hs.into_iter().all(|h| h.join().unwrap() == "lazy"));
}

/// std drops the messages still buffered when the receiver goes
/// (`drop_unreceived`); greenstd kept them until the last sender went.
#[test]
fn buffered_messages_were_kept_after_the_receiver_dropped() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::sync_channel(4);
    for _ in 0..3 {
        tx.send(Counted(drops.clone())).unwrap();
    }
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    assert!(tx.send(Counted(drops.clone())).is_err());

    let (tx, rx) = mpsc::channel();
    for _ in 0..3 {
        tx.send(Counted(drops.clone())).unwrap();
    }
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 7);
    drop(tx);
}

/// A buffered message whose `Drop` uses the channel (here: drops the last
/// sender) must not deadlock the receiver's drop.
#[test]
fn a_buffered_message_may_use_its_channel_in_drop() {
    struct HoldsSender(Option<mpsc::Sender<HoldsSender>>);
    impl Drop for HoldsSender {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(HoldsSender(None));
            }
        }
    }
    let (tx, rx) = mpsc::channel();
    tx.send(HoldsSender(Some(tx.clone()))).unwrap();
    drop(tx);
    drop(rx);
}

/// The receiver's wait slot: a timed-out wait leaves nothing behind, a
/// later message still arrives, and a waiting receiver is woken from a
/// coroutine, from its own thread's context and from another OS thread.
#[test]
fn a_receiver_waits_times_out_and_is_woken_from_anywhere() {
    let (tx, rx) = mpsc::channel::<u32>();
    // Times out, then a message sent afterwards is received.
    let h = greenstd::thread::spawn(move || {
        let timed_out = rx.recv_timeout(Duration::from_millis(10));
        assert_eq!(timed_out, Err(mpsc::RecvTimeoutError::Timeout));
        let first = rx.recv().unwrap();
        (rx, first)
    });
    greenstd::thread::sleep(Duration::from_millis(30));
    tx.send(1).unwrap();
    let (rx, first) = h.join().unwrap();
    assert_eq!(first, 1);
    // A receiver on this thread's own context, woken by a coroutine.
    let tx2 = tx.clone();
    let sender = greenstd::thread::spawn(move || {
        greenstd::thread::sleep(Duration::from_millis(5));
        tx2.send(2).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), 2);
    sender.join().unwrap();
    // A receiver coroutine, woken by another OS thread.
    let receiver = greenstd::thread::spawn(move || rx.recv().unwrap());
    let other = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(3).unwrap();
    });
    assert_eq!(receiver.join().unwrap(), 3);
    other.join().unwrap();
}

/// The receiver skips the channel's lock while nothing changed since it
/// found the queue empty. Nothing may slip past that shortcut: messages
/// from OS threads and coroutines, mixed `try_recv`/`recv`/`recv_timeout`,
/// and the last sender leaving while the receiver waits (seen every time
/// after, as std reports it).
#[test]
fn the_receivers_lock_free_emptiness_check_misses_nothing() {
    const PER: usize = 5_000;
    let (tx, rx) = mpsc::channel::<usize>();
    let os: Vec<_> = (0..2)
        .map(|p| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..PER {
                    tx.send(p * PER + i).unwrap();
                    if i % 97 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let green = {
        let tx = tx.clone();
        thread::spawn(move || {
            for i in 0..PER {
                tx.send(2 * PER + i).unwrap();
                if i % 31 == 0 {
                    thread::yield_now();
                }
            }
        })
    };
    drop(tx);
    let receiver = thread::spawn(move || {
        let mut seen = vec![false; 3 * PER];
        let mut got = 0;
        let mut k = 0usize;
        loop {
            k += 1;
            let next = match k % 3 {
                0 => match rx.try_recv() {
                    Ok(v) => Some(v),
                    Err(mpsc::TryRecvError::Empty) => continue,
                    Err(mpsc::TryRecvError::Disconnected) => None,
                },
                1 => match rx.recv_timeout(Duration::from_secs(20)) {
                    Ok(v) => Some(v),
                    Err(mpsc::RecvTimeoutError::Disconnected) => None,
                    Err(mpsc::RecvTimeoutError::Timeout) => panic!("a message was lost"),
                },
                _ => rx.recv().ok(),
            };
            let Some(v) = next else { break };
            assert!(!seen[v], "{v} twice");
            seen[v] = true;
            got += 1;
        }
        // Disconnected, again and again, once every sender is gone.
        for _ in 0..3 {
            assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
            assert!(rx.recv().is_err());
        }
        got
    });
    for t in os {
        t.join().unwrap();
    }
    green.join().unwrap();
    assert_eq!(receiver.join().unwrap(), 3 * PER);
    // A receiver parked on an empty channel wakes when the last sender
    // leaves from another OS thread.
    let (tx, rx) = mpsc::channel::<()>();
    let waiting = thread::spawn(move || rx.recv());
    let dropper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        drop(tx);
    });
    assert!(waiting.join().unwrap().is_err());
    dropper.join().unwrap();
}
