//! The file system, as [`std::fs`]: every call that can block runs on
//! greenstd's blocking pool while the calling coroutine parks, so the hub
//! keeps running the others.
//!
//! Outside coroutines (a thread with none) each call is std's own, made
//! directly. The plain data types (`Metadata`, `Permissions`, `FileType`,
//! `FileTimes`, `TryLockError`) are std's, re-exported.
//!
//! ```
//! use greenstd::fs;
//!
//! let dir = std::env::temp_dir().join(format!("greenstd-fs-doc-{}", std::process::id()));
//! fs::create_dir_all(&dir)?;
//! let path = dir.join("hello.txt");
//! let writer = greenstd::spawn(move || {
//!     fs::write(&path, b"hello")?; // runs on the pool; this coroutine parks
//!     fs::read_to_string(&path)
//! });
//! assert_eq!(writer.get().unwrap()?, "hello");
//! fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Differences from std: none in behaviour. A coroutine killed (or timed
//! out) during a call unwinds only after the call has finished on the
//! pool, so no write std would have completed is left half done and the
//! file position is where std would leave it.

#![forbid(unsafe_code)]

mod dir;
mod file;
mod unix;

use std::io;
use std::path::{Path, PathBuf};

use crate::runtime::run_blocking;

pub use dir::{DirBuilder, DirEntry, ReadDir};
pub use file::{File, OpenOptions};
pub use std::fs::{FileTimes, FileType, Metadata, Permissions, TryLockError};

/// Runs a std call that takes a path, on the pool when it would block a hub.
fn with_path<P: AsRef<Path>, T: Send>(
    path: P,
    f: impl FnOnce(&Path) -> io::Result<T> + Send,
) -> io::Result<T> {
    let path = path.as_ref();
    run_blocking(|| f(path))
}

/// Runs a std call that takes two paths.
fn with_paths<P: AsRef<Path>, Q: AsRef<Path>, T: Send>(
    from: P,
    to: Q,
    f: impl FnOnce(&Path, &Path) -> io::Result<T> + Send,
) -> io::Result<T> {
    let (from, to) = (from.as_ref(), to.as_ref());
    run_blocking(|| f(from, to))
}

/// The canonical, absolute form of a path, as [`std::fs::canonicalize`].
///
/// # Errors
/// As std (`NotFound`...).
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    with_path(path, |p| std::fs::canonicalize(p))
}

/// Copies a file's contents and permissions, as [`std::fs::copy`].
///
/// # Errors
/// As std.
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    with_paths(from, to, |a, b| std::fs::copy(a, b))
}

/// Creates a directory, as [`std::fs::create_dir`].
///
/// # Errors
/// As std (`AlreadyExists`, `NotFound` for a missing parent...).
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    with_path(path, |p| std::fs::create_dir(p))
}

/// Creates a directory and its missing parents, as [`std::fs::create_dir_all`].
///
/// # Errors
/// As std.
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    with_path(path, |p| std::fs::create_dir_all(p))
}

/// Whether a path exists, as [`std::fs::exists`].
///
/// # Errors
/// As std (an error other than "not found" while checking).
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    with_path(path, |p| std::fs::exists(p))
}

/// Creates a hard link, as [`std::fs::hard_link`].
///
/// # Errors
/// As std.
pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    with_paths(original, link, |a, b| std::fs::hard_link(a, b))
}

/// Metadata of a path, following symlinks, as [`std::fs::metadata`].
///
/// # Errors
/// As std.
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    with_path(path, |p| std::fs::metadata(p))
}

/// Reads a whole file, as [`std::fs::read`].
///
/// # Errors
/// As std.
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    with_path(path, |p| std::fs::read(p))
}

/// Iterates over a directory's entries, as [`std::fs::read_dir`].
///
/// # Errors
/// As std (`NotFound`, `NotADirectory`...).
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    with_path(path, |p| std::fs::read_dir(p)).map(ReadDir::new)
}

/// Reads a symlink's target, as [`std::fs::read_link`].
///
/// # Errors
/// As std.
pub fn read_link<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    with_path(path, |p| std::fs::read_link(p))
}

/// Reads a whole file as UTF-8, as [`std::fs::read_to_string`].
///
/// # Errors
/// As std (`InvalidData` for invalid UTF-8...).
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    with_path(path, |p| std::fs::read_to_string(p))
}

/// Removes an empty directory, as [`std::fs::remove_dir`].
///
/// # Errors
/// As std (`DirectoryNotEmpty`...).
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    with_path(path, |p| std::fs::remove_dir(p))
}

/// Removes a directory and everything in it, as [`std::fs::remove_dir_all`].
///
/// # Errors
/// As std.
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    with_path(path, |p| std::fs::remove_dir_all(p))
}

/// Removes a file, as [`std::fs::remove_file`].
///
/// # Errors
/// As std (`NotFound`, `IsADirectory`...).
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    with_path(path, |p| std::fs::remove_file(p))
}

/// Renames a file or directory, as [`std::fs::rename`].
///
/// # Errors
/// As std.
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    with_paths(from, to, |a, b| std::fs::rename(a, b))
}

/// Sets a path's permissions, as [`std::fs::set_permissions`].
///
/// # Errors
/// As std.
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: Permissions) -> io::Result<()> {
    with_path(path, move |p| std::fs::set_permissions(p, perm))
}

/// Creates a symlink; deprecated in std in favour of
/// `std::os::unix::fs::symlink`.
///
/// # Errors
/// As std.
#[deprecated(note = "replaced with std::os::unix::fs::symlink")]
pub fn soft_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    with_paths(original, link, |o, l| std::os::unix::fs::symlink(o, l))
}

/// Metadata of a path, not following symlinks, as
/// [`std::fs::symlink_metadata`].
///
/// # Errors
/// As std.
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    with_path(path, |p| std::fs::symlink_metadata(p))
}

/// Writes a whole file, creating or truncating it, as [`std::fs::write`].
///
/// # Errors
/// As std.
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let contents = contents.as_ref();
    with_path(path, |p| std::fs::write(p, contents))
}
