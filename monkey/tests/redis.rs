//! The `redis` crate's sync API, unmodified, against a real redis-server:
//! 1,000 coroutines on one OS thread, each with its own connection, each
//! doing 50 SET/GET round trips; every value checked, and a ticker on the
//! same hub kept running while they waited.

mod common;

use std::time::Duration;

#[test]
fn a_thousand_redis_clients_share_one_thread() {
    // About one thread's hub: one hub, whatever GREENSTD_HUBS says.
    greenstd::set_hubs(1).unwrap();
    greenstd_monkey::patch_all().unwrap();
    let server = common::redis();
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let os_thread = std::thread::current().id();
    let ticker = common::Ticker::start();
    let clients: Vec<_> = (0..1000)
        .map(|i| {
            let url = url.clone();
            greenstd::thread::spawn(move || -> redis::RedisResult<usize> {
                assert_eq!(std::thread::current().id(), os_thread);
                let client = redis::Client::open(url.as_str())?;
                let mut con = client.get_connection_with_timeout(Duration::from_secs(30))?;
                let mut checked = 0;
                for round in 0..50 {
                    let key = format!("client-{i}-key-{round}");
                    let value = format!("value {i}/{round}");
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(&value)
                        .query::<()>(&mut con)?;
                    let back: String = redis::cmd("GET").arg(&key).query(&mut con)?;
                    assert_eq!(back, value);
                    checked += 1;
                }
                Ok(checked)
            })
        })
        .collect();
    let checked: usize = clients
        .into_iter()
        .map(|c| c.join().unwrap().unwrap())
        .sum();
    let ticks = ticker.stop();
    assert_eq!(checked, 50_000);
    assert!(ticks > 0, "the ticker never ran while the clients waited");
}
