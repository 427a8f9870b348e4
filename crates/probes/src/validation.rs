//! Checking a container's probes before the container is created.
//!
//! The API server validates probes (`validateProbe`, `validateHandler` in
//! `pkg/apis/core/validation/validation.go`), but a static pod never goes through it, and a
//! node agent must not let a bad probe stop anything else. [`validate_container_probes`]
//! runs the same checks for one container and names the first problem; the pod worker turns
//! it into that container's `CreateContainerConfigError`.

use http_body_util::Empty;
use hyper::body::Bytes;
use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::handler::resolve_port;
use crate::{Error, PodRef, ProbeKind, Result};

/// Check every probe of `container` (a container of `pod`) and return the first problem,
/// naming the pod, the container, the probe and the field path
/// (`spec.containers[0].livenessProbe.periodSeconds`).
///
/// Refused: no handler or more than one; an empty exec command; a port number outside
/// 1–65535 or a port name the container does not declare; a scheme other than `HTTP` or
/// `HTTPS`; an invalid header name; a negative `initialDelaySeconds`, `periodSeconds`,
/// `timeoutSeconds`, `successThreshold` or `failureThreshold`; a `successThreshold` other
/// than 1 for liveness and startup; `terminationGracePeriodSeconds` on a readiness probe or
/// not above 0. Zero or unset timing fields are fine: they take the API defaults.
///
/// ```
/// use k8s_openapi::api::core::v1::{Container, ExecAction, Pod, PodSpec, Probe};
///
/// let container = Container {
///     name: "web".into(),
///     liveness_probe: Some(Probe {
///         exec: Some(ExecAction { command: Some(vec!["true".into()]) }),
///         period_seconds: Some(-1),
///         ..Default::default()
///     }),
///     ..Default::default()
/// };
/// let mut pod = Pod::default();
/// pod.metadata.name = Some("demo".into());
/// pod.metadata.namespace = Some("default".into());
/// pod.spec = Some(PodSpec { containers: vec![container.clone()], ..Default::default() });
///
/// let err = probes::validate_container_probes(&pod, &container).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "pod default/demo: container \"web\": invalid liveness probe: \
///      spec.containers[0].livenessProbe.periodSeconds: must be greater than or equal to 0 (got -1)"
/// );
/// ```
pub fn validate_container_probes(pod: &Pod, container: &Container) -> Result<()> {
    let base = container_path(pod, &container.name);
    for kind in [
        ProbeKind::Liveness,
        ProbeKind::Readiness,
        ProbeKind::Startup,
    ] {
        if let Some(probe) = kind.probe_of(container) {
            check_probe(probe, kind, container).map_err(|(field, problem)| {
                Error::InvalidProbe {
                    pod: PodRef::of(pod).to_string(),
                    container: container.name.clone(),
                    probe: kind.lower(),
                    field: if field.is_empty() {
                        format!("{base}.{}", kind.field())
                    } else {
                        format!("{base}.{}.{field}", kind.field())
                    },
                    problem,
                }
            })?;
        }
    }
    Ok(())
}

/// `spec.containers[i]` or `spec.initContainers[i]` for the container named `name`.
fn container_path(pod: &Pod, name: &str) -> String {
    let spec = pod.spec.as_ref();
    if let Some(i) = spec.and_then(|s| s.containers.iter().position(|c| c.name == name)) {
        return format!("spec.containers[{i}]");
    }
    if let Some(i) = spec.and_then(|s| {
        s.init_containers
            .as_ref()
            .and_then(|cs| cs.iter().position(|c| c.name == name))
    }) {
        return format!("spec.initContainers[{i}]");
    }
    format!("spec.containers[{name:?}]")
}

type Problem = (String, String);

fn problem(field: &str, text: impl Into<String>) -> Problem {
    (field.to_string(), text.into())
}

fn check_probe(probe: &Probe, kind: ProbeKind, container: &Container) -> Result<(), Problem> {
    let handlers = [
        probe.exec.is_some(),
        probe.http_get.is_some(),
        probe.tcp_socket.is_some(),
        probe.grpc.is_some(),
    ]
    .into_iter()
    .filter(|set| *set)
    .count();
    match handlers {
        0 => return Err(problem("", "must specify a handler type")),
        1 => {}
        _ => return Err(problem("", "may not specify more than 1 handler type")),
    }

    for (field, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        if let Some(v) = value
            && v < 0
        {
            return Err(problem(
                field,
                format!("must be greater than or equal to 0 (got {v})"),
            ));
        }
    }
    if kind.restarts_container()
        && let Some(v) = probe.success_threshold
        && v != 0
        && v != 1
    {
        return Err(problem("successThreshold", format!("must be 1 (got {v})")));
    }
    if let Some(grace) = probe.termination_grace_period_seconds {
        if kind == ProbeKind::Readiness {
            return Err(problem(
                "terminationGracePeriodSeconds",
                "must not be set for readinessProbes",
            ));
        }
        if grace <= 0 {
            return Err(problem(
                "terminationGracePeriodSeconds",
                format!("must be greater than 0 (got {grace})"),
            ));
        }
    }

    if let Some(exec) = &probe.exec
        && exec.command.as_ref().is_none_or(|c| c.is_empty())
    {
        return Err(problem("exec.command", "Required value"));
    }
    if let Some(http) = &probe.http_get {
        check_port(&http.port, container, "httpGet.port")?;
        if let Some(scheme) = &http.scheme
            && scheme != "HTTP"
            && scheme != "HTTPS"
        {
            return Err(problem(
                "httpGet.scheme",
                format!("Unsupported value: {scheme:?}: supported values: \"HTTP\", \"HTTPS\""),
            ));
        }
        for (i, header) in http.http_headers.iter().flatten().enumerate() {
            let valid = hyper::Request::get("/")
                .header(header.name.as_str(), header.value.as_str())
                .body(Empty::<Bytes>::new())
                .is_ok();
            if !valid {
                return Err(problem(
                    &format!("httpGet.httpHeaders[{i}]"),
                    format!("invalid HTTP header {:?}: {:?}", header.name, header.value),
                ));
            }
        }
    }
    if let Some(tcp) = &probe.tcp_socket {
        check_port(&tcp.port, container, "tcpSocket.port")?;
    }
    if let Some(grpc) = &probe.grpc {
        check_port(&IntOrString::Int(grpc.port), container, "grpc.port")?;
    }
    Ok(())
}

fn check_port(port: &IntOrString, container: &Container, field: &str) -> Result<(), Problem> {
    resolve_port(port, container)
        .map(drop)
        .map_err(|e| problem(field, e))
}
