//! What greenstd's locks keep beside their state word: the value, and
//! std's poison flag with its rule (a guard dropped while its holder
//! unwinds poisons the lock, unless the holder was unwinding already when
//! it took the lock), judged per coroutine by [`panicking`].

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

use super::report::panicking;

/// A lock's value and its poison flag. The lock decides who may reach the
/// value (see [`PoisonCell::get`]).
pub(crate) struct PoisonCell<T: ?Sized> {
    poisoned: AtomicBool,
    value: UnsafeCell<T>,
}

impl<T> PoisonCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        PoisonCell {
            poisoned: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, and whether the lock was poisoned.
    pub(crate) fn into_inner(self) -> (T, bool) {
        let poisoned = self.is_poisoned();
        (self.value.into_inner(), poisoned)
    }
}

impl<T: ?Sized> PoisonCell<T> {
    /// Where the value is, for the lock's guards to reach it while they
    /// hold the lock.
    pub(crate) fn get(&self) -> *mut T {
        self.value.get()
    }

    /// The value through a unique borrow (no lock needed), and whether the
    /// lock is poisoned.
    pub(crate) fn get_mut(&mut self) -> (&mut T, bool) {
        let poisoned = self.is_poisoned();
        (self.value.get_mut(), poisoned)
    }

    /// Whether a holder unwound while holding the lock.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Relaxed)
    }

    /// Forgets that a holder unwound.
    pub(crate) fn clear_poison(&self) {
        self.poisoned.store(false, Ordering::Relaxed);
    }
}

/// What a guard remembers to apply the rule when it is dropped: whether its
/// holder was unwinding when it took the lock.
#[derive(Clone, Copy)]
pub(crate) struct PoisonOnUnwind {
    panicking: bool,
}

impl PoisonOnUnwind {
    /// For a guard taken now.
    #[inline]
    pub(crate) fn now() -> Self {
        PoisonOnUnwind {
            panicking: panicking(),
        }
    }

    /// For a guard dropped now: poisons `cell` if its holder started to
    /// unwind while holding the lock.
    #[inline]
    pub(crate) fn apply<T: ?Sized>(self, cell: &PoisonCell<T>) {
        if !self.panicking && panicking() {
            cell.poisoned.store(true, Ordering::Relaxed);
        }
    }
}
