//! CRI v1 client for Kubernetes node agents.
//!
//! A node agent talks to its container runtime (containerd, CRI-O) through the Container
//! Runtime Interface: two gRPC services, `RuntimeService` and `ImageService`. This crate gives
//! them as two Rust traits, [`RuntimeService`] and [`ImageService`], with
//!
//! - [`GrpcRuntime`], the real client: CRI v1 over gRPC on a unix socket, with the kubelet's
//!   connection rules (lazy connect, reconnect after a runtime restart, 16 MiB messages, a
//!   2 min deadline per call with the kubelet's exceptions);
//! - [`FakeRuntime`](fake::FakeRuntime) (feature `fake`), an in-memory runtime with
//!   containerd's semantics and a clock the test drives;
//! - [`contract`] (feature `contract`), the test suite both pass. The fake is trusted because
//!   it passes the same suite as containerd.
//!
//! # Why the traits mirror the CRI one to one
//!
//! Every trait method is one CRI RPC, under the RPC's own name, taking and returning the
//! `runtime.v1` messages of the [`k8s-cri`](https://docs.rs/k8s-cri) crate ([`v1`])
//! unchanged. There is no "friendlier" model in between, on purpose. The CRI is the
//! contract the kubelet, containerd and CRI-O already share and document; a reader who knows
//! `api.proto` knows these traits, a field added to the CRI is usable the day `k8s-cri` has
//! it, and a proxy, a recording wrapper or a fake can sit behind the traits without
//! translating anything. What a kubelet adds on top (retries, "NotFound means already
//! gone", status building) belongs to the crates that use this one, where it can be tested
//! against the fake.
//!
//! What this crate does add is what every caller would otherwise get wrong: the kubelet's
//! deadlines, response checks (`verifyContainerStatus`), errors that name the call and the
//! object ([`Error`]), a tracing span per call, and a capability probe for CRI container
//! events ([`RuntimeService::container_events_capability`]), which containerd 1.6 lacks.
//!
//! # Connecting to a runtime
//!
//! ```no_run
//! use cri_client::{GrpcRuntime, RuntimeService, v1};
//!
//! # async fn run() -> cri_client::Result<()> {
//! // Validates like the kubelet at start-up: Version, then ImageFsInfo.
//! let runtime = GrpcRuntime::connect("unix:///run/containerd/containerd.sock").await?;
//! let running = runtime
//!     .list_containers(v1::ListContainersRequest {
//!         filter: Some(v1::ContainerFilter {
//!             state: Some(v1::ContainerStateValue {
//!                 state: v1::ContainerState::ContainerRunning as i32,
//!             }),
//!             ..Default::default()
//!         }),
//!     })
//!     .await?;
//! println!("{} containers running", running.containers.len());
//! # Ok(())
//! # }
//! ```
//!
//! # Testing with `FakeRuntime`
//!
//! Code written against `&dyn RuntimeService` runs unchanged on the fake. Here a container
//! exits 3, and the fake reports it as containerd would:
//!
//! ```
//! # #[cfg(feature = "fake")]
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use cri_client::fake::FakeRuntime;
//! use cri_client::{RuntimeService, v1};
//!
//! let runtime = FakeRuntime::with_busybox();
//! let sandbox_config = v1::PodSandboxConfig {
//!     metadata: Some(v1::PodSandboxMetadata {
//!         name: "web".into(),
//!         namespace: "default".into(),
//!         uid: "uid-1".into(),
//!         attempt: 0,
//!     }),
//!     ..Default::default()
//! };
//! let sandbox = runtime
//!     .run_pod_sandbox(v1::RunPodSandboxRequest {
//!         config: Some(sandbox_config.clone()),
//!         runtime_handler: String::new(),
//!     })
//!     .await?
//!     .pod_sandbox_id;
//! let container = runtime
//!     .create_container(v1::CreateContainerRequest {
//!         pod_sandbox_id: sandbox,
//!         config: Some(v1::ContainerConfig {
//!             metadata: Some(v1::ContainerMetadata { name: "app".into(), attempt: 0 }),
//!             image: Some(v1::ImageSpec { image: "localhost/busybox:1".into(), ..Default::default() }),
//!             command: vec!["sh".into(), "-c".into(), "exit 3".into()],
//!             ..Default::default()
//!         }),
//!         sandbox_config: Some(sandbox_config),
//!     })
//!     .await?
//!     .container_id;
//! runtime.start_container(v1::StartContainerRequest { container_id: container.clone() }).await?;
//!
//! let status = runtime
//!     .container_status(v1::ContainerStatusRequest { container_id: container, verbose: false })
//!     .await?
//!     .status
//!     .unwrap();
//! assert_eq!((status.exit_code, status.reason.as_str()), (3, "Error"));
//! # Ok::<(), cri_client::Error>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

pub use k8s_cri::v1;

mod endpoint;
mod error;
mod exec;
mod grpc;
mod instrumented;
mod service;
mod verify;

#[cfg(feature = "fake")]
pub mod fake;

#[cfg(feature = "contract")]
pub mod contract;

pub use endpoint::{DEFAULT_RUNTIME_ENDPOINT, Endpoint};
pub use error::{Error, Result};
pub use exec::run_in_container;
pub use grpc::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_REQUEST_TIMEOUT, GrpcOptions,
    GrpcRuntime, KUBE_RUNTIME_API_VERSION, check_version,
};
pub use instrumented::{Instrumented, OperationObserver};
pub use service::{ContainerEventStream, EventsCapability, ImageService, RuntimeService};
pub use verify::{check_container_status, check_sandbox_status};
