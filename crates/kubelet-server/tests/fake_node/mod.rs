//! What the `/containerLogs`, `/logs/` and streaming tests share: a [`FakeNode`] behind the
//! routes, served on a local port, a small HTTP/1 client, CRI log lines, a runtime whose
//! streaming URLs point at a local upstream, and that upstream.

#![allow(dead_code)] // Each test file uses its own part.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
use cri_client::{ContainerEventStream, Result as CriResult, RuntimeService, v1};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kubelet_server::{ContainerTarget, Error, FoundContainer, HealthCheck, NodeApi, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a test waits for something that should come at once.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A `NodeApi` with scripted containers, sandboxes, pods and log directory.
#[derive(Default)]
pub struct FakeNode {
    /// The runtime `runtime()` returns.
    pub runtime: Option<Arc<dyn RuntimeService>>,
    /// `(namespace, pod, container, previous)` to what `find_container` finds.
    pub containers: Mutex<HashMap<(String, String, String, bool), FoundContainer>>,
    /// `(namespace, pod)` to the sandbox `find_sandbox` finds.
    pub sandboxes: Mutex<HashMap<(String, String), String>>,
    /// What `pods()` returns.
    pub pods: Mutex<Vec<Pod>>,
    /// What `node_log_dir()` returns.
    pub log_dir: Option<PathBuf>,
    /// The targets `find_container` was asked for.
    pub asked: Mutex<Vec<(ContainerTarget, bool)>>,
}

impl FakeNode {
    /// Makes `find_container` find `found` for `namespace/pod` `container`.
    pub fn add_container(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
        found: FoundContainer,
    ) {
        self.containers.lock().unwrap().insert(
            (namespace.into(), pod.into(), container.into(), previous),
            found,
        );
    }
}

#[async_trait]
impl NodeApi for FakeNode {
    fn pods(&self) -> Vec<Pod> {
        self.pods.lock().unwrap().clone()
    }
    fn healthz(&self) -> Vec<HealthCheck> {
        Vec::new()
    }
    fn metrics(&self) -> String {
        String::new()
    }
    fn configz(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn runtime(&self) -> Option<Arc<dyn RuntimeService>> {
        self.runtime.clone()
    }
    async fn find_container(
        &self,
        target: &ContainerTarget,
        previous: bool,
    ) -> Result<FoundContainer> {
        self.asked.lock().unwrap().push((target.clone(), previous));
        let containers = self.containers.lock().unwrap();
        let key = (
            target.namespace.clone(),
            target.pod.clone(),
            target.container.clone(),
            previous,
        );
        if let Some(found) = containers.get(&key) {
            return Ok(found.clone());
        }
        if !containers
            .keys()
            .any(|(ns, pod, _, _)| *ns == target.namespace && *pod == target.pod)
        {
            return Err(Error::NotFound(format!(
                "pod {:?} does not exist",
                target.pod
            )));
        }
        if previous {
            return Err(Error::BadRequest(format!(
                "previous terminated container {:?} in pod {:?} not found",
                target.container, target.pod
            )));
        }
        Err(Error::NotFound(format!(
            "container {:?} not found in pod {:?}",
            target.container, target.pod
        )))
    }
    async fn find_sandbox(
        &self,
        namespace: &str,
        name: &str,
        _uid: Option<&str>,
    ) -> Result<String> {
        self.sandboxes
            .lock()
            .unwrap()
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| Error::NotFound("pod does not exist".into()))
    }
    fn node_log_dir(&self) -> Option<PathBuf> {
        self.log_dir.clone()
    }
}

/// Serves `router` with `node` on a local port, as the agent would (upgrades, peer
/// address).
pub async fn serve(router: Router<Arc<dyn NodeApi>>, node: Arc<FakeNode>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router
        .with_state(node as Arc<dyn NodeApi>)
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Sends one request on a new connection; the response's body streams.
pub async fn send(addr: SocketAddr, method: &str, path: &str) -> Response<Incoming> {
    send_with(addr, method, path, &[]).await
}

/// [`send`] with extra headers.
pub async fn send_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response<Incoming> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    sender
        .send_request(request.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap()
}

/// Sends a request and reads the whole answer.
pub async fn fetch(addr: SocketAddr, method: &str, path: &str) -> (StatusCode, HeaderMap, String) {
    let response = send(addr, method, path).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = tokio::time::timeout(PATIENCE, response.into_body().collect())
        .await
        .expect("the body ends")
        .unwrap()
        .to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// `GET` and read the whole answer.
pub async fn get(addr: SocketAddr, path: &str) -> (StatusCode, HeaderMap, String) {
    fetch(addr, "GET", path).await
}

/// The next chunk of data of a streaming body, `None` at its end.
pub async fn next_chunk(body: &mut Incoming) -> Option<Bytes> {
    loop {
        let frame = tokio::time::timeout(PATIENCE, body.frame())
            .await
            .expect("a chunk comes in time")?
            .expect("the body does not fail");
        if let Ok(data) = frame.into_data() {
            return Some(data);
        }
    }
}

/// One record of the CRI log format.
pub fn cri_line(timestamp: &str, stream: &str, tag: &str, content: &str) -> String {
    format!("{timestamp} {stream} {tag} {content}\n")
}

/// A running container in `fake` (sandbox and container created and started).
pub async fn running_container(fake: &FakeRuntime, pod: &str, container: &str) -> String {
    let sandbox_config = v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: pod.into(),
            namespace: "default".into(),
            uid: format!("uid-{pod}"),
            attempt: 0,
        }),
        ..Default::default()
    };
    let sandbox = fake
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(sandbox_config.clone()),
            runtime_handler: String::new(),
        })
        .await
        .unwrap()
        .pod_sandbox_id;
    let id = fake
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: sandbox,
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata {
                    name: container.into(),
                    attempt: 0,
                }),
                image: Some(v1::ImageSpec {
                    image: BUSYBOX_IMAGE.into(),
                    ..Default::default()
                }),
                command: vec!["sleep".into(), "infinity".into()],
                ..Default::default()
            }),
            sandbox_config: Some(sandbox_config),
        })
        .await
        .unwrap()
        .container_id;
    fake.start_container(v1::StartContainerRequest {
        container_id: id.clone(),
    })
    .await
    .unwrap();
    id
}

/// The sandbox of the only pod in `fake`.
pub async fn only_sandbox(fake: &FakeRuntime) -> String {
    let sandboxes = fake
        .list_pod_sandbox(v1::ListPodSandboxRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(sandboxes.len(), 1);
    sandboxes[0].id.clone()
}

/// A runtime whose streaming URLs point at `upstream` (the fake's own point nowhere), and
/// that keeps the last `Exec`, `Attach` and `PortForward` requests.
pub struct StreamingRuntime {
    /// The runtime everything else goes to.
    pub fake: FakeRuntime,
    /// `http://host:port` of the streaming server.
    pub upstream: String,
    /// The last requests of each kind.
    pub last_exec: Mutex<Option<v1::ExecRequest>>,
    /// The last `Attach`.
    pub last_attach: Mutex<Option<v1::AttachRequest>>,
    /// The last `PortForward`.
    pub last_port_forward: Mutex<Option<v1::PortForwardRequest>>,
}

impl StreamingRuntime {
    /// Streaming URLs of `fake`, moved to `upstream`.
    pub fn new(fake: FakeRuntime, upstream: SocketAddr) -> StreamingRuntime {
        StreamingRuntime {
            fake,
            upstream: format!("http://{upstream}"),
            last_exec: Mutex::new(None),
            last_attach: Mutex::new(None),
            last_port_forward: Mutex::new(None),
        }
    }

    fn moved(&self, url: String) -> String {
        url.replace("http://127.0.0.1:10010", &self.upstream)
    }
}

/// Delegates the calls the streaming tests do not look at to the fake.
macro_rules! delegate_to_fake {
    ($($method:ident($request:ident) -> $response:ident;)*) => {
        #[async_trait]
        impl RuntimeService for StreamingRuntime {
            $(
                async fn $method(&self, req: v1::$request) -> CriResult<v1::$response> {
                    self.fake.$method(req).await
                }
            )*

            async fn get_container_events(
                &self,
                req: v1::GetEventsRequest,
            ) -> CriResult<ContainerEventStream> {
                self.fake.get_container_events(req).await
            }

            async fn exec(&self, req: v1::ExecRequest) -> CriResult<v1::ExecResponse> {
                *self.last_exec.lock().unwrap() = Some(req.clone());
                let reply = self.fake.exec(req).await?;
                Ok(v1::ExecResponse { url: self.moved(reply.url) })
            }

            async fn attach(&self, req: v1::AttachRequest) -> CriResult<v1::AttachResponse> {
                *self.last_attach.lock().unwrap() = Some(req.clone());
                let reply = self.fake.attach(req).await?;
                Ok(v1::AttachResponse { url: self.moved(reply.url) })
            }

            async fn port_forward(
                &self,
                req: v1::PortForwardRequest,
            ) -> CriResult<v1::PortForwardResponse> {
                *self.last_port_forward.lock().unwrap() = Some(req.clone());
                let reply = self.fake.port_forward(req).await?;
                Ok(v1::PortForwardResponse { url: self.moved(reply.url) })
            }
        }
    };
}

delegate_to_fake! {
    version(VersionRequest) -> VersionResponse;
    run_pod_sandbox(RunPodSandboxRequest) -> RunPodSandboxResponse;
    stop_pod_sandbox(StopPodSandboxRequest) -> StopPodSandboxResponse;
    remove_pod_sandbox(RemovePodSandboxRequest) -> RemovePodSandboxResponse;
    pod_sandbox_status(PodSandboxStatusRequest) -> PodSandboxStatusResponse;
    list_pod_sandbox(ListPodSandboxRequest) -> ListPodSandboxResponse;
    create_container(CreateContainerRequest) -> CreateContainerResponse;
    start_container(StartContainerRequest) -> StartContainerResponse;
    stop_container(StopContainerRequest) -> StopContainerResponse;
    remove_container(RemoveContainerRequest) -> RemoveContainerResponse;
    list_containers(ListContainersRequest) -> ListContainersResponse;
    container_status(ContainerStatusRequest) -> ContainerStatusResponse;
    update_container_resources(UpdateContainerResourcesRequest) -> UpdateContainerResourcesResponse;
    reopen_container_log(ReopenContainerLogRequest) -> ReopenContainerLogResponse;
    exec_sync(ExecSyncRequest) -> ExecSyncResponse;
    container_stats(ContainerStatsRequest) -> ContainerStatsResponse;
    list_container_stats(ListContainerStatsRequest) -> ListContainerStatsResponse;
    pod_sandbox_stats(PodSandboxStatsRequest) -> PodSandboxStatsResponse;
    list_pod_sandbox_stats(ListPodSandboxStatsRequest) -> ListPodSandboxStatsResponse;
    update_runtime_config(UpdateRuntimeConfigRequest) -> UpdateRuntimeConfigResponse;
    status(StatusRequest) -> StatusResponse;
    checkpoint_container(CheckpointContainerRequest) -> CheckpointContainerResponse;
    list_metric_descriptors(ListMetricDescriptorsRequest) -> ListMetricDescriptorsResponse;
    list_pod_sandbox_metrics(ListPodSandboxMetricsRequest) -> ListPodSandboxMetricsResponse;
    runtime_config(RuntimeConfigRequest) -> RuntimeConfigResponse;
}

/// What the upstream streaming server saw of one request.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// The method.
    pub method: String,
    /// The request target (path and query).
    pub target: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The bytes it read after the upgrade.
    pub received: Arc<Mutex<Vec<u8>>>,
}

/// The greeting the upstream sends first after an upgrade.
pub const GREETING: &[u8] = b"hello from the runtime\n";

/// What the upstream sends before it closes, when it reads `exit`.
pub const EXITED: &[u8] = b"exited\n";

/// A stand-in for the runtime's streaming server. For each request it answers `101
/// Switching Protocols` with the client's `Upgrade` and its first
/// `X-Stream-Protocol-Version`/`Sec-WebSocket-Protocol`, sends [`GREETING`], then echoes
/// what it reads, prefixed by `echo:`, until the client closes or sends `exit` (then it
/// sends [`EXITED`] and closes). A request with an
/// `x-test-answer: <status>` header is answered with that status and a body instead.
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The requests it received.
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl Upstream {
    /// Starts it on a local port.
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<SeenRequest>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let log = log.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let log = log.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(request, log)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Upstream { addr, seen }
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(
    mut request: Request<Incoming>,
    log: Arc<Mutex<Vec<SeenRequest>>>,
) -> Response<http_body_util::Full<Bytes>> {
    let received: Arc<Mutex<Vec<u8>>> = Arc::default();
    log.lock().unwrap().push(SeenRequest {
        method: request.method().to_string(),
        target: request.uri().to_string(),
        headers: request.headers().clone(),
        received: received.clone(),
    });
    if let Some(status) = request.headers().get("x-test-answer") {
        let status: u16 = status.to_str().unwrap().parse().unwrap();
        return Response::builder()
            .status(status)
            .header("content-type", "text/plain")
            .header("x-from", "runtime")
            .body(http_body_util::Full::new(Bytes::from_static(
                b"session refused by the runtime",
            )))
            .unwrap();
    }
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "Upgrade");
    if let Some(upgrade) = request.headers().get("upgrade") {
        response = response.header("upgrade", upgrade);
    }
    if let Some(version) = request.headers().get("x-stream-protocol-version") {
        response = response.header("x-stream-protocol-version", version);
    }
    if let Some(protocols) = request.headers().get("sec-websocket-protocol") {
        let first = protocols
            .to_str()
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .trim();
        response = response.header("sec-websocket-protocol", first.to_string());
    }
    if request.headers().contains_key("sec-websocket-key") {
        // Not checked by the test client; a real server derives it from the key.
        response = response.header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut io = TokioIo::new(upgraded);
        io.write_all(GREETING).await.unwrap();
        let mut buf = [0; 1024];
        loop {
            let n = match io.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            received.lock().unwrap().extend_from_slice(&buf[..n]);
            if buf[..n].windows(4).any(|w| w == b"exit") {
                // The session ends from the runtime's side.
                let _ = io.write_all(EXITED).await;
                return;
            }
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            if io.write_all(&reply).await.is_err() {
                return;
            }
        }
    });
    response
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap()
}

/// A raw HTTP/1.1 exchange: sends `head` (request line and headers, without the final
/// empty line), reads the response head; returns it (lower-cased header names kept as
/// sent) and the connection with any bytes read past the head.
pub async fn raw_request(addr: SocketAddr, head: &str) -> (String, TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("{head}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0; 1024];
    loop {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .expect("the response head comes in time")
            .unwrap();
        assert!(n > 0, "connection closed before the response head: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return (String::from_utf8(buf).unwrap(), stream, rest);
        }
    }
}

/// Reads from `stream` until `expected` bytes came (after `already`), or fails.
pub async fn read_exactly(stream: &mut TcpStream, already: Vec<u8>, expected: usize) -> Vec<u8> {
    let mut buf = already;
    let mut chunk = [0; 1024];
    while buf.len() < expected {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .expect("the bytes come in time")
            .unwrap();
        assert!(n > 0, "connection closed after {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
    buf
}
