//! Container log rotation against a real containerd 1.6 (DF-03): containerd writes the
//! log, `ReopenContainerLog` makes it switch to a fresh file, the legacy symlink (CRI-14)
//! follows the live log through rotations, and `LogReader` follows the log through them
//! too, then reads it back across the rotated and compressed files.
//!
//! The environment comes from `$NODELET_CRI_ENDPOINT` (exported from what
//! `cargo xtask setup` prints), or else from the file `target/nodelet-env/env` it writes
//! (through `test_env`).
//! Without it the test prints how to start it and passes, except with `CI=true`, where it
//! fails: CI must never pass by skipping. While it runs it holds a shared lock on
//! `$NODELET_ENV_DIR/runtime.lock`, so the agent's end-to-end tests (which hold it
//! exclusively, their agent removing sandboxes it does not know) wait for it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use container_logs::{
    ContainerLogManager, ContainerRef, LegacySymlinks, LogLine, LogOptions, LogReader,
    LogRotationSettings,
};
use cri_client::{GrpcRuntime, RuntimeService, v1};
use futures::StreamExt;
use pod_plan::labels;
use test_env::{RuntimeLock, TestSandbox, busybox_image, unique_name, wait_until};

/// How long a condition of the scenario is waited for.
const WAIT: Duration = Duration::from_secs(20);

/// One host-network pod with one container printing numbered lines, and its temporary
/// directory (pod logs and symlinks). `cleanup` removes the sandbox; the directory goes
/// with the `TempDir`.
struct TestPod {
    sandbox: TestSandbox,
    container: String,
    uid: String,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl TestPod {
    async fn start(rt: &GrpcRuntime) -> TestPod {
        let uid = unique_name("logs");
        let dir = tempfile::tempdir().expect("tempdir");
        let log_directory = dir.path().join(format!("pods/nodelet-test_logs_{uid}"));
        // Numbered lines of about 200 bytes, about 100 KB/s: every line must be found
        // exactly once across the rotated and live files.
        let script = "i=0; pad=$(printf '%0180d' 0); \
                      while true; do \
                        j=0; while [ $j -lt 50 ]; do echo \"line $i $pad\"; i=$((i+1)); j=$((j+1)); done; \
                        sleep 0.1; \
                      done";
        let (sandbox, container) = TestSandbox::builder("nodelet-test", "logs", &uid)
            .host_network()
            .log_directory(&log_directory)
            .run_with_container(rt, "talker", &busybox_image(), &["sh", "-c", script])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        TestPod {
            sandbox,
            container,
            uid,
            log: log_directory.join("talker/0.log"),
            dir,
        }
    }

    /// Stop and remove the sandbox (and so its container). Best effort: a failure is
    /// printed, not raised, so it never hides the test's own failure.
    async fn cleanup(&self, rt: &GrpcRuntime) {
        if let Err(e) = self.sandbox.remove(rt).await {
            eprintln!("cleanup: {e}");
        }
    }
}

#[tokio::test]
async fn df_03_containerd_log_is_rotated_and_reopened() {
    let Some(rt) = test_env::runtime().await else {
        return;
    };
    let _lock = RuntimeLock::shared().expect("the runtime lock");
    let pod = TestPod::start(&rt).await;
    test_env::with_cleanup(rotation_scenario(&rt, &pod), pod.cleanup(&rt)).await;
}

async fn rotation_scenario(rt: &Arc<GrpcRuntime>, pod: &TestPod) {
    let max_files = 4;
    let settings = LogRotationSettings {
        max_size: 64 * 1024,
        max_files,
        ..Default::default()
    };
    let symlinks = LegacySymlinks::new(pod.dir.path().join("containers"));
    let manager = ContainerLogManager::new(rt.clone(), settings)
        .expect("settings")
        .with_symlinks(symlinks.clone())
        // containerd is shared: rotate this pod's container only.
        .with_label_selector([(labels::POD_UID.to_string(), pod.uid.clone())]);

    // containerd creates the log at start; the symlink goes to it (CRI-14).
    wait_until("the log file exists", WAIT, || pod.log.exists()).await;
    let status = rt
        .container_status(v1::ContainerStatusRequest {
            container_id: pod.container.clone(),
            verbose: false,
        })
        .await
        .expect("ContainerStatus")
        .status
        .expect("status");
    assert_eq!(Path::new(&status.log_path), pod.log);
    let container = ContainerRef::from_labels(&pod.container, &status.labels, None);
    assert_eq!(container.pod(), "nodelet-test/logs");
    assert!(symlinks.create(&container, &pod.log).expect("symlink"));
    let link = symlinks.path_for(&container).unwrap();
    assert_eq!(
        link.file_name().unwrap().to_string_lossy(),
        format!("logs_nodelet-test_talker-{}.log", pod.container)
    );

    // `kubectl logs -f` through the symlink, for the whole scenario: it must see every line
    // once, in order, across the rotations, and end when the container stops.
    let follow = LogOptions {
        follow: true,
        ..Default::default()
    };
    let follower = LogReader::open(&link, follow)
        .await
        .expect("open the log to follow")
        .until_container_exits(rt.clone(), pod.container.clone());
    let follower = tokio::spawn(async move {
        let lines: Vec<LogLine> = follower
            .into_stream()
            .map(|line| line.expect("a followed line"))
            .collect()
            .await;
        lines
    });

    // Rotate as the monitor would, until 5 rotations happened (one per second at most:
    // rotated files are named to the second).
    let mut rotations = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while rotations < 5 {
        assert!(Instant::now() < deadline, "5 rotations within 60 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let report = manager.rotate_once().await.expect("rotate_once");
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(report.running, 1, "{report:?}");
        rotations += report.rotated.len();
        let files = log_files(&pod.log);
        assert!(
            files.len() <= max_files as usize,
            "at most {max_files} files: {files:?}"
        );
        if let Some(rotated) = report.rotated.first() {
            assert!(
                rotated.rotated_to.exists(),
                "{}",
                rotated.rotated_to.display()
            );
            // containerd reopened: a fresh live log at the same path.
            assert!(pod.log.exists(), "ReopenContainerLog recreated the log");
        }
    }

    // containerd keeps writing, into the reopened file.
    let size = std::fs::metadata(&pod.log).unwrap().len();
    wait_until("the reopened log grows", WAIT, || {
        std::fs::metadata(&pod.log).is_ok_and(|m| m.len() > size)
    })
    .await;
    // The symlink still leads to the live log.
    assert_eq!(std::fs::read_link(&link).unwrap(), pod.log);
    assert!(std::fs::metadata(&link).is_ok(), "symlink not dangling");

    // Stop the writer so the files hold still, then check them: at most max_files, only the
    // newest rotated file uncompressed, and the numbered lines continue from file to file
    // with nothing lost or doubled across the rotations.
    rt.stop_container(v1::StopContainerRequest {
        container_id: pod.container.clone(),
        timeout: 0,
    })
    .await
    .expect("StopContainer");
    let files = log_files(&pod.log);
    assert_eq!(files.len(), max_files as usize, "{files:?}");
    assert_eq!(*files.last().unwrap(), pod.log, "{files:?}");
    let rotated = &files[..files.len() - 1];
    let (plain, compressed): (Vec<&PathBuf>, Vec<&PathBuf>) = rotated
        .iter()
        .partition(|f| f.extension().is_none_or(|e| e != "gz"));
    assert_eq!(plain.len(), 1, "{files:?}");
    assert_eq!(compressed.len(), rotated.len() - 1, "{files:?}");
    assert!(
        plain[0] > compressed[compressed.len() - 1],
        "the newest is plain"
    );
    let mut last: Option<u64> = None;
    for file in &files {
        let numbers = line_numbers(file);
        assert!(!numbers.is_empty(), "{} has lines", file.display());
        for n in numbers {
            if let Some(prev) = last {
                assert_eq!(n, prev + 1, "line {n} after {prev} in {}", file.display());
            }
            last = Some(n);
        }
    }

    // The follower saw the same lines, and ended with the container.
    let followed = tokio::time::timeout(WAIT, follower)
        .await
        .expect("following ends when the container stops")
        .expect("the follower");
    let followed: Vec<u64> = followed.iter().map(|l| number(&l.output)).collect();
    assert_eq!(followed.first(), Some(&0), "from the first line");
    let expected: Vec<u64> = (0..=last.unwrap()).collect();
    assert!(
        followed == expected,
        "followed {} lines, {} expected",
        followed.len(),
        expected.len()
    );

    // Read back after the fact: everything still on disk (the gzip files included) and a
    // tail reaching into the oldest file.
    let on_disk: Vec<u64> = files.iter().flat_map(|f| line_numbers(f)).collect();
    let all = read_numbers(&pod.log, LogOptions::default()).await;
    assert_eq!(all, on_disk);
    let tail = LogOptions {
        tail_lines: Some(on_disk.len() as u64 - 3),
        ..Default::default()
    };
    assert_eq!(read_numbers(&pod.log, tail).await, on_disk[3..]);

    // The container goes: its logs and symlink with it (before RemoveContainer).
    let removed = manager
        .remove_container_logs(&pod.container)
        .await
        .expect("remove_container_logs");
    assert_eq!(removed.len(), files.len() + 1, "{removed:?}");
    assert!(log_files(&pod.log).is_empty());
    assert!(std::fs::symlink_metadata(&link).is_err());
}

/// `<log>` and `<log>.*`, sorted (rotated files oldest first, then the live log: the live
/// log's name is a prefix of the others, so it sorts first and is moved last).
fn log_files(log: &Path) -> Vec<PathBuf> {
    let name = log.file_name().unwrap().to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir(log.parent().unwrap()) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&name))
        .collect();
    files.sort();
    if files.first().is_some_and(|f| f == log) {
        let live = files.remove(0);
        files.push(live);
    }
    files
}

/// The numbers of the lines `LogReader` reads with `options`.
async fn read_numbers(log: &Path, options: LogOptions) -> Vec<u64> {
    LogReader::open(log, options)
        .await
        .expect("open the log")
        .into_stream()
        .map(|line| number(&line.expect("a line").output))
        .collect()
        .await
}

/// The number of a `line N <pad>` line.
fn number(line: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(line);
    text.strip_prefix("line ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line number in {text:?}"))
}

/// The numbers of the `line N ...` lines of a CRI-format log file, gzip or plain.
fn line_numbers(path: &Path) -> Vec<u64> {
    let raw = std::fs::read(path).unwrap();
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = String::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_string(&mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out
    } else {
        String::from_utf8(raw).unwrap()
    };
    let records = text.lines().count();
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            // `<RFC3339Nano> stdout F line <n> <pad>`; the very last record may be partial
            // (`P`): the container was killed in the middle of a line.
            let mut fields = line.split(' ');
            let (_, stream, tag, word, n) = (
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
            );
            let tag = if tag == Some("P") && i + 1 == records {
                Some("F")
            } else {
                tag
            };
            assert_eq!(
                (stream, tag, word),
                (Some("stdout"), Some("F"), Some("line")),
                "{line}"
            );
            n.and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no line number in {line:?}"))
        })
        .collect()
}
