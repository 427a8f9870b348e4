//! The crates composed differently from the `nodelet` agent: no cgroups (`NoCgroups`), the
//! volume manager with a volume plugin of our own, and the node's housekeeping, all on the
//! in-memory `FakeRuntime`.
//!
//! The plugin serves a made-up volume type, an inline CSI volume of driver
//! `motd.example.com` whose `message` attribute becomes a file `motd`, written with the
//! kubelet's atomic writer. The example runs a pod that mounts it, shows the file and the
//! container's CRI mounts, lets housekeeping remove the volumes of a pod deleted "while the
//! agent was down", then deletes the pod and exits.
//!
//! ```sh
//! cargo run --example alternative_kubelet
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cri_client::RuntimeService;
use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
use k8s_openapi::api::core::v1::{Pod, Volume};
use pod_lifecycle::housekeeping::Housekeeping;
use pod_lifecycle::pod_manager::{PodManager, PodManagerConfig};
use pod_lifecycle::worker::{
    MemoryStatusSink, NoCgroups, PodHost, PodWorkers, SystemClock, WorkerConfig,
};
use volume_manager::atomic_writer::{AtomicWriter, FileProjection};
use volume_manager::objects::InMemoryObjects;
use volume_manager::plugins::{
    EmptyDirPlugin, SetUpResult, VolumeAttributes, VolumeContext, VolumePlugin,
};
use volume_manager::{VolumeManager, VolumeManagerConfig};

const DRIVER: &str = "motd.example.com";

/// Our volume type: no CSI driver runs, the plugin itself turns the volume into files.
#[derive(Debug)]
struct MotdPlugin;

impl VolumePlugin for MotdPlugin {
    fn name(&self) -> &'static str {
        "example.com/motd" // on disk: volumes/example.com~motd/<volume>
    }
    fn can_support(&self, volume: &Volume) -> bool {
        volume.csi.as_ref().is_some_and(|csi| csi.driver == DRIVER)
    }
    fn attributes(&self, _: &Volume) -> VolumeAttributes {
        VolumeAttributes {
            read_only: true,
            managed: true,
            selinux_relabel: false,
        }
    }
    fn set_up(&self, ctx: &VolumeContext<'_>) -> volume_manager::Result<SetUpResult> {
        let csi = ctx.volume.csi.as_ref();
        let message = csi
            .and_then(|csi| csi.volume_attributes.as_ref()?.get("message"))
            .ok_or_else(|| ctx.fail(".csi.volumeAttributes", "a message is required"))?;
        let dir = ctx.volume_dir(self.name())?;
        std::fs::create_dir_all(&dir).map_err(|e| ctx.io("create", &dir, e))?;
        let file = FileProjection::new(format!("{message}\n"), 0o644);
        AtomicWriter::new(&dir, ctx.pod_name).write(&BTreeMap::from([("motd".into(), file)]))?;
        Ok(SetUpResult {
            tmpfs: false,
            size_limit: None,
        })
    }
}

/// The pod, as a manifest would give it.
fn motd_pod() -> Result<Pod, serde_json::Error> {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "motd", "namespace": "default", "uid": "alt-kubelet-0001"},
        "spec": {
            "volumes": [{"name": "motd", "csi": {
                "driver": DRIVER, "volumeAttributes": {"message": "welcome to an alternative kubelet"},
            }}],
            "containers": [{
                "name": "app", "image": BUSYBOX_IMAGE,
                "command": ["sh", "-c", r#"trap "exit 0" TERM; while true; do sleep 1; done"#],
                "volumeMounts": [{"name": "motd", "mountPath": "/etc/motd.d"}],
            }],
        },
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = tempfile::tempdir()?;
    // What a pod deleted while the agent was down leaves behind.
    let orphan = root
        .path()
        .join("pods/orphan-0002/volumes/example.com~motd/motd");
    std::fs::create_dir_all(&orphan)?;
    std::fs::write(orphan.join("motd"), "stale\n")?;

    let plugins: Vec<Arc<dyn VolumePlugin>> = vec![Arc::new(MotdPlugin), Arc::new(EmptyDirPlugin)];
    let settings = VolumeManagerConfig::new(root.path());
    let objects = Arc::new(InMemoryObjects::new());
    let volumes = Arc::new(VolumeManager::with_plugins(settings, objects, plugins)?);
    let fake = FakeRuntime::with_busybox();
    let statuses = MemoryStatusSink::new();
    let host = PodHost {
        volumes: volumes.clone(),
        cgroups: Arc::new(NoCgroups),
        status: Arc::new(statuses.clone()),
        ..PodHost::new(Arc::new(fake.clone()), Arc::new(fake.clone()))
    };
    let config = WorkerConfig {
        root_dir: Some(root.path().to_path_buf()),
        pod_logs_dir: root.path().join("logs"),
        runtime_name: "fake".into(),
        ..WorkerConfig::default()
    };
    let workers = Arc::new(PodWorkers::new(host, config));
    let manager = Arc::new(PodManager::new(
        workers.clone(),
        Arc::new(fake.clone()),
        Arc::new(statuses.clone()),
        Arc::new(SystemClock),
        PodManagerConfig {
            sources: vec!["mine".into()],
            ..PodManagerConfig::default()
        },
    ));
    let housekeeping = Housekeeping::new(manager.clone(), volumes.clone(), Arc::new(NoCgroups));

    let pod = motd_pod()?;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    manager.set_source_pods("mine", vec![pod]);
    let phase = || statuses.get(&uid).and_then(|s| s.phase).unwrap_or_default();
    tokio::time::timeout(Duration::from_secs(5), async {
        while phase() != "Running" {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await?;
    println!("pod motd: {}", phase());

    let motd = volumes
        .root()
        .pod(&uid)?
        .volume_dir("example.com/motd", "motd")?
        .join("motd");
    println!("{}: {:?}", motd.display(), std::fs::read_to_string(&motd)?);
    let listed = fake.list_containers(Default::default()).await?.containers;
    let created = listed.first().and_then(|c| fake.container_config(&c.id));
    for m in created.map(|c| c.mounts).unwrap_or_default() {
        println!(
            "  container mount {} <- {} (read-only: {})",
            m.container_path, m.host_path, m.readonly
        );
    }

    // One pass, as an agent runs every 2 s (`Housekeeping::run`).
    let pass = housekeeping.run_once().await;
    println!(
        "housekeeping removed the volumes of {:?}",
        pass.volumes_removed
    );

    manager.set_source_pods("mine", Vec::new());
    workers.wait_terminated(&uid).await;
    let last = phase();
    housekeeping.run_once().await; // forgets the terminated pod
    let left = std::fs::read_dir(root.path().join("pods"))?.count();
    println!("pod motd deleted: {last}; pod directories left: {left}");
    workers.stop().await;
    Ok(())
}
