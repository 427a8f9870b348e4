//! [`GrpcRuntime`]: the real client, CRI v1 over gRPC on a unix socket.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Uri};
use tracing::Instrument;

use crate::service::ContainerEventStream;
use crate::{Endpoint, Error, ImageService, Result, RuntimeService, v1};

/// The kubelet's `runtimeRequestTimeout`: the deadline of every unary CRI call.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// The kubelet's `MaxCallRecvMsgSize` for CRI connections (gRPC's own default is 4 MiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;
/// How long to wait for the socket to accept a connection (the kubelet's gRPC
/// `MinConnectTimeout`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of a [`GrpcRuntime`]. The defaults are the kubelet's.
#[derive(Debug, Clone)]
pub struct GrpcOptions {
    /// Deadline of one connection attempt to the socket.
    pub connect_timeout: Duration,
    /// Deadline of a unary call (`runtimeRequestTimeout`, 2 min). `RunPodSandbox` gets twice
    /// this, `StopContainer` this plus its grace period, `ExecSync` this plus its own timeout,
    /// and `PullImage` none at all, as in the kubelet.
    pub request_timeout: Duration,
    /// Largest message accepted or sent (16 MiB).
    pub max_message_size: usize,
}

impl Default for GrpcOptions {
    fn default() -> Self {
        GrpcOptions {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

/// A CRI runtime reached over gRPC on a unix socket (containerd, CRI-O).
///
/// The connection is lazy: building a `GrpcRuntime` never touches the socket, so an agent can
/// start before its runtime. Every call connects if needed, within
/// [`GrpcOptions::connect_timeout`]; when the runtime restarts, the broken connection is
/// dropped and the next call dials again, so one client lives as long as the agent.
/// Cloning is cheap: clones share one HTTP/2 connection.
#[derive(Debug, Clone)]
pub struct GrpcRuntime {
    endpoint: Endpoint,
    options: GrpcOptions,
    runtime: RuntimeServiceClient<Channel>,
    image: ImageServiceClient<Channel>,
}

impl GrpcRuntime {
    /// A client for `endpoint` (`unix:///run/containerd/containerd.sock` or a bare path) with
    /// the kubelet's default options. Does not connect.
    pub fn new(endpoint: &str) -> Result<Self> {
        Ok(Self::with_options(
            Endpoint::parse(endpoint)?,
            GrpcOptions::default(),
        ))
    }

    /// A client for a parsed endpoint with explicit options. Does not connect.
    pub fn with_options(endpoint: Endpoint, options: GrpcOptions) -> Self {
        if endpoint.is_deprecated_bare_path() {
            tracing::warn!(
                endpoint = %endpoint,
                "using a bare path as CRI endpoint is deprecated, please use the unix:// scheme"
            );
        }
        let socket = endpoint.path().to_path_buf();
        let connect_timeout = options.connect_timeout;
        // The URI is never dialled: the connector below opens the unix socket.
        let channel = tonic::transport::Endpoint::from_static("http://localhost")
            .connect_timeout(connect_timeout)
            .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                dial(socket.clone(), connect_timeout)
            }));
        let runtime = RuntimeServiceClient::new(channel.clone())
            .max_decoding_message_size(options.max_message_size)
            .max_encoding_message_size(options.max_message_size);
        let image = ImageServiceClient::new(channel)
            .max_decoding_message_size(options.max_message_size)
            .max_encoding_message_size(options.max_message_size);
        GrpcRuntime {
            endpoint,
            options,
            runtime,
            image,
        }
    }

    /// Connect and validate the runtime the way the kubelet does at start-up: `Version` must
    /// answer with all four fields set, then `ImageFsInfo` must succeed. Either failing is an
    /// error.
    pub async fn connect(endpoint: &str) -> Result<Self> {
        let rt = Self::new(endpoint)?;
        rt.validate().await?;
        Ok(rt)
    }

    /// The start-up validation of [`GrpcRuntime::connect`], on an existing client. Returns the
    /// runtime's version.
    pub async fn validate(&self) -> Result<v1::VersionResponse> {
        let version = self
            .version(v1::VersionRequest {
                version: KUBE_RUNTIME_API_VERSION.to_string(),
            })
            .await?;
        check_version(&version)?;
        self.image_fs_info(v1::ImageFsInfoRequest {}).await?;
        Ok(version)
    }

    /// The endpoint this client dials.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The options this client was built with.
    pub fn options(&self) -> &GrpcOptions {
        &self.options
    }

    /// The deadline of `call` (as named in `api.proto`), following the kubelet's
    /// `remote_runtime.go`. `extra` is the call's own timeout: the grace period of
    /// `StopContainer` or the timeout of `ExecSync`. `None` means no deadline.
    pub fn deadline(&self, call: &str, extra: Option<Duration>) -> Option<Duration> {
        call_deadline(self.options.request_timeout, call, extra)
    }

    async fn unary<Req, Resp, Fut>(
        &self,
        call: &'static str,
        id: Option<&str>,
        deadline: Option<Duration>,
        req: Req,
        send: impl FnOnce(tonic::Request<Req>) -> Fut,
    ) -> Result<Resp>
    where
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let span = tracing::debug_span!("cri", call, id = id.unwrap_or(""));
        async move {
            let mut request = tonic::Request::new(req);
            if let Some(deadline) = deadline {
                request.set_timeout(deadline);
            }
            let started = Instant::now();
            let result = match deadline {
                Some(d) => match tokio::time::timeout(d, send(request)).await {
                    Ok(r) => r,
                    Err(_) => Err(tonic::Status::deadline_exceeded(format!(
                        "deadline of {d:?} exceeded"
                    ))),
                },
                None => send(request).await,
            };
            let elapsed = started.elapsed();
            match result {
                Ok(resp) => {
                    tracing::debug!(?elapsed, "CRI call succeeded");
                    Ok(resp.into_inner())
                }
                Err(status) => {
                    let err = self.map_status(call, id, &status);
                    tracing::debug!(?elapsed, error = %err, "CRI call failed");
                    Err(err)
                }
            }
        }
        .instrument(span)
        .await
    }

    fn map_status(&self, call: &'static str, id: Option<&str>, status: &tonic::Status) -> Error {
        let id = id.filter(|s| !s.is_empty()).map(str::to_string);
        // tonic reports its own client-side deadline as Cancelled("Timeout expired").
        if status.code() == tonic::Code::Cancelled && status.message().contains("Timeout expired") {
            return Error::Rpc {
                call,
                id,
                code: tonic::Code::DeadlineExceeded,
                message: status.message().to_string(),
            };
        }
        // A status sent by the runtime never has a source; one with a source was made by the
        // client from a transport failure (socket missing, connection reset under a call,
        // which hyper reports as Cancelled or Unknown("transport error")).
        let transport_failure = std::error::Error::source(status).is_some();
        if status.code() == tonic::Code::Unavailable || transport_failure {
            return Error::Unavailable {
                endpoint: self.endpoint.to_string(),
                call,
                id,
                message: status_text(status),
            };
        }
        Error::from_status(call, id, status)
    }
}

/// The version string the kubelet sends in `VersionRequest` (`kubeRuntimeAPIVersion`).
pub const KUBE_RUNTIME_API_VERSION: &str = "0.1.0";

/// Check a `Version` response the way the kubelet does: all four fields must be set.
pub fn check_version(v: &v1::VersionResponse) -> Result<()> {
    let missing: Vec<&str> = [
        ("version", &v.version),
        ("runtime_name", &v.runtime_name),
        ("runtime_version", &v.runtime_version),
        ("runtime_api_version", &v.runtime_api_version),
    ]
    .into_iter()
    .filter(|(_, value)| value.is_empty())
    .map(|(name, _)| name)
    .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidResponse {
            call: "Version",
            id: None,
            reason: format!("empty field(s): {}", missing.join(", ")),
        })
    }
}

/// The kubelet's per-call deadlines (`remote_runtime.go`, `remote_image.go`).
pub(crate) fn call_deadline(
    request_timeout: Duration,
    call: &str,
    extra: Option<Duration>,
) -> Option<Duration> {
    match call {
        "RunPodSandbox" => Some(request_timeout * 2),
        "StopContainer" => Some(request_timeout + extra.unwrap_or_default()),
        // An exec timeout of 0 means the command may run for ever.
        "ExecSync" => match extra {
            Some(t) if !t.is_zero() => Some(request_timeout + t),
            _ => None,
        },
        "PullImage" | "GetContainerEvents" => None,
        _ => Some(request_timeout),
    }
}

fn status_text(status: &tonic::Status) -> String {
    use std::error::Error as _;
    let mut text = status.message().to_string();
    let mut source = status.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

async fn dial(
    socket: PathBuf,
    connect_timeout: Duration,
) -> std::io::Result<TokioIo<tokio::net::UnixStream>> {
    let attempt = tokio::net::UnixStream::connect(&socket);
    match tokio::time::timeout(connect_timeout, attempt).await {
        Ok(Ok(stream)) => Ok(TokioIo::new(stream)),
        Ok(Err(e)) => Err(std::io::Error::new(
            e.kind(),
            format!("connect to {}: {e}", socket.display()),
        )),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "connect to {}: no answer within {connect_timeout:?}",
                socket.display()
            ),
        )),
    }
}

macro_rules! rt_call {
    ($self:ident, $name:literal, $method:ident, $req:ident, $id:expr) => {{
        let id: Option<String> = $id;
        let mut client = $self.runtime.clone();
        $self
            .unary(
                $name,
                id.as_deref(),
                $self.deadline($name, None),
                $req,
                move |r| async move { client.$method(r).await },
            )
            .await
    }};
}

macro_rules! img_call {
    ($self:ident, $name:literal, $method:ident, $req:ident, $id:expr) => {{
        let id: Option<String> = $id;
        let mut client = $self.image.clone();
        $self
            .unary(
                $name,
                id.as_deref(),
                $self.deadline($name, None),
                $req,
                move |r| async move { client.$method(r).await },
            )
            .await
    }};
}

fn sandbox_name(config: &Option<v1::PodSandboxConfig>) -> Option<String> {
    config
        .as_ref()
        .and_then(|c| c.metadata.as_ref())
        .map(|m| format!("{}/{}", m.namespace, m.name))
}

fn image_ref(spec: &Option<v1::ImageSpec>) -> Option<String> {
    spec.as_ref().map(|s| s.image.clone())
}

#[async_trait]
impl RuntimeService for GrpcRuntime {
    async fn version(&self, req: v1::VersionRequest) -> Result<v1::VersionResponse> {
        rt_call!(self, "Version", version, req, None)
    }

    async fn run_pod_sandbox(
        &self,
        req: v1::RunPodSandboxRequest,
    ) -> Result<v1::RunPodSandboxResponse> {
        rt_call!(
            self,
            "RunPodSandbox",
            run_pod_sandbox,
            req,
            sandbox_name(&req.config)
        )
    }

    async fn stop_pod_sandbox(
        &self,
        req: v1::StopPodSandboxRequest,
    ) -> Result<v1::StopPodSandboxResponse> {
        rt_call!(
            self,
            "StopPodSandbox",
            stop_pod_sandbox,
            req,
            Some(req.pod_sandbox_id.clone())
        )
    }

    async fn remove_pod_sandbox(
        &self,
        req: v1::RemovePodSandboxRequest,
    ) -> Result<v1::RemovePodSandboxResponse> {
        rt_call!(
            self,
            "RemovePodSandbox",
            remove_pod_sandbox,
            req,
            Some(req.pod_sandbox_id.clone())
        )
    }

    async fn pod_sandbox_status(
        &self,
        req: v1::PodSandboxStatusRequest,
    ) -> Result<v1::PodSandboxStatusResponse> {
        let id = req.pod_sandbox_id.clone();
        let reply: v1::PodSandboxStatusResponse = rt_call!(
            self,
            "PodSandboxStatus",
            pod_sandbox_status,
            req,
            Some(id.clone())
        )?;
        crate::verify::check_sandbox_status(&id, reply.status.as_ref())?;
        Ok(reply)
    }

    async fn list_pod_sandbox(
        &self,
        req: v1::ListPodSandboxRequest,
    ) -> Result<v1::ListPodSandboxResponse> {
        rt_call!(self, "ListPodSandbox", list_pod_sandbox, req, None)
    }

    async fn create_container(
        &self,
        req: v1::CreateContainerRequest,
    ) -> Result<v1::CreateContainerResponse> {
        let id = req
            .config
            .as_ref()
            .and_then(|c| c.metadata.as_ref())
            .map(|m| format!("{} in sandbox {}", m.name, req.pod_sandbox_id));
        rt_call!(self, "CreateContainer", create_container, req, id)
    }

    async fn start_container(
        &self,
        req: v1::StartContainerRequest,
    ) -> Result<v1::StartContainerResponse> {
        rt_call!(
            self,
            "StartContainer",
            start_container,
            req,
            Some(req.container_id.clone())
        )
    }

    async fn stop_container(
        &self,
        req: v1::StopContainerRequest,
    ) -> Result<v1::StopContainerResponse> {
        let grace = Duration::from_secs(req.timeout.max(0) as u64);
        let id = Some(req.container_id.clone());
        let mut client = self.runtime.clone();
        self.unary(
            "StopContainer",
            id.as_deref(),
            self.deadline("StopContainer", Some(grace)),
            req,
            move |r| async move { client.stop_container(r).await },
        )
        .await
    }

    async fn remove_container(
        &self,
        req: v1::RemoveContainerRequest,
    ) -> Result<v1::RemoveContainerResponse> {
        rt_call!(
            self,
            "RemoveContainer",
            remove_container,
            req,
            Some(req.container_id.clone())
        )
    }

    async fn list_containers(
        &self,
        req: v1::ListContainersRequest,
    ) -> Result<v1::ListContainersResponse> {
        rt_call!(self, "ListContainers", list_containers, req, None)
    }

    async fn container_status(
        &self,
        req: v1::ContainerStatusRequest,
    ) -> Result<v1::ContainerStatusResponse> {
        let id = req.container_id.clone();
        let reply: v1::ContainerStatusResponse = rt_call!(
            self,
            "ContainerStatus",
            container_status,
            req,
            Some(id.clone())
        )?;
        crate::verify::check_container_status(&id, reply.status.as_ref())?;
        Ok(reply)
    }

    async fn update_container_resources(
        &self,
        req: v1::UpdateContainerResourcesRequest,
    ) -> Result<v1::UpdateContainerResourcesResponse> {
        rt_call!(
            self,
            "UpdateContainerResources",
            update_container_resources,
            req,
            Some(req.container_id.clone())
        )
    }

    async fn reopen_container_log(
        &self,
        req: v1::ReopenContainerLogRequest,
    ) -> Result<v1::ReopenContainerLogResponse> {
        rt_call!(
            self,
            "ReopenContainerLog",
            reopen_container_log,
            req,
            Some(req.container_id.clone())
        )
    }

    async fn exec_sync(&self, req: v1::ExecSyncRequest) -> Result<v1::ExecSyncResponse> {
        let timeout = Duration::from_secs(req.timeout.max(0) as u64);
        let container_id = req.container_id.clone();
        let mut client = self.runtime.clone();
        // The runtime enforces the exec timeout; the call deadline only guards against a
        // runtime that never answers (request timeout + exec timeout, as the kubelet does).
        let result = self
            .unary(
                "ExecSync",
                Some(&container_id),
                self.deadline("ExecSync", Some(timeout)),
                req,
                move |r| async move { client.exec_sync(r).await },
            )
            .await;
        match result {
            Err(e) if e.code() == Some(tonic::Code::DeadlineExceeded) => {
                Err(Error::CommandTimedOut {
                    container_id,
                    timeout,
                })
            }
            other => other,
        }
    }

    async fn exec(&self, req: v1::ExecRequest) -> Result<v1::ExecResponse> {
        rt_call!(self, "Exec", exec, req, Some(req.container_id.clone()))
    }

    async fn attach(&self, req: v1::AttachRequest) -> Result<v1::AttachResponse> {
        rt_call!(self, "Attach", attach, req, Some(req.container_id.clone()))
    }

    async fn port_forward(&self, req: v1::PortForwardRequest) -> Result<v1::PortForwardResponse> {
        rt_call!(
            self,
            "PortForward",
            port_forward,
            req,
            Some(req.pod_sandbox_id.clone())
        )
    }

    async fn container_stats(
        &self,
        req: v1::ContainerStatsRequest,
    ) -> Result<v1::ContainerStatsResponse> {
        rt_call!(
            self,
            "ContainerStats",
            container_stats,
            req,
            Some(req.container_id.clone())
        )
    }

    async fn list_container_stats(
        &self,
        req: v1::ListContainerStatsRequest,
    ) -> Result<v1::ListContainerStatsResponse> {
        rt_call!(self, "ListContainerStats", list_container_stats, req, None)
    }

    async fn pod_sandbox_stats(
        &self,
        req: v1::PodSandboxStatsRequest,
    ) -> Result<v1::PodSandboxStatsResponse> {
        rt_call!(
            self,
            "PodSandboxStats",
            pod_sandbox_stats,
            req,
            Some(req.pod_sandbox_id.clone())
        )
    }

    async fn list_pod_sandbox_stats(
        &self,
        req: v1::ListPodSandboxStatsRequest,
    ) -> Result<v1::ListPodSandboxStatsResponse> {
        rt_call!(
            self,
            "ListPodSandboxStats",
            list_pod_sandbox_stats,
            req,
            None
        )
    }

    async fn update_runtime_config(
        &self,
        req: v1::UpdateRuntimeConfigRequest,
    ) -> Result<v1::UpdateRuntimeConfigResponse> {
        rt_call!(
            self,
            "UpdateRuntimeConfig",
            update_runtime_config,
            req,
            None
        )
    }

    async fn status(&self, req: v1::StatusRequest) -> Result<v1::StatusResponse> {
        rt_call!(self, "Status", status, req, None)
    }

    async fn checkpoint_container(
        &self,
        req: v1::CheckpointContainerRequest,
    ) -> Result<v1::CheckpointContainerResponse> {
        rt_call!(
            self,
            "CheckpointContainer",
            checkpoint_container,
            req,
            Some(req.container_id.clone())
        )
    }

    async fn get_container_events(
        &self,
        req: v1::GetEventsRequest,
    ) -> Result<ContainerEventStream> {
        let mut client = self.runtime.clone();
        let streaming: tonic::Streaming<v1::ContainerEventResponse> = self
            .unary("GetContainerEvents", None, None, req, move |r| async move {
                client.get_container_events(r).await
            })
            .await?;
        let this = self.clone();
        Ok(Box::pin(streaming.map(move |item| {
            item.map_err(|status| this.map_status("GetContainerEvents", None, &status))
        })))
    }

    async fn list_metric_descriptors(
        &self,
        req: v1::ListMetricDescriptorsRequest,
    ) -> Result<v1::ListMetricDescriptorsResponse> {
        rt_call!(
            self,
            "ListMetricDescriptors",
            list_metric_descriptors,
            req,
            None
        )
    }

    async fn list_pod_sandbox_metrics(
        &self,
        req: v1::ListPodSandboxMetricsRequest,
    ) -> Result<v1::ListPodSandboxMetricsResponse> {
        rt_call!(
            self,
            "ListPodSandboxMetrics",
            list_pod_sandbox_metrics,
            req,
            None
        )
    }

    async fn runtime_config(
        &self,
        req: v1::RuntimeConfigRequest,
    ) -> Result<v1::RuntimeConfigResponse> {
        rt_call!(self, "RuntimeConfig", runtime_config, req, None)
    }
}

#[async_trait]
impl ImageService for GrpcRuntime {
    async fn list_images(&self, req: v1::ListImagesRequest) -> Result<v1::ListImagesResponse> {
        img_call!(self, "ListImages", list_images, req, None)
    }

    async fn image_status(&self, req: v1::ImageStatusRequest) -> Result<v1::ImageStatusResponse> {
        img_call!(
            self,
            "ImageStatus",
            image_status,
            req,
            image_ref(&req.image)
        )
    }

    async fn pull_image(&self, req: v1::PullImageRequest) -> Result<v1::PullImageResponse> {
        img_call!(self, "PullImage", pull_image, req, image_ref(&req.image))
    }

    async fn remove_image(&self, req: v1::RemoveImageRequest) -> Result<v1::RemoveImageResponse> {
        img_call!(
            self,
            "RemoveImage",
            remove_image,
            req,
            image_ref(&req.image)
        )
    }

    async fn image_fs_info(&self, req: v1::ImageFsInfoRequest) -> Result<v1::ImageFsInfoResponse> {
        img_call!(self, "ImageFsInfo", image_fs_info, req, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_05_call_deadlines() {
        let t = DEFAULT_REQUEST_TIMEOUT;
        assert_eq!(
            call_deadline(t, "Version", None),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            call_deadline(t, "RunPodSandbox", None),
            Some(Duration::from_secs(240))
        );
        assert_eq!(call_deadline(t, "PullImage", None), None);
        assert_eq!(
            call_deadline(t, "StopContainer", Some(Duration::from_secs(30))),
            Some(Duration::from_secs(150))
        );
        assert_eq!(
            call_deadline(t, "ExecSync", Some(Duration::from_secs(1))),
            Some(Duration::from_secs(121))
        );
        assert_eq!(call_deadline(t, "ExecSync", Some(Duration::ZERO)), None);
        assert_eq!(call_deadline(t, "GetContainerEvents", None), None);
    }

    #[test]
    fn cri_04_version_must_have_all_fields() {
        let full = v1::VersionResponse {
            version: "0.1.0".into(),
            runtime_name: "containerd".into(),
            runtime_version: "1.6.20".into(),
            runtime_api_version: "v1".into(),
        };
        check_version(&full).unwrap();
        let missing = v1::VersionResponse {
            runtime_api_version: String::new(),
            ..full
        };
        let err = check_version(&missing).unwrap_err().to_string();
        assert!(err.contains("runtime_api_version"), "{err}");
    }
}
