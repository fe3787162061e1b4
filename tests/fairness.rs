//! Fairness: every greenstd call, even one that never blocks, lets the
//! others run once the caller has used up its time slice. Each case is a
//! loop that only terminates under std because the kernel preempts
//! threads; each used to hang under greenstd. Run on a plain thread and
//! inside a coroutine.

use std::sync::Arc;
use std::time::Duration;

use greenstd::net::{TcpListener, TcpStream};
use greenstd::sync::{Mutex, mpsc};
use greenstd::thread;

fn both_ways(case: fn()) {
    case();
    thread::spawn(case).join().unwrap();
}

/// std's `mpsc` test: the sender loops until the receiver hangs up, and
/// the receiver only hangs up once it gets a turn.
#[test]
fn a_sender_looping_until_the_receiver_hangs_up_starved_it() {
    both_ways(|| {
        let (tx, rx) = mpsc::channel::<i32>();
        let _t = thread::spawn(move || {
            rx.recv().unwrap();
        });
        while tx.send(1).is_ok() {}
    });
}

/// std's `mpsc` try_iter test: a loop of `try_iter` and `send` waits for
/// replies that the other side can only send when it gets a turn.
#[test]
fn a_try_iter_loop_waiting_for_replies_starved_the_replier() {
    both_ways(|| {
        let (request_tx, request_rx) = mpsc::channel();
        let (response_tx, response_rx) = mpsc::channel();
        let t = thread::spawn(move || {
            let mut count = 0;
            loop {
                for x in response_rx.try_iter() {
                    count += x;
                    if count == 6 {
                        return count;
                    }
                }
                request_tx.send(()).unwrap();
            }
        });
        for _ in request_rx.iter() {
            if response_tx.send(2).is_err() {
                break;
            }
        }
        assert_eq!(t.join().unwrap(), 6);
    });
}

/// A `try_lock` spin while the holder sleeps: the holder's timer can only
/// fire if the spinner lets the hub run.
#[test]
fn a_try_lock_spin_starved_the_sleeping_holder() {
    both_ways(|| {
        let m = Arc::new(Mutex::new(0));
        let holder = {
            let m = m.clone();
            thread::spawn(move || {
                let mut g = m.lock().unwrap();
                thread::sleep(Duration::from_millis(5));
                *g = 1;
            })
        };
        thread::yield_now(); // the holder takes the lock
        loop {
            if let Ok(g) = m.try_lock()
                && *g == 1
            {
                break;
            }
        }
        holder.join().unwrap();
    });
}

/// A non-blocking accept loop that spins on `WouldBlock` (a socket call
/// that returns at once), as a server spins on a failing `accept`: the
/// client coroutine that would connect must still get its turn.
#[test]
fn a_spinning_accept_loop_starved_the_client() {
    both_ways(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = thread::spawn(move || {
            thread::sleep(Duration::from_millis(5));
            TcpStream::connect(addr).unwrap()
        });
        let accepted = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        };
        let connected = client.join().unwrap();
        assert_eq!(
            accepted.peer_addr().unwrap(),
            connected.local_addr().unwrap()
        );
    });
}

#[test]
fn the_slice_is_ten_milliseconds_by_default() {
    assert_eq!(greenstd::time_slice(), Some(Duration::from_millis(10)));
}
