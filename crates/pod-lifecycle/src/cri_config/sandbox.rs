//! The `RunPodSandbox` config (`kuberuntime_sandbox.go` `generatePodSandboxConfig`).

use super::dns::pod_dns_config;
use super::security::sandbox_security_context;
use super::{FieldError, host_network, pod_name, pod_namespace, pod_spec, pod_uid};
use crate::Result;
use crate::labels;
use container_logs::{DEFAULT_POD_LOGS_DIR, pod_log_dir};
use cri_client::v1;
use k8s_openapi::api::core::v1::{Container, Pod};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Node-level settings the sandbox config depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxOptions {
    /// Root of the pod log directories (the kubelet's `podLogsDir`, default
    /// `/var/log/pods`).
    pub pod_logs_dir: PathBuf,
    /// The pod's cgroup, from the cgroup manager (`GetPodCgroupParent`); `None` leaves it to
    /// the runtime.
    pub cgroup_parent: Option<String>,
    /// The cluster DNS server IPs (the kubelet's `clusterDNS`); empty means none, and
    /// `ClusterFirst` pods then get the node's DNS.
    pub cluster_dns: Vec<String>,
    /// The cluster domain (the kubelet's `clusterDomain`, e.g. `cluster.local`); empty
    /// adds no cluster search domains.
    pub cluster_domain: String,
    /// The node's resolv.conf (see [`parse_resolv_conf`](super::parse_resolv_conf)), for
    /// `dnsPolicy: Default` and the cluster search list. `None` when unknown: a pod that
    /// adds nothing of its own then gets no `dns_config`, and the runtime copies the node's
    /// `/etc/resolv.conf` itself.
    pub host_dns: Option<v1::DnsConfig>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            pod_logs_dir: PathBuf::from(DEFAULT_POD_LOGS_DIR),
            cgroup_parent: None,
            cluster_dns: Vec::new(),
            cluster_domain: String::new(),
            host_dns: None,
        }
    }
}

/// The kubelet's `RunPodSandbox` config for `pod`; `attempt` counts the pod's sandboxes
/// (0 for the first, +1 for each one created to replace it).
///
/// - metadata: name, namespace, uid, attempt;
/// - `hostname`: `spec.hostnameOverride`, else `spec.hostname`, else the pod name, cut to
///   63 characters (trailing `-`/`.` trimmed) and with the subdomain FQDN when
///   `setHostnameAsFQDN`; **none** for a host-network pod, which uses the node's hostname
///   (runc refuses a hostname without a UTS namespace of its own);
/// - `log_directory`: `<pod_logs_dir>/<ns>_<name>_<uid>` (CRI-14);
/// - labels: the pod's labels plus `io.kubernetes.pod.{name,namespace,uid}`;
///   annotations: the pod's annotations;
/// - `dns_config`: by `dnsPolicy`: the cluster DNS servers with the
///   `<ns>.svc.<domain>`, `svc.<domain>`, `<domain>` searches and `ndots:5` for
///   `ClusterFirst` (the node's DNS when no cluster DNS is configured, or on the host
///   network), the node's for `Default`, nothing but `spec.dnsConfig` for `None`; then
///   `spec.dnsConfig` merged in and the result cut to the resolver's limits (3 servers,
///   32 searches);
/// - port mappings: every port of every regular container (the runtime maps those with a
///   `hostPort`), deduplicated like `MakePortMappings`;
/// - linux: `cgroup_parent`, sysctls, namespaces (network `NODE` for `hostNetwork`; PID
///   `NODE` for `hostPID`, `POD` for `shareProcessNamespace`, else `CONTAINER`; IPC `NODE`
///   for `hostIPC`), `runAsUser`/`runAsGroup`, `fsGroup` + supplemental groups, SELinux,
///   privileged when any container is, seccomp `RuntimeDefault`.
///
/// Left out, as the runtime does without them: pod-level resources and overhead
/// (`Linux.resources`/`overhead`), user namespaces (`hostUsers: false`), Windows.
///
/// ```
/// use k8s_openapi::api::core::v1::{Pod, PodSpec};
/// use pod_lifecycle::cri_config::{SandboxOptions, sandbox_config};
///
/// let mut pod = Pod { spec: Some(PodSpec::default()), ..Default::default() };
/// pod.metadata.name = Some("web".into());
/// pod.metadata.namespace = Some("prod".into());
/// pod.metadata.uid = Some("1234".into());
/// let config = sandbox_config(&pod, 0, &SandboxOptions::default())?;
/// assert_eq!(config.hostname, "web");
/// assert_eq!(config.labels["io.kubernetes.pod.uid"], "1234");
/// # Ok::<(), pod_lifecycle::Error>(())
/// ```
pub fn sandbox_config(
    pod: &Pod,
    attempt: u32,
    opts: &SandboxOptions,
) -> Result<v1::PodSandboxConfig> {
    // First, so a pod whose identity cannot name its log directory gets nothing at all.
    let log_directory = pod_log_dir(&opts.pod_logs_dir, pod)?;
    build(pod, attempt, opts, &log_directory).map_err(|e| e.for_pod(pod))
}

fn build(
    pod: &Pod,
    attempt: u32,
    opts: &SandboxOptions,
    log_directory: &std::path::Path,
) -> Result<v1::PodSandboxConfig, FieldError> {
    let spec = pod_spec(pod);
    let hostname = if host_network(pod) {
        String::new()
    } else {
        pod_hostname(pod, &opts.cluster_domain)?
    };

    let mut labels: HashMap<String, String> = pod
        .metadata
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(labels::POD_NAME.into(), pod_name(pod).into());
    labels.insert(labels::POD_NAMESPACE.into(), pod_namespace(pod).into());
    labels.insert(labels::POD_UID.into(), pod_uid(pod).into());
    let annotations = pod
        .metadata
        .annotations
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let mut port_mappings = Vec::new();
    for (i, container) in spec.containers.iter().enumerate() {
        port_mappings.extend(container_port_mappings(container).map_err(|e| {
            FieldError::new(format!("spec.containers[{i}].{}", e.field), e.message)
        })?);
    }

    let sysctls = spec
        .security_context
        .iter()
        .flat_map(|sc| sc.sysctls.iter().flatten())
        .map(|s| (s.name.clone(), s.value.clone()))
        .collect();

    Ok(v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: pod_name(pod).into(),
            uid: pod_uid(pod).into(),
            namespace: pod_namespace(pod).into(),
            attempt,
        }),
        hostname,
        log_directory: log_directory.to_string_lossy().into_owned(),
        dns_config: pod_dns_config(pod, opts)?,
        port_mappings,
        labels,
        annotations,
        linux: Some(v1::LinuxPodSandboxConfig {
            cgroup_parent: opts.cgroup_parent.clone().unwrap_or_default(),
            security_context: Some(sandbox_security_context(pod)?),
            sysctls,
            ..Default::default()
        }),
        windows: None,
    })
}

/// `GeneratePodHostNameAndDomain` + `GetNodenameForKernel`.
fn pod_hostname(pod: &Pod, cluster_domain: &str) -> Result<String, FieldError> {
    let spec = pod.spec.as_ref();
    if let Some(name) = spec.and_then(|s| s.hostname_override.as_deref()) {
        if !is_dns1123_subdomain(name) {
            return Err(FieldError::new(
                "spec.hostnameOverride",
                format!("pod HostnameOverride {name:?} is not a valid DNS subdomain"),
            ));
        }
        return truncate_hostname(pod, name);
    }
    let hostname = match spec.and_then(|s| s.hostname.as_deref()) {
        Some(h) if !h.is_empty() => {
            if !is_dns1123_label(h) {
                return Err(FieldError::new(
                    "spec.hostname",
                    format!("pod Hostname {h:?} is not a valid DNS label"),
                ));
            }
            h
        }
        _ => pod_name(pod),
    };
    let hostname = truncate_hostname(pod, hostname)?;
    let subdomain = spec
        .and_then(|s| s.subdomain.as_deref())
        .unwrap_or_default();
    if subdomain.is_empty() || spec.and_then(|s| s.set_hostname_as_fqdn) != Some(true) {
        return Ok(hostname);
    }
    if !is_dns1123_label(subdomain) {
        return Err(FieldError::new(
            "spec.subdomain",
            format!("pod Subdomain {subdomain:?} is not a valid DNS label"),
        ));
    }
    // The kernel's nodename field holds 64 characters.
    let fqdn = format!(
        "{hostname}.{subdomain}.{}.svc.{cluster_domain}",
        pod_namespace(pod)
    );
    if fqdn.len() > 64 {
        return Err(FieldError::new(
            "spec.setHostnameAsFQDN",
            format!(
                "failed to construct FQDN from pod hostname and cluster domain, FQDN {fqdn} is too long (64 characters is the max, {} characters requested)",
                fqdn.len()
            ),
        ));
    }
    Ok(fqdn)
}

/// `truncatePodHostnameIfNeeded`: at most 63 characters, no trailing `-` or `.`.
fn truncate_hostname(pod: &Pod, hostname: &str) -> Result<String, FieldError> {
    const MAX: usize = 63;
    if hostname.len() <= MAX {
        return Ok(hostname.to_owned());
    }
    let mut cut = MAX;
    while !hostname.is_char_boundary(cut) {
        cut -= 1;
    }
    let truncated = hostname[..cut].trim_end_matches(['-', '.']);
    if truncated.is_empty() {
        return Err(FieldError::new(
            "spec.hostname",
            format!(
                "hostname for pod {:?} was invalid: {hostname:?}",
                pod_name(pod)
            ),
        ));
    }
    Ok(truncated.to_owned())
}

fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// A container's port mappings (`MakePortMappings` + `toRuntimeProtocol`), refusing ports
/// out of range. Field paths are relative to the container.
pub(crate) fn container_port_mappings(
    container: &Container,
) -> Result<Vec<v1::PortMapping>, FieldError> {
    let mut seen = HashSet::new();
    let mut mappings = Vec::new();
    for (j, port) in container.ports.iter().flatten().enumerate() {
        if !(1..=65535).contains(&port.container_port) {
            return Err(FieldError::new(
                format!("ports[{j}].containerPort"),
                format!(
                    "invalid port {}: must be between 1 and 65535, inclusive",
                    port.container_port
                ),
            ));
        }
        let host_port = port.host_port.unwrap_or(0);
        if !(0..=65535).contains(&host_port) {
            return Err(FieldError::new(
                format!("ports[{j}].hostPort"),
                format!("invalid port {host_port}: must be between 1 and 65535, inclusive"),
            ));
        }
        let protocol = port.protocol.as_deref().unwrap_or_default();
        let host_ip = port.host_ip.as_deref().unwrap_or_default();
        // A port listed twice under one name is mapped once; unnamed ports are told apart
        // by address family, protocol, host IP and both port numbers.
        let key = match port.name.as_deref() {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => {
                let family = if host_ip.is_empty() {
                    "any"
                } else if host_ip.parse::<std::net::Ipv6Addr>().is_ok() {
                    "v6"
                } else {
                    "v4"
                };
                format!(
                    "{family}-{protocol}-{host_ip}:{}:{host_port}",
                    port.container_port
                )
            }
        };
        if !seen.insert(key) {
            continue;
        }
        // Unknown protocols are sent as TCP, as the kubelet does (with a warning).
        let protocol = match protocol {
            "UDP" => v1::Protocol::Udp,
            "SCTP" => v1::Protocol::Sctp,
            _ => v1::Protocol::Tcp,
        };
        mappings.push(v1::PortMapping {
            protocol: protocol as i32,
            container_port: port.container_port,
            host_port,
            host_ip: host_ip.to_owned(),
        });
    }
    Ok(mappings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(is_dns1123_label("web-0"));
        assert!(!is_dns1123_label("Web"));
        assert!(!is_dns1123_label("-web"));
        assert!(!is_dns1123_label("web-"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("a.b-c.d"));
        assert!(!is_dns1123_subdomain("a..b"));
    }
}
