//! The two cgroup back ends behind one enum ([`Cgroups`]), and which one a host runs
//! ([`detect_mode`]).
//!
//! Both write through an explicit root path (`/sys/fs/cgroup` on a host, a temporary
//! directory in tests): nothing here discovers mounts on its own. The mount table is only
//! read to tell v1 from v2, from a path the caller gives.

mod v1;
mod v2;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use v1::{V1_CONTROLLERS, V1Hierarchy};
pub use v2::{V2_CONTROLLERS, V2Hierarchy};

use crate::error::{Error, Result};
use crate::formulas::CpuWeightConversion;
use crate::fs;
use crate::resources::ResourceConfig;
use crate::stats::CgroupStats;

/// Where a host mounts its cgroup hierarchies.
pub const DEFAULT_CGROUP_MOUNT: &str = "/sys/fs/cgroup";
/// The mount table of the calling process.
pub const DEFAULT_MOUNTINFO: &str = mountinfo::PROC_SELF_MOUNTINFO;

/// How a host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 hierarchies for the controllers, plus a cgroup2 mount at `<mount>/unified`
    /// (usually without controllers): managed as v1.
    Hybrid,
    /// A single cgroup2 mount at the mount point.
    Unified,
}

/// Reads `mountinfo` (the format of `/proc/self/mountinfo`) and tells how cgroups are
/// mounted at `mount_point`: cgroup2 mounted there → [`CgroupMode::Unified`]; v1
/// hierarchies below it → [`CgroupMode::Hybrid`] when a cgroup2 sits at
/// `<mount_point>/unified`, [`CgroupMode::Legacy`] otherwise.
pub fn detect_mode(mountinfo: &Path, mount_point: &Path) -> Result<CgroupMode> {
    let mounts =
        mountinfo::read(mountinfo).map_err(|e| Error::io("reading", mountinfo, None, e))?;
    let mut v1 = false;
    let mut unified_below = false;
    for mount in &mounts {
        let point = mount.mount_point.as_path();
        match mount.fs_type.as_str() {
            "cgroup2" if point == mount_point => return Ok(CgroupMode::Unified),
            "cgroup2" if point == mount_point.join("unified") => unified_below = true,
            "cgroup" if point.parent() == Some(mount_point) => v1 = true,
            _ => {}
        }
    }
    match (v1, unified_below) {
        (true, true) => Ok(CgroupMode::Hybrid),
        (true, false) => Ok(CgroupMode::Legacy),
        _ => Err(Error::NoCgroupMount {
            path: mountinfo.to_owned(),
            mount_point: mount_point.to_owned(),
        }),
    }
}

/// A cgroup back end (the closed set: v1 or v2), rooted at an explicit path.
///
/// Cgroups are named by their path relative to the root (see
/// [`CgroupName::relative_path`](crate::names::CgroupName::relative_path)); on v1 the same
/// relative path exists in every controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroups {
    /// Per-controller hierarchies.
    V1(V1Hierarchy),
    /// The unified hierarchy.
    V2(V2Hierarchy),
}

impl Cgroups {
    /// cgroup v1 with controllers under `root`.
    pub fn v1(root: impl Into<PathBuf>) -> Self {
        Cgroups::V1(V1Hierarchy::new(root))
    }

    /// cgroup v2 at `root`, with the kubelet's linear `cpu.weight` conversion.
    pub fn v2(root: impl Into<PathBuf>) -> Self {
        Cgroups::V2(V2Hierarchy::new(root, CpuWeightConversion::Linear))
    }

    /// The back end for `mode` at `root`.
    pub fn for_mode(mode: CgroupMode, root: impl Into<PathBuf>) -> Self {
        match mode {
            CgroupMode::Legacy | CgroupMode::Hybrid => Cgroups::v1(root),
            CgroupMode::Unified => Cgroups::v2(root),
        }
    }

    /// The host's back end: the mode from `/proc/self/mountinfo`, rooted at
    /// `/sys/fs/cgroup`.
    pub fn host() -> Result<Self> {
        let mode = detect_mode(
            Path::new(DEFAULT_MOUNTINFO),
            Path::new(DEFAULT_CGROUP_MOUNT),
        )?;
        Ok(Cgroups::for_mode(mode, DEFAULT_CGROUP_MOUNT))
    }

    /// True for cgroup v2.
    pub fn is_v2(&self) -> bool {
        matches!(self, Cgroups::V2(_))
    }

    /// The root all paths are relative to.
    pub fn root(&self) -> &Path {
        match self {
            Cgroups::V1(h) => h.root(),
            Cgroups::V2(h) => h.root(),
        }
    }

    /// Creates cgroup `rel` (and missing parents) in every controller, then applies
    /// `config`. On v1 a new cpuset cgroup inherits its parent's CPUs and memory nodes; on
    /// v2 the controllers are enabled top down. Creating an existing cgroup only applies
    /// the config.
    pub fn create(&self, rel: &Path, config: &ResourceConfig) -> Result<()> {
        match self {
            Cgroups::V1(h) => h.create(rel, config),
            Cgroups::V2(h) => h.create(rel, config),
        }
    }

    /// Applies `config` to the existing cgroup `rel`.
    pub fn update(&self, rel: &Path, config: &ResourceConfig) -> Result<()> {
        match self {
            Cgroups::V1(h) => h.apply(rel, config),
            Cgroups::V2(h) => h.apply(rel, config),
        }
    }

    /// Whether cgroup `rel` exists (on v1: in every required controller that is mounted).
    pub fn exists(&self, rel: &Path) -> bool {
        match self {
            Cgroups::V1(h) => h.exists(rel),
            Cgroups::V2(h) => h.exists(rel),
        }
    }

    /// Moves process `pid` into cgroup `rel` (every controller on v1).
    pub fn add_process(&self, rel: &Path, pid: u32) -> Result<()> {
        match self {
            Cgroups::V1(h) => h.add_process(rel, pid),
            Cgroups::V2(h) => h.add_process(rel, pid),
        }
    }

    /// Names of the child cgroups of `rel` (the union over controllers on v1).
    pub fn children(&self, rel: &Path) -> Result<BTreeSet<String>> {
        match self {
            Cgroups::V1(h) => h.children(rel),
            Cgroups::V2(h) => h.children(rel),
        }
    }

    /// Resource usage of cgroup `rel` (see [`CgroupStats`]).
    pub fn stats(&self, rel: &Path) -> Result<CgroupStats> {
        match self {
            Cgroups::V1(h) => h.stats(rel),
            Cgroups::V2(h) => h.stats(rel),
        }
    }

    /// The directories of cgroup `rel`, one per hierarchy (every mounted v1 hierarchy,
    /// including `unified` on a hybrid host).
    pub fn dirs(&self, rel: &Path) -> Result<Vec<PathBuf>> {
        match self {
            Cgroups::V1(h) => Ok(h.hierarchies()?.into_iter().map(|d| d.join(rel)).collect()),
            Cgroups::V2(h) => Ok(vec![h.path(rel)]),
        }
    }

    /// Process IDs in cgroup `rel` and below, over every hierarchy, without duplicates.
    pub fn procs(&self, rel: &Path) -> Result<Vec<i32>> {
        let mut pids = BTreeSet::new();
        for dir in self.dirs(rel)? {
            pids.extend(fs::procs_recursive(&dir)?);
        }
        Ok(pids.into_iter().collect())
    }

    /// Removes cgroup `rel` and everything below it from every hierarchy: first kills the
    /// processes still inside (SIGKILL, repeated for up to about 2.5 s, like the kubelet's pod container
    /// manager `Destroy` / `tryKillingCgroupProcesses`), then removes the directories depth
    /// first (the runtime leaves container cgroups behind). A missing cgroup is not an
    /// error. Blocks while processes exit.
    ///
    /// `rel` must be relative and made of normal components only (no `..`, `.` or root):
    /// anything else is refused before a process is killed or a directory removed, so no
    /// cgroup outside the hierarchies' roots is ever touched.
    pub fn remove(&self, rel: &Path) -> Result<()> {
        if rel.as_os_str().is_empty() {
            return Err(Error::InvalidConfig {
                field: "cgroup".into(),
                message: "refusing to remove the cgroup root".into(),
            });
        }
        if !rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(Error::InvalidConfig {
                field: "cgroup".into(),
                message: format!(
                    "refusing to remove {}: not a relative path of normal components",
                    rel.display()
                ),
            });
        }
        self.kill_processes(rel)?;
        for dir in self.dirs(rel)? {
            fs::remove_tree(&dir)?;
        }
        Ok(())
    }

    fn kill_processes(&self, rel: &Path) -> Result<()> {
        // Only a real cgroup names live processes; a tree shaped like one (tests) may list
        // anything in its `cgroup.procs` files, and nothing is killed for it.
        if !self.dirs(rel)?.iter().any(|d| fs::is_cgroup_fs(d)) {
            return Ok(());
        }
        let own = std::process::id() as i32;
        let mut delay = Duration::from_millis(5);
        let mut pids = self.procs(rel)?;
        for _ in 0..9 {
            if pids.is_empty() {
                return Ok(());
            }
            for pid in pids.iter().copied().filter(|p| *p != own && *p > 1) {
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    // ESRCH: already gone.
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
            std::thread::sleep(delay);
            delay *= 2;
            pids = self.procs(rel)?;
        }
        match pids.first() {
            None => Ok(()),
            Some(first) => Err(Error::ProcessesRemain {
                path: self.root().join(rel),
                count: pids.len(),
                first: *first,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_refuses_paths_that_leave_the_hierarchy() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("cgroup");
        std::fs::create_dir_all(root.join("kubepods")).unwrap();
        let canary = tmp.path().join("canary");
        std::fs::create_dir_all(&canary).unwrap();
        std::fs::write(canary.join("file"), "alive").unwrap();
        let cgroups = Cgroups::v2(&root);
        for rel in [
            "../canary",
            "kubepods/../../canary",
            "/canary",
            "./kubepods",
        ] {
            let err = cgroups.remove(Path::new(rel)).unwrap_err();
            assert!(
                err.to_string().contains("refusing to remove"),
                "{rel}: {err}"
            );
        }
        assert!(canary.join("file").exists());
        assert!(root.join("kubepods").exists());
        cgroups.remove(Path::new("kubepods")).unwrap();
        assert!(!root.join("kubepods").exists());
    }
}
