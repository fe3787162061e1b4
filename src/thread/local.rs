//! `LocalKey` and `AccessError`: the keys of greenstd's `thread_local!`,
//! whose values are per coroutine inside coroutines (gevent makes
//! `threading.local` greenlet-local) and per thread outside.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

/// A key for coroutine-local values, made by [`thread_local!`](crate::thread_local),
/// as [`std::thread::LocalKey`].
///
/// Inside a coroutine each coroutine sees its own value, created by the
/// initialiser on its first access and dropped when the coroutine ends; in
/// a thread's own context the value is per thread, as std's.
///
/// # Examples
/// ```
/// use std::cell::Cell;
///
/// greenstd::thread_local!(static REQUEST_ID: Cell<u32> = const { Cell::new(0) });
///
/// let handles: Vec<_> = (1..=3)
///     .map(|id| {
///         greenstd::thread::spawn(move || {
///             REQUEST_ID.set(id);
///             greenstd::thread::yield_now(); // the others set theirs meanwhile
///             REQUEST_ID.get()
///         })
///     })
///     .collect();
/// let seen: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
/// assert_eq!(seen, [1, 2, 3]); // each coroutine kept its own
/// assert_eq!(REQUEST_ID.get(), 0); // and the thread its own
/// ```
///
/// Differences from std: per coroutine inside coroutines; values need not
/// be `Send`, but live as long as their coroutine, not their thread.
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
}

/// The error of [`LocalKey::try_with`] during thread teardown, as
/// [`std::thread::AccessError`].
///
/// Differences from std: greenstd's own type (std's cannot be made
/// outside std).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("already destroyed")
    }
}

impl std::error::Error for AccessError {}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey { init }
    }

    fn value(&'static self) -> Result<Rc<dyn Any>, AccessError> {
        let key = self as *const LocalKey<T> as usize;
        let init = self.init;
        crate::runtime::local_get_or_init(key, &|| Rc::new(init()) as Rc<dyn Any>)
            .ok_or(AccessError)
    }

    /// Calls `f` with the calling context's value, creating it first if
    /// needed.
    ///
    /// # Panics
    /// During thread teardown, when the storage is gone (as std).
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.try_with(f)
            .expect("cannot access a Thread Local Storage value during or after destruction")
    }

    /// As [`with`](Self::with), failing instead of panicking during
    /// teardown.
    ///
    /// # Errors
    /// [`AccessError`] during thread teardown.
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        let value = self.value()?;
        let value = value
            .downcast_ref::<T>()
            .expect("each key stores its own type");
        Ok(f(value))
    }
}

impl<T: 'static> LocalKey<Cell<T>> {
    /// Sets the value.
    pub fn set(&'static self, value: T) {
        self.with(|cell| cell.set(value));
    }

    /// A copy of the value.
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(Cell::get)
    }

    /// Takes the value, leaving `Default::default()`.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(Cell::take)
    }

    /// Replaces the value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

impl<T: 'static> LocalKey<RefCell<T>> {
    /// Calls `f` with a shared borrow of the value.
    ///
    /// # Panics
    /// If the value is mutably borrowed.
    pub fn with_borrow<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.with(|cell| f(&cell.borrow()))
    }

    /// Calls `f` with a mutable borrow of the value.
    ///
    /// # Panics
    /// If the value is borrowed.
    pub fn with_borrow_mut<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&mut T) -> R,
    {
        self.with(|cell| f(&mut cell.borrow_mut()))
    }

    /// Sets the value.
    ///
    /// # Panics
    /// If the value is borrowed.
    pub fn set(&'static self, value: T) {
        self.with(|cell| *cell.borrow_mut() = value);
    }

    /// Takes the value, leaving `Default::default()`.
    ///
    /// # Panics
    /// If the value is borrowed.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(RefCell::take)
    }

    /// Replaces the value, returning the old one.
    ///
    /// # Panics
    /// If the value is borrowed.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// Declares coroutine-local statics, as std's `thread_local!`: per
/// coroutine inside coroutines, per thread outside. See [`LocalKey`].
///
/// # Examples
/// ```
/// use std::cell::RefCell;
///
/// greenstd::thread_local! {
///     static LOG: RefCell<Vec<String>> = RefCell::new(Vec::new());
///     pub static DEPTH: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
/// }
/// LOG.with_borrow_mut(|log| log.push("main".into()));
/// let inner = greenstd::thread::spawn(|| LOG.with_borrow(|log| log.len())).join().unwrap();
/// assert_eq!(inner, 0); // a fresh value in the coroutine
/// assert_eq!(LOG.with_borrow(|log| log.len()), 1);
/// ```
#[macro_export]
macro_rules! thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr }; $($rest:tt)*) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init; $($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr }) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $(#[$attr])* $vis static $name: $crate::thread::LocalKey<$t> = {
            fn __greenstd_init() -> $t {
                $init
            }
            $crate::thread::LocalKey::new(__greenstd_init)
        };
    };
}
