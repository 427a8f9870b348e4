//! The kubelet's pod and QoS cgroup managers in one type: [`PodCgroupManager`]
//! (`pod_container_manager_linux.go`, `qos_container_manager_linux.go`,
//! `node_container_manager_linux.go`).
//!
//! ```text
//! <cgroupRoot>/kubepods                      node allocatable (setup_node)
//! <cgroupRoot>/kubepods/pod<uid>             Guaranteed pods
//! <cgroupRoot>/kubepods/burstable            shares = Σ burstable cpu requests
//! <cgroupRoot>/kubepods/burstable/pod<uid>
//! <cgroupRoot>/kubepods/besteffort           shares = 2
//! <cgroupRoot>/kubepods/besteffort/pod<uid>
//! <cgroupRoot>/kubepods/…/pod<uid>/<id>      container cgroups, made by the runtime
//! ```
//!
//! Every call is blocking file I/O (and [`PodCgroupManager::remove_pod`] may wait for
//! killed processes to exit): an async caller runs it on a blocking thread.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Pod;

use crate::allocatable::{NodeResources, Reservations, kubepods_resource_config};
use crate::backend::Cgroups;
use crate::error::{Error, Result};
use crate::formulas::{MIN_SHARES, milli_cpu_to_shares};
use crate::names::{
    CgroupDriver, CgroupName, KUBEPODS, pod_cgroup_name, pod_uid_from_cgroup, qos_cgroup_name,
};
use crate::qos::{QosClass, pod_qos};
use crate::resources::{
    MEMORY_MIN, ResourceConfig, ResourceOptions, pod_full_name, pod_resource_config, pod_resources,
};
use crate::stats::CgroupStats;

/// The kubelet settings that shape the cgroup hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct CgroupConfig {
    /// `cgroupDriver` (default cgroupfs).
    pub driver: CgroupDriver,
    /// `cgroupRoot` (default `/`), spelled for the driver.
    pub cgroup_root: String,
    /// `cgroupsPerQOS` (default true). Without it no pod or QoS cgroup is made and every
    /// sandbox's parent is the cgroup root.
    pub cgroups_per_qos: bool,
    /// `enforceNodeAllocatable` contains `pods` (default true): `kubepods` gets the node
    /// allocatable as limits.
    pub enforce_node_allocatable: bool,
    /// The resource switches (`cpuCFSQuota`, `podPidsLimit`, MemoryQoS, ...).
    pub resources: ResourceOptions,
}

impl Default for CgroupConfig {
    fn default() -> Self {
        CgroupConfig {
            driver: CgroupDriver::Cgroupfs,
            cgroup_root: "/".to_owned(),
            cgroups_per_qos: true,
            enforce_node_allocatable: true,
            resources: ResourceOptions::default(),
        }
    }
}

/// What the QoS cgroups need to know about a pod whose cgroup exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PodEntry {
    qos: QosClass,
    cpu_request_milli: i64,
    memory_request: i64,
}

/// Creates, sizes and removes the `kubepods` hierarchy for one node.
///
/// Pods are registered by [`ensure_pod`](Self::ensure_pod) and forgotten by
/// [`remove_pod`](Self::remove_pod); both update the QoS cgroups (the kubelet's
/// `UpdateCgroups`). After an agent restart, calling `ensure_pod` for every pod it adopts
/// rebuilds that state, and [`pod_uids`](Self::pod_uids) lists what is on disk so orphans
/// can be removed.
#[derive(Debug)]
pub struct PodCgroupManager {
    config: CgroupConfig,
    cgroups: Cgroups,
    root: CgroupName,
    pods: Mutex<BTreeMap<String, PodEntry>>,
    /// Held across one QoS update, from reading the pods to the last write, so updates for
    /// pods set up at the same time never interleave: the last one to write has read every
    /// pod the others added (without it a stale sum could land last).
    qos_update: Mutex<()>,
}

impl PodCgroupManager {
    /// A manager writing through `cgroups`. Touches nothing yet; errors when the cgroup
    /// root does not parse.
    pub fn new(config: CgroupConfig, cgroups: Cgroups) -> Result<Self> {
        let root = CgroupName::parse(config.driver, &config.cgroup_root)?;
        let mut config = config;
        config.resources.cgroup_v2 = cgroups.is_v2();
        Ok(PodCgroupManager {
            config,
            cgroups,
            root,
            pods: Mutex::new(BTreeMap::new()),
            qos_update: Mutex::new(()),
        })
    }

    /// The configuration (with `resources.cgroup_v2` set from the back end).
    pub fn config(&self) -> &CgroupConfig {
        &self.config
    }

    /// The back end.
    pub fn cgroups(&self) -> &Cgroups {
        &self.cgroups
    }

    /// The cgroup root as a name.
    pub fn root(&self) -> &CgroupName {
        &self.root
    }

    /// The directory of `name`, relative to each hierarchy's mount point.
    pub fn relative_path(&self, name: &CgroupName) -> PathBuf {
        name.relative_path(self.config.driver)
    }

    /// Creates `kubepods` (sized from the node's capacity minus kubeReserved and
    /// systemReserved when `enforce_node_allocatable`) and the `burstable` and `besteffort`
    /// QoS cgroups (the kubelet's `createNodeAllocatableCgroups` and
    /// `qosContainerManager.Start`). Safe to call again: it re-applies the limits.
    pub fn setup_node(&self, capacity: &NodeResources, reservations: &Reservations) -> Result<()> {
        if !self.config.cgroups_per_qos {
            return Ok(());
        }
        let _span = tracing::info_span!("setup_node", root = %self.root).entered();
        let kubepods = self.root.child(KUBEPODS)?;
        let config = if self.config.enforce_node_allocatable {
            kubepods_resource_config(capacity, reservations)?
        } else {
            ResourceConfig::default()
        };
        self.cgroups
            .create(&self.relative_path(&kubepods), &config)?;
        self.update_qos_cgroups()
    }

    /// The cgroup of `pod` (`GetPodContainerName`); errors without a UID.
    pub fn pod_cgroup(&self, pod: &Pod) -> Result<CgroupName> {
        pod_cgroup_name(&self.root, pod_qos(pod), pod_uid(pod)?)
    }

    /// The `cgroup_parent` for the pod's CRI sandbox config, without touching the host:
    /// the driver's spelling of the pod cgroup (`/kubepods/burstable/pod<uid>`, or the
    /// expanded `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice`
    /// with systemd, whose last element containerd uses); the cgroup root when
    /// `cgroupsPerQOS` is off.
    pub fn cgroup_parent(&self, pod: &Pod) -> Result<String> {
        if !self.config.cgroups_per_qos {
            return Ok(self.root.to_driver(self.config.driver));
        }
        Ok(self.pod_cgroup(pod)?.to_driver(self.config.driver))
    }

    /// `EnsureExists` + `UpdateQOSCgroups`: creates the pod cgroup with its limits
    /// ([`pod_resource_config`]) before the sandbox starts, updates the QoS cgroups, and
    /// returns the `cgroup_parent` for the sandbox ([`cgroup_parent`](Self::cgroup_parent)).
    /// An existing pod cgroup keeps its limits, as in the kubelet (resizes are separate).
    pub fn ensure_pod(&self, pod: &Pod) -> Result<String> {
        let uid = pod_uid(pod)?;
        let _span =
            tracing::info_span!("ensure_pod_cgroup", pod = %pod_full_name(pod), uid).entered();
        let parent = self.cgroup_parent(pod)?;
        if !self.config.cgroups_per_qos {
            return Ok(parent);
        }
        let name = self.pod_cgroup(pod)?;
        let rel = self.relative_path(&name);
        let totals = pod_resources(pod)?;
        let created = !self.cgroups.exists(&rel);
        if created {
            let config = pod_resource_config(pod, &self.config.resources)?;
            tracing::debug!(cgroup = %name, ?config, "creating pod cgroup");
            self.cgroups.create(&rel, &config)?;
        }
        let entry = PodEntry {
            qos: pod_qos(pod),
            cpu_request_milli: totals.cpu_request_milli,
            memory_request: totals.memory_request,
        };
        let previous = self.lock().insert(uid.to_owned(), entry);
        // The QoS cgroups change only when a pod comes or its requests change (the
        // kubelet updates them when it creates a pod cgroup), not on every sync.
        if created || previous != Some(entry) {
            self.update_qos_cgroups()?;
        }
        Ok(parent)
    }

    /// Whether the pod's cgroup exists. The kubelet kills and recreates a running pod whose
    /// cgroup disappeared (not on its first sync).
    pub fn pod_cgroup_exists(&self, pod: &Pod) -> Result<bool> {
        if !self.config.cgroups_per_qos {
            return Ok(true);
        }
        Ok(self
            .cgroups
            .exists(&self.relative_path(&self.pod_cgroup(pod)?)))
    }

    /// `Destroy` for a pod that is gone: kills processes left in its cgroup, removes it
    /// depth first in every hierarchy (container cgroups the runtime left included),
    /// forgets the pod and updates the QoS cgroups. A missing cgroup is not an error.
    pub fn remove_pod(&self, pod: &Pod) -> Result<()> {
        let uid = pod_uid(pod)?;
        let _span =
            tracing::info_span!("remove_pod_cgroup", pod = %pod_full_name(pod), uid).entered();
        self.remove_pod_uid(uid)
    }

    /// [`remove_pod`](Self::remove_pod) by UID alone (for orphans found after a restart):
    /// looks for `pod<uid>` under each QoS cgroup.
    pub fn remove_pod_uid(&self, uid: &str) -> Result<()> {
        if !self.config.cgroups_per_qos {
            return Ok(());
        }
        for qos in [
            QosClass::Guaranteed,
            QosClass::Burstable,
            QosClass::BestEffort,
        ] {
            let name = pod_cgroup_name(&self.root, qos, uid)?;
            let rel = self.relative_path(&name);
            tracing::debug!(cgroup = %name, "removing pod cgroup");
            self.cgroups.remove(&rel)?;
        }
        self.lock().remove(uid);
        self.update_qos_cgroups()
    }

    /// UIDs of the pod cgroups on disk under every QoS cgroup (`GetAllPodsFromCgroups`).
    pub fn pod_uids(&self) -> Result<BTreeSet<String>> {
        let mut uids = BTreeSet::new();
        if !self.config.cgroups_per_qos {
            return Ok(uids);
        }
        for qos in [
            QosClass::Guaranteed,
            QosClass::Burstable,
            QosClass::BestEffort,
        ] {
            let parent = self.relative_path(&qos_cgroup_name(&self.root, qos));
            for child in self.cgroups.children(&parent)? {
                if let Some(uid) = pod_uid_from_cgroup(&child) {
                    uids.insert(uid);
                }
            }
        }
        Ok(uids)
    }

    /// `UpdateCgroups` of the QoS container manager: `burstable` gets
    /// `cpu.shares = MilliCPUToShares(Σ cpu requests of Burstable pods)`, `besteffort` gets
    /// 2; with MemoryQoS on cgroup v2, `burstable` `memory.min` = Σ burstable memory
    /// requests and `kubepods` `memory.min` = Σ Guaranteed and Burstable memory requests.
    /// Creates the QoS cgroups when missing.
    pub fn update_qos_cgroups(&self) -> Result<()> {
        if !self.config.cgroups_per_qos {
            return Ok(());
        }
        let _update = self.qos_update.lock().unwrap_or_else(|e| e.into_inner());
        let pods: Vec<PodEntry> = self.lock().values().copied().collect();
        let sum = |class: &[QosClass], f: fn(&PodEntry) -> i64| -> i64 {
            pods.iter()
                .filter(|p| class.contains(&p.qos))
                .map(f)
                .fold(0i64, i64::saturating_add)
        };
        let burstable_cpu = sum(&[QosClass::Burstable], |p| p.cpu_request_milli);
        let memory_qos = self.config.resources.memory_qos && self.cgroups.is_v2();

        let mut burstable = ResourceConfig {
            cpu_shares: Some(milli_cpu_to_shares(burstable_cpu)),
            ..Default::default()
        };
        let besteffort = ResourceConfig {
            cpu_shares: Some(MIN_SHARES),
            ..Default::default()
        };
        if memory_qos {
            let burstable_mem = sum(&[QosClass::Burstable], |p| p.memory_request);
            burstable
                .unified
                .insert(MEMORY_MIN.to_owned(), burstable_mem.to_string());
        }
        for (qos, config) in [
            (QosClass::Burstable, &burstable),
            (QosClass::BestEffort, &besteffort),
        ] {
            let rel = self.relative_path(&qos_cgroup_name(&self.root, qos));
            if self.cgroups.exists(&rel) {
                self.cgroups.update(&rel, config)?;
            } else {
                self.cgroups.create(&rel, config)?;
            }
        }
        if memory_qos {
            let reserved = sum(&[QosClass::Guaranteed, QosClass::Burstable], |p| {
                p.memory_request
            });
            let kubepods = ResourceConfig {
                unified: BTreeMap::from([(MEMORY_MIN.to_owned(), reserved.to_string())]),
                ..Default::default()
            };
            let rel = self.relative_path(&qos_cgroup_name(&self.root, QosClass::Guaranteed));
            self.cgroups.update(&rel, &kubepods)?;
        }
        Ok(())
    }

    /// Usage of the pod's cgroup.
    pub fn pod_stats(&self, pod: &Pod) -> Result<CgroupStats> {
        self.cgroups
            .stats(&self.relative_path(&self.pod_cgroup(pod)?))
    }

    /// Usage of one container's cgroup: `<pod cgroup>/<container id>` as runc names it with
    /// the cgroupfs driver, `cri-containerd-<id>.scope` inside the pod slice with systemd.
    pub fn container_stats(&self, pod: &Pod, container_id: &str) -> Result<CgroupStats> {
        if container_id.is_empty() || container_id.contains('/') || container_id.contains("..") {
            return Err(Error::InvalidPod {
                pod: pod_full_name(pod),
                field: "containerID".into(),
                message: format!("{container_id:?} is not a container ID"),
            });
        }
        let pod_dir = self.relative_path(&self.pod_cgroup(pod)?);
        let leaf = match self.config.driver {
            CgroupDriver::Cgroupfs => container_id.to_owned(),
            CgroupDriver::Systemd => format!("cri-containerd-{container_id}.scope"),
        };
        self.cgroups.stats(&pod_dir.join(leaf))
    }

    /// Usage of `kubepods` (for `allocatableMemory.available`).
    pub fn kubepods_stats(&self) -> Result<CgroupStats> {
        self.cgroups
            .stats(&self.relative_path(&qos_cgroup_name(&self.root, QosClass::Guaranteed)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PodEntry>> {
        // The map holds plain values; a panic elsewhere cannot leave it half-updated.
        self.pods.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn pod_uid(pod: &Pod) -> Result<&str> {
    match pod.metadata.uid.as_deref() {
        Some(uid) if !uid.is_empty() => Ok(uid),
        _ => Err(Error::InvalidPod {
            pod: pod_full_name(pod),
            field: "metadata.uid".into(),
            message: "must be set".into(),
        }),
    }
}
