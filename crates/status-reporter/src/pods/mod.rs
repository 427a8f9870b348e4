//! The pod side of the kubelet's API bridge: the pods the API server binds to this node, the
//! status written back for them, their final deletion, and mirror pods for static pods.
//!
//! Four parts, each named after the kubelet code it follows:
//! - [`ApiPodSource`] (`pkg/kubelet/config/apiserver.go`): a watch of the pods with
//!   `spec.nodeName=<node>`, relisted when the watch expires, as [`PodSourceUpdate`]s on a
//!   channel and as a shared view, [`NodePods`];
//! - [`PodStatusManager`] (`pkg/kubelet/status/status_manager.go`): a versioned status per pod
//!   UID, written as a strategic merge patch of `pods/<name>/status` carrying `metadata.uid`
//!   as a precondition, only when it differs from what the API server has; the final DELETE
//!   of a pod whose termination is complete;
//! - [`MirrorPods`] (`pkg/kubelet/pod/mirror_client.go` and `tryReconcileMirrorPods`): the
//!   API copy of each static pod;
//! - pure functions ([`merge_pod_status`], [`pod_status_changed`], [`pod_status_patch`],
//!   [`normalize_pod_status`], [`terminated_pod_status`], [`mirror_pod`]) that the three use
//!   and that can be tested without a cluster.
//!
//! Everything uses only what the Node authorizer grants `system:node:<name>` and what the
//! NodeRestriction admission plugin accepts from it: list and watch pods with the
//! `spec.nodeName` field selector, patch the status of pods bound to the node, create mirror
//! pods owned by the node that reference no other API object, and delete pods bound to the
//! node. A single pod is read with a list scoped by both `metadata.name` and `spec.nodeName`
//! (always authorized) rather than a GET, which the Node authorizer answers from its graph
//! and may refuse for a pod it has not linked to the node yet.

mod mirror;
mod patch;
mod source;
mod status;
mod status_manager;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use crate::error::{Error, Result};

pub use mirror::{MirrorPodSync, MirrorPods, api_object_reference, mirror_pod};
pub use patch::pod_status_patch;
pub use source::{
    ApiPodSource, ApiPodSourceConfig, DEFAULT_POD_UPDATE_CAPACITY, DEFAULT_POD_WATCH_TIMEOUT,
    NodePods, PodSourceUpdate,
};
pub use status::{
    DISRUPTION_TARGET, KUBELET_POD_CONDITIONS, MAX_POD_TERMINATION_MESSAGE_LENGTH,
    is_kubelet_pod_condition, merge_pod_status, normalize_pod_status, pod_status_changed,
    terminated_pod_status,
};
pub use status_manager::{
    DEFAULT_POD_STATUS_RESYNC_PERIOD, PodStatusManager, PodStatusManagerConfig, PodStatusStats,
};

pub use pod_plan::labels::{
    API_SOURCE, CONFIG_HASH_ANNOTATION, CONFIG_MIRROR_ANNOTATION, CONFIG_SOURCE_ANNOTATION,
};
pub use pod_plan::status::{is_mirror_pod, is_static_pod};
/// How long one pod request may take before it is abandoned (and retried by the loop that
/// made it).
pub const POD_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// The static pod's configuration hash ([`CONFIG_HASH_ANNOTATION`]), which its mirror pod
/// carries as [`CONFIG_MIRROR_ANNOTATION`].
pub fn config_hash(pod: &Pod) -> Option<&str> {
    annotation(pod, CONFIG_HASH_ANNOTATION)
}

/// The hash a mirror pod was made from (its [`CONFIG_MIRROR_ANNOTATION`]).
pub fn mirror_hash(pod: &Pod) -> Option<&str> {
    annotation(pod, CONFIG_MIRROR_ANNOTATION)
}

/// Whether `mirror` is the mirror pod of `static_pod`: same namespace and name, and a mirror
/// hash equal to the static pod's configuration hash (`IsMirrorPodOf`).
pub fn is_mirror_pod_of(mirror: &Pod, static_pod: &Pod) -> bool {
    mirror.metadata.name == static_pod.metadata.name
        && mirror.metadata.namespace == static_pod.metadata.namespace
        && mirror_hash(mirror).is_some_and(|h| Some(h) == config_hash(static_pod))
}

/// `namespace/name` of a pod, for errors and spans.
pub(crate) fn pod_ref(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The pod's UID, `""` when it has none.
pub(crate) fn pod_uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

/// The namespace of a pod, `default` when unset (as the API server defaults it).
pub(crate) fn pod_namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

/// Reads pod `name` if it is bound to `node`: a list scoped by `metadata.name` and
/// `spec.nodeName`, which the Node authorizer always allows (a GET needs its graph to link
/// the pod to the node first). `None` when there is no such pod bound to the node.
pub(crate) async fn read_node_pod(
    pods: &Api<Pod>,
    name: &str,
    node: &str,
) -> kube::Result<Option<Pod>> {
    let params =
        ListParams::default().fields(&format!("metadata.name={name},spec.nodeName={node}"));
    let list = pods.list(&params).await?;
    Ok(list
        .items
        .into_iter()
        .find(|p| p.metadata.name.as_deref() == Some(name)))
}

/// Runs one pod request with [`POD_REQUEST_TIMEOUT`]; a refusal becomes [`Error::PodApi`] and
/// no answer [`Error::PodTimeout`], both naming the pod and `action`.
pub(crate) async fn pod_request<T>(
    pod: &str,
    uid: &str,
    action: &'static str,
    request: impl Future<Output = kube::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(POD_REQUEST_TIMEOUT, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(Error::PodApi {
            pod: pod.to_owned(),
            uid: uid.to_owned(),
            action,
            source: Box::new(source),
        }),
        Err(_) => Err(Error::PodTimeout {
            pod: pod.to_owned(),
            uid: uid.to_owned(),
            action,
            after: POD_REQUEST_TIMEOUT,
        }),
    }
}

/// The client error inside an [`Error::PodApi`].
pub(crate) fn pod_api_source(e: &Error) -> Option<&kube::Error> {
    match e {
        Error::PodApi { source, .. } => Some(source.as_ref()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(annotations: &[(&str, &str)]) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-n1".into()),
                namespace: Some("default".into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    #[test]
    fn static_mirror_and_api_pods_are_told_apart() {
        let file = pod(&[
            (CONFIG_SOURCE_ANNOTATION, "file"),
            (CONFIG_HASH_ANNOTATION, "h1"),
        ]);
        let api = pod(&[(CONFIG_SOURCE_ANNOTATION, "api")]);
        let plain = pod(&[]);
        let mirror = pod(&[(CONFIG_MIRROR_ANNOTATION, "h1")]);
        let stale = pod(&[(CONFIG_MIRROR_ANNOTATION, "h0")]);
        assert!(is_static_pod(&file) && !is_mirror_pod(&file));
        assert!(!is_static_pod(&api) && !is_static_pod(&plain));
        assert!(is_mirror_pod(&mirror) && !is_static_pod(&mirror));
        assert!(is_mirror_pod_of(&mirror, &file));
        assert!(!is_mirror_pod_of(&stale, &file));
        assert!(!is_mirror_pod_of(&plain, &file));
        assert_eq!(config_hash(&file), Some("h1"));
        assert_eq!(pod_ref(&file), "default/web-n1");
    }
}
