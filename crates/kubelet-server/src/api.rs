//! What the kubelet API serves, supplied by the agent that embeds the server.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use cri_client::RuntimeService;
use k8s_openapi::api::core::v1::Pod;

use crate::stats::{CgroupInfo, Summary};
use crate::{Error, Result};

/// A container named by an API path: `/containerLogs/{namespace}/{pod}/{container}`,
/// `/exec/{namespace}/{pod}/{container}` or `/exec/{namespace}/{pod}/{uid}/{container}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerTarget {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The pod's UID when the path carries one; the pod found must then have it.
    pub uid: Option<String>,
    /// The container's name.
    pub container: String,
}

impl std::fmt::Display for ContainerTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "container {:?} in pod {}/{}",
            self.container, self.namespace, self.pod
        )
    }
}

/// A container found in the runtime for a [`ContainerTarget`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundContainer {
    /// The runtime's container ID.
    pub container_id: String,
    /// The container's log file (the runtime's `log_path`).
    pub log_path: PathBuf,
    /// Whether the container runs now (following its log ends when it stops).
    pub running: bool,
}

/// One named health check and its outcome, for `/healthz`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// The check's name (`pleg`, `syncloop`).
    pub name: String,
    /// `Err` with the reason when unhealthy.
    pub result: std::result::Result<(), String>,
}

impl HealthCheck {
    /// A check named `name` with this outcome.
    pub fn new(name: impl Into<String>, result: std::result::Result<(), String>) -> Self {
        HealthCheck {
            name: name.into(),
            result,
        }
    }
}

/// What the kubelet API shows and reaches, supplied by the composed agent. The server
/// calls it on every request, so the synchronous methods should read a snapshot or a
/// cache, never the runtime.
///
/// Only the first five methods are required. The others default to
/// [`Error::NotSupported`] (a 501 answer), so an agent without a runtime or stats can
/// still serve pods, health and metrics.
#[async_trait]
pub trait NodeApi: Send + Sync + 'static {
    /// The pods the agent manages, with their current status (`/pods`).
    fn pods(&self) -> Vec<Pod>;
    /// The health checks beyond `ping` (the kubelet's `syncloop`, nodelet's `pleg`).
    /// `/healthz` is healthy when every check is.
    fn healthz(&self) -> Vec<HealthCheck>;
    /// The metrics in the Prometheus text format (`/metrics`).
    fn metrics(&self) -> String;
    /// The probe metrics in the Prometheus text format (`/metrics/probes`). Empty by
    /// default (an agent without probes).
    fn probe_metrics(&self) -> String {
        String::new()
    }
    /// The effective configuration, served by `/configz` as `{"kubeletconfig": ...}`.
    fn configz(&self) -> serde_json::Value;

    /// The container runtime, for `/runningpods/`, `/exec`, `/attach`, `/portForward`,
    /// `/run` and following logs. `None` (the default) answers those with 501.
    fn runtime(&self) -> Option<Arc<dyn RuntimeService>> {
        None
    }

    /// The container `target` names: its current instance, or with `previous` the one
    /// before it (`kubectl logs --previous`). [`Error::NotFound`] names what is missing.
    async fn find_container(
        &self,
        target: &ContainerTarget,
        previous: bool,
    ) -> Result<FoundContainer> {
        let _ = (target, previous);
        Err(Error::NotSupported("finding containers"))
    }

    /// The runtime's sandbox ID of the pod `namespace/name` (with `uid` when the path
    /// carries one), for `/portForward`.
    async fn find_sandbox(&self, namespace: &str, name: &str, uid: Option<&str>) -> Result<String> {
        let _ = (namespace, name, uid);
        Err(Error::NotSupported("finding pod sandboxes"))
    }

    /// The `/stats/summary` document; `only_cpu_and_memory` is the query parameter of
    /// that name (what metrics-server and `/metrics/resource` need).
    async fn stats_summary(&self, only_cpu_and_memory: bool) -> Result<Summary> {
        let _ = only_cpu_and_memory;
        Err(Error::NotSupported("/stats/summary"))
    }

    /// The cgroups `/metrics/cadvisor` reports (the root, the pods' and the running
    /// containers'), measured now. [`Error::NotSupported`] (a 501) by default.
    async fn cadvisor_cgroups(&self) -> Result<Vec<CgroupInfo>> {
        Err(Error::NotSupported("/metrics/cadvisor"))
    }

    /// The directory `/logs/` serves (the kubelet serves `/var/log`); `None` (the
    /// default) answers `/logs/` with 404.
    fn node_log_dir(&self) -> Option<PathBuf> {
        None
    }
}
