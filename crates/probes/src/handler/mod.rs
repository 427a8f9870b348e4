//! Probe handlers: one trait, four implementations (exec, httpGet, tcpSocket, grpc).
//!
//! Each handler is built once from the probe spec and the container (named ports resolved,
//! `$(VAR)` expanded) and then run any number of times against a [`ProbeTarget`]: the pod
//! IP, the container id and the timeout, which change with each container instance and are
//! only known when the probe runs. A handler is usable alone, without workers:
//! [`HttpGetProbe`], [`TcpSocketProbe`], [`GrpcProbe`] and [`ExecProbe`] each take plain
//! values as well as the Kubernetes actions.

mod exec;
mod grpc;
mod http;
mod tcp;
mod tls;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cri_client::RuntimeService;
use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub use exec::{ExecProbe, MAX_EXEC_OUTPUT, expand_command};
pub use grpc::GrpcProbe;
pub use http::{
    HttpGetError, HttpGetProbe, HttpGetRequest, HttpGetResponse, HttpScheme, MAX_HTTP_BODY,
    MAX_REDIRECTS,
};
pub use tcp::TcpSocketProbe;

use crate::Result;

/// The `User-Agent` of HTTP and gRPC probes: `kube-probe/<major>.<minor>` of the Kubernetes
/// version this crate follows.
pub const USER_AGENT: &str = "kube-probe/1.37";

/// The result of one probe run (the kubelet's `probe.Result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeStatus {
    /// The check passed.
    Success,
    /// The check passed with a remark (an HTTP redirect to another host that was not
    /// followed). Counts as success, with a `ProbeWarning` event.
    Warning,
    /// The check failed.
    Failure,
    /// The outcome could not be determined; counts as failure, without an event.
    Unknown,
}

/// What one probe run found: a [`ProbeStatus`] and the handler's output (the exec output,
/// the HTTP body or the failure text), which goes into the event message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// Success, warning, failure or unknown.
    pub status: ProbeStatus,
    /// What the handler reports (`HTTP probe failed with statuscode: 500`).
    pub output: String,
}

impl ProbeOutcome {
    /// A success with this output.
    pub fn success(output: impl Into<String>) -> Self {
        Self::new(ProbeStatus::Success, output)
    }

    /// A failure with this output.
    pub fn failure(output: impl Into<String>) -> Self {
        Self::new(ProbeStatus::Failure, output)
    }

    /// A warning (counted as success) with this output.
    pub fn warning(output: impl Into<String>) -> Self {
        Self::new(ProbeStatus::Warning, output)
    }

    /// An outcome with this status and output.
    pub fn new(status: ProbeStatus, output: impl Into<String>) -> Self {
        ProbeOutcome {
            status,
            output: output.into(),
        }
    }

    /// Whether the kubelet counts this as success (`Success` or `Warning`).
    pub fn is_success(&self) -> bool {
        matches!(self.status, ProbeStatus::Success | ProbeStatus::Warning)
    }
}

/// What a probe runs against, known only when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// The pod IP (`status.podIP`): the host of network probes without their own `host`.
    pub pod_ip: Option<String>,
    /// The CRI id of the container instance (for exec probes).
    pub container_id: String,
    /// `timeoutSeconds`: the whole run must finish within it.
    pub timeout: Duration,
}

impl ProbeTarget {
    /// A target for network probes at `pod_ip`, with no container id.
    pub fn pod_ip(pod_ip: impl Into<String>, timeout: Duration) -> Self {
        ProbeTarget {
            pod_ip: Some(pod_ip.into()),
            container_id: String::new(),
            timeout,
        }
    }

    /// A target for exec probes in `container_id`.
    pub fn container(container_id: impl Into<String>, timeout: Duration) -> Self {
        ProbeTarget {
            pod_ip: None,
            container_id: container_id.into(),
            timeout,
        }
    }
}

/// One way of checking a container (the kubelet's `ExecProber`, `HTTPProber`,
/// `TCPProber`, `GRPCProber`).
///
/// `Ok` is a probe that ran, whatever it found; `Err` is a prober error (the runtime could
/// not exec, the target is unusable), which the worker retries and then discards, as the
/// kubelet does.
#[async_trait]
pub trait ProbeHandler: Send + Sync + fmt::Debug {
    /// Run the probe once against `target`, within `target.timeout`.
    async fn probe(&self, target: &ProbeTarget) -> Result<ProbeOutcome>;
}

/// The handler for `probe` of `container`: exec commands go through `runtime`'s
/// `ExecSync`. Fails when the probe has no usable handler (see
/// [`validate_container_probes`](crate::validate_container_probes), which names the field).
pub fn handler_for(
    probe: &Probe,
    container: &Container,
    runtime: Arc<dyn RuntimeService>,
) -> Result<Arc<dyn ProbeHandler>, String> {
    if let Some(exec) = &probe.exec {
        return Ok(Arc::new(ExecProbe::from_action(exec, container, runtime)));
    }
    if let Some(http) = &probe.http_get {
        return Ok(Arc::new(HttpGetProbe::from_action(http, container)?));
    }
    if let Some(tcp) = &probe.tcp_socket {
        return Ok(Arc::new(TcpSocketProbe::from_action(tcp, container)?));
    }
    if let Some(grpc) = &probe.grpc {
        return Ok(Arc::new(GrpcProbe::from_action(grpc)?));
    }
    Err("must specify a handler type".to_string())
}

/// The port number of a probe's `port`: a number, or the name of one of the container's
/// `ports` (the kubelet's `probe.ResolveContainerPort`, which also accepts a number written
/// as a string).
pub fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(name) => {
            let named = container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()));
            match (named, name.parse::<i64>()) {
                (Some(p), _) => i64::from(p.container_port),
                (None, Ok(n)) => n,
                (None, Err(_)) => {
                    return Err(format!(
                        "port name {name:?} not found in the container's ports"
                    ));
                }
            }
        }
    };
    u16::try_from(number)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid port number {number}: must be between 1 and 65535"))
}

/// `host:port`, with brackets around an IPv6 address (Go's `net.JoinHostPort`).
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// An I/O error as Go's net package words it (`connection refused`), without Rust's
/// `(os error 111)` suffix.
pub(crate) fn io_text(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused | ConnectionReset | ConnectionAborted | TimedOut | AddrNotAvailable
        | HostUnreachable | NetworkUnreachable => e.kind().to_string(),
        _ => e.to_string(),
    }
}
