//! `GrpcRuntime` on the wire: a scripted CRI server on a unix socket shows what the client
//! really sends (deadlines, message sizes) and how it handles connection loss.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cri_client::v1;
use cri_client::v1::image_service_server::{ImageService as ImageServer, ImageServiceServer};
use cri_client::v1::runtime_service_server::{
    RuntimeService as RuntimeServer, RuntimeServiceServer,
};
use cri_client::{
    Endpoint, Error, EventsCapability, GrpcOptions, GrpcRuntime, ImageService, RuntimeService,
};
use tokio::net::UnixListener;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

/// What the scripted server saw and how it answers.
#[derive(Debug, Default)]
struct Script {
    /// (RPC name, `grpc-timeout` header as a duration)
    seen: Vec<(&'static str, Option<Duration>)>,
    version: Option<v1::VersionResponse>,
    list_containers_payload: usize,
    status_delay: Duration,
    events_supported: bool,
    image_fs_info_fails: bool,
    stop_container_errors: VecDeque<Status>,
}

#[derive(Debug, Clone, Default)]
struct Scripted(Arc<Mutex<Script>>);

impl Scripted {
    fn record<T>(&self, name: &'static str, req: &Request<T>) {
        let timeout = req
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .map(parse_grpc_timeout);
        self.0.lock().unwrap().seen.push((name, timeout));
    }

    fn timeout_of(&self, name: &str) -> Option<Option<Duration>> {
        self.0
            .lock()
            .unwrap()
            .seen
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }
}

fn parse_grpc_timeout(v: &str) -> Duration {
    let (num, unit) = v.split_at(v.len() - 1);
    let n: u64 = num.parse().expect("grpc-timeout value");
    match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        other => panic!("unknown grpc-timeout unit {other}"),
    }
}

/// RPCs the scripted server does not model answer `Unimplemented`. `#[async_trait]` does not
/// see inside macro expansions, so these are written in the form it would produce.
macro_rules! unimplemented_rpcs {
    ($($method:ident($req:ty) -> $resp:ty;)*) => {$(
        fn $method<'life0, 'async_trait>(
            &'life0 self,
            request: Request<$req>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Response<$resp>, Status>> + Send + 'async_trait>,
        >
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            self.record(stringify!($method), &request);
            Box::pin(async {
                Err(Status::unimplemented(concat!(stringify!($method), " is not scripted")))
            })
        }
    )*};
}

#[tonic::async_trait]
impl RuntimeServer for Scripted {
    type GetContainerEventsStream =
        futures::stream::BoxStream<'static, Result<v1::ContainerEventResponse, Status>>;

    async fn version(
        &self,
        request: Request<v1::VersionRequest>,
    ) -> Result<Response<v1::VersionResponse>, Status> {
        self.record("Version", &request);
        let version = self
            .0
            .lock()
            .unwrap()
            .version
            .clone()
            .unwrap_or(v1::VersionResponse {
                version: "0.1.0".into(),
                runtime_name: "scripted".into(),
                runtime_version: "1.0".into(),
                runtime_api_version: "v1".into(),
            });
        Ok(Response::new(version))
    }

    async fn run_pod_sandbox(
        &self,
        request: Request<v1::RunPodSandboxRequest>,
    ) -> Result<Response<v1::RunPodSandboxResponse>, Status> {
        self.record("RunPodSandbox", &request);
        Ok(Response::new(v1::RunPodSandboxResponse {
            pod_sandbox_id: "sb1".into(),
        }))
    }

    async fn stop_container(
        &self,
        request: Request<v1::StopContainerRequest>,
    ) -> Result<Response<v1::StopContainerResponse>, Status> {
        self.record("StopContainer", &request);
        match self.0.lock().unwrap().stop_container_errors.pop_front() {
            Some(status) => Err(status),
            None => Ok(Response::new(v1::StopContainerResponse {})),
        }
    }

    async fn list_containers(
        &self,
        request: Request<v1::ListContainersRequest>,
    ) -> Result<Response<v1::ListContainersResponse>, Status> {
        self.record("ListContainers", &request);
        let size = self.0.lock().unwrap().list_containers_payload;
        // One container whose annotation carries `size` bytes: the response is a little
        // larger than `size` on the wire.
        let container = v1::Container {
            id: "big".into(),
            annotations: [("payload".to_string(), "x".repeat(size))]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        Ok(Response::new(v1::ListContainersResponse {
            containers: vec![container],
        }))
    }

    async fn status(
        &self,
        request: Request<v1::StatusRequest>,
    ) -> Result<Response<v1::StatusResponse>, Status> {
        self.record("Status", &request);
        let delay = self.0.lock().unwrap().status_delay;
        tokio::time::sleep(delay).await;
        Ok(Response::new(v1::StatusResponse::default()))
    }

    async fn exec_sync(
        &self,
        request: Request<v1::ExecSyncRequest>,
    ) -> Result<Response<v1::ExecSyncResponse>, Status> {
        self.record("ExecSync", &request);
        Err(Status::deadline_exceeded(
            "timeout 1s exceeded: context deadline exceeded",
        ))
    }

    async fn get_container_events(
        &self,
        request: Request<v1::GetEventsRequest>,
    ) -> Result<Response<Self::GetContainerEventsStream>, Status> {
        self.record("GetContainerEvents", &request);
        if self.0.lock().unwrap().events_supported {
            let event = v1::ContainerEventResponse {
                container_id: "c1".into(),
                ..Default::default()
            };
            Ok(Response::new(Box::pin(futures::stream::iter(vec![Ok(
                event,
            )]))))
        } else {
            Err(Status::unimplemented(
                "method GetContainerEvents not implemented",
            ))
        }
    }

    unimplemented_rpcs! {
        stop_pod_sandbox(v1::StopPodSandboxRequest) -> v1::StopPodSandboxResponse;
        remove_pod_sandbox(v1::RemovePodSandboxRequest) -> v1::RemovePodSandboxResponse;
        pod_sandbox_status(v1::PodSandboxStatusRequest) -> v1::PodSandboxStatusResponse;
        list_pod_sandbox(v1::ListPodSandboxRequest) -> v1::ListPodSandboxResponse;
        create_container(v1::CreateContainerRequest) -> v1::CreateContainerResponse;
        start_container(v1::StartContainerRequest) -> v1::StartContainerResponse;
        remove_container(v1::RemoveContainerRequest) -> v1::RemoveContainerResponse;
        container_status(v1::ContainerStatusRequest) -> v1::ContainerStatusResponse;
        update_container_resources(v1::UpdateContainerResourcesRequest) -> v1::UpdateContainerResourcesResponse;
        reopen_container_log(v1::ReopenContainerLogRequest) -> v1::ReopenContainerLogResponse;
        exec(v1::ExecRequest) -> v1::ExecResponse;
        attach(v1::AttachRequest) -> v1::AttachResponse;
        port_forward(v1::PortForwardRequest) -> v1::PortForwardResponse;
        container_stats(v1::ContainerStatsRequest) -> v1::ContainerStatsResponse;
        list_container_stats(v1::ListContainerStatsRequest) -> v1::ListContainerStatsResponse;
        pod_sandbox_stats(v1::PodSandboxStatsRequest) -> v1::PodSandboxStatsResponse;
        list_pod_sandbox_stats(v1::ListPodSandboxStatsRequest) -> v1::ListPodSandboxStatsResponse;
        update_runtime_config(v1::UpdateRuntimeConfigRequest) -> v1::UpdateRuntimeConfigResponse;
        checkpoint_container(v1::CheckpointContainerRequest) -> v1::CheckpointContainerResponse;
        list_metric_descriptors(v1::ListMetricDescriptorsRequest) -> v1::ListMetricDescriptorsResponse;
        list_pod_sandbox_metrics(v1::ListPodSandboxMetricsRequest) -> v1::ListPodSandboxMetricsResponse;
        runtime_config(v1::RuntimeConfigRequest) -> v1::RuntimeConfigResponse;
    }
}

#[tonic::async_trait]
impl ImageServer for Scripted {
    async fn pull_image(
        &self,
        request: Request<v1::PullImageRequest>,
    ) -> Result<Response<v1::PullImageResponse>, Status> {
        self.record("PullImage", &request);
        Ok(Response::new(v1::PullImageResponse {
            image_ref: "sha256:abc".into(),
        }))
    }

    async fn image_fs_info(
        &self,
        request: Request<v1::ImageFsInfoRequest>,
    ) -> Result<Response<v1::ImageFsInfoResponse>, Status> {
        self.record("ImageFsInfo", &request);
        if self.0.lock().unwrap().image_fs_info_fails {
            Err(Status::internal("image filesystem unavailable"))
        } else {
            Ok(Response::new(v1::ImageFsInfoResponse::default()))
        }
    }

    unimplemented_rpcs! {
        list_images(v1::ListImagesRequest) -> v1::ListImagesResponse;
        image_status(v1::ImageStatusRequest) -> v1::ImageStatusResponse;
        remove_image(v1::RemoveImageRequest) -> v1::RemoveImageResponse;
    }
}

/// A scripted server listening on a unix socket; stops when dropped.
struct Server {
    script: Scripted,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    async fn start(path: &Path, script: Scripted) -> Server {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).expect("bind the scripted server socket");
        let (stop, stopped) = oneshot::channel::<()>();
        let svc = script.clone();
        let task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(RuntimeServiceServer::new(svc.clone()))
                .add_service(ImageServiceServer::new(svc))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::UnixListenerStream::new(listener),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await
                .expect("scripted server");
        });
        Server {
            script,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Kill the server the hard way: abort its task, which drops every connection.
    async fn kill(mut self) {
        self.stop.take();
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn socket_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cri-wire-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("cri.sock")
}

fn client(path: &Path, options: GrpcOptions) -> GrpcRuntime {
    GrpcRuntime::with_options(Endpoint::parse(path.to_str().unwrap()).unwrap(), options)
}

fn close_to(actual: Option<Duration>, expected: Duration) -> bool {
    match actual {
        Some(d) => d <= expected && expected - d < Duration::from_secs(2),
        None => false,
    }
}

#[tokio::test]
async fn cri_05_deadlines_on_the_wire() {
    let path = socket_path("deadlines");
    let server = Server::start(&path, Scripted::default()).await;
    let rt = client(&path, GrpcOptions::default());

    rt.version(v1::VersionRequest::default()).await.unwrap();
    rt.run_pod_sandbox(v1::RunPodSandboxRequest::default())
        .await
        .unwrap();
    rt.stop_container(v1::StopContainerRequest {
        container_id: "c".into(),
        timeout: 30,
    })
    .await
    .unwrap();
    rt.pull_image(v1::PullImageRequest::default())
        .await
        .unwrap();

    let s = &server.script;
    let version = s.timeout_of("Version").unwrap();
    assert!(
        close_to(version, Duration::from_secs(120)),
        "Version: {version:?}"
    );
    let run = s.timeout_of("RunPodSandbox").unwrap();
    assert!(
        close_to(run, Duration::from_secs(240)),
        "RunPodSandbox: {run:?}"
    );
    let stop = s.timeout_of("StopContainer").unwrap();
    assert!(
        close_to(stop, Duration::from_secs(150)),
        "StopContainer: {stop:?}"
    );
    assert_eq!(
        s.timeout_of("PullImage"),
        Some(None),
        "PullImage must carry no deadline"
    );
}

#[tokio::test]
async fn cri_05_deadline_is_enforced_and_named() {
    let path = socket_path("slow");
    let script = Scripted::default();
    script.0.lock().unwrap().status_delay = Duration::from_secs(5);
    let _server = Server::start(&path, script).await;
    let rt = client(
        &path,
        GrpcOptions {
            request_timeout: Duration::from_millis(300),
            ..GrpcOptions::default()
        },
    );
    let started = Instant::now();
    let err = rt.status(v1::StatusRequest::default()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(err.code(), Some(tonic::Code::DeadlineExceeded), "{err}");
    assert!(err.to_string().contains("Status"), "{err}");
}

#[tokio::test]
async fn cri_02_message_size_limit_16mib() {
    let path = socket_path("size");
    let server = Server::start(&path, Scripted::default()).await;
    let rt = client(&path, GrpcOptions::default());

    server.script.0.lock().unwrap().list_containers_payload = 10 * 1024 * 1024;
    let ok = rt
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap();
    assert_eq!(
        ok.containers[0].annotations["payload"].len(),
        10 * 1024 * 1024
    );

    server.script.0.lock().unwrap().list_containers_payload = 17 * 1024 * 1024;
    let err = rt
        .list_containers(v1::ListContainersRequest::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ListContainers"), "{err}");
}

#[tokio::test]
async fn cri_03_cri_04_startup_validation() {
    let path = socket_path("validate");
    let server = Server::start(&path, Scripted::default()).await;
    let endpoint = format!("unix://{}", path.display());

    let rt = GrpcRuntime::connect(&endpoint)
        .await
        .expect("a valid runtime validates");
    let seen: Vec<_> = server
        .script
        .0
        .lock()
        .unwrap()
        .seen
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        seen,
        ["Version", "ImageFsInfo"],
        "Version first, then ImageFsInfo"
    );
    drop(rt);

    server.script.0.lock().unwrap().version = Some(v1::VersionResponse {
        version: "0.1.0".into(),
        runtime_name: "scripted".into(),
        runtime_version: "1.0".into(),
        runtime_api_version: String::new(),
    });
    let err = GrpcRuntime::connect(&endpoint).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidResponse {
                call: "Version",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("runtime_api_version"), "{err}");

    server.script.0.lock().unwrap().version = None;
    server.script.0.lock().unwrap().image_fs_info_fails = true;
    let err = GrpcRuntime::connect(&endpoint).await.unwrap_err();
    assert_eq!(err.call(), Some("ImageFsInfo"), "{err}");
}

#[tokio::test]
async fn cri_06_exec_deadline_is_command_timed_out() {
    let path = socket_path("exec");
    let _server = Server::start(&path, Scripted::default()).await;
    let rt = client(&path, GrpcOptions::default());
    let err = cri_client::run_in_container(
        &rt,
        "c1",
        vec!["sleep".into(), "5".into()],
        Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::CommandTimedOut { .. }), "{err}");
    assert!(err.to_string().contains("command timed out"), "{err}");
    assert!(err.to_string().contains("c1"), "{err}");
}

#[tokio::test]
async fn missing_socket_fails_fast_naming_the_path() {
    let path = socket_path("missing").with_file_name("does-not-exist.sock");
    let connect_timeout = Duration::from_secs(2);
    let rt = client(
        &path,
        GrpcOptions {
            connect_timeout,
            ..GrpcOptions::default()
        },
    );
    let started = Instant::now();
    let err = rt.version(v1::VersionRequest::default()).await.unwrap_err();
    assert!(
        started.elapsed() < connect_timeout,
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
}

#[tokio::test]
async fn reconnects_after_the_server_restarts() {
    let path = socket_path("restart");
    let server = Server::start(&path, Scripted::default()).await;
    let rt = client(&path, GrpcOptions::default());
    rt.version(v1::VersionRequest::default()).await.unwrap();

    server.kill().await;
    let down = rt.version(v1::VersionRequest::default()).await.unwrap_err();
    assert_eq!(down.code(), Some(tonic::Code::Unavailable), "{down}");

    let _server = Server::start(&path, Scripted::default()).await;
    rt.version(v1::VersionRequest::default())
        .await
        .expect("the same client reaches the restarted runtime");
}

#[tokio::test]
async fn events_capability_is_reported_not_failed() {
    let path = socket_path("events");
    let server = Server::start(&path, Scripted::default()).await;
    let rt = client(&path, GrpcOptions::default());
    assert_eq!(
        rt.container_events_capability().await.unwrap(),
        EventsCapability::Unsupported
    );
    server.script.0.lock().unwrap().events_supported = true;
    assert_eq!(
        rt.container_events_capability().await.unwrap(),
        EventsCapability::Supported
    );
    let mut events = rt
        .get_container_events(v1::GetEventsRequest {})
        .await
        .unwrap();
    use futures::StreamExt;
    let first = events.next().await.unwrap().unwrap();
    assert_eq!(first.container_id, "c1");
}

#[tokio::test]
async fn cri_11_not_found_keeps_code_and_id() {
    let path = socket_path("notfound");
    let server = Server::start(&path, Scripted::default()).await;
    server
        .script
        .0
        .lock()
        .unwrap()
        .stop_container_errors
        .push_back(Status::not_found(
            "an error occurred when try to find container \"nope\": not found",
        ));
    let rt = client(&path, GrpcOptions::default());
    let err = rt
        .stop_container(v1::StopContainerRequest {
            container_id: "nope".into(),
            timeout: 0,
        })
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("StopContainer for nope"), "{err}");
}
