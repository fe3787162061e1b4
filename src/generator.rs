//! Python-style generators: a body that hands values out one at a time.
//!
//! The seed tutorial starts with a generator `A` driven by a loop `B`; this
//! is that building block. Each generator runs on a small stack of its own
//! and is resumed by `next()`, on the caller's thread.
//!
//! # Examples
//! ```
//! use greenstd::generator::Generator;
//!
//! let squares = Generator::new(|co| {
//!     for i in 1..=3 {
//!         co.yield_(i * i);
//!     }
//! });
//! assert_eq!(squares.collect::<Vec<_>>(), [1, 4, 9]);
//! ```

use std::fmt;

use crate::runtime::{LocalGen, LocalYielder};

/// A generator: an [`Iterator`] over the values its body yields.
pub struct Generator<'a, T> {
    inner: LocalGen<'a, T>,
}

/// The handle a generator's body yields through.
pub struct Yielder<'s, T> {
    inner: LocalYielder<'s, T>,
}

impl<'a, T: 'a> Generator<'a, T> {
    /// A generator that runs `body` lazily: up to its first `yield_` on the
    /// first `next()`, and so on.
    pub fn new<F>(body: F) -> Self
    where
        F: for<'s> FnOnce(&mut Yielder<'s, T>) + 'a,
    {
        crate::runtime::setup();
        Generator {
            inner: LocalGen::new(move |y: &mut LocalYielder<'_, T>| {
                let inner = LocalYielder::reborrow(y);
                body(&mut Yielder { inner })
            }),
        }
    }
}

impl<T> Yielder<'_, T> {
    /// Hands `value` to the caller of `next()`; returns when the caller asks
    /// for the next value.
    pub fn yield_(&mut self, value: T) {
        self.inner.yield_(value);
    }
}

impl<'a, T: 'a> Iterator for Generator<'a, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.inner.next_value()
    }
}

impl<T> fmt::Debug for Generator<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Yielder<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Yielder").finish_non_exhaustive()
    }
}
