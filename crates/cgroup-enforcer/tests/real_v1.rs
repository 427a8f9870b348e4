//! The hierarchy on this machine's real cgroup v1 controllers (reference §5.2, §5.5): pods
//! of each class land in the right cgroups with the right limits, the memory limit
//! OOM-kills a process that exceeds it, `pids.max` stops forks, and removal leaves nothing
//! behind in any controller.
//!
//! Each test uses its own cgroup root (`/nodelet-test-<pid>-<n>`), removed by a Drop guard
//! depth first in every controller, so tests never meet containerd's `/kubepods` or each
//! other. Without root or cgroup v1 the tests fail when `CI=true` and otherwise return
//! early with a note.

mod common;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cgroup_enforcer::backend::{CgroupMode, DEFAULT_CGROUP_MOUNT, detect_mode};
use cgroup_enforcer::{CgroupConfig, Cgroups, PodCgroupManager, ResourceOptions};
use common::*;

const BUSYBOX: &str = "/bin/busybox";

/// A unique cgroup root, removed (processes killed, directories removed depth first in
/// every controller) when dropped.
struct TestRoot {
    name: String,
    cgroups: Cgroups,
}

impl TestRoot {
    fn new() -> Option<TestRoot> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let missing = |what: &str| {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("real cgroup v1 test needs {what}");
            }
            eprintln!("note: skipping real cgroup v1 test: needs {what}");
            None
        };
        if !rustix::process::geteuid().is_root() {
            return missing("root");
        }
        match detect_mode(
            Path::new("/proc/self/mountinfo"),
            Path::new(DEFAULT_CGROUP_MOUNT),
        ) {
            Ok(CgroupMode::Legacy | CgroupMode::Hybrid) => {}
            _ => return missing("cgroup v1 controllers at /sys/fs/cgroup"),
        }
        if !Path::new(BUSYBOX).exists() {
            return missing(BUSYBOX);
        }
        let name = format!(
            "nodelet-test-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        );
        Some(TestRoot {
            name,
            cgroups: Cgroups::v1(DEFAULT_CGROUP_MOUNT),
        })
    }

    fn manager(&self, resources: ResourceOptions) -> PodCgroupManager {
        let config = CgroupConfig {
            cgroup_root: format!("/{}", self.name),
            resources,
            ..Default::default()
        };
        PodCgroupManager::new(config, Cgroups::v1(DEFAULT_CGROUP_MOUNT)).unwrap()
    }

    fn file(&self, controller: &str, rel: &str, file: &str) -> PathBuf {
        Path::new(DEFAULT_CGROUP_MOUNT)
            .join(controller)
            .join(&self.name)
            .join(rel)
            .join(file)
    }

    fn read(&self, controller: &str, rel: &str, file: &str) -> String {
        let path = self.file(controller, rel, file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .to_owned()
    }

    /// Every hierarchy where `rel` (under this root) still exists.
    fn leftovers(&self, rel: &str) -> Vec<PathBuf> {
        std::fs::read_dir(DEFAULT_CGROUP_MOUNT)
            .unwrap()
            .map(|e| e.unwrap().path().join(&self.name).join(rel))
            .filter(|p| p.exists())
            .collect()
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        if let Err(e) = self.cgroups.remove(Path::new(&self.name)) {
            eprintln!("cleaning up /{}: {e}", self.name);
        }
    }
}

/// A child that waits for a line on stdin before running `script`, so it can be moved
/// into a cgroup first. Killed and reaped on drop.
struct Script(Child);

impl Script {
    fn start(script: &str) -> Script {
        let child = Command::new(BUSYBOX)
            .args(["sh", "-c", &format!("read go; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Script(child)
    }

    fn go(&mut self) {
        writeln!(self.0.stdin.as_mut().unwrap(), "go").unwrap();
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn qs_04_real_qos_classes_land_in_their_cgroups_with_their_limits() {
    let Some(root) = TestRoot::new() else { return };
    let m = root.manager(ResourceOptions {
        pod_pids_limit: 50,
        ..Default::default()
    });
    let g = guaranteed("real-g", "500m", "64Mi");
    let b = pod(
        "burstable",
        "real-b",
        vec![container(
            "app",
            &[("cpu", "250m"), ("memory", "32Mi")],
            &[("cpu", "1"), ("memory", "128Mi")],
        )],
    );
    let e = best_effort("real-e");
    assert_eq!(
        m.ensure_pod(&g).unwrap(),
        format!("/{}/kubepods/podreal-g", root.name)
    );
    assert_eq!(
        m.ensure_pod(&b).unwrap(),
        format!("/{}/kubepods/burstable/podreal-b", root.name)
    );
    assert_eq!(
        m.ensure_pod(&e).unwrap(),
        format!("/{}/kubepods/besteffort/podreal-e", root.name)
    );

    let g_dir = "kubepods/podreal-g";
    assert_eq!(root.read("cpu", g_dir, "cpu.shares"), "512");
    assert_eq!(root.read("cpu", g_dir, "cpu.cfs_quota_us"), "50000");
    assert_eq!(root.read("cpu", g_dir, "cpu.cfs_period_us"), "100000");
    assert_eq!(
        root.read("memory", g_dir, "memory.limit_in_bytes"),
        (64 * MI).to_string()
    );
    assert_eq!(root.read("pids", g_dir, "pids.max"), "50");

    let b_dir = "kubepods/burstable/podreal-b";
    assert_eq!(root.read("cpu", b_dir, "cpu.shares"), "256");
    assert_eq!(root.read("cpu", b_dir, "cpu.cfs_quota_us"), "100000");
    assert_eq!(
        root.read("memory", b_dir, "memory.limit_in_bytes"),
        (128 * MI).to_string()
    );
    assert_eq!(root.read("pids", b_dir, "pids.max"), "50");
    assert_eq!(root.read("cpu", "kubepods/burstable", "cpu.shares"), "256");

    let e_dir = "kubepods/besteffort/podreal-e";
    assert_eq!(root.read("cpu", e_dir, "cpu.shares"), "2");
    assert_eq!(
        root.read("cpu", e_dir, "cpu.cfs_quota_us"),
        "-1",
        "kernel default: no quota"
    );
    // No memory limit: the kernel's "unlimited" value stays.
    let unlimited: u64 = root
        .read("memory", e_dir, "memory.limit_in_bytes")
        .parse()
        .unwrap();
    assert!(unlimited > 1 << 60, "{unlimited}");
    assert_eq!(root.read("cpu", "kubepods/besteffort", "cpu.shares"), "2");

    // Every controller has the pod cgroups; the cpuset ones can take processes.
    for dir in [g_dir, b_dir, e_dir] {
        for controller in [
            "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio",
        ] {
            assert!(
                root.file(controller, dir, "").is_dir(),
                "{controller}/{dir}"
            );
        }
        assert!(!root.read("cpuset", dir, "cpuset.cpus").is_empty());
    }
    let uids: Vec<String> = m.pod_uids().unwrap().into_iter().collect();
    assert_eq!(uids, ["real-b", "real-e", "real-g"]);

    // Removal, including a container cgroup the runtime would have left behind.
    std::fs::create_dir(root.file("memory", b_dir, "ctr-1")).unwrap();
    std::fs::create_dir(root.file("cpu", b_dir, "ctr-1")).unwrap();
    for pod in [&g, &b, &e] {
        m.remove_pod(pod).unwrap();
    }
    for dir in [g_dir, b_dir, e_dir] {
        assert_eq!(root.leftovers(dir), Vec::<PathBuf>::new());
    }
    assert!(m.pod_uids().unwrap().is_empty());
    assert_eq!(root.read("cpu", "kubepods/burstable", "cpu.shares"), "2");
}

#[test]
fn qs_10_real_a_process_over_the_memory_limit_is_oom_killed() {
    let Some(root) = TestRoot::new() else { return };
    let m = root.manager(ResourceOptions::default());
    let p = guaranteed("real-oom", "1", "32Mi");
    m.ensure_pod(&p).unwrap();
    let rel = m.relative_path(&m.pod_cgroup(&p).unwrap());

    // Control: a 8 MiB buffer fits.
    let mut fits = Script::start(&format!(
        "exec {BUSYBOX} dd if=/dev/zero of=/dev/null bs=8M count=4"
    ));
    m.cgroups().add_process(&rel, fits.0.id()).unwrap();
    fits.go();
    let status = fits.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(m.pod_stats(&p).unwrap().oom_kills.unwrap_or(0), 0);

    // A 64 MiB buffer does not: the kernel OOM killer takes the process.
    let mut grows = Script::start(&format!(
        "exec {BUSYBOX} dd if=/dev/zero of=/dev/null bs=64M count=1"
    ));
    m.cgroups().add_process(&rel, grows.0.id()).unwrap();
    grows.go();
    let status = grows.0.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    let stats = m.pod_stats(&p).unwrap();
    assert!(stats.oom_kills.unwrap_or(0) >= 1, "{stats:?}");
    assert!(stats.cpu_usage_ns.unwrap_or(0) > 0, "{stats:?}");

    m.remove_pod(&p).unwrap();
    assert_eq!(
        root.leftovers("kubepods/podreal-oom"),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn qs_18_real_pids_max_stops_forks_and_removal_kills_what_is_left() {
    let Some(root) = TestRoot::new() else { return };
    let m = root.manager(ResourceOptions {
        pod_pids_limit: 5,
        ..Default::default()
    });
    let p = best_effort("real-pids");
    m.ensure_pod(&p).unwrap();
    let rel = m.relative_path(&m.pod_cgroup(&p).unwrap());
    assert_eq!(
        root.read("pids", "kubepods/besteffort/podreal-pids", "pids.max"),
        "5"
    );

    let mut script = Script::start(&format!(
        "for i in 1 2 3 4 5 6 7 8 9 10; do {BUSYBOX} sleep 60 & done; read done"
    ));
    m.cgroups().add_process(&rel, script.0.id()).unwrap();
    script.go();
    // Wait until the loop has run into the limit.
    let events = root.file("pids", "kubepods/besteffort/podreal-pids", "pids.events");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&events).unwrap();
        let refused: u64 = text
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if refused > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no fork was refused: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = m.pod_stats(&p).unwrap();
    assert_eq!(stats.pids_current, Some(5), "{stats:?}");
    // pids.current also counts a task still being forked or reaped; the listed processes
    // never exceed the limit.
    let procs = m.cgroups().procs(&rel).unwrap();
    assert!((1..=5).contains(&procs.len()), "{procs:?}");

    // busybox sh gives up at the refused fork; its sleeps keep running inside the pod
    // cgroup, and remove_pod kills them before removing it.
    let status = script.0.wait().unwrap();
    m.remove_pod(&p).unwrap();
    // The sleeps held the shell's stderr open until they were killed.
    let mut stderr = String::new();
    std::io::Read::read_to_string(script.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("fork"), "{status:?}: {stderr}");
    for pid in procs {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().and_then(|r| r.chars().next());
        assert!(
            matches!(state, None | Some('Z')),
            "process {pid} survived: {stat}"
        );
    }
    assert_eq!(
        root.leftovers("kubepods/besteffort/podreal-pids"),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn the_guard_removes_everything_under_the_test_root() {
    let Some(root) = TestRoot::new() else { return };
    let m = root.manager(ResourceOptions::default());
    m.ensure_pod(&burstable("real-left", "100m", "16Mi"))
        .unwrap();
    let name = root.name.clone();
    drop(root);
    let left: Vec<PathBuf> = std::fs::read_dir(DEFAULT_CGROUP_MOUNT)
        .unwrap()
        .map(|e| e.unwrap().path().join(&name))
        .filter(|p| p.exists())
        .collect();
    assert_eq!(left, Vec::<PathBuf>::new());
}

/// EV-05's early warning: a memory threshold armed on a real v1 memory cgroup fires when a
/// process in it allocates past the threshold, and not before.
#[test]
fn ev_05_real_memcg_threshold_notification_fires_when_usage_crosses_it() {
    use cgroup_enforcer::memcg::MemoryThresholdNotifier;
    let Some(root) = TestRoot::new() else { return };
    let m = root.manager(ResourceOptions::default());
    let p = best_effort("real-memcg");
    m.ensure_pod(&p).unwrap();
    let rel = m.relative_path(&m.pod_cgroup(&p).unwrap());
    let dir = Path::new(DEFAULT_CGROUP_MOUNT).join("memory").join(&rel);
    let usage: u64 = std::fs::read_to_string(dir.join("memory.usage_in_bytes"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let notifier = MemoryThresholdNotifier::arm(&dir, usage + (16 << 20))
        .unwrap()
        .expect("a v1 memory cgroup takes thresholds");
    assert!(
        !notifier.wait(Duration::from_millis(200)).unwrap(),
        "nothing crossed yet"
    );
    // A 64 MiB buffer in the cgroup crosses the 16 MiB line.
    let mut grows = Script::start(&format!(
        "exec {BUSYBOX} dd if=/dev/zero of=/dev/null bs=64M count=1"
    ));
    m.cgroups().add_process(&rel, grows.0.id()).unwrap();
    let started = Instant::now();
    grows.go();
    assert!(
        notifier.wait(Duration::from_secs(10)).unwrap(),
        "the crossing is notified"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let status = grows.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    drop(notifier);
    m.remove_pod(&p).unwrap();
}
