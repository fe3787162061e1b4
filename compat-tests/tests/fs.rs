//! `fs` cases: each runs against std and greenstd, on a plain thread and
//! inside a coroutine; any difference from std fails.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use compat_tests::{case, kind, returned};

/// A fresh, empty directory for one run of a case.
fn fresh_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir()
        .join(format!("greenstd-compat-fs-{}", std::process::id()))
        .join(format!("{tag}-{}", NEXT.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

case!(missing_file_errors, |fs| {
    let dir = fresh_dir("missing");
    let m = dir.join("nope");
    returned((
        kind(fs::read(&m)).map(|_| ()),
        kind(fs::read_to_string(&m)).map(|_| ()),
        kind(fs::File::open(&m)).map(|_| ()),
        kind(fs::metadata(&m)).map(|_| ()),
        kind(fs::remove_file(&m)),
        kind(fs::read_dir(&m)).map(|_| ()),
        kind(fs::canonicalize(&m)).map(|_| ()),
        kind(fs::exists(&m)),
    ))
});

case!(directory_versus_file_errors, |fs| {
    let dir = fresh_dir("dirfile");
    let file = dir.join("file");
    fs::write(&file, b"x").unwrap();
    let sub = dir.join("sub");
    fs::create_dir(&sub).unwrap();
    fs::write(sub.join("inner"), b"y").unwrap();
    returned((
        kind(fs::read_dir(&file)).map(|_| ()),
        kind(fs::create_dir(&file)),
        kind(fs::remove_dir(&sub)),
        kind(fs::remove_file(&sub)),
        kind(fs::read(&sub)).map(|_| ()),
        kind(fs::File::create_new(&file)).map(|_| ()),
        kind(fs::create_dir(dir.join("a/b"))),
    ))
});

case!(read_write_seek_round_trip, |fs| {
    let dir = fresh_dir("rws");
    let path = dir.join("f");
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    f.write_all(b"hello, world").unwrap();
    let end = f.stream_position().unwrap();
    f.seek(SeekFrom::Start(7)).unwrap();
    let mut word = String::new();
    f.read_to_string(&mut word).unwrap();
    f.set_len(5).unwrap();
    let len = f.metadata().unwrap().len();
    let appended = {
        let mut a = fs::OpenOptions::new().append(true).open(&path).unwrap();
        a.write_all(b"!").unwrap();
        fs::read_to_string(&path).unwrap()
    };
    let invalid = kind(fs::OpenOptions::new().open(&path)).map(|_| ());
    returned((end, word, len, appended, invalid))
});

case!(large_file_verified, |fs| {
    let dir = fresh_dir("large");
    let path = dir.join("big");
    let data: Vec<u8> = (0..(6usize << 20)).map(|i| (i % 241) as u8).collect();
    fs::write(&path, &data).unwrap();
    let back = fs::read(&path).unwrap();
    let copied = fs::copy(&path, dir.join("copy")).unwrap();
    returned((
        back == data,
        copied,
        fs::metadata(dir.join("copy")).unwrap().len(),
    ))
});

case!(read_dir_contents, |fs| {
    let dir = fresh_dir("listing");
    for name in ["b", "a", "c"] {
        fs::write(dir.join(name), name).unwrap();
    }
    fs::DirBuilder::new()
        .recursive(true)
        .create(dir.join("d/e"))
        .unwrap();
    let mut entries: Vec<(String, bool)> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                e.file_type().unwrap().is_dir(),
            )
        })
        .collect();
    entries.sort();
    returned(entries)
});

case!(rename_links_and_permissions, |fs| {
    let dir = fresh_dir("misc");
    let a = dir.join("a");
    fs::write(&a, b"content").unwrap();
    fs::rename(&a, dir.join("b")).unwrap();
    fs::hard_link(dir.join("b"), dir.join("c")).unwrap();
    std::os::unix::fs::symlink(dir.join("b"), dir.join("link")).unwrap();
    let target = fs::read_link(dir.join("link")).unwrap() == dir.join("b");
    let is_link = fs::symlink_metadata(dir.join("link")).unwrap().is_symlink();
    let mut perm = fs::metadata(dir.join("b")).unwrap().permissions();
    perm.set_readonly(true);
    fs::set_permissions(dir.join("b"), perm).unwrap();
    let readonly = fs::metadata(dir.join("c"))
        .unwrap()
        .permissions()
        .readonly();
    fs::remove_dir_all(&dir).unwrap();
    returned((target, is_link, readonly, fs::exists(&dir).unwrap()))
});

case!(file_locks, |fs| {
    let dir = fresh_dir("locks");
    let path = dir.join("l");
    let a = fs::File::create(&path).unwrap();
    let b = fs::File::open(&path).unwrap();
    a.lock().unwrap();
    let contended = matches!(b.try_lock_shared(), Err(fs::TryLockError::WouldBlock));
    a.unlock().unwrap();
    let free = b.try_lock().is_ok();
    returned((contended, free))
});

case!(unix_extensions, |fs, os| {
    use os::unix::fs::{
        DirBuilderExt, DirEntryExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt,
    };
    let dir = fresh_dir("unix");
    let path = dir.join("f");
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(&path)
        .unwrap();
    f.write_all_at(b"0123456789", 0).unwrap();
    let wrote = f.write_at(b"ab", 4).unwrap();
    let mut buf = [0u8; 6];
    let read = f.read_at(&mut buf, 2).unwrap();
    let mut exact = [0u8; 3];
    f.read_exact_at(&mut exact, 7).unwrap();
    let past_end = kind(f.read_exact_at(&mut exact, 9));
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    let sub = dir.join("sub");
    fs::DirBuilder::new().mode(0o700).create(&sub).unwrap();
    let sub_mode = fs::metadata(&sub).unwrap().mode() & 0o777;
    os::unix::fs::symlink("f", dir.join("link")).unwrap();
    let link = fs::read_link(dir.join("link")).unwrap();
    let symlink_again = kind(os::unix::fs::symlink("f", dir.join("link")));
    let ino_matches = fs::read_dir(&dir)
        .unwrap()
        .map(Result::unwrap)
        .filter(|e| e.file_name() == "f")
        .all(|e| e.ino() == fs::metadata(&path).unwrap().ino());
    let chown_nothing = kind(os::unix::fs::chown(&path, None, None));
    let fchown_nothing = kind(os::unix::fs::fchown(&f, None, None));
    let lchown_missing = kind(os::unix::fs::lchown(dir.join("missing"), None, None));
    returned((
        (wrote, read, buf, exact, past_end),
        (mode, sub_mode, link, symlink_again, ino_matches),
        (chown_nothing, fchown_nothing, lchown_missing),
    ))
});
