//! Mirror pods: the API server's read-only copy of each static pod
//! (`pkg/kubelet/pod/mirror_client.go`, `tryReconcileMirrorPods` and
//! `deleteOrphanedMirrorPods` in `pkg/kubelet/kubelet.go` and `kubelet_pods.go`).
//!
//! A mirror pod is the static pod with the annotation `kubernetes.io/config.mirror` set to the
//! static pod's `kubernetes.io/config.hash`, and a controller owner reference to the Node.
//! The NodeRestriction admission plugin accepts from a node only such pods: bound to itself
//! (`spec.nodeName`), with exactly one owner reference (`v1`, `Node`, its name and UID,
//! `controller: true`, no `blockOwnerDeletion`), referencing no other API object (service
//! accounts, secrets, config maps, persistent volume claims, resource claims, CSI volumes,
//! cluster trust bundles). [`mirror_pod`] checks all of it before anything is sent, so a
//! refusal comes with the rule that was broken rather than after a round trip.

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::{Api, Client};
use serde_json::Value;

use super::source::NodePods;
use super::{
    CONFIG_MIRROR_ANNOTATION, config_hash, is_mirror_pod, is_mirror_pod_of, is_static_pod,
    mirror_hash, pod_api_source, pod_namespace, pod_ref, pod_request, pod_uid, read_node_pod,
};
use crate::error::{Error, Result, is_already_exists, is_conflict, is_not_found};

/// What [`MirrorPods::sync`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum MirrorPodSync {
    /// The mirror pod is current: nothing was sent.
    UpToDate,
    /// There was no mirror pod; this one was created.
    Created(Pod),
    /// The mirror pod was outdated (another hash) or being deleted; it was deleted and this
    /// one created.
    Replaced {
        /// The UID of the mirror pod deleted.
        old_uid: String,
        /// The new mirror pod.
        mirror: Pod,
    },
    /// The outdated mirror pod could not be deleted because it had been replaced meanwhile:
    /// the next sync looks at its successor.
    Pending,
    /// No mirror pod is created: the Node does not exist or is being deleted.
    NodeGone,
}

/// Creates, replaces and deletes the mirror pods of a node's static pods, with the node's own
/// identity.
#[derive(Clone)]
pub struct MirrorPods {
    client: Client,
    node_name: String,
    pods: NodePods,
}

/// The API object a pod references that a node may not make a mirror pod reference, as the
/// NodeRestriction admission plugin names it (`HasAPIObjectReference`): `serviceaccounts`,
/// `secrets`, `configmaps`, `resourceclaims`, `configmaps (via configmap volumes)`, ...;
/// `None` when it references none.
pub fn api_object_reference(pod: &Pod) -> Option<String> {
    let spec = pod
        .spec
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(Value::Null);
    let list = |v: &Value, key: &str| -> Vec<Value> {
        v.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let has = |v: &Value, key: &str| v.get(key).is_some_and(|x| !x.is_null());
    if spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        return Some("serviceaccounts".into());
    }
    let containers: Vec<Value> = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|key| list(&spec, key))
        .collect();
    let volumes = list(&spec, "volumes");
    let env_refs = |env_key: &str, env_from_key: &str| {
        containers.iter().any(|c| {
            list(c, "env")
                .iter()
                .any(|e| e.get("valueFrom").is_some_and(|f| has(f, env_key)))
                || list(c, "envFrom").iter().any(|e| has(e, env_from_key))
        })
    };
    // `VisitPodSecretNames`: pull secrets, env, and the secret references of volumes.
    let secret_volume = |v: &Value| {
        has(v, "secret")
            || has(v, "azureFile")
            || [
                "cephfs",
                "flexVolume",
                "iscsi",
                "rbd",
                "scaleIO",
                "storageos",
            ]
            .iter()
            .any(|k| v.get(*k).is_some_and(|s| has(s, "secretRef")))
            || v.get("csi").is_some_and(|s| has(s, "nodePublishSecretRef"))
            || v.get("projected")
                .is_some_and(|p| list(p, "sources").iter().any(|s| has(s, "secret")))
    };
    if !list(&spec, "imagePullSecrets").is_empty()
        || env_refs("secretKeyRef", "secretRef")
        || volumes.iter().any(secret_volume)
    {
        return Some("secrets".into());
    }
    let configmap_volume = |v: &Value| {
        has(v, "configMap")
            || v.get("projected")
                .is_some_and(|p| list(p, "sources").iter().any(|s| has(s, "configMap")))
    };
    if env_refs("configMapKeyRef", "configMapRef") || volumes.iter().any(configmap_volume) {
        return Some("configmaps".into());
    }
    if !list(&spec, "resourceClaims").is_empty() {
        return Some("resourceclaims".into());
    }
    for v in &volumes {
        let found = if has(v, "csi") {
            "csidrivers (via CSI volumes)"
        } else if has(v, "glusterfs") {
            "endpoints (via glusterFS volumes)"
        } else if has(v, "persistentVolumeClaim") {
            "persistentvolumeclaims"
        } else if has(v, "ephemeral") {
            "persistentvolumeclaims (via ephemeral volumes)"
        } else if let Some(projected) = v.get("projected") {
            let sources = list(projected, "sources");
            if sources.iter().any(|s| has(s, "serviceAccountToken")) {
                "serviceaccounts (via projected volumes)"
            } else if sources.iter().any(|s| has(s, "clusterTrustBundle")) {
                "clustertrustbundles"
            } else if sources.iter().any(|s| has(s, "podCertificate")) {
                "podcertificates"
            } else {
                continue;
            }
        } else {
            continue;
        };
        return Some(found.into());
    }
    None
}

/// The mirror pod of `static_pod` on node `node_name` whose Node has UID `node_uid`
/// (`CreateMirrorPod`): the static pod with the [`CONFIG_MIRROR_ANNOTATION`] set to its
/// configuration hash and a controller owner reference to the Node; what the API server sets
/// itself (UID, resource version, timestamps, generation, managed fields, status) is left
/// out.
///
/// Refused before anything is sent, with the NodeRestriction rule it would break: a pod that
/// is not static or has no `kubernetes.io/config.hash`, a pod bound to another node, a pod
/// referencing other API objects ([`api_object_reference`]), a Node without UID.
pub fn mirror_pod(static_pod: &Pod, node_name: &str, node_uid: &str) -> Result<Pod> {
    let refused = |problem: String| Error::MirrorPod {
        pod: pod_ref(static_pod),
        uid: pod_uid(static_pod).to_owned(),
        problem,
    };
    if !is_static_pod(static_pod) {
        return Err(refused(
            "not a static pod (its kubernetes.io/config.source annotation is missing or 'api')"
                .into(),
        ));
    }
    let Some(hash) = config_hash(static_pod).filter(|h| !h.is_empty()) else {
        return Err(refused(
            "the static pod has no kubernetes.io/config.hash annotation".into(),
        ));
    };
    if node_uid.is_empty() {
        return Err(refused(format!("UID unset for node {node_name}")));
    }
    let bound_to = static_pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref());
    if let Some(other) = bound_to.filter(|n| !n.is_empty() && *n != node_name) {
        return Err(refused(format!(
            "node {node_name:?} can only create pods with spec.nodeName set to itself, not \
             {other:?} (NodeRestriction admission)"
        )));
    }
    if let Some(reference) = api_object_reference(static_pod) {
        return Err(refused(format!(
            "node {node_name:?} can not create pods that reference {reference} \
             (NodeRestriction admission)"
        )));
    }
    let mut mirror = static_pod.clone();
    let meta = &mut mirror.metadata;
    meta.uid = None;
    meta.resource_version = None;
    meta.creation_timestamp = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.generation = None;
    meta.managed_fields = None;
    meta.namespace = Some(pod_namespace(static_pod).to_owned());
    meta.annotations
        .get_or_insert_with(Default::default)
        .insert(CONFIG_MIRROR_ANNOTATION.to_owned(), hash.to_owned());
    meta.owner_references = Some(vec![OwnerReference {
        api_version: "v1".to_owned(),
        kind: "Node".to_owned(),
        name: node_name.to_owned(),
        uid: node_uid.to_owned(),
        controller: Some(true),
        block_owner_deletion: None,
    }]);
    if let Some(spec) = mirror.spec.as_mut() {
        spec.node_name = Some(node_name.to_owned());
    }
    mirror.status = None;
    Ok(mirror)
}

/// How a deletion of a mirror pod ended.
enum Deletion {
    Deleted,
    NotFound,
    /// The UID precondition failed: another pod of that name exists now.
    Replaced,
}

impl std::fmt::Debug for MirrorPods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirrorPods")
            .field("node_name", &self.node_name)
            .field("pods", &self.pods.len())
            .finish_non_exhaustive()
    }
}

impl MirrorPods {
    /// A client for the mirror pods of node `node_name`. `pods` is the API view of the node's
    /// pods ([`ApiPodSource::pods`](super::ApiPodSource::pods)), where
    /// [`MirrorPods::sync`] finds the current mirror pods.
    pub fn new(client: Client, node_name: impl Into<String>, pods: NodePods) -> MirrorPods {
        MirrorPods {
            client,
            node_name: node_name.into(),
            pods,
        }
    }

    /// The node whose mirror pods these are.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    fn api(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// The Node's UID, `None` when the Node does not exist or is being deleted.
    async fn node_uid(&self, pod: &str, uid: &str) -> Result<Option<String>> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let node =
            pod_request(pod, uid, "getting the node", nodes.get_opt(&self.node_name)).await?;
        Ok(node
            .filter(|n| n.metadata.deletion_timestamp.is_none())
            .and_then(|n| n.metadata.uid))
    }

    /// Creates the mirror pod of `static_pod` (`CreateMirrorPod`), reading the Node for its
    /// UID (the kubelet reads its Node informer's copy). A mirror pod of the same name and
    /// hash that exists already is returned as it is (the kubelet means to, but checks the
    /// annotation on the empty answer of the failed create, so it reports AlreadyExists).
    /// Fails with [`Error::NodeNotFound`] when the Node does not exist (or is being deleted),
    /// with [`Error::MirrorPod`] for a pod NodeRestriction would refuse ([`mirror_pod`]).
    pub async fn create(&self, static_pod: &Pod) -> Result<Pod> {
        let (pod, uid) = (pod_ref(static_pod), pod_uid(static_pod).to_owned());
        let span = tracing::info_span!("mirror_pod", pod = %pod, uid = %uid);
        let work = async {
            let node_uid = self
                .node_uid(&pod, &uid)
                .await?
                .ok_or_else(|| Error::NodeNotFound {
                    node: self.node_name.clone(),
                })?;
            let mirror = mirror_pod(static_pod, &self.node_name, &node_uid)?;
            let api = self.api(pod_namespace(static_pod));
            let params = PostParams::default();
            let created = api.create(&params, &mirror);
            match pod_request(&pod, &uid, "creating the mirror pod", created).await {
                Ok(created) => {
                    let mirror_uid = pod_uid(&created);
                    tracing::info!(%mirror_uid, "created a mirror pod for static pod");
                    Ok(created)
                }
                Err(e) if pod_api_source(&e).is_some_and(is_already_exists) => {
                    let name = static_pod.metadata.name.as_deref().unwrap_or_default();
                    let read = read_node_pod(&api, name, &self.node_name);
                    let existing =
                        pod_request(&pod, &uid, "reading the existing pod", read).await?;
                    match existing {
                        Some(existing) if is_mirror_pod_of(&existing, static_pod) => Ok(existing),
                        _ => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        };
        tracing::Instrument::instrument(work, span).await
    }

    /// Deletes the mirror pod `namespace/name` with grace period 0, only if its UID is
    /// `uid` when given (`DeleteMirrorPod`). Returns whether it was deleted: a pod that is
    /// not there, or whose UID differs, is not an error. Other failures are returned (the
    /// kubelet logs them and reports "not deleted").
    pub async fn delete(&self, namespace: &str, name: &str, uid: Option<&str>) -> Result<bool> {
        Ok(matches!(
            self.delete_inner(namespace, name, uid).await?,
            Deletion::Deleted
        ))
    }

    async fn delete_inner(
        &self,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Result<Deletion> {
        let pod = format!("{namespace}/{name}");
        let span = tracing::info_span!("mirror_pod", pod = %pod, uid = uid.unwrap_or_default());
        let work = async {
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: uid.map(|uid| Preconditions {
                    uid: Some(uid.to_owned()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            let api = self.api(namespace);
            let request = api.delete(name, &params);
            match pod_request(
                &pod,
                uid.unwrap_or_default(),
                "deleting the mirror pod",
                request,
            )
            .await
            {
                Ok(_) => {
                    tracing::info!("deleted the mirror pod");
                    Ok(Deletion::Deleted)
                }
                Err(e) if pod_api_source(&e).is_some_and(is_not_found) => Ok(Deletion::NotFound),
                Err(e) if pod_api_source(&e).is_some_and(is_conflict) => Ok(Deletion::Replaced),
                Err(e) => Err(e),
            }
        };
        tracing::Instrument::instrument(work, span).await
    }

    /// Makes the API server's mirror pod of `static_pod` current (`tryReconcileMirrorPods`),
    /// from the mirror pod the view has:
    /// - none: it is created (unless the Node is gone);
    /// - one being deleted (someone deleted it through the API: the static pod goes on) or
    ///   made from another version of the static pod (another hash): it is deleted (grace
    ///   period 0, UID precondition) and created again in the same call, also when it was
    ///   already gone (the kubelet creates it at its next sync then);
    /// - otherwise nothing is sent.
    pub async fn sync(&self, static_pod: &Pod) -> Result<MirrorPodSync> {
        let span = tracing::info_span!(
            "mirror_pod_sync",
            pod = %pod_ref(static_pod),
            uid = %pod_uid(static_pod),
        );
        tracing::Instrument::instrument(self.sync_inner(static_pod), span).await
    }

    async fn sync_inner(&self, static_pod: &Pod) -> Result<MirrorPodSync> {
        let current = self.pods.mirror_pod_of(static_pod);
        let mut replaced = None;
        if let Some(mirror) = current.as_deref() {
            if mirror.metadata.deletion_timestamp.is_none() && is_mirror_pod_of(mirror, static_pod)
            {
                return Ok(MirrorPodSync::UpToDate);
            }
            let old_uid = pod_uid(mirror).to_owned();
            tracing::info!(
                pod = %pod_ref(mirror),
                uid = %old_uid,
                hash = mirror_hash(mirror).unwrap_or_default(),
                "deleting a mirror pod that does not match its static pod"
            );
            let name = mirror.metadata.name.as_deref().unwrap_or_default();
            match self
                .delete_inner(pod_namespace(mirror), name, Some(&old_uid))
                .await?
            {
                Deletion::Deleted | Deletion::NotFound => replaced = Some(old_uid),
                Deletion::Replaced => return Ok(MirrorPodSync::Pending),
            }
        }
        match self.create(static_pod).await {
            Ok(mirror) => Ok(match replaced {
                Some(old_uid) => MirrorPodSync::Replaced { old_uid, mirror },
                None => MirrorPodSync::Created(mirror),
            }),
            Err(Error::NodeNotFound { .. }) => {
                tracing::info!(
                    "no need to create a mirror pod, since the node is not in the cluster"
                );
                Ok(MirrorPodSync::NodeGone)
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes the mirror pods (in the view) of which no pod in `static_pods` has the full
    /// name (`deleteOrphanedMirrorPods`): their static pod was removed. Each is deleted with
    /// its UID as a precondition (the kubelet deletes by name). Returns the `namespace/name`
    /// of those deleted.
    pub async fn delete_orphans(&self, static_pods: &[Pod]) -> Result<Vec<String>> {
        let mut deleted = Vec::new();
        for mirror in self.pods.list() {
            if !is_mirror_pod(&mirror) {
                continue;
            }
            let orphan = !static_pods.iter().any(|s| {
                s.metadata.name == mirror.metadata.name
                    && pod_namespace(s) == pod_namespace(&mirror)
            });
            if !orphan {
                continue;
            }
            let name = mirror.metadata.name.as_deref().unwrap_or_default();
            if self
                .delete(pod_namespace(&mirror), name, Some(pod_uid(&mirror)))
                .await?
            {
                deleted.push(pod_ref(&mirror));
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn static_pod(spec: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {
                "name": "web-n1", "namespace": "kube-system", "uid": "abc",
                "resourceVersion": "7", "generation": 2,
                "annotations": {
                    "kubernetes.io/config.source": "file",
                    "kubernetes.io/config.hash": "abc",
                    "kubernetes.io/config.seen": "2024-01-01T00:00:00Z",
                },
            },
            "spec": spec,
            "status": {"phase": "Running"},
        }))
        .unwrap()
    }

    #[test]
    fn mirror_pod_is_owned_by_the_node_and_annotated() {
        let pod = static_pod(json!({"nodeName": "n1", "containers": [{"name": "c"}]}));
        let mirror = mirror_pod(&pod, "n1", "node-uid").unwrap();
        let annotations = mirror.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations["kubernetes.io/config.mirror"], "abc");
        assert_eq!(annotations["kubernetes.io/config.hash"], "abc");
        assert_eq!(annotations["kubernetes.io/config.source"], "file");
        let owners = mirror.metadata.owner_references.as_ref().unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(
            (
                owners[0].kind.as_str(),
                owners[0].name.as_str(),
                owners[0].uid.as_str()
            ),
            ("Node", "n1", "node-uid")
        );
        assert_eq!(owners[0].controller, Some(true));
        assert_eq!(owners[0].block_owner_deletion, None);
        assert_eq!(mirror.metadata.uid, None);
        assert_eq!(mirror.metadata.resource_version, None);
        assert_eq!(mirror.metadata.generation, None);
        assert!(mirror.status.is_none());
        assert!(is_mirror_pod_of(&mirror, &pod));
    }

    #[test]
    fn node_restriction_rules_are_checked_first() {
        let cases = [
            (
                json!({"serviceAccountName": "default", "containers": []}),
                "serviceaccounts",
            ),
            (
                json!({"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}]}),
                "secrets",
            ),
            (
                json!({"containers": [],
                    "volumes": [{"name": "v", "secret": {"secretName": "s"}}]}),
                "secrets",
            ),
            (
                json!({"containers": [], "volumes": [{"name": "v", "configMap": {"name": "c"}}]}),
                "configmaps",
            ),
            (
                json!({"containers": [{"name": "c", "env": [{"name": "E",
                "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}]}]}),
                "configmaps",
            ),
            (
                json!({"containers": [], "volumes": [{"name": "v", "projected": {"sources": [
                {"serviceAccountToken": {"path": "t"}}]}}]}),
                "serviceaccounts (via projected volumes)",
            ),
            (
                json!({"containers": [], "volumes": [{"name": "v",
                "persistentVolumeClaim": {"claimName": "c"}}]}),
                "persistentvolumeclaims",
            ),
        ];
        for (spec, what) in cases {
            let err = mirror_pod(&static_pod(spec), "n1", "u").unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains(&format!("reference {what} ")),
                "{what}: {message}"
            );
        }
        let fine = static_pod(json!({"containers": [], "volumes": [
            {"name": "e", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/x"}},
            {"name": "d", "projected": {"sources": [{"downwardAPI": {"items": []}}]}}]}));
        assert_eq!(api_object_reference(&fine), None);
        let elsewhere = static_pod(json!({"nodeName": "n2", "containers": []}));
        assert!(
            mirror_pod(&elsewhere, "n1", "u")
                .unwrap_err()
                .to_string()
                .contains("n2")
        );
        let mut api_pod = static_pod(json!({"containers": []}));
        api_pod.metadata.annotations = None;
        assert!(mirror_pod(&api_pod, "n1", "u").is_err());
    }
}
