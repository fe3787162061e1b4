//! Stackful coroutines: the only code that touches the `generator` crate.
//!
//! A [`Coroutine`] is a stack plus a body. Stacks of the default size are
//! kept in a small per-hub pool: mapping a fresh stack costs an `mmap`, an
//! `mprotect` for the guard page and the page faults of first use, while a
//! pooled one is reused as is: its stack never leaves the loop that runs
//! one body after another ([`serve_bodies`]), so a reuse is a write of the
//! new body into that loop's frame and one resume, not a new generator.

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

/// How many idle default-size stacks a hub keeps for reuse for good. It
/// keeps more while they come back (a burst of coroutines that ended), and
/// unmaps the excess, a batch at a time, only before a sleep long enough to
/// hide the work ([`StackPool::trim`]), so that unmapping never delays the
/// coroutines that run.
const POOL_CAPACITY: usize = 1024;

/// Whether the map budget has room enough to keep idle stacks: not in its
/// last 32nd (about 1,000 stacks under the default `vm.max_map_count`).
fn pooling_leaves_room() -> bool {
    let budget = stack_budget();
    MAPPED_STACKS.load(Ordering::Relaxed) < budget - budget / 32
}

/// How many excess stacks the hub unmaps before one long enough sleep.
const TRIM_PER_TURN: usize = 64;

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
    /// The stack of the coroutine running on this thread (in its
    /// [`Coroutine`], which [`Coroutine::resume`] points this at for the
    /// run), or null: for the overflow handler, and for the coroutine
    /// itself. Const-initialised and without `Drop`, so a signal handler
    /// may read it. A pointer, not a copy, so that a resume moves one word
    /// in and out, not eight.
    static RUNNING: Cell<*mut StackInfo> = const { Cell::new(std::ptr::null_mut()) };
}

/// A coroutine's stack, as the coroutine itself (through `RUNNING`) and
/// the overflow handler (through [`running_stack`]) know it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StackInfo {
    /// An address just below the top of the stack (taken by the body when
    /// it starts); 0 outside a coroutine or before its first run.
    pub(crate) near_top: usize,
    /// The requested stack size in bytes.
    pub(crate) size: usize,
    /// The tag the coroutine was made with.
    pub(crate) tag: *const u8,
    /// The bottom of the stack if its sentinel page was given back (see
    /// [`release_sentinel_page`]); 0 otherwise.
    pub(crate) released_bottom: usize,
    /// The size of a fresh stack whose sentinel page is still resident and
    /// may be given back at the coroutine's first park
    /// ([`trim_before_parking`]); 0 once done or not to be done.
    pub(crate) unreleased: usize,
    /// Set by [`serve_bodies`] when the body has returned and the stack
    /// waits, suspended, for the next one at `handoff`.
    ended: bool,
    /// Where [`serve_bodies`] waits for the next body while the coroutine
    /// is idle; null while a body runs or waits to run.
    handoff: *mut Handoff,
    /// The body's [`Yielder`], in the first body's frame, learnt with
    /// `near_top` (see [`suspend`]).
    yielder: *mut Yielder,
}

/// The `generator` crate's handle for yielding out of a coroutine's own
/// stack: its first body takes it as an argument and keeps it for the
/// stack's life (see [`suspend`]). The lifetimes are the crate's, erased:
/// it is used only through [`StackInfo::yielder`], while its frame lives.
type Yielder = generator::Scope<'static, 'static, (), ()>;

impl StackInfo {
    const NONE: StackInfo = StackInfo {
        near_top: 0,
        size: 0,
        tag: std::ptr::null(),
        released_bottom: 0,
        unreleased: 0,
        ended: false,
        handoff: std::ptr::null_mut(),
        yielder: std::ptr::null_mut(),
    };
}

/// The running coroutine's stack, as the overflow handler sees it.
pub(crate) fn running_stack() -> StackInfo {
    let info = RUNNING.try_with(Cell::get).unwrap_or(std::ptr::null_mut());
    if info.is_null() {
        return StackInfo::NONE;
    }
    // SAFETY: `Coroutine::resume` points `RUNNING` at the running
    // coroutine's record only for the run, and the coroutine lives on.
    unsafe { *info }
}

/// The running coroutine's stack record; null outside a coroutine.
#[inline(always)]
fn running() -> *mut StackInfo {
    RUNNING.with(Cell::get)
}

/// Records where the stack's top is (see [`release_sentinel_page`]) and
/// where its yielder is (see [`suspend`]): called first thing on a fresh
/// stack, in the first body's frame, which holds `yielder` until the
/// stack is dropped.
#[inline(always)]
fn note_top(yielder: *mut Yielder) {
    let marker = 0u8;
    let near_top = std::hint::black_box(&marker) as *const u8 as usize;
    let info = running();
    // SAFETY: called first thing in a coroutine's body, which only
    // `Coroutine::resume` runs, with its record current.
    unsafe {
        (*info).near_top = near_top;
        (*info).yielder = yielder;
    }
}

/// How many bytes of a body the stack of an idle coroutine takes in place
/// (a larger one is boxed): the spawn path keeps closures of up to 128
/// bytes unboxed, and wraps them with a call that records their end.
const HANDOFF_BYTES: usize = 192;

/// Where an idle coroutine waits for its next body: a slot in the frame of
/// [`serve_bodies`], on the coroutine's own stack, which [`Coroutine::reuse`]
/// writes while the coroutine is suspended.
#[repr(C, align(16))]
struct Handoff {
    /// Moves the body out of `body` and runs it; `None` tells the loop to
    /// return, which ends the generator (see [`Coroutine`]'s `Drop`).
    run: Option<unsafe fn(*mut u8)>,
    /// Drops the body unrun (a coroutine dropped before it started it).
    discard: unsafe fn(*mut u8),
    body: std::mem::MaybeUninit<[u8; HANDOFF_BYTES]>,
}

/// Moves the `F` stored at `at` out and runs it.
///
/// # Safety
/// `at` holds an `F` written by [`Coroutine::reuse`] and not yet moved out.
unsafe fn run_stored<F: FnOnce()>(at: *mut u8) {
    // SAFETY: the caller's promise; the value is moved out exactly once.
    let body = unsafe { std::ptr::read(at.cast::<F>()) };
    body();
}

/// Drops the `F` stored at `at`, unrun.
///
/// # Safety
/// As [`run_stored`].
unsafe fn discard_stored<F>(at: *mut u8) {
    // SAFETY: the caller's promise.
    unsafe { std::ptr::drop_in_place(at.cast::<F>()) };
}

/// What a coroutine's stack runs after its first body: it announces the
/// end of each body, waits suspended for the next (handed over in a slot of
/// this frame), and runs it, on the same stack, without the `generator`
/// crate setting the stack up again. Returns when resumed with no body.
fn serve_bodies() {
    loop {
        let mut handoff = Handoff {
            run: None,
            discard: discard_stored::<()>,
            body: std::mem::MaybeUninit::uninit(),
        };
        let at = &raw mut handoff;
        let info = running();
        // SAFETY: this runs on a coroutine's stack, resumed by
        // `Coroutine::resume`, with its record current.
        unsafe {
            (*info).ended = true;
            (*info).handoff = at;
        }
        suspend();
        // SAFETY: `reuse` wrote the slot (through `at`, which escaped into
        // the thread-local above) while this frame was suspended.
        let Some(run) = (unsafe { (*at).run }) else {
            return;
        };
        // SAFETY: `reuse` stored the body `run` was made for.
        unsafe { run((*at).body.as_mut_ptr().cast()) };
    }
}

/// Called by a coroutine about to park for a wait: on a fresh stack, the
/// first such park gives back the page the `generator` crate wrote at its
/// bottom (see [`release_sentinel_page`]). A coroutine that ends without
/// ever waiting (most short-lived ones) never pays the syscall; one that
/// waits, as an idle connection's does, keeps only the pages it uses.
#[inline]
pub(crate) fn trim_before_parking() {
    let info = running();
    // SAFETY: a non-null record is the running coroutine's (see `RUNNING`).
    if !info.is_null() && unsafe { (*info).unreleased } != 0 {
        // SAFETY: as above.
        trim_now(unsafe { &mut *info });
    }
}

#[cold]
fn trim_now(info: &mut StackInfo) {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    info.released_bottom = release_sentinel_page(info.near_top, info.unreleased, here);
    info.unreleased = 0;
}

/// A body handed to `generator` while it maps a stack: dropped unrun while
/// the mapping fails (the only drop that can happen while
/// `SILENCE_PANICS` is set on this thread), it moves itself to `rescue`
/// instead of running user code during the unwind.
struct Rescue<F> {
    body: Option<F>,
    rescue: *mut Option<F>,
}

// SAFETY: `rescue` is written only while the body is dropped inside the
// `Coroutine::new` call that owns its target, on that call's thread; `F`
// itself is `Send`.
unsafe impl<F: Send> Send for Rescue<F> {}

impl<F: FnOnce()> Rescue<F> {
    fn run(mut self) {
        let body = self.body.take().expect("a coroutine's body runs once");
        drop(self);
        body();
    }
}

impl<F> Drop for Rescue<F> {
    fn drop(&mut self) {
        if let Some(body) = self.body.take() {
            if SILENCE_PANICS.with(Cell::get) {
                // SAFETY: set only during `Coroutine::new`'s mapping call,
                // whose frame holds the target (see the type's doc).
                unsafe { *self.rescue = Some(body) };
            } else {
                drop(body);
            }
        }
    }
}

/// The words the `generator` crate writes at the bottom of every stack it
/// maps (to estimate stack use, which greenstd never asks for).
const SENTINEL: usize = 0xDEAD_BEEF;
const SENTINEL_WORDS: usize = 8;

/// Gives the bottom page of a fresh stack back to the kernel. The
/// `generator` crate fills the lowest words of every new stack, which makes
/// that page resident: half of an idle coroutine's memory. Called first
/// thing on the stack, from `near_top`, an address in the body's first
/// frame: the frames above it are about 1.2 KiB (the crate's own frames
/// and the body, which `spawn` keeps in place only up to 128 bytes), so the
/// page above it is the stack's top, and the bottom is `size` below. The
/// page is released only if it is resident and holds the sentinel, which
/// proves the arithmetic, and only while the
/// caller's frame (`here`, an address in it) is well above it: no live
/// frame may be in the page. Otherwise nothing happens and the page stays,
/// as it would have anyway. Returns the bottom it released, or 0: the
/// crate checks the sentinel when the stack is unmapped, so
/// [`Coroutine`]'s `Drop` writes it back first.
fn release_sentinel_page(near_top: usize, size: usize, here: usize) -> usize {
    let page = crate::sys::page_size();
    let top = (near_top | (page - 1)) + 1;
    if near_top == 0 || top - near_top > page / 2 {
        return 0; // more on the stack than expected: do not guess
    }
    // The usable length the `generator` crate maps: `size` rounded up to
    // whole pages.
    let usable = ((size.max(1) - 1) & !(page - 1)) + page;
    let Some(bottom) = top.checked_sub(usable) else {
        return 0;
    };
    if here < bottom + 4 * page {
        return 0; // the stack is deep now: leave its bottom alone
    }
    // The first stack of a size proves the arithmetic with `mincore` (the
    // page must be resident: the guard page below it never is); later
    // stacks of that size skip the syscall.
    static VERIFIED_SIZE: AtomicUsize = AtomicUsize::new(0);
    if VERIFIED_SIZE.load(Ordering::Relaxed) != size {
        let mut resident = 0u8;
        // SAFETY: mincore only reports on the range (ENOMEM if unmapped);
        // it reads and writes nothing but `resident` (one byte, one page).
        let rc = unsafe { libc::mincore(bottom as *mut libc::c_void, page, &mut resident) };
        if rc != 0 || resident & 1 == 0 {
            return 0;
        }
    }
    let words = bottom as *const usize;
    // SAFETY: the page is mapped and resident in this stack's mapping (the
    // guard page below it can never be resident), so it is readable.
    let marked = (0..SENTINEL_WORDS).all(|i| unsafe { words.add(i).read_volatile() } == SENTINEL);
    if !marked {
        return 0;
    }
    VERIFIED_SIZE.store(size, Ordering::Relaxed);
    // SAFETY: the page is the unused bottom of this coroutine's stack, far
    // below every live frame; reading it again gives zeros.
    let rc = unsafe { libc::madvise(bottom as *mut libc::c_void, page, libc::MADV_DONTNEED) };
    if rc == 0 { bottom } else { 0 }
}

/// Writes the sentinel back at a released bottom (see above).
fn restore_sentinel(bottom: usize) {
    let words = bottom as *mut usize;
    for i in 0..SENTINEL_WORDS {
        // SAFETY: `bottom` is the lowest usable page of a stack this
        // coroutine still maps, below every frame: writable, unused.
        unsafe { words.add(i).write_volatile(SENTINEL) };
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
    /// Its stack's record, which the coroutine itself reads and writes
    /// through `RUNNING` while it runs: `near_top` and `yielder` are learnt
    /// on the first run; `unreleased` is kept across reuse until a body
    /// parks; `handoff` is where [`serve_bodies`] waits for the next body
    /// while the coroutine is idle (its body ended), null while a body
    /// runs or waits to run.
    info: StackInfo,
    /// The handoff slot that holds a body not yet run, from
    /// [`Coroutine::reuse`] until the coroutine next runs; null otherwise.
    pending: *mut Handoff,
    /// Where the `generator` crate keeps this coroutine's state (its saved
    /// registers and run state, at the top of the stack), for [`prefetch`].
    ///
    /// [`prefetch`]: Coroutine::prefetch
    state: *const u8,
}

impl std::fmt::Debug for Coroutine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coroutine")
            .field("stack_size", &self.info.size)
            .field("done", &self.inner.is_done())
            .finish()
    }
}

/// Rounds a requested stack size the way `Builder::stack_size` documents.
pub(crate) fn effective_stack_size(requested: Option<usize>) -> usize {
    requested.map_or(DEFAULT_STACK_SIZE, |s| s.max(MIN_STACK_SIZE))
}

/// Room for one stack in the map budget, taken before the stack is mapped
/// (a coroutine spawned while no pooled stack is free maps its stack at its
/// first run, and must not find the budget spent by then). Dropped, it
/// gives the room back; [`Coroutine::new_reserved`] hands it to the stack.
#[derive(Debug)]
pub(crate) struct StackReservation {
    stack_size: usize,
}

impl StackReservation {
    /// Reserves room for a stack of `stack_size` bytes, or fails as
    /// [`Coroutine::new`] does when there is none.
    pub(crate) fn take(stack_size: usize) -> io::Result<StackReservation> {
        if MAPPED_STACKS.fetch_add(1, Ordering::Relaxed) >= stack_budget() {
            MAPPED_STACKS.fetch_sub(1, Ordering::Relaxed);
            return Err(stack_error(stack_size));
        }
        Ok(StackReservation { stack_size })
    }

    /// The stack size the room was reserved for.
    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size
    }
}

impl Drop for StackReservation {
    fn drop(&mut self) {
        MAPPED_STACKS.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Coroutine {
    /// Maps a fresh stack of `stack_size` bytes and installs `body` on it.
    ///
    /// Fails with `ErrorKind::WouldBlock` (std's kind) when the kernel refuses the
    /// mapping, which on Linux usually means `vm.max_map_count` is reached.
    ///
    /// # Safety
    /// Everything `body` borrows must outlive its run: the coroutine must
    /// finish (or never run again) before `'a` ends.
    pub(crate) unsafe fn new<'a, F>(
        stack_size: usize,
        tag: *mut u8,
        body: F,
    ) -> io::Result<Coroutine>
    where
        F: FnOnce() + Send + 'a,
    {
        let reservation = StackReservation::take(stack_size)?;
        // SAFETY: the caller's promise, passed on.
        unsafe { Self::new_reserved(reservation, tag, body) }
    }

    /// As [`Coroutine::new`], on room in the map budget reserved before.
    ///
    /// # Safety
    /// As [`Coroutine::new`].
    pub(crate) unsafe fn new_reserved<'a, F>(
        reservation: StackReservation,
        tag: *mut u8,
        body: F,
    ) -> io::Result<Coroutine>
    where
        F: FnOnce() + Send + 'a,
    {
        let stack_size = reservation.stack_size;
        // The stack, once mapped, keeps the room (its `Drop` gives it
        // back); a failure below gives it back with the reservation.
        let words = stack_size / std::mem::size_of::<usize>();
        // `generator` panics when it cannot map the stack, and drops the
        // body while unwinding: a capture whose `Drop` panics would then
        // abort the process. The body is rescued from that drop instead,
        // and dropped below as std drops the closure of a spawn that
        // failed: normally, a panic in it reaching the caller.
        let mut rescued = None;
        let body = Rescue {
            body: Some(body),
            rescue: &raw mut rescued,
        };
        SILENCE_PANICS.with(|s| s.set(true));
        let made = panic::catch_unwind(AssertUnwindSafe(|| {
            // Made with a trivial body first, so that the crate sets up
            // its untyped return slot, which `co_yield_with` needs (see
            // `suspend`); the real body, installed next, takes the scope.
            let mut co_gen = Gn::<()>::new_opt(words, || {});
            co_gen.scoped_init(move |mut scope| {
                let yielder = (&raw mut scope).cast::<Yielder>();
                note_top(yielder);
                body.run();
                serve_bodies();
            });
            co_gen
        }));
        SILENCE_PANICS.with(|s| s.set(false));
        let co_gen: Generator<'a, (), ()> = match made {
            Ok(co_gen) => co_gen,
            Err(_) => {
                drop(reservation);
                drop(rescued);
                return Err(stack_error(stack_size));
            }
        };
        std::mem::forget(reservation);
        // SAFETY: only the lifetime changes; the caller keeps `'a`'s
        // borrows alive for as long as the body can run.
        let mut co_gen = unsafe {
            std::mem::transmute::<Generator<'a, (), ()>, Generator<'static, (), ()>>(co_gen)
        };
        // A non-null local pointer makes the generator a coroutine: a panic
        // in it stays in it instead of propagating to the resumer.
        co_gen.set_local_data(tag);
        // The state's address, learnt by the crate's own round trip: the
        // raw pointer is turned straight back into the same generator.
        let state = co_gen.into_raw();
        // SAFETY: `state` came from `into_raw` on this very type, once.
        let co_gen = unsafe { Generator::<'static, (), ()>::from_raw(state) };
        Ok(Coroutine {
            inner: co_gen,
            info: StackInfo {
                size: stack_size,
                tag,
                unreleased: words * std::mem::size_of::<usize>(),
                ..StackInfo::NONE
            },
            pending: std::ptr::null_mut(),
            state: state.cast(),
        })
    }

    /// Whether one more stack fits in the map budget now.
    pub(crate) fn room_for_one() -> bool {
        MAPPED_STACKS.load(Ordering::Relaxed) < stack_budget()
    }

    /// Room for a stack of `stack_size` bytes, taken now, on the spawner's
    /// thread, for a start handed to another hub: it must fail where std's
    /// `Builder::spawn` fails, not later through its join, and starts in
    /// flight must not spend the same room twice. The hub that starts the
    /// coroutine maps its stack on this room, or gives the room back if it
    /// reuses a pooled stack. A size other than the default is also mapped
    /// once and unmapped (no page is touched), so that a size the kernel
    /// refuses is refused here.
    pub(crate) fn reserve_room(stack_size: usize) -> io::Result<StackReservation> {
        let room = StackReservation::take(stack_size)?;
        if stack_size != DEFAULT_STACK_SIZE {
            crate::sys::probe_stack_mapping(stack_size).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "cannot map a {} KiB stack for a new coroutine: {e}",
                        stack_size / 1024
                    ),
                )
            })?;
        }
        Ok(room)
    }

    /// Installs a new body on an idle coroutine (one whose body ended),
    /// reusing its stack: the body is written into the slot its stack waits
    /// on (see [`serve_bodies`]), boxed only if it does not fit.
    ///
    /// # Safety
    /// As [`Coroutine::new`]; the coroutine is idle ([`StackPool`] keeps
    /// only idle ones).
    pub(crate) unsafe fn reuse<'a, F>(&mut self, tag: *mut u8, body: F)
    where
        F: FnOnce() + Send + 'a,
    {
        debug_assert!(self.is_idle());
        let at = std::mem::replace(&mut self.info.handoff, std::ptr::null_mut());
        // SAFETY: `at` is the handoff slot in the suspended frame of
        // `serve_bodies` on this coroutine's stack, mapped and unused until
        // the coroutine is resumed; the body's lifetime is the caller's
        // promise, as in `new`.
        unsafe {
            if size_of::<F>() <= HANDOFF_BYTES && align_of::<F>() <= align_of::<Handoff>() {
                (*at).body.as_mut_ptr().cast::<F>().write(body);
                (*at).run = Some(run_stored::<F>);
                (*at).discard = discard_stored::<F>;
            } else {
                (*at)
                    .body
                    .as_mut_ptr()
                    .cast::<Box<F>>()
                    .write(Box::new(body));
                (*at).run = Some(run_stored::<Box<F>>);
                (*at).discard = discard_stored::<Box<F>>;
            }
        }
        self.pending = at;
        self.inner.set_local_data(tag);
        self.info.tag = tag;
    }

    /// Whether the coroutine's body ended and its stack waits for another.
    fn is_idle(&self) -> bool {
        !self.info.handoff.is_null() && !self.inner.is_done()
    }

    /// Asks the CPU to start loading what resuming this coroutine touches
    /// first (the crate's state at the top of its stack), without waiting:
    /// with thousands of coroutines, each resume would otherwise begin
    /// with a cache and TLB miss on a stack last touched long ago. The hub
    /// calls it for the next coroutine in line before resuming the current
    /// one, so that the load overlaps with that run.
    #[inline]
    pub(crate) fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            // SAFETY: SSE is part of the x86_64 baseline; a prefetch reads
            // nothing and never faults (the address is in this coroutine's
            // live mapping anyway). Two lines: the state is larger than one.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(self.state.cast());
                _mm_prefetch::<_MM_HINT_T0>(self.state.wrapping_add(64).cast());
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.inner.prefetch();
    }

    /// Runs the coroutine until it parks or ends.
    #[inline]
    pub(crate) fn resume(&mut self) -> Status {
        self.pending = std::ptr::null_mut();
        self.info.ended = false;
        let outer = RUNNING.replace(&raw mut self.info);
        self.inner.resume();
        RUNNING.set(outer);
        if self.info.ended {
            // The body returned; the stack waits in `serve_bodies`, at
            // `info.handoff`.
            return Status::Finished;
        }
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
        self.info.size
    }
}

impl Drop for Coroutine {
    fn drop(&mut self) {
        if !self.pending.is_null() {
            // A body handed over and never run: dropped here, as the
            // `generator` crate drops the body of a generator never started.
            // SAFETY: `reuse` stored it with this `discard`; nothing moved it.
            unsafe { ((*self.pending).discard)((*self.pending).body.as_mut_ptr().cast()) };
            // SAFETY: as above; the slot now tells the loop to return.
            unsafe { (*self.pending).run = None };
            self.info.handoff = std::mem::replace(&mut self.pending, std::ptr::null_mut());
        }
        if self.is_idle() && !std::thread::panicking() {
            // Resumed with no body, `serve_bodies` returns and the generator
            // ends: dropping it then unmaps the stack without the crate
            // unwinding the suspended frames. (While the thread panics the
            // crate leaves a suspended generator alone and just unmaps it.)
            let outer = RUNNING.replace(std::ptr::null_mut());
            self.inner.resume();
            RUNNING.set(outer);
        }
        if self.info.released_bottom != 0 {
            restore_sentinel(self.info.released_bottom);
        }
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

/// The error of a spawn that found no stack: `WouldBlock`, the kind std's
/// `Builder::spawn` gives when the OS refuses a thread (`pthread_create`'s
/// `EAGAIN`, also when its stack cannot be mapped), with a message that
/// says which limit and how to raise it.
pub(crate) fn stack_error(stack_size: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
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
///
/// Through the scope its first body was given (see [`Yielder`]) when the
/// caller runs on the coroutine's own stack, so that the crate's innermost
/// context is the coroutine's (a nested generator runs on a stack of its
/// own), and nothing unwinds; otherwise through `co_yield_with`, which
/// finds the coroutine's context beneath nested generators and refuses to
/// suspend a body the crate is cancelling. (The crate cancels a suspended
/// coroutine only when its hub drops it, outside [`Coroutine::resume`]:
/// `RUNNING` then describes the dropper's stack, not the cancelled one, so
/// the cancelled body always takes the second way.) The first way is
/// inlined, which saves a call frame, and with it a mispredicted return on
/// every resume (see `context::with_current_task`): a channel ping-pong's
/// round trip went from 156 to 135 ns with the crate's untyped
/// `yield_with`, which LLVM then kept out of line; the scope's typed one
/// also skips the untyped one's `type_id` check.
#[inline(always)]
pub(crate) fn suspend() {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let info = running();
    // SAFETY: a non-null record is the running coroutine's (see `RUNNING`).
    if !info.is_null() && on_own_stack(unsafe { &*info }, here) && !std::thread::panicking() {
        // SAFETY: `near_top` and `yielder` were learnt together in the first
        // body's frame on this stack, which holds the scope until the stack
        // is dropped, and `here` lies on that stack below that frame: the
        // scope is alive, and its generator is the innermost running one.
        unsafe { (*(*info).yielder).yield_with(()) };
    } else {
        generator::co_yield_with(());
    }
}

/// How far below its stack's top a coroutine's `near_top` may lie, at
/// most, with room to spare: above it the `generator` crate keeps only the
/// first body (at most `spawn::INLINE_BODY` bytes; larger ones are boxed)
/// and its own start-up frames, well under a page.
const TOP_SLACK: usize = 16 * 1024;

/// Whether `here`, an address on the running code's stack, lies in the
/// stack `info` describes, the running coroutine's. The stack spans `size`
/// bytes (rounded up to pages) below a top less than [`TOP_SLACK`] above
/// `near_top`; the bound taken below is therefore inside the stack, so that
/// nothing mapped next to it (another generator's stack) passes. A frame in
/// the stack's lowest `TOP_SLACK` bytes is merely answered `false`.
#[inline(always)]
fn on_own_stack(info: &StackInfo, here: usize) -> bool {
    let (near_top, size) = (info.near_top, info.size);
    near_top != 0 && here < near_top && here >= near_top.saturating_sub(size) + TOP_SLACK
}

/// Idle stacks of the default size, ready for reuse.
#[derive(Debug, Default)]
pub(crate) struct StackPool {
    #[expect(
        clippy::vec_box,
        reason = "the boxes go to the hub's entries (see `Entry::co`) and come back: \
                  pooled with the stack, a reuse allocates nothing"
    )]
    idle: Vec<Box<Coroutine>>,
}

impl StackPool {
    /// An idle coroutine (see [`Coroutine::reuse`]) whose stack has the
    /// default size, if there is one.
    pub(crate) fn take(&mut self, stack_size: usize) -> Option<Box<Coroutine>> {
        if stack_size == DEFAULT_STACK_SIZE {
            self.idle.pop()
        } else {
            None
        }
    }

    /// Keeps the stack of a coroutine whose body ended for reuse, or unmaps
    /// it: one of another size, one that cannot run another body, or any
    /// while the map budget is nearly spent, where an idle stack in this
    /// hub's pool would refuse a spawn meant for another hub (its room is
    /// taken on the spawner's thread, which cannot reuse this pool).
    pub(crate) fn give(&mut self, co: Box<Coroutine>) {
        if co.info.size == DEFAULT_STACK_SIZE && co.is_idle() && pooling_leaves_room() {
            self.idle.push(co);
        }
    }

    /// Whether more stacks are idle than the pool keeps for good.
    pub(crate) fn has_excess(&self) -> bool {
        self.idle.len() > POOL_CAPACITY
    }

    /// Unmaps a batch of the idle stacks beyond the pool's capacity: for
    /// the hub, before a long enough sleep.
    pub(crate) fn trim(&mut self) {
        let keep = POOL_CAPACITY.max(self.idle.len().saturating_sub(TRIM_PER_TURN));
        self.idle.truncate(keep);
    }

    /// Unmaps one idle stack, to make room under the map budget; whether
    /// there was one.
    pub(crate) fn release_one(&mut self) -> bool {
        self.idle.pop().is_some()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    fn tag() -> *mut u8 {
        static TAG: u8 = 0;
        (&raw const TAG).cast_mut()
    }

    /// Sets its flag when dropped.
    struct Flag(Arc<AtomicBool>);

    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_stack_runs_one_body_after_another_in_place_or_boxed() {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        // SAFETY: the closures borrow nothing.
        let mut co = unsafe {
            Coroutine::new(DEFAULT_STACK_SIZE, tag(), move || {
                r.fetch_add(1, Ordering::SeqCst);
            })
        }
        .unwrap();
        assert_eq!(co.resume(), Status::Finished);
        assert!(co.is_idle());
        // A small body rides in the handoff slot, a large one is boxed.
        for round in 0..3 {
            let r = runs.clone();
            let small = move || {
                r.fetch_add(1, Ordering::SeqCst);
            };
            // SAFETY: as above.
            unsafe { co.reuse(tag(), small) };
            assert_eq!(co.resume(), Status::Finished);
            let r = runs.clone();
            let big = [round as u8; 4 * HANDOFF_BYTES];
            let large = move || {
                r.fetch_add(
                    big.iter().map(|&b| b as usize).sum::<usize>() + 1,
                    Ordering::SeqCst,
                );
            };
            // SAFETY: as above.
            unsafe { co.reuse(tag(), large) };
            assert_eq!(co.resume(), Status::Finished);
            assert!(co.is_idle());
        }
        // 1 + 3 small + 3 large (each 1 + round * 4 * HANDOFF_BYTES).
        assert_eq!(runs.load(Ordering::SeqCst), 7 + 3 * 4 * HANDOFF_BYTES);
    }

    #[test]
    fn a_body_handed_over_and_never_run_is_dropped_unrun_with_its_stack() {
        // SAFETY: the closures borrow nothing.
        let mut co = unsafe { Coroutine::new(DEFAULT_STACK_SIZE, tag(), || {}) }.unwrap();
        assert_eq!(co.resume(), Status::Finished);
        let (dropped, ran) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (flag, r) = (Flag(dropped.clone()), ran.clone());
        // SAFETY: as above.
        unsafe {
            co.reuse(tag(), move || {
                let _flag = flag;
                r.store(true, Ordering::SeqCst);
            })
        };
        drop(co);
        assert!(
            dropped.load(Ordering::SeqCst),
            "the unrun body's captures are dropped"
        );
        assert!(!ran.load(Ordering::SeqCst), "a body is never run by a drop");
    }

    #[test]
    fn an_idle_stack_dropped_while_the_thread_unwinds_is_unmapped_quietly() {
        // SAFETY: the closure borrows nothing.
        let mut co = unsafe { Coroutine::new(DEFAULT_STACK_SIZE, tag(), || {}) }.unwrap();
        assert_eq!(co.resume(), Status::Finished);
        let unwound = std::panic::catch_unwind(AssertUnwindSafe(move || {
            let _co = co;
            panic!("dropping an idle stack during this unwind");
        }));
        assert!(unwound.is_err());
    }
}
