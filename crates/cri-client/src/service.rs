//! The CRI services as Rust traits, one method per RPC.
//!
//! Method names are the snake_case names of the `runtime.v1` RPCs and every method takes the
//! RPC's request message and returns its response message, unchanged. Nothing is hidden or
//! renamed: a reader who knows `api.proto` knows these traits, and a runtime, a proxy or a
//! fake can be swapped in behind them without the caller noticing.
//!
//! Both traits are object safe (`dyn RuntimeService`, `Arc<dyn ImageService>`), which is how
//! the rest of nodelet holds them.

use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;

use crate::Result;
use crate::v1;

/// The stream returned by [`RuntimeService::get_container_events`].
pub type ContainerEventStream =
    Pin<Box<dyn Stream<Item = Result<v1::ContainerEventResponse>> + Send>>;

/// Whether a runtime streams container lifecycle events (`GetContainerEvents`).
///
/// containerd 1.6 answers `Unimplemented`; the kubelet then falls back to the generic,
/// relisting PLEG. That is a capability of the runtime, not a failure of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventsCapability {
    /// The runtime accepted a `GetContainerEvents` stream.
    Supported,
    /// The runtime answered `Unimplemented`.
    Unsupported,
}

/// The CRI `runtime.v1.RuntimeService`: pod sandboxes, containers, exec, stats and runtime
/// status. One method per RPC, in the order of `api.proto`.
#[async_trait]
pub trait RuntimeService: Send + Sync {
    /// `Version`: the runtime name, version and CRI API version.
    async fn version(&self, req: v1::VersionRequest) -> Result<v1::VersionResponse>;

    /// `RunPodSandbox`: create and start a pod-level sandbox (network namespace, pause
    /// process). The runtime must leave the sandbox READY on success.
    async fn run_pod_sandbox(
        &self,
        req: v1::RunPodSandboxRequest,
    ) -> Result<v1::RunPodSandboxResponse>;

    /// `StopPodSandbox`: stop every process of the sandbox and reclaim its network resources.
    /// Idempotent: stopping a stopped sandbox succeeds.
    async fn stop_pod_sandbox(
        &self,
        req: v1::StopPodSandboxRequest,
    ) -> Result<v1::StopPodSandboxResponse>;

    /// `RemovePodSandbox`: remove the sandbox and its containers. Idempotent: removing a
    /// sandbox that does not exist succeeds.
    async fn remove_pod_sandbox(
        &self,
        req: v1::RemovePodSandboxRequest,
    ) -> Result<v1::RemovePodSandboxResponse>;

    /// `PodSandboxStatus`: the state (READY/NOTREADY), network and metadata of one sandbox.
    async fn pod_sandbox_status(
        &self,
        req: v1::PodSandboxStatusRequest,
    ) -> Result<v1::PodSandboxStatusResponse>;

    /// `ListPodSandbox`: sandboxes matching an optional filter (id, state, labels).
    async fn list_pod_sandbox(
        &self,
        req: v1::ListPodSandboxRequest,
    ) -> Result<v1::ListPodSandboxResponse>;

    /// `CreateContainer`: create a container inside a sandbox (state CREATED).
    async fn create_container(
        &self,
        req: v1::CreateContainerRequest,
    ) -> Result<v1::CreateContainerResponse>;

    /// `StartContainer`: start a created container (state RUNNING).
    async fn start_container(
        &self,
        req: v1::StartContainerRequest,
    ) -> Result<v1::StartContainerResponse>;

    /// `StopContainer`: send the stop signal, then SIGKILL after `timeout` seconds.
    /// Idempotent: stopping an exited container succeeds.
    async fn stop_container(
        &self,
        req: v1::StopContainerRequest,
    ) -> Result<v1::StopContainerResponse>;

    /// `RemoveContainer`: remove a container, killing it first if it runs. Idempotent.
    async fn remove_container(
        &self,
        req: v1::RemoveContainerRequest,
    ) -> Result<v1::RemoveContainerResponse>;

    /// `ListContainers`: containers matching an optional filter (id, state, sandbox, labels).
    async fn list_containers(
        &self,
        req: v1::ListContainersRequest,
    ) -> Result<v1::ListContainersResponse>;

    /// `ContainerStatus`: state, exit code, reason, timestamps and image of one container.
    async fn container_status(
        &self,
        req: v1::ContainerStatusRequest,
    ) -> Result<v1::ContainerStatusResponse>;

    /// `UpdateContainerResources`: change a container's cgroup limits in place.
    async fn update_container_resources(
        &self,
        req: v1::UpdateContainerResourcesRequest,
    ) -> Result<v1::UpdateContainerResourcesResponse>;

    /// `ReopenContainerLog`: make the runtime reopen the container's log file (rotation).
    async fn reopen_container_log(
        &self,
        req: v1::ReopenContainerLogRequest,
    ) -> Result<v1::ReopenContainerLogResponse>;

    /// `ExecSync`: run a command in a container and wait for it. A timeout surfaces as
    /// [`Error::CommandTimedOut`](crate::Error::CommandTimedOut); a non-zero exit code is a
    /// successful call whose response carries the code.
    async fn exec_sync(&self, req: v1::ExecSyncRequest) -> Result<v1::ExecSyncResponse>;

    /// `Exec`: prepare a streaming exec session and return its URL.
    async fn exec(&self, req: v1::ExecRequest) -> Result<v1::ExecResponse>;

    /// `Attach`: prepare a streaming attach session and return its URL.
    async fn attach(&self, req: v1::AttachRequest) -> Result<v1::AttachResponse>;

    /// `PortForward`: prepare a streaming port-forward session and return its URL.
    async fn port_forward(&self, req: v1::PortForwardRequest) -> Result<v1::PortForwardResponse>;

    /// `ContainerStats`: resource usage of one container.
    async fn container_stats(
        &self,
        req: v1::ContainerStatsRequest,
    ) -> Result<v1::ContainerStatsResponse>;

    /// `ListContainerStats`: resource usage of the containers matching a filter.
    async fn list_container_stats(
        &self,
        req: v1::ListContainerStatsRequest,
    ) -> Result<v1::ListContainerStatsResponse>;

    /// `PodSandboxStats`: resource usage of one sandbox.
    async fn pod_sandbox_stats(
        &self,
        req: v1::PodSandboxStatsRequest,
    ) -> Result<v1::PodSandboxStatsResponse>;

    /// `ListPodSandboxStats`: resource usage of the sandboxes matching a filter.
    async fn list_pod_sandbox_stats(
        &self,
        req: v1::ListPodSandboxStatsRequest,
    ) -> Result<v1::ListPodSandboxStatsResponse>;

    /// `UpdateRuntimeConfig`: push runtime configuration (the pod CIDR).
    async fn update_runtime_config(
        &self,
        req: v1::UpdateRuntimeConfigRequest,
    ) -> Result<v1::UpdateRuntimeConfigResponse>;

    /// `Status`: runtime conditions (`RuntimeReady`, `NetworkReady`).
    async fn status(&self, req: v1::StatusRequest) -> Result<v1::StatusResponse>;

    /// `CheckpointContainer`: checkpoint a running container to an archive.
    async fn checkpoint_container(
        &self,
        req: v1::CheckpointContainerRequest,
    ) -> Result<v1::CheckpointContainerResponse>;

    /// `GetContainerEvents`: a server stream of container lifecycle events, for the evented
    /// PLEG. Runtimes without it answer `Unimplemented`; see
    /// [`RuntimeService::container_events_capability`].
    async fn get_container_events(&self, req: v1::GetEventsRequest)
    -> Result<ContainerEventStream>;

    /// `ListMetricDescriptors`: descriptors of the metrics `ListPodSandboxMetrics` returns.
    async fn list_metric_descriptors(
        &self,
        req: v1::ListMetricDescriptorsRequest,
    ) -> Result<v1::ListMetricDescriptorsResponse>;

    /// `ListPodSandboxMetrics`: cAdvisor-style metrics of every sandbox.
    async fn list_pod_sandbox_metrics(
        &self,
        req: v1::ListPodSandboxMetricsRequest,
    ) -> Result<v1::ListPodSandboxMetricsResponse>;

    /// `RuntimeConfig`: configuration the runtime reports (its cgroup driver).
    async fn runtime_config(
        &self,
        req: v1::RuntimeConfigRequest,
    ) -> Result<v1::RuntimeConfigResponse>;

    /// Ask whether the runtime streams container events: opens a `GetContainerEvents` stream
    /// and drops it at once. `Unimplemented` gives [`EventsCapability::Unsupported`]; any other
    /// error is returned.
    async fn container_events_capability(&self) -> Result<EventsCapability> {
        match self.get_container_events(v1::GetEventsRequest {}).await {
            Ok(_stream) => Ok(EventsCapability::Supported),
            Err(e) if e.code() == Some(tonic::Code::Unimplemented) => {
                Ok(EventsCapability::Unsupported)
            }
            Err(e) => Err(e),
        }
    }
}

/// The CRI `runtime.v1.ImageService`: image listing, status, pulls, removal and the image
/// filesystem. One method per RPC, in the order of `api.proto`.
#[async_trait]
pub trait ImageService: Send + Sync {
    /// `ListImages`: images matching an optional filter.
    async fn list_images(&self, req: v1::ListImagesRequest) -> Result<v1::ListImagesResponse>;

    /// `ImageStatus`: an image's id, size and tags; `image: None` when it is absent.
    async fn image_status(&self, req: v1::ImageStatusRequest) -> Result<v1::ImageStatusResponse>;

    /// `PullImage`: pull an image (with optional credentials) and return its reference.
    async fn pull_image(&self, req: v1::PullImageRequest) -> Result<v1::PullImageResponse>;

    /// `RemoveImage`: remove an image. Idempotent: removing an absent image succeeds.
    async fn remove_image(&self, req: v1::RemoveImageRequest) -> Result<v1::RemoveImageResponse>;

    /// `ImageFsInfo`: usage of the filesystems that hold images.
    async fn image_fs_info(&self, req: v1::ImageFsInfoRequest) -> Result<v1::ImageFsInfoResponse>;
}
