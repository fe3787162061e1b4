//! Stackful coroutines: the only code that touches the `generator` crate.
//!
//! A [`Coroutine`] is a stack plus a body. Stacks of the default size are
//! kept in a small per-hub pool: mapping a fresh stack costs an `mmap`, an
//! `mprotect` for the guard page and the page faults of first use, while a
//! pooled one is reused as is.

use std::any::Any;
use std::cell::Cell;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use generator::{Generator, Gn};

/// The default coroutine stack size in bytes (256 KiB of address space; only
/// the pages a coroutine touches become resident memory).
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The smallest stack we hand out, in bytes.
const MIN_STACK_SIZE: usize = 16 * 1024;

/// How many idle default-size stacks a hub keeps for reuse.
const POOL_CAPACITY: usize = 1024;

/// Memory maps left for everything else (heap, libraries, thread stacks,
/// sockets' buffers...) when stacks approach `vm.max_map_count`: stopping
/// short of the kernel's limit keeps the rest of the process working.
const RESERVED_MAPS: usize = 2048;

/// Stacks currently mapped in this process, pooled ones included.
static MAPPED_STACKS: AtomicUsize = AtomicUsize::new(0);

/// How many stacks may be mapped at once: two maps each (stack and guard
/// page) within `vm.max_map_count`, minus the reserve.
fn stack_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let maps = crate::sys::max_map_count().unwrap_or(65530);
        maps.saturating_sub(RESERVED_MAPS) / 2
    })
}

thread_local! {
    /// Set while this thread maps a stack, so that the panic hook stays quiet
    /// about the allocation failure we turn into an `io::Error`.
    static SILENCE_PANICS: Cell<bool> = const { Cell::new(false) };
    /// The stack of the coroutine running on this thread, for the overflow
    /// handler. Const-initialised and without `Drop`, so a signal handler
    /// may read it.
    static RUNNING: Cell<StackInfo> = const { Cell::new(StackInfo::NONE) };
}

/// What the overflow handler knows of the running coroutine's stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StackInfo {
    /// An address just below the top of the stack (taken by the body when
    /// it starts); 0 outside a coroutine or before its first run.
    pub(crate) near_top: usize,
    /// The requested stack size in bytes.
    pub(crate) size: usize,
    /// The tag the coroutine was made with.
    pub(crate) tag: *const u8,
}

impl StackInfo {
    const NONE: StackInfo = StackInfo {
        near_top: 0,
        size: 0,
        tag: std::ptr::null(),
    };
}

/// The running coroutine's stack, as the overflow handler sees it.
pub(crate) fn running_stack() -> StackInfo {
    RUNNING.try_with(Cell::get).unwrap_or(StackInfo::NONE)
}

/// Wraps a body so that it records where its stack's top is.
fn noting_top<F: FnOnce()>(body: F) -> impl FnOnce() {
    move || {
        let marker = 0u8;
        let near_top = std::hint::black_box(&marker) as *const u8 as usize;
        RUNNING.with(|r| {
            let mut info = r.get();
            info.near_top = near_top;
            r.set(info);
        });
        body();
    }
}

/// Runs one trivial generator, so that the `generator` crate performs its
/// own one-time setup (its panic hook and its fault handler) now, when the
/// caller knows it is safe to, rather than on the first real coroutine,
/// which may start while the thread unwinds (`set_hook` aborts there).
pub(crate) fn warm_up() {
    let words = MIN_STACK_SIZE / std::mem::size_of::<usize>();
    let mut warm = Gn::<()>::new_opt(words, || {});
    warm.resume();
}

/// Whether the panic hook should stay quiet on this thread right now.
pub(crate) fn panics_silenced() -> bool {
    SILENCE_PANICS.with(Cell::get)
}

/// How a resumed coroutine came back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// It parked and will be resumed later.
    Suspended,
    /// Its body returned.
    Finished,
    /// It ran into its stack's guard page; its frames were abandoned.
    Overflowed,
}

/// A stack and the body running on it.
pub(crate) struct Coroutine {
    inner: Generator<'static, (), ()>,
    stack_size: usize,
    tag: *const u8,
    /// See [`StackInfo::near_top`]; learnt on the first run.
    near_top: usize,
}

impl std::fmt::Debug for Coroutine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coroutine")
            .field("stack_size", &self.stack_size)
            .field("done", &self.inner.is_done())
            .finish()
    }
}

/// Rounds a requested stack size the way `Builder::stack_size` documents.
pub(crate) fn effective_stack_size(requested: Option<usize>) -> usize {
    requested.map_or(DEFAULT_STACK_SIZE, |s| s.max(MIN_STACK_SIZE))
}

impl Coroutine {
    /// Maps a fresh stack of `stack_size` bytes and installs `body` on it.
    ///
    /// Fails with `ErrorKind::OutOfMemory` when the kernel refuses the
    /// mapping, which on Linux usually means `vm.max_map_count` is reached.
    pub(crate) fn new<F>(stack_size: usize, tag: *mut u8, body: F) -> io::Result<Coroutine>
    where
        F: FnOnce() + Send + 'static,
    {
        let words = stack_size / std::mem::size_of::<usize>();
        if MAPPED_STACKS.fetch_add(1, Ordering::Relaxed) >= stack_budget() {
            MAPPED_STACKS.fetch_sub(1, Ordering::Relaxed);
            return Err(stack_error(stack_size));
        }
        SILENCE_PANICS.with(|s| s.set(true));
        let body = noting_top(body);
        let made = panic::catch_unwind(AssertUnwindSafe(|| Gn::<()>::new_opt(words, body)));
        SILENCE_PANICS.with(|s| s.set(false));
        let mut co_gen = made.map_err(|_| {
            MAPPED_STACKS.fetch_sub(1, Ordering::Relaxed);
            stack_error(stack_size)
        })?;
        // A non-null local pointer makes the generator a coroutine: a panic
        // in it stays in it instead of propagating to the resumer.
        co_gen.set_local_data(tag);
        Ok(Coroutine {
            inner: co_gen,
            stack_size,
            tag,
            near_top: 0,
        })
    }

    /// Installs a new body on a finished coroutine, reusing its stack.
    pub(crate) fn reuse<F>(&mut self, tag: *mut u8, body: F)
    where
        F: FnOnce() + Send + 'static,
    {
        debug_assert!(self.inner.is_done());
        self.inner.init_code(noting_top(body));
        self.inner.set_local_data(tag);
        self.tag = tag;
    }

    /// Runs the coroutine until it parks or ends.
    #[inline]
    pub(crate) fn resume(&mut self) -> Status {
        let outer = RUNNING.replace(StackInfo {
            near_top: self.near_top,
            size: self.stack_size,
            tag: self.tag,
        });
        self.inner.resume();
        self.near_top = RUNNING.replace(outer).near_top;
        if !self.inner.is_done() {
            return Status::Suspended;
        }
        match self.inner.get_panic_data() {
            Some(payload) if is_overflow(&*payload) => Status::Overflowed,
            // The body catches its own panics; anything else here is the
            // generator's cancellation marker, which means the body ended.
            _ => Status::Finished,
        }
    }

    /// The stack size in bytes this coroutine was made with.
    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size
    }
}

impl Drop for Coroutine {
    fn drop(&mut self) {
        MAPPED_STACKS.fetch_sub(1, Ordering::Relaxed);
    }
}

fn is_overflow(payload: &(dyn Any + Send)) -> bool {
    matches!(
        payload.downcast_ref::<generator::Error>(),
        Some(generator::Error::StackErr)
    )
}

/// Whether `payload` is the generator crate's own cancellation marker, which
/// must be let through so that a dropped coroutine finishes unwinding.
pub(crate) fn is_cancellation(payload: &(dyn Any + Send)) -> bool {
    payload.is::<generator::Error>()
}

fn stack_error(stack_size: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "cannot map a {} KiB stack for a new coroutine ({} stacks are mapped). Each \
             coroutine stack uses two memory maps, and greenstd keeps {RESERVED_MAPS} of the \
             kernel's vm.max_map_count ({}) for the rest of the process; raise it \
             (sysctl -w vm.max_map_count=N) or keep fewer coroutines alive",
            stack_size / 1024,
            MAPPED_STACKS.load(Ordering::Relaxed),
            crate::sys::max_map_count().map_or_else(|| "unknown".into(), |n| n.to_string()),
        ),
    )
}

/// Switches from the running coroutine back to its hub.
#[inline]
pub(crate) fn suspend() {
    generator::co_yield_with(());
}

/// Idle stacks of the default size, ready for reuse.
#[derive(Debug, Default)]
pub(crate) struct StackPool {
    idle: Vec<Coroutine>,
}

impl StackPool {
    /// A finished coroutine whose stack has the default size, if one is idle.
    pub(crate) fn take(&mut self, stack_size: usize) -> Option<Coroutine> {
        if stack_size == DEFAULT_STACK_SIZE {
            self.idle.pop()
        } else {
            None
        }
    }

    /// Keeps a finished coroutine's stack for reuse, or unmaps it.
    pub(crate) fn give(&mut self, co: Coroutine) {
        if co.stack_size == DEFAULT_STACK_SIZE && self.idle.len() < POOL_CAPACITY {
            self.idle.push(co);
        }
    }
}

/// A generator in the Python sense, on its own stack: the body hands
/// values out through its [`LocalYielder`], the caller pulls them.
pub(crate) struct LocalGen<'a, T> {
    inner: generator::LocalGenerator<'a, (), T>,
}

/// The handle a [`LocalGen`] body yields through.
pub(crate) struct LocalYielder<'s, T> {
    yield_fn: &'s mut dyn FnMut(T),
}

impl<'a, T: 'a> LocalGen<'a, T> {
    /// A generator running `body` lazily, on the first `next_value()`.
    pub(crate) fn new<F>(body: F) -> Self
    where
        F: for<'s> FnOnce(&mut LocalYielder<'s, T>) + 'a,
    {
        let words = DEFAULT_STACK_SIZE / std::mem::size_of::<usize>();
        let inner = Gn::<()>::new_scoped_opt_local(words, move |mut scope| {
            let mut yield_fn = |value| scope.yield_with(value);
            body(&mut LocalYielder {
                yield_fn: &mut yield_fn,
            });
            generator::done()
        });
        LocalGen { inner }
    }

    /// Resumes the body until it yields the next value or ends.
    pub(crate) fn next_value(&mut self) -> Option<T> {
        self.inner.resume()
    }
}

impl<T> LocalYielder<'_, T> {
    /// Hands `value` to the caller of `next_value()` and waits to be resumed.
    pub(crate) fn yield_(&mut self, value: T) {
        (self.yield_fn)(value);
    }
}

impl<'s, T> LocalYielder<'s, T> {
    /// A yielder for the same generator, borrowed for a shorter time.
    pub(crate) fn reborrow<'b>(&'b mut self) -> LocalYielder<'b, T> {
        LocalYielder {
            yield_fn: &mut *self.yield_fn,
        }
    }
}
