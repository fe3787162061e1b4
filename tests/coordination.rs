//! gevent's coordination tools: Event, AsyncResult, Semaphore, Queue, Pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use greenstd::{AsyncResult, Event, Pool, Queue, Semaphore, thread};

#[test]
fn event_wakes_every_waiter_and_times_out() {
    let e = Arc::new(Event::new());
    let woken = Arc::new(AtomicUsize::new(0));
    let gs: Vec<_> = (0..10)
        .map(|_| {
            let (e, w) = (e.clone(), woken.clone());
            greenstd::spawn(move || {
                e.wait();
                w.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    thread::yield_now();
    assert_eq!(woken.load(Ordering::SeqCst), 0);
    e.set();
    greenstd::joinall(&gs, None);
    assert_eq!(woken.load(Ordering::SeqCst), 10);
    e.clear();
    assert!(!e.wait_timeout(Duration::from_millis(5)));
}

#[test]
fn async_result_delivers_to_waiters_across_threads() {
    let r = Arc::new(AsyncResult::new());
    let r2 = r.clone();
    let os = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        r2.set("from a thread");
    });
    let g = greenstd::spawn({
        let r = r.clone();
        move || r.get()
    });
    assert_eq!(g.get().unwrap(), "from a thread");
    os.join().unwrap();
    assert_eq!(
        AsyncResult::<u8>::new().get_timeout(Duration::from_millis(2)),
        None
    );
}

#[test]
fn semaphore_caps_concurrency() {
    let sem = Arc::new(Semaphore::new(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let gs: Vec<_> = (0..20)
        .map(|_| {
            let (sem, inside, peak) = (sem.clone(), inside.clone(), peak.clone());
            greenstd::spawn(move || {
                let _permit = sem.acquire();
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(2));
                inside.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    greenstd::joinall(&gs, None);
    assert_eq!(peak.load(Ordering::SeqCst), 3);
    assert_eq!(sem.available(), 3);
}

#[test]
#[should_panic(expected = "released too many times")]
fn bounded_semaphore_refuses_over_release() {
    let sem = Semaphore::bounded(1);
    sem.release();
}

#[test]
fn queue_bounded_put_get_join() {
    let q = Arc::new(Queue::bounded(2));
    let producer = {
        let q = q.clone();
        greenstd::spawn(move || {
            for i in 0..10 {
                q.put(i);
            }
        })
    };
    let consumer = {
        let q = q.clone();
        greenstd::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..10 {
                got.push(q.get());
                q.task_done();
            }
            got
        })
    };
    q.join();
    producer.join();
    assert_eq!(consumer.get().unwrap(), (0..10).collect::<Vec<_>>());
    assert!(q.try_get().is_none());
    assert_eq!(q.get_timeout(Duration::from_millis(2)), None);
    let small = Queue::bounded(1);
    small.try_put(1).unwrap();
    assert_eq!(small.try_put(2), Err(greenstd::Full(2)));
}

#[test]
fn pool_limits_and_maps_in_order() {
    let pool = Pool::new(4);
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (i2, p2) = (inside.clone(), peak.clone());
    let results = pool.map(
        move |x: u32| {
            let now = i2.fetch_add(1, Ordering::SeqCst) + 1;
            p2.fetch_max(now, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(1));
            i2.fetch_sub(1, Ordering::SeqCst);
            x * 10
        },
        0..40,
    );
    assert_eq!(results, (0..40).map(|x| x * 10).collect::<Vec<_>>());
    assert!(peak.load(Ordering::SeqCst) <= 4);
    let mut unordered: Vec<u32> = pool.imap_unordered(|x: u32| x + 1, 0..10).collect();
    unordered.sort();
    assert_eq!(unordered, (1..=10).collect::<Vec<_>>());
    pool.join();
    assert_eq!(pool.running(), 0);
    assert_eq!(pool.free_count(), 4);
}

#[test]
fn group_joins_everything_it_spawned() {
    let group = Pool::group();
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..50 {
        let d = done.clone();
        let _ = group.spawn(move || {
            thread::sleep(Duration::from_millis(1));
            d.fetch_add(1, Ordering::SeqCst);
        });
    }
    group.join();
    assert_eq!(done.load(Ordering::SeqCst), 50);
}

#[test]
fn a_killed_pool_member_gives_its_slot_back() {
    let pool = Pool::new(1);
    let g = pool.spawn(|| thread::sleep(Duration::from_secs(3600)));
    thread::yield_now();
    g.kill();
    let next = pool.spawn(|| "ran");
    assert_eq!(next.get().unwrap(), "ran");
}
