//! The agent's HTTP endpoints: `/healthz`, `/pods`, `/metrics`, `/metrics/probes`,
//! `/configz`, and nodelet's own `/errors`.
//!
//! The server knows nothing about pods or workers: it asks an [`HttpState`] (implemented
//! by whoever composes the agent) on every request. Like the kubelet it runs up to three
//! servers, planned from the configuration by [`plan_servers`]:
//!
//! | server | address | routes |
//! |---|---|---|
//! | main | `address:port` (10250) | all ([`Endpoints::Full`]) |
//! | read-only | `address:readOnlyPort`, only when not 0 (the default) | `/healthz`, `/pods`, `/metrics`, `/metrics/probes` |
//! | healthz | `healthzBindAddress:healthzPort` (127.0.0.1:10248) | `/healthz` |
//!
//! The kubelet's main server speaks TLS with authentication and authorization; nodelet's
//! does not (yet), which is why its `address` defaults to `127.0.0.1`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use agent::config::KubeletConfiguration;
//! use agent::http::{HealthCheck, HttpState, plan_servers, HttpServer};
//! use agent::static_pods::SourceError;
//! use k8s_openapi::api::core::v1::Pod;
//!
//! struct Agent;
//!
//! impl HttpState for Agent {
//!     fn pods(&self) -> Vec<Pod> { Vec::new() }
//!     fn healthz(&self) -> Vec<HealthCheck> { vec![HealthCheck::new("pleg", Ok(()))] }
//!     fn metrics(&self) -> String { String::new() }
//!     fn errors(&self) -> Vec<SourceError> { Vec::new() }
//!     fn kubelet_config(&self) -> KubeletConfiguration { KubeletConfiguration::default() }
//! }
//!
//! # async fn run() -> agent::Result<()> {
//! let state: Arc<dyn HttpState> = Arc::new(Agent);
//! for plan in plan_servers(&KubeletConfiguration::default()) {
//!     let server = HttpServer::bind(plan.addr, plan.endpoints).await?;
//!     tokio::spawn(server.serve(Arc::clone(&state), std::future::pending()));
//! }
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use k8s_openapi::api::core::v1::Pod;

use crate::config::KubeletConfiguration;
use crate::metrics::TEXT_CONTENT_TYPE;
use crate::static_pods::SourceError;
use crate::{Error, Result};

/// What the HTTP endpoints show, supplied by the composed agent. Called on every request,
/// so each method should read a snapshot or a cache, never the runtime.
pub trait HttpState: Send + Sync + 'static {
    /// The pods the agent manages, with their current status (`/pods`).
    fn pods(&self) -> Vec<Pod>;
    /// The health checks beyond `ping` (the kubelet's `syncloop`, nodelet's `pleg`, ...).
    /// `/healthz` is healthy when every check is.
    fn healthz(&self) -> Vec<HealthCheck>;
    /// The metrics in the Prometheus text format (`/metrics`), e.g.
    /// [`AgentRegistry::render_metrics`](crate::metrics::AgentRegistry::render_metrics).
    fn metrics(&self) -> String;
    /// The probe metrics in the Prometheus text format (`/metrics/probes`:
    /// `prober_probe_total`, `prober_probe_duration_seconds`), e.g.
    /// `probes::metrics::ProbeMetrics::render`. Empty by default (an agent without probes).
    fn probe_metrics(&self) -> String {
        String::new()
    }
    /// The static manifests the file source refused (`/errors`).
    fn errors(&self) -> Vec<SourceError>;
    /// The effective configuration (`/configz`).
    fn kubelet_config(&self) -> KubeletConfiguration;
}

/// One named health check and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// The check's name (`pleg`, `syncloop`).
    pub name: String,
    /// `Err` with the reason when unhealthy.
    pub result: std::result::Result<(), String>,
}

impl HealthCheck {
    /// A check named `name` with this outcome.
    pub fn new(name: impl Into<String>, result: std::result::Result<(), String>) -> Self {
        HealthCheck {
            name: name.into(),
            result,
        }
    }
}

/// Which routes a server offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoints {
    /// Every route: `/healthz`, `/pods`, `/metrics`, `/metrics/probes`, `/configz`,
    /// `/errors`.
    Full,
    /// The kubelet's read-only port: `/healthz`, `/pods`, `/metrics`, `/metrics/probes`.
    ReadOnly,
    /// `/healthz` only (the kubelet's healthz port).
    Healthz,
}

/// A server the configuration asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerPlan {
    /// Where to listen.
    pub addr: SocketAddr,
    /// What to serve there.
    pub endpoints: Endpoints,
}

/// The servers `config` asks for (see the module docs). A port of 0 disables that server,
/// as `readOnlyPort: 0` (the config-file default) and `healthzPort: 0` do in the kubelet.
/// Expects a validated configuration; an address that does not parse is skipped.
pub fn plan_servers(config: &KubeletConfiguration) -> Vec<ServerPlan> {
    let mut plans = Vec::new();
    let mut add = |address: &str, port: i32, endpoints| {
        if let (Ok(ip), Ok(port)) = (address.parse::<IpAddr>(), u16::try_from(port))
            && port != 0
        {
            plans.push(ServerPlan {
                addr: SocketAddr::new(ip, port),
                endpoints,
            });
        }
    };
    if config.enable_server {
        add(&config.address, config.port, Endpoints::Full);
    }
    add(&config.address, config.read_only_port, Endpoints::ReadOnly);
    add(
        &config.healthz_bind_address,
        config.healthz_port,
        Endpoints::Healthz,
    );
    plans
}

/// The routes of `endpoints` over `state`, as an axum [`Router`] (to nest in a bigger
/// server, or to drive in tests without a socket).
pub fn router(state: Arc<dyn HttpState>, endpoints: Endpoints) -> Router {
    let mut router = Router::new().route("/healthz", get(healthz));
    if endpoints != Endpoints::Healthz {
        router = router
            .route("/pods", get(pods))
            .route("/metrics", get(metrics))
            .route("/metrics/probes", get(probe_metrics));
    }
    if endpoints == Endpoints::Full {
        router = router
            .route("/configz", get(configz))
            .route("/errors", get(errors));
    }
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// A bound, not yet serving, HTTP server.
#[derive(Debug)]
pub struct HttpServer {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    endpoints: Endpoints,
}

impl HttpServer {
    /// Binds `addr` (port 0 picks a free port; see [`local_addr`](Self::local_addr)).
    pub async fn bind(addr: SocketAddr, endpoints: Endpoints) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        Ok(HttpServer {
            listener,
            addr,
            endpoints,
        })
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn serve(
        self,
        state: Arc<dyn HttpState>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let addr = self.addr;
        tracing::info!(%addr, endpoints = ?self.endpoints, "serving HTTP");
        axum::serve(self.listener, router(state, self.endpoints))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| Error::Serve { addr, source })
    }
}

/// Binds `addr` and serves every route ([`Endpoints::Full`]) until `shutdown` completes.
pub async fn serve(
    addr: SocketAddr,
    state: Arc<dyn HttpState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    HttpServer::bind(addr, Endpoints::Full)
        .await?
        .serve(state, shutdown)
        .await
}

type AppState = State<Arc<dyn HttpState>>;

/// The kubelet's healthz: `ok` when every check passes; otherwise 500 with one line per
/// check (`[+]ping ok`, `[-]pleg failed: ...`) and `healthz check failed`. `?verbose`
/// lists the checks on success too. Unlike the kubelet, which answers "reason withheld"
/// on this unauthenticated endpoint, nodelet shows the reason: its healthz binds to
/// loopback and the reason is what an operator needs.
async fn healthz(State(state): AppState, RawQuery(query): RawQuery) -> Response {
    let mut checks = vec![HealthCheck::new("ping", Ok(()))];
    checks.extend(state.healthz());
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
async fn pods(State(state): AppState) -> Response {
    let list = k8s_openapi::List::<Pod> {
        items: state.pods(),
        metadata: Default::default(),
    };
    json(&list)
}

async fn metrics(State(state): AppState) -> Response {
    ([(header::CONTENT_TYPE, TEXT_CONTENT_TYPE)], state.metrics()).into_response()
}

/// `/metrics/probes`: the kubelet serves the prober's metrics on a path of their own.
async fn probe_metrics(State(state): AppState) -> Response {
    (
        [(header::CONTENT_TYPE, TEXT_CONTENT_TYPE)],
        state.probe_metrics(),
    )
        .into_response()
}

async fn configz(State(state): AppState) -> Response {
    json(&serde_json::json!({ "kubeletconfig": state.kubelet_config() }))
}

async fn errors(State(state): AppState) -> Response {
    json(&state.errors())
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

fn json<T: serde::Serialize>(value: &T) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ht_08_read_only_port_zero_disables_the_read_only_server() {
        let config = KubeletConfiguration::default();
        let plans = plan_servers(&config);
        assert_eq!(
            plans,
            vec![
                ServerPlan {
                    addr: "127.0.0.1:10250".parse().unwrap(),
                    endpoints: Endpoints::Full
                },
                ServerPlan {
                    addr: "127.0.0.1:10248".parse().unwrap(),
                    endpoints: Endpoints::Healthz
                },
            ]
        );
        assert!(plans.iter().all(|plan| plan.addr.port() != 10255));

        let config = KubeletConfiguration {
            read_only_port: 10255,
            healthz_port: 0,
            enable_server: false,
            ..KubeletConfiguration::default()
        };
        assert_eq!(
            plan_servers(&config),
            vec![ServerPlan {
                addr: "127.0.0.1:10255".parse().unwrap(),
                endpoints: Endpoints::ReadOnly
            }]
        );
    }
}
