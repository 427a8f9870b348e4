//! Test support for the tests and benches that need the real environment: the containerd,
//! images and registry that `cargo xtask setup` starts under `target/nodelet-env/`.
//!
//! Every such test needs the same few things, and each used to carry its own copy of them.
//! They are here, once:
//!
//! - the environment's variables ([`Env`], [`var`], [`busybox_image`], [`pause_image`]),
//!   from the process environment, else from the env file setup writes ([`env_file`]), so a
//!   plain `cargo test` finds them;
//! - what a test does without them ([`require_env`], [`skip`]): with `CI=true` it fails,
//!   because CI must never pass by skipping; elsewhere it says `skipping: ...` on stderr and
//!   returns early;
//! - the runtime, connected and validated ([`runtime`], [`connect`]), and the lock that
//!   keeps a test's sandboxes away from an agent under test, which removes every sandbox it
//!   does not know ([`RuntimeLock`]);
//! - pods made straight through the CRI ([`TestSandbox`]), on the fake runtime or on
//!   containerd alike, and clean-ups that remove a pod's sandboxes by its uid label
//!   ([`remove_pod_sandboxes`], [`remove_pods_blocking`] for a `Drop`), its mounts
//!   ([`mounts_under`]) and the cgroups runc leaves ([`remove_cgroup_tree`]);
//! - the real kubelet, on the reference containerd that only it uses ([`Kubelet`], its
//!   module [`kubelet`], [`ReferenceRuntimeLock`]), to compare nodelet with;
//! - the faults containerd, which only the fault-injection tests use because they kill and
//!   restart it ([`FaultsContainerd`]);
//! - the local control plane of `cargo xtask cluster up` ([`Cluster`]): the admin's kubectl
//!   and node identities signed through CertificateSigningRequests;
//! - an agent or kubelet as a child process: its ports ([`free_ports`]), its local
//!   endpoints ([`http_get`]), stopping it ([`stop_child`]: SIGTERM, then SIGKILL);
//! - [`unique_name`], polling waits ([`wait_until`], [`poll`]) and a clean-up that runs
//!   when an async test fails half-way ([`with_cleanup`]).
//!
//! # Why a crate of its own
//!
//! The helpers serve the tests of several crates (cri-client, probes, pod-lifecycle, the
//! agent) and the benches, so they cannot live in any one crate's `tests/`. Of the workspace
//! it depends on cri-client and the std-only `mountinfo` parser alone: anything that needs
//! pod-lifecycle's types (the pod workers' harness) stays in that crate's `tests/common`, on
//! top of this one. It is never published.
//!
//! # Example
//!
//! A test pod on the fake runtime, found and removed by its uid as a test's clean-up does
//! on containerd (where the runtime would come from [`runtime`] and the image from
//! [`busybox_image`]):
//!
//! ```
//! use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
//! use cri_client::RuntimeService;
//! use test_env::{TestSandbox, remove_pod_sandboxes, unique_name};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let runtime = FakeRuntime::with_busybox();
//! let uid = unique_name("demo");
//! let sandbox = TestSandbox::builder("default", "demo", &uid)
//!     .host_network()
//!     .run(&runtime)
//!     .await?;
//! sandbox
//!     .start_container(&runtime, "app", BUSYBOX_IMAGE, &["sleep", "infinity"])
//!     .await?;
//! let containers = runtime.list_containers(Default::default()).await.unwrap().containers;
//! assert_eq!(containers.len(), 1);
//!
//! // The clean-up finds the pod's sandboxes by its uid label, and takes the containers too.
//! assert_eq!(remove_pod_sandboxes(&runtime, &uid).await?, 1);
//! assert!(runtime.list_pod_sandbox(Default::default()).await.unwrap().items.is_empty());
//! assert!(runtime.list_containers(Default::default()).await.unwrap().containers.is_empty());
//! # Ok::<(), test_env::Error>(())
//! # }).unwrap();
//! ```
//!
//! A test on the real runtime starts like this, and returns early (or fails, in CI) when the
//! environment is missing:
//!
//! ```no_run
//! # async fn a_test() {
//! let Some(runtime) = test_env::runtime().await else { return };
//! let _lock = test_env::RuntimeLock::shared().expect("the runtime lock");
//! # let _ = runtime;
//! # }
//! ```

#![deny(missing_docs)]

pub mod audit;
mod cgroups;
mod cleanup;
mod cluster;
mod env;
mod error;
mod faults;
mod http;
pub mod kubelet;
pub mod labels;
mod lock;
mod mounts;
mod names;
mod process;
mod runtime;
mod sandbox;
mod wait;

pub use cgroups::{CGROUP_MOUNT, remove_cgroup_tree, remove_cgroup_tree_in};
pub use cleanup::with_cleanup;
pub use cluster::{
    CLUSTER_DIR_VAR, CLUSTER_KUBECONFIG_VAR, CONTROL_PLANE, Cluster, PausedControlPlane,
    ResumedControlPlane,
};
pub use env::{
    BUSYBOX_IMAGE_VAR, CRI_ENDPOINT_VAR, DEFAULT_BUSYBOX_IMAGE, DEFAULT_PAUSE_IMAGE,
    DEFAULT_REGISTRY, ENV_DIR_VAR, Env, PAUSE_IMAGE_VAR, REGISTRY_BUSYBOX_IMAGE_VAR, REGISTRY_VAR,
    SETUP_HINT, busybox_image, env_file, env_file_var, is_ci, pause_image, require_env, skip, var,
};
pub use error::{Error, Result};
pub use faults::{
    FAULTS_CRI_ENDPOINT_VAR, FAULTS_DIR_VAR, FaultsContainerd, Leftover, RuncState, Shim,
};
pub use http::http_get;
pub use kubelet::{
    KUBE_BIN_DIR_VAR, KUBE_VERSION, KlogLine, Kubelet, KubeletBuilder, KubeletPlaces,
    KubeletSettings, REF_CRI_ENDPOINT_VAR, ReferenceEnv, klog_lines, pod_phases, refused_manifests,
    require_reference_env,
};
pub use lock::{ReferenceRuntimeLock, RuntimeLock};
pub use mounts::mounts_under;
pub use names::unique_name;
pub use process::{free_ports, stop_child};
pub use runtime::{CONNECT_TIMEOUT, connect, runtime};
pub use sandbox::{
    SandboxBuilder, TestSandbox, remove_all_pods, remove_all_pods_blocking, remove_pod_sandboxes,
    remove_pods_blocking, remove_sandbox,
};
pub use wait::{POLL_INTERVAL, poll, wait_until};
