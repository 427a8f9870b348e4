//! The four CRI v1 calls xtask makes, over containerd's unix socket.
//!
//! The messages are written out here, with the field numbers of the CRI's
//! `api.proto` (package `runtime.v1`), instead of coming from `k8s-cri`:
//! that crate compiles its protos with `protoc`, which `setup` is what
//! installs. Decoding skips fields not declared here, so only the ones xtask
//! reads are.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

/// Per call; StopPodSandbox includes CNI DEL and container kills.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `future` to completion on a fresh single-threaded runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building a tokio runtime")
        .block_on(future)
}

/// A CRI `RuntimeService` client.
#[derive(Debug, Clone)]
pub struct RuntimeClient {
    grpc: tonic::client::Grpc<Channel>,
}

impl RuntimeClient {
    /// Connects to the CRI socket at `socket`.
    pub async fn connect(socket: &Path) -> Result<Self> {
        let uri = format!("unix://{}", socket.display());
        let channel = Endpoint::from_shared(uri.clone())?
            .connect_timeout(Duration::from_secs(2))
            .timeout(CALL_TIMEOUT)
            .connect()
            .await
            .with_context(|| format!("connecting to {uri}"))?;
        Ok(Self {
            grpc: tonic::client::Grpc::new(channel),
        })
    }

    /// `Status`: the runtime's conditions (RuntimeReady, NetworkReady).
    pub async fn status(&mut self) -> Result<Vec<RuntimeCondition>> {
        let response: StatusResponse = self.call("Status", StatusRequest::default()).await?;
        Ok(response.status.unwrap_or_default().conditions)
    }

    /// `ListPodSandbox` with no filter.
    pub async fn list_pod_sandboxes(&mut self) -> Result<Vec<PodSandbox>> {
        let response: ListPodSandboxResponse = self
            .call("ListPodSandbox", ListPodSandboxRequest::default())
            .await?;
        Ok(response.items)
    }

    /// `StopPodSandbox`: kills its containers and tears its network down.
    pub async fn stop_pod_sandbox(&mut self, id: &str) -> Result<()> {
        let request = PodSandboxIdRequest {
            pod_sandbox_id: id.to_owned(),
        };
        let Empty {} = self.call("StopPodSandbox", request).await?;
        Ok(())
    }

    /// `RemovePodSandbox`: removes it and its containers.
    pub async fn remove_pod_sandbox(&mut self, id: &str) -> Result<()> {
        let request = PodSandboxIdRequest {
            pod_sandbox_id: id.to_owned(),
        };
        let Empty {} = self.call("RemovePodSandbox", request).await?;
        Ok(())
    }

    async fn call<Req, Resp>(&mut self, method: &'static str, request: Req) -> Result<Resp>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        self.grpc
            .ready()
            .await
            .with_context(|| format!("CRI {method}: connection not ready"))?;
        let path = PathAndQuery::try_from(format!("/runtime.v1.RuntimeService/{method}"))?;
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        let response = self
            .grpc
            .unary(tonic::Request::new(request), path, codec)
            .await
            .with_context(|| format!("CRI {method}"))?;
        Ok(response.into_inner())
    }
}

/// `StatusRequest`.
#[derive(Clone, PartialEq, prost::Message)]
struct StatusRequest {
    #[prost(bool, tag = "1")]
    verbose: bool,
}

/// `StatusResponse`.
#[derive(Clone, PartialEq, prost::Message)]
struct StatusResponse {
    #[prost(message, optional, tag = "1")]
    status: Option<RuntimeStatus>,
}

/// `RuntimeStatus`.
#[derive(Clone, PartialEq, prost::Message)]
struct RuntimeStatus {
    #[prost(message, repeated, tag = "1")]
    conditions: Vec<RuntimeCondition>,
}

/// `RuntimeCondition`: one condition of the runtime.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RuntimeCondition {
    /// `RuntimeReady` or `NetworkReady`.
    #[prost(string, tag = "1")]
    pub r#type: String,
    /// Whether the condition holds.
    #[prost(bool, tag = "2")]
    pub status: bool,
    /// A machine-readable reason when it does not.
    #[prost(string, tag = "3")]
    pub reason: String,
    /// A human-readable message when it does not.
    #[prost(string, tag = "4")]
    pub message: String,
}

/// `ListPodSandboxRequest` (the filter, field 1, is left out: no filter).
#[derive(Clone, PartialEq, prost::Message)]
struct ListPodSandboxRequest {}

/// `ListPodSandboxResponse`.
#[derive(Clone, PartialEq, prost::Message)]
struct ListPodSandboxResponse {
    #[prost(message, repeated, tag = "1")]
    items: Vec<PodSandbox>,
}

/// `PodSandbox`: the parts of a sandbox xtask prints.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandbox {
    /// The sandbox id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// The pod it belongs to.
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<PodSandboxMetadata>,
}

/// `PodSandboxMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxMetadata {
    /// The pod name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The pod namespace.
    #[prost(string, tag = "3")]
    pub namespace: String,
}

/// `StopPodSandboxRequest` and `RemovePodSandboxRequest`, which are the same on the wire.
#[derive(Clone, PartialEq, prost::Message)]
struct PodSandboxIdRequest {
    #[prost(string, tag = "1")]
    pod_sandbox_id: String,
}

/// `StopPodSandboxResponse` and `RemovePodSandboxResponse`.
#[derive(Clone, PartialEq, prost::Message)]
struct Empty {}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn decodes_conditions() {
        let response = StatusResponse {
            status: Some(RuntimeStatus {
                conditions: vec![RuntimeCondition {
                    r#type: "NetworkReady".into(),
                    status: false,
                    reason: "NetworkPluginNotReady".into(),
                    message: "cni config uninitialized".into(),
                }],
            }),
        };
        let decoded = StatusResponse::decode(response.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, response);
    }
}
