//! The grpc probe: `grpc.health.v1.Health/Check` (`pkg/probe/grpc/grpc.go`).

use async_trait::async_trait;
use k8s_openapi::api::core::v1::GRPCAction;
use tonic::Code;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::{ProbeHandler, ProbeOutcome, ProbeTarget, USER_AGENT, join_host_port};
use crate::{Error, Result};

/// Calls `grpc.health.v1.Health/Check` with the probe's `service` (empty by default) on
/// `<pod IP>:<port>`, in plaintext, over a new connection, with `User-Agent:
/// kube-probe/1.37`, connect and call within the timeout.
///
/// `SERVING` is success (`service is serving`); any other status is failure
/// `service unhealthy (responded with "NOT_SERVING")`; a server without the health service
/// is failure `error: this server does not implement the grpc health protocol
/// (grpc.health.v1.Health): ...`; a connect or call timeout is failure; all as the kubelet
/// words them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcProbe {
    port: u16,
    service: String,
}

impl GrpcProbe {
    /// A health check of `service` (`""` for the whole server) on `port` of the pod IP.
    pub fn new(port: u16, service: impl Into<String>) -> Self {
        GrpcProbe {
            port,
            service: service.into(),
        }
    }

    /// The probe of `action`.
    pub fn from_action(action: &GRPCAction) -> Result<Self, String> {
        let port = u16::try_from(action.port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| {
                format!(
                    "invalid port number {}: must be between 1 and 65535",
                    action.port
                )
            })?;
        Ok(GrpcProbe::new(
            port,
            action.service.clone().unwrap_or_default(),
        ))
    }
}

#[async_trait]
impl ProbeHandler for GrpcProbe {
    async fn probe(&self, target: &ProbeTarget) -> Result<ProbeOutcome> {
        let Some(pod_ip) = target.pod_ip.as_deref().filter(|ip| !ip.is_empty()) else {
            return Err(Error::InvalidTarget {
                probe: "grpc",
                target: format!("port {}", self.port),
                problem: "the pod has no IP yet".into(),
            });
        };
        let timeout = target.timeout;
        let address = join_host_port(pod_ip, self.port);
        let invalid = |problem: String| Error::InvalidTarget {
            probe: "grpc",
            target: address.clone(),
            problem,
        };
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| invalid(e.to_string()))?
            .user_agent(USER_AGENT)
            .map_err(|e| invalid(e.to_string()))?
            .connect_timeout(timeout)
            .timeout(timeout);
        let deadline = tokio::time::Instant::now() + timeout;

        let channel = match tokio::time::timeout_at(deadline, endpoint.connect()).await {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => {
                return Ok(ProbeOutcome::failure(format!(
                    "error: failed to connect service at {address:?}: {}",
                    error_chain(&e)
                )));
            }
            Err(_) => {
                return Ok(ProbeOutcome::failure(format!(
                    "timeout: failed to connect service {address:?} within {timeout:?}: context deadline exceeded"
                )));
            }
        };
        let mut client = HealthClient::new(channel);
        let request = HealthCheckRequest {
            service: self.service.clone(),
        };
        let response = match tokio::time::timeout_at(deadline, client.check(request)).await {
            Ok(Ok(response)) => response.into_inner(),
            Ok(Err(status)) => {
                return Ok(ProbeOutcome::failure(match status.code() {
                    Code::Unimplemented => format!(
                        "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
                        status.message()
                    ),
                    Code::DeadlineExceeded | Code::Cancelled => {
                        format!("timeout: health rpc did not complete within {timeout:?}")
                    }
                    _ => format!("error: health rpc probe failed: {status}"),
                }));
            }
            Err(_) => {
                return Ok(ProbeOutcome::failure(format!(
                    "timeout: health rpc did not complete within {timeout:?}"
                )));
            }
        };
        let status = response.status();
        if status == ServingStatus::Serving {
            Ok(ProbeOutcome::success("service is serving"))
        } else {
            Ok(ProbeOutcome::failure(format!(
                "service unhealthy (responded with {:?})",
                status.as_str_name()
            )))
        }
    }
}

/// An error and its sources, `: `-separated (tonic's transport error alone says only
/// "transport error").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
