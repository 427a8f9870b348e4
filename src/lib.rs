//! nodelet: Kubernetes node-agent libraries, and a thin kubelet built from them.
//!
//! This crate is a facade, like `kube` over `kube-client` and `kube-runtime`: it re-exports
//! the libraries under one name so an agent can depend on `nodelet` alone. Each library is also
//! a crate of its own, usable without the others:
//!
//! - [`cri_client`]: the CRI v1 `RuntimeService` and `ImageService` as traits, a gRPC
//!   implementation over a unix socket, and an in-memory fake.
//!
//! ```no_run
//! use nodelet::cri_client::{GrpcRuntime, RuntimeService, v1};
//!
//! # async fn run() -> Result<(), nodelet::cri_client::Error> {
//! let runtime = GrpcRuntime::connect("unix:///run/containerd/containerd.sock").await?;
//! let version = runtime.version(v1::VersionRequest::default()).await?;
//! println!("{}://{}", version.runtime_name, version.runtime_version);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub use cri_client;
