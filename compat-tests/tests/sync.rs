//! `sync` cases: each runs against std and greenstd, on a plain thread and
//! inside a coroutine; any difference from std fails.

use std::time::Duration;

use compat_tests::{case, panic_message, returned};

case!(mutex_contention_counts_exactly, |sync, thread| {
    let counter = sync::Arc::new(sync::Mutex::new(0u32));
    let hs: Vec<_> = (0..20)
        .map(|_| {
            let c = counter.clone();
            thread::spawn(move || {
                for _ in 0..50 {
                    *c.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let total = *counter.lock().unwrap();
    returned(total)
});

case!(mutex_poisoning_after_a_panic, |sync, thread| {
    let m = sync::Arc::new(sync::Mutex::new(5));
    let m2 = m.clone();
    let joined = thread::spawn(move || {
        let _g = m2.lock().unwrap();
        panic!("holder panics");
    })
    .join()
    .map_err(|p| panic_message(&*p));
    let poisoned = m.is_poisoned();
    let value = *m.lock().unwrap_err().into_inner();
    let try_poisoned = matches!(m.try_lock(), Err(sync::TryLockError::Poisoned(_)));
    m.clear_poison();
    returned((joined, poisoned, value, try_poisoned, m.is_poisoned()))
});

case!(mutex_debug_output, |sync, thread| {
    let m = sync::Arc::new(sync::Mutex::new(vec![1, 2]));
    let free = format!("{m:?}");
    let held = {
        let g = m.lock().unwrap();
        (format!("{m:?}"), format!("{g:?}"))
    };
    let m2 = m.clone();
    let joined = thread::spawn(move || {
        let _g = m2.lock().unwrap();
        panic!("holder panics");
    })
    .join()
    .is_err();
    let poisoned = format!("{m:?}");
    returned((free, held, joined, poisoned))
});

case!(
    condvar_wait_reports_a_poisoning_during_it,
    |sync, thread| {
        let pair = sync::Arc::new((sync::Mutex::new(false), sync::Condvar::new()));
        let (m, cv) = &*pair;
        let g = m.lock().unwrap();
        let p = pair.clone();
        let holder = thread::spawn(move || {
            let mut g = p.0.lock().unwrap();
            *g = true;
            p.1.notify_all();
            panic!("panics holding the lock");
        });
        let waited = cv.wait_while(g, |ready| !*ready);
        let (poisoned, ready) = match waited {
            Ok(g) => (false, *g),
            Err(p) => (true, *p.into_inner()),
        };
        let joined = holder.join().is_err();
        returned((poisoned, ready, joined, m.is_poisoned()))
    }
);

case!(rwlock_debug_display_and_poisoning, |sync, thread| {
    let l = sync::Arc::new(sync::RwLock::new(7));
    let free = format!("{l:?}");
    let read_held = {
        let r = l.read().unwrap();
        (format!("{l:?}"), format!("{r:?} {r}"))
    };
    let write_held = {
        let w = l.write().unwrap();
        (format!("{l:?}"), format!("{w:?} {w}"))
    };
    let l2 = l.clone();
    let reader_panicked = thread::spawn(move || {
        let _r = l2.read().unwrap();
        panic!("a reader panics");
    })
    .join()
    .is_err();
    let after_reader = l.is_poisoned();
    let l3 = l.clone();
    let writer_panicked = thread::spawn(move || {
        let _w = l3.write().unwrap();
        panic!("a writer panics");
    })
    .join()
    .is_err();
    let poisoned = format!("{l:?}");
    let read_err = l.read().is_err();
    let downgraded = {
        let mut w = l.write().unwrap_or_else(sync::PoisonError::into_inner);
        *w += 1;
        let r = sync::RwLockWriteGuard::downgrade(w);
        let other = matches!(l.try_read(), Err(sync::TryLockError::Poisoned(_)));
        let writer = matches!(l.try_write(), Err(sync::TryLockError::WouldBlock));
        (*r, other, writer)
    };
    returned((
        free,
        read_held,
        write_held,
        reader_panicked,
        after_reader,
        writer_panicked,
        poisoned,
        read_err,
        downgraded,
    ))
});

case!(
    rwlock_a_waiting_writer_holds_new_readers_back,
    |sync, thread| {
        let l = sync::Arc::new(sync::RwLock::new(0));
        let held = l.read().unwrap();
        let l2 = l.clone();
        let writer = thread::spawn(move || *l2.write().unwrap() += 1);
        // Once the writer waits, a new reader must wait too (std on Linux):
        // look until then, within a generous bound.
        let start = std::time::Instant::now();
        let mut held_back = false;
        while start.elapsed() < Duration::from_secs(10) {
            if matches!(l.try_read(), Err(sync::TryLockError::WouldBlock)) {
                held_back = true;
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
        drop(held);
        writer.join().unwrap();
        let value = *l.read().unwrap();
        returned((held_back, value))
    }
);

case!(condvar_timeouts_and_spurious_tolerance, |sync, thread| {
    let pair = sync::Arc::new((sync::Mutex::new(0), sync::Condvar::new()));
    let (m, cv) = &*pair;
    let (g, r) = cv
        .wait_timeout(m.lock().unwrap(), Duration::from_millis(10))
        .unwrap();
    let timed_out = r.timed_out();
    drop(g);
    let p = pair.clone();
    let notifier = thread::spawn(move || {
        for _ in 0..3 {
            thread::sleep(Duration::from_millis(2));
            *p.0.lock().unwrap() += 1;
            p.1.notify_all();
        }
    });
    let (g, r) = cv
        .wait_timeout_while(m.lock().unwrap(), Duration::from_secs(10), |n| *n < 3)
        .unwrap();
    let reached = *g;
    drop(g);
    notifier.join().unwrap();
    returned((timed_out, reached, r.timed_out()))
});

case!(channel_disconnection_errors, |sync| {
    let (tx, rx) = sync::mpsc::channel::<u8>();
    let empty = rx.try_recv();
    let timeout = rx.recv_timeout(Duration::from_millis(5));
    tx.send(1).unwrap();
    drop(tx);
    let first = rx.recv();
    let after = rx.recv();
    let try_after = rx.try_recv();
    let timeout_after = rx.recv_timeout(Duration::from_millis(5));
    let (tx, rx) = sync::mpsc::channel::<u8>();
    drop(rx);
    let send_err = tx.send(9);
    returned((
        empty,
        timeout,
        first,
        after,
        try_after,
        timeout_after,
        send_err,
    ))
});

case!(sync_channel_bounds_and_rendezvous, |sync, thread| {
    let (tx, rx) = sync::mpsc::sync_channel::<u8>(2);
    let a = tx.try_send(1);
    let b = tx.try_send(2);
    let c = tx.try_send(3);
    let got: Vec<u8> = rx.try_iter().collect();
    let (tx0, rx0) = sync::mpsc::sync_channel::<u8>(0);
    let full = tx0.try_send(1);
    let sender = thread::spawn(move || tx0.send(42));
    let handed = rx0.recv();
    let sent = sender.join().unwrap();
    drop(rx);
    let disconnected = tx.try_send(4);
    returned((a, b, c, got, full, handed, sent, disconnected))
});

case!(many_messages_in_order, |sync, thread| {
    let (tx, rx) = sync::mpsc::sync_channel(8);
    let producer = thread::spawn(move || {
        for i in 0..5000u32 {
            tx.send(i).unwrap();
        }
    });
    let received: Vec<u32> = rx.iter().collect();
    producer.join().unwrap();
    let in_order = received.iter().enumerate().all(|(i, &v)| v == i as u32);
    returned((received.len(), in_order))
});

case!(barrier_leaders, |sync, thread| {
    let b = sync::Arc::new(sync::Barrier::new(4));
    let hs: Vec<_> = (0..8)
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
    returned(leaders)
});

case!(once_and_once_lock, |sync, thread| {
    static ONCE: sync::Once = sync::Once::new();
    let cell = sync::Arc::new(sync::OnceLock::new());
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let cell = cell.clone();
            thread::spawn(move || *cell.get_or_init(|| 7u32))
        })
        .collect();
    let values: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    let set_again = cell.set(8);
    ONCE.call_once(|| {});
    let poisoned_once = sync::Once::new();
    let first = std::panic::catch_unwind(|| poisoned_once.call_once(|| panic!("init fails")))
        .map_err(|p| panic_message(&*p));
    let second =
        std::panic::catch_unwind(|| poisoned_once.call_once(|| {})).map_err(|p| panic_message(&*p));
    let mut forced = false;
    poisoned_once.call_once_force(|s| forced = s.is_poisoned());
    returned((
        values,
        set_again,
        ONCE.is_completed(),
        first,
        second,
        forced,
    ))
});

case!(rwlock_basics, |sync| {
    let l = sync::RwLock::new(1);
    let r = l.read().unwrap();
    let blocked = matches!(l.try_write(), Err(sync::TryLockError::WouldBlock));
    let second_reader = l.try_read().is_ok();
    drop(r);
    *l.write().unwrap() += 1;
    returned((blocked, second_reader, l.into_inner().unwrap()))
});
