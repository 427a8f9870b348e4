//! The static pod manifest reader: one file's bytes into pods, ConfigMaps, Secrets and
//! refusals ([`agent::static_pods::parse_manifest`]), with the API server's pod validation.
//!
//! Properties, on any bytes:
//!
//! - the reader returns (no panic, no hang) and is deterministic: the same bytes give the
//!   same snapshot, so a static pod's UID is stable across rescans;
//! - every refusal names the file, and either a field (`spec.containers[0].ports`,
//!   `invalid pod default/web-node: spec.restartPolicy: ...`) or a problem of the whole
//!   file or document (`invalid YAML`, `unsupported kind`, a duplicate pod);
//! - every accepted pod carries the kubelet's static pod defaults (name `<name>-<node>`,
//!   namespace, a UID that is one safe path component and is the config hash, the `file`
//!   source, `spec.nodeName`, the `NoExecute` toleration, phase `Pending`) and passes the
//!   validation every pod source applies, again;
//! - every accepted ConfigMap and Secret is named and namespaced, and a Secret's
//!   `stringData` is merged into `data`.

use std::path::Path;

use agent::static_pods::{
    CONFIG_HASH_ANNOTATION, CONFIG_SOURCE_ANNOTATION, FILE_SOURCE, parse_manifest,
};
use k8s_openapi::api::core::v1::Pod;

/// The manifest's path, as refusals must name it.
pub const PATH: &str = "/etc/kubernetes/manifests/fuzz.yaml";

/// The node name the reader is given; pods are bound to it lowercased.
pub const NODE: &str = "Fuzz-Node";

/// Checks the manifest reader on `data` as the content of [`PATH`]; panics when a property
/// fails.
pub fn check(data: &[u8]) {
    let path = Path::new(PATH);
    let snapshot = parse_manifest(path, NODE, data);
    assert_eq!(
        snapshot,
        parse_manifest(path, NODE, data),
        "the same content gave two snapshots"
    );
    for error in &snapshot.errors {
        assert_eq!(error.file, path, "a refusal names another file: {error}");
        assert!(
            error.to_string().starts_with(PATH),
            "a refusal does not start with the file: {error}"
        );
        assert!(
            names_a_field(&error.reason),
            "a refusal names no field: {:?}",
            error.reason
        );
    }
    for pod in &snapshot.pods {
        check_pod(pod);
    }
    for map in &snapshot.config_maps {
        assert!(map.metadata.name.as_deref().is_some_and(|n| !n.is_empty()));
        assert!(
            map.metadata
                .namespace
                .as_deref()
                .is_some_and(|n| !n.is_empty())
        );
    }
    for secret in &snapshot.secrets {
        assert!(
            secret
                .metadata
                .name
                .as_deref()
                .is_some_and(|n| !n.is_empty())
        );
        assert!(
            secret
                .metadata
                .namespace
                .as_deref()
                .is_some_and(|n| !n.is_empty())
        );
        assert!(secret.string_data.is_none(), "stringData was not merged");
    }
}

/// The static pod defaults and the validation of one accepted pod.
fn check_pod(pod: &Pod) {
    let node = NODE.to_lowercase();
    let meta = &pod.metadata;
    let name = meta.name.as_deref().unwrap_or_default();
    assert!(
        name.len() > node.len() + 1 && name.ends_with(&format!("-{node}")),
        "the pod name {name:?} is not <name>-{node}"
    );
    assert!(meta.namespace.as_deref().is_some_and(|n| !n.is_empty()));
    let uid = meta.uid.as_deref().unwrap_or_default();
    assert!(
        pod_plan::validation::validate_uid(uid).is_ok(),
        "accepted a pod whose UID {uid:?} is not one safe path component"
    );
    let annotations = meta.annotations.as_ref().expect("no annotations");
    assert_eq!(
        annotations.get(CONFIG_HASH_ANNOTATION).map(String::as_str),
        Some(uid)
    );
    assert_eq!(
        annotations
            .get(CONFIG_SOURCE_ANNOTATION)
            .map(String::as_str),
        Some(FILE_SOURCE)
    );
    let spec = pod.spec.as_ref().expect("accepted a pod without a spec");
    assert_eq!(spec.node_name.as_deref(), Some(node.as_str()));
    assert!(!spec.containers.is_empty());
    assert!(
        spec.tolerations.iter().flatten().any(|t| {
            t.operator.as_deref() == Some("Exists")
                && t.effect.as_deref() == Some("NoExecute")
                && t.key.is_none()
        }),
        "no NoExecute toleration"
    );
    for container in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let image = container.image.as_deref().unwrap_or_default();
        assert!(
            !image.is_empty() && image.trim() == image,
            "accepted the image {image:?}"
        );
    }
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );
    if let Err(err) = pod_plan::validation::validate_pod(pod) {
        panic!("an accepted pod fails validation: {err}");
    }
}

/// Refusals of a whole file, document or object, which name no field because none is at
/// fault (the kubelet's words where it has them).
const WHOLE_OBJECT: &[&str] = &[
    "invalid YAML",
    "invalid JSON",
    "the file is not UTF-8 text",
    "the file is ",
    "expected an object with apiVersion and kind",
    "Object 'Kind' is missing",
    "Object 'apiVersion' is missing",
    "unsupported kind ",
    "duplicate pod ",
    "duplicate pod UID ",
    "duplicate ConfigMap ",
    "duplicate Secret ",
    "invalid pod: name is needed for the pod",
    "invalid configmap: name is needed for the configmap",
    "invalid secret: name is needed for the secret",
];

/// The top-level fields of the objects a manifest holds.
const ROOT_FIELDS: &[&str] = &[
    "metadata",
    "spec",
    "status",
    "data",
    "binaryData",
    "stringData",
    "type",
    "immutable",
    "items",
    "kind",
    "apiVersion",
];

/// Whether a refusal names a field (an item of a list is one), or is one of the refusals
/// of a whole object; never serde's `.` for "the object itself".
fn names_a_field(reason: &str) -> bool {
    let mut reason = reason;
    let mut item = false;
    // `document 2: ` and `items[1]: ` say where; what follows says why.
    loop {
        if let Some(rest) = strip_number_prefix(reason, "document ", ": ") {
            reason = rest;
        } else if let Some(rest) = strip_number_prefix(reason, "items[", "]: ") {
            reason = rest;
            item = true;
        } else {
            break;
        }
    }
    if reason.split(": ").any(|segment| segment == ".") {
        return false;
    }
    item || WHOLE_OBJECT.iter().any(|prefix| reason.starts_with(prefix))
        || reason.split(": ").any(is_field_path)
}

/// `reason` without a leading `<start><number><end>`.
fn strip_number_prefix<'a>(reason: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = reason.strip_prefix(start)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    rest[digits..].strip_prefix(end)
}

/// Whether `segment` is a field path: a top-level field, then nothing, `.` or `[`.
fn is_field_path(segment: &str) -> bool {
    let segment = segment.strip_prefix("invalid pod: ").unwrap_or(segment);
    ROOT_FIELDS.iter().any(|root| {
        segment
            .strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_that_name_a_field() {
        for reason in [
            "spec.containers[0].ports: invalid type: integer `8`, expected a sequence",
            "document 2: items[3]: spec.containers[0].image: Required value",
            "invalid pod default/web-fuzz-node: spec.restartPolicy: Unsupported value: \"x\"",
            "invalid pod: spec.containers: Required value",
            "document 1: invalid YAML: line 3 column 1: did not find expected key",
            "data.token: invalid value: not valid base64",
            "apiVersion: Pod must be apiVersion v1, not \"v2\"",
            "items[1]: expected a Pod, found a string",
        ] {
            assert!(names_a_field(reason), "{reason}");
        }
        for reason in [
            "something went wrong",
            ".: invalid type",
            "document 1: oops",
            "items[1]: .: invalid type: string \"apiVersion\", expected Pod",
        ] {
            assert!(!names_a_field(reason), "{reason}");
        }
    }
}
