//! Channels, as [`std::sync::mpsc`]: a receiver or a full sender parks the
//! coroutine; senders and receivers may live on any coroutine or thread.
//!
//! ```
//! use greenstd::sync::mpsc;
//!
//! let (tx, rx) = mpsc::channel();
//! for i in 0..3 {
//!     let tx = tx.clone();
//!     greenstd::thread::spawn(move || tx.send(i).unwrap());
//! }
//! drop(tx);
//! let mut got: Vec<i32> = rx.iter().collect(); // ends when all senders are gone
//! got.sort();
//! assert_eq!(got, [0, 1, 2]);
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use crate::runtime::{SpinGuard, SpinLock, WaitQueue, WaitSlot};

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    receiver: bool,
    /// Messages taken by the receiver so far (rendezvous senders wait for
    /// theirs to be taken).
    taken: u64,
    sent: u64,
}

struct Chan<T> {
    /// A spin lock, not a `Mutex`: its critical sections are a few
    /// instructions, never wait and run no user code (messages are dropped
    /// outside it), and its release costs a store instead of a swap.
    state: SpinLock<State<T>>,
    /// The receiver's wait (there is one `Receiver`, and it is not `Sync`).
    receivers: WaitSlot,
    senders: WaitQueue,
    /// `None`: unbounded; `Some(0)`: rendezvous.
    bound: Option<usize>,
    /// Counts what can end a receiver's wait: each message queued, and the
    /// last sender leaving. Changed under the lock only (see
    /// [`Chan::changed`]); read without it.
    changes: AtomicU64,
    /// The receiver's own: the value of `changes` when it last found the
    /// queue empty, under the lock. While `changes` still reads so, the
    /// queue is still empty and no sender left, so a receive that would
    /// only fail skips the lock (half the locking of a ping-pong).
    empty_at: AtomicU64,
}

impl<T> Chan<T> {
    fn lock(&self) -> SpinGuard<'_, State<T>> {
        self.state.lock()
    }

    /// Notes, under the lock, a change that can end the receiver's wait.
    /// Sequentially consistent, against the receiver's registration in
    /// its wait slot: either the receiver's fresh look sees the change, or
    /// the notify after it sees the receiver.
    fn changed(&self, _locked: &SpinGuard<'_, State<T>>) {
        let n = self.changes.load(Ordering::Relaxed);
        self.changes.store(n + 1, Ordering::SeqCst);
    }

    /// Whether the receiver may skip the lock: nothing changed since it
    /// found the queue empty.
    fn surely_empty(&self) -> bool {
        self.changes.load(Ordering::SeqCst) == self.empty_at.load(Ordering::Relaxed)
    }

    /// Under the lock, with the queue empty: remembers it for
    /// [`Chan::surely_empty`].
    fn found_empty(&self, _locked: &SpinGuard<'_, State<T>>) {
        self.empty_at
            .store(self.changes.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// The sending half of [`channel`], as [`std::sync::mpsc::Sender`].
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The sending half of [`sync_channel`], as [`std::sync::mpsc::SyncSender`].
pub struct SyncSender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of a channel, as [`std::sync::mpsc::Receiver`].
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// A blocking iterator over received messages: [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T: 'a> {
    rx: &'a Receiver<T>,
}

/// A non-blocking iterator over pending messages: [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T: 'a> {
    rx: &'a Receiver<T>,
}

/// An owning blocking iterator: `Receiver::into_iter`.
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

fn new_chan<T>(bound: Option<usize>) -> Arc<Chan<T>> {
    Arc::new(Chan {
        state: SpinLock::new(State {
            queue: VecDeque::new(),
            senders: 1,
            receiver: true,
            taken: 0,
            sent: 0,
        }),
        receivers: WaitSlot::new(),
        senders: WaitQueue::new(),
        bound,
        changes: AtomicU64::new(0),
        empty_at: AtomicU64::new(0),
    })
}

/// An unbounded channel, as [`std::sync::mpsc::channel`].
#[must_use]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let chan = new_chan(None);
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// A channel holding at most `bound` messages, as
/// [`std::sync::mpsc::sync_channel`]; `bound` 0 makes every `send` wait
/// for its message to be received (a rendezvous).
///
/// # Examples
/// ```
/// let (tx, rx) = greenstd::sync::mpsc::sync_channel(0);
/// let sender = greenstd::thread::spawn(move || tx.send("handed over").unwrap());
/// assert_eq!(rx.recv().unwrap(), "handed over");
/// sender.join().unwrap();
/// ```
#[must_use]
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let chan = new_chan(Some(bound));
    (SyncSender { chan: chan.clone() }, Receiver { chan })
}

fn send_unbounded<T>(chan: &Chan<T>, t: T) -> Result<(), SendError<T>> {
    crate::runtime::checkpoint();
    {
        let mut s = chan.lock();
        if !s.receiver {
            return Err(SendError(t));
        }
        s.queue.push_back(t);
        s.sent += 1;
        chan.changed(&s);
    }
    chan.receivers.notify();
    Ok(())
}

/// A bounded send: waits for room, and for a rendezvous also for the
/// message to be taken.
#[track_caller]
fn send_bounded<T>(chan: &Chan<T>, t: T, bound: usize) -> Result<(), SendError<T>> {
    let room = bound.max(1);
    let mut item = Some(t);
    let mut outcome: Option<Result<u64, SendError<T>>> = None;
    let waited = chan.senders.wait_until(None, "SyncSender::send", || {
        let mut s = chan.lock();
        if !s.receiver {
            outcome = Some(Err(SendError(item.take().expect("unsent"))));
        } else if s.queue.len() < room {
            s.queue.push_back(item.take().expect("unsent"));
            s.sent += 1;
            chan.changed(&s);
            outcome = Some(Ok(s.sent));
        } else {
            return false;
        }
        true
    });
    crate::runtime::unwrap_wait(waited);
    let ticket = outcome.expect("a successful wait decided")?;
    chan.receivers.notify();
    if bound > 0 {
        return Ok(());
    }
    let mut returned = None;
    let waited = chan.senders.wait_until(None, "SyncSender::send", || {
        let mut s = chan.lock();
        if s.taken >= ticket {
            return true;
        }
        if !s.receiver {
            returned = s.queue.pop_back();
            return true;
        }
        false
    });
    crate::runtime::unwrap_wait(waited);
    returned.map_or(Ok(()), |t| Err(SendError(t)))
}

impl<T> Sender<T> {
    /// Sends a message; never waits.
    ///
    /// # Errors
    /// `SendError(t)` if the receiver is gone.
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        send_unbounded(&self.chan, t)
    }
}

impl<T> SyncSender<T> {
    /// Sends a message, parking while the channel is full (or, for a
    /// rendezvous channel, until it is received).
    ///
    /// # Errors
    /// `SendError(t)` if the receiver is gone.
    #[track_caller]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        send_bounded(&self.chan, t, self.chan.bound.unwrap_or(usize::MAX))
    }

    /// Sends a message if there is room now (for a rendezvous channel: if a
    /// receiver is waiting).
    ///
    /// # Errors
    /// `TrySendError::Full(t)` or `TrySendError::Disconnected(t)`.
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        crate::runtime::checkpoint();
        let bound = self.chan.bound.unwrap_or(usize::MAX);
        {
            let mut s = self.chan.lock();
            if !s.receiver {
                return Err(TrySendError::Disconnected(t));
            }
            let room = if bound == 0 {
                // Only a parked receiver can take a rendezvous message now.
                usize::from(self.chan.receivers.has_waiters() && s.queue.is_empty())
            } else {
                bound
            };
            if s.queue.len() >= room {
                return Err(TrySendError::Full(t));
            }
            s.queue.push_back(t);
            s.sent += 1;
            self.chan.changed(&s);
        }
        self.chan.receivers.notify();
        Ok(())
    }
}

impl<T> Receiver<T> {
    fn take(&self) -> Result<T, TryRecvError> {
        if self.chan.surely_empty() {
            return Err(TryRecvError::Empty);
        }
        let taken = {
            let mut s = self.chan.lock();
            let taken = match s.queue.pop_front() {
                Some(t) => {
                    s.taken += 1;
                    Ok(t)
                }
                None if s.senders == 0 => Err(TryRecvError::Disconnected),
                None => Err(TryRecvError::Empty),
            };
            // Disconnected stays a change not yet seen: every later
            // receive takes the lock and reports it again.
            if s.queue.is_empty() && s.senders > 0 {
                self.chan.found_empty(&s);
            }
            taken
        };
        if taken.is_ok() && self.chan.bound.is_some() {
            self.chan.senders.notify_all();
        }
        taken
    }

    /// Takes a pending message without waiting.
    ///
    /// # Errors
    /// `Empty` or `Disconnected`.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        crate::runtime::checkpoint();
        self.take()
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let waited = self
            .chan
            .receivers
            .wait_for(deadline, "Receiver::recv", || match self.take() {
                Ok(t) => Some(Ok(t)),
                Err(TryRecvError::Disconnected) => Some(Err(RecvTimeoutError::Disconnected)),
                Err(TryRecvError::Empty) => None,
            });
        crate::runtime::unwrap_wait(waited).unwrap_or(Err(RecvTimeoutError::Timeout))
    }

    /// Waits (parking) for a message.
    ///
    /// # Errors
    /// `RecvError` once every sender is gone and the channel is empty.
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(|_| RecvError)
    }

    /// Waits for a message at most `timeout`.
    ///
    /// # Errors
    /// `Timeout` or `Disconnected`.
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(crate::runtime::deadline_after(timeout)))
    }

    /// A blocking iterator that ends when every sender is gone.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the messages pending now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.lock().senders += 1;
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        self.chan.lock().senders += 1;
        SyncSender {
            chan: self.chan.clone(),
        }
    }
}

fn sender_gone<T>(chan: &Chan<T>) {
    let last = {
        let mut s = chan.lock();
        s.senders -= 1;
        if s.senders == 0 {
            chan.changed(&s);
        }
        s.senders == 0
    };
    if last {
        chan.receivers.notify();
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        sender_gone(&self.chan);
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        sender_gone(&self.chan);
    }
}

/// The receiver's end drops the messages still buffered at once, as std's
/// does (`drop_unreceived`), outside the channel's lock: a message's `Drop`
/// may use the channel (send on it, or drop one of its senders). A
/// rendezvous channel buffers only messages whose senders still wait: they
/// take them back as their `SendError`.
impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let unreceived = {
            let mut s = self.chan.lock();
            s.receiver = false;
            if self.chan.bound == Some(0) {
                VecDeque::new()
            } else {
                std::mem::take(&mut s.queue)
            }
        };
        self.chan.senders.notify_all();
        drop(unreceived);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
