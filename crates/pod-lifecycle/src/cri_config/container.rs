//! The `CreateContainer` config (`kuberuntime_container.go` `generateContainerConfig`,
//! `kuberuntime_container_linux.go` `generateLinuxContainerConfig`, `labels.go`).

use super::env::{ContainerEnvironment, resolve};
use super::expansion::expand;
use super::resources::linux_container_resources;
use super::sandbox::container_port_mappings;
use super::security::{
    ContainerSecurityInputs, container_security_context, verify_run_as_non_root,
};
use super::{FieldError, pod_name, pod_namespace, pod_uid};
use crate::Result;
use crate::labels;
use crate::plan::container_hash;
use cgroup_enforcer::{QuantityValue, ResourceOptions};
use container_logs::container_log_path;
use cri_client::v1;
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// The API default of `terminationMessagePath`.
const DEFAULT_TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";
/// The API default of `terminationMessagePolicy`.
const DEFAULT_TERMINATION_MESSAGE_POLICY: &str = "File";
/// The API default of `terminationGracePeriodSeconds`.
const DEFAULT_TERMINATION_GRACE_PERIOD: i64 = 30;
/// The kubelet's default `seccompProfileRoot` (`<root dir>/seccomp`).
const DEFAULT_SECCOMP_PROFILE_ROOT: &str = "/var/lib/kubelet/seccomp";

/// What the caller prepared for one container, and node-level switches.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerOptions {
    /// The container's mounts, as the volume manager resolved them (`makeMounts`),
    /// including the termination-message file, `/etc/hosts` and service account tokens.
    pub mounts: Vec<v1::Mount>,
    /// Devices to add (device plugins, `volumeDevices`).
    pub devices: Vec<v1::Device>,
    /// The node's resource settings (`cpuCFSQuota`, `cpuCFSQuotaPeriod`, the memory
    /// capacity for the Burstable OOM score, cgroup v2 or not, MemoryQoS), with the
    /// kubelet's defaults. The pod-lifecycle worker passes its
    /// [`WorkerConfig::resources`](crate::worker::WorkerConfig::resources).
    pub resources: ResourceOptions,
    /// Overrides the container's `oom_score_adj`; `None` (the default) sends the kubelet's
    /// QoS value ([`cgroup_enforcer::oom::container_oom_score_adj`]).
    pub oom_score_adj: Option<i64>,
    /// The pulled image's reference (`image_ref` from `PullImage`/`ImageStatus`), sent as
    /// the image so the container runs exactly what was pulled; `None` sends the spec's
    /// image. The spec's image is always sent as `user_specified_image`.
    pub image_ref: Option<String>,
    /// Where `Localhost` seccomp profiles live (the kubelet's `<root dir>/seccomp`).
    pub seccomp_profile_root: PathBuf,
    /// The kubelet's `seccompDefault`: `RuntimeDefault` instead of `Unconfined` for a
    /// container whose pod and spec name no profile (default false).
    pub seccomp_default: bool,
    /// The container's environment when the caller already resolved it with
    /// [`container_env`](super::container_env) (for `subPathExpr`); `None` resolves it here.
    pub env: Option<Vec<v1::KeyValue>>,
}

impl Default for ContainerOptions {
    fn default() -> Self {
        ContainerOptions {
            mounts: Vec::new(),
            devices: Vec::new(),
            resources: ResourceOptions::default(),
            oom_score_adj: None,
            image_ref: None,
            seccomp_profile_root: PathBuf::from(DEFAULT_SECCOMP_PROFILE_ROOT),
            seccomp_default: false,
            env: None,
        }
    }
}

/// The kubelet's `CreateContainer` config for `container` of `pod`, instance number
/// `restart_count` (0 for the first run).
///
/// - metadata `{name, attempt: restart_count}`; image as given (or `opts.image_ref`);
/// - env resolved in order (see [`container_env`](super::container_env)); command and args
///   with `$(VAR)` expanded against it; working dir, stdin, stdin_once, tty as given;
/// - labels `io.kubernetes.pod.{name,namespace,uid}`, `io.kubernetes.container.name`;
///   annotations `io.kubernetes.container.{hash,restartCount,terminationMessagePath,
///   terminationMessagePolicy}`, `io.kubernetes.pod.terminationGracePeriod`, and when set
///   `io.kubernetes.pod.deletionGracePeriod`, `io.kubernetes.container.ports` and
///   `io.kubernetes.container.preStopHandler` (JSON) (CRI-13). API defaults are written
///   for unset fields (`/dev/termination-log`, `File`, 30), so an undefaulted static pod
///   is recorded the same as a defaulted one;
/// - `log_path` `<name>/<restart_count>.log`, relative to the sandbox's log directory
///   (CRI-14);
/// - mounts and devices from `opts`;
/// - linux resources: CPU shares, CFS quota/period, memory limit, the QoS `oom_score_adj`
///   (unless `opts.oom_score_adj` overrides it), hugepage limits and the cgroup v2
///   `unified` entries
///   ([`linux_container_resources`](super::resources::linux_container_resources) with
///   `opts.resources`);
/// - linux security context: the container's settings over the pod's (user, group,
///   privileged, read-only root, capabilities, SELinux, seccomp, AppArmor), namespaces,
///   `fsGroup` + supplemental groups, `no_new_privs` for `allowPrivilegeEscalation: false`,
///   masked `/proc` paths, the image's user when the spec sets none.
///
/// Errors ([`Error::ContainerConfig`](crate::Error::ContainerConfig), the kubelet's
/// `CreateContainerConfigError`): a name used by two containers of the pod, no image,
/// ports out of range, unparseable or negative CPU/memory, `runAsNonRoot` with a root user,
/// an env source that cannot be resolved (missing non-optional ConfigMap/Secret/key,
/// unsupported field path, ...).
///
/// ```
/// use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
/// use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
/// use pod_lifecycle::cri_config::{ContainerEnvironment, ContainerOptions, container_config};
///
/// let container = Container {
///     name: "app".into(),
///     image: Some("busybox:1".into()),
///     resources: Some(ResourceRequirements {
///         limits: Some([("memory".to_string(), Quantity("256Mi".into()))].into()),
///         ..Default::default()
///     }),
///     ..Default::default()
/// };
/// let pod = Pod {
///     spec: Some(PodSpec { containers: vec![container.clone()], ..Default::default() }),
///     ..Default::default()
/// };
/// let config =
///     container_config(&pod, &container, 2, &ContainerEnvironment::default(), &ContainerOptions::default())?;
/// let resources = config.linux.unwrap().resources.unwrap();
/// assert_eq!(resources.memory_limit_in_bytes, 268_435_456);
/// assert_eq!(config.annotations["io.kubernetes.container.restartCount"], "2");
/// # Ok::<(), pod_lifecycle::Error>(())
/// ```
pub fn container_config(
    pod: &Pod,
    container: &Container,
    restart_count: u32,
    env: &ContainerEnvironment<'_>,
    opts: &ContainerOptions,
) -> Result<v1::ContainerConfig> {
    build(pod, container, restart_count, env, opts)
        .map_err(|e| e.for_container(pod, &container.name))
}

fn build(
    pod: &Pod,
    container: &Container,
    restart_count: u32,
    env: &ContainerEnvironment<'_>,
    opts: &ContainerOptions,
) -> Result<v1::ContainerConfig, FieldError> {
    check_name(pod, container)?;
    let image = container.image.as_deref().unwrap_or_default();
    if image.is_empty() {
        return Err(FieldError::new("image", "must be set"));
    }
    // Validated here too, so a bad port names the container; the sandbox carries the
    // mappings.
    container_port_mappings(container)?;
    let resources = container_resources(pod, container, opts)?;
    verify_run_as_non_root(pod, container, env.image_user, env.image_username)?;
    let security_context = container_security_context(
        pod,
        container,
        &ContainerSecurityInputs {
            image_user: env.image_user,
            image_username: env.image_username,
            seccomp_profile_root: &opts.seccomp_profile_root,
            seccomp_default: opts.seccomp_default,
        },
    )?;

    let vars = match &opts.env {
        Some(resolved) => resolved
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect(),
        None => resolve(pod, container, env)?,
    };
    // `ExpandContainerCommandAndArgs` looks names up in the final environment.
    let lookup: HashMap<&str, &str> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let expand_all = |items: &Option<Vec<String>>| -> Vec<String> {
        items
            .iter()
            .flatten()
            .map(|item| expand(item, |name| lookup.get(name).copied()))
            .collect()
    };
    let command = expand_all(&container.command);
    let args = expand_all(&container.args);

    Ok(v1::ContainerConfig {
        metadata: Some(v1::ContainerMetadata {
            name: container.name.clone(),
            attempt: restart_count,
        }),
        image: Some(v1::ImageSpec {
            image: opts.image_ref.clone().unwrap_or_else(|| image.to_owned()),
            user_specified_image: image.to_owned(),
            ..Default::default()
        }),
        command,
        args,
        working_dir: container.working_dir.clone().unwrap_or_default(),
        envs: vars
            .into_iter()
            .map(|(key, value)| v1::KeyValue { key, value })
            .collect(),
        mounts: opts.mounts.clone(),
        devices: opts.devices.clone(),
        labels: container_labels(pod, container),
        annotations: container_annotations(pod, container, restart_count)?,
        log_path: container_log_path(&container.name, restart_count).map_err(|e| match e {
            pod_plan::Error::InvalidPathComponent { field, message } => {
                FieldError::new(field, message)
            }
            other => FieldError::new("name", other.to_string()),
        })?,
        stdin: container.stdin.unwrap_or(false),
        stdin_once: container.stdin_once.unwrap_or(false),
        tty: container.tty.unwrap_or(false),
        linux: Some(v1::LinuxContainerConfig {
            resources: Some(resources),
            security_context: Some(security_context),
        }),
        windows: None,
        cdi_devices: Vec::new(),
    })
}

/// A container name must be set and unique among the pod's init, regular and ephemeral
/// containers: the runtime state is keyed by it.
fn check_name(pod: &Pod, container: &Container) -> Result<(), FieldError> {
    if container.name.is_empty() {
        return Err(FieldError::new("name", "must be set"));
    }
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(());
    };
    let uses = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .map(|c| &c.name)
        .chain(spec.ephemeral_containers.iter().flatten().map(|c| &c.name))
        .filter(|n| **n == container.name)
        .count();
    if uses > 1 {
        return Err(FieldError::new(
            "name",
            format!(
                "duplicate container name {:?}: {uses} containers of the pod use it",
                container.name
            ),
        ));
    }
    Ok(())
}

/// The container's CRI resources ([`linux_container_resources`]). The quantities are
/// checked here first so that a bad one names the field inside the container
/// (`resources.limits.cpu`), as every other config error does.
fn container_resources(
    pod: &Pod,
    container: &Container,
    opts: &ContainerOptions,
) -> Result<v1::LinuxContainerResources, FieldError> {
    let requests = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let limits = container.resources.as_ref().and_then(|r| r.limits.as_ref());
    for (list, kind) in [(requests, "requests"), (limits, "limits")] {
        for name in ["cpu", "memory"] {
            read_quantity(list, kind, name)?;
        }
    }
    let mut resources =
        linux_container_resources(pod, container, &opts.resources).map_err(|e| match e {
            // What the checks above do not cover (hugepages): the field from inside the
            // container on.
            cgroup_enforcer::Error::Quantity { field, source, .. } => {
                FieldError::new(container_field(&field), source.to_string())
            }
            cgroup_enforcer::Error::InvalidPod { field, message, .. } => {
                FieldError::new(container_field(&field), message)
            }
            other => FieldError::new("resources", other.to_string()),
        })?;
    if let Some(adjust) = opts.oom_score_adj {
        resources.oom_score_adj = adjust;
    }
    Ok(resources)
}

/// `spec.containers[0].resources.limits.x` → `resources.limits.x`.
fn container_field(pod_field: &str) -> String {
    match pod_field.find("resources") {
        Some(i) => pod_field[i..].to_owned(),
        None => pod_field.to_owned(),
    }
}

/// One entry of `resources.<kind>`: millicores for `cpu`, units (bytes) otherwise;
/// `None` when absent. Negative amounts are refused, as API validation does.
fn read_quantity(
    list: Option<&BTreeMap<String, Quantity>>,
    kind: &str,
    name: &str,
) -> Result<Option<i64>, FieldError> {
    let Some(q) = list.and_then(|l| l.get(name)) else {
        return Ok(None);
    };
    let field = format!("resources.{kind}.{name}");
    let value = QuantityValue::parse(&q.0).map_err(|e| FieldError::new(&field, e.to_string()))?;
    if value.is_negative() {
        return Err(FieldError::new(
            field,
            format!("{:?}: must be greater than or equal to 0", q.0),
        ));
    }
    let amount = if name == "cpu" {
        value.milli_value()
    } else {
        value.value()
    };
    amount
        .map(Some)
        .map_err(|e| FieldError::new(field, e.to_string()))
}

/// `newContainerLabels`.
fn container_labels(pod: &Pod, container: &Container) -> HashMap<String, String> {
    HashMap::from([
        (labels::POD_NAME.to_owned(), pod_name(pod).to_owned()),
        (
            labels::POD_NAMESPACE.to_owned(),
            pod_namespace(pod).to_owned(),
        ),
        (labels::POD_UID.to_owned(), pod_uid(pod).to_owned()),
        (labels::CONTAINER_NAME.to_owned(), container.name.clone()),
    ])
}

/// `newContainerAnnotations`: what the agent needs to re-read after a restart.
fn container_annotations(
    pod: &Pod,
    container: &Container,
    restart_count: u32,
) -> Result<HashMap<String, String>, FieldError> {
    let mut annotations = HashMap::from([
        (
            labels::CONTAINER_HASH.to_owned(),
            format!("{:x}", container_hash(container)),
        ),
        (
            labels::CONTAINER_RESTART_COUNT.to_owned(),
            restart_count.to_string(),
        ),
        (
            labels::TERMINATION_MESSAGE_PATH.to_owned(),
            container
                .termination_message_path
                .clone()
                .unwrap_or_else(|| DEFAULT_TERMINATION_MESSAGE_PATH.to_owned()),
        ),
        (
            labels::TERMINATION_MESSAGE_POLICY.to_owned(),
            container
                .termination_message_policy
                .clone()
                .unwrap_or_else(|| DEFAULT_TERMINATION_MESSAGE_POLICY.to_owned()),
        ),
        (
            labels::POD_TERMINATION_GRACE_PERIOD.to_owned(),
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
                .unwrap_or(DEFAULT_TERMINATION_GRACE_PERIOD)
                .to_string(),
        ),
    ]);
    if let Some(grace) = pod.metadata.deletion_grace_period_seconds {
        annotations.insert(
            labels::POD_DELETION_GRACE_PERIOD.to_owned(),
            grace.to_string(),
        );
    }
    if let Some(pre_stop) = container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
    {
        let json = serde_json::to_string(pre_stop)
            .map_err(|e| FieldError::new("lifecycle.preStop", e.to_string()))?;
        annotations.insert(labels::PRE_STOP_HANDLER.to_owned(), json);
    }
    if let Some(ports) = container.ports.as_ref().filter(|p| !p.is_empty()) {
        let json =
            serde_json::to_string(ports).map_err(|e| FieldError::new("ports", e.to_string()))?;
        annotations.insert(labels::CONTAINER_PORTS.to_owned(), json);
    }
    Ok(annotations)
}
