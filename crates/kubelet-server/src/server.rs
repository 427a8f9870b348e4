//! The kubelet's servers: which routes each offers ([`router`]) and the listener that
//! serves them over plain HTTP or TLS ([`KubeletServer`]).
//!
//! | server | routes |
//! |---|---|
//! | main (`address:port`, 10250) | all ([`Endpoints::Full`]); the debugging handlers (`/containerLogs`, `/logs/`, `/exec`, `/attach`, `/portForward`, `/run`, `/runningpods/`) only with `enableDebuggingHandlers`, otherwise 405 "Debug endpoints are disabled." |
//! | read-only (`address:readOnlyPort`) | `/healthz`, `/pods`, `/stats/`, `/metrics`, `/metrics/cadvisor`, `/metrics/resource`, `/metrics/probes` |
//! | healthz (`healthzBindAddress:healthzPort`) | `/healthz` |
//!
//! Authentication and authorization ([`crate::auth`]) go in front of the main server's
//! router as a layer; the read-only and healthz servers have none, as in the kubelet.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::watch;

use crate::auth::PeerCertificates;
use crate::{Error, HealthCheck, NodeApi, Result};

/// The content type of the Prometheus text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a stopping server waits for requests in flight before it drops them (a
/// followed log or an exec session would otherwise hold it forever).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Which routes a server offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoints {
    /// Every route (the main server).
    Full,
    /// The kubelet's read-only port.
    ReadOnly,
    /// `/healthz` only (the kubelet's healthz port).
    Healthz,
}

/// How [`router`] builds a server's routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouterOptions {
    /// Which routes.
    pub endpoints: Endpoints,
    /// `enableDebuggingHandlers` (default true): logs, exec, attach, port-forward, run and
    /// running pods. When false they answer 405 "Debug endpoints are disabled.".
    pub enable_debugging_handlers: bool,
}

impl RouterOptions {
    /// `endpoints` with the debugging handlers on (the kubelet's default).
    pub fn new(endpoints: Endpoints) -> Self {
        RouterOptions {
            endpoints,
            enable_debugging_handlers: true,
        }
    }
}

/// The paths the debugging handlers own, as prefixes.
const DEBUG_PREFIXES: [&str; 8] = [
    "/run",
    "/exec",
    "/attach",
    "/portForward",
    "/containerLogs",
    "/runningpods",
    "/debug/pprof",
    "/logs",
];

/// The routes of `options` over `api`, without authentication (add it with
/// [`Auth::layer`](crate::auth) on the main server).
pub fn router(api: Arc<dyn NodeApi>, options: RouterOptions) -> Router {
    let mut router: Router<Arc<dyn NodeApi>> = Router::new().route("/healthz", get(healthz));
    if options.endpoints != Endpoints::Healthz {
        router = router
            .route("/pods", get(pods))
            .route("/metrics", get(metrics))
            .route("/metrics/probes", get(probe_metrics))
            .merge(crate::stats::routes());
    }
    if options.endpoints == Endpoints::Full {
        router = router.route("/configz", get(configz));
        if options.enable_debugging_handlers {
            router = router
                .route("/runningpods/", get(running_pods))
                .merge(crate::logs::routes())
                .merge(crate::streaming::routes());
        } else {
            for prefix in DEBUG_PREFIXES {
                router = router
                    .route(prefix, any(debugging_disabled))
                    .route(&format!("{prefix}/"), any(debugging_disabled))
                    .route(&format!("{prefix}/{{*rest}}"), any(debugging_disabled));
            }
        }
    }
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn(log_request))
        .with_state(api)
}

/// A bound, not yet serving, server: plain HTTP, or TLS after [`with_tls`](Self::with_tls).
pub struct KubeletServer {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for KubeletServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletServer")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl KubeletServer {
    /// Binds `addr` (port 0 picks a free port; see [`local_addr`](Self::local_addr)).
    pub async fn bind(addr: SocketAddr) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        Ok(KubeletServer {
            listener,
            addr,
            tls: None,
        })
    }

    /// Serves TLS with `config` (see [`tls::server_config`](crate::tls::server_config)).
    pub fn with_tls(mut self, config: rustls::ServerConfig) -> Self {
        self.tls = Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)));
        self
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the server speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves `router` until `shutdown` completes, then lets requests in flight finish for
    /// up to [`SHUTDOWN_GRACE`]. Each request carries the client's
    /// [`PeerCertificates`] (on TLS) and its [`axum::extract::ConnectInfo`] address in its
    /// extensions. Connections are HTTP/1.1 with upgrades (exec, attach, port-forward).
    pub async fn serve(
        self,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let KubeletServer {
            listener,
            addr,
            tls,
        } = self;
        tracing::info!(%addr, tls = tls.is_some(), "serving the kubelet API");
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(err) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!(%addr, error = %err, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection(stream, peer, tls.clone(), router.clone(), stop_rx.clone()));
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        let _ = stop_tx.send(true);
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while !connections.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, connections.join_next())
                .await
                .is_err()
            {
                tracing::debug!(%addr, open = connections.len(), "dropping connections still open at shutdown");
                connections.abort_all();
                while connections.join_next().await.is_some() {}
                break;
            }
        }
        Ok(())
    }
}

/// One connection: the TLS handshake (when TLS), then HTTP/1.1 until the client closes
/// it or the server stops.
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    stop: watch::Receiver<bool>,
) {
    match tls {
        Some(acceptor) => {
            let handshake =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
            let stream = match handshake {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let certs = stream
                .get_ref()
                .1
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
                .unwrap_or_default();
            http(
                stream,
                peer,
                PeerCertificates(Arc::new(certs)),
                router,
                stop,
            )
            .await;
        }
        None => http(stream, peer, PeerCertificates::default(), router, stop).await,
    }
}

async fn http<S>(
    stream: S,
    peer: SocketAddr,
    certs: PeerCertificates,
    router: Router,
    mut stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = tower::ServiceBuilder::new()
        .map_request(move |mut request: Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(certs.clone());
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            request.map(axum::body::Body::new)
        })
        .service(router);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
        }
        () = async { let _ = stop.wait_for(|stopped| *stopped).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

type AppState = State<Arc<dyn NodeApi>>;

/// The kubelet's healthz: `ok` when every check passes; otherwise 500 with one line per
/// check (`[+]ping ok`, `[-]pleg failed: ...`) and `healthz check failed`. `?verbose`
/// lists the checks on success too. Unlike the kubelet, which answers "reason withheld",
/// the reason is shown: it is what an operator needs, and on the main server only
/// authenticated, authorized users see it.
async fn healthz(State(api): AppState, RawQuery(query): RawQuery) -> Response {
    let mut checks = vec![HealthCheck::new("ping", Ok(()))];
    checks.extend(api.healthz());
    let healthy = checks.iter().all(|check| check.result.is_ok());
    let verbose = query.as_deref().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair == "verbose" || pair.starts_with("verbose="))
    });
    let text_plain = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    if healthy && !verbose {
        return (StatusCode::OK, text_plain, "ok").into_response();
    }
    let mut body = String::new();
    for check in &checks {
        match &check.result {
            Ok(()) => body.push_str(&format!("[+]{} ok\n", check.name)),
            Err(reason) => body.push_str(&format!("[-]{} failed: {reason}\n", check.name)),
        }
    }
    if healthy {
        body.push_str("healthz check passed\n");
        (StatusCode::OK, text_plain, body).into_response()
    } else {
        body.push_str("healthz check failed\n");
        (StatusCode::INTERNAL_SERVER_ERROR, text_plain, body).into_response()
    }
}

/// `/pods`: a `v1.PodList`.
async fn pods(State(api): AppState) -> Response {
    let list = k8s_openapi::List::<Pod> {
        items: api.pods(),
        metadata: Default::default(),
    };
    json(&list)
}

/// `/runningpods/`: the pods the runtime has, as a `v1.PodList` of pods carrying their
/// name, namespace, UID and containers' names and images (the kubelet's
/// `runningpods`).
async fn running_pods(State(api): AppState) -> Response {
    let Some(runtime) = api.runtime() else {
        return Error::NotSupported("/runningpods/").into_response();
    };
    match crate::running::running_pods(runtime.as_ref()).await {
        Ok(pods) => json(&k8s_openapi::List::<Pod> {
            items: pods,
            metadata: Default::default(),
        }),
        Err(err) => err.into_response(),
    }
}

async fn metrics(State(api): AppState) -> Response {
    ([(header::CONTENT_TYPE, TEXT_CONTENT_TYPE)], api.metrics()).into_response()
}

/// `/metrics/probes`: the kubelet serves the prober's metrics on a path of their own.
async fn probe_metrics(State(api): AppState) -> Response {
    (
        [(header::CONTENT_TYPE, TEXT_CONTENT_TYPE)],
        api.probe_metrics(),
    )
        .into_response()
}

async fn configz(State(api): AppState) -> Response {
    json(&serde_json::json!({ "kubeletconfig": api.configz() }))
}

async fn debugging_disabled() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Debug endpoints are disabled.\n",
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

/// A JSON response, or 500 with the encoding error.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot encode the response");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot encode the response: {err}\n"),
            )
                .into_response()
        }
    }
}

async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "HTTP request"
    );
    response
}
