//! The whole pod, in the order the API server's `ValidatePodCreate` checks it, and
//! [`validate_pod`], the rule every pod source applies.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Volume};

use super::env::validate_env;
use super::field::{FieldError, inclusive_range_error, into_result, non_negative};
use super::identity::{metadata_identity_errors, validate_dns1123_label, validate_pod_identity};
use super::metadata::{validate_annotations, validate_labels};
use super::ports::{
    check_host_port_conflicts, validate_container_ports, validate_host_network_ports,
};
use super::probes::{ProbeKind, validate_lifecycle, validate_probe};
use super::resources::validate_resource_requirements;
use super::spec::{
    pod_spec_enum_errors, validate_container_restart_policy, validate_dns_config,
    validate_dns_policy, validate_pull_policy, validate_restart_policy,
    validate_termination_message_policy,
};
use super::volumes::{validate_volume_mounts, validate_volumes};
use crate::Result;
use crate::status::is_static_pod;

/// What the checks of one container need from the pod.
struct PodContext<'a> {
    volumes: HashMap<&'a str, &'a Volume>,
    grace_period: Option<i64>,
    os: Option<&'a str>,
}

/// `validateContainerCommon`: what every init and app container must meet.
fn validate_container_common(
    errors: &mut Vec<FieldError>,
    path: &str,
    container: &Container,
    pod: &PodContext<'_>,
) {
    let name_field = format!("{path}.name");
    if container.name.is_empty() {
        errors.push(FieldError::required(&name_field, ""));
    } else {
        validate_dns1123_label(errors, &name_field, &container.name);
    }
    if container.image.as_deref().unwrap_or("").is_empty() {
        errors.push(FieldError::required(format!("{path}.image"), ""));
    }
    validate_termination_message_policy(
        errors,
        path,
        container.termination_message_policy.as_deref(),
    );
    validate_container_ports(errors, path, container);
    validate_env(errors, path, container);
    validate_volume_mounts(errors, path, container, &pod.volumes);
    validate_pull_policy(errors, path, container.image_pull_policy.as_deref());
    validate_resource_requirements(errors, path, container.resources.as_ref());
}

/// The lifecycle hooks and the three probes of a container that may have them.
fn validate_hooks_and_probes(
    errors: &mut Vec<FieldError>,
    path: &str,
    container: &Container,
    pod: &PodContext<'_>,
) {
    if let Some(lifecycle) = &container.lifecycle {
        validate_lifecycle(
            errors,
            &format!("{path}.lifecycle"),
            lifecycle,
            pod.grace_period,
            pod.os,
        );
    }
    for (field, probe, kind) in [
        (
            "livenessProbe",
            container.liveness_probe.as_ref(),
            ProbeKind::Liveness,
        ),
        (
            "readinessProbe",
            container.readiness_probe.as_ref(),
            ProbeKind::Readiness,
        ),
        (
            "startupProbe",
            container.startup_probe.as_ref(),
            ProbeKind::Startup,
        ),
    ] {
        validate_probe(
            errors,
            &format!("{path}.{field}"),
            probe,
            kind,
            pod.grace_period,
        );
    }
}

/// `validateContainers`: at least one; each with the common rules, a name unique among app
/// containers, valid hooks, probes and restart policy; no host port used twice.
fn validate_app_containers(errors: &mut Vec<FieldError>, spec: &PodSpec, pod: &PodContext<'_>) {
    if spec.containers.is_empty() {
        errors.push(FieldError::required("spec.containers", ""));
        return;
    }
    let mut names = HashSet::new();
    for (index, container) in spec.containers.iter().enumerate() {
        let path = format!("spec.containers[{index}]");
        validate_container_common(errors, &path, container, pod);
        if !names.insert(container.name.as_str()) {
            errors.push(FieldError::duplicate(
                format!("{path}.name"),
                &container.name,
            ));
        }
        validate_hooks_and_probes(errors, &path, container, pod);
        validate_container_restart_policy(errors, &path, container);
    }
    check_host_port_conflicts(
        errors,
        "spec.containers",
        spec.containers.iter().enumerate(),
    );
}

/// `validateInitContainers`: the common rules; a restart policy; a name unique among init
/// and app containers; no host port used twice within one init container (they run one
/// at a time); hooks and probes only on a sidecar (`restartPolicy: Always`).
fn validate_init_containers(errors: &mut Vec<FieldError>, spec: &PodSpec, pod: &PodContext<'_>) {
    let mut names: HashSet<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    for (index, container) in spec.init_containers.iter().flatten().enumerate() {
        let path = format!("spec.initContainers[{index}]");
        validate_container_common(errors, &path, container, pod);
        validate_container_restart_policy(errors, &path, container);
        if names.contains(container.name.as_str()) {
            errors.push(FieldError::duplicate(
                format!("{path}.name"),
                &container.name,
            ));
        } else if !container.name.is_empty() {
            names.insert(container.name.as_str());
        }
        check_host_port_conflicts(errors, "spec.initContainers", [(index, container)]);
        if container.restart_policy.as_deref() == Some("Always") {
            validate_hooks_and_probes(errors, &path, container, pod);
        } else {
            for (field, set) in [
                ("lifecycle", container.lifecycle.is_some()),
                ("livenessProbe", container.liveness_probe.is_some()),
                ("readinessProbe", container.readiness_probe.is_some()),
                ("startupProbe", container.startup_probe.is_some()),
            ] {
                if set {
                    errors.push(FieldError::forbidden(
                        format!("{path}.{field}"),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
}

/// `ValidatePodSpec`, for the parts a node agent acts on.
fn validate_spec(errors: &mut Vec<FieldError>, spec: &PodSpec) {
    if spec.termination_grace_period_seconds.is_none() {
        errors.push(FieldError::required(
            "spec.terminationGracePeriodSeconds",
            "",
        ));
    }
    let pod = PodContext {
        volumes: validate_volumes(errors, spec),
        grace_period: spec.termination_grace_period_seconds,
        os: spec.os.as_ref().map(|os| os.name.as_str()),
    };
    validate_app_containers(errors, spec, &pod);
    validate_init_containers(errors, spec, &pod);
    validate_host_network_ports(errors, spec);
    validate_restart_policy(errors, spec);
    validate_dns_policy(errors, spec);
    validate_labels(errors, "spec.nodeSelector", spec.node_selector.as_ref());
    validate_dns_config(errors, spec);
    if let Some(deadline) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&deadline)
    {
        errors.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            &deadline,
            inclusive_range_error(1, i64::from(i32::MAX)),
        ));
    }
    for (field, value) in [
        ("spec.hostname", spec.hostname.as_deref()),
        ("spec.subdomain", spec.subdomain.as_deref()),
    ] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            validate_dns1123_label(errors, field, value);
        }
    }
}

/// The API server's `ValidatePodCreate` of `pod` as given, every error in the API's order
/// and words, plus this crate's rule for `metadata.uid` ([`validate_uid`](super::validate_uid)).
///
/// Like the API server, it expects a pod with the API's defaults applied
/// ([`default_pod`](crate::defaults::default_pod)): an unset `terminationGracePeriodSeconds`
/// is reported as required, an unset enumerated field is taken as its default.
/// [`validate_pod`] defaults a copy first.
///
/// Covered: the pod's name, namespace and UID; labels and annotations (syntax, total
/// size); volumes (names, exactly one source, the sources a node agent serves);
/// containers and init containers (names, image, `terminationMessagePolicy`,
/// `imagePullPolicy`, ports, env and envFrom, volume mounts, resources, restart policy and
/// rules, hooks and probes, and which of those an init container may have); host ports
/// (conflicts, `hostNetwork`); `restartPolicy`, `dnsPolicy` and `dnsConfig`,
/// `nodeSelector`, `activeDeadlineSeconds`, `hostname`, `subdomain`,
/// `terminationGracePeriodSeconds`; no service account token without a service account;
/// no ephemeral containers at creation.
///
/// Not covered (left to the runtime, as before): security contexts, affinity,
/// tolerations, topology spread, host aliases, sysctls, pod-level `resources`, `overhead`,
/// resource claims, scheduling gates, readiness gates, and the sources of volumes a node
/// agent does not serve (NFS, CSI, ...) beyond there being exactly one.
///
/// ```
/// use k8s_openapi::api::core::v1::{Container, ContainerPort, Pod, PodSpec};
/// use pod_plan::validation::validate_pod_create;
///
/// let mut pod = Pod {
///     spec: Some(PodSpec {
///         containers: vec![Container {
///             name: "web".into(),
///             image: Some("nginx".into()),
///             ports: Some(vec![ContainerPort { container_port: 70000, ..Default::default() }]),
///             ..Default::default()
///         }],
///         ..Default::default()
///     }),
///     ..Default::default()
/// };
/// pod.metadata.name = Some("web".into());
/// pod.metadata.namespace = Some("default".into());
/// pod.metadata.uid = Some("u-1".into());
/// pod_plan::defaults::default_pod(&mut pod);
/// let errors: Vec<String> = validate_pod_create(&pod).iter().map(|e| e.to_string()).collect();
/// assert_eq!(
///     errors,
///     ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]
/// );
/// ```
pub fn validate_pod_create(pod: &Pod) -> Vec<FieldError> {
    let mut errors = Vec::new();
    // ValidateObjectMeta.
    metadata_identity_errors(pod, &mut errors);
    validate_labels(&mut errors, "metadata.labels", pod.metadata.labels.as_ref());
    validate_annotations(
        &mut errors,
        "metadata.annotations",
        pod.metadata.annotations.as_ref(),
    );
    let empty = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&empty);
    validate_spec(&mut errors, spec);
    // The rest of validatePodMetadataAndSpec, then ValidatePodCreate's own.
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        for (volume_index, volume) in spec.volumes.iter().flatten().enumerate() {
            let sources = volume.projected.as_ref().and_then(|p| p.sources.as_ref());
            for (source_index, source) in sources.into_iter().flatten().enumerate() {
                if source.service_account_token.is_some() {
                    errors.push(FieldError::forbidden(
                        format!(
                            "spec.volumes[{volume_index}].projected.sources[{source_index}]\
                             .serviceAccountToken"
                        ),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    if let Some(grace) = spec.termination_grace_period_seconds {
        non_negative(&mut errors, "spec.terminationGracePeriodSeconds", grace);
    }
    for (group, containers) in [
        ("containers", spec.containers.as_slice()),
        (
            "initContainers",
            spec.init_containers.as_deref().unwrap_or(&[]),
        ),
    ] {
        for (index, container) in containers.iter().enumerate() {
            let image = container.image.as_deref().unwrap_or("");
            if image.len() != image.trim().len() {
                errors.push(FieldError::invalid(
                    format!("spec.{group}[{index}].image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errors.push(FieldError::forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    errors
}

/// Everything a pod must meet before a node agent does anything for it, with every problem
/// reported as one [`Error::InvalidPod`](crate::Error::InvalidPod) naming the pod and the
/// first field, the others following in its message (`...; <field>: <message>`).
///
/// - A **static pod** (its `kubernetes.io/config.source` annotation names a source other
///   than the API server: `file`, `http`) gets the API server's validation of a new pod,
///   [`validate_pod_create`], on a copy with the API's defaults applied: the kubelet
///   decodes a manifest with the defaults and runs `ValidatePodCreate` on it
///   (`tryDecodeSinglePod`, `pkg/kubelet/config/common.go`), so a manifest refused there
///   is refused here, with the same field and reason (`containerPort: 70000`, `cpu: lots`,
///   `restartPolicy: Sometimes`, ...), and one accepted there is accepted here.
/// - Any other pod (from the API server, which validated it already, or from a source
///   that sets no source annotation) gets the checks that keep the node safe and its
///   decisions right: its identity ([`validate_pod_identity`]) and its enumerated fields
///   ([`validate_pod_spec`](super::validate_pod_spec)). The kubelet validates no API pod:
///   one may carry ephemeral containers, which a creation refuses, or fields that an older
///   API server accepted.
///
/// The pod manager applies it to the pods of every source; sources apply it themselves so
/// that a refusal names the file.
///
/// ```
/// use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
/// use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
/// use pod_plan::validation::validate_pod;
///
/// let mut pod = Pod {
///     spec: Some(PodSpec {
///         containers: vec![Container {
///             name: "web".into(),
///             image: Some("nginx".into()),
///             resources: Some(ResourceRequirements {
///                 requests: Some([("cpu".to_string(), Quantity("lots".into()))].into()),
///                 ..Default::default()
///             }),
///             ..Default::default()
///         }],
///         ..Default::default()
///     }),
///     ..Default::default()
/// };
/// pod.metadata.name = Some("web-node-1".into());
/// pod.metadata.namespace = Some("default".into());
/// pod.metadata.uid = Some("6c62272e07bb014262b821756295c58d".into());
/// pod.metadata.annotations =
///     Some([("kubernetes.io/config.source".to_string(), "file".to_string())].into());
///
/// let err = validate_pod(&pod).unwrap_err().to_string();
/// assert!(err.starts_with(
///     "invalid pod default/web-node-1: spec.containers[0].resources.requests[cpu]: \
///      Invalid value: \"lots\": quantities must match the regular expression"
/// ), "{err}");
/// ```
pub fn validate_pod(pod: &Pod) -> Result<()> {
    if !is_static_pod(pod) {
        validate_pod_identity(pod)?;
        return into_result(pod, pod_spec_enum_errors(pod));
    }
    let mut defaulted = pod.clone();
    crate::defaults::default_pod(&mut defaulted);
    into_result(pod, validate_pod_create(&defaulted))
}
