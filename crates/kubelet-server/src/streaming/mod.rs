//! `/exec`, `/attach`, `/portForward` and `/run`: `kubectl exec`, `attach`, `port-forward`
//! and `cp` reach a container through these, usually by way of the API server.
//!
//! The kubelet serves none of the streams itself: it asks the runtime (CRI `Exec`,
//! `Attach`, `PortForward`) for the URL of a session on the runtime's streaming server,
//! then proxies the client's upgrade request to that URL and copies bytes both ways
//! (the `proxy` module). Whichever protocol the client and the runtime agree on (SPDY/3.1 or
//! WebSocket, `v4.channel.k8s.io`, `v5.channel.k8s.io`, `portforward.k8s.io`, negotiated
//! with `X-Stream-Protocol-Version` or `Sec-WebSocket-Protocol`) passes through untouched.
//! `/run` is the synchronous one: CRI `ExecSync`, the output as the body.
//!
//! The requests are checked as the kubelet checks them, in its order: the stream options
//! (`input`, `output`, `error`, `tty` and the repeated `command` of remotecommand; the
//! `port`s of a WebSocket port-forward) with a 400 and the kubelet's message, then the
//! container or pod ([`NodeApi::find_container`], [`NodeApi::find_sandbox`]), then the
//! runtime call, whose gRPC `NotFound` is a 404, `ResourceExhausted` a 429 with
//! `Retry-After: 60` (the runtime's session cache is full), anything else a 500
//! (`streaming.WriteError`). Without [`NodeApi::runtime`] they are 501.
//!
//! With its `ExtendWebSocketsToKubelet` feature (beta, on since 1.36) the kubelet also
//! translates a `v5.channel.k8s.io` WebSocket into SPDY towards the runtime, and unwraps a
//! SPDY-over-WebSocket port-forward tunnel; nodelet does not (the bytes go to the runtime
//! as they came). The API server only sends those to nodes that declare the feature in
//! their status' `declaredFeatures`, so a node served by these routes must not declare
//! `ExtendWebSocketsToKubelet`: the API server then translates itself and sends SPDY.
//!
//! The kubelet's `streamingConnectionIdleTimeout` is not used here: since the kubelet's
//! own streaming server went away with dockershim, the runtime's streaming server owns the
//! idle timeout of a session.

mod options;
mod proxy;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cri_client::{RuntimeService, v1};
use serde::Deserialize;

use self::options::{QueryPairs, StreamOptions, all, first, port_forward_ports};
use crate::{ContainerTarget, Error, NodeApi};

/// How long the runtime keeps a session's URL (the CRI streaming server's `cacheTTL`),
/// sent as `Retry-After` when its cache is full.
const RETRY_AFTER_SECONDS: &str = "60";

/// The routes of this module: `GET` and `POST` `/exec` and `/attach`
/// (`/{namespace}/{pod}/{container}` and `/{namespace}/{pod}/{uid}/{container}`),
/// `GET` and `POST` `/portForward` (`/{namespace}/{pod}` and `/{namespace}/{pod}/{uid}`),
/// and `POST` `/run` (as `/exec`).
///
/// The upgrade needs the server to hand over HTTP/1 connections: hyper's
/// `serve_connection(...).with_upgrades()` (hyper-util's `serve_connection_with_upgrades`,
/// as `axum::serve` does). An `axum::extract::ConnectInfo<SocketAddr>` extension, when
/// present, becomes the `X-Forwarded-For` sent to the runtime.
///
/// ```
/// use std::sync::Arc;
/// use kubelet_server::NodeApi;
///
/// fn api_router(api: Arc<dyn NodeApi>) -> axum::Router {
///     axum::Router::new()
///         .merge(kubelet_server::streaming::routes())
///         .with_state(api)
/// }
/// ```
pub fn routes() -> Router<Arc<dyn NodeApi>> {
    Router::new()
        .route("/exec/{namespace}/{pod}/{container}", get(exec).post(exec))
        .route(
            "/exec/{namespace}/{pod}/{uid}/{container}",
            get(exec).post(exec),
        )
        .route(
            "/attach/{namespace}/{pod}/{container}",
            get(attach).post(attach),
        )
        .route(
            "/attach/{namespace}/{pod}/{uid}/{container}",
            get(attach).post(attach),
        )
        .route(
            "/portForward/{namespace}/{pod}",
            get(port_forward).post(port_forward),
        )
        .route(
            "/portForward/{namespace}/{pod}/{uid}",
            get(port_forward).post(port_forward),
        )
        .route("/run/{namespace}/{pod}/{container}", post(run))
        .route("/run/{namespace}/{pod}/{uid}/{container}", post(run))
}

/// A container's path parameters, with or without the pod's UID.
#[derive(Debug, Deserialize)]
struct ContainerPath {
    namespace: String,
    pod: String,
    #[serde(default)]
    uid: Option<String>,
    container: String,
}

impl From<ContainerPath> for ContainerTarget {
    fn from(path: ContainerPath) -> ContainerTarget {
        ContainerTarget {
            namespace: path.namespace,
            pod: path.pod,
            // An empty UID is no UID, as the kubelet's `len(podUID) > 0`.
            uid: path.uid.filter(|uid| !uid.is_empty()),
            container: path.container,
        }
    }
}

/// A pod's path parameters, with or without its UID.
#[derive(Debug, Deserialize)]
struct PodPath {
    namespace: String,
    pod: String,
    #[serde(default)]
    uid: Option<String>,
}

/// The query of a request as `url.Values`.
fn query_pairs(request: &Request) -> QueryPairs {
    Query::<QueryPairs>::try_from_uri(request.uri())
        .map(|Query(pairs)| pairs)
        .unwrap_or_default()
}

/// Why a streaming request failed before its session was proxied.
#[derive(Debug, thiserror::Error)]
enum StreamingError {
    /// A bad request, a missing pod or container, no runtime.
    #[error(transparent)]
    Api(#[from] Error),
    /// The runtime refused `Exec`, `Attach` or `PortForward`.
    #[error("{}", cri_error_text(.0))]
    Runtime(#[from] cri_client::Error),
}

impl IntoResponse for StreamingError {
    /// A runtime error as the kubelet's `streaming.WriteError` answers it: `NotFound` is a
    /// 404, `ResourceExhausted` a 429 with `Retry-After`, anything else a 500.
    fn into_response(self) -> Response {
        let error = match self {
            StreamingError::Api(e) => return e.into_response(),
            StreamingError::Runtime(e) => e,
        };
        let status = match error.code() {
            Some(tonic::Code::NotFound) => StatusCode::NOT_FOUND,
            Some(tonic::Code::ResourceExhausted) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            cri_error_text(&error),
        )
            .into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// The runtime, or [`Error::NotSupported`] naming what needed it.
fn runtime(api: &dyn NodeApi, what: &'static str) -> Result<Arc<dyn RuntimeService>, Error> {
    api.runtime().ok_or(Error::NotSupported(what))
}

/// `GET|POST /exec/...`: the kubelet's `getExec`.
async fn exec(
    State(api): State<Arc<dyn NodeApi>>,
    Path(path): Path<ContainerPath>,
    request: Request,
) -> Response {
    let query = query_pairs(&request);
    match exec_url(api, path, query).await {
        Ok(url) => proxy::proxy_upgrade(&url, request).await,
        Err(e) => e.into_response(),
    }
}

/// The running instance of the container `target` names: exec, attach and run reach only
/// a running container, as the kubelet finds it among the runtime's running pods (500
/// "container not found" otherwise).
async fn running_container(
    api: &dyn NodeApi,
    target: &ContainerTarget,
) -> Result<crate::FoundContainer, Error> {
    let container = api.find_container(target, false).await?;
    if container.running {
        Ok(container)
    } else {
        Err(Error::Runtime(format!(
            "container not found ({:?})",
            target.container
        )))
    }
}

/// The runtime's URL for the exec session `request` asks for.
async fn exec_url(
    api: Arc<dyn NodeApi>,
    path: ContainerPath,
    query: QueryPairs,
) -> Result<String, StreamingError> {
    let options = StreamOptions::parse(&query).map_err(Error::BadRequest)?;
    let runtime = runtime(api.as_ref(), "exec")?;
    let target = ContainerTarget::from(path);
    let container = running_container(api.as_ref(), &target).await?;
    let reply = runtime
        .exec(v1::ExecRequest {
            container_id: container.container_id,
            cmd: all(&query, "command"),
            tty: options.tty,
            stdin: options.stdin,
            stdout: options.stdout,
            stderr: options.stderr,
        })
        .await?;
    Ok(reply.url)
}

/// `GET|POST /attach/...`: the kubelet's `getAttach`.
async fn attach(
    State(api): State<Arc<dyn NodeApi>>,
    Path(path): Path<ContainerPath>,
    request: Request,
) -> Response {
    let query = query_pairs(&request);
    match attach_url(api, path, query).await {
        Ok(url) => proxy::proxy_upgrade(&url, request).await,
        Err(e) => e.into_response(),
    }
}

/// The runtime's URL for the attach session `request` asks for. The TTY is the container
/// spec's, not the request's: whether the process has a terminal was decided when it
/// started.
async fn attach_url(
    api: Arc<dyn NodeApi>,
    path: ContainerPath,
    query: QueryPairs,
) -> Result<String, StreamingError> {
    let options = StreamOptions::parse(&query).map_err(Error::BadRequest)?;
    let runtime = runtime(api.as_ref(), "attach")?;
    let target = ContainerTarget::from(path);
    let container = running_container(api.as_ref(), &target).await?;
    let tty = spec_tty(api.as_ref(), &target)?;
    let reply = runtime
        .attach(v1::AttachRequest {
            container_id: container.container_id,
            stdin: options.stdin,
            tty,
            stdout: options.stdout,
            stderr: options.stderr,
        })
        .await?;
    Ok(reply.url)
}

/// The `tty` of the container's spec (containers, init containers, ephemeral containers).
fn spec_tty(api: &dyn NodeApi, target: &ContainerTarget) -> Result<bool, Error> {
    let full_name = format!("{}_{}", target.pod, target.namespace);
    let pods = api.pods();
    let pod = pods
        .iter()
        .find(|pod| {
            pod.metadata.namespace.as_deref() == Some(target.namespace.as_str())
                && pod.metadata.name.as_deref() == Some(target.pod.as_str())
        })
        .filter(|pod| {
            target
                .uid
                .as_ref()
                .is_none_or(|uid| pod.metadata.uid.as_ref() == Some(uid))
        })
        .ok_or_else(|| Error::NotFound(format!("pod {full_name} not found")))?;
    let not_found = || {
        Error::NotFound(format!(
            "container {} not found in pod {full_name}",
            target.container
        ))
    };
    let spec = pod.spec.as_ref().ok_or_else(not_found)?;
    let name = target.container.as_str();
    let tty = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
        .map(|c| c.tty)
        .or_else(|| {
            spec.ephemeral_containers
                .iter()
                .flatten()
                .find(|c| c.name == name)
                .map(|c| c.tty)
        })
        .ok_or_else(not_found)?;
    Ok(tty.unwrap_or(false))
}

/// `GET|POST /portForward/...`: the kubelet's `getPortForward`.
async fn port_forward(
    State(api): State<Arc<dyn NodeApi>>,
    Path(path): Path<PodPath>,
    request: Request,
) -> Response {
    let ports = port_forward_ports(request.headers(), &query_pairs(&request));
    match port_forward_url(api, path, ports).await {
        Ok(url) => proxy::proxy_upgrade(&url, request).await,
        Err(e) => e.into_response(),
    }
}

/// The runtime's URL for the port-forward session `request` asks for.
async fn port_forward_url(
    api: Arc<dyn NodeApi>,
    path: PodPath,
    ports: Result<Vec<i32>, String>,
) -> Result<String, StreamingError> {
    let ports = ports.map_err(Error::BadRequest)?;
    let runtime = runtime(api.as_ref(), "port-forward")?;
    let uid = path.uid.as_deref().filter(|uid| !uid.is_empty());
    let sandbox = api.find_sandbox(&path.namespace, &path.pod, uid).await?;
    let reply = runtime
        .port_forward(v1::PortForwardRequest {
            pod_sandbox_id: sandbox,
            port: ports,
        })
        .await?;
    Ok(reply.url)
}

/// `POST /run/...?cmd=...`: the kubelet's `getRun`. The command is `cmd` split at each
/// space; it runs through `ExecSync` without a timeout, and its stdout then stderr are the
/// body, sent as `application/json` as the kubelet's `writeJSONResponse` does (nothing,
/// and no type, when both are empty). A failed call or a non-zero exit is a 500.
async fn run(
    State(api): State<Arc<dyn NodeApi>>,
    Path(path): Path<ContainerPath>,
    Query(query): Query<QueryPairs>,
) -> Response {
    match run_output(api, path, &query).await {
        Ok(output) if output.is_empty() => StatusCode::OK.into_response(),
        Ok(output) => (
            [(header::CONTENT_TYPE, "application/json")],
            Body::from(output),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Runs the command of a `/run` request; its stdout then stderr.
async fn run_output(
    api: Arc<dyn NodeApi>,
    path: ContainerPath,
    query: &[(String, String)],
) -> Result<Vec<u8>, Error> {
    // For legacy reasons, run uses a different query parameter than exec.
    let cmd: Vec<String> = first(query, "cmd")
        .unwrap_or_default()
        .split(' ')
        .map(str::to_string)
        .collect();
    let runtime = runtime(api.as_ref(), "run")?;
    let target = ContainerTarget::from(path);
    let container = running_container(api.as_ref(), &target).await?;
    let reply = runtime
        .exec_sync(v1::ExecSyncRequest {
            container_id: container.container_id,
            cmd: cmd.clone(),
            timeout: 0,
        })
        .await
        .map_err(|e| Error::Runtime(cri_error_text(&e)))?;
    if reply.exit_code != 0 {
        // The kubelet's CRI client turns a non-zero exit into this error (`execSyncV1`).
        return Err(Error::Runtime(format!(
            "command '{}' exited with {}: {}",
            cmd.join(" "),
            reply.exit_code,
            String::from_utf8_lossy(&reply.stderr)
        )));
    }
    let mut output = reply.stdout;
    output.extend_from_slice(&reply.stderr);
    Ok(output)
}

/// A runtime error as the Go kubelet prints it: grpc-go's `rpc error: code = ... desc =
/// ...` for a call's status, else the error.
fn cri_error_text(error: &cri_client::Error) -> String {
    error.grpc_text().unwrap_or_else(|| error.to_string())
}
