//! The sandbox's DNS config (`pkg/kubelet/network/dns/dns.go` `GetPodDNS`), kept simple.
//!
//! | `dnsPolicy` | servers, searches, options |
//! |---|---|
//! | `ClusterFirst` (default), not host network; `ClusterFirstWithHostNet` | the cluster DNS servers; `<ns>.svc.<domain>`, `svc.<domain>`, `<domain>`, then the node's searches; `ndots:5` |
//! | the above without cluster DNS configured | like `Default` (the kubelet falls back and emits an event) |
//! | `Default`, or `ClusterFirst` on the host network | the node's resolv.conf ([`SandboxOptions::host_dns`]) |
//! | `None` | nothing but `spec.dnsConfig` |
//!
//! `spec.dnsConfig` is then merged in: nameservers and searches appended without
//! duplicates, options merged by name (the pod's value wins). The result is cut to the
//! resolver's limits like the kubelet does: 3 nameservers, 32 search domains of at most
//! 253 characters, a search line of at most 2048 characters.
//!
//! Without `host_dns` the node's resolv.conf is unknown here; when nothing at all is set
//! the config is left out, and the runtime (containerd, CRI-O) copies the node's
//! `/etc/resolv.conf` itself, which is what `Default` asks for.

use super::FieldError;
use super::SandboxOptions;
use cri_client::v1;
use k8s_openapi::api::core::v1::{Pod, PodDNSConfig};

/// `validation.MaxDNSNameservers`.
const MAX_NAMESERVERS: usize = 3;
/// `validation.MaxDNSSearchPaths`.
const MAX_SEARCH_PATHS: usize = 32;
/// `validation.MaxDNSSearchListChars`.
const MAX_SEARCH_LINE_CHARS: usize = 2048;
/// A search domain longer than a DNS name aborts some resolvers (glibc 2.28); dropped.
const MAX_SEARCH_DOMAIN_LEN: usize = 253;

/// Parses resolv.conf content the way the kubelet does (`parseResolvConf`): every
/// `nameserver` line adds a server, the last `search` line wins (trailing dots dropped,
/// `.` ignored), `options` accumulate with a later option replacing an earlier one of the
/// same name. `#` and `;` comments are skipped.
///
/// ```
/// let dns = pod_lifecycle::cri_config::parse_resolv_conf(
///     "nameserver 10.0.0.2\nsearch corp.example. .\noptions ndots:2 edns0\n",
/// );
/// assert_eq!(dns.servers, ["10.0.0.2"]);
/// assert_eq!(dns.searches, ["corp.example"]);
/// assert_eq!(dns.options, ["ndots:2", "edns0"]);
/// ```
pub fn parse_resolv_conf(content: &str) -> v1::DnsConfig {
    let mut config = v1::DnsConfig::default();
    for line in content.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("nameserver") => config.servers.extend(fields.next().map(str::to_owned)),
            Some("search") => {
                config.searches = fields
                    .filter(|s| *s != ".")
                    .map(|s| s.strip_suffix('.').unwrap_or(s).to_owned())
                    .collect();
            }
            Some("options") => {
                for option in fields {
                    set_option(&mut config.options, option.to_owned());
                }
            }
            _ => {}
        }
    }
    config
}

/// Replaces the option with the same name (the part before `:`), or appends.
fn set_option(options: &mut Vec<String>, option: String) {
    let name = |o: &str| o.split(':').next().unwrap_or_default().to_owned();
    let wanted = name(&option);
    match options.iter_mut().find(|o| name(o) == wanted) {
        Some(existing) => *existing = option,
        None => options.push(option),
    }
}

enum DnsKind {
    Cluster,
    Host,
    None,
}

/// The sandbox's `dns_config`; `None` lets the runtime copy the node's resolv.conf.
pub(crate) fn pod_dns_config(
    pod: &Pod,
    opts: &SandboxOptions,
) -> Result<Option<v1::DnsConfig>, FieldError> {
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let policy = spec.and_then(|s| s.dns_policy.as_deref()).unwrap_or("");
    let kind = match policy {
        "None" => DnsKind::None,
        "ClusterFirstWithHostNet" => DnsKind::Cluster,
        "ClusterFirst" | "" if !host_network => DnsKind::Cluster,
        "ClusterFirst" | "" | "Default" => DnsKind::Host,
        other => {
            return Err(FieldError::new(
                "spec.dnsPolicy",
                format!("invalid DNSPolicy={other}"),
            ));
        }
    };
    let host = opts.host_dns.clone().unwrap_or_default();
    let mut config = match kind {
        DnsKind::Cluster if !opts.cluster_dns.is_empty() => v1::DnsConfig {
            servers: opts.cluster_dns.clone(),
            searches: cluster_searches(pod, &opts.cluster_domain, host.searches),
            options: vec!["ndots:5".to_owned()],
        },
        DnsKind::Cluster | DnsKind::Host => host,
        DnsKind::None => v1::DnsConfig::default(),
    };
    let pod_dns = spec.and_then(|s| s.dns_config.as_ref());
    if matches!(kind, DnsKind::None)
        && pod_dns
            .and_then(|d| d.nameservers.as_ref())
            .is_none_or(|n| n.is_empty())
    {
        return Err(FieldError::new(
            "spec.dnsConfig.nameservers",
            "must provide at least one DNS nameserver when `dnsPolicy` is None",
        ));
    }
    if let Some(pod_dns) = pod_dns {
        append_pod_dns_config(&mut config, pod_dns);
    }
    fit_limits(&mut config);
    let empty =
        config.servers.is_empty() && config.searches.is_empty() && config.options.is_empty();
    Ok((!empty).then_some(config))
}

/// `generateSearchesForDNSClusterFirst`.
fn cluster_searches(pod: &Pod, cluster_domain: &str, host_searches: Vec<String>) -> Vec<String> {
    if cluster_domain.is_empty() {
        return host_searches;
    }
    let namespace = super::pod_namespace(pod);
    let mut searches = vec![
        format!("{namespace}.svc.{cluster_domain}"),
        format!("svc.{cluster_domain}"),
        cluster_domain.to_owned(),
    ];
    searches.extend(host_searches);
    omit_duplicates(searches)
}

/// `appendDNSConfig`.
fn append_pod_dns_config(config: &mut v1::DnsConfig, pod_dns: &PodDNSConfig) {
    config
        .servers
        .extend(pod_dns.nameservers.iter().flatten().cloned());
    config.servers = omit_duplicates(std::mem::take(&mut config.servers));
    config
        .searches
        .extend(pod_dns.searches.iter().flatten().cloned());
    config.searches = omit_duplicates(std::mem::take(&mut config.searches));
    for option in pod_dns.options.iter().flatten() {
        let name = option.name.clone().unwrap_or_default();
        let option = match option.value.as_deref() {
            Some(value) if !value.is_empty() => format!("{name}:{value}"),
            _ => name,
        };
        set_option(&mut config.options, option);
    }
}

fn omit_duplicates(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i.clone()))
        .collect()
}

/// `formDNSConfigFitsLimits`.
fn fit_limits(config: &mut v1::DnsConfig) {
    config.servers.truncate(MAX_NAMESERVERS);
    config.searches.truncate(MAX_SEARCH_PATHS);
    config.searches.retain(|s| s.len() <= MAX_SEARCH_DOMAIN_LEN);
    while !config.searches.is_empty() && config.searches.join(" ").len() > MAX_SEARCH_LINE_CHARS {
        config.searches.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_last_search_wins_and_options_merge() {
        let dns = parse_resolv_conf(
            "# comment\n; other\nnameserver 1.1.1.1\nsearch a b\nsearch c.\noptions ndots:1\nnameserver\noptions ndots:3 rotate\nnameserver 8.8.8.8\n",
        );
        assert_eq!(dns.servers, ["1.1.1.1", "8.8.8.8"]);
        assert_eq!(dns.searches, ["c"]);
        assert_eq!(dns.options, ["ndots:3", "rotate"]);
    }

    #[test]
    fn limits_are_enforced() {
        let mut config = v1::DnsConfig {
            servers: (0..5).map(|i| format!("10.0.0.{i}")).collect(),
            searches: (0..40).map(|i| format!("{}{i}", "d".repeat(100))).collect(),
            options: vec![],
        };
        config.searches.insert(0, "x".repeat(300));
        fit_limits(&mut config);
        assert_eq!(config.servers.len(), 3);
        assert!(config.searches.join(" ").len() <= MAX_SEARCH_LINE_CHARS);
        assert!(
            config
                .searches
                .iter()
                .all(|s| s.len() <= MAX_SEARCH_DOMAIN_LEN)
        );
        assert_eq!(config.searches.len(), 19);
    }
}
