//! One manifest file: decoding its documents and turning `kind: Pod` documents into static
//! pods with the kubelet's defaults (`applyDefaults` in `pkg/kubelet/config/common.go`).

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, PodStatus, Secret, Toleration};
use serde::de::DeserializeOwned;

use pod_lifecycle::validation as rules;

pub use pod_plan::labels::{
    CONFIG_HASH_ANNOTATION, CONFIG_SEEN_ANNOTATION, CONFIG_SOURCE_ANNOTATION, FILE_SOURCE,
};

/// The kubelet's `maxConfigLength`: a larger manifest file is refused unread.
pub const MAX_MANIFEST_BYTES: u64 = 10 * 1024 * 1024;

/// One object a manifest file yields.
#[derive(Debug)]
pub(crate) enum Object {
    Pod(Box<Pod>),
    ConfigMap(Box<ConfigMap>),
    Secret(Box<Secret>),
}

/// What one document holds: one object, or a list whose items are read each on its own.
#[derive(Debug)]
pub(crate) enum Decoded {
    Object(Object),
    /// The items of a `PodList` or `List`, in order; a bad item refuses only itself.
    List(Vec<Result<Object, String>>),
}

/// Splits a file into documents: a JSON file (first non-blank byte `{` or `[`) is one or
/// more concatenated JSON values, anything else a YAML stream (`---` separated) read as the
/// kubelet reads YAML ([`crate::yaml`]: YAML 1.1, so `0644` is octal and an unquoted `yes`
/// a boolean). A syntax error refuses the whole file, since document boundaries cannot be
/// trusted after it; a YAML document that does not convert (an alias to another document's
/// anchor) is refused alone. Empty documents (`---` at the end, a comment-only file) are
/// skipped.
pub(crate) fn split_documents(
    text: &str,
) -> Result<Vec<Result<serde_json::Value, String>>, String> {
    let trimmed = text.trim_start();
    let mut documents = Vec::new();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        for value in serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>() {
            documents.push(Ok(value.map_err(|err| format!("invalid JSON: {err}"))?));
        }
    } else {
        for document in crate::yaml::document_results(text).map_err(|err| err.to_string())? {
            documents.push(document.map_err(|err| err.to_string()));
        }
    }
    documents.retain(|document| !matches!(document, Ok(serde_json::Value::Null)));
    Ok(documents)
}

/// Decodes one document: a `Pod`, `ConfigMap` or `Secret` (`apiVersion: v1`), or a v1
/// `PodList` or `List` of them.
///
/// The kubelet's file source reads one Pod per file (`tryDecodeSinglePod` in
/// `pkg/kubelet/config/file.go`) and refuses a `PodList`, which only its HTTP source takes
/// (`tryDecodePodList`). nodelet already reads several documents per file, and a list is
/// the same thing in one document, so it takes both: a `PodList` (items are Pods, their
/// `kind` and `apiVersion` optional, as the API server writes them) and a `List` (what
/// `kubectl get -o yaml` prints; each item a full object with `apiVersion` and `kind`).
/// Each item is then read as its own document: a bad one is refused alone, with its index.
pub(crate) fn decode_document(document: serde_json::Value) -> Result<Decoded, String> {
    let kind = type_meta(&document)?;
    match kind.as_str() {
        "PodList" | "List" => {
            let serde_json::Value::Object(mut fields) = document else {
                unreachable!("type_meta checked that the document is an object")
            };
            let items = match fields.remove("items") {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(serde_json::Value::Array(items)) => items,
                Some(_) => return Err(format!("items: a {kind} holds a list of items")),
            };
            let decoded = items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    let item = if kind == "PodList" {
                        pod_list_item(item)
                    } else {
                        list_item(item)
                    };
                    item.map_err(|reason| format!("items[{index}]: {reason}"))
                })
                .collect();
            Ok(Decoded::List(decoded))
        }
        _ => decode_object(&kind, document).map(Decoded::Object),
    }
}

/// The document's `kind`, after checking it is an object with `apiVersion: v1`.
fn type_meta(document: &serde_json::Value) -> Result<String, String> {
    let serde_json::Value::Object(fields) = document else {
        return Err("expected an object with apiVersion and kind".into());
    };
    let kind = match fields.get("kind") {
        Some(serde_json::Value::String(kind)) => kind.clone(),
        Some(_) => return Err("kind: expected a string".into()),
        None => return Err("Object 'Kind' is missing".into()),
    };
    match fields.get("apiVersion") {
        Some(serde_json::Value::String(version)) if version == "v1" => Ok(kind),
        Some(serde_json::Value::String(version)) => Err(format!(
            "apiVersion: {kind} must be apiVersion v1, not {version:?}"
        )),
        Some(_) => Err("apiVersion: expected a string".into()),
        None => Err("Object 'apiVersion' is missing".into()),
    }
}

/// An item of a `PodList`: a Pod, whose `kind` and `apiVersion` may be left out.
fn pod_list_item(item: serde_json::Value) -> Result<Object, String> {
    let serde_json::Value::Object(fields) = &item else {
        return Err(format!("expected a Pod, found {}", json_kind(&item)));
    };
    match fields.get("kind") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(kind)) if kind == "Pod" => {}
        Some(other) => return Err(format!("kind: a PodList holds Pods, not {other}")),
    }
    match fields.get("apiVersion") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(version)) if version == "v1" => {}
        Some(other) => {
            return Err(format!(
                "apiVersion: Pod must be apiVersion v1, not {other}"
            ));
        }
    }
    decode_object("Pod", item)
}

/// What a JSON value is, in words: `a string`, `a sequence`.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a sequence",
        serde_json::Value::Object(_) => "a mapping",
    }
}

/// An item of a `List`: a full object of a kind a manifest holds (lists do not nest).
fn list_item(item: serde_json::Value) -> Result<Object, String> {
    let kind = type_meta(&item)?;
    decode_object(&kind, item)
}

/// Decodes one document as the object `kind` names.
fn decode_object(kind: &str, document: serde_json::Value) -> Result<Object, String> {
    match kind {
        "Pod" => typed(document).map(|pod| Object::Pod(Box::new(pod))),
        "ConfigMap" => typed(document).map(|map| Object::ConfigMap(Box::new(map))),
        // Never serde's message for a Secret: it quotes the value it could not use.
        "Secret" => volume_manager::objects::decode_secret(document)
            .map(|secret| Object::Secret(Box::new(secret)))
            .map_err(|e| e.to_string()),
        other => Err(format!(
            "unsupported kind {other:?}: a static manifest holds Pods, ConfigMaps and \
             Secrets, or a PodList or List of them"
        )),
    }
}

/// Deserializes with the failing field's path in the message (`spec.containers[0].ports`).
///
/// YAML 1.1 turns some unquoted words and numbers into booleans and numbers, which a string
/// field then refuses, as the kubelet refuses them (`json: cannot unmarshal bool into Go
/// struct field EnvVar.spec.containers.env.value of type string`); the message says so and
/// how to fix it.
fn typed<T: DeserializeOwned>(document: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(document).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let hint = crate::yaml::string_field_hint(&message);
        // `.` is the object itself: its caller says which object that is.
        if path == "." {
            format!("{message}{hint}")
        } else {
            format!("{path}: {message}{hint}")
        }
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
/// rules every pod source checks ([`rules::validate_pod`]: name, namespace, a UID that is
/// one safe path component, unique DNS-label container names, a supported restartPolicy
/// and imagePullPolicy), then at least one container, each with an image.
/// Anything finer is left to the runtime, as it is for the kubelet's API pods.
fn validate_pod(pod: &Pod) -> Result<(), String> {
    rules::validate_pod(pod).map_err(|e| e.to_string())?;
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

    /// Decodes a document that holds one object.
    fn object(document: serde_json::Value) -> Result<Object, String> {
        match decode_document(document)? {
            Decoded::Object(object) => Ok(object),
            Decoded::List(_) => panic!("a list"),
        }
    }

    fn doc(text: &str) -> serde_json::Value {
        split_documents(text).unwrap().remove(0).unwrap()
    }

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
        assert!(
            object(doc("apiVersion: v1\nmetadata: {name: a}\n"))
                .unwrap_err()
                .contains("Kind' is missing")
        );
        assert!(
            object(doc("kind: Pod\nmetadata: {name: a}\n"))
                .unwrap_err()
                .contains("apiVersion' is missing")
        );
        assert!(
            object(doc("apiVersion: apps/v1\nkind: Pod\n"))
                .unwrap_err()
                .contains("apiVersion")
        );
        assert!(
            object(doc("apiVersion: v1\nkind: Service\n"))
                .unwrap_err()
                .contains("unsupported kind \"Service\"")
        );
        let err = object(doc(
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
        let document =
            doc("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {user: admin}\n");
        let Object::Secret(decoded) = object(document).unwrap() else {
            panic!("not a secret")
        };
        let secret = secret(*decoded).unwrap();
        assert_eq!(secret.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(secret.data.unwrap()["user"], ByteString(b"admin".to_vec()));
        assert!(secret.string_data.is_none());
    }

    #[test]
    fn secret_errors_name_the_key_never_the_value() {
        let err = object(doc(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pin: 918273645}\n",
        ))
        .unwrap_err();
        assert!(err.contains("stringData.pin: invalid type"), "{err}");
        assert!(!err.contains("918273645"), "{err}");
        let err = object(doc(
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
            let document = doc(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {meta}\n\
                 spec: {{containers: [{{name: c, image: busybox}}]}}\n"
            ));
            let Object::Pod(pod) = object(document)? else {
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
            let document = doc(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: web}}\nspec: {spec}\n"
            ));
            let Object::Pod(pod) = object(document)? else {
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

    /// The Pod a single-document manifest decodes to, defaulted and validated.
    fn static_pod_of(text: &str) -> Result<Pod, String> {
        let Object::Pod(pod) = object(doc(text))? else {
            panic!("not a pod")
        };
        static_pod(*pod, "node-1", Path::new("/m/p.yaml"))
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  \
                       - name: c\n    image: busybox\n";

    #[test]
    fn config_map_volume_modes_are_yaml_1_1_octal() {
        let pod = static_pod_of(&format!(
            "{POD}  volumes:\n  - name: v\n    configMap:\n      name: cm\n      \
             defaultMode: 0644\n      items:\n      - {{key: k, path: k, mode: 0400}}\n  \
             - name: s\n    secret: {{secretName: s, defaultMode: 0o600}}\n"
        ))
        .unwrap();
        let volumes = pod.spec.unwrap().volumes.unwrap();
        let config_map = volumes[0].config_map.as_ref().unwrap();
        assert_eq!(config_map.default_mode, Some(0o644));
        assert_eq!(config_map.items.as_ref().unwrap()[0].mode, Some(0o400));
        assert_eq!(
            volumes[1].secret.as_ref().unwrap().default_mode,
            Some(0o600)
        );
    }

    #[test]
    fn hex_signed_underscored_and_integral_float_ports_are_integers() {
        for (port, expected) in [
            ("0x1F90", 8080),
            ("+8080", 8080),
            ("8_080", 8080),
            ("8080.0", 8080),
            ("8.08e3", 8080),
        ] {
            let pod = static_pod_of(&format!("{POD}    ports:\n    - containerPort: {port}\n"))
                .unwrap_or_else(|e| panic!("{port}: {e}"));
            let ports = pod.spec.unwrap().containers[0].ports.clone().unwrap();
            assert_eq!(ports[0].container_port, expected, "{port}");
        }
        // A fraction is refused, as the kubelet refuses it.
        let err =
            static_pod_of(&format!("{POD}    ports:\n    - containerPort: 8080.5\n")).unwrap_err();
        assert!(
            err.starts_with(
                "spec.containers[0].ports[0].containerPort: invalid type: floating point"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_unquoted_yes_in_a_string_field_is_refused_like_the_kubelet_and_says_quote_it() {
        let err = static_pod_of(&format!(
            "{POD}    env:\n    - name: DEBUG\n      value: yes\n"
        ))
        .unwrap_err();
        assert_eq!(
            err,
            "spec.containers[0].env[0].value: invalid type: boolean `true`, expected a string \
             (unquoted, yes/no/on/off/y/n/true/false are booleans in Kubernetes YAML, as the \
             kubelet reads it: quote the value to keep it a string)"
        );
        let err = static_pod_of(&format!(
            "{POD}    env:\n    - name: MODE\n      value: 0644\n"
        ))
        .unwrap_err();
        assert!(
            err.starts_with("spec.containers[0].env[0].value: invalid type: integer `420`"),
            "{err}"
        );
        assert!(
            err.ends_with("quote the value to keep it a string)"),
            "{err}"
        );
        // Quoted, it is the text; a boolean field takes `yes`; a date stays a string.
        let pod = static_pod_of(&format!(
            "{POD}    tty: yes\n    env:\n    - {{name: DEBUG, value: \"yes\"}}\n    \
             - {{name: DAY, value: 2001-12-14}}\n"
        ))
        .unwrap();
        let container = &pod.spec.unwrap().containers[0];
        assert_eq!(container.tty, Some(true));
        let env = container.env.as_ref().unwrap();
        assert_eq!(env[0].value.as_deref(), Some("yes"));
        assert_eq!(env[1].value.as_deref(), Some("2001-12-14"));
        // A ConfigMap's `data` holds strings: an unquoted `on` there is refused too.
        let err = object(doc(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {enabled: on}\n",
        ))
        .unwrap_err();
        assert!(
            err.starts_with("data.enabled: invalid type: boolean `true`"),
            "{err}"
        );
    }

    /// Found by the `static_pod_manifest` fuzz target: a `PodList` item that is not a
    /// mapping was refused as `items[1]: .: invalid type: ...`, naming no field.
    #[test]
    fn a_pod_list_item_that_is_not_a_mapping_is_refused_naming_the_item() {
        let Decoded::List(items) = decode_document(doc(
            "apiVersion: v1\nkind: PodList\nitems:\n- apiVersion\n- [1]\n",
        ))
        .unwrap() else {
            panic!("not a list")
        };
        assert_eq!(
            items[0].as_ref().unwrap_err(),
            "items[0]: expected a Pod, found a string"
        );
        assert_eq!(
            items[1].as_ref().unwrap_err(),
            "items[1]: expected a Pod, found a sequence"
        );
    }

    #[test]
    fn pod_list_and_list_items_are_read_each_on_its_own() {
        let Decoded::List(items) = decode_document(doc(
            "apiVersion: v1\nkind: PodList\nitems:\n\
             - metadata: {name: a}\n  spec: {containers: [{name: c, image: busybox}]}\n\
             - apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  spec: {containers: [{name: c, image: busybox}]}\n\
             - kind: ConfigMap\n  metadata: {name: c}\n\
             - metadata: {name: d}\n  spec: {containers: [{name: c, ports: 8}]}\n",
        ))
        .unwrap() else {
            panic!("not a list")
        };
        assert!(
            matches!(&items[0], Ok(Object::Pod(pod)) if pod.metadata.name.as_deref() == Some("a"))
        );
        assert!(
            matches!(&items[1], Ok(Object::Pod(pod)) if pod.metadata.name.as_deref() == Some("b"))
        );
        assert_eq!(
            items[2].as_ref().unwrap_err(),
            "items[2]: kind: a PodList holds Pods, not \"ConfigMap\""
        );
        assert!(
            items[3]
                .as_ref()
                .unwrap_err()
                .starts_with("items[3]: spec.containers[0].ports: invalid type"),
            "{:?}",
            items[3]
        );

        let Decoded::List(items) = decode_document(doc(
            "apiVersion: v1\nkind: List\nitems:\n\
             - {apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {containers: [{name: c, image: busybox}]}}\n\
             - {apiVersion: v1, kind: ConfigMap, metadata: {name: cm}, data: {k: v}}\n\
             - {metadata: {name: nokind}}\n\
             - {apiVersion: v1, kind: List, items: []}\n",
        ))
        .unwrap() else {
            panic!("not a list")
        };
        assert!(matches!(&items[0], Ok(Object::Pod(_))));
        assert!(matches!(&items[1], Ok(Object::ConfigMap(_))));
        assert_eq!(
            items[2].as_ref().unwrap_err(),
            "items[2]: Object 'Kind' is missing"
        );
        assert!(
            items[3]
                .as_ref()
                .unwrap_err()
                .contains("unsupported kind \"List\""),
            "{:?}",
            items[3]
        );

        let Decoded::List(items) = decode_document(doc("apiVersion: v1\nkind: PodList\n")).unwrap()
        else {
            panic!("not a list")
        };
        assert!(items.is_empty());
        assert_eq!(
            decode_document(doc("apiVersion: v1\nkind: List\nitems: {a: 1}\n")).unwrap_err(),
            "items: a List holds a list of items"
        );
        assert!(
            decode_document(doc("apiVersion: v2\nkind: PodList\nitems: []\n"))
                .unwrap_err()
                .contains("must be apiVersion v1")
        );
    }
}
