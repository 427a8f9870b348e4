//! The kubelet API: what the API server, `kubectl logs/exec/attach/port-forward/cp`,
//! metrics-server and Prometheus reach on a node's port 10250, with the kubelet's paths,
//! formats, status codes and messages.
//!
//! - [`server`]: the routes of the main, read-only and healthz servers ([`router`]) and
//!   the listener that serves them over plain HTTP or TLS ([`KubeletServer`]), HTTP/1.1
//!   with upgrades.
//! - [`tls`]: the serving certificate (`tlsCertFile`, or the kubelet's self-signed pair
//!   under `<rootDir>/pki`) and client-certificate verification against
//!   `authentication.x509.clientCAFile`.
//! - [`auth`]: authentication (x509 client certificates, webhook bearer tokens through
//!   TokenReview, anonymous) and authorization (`Webhook` through SubjectAccessReview with
//!   the kubelet's path-to-subresource mapping, or `AlwaysAllow`), with the kubelet's
//!   caches; the API server reviewers behind the `kube` feature.
//! - [`logs`]: `/containerLogs` (CRI log files, `follow` across rotation) and `/logs/`.
//! - [`streaming`]: `/exec`, `/attach`, `/portForward` (the runtime's streaming URL, the
//!   upgraded connection proxied byte for byte) and `/run`.
//! - [`stats`]: `/stats/summary` (the kubelet's `stats/v1alpha1` schema),
//!   `/metrics/resource` and `/metrics/cadvisor`.
//!
//! The server knows nothing about pods or workers: it asks a [`NodeApi`], implemented by
//! whoever composes the agent, on every request, and calls the container runtime
//! ([`cri_client::RuntimeService`]) for exec, attach, port-forward and following logs.
//! Only five methods are required; the rest answer 501 until an agent provides them.
//!
//! # Example
//!
//! An agent that knows one pod, served without a socket (as a test would):
//!
//! ```
//! use std::sync::Arc;
//! use k8s_openapi::api::core::v1::Pod;
//! use kubelet_server::{Endpoints, HealthCheck, NodeApi, RouterOptions, router};
//! use tower::ServiceExt;
//!
//! struct Agent;
//!
//! impl NodeApi for Agent {
//!     fn pods(&self) -> Vec<Pod> {
//!         let mut pod = Pod::default();
//!         pod.metadata.name = Some("web".into());
//!         vec![pod]
//!     }
//!     fn healthz(&self) -> Vec<HealthCheck> { vec![HealthCheck::new("syncloop", Ok(()))] }
//!     fn metrics(&self) -> String { String::new() }
//!     fn configz(&self) -> serde_json::Value { serde_json::json!({"maxPods": 110}) }
//! }
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let app = router(Arc::new(Agent), RouterOptions::new(Endpoints::Full));
//! let request = axum::http::Request::get("/pods").body(axum::body::Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! let body = http_body_util::BodyExt::collect(response.into_body()).await?.to_bytes();
//! let list: serde_json::Value = serde_json::from_slice(&body)?;
//! assert_eq!(list["items"][0]["metadata"]["name"], "web");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod api;
pub mod auth;
mod error;
pub mod logs;
mod running;
pub mod server;
pub mod stats;
pub mod streaming;
pub mod tls;

pub use api::{ContainerTarget, FoundContainer, HealthCheck, NodeApi};
pub use error::{Error, Result};
pub use server::{Endpoints, KubeletServer, RouterOptions, router};
