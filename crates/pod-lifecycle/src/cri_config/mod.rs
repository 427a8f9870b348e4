//! From a pod spec to CRI configs: what the kubelet's `generatePodSandboxConfig` and
//! `generateContainerConfig` (`pkg/kubelet/kuberuntime`) send to the runtime.
//!
//! [`sandbox_config`] builds the `RunPodSandbox` config (metadata, hostname, log
//! directory, DNS, port mappings, namespaces, sysctls, pod security context);
//! [`container_config`] builds the `CreateContainer` config (env resolved and `$(VAR)`
//! expanded, command and args expanded, the kubelet's labels and annotations, log path,
//! CPU and memory, security context).
//!
//! Both are pure: no I/O, no clock, no runtime calls. What the kubelet fetches while it
//! builds these configs (ConfigMaps and Secrets for env, the node's allocatable, IPs, the
//! image's user, mounts prepared by the volume manager) is passed in by the caller
//! ([`ContainerEnvironment`], [`ContainerOptions`], [`SandboxOptions`]). That keeps the
//! translation testable as a table, and lets a caller with a different source for those
//! facts reuse it unchanged. The container resources come from `cgroup-enforcer`'s
//! formulas ([`resources::linux_container_resources`]), so the CRI values and the pod
//! cgroup the worker creates agree. The result is a plain CRI message: a caller that needs
//! more (CDI devices) adds it before sending.
//!
//! Errors are the kubelet's `CreateContainerConfigError`: a bad container spec gives
//! [`Error::ContainerConfig`] naming the pod (`ns/name`),
//! the container, the field path inside the container (`env[2].valueFrom.fieldRef.fieldPath`)
//! and the problem, in the kubelet's words where it has some ("configmap \"x\" not
//! found"). Only that container fails; nothing here panics on a bad spec.
//!
//! ```
//! use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
//! use pod_lifecycle::cri_config::{
//!     ContainerEnvironment, ContainerOptions, SandboxOptions, container_config, sandbox_config,
//! };
//!
//! let container = Container {
//!     name: "app".into(),
//!     image: Some("busybox:1".into()),
//!     command: Some(vec!["echo".into(), "$(GREETING)".into()]),
//!     env: Some(vec![k8s_openapi::api::core::v1::EnvVar {
//!         name: "GREETING".into(),
//!         value: Some("hello".into()),
//!         ..Default::default()
//!     }]),
//!     ..Default::default()
//! };
//! let mut pod = Pod {
//!     spec: Some(PodSpec { containers: vec![container.clone()], ..Default::default() }),
//!     ..Default::default()
//! };
//! pod.metadata.name = Some("web".into());
//! pod.metadata.namespace = Some("default".into());
//! pod.metadata.uid = Some("uid-1".into());
//!
//! let sandbox = sandbox_config(&pod, 0, &SandboxOptions::default())?;
//! assert_eq!(sandbox.log_directory, "/var/log/pods/default_web_uid-1");
//! let config =
//!     container_config(&pod, &container, 0, &ContainerEnvironment::default(), &ContainerOptions::default())?;
//! assert_eq!(config.command, ["echo", "hello"]);
//! assert_eq!(config.log_path, "app/0.log");
//! # Ok::<(), pod_lifecycle::Error>(())
//! ```

mod container;
mod dns;
mod env;
mod expansion;
pub mod resources;
mod sandbox;
mod security;

pub use cgroup_enforcer::quantity::{QuantityError, QuantityValue};
pub use container::{ContainerOptions, container_config};
/// Where container logs go: the `container-logs` crate's path builders, here too because the
/// sandbox and container configs are made of them.
pub use container_logs::{
    DEFAULT_POD_LOGS_DIR, LEGACY_CONTAINER_LOGS_DIR, container_log_path, pod_log_dir,
};
pub use dns::parse_resolv_conf;
pub use env::{ContainerEnvironment, NodeAllocatable, container_env};
pub use expansion::expand;
pub use sandbox::{SandboxOptions, sandbox_config};

use crate::Error;
use k8s_openapi::api::core::v1::{Pod, PodSpec};

pub use pod_plan::pod_full_name;

fn pod_name(pod: &Pod) -> &str {
    pod_plan::pod_name(pod)
}

fn pod_namespace(pod: &Pod) -> &str {
    pod_plan::pod_namespace(pod)
}

fn pod_uid(pod: &Pod) -> &str {
    pod_plan::pod_uid(pod)
}

/// The pod's spec, or an empty one: a pod without a spec has nothing to run, and the
/// functions here then report what is missing rather than panic.
fn pod_spec(pod: &Pod) -> std::borrow::Cow<'_, PodSpec> {
    match &pod.spec {
        Some(spec) => std::borrow::Cow::Borrowed(spec),
        None => std::borrow::Cow::Owned(PodSpec::default()),
    }
}

fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

/// A problem with one field, before it is told which pod and container it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldError {
    field: String,
    message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    fn for_container(self, pod: &Pod, container: &str) -> Error {
        Error::ContainerConfig {
            pod: pod_full_name(pod),
            container: container.to_owned(),
            field: self.field,
            message: self.message,
        }
    }

    fn for_pod(self, pod: &Pod) -> Error {
        Error::PodConfig {
            pod: pod_full_name(pod),
            field: self.field,
            message: self.message,
        }
    }
}
