//! `Barrier`, as std's: waiting parks the coroutine.

use std::sync::Mutex;

use crate::runtime::WaitQueue;

/// A barrier for `n` parties, as [`std::sync::Barrier`].
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use greenstd::sync::Barrier;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let hs: Vec<_> = (0..3)
///     .map(|_| {
///         let b = barrier.clone();
///         greenstd::thread::spawn(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = hs.into_iter().map(|h| h.join().unwrap()).filter(|&leader| leader).count();
/// assert_eq!(leaders, 1);
/// ```
#[derive(Debug)]
pub struct Barrier {
    state: Mutex<State>,
    waiters: WaitQueue,
    parties: usize,
}

#[derive(Debug)]
struct State {
    arrived: usize,
    generation: u64,
}

/// What [`Barrier::wait`] returns, as [`std::sync::BarrierWaitResult`].
///
/// Differences from std: greenstd's own type (std's cannot be made
/// outside std); same method.
#[derive(Debug)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this party was the leader (exactly one per round).
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` parties.
    #[must_use]
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            state: Mutex::new(State {
                arrived: 0,
                generation: 0,
            }),
            waiters: WaitQueue::new(),
            parties: n,
        }
    }

    /// Waits until all parties have arrived; the last to arrive leads.
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        let generation = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.arrived += 1;
            if s.arrived >= self.parties {
                s.arrived = 0;
                s.generation += 1;
                drop(s);
                self.waiters.notify_all();
                return BarrierWaitResult(true);
            }
            s.generation
        };
        let passed = || {
            self.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .generation
                != generation
        };
        crate::runtime::unwrap_wait(self.waiters.wait_until(None, "Barrier::wait", passed));
        BarrierWaitResult(false)
    }
}
