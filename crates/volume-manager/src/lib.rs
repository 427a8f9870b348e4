//! Kubernetes pod volumes as a library: emptyDir, hostPath, configMap, secret, downwardAPI
//! and projected volumes, set up where the kubelet puts them, written atomically, mounted
//! for real and torn down completely.
//!
//! # Why the kubelet's disk layout, and why real mounts
//!
//! A node agent's volumes are visible to everything else on the node: to the container
//! runtime that bind-mounts them, to operators who look under `/var/lib/kubelet/pods`, to
//! tools that parse `/proc/self/mountinfo`. So this crate keeps the kubelet's layout
//! exactly ([`layout`]) under an injectable root directory, and its mechanics exactly: the
//! `..data` symlink swap of the [`atomic_writer`], tmpfs for secrets, subPaths opened
//! component by component with `O_NOFOLLOW` and bind-mounted by file descriptor
//! ([`subpath`](VolumeManager::container_mounts)), a pod directory removed only when the
//! mount table shows nothing left below it.
//!
//! Because those paths are created and removed as root, every name that goes into one (a
//! pod's UID, a volume's or a container's name, a name read back from disk) must be exactly
//! one normal path component, or the [`layout`] builder refuses it
//! ([`Error::UnsafePathComponent`]); and every removal first checks that its path is inside
//! the directory it belongs to. A pod UID such as `../../etc` names no directory at all.
//!
//! The same choice makes restarts safe. The state that matters lives on disk and in the
//! kernel's mount table, not in the agent's memory: [`VolumeManager::reconstruct`] reads
//! both back, so an agent that was killed neither mounts a volume twice nor loses one a
//! running pod uses.
//!
//! The pieces:
//!
//! - [`plugins`]: the [`VolumePlugin`](plugins::VolumePlugin) trait and one plugin per
//!   volume source;
//! - [`objects`]: where configMaps and secrets come from ([`objects::ObjectSource`]): in
//!   memory, or ConfigMap and Secret documents in a directory beside static pod manifests;
//! - [`tokens`]: where `serviceAccountToken` projections get their tokens
//!   ([`tokens::TokenSource`], given with [`VolumeManagerConfig::with_tokens`]): the API
//!   server's TokenRequest in cluster mode, none ([`tokens::NoTokens`]) by default;
//! - [`VolumeManager`]: the desired and actual state of the node's pod volumes —
//!   `mount_pod`, `resync_pod`, `container_mounts`, `unmount_pod`, `reconstruct`;
//! - [`mounts`]: the container mount type ([`ContainerMount`]) that a runtime adapter maps
//!   to the CRI `Mount`; this crate does not depend on any CRI crate.
//!
//! # Using it alone
//!
//! An emptyDir and a configMap volume set up under a temporary root, and the mounts a
//! container gets (this example mounts nothing: neither volume needs a mount; a secret or a
//! `medium: Memory` emptyDir would mount a tmpfs, which needs root):
//!
//! ```
//! use std::sync::Arc;
//! use k8s_openapi::api::core::v1::{
//!     ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, Pod, PodSpec, Volume,
//!     VolumeMount,
//! };
//! use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
//! use volume_manager::objects::InMemoryObjects;
//! use volume_manager::{ContainerContext, VolumeManager, VolumeManagerConfig};
//!
//! let root = tempfile::tempdir()?;
//! let objects = InMemoryObjects::new();
//! objects.set_config_map(ConfigMap {
//!     metadata: ObjectMeta { name: Some("web-config".into()), ..Default::default() },
//!     data: Some([("index.html".to_owned(), "hello".to_owned())].into()),
//!     ..Default::default()
//! });
//! let manager = VolumeManager::new(VolumeManagerConfig::new(root.path()), Arc::new(objects))?;
//!
//! let mount = |name: &str, path: &str| VolumeMount {
//!     name: name.into(),
//!     mount_path: path.into(),
//!     ..Default::default()
//! };
//! let pod = Pod {
//!     metadata: ObjectMeta {
//!         name: Some("web".into()),
//!         namespace: Some("default".into()),
//!         uid: Some("uid-1".into()),
//!         ..Default::default()
//!     },
//!     spec: Some(PodSpec {
//!         volumes: Some(vec![
//!             Volume { name: "cache".into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() },
//!             Volume {
//!                 name: "config".into(),
//!                 config_map: Some(ConfigMapVolumeSource { name: "web-config".into(), ..Default::default() }),
//!                 ..Default::default()
//!             },
//!         ]),
//!         containers: vec![Container {
//!             name: "app".into(),
//!             volume_mounts: Some(vec![mount("cache", "/cache"), mount("config", "/etc/web")]),
//!             ..Default::default()
//!         }],
//!         ..Default::default()
//!     }),
//!     ..Default::default()
//! };
//!
//! manager.mount_pod(&pod)?;
//! let pod_dir = manager.root().pod("uid-1")?;
//! let config_dir = pod_dir.volume_dir("kubernetes.io/configmap", "config")?;
//! assert_eq!(std::fs::read_to_string(config_dir.join("index.html"))?, "hello");
//! assert_eq!(std::fs::read_link(config_dir.join("index.html"))?, std::path::Path::new("..data/index.html"));
//!
//! let ips = vec!["10.88.0.5".to_owned()];
//! let ctx = ContainerContext { pod_ips: &ips, hostname: "web", ..Default::default() };
//! let container = &pod.spec.as_ref().unwrap().containers[0];
//! let mounts = manager.container_mounts(&pod, container, &ctx)?;
//! let paths: Vec<_> = mounts.iter().map(|m| (m.container_path.as_str(), m.read_only)).collect();
//! assert_eq!(paths, [
//!     ("/cache", false),
//!     ("/etc/web", true),           // configMap volumes are always read-only
//!     ("/etc/hosts", false),        // pods/<uid>/etc-hosts
//! ]);
//! assert_eq!(mounts[0].host_path, pod_dir.volume_dir("kubernetes.io/empty-dir", "cache")?);
//!
//! manager.unmount_pod("uid-1")?;
//! assert!(!pod_dir.dir().exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod atomic_writer;
mod error;
pub mod hosts;
pub mod layout;
mod manager;
mod mounter;
pub mod mounts;
pub mod objects;
pub mod plugins;
mod quantity;
mod subpath;
pub mod tokens;

pub use error::{Error, Result};
pub use manager::{
    MOUNT_RETRY_PERIOD, MOUNT_TIMEOUT, MountedVolume, VolumeManager, VolumeManagerConfig,
    failed_mount_event_message, failed_mount_message,
};
pub use mounter::kernel_supports_tmpfs_noswap;
/// The mount table (`/proc/self/mountinfo`), parsed by the workspace's one parser: the
/// `mountinfo` crate, re-exported.
pub use mountinfo;
pub use mounts::{ContainerContext, ContainerMount, MountPropagation};
