//! The atomic writer on a temporary directory: layout, modes, updates, removals, no
//! needless swap, and a reader that never sees a partial or mixed set of files.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use volume_manager::atomic_writer::{AtomicWriter, FileProjection, Payload, WriteOutcome};

fn payload(files: &[(&str, &[u8], u32)]) -> Payload {
    files
        .iter()
        .map(|(p, d, m)| (p.to_string(), FileProjection::new(d.to_vec(), *m)))
        .collect()
}

fn data_dir(vol: &Path) -> String {
    fs::read_link(vol.join("..data"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn timestamped_dirs(vol: &Path) -> Vec<String> {
    let mut dirs: Vec<String> = fs::read_dir(vol)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("..") && n != "..data")
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn vo_08_layout_symlinks_and_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = AtomicWriter::new(tmp.path(), "default/web");
    let out = writer
        .write(&payload(&[("a", b"1", 0o644), ("dir/x", b"2", 0o400)]))
        .unwrap();
    let WriteOutcome::Written { data_dir: ts } = out else {
        panic!("first write must swap")
    };
    assert!(ts.starts_with(".."), "{ts}");
    assert_eq!(data_dir(tmp.path()), ts);
    // The timestamped directory: ..YYYY_MM_DD_HH_MM_SS.<n>, mode 0755.
    let parts: Vec<&str> = ts.trim_start_matches("..").split(['_', '.']).collect();
    assert_eq!(parts.len(), 7, "{ts}");
    let ts_mode = fs::metadata(tmp.path().join(&ts))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(ts_mode, 0o755);
    assert_eq!(
        fs::read_link(tmp.path().join("a")).unwrap(),
        Path::new("..data/a")
    );
    assert_eq!(
        fs::read_link(tmp.path().join("dir")).unwrap(),
        Path::new("..data/dir")
    );
    assert_eq!(fs::read(tmp.path().join("dir/x")).unwrap(), b"2");
    let mode = |p: &str| {
        fs::metadata(tmp.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("a"), 0o644);
    assert_eq!(mode("dir/x"), 0o400);
}

#[test]
fn vo_10_update_swaps_data_and_removes_old_files_and_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = AtomicWriter::new(tmp.path(), "default/web");
    writer
        .write(&payload(&[
            ("a", b"1", 0o644),
            ("gone", b"x", 0o644),
            ("d/x", b"y", 0o644),
        ]))
        .unwrap();
    let first = data_dir(tmp.path());
    writer
        .write(&payload(&[("a", b"changed", 0o644), ("new", b"n", 0o644)]))
        .unwrap();
    let second = data_dir(tmp.path());
    assert_ne!(first, second);
    assert_eq!(
        timestamped_dirs(tmp.path()),
        vec![second.clone()],
        "the old directory is removed"
    );
    assert_eq!(fs::read(tmp.path().join("a")).unwrap(), b"changed");
    assert_eq!(fs::read(tmp.path().join("new")).unwrap(), b"n");
    assert!(
        fs::symlink_metadata(tmp.path().join("gone")).is_err(),
        "a removed key's symlink is removed"
    );
    assert!(fs::symlink_metadata(tmp.path().join("d")).is_err());
    // A mode change alone is a change.
    writer
        .write(&payload(&[("a", b"changed", 0o600), ("new", b"n", 0o644)]))
        .unwrap();
    assert_ne!(data_dir(tmp.path()), second);
    assert_eq!(
        fs::metadata(tmp.path().join("a"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o600
    );
}

#[test]
fn vo_11_unchanged_payload_does_not_swap() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = AtomicWriter::new(tmp.path(), "default/web");
    let p = payload(&[("a", b"1", 0o644), ("b/c", b"2", 0o644)]);
    writer.write(&p).unwrap();
    let before = data_dir(tmp.path());
    assert_eq!(writer.write(&p).unwrap(), WriteOutcome::Unchanged);
    assert_eq!(data_dir(tmp.path()), before);
    assert_eq!(timestamped_dirs(tmp.path()), vec![before]);
    // A removal alone is a change.
    writer.write(&payload(&[("a", b"1", 0o644)])).unwrap();
    assert!(fs::symlink_metadata(tmp.path().join("b")).is_err());
}

#[test]
fn vo_11_readers_never_see_partial_or_mixed_files() {
    const SIZE: usize = 256 * 1024;
    let tmp = tempfile::tempdir().unwrap();
    let vol = tmp.path().to_owned();
    let writer = AtomicWriter::new(&vol, "default/web");
    let version = |v: u8| {
        payload(&[
            ("a", &vec![b'a' + v; SIZE], 0o644),
            ("b", &vec![b'a' + v; SIZE], 0o644),
        ])
    };
    writer.write(&version(0)).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|kind| {
            let stop = stop.clone();
            let vol = vol.clone();
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if kind == 0 {
                        // A reader of <vol>/a: one whole version, never a partial file.
                        // The open may resolve ..data to the previous directory just
                        // before it is removed and find no file there (NotFound, as
                        // with the kubelet's writer): a retry, never a partial read.
                        let a = match fs::read(vol.join("a")) {
                            Ok(a) => a,
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                            Err(e) => panic!("reading a: {e}"),
                        };
                        assert_eq!(a.len(), SIZE, "partial file");
                        assert!(a.iter().all(|b| *b == a[0]), "mixed content in one file");
                    } else {
                        // A reader of the set through one resolution of ..data: a and b of
                        // the same version (the old directory may vanish under it: retry).
                        let Ok(target) = fs::read_link(vol.join("..data")) else {
                            continue;
                        };
                        let dir = vol.join(target);
                        let (Ok(a), Ok(b)) = (fs::read(dir.join("a")), fs::read(dir.join("b")))
                        else {
                            continue;
                        };
                        assert_eq!(a.len(), SIZE);
                        assert_eq!(b.len(), SIZE);
                        assert_eq!(a[0], b[0], "mixed set of files");
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for round in 1..=60u8 {
        writer.write(&version(round % 26)).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().expect("reader saw a partial or mixed file") > 0);
    }
}

#[test]
fn invalid_paths_are_rejected_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = AtomicWriter::new(tmp.path(), "default/web");
    for bad in ["../escape", "/etc/passwd", "a/../../b", "..data"] {
        let err = writer.write(&payload(&[(bad, b"x", 0o644)])).unwrap_err();
        assert!(err.to_string().contains("invalid path"), "{err}");
        assert!(err.to_string().contains("default/web"), "{err}");
    }
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    assert!(!tmp.path().parent().unwrap().join("escape").exists());
}
