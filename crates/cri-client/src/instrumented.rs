//! A runtime wrapper that times every call, for metrics (the kubelet's
//! `instrumentedRuntimeService` / `instrumentedImageManagerService`).
//!
//! [`Instrumented`] implements both services over any implementation of them and reports each
//! call to an [`OperationObserver`] with the kubelet's `operation_type` label value
//! (`run_podsandbox`, `create_container`, `pull_image`...), its duration and whether it
//! failed. The agent turns those into `kubelet_runtime_operations_total`,
//! `kubelet_runtime_operations_duration_seconds` and `kubelet_runtime_operations_errors_total`;
//! a test can count calls the same way.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use cri_client::{Instrumented, OperationObserver, RuntimeService, v1};
//! use cri_client::fake::FakeRuntime;
//!
//! #[derive(Default)]
//! struct Seen(Mutex<Vec<(&'static str, bool)>>);
//! impl OperationObserver for Seen {
//!     fn observe(&self, operation: &'static str, _took: Duration, failed: bool) {
//!         self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((operation, failed));
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let fake = Arc::new(FakeRuntime::new());
//! let seen = Arc::new(Seen::default());
//! let runtime = Instrumented::new(fake.clone(), fake, seen.clone());
//! runtime.version(v1::VersionRequest::default()).await.unwrap();
//! assert_eq!(seen.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[0], ("version", false));
//! # });
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::service::{ContainerEventStream, ImageService, RuntimeService};
use crate::{Result, v1};

/// Told about every runtime call an [`Instrumented`] runtime makes.
pub trait OperationObserver: Send + Sync {
    /// One call: the kubelet's `operation_type` label, how long it took, whether it failed.
    fn observe(&self, operation: &'static str, took: Duration, failed: bool);
}

/// Both CRI services, with every call reported to an observer.
#[derive(Clone)]
pub struct Instrumented {
    runtime: Arc<dyn RuntimeService>,
    images: Arc<dyn ImageService>,
    observer: Arc<dyn OperationObserver>,
}

impl std::fmt::Debug for Instrumented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented").finish_non_exhaustive()
    }
}

impl Instrumented {
    /// Wrap a runtime and an image service (usually the same object).
    pub fn new(
        runtime: Arc<dyn RuntimeService>,
        images: Arc<dyn ImageService>,
        observer: Arc<dyn OperationObserver>,
    ) -> Self {
        Instrumented {
            runtime,
            images,
            observer,
        }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let started = Instant::now();
        let result = call.await;
        self.observer
            .observe(operation, started.elapsed(), result.is_err());
        result
    }
}

/// An impl of a service whose methods pass through, each timed under the kubelet's operation
/// name. (`#[async_trait]` goes inside the macro: it must see the expanded methods.)
macro_rules! instrumented {
    ($service:ident, $inner:ident: $($method:ident($req:ty) -> $resp:ty => $op:literal;)*) => {
        #[async_trait]
        impl $service for Instrumented {
            $(
                async fn $method(&self, req: $req) -> Result<$resp> {
                    self.timed($op, self.$inner.$method(req)).await
                }
            )*
        }
    };
}

instrumented! { RuntimeService, runtime:
        version(v1::VersionRequest) -> v1::VersionResponse => "version";
        run_pod_sandbox(v1::RunPodSandboxRequest) -> v1::RunPodSandboxResponse => "run_podsandbox";
        stop_pod_sandbox(v1::StopPodSandboxRequest) -> v1::StopPodSandboxResponse => "stop_podsandbox";
        remove_pod_sandbox(v1::RemovePodSandboxRequest) -> v1::RemovePodSandboxResponse => "remove_podsandbox";
        pod_sandbox_status(v1::PodSandboxStatusRequest) -> v1::PodSandboxStatusResponse => "podsandbox_status";
        list_pod_sandbox(v1::ListPodSandboxRequest) -> v1::ListPodSandboxResponse => "list_podsandbox";
        create_container(v1::CreateContainerRequest) -> v1::CreateContainerResponse => "create_container";
        start_container(v1::StartContainerRequest) -> v1::StartContainerResponse => "start_container";
        stop_container(v1::StopContainerRequest) -> v1::StopContainerResponse => "stop_container";
        remove_container(v1::RemoveContainerRequest) -> v1::RemoveContainerResponse => "remove_container";
        list_containers(v1::ListContainersRequest) -> v1::ListContainersResponse => "list_containers";
        container_status(v1::ContainerStatusRequest) -> v1::ContainerStatusResponse => "container_status";
        update_container_resources(v1::UpdateContainerResourcesRequest) -> v1::UpdateContainerResourcesResponse => "update_container_resources";
        reopen_container_log(v1::ReopenContainerLogRequest) -> v1::ReopenContainerLogResponse => "reopen_container_log";
        exec_sync(v1::ExecSyncRequest) -> v1::ExecSyncResponse => "exec_sync";
        exec(v1::ExecRequest) -> v1::ExecResponse => "exec";
        attach(v1::AttachRequest) -> v1::AttachResponse => "attach";
        port_forward(v1::PortForwardRequest) -> v1::PortForwardResponse => "port_forward";
        container_stats(v1::ContainerStatsRequest) -> v1::ContainerStatsResponse => "container_stats";
        list_container_stats(v1::ListContainerStatsRequest) -> v1::ListContainerStatsResponse => "list_container_stats";
        pod_sandbox_stats(v1::PodSandboxStatsRequest) -> v1::PodSandboxStatsResponse => "podsandbox_stats";
        list_pod_sandbox_stats(v1::ListPodSandboxStatsRequest) -> v1::ListPodSandboxStatsResponse => "list_podsandbox_stats";
        update_runtime_config(v1::UpdateRuntimeConfigRequest) -> v1::UpdateRuntimeConfigResponse => "update_runtime_config";
        status(v1::StatusRequest) -> v1::StatusResponse => "status";
        checkpoint_container(v1::CheckpointContainerRequest) -> v1::CheckpointContainerResponse => "checkpoint_container";
        get_container_events(v1::GetEventsRequest) -> ContainerEventStream => "get_container_events";
        list_metric_descriptors(v1::ListMetricDescriptorsRequest) -> v1::ListMetricDescriptorsResponse => "list_metric_descriptors";
        list_pod_sandbox_metrics(v1::ListPodSandboxMetricsRequest) -> v1::ListPodSandboxMetricsResponse => "list_podsandbox_metrics";
        runtime_config(v1::RuntimeConfigRequest) -> v1::RuntimeConfigResponse => "runtime_config";
}

instrumented! { ImageService, images:
        list_images(v1::ListImagesRequest) -> v1::ListImagesResponse => "list_images";
        image_status(v1::ImageStatusRequest) -> v1::ImageStatusResponse => "image_status";
        pull_image(v1::PullImageRequest) -> v1::PullImageResponse => "pull_image";
        remove_image(v1::RemoveImageRequest) -> v1::RemoveImageResponse => "remove_image";
        image_fs_info(v1::ImageFsInfoRequest) -> v1::ImageFsInfoResponse => "image_fs_info";
}
