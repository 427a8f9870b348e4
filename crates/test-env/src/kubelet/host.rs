//! What the kubelet would change on the host, kept inside the kubelet's own mount namespace.
//!
//! The kubelet assumes it owns the machine. Started as it is, on the machines of
//! `cargo xtask setup` it would
//!
//! - set six kernel tunables for the whole machine (`setupKernelTunables` in
//!   `pkg/kubelet/cm/container_manager_linux.go`: `vm.overcommit_memory=1`,
//!   `vm.panic_on_oom=0`, `kernel.panic=10`, `kernel.panic_on_oops=1`,
//!   `kernel.keys.root_maxkeys=1000000`, `kernel.keys.root_maxbytes=25000000`; with
//!   `protectKernelDefaults: true` it refuses to start instead). Here three of them differ
//!   from the machine's, and `kernel.panic_on_oops=1` on a machine every test shares is not
//!   a test's call;
//! - create `/var/lib/kubelet/device-plugins/kubelet.sock` (the device manager's socket is a
//!   constant, not under `--root-dir`) and `/var/log/containers` (the legacy log symlinks,
//!   also a constant);
//! - add `KUBE-IPTABLES-HINT`, `KUBE-KUBELET-CANARY` and `KUBE-FIREWALL` chains to the
//!   machine's iptables and keep them there (`pkg/kubelet/kubelet_network_linux.go`, "for
//!   the benefit of other components"; it skips them when there is no `iptables`).
//!
//! None of these changes what a pod does. So the runner starts the kubelet through
//! `unshare --mount --propagation unchanged`, and in that new mount namespace, before
//! `exec`ing the kubelet, bind-mounts files holding the kubelet's own values over the six
//! `/proc/sys` files (the kubelet reads what it wants and writes nothing) and mounts a
//! tmpfs over `/var/lib` and `/var/log`; its `PATH` leaves out directories holding
//! `iptables`. The namespace dies with the kubelet.
//!
//! The kubelet's volume mounts must still reach containerd, which runs in the host's
//! namespace: the runner bind-mounts the root directory onto itself and makes it `rshared`
//! in the host's namespace first (what the kubelet does itself at start-up, `MakeRShared`
//! in `setupDataDirs`), so the copy in the kubelet's namespace is a peer and every tmpfs
//! the kubelet mounts below it (secrets, memory-backed emptyDirs) propagates to the host.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The kernel tunables the kubelet checks, with the values it wants, as paths under
/// `/proc/sys` (`setupKernelTunables`, `pkg/kubelet/cm/container_manager_linux.go`, with the
/// values of `k8s.io/component-helpers/node/util/sysctl`).
pub const KERNEL_TUNABLES: [(&str, &str); 6] = [
    ("vm/overcommit_memory", "1"),
    ("vm/panic_on_oom", "0"),
    ("kernel/panic", "10"),
    ("kernel/panic_on_oops", "1"),
    ("kernel/keys/root_maxkeys", "1000000"),
    ("kernel/keys/root_maxbytes", "25000000"),
];

/// The directories hidden under a tmpfs in the kubelet's namespace.
pub const HIDDEN_DIRS: [&str; 2] = ["/var/lib", "/var/log"];

/// The script `sh` runs in the new namespace: `$1` is the directory of tunable files, the
/// rest the kubelet's command line.
const PRELUDE: &str = r#"set -e
tunables="$1"; shift
for f in vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
  mount --bind "$tunables/$f" "/proc/sys/$f"
done
for d in /var/lib /var/log; do
  mount -t tmpfs -o mode=0755 nodelet-kubelet "$d"
done
exec "$@"
"#;

/// Writes the tunable files under `dir` (`dir/vm/overcommit_memory`, ...).
pub fn write_tunables(dir: &Path) -> std::io::Result<()> {
    for (name, value) in KERNEL_TUNABLES {
        let file = dir.join(name);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, format!("{value}\n"))?;
    }
    Ok(())
}

/// The command that runs `kubelet` with `args` in a mount namespace of its own (see the
/// module docs), with the tunable files of [`write_tunables`] in `tunables`. The process is
/// the kubelet itself once it runs (`unshare` and `sh` `exec` it), so a signal to the
/// child's pid reaches the kubelet.
pub fn command(kubelet: &Path, args: &[OsString], tunables: &Path) -> Command {
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "--propagation",
            "unchanged",
            "--",
            "sh",
            "-c",
            PRELUDE,
            "sh",
        ])
        .arg(tunables)
        .arg(kubelet)
        .args(args)
        .env(
            "PATH",
            path_without_iptables(&std::env::var_os("PATH").unwrap_or_default()),
        );
    command
}

/// `path` (a `PATH` value) without the directories that hold `iptables` or `ip6tables`;
/// the standard directories when nothing is left.
pub fn path_without_iptables(path: &std::ffi::OsStr) -> OsString {
    let kept: Vec<PathBuf> = std::env::split_paths(path)
        .filter(|dir| {
            !["iptables", "ip6tables"]
                .iter()
                .any(|b| dir.join(b).exists())
        })
        .collect();
    if kept.is_empty() {
        return OsString::from("/usr/local/bin:/usr/bin:/bin");
    }
    std::env::join_paths(kept).unwrap_or_else(|_| OsString::from("/usr/local/bin:/usr/bin:/bin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prelude_binds_every_tunable() {
        for (name, _) in KERNEL_TUNABLES {
            assert!(PRELUDE.contains(name), "{name} is not bound");
        }
        for dir in HIDDEN_DIRS {
            assert!(PRELUDE.contains(dir), "{dir} is not hidden");
        }
    }

    #[test]
    fn tunable_files_hold_the_kubelets_values() {
        let dir = tempfile::tempdir().unwrap();
        write_tunables(dir.path()).unwrap();
        let panic = std::fs::read_to_string(dir.path().join("kernel/panic")).unwrap();
        assert_eq!(panic, "10\n");
    }

    #[test]
    fn directories_with_iptables_leave_the_path() {
        let with = tempfile::tempdir().unwrap();
        let without = tempfile::tempdir().unwrap();
        std::fs::write(with.path().join("iptables"), "").unwrap();
        let path = std::env::join_paths([with.path(), without.path()]).unwrap();
        assert_eq!(path_without_iptables(&path), without.path().as_os_str());
        assert_eq!(
            path_without_iptables(with.path().as_os_str()),
            "/usr/local/bin:/usr/bin:/bin"
        );
    }
}
