//! The `memcache` crate, unmodified, against a real memcached: 1,000
//! coroutines on one OS thread, each with its own connection, each doing 50
//! set/get round trips; every value checked, a ticker kept running.
//!
//! memcache pools its connections with r2d2, which opens them on worker
//! threads of its own (plain OS threads: their calls pass through) and
//! hands them over through a futex-based condvar, which no hook reaches:
//! so the pools are built first, sharing one small r2d2 thread pool; the
//! round trips, the part that waits on the server, are what the test
//! shows to be cooperative.

mod common;

use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_thousand_memcache_clients_share_one_thread() {
    // About one thread's hub: one hub, whatever GREENSTD_HUBS says.
    greenstd::set_hubs(1).unwrap();
    greenstd_monkey::patch_all().unwrap();
    let server = common::memcached();
    let url = memcache::Url::parse(&format!("memcache://127.0.0.1:{}", server.port)).unwrap();
    let workers = Arc::new(scheduled_thread_pool::ScheduledThreadPool::new(4));
    let clients: Vec<memcache::Client> = (0..1000)
        .map(|_| {
            let pool = r2d2::Pool::builder()
                .max_size(1)
                .thread_pool(workers.clone())
                .connection_timeout(Duration::from_secs(30))
                .build(memcache::ConnectionManager::new(url.clone()))
                .unwrap();
            memcache::Client::with_pool(pool).unwrap()
        })
        .collect();
    let os_thread = std::thread::current().id();
    let ticker = common::Ticker::start();
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            greenstd::thread::spawn(move || -> Result<usize, memcache::MemcacheError> {
                assert_eq!(std::thread::current().id(), os_thread);
                let mut checked = 0;
                for round in 0..50 {
                    let key = format!("c{i}k{round}");
                    let value = format!("value {i}/{round}");
                    client.set(&key, value.as_str(), 0)?;
                    let back: Option<String> = client.get(&key)?;
                    assert_eq!(back.as_deref(), Some(value.as_str()));
                    checked += 1;
                }
                Ok(checked)
            })
        })
        .collect();
    let checked: usize = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .sum();
    let ticks = ticker.stop();
    assert_eq!(checked, 50_000);
    assert!(ticks > 0, "the ticker never ran while the clients waited");
}
