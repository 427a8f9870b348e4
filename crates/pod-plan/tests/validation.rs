//! `validation::validate_pod` on whole pods, as a static pod source hands them over
//! (checklist SP-02: the kubelet runs the API's `ValidatePodCreate` on every manifest and
//! refuses an invalid pod at load, naming the field and the reason). One test per rule;
//! the unit tests next to each module cover the rules' corners.

use k8s_openapi::api::core::v1::Pod;
use pod_plan::validation::{validate_pod, validate_pod_create};
use serde_json::{Value, json};

/// A static pod as the file source makes it (name suffixed, namespace, UID, source
/// annotation), with `spec` merged over one valid container.
fn static_pod(spec: Value) -> Pod {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-node-1",
            "namespace": "default",
            "uid": "6c62272e07bb014262b821756295c58d",
            "annotations": {
                "kubernetes.io/config.source": "file",
                "kubernetes.io/config.hash": "6c62272e07bb014262b821756295c58d",
            },
        },
        "spec": {
            "nodeName": "node-1",
            "containers": [{"name": "main", "image": "busybox"}],
        },
    });
    merge(&mut pod["spec"], spec);
    serde_json::from_value(pod).expect("a pod")
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                merge(into.entry(key).or_insert(Value::Null), value);
            }
        }
        (into, from) => *into = from,
    }
}

/// A container spec merged over the valid `main` container.
fn with_container(container: Value) -> Pod {
    let mut main = json!({"name": "main", "image": "busybox"});
    merge(&mut main, container);
    static_pod(json!({ "containers": [main] }))
}

fn refusal(pod: &Pod) -> String {
    validate_pod(pod)
        .expect_err("the pod should be refused")
        .to_string()
}

const PREFIX: &str = "invalid pod default/web-node-1: ";

#[test]
fn sp_02_a_realistic_static_pod_is_accepted() {
    let pod = static_pod(json!({
        "restartPolicy": "OnFailure",
        "dnsPolicy": "ClusterFirstWithHostNet",
        "hostNetwork": true,
        "terminationGracePeriodSeconds": 45,
        "activeDeadlineSeconds": 3600,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "volumes": [
            {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "logs", "hostPath": {"path": "/var/log/web", "type": "DirectoryOrCreate"}},
            {"name": "config", "configMap": {"name": "web", "items": [{"key": "a", "path": "conf/a"}]}},
            {"name": "info", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "cpu", "resourceFieldRef": {"containerName": "main", "resource": "limits.cpu", "divisor": "1m"}},
            ]}},
            {"name": "scratch"},
        ],
        "initContainers": [
            {"name": "setup", "image": "busybox", "command": ["true"]},
            {"name": "proxy", "image": "busybox", "restartPolicy": "Always",
             "startupProbe": {"tcpSocket": {"port": 15000}, "failureThreshold": 30}},
        ],
        "containers": [{
            "name": "main",
            "image": "registry.local/web:1.2",
            "imagePullPolicy": "IfNotPresent",
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "ports": [
                {"name": "http", "containerPort": 8080, "hostPort": 8080},
                {"name": "metrics", "containerPort": 9090, "protocol": "UDP"},
            ],
            "env": [
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
                {"name": "weird.name-1 ok", "value": "relaxed names are fine in v1.37"},
            ],
            "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "web"}}],
            "resources": {
                "requests": {"cpu": "250m", "memory": "64Mi"},
                "limits": {"cpu": "1", "memory": "128Mi", "ephemeral-storage": "1Gi"},
            },
            "volumeMounts": [
                {"name": "data", "mountPath": "/data", "subPath": "web"},
                {"name": "logs", "mountPath": "/logs"},
                {"name": "config", "mountPath": "/etc/web", "readOnly": true},
                {"name": "info", "mountPath": "/etc/info"},
                {"name": "scratch", "mountPath": "/tmp"},
            ],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
            "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "successThreshold": 2},
            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
        }],
    }));
    validate_pod(&pod).unwrap();
}

#[test]
fn sp_02_container_port_70000_is_refused_at_load_naming_the_field() {
    let pod = with_container(json!({"ports": [{"containerPort": 70000}]}));
    assert_eq!(
        refusal(&pod),
        format!(
            "{PREFIX}spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be \
             between 1 and 65535, inclusive"
        )
    );
}

#[test]
fn sp_02_cpu_lots_is_refused_at_load_naming_the_field() {
    let pod = with_container(json!({"resources": {"requests": {"cpu": "lots"}}}));
    assert_eq!(
        refusal(&pod),
        format!(
            "{PREFIX}spec.containers[0].resources.requests[cpu]: Invalid value: \"lots\": \
             quantities must match the regular expression \
             '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    );
    // In limits too; a limit defaults the request (SetDefaults_Pod), which is refused with
    // it, as the API server refuses both.
    let pod = with_container(json!({"resources": {"limits": {"cpu": "lots"}}}));
    let message = refusal(&pod);
    assert!(
        message.starts_with(&format!(
            "{PREFIX}spec.containers[0].resources.limits[cpu]: Invalid value: \"lots\""
        )),
        "{message}"
    );
}

#[test]
fn sp_02_a_restart_policy_typo_is_refused() {
    let pod = static_pod(json!({"restartPolicy": "Sometimes"}));
    assert_eq!(
        refusal(&pod),
        format!(
            "{PREFIX}spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \
             \"Always\", \"OnFailure\", \"Never\""
        )
    );
}

#[test]
fn sp_02_an_unknown_image_pull_policy_is_refused() {
    let pod = with_container(json!({"imagePullPolicy": "Sometimes"}));
    assert_eq!(
        refusal(&pod),
        format!(
            "{PREFIX}spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": \
             supported values: \"Always\", \"IfNotPresent\", \"Never\""
        )
    );
}

#[test]
fn sp_02_port_protocol_names_and_duplicates() {
    let pod = with_container(json!({"ports": [
        {"name": "http", "containerPort": 80, "protocol": "HTTP"},
        {"name": "http", "containerPort": 81},
        {"name": "Web_UI", "containerPort": 82},
    ]}));
    let message = refusal(&pod);
    for part in [
        "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \
         \"SCTP\", \"TCP\", \"UDP\"",
        "spec.containers[0].ports[1].name: Duplicate value: \"http\"",
        "spec.containers[0].ports[2].name: Invalid value: \"Web_UI\": must contain only \
         alpha-numeric characters (a-z, 0-9), and hyphens (-)",
    ] {
        assert!(message.contains(part), "{part}\nnot in\n{message}");
    }
}

#[test]
fn sp_02_requests_above_limits_are_refused() {
    let pod = with_container(json!({"resources": {
        "requests": {"memory": "256Mi"},
        "limits": {"memory": "128Mi"},
    }}));
    assert_eq!(
        refusal(&pod),
        format!(
            "{PREFIX}spec.containers[0].resources.requests: Invalid value: \"256Mi\": must be \
             less than or equal to memory limit of 128Mi"
        )
    );
    let pod = with_container(json!({"resources": {"requests": {"cpu": "-1"}}}));
    assert!(refusal(&pod).contains("must be greater than or equal to 0"));
    let pod = with_container(json!({"resources": {"requests": {"gpu": "1"}}}));
    assert!(refusal(&pod).contains("must be a standard resource type or fully qualified"));
}

#[test]
fn sp_02_dns_and_termination_message_policies_are_enums() {
    let pod = static_pod(json!({"dnsPolicy": "ClusterLast"}));
    assert_eq!(
        refusal(&pod),
        format!(
            "{PREFIX}spec.dnsPolicy: Unsupported value: \"ClusterLast\": supported values: \
             \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\""
        )
    );
    let pod = static_pod(json!({"dnsPolicy": "None"}));
    assert!(refusal(&pod).contains("spec.dnsConfig: Required value"));
    let pod = with_container(json!({"terminationMessagePolicy": "Logs"}));
    assert!(refusal(&pod).contains(
        "spec.containers[0].terminationMessagePolicy: Unsupported value: \"Logs\": supported \
         values: \"File\", \"FallbackToLogsOnError\""
    ));
}

#[test]
fn sp_02_container_restart_policies_follow_v1_37() {
    // ContainerRestartRules (beta, on in v1.37): Always, OnFailure and Never on init and
    // app containers alike; anything else is refused.
    let pod = static_pod(json!({
        "initContainers": [{"name": "init", "image": "busybox", "restartPolicy": "Never"}],
        "containers": [{"name": "main", "image": "busybox", "restartPolicy": "OnFailure"}],
    }));
    validate_pod(&pod).unwrap();
    let pod = static_pod(json!({
        "initContainers": [{"name": "init", "image": "busybox", "restartPolicy": "Sometimes"}],
    }));
    assert_eq!(
        refusal(&pod),
        format!(
            "{PREFIX}spec.initContainers[0].restartPolicy: Unsupported value: \"Sometimes\": \
             supported values: \"Always\", \"Never\", \"OnFailure\""
        )
    );
    // Probes are for sidecars only among init containers.
    let pod = static_pod(json!({
        "initContainers": [{"name": "init", "image": "busybox",
                            "readinessProbe": {"exec": {"command": ["true"]}}}],
    }));
    assert_eq!(
        refusal(&pod),
        format!(
            "{PREFIX}spec.initContainers[0].readinessProbe: Forbidden: may not be set for init \
             containers without restartPolicy=Always"
        )
    );
}

#[test]
fn sp_02_volumes_and_mounts() {
    let pod = static_pod(json!({
        "volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "data", "emptyDir": {}},
            {"name": "both", "emptyDir": {}, "hostPath": {"path": "/tmp"}},
        ],
        "containers": [{"name": "main", "image": "busybox", "volumeMounts": [
            {"name": "missing", "mountPath": "/m"},
            {"name": "data", "mountPath": "/m"},
            {"name": "data", "mountPath": "/d", "subPath": "../etc"},
            {"name": "data", "mountPath": "/e", "subPath": "/etc"},
        ]}],
    }));
    let message = refusal(&pod);
    let expected = [
        "spec.volumes[1].name: Duplicate value: \"data\"",
        "spec.volumes[2].hostPath: Forbidden: may not specify more than 1 volume type",
        "spec.containers[0].volumeMounts[0].name: Not found: \"missing\"",
        "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/m\": must be unique",
        "spec.containers[0].volumeMounts.subPath: Invalid value: \"../etc\": must not contain '..'",
        "spec.containers[0].volumeMounts.subPath: Invalid value: \"/etc\": must be a relative path",
    ];
    assert_eq!(
        message,
        format!("{PREFIX}{}", expected.join("; ")),
        "several errors are reported at once, in the API's order"
    );
    let pod = with_container(json!({"volumeMounts": [{"name": "", "mountPath": ""}]}));
    let message = refusal(&pod);
    assert!(
        message.contains("volumeMounts[0].name: Required value"),
        "{message}"
    );
    assert!(
        message.contains("volumeMounts[0].mountPath: Required value"),
        "{message}"
    );
}

#[test]
fn sp_02_env_var_names_and_env_from_prefixes() {
    let pod = with_container(json!({
        "env": [{"name": "A=B", "value": "x"}, {"name": "ÄPFEL", "value": "x"}],
        "envFrom": [{"prefix": "bad=", "secretRef": {"name": "s"}}],
    }));
    let message = refusal(&pod);
    let rule = "a valid environment variable name must consist only of printable ASCII \
                characters other than '='";
    for field in [
        "spec.containers[0].env[0].name: Invalid value: \"A=B\"",
        "spec.containers[0].env[1].name: Invalid value: \"ÄPFEL\"",
        "spec.containers[0].envFrom[0].prefix: Invalid value: \"bad=\"",
    ] {
        assert!(
            message.contains(&format!("{field}: {rule}")),
            "{field}\n{message}"
        );
    }
}

#[test]
fn sp_02_labels_and_annotations_syntax_and_size() {
    let mut pod = static_pod(json!({}));
    pod.metadata.labels = Some([("app/x/y".to_string(), "web".to_string())].into());
    assert!(refusal(&pod).starts_with(&format!(
        "{PREFIX}metadata.labels: Invalid value: \"app/x/y\": a valid label key must consist"
    )));
    pod.metadata.labels = Some([("app".to_string(), "not ok".to_string())].into());
    assert!(refusal(&pod).starts_with(&format!(
        "{PREFIX}metadata.labels: Invalid value: \"not ok\": a valid label must be an empty string"
    )));
    pod.metadata.labels = None;
    let mut annotations = pod.metadata.annotations.clone().unwrap();
    annotations.insert("big".into(), "x".repeat(256 * 1024));
    pod.metadata.annotations = Some(annotations);
    assert_eq!(
        refusal(&pod),
        format!("{PREFIX}metadata.annotations: Too long: may not be more than 262144 bytes")
    );
}

#[test]
fn sp_02_grace_period_and_active_deadline() {
    // SetDefaults_Pod makes a negative grace period 1 before validation: the kubelet runs
    // such a manifest, and so does nodelet.
    validate_pod(&static_pod(json!({"terminationGracePeriodSeconds": -5}))).unwrap();
    // ValidatePodCreate itself refuses it on a pod that was not defaulted.
    let mut raw = static_pod(json!({"terminationGracePeriodSeconds": -5}));
    pod_plan::defaults::default_pod(&mut raw);
    raw.spec.as_mut().unwrap().termination_grace_period_seconds = Some(-5);
    let errors: Vec<String> = validate_pod_create(&raw)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "spec.terminationGracePeriodSeconds: Invalid value: -5: must be greater than or equal to 0"
        ]
    );
    let pod = static_pod(json!({"activeDeadlineSeconds": 0}));
    assert_eq!(
        refusal(&pod),
        format!(
            "{PREFIX}spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and \
             2147483647, inclusive"
        )
    );
}

#[test]
fn sp_02_probes_one_handler_and_thresholds() {
    let pod = with_container(json!({
        "livenessProbe": {"exec": {"command": ["true"]}, "httpGet": {"port": 80}},
        "startupProbe": {"exec": {"command": ["true"]}, "successThreshold": 2},
        "readinessProbe": {"tcpSocket": {"port": 80}, "failureThreshold": -1},
    }));
    let message = refusal(&pod);
    let expected = [
        "spec.containers[0].livenessProbe.httpGet: Forbidden: may not specify more than 1 \
         handler type",
        "spec.containers[0].readinessProbe.failureThreshold: Invalid value: -1: must be greater \
         than or equal to 0",
        "spec.containers[0].startupProbe.successThreshold: Invalid value: 2: must be 1",
    ];
    assert_eq!(message, format!("{PREFIX}{}", expected.join("; ")));
    // Zero periods and thresholds are the API's defaults.
    let pod = with_container(json!({
        "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 0, "timeoutSeconds": 0},
    }));
    validate_pod(&pod).unwrap();
    let pod = with_container(json!({"livenessProbe": {"initialDelaySeconds": 5}}));
    assert!(
        refusal(&pod).contains(
            "spec.containers[0].livenessProbe: Required value: must specify a handler type"
        )
    );
}

#[test]
fn sp_02_ephemeral_containers_are_refused_on_a_static_pod_only() {
    let mut pod =
        static_pod(json!({"ephemeralContainers": [{"name": "debug", "image": "busybox"}]}));
    assert_eq!(
        refusal(&pod),
        format!("{PREFIX}spec.ephemeralContainers: Forbidden: cannot be set on create")
    );
    // A pod from the API server was validated there; `kubectl debug` adds ephemeral
    // containers to running pods. Only identity and the enumerated fields are checked.
    pod.metadata.annotations = None;
    validate_pod(&pod).unwrap();
    pod.spec.as_mut().unwrap().containers[0].ports = Some(vec![Default::default()]);
    validate_pod(&pod).unwrap();
    pod.spec.as_mut().unwrap().restart_policy = Some("Sometimes".into());
    assert!(validate_pod(&pod).is_err());
}

#[test]
fn sp_02_many_errors_name_the_first_field_and_stay_readable() {
    let ports: Vec<Value> = (0..50)
        .map(|i| json!({"containerPort": 70000 + i}))
        .collect();
    let pod = with_container(json!({ "ports": ports }));
    let err = validate_pod(&pod).unwrap_err();
    let pod_plan::Error::InvalidPod { field, message, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(field, "spec.containers[0].ports[0].containerPort");
    assert!(message.ends_with("; and 18 more"), "{message}");
}

#[test]
fn sp_02_a_service_account_token_needs_a_service_account() {
    let token = json!({"volumes": [{"name": "token", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token"}},
    ]}}]});
    assert_eq!(
        refusal(&static_pod(token.clone())),
        format!(
            "{PREFIX}spec.volumes[0].projected.sources[0].serviceAccountToken: Forbidden: must \
             not be specified when serviceAccountName is not set"
        )
    );
    let mut with_account = token;
    with_account["serviceAccountName"] = json!("web");
    validate_pod(&static_pod(with_account)).unwrap();
}
