//! A pod's identity: its name, namespace and UID, and its containers' names.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::Pod;

use super::field::{FieldError, into_result, regex_error};
use super::path::display_value;
#[cfg(doc)]
use crate::Error;
use crate::Result;

/// The longest DNS-1123 label (`validation.DNS1123LabelMaxLength`).
pub const MAX_LABEL_LEN: usize = 63;
/// The longest DNS-1123 subdomain (`validation.DNS1123SubdomainMaxLength`).
pub const MAX_SUBDOMAIN_LEN: usize = 253;
/// The longest pod UID a node accepts (see [`validate_uid`]).
pub const MAX_UID_LEN: usize = 128;

/// `dns1123LabelFmt`.
const LABEL_REGEX: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
/// `dns1123SubdomainFmt`.
const SUBDOMAIN_REGEX: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case \
    alphanumeric characters or '-', and must start and end with an alphanumeric character";
const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
    alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
    character";

/// Whether `value` is a DNS-1123 label (`IsDNS1123Label`): 1 to 63 characters of
/// `[a-z0-9-]`, starting and ending with an alphanumeric character. Namespaces and
/// container names are labels.
///
/// ```
/// use pod_plan::validation::is_dns1123_label;
/// assert!(is_dns1123_label("kube-system"));
/// assert!(!is_dns1123_label("web.prod"));
/// assert!(!is_dns1123_label("-a"));
/// assert!(!is_dns1123_label(""));
/// ```
pub fn is_dns1123_label(value: &str) -> bool {
    value.len() <= MAX_LABEL_LEN && is_label_text(value)
}

/// Whether `value` is a DNS-1123 subdomain (`IsDNS1123Subdomain`): at most 253 characters,
/// dot-separated non-empty parts of `[a-z0-9-]`, each starting and ending with an
/// alphanumeric character. Pod names are subdomains.
///
/// ```
/// use pod_plan::validation::is_dns1123_subdomain;
/// assert!(is_dns1123_subdomain("web-0.example"));
/// assert!(!is_dns1123_subdomain("Web"));
/// assert!(!is_dns1123_subdomain("a..b"));
/// assert!(!is_dns1123_subdomain(&"a".repeat(254)));
/// ```
pub fn is_dns1123_subdomain(value: &str) -> bool {
    value.len() <= MAX_SUBDOMAIN_LEN && value.split('.').all(is_label_text)
}

fn is_label_text(part: &str) -> bool {
    let bytes = part.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        }
        _ => false,
    }
}

/// Checks a pod UID: `Ok(())`, or what is wrong with it.
///
/// # The rule
///
/// A UID is **one safe path component**: 1 to [`MAX_UID_LEN`] (128) bytes of ASCII letters,
/// digits, `-` and `.`, and not `.` or `..`.
///
/// # Why this rule
///
/// The API server does not validate `metadata.uid`: it generates one (an RFC 4122 UUID,
/// 36 characters of `[0-9a-f-]`) and ignores what a client sends. A static pod's manifest
/// may set any string, and the kubelet takes it as it is. Yet the UID names directories and
/// cgroups that the agent creates and removes as root (`<rootDir>/pods/<uid>`,
/// `<podLogsDir>/<ns>_<name>_<uid>`, `pod<uid>`), so it must be exactly one path component:
/// no `/`, no NUL, not empty, not `.` or `..`. The character set is the UUID's and the
/// kubelet's own static-pod UIDs' (32 hex digits) widened to what a person writes by hand
/// (`web-1.v2`), and no more:
///
/// - no `_`: it separates the parts of the pod log directory name
///   (`<namespace>_<name>_<uid>`), and the systemd cgroup driver spells `-` as `_`
///   (`kubepods-besteffort-pod<uid with - as _>.slice`), so `a_b` and `a-b` would name
///   the same pod cgroup, and cleaning up one pod's cgroup could remove another's;
/// - no spaces, no other punctuation, no non-ASCII: they are valid file names, but they
///   make `/var/log/containers` names and CRI labels ambiguous or hard to handle for the
///   tools that read them, and no UID generator produces them;
/// - at most 128 bytes: four times a UUID, and short enough that `pod<uid>` and
///   `<namespace>_<name>_<uid>` stay within a file name's 255 bytes for names of ordinary
///   length (a pod name near its 253-character limit can exceed it, as with the kubelet).
///
/// ```
/// use pod_plan::validation::validate_uid;
/// assert!(validate_uid("5f0c1d2e-0000-4000-8000-00000000beef").is_ok());
/// assert!(validate_uid("6c62272e07bb014262b821756295c58d").is_ok());
/// for bad in ["", ".", "..", "../../canary", "a/b", "a\0b", "a_b", "a b"] {
///     assert!(validate_uid(bad).is_err(), "{bad:?}");
/// }
/// assert!(validate_uid(&"a".repeat(129)).is_err());
/// ```
pub fn validate_uid(uid: &str) -> std::result::Result<(), String> {
    if uid.is_empty() {
        return Err("must not be empty".into());
    }
    if uid.len() > MAX_UID_LEN {
        return Err(format!("must be no more than {MAX_UID_LEN} bytes"));
    }
    if uid == "." || uid == ".." {
        return Err("must not be '.' or '..'".into());
    }
    if let Some(bad) = uid
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(format!(
            "must consist of ASCII letters, digits, '-' or '.' (it names directories and \
             cgroups on the node); found {}",
            display_value(&bad.to_string())
        ));
    }
    Ok(())
}

/// `IsDNS1123Label` (`k8s.io/apimachinery/pkg/util/validation`): what is wrong with `value`
/// as a DNS-1123 label, in the API's words; empty when it is one.
pub(crate) fn dns1123_label_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > MAX_LABEL_LEN {
        errors.push(format!("must be no more than {MAX_LABEL_LEN} characters"));
    }
    if !is_label_text(value) {
        if value.split('.').all(is_label_text) {
            // A valid subdomain but not a label: the length was checked, so it is dots.
            errors.push("must not contain dots".to_owned());
        } else {
            errors.push(regex_error(
                LABEL_MESSAGE,
                LABEL_REGEX,
                &["my-name", "123-abc"],
            ));
        }
    }
    errors
}

/// `IsDNS1123Subdomain` (`k8s.io/apimachinery/pkg/util/validation`): what is wrong with
/// `value` as a DNS-1123 subdomain, in the API's words; empty when it is one.
pub(crate) fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > MAX_SUBDOMAIN_LEN {
        errors.push(format!(
            "must be no more than {MAX_SUBDOMAIN_LEN} characters"
        ));
    }
    if !value.split('.').all(is_label_text) {
        errors.push(regex_error(
            SUBDOMAIN_MESSAGE,
            SUBDOMAIN_REGEX,
            &["example.com"],
        ));
    }
    errors
}

/// `ValidateDNS1123Label` at `field`: one `Invalid value` error per problem.
pub(crate) fn validate_dns1123_label(errors: &mut Vec<FieldError>, field: &str, value: &str) {
    for message in dns1123_label_errors(value) {
        errors.push(FieldError::invalid(field, value, message));
    }
}

/// The identity part of the API's `ValidateObjectMeta` for a pod (`metadata.name` a
/// DNS-1123 subdomain, `metadata.namespace` a DNS-1123 label), then this crate's own rule
/// for `metadata.uid` ([`validate_uid`]), appended to `errors`.
pub(crate) fn metadata_identity_errors(pod: &Pod, errors: &mut Vec<FieldError>) {
    match pod.metadata.name.as_deref() {
        None | Some("") => errors.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        )),
        Some(name) => {
            for message in dns1123_subdomain_errors(name) {
                errors.push(FieldError::invalid("metadata.name", name, message));
            }
        }
    }
    match pod.metadata.namespace.as_deref() {
        None | Some("") => errors.push(FieldError::required("metadata.namespace", "")),
        Some(namespace) => validate_dns1123_label(errors, "metadata.namespace", namespace),
    }
    match pod.metadata.uid.as_deref() {
        None | Some("") => errors.push(FieldError::required("metadata.uid", "")),
        Some(uid) => {
            if let Err(rule) = validate_uid(uid) {
                errors.push(FieldError::invalid("metadata.uid", uid, rule));
            }
        }
    }
}

/// Checks what a node needs of a pod's identity before it makes anything for it:
///
/// - `metadata.name`: set, a DNS-1123 subdomain (at most 253 characters);
/// - `metadata.namespace`: set, a DNS-1123 label (at most 63 characters);
/// - `metadata.uid`: set, one safe path component ([`validate_uid`]);
/// - the name of every init, app and ephemeral container: set, a DNS-1123 label, unique in
///   the pod.
///
/// The messages are the API server's (`metadata.name: Invalid value: "Web": a lowercase
/// RFC 1123 subdomain must ...`), as an [`Error::InvalidPod`] naming the pod and the first
/// field, every problem found listed in the message. Values are quoted with escapes and cut
/// after 64 characters, so a hostile value cannot forge log lines.
pub fn validate_pod_identity(pod: &Pod) -> Result<()> {
    let mut errors = Vec::new();
    metadata_identity_errors(pod, &mut errors);
    if let Some(spec) = pod.spec.as_ref() {
        let mut seen = HashSet::new();
        let groups = [
            (
                "initContainers",
                spec.init_containers
                    .iter()
                    .flatten()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>(),
            ),
            (
                "containers",
                spec.containers.iter().map(|c| c.name.as_str()).collect(),
            ),
            (
                "ephemeralContainers",
                spec.ephemeral_containers
                    .iter()
                    .flatten()
                    .map(|c| c.name.as_str())
                    .collect(),
            ),
        ];
        for (group, names) in groups {
            for (index, name) in names.into_iter().enumerate() {
                let field = format!("spec.{group}[{index}].name");
                if name.is_empty() {
                    errors.push(FieldError::required(&field, ""));
                    continue;
                }
                validate_dns1123_label(&mut errors, &field, name);
                if !seen.insert(name) {
                    errors.push(FieldError::duplicate(&field, name));
                }
            }
        }
    }
    into_result(pod, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, EphemeralContainer, PodSpec};

    fn pod(name: &str, namespace: &str, uid: &str, containers: &[&str]) -> Pod {
        let mut pod = Pod {
            spec: Some(PodSpec {
                containers: containers
                    .iter()
                    .map(|n| Container {
                        name: (*n).into(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some(namespace.into());
        pod.metadata.uid = Some(uid.into());
        pod
    }

    fn error(pod: &Pod) -> String {
        validate_pod_identity(pod).unwrap_err().to_string()
    }

    #[test]
    fn a_valid_identity_passes() {
        let p = pod(
            "web-node-1",
            "kube-system",
            "6c62272e07bb014262b821756295c58d",
            &["app", "side"],
        );
        validate_pod_identity(&p).unwrap();
        let p = pod(&"a".repeat(253), &"n".repeat(63), &"u".repeat(128), &["c"]);
        validate_pod_identity(&p).unwrap();
    }

    #[test]
    fn traversal_uids_are_refused_naming_the_pod_and_field() {
        for uid in [
            "../../canary",
            "..",
            ".",
            "a/b",
            "/abs",
            "a\0b",
            "a_b",
            "a b",
            "é",
        ] {
            let message = error(&pod("trav", "default", uid, &["c"]));
            assert!(
                message.starts_with("invalid pod default/trav: metadata.uid: Invalid value: "),
                "{uid:?}: {message}"
            );
        }
        let message = error(&pod("trav", "default", "", &["c"]));
        assert_eq!(
            message,
            "invalid pod default/trav: metadata.uid: Required value"
        );
        assert!(error(&pod("t", "default", &"u".repeat(129), &["c"])).contains("128 bytes"));
    }

    #[test]
    fn names_and_namespaces_follow_the_api_rules() {
        let uid = "u-1";
        assert!(
            error(&pod("../x", "default", uid, &["c"]))
                .contains("metadata.name: Invalid value: \"../x\"")
        );
        assert!(error(&pod("Web", "default", uid, &["c"])).contains("RFC 1123 subdomain"));
        assert!(error(&pod(&"a".repeat(254), "default", uid, &["c"])).contains("no more than 253"));
        assert!(error(&pod("", "default", uid, &["c"])).contains("metadata.name: Required value"));
        assert!(
            error(&pod("web", "a.b", uid, &["c"])).contains("metadata.namespace: Invalid value")
        );
        assert!(
            error(&pod("web", "..", uid, &["c"])).contains("metadata.namespace: Invalid value")
        );
        assert!(error(&pod("web", &"n".repeat(64), uid, &["c"])).contains("no more than 63"));
        assert!(error(&pod("web", "", uid, &["c"])).contains("metadata.namespace: Required value"));
    }

    #[test]
    fn container_names_are_labels_and_unique() {
        let uid = "u-1";
        assert!(
            error(&pod("w", "d", uid, &["../c"]))
                .contains("spec.containers[0].name: Invalid value: \"../c\"")
        );
        assert!(
            error(&pod("w", "d", uid, &["ok", ""]))
                .contains("spec.containers[1].name: Required value")
        );
        assert!(
            error(&pod("w", "d", uid, &["a", "a"]))
                .contains("spec.containers[1].name: Duplicate value: \"a\"")
        );
        let mut p = pod("w", "d", uid, &["a"]);
        p.spec.as_mut().unwrap().ephemeral_containers = Some(vec![EphemeralContainer {
            name: "a".into(),
            ..Default::default()
        }]);
        assert!(error(&p).contains("spec.ephemeralContainers[0].name: Duplicate value"));
        p.spec.as_mut().unwrap().init_containers = Some(vec![Container {
            name: "x/y".into(),
            ..Default::default()
        }]);
        assert!(error(&p).contains("spec.initContainers[0].name: Invalid value"));
    }

    #[test]
    fn hostile_values_are_escaped_and_cut_in_messages() {
        let message = error(&pod(
            "w",
            "d",
            &format!("a\nlevel=error msg=forged{}", "x".repeat(500)),
            &["c"],
        ));
        assert!(!message.contains('\n'), "{message}");
        assert!(message.len() < 400, "{message}");
    }
}
