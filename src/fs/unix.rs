//! std's `std::os::unix::fs` extension traits, implemented for greenstd's
//! file system types. The traits are std's own (re-exported by
//! [`greenstd::os::unix::fs`](crate::os::unix::fs)), so code that imports
//! them from either place works unchanged. Calls that touch the disk run on
//! the blocking pool when they would block a hub, like the rest of `fs`.

use std::io;
use std::os::unix::fs::{DirBuilderExt, DirEntryExt, FileExt, OpenOptionsExt};

use super::{DirBuilder, DirEntry, File, OpenOptions};

/// Positioned reads and writes (`pread`/`pwrite`), each one trip to the
/// pool.
impl FileExt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.call(|f| f.read_at(buf, offset))
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.call(|f| f.write_at(buf, offset))
    }

    // One trip to the pool for the whole loop, not one per short read.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.call(|f| f.read_exact_at(buf, offset))
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.call(|f| f.write_all_at(buf, offset))
    }
}

/// The mode and flags `open(2)` is called with.
impl OpenOptionsExt for OpenOptions {
    fn mode(&mut self, mode: u32) -> &mut Self {
        self.inner.mode(mode);
        self
    }

    fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.inner.custom_flags(flags);
        self
    }
}

/// The mode new directories are created with.
impl DirBuilderExt for DirBuilder {
    fn mode(&mut self, mode: u32) -> &mut Self {
        self.inner.mode(mode);
        self
    }
}

/// The entry's inode number, read with the entry (no system call).
impl DirEntryExt for DirEntry {
    fn ino(&self) -> u64 {
        self.inner.ino()
    }
}
