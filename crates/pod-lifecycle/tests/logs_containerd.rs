//! Container log rotation against a real containerd 1.6 (DF-03): containerd writes the
//! log, `ReopenContainerLog` makes it switch to a fresh file, and the legacy symlink
//! (CRI-14) follows the live log through rotations.
//!
//! The environment comes from `$NODELET_CRI_ENDPOINT` (exported from what
//! `cargo xtask setup` prints), or else from the file `target/nodelet-env/env` it writes.
//! Without it the test prints how to start it and passes, except with `CI=true`, where it
//! fails: CI must never pass by skipping. While it runs it holds a shared lock on
//! `$NODELET_ENV_DIR/runtime.lock`, so the agent's end-to-end tests (which hold it
//! exclusively, their agent removing sandboxes it does not know) wait for it.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cri_client::{GrpcRuntime, RuntimeService, v1};
use futures::FutureExt;
use pod_lifecycle::labels;
use pod_lifecycle::logs::{ContainerLogManager, ContainerRef, LegacySymlinks, LogRotationSettings};

const ENDPOINT_VAR: &str = "NODELET_CRI_ENDPOINT";

/// The variables `cargo xtask setup` exports: from the process environment, else from
/// `target/nodelet-env/env`.
fn env_var(name: &str) -> Option<String> {
    if let Ok(v) = std::env::var(name)
        && !v.trim().is_empty()
    {
        return Some(v);
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/nodelet-env/env");
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(name)?.strip_prefix('='))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

fn missing(why: &str) -> Option<(Arc<GrpcRuntime>, File)> {
    let message = format!(
        "{why}: start the environment with `cargo xtask setup` (it writes \
         target/nodelet-env/env), or run everything with `cargo xtask test`"
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("skipping: {message}");
    None
}

/// The runtime and the shared lock on it, or `None` (after saying why) outside CI.
async fn runtime() -> Option<(Arc<GrpcRuntime>, File)> {
    let Some(endpoint) = env_var(ENDPOINT_VAR) else {
        return missing(&format!("{ENDPOINT_VAR} is not set"));
    };
    let lock = lock_runtime_shared();
    let runtime = match GrpcRuntime::connect(&endpoint).await {
        Ok(r) => r,
        Err(e) => return missing(&format!("{ENDPOINT_VAR}={endpoint}: {e}")),
    };
    if let Err(e) = runtime
        .version(v1::VersionRequest {
            version: String::new(),
        })
        .await
    {
        return missing(&format!("the runtime at {endpoint} does not answer: {e}"));
    }
    Some((Arc::new(runtime), lock))
}

/// A shared `flock` on `$NODELET_ENV_DIR/runtime.lock` (see the module docs), released
/// when the file is dropped, even by a panic.
fn lock_runtime_shared() -> File {
    let dir = env_var("NODELET_ENV_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let path = dir.join("runtime.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    file.lock_shared()
        .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
    file
}

fn busybox() -> String {
    env_var("NODELET_BUSYBOX_IMAGE").unwrap_or_else(|| "localhost/busybox:1".into())
}

/// One host-network pod with one container printing numbered lines, and its temporary
/// directory (pod logs and symlinks). `cleanup` removes the sandbox; the directory goes
/// with the `TempDir`.
struct TestPod {
    sandbox: String,
    container: String,
    uid: String,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl TestPod {
    async fn start(rt: &GrpcRuntime) -> TestPod {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let uid = format!("logs-{}-{nanos}", std::process::id());
        let dir = tempfile::tempdir().expect("tempdir");
        let log_directory = dir.path().join(format!("pods/nodelet-test_logs_{uid}"));
        let sandbox_labels = HashMap::from([
            (labels::POD_UID.to_string(), uid.clone()),
            (labels::POD_NAME.to_string(), "logs".to_string()),
            (
                labels::POD_NAMESPACE.to_string(),
                "nodelet-test".to_string(),
            ),
        ]);
        let config = v1::PodSandboxConfig {
            metadata: Some(v1::PodSandboxMetadata {
                name: "logs".into(),
                namespace: "nodelet-test".into(),
                uid: uid.clone(),
                attempt: 0,
            }),
            log_directory: log_directory.display().to_string(),
            labels: sandbox_labels.clone(),
            linux: Some(v1::LinuxPodSandboxConfig {
                security_context: Some(v1::LinuxSandboxSecurityContext {
                    namespace_options: Some(v1::NamespaceOption {
                        network: v1::NamespaceMode::Node as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let sandbox = rt
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .expect("RunPodSandbox")
            .pod_sandbox_id;
        let mut container_labels = sandbox_labels;
        container_labels.insert(labels::CONTAINER_NAME.to_string(), "talker".to_string());
        // Numbered lines of about 200 bytes, about 100 KB/s: every line must be found
        // exactly once across the rotated and live files.
        let script = "i=0; pad=$(printf '%0180d' 0); \
                      while true; do \
                        j=0; while [ $j -lt 50 ]; do echo \"line $i $pad\"; i=$((i+1)); j=$((j+1)); done; \
                        sleep 0.1; \
                      done";
        let pod = TestPod {
            sandbox: sandbox.clone(),
            container: String::new(),
            uid,
            log: log_directory.join("talker/0.log"),
            dir,
        };
        let created = rt
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: sandbox,
                config: Some(v1::ContainerConfig {
                    metadata: Some(v1::ContainerMetadata {
                        name: "talker".into(),
                        attempt: 0,
                    }),
                    image: Some(v1::ImageSpec {
                        image: busybox(),
                        ..Default::default()
                    }),
                    command: vec!["sh".into(), "-c".into(), script.into()],
                    log_path: "talker/0.log".into(),
                    labels: container_labels,
                    ..Default::default()
                }),
                sandbox_config: Some(config),
            })
            .await;
        let container = match created {
            Ok(r) => r.container_id,
            Err(e) => {
                pod.cleanup(rt).await;
                panic!("CreateContainer: {e}");
            }
        };
        if let Err(e) = rt
            .start_container(v1::StartContainerRequest {
                container_id: container.clone(),
            })
            .await
        {
            pod.cleanup(rt).await;
            panic!("StartContainer: {e}");
        }
        TestPod { container, ..pod }
    }

    /// Stop and remove the sandbox (and so its container). Best effort: a failure is
    /// printed, not raised, so it never hides the test's own failure.
    async fn cleanup(&self, rt: &GrpcRuntime) {
        if let Err(e) = rt
            .stop_pod_sandbox(v1::StopPodSandboxRequest {
                pod_sandbox_id: self.sandbox.clone(),
            })
            .await
        {
            eprintln!("cleanup: StopPodSandbox {}: {e}", self.sandbox);
        }
        if let Err(e) = rt
            .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                pod_sandbox_id: self.sandbox.clone(),
            })
            .await
        {
            eprintln!("cleanup: RemovePodSandbox {}: {e}", self.sandbox);
        }
    }
}

#[tokio::test]
async fn df_03_containerd_log_is_rotated_and_reopened() {
    let Some((rt, _lock)) = runtime().await else {
        return;
    };
    let pod = TestPod::start(&rt).await;
    let result = AssertUnwindSafe(rotation_scenario(&rt, &pod))
        .catch_unwind()
        .await;
    pod.cleanup(&rt).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
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
    wait_until("the log file exists", || pod.log.exists()).await;
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
    let link = symlinks.path_for(&container);
    assert_eq!(
        link.file_name().unwrap().to_string_lossy(),
        format!("logs_nodelet-test_talker-{}.log", pod.container)
    );

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
    wait_until("the reopened log grows", || {
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
    text.lines()
        .map(|line| {
            // `<RFC3339Nano> stdout F line <n> <pad>`
            let mut fields = line.split(' ');
            let (_, stream, tag, word, n) = (
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
            );
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

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
