//! cgroup v2: one unified hierarchy at the root; controllers are enabled for children
//! through each ancestor's `cgroup.subtree_control`, top down.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::formulas::CpuWeightConversion;
use crate::fs;
use crate::resources::{ResourceConfig, hugepage_size_name};
use crate::stats::CgroupStats;

/// The controllers enabled for the kubelet's cgroups, when the root offers them.
pub const V2_CONTROLLERS: &[&str] = &["cpuset", "cpu", "io", "memory", "hugetlb", "pids"];

/// A cgroup v2 mount root (`/sys/fs/cgroup` on a host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Hierarchy {
    root: PathBuf,
    weight: CpuWeightConversion,
}

impl V2Hierarchy {
    /// The unified hierarchy at `root`; `cpu.weight` written with `weight` (the kubelet
    /// uses [`CpuWeightConversion::Linear`] for its own cgroups).
    pub fn new(root: impl Into<PathBuf>, weight: CpuWeightConversion) -> Self {
        V2Hierarchy {
            root: root.into(),
            weight,
        }
    }

    /// The mount root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of cgroup `rel`.
    pub fn path(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    pub(crate) fn create(&self, rel: &Path, config: &ResourceConfig) -> Result<()> {
        fs::create_dirs(&self.path(rel), &mut |_| Ok(()))?;
        self.enable_controllers(rel)?;
        self.apply(rel, config)
    }

    /// Writes `+cpu +memory ...` (those the root offers) into `cgroup.subtree_control` of
    /// the root and of every ancestor of `rel`, top down, so `rel` gets the controllers.
    fn enable_controllers(&self, rel: &Path) -> Result<()> {
        let offered = match fs::read(&self.root.join("cgroup.controllers")) {
            Ok(text) => text,
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => return Err(e),
        };
        let offered: BTreeSet<&str> = offered.split_whitespace().collect();
        let wanted: Vec<String> = V2_CONTROLLERS
            .iter()
            .filter(|c| offered.contains(*c))
            .map(|c| format!("+{c}"))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let value = wanted.join(" ");
        let mut dir = self.root.clone();
        let components: Vec<_> = rel.components().collect();
        for (i, component) in components.iter().enumerate() {
            let control = dir.join("cgroup.subtree_control");
            let current = fs::read(&control).unwrap_or_default();
            let enabled: BTreeSet<&str> = current.split_whitespace().collect();
            if !wanted.iter().all(|w| enabled.contains(&w[1..])) {
                fs::write(&control, &value)?;
            }
            if i + 1 < components.len() {
                dir = dir.join(component);
            }
        }
        Ok(())
    }

    pub(crate) fn apply(&self, rel: &Path, config: &ResourceConfig) -> Result<()> {
        let dir = self.path(rel);
        if let Some(shares) = config.cpu_shares {
            let weight = self.weight.weight(shares).max(1);
            fs::write(&dir.join("cpu.weight"), &weight.to_string())?;
        }
        if config.cpu_quota.is_some() || config.cpu_period.is_some() {
            let quota = match config.cpu_quota {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_owned(),
            };
            let period = config.cpu_period.unwrap_or(crate::formulas::QUOTA_PERIOD);
            fs::write(&dir.join("cpu.max"), &format!("{quota} {period}"))?;
        }
        if let Some(limit) = config.memory_limit {
            let value = if limit > 0 {
                limit.to_string()
            } else {
                "max".to_owned()
            };
            fs::write(&dir.join("memory.max"), &value)?;
        }
        if let Some(pids) = config.pids_limit {
            let value = if pids > 0 {
                pids.to_string()
            } else {
                "max".to_owned()
            };
            fs::write(&dir.join("pids.max"), &value)?;
        }
        for (size, limit) in &config.hugepage_limits {
            let file = format!("hugetlb.{}.max", hugepage_size_name(*size));
            fs::write(&dir.join(file), &limit.to_string())?;
        }
        for (file, value) in &config.unified {
            fs::write(&dir.join(file), value)?;
        }
        Ok(())
    }

    pub(crate) fn exists(&self, rel: &Path) -> bool {
        self.path(rel).is_dir()
    }

    pub(crate) fn add_process(&self, rel: &Path, pid: u32) -> Result<()> {
        fs::write(&self.path(rel).join("cgroup.procs"), &pid.to_string())
    }

    pub(crate) fn children(&self, rel: &Path) -> Result<BTreeSet<String>> {
        Ok(fs::subdirs(&self.path(rel))?
            .iter()
            .filter_map(|d| d.file_name().and_then(|n| n.to_str()).map(str::to_owned))
            .collect())
    }

    pub(crate) fn stats(&self, rel: &Path) -> Result<CgroupStats> {
        let dir = self.path(rel);
        let usage = fs::read_optional_u64(&dir.join("memory.current"))?;
        let inactive = fs::read_keyed(&dir.join("memory.stat"), "inactive_file")?;
        Ok(CgroupStats {
            cpu_usage_ns: fs::read_keyed(&dir.join("cpu.stat"), "usage_usec")?
                .map(|us| us.saturating_mul(1000)),
            memory_usage_bytes: usage,
            memory_working_set_bytes: usage.map(|u| u.saturating_sub(inactive.unwrap_or(0))),
            oom_kills: fs::read_keyed(&dir.join("memory.events"), "oom_kill")?,
            pids_current: fs::read_optional_u64(&dir.join("pids.current"))?,
        })
    }
}
