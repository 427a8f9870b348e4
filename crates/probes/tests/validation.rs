//! Probe validation: every refused spec names the pod, container, probe and field.

mod support;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, GRPCAction, HTTPGetAction, HTTPHeader, Probe, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use probes::{Error, ProbeKind, probe_termination_grace_period, validate_container_probes};
use support::{container, pod, probe};

fn check(kind: ProbeKind, p: Probe) -> Result<(), String> {
    let mut c = container("web");
    c.ports = Some(vec![ContainerPort {
        name: Some("http".into()),
        container_port: 8080,
        ..Default::default()
    }]);
    match kind {
        ProbeKind::Liveness => c.liveness_probe = Some(p),
        ProbeKind::Readiness => c.readiness_probe = Some(p),
        ProbeKind::Startup => c.startup_probe = Some(p),
    }
    let pod = pod(vec![container("sidecar-less"), c.clone()]);
    validate_container_probes(&pod, &c).map_err(|e| e.to_string())
}

fn http(port: IntOrString) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            port,
            ..Default::default()
        }),
        ..Default::default()
    }
}

const PREFIX: &str = "pod default/demo: container \"web\": invalid";

#[test]
fn valid_probes_pass() {
    assert_eq!(check(ProbeKind::Liveness, probe()), Ok(()));
    assert_eq!(
        check(
            ProbeKind::Readiness,
            http(IntOrString::String("http".into()))
        ),
        Ok(())
    );
    assert_eq!(
        check(
            ProbeKind::Readiness,
            http(IntOrString::String("8080".into()))
        ),
        Ok(())
    );
    assert_eq!(
        check(
            ProbeKind::Readiness,
            Probe {
                success_threshold: Some(3),
                ..probe()
            }
        ),
        Ok(())
    );
    assert_eq!(
        check(
            ProbeKind::Startup,
            Probe {
                success_threshold: Some(1),
                termination_grace_period_seconds: Some(5),
                ..probe()
            }
        ),
        Ok(())
    );
}

#[test]
fn handlers_none_or_several() {
    assert_eq!(
        check(ProbeKind::Liveness, Probe::default()),
        Err(format!(
            "{PREFIX} liveness probe: spec.containers[1].livenessProbe: must specify a handler type"
        ))
    );
    let two = Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::Int(80),
            host: None,
        }),
        ..probe()
    };
    assert_eq!(
        check(ProbeKind::Readiness, two),
        Err(format!(
            "{PREFIX} readiness probe: spec.containers[1].readinessProbe: may not specify more than 1 handler type"
        ))
    );
}

#[test]
fn ports() {
    assert_eq!(
        check(
            ProbeKind::Liveness,
            http(IntOrString::String("metrics".into()))
        ),
        Err(format!(
            "{PREFIX} liveness probe: spec.containers[1].livenessProbe.httpGet.port: port name \"metrics\" not found in the container's ports"
        ))
    );
    assert_eq!(
        check(ProbeKind::Liveness, http(IntOrString::Int(0))),
        Err(format!(
            "{PREFIX} liveness probe: spec.containers[1].livenessProbe.httpGet.port: invalid port number 0: must be between 1 and 65535"
        ))
    );
    let tcp = Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String("nope".into()),
            host: None,
        }),
        ..Default::default()
    };
    assert!(
        check(ProbeKind::Startup, tcp)
            .unwrap_err()
            .contains("startupProbe.tcpSocket.port")
    );
    let grpc = Probe {
        grpc: Some(GRPCAction {
            port: 65536,
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(
        check(ProbeKind::Readiness, grpc)
            .unwrap_err()
            .contains("readinessProbe.grpc.port")
    );
}

#[test]
fn negative_timing_and_thresholds() {
    for (field, p) in [
        (
            "initialDelaySeconds",
            Probe {
                initial_delay_seconds: Some(-1),
                ..probe()
            },
        ),
        (
            "periodSeconds",
            Probe {
                period_seconds: Some(-1),
                ..probe()
            },
        ),
        (
            "timeoutSeconds",
            Probe {
                timeout_seconds: Some(-1),
                ..probe()
            },
        ),
        (
            "successThreshold",
            Probe {
                success_threshold: Some(-1),
                ..probe()
            },
        ),
        (
            "failureThreshold",
            Probe {
                failure_threshold: Some(-1),
                ..probe()
            },
        ),
    ] {
        assert_eq!(
            check(ProbeKind::Readiness, p),
            Err(format!(
                "{PREFIX} readiness probe: spec.containers[1].readinessProbe.{field}: must be greater than or equal to 0 (got -1)"
            ))
        );
    }
}

#[test]
fn success_threshold_must_be_one_for_liveness_and_startup() {
    for kind in [ProbeKind::Liveness, ProbeKind::Startup] {
        let err = check(
            kind,
            Probe {
                success_threshold: Some(2),
                ..probe()
            },
        )
        .unwrap_err();
        assert_eq!(
            err,
            format!(
                "{PREFIX} {} probe: spec.containers[1].{}.successThreshold: must be 1 (got 2)",
                kind.lower(),
                kind.field()
            )
        );
    }
}

#[test]
fn other_fields() {
    let grace_on_readiness = Probe {
        termination_grace_period_seconds: Some(3),
        ..probe()
    };
    assert!(
        check(ProbeKind::Readiness, grace_on_readiness)
            .unwrap_err()
            .ends_with(
                "readinessProbe.terminationGracePeriodSeconds: must not be set for readinessProbes"
            )
    );
    let zero_grace = Probe {
        termination_grace_period_seconds: Some(0),
        ..probe()
    };
    assert!(
        check(ProbeKind::Liveness, zero_grace)
            .unwrap_err()
            .contains("must be greater than 0")
    );
    let scheme = Probe {
        http_get: Some(HTTPGetAction {
            port: IntOrString::Int(80),
            scheme: Some("FTP".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(
        check(ProbeKind::Liveness, scheme)
            .unwrap_err()
            .contains("httpGet.scheme: Unsupported value: \"FTP\"")
    );
    let header = Probe {
        http_get: Some(HTTPGetAction {
            port: IntOrString::Int(80),
            http_headers: Some(vec![HTTPHeader {
                name: "bad name".into(),
                value: "v".into(),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(
        check(ProbeKind::Liveness, header)
            .unwrap_err()
            .contains("httpGet.httpHeaders[0]")
    );
    let empty_exec = Probe {
        exec: Some(Default::default()),
        ..Default::default()
    };
    assert!(
        check(ProbeKind::Liveness, empty_exec)
            .unwrap_err()
            .contains("exec.command: Required value")
    );
}

#[test]
fn errors_carry_their_parts_and_init_container_paths() {
    let mut sidecar = container("log");
    sidecar.restart_policy = Some("Always".into());
    sidecar.readiness_probe = Some(Probe {
        period_seconds: Some(-3),
        ..probe()
    });
    let mut p = pod(vec![container("main")]);
    p.spec.as_mut().unwrap().init_containers = Some(vec![sidecar.clone()]);
    match validate_container_probes(&p, &sidecar).unwrap_err() {
        Error::InvalidProbe {
            pod,
            container,
            probe,
            field,
            ..
        } => {
            assert_eq!(
                (pod.as_str(), container.as_str(), probe),
                ("default/demo", "log", "readiness")
            );
            assert_eq!(field, "spec.initContainers[0].readinessProbe.periodSeconds");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn probe_grace_period_overrides_for_liveness_and_startup_only() {
    let c = Container {
        liveness_probe: Some(Probe {
            termination_grace_period_seconds: Some(5),
            ..probe()
        }),
        startup_probe: Some(probe()),
        readiness_probe: Some(probe()),
        ..container("web")
    };
    assert_eq!(
        probe_termination_grace_period(&c, ProbeKind::Liveness),
        Some(5)
    );
    assert_eq!(probe_termination_grace_period(&c, ProbeKind::Startup), None);
    assert_eq!(
        probe_termination_grace_period(&c, ProbeKind::Readiness),
        None
    );
}
