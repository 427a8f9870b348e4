//! One manifest file: decoding its documents and turning `kind: Pod` documents into static
//! pods with the kubelet's defaults (`applyDefaults` in `pkg/kubelet/config/common.go`).

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, PodStatus, Secret, Toleration};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use pod_lifecycle::validation::validate_pod_identity;

/// The annotation naming the pod's source (`file` here).
pub const CONFIG_SOURCE_ANNOTATION: &str = "kubernetes.io/config.source";
/// The annotation holding the static pod's hash, which is its UID.
pub const CONFIG_HASH_ANNOTATION: &str = "kubernetes.io/config.hash";
/// The annotation holding the time the agent first saw the pod (RFC 3339, nanoseconds).
pub const CONFIG_SEEN_ANNOTATION: &str = "kubernetes.io/config.seen";
/// The value of [`CONFIG_SOURCE_ANNOTATION`] for static pods from files.
pub const FILE_SOURCE: &str = "file";

/// The kubelet's `maxConfigLength`: a larger manifest file is refused unread.
pub const MAX_MANIFEST_BYTES: u64 = 10 * 1024 * 1024;

/// One object a manifest file yields.
#[derive(Debug)]
pub(crate) enum Object {
    Pod(Box<Pod>),
    ConfigMap(Box<ConfigMap>),
    Secret(Box<Secret>),
}

/// Splits a file into documents: a JSON file (first non-blank byte `{` or `[`) is one or
/// more concatenated JSON values, anything else a YAML stream (`---` separated). A syntax
/// error refuses the whole file, since document boundaries cannot be trusted after it;
/// empty documents (`---` at the end, a comment-only file) are skipped.
pub(crate) fn split_documents(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let trimmed = text.trim_start();
    let mut documents = Vec::new();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        for value in serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>() {
            documents.push(value.map_err(|err| format!("invalid JSON: {err}"))?);
        }
    } else {
        for document in serde_yaml::Deserializer::from_str(text) {
            let value = serde_json::Value::deserialize(document)
                .map_err(|err| format!("invalid YAML: {err}"))?;
            documents.push(value);
        }
    }
    documents.retain(|document| !document.is_null());
    Ok(documents)
}

/// Decodes one document as the object its `apiVersion` and `kind` name.
pub(crate) fn decode_object(document: serde_json::Value) -> Result<Object, String> {
    let serde_json::Value::Object(fields) = &document else {
        return Err("expected an object with apiVersion and kind".into());
    };
    let kind = match fields.get("kind") {
        Some(serde_json::Value::String(kind)) => kind.clone(),
        Some(_) => return Err("kind: expected a string".into()),
        None => return Err("Object 'Kind' is missing".into()),
    };
    match fields.get("apiVersion") {
        Some(serde_json::Value::String(version)) if version == "v1" => {}
        Some(serde_json::Value::String(version)) => {
            return Err(format!(
                "apiVersion: {kind} must be apiVersion v1, not {version:?}"
            ));
        }
        Some(_) => return Err("apiVersion: expected a string".into()),
        None => return Err("Object 'apiVersion' is missing".into()),
    }
    match kind.as_str() {
        "Pod" => typed(document).map(|pod| Object::Pod(Box::new(pod))),
        "ConfigMap" => typed(document).map(|map| Object::ConfigMap(Box::new(map))),
        // Never serde's message for a Secret: it quotes the value it could not use.
        "Secret" => volume_manager::objects::decode_secret(document)
            .map(|secret| Object::Secret(Box::new(secret)))
            .map_err(|e| e.to_string()),
        other => Err(format!(
            "unsupported kind {other:?}: a static manifest holds Pods, ConfigMaps and Secrets"
        )),
    }
}

/// Deserializes with the failing field's path in the message (`spec.containers[0].ports`).
fn typed<T: DeserializeOwned>(document: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(document).map_err(|err| {
        let path = err.path().to_string();
        format!("{path}: {}", err.into_inner())
    })
}

/// The static pod's UID when the manifest sets none: FNV-128a over the pod as decoded,
/// then `host:<node>` and `file:<path>`, in hex, as the kubelet computes it (older
/// kubelets used MD5). The same content on the same node from the same path gives the same
/// UID across rescans and restarts; any change to one of the three gives a new UID, which
/// is how an edited manifest replaces the old pod.
///
/// The kubelet deep-hashes its Go object; nodelet hashes the object's canonical JSON
/// (k8s-openapi writes fields in a fixed order and maps sorted), which has the same
/// property: formatting, comments and key order in the file do not matter, values do.
pub(crate) fn static_pod_uid(pod: &Pod, node_name: &str, path: &Path) -> String {
    let mut hasher = Fnv128a::new();
    // Serializing a k8s-openapi object into a Vec cannot fail.
    hasher.write(&serde_json::to_vec(pod).unwrap_or_default());
    hasher.write(format!("host:{node_name}").as_bytes());
    hasher.write(format!("file:{}", path.display()).as_bytes());
    format!("{:032x}", hasher.finish())
}

/// FNV-1a, 128 bits (Go's `hash/fnv.New128a`); `Sum` is the big-endian state, so the hex of
/// the `u128` is the hex Go prints.
struct Fnv128a(u128);

impl Fnv128a {
    const OFFSET_BASIS: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;

    fn new() -> Self {
        Fnv128a(Self::OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u128::from(byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    fn finish(&self) -> u128 {
        self.0
    }
}

/// Applies the kubelet's static pod defaults to a decoded pod, validates it, and returns
/// it without the `config.seen` annotation (the source adds that, so that the UID and
/// everything else stay a pure function of the file).
pub(crate) fn static_pod(mut pod: Pod, node_name: &str, path: &Path) -> Result<Pod, String> {
    let name = match pod.metadata.name.as_deref() {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => return Err("invalid pod: name is needed for the pod".into()),
    };
    let uid = match pod.metadata.uid.as_deref() {
        Some(uid) if !uid.is_empty() => uid.to_owned(),
        _ => static_pod_uid(&pod, node_name, path),
    };
    pod.metadata.uid = Some(uid.clone());
    pod.metadata.name = Some(format!("{name}-{}", node_name.to_lowercase()));
    if pod.metadata.namespace.as_deref().is_none_or(str::is_empty) {
        pod.metadata.namespace = Some("default".into());
    }
    let annotations = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(CONFIG_HASH_ANNOTATION.into(), uid);
    annotations.insert(CONFIG_SOURCE_ANNOTATION.into(), FILE_SOURCE.into());
    if let Some(spec) = pod.spec.as_mut() {
        spec.node_name = Some(node_name.to_owned());
        // Static pods tolerate every NoExecute taint, so node problems never evict them.
        let toleration = Toleration {
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            ..Toleration::default()
        };
        let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
        if !tolerations.contains(&toleration) {
            tolerations.push(toleration);
        }
    }
    pod.status.get_or_insert_with(PodStatus::default).phase = Some("Pending".into());
    validate_pod(&pod)?;
    Ok(pod)
}

/// The part of the API server's `ValidatePodCreate` a node agent cannot run without: the
/// pod's identity as every pod source checks it
/// ([`validate_pod_identity`]: name, namespace, a UID that is one safe path component,
/// unique DNS-label container names), then at least one container, each with an image.
/// Anything finer is left to the runtime, as it is for the kubelet's API pods.
fn validate_pod(pod: &Pod) -> Result<(), String> {
    validate_pod_identity(pod).map_err(|e| e.to_string())?;
    let Some(spec) = pod.spec.as_ref() else {
        return Err("invalid pod: spec: Required value".into());
    };
    if spec.containers.is_empty() {
        return Err("invalid pod: spec.containers: Required value".into());
    }
    let groups = [
        (
            "initContainers",
            spec.init_containers.as_deref().unwrap_or_default(),
        ),
        ("containers", spec.containers.as_slice()),
    ];
    for (group, containers) in groups {
        for (index, container) in containers.iter().enumerate() {
            if container
                .image
                .as_deref()
                .is_none_or(|image| image.trim().is_empty())
            {
                return Err(format!(
                    "invalid pod: spec.{group}[{index}].image: Required value"
                ));
            }
        }
    }
    Ok(())
}

/// A ConfigMap from a manifest: named, namespace defaulted to `default`.
pub(crate) fn config_map(mut map: ConfigMap) -> Result<ConfigMap, String> {
    if map.metadata.name.as_deref().is_none_or(str::is_empty) {
        return Err("invalid configmap: name is needed for the configmap".into());
    }
    if map.metadata.namespace.as_deref().is_none_or(str::is_empty) {
        map.metadata.namespace = Some("default".into());
    }
    Ok(map)
}

/// A Secret from a manifest: named, namespace defaulted to `default`, and `stringData`
/// merged into `data` as the API server does on write, so consumers read `data` only.
pub(crate) fn secret(mut secret: Secret) -> Result<Secret, String> {
    if secret.metadata.name.as_deref().is_none_or(str::is_empty) {
        return Err("invalid secret: name is needed for the secret".into());
    }
    if secret
        .metadata
        .namespace
        .as_deref()
        .is_none_or(str::is_empty)
    {
        secret.metadata.namespace = Some("default".into());
    }
    if let Some(string_data) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        for (key, value) in string_data {
            data.insert(key, ByteString(value.into_bytes()));
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv128a_matches_the_reference_vectors() {
        // Go: fmt.Sprintf("%x", fnv.New128a().Sum(nil)) for "" and "a".
        let hash = |input: &[u8]| {
            let mut h = Fnv128a::new();
            h.write(input);
            format!("{:032x}", h.finish())
        };
        assert_eq!(hash(b""), "6c62272e07bb014262b821756295c58d");
        assert_eq!(hash(b"a"), "d228cb696f1a8caf78912b704e4a8964");
    }

    #[test]
    fn split_yaml_json_and_empty_documents() {
        let docs = split_documents("a: 1\n---\n---\n# only a comment\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        let docs = split_documents("{\"a\": 1}\n{\"b\": 2}").unwrap();
        assert_eq!(docs.len(), 2);
        assert!(split_documents("").unwrap().is_empty());
        assert!(
            split_documents("a: [1\n")
                .unwrap_err()
                .starts_with("invalid YAML")
        );
        assert!(
            split_documents("{\"a\": ")
                .unwrap_err()
                .starts_with("invalid JSON")
        );
    }

    #[test]
    fn decode_checks_kind_and_api_version() {
        let doc = |s: &str| split_documents(s).unwrap().remove(0);
        assert!(
            decode_object(doc("apiVersion: v1\nmetadata: {name: a}\n"))
                .unwrap_err()
                .contains("Kind' is missing")
        );
        assert!(
            decode_object(doc("kind: Pod\nmetadata: {name: a}\n"))
                .unwrap_err()
                .contains("apiVersion' is missing")
        );
        assert!(
            decode_object(doc("apiVersion: apps/v1\nkind: Pod\n"))
                .unwrap_err()
                .contains("apiVersion")
        );
        assert!(
            decode_object(doc("apiVersion: v1\nkind: Service\n"))
                .unwrap_err()
                .contains("unsupported kind \"Service\"")
        );
        let err = decode_object(doc(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, ports: 8}]}\n",
        ))
        .unwrap_err();
        assert!(
            err.starts_with("spec.containers[0].ports: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn secret_string_data_is_merged() {
        let doc = split_documents(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {user: admin}\n",
        )
        .unwrap()
        .remove(0);
        let Object::Secret(decoded) = decode_object(doc).unwrap() else {
            panic!("not a secret")
        };
        let secret = secret(*decoded).unwrap();
        assert_eq!(secret.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(secret.data.unwrap()["user"], ByteString(b"admin".to_vec()));
        assert!(secret.string_data.is_none());
    }

    #[test]
    fn secret_errors_name_the_key_never_the_value() {
        let doc = |s: &str| split_documents(s).unwrap().remove(0);
        let err = decode_object(doc(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pin: 918273645}\n",
        ))
        .unwrap_err();
        assert!(err.contains("stringData.pin: invalid type"), "{err}");
        assert!(!err.contains("918273645"), "{err}");
        let err = decode_object(doc(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {token: \"s3cr3t-v@lue!!\"}\n",
        ))
        .unwrap_err();
        assert!(
            err.contains("data.token: invalid value: not valid base64"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn traversal_uid_and_names_are_refused_naming_the_field() {
        let pod = |meta: &str| -> Result<Pod, String> {
            let doc = split_documents(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {meta}\n\
                 spec: {{containers: [{{name: c, image: busybox}}]}}\n"
            ))
            .unwrap()
            .remove(0);
            let Object::Pod(pod) = decode_object(doc)? else {
                unreachable!()
            };
            static_pod(*pod, "node-1", Path::new("/m/trav.yaml"))
        };
        let err = pod("{name: trav, uid: \"../../canary\"}").unwrap_err();
        assert!(
            err.starts_with(
                "invalid pod default/trav-node-1: metadata.uid: Invalid value: \"../../canary\""
            ),
            "{err}"
        );
        for meta in [
            "{name: trav, uid: \"..\"}",
            "{name: trav, uid: \"a/b\"}",
            "{name: trav, uid: \"a\\0b\"}",
        ] {
            assert!(pod(meta).unwrap_err().contains("metadata.uid"), "{meta}");
        }
        assert!(
            pod("{name: trav, namespace: \"../x\"}")
                .unwrap_err()
                .contains("metadata.namespace")
        );
        assert!(pod("{name: trav, uid: 5f0c-1}").is_ok());
    }

    #[test]
    fn validation() {
        let pod = |spec: &str| -> Result<Pod, String> {
            let doc = split_documents(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: web}}\nspec: {spec}\n"
            ))
            .unwrap()
            .remove(0);
            let Object::Pod(pod) = decode_object(doc)? else {
                unreachable!()
            };
            static_pod(*pod, "node-1", Path::new("/m/web.yaml"))
        };
        assert!(pod("{containers: [{name: c, image: busybox}]}").is_ok());
        assert!(
            pod("{containers: []}")
                .unwrap_err()
                .contains("spec.containers: Required")
        );
        assert!(
            pod("{containers: [{name: c}]}")
                .unwrap_err()
                .contains("image: Required")
        );
        assert!(
            pod("{containers: [{name: C, image: x}]}")
                .unwrap_err()
                .contains("name: Invalid")
        );
        assert!(
            pod("{initContainers: [{name: c, image: x}], containers: [{name: c, image: x}]}")
                .unwrap_err()
                .contains("Duplicate value")
        );
    }
}
