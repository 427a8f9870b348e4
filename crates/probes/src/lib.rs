//! Kubernetes liveness, readiness and startup probes as a library.
//!
//! The kubelet's probe engine, usable on its own: the four probe handlers (exec through CRI
//! `ExecSync`, httpGet, tcpSocket, grpc) behind one trait, [`ProbeHandler`]; the probe
//! worker, [`ProbeWorker`], one tokio task per container and probe kind with the kubelet's
//! timing, thresholds and gating; a [`ResultsCache`] with a change feed; the
//! `prober_probe_*` [metrics]; and [`ProbeManager`], which runs the workers of every pod
//! the way a pod worker needs them. The rules are the kubelet's `pkg/kubelet/prober` and
//! `pkg/probe`; each type names the Go code it follows.
//!
//! # Why workers read a published status
//!
//! A probe worker needs to know which container instance to probe (its id changes on every
//! restart), whether it runs, when it started and the pod IP. It does not ask the runtime:
//! it reads the last pod status the pod worker published ([`PodStatusFeed`],
//! [`ProbeManager::update_pod_status`]), as the kubelet's workers read the status manager.
//! This keeps one source of truth for what runs (the pod worker's view of the runtime), keeps
//! probing free of CRI list calls, and makes a worker testable with nothing but a
//! hand-written `PodStatus`. The results flow the other way, through the [`ResultsCache`]
//! and its change feed, which wakes the pod worker to restart a container or mark it ready.
//! Time is read through tokio ([`ProbeClock`]), so worker tests run in paused time.
//!
//! # One HTTP probe
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use probes::{HttpGetProbe, HttpScheme, ProbeHandler, ProbeStatus, ProbeTarget};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! // A server that answers 503 once.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = listener.local_addr()?.port();
//! tokio::spawn(async move {
//!     let (mut conn, _) = listener.accept().await.unwrap();
//!     let mut request = [0u8; 1024];
//!     let _ = conn.read(&mut request).await;
//!     let _ = conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").await;
//! });
//!
//! let probe = HttpGetProbe::new(HttpScheme::Http, port, "/healthz");
//! let outcome = probe.probe(&ProbeTarget::pod_ip("127.0.0.1", Duration::from_secs(1))).await?;
//! assert_eq!(outcome.status, ProbeStatus::Failure);
//! assert_eq!(outcome.output, "HTTP probe failed with statuscode: 503");
//! # Ok(()) }
//! ```
//!
//! # One probe worker
//!
//! A readiness worker on a tcpSocket probe, fed a status by hand. Its result starts as
//! Failure and turns to Success after the first successful probe.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use k8s_openapi::api::core::v1::{
//!     Container, ContainerState, ContainerStateRunning, ContainerStatus, Pod, PodSpec,
//!     PodStatus, Probe, TCPSocketAction,
//! };
//! use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
//! use probes::{
//!     PodStatusFeed, ProbeKind, ProbeResult, ProbeWorker, ResultsCache, TcpSocketProbe,
//! };
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = listener.local_addr()?.port();
//!
//! let container = Container {
//!     name: "web".into(),
//!     readiness_probe: Some(Probe {
//!         tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(port.into()), host: None }),
//!         ..Default::default()
//!     }),
//!     ..Default::default()
//! };
//! let mut pod = Pod::default();
//! pod.metadata.uid = Some("uid-1".into());
//! pod.spec = Some(PodSpec { containers: vec![container.clone()], ..Default::default() });
//!
//! let feed = PodStatusFeed::new();
//! let cache = ResultsCache::new();
//! let mut updates = cache.subscribe();
//! let handler = Arc::new(TcpSocketProbe::new(port));
//! let worker = ProbeWorker::new(&pod, &container, ProbeKind::Readiness, handler, &feed, cache.clone())
//!     .spawn();
//!
//! // What the pod worker would publish once the container runs.
//! feed.publish(PodStatus {
//!     pod_ip: Some("127.0.0.1".into()),
//!     container_statuses: Some(vec![ContainerStatus {
//!         name: "web".into(),
//!         container_id: Some("containerd://abc".into()),
//!         state: Some(ContainerState {
//!             running: Some(ContainerStateRunning { started_at: None }),
//!             ..Default::default()
//!         }),
//!         ..Default::default()
//!     }]),
//!     ..Default::default()
//! });
//! worker.trigger();
//!
//! let first = updates.recv().await.unwrap();
//! assert!(matches!(first.result, ProbeResult::Failure(_))); // not ready until a success
//! let second = updates.recv().await.unwrap();
//! assert_eq!((second.container_id.as_str(), second.result), ("abc", ProbeResult::Success));
//! assert_eq!(cache.get("uid-1", "abc", ProbeKind::Readiness), Some(ProbeResult::Success));
//! worker.stop();
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod clock;
mod error;
pub mod events;
pub mod handler;
mod kind;
mod manager;
pub mod metrics;
mod pod;
mod results;
mod settings;
mod validation;
mod worker;

pub use clock::ProbeClock;
pub use error::{Error, Result};
pub use handler::{
    ExecProbe, GrpcProbe, HttpGetError, HttpGetProbe, HttpGetRequest, HttpGetResponse, HttpScheme,
    ProbeHandler, ProbeOutcome, ProbeStatus, ProbeTarget, TcpSocketProbe, USER_AGENT, handler_for,
    resolve_port,
};
pub use kind::ProbeKind;
pub use manager::{HandlerFactory, ProbeManager, ProbeManagerBuilder};
pub use pod::{PodRef, cri_container_id};
pub use results::{
    ContainerProbeResult, INITIAL_READINESS, ProbeResult, ProbeUpdate, ResultsCache,
};
pub use settings::{
    DEFAULT_FAILURE_THRESHOLD, DEFAULT_INITIAL_DELAY_SECONDS, DEFAULT_PERIOD_SECONDS,
    DEFAULT_SUCCESS_THRESHOLD, DEFAULT_TIMEOUT_SECONDS, ProbeSettings,
    probe_termination_grace_period,
};
pub use validation::validate_container_probes;
pub use worker::{MAX_PROBE_RETRIES, NOT_RUNNING, PodStatusFeed, ProbeWorker, WorkerHandle};
