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
//! Here are identity ([`validate_pod_identity`]) and the enumerated spec fields a node acts
//! on ([`validate_pod_spec`]: `restartPolicy`, `imagePullPolicy`); [`validate_pod`] is both,
//! and what the pod manager applies to every source's pods. More of the API server's
//! validation of a pod's spec (`ValidatePodCreate`) is meant to grow beside them.
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

mod identity;
mod path;
mod spec;

pub use identity::{
    MAX_LABEL_LEN, MAX_SUBDOMAIN_LEN, MAX_UID_LEN, is_dns1123_label, is_dns1123_subdomain,
    validate_pod_identity, validate_uid,
};
pub use path::{
    check_path_component, display_value, is_path_component, remove_dir_all_within,
    remove_file_within,
};
pub use spec::{IMAGE_PULL_POLICIES, RESTART_POLICIES, validate_pod, validate_pod_spec};
