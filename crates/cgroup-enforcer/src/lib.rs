//! Kubernetes resource enforcement as a library: a pod's QoS class, the kubelet's resource
//! formulas, the `kubepods` cgroup hierarchy on cgroup v1 and v2, OOM score adjustment,
//! node allocatable and cgroup usage.
//!
//! # Design: pure numbers first, files last
//!
//! Everything the kubelet decides about resources is a function of the pod spec and a few
//! node facts: the QoS class ([`compute_pod_qos`]), CPU shares and quotas
//! ([`formulas`]), the pod cgroup's limits ([`resources::pod_resource_config`]), a
//! container's CRI resources ([`resources::container_resources`]), `oom_score_adj`
//! ([`oom`]) and the node allocatable ([`allocatable`]). Those are plain functions returning
//! plain structs, so they are tested as tables and reused by callers that never touch a
//! cgroup (pod-lifecycle maps [`ContainerResources`] to CRI, a scheduler extender could
//! compute allocatable).
//!
//! Only [`Cgroups`] and [`PodCgroupManager`] write files, and always below an explicit
//! root: `/sys/fs/cgroup` on a host, a temporary directory in tests and examples. Nothing
//! discovers mounts behind the caller's back; the mount table is read only to tell v1
//! from v2 ([`backend::detect_mode`]), from a path the caller passes. The back ends form a
//! closed enum (v1 per-controller directories, v2 unified with `cgroup.subtree_control`),
//! like youki's `AnyCgroupManager`, so both are exercised on trees shaped like cgroupfs
//! and the v1 one also on this project's real hosts.
//!
//! # Computing without the host, applying on a temporary root
//!
//! ```
//! use cgroup_enforcer::{
//!     CgroupConfig, Cgroups, PodCgroupManager, QosClass, ResourceOptions, compute_pod_qos,
//!     resources::pod_resource_config,
//! };
//! use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
//! use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
//!
//! let limits = [("cpu", "500m"), ("memory", "64Mi")]
//!     .map(|(k, v)| (k.to_string(), Quantity(v.into())))
//!     .into();
//! let mut pod = Pod {
//!     spec: Some(PodSpec {
//!         containers: vec![Container {
//!             name: "app".into(),
//!             resources: Some(ResourceRequirements { limits: Some(limits), ..Default::default() }),
//!             ..Default::default()
//!         }],
//!         ..Default::default()
//!     }),
//!     ..Default::default()
//! };
//! pod.metadata.uid = Some("5f0c-11".into());
//!
//! // Pure: the class and the pod cgroup's settings.
//! assert_eq!(compute_pod_qos(&pod), QosClass::Guaranteed);
//! let settings = pod_resource_config(&pod, &ResourceOptions::default())?;
//! assert_eq!(settings.cpu_shares, Some(512));
//! assert_eq!(settings.cpu_quota, Some(50_000));
//! assert_eq!(settings.memory_limit, Some(64 << 20));
//!
//! // Applied on a temporary root shaped like cgroup v1.
//! let root = tempfile::tempdir()?;
//! for controller in ["cpu", "cpuacct", "cpuset", "memory", "pids"] {
//!     std::fs::create_dir(root.path().join(controller))?;
//! }
//! let manager = PodCgroupManager::new(CgroupConfig::default(), Cgroups::v1(root.path()))?;
//! let parent = manager.ensure_pod(&pod)?;
//! assert_eq!(parent, "/kubepods/pod5f0c-11");
//! let quota = std::fs::read_to_string(root.path().join("cpu/kubepods/pod5f0c-11/cpu.cfs_quota_us"))?;
//! assert_eq!(quota, "50000");
//! manager.remove_pod(&pod)?;
//! assert!(!root.path().join("memory/kubepods/pod5f0c-11").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Pieces
//!
//! - [`quantity`]: Kubernetes quantities parsed exactly (`100m`, `1.5`, `128Mi`, `1e3`).
//! - [`qos`]: QoS class; [`oom`]: `oom_score_adj`; [`formulas`]: shares, quota, weights,
//!   `memory.high`; [`resources`]: pod and container settings.
//! - [`names`]: cgroup names for the cgroupfs and systemd drivers.
//! - [`backend`]: [`Cgroups`] (v1 / v2) and mode detection.
//! - [`manager`]: [`PodCgroupManager`], the pod, QoS and node-allocatable cgroups.
//! - [`allocatable`]: node capacity from `/proc`, reservations, eviction thresholds,
//!   allocatable; [`stats`]: cgroup usage and the `memory.available` signal.
#![deny(missing_docs)]

pub mod allocatable;
pub mod backend;
mod error;
pub mod formulas;
mod fs;
pub mod manager;
pub mod memcg;
pub mod names;
pub mod oom;
pub mod resources;
pub mod stats;

pub use backend::{CgroupMode, Cgroups};
pub use error::{Error, Result};
pub use manager::{CgroupConfig, PodCgroupManager};
pub use names::{CgroupDriver, CgroupName};
pub use pod_plan::qos::{self, QosClass, compute_pod_qos, pod_qos};
pub use pod_plan::quantity::{self, QuantityError, QuantityValue};
pub use resources::{ContainerResources, ResourceConfig, ResourceOptions};
pub use stats::CgroupStats;
