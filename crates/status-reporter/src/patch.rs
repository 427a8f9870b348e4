//! The strategic merge patch of `nodes/<name>/status` between the Node read and the Node
//! computed, as `nodeutil.PatchNodeStatus` sends it
//! (`k8s.io/component-helpers/node/util/status.go`).
//!
//! The patch carries only what differs: changed labels and annotations (the kubelet's patch
//! includes metadata, and the status subresource of Nodes accepts it), and changed status
//! fields. Lists follow the Node's patch strategies: `conditions` merge by `type` (so
//! conditions written by others, such as NetworkUnavailable, are left alone), and a changed
//! `addresses` list is sent whole with a `$patch: replace` element, the kubelet's fix for its
//! wrong merge annotation. Other lists are atomic and sent whole; maps (capacity,
//! allocatable) and objects (nodeInfo) merge by key, with `null` for a removed key.

use k8s_openapi::api::core::v1::Node;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::strategic_merge::{diff_merge_list, diff_value};

/// The patch that turns `original` into `updated` (metadata labels and annotations, and
/// status), or `None` when they do not differ there.
pub fn node_status_patch(original: &Node, updated: &Node) -> Result<Option<Value>> {
    let name = || updated.metadata.name.clone().unwrap_or_default();
    let to_value = |node: &Node| {
        serde_json::to_value(node).map_err(|source| Error::Patch {
            node: name(),
            source,
        })
    };
    let (old, new) = (to_value(original)?, to_value(updated)?);
    let mut patch = Map::new();

    let mut metadata = Map::new();
    for field in ["labels", "annotations"] {
        if let Some(diff) = diff_value(
            old.pointer(&format!("/metadata/{field}")),
            new.pointer(&format!("/metadata/{field}")),
        ) {
            metadata.insert(field.to_owned(), diff);
        }
    }
    if !metadata.is_empty() {
        patch.insert("metadata".to_owned(), Value::Object(metadata));
    }

    let empty = Map::new();
    let old_status = old
        .get("status")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let new_status = new
        .get("status")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut status = Map::new();
    for key in old_status.keys().chain(new_status.keys()) {
        if status.contains_key(key) {
            continue;
        }
        let (a, b) = (old_status.get(key), new_status.get(key));
        let diff = match key.as_str() {
            // Positions are left to the server, which keeps existing elements in place and
            // appends new ones: no `$setElementOrder`.
            "conditions" => diff_merge_list(a, b, "type").1,
            "addresses" => diff_replace_list(a, b),
            _ => diff_value(a, b),
        };
        if let Some(diff) = diff {
            status.insert(key.clone(), diff);
        }
    }
    if !status.is_empty() {
        patch.insert("status".to_owned(), Value::Object(status));
    }
    Ok((!patch.is_empty()).then_some(Value::Object(patch)))
}

/// A list sent whole when it changed; against a non-empty old list, with the `$patch:
/// replace` directive (`fixupPatchForNodeStatusAddresses`).
fn diff_replace_list(old: Option<&Value>, new: Option<&Value>) -> Option<Value> {
    if old == new {
        return None;
    }
    let Some(Value::Array(new)) = new else {
        return Some(Value::Null);
    };
    let mut list = new.clone();
    if old.and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        list.push(serde_json::json!({ "$patch": "replace" }));
    }
    Some(Value::Array(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(value: Value) -> Node {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn identical_nodes_need_no_patch() {
        let n = node(json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "1"}}}));
        assert_eq!(node_status_patch(&n, &n).unwrap(), None);
    }

    #[test]
    fn heartbeat_only_changes_send_the_heartbeats() {
        let old = node(json!({"metadata": {"name": "n"}, "status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "lastHeartbeatTime": "2024-01-01T00:00:00Z", "lastTransitionTime": "2024-01-01T00:00:00Z"},
            {"type": "NetworkUnavailable", "status": "False"}
        ]}}));
        let new = node(json!({"metadata": {"name": "n"}, "status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "lastHeartbeatTime": "2024-01-01T00:05:00Z", "lastTransitionTime": "2024-01-01T00:00:00Z"},
            {"type": "NetworkUnavailable", "status": "False"}
        ]}}));
        assert_eq!(
            node_status_patch(&old, &new).unwrap(),
            Some(json!({"status": {"conditions": [
                {"type": "Ready", "lastHeartbeatTime": "2024-01-01T00:05:00Z"}
            ]}}))
        );
    }

    #[test]
    fn maps_lists_and_metadata() {
        let old = node(json!({
            "metadata": {"name": "n", "labels": {"a": "1", "gone": "x"}},
            "status": {
                "capacity": {"cpu": "1", "hugepages-1Gi": "1Gi"},
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                "images": [{"names": ["a"], "sizeBytes": 1}],
                "nodeInfo": {"machineID": "m", "bootID": "b1", "kernelVersion": "k",
                    "osImage": "o", "containerRuntimeVersion": "c", "kubeletVersion": "v",
                    "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64",
                    "systemUUID": "u"}
            }
        }));
        let new = node(json!({
            "metadata": {"name": "n", "labels": {"a": "2", "kubernetes.io/os": "linux"}},
            "status": {
                "capacity": {"cpu": "2"},
                "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}],
                "images": [{"names": ["a"], "sizeBytes": 1}, {"names": ["b"], "sizeBytes": 0}],
                "nodeInfo": {"machineID": "m", "bootID": "b2", "kernelVersion": "k",
                    "osImage": "o", "containerRuntimeVersion": "c", "kubeletVersion": "v",
                    "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64",
                    "systemUUID": "u"}
            }
        }));
        assert_eq!(
            node_status_patch(&old, &new).unwrap(),
            Some(json!({
                "metadata": {"labels": {"a": "2", "kubernetes.io/os": "linux", "gone": null}},
                "status": {
                    "capacity": {"cpu": "2", "hugepages-1Gi": null},
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}, {"$patch": "replace"}],
                    "images": [{"names": ["a"], "sizeBytes": 1}, {"names": ["b"], "sizeBytes": 0}],
                    "nodeInfo": {"bootID": "b2"}
                }
            }))
        );
    }

    #[test]
    fn first_addresses_and_new_conditions_are_sent_whole() {
        let old = node(json!({"metadata": {"name": "n"}}));
        let new = node(json!({"metadata": {"name": "n"}, "status": {
            "addresses": [{"type": "Hostname", "address": "n"}],
            "conditions": [{"type": "Ready", "status": "False"}]
        }}));
        assert_eq!(
            node_status_patch(&old, &new).unwrap(),
            Some(json!({"status": {
                "addresses": [{"type": "Hostname", "address": "n"}],
                "conditions": [{"type": "Ready", "status": "False"}]
            }}))
        );
    }
}
