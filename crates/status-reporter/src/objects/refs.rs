//! Which ConfigMaps and Secrets a pod references (`VisitPodSecretNames` and
//! `VisitPodConfigmapNames` of `pkg/api/v1/pod/util.go`), and the Secret conversion the API
//! server applies on write.

use std::collections::BTreeSet;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{EnvFromSource, EnvVar, Pod, Secret};

/// The two kinds of object the cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    /// A core/v1 ConfigMap.
    ConfigMap,
    /// A core/v1 Secret.
    Secret,
}

impl ObjectKind {
    /// The name the kubelet's managers use in messages (`configmap`, `secret`).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::ConfigMap => "configmap",
            ObjectKind::Secret => "secret",
        }
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One ConfigMap or Secret, by kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// ConfigMap or Secret.
    pub kind: ObjectKind,
    /// Its namespace (a pod's references are in the pod's namespace).
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ObjectRef {
    /// A ConfigMap reference.
    pub fn config_map(namespace: impl Into<String>, name: impl Into<String>) -> ObjectRef {
        ObjectRef {
            kind: ObjectKind::ConfigMap,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// A Secret reference.
    pub fn secret(namespace: impl Into<String>, name: impl Into<String>) -> ObjectRef {
        ObjectRef {
            kind: ObjectKind::Secret,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// Every ConfigMap and Secret `pod` references, in its namespace: what the kubelet's secret
/// and configMap managers register for it.
///
/// Secrets: `imagePullSecrets`; `envFrom[].secretRef` and `env[].valueFrom.secretKeyRef` of
/// every container (init, regular, ephemeral); the volumes `secret`, projected `secret`
/// sources, and the `secretRef`/`secretName` of azureFile, cephfs, cinder, flexVolume, rbd,
/// scaleIO, iscsi, storageos and the CSI `nodePublishSecretRef`. ConfigMaps:
/// `envFrom[].configMapRef` and `env[].valueFrom.configMapKeyRef`; the volumes `configMap`
/// and projected `configMap` sources (so the `kube-root-ca.crt` of the injected
/// `kube-api-access-*` volume). Empty names are skipped.
pub fn pod_object_refs(pod: &Pod) -> BTreeSet<ObjectRef> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let mut refs = BTreeSet::new();
    let mut add = |kind: ObjectKind, name: &str| {
        if !name.is_empty() {
            refs.insert(ObjectRef {
                kind,
                namespace: namespace.clone(),
                name: name.to_owned(),
            });
        }
    };
    let Some(spec) = pod.spec.as_ref() else {
        return BTreeSet::new();
    };
    for reference in spec.image_pull_secrets.iter().flatten() {
        add(ObjectKind::Secret, &reference.name);
    }
    let mut visit_container = |env_from: Option<&Vec<EnvFromSource>>, env: Option<&Vec<EnvVar>>| {
        for source in env_from.into_iter().flatten() {
            if let Some(r) = &source.secret_ref {
                add(ObjectKind::Secret, &r.name);
            }
            if let Some(r) = &source.config_map_ref {
                add(ObjectKind::ConfigMap, &r.name);
            }
        }
        for var in env.into_iter().flatten() {
            let Some(from) = &var.value_from else {
                continue;
            };
            if let Some(r) = &from.secret_key_ref {
                add(ObjectKind::Secret, &r.name);
            }
            if let Some(r) = &from.config_map_key_ref {
                add(ObjectKind::ConfigMap, &r.name);
            }
        }
    };
    for c in spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
    {
        visit_container(c.env_from.as_ref(), c.env.as_ref());
    }
    for c in spec.ephemeral_containers.iter().flatten() {
        visit_container(c.env_from.as_ref(), c.env.as_ref());
    }
    for volume in spec.volumes.iter().flatten() {
        // One source per volume: the first that is set, in the Go switch's order.
        if let Some(v) = &volume.azure_file {
            add(ObjectKind::Secret, &v.secret_name);
        } else if let Some(v) = &volume.cephfs {
            if let Some(r) = &v.secret_ref {
                add(ObjectKind::Secret, &r.name);
            }
        } else if let Some(v) = &volume.cinder {
            if let Some(r) = &v.secret_ref {
                add(ObjectKind::Secret, &r.name);
            }
        } else if let Some(v) = &volume.flex_volume {
            if let Some(r) = &v.secret_ref {
                add(ObjectKind::Secret, &r.name);
            }
        } else if let Some(v) = &volume.projected {
            for source in v.sources.iter().flatten() {
                if let Some(s) = &source.secret {
                    add(ObjectKind::Secret, &s.name);
                }
                if let Some(c) = &source.config_map {
                    add(ObjectKind::ConfigMap, &c.name);
                }
            }
        } else if let Some(v) = &volume.rbd {
            if let Some(r) = &v.secret_ref {
                add(ObjectKind::Secret, &r.name);
            }
        } else if let Some(v) = &volume.secret {
            add(ObjectKind::Secret, v.secret_name.as_deref().unwrap_or(""));
        } else if let Some(v) = &volume.scale_io {
            add(ObjectKind::Secret, &v.secret_ref.name);
        } else if let Some(v) = &volume.iscsi {
            if let Some(r) = &v.secret_ref {
                add(ObjectKind::Secret, &r.name);
            }
        } else if let Some(v) = &volume.storageos {
            if let Some(r) = &v.secret_ref {
                add(ObjectKind::Secret, &r.name);
            }
        } else if let Some(v) = &volume.csi {
            if let Some(r) = &v.node_publish_secret_ref {
                add(ObjectKind::Secret, &r.name);
            }
        } else if let Some(v) = &volume.config_map {
            add(ObjectKind::ConfigMap, &v.name);
        }
    }
    refs
}

/// Merges `stringData` into `data` (the API server's conversion on write: `stringData`
/// wins) and clears `stringData`.
pub fn merge_string_data(secret: &mut Secret) {
    if let Some(strings) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(Default::default);
        for (key, value) in strings {
            data.insert(key, ByteString(value.into_bytes()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": { "namespace": "ns", "name": "p", "uid": "u" },
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn every_reference_is_found() {
        let pod = pod(serde_json::json!({
            "imagePullSecrets": [{ "name": "pull" }, { "name": "" }],
            "initContainers": [{ "name": "i", "envFrom": [{ "configMapRef": { "name": "init-cm" } }] }],
            "containers": [{
                "name": "c",
                "envFrom": [{ "secretRef": { "name": "env-secret" } }],
                "env": [
                    { "name": "A", "valueFrom": { "secretKeyRef": { "name": "key-secret", "key": "k" } } },
                    { "name": "B", "valueFrom": { "configMapKeyRef": { "name": "key-cm", "key": "k" } } },
                    { "name": "C", "value": "plain" }
                ]
            }],
            "ephemeralContainers": [{ "name": "e", "env": [
                { "name": "D", "valueFrom": { "secretKeyRef": { "name": "debug-secret", "key": "k" } } }
            ] }],
            "volumes": [
                { "name": "v1", "secret": { "secretName": "vol-secret" } },
                { "name": "v2", "configMap": { "name": "vol-cm" } },
                { "name": "v3", "projected": { "sources": [
                    { "secret": { "name": "proj-secret" } },
                    { "configMap": { "name": "kube-root-ca.crt" } },
                    { "serviceAccountToken": { "path": "token" } }
                ] } },
                { "name": "v4", "csi": { "driver": "d", "nodePublishSecretRef": { "name": "csi-secret" } } },
                { "name": "v5", "emptyDir": {} }
            ]
        }));
        let refs = pod_object_refs(&pod);
        let names: Vec<String> = refs.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "configmap ns/init-cm",
                "configmap ns/key-cm",
                "configmap ns/kube-root-ca.crt",
                "configmap ns/vol-cm",
                "secret ns/csi-secret",
                "secret ns/debug-secret",
                "secret ns/env-secret",
                "secret ns/key-secret",
                "secret ns/proj-secret",
                "secret ns/pull",
                "secret ns/vol-secret",
            ]
        );
    }

    #[test]
    fn a_pod_without_spec_references_nothing() {
        assert!(pod_object_refs(&Pod::default()).is_empty());
    }

    #[test]
    fn string_data_wins_over_data() {
        let mut secret: Secret = serde_json::from_value(serde_json::json!({
            "data": { "a": "b2xk", "b": "Yg==" },
            "stringData": { "a": "new" }
        }))
        .unwrap();
        merge_string_data(&mut secret);
        let data = secret.data.unwrap();
        assert_eq!(data["a"].0, b"new");
        assert_eq!(data["b"].0, b"b");
        assert!(secret.string_data.is_none());
    }
}
