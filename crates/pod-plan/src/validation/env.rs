//! A container's `env` and `envFrom` (`ValidateEnv`, `validateEnvVarValueFrom`,
//! `ValidateEnvFrom` and the selectors they check).
//!
//! # Which rule for names
//!
//! v1.37 checks environment variable names with the relaxed rule
//! (`IsRelaxedEnvVarName`): RelaxedEnvironmentVariableValidation is GA and locked on since
//! v1.34, so `GetValidationOptionsFromPodSpecAndMeta` always allows it. A name is any
//! non-empty string of printable ASCII characters (space included) other than `=`; the old
//! C-identifier-like rule (`[-._a-zA-Z][-._a-zA-Z0-9]*`) no longer applies. An `envFrom`
//! prefix follows the same rule. EnvFiles is beta and on in v1.37, so `fileKeyRef` is a
//! known source.

use k8s_openapi::api::core::v1::{Container, EnvVar, ObjectFieldSelector, ResourceFieldSelector};

use super::field::{FieldError, regex_error};
use super::identity::{dns1123_subdomain_errors, validate_dns1123_label};
use super::resources::canonical;
use super::volumes::validate_path_no_backsteps;

/// `relaxedEnvVarNameFmtErrMsg`.
const ENV_NAME_MESSAGE: &str = "a valid environment variable name must consist only of printable ASCII characters other \
     than '='";
/// The field paths an env var's `fieldRef` may name (`validEnvDownwardAPIFieldPathExpressions`,
/// sorted as the API lists them).
pub(crate) const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
/// The resources a `resourceFieldRef` may name besides huge pages
/// (`validContainerResourceFieldPathExpressions`, sorted).
const RESOURCE_FIELD_PATHS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];
/// Every field label the downward API converts (`ConvertDownwardAPIFieldLabel`, v1).
const CONVERTIBLE_FIELD_LABELS: [&str; 14] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const MEMORY_DIVISORS: [&str; 13] = [
    "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
];

/// `IsRelaxedEnvVarName`: what is wrong with `name` as an environment variable name (or an
/// `envFrom` prefix), in the API's words: it must be non-empty printable ASCII without `=`.
///
/// ```
/// use pod_plan::validation::env_var_name_errors;
///
/// assert!(env_var_name_errors("JAVA_OPTS").is_empty());
/// assert!(env_var_name_errors("my.var-1").is_empty());
/// assert!(env_var_name_errors("1ST VAR").is_empty()); // relaxed since v1.34
/// assert_eq!(env_var_name_errors("A=B").len(), 1);
/// assert_eq!(env_var_name_errors("café").len(), 1);
/// ```
pub fn env_var_name_errors(name: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push("environment variable name must be non-empty".to_owned());
    }
    if name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errors.push(ENV_NAME_MESSAGE.to_owned());
    }
    errors
}

/// `IsConfigMapKey`: a key of a ConfigMap or Secret.
pub(crate) fn config_map_key_errors(key: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if key.len() > 253 {
        errors.push("must be no more than 253 characters".to_owned());
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        errors.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    // hasChDirPrefix.
    if key == "." {
        errors.push("must not be '.'".to_owned());
    } else if key == ".." {
        errors.push("must not be '..'".to_owned());
    } else if key.starts_with("..") {
        errors.push("must not start with '..'".to_owned());
    }
    errors
}

/// `NameIsDNSSubdomain(name, prefix)`: with `prefix`, a trailing `-` is allowed
/// (`maskTrailingDash`, which replaces the last two characters with `a`).
fn object_name_errors(name: &str, prefix: bool) -> Vec<String> {
    if prefix && name.len() > 1 && name.ends_with('-') {
        let masked = format!("{}a", &name[..name.len() - 2]);
        return dns1123_subdomain_errors(&masked);
    }
    dns1123_subdomain_errors(name)
}

/// `validateObjectFieldSelector` at `path` (`...valueFrom.fieldRef`), with the field paths
/// the place allows (`expressions`): an env var's or a downwardAPI volume item's.
pub(crate) fn validate_object_field_selector(
    errors: &mut Vec<FieldError>,
    path: &str,
    selector: &ObjectFieldSelector,
    expressions: &[&str],
) {
    let api_version = selector.api_version.as_deref().unwrap_or("");
    if api_version.is_empty() {
        errors.push(FieldError::required(format!("{path}.apiVersion"), ""));
        return;
    }
    let field_path = selector.field_path.as_str();
    if field_path.is_empty() {
        errors.push(FieldError::required(format!("{path}.fieldPath"), ""));
        return;
    }
    // ConvertDownwardAPIFieldLabel.
    let subscripted = split_subscripted(field_path);
    let converted: Result<&str, String> = if api_version != "v1" {
        Err(format!("unsupported pod version: {api_version}"))
    } else if let Some((label, _)) = subscripted {
        if matches!(label, "metadata.annotations" | "metadata.labels") {
            Ok(field_path)
        } else {
            Err(format!(
                "field label does not support subscript: {field_path}"
            ))
        }
    } else if field_path == "spec.host" {
        Ok("spec.nodeName")
    } else if CONVERTIBLE_FIELD_LABELS.contains(&field_path) {
        Ok(field_path)
    } else {
        Err(format!("field label not supported: {field_path}"))
    };
    let internal = match converted {
        Ok(internal) => internal,
        Err(problem) => {
            errors.push(FieldError::invalid(
                format!("{path}.fieldPath"),
                field_path,
                format!("error converting fieldPath: {problem}"),
            ));
            return;
        }
    };
    match split_subscripted(internal) {
        Some(("metadata.annotations", key)) => {
            for message in super::metadata::qualified_name_errors(&key.to_lowercase()) {
                errors.push(FieldError::invalid(path, &key.to_lowercase(), message));
            }
        }
        Some(("metadata.labels", key)) => {
            for message in super::metadata::qualified_name_errors(key) {
                errors.push(FieldError::invalid(path, key, message));
            }
        }
        Some((label, _)) => {
            errors.push(FieldError::invalid(
                path,
                label,
                "does not support subscript",
            ));
        }
        None if !expressions.contains(&internal) => {
            errors.push(FieldError::not_supported(
                format!("{path}.fieldPath"),
                internal,
                expressions,
            ));
        }
        None => {}
    }
}

/// `fieldpath.SplitMaybeSubscriptedPath`: `metadata.labels['app']` is
/// `("metadata.labels", "app")`.
fn split_subscripted(field_path: &str) -> Option<(&str, &str)> {
    let inner = field_path.strip_suffix("']")?;
    let (label, key) = inner.split_once("['")?;
    (!label.is_empty()).then_some((label, key))
}

/// `validateContainerResourceFieldSelector` at `path`; `volume` for a downwardAPI volume
/// item, which must name its container.
pub(crate) fn validate_resource_field_selector(
    errors: &mut Vec<FieldError>,
    path: &str,
    selector: &ResourceFieldSelector,
    volume: bool,
) {
    let resource = selector.resource.as_str();
    let huge_pages =
        resource.starts_with("requests.hugepages-") || resource.starts_with("limits.hugepages-");
    if volume && selector.container_name.as_deref().unwrap_or("").is_empty() {
        errors.push(FieldError::required(format!("{path}.containerName"), ""));
    } else if resource.is_empty() {
        errors.push(FieldError::required(format!("{path}.resource"), ""));
    } else if !RESOURCE_FIELD_PATHS.contains(&resource) && !huge_pages {
        errors.push(FieldError::not_supported(
            format!("{path}.resource"),
            resource,
            &RESOURCE_FIELD_PATHS,
        ));
    }
    // validateContainerResourceDivisor: an unset or zero divisor is the default, 1.
    let Some(divisor) = selector.divisor.as_ref() else {
        return;
    };
    let divisor = canonical(&divisor.0);
    if divisor == "0" {
        return;
    }
    let field = format!("{path}.divisor");
    let (allowed, what): (&[&str], &str) = match resource {
        "limits.cpu" | "requests.cpu" => (&["1m", "1"], "cpu"),
        "limits.memory" | "requests.memory" => (&MEMORY_DIVISORS, "memory"),
        "limits.ephemeral-storage" | "requests.ephemeral-storage" => {
            (&MEMORY_DIVISORS, "local ephemeral storage")
        }
        _ if huge_pages => (&MEMORY_DIVISORS, "hugepages"),
        _ => return,
    };
    if !allowed.contains(&divisor.as_str()) {
        let values = if what == "cpu" {
            "1m and 1".to_owned()
        } else {
            MEMORY_DIVISORS.join(", ")
        };
        errors.push(FieldError::invalid(
            field,
            resource,
            format!("only divisor's values {values} are supported with the {what} resource"),
        ));
    }
}

/// A ConfigMap or Secret key selector (`validateConfigMapKeySelector`,
/// `validateSecretKeySelector`) at `path`.
fn validate_key_selector(errors: &mut Vec<FieldError>, path: &str, name: &str, key: &str) {
    for message in object_name_errors(name, false) {
        errors.push(FieldError::invalid(format!("{path}.name"), name, message));
    }
    if key.is_empty() {
        errors.push(FieldError::required(format!("{path}.key"), ""));
    } else {
        for message in config_map_key_errors(key) {
            errors.push(FieldError::invalid(format!("{path}.key"), key, message));
        }
    }
}

/// `validateEnvVarValueFrom` at `path` (`...env[0].valueFrom`).
fn validate_value_from(errors: &mut Vec<FieldError>, path: &str, var: &EnvVar) {
    let Some(source) = var.value_from.as_ref() else {
        return;
    };
    let mut sources = 0;
    if let Some(field_ref) = &source.field_ref {
        sources += 1;
        validate_object_field_selector(
            errors,
            &format!("{path}.fieldRef"),
            field_ref,
            &ENV_FIELD_PATHS,
        );
    }
    if let Some(resource_ref) = &source.resource_field_ref {
        sources += 1;
        validate_resource_field_selector(
            errors,
            &format!("{path}.resourceFieldRef"),
            resource_ref,
            false,
        );
    }
    if let Some(selector) = &source.config_map_key_ref {
        sources += 1;
        validate_key_selector(
            errors,
            &format!("{path}.configMapKeyRef"),
            &selector.name,
            &selector.key,
        );
    }
    if let Some(selector) = &source.secret_key_ref {
        sources += 1;
        validate_key_selector(
            errors,
            &format!("{path}.secretKeyRef"),
            &selector.name,
            &selector.key,
        );
    }
    if let Some(selector) = &source.file_key_ref {
        sources += 1;
        let at = format!("{path}.fileKeyRef");
        if selector.key.is_empty() {
            errors.push(FieldError::required(format!("{at}.key"), ""));
        } else {
            for message in env_var_name_errors(&selector.key) {
                errors.push(FieldError::invalid(
                    format!("{at}.key"),
                    &selector.key,
                    message,
                ));
            }
        }
        if selector.volume_name.is_empty() {
            errors.push(FieldError::required(format!("{at}.volumeName"), ""));
        } else {
            validate_dns1123_label(errors, &format!("{at}.volumeName"), &selector.volume_name);
        }
        if selector.path.is_empty() {
            errors.push(FieldError::required(format!("{at}.path"), ""));
        } else {
            validate_path_no_backsteps(errors, &format!("{at}.path"), &selector.path);
        }
    }
    if sources == 0 {
        errors.push(FieldError::invalid(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, \
             `secretKeyRef` or `fileKeyRef`",
        ));
    } else if !var.value.as_deref().unwrap_or("").is_empty() {
        errors.push(FieldError::invalid(
            path,
            "",
            "may not be specified when `value` is not empty",
        ));
    } else if sources > 1 {
        errors.push(FieldError::invalid(
            path,
            "",
            "may not have more than one field specified at a time",
        ));
    }
}

/// `ValidateEnv` and `ValidateEnvFrom` for the container at `path` (`spec.containers[0]`):
/// every variable named ([`env_var_name_errors`]) with at most one source, every source
/// well formed; every `envFrom` entry exactly one of `configMapRef` and `secretRef`, naming
/// an object, with a valid prefix.
pub(crate) fn validate_env(errors: &mut Vec<FieldError>, path: &str, container: &Container) {
    for (index, var) in container.env.iter().flatten().enumerate() {
        let at = format!("{path}.env[{index}]");
        if var.name.is_empty() {
            errors.push(FieldError::required(format!("{at}.name"), ""));
        } else {
            for message in env_var_name_errors(&var.name) {
                errors.push(FieldError::invalid(
                    format!("{at}.name"),
                    &var.name,
                    message,
                ));
            }
        }
        validate_value_from(errors, &format!("{at}.valueFrom"), var);
    }
    for (index, source) in container.env_from.iter().flatten().enumerate() {
        let at = format!("{path}.envFrom[{index}]");
        if let Some(prefix) = source.prefix.as_deref().filter(|p| !p.is_empty()) {
            for message in env_var_name_errors(prefix) {
                errors.push(FieldError::invalid(format!("{at}.prefix"), prefix, message));
            }
        }
        let references = [
            (
                "configMapRef",
                source.config_map_ref.as_ref().map(|r| &r.name),
            ),
            ("secretRef", source.secret_ref.as_ref().map(|r| &r.name)),
        ];
        let mut sources = 0;
        for (kind, name) in references {
            let Some(name) = name else { continue };
            sources += 1;
            let field = format!("{at}.{kind}.name");
            if name.is_empty() {
                errors.push(FieldError::required(field, ""));
            } else {
                for message in object_name_errors(name, true) {
                    errors.push(FieldError::invalid(&field, name, message));
                }
            }
        }
        if sources == 0 {
            errors.push(FieldError::invalid(
                format!("{path}.envFrom"),
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if sources > 1 {
            errors.push(FieldError::invalid(
                format!("{path}.envFrom"),
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVarSource,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn errors(env: Vec<EnvVar>, env_from: Vec<EnvFromSource>) -> Vec<String> {
        let container = Container {
            name: "main".into(),
            env: Some(env),
            env_from: Some(env_from),
            ..Default::default()
        };
        let mut errors = Vec::new();
        validate_env(&mut errors, "spec.containers[0]", &container);
        errors.iter().map(ToString::to_string).collect()
    }

    fn var(name: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Some("v".into()),
            ..Default::default()
        }
    }

    fn from_field(path: &str) -> EnvVar {
        EnvVar {
            name: "X".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: Some("v1".into()),
                    field_path: path.into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn sp_02_env_var_names_follow_the_relaxed_rule_of_v1_37() {
        assert!(
            errors(
                vec![var("PATH"), var("my.var-1"), var("1st"), var("with space")],
                vec![]
            )
            .is_empty()
        );
        assert_eq!(
            errors(vec![var("A=B")], vec![]),
            [
                "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment \
              variable name must consist only of printable ASCII characters other than '='"
            ]
        );
        assert_eq!(
            errors(vec![var("tab\there")], vec![]).len(),
            1,
            "a control character is not printable"
        );
        assert_eq!(
            errors(vec![var("")], vec![]),
            ["spec.containers[0].env[0].name: Required value"]
        );
    }

    #[test]
    fn sp_02_env_sources_are_one_and_well_formed() {
        assert!(errors(vec![from_field("metadata.name")], vec![]).is_empty());
        assert!(errors(vec![from_field("metadata.labels['app']")], vec![]).is_empty());
        assert!(errors(vec![from_field("spec.host")], vec![]).is_empty());
        assert_eq!(
            errors(vec![from_field("status.phase")], vec![]),
            [
                "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \
              \"status.phase\": supported values: \"metadata.name\", \"metadata.namespace\", \
              \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \
              \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\""
            ]
        );
        assert_eq!(
            errors(vec![from_field("spec.containers")], vec![]),
            [
                "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: \
              \"spec.containers\": error converting fieldPath: field label not supported: \
              spec.containers"
            ]
        );
        let mut both = from_field("metadata.name");
        both.value = Some("x".into());
        assert_eq!(
            errors(vec![both], vec![]),
            [
                "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified \
              when `value` is not empty"
            ]
        );
        let none = EnvVar {
            name: "X".into(),
            value_from: Some(EnvVarSource::default()),
            ..Default::default()
        };
        assert!(errors(vec![none], vec![])[0].contains("must specify one of: `fieldRef`"));
        let key = EnvVar {
            name: "X".into(),
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: "settings".into(),
                    key: "../x".into(),
                    optional: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let found = errors(vec![key], vec![]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[1].ends_with("must not start with '..'"), "{found:?}");
    }

    #[test]
    fn sp_02_resource_field_ref_names_a_resource_and_a_supported_divisor() {
        let resource = |resource: &str, divisor: Option<&str>| EnvVar {
            name: "X".into(),
            value_from: Some(EnvVarSource {
                resource_field_ref: Some(ResourceFieldSelector {
                    resource: resource.into(),
                    divisor: divisor.map(|d| Quantity(d.into())),
                    container_name: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(
            errors(
                vec![
                    resource("limits.cpu", Some("1m")),
                    resource("limits.cpu", Some("1000m")),
                    resource("limits.memory", Some("1Mi")),
                    resource("requests.hugepages-2Mi", None),
                ],
                vec![]
            )
            .is_empty()
        );
        assert_eq!(
            errors(vec![resource("limits.cpu", Some("2m"))], vec![]),
            [
                "spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: Invalid value: \
              \"limits.cpu\": only divisor's values 1m and 1 are supported with the cpu \
              resource"
            ]
        );
        assert!(
            errors(vec![resource("limits.gpu", None)], vec![])[0]
                .contains("resourceFieldRef.resource: Unsupported value: \"limits.gpu\"")
        );
    }

    #[test]
    fn sp_02_env_from_has_one_source_and_a_valid_prefix() {
        let from = |prefix: Option<&str>, name: &str| EnvFromSource {
            prefix: prefix.map(Into::into),
            config_map_ref: Some(ConfigMapEnvSource {
                name: name.into(),
                optional: None,
            }),
            secret_ref: None,
        };
        assert!(errors(vec![], vec![from(Some("APP_"), "settings")]).is_empty());
        assert_eq!(
            errors(vec![], vec![from(Some("A="), "settings")]),
            [
                "spec.containers[0].envFrom[0].prefix: Invalid value: \"A=\": a valid environment \
              variable name must consist only of printable ASCII characters other than '='"
            ]
        );
        assert_eq!(
            errors(vec![], vec![EnvFromSource::default()]),
            [
                "spec.containers[0].envFrom: Invalid value: \"\": must specify one of: \
              `configMapRef` or `secretRef`"
            ]
        );
        assert!(
            errors(vec![], vec![from(None, "Settings")])[0]
                .starts_with("spec.containers[0].envFrom[0].configMapRef.name: Invalid value")
        );
    }
}
