//! The pod side of the API bridge against the real control plane of `cargo xtask cluster up`
//! (Kubernetes v1.37.2 with the Node authorizer and NodeRestriction admission): the API pod
//! source, the pod status manager and mirror pods, each test with its own node identity
//! (`system:node:<name>`), its own Node (created by the admin) and its own pods. Observed
//! from outside with the admin's kubectl, and from the node's side by recording every request
//! its client sends.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use status_reporter::{
    ApiPodSource, ApiPodSourceConfig, Error, MirrorPodSync, MirrorPods, NodePods, PodSourceUpdate,
    PodStatusManager, PodStatusManagerConfig, mirror_pod, pod_status_patch,
};
use support::{eventually, kubectl, kubectl_with_input};
use test_env::{Cluster, unique_name, with_cleanup};
use tokio::sync::mpsc;

const NAMESPACE: &str = "default";
const IMAGE_ID: &str = "docker.io/library/busybox@sha256:00000000000000000000000000000000000000000000000000000000000000a1";

/// One request the node's client sent.
#[derive(Debug, Clone)]
struct Sent {
    method: String,
    path: String,
    query: String,
    content_type: String,
    body: Option<Value>,
}

/// Every request of a node client, and a switch that sends its next watch from resource
/// version 1, which the API server has long compacted: it answers 410 Gone, as it does when a
/// watch falls too far behind.
#[derive(Clone, Default)]
struct Wire {
    sent: Arc<Mutex<Vec<Sent>>>,
    expire_next_watch: Arc<AtomicBool>,
}

impl Wire {
    fn all(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    fn matching(&self, method: &str, path_suffix: &str) -> Vec<Sent> {
        self.all()
            .into_iter()
            .filter(|s| s.method == method && s.path.ends_with(path_suffix))
            .collect()
    }

    fn record(&self, req: &mut http::Request<kube::client::Body>) {
        let query = req.uri().query().unwrap_or_default().to_owned();
        if query.contains("watch=true")
            && query.contains("resourceVersion=")
            && self.expire_next_watch.swap(false, Ordering::SeqCst)
        {
            let rewritten: Vec<String> = query
                .split('&')
                .map(|kv| {
                    if kv.starts_with("resourceVersion=") {
                        "resourceVersion=1".to_owned()
                    } else {
                        kv.to_owned()
                    }
                })
                .collect();
            let mut parts = req.uri().clone().into_parts();
            let path_and_query = format!("{}?{}", req.uri().path(), rewritten.join("&"));
            parts.path_and_query = Some(path_and_query.parse().unwrap());
            *req.uri_mut() = http::Uri::from_parts(parts).unwrap();
        }
        let body = req
            .body()
            .try_clone()
            .and_then(|b| b.collect_bytes().now_or_never())
            .and_then(Result::ok)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let content_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.sent.lock().unwrap().push(Sent {
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().unwrap_or_default().to_owned(),
            content_type,
            body,
        });
    }
}

/// Prints every request of a wire when the test fails while it is alive.
struct RequestsOnFailure(Wire);

impl Drop for RequestsOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for s in self.0.all() {
                eprintln!("sent: {} {}?{}", s.method, s.path, s.query);
            }
        }
    }
}

/// A client with the identity of node `name` that records what it sends.
async fn node_client(cluster: &Cluster, name: &str) -> (kube::Client, Wire) {
    let wire = Wire::default();
    let recorder = wire.clone();
    let client =
        support::recording_node_client(cluster, name, move |req| recorder.record(req)).await;
    (client, wire)
}

/// Creates Node `name` as the admin (no agent runs for it); returns its UID.
async fn register_node(cluster: &Cluster, name: &str) -> String {
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}});
    kubectl_with_input(
        cluster,
        &["create", "-f", "-", "-o", "jsonpath={.metadata.uid}"],
        &node.to_string(),
    )
    .await
    .expect("creating the node as the admin")
}

/// Creates pod `name` bound to `node` as the admin; returns its UID.
async fn create_pod(cluster: &Cluster, name: &str, node: &str) -> String {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"test": "pods"}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": false,
            "containers": [{"name": "app", "image": "busybox:1"}],
        },
    });
    kubectl_with_input(
        cluster,
        &["create", "-f", "-", "-o", "jsonpath={.metadata.uid}"],
        &pod.to_string(),
    )
    .await
    .expect("creating the pod as the admin")
}

/// Pod `name` as the admin sees it, `None` when it does not exist.
async fn pod_json(cluster: &Cluster, name: &str) -> Option<Value> {
    support::get_json(cluster, &["pod", "-n", NAMESPACE, name]).await
}

async fn force_delete_pod(cluster: &Cluster, name: &str) {
    let _ = kubectl(
        cluster,
        &[
            "delete",
            "pod",
            "-n",
            NAMESPACE,
            name,
            "--ignore-not-found",
            "--grace-period=0",
            "--force",
            "--wait=false",
        ],
    )
    .await;
}

/// Deletes `pods` and the Node as the admin, whatever happened.
async fn clean_up(cluster: &Cluster, node: &str, pods: &[&str]) {
    for pod in pods {
        force_delete_pod(cluster, pod).await;
    }
    support::delete_node(cluster, node).await;
}

/// The status a kubelet reports for a running pod with one container `app`.
fn running(ready: bool) -> PodStatus {
    let ready_str = if ready { "True" } else { "False" };
    let mut status = json!({
        "phase": "Running",
        "qosClass": "BestEffort",
        "hostIP": "192.0.2.10",
        "hostIPs": [{"ip": "192.0.2.10"}],
        "podIP": "10.244.7.3",
        "podIPs": [{"ip": "10.244.7.3"}],
        "startTime": "2024-01-01T00:00:00Z",
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": ready_str},
            {"type": "ContainersReady", "status": ready_str},
            {"type": "PodScheduled", "status": "True"},
        ],
        "containerStatuses": [{
            "name": "app", "image": "docker.io/library/busybox:1",
            "imageID": IMAGE_ID,
            "containerID": "containerd://abc", "ready": ready, "restartCount": 0,
            "started": true, "state": {"running": {"startedAt": "2024-01-01T00:00:01Z"}},
        }],
    });
    if !ready {
        for i in [2, 3] {
            status["conditions"][i]["reason"] = json!("ContainersNotReady");
            status["conditions"][i]["message"] = json!("containers with unready status: [app]");
        }
    }
    serde_json::from_value(status).unwrap()
}

/// The status after the container exited 0: Succeeded.
fn succeeded() -> PodStatus {
    serde_json::from_value(json!({
        "phase": "Succeeded",
        "qosClass": "BestEffort",
        "hostIP": "192.0.2.10",
        "hostIPs": [{"ip": "192.0.2.10"}],
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "False"},
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "PodCompleted"},
            {"type": "ContainersReady", "status": "False", "reason": "PodCompleted"},
            {"type": "PodScheduled", "status": "True"},
        ],
        "containerStatuses": [{
            "name": "app", "image": "docker.io/library/busybox:1",
            "imageID": IMAGE_ID,
            "containerID": "containerd://abc", "ready": false, "restartCount": 0,
            "started": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                "startedAt": "2024-01-01T00:00:01Z", "finishedAt": "2024-01-01T00:00:05Z"}},
        }],
    }))
    .unwrap()
}

/// A static pod as a file source makes it: name suffixed with the node, the config
/// annotations, bound to the node, its hash as its UID.
fn make_static_pod(name: &str, node: &str, hash: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": name, "namespace": NAMESPACE, "uid": hash,
            "annotations": {
                "kubernetes.io/config.source": "file",
                "kubernetes.io/config.hash": hash,
                "kubernetes.io/config.seen": "2024-01-01T00:00:00.000000000Z",
            },
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "app", "image": "busybox:1"}],
            "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
        },
        "status": {"phase": "Pending"},
    }))
    .unwrap()
}

fn condition_status(pod: &Value, type_: &str) -> Option<String> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .and_then(|c| c["status"].as_str())
        .map(str::to_owned)
}

/// The pod with `uid` once the view has it.
async fn in_view(pods: &NodePods, uid: &str) -> Pod {
    let pod = eventually("the pod is in the view", Duration::from_secs(5), || async {
        pods.get(uid)
    })
    .await;
    (*pod).clone()
}

/// The next update that `matches`, skipping others.
async fn next_update(
    updates: &mut mpsc::Receiver<PodSourceUpdate>,
    what: &str,
    timeout: Duration,
    matches: impl Fn(&PodSourceUpdate) -> bool,
) -> PodSourceUpdate {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, updates.recv()).await {
            Ok(Some(update)) if matches(&update) => return update,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the source stopped before {what}"),
            Err(_) => panic!("timed out after {timeout:?} waiting for {what}"),
        }
    }
}

fn names(pods: &[Pod]) -> Vec<String> {
    let mut names: Vec<String> = pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect();
    names.sort();
    names
}

fn uid_of(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

/// A source and a status manager for `node`, with `resync` between reconciliations.
async fn bridge(
    client: &kube::Client,
    node: &str,
    resync: Duration,
) -> (ApiPodSource, PodStatusManager) {
    let (source, _updates) = ApiPodSource::start(client.clone(), node).expect("the source");
    let mut config = PodStatusManagerConfig::new(node);
    config.resync_period = resync;
    let manager = PodStatusManager::start(client.clone(), config, source.pods()).expect("manager");
    tokio::time::timeout(Duration::from_secs(5), source.pods().wait_synced())
        .await
        .expect("the node's pods are listed");
    (source, manager)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_api_pod_source_lists_watches_and_relists() {
    let Some(cluster) = Cluster::require("the API pod source") else {
        return;
    };
    let node = unique_name("pods-src");
    let (a, b, elsewhere) = (
        unique_name("pods-src-a"),
        unique_name("pods-src-b"),
        unique_name("pods-src-x"),
    );
    let (client, wire) = node_client(&cluster, &node).await;
    let scenario = async {
        register_node(&cluster, &node).await;
        let a_uid = create_pod(&cluster, &a, &node).await;
        create_pod(&cluster, &elsewhere, &unique_name("pods-src-other")).await;

        let mut config = ApiPodSourceConfig::new(&node);
        config.watch_timeout = Duration::from_secs(2);
        let (source, mut updates) =
            ApiPodSource::start_with_cancellation(client, config, &Default::default())
                .expect("the source starts");
        let first = next_update(
            &mut updates,
            "the first snapshot",
            Duration::from_secs(5),
            |u| matches!(u, PodSourceUpdate::Snapshot(_)),
        )
        .await;
        let PodSourceUpdate::Snapshot(listed) = first else {
            unreachable!()
        };
        assert_eq!(
            names(&listed),
            [a.as_str()],
            "only the pods bound to the node"
        );
        assert!(source.pods().has_synced());
        let list = wire
            .all()
            .into_iter()
            .find(|s| s.path == "/api/v1/pods" && !s.query.contains("watch=true"))
            .expect("a list of pods");
        assert!(
            list.query
                .contains(&format!("fieldSelector=spec.nodeName%3D{node}")),
            "{list:?}"
        );

        // A pod bound to the node by the admin arrives as Applied.
        let b_uid = create_pod(&cluster, &b, &node).await;
        next_update(
            &mut updates,
            "b applied",
            Duration::from_secs(5),
            |u| matches!(u, PodSourceUpdate::Applied(p) if uid_of(p) == b_uid),
        )
        .await;

        // The watch resumes every 2 s from its last resource version, without a relist...
        let lists = |wire: &Wire| {
            wire.all()
                .iter()
                .filter(|s| s.path == "/api/v1/pods" && !s.query.contains("watch=true"))
                .count()
        };
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(lists(&wire), 1, "resumed, not relisted: {:?}", wire.all());
        // ...until the API server answers 410 Gone: then a relist and a new snapshot.
        wire.expire_next_watch.store(true, Ordering::SeqCst);
        let _requests = RequestsOnFailure(wire.clone());
        let relisted = next_update(
            &mut updates,
            "a snapshot after 410",
            Duration::from_secs(10),
            |u| matches!(u, PodSourceUpdate::Snapshot(_)),
        )
        .await;
        let PodSourceUpdate::Snapshot(relisted) = relisted else {
            unreachable!()
        };
        assert_eq!(names(&relisted), {
            let mut both = vec![a.clone(), b.clone()];
            both.sort();
            both
        });
        assert!(
            wire.all().iter().any(|s| s.query.contains("watch=true")
                && s.query.split('&').any(|kv| kv == "resourceVersion=1")),
            "the expired watch was sent"
        );
        assert_eq!(lists(&wire), 2, "one relist: {:?}", wire.all());

        // Graceful deletion is an update (deletionTimestamp); a forced one a deletion.
        kubectl(
            &cluster,
            &["delete", "pod", "-n", NAMESPACE, &b, "--wait=false"],
        )
        .await
        .expect("deleting b");
        next_update(
            &mut updates,
            "b marked for deletion",
            Duration::from_secs(5),
            |u| {
                matches!(u, PodSourceUpdate::Applied(p)
                if uid_of(p) == b_uid && p.metadata.deletion_timestamp.is_some())
            },
        )
        .await;
        force_delete_pod(&cluster, &a).await;
        next_update(
            &mut updates,
            "a deleted",
            Duration::from_secs(5),
            |u| matches!(u, PodSourceUpdate::Deleted(p) if uid_of(p) == a_uid),
        )
        .await;
        let view = source.pods();
        assert!(view.get(&a_uid).is_none());
        assert!(
            view.get(&b_uid)
                .is_some_and(|p| p.metadata.deletion_timestamp.is_some())
        );
        assert_eq!(view.len(), 1);

        tokio::time::timeout(Duration::from_secs(2), source.shutdown())
            .await
            .expect("the source stops at once");
    };
    with_cleanup(scenario, clean_up(&cluster, &node, &[&a, &b, &elsewhere])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_st_01_status_patch_only_on_change() {
    let Some(cluster) = Cluster::require("pod status patches") else {
        return;
    };
    let node = unique_name("pods-st01");
    let pod_name = unique_name("pods-st01-p");
    let (client, wire) = node_client(&cluster, &node).await;
    let scenario = async {
        register_node(&cluster, &node).await;
        let uid = create_pod(&cluster, &pod_name, &node).await;
        let (source, manager) = bridge(&client, &node, Duration::from_secs(1)).await;
        let pod = in_view(&source.pods(), &uid).await;

        assert!(manager.set_status(&pod, running(true)), "a first status");
        let written = eventually("the status is written", Duration::from_secs(5), || async {
            let pod = pod_json(&cluster, &pod_name).await?;
            (pod["status"]["phase"] == "Running").then_some(pod)
        })
        .await;
        let status = &written["status"];
        assert_eq!(condition_status(&written, "Ready").as_deref(), Some("True"));
        assert_eq!(
            status["containerStatuses"][0]["containerID"],
            "containerd://abc"
        );
        assert!(status["containerStatuses"][0]["state"]["running"].is_object());
        assert_eq!(status["podIP"], "10.244.7.3");
        assert_eq!(status["observedGeneration"], 1);

        let status_path = format!("/namespaces/{NAMESPACE}/pods/{pod_name}/status");
        let patches = wire.matching("PATCH", &status_path);
        assert_eq!(patches.len(), 1, "{:?}", wire.all());
        assert_eq!(
            patches[0].content_type,
            "application/strategic-merge-patch+json"
        );
        let body = patches[0].body.as_ref().expect("a JSON patch");
        assert_eq!(
            body["metadata"]["uid"],
            uid.as_str(),
            "the UID precondition"
        );
        assert_eq!(body["status"]["phase"], "Running");

        // The same status again: nothing changes, nothing is sent.
        assert!(!manager.set_status(&pod, running(true)));
        let after_write = manager.stats();
        assert_eq!((after_write.patches, after_write.deletes), (1, 0));
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(
            manager.stats(),
            after_write,
            "three resyncs at rest: no request"
        );
        assert_eq!(wire.matching("PATCH", &status_path).len(), 1);
        assert!(
            wire.matching("GET", &format!("/pods/{pod_name}"))
                .is_empty(),
            "pods are read with the node's field selector, never a GET"
        );

        manager.shutdown().await;
        source.shutdown().await;
    };
    with_cleanup(scenario, clean_up(&cluster, &node, &[&pod_name])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_st_02_recreated_pod_never_gets_the_old_pods_status() {
    let Some(cluster) = Cluster::require("the UID precondition") else {
        return;
    };
    let node = unique_name("pods-st02");
    let pod_name = unique_name("pods-st02-p");
    let (client, _wire) = node_client(&cluster, &node).await;
    let scenario = async {
        register_node(&cluster, &node).await;
        let first_uid = create_pod(&cluster, &pod_name, &node).await;
        let (source, manager) = bridge(&client, &node, Duration::from_secs(1)).await;
        let first = in_view(&source.pods(), &first_uid).await;
        manager.set_status(&first, running(false));
        eventually("the first pod's status", Duration::from_secs(5), || async {
            let pod = pod_json(&cluster, &pod_name).await?;
            (pod["status"]["phase"] == "Running").then_some(())
        })
        .await;

        // The pod is replaced by one of the same name.
        force_delete_pod(&cluster, &pod_name).await;
        eventually("the first pod is gone", Duration::from_secs(5), || async {
            pod_json(&cluster, &pod_name).await.is_none().then_some(())
        })
        .await;
        let second_uid = create_pod(&cluster, &pod_name, &node).await;
        assert_ne!(first_uid, second_uid);

        // The manager still has news for the first pod: it must not reach the second.
        assert!(manager.set_status(&first, running(true)));
        eventually(
            "the first pod's status is dropped",
            Duration::from_secs(5),
            || async { manager.status(&first_uid).is_none().then_some(()) },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let second = pod_json(&cluster, &pod_name).await.expect("the second pod");
        assert_eq!(second["metadata"]["uid"], second_uid.as_str());
        assert_eq!(second["status"]["phase"], "Pending");
        assert!(second["status"]["containerStatuses"].is_null(), "{second}");
        assert_eq!(manager.stats().patches, 1);

        // And a patch made for the first pod is refused by the API server even if it reaches
        // the second: the UID travels with every patch, and may not change (v1.37 answers
        // 422 Invalid, "metadata.uid: field is immutable").
        let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), NAMESPACE);
        let patch =
            pod_status_patch(&first_uid, &PodStatus::default(), &running(true)).expect("a patch");
        let refused = pods
            .patch_status(&pod_name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
            .expect_err("the precondition fails");
        assert!(
            matches!(&refused, kube::Error::Api(s) if s.code == 422
                && s.message.contains("metadata.uid") && s.message.contains("immutable")),
            "{refused}"
        );
        let second = pod_json(&cluster, &pod_name).await.expect("the second pod");
        assert_eq!(second["status"]["phase"], "Pending");

        manager.shutdown().await;
        source.shutdown().await;
    };
    with_cleanup(scenario, clean_up(&cluster, &node, &[&pod_name])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_st_04_readiness_change_is_written_promptly() {
    let Some(cluster) = Cluster::require("prompt readiness") else {
        return;
    };
    let node = unique_name("pods-st04");
    let pod_name = unique_name("pods-st04-p");
    let (client, _wire) = node_client(&cluster, &node).await;
    let scenario = async {
        register_node(&cluster, &node).await;
        let uid = create_pod(&cluster, &pod_name, &node).await;
        // The default 10 s resync: only the change itself can make the write prompt.
        let (source, manager) = bridge(
            &client,
            &node,
            status_reporter::DEFAULT_POD_STATUS_RESYNC_PERIOD,
        )
        .await;
        let pod = in_view(&source.pods(), &uid).await;
        manager.set_status(&pod, running(false));
        eventually("Running, not ready", Duration::from_secs(5), || async {
            let pod = pod_json(&cluster, &pod_name).await?;
            (condition_status(&pod, "Ready").as_deref() == Some("False")
                && pod["status"]["phase"] == "Running")
                .then_some(())
        })
        .await;

        let changed = Instant::now();
        assert!(manager.set_status(&pod, running(true)));
        let ready = eventually("Ready", Duration::from_secs(3), || async {
            let pod = pod_json(&cluster, &pod_name).await?;
            (condition_status(&pod, "Ready").as_deref() == Some("True")).then_some(pod)
        })
        .await;
        let took = changed.elapsed();
        eprintln!("readiness written {took:?} after the change");
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert_eq!(
            condition_status(&ready, "ContainersReady").as_deref(),
            Some("True")
        );
        assert_eq!(ready["status"]["containerStatuses"][0]["ready"], true);
        assert_eq!(manager.stats().patches, 2);

        manager.shutdown().await;
        source.shutdown().await;
    };
    with_cleanup(scenario, clean_up(&cluster, &node, &[&pod_name])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_st_05_out_of_band_status_change_is_reconciled() {
    let Some(cluster) = Cluster::require("status reconciliation") else {
        return;
    };
    let node = unique_name("pods-st05");
    let pod_name = unique_name("pods-st05-p");
    let (client, _wire) = node_client(&cluster, &node).await;
    let scenario = async {
        register_node(&cluster, &node).await;
        let uid = create_pod(&cluster, &pod_name, &node).await;
        let (source, manager) = bridge(&client, &node, Duration::from_secs(2)).await;
        let pod = in_view(&source.pods(), &uid).await;
        manager.set_status(&pod, running(true));
        eventually("the status is written", Duration::from_secs(5), || async {
            let pod = pod_json(&cluster, &pod_name).await?;
            (condition_status(&pod, "Ready").as_deref() == Some("True")).then_some(())
        })
        .await;

        // Someone else changes what the kubelet owns, and adds conditions it does not own
        // (a DisruptionTarget with a current time, or the disruption controller resets it).
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let tampered = json!({"status": {
            "message": "tampered",
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "Tampered"},
                {"type": "example.com/gate", "status": "True"},
                {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                 "lastTransitionTime": now},
            ],
        }});
        kubectl(
            &cluster,
            &[
                "patch",
                "pod",
                "-n",
                NAMESPACE,
                &pod_name,
                "--subresource=status",
                "--type=strategic",
                "-p",
                &tampered.to_string(),
            ],
        )
        .await
        .expect("patching the status as the admin");
        let patches = manager.stats().patches;
        let tampered_at = Instant::now();

        let pod = eventually(
            "the status is reconciled",
            Duration::from_secs(8),
            || async {
                let pod = pod_json(&cluster, &pod_name).await?;
                (condition_status(&pod, "Ready").as_deref() == Some("True")
                    && pod["status"]["message"].is_null())
                .then_some(pod)
            },
        )
        .await;
        eprintln!("reconciled {:?} after the change", tampered_at.elapsed());
        assert_eq!(manager.stats().patches, patches + 1);
        assert_eq!(
            condition_status(&pod, "example.com/gate").as_deref(),
            Some("True"),
            "a readiness gate is not the kubelet's"
        );
        assert_eq!(
            condition_status(&pod, "DisruptionTarget").as_deref(),
            Some("True"),
            "DisruptionTarget set by others is kept"
        );
        let ready = pod["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert!(ready["reason"].is_null(), "{ready}");

        // Reconciled: at rest again.
        tokio::time::sleep(Duration::from_millis(4500)).await;
        assert_eq!(manager.stats().patches, patches + 1);

        manager.shutdown().await;
        source.shutdown().await;
    };
    with_cleanup(scenario, clean_up(&cluster, &node, &[&pod_name])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_st_06_graceful_delete_waits_for_termination_then_deletes_with_grace_0() {
    let Some(cluster) = Cluster::require("graceful deletion") else {
        return;
    };
    let node = unique_name("pods-st06");
    let pod_name = unique_name("pods-st06-p");
    let (client, wire) = node_client(&cluster, &node).await;
    let scenario = async {
        register_node(&cluster, &node).await;
        let uid = create_pod(&cluster, &pod_name, &node).await;
        let (source, manager) = bridge(&client, &node, Duration::from_secs(1)).await;
        let pod = in_view(&source.pods(), &uid).await;
        manager.set_status(&pod, running(true));
        eventually("Running", Duration::from_secs(5), || async {
            let pod = pod_json(&cluster, &pod_name).await?;
            (pod["status"]["phase"] == "Running").then_some(())
        })
        .await;

        // A user deletes the pod: the API server only marks it (grace period 30 s).
        kubectl(
            &cluster,
            &["delete", "pod", "-n", NAMESPACE, &pod_name, "--wait=false"],
        )
        .await
        .expect("deleting the pod");
        let deleting = eventually(
            "the view sees the deletion",
            Duration::from_secs(5),
            || async {
                source
                    .pods()
                    .get(&uid)
                    .filter(|p| p.metadata.deletion_timestamp.is_some())
            },
        )
        .await;

        // The containers stopped: the terminal status is written, the pod stays.
        manager.set_status(&deleting, succeeded());
        eventually("Succeeded", Duration::from_secs(5), || async {
            let pod = pod_json(&cluster, &pod_name).await?;
            (pod["status"]["phase"] == "Succeeded").then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let still = pod_json(&cluster, &pod_name)
            .await
            .expect("the pod waits for its termination to complete");
        assert!(still["metadata"]["deletionTimestamp"].is_string());
        assert_eq!(
            still["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
            0
        );
        assert_eq!(manager.stats().deletes, 0);

        // Volumes unmounted, everything cleaned up: the pod is deleted for good, at once.
        let finished = Instant::now();
        manager.terminate_pod(&deleting);
        eventually("the pod is gone", Duration::from_secs(5), || async {
            pod_json(&cluster, &pod_name).await.is_none().then_some(())
        })
        .await;
        eprintln!(
            "deleted {:?} after termination completed",
            finished.elapsed()
        );
        let deletes = wire.matching(
            "DELETE",
            &format!("/namespaces/{NAMESPACE}/pods/{pod_name}"),
        );
        assert_eq!(deletes.len(), 1, "{:?}", wire.all());
        let body = deletes[0].body.as_ref().expect("DeleteOptions");
        assert_eq!(body["gracePeriodSeconds"], 0);
        assert_eq!(body["preconditions"]["uid"], uid.as_str());
        assert_eq!(manager.stats().deletes, 1);
        assert!(manager.status(&uid).is_none(), "the status is forgotten");

        manager.shutdown().await;
        source.shutdown().await;
    };
    with_cleanup(scenario, clean_up(&cluster, &node, &[&pod_name])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_st_07_mirror_pod_is_never_deleted_by_the_status_manager() {
    let Some(cluster) = Cluster::require("mirror pods and final deletion") else {
        return;
    };
    let node = unique_name("pods-st07");
    let pod_name = format!("{}-{node}", unique_name("web"));
    let (client, wire) = node_client(&cluster, &node).await;
    let scenario = async {
        register_node(&cluster, &node).await;
        let (source, manager) = bridge(&client, &node, Duration::from_secs(1)).await;
        let mirrors = MirrorPods::new(client.clone(), &node, source.pods());
        let static_pod = make_static_pod(&pod_name, &node, "0f0e0d0c0b0a09080706050403020107");
        let MirrorPodSync::Created(mirror) = mirrors.sync(&static_pod).await.expect("mirror")
        else {
            panic!("a mirror pod is created");
        };
        let mirror_uid = uid_of(&mirror).to_owned();
        in_view(&source.pods(), &mirror_uid).await;
        manager.set_status(&static_pod, running(true));
        eventually(
            "the mirror shows Running",
            Duration::from_secs(5),
            || async {
                let pod = pod_json(&cluster, &pod_name).await?;
                (pod["status"]["phase"] == "Running").then_some(())
            },
        )
        .await;

        // The mirror pod is deleted through the API while the static pod terminates.
        kubectl(
            &cluster,
            &["delete", "pod", "-n", NAMESPACE, &pod_name, "--wait=false"],
        )
        .await
        .expect("deleting the mirror pod");
        eventually(
            "the view sees the deletion",
            Duration::from_secs(5),
            || async {
                source
                    .pods()
                    .get(&mirror_uid)
                    .filter(|p| p.metadata.deletion_timestamp.is_some())
            },
        )
        .await;
        manager.set_status(&static_pod, succeeded());
        manager.terminate_pod(&static_pod);
        eventually(
            "the mirror shows Succeeded",
            Duration::from_secs(5),
            || async {
                let pod = pod_json(&cluster, &pod_name).await?;
                (pod["status"]["phase"] == "Succeeded").then_some(())
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let mirror = pod_json(&cluster, &pod_name)
            .await
            .expect("the mirror pod stays");
        assert_eq!(mirror["metadata"]["uid"], mirror_uid.as_str());
        assert!(mirror["metadata"]["deletionTimestamp"].is_string());
        assert_eq!(manager.stats().deletes, 0);
        assert!(
            wire.matching("DELETE", &format!("/pods/{pod_name}"))
                .is_empty(),
            "{:?}",
            wire.all()
        );

        manager.shutdown().await;
        source.shutdown().await;
    };
    with_cleanup(scenario, clean_up(&cluster, &node, &[&pod_name])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_sp_04_mirror_pod_is_owned_by_the_node_and_annotated() {
    let Some(cluster) = Cluster::require("mirror pod creation") else {
        return;
    };
    let node = unique_name("pods-sp04");
    let pod_name = format!("{}-{node}", unique_name("web"));
    let refused_name = format!("{}-{node}", unique_name("secret"));
    let (client, wire) = node_client(&cluster, &node).await;
    let scenario = async {
        let node_uid = register_node(&cluster, &node).await;
        let mirrors = MirrorPods::new(client.clone(), &node, NodePods::new());
        let hash = "0f0e0d0c0b0a09080706050403020104";
        let static_pod = make_static_pod(&pod_name, &node, hash);
        let created = mirrors.create(&static_pod).await.expect("the mirror pod");

        let mirror = pod_json(&cluster, &pod_name).await.expect("the mirror pod");
        let annotations = &mirror["metadata"]["annotations"];
        assert_eq!(annotations["kubernetes.io/config.mirror"], hash);
        assert_eq!(annotations["kubernetes.io/config.hash"], hash);
        assert_eq!(annotations["kubernetes.io/config.source"], "file");
        let owners = mirror["metadata"]["ownerReferences"].as_array().unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0]["apiVersion"], "v1");
        assert_eq!(owners[0]["kind"], "Node");
        assert_eq!(owners[0]["name"], node.as_str());
        assert_eq!(owners[0]["uid"], node_uid.as_str());
        assert_eq!(owners[0]["controller"], true);
        assert_eq!(mirror["spec"]["nodeName"], node.as_str());
        assert_ne!(
            mirror["metadata"]["uid"], hash,
            "the API server gives its own UID"
        );

        // Creating it again finds it (same hash): no second pod.
        let again = mirrors
            .create(&static_pod)
            .await
            .expect("the same mirror pod");
        assert_eq!(again.metadata.uid, created.metadata.uid);

        // A static pod that NodeRestriction would refuse is refused before any request...
        let mut with_secret =
            make_static_pod(&refused_name, &node, "0f0e0d0c0b0a09080706050403020105");
        let spec = with_secret.spec.as_mut().unwrap();
        spec.volumes = Some(vec![
            serde_json::from_value(json!({
                "name": "s", "secret": {"secretName": "anything"}
            }))
            .unwrap(),
        ]);
        let sent = wire.all().len();
        let err = mirrors.create(&with_secret).await.expect_err("refused");
        assert!(matches!(err, Error::MirrorPod { .. }), "{err}");
        assert!(err.to_string().contains("reference secrets"), "{err}");
        assert!(
            wire.all()[sent..].iter().all(|s| s.method == "GET"),
            "only the Node was read: {:?}",
            &wire.all()[sent..]
        );
        // ...and the API server agrees.
        let mut forced = mirror_pod(&static_pod, &node, &node_uid).unwrap();
        forced.metadata.name = Some(refused_name.clone());
        forced.spec.as_mut().unwrap().volumes = with_secret.spec.unwrap().volumes;
        let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), NAMESPACE);
        let refused = pods
            .create(&PostParams::default(), &forced)
            .await
            .expect_err("NodeRestriction refuses it");
        assert!(
            matches!(&refused, kube::Error::Api(s) if s.code == 403
                && s.message.contains("reference secrets")),
            "{refused}"
        );
        // A node may create nothing but mirror pods.
        let mut plain = forced.clone();
        plain.metadata.annotations = None;
        plain.spec.as_mut().unwrap().volumes = None;
        let refused = pods
            .create(&PostParams::default(), &plain)
            .await
            .expect_err("not a mirror pod");
        assert!(
            matches!(&refused, kube::Error::Api(s) if s.code == 403
                && s.message.contains("can only create mirror pods")),
            "{refused}"
        );
    };
    with_cleanup(
        scenario,
        clean_up(&cluster, &node, &[&pod_name, &refused_name]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_sp_05_deleted_or_outdated_mirror_pod_is_replaced() {
    let Some(cluster) = Cluster::require("mirror pod reconciliation") else {
        return;
    };
    let node = unique_name("pods-sp05");
    let pod_name = format!("{}-{node}", unique_name("web"));
    let (client, _wire) = node_client(&cluster, &node).await;
    let scenario = async {
        register_node(&cluster, &node).await;
        let (source, mut _updates) = ApiPodSource::start(client.clone(), &node).expect("source");
        let view = source.pods();
        let mirrors = MirrorPods::new(client.clone(), &node, view.clone());
        let static_pod = make_static_pod(&pod_name, &node, "0f0e0d0c0b0a09080706050403020105");
        tokio::time::timeout(Duration::from_secs(5), view.wait_synced())
            .await
            .unwrap();

        let MirrorPodSync::Created(first) = mirrors.sync(&static_pod).await.unwrap() else {
            panic!("a mirror pod is created");
        };
        in_view(&view, uid_of(&first)).await;
        assert_eq!(
            mirrors.sync(&static_pod).await.unwrap(),
            MirrorPodSync::UpToDate
        );

        // Deleted through the API (gracefully: it is bound to the node): replaced at once.
        kubectl(
            &cluster,
            &["delete", "pod", "-n", NAMESPACE, &pod_name, "--wait=false"],
        )
        .await
        .unwrap();
        eventually(
            "the view sees the deletion",
            Duration::from_secs(5),
            || async {
                view.get(uid_of(&first))
                    .filter(|p| p.metadata.deletion_timestamp.is_some())
            },
        )
        .await;
        let MirrorPodSync::Replaced {
            old_uid,
            mirror: second,
        } = mirrors.sync(&static_pod).await.unwrap()
        else {
            panic!("the mirror pod is replaced");
        };
        assert_eq!(old_uid, uid_of(&first));
        let api = pod_json(&cluster, &pod_name).await.expect("the new mirror");
        assert_eq!(api["metadata"]["uid"], uid_of(&second));
        assert!(api["metadata"]["deletionTimestamp"].is_null());

        // Force-deleted: created again.
        force_delete_pod(&cluster, &pod_name).await;
        eventually("the view sees it gone", Duration::from_secs(5), || async {
            view.mirror_pod_of(&static_pod).is_none().then_some(())
        })
        .await;
        let MirrorPodSync::Created(third) = mirrors.sync(&static_pod).await.unwrap() else {
            panic!("the mirror pod is created again");
        };
        in_view(&view, uid_of(&third)).await;

        // The static pod changed (a new hash): the mirror pod is replaced by a current one.
        let new_hash = "0f0e0d0c0b0a09080706050403020106";
        let mut changed = static_pod.clone();
        changed.metadata.uid = Some(new_hash.into());
        changed
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert("kubernetes.io/config.hash".into(), new_hash.into());
        let MirrorPodSync::Replaced {
            old_uid,
            mirror: fourth,
        } = mirrors.sync(&changed).await.unwrap()
        else {
            panic!("the outdated mirror pod is replaced");
        };
        assert_eq!(old_uid, uid_of(&third));
        let api = pod_json(&cluster, &pod_name)
            .await
            .expect("the current mirror");
        assert_eq!(api["metadata"]["uid"], uid_of(&fourth));
        assert_eq!(
            api["metadata"]["annotations"]["kubernetes.io/config.mirror"],
            new_hash
        );

        // The static pod is removed: its mirror pod is an orphan, deleted.
        in_view(&view, uid_of(&fourth)).await;
        let deleted = mirrors.delete_orphans(&[]).await.unwrap();
        assert_eq!(deleted, [format!("{NAMESPACE}/{pod_name}")]);
        eventually("the orphan is gone", Duration::from_secs(5), || async {
            pod_json(&cluster, &pod_name).await.is_none().then_some(())
        })
        .await;
        source.shutdown().await;
    };
    with_cleanup(scenario, clean_up(&cluster, &node, &[&pod_name])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_sp_09_static_pod_status_is_written_to_its_mirror_pod() {
    let Some(cluster) = Cluster::require("static pod status") else {
        return;
    };
    let node = unique_name("pods-sp09");
    let pod_name = format!("{}-{node}", unique_name("web"));
    let (client, _wire) = node_client(&cluster, &node).await;
    let scenario = async {
        register_node(&cluster, &node).await;
        let (source, manager) = bridge(
            &client,
            &node,
            status_reporter::DEFAULT_POD_STATUS_RESYNC_PERIOD,
        )
        .await;
        let mirrors = MirrorPods::new(client.clone(), &node, source.pods());
        let static_pod = make_static_pod(&pod_name, &node, "0f0e0d0c0b0a09080706050403020109");

        // No mirror pod yet: the status waits, nothing is sent.
        assert!(manager.set_status(&static_pod, running(true)));
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(manager.stats(), Default::default());

        // The mirror pod appears: the status follows at once, not at the next resync.
        let created_at = Instant::now();
        let MirrorPodSync::Created(mirror) = mirrors.sync(&static_pod).await.unwrap() else {
            panic!("a mirror pod is created");
        };
        let api = eventually(
            "the mirror pod shows the status",
            Duration::from_secs(4),
            || async {
                let pod = pod_json(&cluster, &pod_name).await?;
                (pod["status"]["phase"] == "Running").then_some(pod)
            },
        )
        .await;
        eprintln!(
            "status on the mirror {:?} after its creation",
            created_at.elapsed()
        );
        assert_eq!(api["metadata"]["uid"], uid_of(&mirror));
        let container = &api["status"]["containerStatuses"][0];
        assert_eq!(container["name"], "app");
        assert!(container["state"]["running"]["startedAt"].is_string());
        assert_eq!(condition_status(&api, "Ready").as_deref(), Some("True"));
        assert_eq!(
            manager
                .status("0f0e0d0c0b0a09080706050403020109")
                .unwrap()
                .phase
                .as_deref(),
            Some("Running")
        );
        assert_eq!(manager.stats().patches, 1);

        manager.shutdown().await;
        source.shutdown().await;
    };
    with_cleanup(scenario, clean_up(&cluster, &node, &[&pod_name])).await;
}

/// A client for an address where nothing listens (connections are refused at once).
fn unreachable_client() -> kube::Client {
    let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    kube::Client::try_from(config).unwrap()
}

/// A pod source (with the receiver of its updates, kept open) and a status manager for node
/// "offline", both talking to [`unreachable_client`].
fn offline_source_and_manager() -> (
    ApiPodSource,
    mpsc::Receiver<PodSourceUpdate>,
    PodStatusManager,
) {
    let (source, updates) = ApiPodSource::start(unreachable_client(), "offline").unwrap();
    let manager = PodStatusManager::start(
        unreachable_client(),
        PodStatusManagerConfig::new("offline"),
        source.pods(),
    )
    .unwrap();
    (source, updates, manager)
}

/// Shuts both down, failing when that takes more than 2 s (nothing may wait on the API).
async fn stop_within_2s(source: ApiPodSource, manager: PodStatusManager) {
    tokio::time::timeout(Duration::from_secs(2), async {
        manager.shutdown().await;
        source.shutdown().await;
    })
    .await
    .expect("both stop at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_and_manager_stop_while_the_api_server_is_unreachable() {
    let (source, _updates, manager) = offline_source_and_manager();
    let pod = make_static_pod("web-offline", "offline", "abc");
    let mut api_pod = pod.clone();
    api_pod.metadata.annotations = None;
    assert!(manager.set_status(&api_pod, running(true)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!source.pods().has_synced());
    assert_eq!(manager.stats().patches, 0);
    stop_within_2s(source, manager).await;
}

/// Issue 19's churn: the status of a pod the agent dropped is forgotten, so a node that runs
/// pods for months does not keep every status it ever set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ft_04_a_dropped_pods_status_is_forgotten() {
    let (source, _updates, manager) = offline_source_and_manager();
    let mut pods = Vec::new();
    for i in 0..3 {
        let mut pod = make_static_pod(&format!("web-{i}"), "offline", &format!("h{i}"));
        pod.metadata.annotations = None;
        assert!(manager.set_status(&pod, running(true)));
        pods.push(pod);
    }
    manager.forget_pod(uid_of(&pods[1]));
    assert!(manager.status(uid_of(&pods[0])).is_some());
    assert!(manager.status(uid_of(&pods[1])).is_none());
    assert!(manager.status(uid_of(&pods[2])).is_some());
    stop_within_2s(source, manager).await;
}

#[test]
fn starting_outside_a_runtime_is_an_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(async { unreachable_client() });
    let err = ApiPodSource::start(client.clone(), "n").expect_err("no runtime");
    assert!(matches!(err, Error::NeedsRuntime { .. }), "{err}");
    let err = PodStatusManager::start(client, PodStatusManagerConfig::new("n"), NodePods::new())
        .expect_err("no runtime");
    assert!(matches!(err, Error::NeedsRuntime { .. }), "{err}");
}
