//! The hub's timers: deadlines that wake a task.
//!
//! An ordered map keyed by `(deadline, sequence)`, so that a wait that ends
//! early removes its entry in `O(log n)` and no stale entries pile up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::task::Task;

/// The key of one armed timer; needed to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey {
    deadline: Instant,
    seq: u64,
}

/// Deadlines waiting to wake their tasks.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    entries: BTreeMap<TimerKey, Arc<Task>>,
    next_seq: u64,
}

impl Timers {
    /// Arms a timer that wakes `task` at `deadline`.
    pub(crate) fn insert(&mut self, deadline: Instant, task: Arc<Task>) -> TimerKey {
        let key = TimerKey {
            deadline,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.entries.insert(key, task);
        key
    }

    /// Cancels a timer; a timer that already fired is ignored.
    pub(crate) fn remove(&mut self, key: TimerKey) {
        self.entries.remove(&key);
    }

    /// The earliest deadline, if any timer is armed.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.entries.keys().next().map(|k| k.deadline)
    }

    /// Whether no timer is armed.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every timer due at `now` and returns their tasks, earliest first.
    pub(crate) fn expire(&mut self, now: Instant, out: &mut Vec<Arc<Task>>) {
        while let Some(entry) = self.entries.first_entry() {
            if entry.key().deadline > now {
                break;
            }
            out.push(entry.remove());
        }
    }
}
