//! The enumerated fields of a pod's spec whose unknown values the node would otherwise
//! misread or the runtime refuse late: the pod's `restartPolicy` and `dnsPolicy`, and each
//! container's `imagePullPolicy`, `terminationMessagePolicy`, `restartPolicy` and port
//! `protocol` (the API server's `ValidatePodCreate`, `pkg/apis/core/validation/validation.go`).

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};

use super::field::{FieldError, Json, into_result};
use super::ports::PORT_PROTOCOLS;
#[cfg(doc)]
use crate::Error;
use crate::Result;

/// The values `spec.restartPolicy` takes (`validateRestartPolicy`).
pub const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];
/// The values a container's `imagePullPolicy` takes (`validatePullPolicy`).
pub const IMAGE_PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
/// The values `spec.dnsPolicy` takes (`validateDNSPolicy`, in the API's order).
pub const DNS_POLICIES: [&str; 4] = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
/// The values a container's `terminationMessagePolicy` takes (`validateContainerCommon`).
pub const TERMINATION_MESSAGE_POLICIES: [&str; 2] = ["File", "FallbackToLogsOnError"];
/// The values a container's own `restartPolicy` takes (`supportedContainerRestartPolicies`,
/// sorted as the API lists them).
///
/// v1.37 runs with ContainerRestartRules (beta, on by default since v1.35) and
/// RestartAllContainersOnContainerExits (beta, on since v1.36), so
/// `GetValidationOptionsFromPodSpecAndMeta` allows all three values on init containers
/// (`Always` makes a sidecar) and on app containers alike, and restart rules
/// (`restartPolicyRules`) beside them; before v1.35 only `Always`, and only on init
/// containers, was allowed.
pub const CONTAINER_RESTART_POLICIES: [&str; 3] = ["Always", "Never", "OnFailure"];
/// The actions of a container restart rule (`supportedContainerRestartRuleActions` with
/// `RestartAllContainers`, sorted).
const RESTART_RULE_ACTIONS: [&str; 2] = ["Restart", "RestartAllContainers"];
/// The operators of a restart rule's exit codes (sorted).
const RESTART_RULE_OPERATORS: [&str; 2] = ["In", "NotIn"];

/// An enumerated field: unset or empty is the API default (the pod is checked after
/// defaulting, as the API server checks it, so only a value set to something unknown is
/// refused).
fn check_enum(errors: &mut Vec<FieldError>, field: String, value: Option<&str>, values: &[&str]) {
    if let Some(value) = value
        && !value.is_empty()
        && !values.contains(&value)
    {
        errors.push(FieldError::not_supported(field, value, values));
    }
}

/// `validateRestartPolicy`.
pub(crate) fn validate_restart_policy(errors: &mut Vec<FieldError>, spec: &PodSpec) {
    check_enum(
        errors,
        "spec.restartPolicy".into(),
        spec.restart_policy.as_deref(),
        &RESTART_POLICIES,
    );
}

/// `validateDNSPolicy`.
pub(crate) fn validate_dns_policy(errors: &mut Vec<FieldError>, spec: &PodSpec) {
    check_enum(
        errors,
        "spec.dnsPolicy".into(),
        spec.dns_policy.as_deref(),
        &DNS_POLICIES,
    );
}

/// `validatePodDNSConfig`: with `dnsPolicy: None`, a `dnsConfig` with at least one
/// nameserver; at most 3 nameservers and 32 search domains; every option named.
pub(crate) fn validate_dns_config(errors: &mut Vec<FieldError>, spec: &PodSpec) {
    let config = spec.dns_config.as_ref();
    if spec.dns_policy.as_deref() == Some("None") {
        let Some(config) = config else {
            errors.push(FieldError::required(
                "spec.dnsConfig",
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
            return;
        };
        if config.nameservers.as_ref().is_none_or(Vec::is_empty) {
            errors.push(FieldError::required(
                "spec.dnsConfig.nameservers",
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
            return;
        }
    }
    let Some(config) = config else {
        return;
    };
    let nameservers = config.nameservers.as_deref().unwrap_or(&[]);
    if nameservers.len() > 3 {
        errors.push(FieldError::invalid(
            "spec.dnsConfig.nameservers",
            &Json(serde_json::to_string(nameservers).unwrap_or_default()),
            "must not have more than 3 nameservers",
        ));
    }
    let searches = config.searches.as_deref().unwrap_or(&[]);
    if searches.len() > 32 {
        errors.push(FieldError::invalid(
            "spec.dnsConfig.searches",
            &Json(serde_json::to_string(searches).unwrap_or_default()),
            "must not have more than 32 search paths",
        ));
    }
    for (index, option) in config.options.iter().flatten().enumerate() {
        if option.name.as_deref().unwrap_or("").is_empty() {
            errors.push(FieldError::required(
                format!("spec.dnsConfig.options[{index}]"),
                "must not be empty",
            ));
        }
    }
}

/// `validatePullPolicy` for the container at `path`.
pub(crate) fn validate_pull_policy(errors: &mut Vec<FieldError>, path: &str, policy: Option<&str>) {
    check_enum(
        errors,
        format!("{path}.imagePullPolicy"),
        policy,
        &IMAGE_PULL_POLICIES,
    );
}

/// The `terminationMessagePolicy` of the container at `path`.
pub(crate) fn validate_termination_message_policy(
    errors: &mut Vec<FieldError>,
    path: &str,
    policy: Option<&str>,
) {
    check_enum(
        errors,
        format!("{path}.terminationMessagePolicy"),
        policy,
        &TERMINATION_MESSAGE_POLICIES,
    );
}

/// `validateContainerRestartPolicy` for the init or app container at `path` (v1.37: both
/// kinds take the same rule, see [`CONTAINER_RESTART_POLICIES`]): a known `restartPolicy`,
/// required when `restartPolicyRules` are given; at most 20 rules, each with a known action
/// and exit codes with a known operator and at most 255 values.
pub(crate) fn validate_container_restart_policy(
    errors: &mut Vec<FieldError>,
    path: &str,
    container: &Container,
) {
    let rules = container.restart_policy_rules.as_deref().unwrap_or(&[]);
    match container.restart_policy.as_deref() {
        None if !rules.is_empty() => errors.push(FieldError::required(
            format!("{path}.restartPolicy"),
            "must specify restartPolicy when restart rules are used",
        )),
        None => return,
        Some(policy) if !CONTAINER_RESTART_POLICIES.contains(&policy) => {
            errors.push(FieldError::not_supported(
                format!("{path}.restartPolicy"),
                policy,
                &CONTAINER_RESTART_POLICIES,
            ));
        }
        Some(_) => {}
    }
    if rules.len() > 20 {
        errors.push(FieldError::too_many(
            format!("{path}.restartPolicyRules"),
            rules.len(),
            20,
        ));
    }
    for (index, rule) in rules.iter().enumerate() {
        let at = format!("{path}.restartPolicyRules[{index}]");
        if !RESTART_RULE_ACTIONS.contains(&rule.action.as_str()) {
            errors.push(FieldError::not_supported(
                format!("{at}.action"),
                &rule.action,
                &RESTART_RULE_ACTIONS,
            ));
        }
        match &rule.exit_codes {
            None => errors.push(FieldError::required(
                format!("{at}.exitCodes"),
                "must be specified",
            )),
            Some(codes) => {
                if !RESTART_RULE_OPERATORS.contains(&codes.operator.as_str()) {
                    errors.push(FieldError::not_supported(
                        format!("{at}.exitCodes.operator"),
                        &codes.operator,
                        &RESTART_RULE_OPERATORS,
                    ));
                }
                let values = codes.values.as_ref().map_or(0, Vec::len);
                if values > 255 {
                    errors.push(FieldError::too_many(
                        format!("{at}.exitCodes.values"),
                        values,
                        255,
                    ));
                }
            }
        }
    }
}

/// The `protocol` of each port of the container at `path`.
fn validate_port_protocols(errors: &mut Vec<FieldError>, path: &str, container: &Container) {
    for (index, port) in container.ports.iter().flatten().enumerate() {
        check_enum(
            errors,
            format!("{path}.ports[{index}].protocol"),
            port.protocol.as_deref(),
            &PORT_PROTOCOLS,
        );
    }
}

/// Checks the enumerated spec fields a node acts on, with the API server's messages:
///
/// - `spec.restartPolicy`: `Always`, `OnFailure` or `Never`; anything else would run the pod
///   under a policy it did not ask for;
/// - `spec.dnsPolicy`: one of [`DNS_POLICIES`];
/// - each container's `imagePullPolicy` (`Always`, `IfNotPresent`, `Never`; an unknown value
///   would otherwise act as `Never`), `terminationMessagePolicy` (`File`,
///   `FallbackToLogsOnError`) and port `protocol` (`TCP`, `UDP`, `SCTP`);
/// - each init and app container's own `restartPolicy` ([`CONTAINER_RESTART_POLICIES`]).
///
/// Unset or empty is the API default everywhere. Every problem is reported, as one
/// [`Error::InvalidPod`] naming the pod and the first field, e.g.
/// `spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always",
/// "OnFailure", "Never"`. This is the part of [`validate_pod`](super::validate_pod) that
/// applies to the pods of every source.
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
    into_result(pod, pod_spec_enum_errors(pod))
}

/// The errors of [`validate_pod_spec`].
pub(crate) fn pod_spec_enum_errors(pod: &Pod) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(spec) = pod.spec.as_ref() else {
        return errors;
    };
    validate_restart_policy(&mut errors, spec);
    validate_dns_policy(&mut errors, spec);
    let groups = [
        (
            "initContainers",
            spec.init_containers.as_deref().unwrap_or(&[]),
        ),
        ("containers", spec.containers.as_slice()),
    ];
    for (group, containers) in groups {
        for (index, container) in containers.iter().enumerate() {
            let path = format!("spec.{group}[{index}]");
            validate_pull_policy(&mut errors, &path, container.image_pull_policy.as_deref());
            validate_termination_message_policy(
                &mut errors,
                &path,
                container.termination_message_policy.as_deref(),
            );
            validate_port_protocols(&mut errors, &path, container);
            validate_container_restart_policy(&mut errors, &path, container);
        }
    }
    for (index, container) in spec.ephemeral_containers.iter().flatten().enumerate() {
        let path = format!("spec.ephemeralContainers[{index}]");
        validate_pull_policy(&mut errors, &path, container.image_pull_policy.as_deref());
        validate_termination_message_policy(
            &mut errors,
            &path,
            container.termination_message_policy.as_deref(),
        );
    }
    errors
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
