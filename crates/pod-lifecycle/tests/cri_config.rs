//! Pod spec → CRI config translation, checked against the kubelet's behaviour
//! (reference §1.3, §1.5, §2.5, §5.4; checklist CRI-13, CRI-14, LC-18, QS-08..QS-10).

use std::collections::BTreeMap;

use cri_client::v1;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapEnvSource, ConfigMapKeySelector, Container, ContainerPort,
    EnvFromSource, EnvVar, EnvVarSource, ExecAction, Lifecycle, LifecycleHandler,
    ObjectFieldSelector, Pod, PodDNSConfig, PodDNSConfigOption, PodSecurityContext, PodSpec,
    ResourceFieldSelector, ResourceRequirements, Secret, SecretKeySelector, SecurityContext,
    Sysctl,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pod_lifecycle::Error;
use pod_lifecycle::cri_config::resources::calculate_linux_resources;
use pod_lifecycle::cri_config::{
    ContainerEnvironment, ContainerOptions, NodeAllocatable, SandboxOptions, container_config,
    container_env, container_log_path, expand, parse_resolv_conf, pod_full_name, pod_log_dir,
    sandbox_config,
};
use pod_lifecycle::labels;

// ---------------------------------------------------------------------------------------
// Builders

fn container(name: &str) -> Container {
    Container {
        name: name.into(),
        image: Some("busybox:1".into()),
        ..Default::default()
    }
}

fn pod_with(containers: Vec<Container>) -> Pod {
    let mut pod = Pod {
        spec: Some(PodSpec {
            containers,
            ..Default::default()
        }),
        ..Default::default()
    };
    pod.metadata.name = Some("web".into());
    pod.metadata.namespace = Some("prod".into());
    pod.metadata.uid = Some("uid-1234".into());
    pod
}

fn spec_mut(pod: &mut Pod) -> &mut PodSpec {
    pod.spec.as_mut().unwrap()
}

fn env_value(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

fn env_from(name: &str, source: EnvVarSource) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(source),
        ..Default::default()
    }
}

fn field_ref(path: &str) -> EnvVarSource {
    EnvVarSource {
        field_ref: Some(ObjectFieldSelector {
            field_path: path.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn resource_ref(resource: &str, divisor: Option<&str>) -> EnvVarSource {
    EnvVarSource {
        resource_field_ref: Some(ResourceFieldSelector {
            resource: resource.into(),
            divisor: divisor.map(|d| Quantity(d.into())),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn resources(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Option<ResourceRequirements> {
    let list = |items: &[(&str, &str)]| {
        (!items.is_empty()).then(|| {
            items
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect::<BTreeMap<_, _>>()
        })
    };
    Some(ResourceRequirements {
        requests: list(requests),
        limits: list(limits),
        ..Default::default()
    })
}

fn config_map(data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

fn secret(data: &[(&str, &str)]) -> Secret {
    Secret {
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Default::default()
    }
}

/// The single container of `pod`, configured with the default environment and options.
fn config_of(pod: &Pod) -> Result<v1::ContainerConfig, Error> {
    config_with(
        pod,
        &ContainerEnvironment::default(),
        &ContainerOptions::default(),
    )
}

fn config_with(
    pod: &Pod,
    env: &ContainerEnvironment<'_>,
    opts: &ContainerOptions,
) -> Result<v1::ContainerConfig, Error> {
    let c = pod.spec.as_ref().unwrap().containers[0].clone();
    container_config(pod, &c, 0, env, opts)
}

fn env_map(config: &v1::ContainerConfig) -> Vec<(&str, &str)> {
    config
        .envs
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect()
}

fn resources_of(config: &v1::ContainerConfig) -> &v1::LinuxContainerResources {
    config.linux.as_ref().unwrap().resources.as_ref().unwrap()
}

fn security_of(config: &v1::ContainerConfig) -> &v1::LinuxContainerSecurityContext {
    config
        .linux
        .as_ref()
        .unwrap()
        .security_context
        .as_ref()
        .unwrap()
}

/// Asserts the error is a container config error for `prod/web`, container `ctr`, with
/// exactly `field`, and a message containing `message`; its text names all of them.
#[track_caller]
fn assert_container_error(
    result: Result<v1::ContainerConfig, Error>,
    ctr: &str,
    field: &str,
    message: &str,
) {
    let err = result.expect_err("expected a config error");
    let text = err.to_string();
    match &err {
        Error::ContainerConfig {
            pod,
            container,
            field: f,
            message: m,
        } => {
            assert_eq!(pod, "prod/web", "{text}");
            assert_eq!(container, ctr, "{text}");
            assert_eq!(f, field, "{text}");
            assert!(m.contains(message), "{text}");
        }
        other => panic!("unexpected error {other:?}"),
    }
    for part in ["prod/web", ctr, field, message] {
        assert!(text.contains(part), "{text:?} should contain {part:?}");
    }
}

// ---------------------------------------------------------------------------------------
// CRI-13, CRI-14

#[test]
fn cri_13_container_labels_and_annotations() {
    let mut c = container("app");
    c.ports = Some(vec![ContainerPort {
        name: Some("http".into()),
        container_port: 8080,
        protocol: Some("TCP".into()),
        ..Default::default()
    }]);
    c.lifecycle = Some(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            exec: Some(ExecAction {
                command: Some(vec!["sleep".into(), "5".into()]),
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let mut pod = pod_with(vec![c.clone()]);
    pod.metadata.deletion_grace_period_seconds = Some(12);
    spec_mut(&mut pod).termination_grace_period_seconds = Some(45);

    let config = container_config(
        &pod,
        &c,
        3,
        &ContainerEnvironment::default(),
        &ContainerOptions::default(),
    )
    .unwrap();

    assert_eq!(
        config.metadata,
        Some(v1::ContainerMetadata {
            name: "app".into(),
            attempt: 3
        })
    );
    let expected_labels = [
        (labels::POD_NAME, "web"),
        (labels::POD_NAMESPACE, "prod"),
        (labels::POD_UID, "uid-1234"),
        (labels::CONTAINER_NAME, "app"),
    ];
    assert_eq!(config.labels.len(), expected_labels.len());
    for (k, v) in expected_labels {
        assert_eq!(config.labels[k], v, "{k}");
    }

    let a = &config.annotations;
    assert_eq!(
        a[labels::CONTAINER_HASH],
        format!("{:x}", pod_lifecycle::plan::container_hash(&c))
    );
    assert_eq!(a[labels::CONTAINER_RESTART_COUNT], "3");
    assert_eq!(a[labels::TERMINATION_MESSAGE_PATH], "/dev/termination-log");
    assert_eq!(a[labels::TERMINATION_MESSAGE_POLICY], "File");
    assert_eq!(a[labels::POD_TERMINATION_GRACE_PERIOD], "45");
    assert_eq!(a[labels::POD_DELETION_GRACE_PERIOD], "12");
    let ports: Vec<ContainerPort> = serde_json::from_str(&a[labels::CONTAINER_PORTS]).unwrap();
    assert_eq!(ports, c.ports.clone().unwrap());
    let pre_stop: LifecycleHandler = serde_json::from_str(&a[labels::PRE_STOP_HANDLER]).unwrap();
    assert_eq!(Some(pre_stop), c.lifecycle.unwrap().pre_stop);

    // Defaults for an undefaulted spec; optional annotations absent.
    let mut plain = container("plain");
    plain.termination_message_path = Some("/tmp/msg".into());
    plain.termination_message_policy = Some("FallbackToLogsOnError".into());
    let pod = pod_with(vec![plain]);
    let config = config_of(&pod).unwrap();
    let a = &config.annotations;
    assert_eq!(a[labels::TERMINATION_MESSAGE_PATH], "/tmp/msg");
    assert_eq!(
        a[labels::TERMINATION_MESSAGE_POLICY],
        "FallbackToLogsOnError"
    );
    assert_eq!(a[labels::POD_TERMINATION_GRACE_PERIOD], "30");
    assert_eq!(a[labels::CONTAINER_RESTART_COUNT], "0");
    for absent in [
        labels::POD_DELETION_GRACE_PERIOD,
        labels::CONTAINER_PORTS,
        labels::PRE_STOP_HANDLER,
    ] {
        assert!(!a.contains_key(absent), "{absent}");
    }
}

#[test]
fn cri_14_log_directory_and_paths() {
    let pod = pod_with(vec![container("app")]);
    assert_eq!(
        pod_log_dir("/var/log/pods", &pod).unwrap(),
        std::path::Path::new("/var/log/pods/prod_web_uid-1234")
    );
    assert_eq!(container_log_path("app", 0).unwrap(), "app/0.log");
    assert_eq!(container_log_path("app", 7).unwrap(), "app/7.log");
    assert_eq!(
        pod_lifecycle::logs::legacy_log_symlink(
            std::path::Path::new("/var/log/containers"),
            "web",
            "prod",
            "app",
            "0123abcd"
        )
        .unwrap(),
        std::path::Path::new("/var/log/containers/web_prod_app-0123abcd.log")
    );

    let sandbox = sandbox_config(&pod, 0, &SandboxOptions::default()).unwrap();
    assert_eq!(sandbox.log_directory, "/var/log/pods/prod_web_uid-1234");
    let custom = SandboxOptions {
        pod_logs_dir: "/srv/logs".into(),
        ..Default::default()
    };
    let sandbox = sandbox_config(&pod, 0, &custom).unwrap();
    assert_eq!(sandbox.log_directory, "/srv/logs/prod_web_uid-1234");

    let c = pod.spec.as_ref().unwrap().containers[0].clone();
    let config = container_config(
        &pod,
        &c,
        4,
        &ContainerEnvironment::default(),
        &ContainerOptions::default(),
    )
    .unwrap();
    assert_eq!(config.log_path, "app/4.log");
}

// ---------------------------------------------------------------------------------------
// LC-18

/// CRI-14: a pod whose UID, name or namespace is not one path component gets no sandbox
/// config (its log directory would be outside podLogsDir), and a container whose name is
/// not one gets no container config; the errors name the pod and the field.
#[test]
fn cri_14_traversal_in_uid_namespace_or_container_name_gets_no_config() {
    for bad in ["..", "/", "", ".", "a\0b", "../../canary"] {
        let mut pod = pod_with(vec![container("app")]);
        pod.metadata.uid = Some(bad.into());
        let err = sandbox_config(&pod, 0, &SandboxOptions::default()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("invalid pod prod/web: metadata.uid: Invalid value"),
            "{bad:?}: {message}"
        );

        let mut pod = pod_with(vec![container("app")]);
        pod.metadata.namespace = Some(bad.into());
        let err = sandbox_config(&pod, 0, &SandboxOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("metadata.namespace"),
            "{bad:?}: {err}"
        );

        let pod = pod_with(vec![container(bad)]);
        let spec = pod.spec.as_ref().unwrap();
        let env = ContainerEnvironment::default();
        let opts = ContainerOptions::default();
        let err = container_config(&pod, &spec.containers[0], 0, &env, &opts).unwrap_err();
        assert!(
            err.to_string().starts_with("pod prod/web: container "),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn lc_18_missing_configmap_is_config_error() {
    // env valueFrom a missing ConfigMap.
    let mut c = container("app");
    c.env = Some(vec![
        env_value("A", "1"),
        env_from(
            "B",
            EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: "x".into(),
                    key: "k".into(),
                    optional: None,
                }),
                ..Default::default()
            },
        ),
    ]);
    let pod = pod_with(vec![c.clone()]);
    assert_container_error(
        config_of(&pod),
        "app",
        "env[1].valueFrom.configMapKeyRef",
        "configmap \"x\" not found",
    );

    // The ConfigMap exists, the key does not.
    let lookup = |name: &str| (name == "x").then(|| config_map(&[("other", "v")]));
    let env = ContainerEnvironment {
        config_maps: &lookup,
        ..Default::default()
    };
    assert_container_error(
        config_with(&pod, &env, &ContainerOptions::default()),
        "app",
        "env[1].valueFrom.configMapKeyRef",
        "couldn't find key k in ConfigMap prod/x",
    );

    // envFrom a missing ConfigMap.
    let mut c = container("app");
    c.env_from = Some(vec![EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource {
            name: "settings".into(),
            optional: Some(false),
        }),
        ..Default::default()
    }]);
    let pod = pod_with(vec![c]);
    assert_container_error(
        config_of(&pod),
        "app",
        "envFrom[0].configMapRef",
        "configmap \"settings\" not found",
    );

    // The same through container_env.
    let err = container_env(
        &pod,
        &pod.spec.as_ref().unwrap().containers[0],
        &ContainerEnvironment::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("configmap \"settings\" not found"));
}

#[test]
fn lc_18_run_as_non_root_with_root_image_user() {
    let mut pod = pod_with(vec![container("app")]);
    spec_mut(&mut pod).security_context = Some(PodSecurityContext {
        run_as_non_root: Some(true),
        ..Default::default()
    });
    let root_image = ContainerEnvironment {
        image_user: Some(0),
        ..Default::default()
    };
    assert_container_error(
        config_with(&pod, &root_image, &ContainerOptions::default()),
        "app",
        "securityContext.runAsNonRoot",
        "container has runAsNonRoot and image will run as root",
    );

    // A non-root image user passes, and becomes the runtime user.
    let user_image = ContainerEnvironment {
        image_user: Some(1000),
        ..Default::default()
    };
    let config = config_with(&pod, &user_image, &ContainerOptions::default()).unwrap();
    assert_eq!(
        security_of(&config).run_as_user,
        Some(v1::Int64Value { value: 1000 })
    );

    // An unknown image user cannot be checked and is let through, like the kubelet.
    assert!(config_of(&pod).is_ok());

    // A named image user cannot be verified.
    let named = ContainerEnvironment {
        image_username: Some("nobody"),
        ..Default::default()
    };
    assert_container_error(
        config_with(&pod, &named, &ContainerOptions::default()),
        "app",
        "securityContext.runAsNonRoot",
        "non-numeric user (nobody)",
    );

    // The container's runAsUser overrides the image, in both directions.
    let mut c = container("app");
    c.security_context = Some(SecurityContext {
        run_as_user: Some(0),
        ..Default::default()
    });
    spec_mut(&mut pod).containers = vec![c];
    assert_container_error(
        config_with(&pod, &user_image, &ContainerOptions::default()),
        "app",
        "securityContext.runAsNonRoot",
        "container's runAsUser breaks non-root policy",
    );
    let mut c = container("app");
    c.security_context = Some(SecurityContext {
        run_as_user: Some(1001),
        ..Default::default()
    });
    spec_mut(&mut pod).containers = vec![c];
    let config = config_with(&pod, &root_image, &ContainerOptions::default()).unwrap();
    assert_eq!(
        security_of(&config).run_as_user,
        Some(v1::Int64Value { value: 1001 })
    );

    // runAsNonRoot: false at the container overrides the pod's true.
    let mut c = container("app");
    c.security_context = Some(SecurityContext {
        run_as_non_root: Some(false),
        ..Default::default()
    });
    spec_mut(&mut pod).containers = vec![c];
    assert!(config_with(&pod, &root_image, &ContainerOptions::default()).is_ok());
}

// ---------------------------------------------------------------------------------------
// QS-08..QS-10 (the formulas themselves, QS-05/QS-06, are tested in cgroup-enforcer)

#[test]
fn qs_08_request_and_limit_to_cri() {
    let mut c = container("app");
    c.resources = resources(&[("cpu", "250m")], &[("cpu", "500m")]);
    let config = config_of(&pod_with(vec![c])).unwrap();
    let r = resources_of(&config);
    assert_eq!(
        (r.cpu_shares, r.cpu_quota, r.cpu_period),
        (256, 50_000, 100_000)
    );
    assert_eq!(r.memory_limit_in_bytes, 0);
    // Burstable without a memory request: 999 (QS-16).
    assert_eq!(r.oom_score_adj, 999);

    let r = calculate_linux_resources(Some(250), Some(500), None, true);
    assert_eq!(
        (r.cpu_shares, r.cpu_quota, r.cpu_period),
        (256, 50_000, 100_000)
    );
}

#[test]
fn qs_09_limit_only_and_no_cpu() {
    // Limit only: the request defaults to the limit.
    let mut c = container("app");
    c.resources = resources(&[], &[("cpu", "1")]);
    let pod = pod_with(vec![c]);
    let r = resources_of(&config_of(&pod).unwrap()).clone();
    assert_eq!(
        (r.cpu_shares, r.cpu_quota, r.cpu_period),
        (1024, 100_000, 100_000)
    );

    // cpuCFSQuota=false: no quota at all, even with a limit.
    let no_quota = ContainerOptions {
        resources: cgroup_enforcer::ResourceOptions {
            cpu_cfs_quota: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let config = config_with(&pod, &ContainerEnvironment::default(), &no_quota).unwrap();
    let r = resources_of(&config);
    assert_eq!((r.cpu_shares, r.cpu_quota, r.cpu_period), (1024, 0, 0));

    // No CPU request or limit: minimum shares, unlimited quota.
    let pod = pod_with(vec![container("app")]);
    let r = resources_of(&config_of(&pod).unwrap()).clone();
    assert_eq!((r.cpu_shares, r.cpu_quota, r.cpu_period), (2, 0, 100_000));

    // An explicit zero request stays zero (the limit is not used).
    let mut c = container("app");
    c.resources = resources(&[("cpu", "0")], &[("cpu", "2")]);
    let r = resources_of(&config_of(&pod_with(vec![c])).unwrap()).clone();
    assert_eq!((r.cpu_shares, r.cpu_quota), (2, 200_000));

    let r = calculate_linux_resources(None, Some(1000), None, true);
    assert_eq!((r.cpu_shares, r.cpu_quota), (1024, 100_000));
    let r = calculate_linux_resources(None, None, None, true);
    assert_eq!((r.cpu_shares, r.cpu_quota, r.cpu_period), (2, 0, 100_000));
}

#[test]
fn qs_10_memory_limit_bytes() {
    let mut c = container("app");
    c.resources = resources(&[("memory", "128Mi")], &[("memory", "256Mi")]);
    let config = config_of(&pod_with(vec![c])).unwrap();
    assert_eq!(resources_of(&config).memory_limit_in_bytes, 268_435_456);

    for (limit, bytes) in [("1G", 1_000_000_000), ("0.5Gi", 536_870_912), ("1e3", 1000)] {
        let mut c = container("app");
        c.resources = resources(&[], &[("memory", limit)]);
        let config = config_of(&pod_with(vec![c])).unwrap();
        assert_eq!(
            resources_of(&config).memory_limit_in_bytes,
            bytes,
            "{limit}"
        );
    }
}

#[test]
fn qs_16_oom_score_adj_reaches_the_cri_config() {
    let opts = ContainerOptions {
        resources: cgroup_enforcer::ResourceOptions {
            memory_capacity: 8 << 30,
            ..Default::default()
        },
        ..Default::default()
    };
    let score = |requests: &[(&str, &str)], limits: &[(&str, &str)]| {
        let mut c = container("app");
        c.resources = resources(requests, limits);
        let config = config_with(&pod_with(vec![c]), &ContainerEnvironment::default(), &opts);
        resources_of(&config.unwrap()).oom_score_adj
    };
    assert_eq!(score(&[], &[]), 1000, "BestEffort");
    let both = [("cpu", "1"), ("memory", "1Gi")];
    assert_eq!(score(&[], &both), -997, "Guaranteed");
    assert_eq!(
        score(&[("memory", "4Gi")], &[]),
        500,
        "Burstable, half the node"
    );
    assert_eq!(
        score(&[("cpu", "100m")], &[]),
        999,
        "Burstable, no memory request"
    );
}

#[test]
fn qs_11_cgroup_v2_unified_entries_and_custom_period() {
    let mut c = container("app");
    c.resources = resources(&[("memory", "100Mi")], &[("cpu", "1"), ("memory", "200Mi")]);
    let pod = pod_with(vec![c]);
    let v2 = ContainerOptions {
        resources: cgroup_enforcer::ResourceOptions {
            cgroup_v2: true,
            cpu_cfs_quota_period: 50_000,
            ..Default::default()
        },
        ..Default::default()
    };
    let config = config_with(&pod, &ContainerEnvironment::default(), &v2).unwrap();
    let r = resources_of(&config);
    assert_eq!(
        r.unified.get("memory.oom.group").map(String::as_str),
        Some("1")
    );
    assert_eq!((r.cpu_quota, r.cpu_period), (50_000, 50_000));
    // singleProcessOOMKill, and cgroup v1: no memory.oom.group.
    let single = ContainerOptions {
        resources: cgroup_enforcer::ResourceOptions {
            cgroup_v2: true,
            single_process_oom_kill: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let config = config_with(&pod, &ContainerEnvironment::default(), &single).unwrap();
    assert!(resources_of(&config).unified.is_empty());
    assert!(resources_of(&config_of(&pod).unwrap()).unified.is_empty());
}

#[test]
fn oom_score_adj_comes_from_options() {
    let pod = pod_with(vec![container("app")]);
    let opts = ContainerOptions {
        oom_score_adj: Some(-997),
        ..Default::default()
    };
    let config = config_with(&pod, &ContainerEnvironment::default(), &opts).unwrap();
    assert_eq!(resources_of(&config).oom_score_adj, -997);
}

// ---------------------------------------------------------------------------------------
// $(VAR) expansion

#[test]
fn expansion_follows_the_kubernetes_table() {
    let vars: BTreeMap<&str, &str> = [
        ("VAR_A", "A"),
        ("VAR_B", "B"),
        ("VAR_C", "C"),
        ("VAR_REF", "$(VAR_A)"),
        ("VAR_EMPTY", ""),
    ]
    .into();
    let cases = [
        ("whole string", "$(VAR_A)", "A"),
        ("repeat", "$(VAR_A)-$(VAR_A)", "A-A"),
        ("beginning", "$(VAR_A)-1", "A-1"),
        ("middle", "___$(VAR_B)___", "___B___"),
        ("end", "___$(VAR_C)", "___C"),
        ("compound", "$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
        ("escape & expand", "$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
        (
            "compound escape",
            "$$(VAR_A)_$$(VAR_B)",
            "$(VAR_A)_$(VAR_B)",
        ),
        ("mixed in escapes", "f000-$$VAR_A", "f000-$VAR_A"),
        ("backslash escape ignored", "foo\\$(VAR_C)bar", "foo\\Cbar"),
        (
            "backslash escape ignored x2",
            "foo\\\\$(VAR_C)bar",
            "foo\\\\Cbar",
        ),
        (
            "nested var references",
            "$(VAR_A$(VAR_B))",
            "$(VAR_A$(VAR_B))",
        ),
        ("nested, second type", "$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"),
        ("value is a reference", "$(VAR_REF)", "$(VAR_A)"),
        (
            "reference x 2",
            "%%$(VAR_REF)--$(VAR_REF)%%",
            "%%$(VAR_A)--$(VAR_A)%%",
        ),
        ("empty var", "foo$(VAR_EMPTY)bar", "foobar"),
        (
            "unterminated expression",
            "foo$(VAR_Awhoops!",
            "foo$(VAR_Awhoops!",
        ),
        (
            "expression without operator",
            "f00__(VAR_A)__",
            "f00__(VAR_A)__",
        ),
        ("shell special vars pass through", "$?_boo_$!", "$?_boo_$!"),
        ("bare operators are ignored", "$VAR_A", "$VAR_A"),
        (
            "undefined vars are passed through",
            "$(VAR_DNE)",
            "$(VAR_DNE)",
        ),
        (
            "even operators, undefined",
            "$$$$$$(BIG_MONEY)",
            "$$$(BIG_MONEY)",
        ),
        ("even operators, defined", "$$$$$$(VAR_A)", "$$$(VAR_A)"),
        (
            "odd operators, undefined",
            "$$$$$$$(GOOD_ODDS)",
            "$$$$(GOOD_ODDS)",
        ),
        ("odd operators, defined", "$$$$$$$(VAR_A)", "$$$A"),
        ("missing open expression", "$VAR_A)", "$VAR_A)"),
        ("shell syntax ignored", "${VAR_A}", "${VAR_A}"),
        (
            "trailing incomplete expression",
            "$(VAR_B)_______$(A",
            "B_______$(A",
        ),
        (
            "trailing incomplete, no content",
            "$(VAR_C)_______$(",
            "C_______$(",
        ),
        (
            "operator at end is preserved",
            "$(VAR_A)foobarzab$",
            "Afoobarzab$",
        ),
        (
            "shell escaped incomplete expr",
            "foo-\\$(VAR_A",
            "foo-\\$(VAR_A",
        ),
        ("lots of $( in middle", "--$($($($($--", "--$($($($($--"),
        (
            "lots of $( in beginning",
            "$($($($($--foo$(",
            "$($($($($--foo$(",
        ),
        ("lots of $( at end", "foo0--$($($($(", "foo0--$($($($("),
        ("escaped operators in names", "$(foo$$var)", "$(foo$$var)"),
        ("newline not expanded", "\n", "\n"),
        ("empty input", "", ""),
        ("lone operator", "$", "$"),
    ];
    for (name, input, expected) in cases {
        assert_eq!(
            expand(input, |n| vars.get(n).copied()),
            expected,
            "{name}: {input:?}"
        );
    }
}

#[test]
fn env_values_reference_earlier_variables_only() {
    let mut c = container("app");
    c.env = Some(vec![
        env_value("FOO", "bar"),
        env_value("ZOO", "$(FOO)-1"),
        env_value("BLU", "$(ZOO)-2"),
        env_value("EARLY", "$(LATE)"),
        env_value("LATE", "late"),
        env_value("ESCAPED", "$$(FOO)"),
        env_value("FOO", "again-$(FOO)"),
    ]);
    let config = config_of(&pod_with(vec![c])).unwrap();
    assert_eq!(
        env_map(&config),
        [
            ("FOO", "again-bar"),
            ("ZOO", "bar-1"),
            ("BLU", "bar-1-2"),
            ("EARLY", "$(LATE)"),
            ("LATE", "late"),
            ("ESCAPED", "$(FOO)"),
        ]
    );
}

#[test]
fn command_and_args_expand_with_the_resolved_env() {
    let mut c = container("app");
    c.command = Some(vec!["/bin/$(SHELL_NAME)".into(), "-c".into()]);
    c.args = Some(vec![
        "echo $(GREETING) $$(GREETING) $(UNKNOWN) $(FROM_CM) $(".into(),
    ]);
    c.working_dir = Some("/work/$(GREETING)".into());
    c.env = Some(vec![
        env_value("SHELL_NAME", "sh"),
        env_value("GREETING", "hi"),
    ]);
    c.env_from = Some(vec![EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource {
            name: "cm".into(),
            optional: None,
        }),
        ..Default::default()
    }]);
    let lookup = |_: &str| Some(config_map(&[("FROM_CM", "cm-value")]));
    let env = ContainerEnvironment {
        config_maps: &lookup,
        ..Default::default()
    };
    let config = config_with(&pod_with(vec![c]), &env, &ContainerOptions::default()).unwrap();
    assert_eq!(config.command, ["/bin/sh", "-c"]);
    assert_eq!(config.args, ["echo hi $(GREETING) $(UNKNOWN) cm-value $("]);
    // workingDir is not expanded by the kubelet.
    assert_eq!(config.working_dir, "/work/$(GREETING)");
}

#[test]
fn env_from_first_then_env_overrides_and_service_env_last() {
    let mut c = container("app");
    c.env_from = Some(vec![
        EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: "cm".into(),
                optional: None,
            }),
            prefix: Some("CM_".into()),
            ..Default::default()
        },
        EnvFromSource {
            secret_ref: Some(k8s_openapi::api::core::v1::SecretEnvSource {
                name: "s".into(),
                optional: None,
            }),
            ..Default::default()
        },
        EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: "missing".into(),
                optional: Some(true),
            }),
            ..Default::default()
        },
    ]);
    c.env = Some(vec![
        env_value("CM_B", "overridden"),
        env_value("REF", "$(CM_A)/$(TOKEN)/$(SVC_HOST)"),
    ]);
    let cms = |name: &str| (name == "cm").then(|| config_map(&[("A", "a"), ("B", "b")]));
    let secrets = |name: &str| (name == "s").then(|| secret(&[("TOKEN", "t0k")]));
    let service_env = [
        ("SVC_HOST".to_string(), "10.0.0.1".to_string()),
        ("CM_A".to_string(), "shadowed".to_string()),
    ];
    let env = ContainerEnvironment {
        config_maps: &cms,
        secrets: &secrets,
        service_env: &service_env,
        ..Default::default()
    };
    let config = config_with(&pod_with(vec![c]), &env, &ContainerOptions::default()).unwrap();
    assert_eq!(
        env_map(&config),
        [
            ("CM_A", "a"),
            ("CM_B", "overridden"),
            ("TOKEN", "t0k"),
            ("REF", "a/t0k/10.0.0.1"),
            ("SVC_HOST", "10.0.0.1"),
        ]
    );
}

#[test]
fn optional_sources_skip_the_variable() {
    let mut c = container("app");
    c.env = Some(vec![
        env_value("KEEP", "from-value"),
        env_from(
            "KEEP",
            EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: "absent".into(),
                    key: "k".into(),
                    optional: Some(true),
                }),
                ..Default::default()
            },
        ),
        env_from(
            "NO_KEY",
            EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: "s".into(),
                    key: "absent".into(),
                    optional: Some(true),
                }),
                ..Default::default()
            },
        ),
        env_from(
            "PASSWORD",
            EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: "s".into(),
                    key: "password".into(),
                    optional: None,
                }),
                ..Default::default()
            },
        ),
        EnvVar {
            name: "EMPTY".into(),
            ..Default::default()
        },
    ]);
    let secrets = |name: &str| (name == "s").then(|| secret(&[("password", "hunter2")]));
    let env = ContainerEnvironment {
        secrets: &secrets,
        ..Default::default()
    };
    let config = config_with(&pod_with(vec![c]), &env, &ContainerOptions::default()).unwrap();
    assert_eq!(
        env_map(&config),
        [
            ("KEEP", "from-value"),
            ("PASSWORD", "hunter2"),
            ("EMPTY", "")
        ]
    );
}

#[test]
fn missing_secrets_and_keys_use_the_kubelet_messages() {
    let mut c = container("app");
    c.env = Some(vec![env_from(
        "P",
        EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: "db".into(),
                key: "password".into(),
                optional: Some(false),
            }),
            ..Default::default()
        },
    )]);
    let pod = pod_with(vec![c]);
    assert_container_error(
        config_of(&pod),
        "app",
        "env[0].valueFrom.secretKeyRef",
        "secret \"db\" not found",
    );
    let secrets = |_: &str| Some(secret(&[("user", "u")]));
    let env = ContainerEnvironment {
        secrets: &secrets,
        ..Default::default()
    };
    assert_container_error(
        config_with(&pod, &env, &ContainerOptions::default()),
        "app",
        "env[0].valueFrom.secretKeyRef",
        "couldn't find key password in Secret prod/db",
    );
}

// ---------------------------------------------------------------------------------------
// fieldRef, resourceFieldRef

#[test]
fn field_refs_resolve_like_the_downward_api() {
    let paths = [
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "metadata.labels['app']",
        "metadata.annotations['team.example/owner']",
        "metadata.labels['absent']",
        "spec.nodeName",
        "spec.serviceAccountName",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    ];
    let mut c = container("app");
    c.env = Some(
        paths
            .iter()
            .enumerate()
            .map(|(i, p)| env_from(&format!("V{i}"), field_ref(p)))
            .collect(),
    );
    let mut pod = pod_with(vec![c]);
    pod.metadata.labels = Some([("app".to_string(), "shop".to_string())].into());
    pod.metadata.annotations = Some([("team.example/owner".to_string(), "ops".to_string())].into());
    spec_mut(&mut pod).service_account_name = Some("builder".into());
    let pod_ips = ["10.1.0.7".to_string(), "fd00::7".to_string()];
    let host_ips = ["192.168.1.5".to_string(), "fd00::5".to_string()];
    let env = ContainerEnvironment {
        node_name: "node-a",
        pod_ips: &pod_ips,
        host_ips: &host_ips,
        service_account_name: "default",
        ..Default::default()
    };
    let config = config_with(&pod, &env, &ContainerOptions::default()).unwrap();
    let values: Vec<&str> = config.envs.iter().map(|kv| kv.value.as_str()).collect();
    assert_eq!(
        values,
        [
            "web",
            "prod",
            "uid-1234",
            "shop",
            "ops",
            "",
            "node-a",
            "builder",
            "192.168.1.5",
            "192.168.1.5,fd00::5",
            "10.1.0.7",
            "10.1.0.7,fd00::7",
        ]
    );

    // The pod's own nodeName wins over the environment's; a host-network pod without
    // pod IPs reports the node's.
    spec_mut(&mut pod).node_name = Some("node-b".into());
    spec_mut(&mut pod).host_network = Some(true);
    let env = ContainerEnvironment {
        node_name: "node-a",
        host_ips: &host_ips,
        ..Default::default()
    };
    let config = config_with(&pod, &env, &ContainerOptions::default()).unwrap();
    let get = |k: &str| {
        config
            .envs
            .iter()
            .find(|kv| kv.key == k)
            .map(|kv| kv.value.clone())
            .unwrap()
    };
    assert_eq!(get("V6"), "node-b");
    assert_eq!(get("V10"), "192.168.1.5");
}

#[test]
fn bad_field_refs_name_the_field() {
    let mut c = container("app");
    c.env = Some(vec![
        env_value("OK", "1"),
        env_value("OK2", "2"),
        env_from("BAD", field_ref("spec.nodeNmae")),
    ]);
    let pod = pod_with(vec![c]);
    assert_container_error(
        config_of(&pod),
        "app",
        "env[2].valueFrom.fieldRef.fieldPath",
        "field label not supported: spec.nodeNmae",
    );

    let mut c = container("app");
    c.env = Some(vec![env_from("BAD", field_ref("spec.containers['x']"))]);
    assert_container_error(
        config_of(&pod_with(vec![c])),
        "app",
        "env[0].valueFrom.fieldRef.fieldPath",
        "does not support subscript",
    );

    let mut c = container("app");
    c.env = Some(vec![env_from(
        "BAD",
        EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: Some("v2".into()),
                field_path: "metadata.name".into(),
            }),
            ..Default::default()
        },
    )]);
    assert_container_error(
        config_of(&pod_with(vec![c])),
        "app",
        "env[0].valueFrom.fieldRef.apiVersion",
        "unsupported pod version: v2",
    );

    // status.hostIP without a known node address is an error, not an empty value.
    let mut c = container("app");
    c.env = Some(vec![env_from("HOST", field_ref("status.hostIP"))]);
    assert_container_error(
        config_of(&pod_with(vec![c])),
        "app",
        "env[0].valueFrom.fieldRef",
        "host IP unknown",
    );
}

#[test]
fn resource_field_refs_round_up_and_default_to_allocatable() {
    let mut c = container("app");
    c.resources = resources(
        &[("cpu", "250m"), ("memory", "100Mi")],
        &[("memory", "1Gi"), ("ephemeral-storage", "0")],
    );
    c.env = Some(vec![
        env_from("REQ_CPU", resource_ref("requests.cpu", None)),
        env_from("REQ_CPU_M", resource_ref("requests.cpu", Some("1m"))),
        env_from("LIM_CPU", resource_ref("limits.cpu", None)),
        env_from("LIM_MEM_MI", resource_ref("limits.memory", Some("1Mi"))),
        env_from("REQ_MEM", resource_ref("requests.memory", None)),
        env_from("REQ_MEM_G", resource_ref("requests.memory", Some("1G"))),
        env_from(
            "LIM_EPH",
            resource_ref("limits.ephemeral-storage", Some("1Gi")),
        ),
        env_from("REQ_EPH", resource_ref("requests.ephemeral-storage", None)),
        env_from("ZERO_DIV", resource_ref("limits.memory", Some("0"))),
    ]);
    let env = ContainerEnvironment {
        allocatable: NodeAllocatable {
            cpu_millis: Some(3500),
            memory_bytes: Some(8 << 30),
            ephemeral_storage_bytes: Some(20 << 30),
        },
        ..Default::default()
    };
    let config = config_with(&pod_with(vec![c]), &env, &ContainerOptions::default()).unwrap();
    assert_eq!(
        env_map(&config),
        [
            ("REQ_CPU", "1"),
            ("REQ_CPU_M", "250"),
            ("LIM_CPU", "4"),
            ("LIM_MEM_MI", "1024"),
            ("REQ_MEM", "104857600"),
            ("REQ_MEM_G", "1"),
            ("LIM_EPH", "20"),
            ("REQ_EPH", "0"),
            ("ZERO_DIV", "1073741824"),
        ]
    );
}

#[test]
fn resource_field_refs_can_name_another_container() {
    let mut sidecar = container("sidecar");
    sidecar.resources = resources(&[], &[("cpu", "2")]);
    let mut c = container("app");
    c.env = Some(vec![env_from(
        "SIDECAR_CPU",
        EnvVarSource {
            resource_field_ref: Some(ResourceFieldSelector {
                container_name: Some("sidecar".into()),
                resource: "limits.cpu".into(),
                divisor: Some(Quantity("1m".into())),
            }),
            ..Default::default()
        },
    )]);
    let pod = pod_with(vec![c.clone(), sidecar]);
    let config = config_of(&pod).unwrap();
    assert_eq!(env_map(&config), [("SIDECAR_CPU", "2000")]);

    let pod = pod_with(vec![c]);
    assert_container_error(
        config_of(&pod),
        "app",
        "env[0].valueFrom.resourceFieldRef.containerName",
        "container sidecar not found",
    );
}

#[test]
fn bad_resource_field_refs_name_the_field() {
    let mut c = container("app");
    c.env = Some(vec![env_from("X", resource_ref("limits.gpu", None))]);
    assert_container_error(
        config_of(&pod_with(vec![c])),
        "app",
        "env[0].valueFrom.resourceFieldRef.resource",
        "unsupported container resource: limits.gpu",
    );
    let mut c = container("app");
    c.env = Some(vec![env_from(
        "X",
        resource_ref("limits.memory", Some("lots")),
    )]);
    assert_container_error(
        config_of(&pod_with(vec![c])),
        "app",
        "env[0].valueFrom.resourceFieldRef.divisor",
        "cannot parse \"lots\"",
    );
}

// ---------------------------------------------------------------------------------------
// Quantities (parsing itself is tested in cgroup-enforcer)

#[test]
fn unparseable_quantities_name_the_field() {
    let mut c = container("app");
    c.resources = resources(&[("cpu", "100mm")], &[]);
    assert_container_error(
        config_of(&pod_with(vec![c])),
        "app",
        "resources.requests.cpu",
        "cannot parse \"100mm\"",
    );
    let mut c = container("app");
    c.resources = resources(&[], &[("memory", "1 Gi")]);
    assert_container_error(
        config_of(&pod_with(vec![c])),
        "app",
        "resources.limits.memory",
        "quantities must match the regular expression",
    );
    let mut c = container("app");
    c.resources = resources(&[], &[("cpu", "-1")]);
    assert_container_error(
        config_of(&pod_with(vec![c])),
        "app",
        "resources.limits.cpu",
        "must be greater than or equal to 0",
    );
    let mut c = container("app");
    c.resources = resources(&[], &[("memory", "16Ei")]);
    assert_container_error(
        config_of(&pod_with(vec![c])),
        "app",
        "resources.limits.memory",
        "out of range",
    );
}

// ---------------------------------------------------------------------------------------
// Other bad specs

#[test]
fn invalid_ports_are_errors_for_that_container() {
    for (port, host_port, field) in [
        (0, None, "ports[1].containerPort"),
        (70000, None, "ports[1].containerPort"),
        (80, Some(-1), "ports[1].hostPort"),
        (80, Some(65536), "ports[1].hostPort"),
    ] {
        let mut bad = container("bad");
        bad.ports = Some(vec![
            ContainerPort {
                container_port: 8080,
                ..Default::default()
            },
            ContainerPort {
                container_port: port,
                host_port,
                ..Default::default()
            },
        ]);
        let good = container("good");
        let pod = pod_with(vec![good.clone(), bad.clone()]);
        let env = ContainerEnvironment::default();
        let opts = ContainerOptions::default();
        assert_container_error(
            container_config(&pod, &bad, 0, &env, &opts),
            "bad",
            field,
            "must be between 1 and 65535",
        );
        assert!(container_config(&pod, &good, 0, &env, &opts).is_ok());

        // The sandbox carries the mappings, so it refuses the pod, naming the path.
        let err = sandbox_config(&pod, 0, &SandboxOptions::default()).unwrap_err();
        match err {
            Error::PodConfig { pod, field: f, .. } => {
                assert_eq!(pod, "prod/web");
                assert_eq!(f, format!("spec.containers[1].{field}"));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn duplicated_container_names_are_errors() {
    let mut init = container("app");
    init.image = Some("init:1".into());
    let mut pod = pod_with(vec![container("app"), container("other")]);
    spec_mut(&mut pod).init_containers = Some(vec![init]);
    let env = ContainerEnvironment::default();
    let opts = ContainerOptions::default();
    let app = container("app");
    assert_container_error(
        container_config(&pod, &app, 0, &env, &opts),
        "app",
        "name",
        "duplicate container name \"app\"",
    );
    assert!(container_config(&pod, &container("other"), 0, &env, &opts).is_ok());

    let mut nameless = container("");
    nameless.image = Some("x".into());
    let pod = pod_with(vec![nameless.clone()]);
    assert!(matches!(
        container_config(&pod, &nameless, 0, &env, &opts),
        Err(Error::ContainerConfig { field, .. }) if field == "name"
    ));
    let mut no_image = container("app");
    no_image.image = None;
    assert_container_error(
        config_of(&pod_with(vec![no_image])),
        "app",
        "image",
        "must be set",
    );
}

#[test]
fn invalid_env_names_are_errors() {
    let mut c = container("app");
    c.env = Some(vec![env_value("A", "1"), env_value("B=C", "2")]);
    assert_container_error(
        config_of(&pod_with(vec![c])),
        "app",
        "env[1].name",
        "invalid environment variable name",
    );
}

#[test]
fn a_pod_without_spec_does_not_panic() {
    let mut pod = Pod::default();
    pod.metadata.name = Some("web".into());
    pod.metadata.namespace = Some("prod".into());
    // Without a UID there is no log directory to name: an error, not a panic.
    assert!(sandbox_config(&pod, 0, &SandboxOptions::default()).is_err());
    pod.metadata.uid = Some("uid-1".into());
    let sandbox = sandbox_config(&pod, 0, &SandboxOptions::default()).unwrap();
    assert_eq!(sandbox.hostname, "web");
    let c = container("app");
    let config = container_config(
        &pod,
        &c,
        0,
        &ContainerEnvironment::default(),
        &ContainerOptions::default(),
    )
    .unwrap();
    assert_eq!(config.metadata.unwrap().name, "app");
}

// ---------------------------------------------------------------------------------------
// Container: image, stdio, mounts, security context

#[test]
fn image_stdio_mounts_and_devices() {
    let mut c = container("app");
    c.stdin = Some(true);
    c.stdin_once = Some(true);
    c.tty = Some(true);
    let pod = pod_with(vec![c]);
    let mount = v1::Mount {
        container_path: "/data".into(),
        host_path: "/var/lib/kubelet/pods/uid-1234/volumes/data".into(),
        ..Default::default()
    };
    let device = v1::Device {
        container_path: "/dev/fuse".into(),
        host_path: "/dev/fuse".into(),
        permissions: "rwm".into(),
    };
    let opts = ContainerOptions {
        mounts: vec![mount.clone()],
        devices: vec![device.clone()],
        image_ref: Some("sha256:abc".into()),
        ..Default::default()
    };
    let config = config_with(&pod, &ContainerEnvironment::default(), &opts).unwrap();
    let image = config.image.unwrap();
    assert_eq!(image.image, "sha256:abc");
    assert_eq!(image.user_specified_image, "busybox:1");
    assert!(config.stdin && config.stdin_once && config.tty);
    assert_eq!(config.mounts, [mount]);
    assert_eq!(config.devices, [device]);

    let config = config_of(&pod).unwrap();
    assert_eq!(config.image.unwrap().image, "busybox:1");
}

#[test]
fn container_security_context_merges_pod_and_container() {
    let mut c = container("app");
    c.security_context = Some(SecurityContext {
        run_as_group: Some(3000),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            add: Some(vec!["NET_ADMIN".into()]),
            drop: Some(vec!["ALL".into()]),
        }),
        ..Default::default()
    });
    let mut pod = pod_with(vec![c]);
    spec_mut(&mut pod).security_context = Some(PodSecurityContext {
        run_as_user: Some(1000),
        run_as_group: Some(2000),
        fs_group: Some(4000),
        supplemental_groups: Some(vec![5000, 5001]),
        ..Default::default()
    });
    spec_mut(&mut pod).share_process_namespace = Some(true);
    let config = config_of(&pod).unwrap();
    let sc = security_of(&config);
    assert_eq!(sc.run_as_user, Some(v1::Int64Value { value: 1000 }));
    assert_eq!(sc.run_as_group, Some(v1::Int64Value { value: 3000 }));
    assert!(sc.readonly_rootfs);
    assert!(!sc.privileged);
    assert!(sc.no_new_privs);
    let caps = sc.capabilities.as_ref().unwrap();
    assert_eq!(caps.add_capabilities, ["NET_ADMIN"]);
    assert_eq!(caps.drop_capabilities, ["ALL"]);
    assert_eq!(sc.supplemental_groups, [4000, 5000, 5001]);
    let ns = sc.namespace_options.as_ref().unwrap();
    assert_eq!(ns.pid, v1::NamespaceMode::Pod as i32);
    assert_eq!(ns.network, v1::NamespaceMode::Pod as i32);
    assert!(sc.masked_paths.contains(&"/proc/kcore".to_string()));
    assert!(sc.readonly_paths.contains(&"/proc/sys".to_string()));
    assert_eq!(
        sc.seccomp.as_ref().unwrap().profile_type,
        v1::security_profile::ProfileType::Unconfined as i32
    );
}

#[test]
fn no_new_privs_only_for_explicit_false_without_privilege() {
    let case = |sc: SecurityContext| {
        let mut c = container("app");
        c.security_context = Some(sc);
        security_of(&config_of(&pod_with(vec![c])).unwrap()).no_new_privs
    };
    assert!(
        !case(SecurityContext::default()),
        "escalation allowed by default"
    );
    assert!(!case(SecurityContext {
        allow_privilege_escalation: Some(true),
        ..Default::default()
    }));
    assert!(case(SecurityContext {
        allow_privilege_escalation: Some(false),
        ..Default::default()
    }));
    assert!(!case(SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(true),
        ..Default::default()
    }));
    assert!(!case(SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            add: Some(vec!["CAP_SYS_ADMIN".into()]),
            ..Default::default()
        }),
        ..Default::default()
    }));
    // Privileged containers are sent as privileged.
    let mut c = container("app");
    c.security_context = Some(SecurityContext {
        privileged: Some(true),
        ..Default::default()
    });
    assert!(security_of(&config_of(&pod_with(vec![c])).unwrap()).privileged);
}

#[test]
fn seccomp_profiles() {
    use k8s_openapi::api::core::v1::SeccompProfile;
    use v1::security_profile::ProfileType;
    let mut c = container("app");
    c.security_context = Some(SecurityContext {
        seccomp_profile: Some(SeccompProfile {
            type_: "Localhost".into(),
            localhost_profile: Some("profiles/audit.json".into()),
        }),
        ..Default::default()
    });
    let mut pod = pod_with(vec![c]);
    let config = config_of(&pod).unwrap();
    let profile = security_of(&config).seccomp.clone().unwrap();
    assert_eq!(profile.profile_type, ProfileType::Localhost as i32);
    assert_eq!(
        profile.localhost_ref,
        "/var/lib/kubelet/seccomp/profiles/audit.json"
    );

    // The pod's profile applies when the container has none; seccompDefault otherwise.
    spec_mut(&mut pod).containers = vec![container("app")];
    let opts = ContainerOptions {
        seccomp_default: true,
        ..Default::default()
    };
    let config = config_with(&pod, &ContainerEnvironment::default(), &opts).unwrap();
    assert_eq!(
        security_of(&config).seccomp.as_ref().unwrap().profile_type,
        ProfileType::RuntimeDefault as i32
    );
    spec_mut(&mut pod).security_context = Some(PodSecurityContext {
        seccomp_profile: Some(SeccompProfile {
            type_: "Localhost".into(),
            localhost_profile: None,
        }),
        ..Default::default()
    });
    assert_container_error(
        config_of(&pod),
        "app",
        "securityContext.seccompProfile.localhostProfile",
        "localhostProfile must be set",
    );
}

// ---------------------------------------------------------------------------------------
// Sandbox

#[test]
fn sandbox_metadata_labels_annotations_and_ports() {
    let mut c1 = container("app");
    c1.ports = Some(vec![
        ContainerPort {
            name: Some("http".into()),
            container_port: 8080,
            host_port: Some(80),
            protocol: Some("TCP".into()),
            ..Default::default()
        },
        ContainerPort {
            name: Some("http".into()),
            container_port: 8081,
            ..Default::default()
        },
        ContainerPort {
            container_port: 53,
            host_port: Some(5353),
            protocol: Some("UDP".into()),
            host_ip: Some("127.0.0.1".into()),
            ..Default::default()
        },
    ]);
    let mut c2 = container("metrics");
    c2.ports = Some(vec![ContainerPort {
        container_port: 9090,
        protocol: Some("SCTP".into()),
        ..Default::default()
    }]);
    let mut pod = pod_with(vec![c1, c2]);
    pod.metadata.labels = Some(
        [
            ("app".to_string(), "shop".to_string()),
            (labels::POD_NAME.to_string(), "spoofed".to_string()),
        ]
        .into(),
    );
    pod.metadata.annotations = Some([("note".to_string(), "x".to_string())].into());
    let opts = SandboxOptions {
        cgroup_parent: Some("/kubepods/burstable/poduid-1234".into()),
        ..Default::default()
    };
    let config = sandbox_config(&pod, 2, &opts).unwrap();

    assert_eq!(
        config.metadata,
        Some(v1::PodSandboxMetadata {
            name: "web".into(),
            uid: "uid-1234".into(),
            namespace: "prod".into(),
            attempt: 2,
        })
    );
    assert_eq!(config.labels["app"], "shop");
    assert_eq!(config.labels[labels::POD_NAME], "web");
    assert_eq!(config.labels[labels::POD_NAMESPACE], "prod");
    assert_eq!(config.labels[labels::POD_UID], "uid-1234");
    assert_eq!(config.annotations["note"], "x");
    assert_eq!(
        config.port_mappings,
        [
            v1::PortMapping {
                protocol: v1::Protocol::Tcp as i32,
                container_port: 8080,
                host_port: 80,
                host_ip: String::new(),
            },
            v1::PortMapping {
                protocol: v1::Protocol::Udp as i32,
                container_port: 53,
                host_port: 5353,
                host_ip: "127.0.0.1".into(),
            },
            v1::PortMapping {
                protocol: v1::Protocol::Sctp as i32,
                container_port: 9090,
                host_port: 0,
                host_ip: String::new(),
            },
        ]
    );
    let linux = config.linux.unwrap();
    assert_eq!(linux.cgroup_parent, "/kubepods/burstable/poduid-1234");
    let sc = linux.security_context.unwrap();
    assert_eq!(
        sc.seccomp.unwrap().profile_type,
        v1::security_profile::ProfileType::RuntimeDefault as i32
    );
    assert!(!sc.privileged);
}

#[test]
fn sandbox_hostname() {
    let mut pod = pod_with(vec![container("app")]);
    assert_eq!(
        sandbox_config(&pod, 0, &SandboxOptions::default())
            .unwrap()
            .hostname,
        "web"
    );

    spec_mut(&mut pod).hostname = Some("db-0".into());
    assert_eq!(
        sandbox_config(&pod, 0, &SandboxOptions::default())
            .unwrap()
            .hostname,
        "db-0"
    );

    // FQDN with a subdomain when asked.
    spec_mut(&mut pod).subdomain = Some("db".into());
    spec_mut(&mut pod).set_hostname_as_fqdn = Some(true);
    let opts = SandboxOptions {
        cluster_domain: "cluster.local".into(),
        ..Default::default()
    };
    assert_eq!(
        sandbox_config(&pod, 0, &opts).unwrap().hostname,
        "db-0.db.prod.svc.cluster.local"
    );

    // A long pod name is cut to 63 characters without a trailing '-' or '.'.
    let mut long = pod_with(vec![container("app")]);
    let name = format!("{}-{}", "a".repeat(62), "b".repeat(10));
    long.metadata.name = Some(name);
    let hostname = sandbox_config(&long, 0, &SandboxOptions::default())
        .unwrap()
        .hostname;
    assert_eq!(hostname, "a".repeat(62));

    // Host network: no hostname, the node's is used.
    spec_mut(&mut pod).host_network = Some(true);
    assert_eq!(
        sandbox_config(&pod, 0, &SandboxOptions::default())
            .unwrap()
            .hostname,
        ""
    );

    // An invalid spec.hostname is a pod config error naming the field.
    let mut bad = pod_with(vec![container("app")]);
    spec_mut(&mut bad).hostname = Some("Not_A_Label".into());
    match sandbox_config(&bad, 0, &SandboxOptions::default()).unwrap_err() {
        Error::PodConfig {
            pod,
            field,
            message,
        } => {
            assert_eq!(pod, "prod/web");
            assert_eq!(field, "spec.hostname");
            assert!(message.contains("is not a valid DNS label"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sandbox_namespaces_sysctls_and_pod_security_context() {
    let ns_of = |pod: &Pod| {
        sandbox_config(pod, 0, &SandboxOptions::default())
            .unwrap()
            .linux
            .unwrap()
            .security_context
            .unwrap()
            .namespace_options
            .unwrap()
    };
    let node = v1::NamespaceMode::Node as i32;
    let pod_mode = v1::NamespaceMode::Pod as i32;
    let container_mode = v1::NamespaceMode::Container as i32;

    let mut pod = pod_with(vec![container("app")]);
    let ns = ns_of(&pod);
    assert_eq!(
        (ns.network, ns.pid, ns.ipc),
        (pod_mode, container_mode, pod_mode)
    );

    spec_mut(&mut pod).share_process_namespace = Some(true);
    assert_eq!(ns_of(&pod).pid, pod_mode);

    spec_mut(&mut pod).host_network = Some(true);
    spec_mut(&mut pod).host_pid = Some(true);
    spec_mut(&mut pod).host_ipc = Some(true);
    let ns = ns_of(&pod);
    assert_eq!((ns.network, ns.pid, ns.ipc), (node, node, node));

    let mut privileged = container("priv");
    privileged.security_context = Some(SecurityContext {
        privileged: Some(true),
        ..Default::default()
    });
    let mut pod = pod_with(vec![container("app")]);
    spec_mut(&mut pod).init_containers = Some(vec![privileged]);
    spec_mut(&mut pod).security_context = Some(PodSecurityContext {
        run_as_user: Some(1000),
        run_as_group: Some(2000),
        fs_group: Some(3000),
        supplemental_groups: Some(vec![4000]),
        sysctls: Some(vec![Sysctl {
            name: "net.ipv4.ip_local_port_range".into(),
            value: "1024 65000".into(),
        }]),
        ..Default::default()
    });
    let linux = sandbox_config(&pod, 0, &SandboxOptions::default())
        .unwrap()
        .linux
        .unwrap();
    assert_eq!(linux.sysctls["net.ipv4.ip_local_port_range"], "1024 65000");
    let sc = linux.security_context.unwrap();
    assert!(
        sc.privileged,
        "any privileged container makes the sandbox privileged"
    );
    assert_eq!(sc.run_as_user, Some(v1::Int64Value { value: 1000 }));
    assert_eq!(sc.run_as_group, Some(v1::Int64Value { value: 2000 }));
    assert_eq!(sc.supplemental_groups, [3000, 4000]);
}

#[test]
fn sandbox_dns_by_policy() {
    let host = parse_resolv_conf("nameserver 192.168.1.1\nsearch corp.example\noptions ndots:2\n");
    let opts = SandboxOptions {
        cluster_dns: vec!["10.96.0.10".into()],
        cluster_domain: "cluster.local".into(),
        host_dns: Some(host.clone()),
        ..Default::default()
    };
    let dns = |pod: &Pod, opts: &SandboxOptions| sandbox_config(pod, 0, opts).unwrap().dns_config;

    // ClusterFirst (the default).
    let mut pod = pod_with(vec![container("app")]);
    assert_eq!(
        dns(&pod, &opts),
        Some(v1::DnsConfig {
            servers: vec!["10.96.0.10".into()],
            searches: vec![
                "prod.svc.cluster.local".into(),
                "svc.cluster.local".into(),
                "cluster.local".into(),
                "corp.example".into(),
            ],
            options: vec!["ndots:5".into()],
        })
    );

    // ClusterFirst without cluster DNS falls back to the node's; so does host network.
    let no_cluster = SandboxOptions {
        cluster_dns: vec![],
        ..opts.clone()
    };
    assert_eq!(dns(&pod, &no_cluster), Some(host.clone()));
    spec_mut(&mut pod).host_network = Some(true);
    assert_eq!(dns(&pod, &opts), Some(host.clone()));
    spec_mut(&mut pod).dns_policy = Some("ClusterFirstWithHostNet".into());
    assert_eq!(dns(&pod, &opts).unwrap().servers, ["10.96.0.10"]);

    // Default: the node's, merged with spec.dnsConfig.
    let mut pod = pod_with(vec![container("app")]);
    spec_mut(&mut pod).dns_policy = Some("Default".into());
    spec_mut(&mut pod).dns_config = Some(PodDNSConfig {
        nameservers: Some(vec!["192.168.1.1".into(), "1.1.1.1".into()]),
        searches: Some(vec!["extra.example".into()]),
        options: Some(vec![
            PodDNSConfigOption {
                name: Some("ndots".into()),
                value: Some("1".into()),
            },
            PodDNSConfigOption {
                name: Some("edns0".into()),
                value: None,
            },
        ]),
    });
    assert_eq!(
        dns(&pod, &opts),
        Some(v1::DnsConfig {
            servers: vec!["192.168.1.1".into(), "1.1.1.1".into()],
            searches: vec!["corp.example".into(), "extra.example".into()],
            options: vec!["ndots:1".into(), "edns0".into()],
        })
    );

    // Default with the node's DNS unknown and nothing added: left to the runtime.
    let mut pod = pod_with(vec![container("app")]);
    spec_mut(&mut pod).dns_policy = Some("Default".into());
    assert_eq!(dns(&pod, &SandboxOptions::default()), None);

    // None: only spec.dnsConfig, which must name a server.
    spec_mut(&mut pod).dns_policy = Some("None".into());
    spec_mut(&mut pod).dns_config = Some(PodDNSConfig {
        nameservers: Some(vec!["9.9.9.9".into()]),
        ..Default::default()
    });
    assert_eq!(
        dns(&pod, &opts),
        Some(v1::DnsConfig {
            servers: vec!["9.9.9.9".into()],
            ..Default::default()
        })
    );
    spec_mut(&mut pod).dns_config = None;
    assert!(matches!(
        sandbox_config(&pod, 0, &opts),
        Err(Error::PodConfig { field, .. }) if field == "spec.dnsConfig.nameservers"
    ));
    spec_mut(&mut pod).dns_policy = Some("Sometimes".into());
    assert!(matches!(
        sandbox_config(&pod, 0, &opts),
        Err(Error::PodConfig { field, message, .. })
            if field == "spec.dnsPolicy" && message == "invalid DNSPolicy=Sometimes"
    ));
}

#[test]
fn pod_full_name_is_namespace_slash_name() {
    assert_eq!(pod_full_name(&pod_with(vec![])), "prod/web");
}
