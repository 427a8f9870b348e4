//! cgroup v1: one hierarchy per controller, each at `<root>/<controller>` (`cpu`,
//! `cpuacct`, `cpuset`, `memory`, `pids`, ...), the same relative path in each.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::fs;
use crate::resources::{ResourceConfig, hugepage_size_name};
use crate::stats::CgroupStats;

/// The controllers a cgroup is created in, when mounted (libcontainer's fs manager creates
/// the path in every subsystem it knows; `systemd` is the `name=systemd` hierarchy).
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "pids",
    "hugetlb",
    "freezer",
    "blkio",
    "devices",
    "net_cls",
    "net_prio",
    "perf_event",
    "systemd",
];

/// The controllers a cgroup must exist in to count as present (the kubelet's
/// `cgroupManager.Exists` checks its required subsystems).
const REQUIRED: &[&str] = &["cpu", "cpuacct", "cpuset", "memory", "pids"];

/// A cgroup v1 mount root (`/sys/fs/cgroup` on a host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    root: PathBuf,
}

impl V1Hierarchy {
    /// Controllers under `root` (`<root>/cpu`, `<root>/memory`, ...).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        V1Hierarchy { root: root.into() }
    }

    /// The mount root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of cgroup `rel` in `controller`.
    pub fn controller_path(&self, controller: &str, rel: &Path) -> PathBuf {
        self.root.join(controller).join(rel)
    }

    fn mounted(&self) -> impl Iterator<Item = &'static str> + '_ {
        V1_CONTROLLERS
            .iter()
            .copied()
            .filter(|c| self.root.join(c).is_dir())
    }

    pub(crate) fn create(&self, rel: &Path, config: &ResourceConfig) -> Result<()> {
        for controller in self.mounted() {
            let dir = self.controller_path(controller, rel);
            fs::create_dirs(&dir, &mut |created| {
                if controller == "cpuset" {
                    inherit_cpuset(created)?;
                }
                Ok(())
            })?;
        }
        self.apply(rel, config)
    }

    pub(crate) fn apply(&self, rel: &Path, config: &ResourceConfig) -> Result<()> {
        let cpu = self.controller_path("cpu", rel);
        if let Some(shares) = config.cpu_shares {
            fs::write(&cpu.join("cpu.shares"), &shares.to_string())?;
        }
        if let Some(period) = config.cpu_period {
            fs::write(&cpu.join("cpu.cfs_period_us"), &period.to_string())?;
        }
        if let Some(quota) = config.cpu_quota {
            let quota = if quota <= 0 { -1 } else { quota };
            fs::write(&cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
        }
        if let Some(limit) = config.memory_limit.filter(|l| *l > 0) {
            let memory = self.controller_path("memory", rel);
            fs::write(&memory.join("memory.limit_in_bytes"), &limit.to_string())?;
        }
        if let Some(pids) = config.pids_limit {
            let value = if pids > 0 {
                pids.to_string()
            } else {
                "max".to_owned()
            };
            fs::write(&self.controller_path("pids", rel).join("pids.max"), &value)?;
        }
        for (size, limit) in &config.hugepage_limits {
            let file = format!("hugetlb.{}.limit_in_bytes", hugepage_size_name(*size));
            fs::write(
                &self.controller_path("hugetlb", rel).join(file),
                &limit.to_string(),
            )?;
        }
        if !config.unified.is_empty() {
            tracing::debug!(cgroup = %rel.display(), entries = ?config.unified.keys().collect::<Vec<_>>(), "cgroup v1: unified entries ignored");
        }
        Ok(())
    }

    /// Every hierarchy directory under the root (each controller mount, and `unified` on a
    /// hybrid host, where runc also creates the path).
    pub(crate) fn hierarchies(&self) -> Result<Vec<PathBuf>> {
        fs::subdirs(&self.root)
    }

    pub(crate) fn exists(&self, rel: &Path) -> bool {
        let mut any = false;
        for controller in REQUIRED.iter().filter(|c| self.root.join(c).is_dir()) {
            if !self.controller_path(controller, rel).is_dir() {
                return false;
            }
            any = true;
        }
        any
    }

    pub(crate) fn add_process(&self, rel: &Path, pid: u32) -> Result<()> {
        for controller in self.mounted() {
            let dir = self.controller_path(controller, rel);
            if dir.is_dir() {
                fs::write(&dir.join("cgroup.procs"), &pid.to_string())?;
            }
        }
        Ok(())
    }

    pub(crate) fn children(&self, rel: &Path) -> Result<BTreeSet<String>> {
        let mut names = BTreeSet::new();
        for hierarchy in self.hierarchies()? {
            for dir in fs::subdirs(&hierarchy.join(rel))? {
                if let Some(name) = dir.file_name().and_then(|n| n.to_str()) {
                    names.insert(name.to_owned());
                }
            }
        }
        Ok(names)
    }

    pub(crate) fn stats(&self, rel: &Path) -> Result<CgroupStats> {
        let cpuacct = self.controller_path("cpuacct", rel);
        let memory = self.controller_path("memory", rel);
        let usage = fs::read_optional_u64(&memory.join("memory.usage_in_bytes"))?;
        // cAdvisor uses the hierarchical `total_inactive_file` on v1.
        let inactive = fs::read_keyed(&memory.join("memory.stat"), "total_inactive_file")?;
        Ok(CgroupStats {
            cpu_usage_ns: fs::read_optional_u64(&cpuacct.join("cpuacct.usage"))?,
            memory_usage_bytes: usage,
            memory_working_set_bytes: usage.map(|u| u.saturating_sub(inactive.unwrap_or(0))),
            oom_kills: fs::read_keyed(&memory.join("memory.oom_control"), "oom_kill")?,
            pids_current: fs::read_optional_u64(
                &self.controller_path("pids", rel).join("pids.current"),
            )?,
        })
    }
}

/// A new v1 cpuset cgroup starts with empty `cpuset.cpus`/`cpuset.mems`, and no process can
/// join it until they are set: copy the parent's, as runc does.
fn inherit_cpuset(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = match fs::read(&dir.join(file)) {
            Ok(text) => text,
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => return Err(e),
        };
        if !own.trim().is_empty() {
            continue;
        }
        match fs::read(&parent.join(file)) {
            Ok(value) if !value.trim().is_empty() => fs::write(&dir.join(file), value.trim())?,
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
