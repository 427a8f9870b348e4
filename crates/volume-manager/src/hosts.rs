//! The pod's `/etc/hosts` (`kl/kubelet_pods.go` `makeHostsMount`, `ensureHostsFile`): the
//! kubelet writes `pods/<uid>/etc-hosts` and mounts it at `/etc/hosts` in every container
//! that does not mount something there itself.

use k8s_openapi::api::core::v1::{HostAlias, Pod};

/// Where containers see the file.
pub const ETC_HOSTS_PATH: &str = "/etc/hosts";
/// The mount's name.
pub const ETC_HOSTS_MOUNT_NAME: &str = "k8s-managed-etc-hosts";

const MANAGED_HOSTS_HEADER: &str = "# Kubernetes-managed hosts file.\n";
const MANAGED_HOSTS_HEADER_WITH_HOST_NETWORK: &str =
    "# Kubernetes-managed hosts file (host network).\n";

/// `managedHostsFileContent`: localhost entries, each pod IP → hostname (with the FQDN
/// first when the pod has a subdomain), then the `hostAliases`.
///
/// ```
/// let text = volume_manager::hosts::managed_hosts_file_content(&["10.88.0.5".into()], "web", "", &[]);
/// assert!(text.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"));
/// assert!(text.ends_with("10.88.0.5\tweb\n"));
/// ```
pub fn managed_hosts_file_content(
    pod_ips: &[String],
    hostname: &str,
    host_domain: &str,
    host_aliases: &[HostAlias],
) -> String {
    let mut out = String::from(MANAGED_HOSTS_HEADER);
    out.push_str("127.0.0.1\tlocalhost\n");
    out.push_str("::1\tlocalhost ip6-localhost ip6-loopback\n");
    out.push_str("fe00::0\tip6-localnet\n");
    out.push_str("fe00::0\tip6-mcastprefix\n");
    out.push_str("fe00::1\tip6-allnodes\n");
    out.push_str("fe00::2\tip6-allrouters\n");
    for ip in pod_ips {
        if host_domain.is_empty() {
            out.push_str(&format!("{ip}\t{hostname}\n"));
        } else {
            out.push_str(&format!("{ip}\t{hostname}.{host_domain}\t{hostname}\n"));
        }
    }
    out.push_str(&host_alias_entries(host_aliases));
    out
}

/// `nodeHostsFileContent`: the node's own hosts file under a header, then the
/// `hostAliases` (for host-network pods).
pub fn node_hosts_file_content(node_hosts: &str, host_aliases: &[HostAlias]) -> String {
    let mut out = String::from(MANAGED_HOSTS_HEADER_WITH_HOST_NETWORK);
    out.push_str(node_hosts);
    out.push_str(&host_alias_entries(host_aliases));
    out
}

/// `hostsEntriesFromHostAliases`: one line per alias IP.
fn host_alias_entries(aliases: &[HostAlias]) -> String {
    if aliases.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n# Entries added by HostAliases.\n");
    for alias in aliases {
        let names = alias.hostnames.as_deref().unwrap_or(&[]).join("\t");
        out.push_str(&format!("{}\t{names}\n", alias.ip));
    }
    out
}

/// The pod's hostname and domain (`GeneratePodHostNameAndDomain`): `spec.hostname` or the
/// pod name, cut to 63 characters without a trailing `-` or `.`; the domain is
/// `<subdomain>.<namespace>.svc.<cluster domain>` when `spec.subdomain` is set.
pub fn pod_hostname_and_domain(pod: &Pod, cluster_domain: &str) -> (String, String) {
    let spec = pod.spec.as_ref();
    let name = pod.metadata.name.as_deref().unwrap_or("");
    let hostname = spec
        .and_then(|s| s.hostname.as_deref())
        .filter(|h| !h.is_empty())
        .unwrap_or(name);
    let hostname = if hostname.len() > 63 {
        hostname[..63].trim_end_matches(['-', '.']).to_owned()
    } else {
        hostname.to_owned()
    };
    let domain = match spec.and_then(|s| s.subdomain.as_deref()) {
        Some(sub) if !sub.is_empty() => format!(
            "{sub}.{}.svc.{cluster_domain}",
            pod.metadata.namespace.as_deref().unwrap_or("default")
        ),
        _ => String::new(),
    };
    (hostname, domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vo_17_hosts_file_content_is_the_kubelets() {
        let aliases = vec![HostAlias {
            ip: "10.1.2.3".into(),
            hostnames: Some(vec!["foo.local".into(), "bar.local".into()]),
        }];
        let text = managed_hosts_file_content(
            &["10.88.0.7".into()],
            "web",
            "sub.default.svc.cluster.local",
            &aliases,
        );
        assert_eq!(
            text,
            "# Kubernetes-managed hosts file.\n\
             127.0.0.1\tlocalhost\n\
             ::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\n\
             fe00::0\tip6-mcastprefix\n\
             fe00::1\tip6-allnodes\n\
             fe00::2\tip6-allrouters\n\
             10.88.0.7\tweb.sub.default.svc.cluster.local\tweb\n\
             \n\
             # Entries added by HostAliases.\n\
             10.1.2.3\tfoo.local\tbar.local\n"
        );
        let node = node_hosts_file_content("127.0.0.1 localhost\n", &[]);
        assert_eq!(
            node,
            "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n"
        );
    }
}
