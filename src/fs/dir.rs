//! `ReadDir`, `DirEntry` and `DirBuilder`, as std's.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::{FileType, Metadata};
use crate::runtime::run_blocking;

/// How many entries one trip to the pool reads ahead.
const BATCH: usize = 64;

/// An iterator over a directory's entries: [`read_dir`](super::read_dir).
/// Entries are read from the OS in batches on the blocking pool.
pub struct ReadDir {
    inner: std::fs::ReadDir,
    ahead: VecDeque<io::Result<DirEntry>>,
    done: bool,
}

// The entries read ahead are std's own `DirEntry`s and OS errors, which
// hold no state a panic could leave broken: unwind-safe, as std's ReadDir.
impl std::panic::UnwindSafe for ReadDir {}
impl std::panic::RefUnwindSafe for ReadDir {}

/// One directory entry, as [`std::fs::DirEntry`].
pub struct DirEntry {
    pub(super) inner: std::fs::DirEntry,
}

/// Creates directories, as [`std::fs::DirBuilder`].
#[derive(Debug)]
pub struct DirBuilder {
    pub(super) inner: std::fs::DirBuilder,
}

impl ReadDir {
    pub(super) fn new(inner: std::fs::ReadDir) -> Self {
        ReadDir {
            inner,
            ahead: VecDeque::new(),
            done: false,
        }
    }
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        if self.ahead.is_empty() && !self.done {
            let inner = &mut self.inner;
            let batch: Vec<io::Result<std::fs::DirEntry>> =
                run_blocking(|| inner.by_ref().take(BATCH).collect());
            self.done = batch.len() < BATCH;
            self.ahead
                .extend(batch.into_iter().map(|e| e.map(|inner| DirEntry { inner })));
        }
        self.ahead.pop_front()
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl DirEntry {
    /// The entry's full path.
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.inner.path()
    }

    /// The entry's metadata (not following symlinks), on the pool.
    ///
    /// # Errors
    /// As std.
    pub fn metadata(&self) -> io::Result<Metadata> {
        let inner = &self.inner;
        run_blocking(|| inner.metadata())
    }

    /// The entry's file type, on the pool when the OS did not report it.
    ///
    /// # Errors
    /// As std.
    pub fn file_type(&self) -> io::Result<FileType> {
        let inner = &self.inner;
        run_blocking(|| inner.file_type())
    }

    /// The entry's file name.
    #[must_use]
    pub fn file_name(&self) -> OsString {
        self.inner.file_name()
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl Default for DirBuilder {
    fn default() -> Self {
        DirBuilder::new()
    }
}

impl DirBuilder {
    /// A builder with std's defaults.
    #[must_use]
    pub fn new() -> DirBuilder {
        DirBuilder {
            inner: std::fs::DirBuilder::new(),
        }
    }

    /// Create missing parents too.
    pub fn recursive(&mut self, recursive: bool) -> &mut Self {
        self.inner.recursive(recursive);
        self
    }

    /// Creates the directory, on the pool when it would block a hub.
    ///
    /// # Errors
    /// As std.
    pub fn create<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let (inner, path) = (&self.inner, path.as_ref());
        run_blocking(|| inner.create(path))
    }
}
