//! Container log rotation (DF-03) and the legacy `/var/log/containers` symlinks (CRI-14)
//! on the fake runtime, with real files in a temporary directory. The fake keeps each
//! container's log path (`log_directory` joined with `log_path`) but writes nothing, so
//! these tests write the log as the runtime would, and create the fresh live log after a
//! rotation as the runtime's `ReopenContainerLog` would. `tests/logs_containerd.rs` does
//! the same against containerd, which writes and reopens for real.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use container_logs::{
    ContainerLogManager, ContainerRef, Error, LegacySymlinks, LogRotationSettings,
    container_id_from_legacy_symlink, legacy_log_symlink,
};
use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
use cri_client::{RuntimeService, v1};
use k8s_openapi::api::core::v1::Pod;
use pod_plan::labels;
use tempfile::TempDir;

const KIB: u64 = 1024;

/// A fake runtime with one READY sandbox whose log directory is a temporary directory, and
/// a clock for rotated file names that the test moves.
struct Env {
    fake: FakeRuntime,
    dir: TempDir,
    sandbox: String,
    sandbox_config: v1::PodSandboxConfig,
    seconds: Arc<AtomicI64>,
}

impl Env {
    async fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = FakeRuntime::with_busybox();
        let sandbox_config = v1::PodSandboxConfig {
            metadata: Some(v1::PodSandboxMetadata {
                name: "web".into(),
                namespace: "default".into(),
                uid: "uid-web".into(),
                attempt: 0,
            }),
            log_directory: dir
                .path()
                .join("pods/default_web_uid-web")
                .display()
                .to_string(),
            ..Default::default()
        };
        let sandbox = fake
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(sandbox_config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .expect("RunPodSandbox")
            .pod_sandbox_id;
        Env {
            fake,
            dir,
            sandbox,
            sandbox_config,
            seconds: Arc::new(AtomicI64::new(1_700_000_000)),
        }
    }

    /// A running container `name` with the kubelet's labels, logging to `<name>/0.log`
    /// (the file is created, empty, as the runtime does at start).
    async fn start(&self, name: &str) -> (String, PathBuf) {
        let labels = HashMap::from([
            (labels::POD_NAME.to_string(), "web".to_string()),
            (labels::POD_NAMESPACE.to_string(), "default".to_string()),
            (labels::POD_UID.to_string(), "uid-web".to_string()),
            (labels::CONTAINER_NAME.to_string(), name.to_string()),
        ]);
        let id = self.start_with(name, labels).await;
        let log = self.log_path(name);
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        std::fs::File::create(&log).unwrap();
        (id, log)
    }

    async fn start_with(&self, name: &str, labels: HashMap<String, String>) -> String {
        let id = self
            .fake
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: self.sandbox.clone(),
                config: Some(v1::ContainerConfig {
                    metadata: Some(v1::ContainerMetadata {
                        name: name.into(),
                        attempt: 0,
                    }),
                    image: Some(v1::ImageSpec {
                        image: BUSYBOX_IMAGE.into(),
                        ..Default::default()
                    }),
                    command: vec!["sleep".into(), "infinity".into()],
                    log_path: format!("{name}/0.log"),
                    labels,
                    ..Default::default()
                }),
                sandbox_config: Some(self.sandbox_config.clone()),
            })
            .await
            .expect("CreateContainer")
            .container_id;
        self.fake
            .start_container(v1::StartContainerRequest {
                container_id: id.clone(),
            })
            .await
            .expect("StartContainer");
        id
    }

    fn log_path(&self, name: &str) -> PathBuf {
        Path::new(&self.sandbox_config.log_directory).join(format!("{name}/0.log"))
    }

    fn symlink_dir(&self) -> PathBuf {
        self.dir.path().join("containers")
    }

    /// A manager over the fake whose rotated file names follow [`Env::tick`].
    fn manager(&self, settings: LogRotationSettings) -> ContainerLogManager {
        let seconds = self.seconds.clone();
        ContainerLogManager::new(Arc::new(self.fake.clone()), settings)
            .expect("valid settings")
            .with_symlinks(LegacySymlinks::new(self.symlink_dir()))
            .with_clock(move || {
                jiff::Timestamp::from_second(seconds.load(Ordering::SeqCst))
                    .unwrap()
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .datetime()
            })
    }

    fn tick(&self, seconds: i64) {
        self.seconds.fetch_add(seconds, Ordering::SeqCst);
    }
}

fn small(max_size: u64, max_files: u32) -> LogRotationSettings {
    LogRotationSettings {
        max_size,
        max_files,
        ..Default::default()
    }
}

/// Append to a log as the runtime does: opening the path anew, so after a rotation the
/// bytes go to the fresh file, never into the renamed one.
fn append(log: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// Every file of the container's log (`<log>` and `<log>.*`), sorted.
fn log_files(log: &Path) -> Vec<PathBuf> {
    let name = log.file_name().unwrap().to_string_lossy().into_owned();
    let mut files: Vec<PathBuf> = std::fs::read_dir(log.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(name.as_str())
        })
        .collect();
    files.sort();
    files
}

fn read_maybe_gz(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{} is not gzip: {e}", path.display()));
        out
    } else {
        raw
    }
}

/// One CRI log line of `len` bytes (newline included) tagged with `round`.
fn chunk(round: usize, len: usize) -> Vec<u8> {
    let head = format!("2024-01-01T00:00:00.000000000Z stdout F round {round:03} ");
    let mut line = head.into_bytes();
    line.resize(len - 1, b'x');
    line.push(b'\n');
    line
}

// ---- DF-03: rotation ----

#[test]
fn df_03_defaults_are_the_kubelets() {
    let d = LogRotationSettings::default();
    assert_eq!(d.max_size, 10 * 1024 * 1024, "containerLogMaxSize 10Mi");
    assert_eq!(d.max_files, 5, "containerLogMaxFiles 5");
    assert_eq!(d.monitor_interval, Duration::from_secs(10));
    d.validate().expect("defaults are valid");

    let refused = [
        (
            small(10 * KIB, 1),
            "containerLogMaxFiles: 1 must be greater than 1",
        ),
        (
            small(10 * KIB, 0),
            "containerLogMaxFiles: 0 must be greater than 1",
        ),
        (
            small(0, 5),
            "containerLogMaxSize: 0 must be a positive size in bytes",
        ),
        (
            LogRotationSettings {
                monitor_interval: Duration::from_secs(2),
                ..Default::default()
            },
            "containerLogMonitorInterval: 2s must be greater than or equal to 3s",
        ),
    ];
    for (settings, message) in refused {
        let err = ContainerLogManager::new(Arc::new(FakeRuntime::new()), settings).unwrap_err();
        assert!(matches!(err, Error::InvalidSettings { .. }), "{err:?}");
        assert_eq!(err.to_string(), message);
    }
    small(1, 2).validate().expect("2 files is the least");
}

#[tokio::test]
async fn df_03_rotation_keeps_max_files_and_compresses_all_but_the_newest() {
    let env = Env::new().await;
    let (_id, log) = env.start("app").await;
    let max_size = 16 * KIB;
    let manager = env.manager(small(max_size, 5));

    let rounds = 12;
    let mut written: Vec<Vec<u8>> = Vec::new();
    for round in 0..rounds {
        // Well over the limit each round: 3 × max size, 30+ × over the whole test.
        let bytes = chunk(round, 3 * max_size as usize);
        append(&log, &bytes);
        written.push(bytes);
        env.tick(1);

        let report = manager.rotate_once().await.expect("rotate_once");
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(report.running, 1);
        assert_eq!(report.rotated.len(), 1, "round {round}: {report:?}");
        let rotated = &report.rotated[0];
        assert_eq!(rotated.log, log);
        assert_eq!(rotated.container.pod(), "default/web");
        assert_eq!(rotated.container.container_name, "app");
        assert!(!log.exists(), "the live log was renamed away");
        // Named `<log>.<YYYYmmdd-HHMMSS>` after the clock (UTC here, local by default).
        let stamp = jiff::Timestamp::from_second(env.seconds.load(Ordering::SeqCst))
            .unwrap()
            .strftime("%Y%m%d-%H%M%S")
            .to_string();
        assert_eq!(
            rotated.rotated_to,
            PathBuf::from(format!("{}.{stamp}", log.display()))
        );
        assert_eq!(
            env.fake.calls_to("ReopenContainerLog").len(),
            round + 1,
            "one ReopenContainerLog per rotation"
        );
        // The runtime reopens: a fresh, empty live log at the same path.
        std::fs::File::create(&log).unwrap();

        let files = log_files(&log);
        assert!(files.len() <= 5, "round {round}: {files:?}");
        assert_eq!(files.len(), (round + 2).min(5), "round {round}: {files:?}");
        let plain: Vec<&PathBuf> = files
            .iter()
            .filter(|f| f.extension().is_none_or(|e| e != "gz") && **f != log)
            .collect();
        assert_eq!(
            plain,
            vec![&rotated.rotated_to],
            "only the newest rotated file is uncompressed"
        );
        // What is kept is exactly the newest rounds, in order.
        let kept = files.len() - 1;
        let mut expected = Vec::new();
        for bytes in &written[written.len() - kept..] {
            expected.extend_from_slice(bytes);
        }
        let mut got = Vec::new();
        for f in files.iter().filter(|f| **f != log) {
            got.extend(read_maybe_gz(f));
        }
        assert!(got == expected, "round {round}: kept content differs");
    }

    // Below the limit nothing moves.
    append(&log, &chunk(99, (max_size - 1) as usize));
    env.tick(1);
    let report = manager.rotate_once().await.unwrap();
    assert!(report.rotated.is_empty(), "{report:?}");
    assert_eq!(env.fake.calls_to("ReopenContainerLog").len(), rounds);
    // At the limit it does (the kubelet rotates at size >= max).
    append(&log, b"\n");
    let report = manager.rotate_once().await.unwrap();
    assert_eq!(report.rotated.len(), 1, "{report:?}");
}

/// The checklist's numbers as they are: 10Mi and 5 files, about 100Mi written.
#[tokio::test]
async fn df_03_kubelet_defaults_writing_100mi_keep_5_files_of_about_10mi() {
    let env = Env::new().await;
    let (_id, log) = env.start("app").await;
    let manager = env.manager(LogRotationSettings::default());
    let max = LogRotationSettings::default().max_size as usize;
    let mut total = 0;
    for round in 0..10 {
        // A little over 10Mi between two monitor rounds.
        let bytes = chunk(round, max + 1024);
        append(&log, &bytes);
        total += bytes.len();
        env.tick(10);
        let report = manager.rotate_once().await.unwrap();
        assert_eq!(report.rotated.len(), 1, "{report:?}");
        std::fs::File::create(&log).unwrap();
    }
    assert!(total >= 100 * 1024 * 1024);
    let files = log_files(&log);
    assert_eq!(files.len(), 5, "{files:?}");
    for f in files.iter().filter(|f| **f != log) {
        assert_eq!(read_maybe_gz(f).len(), max + 1024, "{}", f.display());
    }
}

#[tokio::test]
async fn df_03_failed_reopen_renames_the_log_back() {
    let env = Env::new().await;
    let (id, log) = env.start("app").await;
    let manager = env.manager(small(4 * KIB, 3));
    append(&log, &chunk(0, 8 * KIB as usize));
    env.tick(1);
    manager.rotate_once().await.unwrap();
    std::fs::File::create(&log).unwrap();
    let before = log_files(&log);

    let content = chunk(1, 8 * KIB as usize);
    append(&log, &content);
    env.tick(1);
    env.fake
        .fail_next("ReopenContainerLog", 1, tonic::Code::Internal);
    let report = manager.rotate_once().await.unwrap();
    assert!(report.rotated.is_empty());
    assert_eq!(report.errors.len(), 1, "{report:?}");
    let err = &report.errors[0];
    assert!(
        matches!(
            err,
            Error::Reopen {
                restore_error: None,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("pod default/web: container app ({})", &id[..12])),
        "{message}"
    );
    assert!(message.contains("ReopenContainerLog"), "{message}");
    assert!(message.contains("renamed back"), "{message}");
    // The live log is back with its content; the only change is the older rotated file,
    // now compressed ahead of the rotation, as in the kubelet.
    assert_eq!(std::fs::read(&log).unwrap(), content);
    let after = log_files(&log);
    assert_eq!(after.len(), before.len(), "{before:?} -> {after:?}");
    assert!(
        after
            .iter()
            .all(|f| *f == log || f.extension().is_some_and(|e| e == "gz")),
        "{after:?}"
    );

    // The next round tries again, and succeeds.
    env.tick(1);
    let report = manager.rotate_once().await.unwrap();
    assert_eq!(report.rotated.len(), 1, "{report:?}");
    assert_eq!(
        std::fs::read(&report.rotated[0].rotated_to).unwrap(),
        content
    );
    let reopens = env.fake.calls_to("ReopenContainerLog");
    assert_eq!(reopens.len(), 3);
    assert!(reopens[1].failed.is_some() && reopens[2].failed.is_none());
}

#[tokio::test]
async fn df_03_only_running_containers_are_rotated() {
    let env = Env::new().await;
    let (running, running_log) = env.start("app").await;
    let (exited, exited_log) = env.start("done").await;
    env.fake.exit_container(&exited, 0, "");
    append(&running_log, &chunk(0, 8 * KIB as usize));
    append(&exited_log, &chunk(0, 8 * KIB as usize));
    let manager = env.manager(small(4 * KIB, 5));
    let report = manager.rotate_once().await.unwrap();
    assert_eq!(report.running, 1);
    assert_eq!(report.rotated.len(), 1);
    assert_eq!(report.rotated[0].container.container_id, running);
    assert_eq!(log_files(&exited_log), vec![exited_log.clone()]);
    let reopened: Vec<Option<String>> = env
        .fake
        .calls_to("ReopenContainerLog")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(reopened, vec![Some(running)]);
    // The runtime was asked for running containers only.
    let lists = env.fake.calls_to("ListContainers");
    assert_eq!(lists.len(), 1);
}

#[tokio::test]
async fn df_03_label_selector_leaves_other_containers_alone() {
    let env = Env::new().await;
    let (_ours, our_log) = env.start("app").await;
    let theirs = env
        .start_with(
            "other",
            HashMap::from([("team".to_string(), "b".to_string())]),
        )
        .await;
    let their_log = env.log_path("other");
    std::fs::create_dir_all(their_log.parent().unwrap()).unwrap();
    append(&our_log, &chunk(0, 8 * KIB as usize));
    append(&their_log, &chunk(0, 8 * KIB as usize));
    let manager = env
        .manager(small(4 * KIB, 5))
        .with_label_selector([(labels::POD_UID.to_string(), "uid-web".to_string())]);
    let report = manager.rotate_once().await.unwrap();
    assert_eq!(report.running, 1, "{report:?}");
    assert_eq!(report.rotated.len(), 1);
    assert_ne!(report.rotated[0].container.container_id, theirs);
    assert_eq!(log_files(&their_log), vec![their_log.clone()]);
}

#[tokio::test]
async fn df_03_a_second_rotation_within_one_second_waits() {
    let env = Env::new().await;
    let (_id, log) = env.start("app").await;
    let manager = env.manager(small(4 * KIB, 5));
    append(&log, &chunk(0, 8 * KIB as usize));
    let first = manager.rotate_once().await.unwrap();
    assert_eq!(first.rotated.len(), 1);
    std::fs::File::create(&log).unwrap();
    let second_content = chunk(1, 8 * KIB as usize);
    append(&log, &second_content);
    // Same second: the name is taken, so nothing is overwritten.
    let second = manager.rotate_once().await.unwrap();
    assert!(second.rotated.is_empty(), "{second:?}");
    assert_eq!(second.deferred.len(), 1);
    assert_eq!(std::fs::read(&log).unwrap(), second_content);
    assert_eq!(
        std::fs::read(&first.rotated[0].rotated_to).unwrap(),
        chunk(0, 8 * KIB as usize)
    );
    env.tick(1);
    let third = manager.rotate_once().await.unwrap();
    assert_eq!(third.rotated.len(), 1, "{third:?}");
}

#[tokio::test]
async fn df_03_a_missing_live_log_is_reopened() {
    let env = Env::new().await;
    let (id, log) = env.start("app").await;
    std::fs::remove_file(&log).unwrap();
    let manager = env.manager(small(4 * KIB, 5));
    let report = manager.rotate_once().await.unwrap();
    // The fake reopens without creating a file, so the second stat fails, and says so.
    assert_eq!(env.fake.calls_to("ReopenContainerLog").len(), 1);
    assert_eq!(report.errors.len(), 1, "{report:?}");
    let message = report.errors[0].to_string();
    assert!(
        message.starts_with(&format!("pod default/web: container app ({})", &id[..12])),
        "{message}"
    );
    assert!(message.contains("stat the reopened log"), "{message}");
}

#[tokio::test]
async fn df_03_status_errors_name_the_pod_and_do_not_stop_the_round() {
    let env = Env::new().await;
    let (_a, a_log) = env.start("a").await;
    let (_b, b_log) = env.start("b").await;
    append(&a_log, &chunk(0, 8 * KIB as usize));
    append(&b_log, &chunk(0, 8 * KIB as usize));
    let manager = env.manager(small(4 * KIB, 5));
    env.fake
        .fail_next("ContainerStatus", 1, tonic::Code::Internal);
    let report = manager.rotate_once().await.unwrap();
    assert_eq!(report.errors.len(), 1, "{report:?}");
    assert_eq!(report.rotated.len(), 1, "the other container still rotates");
    let message = report.errors[0].to_string();
    assert!(
        message.starts_with("pod default/web: container "),
        "{message}"
    );
    assert!(message.contains("ContainerStatus"), "{message}");

    env.fake
        .fail_next("ListContainers", 1, tonic::Code::Unavailable);
    let err = manager.rotate_once().await.unwrap_err();
    assert!(matches!(err, Error::ListContainers { .. }), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn df_03_run_rotates_every_monitor_interval_until_shutdown() {
    let env = Env::new().await;
    let (_id, log) = env.start("app").await;
    let manager = Arc::new(env.manager(small(4 * KIB, 5)));
    append(&log, &chunk(0, 8 * KIB as usize));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn({
        let manager = manager.clone();
        async move {
            manager
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    // The first round runs at once.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(env.fake.calls_to("ReopenContainerLog").len(), 1);
    std::fs::File::create(&log).unwrap();
    append(&log, &chunk(1, 8 * KIB as usize));
    env.tick(10);
    // Nothing before the interval is up...
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(env.fake.calls_to("ReopenContainerLog").len(), 1);
    // ...and the next round 10 s after the first.
    tokio::time::sleep(Duration::from_millis(1001)).await;
    assert_eq!(env.fake.calls_to("ListContainers").len(), 2);
    assert_eq!(env.fake.calls_to("ReopenContainerLog").len(), 2);
    drop(stop);
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("run returns on shutdown")
        .unwrap();
}

#[tokio::test]
async fn df_03_removed_container_leaves_no_log_files_or_symlink() {
    let env = Env::new().await;
    let (id, log) = env.start("app").await;
    // Another restart's log in the same directory stays.
    let other_instance = log.with_file_name("1.log");
    append(&other_instance, b"previous instance\n");
    let manager = env.manager(small(4 * KIB, 5));
    for round in 0..3 {
        append(&log, &chunk(round, 8 * KIB as usize));
        env.tick(1);
        manager.rotate_once().await.unwrap();
        std::fs::File::create(&log).unwrap();
    }
    let container = ContainerRef::from_labels(
        &id,
        &HashMap::from([
            (labels::POD_NAME.to_string(), "web".to_string()),
            (labels::POD_NAMESPACE.to_string(), "default".to_string()),
            (labels::CONTAINER_NAME.to_string(), "app".to_string()),
        ]),
        None,
    );
    assert!(manager.symlinks().create(&container, &log).unwrap());
    let link = manager.symlinks().path_for(&container).unwrap();
    assert_eq!(log_files(&log).len(), 4);

    let removed = manager.remove_container_logs(&id).await.unwrap();
    assert_eq!(removed.len(), 5, "{removed:?}");
    assert_eq!(removed.last(), Some(&link), "the symlink last");
    assert!(log_files(&log).is_empty(), "{:?}", log_files(&log));
    assert!(std::fs::symlink_metadata(&link).is_err(), "symlink removed");
    assert_eq!(
        std::fs::read(&other_instance).unwrap(),
        b"previous instance\n"
    );
    // Nothing left: a second call removes nothing and succeeds.
    assert!(manager.remove_container_logs(&id).await.unwrap().is_empty());
    // The runtime must know the container: like the kubelet, an unknown one is an error.
    let err = manager.clean("0123456789abcdef").await.unwrap_err();
    assert!(matches!(err, Error::Runtime { .. }), "{err:?}");
}

// ---- CRI-14: the legacy symlinks ----

fn pod(name: &str, namespace: &str) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = Some(name.into());
    pod.metadata.namespace = Some(namespace.into());
    pod.metadata.uid = Some("uid-1".into());
    pod
}

#[tokio::test]
async fn cri_14_legacy_symlink_name_and_target() {
    let env = Env::new().await;
    let (id, log) = env.start("app").await;
    append(&log, b"hello\n");
    let symlinks = LegacySymlinks::new(env.symlink_dir());
    let container = ContainerRef::for_pod(&pod("web", "default"), "app", &id);
    assert!(symlinks.create(&container, &log).unwrap(), "linked");

    // `/var/log/containers/<pod>_<namespace>_<container>-<container id>.log`
    let link = env.symlink_dir().join(format!("web_default_app-{id}.log"));
    assert_eq!(symlinks.path_for(&container).unwrap(), link);
    assert_eq!(
        legacy_log_symlink(&env.symlink_dir(), "web", "default", "app", &id).unwrap(),
        link
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), log);
    assert_eq!(std::fs::read(&link).unwrap(), b"hello\n");
    assert_eq!(container_id_from_legacy_symlink(&link), Some(id.clone()));
    // The default directory is the kubelet's.
    assert_eq!(
        LegacySymlinks::default().dir(),
        Path::new("/var/log/containers")
    );

    // Linking again (a retried start) replaces the link.
    assert!(symlinks.create(&container, &log).unwrap());
    assert_eq!(std::fs::read_link(&link).unwrap(), log);

    // Through a rotation the link keeps pointing at the live log.
    let manager = env.manager(small(4, 5));
    env.tick(1);
    manager.rotate_once().await.unwrap();
    append(&log, b"after\n");
    assert_eq!(std::fs::read(&link).unwrap(), b"after\n");

    // No log file, no link (it would only dangle).
    let missing = ContainerRef::for_pod(&pod("web", "default"), "app", "fedcba9876543210");
    assert!(
        !symlinks
            .create(&missing, &env.dir.path().join("nope.log"))
            .unwrap()
    );
    assert!(std::fs::symlink_metadata(symlinks.path_for(&missing).unwrap()).is_err());

    assert!(symlinks.remove(&container).unwrap());
    assert!(std::fs::symlink_metadata(&link).is_err());
    assert!(!symlinks.remove(&container).unwrap(), "already gone");
    assert!(log.exists(), "removing the link leaves the log");
}

#[test]
fn cri_14_legacy_symlink_long_names_are_cut_to_255_bytes() {
    let id = "c".repeat(64);
    let pod_name = "p".repeat(253);
    let link = legacy_log_symlink(
        Path::new("/var/log/containers"),
        &pod_name,
        "ns",
        "app",
        &id,
    )
    .unwrap();
    let name = link.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name.len(), 255);
    assert!(name.ends_with(".log"));
    assert_eq!(name[..251], format!("{pod_name}_ns_app-{id}")[..251]);
}

#[tokio::test]
async fn cri_14_dangling_symlinks_of_gone_containers_are_removed() {
    let env = Env::new().await;
    let symlinks = LegacySymlinks::new(env.symlink_dir());
    let (running, running_log) = env.start("running").await;
    let (exited, exited_log) = env.start("exited").await;
    let (healthy, healthy_log) = env.start("healthy").await;
    env.fake.exit_container(&exited, 1, "");
    let link_of = |name: &str, id: &str| {
        let c = ContainerRef::for_pod(&pod("web", "default"), name, id);
        assert!(symlinks.create(&c, &env.log_path(name)).unwrap());
        symlinks.path_for(&c).unwrap()
    };
    let running_link = link_of("running", &running);
    let exited_link = link_of("exited", &exited);
    let healthy_link = link_of("healthy", &healthy);
    // A container the runtime no longer knows, and a link whose name has no id.
    let gone_log = env.dir.path().join("gone.log");
    append(&gone_log, b"");
    let gone = ContainerRef::for_pod(&pod("web", "default"), "gone", "0123456789abcdef");
    assert!(symlinks.create(&gone, &gone_log).unwrap());
    let gone_link = symlinks.path_for(&gone).unwrap();
    let odd_link = env.symlink_dir().join("web_default_odd.log");
    std::os::unix::fs::symlink(&gone_log, &odd_link).unwrap();
    // Not a .log: never looked at.
    let other = env.symlink_dir().join("notes.txt");
    std::os::unix::fs::symlink(&gone_log, &other).unwrap();

    // The targets go: the running container's mid-rotation, the others for good.
    for log in [&running_log, &exited_log, &gone_log] {
        std::fs::remove_file(log).unwrap();
    }
    let report = symlinks.remove_dangling(&env.fake).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut removed = report.removed.clone();
    removed.sort();
    let mut expected = vec![exited_link.clone(), gone_link.clone(), odd_link.clone()];
    expected.sort();
    assert_eq!(removed, expected);
    assert_eq!(report.kept, vec![running_link.clone()]);
    for link in &expected {
        assert!(
            std::fs::symlink_metadata(link).is_err(),
            "{}",
            link.display()
        );
    }
    for link in [&running_link, &healthy_link, &other] {
        assert!(
            std::fs::symlink_metadata(link).is_ok(),
            "{}",
            link.display()
        );
    }
    assert_eq!(std::fs::read_link(&healthy_link).unwrap(), healthy_log);

    // A missing directory has nothing to clean.
    let none = LegacySymlinks::new(env.dir.path().join("absent"));
    let report = none.remove_dangling(&env.fake).await.unwrap();
    assert!(report.removed.is_empty() && report.kept.is_empty());
}
