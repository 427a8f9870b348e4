//! The kubelet API: what the API server, `kubectl logs/exec/attach/port-forward/cp`,
//! metrics-server and Prometheus reach on a node's port 10250.
//!
//! The server knows nothing about pods or workers: it asks a [`NodeApi`], implemented by
//! whoever composes the agent, on every request, and calls the container runtime
//! ([`cri_client::RuntimeService`]) for exec, attach and port-forward.
#![doc = "\n"]
#![forbid(unsafe_code)]

mod api;
mod error;
mod running;
pub mod server;
pub mod stats;
pub mod tls;

pub use api::{ContainerTarget, FoundContainer, HealthCheck, NodeApi};
pub use error::{Error, Result};
pub use server::{Endpoints, KubeletServer, RouterOptions, router};
pub mod auth;
pub mod logs;
pub mod streaming;
