//! Unix file system extensions, as [`std::os::unix::fs`].
//!
//! The extension traits are std's own, implemented for greenstd's
//! [`File`](crate::fs::File), [`OpenOptions`](crate::fs::OpenOptions),
//! [`DirBuilder`](crate::fs::DirBuilder) and
//! [`DirEntry`](crate::fs::DirEntry) (std's `Permissions`, `Metadata` and
//! `FileType`, which greenstd re-exports, have them already). The
//! functions run on the blocking pool when they would block a hub.
//!
//! # Examples
//! ```
//! use greenstd::fs::File;
//! use greenstd::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
//!
//! let path = std::env::temp_dir().join(format!("greenstd-unix-fs-{}", std::process::id()));
//! let file = File::options().read(true).write(true).create(true).mode(0o600).open(&path)?;
//! file.write_all_at(b"hello, world", 0)?;
//! let mut word = [0u8; 5];
//! file.read_exact_at(&mut word, 7)?;
//! assert_eq!(&word, b"world");
//! assert_eq!(file.metadata()?.permissions().mode() & 0o777, 0o600);
//! greenstd::fs::remove_file(&path)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Differences from std: none in behaviour.

#![forbid(unsafe_code)]

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

pub use std::os::unix::fs::{
    DirBuilderExt, DirEntryExt, FileExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt,
};

use crate::runtime::run_blocking;

/// Creates a symbolic link at `link` pointing to `original`, as
/// [`std::os::unix::fs::symlink`].
///
/// # Errors
/// As std (`AlreadyExists` if `link` exists...).
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("greenstd-symlink-{}", std::process::id()));
/// greenstd::fs::create_dir_all(&dir)?;
/// greenstd::os::unix::fs::symlink("target", dir.join("link"))?;
/// assert_eq!(greenstd::fs::read_link(dir.join("link"))?, std::path::Path::new("target"));
/// greenstd::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn symlink<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    run_blocking(|| std::os::unix::fs::symlink(original, link))
}

/// Changes the owner and group of `dir`, following symbolic links, as
/// [`std::os::unix::fs::chown`]; `None` leaves one unchanged.
///
/// # Errors
/// As std (`PermissionDenied` without the privilege, `NotFound`...).
///
/// # Examples
/// ```
/// // Changing nothing is allowed for the owner of a file.
/// let path = std::env::temp_dir().join(format!("greenstd-chown-{}", std::process::id()));
/// greenstd::fs::write(&path, b"")?;
/// greenstd::os::unix::fs::chown(&path, None, None)?;
/// greenstd::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn chown<P: AsRef<Path>>(dir: P, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let dir = dir.as_ref();
    run_blocking(|| std::os::unix::fs::chown(dir, uid, gid))
}

/// Changes the owner and group of an open file, as
/// [`std::os::unix::fs::fchown`].
///
/// # Errors
/// As std.
///
/// # Examples
/// ```
/// let path = std::env::temp_dir().join(format!("greenstd-fchown-{}", std::process::id()));
/// let file = greenstd::fs::File::create(&path)?;
/// greenstd::os::unix::fs::fchown(&file, None, None)?;
/// greenstd::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn fchown<F: AsFd>(fd: F, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let fd = fd.as_fd();
    run_blocking(|| std::os::unix::fs::fchown(fd, uid, gid))
}

/// As [`chown`], without following a final symbolic link, as
/// [`std::os::unix::fs::lchown`].
///
/// # Errors
/// As std.
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("greenstd-lchown-{}", std::process::id()));
/// greenstd::fs::create_dir_all(&dir)?;
/// greenstd::os::unix::fs::symlink("missing", dir.join("link"))?;
/// greenstd::os::unix::fs::lchown(dir.join("link"), None, None)?; // the link itself
/// greenstd::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn lchown<P: AsRef<Path>>(dir: P, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let dir = dir.as_ref();
    run_blocking(|| std::os::unix::fs::lchown(dir, uid, gid))
}

/// Changes the root directory of the process, as
/// [`std::os::unix::fs::chroot`]. It applies to the whole process, every
/// coroutine and the blocking pool's threads included.
///
/// # Errors
/// As std (`PermissionDenied` without `CAP_SYS_CHROOT`, `NotFound`...).
///
/// # Examples
/// ```no_run
/// greenstd::os::unix::fs::chroot("/sandbox")?;
/// std::env::set_current_dir("/")?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn chroot<P: AsRef<Path>>(dir: P) -> io::Result<()> {
    let dir = dir.as_ref();
    run_blocking(|| std::os::unix::fs::chroot(dir))
}
