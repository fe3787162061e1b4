//! `File` and `OpenOptions`, as std's.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::SystemTime;

use super::{FileTimes, Metadata, Permissions, TryLockError};
use crate::runtime::run_blocking;

/// An open file, as [`std::fs::File`]; reads, writes, seeks and syncs run
/// on the blocking pool when they would block a hub.
///
/// # Examples
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// use greenstd::fs::File;
///
/// let path = std::env::temp_dir().join(format!("greenstd-file-doc-{}", std::process::id()));
/// let mut f = File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
/// f.write_all(b"coroutine")?;
/// f.seek(SeekFrom::Start(0))?;
/// let mut text = String::new();
/// f.read_to_string(&mut text)?;
/// assert_eq!(text, "coroutine");
/// greenstd::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Differences from std: none in behaviour.
pub struct File {
    pub(super) inner: std::fs::File,
}

/// Options for opening a file, as [`std::fs::OpenOptions`].
#[derive(Clone, Debug)]
pub struct OpenOptions {
    pub(super) inner: std::fs::OpenOptions,
}

impl File {
    /// Opens a file for reading.
    ///
    /// # Errors
    /// As std (`NotFound`, `PermissionDenied`...).
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Creates (or truncates) a file for writing.
    ///
    /// # Errors
    /// As std.
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Creates a new file for reading and writing; fails if it exists.
    ///
    /// # Errors
    /// `AlreadyExists` if the file exists; as std otherwise.
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }

    /// A blank set of open options.
    #[must_use]
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    pub(super) fn call<T: Send>(&self, f: impl FnOnce(&std::fs::File) -> T + Send) -> T {
        let inner = &self.inner;
        run_blocking(|| f(inner))
    }

    /// Flushes data and metadata to the device.
    ///
    /// # Errors
    /// As std.
    pub fn sync_all(&self) -> io::Result<()> {
        self.call(std::fs::File::sync_all)
    }

    /// Flushes data (not necessarily metadata) to the device.
    ///
    /// # Errors
    /// As std.
    pub fn sync_data(&self) -> io::Result<()> {
        self.call(std::fs::File::sync_data)
    }

    /// Truncates or extends the file to `size` bytes.
    ///
    /// # Errors
    /// As std (`InvalidInput` for a file not open for writing...).
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        self.call(|f| f.set_len(size))
    }

    /// The file's metadata.
    ///
    /// # Errors
    /// As std.
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.call(std::fs::File::metadata)
    }

    /// A new handle to the same open file (sharing the position).
    ///
    /// # Errors
    /// As std.
    pub fn try_clone(&self) -> io::Result<File> {
        self.inner.try_clone().map(|inner| File { inner })
    }

    /// Changes the file's permissions.
    ///
    /// # Errors
    /// As std.
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        self.call(move |f| f.set_permissions(perm))
    }

    /// Changes the file's timestamps.
    ///
    /// # Errors
    /// As std.
    pub fn set_times(&self, times: FileTimes) -> io::Result<()> {
        self.call(move |f| f.set_times(times))
    }

    /// Changes the file's modification time.
    ///
    /// # Errors
    /// As std.
    pub fn set_modified(&self, time: SystemTime) -> io::Result<()> {
        self.call(move |f| f.set_modified(time))
    }

    /// Takes an exclusive advisory lock, waiting (on the pool) for it.
    ///
    /// # Errors
    /// As std.
    pub fn lock(&self) -> io::Result<()> {
        self.call(std::fs::File::lock)
    }

    /// Takes a shared advisory lock, waiting (on the pool) for it.
    ///
    /// # Errors
    /// As std.
    pub fn lock_shared(&self) -> io::Result<()> {
        self.call(std::fs::File::lock_shared)
    }

    /// Tries to take an exclusive advisory lock without waiting.
    ///
    /// # Errors
    /// `TryLockError::WouldBlock` if another handle holds a lock.
    pub fn try_lock(&self) -> Result<(), TryLockError> {
        self.inner.try_lock()
    }

    /// Tries to take a shared advisory lock without waiting.
    ///
    /// # Errors
    /// `TryLockError::WouldBlock` if another handle holds an exclusive lock.
    pub fn try_lock_shared(&self) -> Result<(), TryLockError> {
        self.inner.try_lock_shared()
    }

    /// Releases this handle's lock.
    ///
    /// # Errors
    /// As std.
    pub fn unlock(&self) -> io::Result<()> {
        self.inner.unlock()
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.call(|mut f| f.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.call(|mut f| f.read_vectored(bufs))
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.call(|mut f| f.read_to_end(buf))
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.call(|mut f| f.read_to_string(buf))
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.call(|mut f| f.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.call(|mut f| f.write_vectored(bufs))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.call(|mut f| f.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.call(|mut f| f.seek(pos))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.as_raw_fd()
    }
}

impl std::os::fd::IntoRawFd for File {
    fn into_raw_fd(self) -> std::os::fd::RawFd {
        self.inner.into_raw_fd()
    }
}

impl From<std::os::fd::OwnedFd> for File {
    fn from(fd: std::os::fd::OwnedFd) -> Self {
        File {
            inner: std::fs::File::from(fd),
        }
    }
}

impl From<File> for std::os::fd::OwnedFd {
    fn from(file: File) -> Self {
        file.inner.into()
    }
}

impl From<std::fs::File> for File {
    fn from(inner: std::fs::File) -> Self {
        File { inner }
    }
}

impl From<File> for std::fs::File {
    fn from(file: File) -> Self {
        file.inner
    }
}

impl OpenOptions {
    /// Options with everything off.
    #[must_use]
    pub fn new() -> OpenOptions {
        OpenOptions {
            inner: std::fs::OpenOptions::new(),
        }
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.inner.read(read);
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.inner.write(write);
        self
    }

    /// Open for appending.
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.inner.append(append);
        self
    }

    /// Truncate on open.
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.inner.truncate(truncate);
        self
    }

    /// Create if missing.
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.inner.create(create);
        self
    }

    /// Create, failing if the file exists.
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.inner.create_new(create_new);
        self
    }

    /// Opens `path` with these options, on the pool when it would block a
    /// hub.
    ///
    /// # Errors
    /// As std (`InvalidInput` for contradictory options, `NotFound`...).
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let (options, path) = (&self.inner, path.as_ref());
        run_blocking(|| options.open(path)).map(|inner| File { inner })
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}
