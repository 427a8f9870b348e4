//! Rules a pod must meet before a node agent does anything for it, shared by every pod
//! source (the static manifest source, the API watch of cluster mode) and applied again by
//! pod-lifecycle's `PodManager` for sources that forget.
//!
//! # Why the node checks what the API server already checked
//!
//! A node agent turns a pod's identity into host paths and cgroup names:
//! `<rootDir>/pods/<uid>`, `<podLogsDir>/<namespace>_<name>_<uid>`,
//! `/var/log/containers/<name>_<namespace>_<container>-<id>.log`, `pod<uid>` cgroups. Those
//! paths are created, written and removed as root. A static pod never passed an API server,
//! and the API server does not check UIDs at all (it generates them), so a manifest with
//! `uid: ../../etc` would otherwise name a directory far outside the agent's own. The
//! identity is therefore checked once, where pods enter, with the API server's rules for
//! names and with [a rule of its own](validate_uid) for UIDs; and each path builder checks its own
//! components again, so a pod that slipped past (an embedder calling the workers directly)
//! still cannot reach outside its directory.
//!
//! Beyond identity, a static pod gets the API server's whole validation of a new pod
//! ([`validate_pod_create`], in the API's order and words), because the kubelet runs it on
//! every manifest and refuses a bad one at load, naming the field and the reason, where a
//! node agent that skipped it would leave the pod Pending with a runtime error at sync
//! time (`containerPort: 70000`) or misread it (`cpu: lots` admitted as no request, a
//! `restartPolicy` typo run as `Always`). [`validate_pod`] is the one rule every pod
//! source and the pod manager apply; it says which pods get which checks.
//!
//! | module | the API's functions | what |
//! |---|---|---|
//! | `identity` | `ValidateObjectMeta` (name, namespace) | name, namespace, UID ([`validate_uid`]), container names |
//! | `metadata` | `ValidateLabels`, `ValidateAnnotations` | label and annotation syntax ([`qualified_name_errors`], [`label_value_errors`]), annotations at most 256 KiB |
//! | `spec` | `validateRestartPolicy`, `validateDNSPolicy`, `validatePullPolicy`, `validateContainerRestartPolicy`, `validatePodDNSConfig` | the enumerated fields ([`validate_pod_spec`]) |
//! | `ports` | `validateContainerPorts`, `checkHostPortConflicts`, `validatePodHostNetworkDeps` | port numbers, names ([`port_name_errors`]), protocols, host ports |
//! | `resources` | `ValidateContainerResourceRequirements` | quantities that parse, known names, no negative amount, requests within limits |
//! | `env` | `ValidateEnv`, `ValidateEnvFrom` | variable names ([`env_var_name_errors`]), sources, prefixes |
//! | `volumes` | `ValidateVolumes`, `ValidateVolumeMounts` | unique names, one source each, mounts of existing volumes at unique paths, subPaths |
//! | `probes` | `validateProbe`, `validateHandler`, `validateLifecycle` | one handler, thresholds, hooks |
//! | `pod` | `ValidatePodCreate`, `ValidatePodSpec`, `validateContainers`, `validateInitContainers` | the order, grace period, deadline; [`validate_pod`] |
//!
//! Several errors are reported at once, as the API server reports them: one
//! [`Error::InvalidPod`](crate::Error::InvalidPod) naming the first field, the others
//! following in its message, `; ` between them.
//!
//! The rules are v1.37's, with its default feature gates (the reference kubelet's); they
//! read fields that the API has since v1.34 (a container's `restartPolicyRules`, an env
//! var's `fileKeyRef`), so this module needs k8s-openapi's `v1_34` feature or later.
//!
//! # Example
//!
//! ```
//! use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
//! use pod_plan::validation::validate_pod_identity;
//!
//! let mut pod = Pod {
//!     spec: Some(PodSpec {
//!         containers: vec![Container { name: "app".into(), ..Default::default() }],
//!         ..Default::default()
//!     }),
//!     ..Default::default()
//! };
//! pod.metadata.name = Some("web".into());
//! pod.metadata.namespace = Some("default".into());
//! pod.metadata.uid = Some("5f0c1d2e-0000-4000-8000-00000000beef".into());
//! assert!(validate_pod_identity(&pod).is_ok());
//!
//! pod.metadata.uid = Some("../../canary".into());
//! let err = validate_pod_identity(&pod).unwrap_err();
//! assert!(err.to_string().contains("metadata.uid: Invalid value: \"../../canary\""), "{err}");
//! ```

mod env;
mod field;
mod identity;
mod metadata;
mod path;
mod pod;
mod ports;
mod probes;
mod resources;
mod spec;
mod volumes;

pub use env::env_var_name_errors;
pub use field::{BadValue, FieldError};
pub use identity::{
    MAX_LABEL_LEN, MAX_SUBDOMAIN_LEN, MAX_UID_LEN, is_dns1123_label, is_dns1123_subdomain,
    validate_pod_identity, validate_uid,
};
pub use metadata::{MAX_ANNOTATIONS_SIZE, label_value_errors, qualified_name_errors};
pub use path::{
    check_path_component, display_value, is_path_component, remove_dir_all_within,
    remove_file_within,
};
pub use pod::{validate_pod, validate_pod_create};
pub use ports::{PORT_PROTOCOLS, port_name_errors};
pub use spec::{
    CONTAINER_RESTART_POLICIES, DNS_POLICIES, IMAGE_PULL_POLICIES, RESTART_POLICIES,
    TERMINATION_MESSAGE_POLICIES, validate_pod_spec,
};
pub use volumes::HOST_PATH_TYPES;
