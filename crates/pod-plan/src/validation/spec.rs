//! The enumerated fields of a pod's spec whose unknown values the node would otherwise
//! misread: `restartPolicy` and each container's `imagePullPolicy` (the API server's
//! `ValidatePodCreate`, `pkg/apis/core/validation/validation.go`).

use k8s_openapi::api::core::v1::Pod;

use super::path::display_value;
use crate::pod_full_name;
use crate::{Error, Result};

/// The values `spec.restartPolicy` takes (`validateRestartPolicy`).
pub const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];
/// The values a container's `imagePullPolicy` takes (`validatePullPolicy`).
pub const IMAGE_PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];

/// `Unsupported value: "x": supported values: "a", "b"`, as `field.NotSupported` words it.
fn not_supported(value: &str, supported: &[&str]) -> String {
    let supported: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "Unsupported value: {}: supported values: {}",
        display_value(value),
        supported.join(", ")
    )
}

/// Checks the enumerated spec fields a node acts on, with the API server's messages:
///
/// - `spec.restartPolicy`: `Always`, `OnFailure` or `Never` (unset or empty is the API
///   default, `Always`); anything else would run the pod under a policy it did not ask for;
/// - `spec.{initContainers,containers,ephemeralContainers}[i].imagePullPolicy`: `Always`,
///   `IfNotPresent` or `Never` (unset or empty is the API default), where an unknown value
///   would otherwise act as `Never`.
///
/// The error is an [`Error::InvalidPod`] naming the pod and the field, e.g.
/// `spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always",
/// "OnFailure", "Never"`.
///
/// ```
/// use k8s_openapi::api::core::v1::{Pod, PodSpec};
/// use pod_plan::validation::validate_pod_spec;
///
/// let mut pod = Pod { spec: Some(PodSpec::default()), ..Default::default() };
/// assert!(validate_pod_spec(&pod).is_ok());
/// pod.spec.as_mut().unwrap().restart_policy = Some("Sometimes".into());
/// assert!(validate_pod_spec(&pod).is_err());
/// ```
pub fn validate_pod_spec(pod: &Pod) -> Result<()> {
    let fail = |field: String, message: String| Error::InvalidPod {
        pod: pod_full_name(pod),
        field,
        message,
    };
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(());
    };
    if let Some(policy) = spec.restart_policy.as_deref()
        && !policy.is_empty()
        && !RESTART_POLICIES.contains(&policy)
    {
        return Err(fail(
            "spec.restartPolicy".into(),
            not_supported(policy, &RESTART_POLICIES),
        ));
    }
    let pull_policies = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.image_pull_policy.as_deref())
        .enumerate()
        .map(|(i, p)| ("initContainers", i, p))
        .chain(
            spec.containers
                .iter()
                .map(|c| c.image_pull_policy.as_deref())
                .enumerate()
                .map(|(i, p)| ("containers", i, p)),
        )
        .chain(
            spec.ephemeral_containers
                .iter()
                .flatten()
                .map(|c| c.image_pull_policy.as_deref())
                .enumerate()
                .map(|(i, p)| ("ephemeralContainers", i, p)),
        );
    for (group, index, policy) in pull_policies {
        if let Some(policy) = policy
            && !policy.is_empty()
            && !IMAGE_PULL_POLICIES.contains(&policy)
        {
            return Err(fail(
                format!("spec.{group}[{index}].imagePullPolicy"),
                not_supported(policy, &IMAGE_PULL_POLICIES),
            ));
        }
    }
    Ok(())
}

/// Everything a pod must meet before a node agent does anything for it: its identity
/// ([`validate_pod_identity`](super::validate_pod_identity)), then its enumerated spec fields
/// ([`validate_pod_spec`]). The pod manager applies it to the pods of every source.
pub fn validate_pod(pod: &Pod) -> Result<()> {
    super::validate_pod_identity(pod)?;
    validate_pod_spec(pod)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn pod(restart: Option<&str>, pull: Option<&str>) -> Pod {
        let mut pod = Pod {
            spec: Some(PodSpec {
                restart_policy: restart.map(Into::into),
                containers: vec![Container {
                    name: "main".into(),
                    image_pull_policy: pull.map(Into::into),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("default".into());
        pod
    }

    /// `restart-policy-not-validated` (differential suite): the kubelet refuses it.
    #[test]
    fn sp_02_unknown_restart_policy_is_refused_with_the_api_message() {
        let err = validate_pod_spec(&pod(Some("Sometimes"), None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid pod default/web: spec.restartPolicy: Unsupported value: \"Sometimes\": \
             supported values: \"Always\", \"OnFailure\", \"Never\""
        );
        for ok in [
            None,
            Some(""),
            Some("Always"),
            Some("OnFailure"),
            Some("Never"),
        ] {
            assert!(validate_pod_spec(&pod(ok, None)).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn sp_02_unknown_image_pull_policy_is_refused_with_the_api_message() {
        let err = validate_pod_spec(&pod(None, Some("Sometimes"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid pod default/web: spec.containers[0].imagePullPolicy: Unsupported value: \
             \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""
        );
        for ok in [None, Some("Always"), Some("IfNotPresent"), Some("Never")] {
            assert!(validate_pod_spec(&pod(None, ok)).is_ok(), "{ok:?}");
        }
    }
}
