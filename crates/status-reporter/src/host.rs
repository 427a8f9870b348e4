//! Facts about the host that do not change while the agent runs: identity files, kernel, OS
//! image, hostname, architecture, and the node's address.
//!
//! The kubelet gets these from cAdvisor (`machine/info.go`, `utils/sysfs`,
//! `machine/operatingsystem_unix.go`) and from `nodestatus.NodeAddress`. Every reader takes the
//! root it reads under, so tests use a temporary tree.

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs as _};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::NodeAddress;

use crate::error::{Error, Result};

/// The identity and software of the machine, for `status.nodeInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostInfo {
    /// `machineID`: `/etc/machine-id` (or `/var/lib/dbus/machine-id`).
    pub machine_id: String,
    /// `systemUUID`: `/sys/class/dmi/id/product_uuid` when readable (root only on most
    /// machines), else the device-tree ids of POWER machines, else `/etc/machine-id` (cAdvisor's
    /// s390x fallback, which it applies on every architecture).
    pub system_uuid: String,
    /// `bootID`: `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
    /// `kernelVersion`: the kernel release (`uname -r`, `/proc/sys/kernel/osrelease`).
    pub kernel_version: String,
    /// `osImage`: `PRETTY_NAME` of `/etc/os-release` (or `/usr/lib/os-release`), `Linux`
    /// without one.
    pub os_image: String,
}

impl HostInfo {
    /// Reads the host's files under `/`.
    pub fn read() -> Result<HostInfo> {
        HostInfo::read_from(Path::new("/"))
    }

    /// Reads the files under `root` (a test tree shaped like `/`). A missing identity file
    /// gives an empty value, as cAdvisor does; the kernel release must be readable.
    pub fn read_from(root: &Path) -> Result<HostInfo> {
        let first_of = |paths: &[&str]| -> String {
            paths
                .iter()
                .find_map(|path| std::fs::read_to_string(under(root, path)).ok())
                .map(|text| {
                    text.trim_matches(|c: char| c.is_whitespace() || c == '\0')
                        .to_owned()
                })
                .unwrap_or_default()
        };
        let kernel_path = under(root, "/proc/sys/kernel/osrelease");
        let kernel_version = std::fs::read_to_string(&kernel_path)
            .map_err(|source| Error::Host {
                path: kernel_path,
                source,
            })?
            .trim()
            .to_owned();
        let os_release = ["/etc/os-release", "/usr/lib/os-release"]
            .iter()
            .find_map(|path| std::fs::read_to_string(under(root, path)).ok());
        Ok(HostInfo {
            machine_id: first_of(&["/etc/machine-id", "/var/lib/dbus/machine-id"]),
            system_uuid: first_of(&[
                "/sys/class/dmi/id/product_uuid",
                "/proc/device-tree/system-id",
                "/proc/device-tree/vm,uuid",
                // cAdvisor's s390x fallback.
                "/etc/machine-id",
            ]),
            boot_id: first_of(&["/proc/sys/kernel/random/boot_id"]),
            kernel_version,
            os_image: os_release
                .as_deref()
                .map_or_else(|| "Linux".to_owned(), pretty_name),
        })
    }
}

fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// `PRETTY_NAME` of an os-release text, quotes removed; `Linux` without one (cAdvisor's
/// `getOperatingSystem`).
fn pretty_name(text: &str) -> String {
    text.lines()
        .find_map(|line| line.trim().strip_prefix("PRETTY_NAME="))
        .map(|value| value.trim().trim_matches('"').trim_matches('\'').to_owned())
        .unwrap_or_else(|| "Linux".to_owned())
}

/// The host's name, lower case, as the kubelet's default node name and `kubernetes.io/hostname`
/// (`nodeutil.GetHostname`): `/proc/sys/kernel/hostname`.
pub fn system_hostname() -> Result<String> {
    let path = PathBuf::from("/proc/sys/kernel/hostname");
    let name = std::fs::read_to_string(&path).map_err(|source| Error::Host { path, source })?;
    Ok(name.trim().to_lowercase())
}

/// The operating system as Go's `GOOS` names it (`linux`), for `kubernetes.io/os` and
/// `nodeInfo.operatingSystem`.
pub fn go_os() -> &'static str {
    std::env::consts::OS
}

/// The architecture as Go's `GOARCH` names it (`amd64`, `arm64`), for `kubernetes.io/arch`
/// and `nodeInfo.architecture`: images and node selectors use Go's names.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        "mips64" => "mips64",
        other => other,
    }
}

/// Why an address cannot be a node IP (`validateNodeIP`), or `None` when it can.
fn node_ip_problem(ip: IpAddr, host_addresses: &[IpAddr]) -> Option<String> {
    if ip.is_loopback() {
        return Some("nodeIP can't be loopback address".into());
    }
    if ip.is_multicast() {
        return Some("nodeIP can't be a multicast address".into());
    }
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    if link_local {
        return Some("nodeIP can't be a link-local unicast address".into());
    }
    if ip.is_unspecified() {
        return Some("nodeIP can't be an all zeros address".into());
    }
    if !host_addresses.contains(&ip) {
        return Some(format!(
            "node IP: {ip:?} not found in the host's network interfaces"
        ));
    }
    None
}

/// The addresses of the host's interfaces, by interface name.
fn interface_addresses() -> Vec<(String, IpAddr)> {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addresses
        .filter_map(|a| {
            let address = a.address?;
            let ip = if let Some(v4) = address.as_sockaddr_in() {
                IpAddr::V4(v4.ip())
            } else {
                IpAddr::V6(address.as_sockaddr_in6()?.ip())
            };
            Some((a.interface_name, ip))
        })
        .collect()
}

/// Checks configured node IPs as the kubelet does before using them (`validateNodeIP`): not
/// loopback, multicast or link-local, and on one of the host's interfaces. An unspecified
/// address (`0.0.0.0`, `::`) means "detect one" and is not checked.
pub fn validate_node_ips(node: &str, ips: &[IpAddr]) -> Result<()> {
    let ips: Vec<&IpAddr> = ips.iter().filter(|ip| !ip.is_unspecified()).collect();
    if ips.is_empty() {
        return Ok(());
    }
    let host: Vec<IpAddr> = interface_addresses()
        .into_iter()
        .map(|(_, ip)| ip)
        .collect();
    for ip in ips {
        if let Some(problem) = node_ip_problem(*ip, &host) {
            return Err(Error::InvalidNodeIp {
                node: node.to_owned(),
                ip: *ip,
                problem,
            });
        }
    }
    Ok(())
}

/// `status.addresses` as the kubelet's `NodeAddress` setter computes it without a cloud
/// provider: the node IPs (`--node-ip`, at most two: one per family) when given, else one
/// detected InternalIP, then the Hostname.
///
/// Detection, in the kubelet's order: the hostname when it is an IP; the node name's DNS
/// addresses that are valid node IPs (IPv4 preferred); the address of the interface of the
/// default route (`utilnet.ResolveBindAddress` / `ChooseHostInterface`, IPv4 routes from
/// `/proc/net/route`). This blocks on DNS: call it from a blocking context.
pub fn node_addresses(
    node_name: &str,
    hostname: &str,
    node_ips: &[IpAddr],
) -> Result<Vec<NodeAddress>> {
    let internal = |ip: &IpAddr| NodeAddress {
        type_: "InternalIP".to_owned(),
        address: ip.to_string(),
    };
    let hostname_address = NodeAddress {
        type_: "Hostname".to_owned(),
        address: hostname.to_owned(),
    };
    let specified: Vec<&IpAddr> = node_ips.iter().filter(|ip| !ip.is_unspecified()).collect();
    if !specified.is_empty() {
        validate_node_ips(node_name, node_ips)?;
        let mut addresses: Vec<NodeAddress> = specified.into_iter().take(2).map(internal).collect();
        addresses.push(hostname_address);
        return Ok(addresses);
    }
    let detected = detect_node_ip(node_name, hostname).ok_or_else(|| Error::NoNodeAddress {
        node: node_name.to_owned(),
        problem: format!(
            "the hostname {hostname:?} is not an IP, the node name has no usable DNS address, \
             and no default route has an interface with an address"
        ),
    })?;
    Ok(vec![internal(&detected), hostname_address])
}

fn detect_node_ip(node_name: &str, hostname: &str) -> Option<IpAddr> {
    if let Ok(ip) = hostname.parse::<IpAddr>() {
        return Some(ip);
    }
    let interfaces = interface_addresses();
    let host: Vec<IpAddr> = interfaces.iter().map(|(_, ip)| *ip).collect();
    let mut resolved: Vec<IpAddr> = (node_name, 0)
        .to_socket_addrs()
        .map(|addrs| addrs.map(|a| a.ip()).collect())
        .unwrap_or_default();
    resolved.retain(|ip| node_ip_problem(*ip, &host).is_none());
    if let Some(ip) = resolved.iter().find(|ip| ip.is_ipv4()).or(resolved.first()) {
        return Some(*ip);
    }
    let route = std::fs::read_to_string("/proc/net/route").ok()?;
    let interface = default_route_interface(&route)?;
    interfaces.iter().find_map(|(name, ip)| match ip {
        IpAddr::V4(v4) if *name == interface && usable_v4(*v4) => Some(*ip),
        _ => None,
    })
}

fn usable_v4(ip: Ipv4Addr) -> bool {
    !(ip.is_loopback() || ip.is_link_local() || ip.is_unspecified() || ip.is_multicast())
}

/// The interface of the first IPv4 default route in `/proc/net/route` (destination 0 with the
/// gateway flag).
fn default_route_interface(route: &str) -> Option<String> {
    route.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (interface, destination, flags) = (fields.first()?, fields.get(1)?, fields.get(3)?);
        let flags = u32::from_str_radix(flags, 16).ok()?;
        // RTF_UP | RTF_GATEWAY
        (*destination == "00000000" && flags & 0x3 == 0x3).then(|| (*interface).to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_host_tree() {
        let root = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = under(root.path(), path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("/etc/machine-id", "abc123\n");
        write("/sys/class/dmi/id/product_uuid", "UUID-1\n");
        write("/proc/sys/kernel/random/boot_id", "boot-1\n");
        write("/proc/sys/kernel/osrelease", "6.1.0-test\n");
        write(
            "/etc/os-release",
            "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        );
        let info = HostInfo::read_from(root.path()).unwrap();
        assert_eq!(
            info,
            HostInfo {
                machine_id: "abc123".into(),
                system_uuid: "UUID-1".into(),
                boot_id: "boot-1".into(),
                kernel_version: "6.1.0-test".into(),
                os_image: "Debian GNU/Linux 12 (bookworm)".into(),
            }
        );
    }

    #[test]
    fn missing_identity_files_are_empty_and_os_defaults_to_linux() {
        let root = tempfile::tempdir().unwrap();
        let path = under(root.path(), "/proc/sys/kernel/osrelease");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "6.1\n").unwrap();
        let info = HostInfo::read_from(root.path()).unwrap();
        assert_eq!(info.machine_id, "");
        assert_eq!(info.system_uuid, "");
        assert_eq!(info.os_image, "Linux");
        assert!(HostInfo::read_from(&root.path().join("nothing")).is_err());
    }

    #[test]
    fn default_route_is_found() {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                     br0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\n\
                     eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n";
        assert_eq!(default_route_interface(route).as_deref(), Some("eth0"));
        assert_eq!(default_route_interface("Iface\n"), None);
    }

    #[test]
    fn node_ip_rules() {
        let host = ["192.0.2.2".parse().unwrap()];
        assert!(node_ip_problem("127.0.0.1".parse().unwrap(), &host).is_some());
        assert!(node_ip_problem("169.254.1.1".parse().unwrap(), &host).is_some());
        assert!(node_ip_problem("0.0.0.0".parse().unwrap(), &host).is_some());
        assert!(node_ip_problem("224.0.0.1".parse().unwrap(), &host).is_some());
        assert!(node_ip_problem("192.0.2.9".parse().unwrap(), &host).is_some());
        assert!(node_ip_problem("192.0.2.2".parse().unwrap(), &host).is_none());
    }

    #[test]
    fn go_names() {
        assert_eq!(go_os(), "linux");
        assert!(!go_arch().is_empty());
        if cfg!(target_arch = "x86_64") {
            assert_eq!(go_arch(), "amd64");
        }
    }

    #[test]
    fn configured_node_ips_are_checked() {
        assert!(validate_node_ips("n", &["0.0.0.0".parse().unwrap()]).is_ok());
        assert!(matches!(
            validate_node_ips("n", &["127.0.0.1".parse().unwrap()]),
            Err(Error::InvalidNodeIp { .. })
        ));
        assert!(matches!(
            validate_node_ips("n", &["192.0.2.250".parse().unwrap()]),
            Err(Error::InvalidNodeIp { .. })
        ));
    }

    #[test]
    fn hostname_ip_is_used() {
        let addresses = node_addresses("n", "192.0.2.77", &[]).unwrap();
        assert_eq!(addresses[0].type_, "InternalIP");
        assert_eq!(addresses[0].address, "192.0.2.77");
        assert_eq!(addresses[1].type_, "Hostname");
    }
}
