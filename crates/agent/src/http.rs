//! The agent's servers: the kubelet API of [`kubelet_server`] over the agent's state, plus
//! nodelet's own `/errors` (the static manifests the file source refused).
//!
//! Like the kubelet, the agent runs up to three servers, planned from the configuration
//! by [`plan_servers`]:
//!
//! | server | address | security | routes |
//! |---|---|---|---|
//! | main | `address:port` (10250) | TLS, authentication, authorization | all ([`Endpoints::Full`]) and `/errors` |
//! | read-only | `address:readOnlyPort`, only when not 0 (the default) | none | `/healthz`, `/pods`, stats and metrics |
//! | healthz | `healthzBindAddress:healthzPort` (127.0.0.1:10248) | none | `/healthz` |
//!
//! In standalone mode (no `--kubeconfig`) there is no API server to review tokens and
//! access, so unless the main server is given a specific address or a certificate, it
//! keeps to loopback: an unspecified `address` (`0.0.0.0`, the default) serves on
//! `127.0.0.1` over plain HTTP without authentication, and the agent says so in its log.
//! Given a specific non-loopback address or `tlsCertFile`, it serves TLS with the
//! configured authentication and authorization, which must then not ask for the webhooks
//! (the kubelet refuses that configuration too).
//!
//! ```no_run
//! use std::sync::Arc;
//! use agent::config::KubeletConfiguration;
//! use agent::http::{HttpServer, HttpState, plan_servers};
//! use agent::static_pods::SourceError;
//! use k8s_openapi::api::core::v1::Pod;
//! use kubelet_server::{HealthCheck, NodeApi};
//!
//! struct Agent;
//!
//! impl NodeApi for Agent {
//!     fn pods(&self) -> Vec<Pod> { Vec::new() }
//!     fn healthz(&self) -> Vec<HealthCheck> { vec![HealthCheck::new("pleg", Ok(()))] }
//!     fn metrics(&self) -> String { String::new() }
//!     fn configz(&self) -> serde_json::Value { serde_json::json!({}) }
//! }
//!
//! impl HttpState for Agent {
//!     fn errors(&self) -> Vec<SourceError> { Vec::new() }
//! }
//!
//! # async fn run() -> agent::Result<()> {
//! let state: Arc<dyn HttpState> = Arc::new(Agent);
//! let config = KubeletConfiguration::default();
//! for plan in plan_servers(&config, false) {
//!     let server = HttpServer::bind(plan, None).await?;
//!     tokio::spawn(server.serve(Arc::clone(&state), true, std::future::pending()));
//! }
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use kubelet_server::NodeApi;
use kubelet_server::auth::{Auth, Reviewers};
use kubelet_server::server::{KubeletServer, RouterOptions};
use kubelet_server::tls::{ServingCert, read_ca_bundle, server_config};

pub use kubelet_server::Endpoints;
pub use kubelet_server::HealthCheck;

use crate::config::KubeletConfiguration;
use crate::static_pods::SourceError;
use crate::{Error, Result};

/// What the agent's servers show: the kubelet API ([`NodeApi`]) and nodelet's `/errors`.
pub trait HttpState: NodeApi {
    /// The static manifests the file source refused (`/errors`).
    fn errors(&self) -> Vec<SourceError>;
}

/// A server the configuration asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerPlan {
    /// Where to listen.
    pub addr: SocketAddr,
    /// What to serve there.
    pub endpoints: Endpoints,
    /// Whether the server speaks TLS and authenticates and authorizes each request (the
    /// main server, except on standalone loopback).
    pub secure: bool,
}

/// The servers `config` asks for (see the module docs); `cluster` is whether the agent
/// has an API server (`--kubeconfig`). A port of 0 disables that server, as
/// `readOnlyPort: 0` (the config-file default) and `healthzPort: 0` do in the kubelet.
/// Expects a validated configuration; an address that does not parse is skipped.
pub fn plan_servers(config: &KubeletConfiguration, cluster: bool) -> Vec<ServerPlan> {
    let mut plans = Vec::new();
    let mut add = |address: &str, port: i32, endpoints, secure: bool| {
        if let (Ok(ip), Ok(port)) = (address.parse::<IpAddr>(), u16::try_from(port))
            && port != 0
        {
            let ip = if endpoints == Endpoints::Full && !secure && ip.is_unspecified() {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                ip
            };
            plans.push(ServerPlan {
                addr: SocketAddr::new(ip, port),
                endpoints,
                secure,
            });
        }
    };
    if config.enable_server {
        add(
            &config.address,
            config.port,
            Endpoints::Full,
            main_server_is_secure(config, cluster),
        );
    }
    add(
        &config.address,
        config.read_only_port,
        Endpoints::ReadOnly,
        false,
    );
    add(
        &config.healthz_bind_address,
        config.healthz_port,
        Endpoints::Healthz,
        false,
    );
    plans
}

/// Whether the main server speaks TLS with authentication: always in cluster mode; in
/// standalone mode when given a certificate or a specific non-loopback address.
fn main_server_is_secure(config: &KubeletConfiguration, cluster: bool) -> bool {
    let specific = config
        .address
        .parse::<IpAddr>()
        .is_ok_and(|ip| !ip.is_unspecified() && !ip.is_loopback());
    cluster || config.tls_cert_file.is_some() || specific
}

/// The TLS configuration and the authentication and authorization of the main server.
pub struct Security {
    tls: rustls::ServerConfig,
    auth: Arc<Auth>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("node", &self.auth.node_name())
            .finish_non_exhaustive()
    }
}

impl Security {
    /// The kubelet's set-up of its main server: the serving certificate from
    /// `tlsCertFile`/`tlsPrivateKeyFile`, or a self-signed pair under `<root_dir>/pki`
    /// naming `node_name` and `node_ips`; client certificates verified against
    /// `authentication.x509.clientCAFile`; tokens and access reviewed by `reviewers`.
    pub fn from_config(
        config: &KubeletConfiguration,
        root_dir: &Path,
        node_name: &str,
        node_ips: &[IpAddr],
        reviewers: Reviewers,
    ) -> Result<Security> {
        let cert = match (&config.tls_cert_file, &config.tls_private_key_file) {
            (Some(cert), Some(key)) => ServingCert::from_files(cert, key),
            _ => ServingCert::self_signed_in(&root_dir.join("pki"), node_name, node_ips),
        }
        .map_err(Error::KubeletApi)?;
        let client_cas = config
            .authentication
            .x509
            .client_ca_file
            .as_deref()
            .map(read_ca_bundle)
            .transpose()
            .map_err(Error::KubeletApi)?;
        if client_cas.is_none() {
            tracing::warn!(
                "authentication.x509.clientCAFile is not set: the API server's client \
                 certificate cannot be verified, so kubectl logs/exec/port-forward will be refused"
            );
        }
        let tls = server_config(&cert, client_cas).map_err(Error::KubeletApi)?;
        let auth = Auth::from_config(
            node_name,
            &config.authentication,
            &config.authorization,
            reviewers,
        )
        .map_err(Error::KubeletApi)?;
        Ok(Security {
            tls,
            auth: Arc::new(auth),
        })
    }
}

/// A bound, not yet serving, server.
#[derive(Debug)]
pub struct HttpServer {
    server: KubeletServer,
    endpoints: Endpoints,
    auth: Option<Arc<Auth>>,
}

impl HttpServer {
    /// Binds `plan.addr` (port 0 picks a free port; see
    /// [`local_addr`](Self::local_addr)). A secure plan needs `security`.
    pub async fn bind(plan: ServerPlan, security: Option<&Security>) -> Result<Self> {
        let mut server = KubeletServer::bind(plan.addr)
            .await
            .map_err(|e| bind_error(plan.addr, e))?;
        let mut auth = None;
        if plan.secure {
            let security = security.ok_or_else(|| Error::Bind {
                addr: plan.addr,
                source: std::io::Error::other("a secure server needs TLS and authentication"),
            })?;
            server = server.with_tls(security.tls.clone());
            auth = Some(security.auth.clone());
        } else if plan.endpoints == Endpoints::Full {
            tracing::info!(
                addr = %server.local_addr(),
                "standalone mode: the kubelet API is served on loopback over plain HTTP \
                 without authentication (set tlsCertFile or a specific address for TLS)"
            );
        }
        Ok(HttpServer {
            server,
            endpoints: plan.endpoints,
            auth,
        })
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `shutdown` completes. `debugging` is `enableDebuggingHandlers`.
    pub async fn serve(
        self,
        state: Arc<dyn HttpState>,
        debugging: bool,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let addr = self.server.local_addr();
        let api: Arc<dyn NodeApi> = state.clone();
        let mut router = kubelet_server::router(
            api,
            RouterOptions {
                endpoints: self.endpoints,
                enable_debugging_handlers: debugging,
            },
        );
        if self.endpoints == Endpoints::Full {
            router = router.merge(
                Router::new()
                    .route("/errors", get(errors))
                    .with_state(state),
            );
        }
        if let Some(auth) = self.auth {
            router = router.layer(auth.layer());
        }
        self.server
            .serve(router, shutdown)
            .await
            .map_err(|e| match e {
                kubelet_server::Error::Serve { source, .. } => Error::Serve { addr, source },
                other => Error::KubeletApi(other),
            })
    }
}

fn bind_error(addr: SocketAddr, e: kubelet_server::Error) -> Error {
    match e {
        kubelet_server::Error::Bind { source, .. } => Error::Bind { addr, source },
        other => Error::KubeletApi(other),
    }
}

async fn errors(State(state): State<Arc<dyn HttpState>>) -> Response {
    use axum::response::IntoResponse;
    axum::Json(state.errors()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ht_08_read_only_port_zero_disables_the_read_only_server() {
        let config = KubeletConfiguration::default();
        let plans = plan_servers(&config, false);
        assert_eq!(
            plans,
            vec![
                ServerPlan {
                    addr: "127.0.0.1:10250".parse().unwrap(),
                    endpoints: Endpoints::Full,
                    secure: false,
                },
                ServerPlan {
                    addr: "127.0.0.1:10248".parse().unwrap(),
                    endpoints: Endpoints::Healthz,
                    secure: false,
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
            plan_servers(&config, false),
            vec![ServerPlan {
                addr: "0.0.0.0:10255".parse().unwrap(),
                endpoints: Endpoints::ReadOnly,
                secure: false,
            }]
        );
    }

    #[test]
    fn ht_01_the_main_server_is_secure_in_cluster_mode_and_off_loopback() {
        let config = KubeletConfiguration::default();
        let main = |config: &KubeletConfiguration, cluster| plan_servers(config, cluster)[0];
        assert_eq!(
            main(&config, true),
            ServerPlan {
                addr: "0.0.0.0:10250".parse().unwrap(),
                endpoints: Endpoints::Full,
                secure: true,
            }
        );
        let specific = KubeletConfiguration {
            address: "10.0.0.5".into(),
            ..KubeletConfiguration::default()
        };
        assert!(main(&specific, false).secure);
        let loopback = KubeletConfiguration {
            address: "127.0.0.1".into(),
            ..KubeletConfiguration::default()
        };
        assert!(!main(&loopback, false).secure);
        let with_cert = KubeletConfiguration {
            tls_cert_file: Some("/etc/kubelet.crt".into()),
            tls_private_key_file: Some("/etc/kubelet.key".into()),
            ..KubeletConfiguration::default()
        };
        let plan = main(&with_cert, false);
        assert!(plan.secure);
        assert_eq!(plan.addr, "0.0.0.0:10250".parse().unwrap());
    }

    #[test]
    fn ht_01_standalone_security_refuses_the_webhooks_without_an_api_server() {
        let dir = tempfile::tempdir().unwrap();
        let err = Security::from_config(
            &KubeletConfiguration::default(),
            dir.path(),
            "node-a",
            &[],
            Reviewers::none(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot use webhook authentication"),
            "{err}"
        );
        assert!(dir.path().join("pki/kubelet.crt").exists());
    }
}
