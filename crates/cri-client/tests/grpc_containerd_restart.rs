//! A live `GrpcRuntime` survives a containerd restart: the test runs its own private
//! containerd (own root, state and socket under the cargo target dir), kills it, starts it
//! again, and checks that the same client object works again.
//!
//! Needs the `containerd` binary (installed by `cargo xtask setup`). With `CI=true` a missing
//! binary fails the test; elsewhere the test says how to get it and returns.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cri_client::{Error, GrpcRuntime, RuntimeService, v1};

/// A containerd process of this test; killed when dropped.
struct Containerd {
    child: Child,
}

impl Containerd {
    fn start(config: &Path, log: &Path) -> Containerd {
        use std::os::unix::process::CommandExt;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn containerd");
        Containerd { child }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn containerd_available() -> bool {
    Command::new("containerd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn write_config(dir: &Path) -> PathBuf {
    let config = dir.join("config.toml");
    let d = dir.display();
    std::fs::create_dir_all(dir.join("cni")).unwrap();
    std::fs::write(
        &config,
        format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"

[grpc]
  address = "{d}/c.sock"

[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = "{d}/cni"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"#
        ),
    )
    .unwrap();
    config
}

async fn wait_until_answering(endpoint: &str, what: &str) {
    let probe = GrpcRuntime::new(endpoint).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match probe.version(v1::VersionRequest::default()).await {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: containerd never answered: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test]
async fn grpc_runtime_survives_containerd_restart() {
    if !containerd_available() {
        test_env::skip::<()>("containerd is not installed");
        return;
    }
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ctrd-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = write_config(&dir);
    let log = dir.join("containerd.log");
    let endpoint = format!("unix://{}/c.sock", dir.display());

    let mut containerd = Containerd::start(&config, &log);
    wait_until_answering(&endpoint, "first start").await;

    let rt = GrpcRuntime::new(&endpoint).unwrap();
    let before = rt.version(v1::VersionRequest::default()).await.unwrap();
    assert_eq!(before.runtime_name, "containerd");
    rt.list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap();

    containerd.kill();
    let err = rt.version(v1::VersionRequest::default()).await.unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { .. }),
        "with containerd down: {err:?}"
    );
    assert!(
        err.to_string().contains("c.sock"),
        "the error names the socket: {err}"
    );

    let _containerd = Containerd::start(&config, &log);
    wait_until_answering(&endpoint, "restart").await;
    // The client built before the restart works on its first call.
    let after = rt
        .version(v1::VersionRequest::default())
        .await
        .expect("the same GrpcRuntime reaches the restarted containerd");
    assert_eq!(after.runtime_name, "containerd");
    rt.list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap();

    drop(_containerd);
    let _ = std::fs::remove_dir_all(&dir);
}
