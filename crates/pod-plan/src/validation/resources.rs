//! A container's `resources`: quantities that parse, known resource names, no negative
//! amount, whole extended resources and huge pages, requests within limits
//! (`ValidateContainerResourceRequirements`, `validateResourceRequirements`,
//! `ValidateContainerResourceName`, `ValidateResourceQuantityValue`).
//!
//! The API server reads a quantity when it decodes the pod, so `cpu: lots` never reaches its
//! validation: it refuses the whole object with apimachinery's parse error and no field.
//! Here quantities are strings until they are read, so the parse error is reported at the
//! quantity's own field (`spec.containers[0].resources.requests[cpu]`), in the same words.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::field::{FieldError, IS_NEGATIVE};
use super::metadata::qualified_name_errors;
use crate::quantity::{QuantityError, QuantityValue};

/// apimachinery's `ErrFormatWrong`.
const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// apimachinery's `ErrSuffix`.
const SUFFIX_WRONG: &str = "unable to parse quantity's suffix";
/// `isNotIntegerErrorMsg`.
const NOT_INTEGER: &str = "must be an integer";
/// `core.ResourceHugePagesPrefix`.
const HUGE_PAGES_PREFIX: &str = "hugepages-";

/// `standardResources` of the API's helpers, the resource names that need no domain.
const STANDARD_RESOURCES: [&str; 20] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];
/// `integerResources`: counted in whole units.
const INTEGER_RESOURCES: [&str; 9] = [
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

/// A quantity read as apimachinery reads it: surrounding spaces ignored
/// (`Quantity.UnmarshalJSON`), or the message of its parse error.
pub(crate) fn parse_quantity(text: &str) -> Result<QuantityValue, &'static str> {
    QuantityValue::parse(text.trim()).map_err(|e| match e {
        QuantityError::Suffix { .. } => SUFFIX_WRONG,
        QuantityError::OutOfRange { .. } => "quantity is out of range",
        _ => FORMAT_WRONG,
    })
}

/// The quantity as the API prints it back ([`QuantityValue::canonical`]), surrounding
/// spaces ignored; the text as written when it does not parse.
pub(crate) fn canonical(text: &str) -> String {
    let text = text.trim();
    QuantityValue::parse(text).map_or_else(|_| text.to_owned(), |q| q.canonical())
}

fn is_huge_pages(name: &str) -> bool {
    name.starts_with(HUGE_PAGES_PREFIX)
}

/// `IsNativeResource`: no domain, or a `kubernetes.io/` one.
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `IsExtendedResourceName`: a domain-qualified name outside `kubernetes.io`, which stays a
/// qualified name behind the `requests.` prefix of quotas.
fn is_extended(name: &str) -> bool {
    !is_native(name)
        && !name.starts_with("requests.")
        && qualified_name_errors(&format!("requests.{name}")).is_empty()
}

/// `IsOvercommitAllowed`: requests may be below limits.
fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_huge_pages(name)
}

/// `IsIntegerResourceName`.
fn is_integer(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended(name)
}

/// `ValidateContainerResourceName`: what is wrong with `name` as a container resource.
fn container_resource_name_errors(name: &str) -> Vec<String> {
    // validateResourceName.
    let mut errors = qualified_name_errors(name);
    if !errors.is_empty() {
        return errors;
    }
    let standard = STANDARD_RESOURCES.contains(&name)
        || is_huge_pages(name)
        || name.starts_with("requests.hugepages-");
    if !name.contains('/') && !standard {
        errors.push("must be a standard resource type or fully qualified".to_owned());
    }
    // ValidateContainerResourceName.
    if !name.contains('/') {
        if !(["cpu", "memory", "ephemeral-storage"].contains(&name) || is_huge_pages(name)) {
            errors.push("must be a standard resource for containers".to_owned());
        }
    } else if !is_native(name) && !is_extended(name) {
        errors.push("doesn't follow extended resource name standard".to_owned());
    }
    errors
}

/// `IsHugePageResourceValueDivisible`: the amount is a whole number of pages of the size
/// the name gives (`hugepages-2Mi`).
fn huge_pages_divisible(name: &str, quantity: &QuantityValue) -> bool {
    let Some(size) = name
        .strip_prefix(HUGE_PAGES_PREFIX)
        .and_then(|size| QuantityValue::parse(size).ok())
    else {
        return false;
    };
    let (Ok(page), Ok(page_milli), Ok(amount)) =
        (size.value(), size.milli_value(), quantity.value())
    else {
        return false;
    };
    page > 0 && page_milli % 1000 == 0 && amount % page == 0
}

/// One entry of a resource list, its value `None` when it did not parse (the error is
/// already reported).
struct Entry<'a> {
    name: &'a str,
    text: &'a str,
    value: Option<QuantityValue>,
}

/// The checks of one entry of `limits` or `requests` (listed at `path`) that need no other
/// entry: its name (`ValidateContainerResourceName`), its quantity
/// (`ValidateResourceQuantityValue`: it parses, is not negative, is whole for an integer
/// resource).
fn check_entry<'a>(
    errors: &mut Vec<FieldError>,
    path: &str,
    name: &'a str,
    quantity: &'a Quantity,
) -> Entry<'a> {
    let field = format!("{path}[{name}]");
    for message in container_resource_name_errors(name) {
        errors.push(FieldError::invalid(&field, name, message));
    }
    let value = match parse_quantity(&quantity.0) {
        Ok(value) => Some(value),
        Err(message) => {
            errors.push(FieldError::invalid(&field, &quantity.0, message));
            None
        }
    };
    if let Some(value) = &value {
        if value.is_negative() {
            errors.push(FieldError::invalid(
                &field,
                &canonical(&quantity.0),
                IS_NEGATIVE,
            ));
        }
        if is_integer(name) && value.milli_value().is_ok_and(|m| m % 1000 != 0) {
            errors.push(FieldError::invalid(
                &field,
                &canonical(&quantity.0),
                NOT_INTEGER,
            ));
        }
    }
    Entry {
        name,
        text: &quantity.0,
        value,
    }
}

fn huge_pages_error(errors: &mut Vec<FieldError>, path: &str, entry: &Entry<'_>) {
    if let Some(value) = &entry.value
        && is_huge_pages(entry.name)
        && !huge_pages_divisible(entry.name, value)
    {
        let text = canonical(entry.text);
        errors.push(FieldError::invalid(
            format!("{path}[{}]", entry.name),
            &text,
            format!("{text} is not positive integer multiple of {}", entry.name),
        ));
    }
}

/// `ValidateContainerResourceRequirements` for the container at `path`
/// (`spec.containers[0]`): every name a container resource (`cpu`, `memory`,
/// `ephemeral-storage`, `hugepages-<size>` or a domain-qualified extended resource), every
/// quantity one that parses and is not negative (extended resources whole), huge pages a
/// whole number of pages and only beside cpu or memory, and each request at most its limit
/// (equal to it for huge pages and extended resources, which also need a limit).
pub(crate) fn validate_resource_requirements(
    errors: &mut Vec<FieldError>,
    path: &str,
    resources: Option<&ResourceRequirements>,
) {
    let Some(resources) = resources else {
        return;
    };
    let limits_path = format!("{path}.resources.limits");
    let requests_path = format!("{path}.resources.requests");
    let mut limits = Vec::new();
    let mut compute = false;
    let mut huge_pages = false;
    for (name, quantity) in resources.limits.iter().flatten() {
        let entry = check_entry(errors, &limits_path, name, quantity);
        huge_pages_error(errors, &limits_path, &entry);
        huge_pages |= is_huge_pages(name);
        compute |= matches!(name.as_str(), "cpu" | "memory");
        limits.push(entry);
    }
    for (name, quantity) in resources.requests.iter().flatten() {
        let entry = check_entry(errors, &requests_path, name, quantity);
        match limits.iter().find(|l| l.name == name) {
            Some(limit) => {
                let order = match (&entry.value, &limit.value) {
                    (Some(request), Some(limit)) => request
                        .nano_value()
                        .ok()
                        .zip(limit.nano_value().ok())
                        .map(|(r, l)| r.cmp(&l)),
                    _ => None,
                };
                let request_text = canonical(entry.text);
                let limit_text = canonical(limit.text);
                match order {
                    Some(order) if order.is_ne() && !overcommit_allowed(name) => {
                        errors.push(FieldError::invalid(
                            &requests_path,
                            &request_text,
                            format!("must be equal to {name} limit of {limit_text}"),
                        ));
                    }
                    Some(std::cmp::Ordering::Greater) => {
                        errors.push(FieldError::invalid(
                            &requests_path,
                            &request_text,
                            format!("must be less than or equal to {name} limit of {limit_text}"),
                        ));
                    }
                    _ => {}
                }
            }
            None if !overcommit_allowed(name) => {
                errors.push(FieldError::required(
                    &limits_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            None => {}
        }
        huge_pages_error(errors, &requests_path, &entry);
        huge_pages |= is_huge_pages(name);
        compute |= matches!(name.as_str(), "cpu" | "memory");
    }
    if huge_pages && !compute {
        errors.push(FieldError::forbidden(
            format!("{path}.resources"),
            "HugePages require cpu or memory",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn list(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
                .collect(),
        )
    }

    fn errors(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Vec<String> {
        let resources = ResourceRequirements {
            requests: list(requests),
            limits: list(limits),
            ..Default::default()
        };
        let mut errors = Vec::new();
        validate_resource_requirements(&mut errors, "spec.containers[0]", Some(&resources));
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn canonical_is_how_the_api_prints_a_quantity() {
        for (text, expected) in [
            ("1000m", "1"),
            ("0.5", "500m"),
            ("100m", "100m"),
            ("128Mi", "128Mi"),
            ("2048Mi", "2Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("1e3", "1e3"),
            ("1000", "1k"),
            ("1024", "1024"),
            ("0.5Ki", "512"),
            // Not a whole number of KiB: a plain number, which reads back as decimal.
            ("62.5Ki", "64000"),
            ("64000", "64k"),
            (" 2 ", "2"),
            ("0", "0"),
            ("0Gi", "0"),
            ("-1", "-1"),
            ("lots", "lots"),
        ] {
            assert_eq!(canonical(text), expected, "{text}");
        }
    }

    #[test]
    fn sp_02_cpu_lots_is_refused_naming_the_quantity() {
        assert_eq!(
            errors(&[("cpu", "lots")], &[]),
            [
                "spec.containers[0].resources.requests[cpu]: Invalid value: \"lots\": quantities \
              must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            ]
        );
        assert_eq!(
            errors(&[], &[("memory", "1K")]),
            [
                "spec.containers[0].resources.limits[memory]: Invalid value: \"1K\": unable to \
              parse quantity's suffix"
            ]
        );
        assert!(errors(&[("cpu", " 250m ")], &[("cpu", "1")]).is_empty());
    }

    #[test]
    fn sp_02_requests_are_at_most_limits() {
        assert_eq!(
            errors(&[("cpu", "2")], &[("cpu", "1000m")]),
            [
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than \
              or equal to cpu limit of 1"
            ]
        );
        assert_eq!(
            errors(&[("memory", "2Gi")], &[("memory", "1Gi")]),
            [
                "spec.containers[0].resources.requests: Invalid value: \"2Gi\": must be less than \
              or equal to memory limit of 1Gi"
            ]
        );
        assert!(errors(&[("cpu", "1")], &[("cpu", "1000m")]).is_empty());
        assert!(errors(&[("cpu", "100m"), ("memory", "64Mi")], &[("cpu", "1")]).is_empty());
    }

    #[test]
    fn sp_02_quantities_are_not_negative() {
        assert_eq!(
            errors(&[("memory", "-1Mi")], &[]),
            [
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1Mi\": must \
              be greater than or equal to 0"
            ]
        );
    }

    #[test]
    fn sp_02_resource_names_are_known_or_qualified() {
        assert_eq!(
            errors(&[("cpuu", "1")], &[]),
            [
                "spec.containers[0].resources.requests[cpuu]: Invalid value: \"cpuu\": must be \
                 a standard resource type or fully qualified",
                "spec.containers[0].resources.requests[cpuu]: Invalid value: \"cpuu\": must be \
                 a standard resource for containers",
            ]
        );
        assert_eq!(
            errors(&[("pods", "1")], &[]),
            [
                "spec.containers[0].resources.requests[pods]: Invalid value: \"pods\": must be a \
              standard resource for containers"
            ]
        );
        assert!(
            errors(
                &[("ephemeral-storage", "1Gi")],
                &[("ephemeral-storage", "2Gi")]
            )
            .is_empty()
        );
    }

    #[test]
    fn sp_02_extended_resources_and_huge_pages_are_whole_and_not_overcommitted() {
        assert!(errors(&[("example.com/gpu", "1")], &[("example.com/gpu", "1")]).is_empty());
        assert_eq!(
            errors(&[("example.com/gpu", "1")], &[]),
            [
                "spec.containers[0].resources.limits: Required value: Limit must be set for non \
              overcommitable resources"
            ]
        );
        assert_eq!(
            errors(&[], &[("example.com/gpu", "500m")]),
            [
                "spec.containers[0].resources.limits[example.com/gpu]: Invalid value: \"500m\": \
              must be an integer"
            ]
        );
        assert_eq!(
            errors(&[("example.com/gpu", "1")], &[("example.com/gpu", "2")]),
            [
                "spec.containers[0].resources.requests: Invalid value: \"1\": must be equal to \
              example.com/gpu limit of 2"
            ]
        );
        assert!(errors(&[], &[("hugepages-2Mi", "4Mi"), ("memory", "64Mi")]).is_empty());
        assert_eq!(
            errors(&[], &[("hugepages-2Mi", "3Mi"), ("memory", "64Mi")]),
            [
                "spec.containers[0].resources.limits[hugepages-2Mi]: Invalid value: \"3Mi\": 3Mi \
              is not positive integer multiple of hugepages-2Mi"
            ]
        );
        assert_eq!(
            errors(&[], &[("hugepages-2Mi", "4Mi")]),
            ["spec.containers[0].resources: Forbidden: HugePages require cpu or memory"]
        );
    }
}
