//! The API's defaults for a pod (`SetDefaults_Pod`, `SetDefaults_PodSpec`,
//! `SetDefaults_Container` and the other `SetDefaults_*` of `pkg/apis/core/v1/defaults.go`).
//!
//! The API server defaults every pod it stores, so a pod from the API watch arrives
//! defaulted; a static pod never passed an API server, and the kubelet decodes its manifest
//! with the same defaulting (the legacy scheme's `UniversalDecoder` in `tryDecodeSinglePod`,
//! `pkg/kubelet/config/common.go`). The pod manager applies [`default_pod`] to the pods of
//! every source, so both kinds look the same to the workers: for an API pod it changes
//! nothing, as every default is applied only where the field is unset.

use k8s_openapi::api::core::v1::{
    Container, EnvVar, HTTPGetAction, LifecycleHandler, Pod, PodSecurityContext, Probe, Volume,
};

use crate::ImagePullPolicy;

/// `DefaultTerminationGracePeriodSeconds`.
const TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// `SecretVolumeSourceDefaultMode`, `ConfigMapVolumeSourceDefaultMode`, ... (0644).
const VOLUME_DEFAULT_MODE: i32 = 0o644;
/// `TerminationMessagePathDefault`.
const TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";

/// Apply the API's defaults to `pod`, where a field is unset, as the API server (and the
/// kubelet's manifest decoder) do. The ones that change what a node does or reports:
///
/// - requests default to the limits, per resource, for app and init containers, where a
///   container gives a limit and no request (so the status shows them and
///   `allocatedResources` is set, and QoS and cgroups follow the API's view);
/// - `restartPolicy` `Always`, `dnsPolicy` `ClusterFirst`, `terminationGracePeriodSeconds`
///   30 (a negative one becomes 1), `enableServiceLinks` true, `schedulerName`
///   `default-scheduler`, an empty pod `securityContext`, `serviceAccountName` and its
///   deprecated alias kept equal;
/// - per container: `imagePullPolicy` ([`ImagePullPolicy::default_for`]),
///   `terminationMessagePath` `/dev/termination-log`, `terminationMessagePolicy` `File`,
///   port `protocol` `TCP` (and `hostPort` = `containerPort` with host networking), probe
///   timeouts and thresholds (1 s, 10 s, 1, 3), HTTP GET `path` `/` and `scheme` `HTTP`, a
///   fieldRef's `apiVersion` `v1`;
/// - volumes: an `emptyDir` when no source is given, `defaultMode` 0644 for secret,
///   configMap, downwardAPI and projected volumes, hostPath `type` `""`.
///
/// Idempotent: defaulting a defaulted pod changes nothing.
pub fn default_pod(pod: &mut Pod) {
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    // SetDefaults_PodSpec.
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        spec.service_account_name = spec.service_account.clone();
    }
    spec.service_account = spec.service_account_name.clone();
    default_str(&mut spec.dns_policy, "ClusterFirst");
    default_str(&mut spec.restart_policy, "Always");
    spec.security_context
        .get_or_insert_with(PodSecurityContext::default);
    match spec.termination_grace_period_seconds {
        None => spec.termination_grace_period_seconds = Some(TERMINATION_GRACE_PERIOD_SECONDS),
        // SetDefaults_Pod: a negative grace becomes 1.
        Some(grace) if grace < 0 => spec.termination_grace_period_seconds = Some(1),
        Some(_) => {}
    }
    default_str(&mut spec.scheduler_name, "default-scheduler");
    // SetDefaults_Pod.
    spec.enable_service_links.get_or_insert(true);
    let host_network = spec.host_network == Some(true);
    for container in spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut())
    {
        default_requests_from_limits(container);
        default_container(container, host_network);
    }
    for ephemeral in spec.ephemeral_containers.iter_mut().flatten() {
        if ephemeral
            .image_pull_policy
            .as_deref()
            .unwrap_or("")
            .is_empty()
        {
            let image = ephemeral.image.as_deref().unwrap_or("");
            ephemeral.image_pull_policy =
                Some(ImagePullPolicy::default_for(image).as_str().to_string());
        }
        default_str(
            &mut ephemeral.termination_message_path,
            TERMINATION_MESSAGE_PATH,
        );
        default_str(&mut ephemeral.termination_message_policy, "File");
        default_env(ephemeral.env.iter_mut().flatten());
    }
    for volume in spec.volumes.iter_mut().flatten() {
        default_volume(volume);
    }
}

fn default_str(field: &mut Option<String>, value: &str) {
    if field.as_deref().unwrap_or("").is_empty() {
        *field = Some(value.to_string());
    }
}

/// `SetDefaults_Pod`: "if limits are specified, but requests are not, default requests to
/// limits", per resource.
fn default_requests_from_limits(container: &mut Container) {
    let Some(resources) = container.resources.as_mut() else {
        return;
    };
    let Some(limits) = resources.limits.as_ref() else {
        return;
    };
    let requests = resources.requests.get_or_insert_with(Default::default);
    for (name, quantity) in limits {
        requests
            .entry(name.clone())
            .or_insert_with(|| quantity.clone());
    }
}

/// `SetDefaults_Container`, with its ports, probes, handlers and environment.
fn default_container(container: &mut Container, host_network: bool) {
    if container
        .image_pull_policy
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        let image = container.image.as_deref().unwrap_or("");
        container.image_pull_policy =
            Some(ImagePullPolicy::default_for(image).as_str().to_string());
    }
    default_str(
        &mut container.termination_message_path,
        TERMINATION_MESSAGE_PATH,
    );
    default_str(&mut container.termination_message_policy, "File");
    for port in container.ports.iter_mut().flatten() {
        default_str(&mut port.protocol, "TCP");
        if host_network && port.host_port.unwrap_or(0) == 0 {
            port.host_port = Some(port.container_port);
        }
    }
    for probe in [
        container.liveness_probe.as_mut(),
        container.readiness_probe.as_mut(),
        container.startup_probe.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lifecycle) = container.lifecycle.as_mut() {
        for handler in [lifecycle.post_start.as_mut(), lifecycle.pre_stop.as_mut()]
            .into_iter()
            .flatten()
        {
            default_handler(handler);
        }
    }
    default_env(container.env.iter_mut().flatten());
}

/// `SetDefaults_Probe` and its HTTP GET action.
fn default_probe(probe: &mut Probe) {
    for (field, value) in [
        (&mut probe.timeout_seconds, 1),
        (&mut probe.period_seconds, 10),
        (&mut probe.success_threshold, 1),
        (&mut probe.failure_threshold, 3),
    ] {
        if field.unwrap_or(0) == 0 {
            *field = Some(value);
        }
    }
    if let Some(http) = probe.http_get.as_mut() {
        default_http_get(http);
    }
}

fn default_handler(handler: &mut LifecycleHandler) {
    if let Some(http) = handler.http_get.as_mut() {
        default_http_get(http);
    }
}

/// `SetDefaults_HTTPGetAction`.
fn default_http_get(http: &mut HTTPGetAction) {
    default_str(&mut http.path, "/");
    default_str(&mut http.scheme, "HTTP");
}

/// `SetDefaults_ObjectFieldSelector` for each fieldRef.
fn default_env<'a>(env: impl Iterator<Item = &'a mut EnvVar>) {
    for var in env {
        if let Some(field) = var.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            default_str(&mut field.api_version, "v1");
        }
    }
}

/// `SetDefaults_Volume` and the volume sources' defaults.
fn default_volume(volume: &mut Volume) {
    // A volume with no source is an emptyDir ("all pointer fields nil").
    let has_source = serde_json::to_value(&*volume)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.keys().any(|k| k != "name")))
        .unwrap_or(true);
    if !has_source {
        volume.empty_dir = Some(Default::default());
    }
    if let Some(secret) = volume.secret.as_mut() {
        secret.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
    }
    if let Some(config_map) = volume.config_map.as_mut() {
        config_map.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
    }
    if let Some(downward) = volume.downward_api.as_mut() {
        downward.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
        for item in downward.items.iter_mut().flatten() {
            if let Some(field) = item.field_ref.as_mut() {
                default_str(&mut field.api_version, "v1");
            }
        }
    }
    if let Some(projected) = volume.projected.as_mut() {
        projected.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
        for source in projected.sources.iter_mut().flatten() {
            if let Some(token) = source.service_account_token.as_mut() {
                token.expiration_seconds.get_or_insert(3600);
            }
        }
    }
    if let Some(host_path) = volume.host_path.as_mut() {
        host_path.type_.get_or_insert_with(String::new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn quantities(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, Quantity> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect()
    }

    /// `static-pod-defaulting` (differential suite): a static pod with limits only gets
    /// requests equal to them, as the kubelet's manifest decoder defaults it.
    #[test]
    fn sp_defaulting_requests_default_to_limits_and_specs_get_api_defaults() {
        let mut pod = Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "main".into(),
                    image: Some("busybox".into()),
                    resources: Some(ResourceRequirements {
                        limits: Some(quantities(&[("memory", "20Mi"), ("cpu", "100m")])),
                        requests: Some(quantities(&[("cpu", "50m")])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                volumes: Some(vec![Volume {
                    name: "scratch".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        default_pod(&mut pod);
        let spec = pod.spec.as_ref().unwrap();
        let main = &spec.containers[0];
        assert_eq!(
            main.resources.as_ref().unwrap().requests,
            Some(quantities(&[("memory", "20Mi"), ("cpu", "50m")])),
            "a request given stays; a missing one is the limit"
        );
        assert_eq!(main.image_pull_policy.as_deref(), Some("Always"));
        assert_eq!(
            main.termination_message_path.as_deref(),
            Some("/dev/termination-log")
        );
        assert_eq!(main.termination_message_policy.as_deref(), Some("File"));
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
        assert_eq!(spec.termination_grace_period_seconds, Some(30));
        assert_eq!(spec.enable_service_links, Some(true));
        let volumes = spec.volumes.as_ref().unwrap();
        assert!(volumes[0].empty_dir.is_some(), "no source: an emptyDir");

        let once = pod.clone();
        default_pod(&mut pod);
        assert_eq!(pod, once, "idempotent");
    }

    #[test]
    fn negative_grace_becomes_one_and_set_values_stay() {
        let mut pod = Pod {
            spec: Some(PodSpec {
                termination_grace_period_seconds: Some(-5),
                restart_policy: Some("Never".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        default_pod(&mut pod);
        let spec = pod.spec.unwrap();
        assert_eq!(spec.termination_grace_period_seconds, Some(1));
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    }
}
