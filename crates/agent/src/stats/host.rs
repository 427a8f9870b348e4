//! What the stats read from the host outside cgroups: `/proc` files, filesystems (`statvfs`,
//! the mount table) and disk usage of directories (the kubelet's `du`). The parsers take
//! text, so they are tested on samples; the readers take paths.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use kubelet_server::stats::InterfaceCounters;

/// Where the host's procfs is.
pub(crate) const PROC: &str = "/proc";

/// Interfaces cAdvisor leaves out of network stats (`ignoredDevicePrefixes`, matched on the
/// lower-cased name).
const IGNORED_INTERFACE_PREFIXES: [&str; 4] = ["lo", "veth", "docker", "nerdctl"];

/// The interface the kubelet reports as a network's default (`defaultNetworkInterfaceName`).
pub(crate) const DEFAULT_INTERFACE: &str = "eth0";

/// The interfaces of a `/proc/<pid>/net/dev` text as cAdvisor's `scanInterfaceStats` reads
/// them: two header lines, then one line of 16 counters per interface; ignored interfaces
/// are left out. `None` when a line is malformed (cAdvisor then trusts none of the file).
pub(crate) fn parse_net_dev(text: &str) -> Option<Vec<InterfaceCounters>> {
    let mut interfaces = Vec::new();
    for line in text.lines().skip(2) {
        let line = line.replace(':', " ");
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 17 {
            return None;
        }
        let name = fields[0];
        let lower = name.to_lowercase();
        if IGNORED_INTERFACE_PREFIXES
            .iter()
            .any(|p| lower.starts_with(p))
        {
            continue;
        }
        let n = |i: usize| fields[i].parse::<u64>().ok();
        interfaces.push(InterfaceCounters {
            name: name.to_owned(),
            rx_bytes: n(1)?,
            rx_packets: n(2)?,
            rx_errors: n(3)?,
            rx_dropped: n(4)?,
            tx_bytes: n(9)?,
            tx_packets: n(10)?,
            tx_errors: n(11)?,
            tx_dropped: n(12)?,
        });
    }
    Some(interfaces)
}

/// The interfaces of process `pid`'s network namespace (`/proc/<pid>/net/dev`).
pub(crate) fn read_net_dev(proc: &Path, pid: i32) -> io::Result<Vec<InterfaceCounters>> {
    let path = proc.join(pid.to_string()).join("net/dev");
    let text = std::fs::read_to_string(&path)?;
    parse_net_dev(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: invalid interface stats line", path.display()),
        )
    })
}

/// The value of `key` (`MemTotal`, `SwapTotal`, ...) in a `/proc/meminfo` text, in bytes.
pub(crate) fn meminfo_bytes(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, rest) = line.split_once(':')?;
        if k.trim() != key {
            return None;
        }
        let mut parts = rest.split_whitespace();
        let value: u64 = parts.next()?.parse().ok()?;
        Some(match parts.next() {
            Some("kB") => value.saturating_mul(1024),
            _ => value,
        })
    })
}

/// The boot time from a `/proc/stat` text (`btime`, seconds since the epoch).
pub(crate) fn boot_time(stat: &str) -> Option<i64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The number of tasks from a `/proc/loadavg` text: the total of its fourth field
/// (`2/3518`), which the kubelet prefers to `sysinfo(2)`.
pub(crate) fn running_tasks(loadavg: &str) -> Option<i64> {
    let field = loadavg.split_whitespace().nth(3)?;
    let (_, total) = field.split_once('/')?;
    total.parse().ok()
}

/// The kubelet's `pidlimit.Stats` maximum: the lower of `kernel.pid_max` and
/// `kernel.threads-max` (either alone when the other cannot be read).
pub(crate) fn max_pids(proc: &Path) -> Option<i64> {
    ["sys/kernel/pid_max", "sys/kernel/threads-max"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(proc.join(f)).ok())
        .filter_map(|t| t.trim().parse::<i64>().ok())
        .min()
}

/// The cgroup a process accounts to, as the kubelet finds its own (`getContainer`): on
/// cgroup v2 the unified path; on v1 the `cpu` path, and only when `memory` has the same
/// one (otherwise the kubelet cannot account to one cgroup and reports none). Read from a
/// `/proc/<pid>/cgroup` text; the path has its leading `/`.
pub(crate) fn own_cgroup(text: &str, v2: bool) -> Option<String> {
    let mut cpu = None;
    let mut memory = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if v2 {
            if controllers.is_empty() {
                return Some(path.to_owned());
            }
            continue;
        }
        for controller in controllers.split(',') {
            match controller {
                "cpu" => cpu = Some(path.to_owned()),
                "memory" => memory = Some(path.to_owned()),
                _ => {}
            }
        }
    }
    match (cpu, memory) {
        (Some(cpu), Some(memory)) if cpu == memory => Some(cpu),
        _ => None,
    }
}

/// A filesystem's size and free space (`statvfs`), as cAdvisor's `GetDirFsInfo` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FsInfo {
    /// Size in bytes.
    pub capacity: u64,
    /// Free bytes for unprivileged users.
    pub available: u64,
    /// Bytes in use (size minus free, the reserved blocks included).
    pub usage: u64,
    /// Total inodes.
    pub inodes: u64,
    /// Free inodes.
    pub inodes_free: u64,
}

impl FsInfo {
    /// The filesystem holding `path`.
    pub(crate) fn of(path: &Path) -> io::Result<FsInfo> {
        let s = rustix::fs::statvfs(path)?;
        let block = s.f_frsize;
        Ok(FsInfo {
            capacity: s.f_blocks.saturating_mul(block),
            available: s.f_bavail.saturating_mul(block),
            usage: s.f_blocks.saturating_sub(s.f_bfree).saturating_mul(block),
            inodes: s.f_files,
            inodes_free: s.f_ffree,
        })
    }
}

/// The source device of the filesystem holding `path` (`/dev/vda1`), from the mount table
/// `mountinfo`: the mount with the longest mount point above `path`.
pub(crate) fn device_of(mountinfo: &Path, path: &Path) -> Option<String> {
    let path = std::fs::canonicalize(path).ok()?;
    let mounts = volume_manager::mountinfo::read(mountinfo).ok()?;
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len())
        .map(|m| m.source.to_string_lossy().into_owned())
}

/// Disk usage of a file or directory tree: bytes in allocated blocks and inodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DiskUsage {
    /// Allocated bytes (512-byte blocks).
    pub bytes: u64,
    /// Inodes, the top one included.
    pub inodes: u64,
}

/// The kubelet's `fs.DiskUsage` (without project quotas): every entry under `path` on the
/// same device, hard links counted once, entries removed during the walk ignored.
pub(crate) fn disk_usage(path: &Path) -> io::Result<DiskUsage> {
    let top = std::fs::symlink_metadata(path)?;
    let mut usage = DiskUsage::default();
    let mut linked = HashSet::new();
    let mut pending: Vec<PathBuf> = vec![path.to_owned()];
    while let Some(entry) = pending.pop() {
        let meta = match std::fs::symlink_metadata(&entry) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        // Another filesystem (a mount inside the volume) is not this one's usage.
        if meta.dev() != top.dev() {
            continue;
        }
        if meta.nlink() > 1 && !meta.is_dir() && !linked.insert(meta.ino()) {
            continue;
        }
        usage.bytes = usage
            .bytes
            .saturating_add(meta.blocks().saturating_mul(512));
        usage.inodes += 1;
        if meta.is_dir() {
            let children = match std::fs::read_dir(&entry) {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for child in children {
                match child {
                    Ok(child) => pending.push(child.path()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(usage)
}

/// The files (not directories) directly in `dir`, as the kubelet's `fileMetricsByDir` takes
/// them for log usage.
pub(crate) fn files_in(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 2209359973 2449602    0    0    0     0          0         0 2209359973 2449602    0    0    0     0       0          0
  eth0: 335512676   33281    1    2    0     0          0         0  2674233   28070    3    4    0     0       0          0
veth1234: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0
  cni0: 5 6 7 8 0 0 0 0 9 10 11 12 0 0 0 0
";

    #[test]
    fn net_dev_as_cadvisor_reads_it() {
        let interfaces = parse_net_dev(NET_DEV).unwrap();
        assert_eq!(
            interfaces,
            [
                InterfaceCounters {
                    name: "eth0".into(),
                    rx_bytes: 335512676,
                    rx_packets: 33281,
                    rx_errors: 1,
                    rx_dropped: 2,
                    tx_bytes: 2674233,
                    tx_packets: 28070,
                    tx_errors: 3,
                    tx_dropped: 4,
                },
                InterfaceCounters {
                    name: "cni0".into(),
                    rx_bytes: 5,
                    rx_packets: 6,
                    rx_errors: 7,
                    rx_dropped: 8,
                    tx_bytes: 9,
                    tx_packets: 10,
                    tx_errors: 11,
                    tx_dropped: 12,
                },
            ]
        );
        assert_eq!(parse_net_dev("h\nh\n eth0: 1 2 3\n"), None);
    }

    #[test]
    fn proc_files() {
        let meminfo =
            "MemTotal:       16384000 kB\nMemFree:  100 kB\nSwapTotal:             0 kB\n";
        assert_eq!(meminfo_bytes(meminfo, "MemTotal"), Some(16384000 * 1024));
        assert_eq!(meminfo_bytes(meminfo, "SwapTotal"), Some(0));
        assert_eq!(meminfo_bytes(meminfo, "Nope"), None);
        assert_eq!(
            boot_time("cpu 1 2\nbtime 1714521600\nprocesses 5\n"),
            Some(1714521600)
        );
        assert_eq!(running_tasks("1.36 3.49 4.53 2/3518 3715089\n"), Some(3518));
        assert_eq!(running_tasks("1.36"), None);
    }

    #[test]
    fn own_cgroup_as_the_kubelet_finds_it() {
        let split = "4:memory:/process_api/25f9\n2:cpuacct:/\n1:cpu:/\n0::/\n";
        assert_eq!(own_cgroup(split, false), None);
        let same =
            "4:memory:/system.slice/kubelet.service\n1:cpu,cpuacct:/system.slice/kubelet.service\n";
        assert_eq!(
            own_cgroup(same, false).as_deref(),
            Some("/system.slice/kubelet.service")
        );
        assert_eq!(
            own_cgroup("0::/system.slice/nodelet.service\n", true).as_deref(),
            Some("/system.slice/nodelet.service")
        );
    }

    #[test]
    fn disk_usage_counts_blocks_and_inodes_once_per_hard_link() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), vec![1u8; 10_000]).unwrap();
        std::fs::hard_link(dir.path().join("sub/a"), dir.path().join("b")).unwrap();
        let usage = disk_usage(dir.path()).unwrap();
        // The top directory, sub, and the file once.
        assert_eq!(usage.inodes, 3);
        let file = std::fs::metadata(dir.path().join("b")).unwrap().blocks() * 512;
        assert!(usage.bytes >= file && file >= 8192, "{usage:?}");
        let one = disk_usage(&dir.path().join("b")).unwrap();
        assert_eq!(
            one,
            DiskUsage {
                bytes: file,
                inodes: 1
            }
        );
        assert!(disk_usage(&dir.path().join("missing")).is_err());
        assert_eq!(files_in(dir.path()).unwrap(), [dir.path().join("b")]);
    }
}
