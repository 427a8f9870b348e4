//! Test support: a temporary root directory with a volume manager over it, and a guard that
//! unmounts everything below the root when the test ends, passed or failed.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use volume_manager::mountinfo::{self, MountInfo};
use volume_manager::objects::{InMemoryObjects, ObjectSource};
use volume_manager::tokens::TokenSource;
use volume_manager::{VolumeManager, VolumeManagerConfig};

/// A temporary root; dropping it unmounts whatever is still mounted below it, then removes
/// it.
pub struct TestRoot {
    pub manager: VolumeManager,
    pub objects: InMemoryObjects,
    pub path: PathBuf,
    // Dropped after `Drop::drop` has unmounted everything.
    _dir: tempfile::TempDir,
}

impl TestRoot {
    pub fn new() -> Self {
        let objects = InMemoryObjects::new();
        Self::with_objects(objects.clone(), Arc::new(objects))
    }

    pub fn with_objects(objects: InMemoryObjects, source: Arc<dyn ObjectSource>) -> Self {
        Self::build(objects, source, None)
    }

    /// In-memory objects and service account tokens from `tokens`.
    pub fn with_tokens(tokens: Arc<dyn TokenSource>) -> Self {
        let objects = InMemoryObjects::new();
        Self::build(objects.clone(), Arc::new(objects), Some(tokens))
    }

    /// In-memory objects, tokens from `tokens`, and the manager's config changed by
    /// `configure` after the harness's own settings.
    pub fn configured(
        tokens: Option<Arc<dyn TokenSource>>,
        configure: impl FnOnce(&mut VolumeManagerConfig),
    ) -> Self {
        let objects = InMemoryObjects::new();
        Self::build_with(objects.clone(), Arc::new(objects), tokens, configure)
    }

    fn build(
        objects: InMemoryObjects,
        source: Arc<dyn ObjectSource>,
        tokens: Option<Arc<dyn TokenSource>>,
    ) -> Self {
        Self::build_with(objects, source, tokens, |_| {})
    }

    fn build_with(
        objects: InMemoryObjects,
        source: Arc<dyn ObjectSource>,
        tokens: Option<Arc<dyn TokenSource>>,
        configure: impl FnOnce(&mut VolumeManagerConfig),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = std::fs::canonicalize(dir.path()).unwrap();
        let mut config = VolumeManagerConfig::new(path.join("kubelet"));
        config.node_allocatable.memory_bytes = Some(1 << 30);
        if let Some(tokens) = tokens {
            config = config.with_tokens(tokens);
        }
        configure(&mut config);
        let manager = VolumeManager::new(config, source).expect("volume manager");
        TestRoot {
            manager,
            objects,
            path,
            _dir: dir,
        }
    }

    /// The same root seen by a new manager, as after an agent restart.
    pub fn restarted_manager(&self, source: Arc<dyn ObjectSource>) -> VolumeManager {
        let mut config = VolumeManagerConfig::new(self.path.join("kubelet"));
        config.node_allocatable.memory_bytes = Some(1 << 30);
        VolumeManager::new(config, source).expect("volume manager")
    }

    /// Every mount below the root, from the kernel's table.
    pub fn mounts(&self) -> Vec<MountInfo> {
        mounts_under(&self.path)
    }
}

/// The mounts at or below `dir` in this process's mount table, deepest (and latest) first.
pub fn mounts_under(dir: &Path) -> Vec<MountInfo> {
    let table = mountinfo::read(Path::new(mountinfo::PROC_SELF_MOUNTINFO)).unwrap();
    mountinfo::mounts_under(&table, dir)
        .into_iter()
        .cloned()
        .collect()
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        for _ in 0..4 {
            let left = mounts_under(&self.path);
            if left.is_empty() {
                break;
            }
            for m in &left {
                let _ = rustix::mount::unmount(&m.mount_point, rustix::mount::UnmountFlags::DETACH);
            }
        }
        let left = mounts_under(&self.path);
        if !left.is_empty() && !std::thread::panicking() {
            panic!("mounts left behind: {left:?}");
        }
    }
}

/// Whether this process may mount (root with CAP_SYS_ADMIN). When it may not, a test
/// fails under `CI=true` and otherwise returns early with a note.
pub fn can_mount(test: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let ok = rustix::mount::mount(
        "tmpfs",
        dir.path(),
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .is_ok();
    if ok {
        rustix::mount::unmount(dir.path(), rustix::mount::UnmountFlags::DETACH).unwrap();
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: this test needs to mount (root with CAP_SYS_ADMIN), and CI=true");
    }
    eprintln!("note: {test} skipped: it needs to mount (root with CAP_SYS_ADMIN)");
    false
}

pub fn meta(name: &str, uid: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("default".into()),
        uid: Some(uid.into()),
        ..Default::default()
    }
}

pub fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        ..Default::default()
    }
}

/// A pod with these volumes and one container `app` with these mounts.
pub fn pod(uid: &str, volumes: Vec<Volume>, mounts: Vec<VolumeMount>) -> Pod {
    Pod {
        metadata: meta("web", uid),
        spec: Some(PodSpec {
            volumes: Some(volumes),
            containers: vec![Container {
                name: "app".into(),
                volume_mounts: Some(mounts),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn app(pod: &Pod) -> &Container {
    &pod.spec.as_ref().unwrap().containers[0]
}

pub fn config_map(name: &str, data: &[(&str, &str)]) -> k8s_openapi::api::core::v1::ConfigMap {
    k8s_openapi::api::core::v1::ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}
