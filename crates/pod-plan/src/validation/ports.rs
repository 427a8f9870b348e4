//! Container ports: numbers, names, protocols, host ports (`validateContainerPorts`,
//! `checkHostPortConflicts`, `validatePodHostNetworkDeps`).

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::field::{FieldError, inclusive_range_error};

/// The protocols a port may name (`supportedPortProtocols`, as the API lists them: sorted).
pub const PORT_PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
/// The longest port name (`IANA_SVC_NAME`).
const MAX_PORT_NAME_LEN: usize = 15;

/// `IsValidPortNum`: 1 to 65535.
pub(crate) fn port_number_errors(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// `IsValidPortName` (an `IANA_SVC_NAME`): what is wrong with `name` as a port name, in the
/// API's words: at most 15 characters of `[-a-z0-9]`, at least one letter, no `--`, no `-`
/// at either end.
///
/// ```
/// use pod_plan::validation::port_name_errors;
///
/// assert!(port_name_errors("http-alt").is_empty());
/// assert_eq!(port_name_errors("8080"), ["must contain at least one letter (a-z)"]);
/// assert_eq!(port_name_errors("web--x").len(), 1);
/// assert_eq!(port_name_errors("a-very-long-port-name").len(), 1);
/// ```
pub fn port_name_errors(name: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if name.len() > MAX_PORT_NAME_LEN {
        errors.push(format!(
            "must be no more than {MAX_PORT_NAME_LEN} characters"
        ));
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        errors.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_owned(),
        );
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        errors.push("must contain at least one letter (a-z)".to_owned());
    }
    if name.contains("--") {
        errors.push("must not contain consecutive hyphens".to_owned());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errors.push("must not begin or end with a hyphen".to_owned());
    }
    errors
}

/// `ValidatePortNumOrName` at `field`: a number in range or a valid port name (probes and
/// HTTP hooks).
pub(crate) fn validate_port_num_or_name(
    errors: &mut Vec<FieldError>,
    field: &str,
    port: &IntOrString,
) {
    match port {
        IntOrString::Int(number) => {
            for message in port_number_errors(i64::from(*number)) {
                errors.push(FieldError::invalid(field, number, message));
            }
        }
        IntOrString::String(name) => {
            for message in port_name_errors(name) {
                errors.push(FieldError::invalid(field, name, message));
            }
        }
    }
}

/// `validateContainerPorts` for the container at `path` (`spec.containers[0]`): each named
/// port a valid port name, unique in the container; `containerPort` set and in 1-65535;
/// `hostPort` unset or in 1-65535; `protocol` set and one of [`PORT_PROTOCOLS`].
pub(crate) fn validate_container_ports(
    errors: &mut Vec<FieldError>,
    path: &str,
    container: &Container,
) {
    let mut names = HashSet::new();
    for (index, port) in container.ports.iter().flatten().enumerate() {
        let at = format!("{path}.ports[{index}]");
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let problems = port_name_errors(name);
            if !problems.is_empty() {
                for message in problems {
                    errors.push(FieldError::invalid(format!("{at}.name"), name, message));
                }
            } else if !names.insert(name) {
                errors.push(FieldError::duplicate(format!("{at}.name"), name));
            }
        }
        if port.container_port == 0 {
            errors.push(FieldError::required(format!("{at}.containerPort"), ""));
        } else {
            for message in port_number_errors(i64::from(port.container_port)) {
                errors.push(FieldError::invalid(
                    format!("{at}.containerPort"),
                    &port.container_port,
                    message,
                ));
            }
        }
        if let Some(host_port) = port.host_port.filter(|p| *p != 0) {
            for message in port_number_errors(i64::from(host_port)) {
                errors.push(FieldError::invalid(
                    format!("{at}.hostPort"),
                    &host_port,
                    message,
                ));
            }
        }
        match port.protocol.as_deref().unwrap_or("") {
            "" => errors.push(FieldError::required(format!("{at}.protocol"), "")),
            protocol if !PORT_PROTOCOLS.contains(&protocol) => {
                errors.push(FieldError::not_supported(
                    format!("{at}.protocol"),
                    protocol,
                    &PORT_PROTOCOLS,
                ));
            }
            _ => {}
        }
    }
}

/// `checkHostPortConflicts`: a `protocol/hostIP/hostPort` triple used twice among
/// `containers` (listed at `group`, `spec.containers`). App containers are checked
/// together, each init container alone (init containers run one at a time).
pub(crate) fn check_host_port_conflicts<'a>(
    errors: &mut Vec<FieldError>,
    group: &str,
    containers: impl IntoIterator<Item = (usize, &'a Container)>,
) {
    let mut seen = HashSet::new();
    for (container_index, container) in containers {
        for (port_index, port) in container.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = host_port_key(port, host_port);
            if seen.contains(&key) {
                errors.push(FieldError::duplicate(
                    format!("{group}[{container_index}].ports[{port_index}].hostPort"),
                    &key,
                ));
            } else {
                seen.insert(key);
            }
        }
    }
}

fn host_port_key(port: &ContainerPort, host_port: i32) -> String {
    format!(
        "{}/{}/{host_port}",
        port.protocol.as_deref().unwrap_or(""),
        port.host_ip.as_deref().unwrap_or("")
    )
}

/// `validatePodHostNetworkDeps`: with `hostNetwork`, an app container's `hostPort`, when
/// set, must equal its `containerPort` (the API defaults an unset one to it).
pub(crate) fn validate_host_network_ports(errors: &mut Vec<FieldError>, spec: &PodSpec) {
    if spec.host_network != Some(true) {
        return;
    }
    for (container_index, container) in spec.containers.iter().enumerate() {
        for (port_index, port) in container.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port != 0 && host_port != port.container_port {
                errors.push(FieldError::invalid(
                    format!("spec.containers[{container_index}].ports[{port_index}].hostPort"),
                    &host_port,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(container_port: i32) -> ContainerPort {
        ContainerPort {
            container_port,
            protocol: Some("TCP".into()),
            ..Default::default()
        }
    }

    fn errors(ports: Vec<ContainerPort>) -> Vec<String> {
        let container = Container {
            name: "main".into(),
            ports: Some(ports),
            ..Default::default()
        };
        let mut errors = Vec::new();
        validate_container_ports(&mut errors, "spec.containers[0]", &container);
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn sp_02_container_port_70000_is_refused_with_the_api_message() {
        assert_eq!(
            errors(vec![port(70000)]),
            [
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between \
              1 and 65535, inclusive"
            ]
        );
        assert_eq!(
            errors(vec![port(0)]),
            ["spec.containers[0].ports[0].containerPort: Required value"]
        );
        assert!(errors(vec![port(-1)])[0].contains("Invalid value: -1"));
        assert!(errors(vec![port(1), port(65535)]).is_empty());
    }

    #[test]
    fn sp_02_host_ports_are_in_range_when_set() {
        let mut p = port(80);
        p.host_port = Some(65536);
        assert_eq!(
            errors(vec![p]),
            [
                "spec.containers[0].ports[0].hostPort: Invalid value: 65536: must be between 1 \
              and 65535, inclusive"
            ]
        );
        let mut p = port(80);
        p.host_port = Some(0);
        assert!(errors(vec![p]).is_empty());
    }

    #[test]
    fn sp_02_protocol_is_tcp_udp_or_sctp() {
        let mut p = port(80);
        p.protocol = Some("tcp".into());
        assert_eq!(
            errors(vec![p]),
            [
                "spec.containers[0].ports[0].protocol: Unsupported value: \"tcp\": supported \
              values: \"SCTP\", \"TCP\", \"UDP\""
            ]
        );
        for protocol in PORT_PROTOCOLS {
            let mut p = port(80);
            p.protocol = Some(protocol.into());
            assert!(errors(vec![p]).is_empty(), "{protocol}");
        }
    }

    #[test]
    fn sp_02_port_names_are_iana_service_names_unique_in_the_container() {
        let named = |name: &str, number| ContainerPort {
            name: Some(name.into()),
            ..port(number)
        };
        assert_eq!(
            errors(vec![named("http", 80), named("http", 81)]),
            ["spec.containers[0].ports[1].name: Duplicate value: \"http\""]
        );
        assert_eq!(
            errors(vec![named("HTTP", 80)]),
            [
                "spec.containers[0].ports[0].name: Invalid value: \"HTTP\": must contain only \
                 alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "spec.containers[0].ports[0].name: Invalid value: \"HTTP\": must contain at \
                 least one letter (a-z)"
            ]
        );
        assert_eq!(
            errors(vec![named("-web-", 80)]),
            [
                "spec.containers[0].ports[0].name: Invalid value: \"-web-\": must not begin or \
              end with a hyphen"
            ]
        );
        assert!(errors(vec![named("metrics-9090", 80), named("h2c", 81)]).is_empty());
    }

    #[test]
    fn sp_02_host_port_conflicts_across_app_containers() {
        let with_host_port = |name: &str, host_port| Container {
            name: name.into(),
            ports: Some(vec![ContainerPort {
                host_port: Some(host_port),
                ..port(80)
            }]),
            ..Default::default()
        };
        let containers = [with_host_port("a", 8080), with_host_port("b", 8080)];
        let mut errors = Vec::new();
        check_host_port_conflicts(
            &mut errors,
            "spec.containers",
            containers.iter().enumerate(),
        );
        assert_eq!(
            errors[0].to_string(),
            "spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\""
        );
    }
}
