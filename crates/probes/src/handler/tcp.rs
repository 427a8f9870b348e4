//! The tcpSocket probe: a TCP connect within the timeout (`pkg/probe/tcp/tcp.go`).

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Container, TCPSocketAction};
use tokio::net::TcpStream;

use super::{ProbeHandler, ProbeOutcome, ProbeTarget, io_text, join_host_port};
use crate::{Error, Result};

/// Connects to `host:port` (host = the probe's `host`, else the pod IP). A completed
/// connect is success and the connection is closed at once; a refused connect or a timeout
/// is failure with Go's wording (`dial tcp 10.88.0.2:80: connect: connection refused`,
/// `dial tcp 10.88.0.2:80: i/o timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSocketProbe {
    host: Option<String>,
    port: u16,
}

impl TcpSocketProbe {
    /// A connect to `port` of the pod IP.
    pub fn new(port: u16) -> Self {
        TcpSocketProbe { host: None, port }
    }

    /// Connect to `host` instead of the pod IP (`tcpSocket.host`).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The probe of `action` in `container` (the port may name a container port).
    pub fn from_action(action: &TCPSocketAction, container: &Container) -> Result<Self, String> {
        let mut probe = TcpSocketProbe::new(super::resolve_port(&action.port, container)?);
        if let Some(host) = action.host.as_deref().filter(|h| !h.is_empty()) {
            probe = probe.with_host(host);
        }
        Ok(probe)
    }
}

#[async_trait]
impl ProbeHandler for TcpSocketProbe {
    async fn probe(&self, target: &ProbeTarget) -> Result<ProbeOutcome> {
        let host = match (&self.host, &target.pod_ip) {
            (Some(h), _) => h.as_str(),
            (None, Some(ip)) if !ip.is_empty() => ip.as_str(),
            (None, _) => {
                return Err(Error::InvalidTarget {
                    probe: "tcp",
                    target: format!("port {}", self.port),
                    problem: "the pod has no IP yet and the probe sets no host".into(),
                });
            }
        };
        let address = join_host_port(host, self.port);
        match tokio::time::timeout(target.timeout, TcpStream::connect(&address)).await {
            Ok(Ok(stream)) => {
                drop(stream);
                Ok(ProbeOutcome::success(""))
            }
            Ok(Err(e)) => Ok(ProbeOutcome::failure(format!(
                "dial tcp {address}: connect: {}",
                io_text(&e)
            ))),
            Err(_) => Ok(ProbeOutcome::failure(format!(
                "dial tcp {address}: i/o timeout"
            ))),
        }
    }
}
