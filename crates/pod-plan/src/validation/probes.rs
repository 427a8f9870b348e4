//! Probes and lifecycle hooks (`validateProbe`, `validateLivenessProbe`,
//! `validateReadinessProbe`, `validateStartupProbe`, `validateHandler`, `validateLifecycle`).
//!
//! Thresholds and periods are checked after the API's defaults (`SetDefaults_Probe`), as the
//! API server checks them: an unset or zero `periodSeconds`, `timeoutSeconds`,
//! `successThreshold` or `failureThreshold` becomes 10, 1, 1 or 3, so what is refused is a
//! negative one, and a `successThreshold` other than 1 on a liveness or startup probe.

use k8s_openapi::api::core::v1::{
    ExecAction, HTTPGetAction, Lifecycle, LifecycleHandler, Probe, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::field::{FieldError, non_negative, regex_error};
use super::ports::validate_port_num_or_name;

/// The schemes of an HTTP GET action (`supportedHTTPSchemes`, sorted).
const HTTP_SCHEMES: [&str; 2] = ["HTTP", "HTTPS"];

/// Which probe: they differ in what they allow of `successThreshold` and
/// `terminationGracePeriodSeconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

/// The handlers of a probe or hook, as `commonHandler` gathers them.
struct Handler<'a> {
    exec: Option<&'a ExecAction>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_socket: Option<&'a TCPSocketAction>,
    grpc: Option<i32>,
    sleep: Option<i64>,
}

/// `validateHTTPGetAction`.
fn validate_http_get(errors: &mut Vec<FieldError>, path: &str, http: &HTTPGetAction) {
    if http.path.as_deref().unwrap_or("").is_empty() {
        errors.push(FieldError::required(format!("{path}.path"), ""));
    }
    validate_port_num_or_name(errors, &format!("{path}.port"), &http.port);
    let scheme = http.scheme.as_deref().unwrap_or("");
    if !HTTP_SCHEMES.contains(&scheme) {
        errors.push(FieldError::not_supported(
            format!("{path}.scheme"),
            scheme,
            &HTTP_SCHEMES,
        ));
    }
    for header in http.http_headers.iter().flatten() {
        let valid = !header.name.is_empty()
            && header
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            errors.push(FieldError::invalid(
                format!("{path}.httpHeaders"),
                &header.name,
                regex_error(
                    "a valid HTTP header must consist of alphanumeric characters or '-'",
                    "[-A-Za-z0-9]+",
                    &["X-Header-Name"],
                ),
            ));
        }
    }
}

/// `validateHandler` at `path`: exactly one handler, and that one well formed.
fn validate_handler(
    errors: &mut Vec<FieldError>,
    path: &str,
    handler: &Handler<'_>,
    grace_period: Option<i64>,
) {
    let mut count = 0;
    let mut one = |errors: &mut Vec<FieldError>, name: &str| {
        if count > 0 {
            errors.push(FieldError::forbidden(
                format!("{path}.{name}"),
                "may not specify more than 1 handler type",
            ));
            false
        } else {
            count += 1;
            true
        }
    };
    if let Some(exec) = handler.exec
        && one(errors, "exec")
        && exec.command.as_ref().is_none_or(Vec::is_empty)
    {
        errors.push(FieldError::required(format!("{path}.exec.command"), ""));
    }
    if let Some(http) = handler.http_get
        && one(errors, "httpGet")
    {
        validate_http_get(errors, &format!("{path}.httpGet"), http);
    }
    if let Some(tcp) = handler.tcp_socket
        && one(errors, "tcpSocket")
    {
        validate_port_num_or_name(errors, &format!("{path}.tcpSocket.port"), &tcp.port);
    }
    if let Some(port) = handler.grpc
        && one(errors, "grpc")
    {
        validate_port_num_or_name(
            errors,
            &format!("{path}.grpc.port"),
            &IntOrString::Int(port),
        );
    }
    if let Some(seconds) = handler.sleep
        && one(errors, "sleep")
        && let Some(grace) = grace_period
        && (seconds < 0 || seconds > grace)
    {
        errors.push(FieldError::invalid(
            format!("{path}.sleep"),
            &seconds,
            format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})"),
        ));
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a handler type"));
    }
}

/// `validateLivenessProbe`, `validateReadinessProbe` or `validateStartupProbe` at `path`
/// (`spec.containers[0].livenessProbe`).
pub(crate) fn validate_probe(
    errors: &mut Vec<FieldError>,
    path: &str,
    probe: Option<&Probe>,
    kind: ProbeKind,
    grace_period: Option<i64>,
) {
    let Some(probe) = probe else {
        return;
    };
    let handler = Handler {
        exec: probe.exec.as_ref(),
        http_get: probe.http_get.as_ref(),
        tcp_socket: probe.tcp_socket.as_ref(),
        grpc: probe.grpc.as_ref().map(|g| g.port),
        sleep: None,
    };
    validate_handler(errors, path, &handler, grace_period);
    // Unset values are the API's defaults (0 for the delay, at least 1 for the others).
    for (name, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        non_negative(
            errors,
            &format!("{path}.{name}"),
            i64::from(value.unwrap_or(0)),
        );
    }
    if let Some(grace) = probe.termination_grace_period_seconds
        && grace <= 0
    {
        errors.push(FieldError::invalid(
            format!("{path}.terminationGracePeriodSeconds"),
            &grace,
            "must be greater than 0",
        ));
    }
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup => {
            // Unset (or 0) is defaulted to 1.
            let success = probe.success_threshold.filter(|s| *s != 0).unwrap_or(1);
            if success != 1 {
                errors.push(FieldError::invalid(
                    format!("{path}.successThreshold"),
                    &success,
                    "must be 1",
                ));
            }
        }
        ProbeKind::Readiness => {
            if let Some(grace) = probe.termination_grace_period_seconds {
                errors.push(FieldError::invalid(
                    format!("{path}.terminationGracePeriodSeconds"),
                    &grace,
                    "must not be set for readinessProbes",
                ));
            }
        }
    }
}

fn lifecycle_handler(handler: &LifecycleHandler) -> Handler<'_> {
    Handler {
        exec: handler.exec.as_ref(),
        http_get: handler.http_get.as_ref(),
        tcp_socket: handler.tcp_socket.as_ref(),
        grpc: None,
        sleep: handler.sleep.as_ref().map(|s| s.seconds),
    }
}

/// `validateLifecycle` at `path` (`spec.containers[0].lifecycle`): each hook exactly one
/// handler; a `sleep` within the pod's grace period; a `stopSignal` only with `spec.os`.
pub(crate) fn validate_lifecycle(
    errors: &mut Vec<FieldError>,
    path: &str,
    lifecycle: &Lifecycle,
    grace_period: Option<i64>,
    os: Option<&str>,
) {
    if let Some(hook) = &lifecycle.post_start {
        validate_handler(
            errors,
            &format!("{path}.postStart"),
            &lifecycle_handler(hook),
            grace_period,
        );
    }
    if let Some(hook) = &lifecycle.pre_stop {
        validate_handler(
            errors,
            &format!("{path}.preStop"),
            &lifecycle_handler(hook),
            grace_period,
        );
    }
    if lifecycle.stop_signal.is_some() && os.is_none() {
        errors.push(FieldError::forbidden(
            format!("{path}.stopSignal"),
            "may not be set for containers with empty `spec.os.name`",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{GRPCAction, SleepAction};

    fn exec() -> Option<ExecAction> {
        Some(ExecAction {
            command: Some(vec!["true".into()]),
        })
    }

    fn errors(probe: Probe, kind: ProbeKind) -> Vec<String> {
        let mut errors = Vec::new();
        validate_probe(
            &mut errors,
            "spec.containers[0].livenessProbe",
            Some(&probe),
            kind,
            Some(30),
        );
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn sp_02_a_probe_has_exactly_one_handler() {
        assert!(
            errors(
                Probe {
                    exec: exec(),
                    ..Default::default()
                },
                ProbeKind::Liveness
            )
            .is_empty()
        );
        assert_eq!(
            errors(Probe::default(), ProbeKind::Liveness),
            ["spec.containers[0].livenessProbe: Required value: must specify a handler type"]
        );
        let two = Probe {
            exec: exec(),
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::Int(80),
                host: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            errors(two, ProbeKind::Liveness),
            [
                "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than \
              1 handler type"
            ]
        );
        let empty_command = Probe {
            exec: Some(ExecAction { command: None }),
            ..Default::default()
        };
        assert_eq!(
            errors(empty_command, ProbeKind::Liveness),
            ["spec.containers[0].livenessProbe.exec.command: Required value"]
        );
        let grpc = Probe {
            grpc: Some(GRPCAction {
                port: 0,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(errors(grpc, ProbeKind::Readiness)[0].contains("grpc.port: Invalid value: 0"));
    }

    #[test]
    fn sp_02_probe_thresholds_and_periods() {
        let probe = |f: &dyn Fn(&mut Probe)| {
            let mut probe = Probe {
                exec: exec(),
                ..Default::default()
            };
            f(&mut probe);
            probe
        };
        // Zero is the API default, not an error.
        assert!(
            errors(
                probe(&|p| {
                    p.period_seconds = Some(0);
                    p.success_threshold = Some(0);
                }),
                ProbeKind::Startup
            )
            .is_empty()
        );
        assert_eq!(
            errors(
                probe(&|p| p.period_seconds = Some(-1)),
                ProbeKind::Readiness
            ),
            [
                "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be \
              greater than or equal to 0"
            ]
        );
        assert_eq!(
            errors(
                probe(&|p| p.success_threshold = Some(3)),
                ProbeKind::Liveness
            ),
            ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 3: must be 1"]
        );
        assert!(
            errors(
                probe(&|p| p.success_threshold = Some(3)),
                ProbeKind::Readiness
            )
            .is_empty()
        );
        assert_eq!(
            errors(
                probe(&|p| p.termination_grace_period_seconds = Some(5)),
                ProbeKind::Readiness
            ),
            [
                "spec.containers[0].livenessProbe.terminationGracePeriodSeconds: Invalid value: 5: \
              must not be set for readinessProbes"
            ]
        );
        assert!(
            errors(
                probe(&|p| p.termination_grace_period_seconds = Some(0)),
                ProbeKind::Liveness
            )[0]
            .ends_with("must be greater than 0")
        );
    }

    #[test]
    fn sp_02_http_probes_have_a_port_a_scheme_and_valid_headers() {
        let http = |port: IntOrString, scheme: &str| Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/".into()),
                port,
                scheme: Some(scheme.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(
            errors(
                http(IntOrString::String("web".into()), "HTTPS"),
                ProbeKind::Liveness
            )
            .is_empty()
        );
        assert_eq!(
            errors(http(IntOrString::Int(70000), "HTTP"), ProbeKind::Liveness),
            [
                "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 70000: must be \
              between 1 and 65535, inclusive"
            ]
        );
        assert!(
            errors(http(IntOrString::Int(80), "http"), ProbeKind::Liveness)[0]
                .contains("httpGet.scheme: Unsupported value: \"http\"")
        );
    }

    #[test]
    fn sp_02_lifecycle_hooks_have_one_handler_and_a_sleep_within_the_grace() {
        let mut errors = Vec::new();
        let lifecycle = Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction { seconds: 60 }),
                ..Default::default()
            }),
            post_start: Some(LifecycleHandler::default()),
            ..Default::default()
        };
        validate_lifecycle(
            &mut errors,
            "spec.containers[0].lifecycle",
            &lifecycle,
            Some(30),
            None,
        );
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "spec.containers[0].lifecycle.postStart: Required value: must specify a handler \
                 type",
                "spec.containers[0].lifecycle.preStop.sleep: Invalid value: 60: must be \
                 non-negative and less than terminationGracePeriodSeconds (30)",
            ]
        );
    }
}
