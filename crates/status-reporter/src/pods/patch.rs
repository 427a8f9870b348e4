//! The strategic merge patch of `pods/<name>/status` between the status the API server has and
//! the status to write, as `statusutil.PatchPodStatus` sends it (`pkg/util/pod/pod.go`).
//!
//! The patch always carries `metadata.uid`: the API server refuses it when the pod of that
//! name now has another UID (v1.37 answers 422 Invalid, `metadata.uid: field is immutable`),
//! so a pod deleted and created again under the same name never receives the status of its
//! predecessor. A patch that would carry nothing else
//! is not sent. The status part is a two-way diff following the Pod's patch strategies:
//! `conditions` merge by `type` (so conditions written by others are left alone), `podIPs`
//! and `hostIPs` by `ip`, each with a `$setElementOrder` list when its order changed; every
//! other list (container statuses, volume health) is atomic and sent whole; objects merge by
//! key, with `null` for a removed key. Both sides are compared as the API server stores them
//! (no empty strings, lists or objects), so a status at rest never produces a patch.

use k8s_openapi::api::core::v1::PodStatus;
use serde_json::{Map, Value, json};

use super::status::canonical_status;
use crate::strategic_merge::{diff_merge_list, diff_value};

/// The patch that turns `old` (the API server's status of the pod with `uid`) into `new`, or
/// `None` when they do not differ: then nothing needs to be sent. (Also `None` for a status
/// that does not serialize, which no `PodStatus` does.)
///
/// ```
/// use k8s_openapi::api::core::v1::PodStatus;
/// use serde_json::json;
///
/// let old: PodStatus = serde_json::from_value(json!({"phase": "Pending",
///     "conditions": [{"type": "example.com/gate", "status": "True"}]}))?;
/// let new: PodStatus = serde_json::from_value(json!({"phase": "Running",
///     "conditions": [{"type": "example.com/gate", "status": "True"},
///                    {"type": "Ready", "status": "True"}]}))?;
/// let patch = status_reporter::pod_status_patch("uid-1", &old, &new);
/// assert_eq!(patch, Some(json!({
///     "metadata": {"uid": "uid-1"},
///     "status": {
///         "phase": "Running",
///         "$setElementOrder/conditions": [{"type": "example.com/gate"}, {"type": "Ready"}],
///         "conditions": [{"type": "Ready", "status": "True"}],
///     },
/// })));
/// assert_eq!(status_reporter::pod_status_patch("uid-1", &new, &new), None);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn pod_status_patch(uid: &str, old: &PodStatus, new: &PodStatus) -> Option<Value> {
    let (old, new) = (canonical_status(old)?, canonical_status(new)?);
    let mut status = Map::new();
    for key in old.keys().chain(new.keys()) {
        if status.contains_key(key) {
            continue;
        }
        let (a, b) = (old.get(key), new.get(key));
        let merge_key = match key.as_str() {
            "conditions" => Some("type"),
            "podIPs" | "hostIPs" => Some("ip"),
            _ => None,
        };
        match merge_key {
            Some(merge_key) => {
                let (order, diff) = diff_merge_list(a, b, merge_key);
                if let Some(order) = order {
                    status.insert(format!("$setElementOrder/{key}"), order);
                }
                if let Some(diff) = diff {
                    status.insert(key.clone(), diff);
                }
            }
            None => {
                if let Some(diff) = diff_value(a, b) {
                    status.insert(key.clone(), diff);
                }
            }
        }
    }
    (!status.is_empty()).then(|| {
        json!({
            "metadata": {"uid": uid},
            "status": Value::Object(status),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(value: Value) -> PodStatus {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn unchanged_status_needs_no_patch() {
        let s = status(json!({"phase": "Running", "message": "",
            "conditions": [{"type": "Ready", "status": "True"}]}));
        let same = status(json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "reason": ""}]}));
        assert_eq!(pod_status_patch("u", &s, &same), None);
    }

    #[test]
    fn removed_fields_and_conditions_are_deleted() {
        let old = status(json!({"phase": "Running", "message": "m", "conditions": [
            {"type": "Ready", "status": "True", "reason": "R"},
            {"type": "Initialized", "status": "True"}]}));
        let new = status(json!({"phase": "Running", "conditions": [
            {"type": "Ready", "status": "False"}]}));
        assert_eq!(
            pod_status_patch("u", &old, &new),
            Some(json!({"metadata": {"uid": "u"}, "status": {
                "message": null,
                "$setElementOrder/conditions": [{"type": "Ready"}],
                "conditions": [
                    {"type": "Ready", "status": "False", "reason": null},
                    {"type": "Initialized", "$patch": "delete"}],
            }}))
        );
    }

    #[test]
    fn container_statuses_are_sent_whole_and_ip_order_kept() {
        // An empty string is what Go decodes from nothing: left out of the patch.
        let cs = |ready: bool, id: &str| {
            json!([{"name": "a", "image": "i", "imageID": id, "ready": ready,
                "restartCount": 0}])
        };
        let old = status(json!({"containerStatuses": cs(false, ""),
            "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]}));
        let new = status(json!({"containerStatuses": cs(true, ""),
            "podIP": "fd00::1", "podIPs": [{"ip": "fd00::1"}, {"ip": "10.0.0.1"}]}));
        assert_eq!(
            pod_status_patch("u", &old, &new),
            Some(json!({"metadata": {"uid": "u"}, "status": {
                "containerStatuses":
                    [{"name": "a", "image": "i", "ready": true, "restartCount": 0}],
                "podIP": "fd00::1",
                "$setElementOrder/podIPs": [{"ip": "fd00::1"}, {"ip": "10.0.0.1"}],
            }}))
        );
    }
}
