//! nodelet: Kubernetes node-agent libraries, and a thin kubelet built from them.
//!
//! This crate is a facade, like `kube` over `kube-client` and `kube-runtime`: it re-exports
//! the libraries under one name so an agent can depend on `nodelet` alone. Each library is also
//! a crate of its own, usable without the others:
//!
//! - [`cri_client`]: the CRI v1 `RuntimeService` and `ImageService` as traits, a gRPC
//!   implementation over a unix socket, and an in-memory fake.
//! - [`pod_plan`]: the pure decisions (pod actions, back-off, status, labels, the spec
//!   hash, validation, API defaults, QoS), with no runtime, no async and no CRI types.
//! - [`container_logs`]: container log files: size-based rotation through CRI
//!   `ReopenContainerLog`, the `/var/log/containers` symlinks, and a reader of the CRI log
//!   format with `kubectl logs`' options (follow, tail, since, limit, timestamps, stream).
//! - [`pod_lifecycle`]: pod workers applying the plan through CRI, the PLEG, the pod
//!   manager and image GC (log files through [`container_logs`]).
//! - [`probes`]: liveness, readiness and startup probes (exec, httpGet, tcpSocket, grpc),
//!   probe workers and their results.
//! - [`volume_manager`]: emptyDir, hostPath, configMap, secret, downwardAPI and projected
//!   volumes on disk where the kubelet puts them, the atomic writer, safe subPaths.
//! - [`cgroup_enforcer`]: the kubelet's resource formulas, pod and QoS cgroups on
//!   cgroup v1 and v2, node allocatable.
//! - [`mountinfo`]: the kernel's mount table (`/proc/self/mountinfo`) parsed, mount points
//!   kept as bytes; the one parser the volume manager, the cgroup enforcer and the tests use.
//! - [`status_reporter`]: cluster mode's bridge to the API server: node registration with the
//!   kubelet's fields, the node lease, node status and conditions.
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

pub use cgroup_enforcer;
pub use container_logs;
pub use cri_client;
pub use mountinfo;
pub use pod_lifecycle;
pub use pod_plan;
pub use probes;
pub use status_reporter;
pub use volume_manager;
