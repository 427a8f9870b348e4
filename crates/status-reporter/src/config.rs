//! The reporter's settings: the kubelet configuration fields and flags that shape the Node,
//! its status cadence and its lease.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Taint;

use crate::error::{Error, Result};
use crate::labels::{is_dns1123_subdomain, validate_node_labels, validate_taints};

/// The kubelet's port (`port`, `status.daemonEndpoints.kubeletEndpoint.port`).
pub const DEFAULT_KUBELET_PORT: i32 = 10250;
/// `nodeStatusUpdateFrequency`: how often the status is computed (and patched when changed).
pub const DEFAULT_NODE_STATUS_UPDATE_FREQUENCY: Duration = Duration::from_secs(10);
/// `nodeStatusReportFrequency`: how often an unchanged status is patched anyway.
pub const DEFAULT_NODE_STATUS_REPORT_FREQUENCY: Duration = Duration::from_secs(5 * 60);
/// `nodeLeaseDurationSeconds`.
pub const DEFAULT_NODE_LEASE_DURATION_SECONDS: i32 = 40;
/// `nodeStatusMaxImages`.
pub const DEFAULT_NODE_STATUS_MAX_IMAGES: i32 = 50;
/// The namespace of node leases (`v1.NamespaceNodeLease`).
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// The lease is renewed at this fraction of its duration (`nodeLeaseRenewIntervalFraction`).
pub const NODE_LEASE_RENEW_INTERVAL_FRACTION: f64 = 0.25;
/// How long after start the status loop also runs on every change of the facts, until the
/// node is reported Ready (`nodeReadyGracePeriod` of `fastStatusUpdateOnce`).
pub const NODE_READY_GRACE_PERIOD: Duration = Duration::from_secs(120);

/// How the node registers and reports. [`NodeConfig::new`] gives the kubelet's defaults.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NodeConfig {
    /// The Node's name (`--hostname-override`, else the hostname).
    pub node_name: String,
    /// The value of `kubernetes.io/hostname` and of the Hostname address.
    pub hostname: String,
    /// `--node-ip`: up to one address per family; empty to detect one.
    pub node_ips: Vec<IpAddr>,
    /// `--node-labels`: set when the node registers (the kubelet does not reconcile them on an
    /// existing Node).
    pub node_labels: BTreeMap<String, String>,
    /// `registerWithTaints`: set when the node registers (NodeRestriction forbids a node to
    /// change its own taints afterwards).
    pub register_with_taints: Vec<Taint>,
    /// `registerNode`: create the Node when it does not exist. When false the reporter only
    /// updates the status of a Node someone else created.
    pub register_node: bool,
    /// `enableControllerAttachDetach`: annotate the Node so the attach/detach controller
    /// manages its volumes.
    pub enable_controller_attach_detach: bool,
    /// `--provider-id`.
    pub provider_id: Option<String>,
    /// `status.daemonEndpoints.kubeletEndpoint.port`.
    pub kubelet_port: i32,
    /// `nodeInfo.kubeletVersion` (`v1.37.2`).
    pub kubelet_version: String,
    /// `nodeStatusUpdateFrequency`.
    pub node_status_update_frequency: Duration,
    /// `nodeStatusReportFrequency`. The kubelet's configuration defaulting makes it equal to
    /// the update frequency when only that one is set; a caller reading a kubelet
    /// configuration applies that rule.
    pub node_status_report_frequency: Duration,
    /// `nodeLeaseDurationSeconds`; the lease is renewed every quarter of it.
    pub node_lease_duration_seconds: i32,
    /// `nodeStatusMaxImages`; -1 reports every image.
    pub node_status_max_images: i32,
    /// `LocalStorageCapacityIsolation`: `ephemeral-storage` is a required capacity for Ready.
    pub local_storage_capacity_isolation: bool,
}

impl NodeConfig {
    /// The kubelet's defaults for node `node_name` (also its hostname).
    pub fn new(node_name: impl Into<String>) -> NodeConfig {
        let node_name = node_name.into();
        NodeConfig {
            hostname: node_name.clone(),
            node_name,
            node_ips: Vec::new(),
            node_labels: BTreeMap::new(),
            register_with_taints: Vec::new(),
            register_node: true,
            enable_controller_attach_detach: true,
            provider_id: None,
            kubelet_port: DEFAULT_KUBELET_PORT,
            kubelet_version: String::new(),
            node_status_update_frequency: DEFAULT_NODE_STATUS_UPDATE_FREQUENCY,
            node_status_report_frequency: DEFAULT_NODE_STATUS_REPORT_FREQUENCY,
            node_lease_duration_seconds: DEFAULT_NODE_LEASE_DURATION_SECONDS,
            node_status_max_images: DEFAULT_NODE_STATUS_MAX_IMAGES,
            local_storage_capacity_isolation: true,
        }
    }

    /// How often the lease is renewed: a quarter of its duration (10 s by default).
    pub fn lease_renew_interval(&self) -> Duration {
        Duration::from_secs_f64(
            f64::from(self.node_lease_duration_seconds.max(0)) * NODE_LEASE_RENEW_INTERVAL_FRACTION,
        )
    }

    /// The timeout of each heartbeat request (status and lease): the smaller of the status
    /// update frequency and the lease duration, as the kubelet's heartbeat client.
    pub fn heartbeat_timeout(&self) -> Duration {
        let lease =
            Duration::from_secs(u64::try_from(self.node_lease_duration_seconds).unwrap_or(0));
        self.node_status_update_frequency.min(lease)
    }

    /// Checks everything a request would be refused for, and the settings the loops cannot
    /// run with: the node name, labels ([`validate_node_labels`]), taints, frequencies, lease
    /// duration, port.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, problem: &str| Error::InvalidConfig {
            node: self.node_name.clone(),
            field,
            problem: problem.to_owned(),
        };
        if !is_dns1123_subdomain(&self.node_name) {
            return Err(invalid(
                "nodeName",
                "must be a lowercase RFC 1123 subdomain (lower case alphanumeric characters, \
                 '-' or '.', starting and ending with an alphanumeric character)",
            ));
        }
        if self.hostname.is_empty() {
            return Err(invalid("hostname", "must not be empty"));
        }
        validate_node_labels(&self.node_name, &self.node_labels)?;
        validate_taints(&self.node_name, &self.register_with_taints)?;
        if self.node_status_update_frequency.is_zero() {
            return Err(invalid(
                "nodeStatusUpdateFrequency",
                "must be greater than 0",
            ));
        }
        if self.node_status_report_frequency.is_zero() {
            return Err(invalid(
                "nodeStatusReportFrequency",
                "must be greater than 0",
            ));
        }
        if self.node_lease_duration_seconds <= 0 {
            return Err(invalid(
                "nodeLeaseDurationSeconds",
                "must be greater than 0",
            ));
        }
        if self.node_status_max_images < -1 {
            return Err(invalid("nodeStatusMaxImages", "must be -1 or greater"));
        }
        if !(1..=65535).contains(&self.kubelet_port) {
            return Err(invalid("port", "must be between 1 and 65535"));
        }
        if self.node_ips.len() > 2 {
            return Err(invalid("nodeIP", "at most two addresses, one per family"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_kubelets() {
        let config = NodeConfig::new("n1");
        assert_eq!(config.lease_renew_interval(), Duration::from_secs(10));
        assert_eq!(config.node_status_update_frequency, Duration::from_secs(10));
        assert_eq!(
            config.node_status_report_frequency,
            Duration::from_secs(300)
        );
        assert_eq!(config.kubelet_port, 10250);
        assert!(config.register_node);
        assert_eq!(config.heartbeat_timeout(), Duration::from_secs(10));
        config.validate().unwrap();
        let mut short_lease = NodeConfig::new("n1");
        short_lease.node_lease_duration_seconds = 4;
        assert_eq!(short_lease.heartbeat_timeout(), Duration::from_secs(4));
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut config = NodeConfig::new("N1");
        assert!(matches!(
            config.validate(),
            Err(Error::InvalidConfig {
                field: "nodeName",
                ..
            })
        ));
        config = NodeConfig::new("n1");
        config.node_lease_duration_seconds = 0;
        assert!(config.validate().is_err());
        config = NodeConfig::new("n1");
        config
            .node_labels
            .insert("kubernetes.io/role".into(), "x".into());
        assert!(matches!(
            config.validate(),
            Err(Error::ForbiddenNodeLabels { .. })
        ));
    }
}
