//! `Builder`: coroutine configuration, as `std::thread::Builder`.

use std::io;

use super::{JoinHandle, Scope, ScopedJoinHandle};
use crate::runtime::{self, SpawnOptions};

/// Configures a coroutine before it is spawned: its name and stack size.
///
/// # Examples
/// ```
/// use greenstd::thread::Builder;
///
/// let handle = Builder::new()
///     .name("worker".into())
///     .stack_size(64 * 1024)
///     .spawn(|| "done")
///     .unwrap();
/// assert_eq!(handle.thread().name(), Some("worker"));
/// assert_eq!(handle.join().unwrap(), "done");
/// ```
///
/// Differences from std: `stack_size` sizes the coroutine's stack (256 KiB
/// by default, at least 16 KiB); `RUST_MIN_STACK` is not consulted.
#[derive(Debug, Default)]
#[must_use = "must eventually spawn the thread"]
pub struct Builder {
    options: SpawnOptions,
}

impl Builder {
    /// A builder with no name and the default stack size.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the coroutine; the name shows in panic messages, in
    /// [`Thread::name`](super::Thread::name) and in its `Display`.
    pub fn name(mut self, name: String) -> Builder {
        self.options.name = Some(name);
        self
    }

    /// Sets the stack size in bytes; rounded up to the page size, at least
    /// 16 KiB.
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.options.stack_size = Some(size);
        self
    }

    /// Chooses which hub starts the coroutine (see [`crate::set_hubs`]):
    /// by default a worker hub when there are several and the spawner is a
    /// thread's own context, the spawner's hub otherwise. A greenstd
    /// addition.
    ///
    /// # Examples
    /// ```
    /// use greenstd::{Placement, thread::Builder};
    ///
    /// let here = std::thread::current().id();
    /// let h = Builder::new()
    ///     .placement(Placement::ThisThread)
    ///     .spawn(move || std::thread::current().id() == here)
    ///     .unwrap();
    /// assert!(h.join().unwrap());
    /// ```
    pub fn placement(mut self, placement: crate::Placement) -> Builder {
        self.options.placement = placement;
        self
    }

    /// Spawns a coroutine with this configuration.
    ///
    /// # Errors
    /// `ErrorKind::WouldBlock`, std's kind for a thread the OS refuses
    /// (`EAGAIN`), when the kernel refuses to map a stack:
    /// each live coroutine uses two memory maps, so Linux's default
    /// `vm.max_map_count` allows about 32,700 live coroutines. Also an error
    /// if the hub's poller cannot be created (out of file descriptors).
    ///
    /// A coroutine may get its stack after this returns: on another hub,
    /// when that hub picks it up; on this thread's hub, at its first run,
    /// when no ended coroutine's stack is free to reuse. Its room under the
    /// limit is reserved here either way, so the error above comes from
    /// here. If the kernel refuses the memory itself at that later point,
    /// the coroutine never runs and its
    /// [`join`](JoinHandle::join) returns `Err` with a
    /// `"failed to spawn thread: ..."` message as a panic's payload, where
    /// std's spawn would have returned the error.
    ///
    /// # Panics
    /// Panics if the name contains a NUL byte, as std does.
    ///
    /// # Examples
    /// ```
    /// let h = greenstd::thread::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(h.join().unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.check_name();
        Ok(JoinHandle::new(runtime::spawn(self.options, f)?))
    }

    /// Spawns a coroutine that may borrow non-`'static` data.
    ///
    /// # Errors
    /// As [`Builder::spawn`].
    ///
    /// # Safety
    /// As [`std::thread::Builder::spawn_unchecked`]: everything `f` and its
    /// result borrow must outlive the coroutine, i.e. the caller joins it
    /// before any such borrow ends.
    ///
    /// # Examples
    /// ```
    /// let data = vec![1, 2, 3];
    /// let sum = {
    ///     // SAFETY: joined below, before `data` goes away.
    ///     let h = unsafe {
    ///         greenstd::thread::Builder::new().spawn_unchecked(|| data.iter().sum::<i32>())
    ///     }
    ///     .unwrap();
    ///     h.join().unwrap()
    /// };
    /// assert_eq!(sum, 6);
    /// ```
    #[allow(unsafe_code)]
    #[track_caller]
    pub unsafe fn spawn_unchecked<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        self.check_name();
        // SAFETY: the caller upholds `spawn_unchecked`'s contract, which is
        // exactly this function's.
        let joiner = unsafe { runtime::spawn_unchecked(self.options, f, None) }?;
        Ok(JoinHandle::new(joiner))
    }

    /// Spawns a scoped coroutine with this configuration.
    ///
    /// # Errors
    /// As [`Builder::spawn`].
    ///
    /// # Examples
    /// ```
    /// let mut n = 0;
    /// greenstd::thread::scope(|s| {
    ///     greenstd::thread::Builder::new()
    ///         .name("adder".into())
    ///         .spawn_scoped(s, || n += 1)
    ///         .unwrap();
    /// });
    /// assert_eq!(n, 1);
    /// ```
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.check_name();
        scope.spawn_with(self.options, f)
    }

    fn check_name(&self) {
        if let Some(name) = &self.options.name
            && name.contains('\0')
        {
            // The same panic, message included, as std's.
            let _ = std::ffi::CString::new(name.as_bytes())
                .expect("thread name may not contain interior null bytes");
        }
    }
}
