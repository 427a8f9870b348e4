//! One cgroup read as cAdvisor reads it for the kubelet: `cgroup-enforcer`'s
//! [`CgroupStats`] (CPU, usage, working set, tasks) and what cAdvisor adds from the same
//! directories (`memory.stat` breakdown and page faults, limits, processes, pressure, the
//! creation time).

use std::collections::HashMap;
use std::path::Path;

use cgroup_enforcer::{CgroupStats, Cgroups};
use jiff::Timestamp;
use kubelet_server::stats::PsiStats;

use super::host;

/// Above this cAdvisor takes a memory or swap limit as none (`isMemoryUnlimited`).
pub(crate) const MAX_MEMORY_SIZE: u64 = 1 << 62;

/// What one read of a cgroup gave, at `at`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CgroupReading {
    /// When it was read.
    pub at: Option<Timestamp>,
    /// Cumulative CPU time (ns); `None` without the CPU accounting controller.
    pub cpu_ns: Option<u64>,
    /// Memory; `None` without the memory controller.
    pub memory: Option<MemoryReading>,
    /// Tasks (`pids.current`).
    pub tasks: Option<u64>,
    /// The task limit (`pids.max`), 0 for none.
    pub tasks_max: Option<u64>,
    /// Processes in the cgroup and below (cAdvisor's `ProcessCount`).
    pub processes: Option<u64>,
    /// Whether the block IO controller is there (cAdvisor's `HasDiskIo`).
    pub has_io: bool,
    /// CPU, memory and IO pressure: read on cgroup v2, zero on v1 where cAdvisor has none.
    pub psi: [PsiStats; 3],
    /// When the cgroup was made (cAdvisor's spec `CreationTime`: the oldest time of its
    /// directories, never before boot).
    pub created: Option<Timestamp>,
}

/// Memory of one cgroup, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MemoryReading {
    pub usage: u64,
    pub working_set: u64,
    pub rss: u64,
    pub cache: u64,
    pub swap: u64,
    pub mapped_file: u64,
    pub page_faults: u64,
    pub major_page_faults: u64,
    /// The limit, `u64::MAX` for none.
    pub limit: u64,
    /// The memory+swap (v1) or swap (v2) limit, `u64::MAX` for none, 0 when unknown.
    pub swap_limit: u64,
}

impl MemoryReading {
    /// The limit minus the working set, when there is a limit (`availableBytes`).
    pub(crate) fn available(&self) -> Option<u64> {
        (self.limit <= MAX_MEMORY_SIZE).then(|| self.limit.saturating_sub(self.working_set))
    }

    /// The swap limit minus swap in use, when there is a limit (`swapAvailableBytes`).
    pub(crate) fn swap_available(&self) -> Option<u64> {
        (self.swap_limit <= MAX_MEMORY_SIZE).then(|| self.swap_limit.saturating_sub(self.swap))
    }
}

/// The machine-wide values the root cgroup takes (cAdvisor's raw handler gives the root
/// the machine's memory and swap as limits).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Machine {
    pub memory_total: Option<u64>,
    pub swap_total: Option<u64>,
    pub boot_time: Option<Timestamp>,
}

/// Reads cgroup `rel` (relative to the hierarchies' root; empty for the root cgroup).
/// `Ok(None)` when it does not exist.
pub(crate) fn read(
    cgroups: &Cgroups,
    rel: &Path,
    machine: &Machine,
) -> cgroup_enforcer::Result<Option<CgroupReading>> {
    let root = rel.as_os_str().is_empty();
    if !root && !cgroups.exists(rel) {
        return Ok(None);
    }
    let at = Timestamp::now();
    let stats: CgroupStats = cgroups.stats(rel)?;
    let (memory_dir, pids_dir, io_dir, procs_dir) = match cgroups {
        Cgroups::V1(h) => (
            h.controller_path("memory", rel),
            h.controller_path("pids", rel),
            h.controller_path("blkio", rel),
            h.controller_path("cpu", rel),
        ),
        Cgroups::V2(h) => {
            let dir = h.path(rel);
            (dir.clone(), dir.clone(), dir.clone(), dir)
        }
    };
    let v2 = cgroups.is_v2();
    let memory = if memory_dir.is_dir() {
        Some(read_memory(&memory_dir, &stats, v2, root, machine))
    } else {
        None
    };
    let tasks_max =
        read_limit(&pids_dir.join("pids.max")).map(|l| if l == u64::MAX { 0 } else { l });
    let processes = count_procs(&procs_dir.join("cgroup.procs"));
    let psi = if v2 {
        ["cpu.pressure", "memory.pressure", "io.pressure"].map(|f| read_psi(&memory_dir.join(f)))
    } else {
        Default::default()
    };
    Ok(Some(CgroupReading {
        at: Some(at),
        cpu_ns: stats.cpu_usage_ns,
        memory,
        tasks: stats.pids_current,
        tasks_max,
        processes,
        has_io: io_dir.is_dir(),
        psi,
        created: creation_time(cgroups, rel, v2, machine.boot_time),
    }))
}

fn read_memory(
    dir: &Path,
    stats: &CgroupStats,
    v2: bool,
    root: bool,
    machine: &Machine,
) -> MemoryReading {
    let stat = read_keyed(&dir.join("memory.stat"));
    let key = |k: &str| stat.get(k).copied();
    // cAdvisor takes the hierarchical totals on v1 (`use_hierarchy` is always on).
    let total = |k: &str| key(&format!("total_{k}")).or_else(|| key(k)).unwrap_or(0);
    let mut usage = stats.memory_usage_bytes.unwrap_or(0);
    let mut working_set = stats.memory_working_set_bytes.unwrap_or(0);
    let (rss, cache, mapped_file, swap, limit, swap_limit);
    if v2 {
        rss = key("anon").unwrap_or(0);
        cache = key("file").unwrap_or(0);
        mapped_file = key("file_mapped").unwrap_or(0);
        swap = read_limit(&dir.join("memory.swap.current")).unwrap_or(0);
        limit = read_limit(&dir.join("memory.max")).unwrap_or(u64::MAX);
        swap_limit = read_limit(&dir.join("memory.swap.max")).unwrap_or(0);
        // The v2 root has no memory.current: libcontainer falls back to /proc/meminfo.
        if root && stats.memory_usage_bytes.is_none() {
            let meminfo =
                std::fs::read_to_string(Path::new(host::PROC).join("meminfo")).unwrap_or_default();
            let total = host::meminfo_bytes(&meminfo, "MemTotal").unwrap_or(0);
            let free = host::meminfo_bytes(&meminfo, "MemFree").unwrap_or(0);
            usage = total.saturating_sub(free);
            let inactive = key("inactive_file")
                .or_else(|| host::meminfo_bytes(&meminfo, "Inactive(file)"))
                .unwrap_or(0);
            working_set = usage.saturating_sub(inactive);
        }
    } else {
        rss = total("rss");
        cache = total("cache");
        mapped_file = total("mapped_file");
        swap = total("swap");
        limit = read_limit(&dir.join("memory.limit_in_bytes")).unwrap_or(u64::MAX);
        swap_limit = read_limit(&dir.join("memory.memsw.limit_in_bytes")).unwrap_or(0);
    }
    let (limit, swap_limit) = if root {
        (
            machine.memory_total.unwrap_or(limit),
            machine.swap_total.unwrap_or(swap_limit),
        )
    } else {
        (limit, swap_limit)
    };
    MemoryReading {
        usage,
        working_set,
        rss,
        cache,
        swap,
        mapped_file,
        // cAdvisor reads the cgroup's own (not hierarchical) fault counters.
        page_faults: key("pgfault").unwrap_or(0),
        major_page_faults: key("pgmajfault").unwrap_or(0),
        limit,
        swap_limit,
    }
}

/// `key value` lines (`memory.stat`); an unreadable file is empty.
fn read_keyed(path: &Path) -> HashMap<String, u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (k, v) = line.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

/// A number or `max` (→ `u64::MAX`), as cAdvisor's `readUInt64`; `None` when unreadable.
fn read_limit(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    match text.trim() {
        "max" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

fn count_procs(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.lines().filter(|l| !l.trim().is_empty()).count() as u64)
}

/// A pressure file (`some avg10=0.00 avg60=0.00 avg300=0.00 total=0` and a `full` line);
/// zero when absent.
pub(crate) fn parse_psi(text: &str) -> PsiStats {
    let mut psi = PsiStats::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let data = match fields.next() {
            Some("some") => &mut psi.some,
            Some("full") => &mut psi.full,
            _ => continue,
        };
        for field in fields {
            let Some((k, v)) = field.split_once('=') else {
                continue;
            };
            match k {
                "avg10" => data.avg10 = v.parse().unwrap_or(0.0),
                "avg60" => data.avg60 = v.parse().unwrap_or(0.0),
                "avg300" => data.avg300 = v.parse().unwrap_or(0.0),
                "total" => data.total = v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    psi
}

fn read_psi(path: &Path) -> PsiStats {
    std::fs::read_to_string(path)
        .map(|t| parse_psi(&t))
        .unwrap_or_default()
}

/// cAdvisor's spec creation time: the oldest modification time of the cgroup's directories
/// and of their `cgroup.clone_children` (v1) or `cgroup.events` (v2), which change less
/// often; never before boot.
fn creation_time(
    cgroups: &Cgroups,
    rel: &Path,
    v2: bool,
    boot: Option<Timestamp>,
) -> Option<Timestamp> {
    let marker = if v2 {
        "cgroup.events"
    } else {
        "cgroup.clone_children"
    };
    let oldest = cgroups
        .dirs(rel)
        .ok()?
        .iter()
        .flat_map(|dir| [dir.clone(), dir.join(marker)])
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .min()?;
    let oldest = Timestamp::try_from(oldest).ok()?;
    Some(match boot {
        Some(boot) if oldest < boot => boot,
        _ => oldest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressure_files() {
        let psi = parse_psi(
            "some avg10=1.50 avg60=0.25 avg300=0.00 total=1234\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=56\n",
        );
        assert_eq!(psi.some.avg10, 1.5);
        assert_eq!(psi.some.avg60, 0.25);
        assert_eq!(psi.some.total, 1234);
        assert_eq!(psi.full.total, 56);
        assert_eq!(parse_psi(""), PsiStats::default());
    }

    /// A cgroup v1 tree: the memory breakdown, limits and processes as cAdvisor reads them.
    #[test]
    fn v1_cgroup_as_cadvisor_reads_it() {
        let root = tempfile::tempdir().unwrap();
        let rel = Path::new("kubepods/podu");
        for controller in ["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio"] {
            std::fs::create_dir_all(root.path().join(controller).join(rel)).unwrap();
        }
        let file = |c: &str, f: &str, v: &str| {
            std::fs::write(root.path().join(c).join(rel).join(f), v).unwrap();
        };
        file("cpuacct", "cpuacct.usage", "5000\n");
        file("memory", "memory.usage_in_bytes", "10000\n");
        file(
            "memory",
            "memory.stat",
            "rss 1\ncache 2\npgfault 30\npgmajfault 4\ntotal_rss 100\ntotal_cache 200\ntotal_inactive_file 1000\ntotal_mapped_file 50\ntotal_swap 0\n",
        );
        file("memory", "memory.limit_in_bytes", "65536\n");
        file(
            "memory",
            "memory.memsw.limit_in_bytes",
            "9223372036854771712\n",
        );
        file("pids", "pids.current", "3\n");
        file("pids", "pids.max", "max\n");
        file("cpu", "cgroup.procs", "10\n11\n");
        let cgroups = Cgroups::v1(root.path());
        let reading = read(&cgroups, rel, &Machine::default()).unwrap().unwrap();
        assert_eq!(reading.cpu_ns, Some(5000));
        let memory = reading.memory.unwrap();
        assert_eq!(
            (
                memory.usage,
                memory.working_set,
                memory.rss,
                memory.cache,
                memory.mapped_file
            ),
            (10000, 9000, 100, 200, 50)
        );
        assert_eq!((memory.page_faults, memory.major_page_faults), (30, 4));
        assert_eq!(memory.available(), Some(65536 - 9000));
        assert_eq!(memory.swap_available(), None);
        assert_eq!(
            (reading.tasks, reading.tasks_max, reading.processes),
            (Some(3), Some(0), Some(2))
        );
        assert!(reading.has_io);
        assert_eq!(reading.psi, <[PsiStats; 3]>::default());
        assert!(reading.created.is_some());
        assert_eq!(
            read(&cgroups, Path::new("kubepods/gone"), &Machine::default()).unwrap(),
            None
        );
    }

    /// A cgroup v2 directory: the v2 names of the same values, pressure read, `max` limits.
    #[test]
    fn v2_cgroup_as_cadvisor_reads_it() {
        let root = tempfile::tempdir().unwrap();
        let rel = Path::new("kubepods.slice/pod.slice");
        let dir = root.path().join(rel);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, value) in [
            ("cpu.stat", "usage_usec 7\nuser_usec 5\n"),
            ("memory.current", "4096\n"),
            (
                "memory.stat",
                "anon 1024\nfile 2048\nfile_mapped 512\ninactive_file 1024\npgfault 9\npgmajfault 1\n",
            ),
            ("memory.max", "max\n"),
            ("memory.swap.current", "256\n"),
            ("memory.swap.max", "1024\n"),
            ("pids.current", "2\n"),
            ("pids.max", "100\n"),
            ("cgroup.procs", "1\n"),
            (
                "cpu.pressure",
                "some avg10=2.00 avg60=0.00 avg300=0.00 total=10\n",
            ),
        ] {
            std::fs::write(dir.join(file), value).unwrap();
        }
        let cgroups = Cgroups::v2(root.path());
        let reading = read(&cgroups, rel, &Machine::default()).unwrap().unwrap();
        assert_eq!(reading.cpu_ns, Some(7000));
        let memory = reading.memory.unwrap();
        assert_eq!(
            (
                memory.usage,
                memory.working_set,
                memory.rss,
                memory.cache,
                memory.mapped_file
            ),
            (4096, 3072, 1024, 2048, 512)
        );
        assert_eq!((memory.swap, memory.swap_available()), (256, Some(768)));
        assert_eq!(memory.available(), None);
        assert_eq!(
            (reading.tasks, reading.tasks_max, reading.processes),
            (Some(2), Some(100), Some(1))
        );
        assert_eq!(reading.psi[0].some.avg10, 2.0);
        assert!(reading.has_io);
    }
}
