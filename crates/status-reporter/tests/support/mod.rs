//! Shared parts of the cluster tests: node identities, a client that counts its requests,
//! kubectl from async code, the facts of a healthy node.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use status_reporter::{NodeFacts, NodeImage, NodeReadiness, NodeResources};
use test_env::Cluster;

/// The requests a client sent, as (method, path).
#[derive(Clone, Default)]
pub struct Requests(Arc<Mutex<Vec<(String, String)>>>);

impl Requests {
    /// How many requests had `method` and a path ending with `path_suffix`.
    pub fn count(&self, method: &str, path_suffix: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p)| m == method && p.ends_with(path_suffix))
            .count()
    }

    /// Everything sent so far, for failure messages.
    pub fn all(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }
}

/// A client with the identity of node `name` (signed for the test) that hands every request
/// to `record` before sending it.
pub async fn recording_node_client(
    cluster: &Cluster,
    name: &str,
    record: impl Fn(&mut http::Request<kube::client::Body>) + Clone + Send + Sync + 'static,
) -> kube::Client {
    let kubeconfig = blocking({
        let cluster = cluster.clone();
        let name = name.to_owned();
        move || cluster.node_kubeconfig(&name)
    })
    .await
    .expect("a node identity");
    let config = status_reporter::config_from_kubeconfig(&kubeconfig)
        .await
        .expect("the node kubeconfig");
    let layer =
        tower::util::MapRequestLayer::new(move |mut req: http::Request<kube::client::Body>| {
            record(&mut req);
            req
        });
    kube::client::ClientBuilder::try_from(config)
        .expect("a client stack")
        .with_layer(&layer)
        .build()
}

/// A node identity for `name` and a client using it that records each request.
pub async fn counting_node_client(cluster: &Cluster, name: &str) -> (kube::Client, Requests) {
    let requests = Requests::default();
    let log = requests.clone();
    let client = recording_node_client(cluster, name, move |req| {
        log.0
            .lock()
            .unwrap()
            .push((req.method().to_string(), req.uri().path().to_owned()));
    })
    .await;
    (client, requests)
}

/// A client for node `name` (its own identity).
pub async fn node_client(cluster: &Cluster, name: &str) -> kube::Client {
    counting_node_client(cluster, name).await.0
}

/// Runs `f` on the blocking pool.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("a blocking task")
}

/// kubectl as the admin, from async code.
pub async fn kubectl(cluster: &Cluster, args: &[&str]) -> test_env::Result<String> {
    let cluster = cluster.clone();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cluster.kubectl(&args)
    })
    .await
}

/// kubectl with `input` on its stdin.
pub async fn kubectl_with_input(
    cluster: &Cluster,
    args: &[&str],
    input: &str,
) -> test_env::Result<String> {
    let cluster = cluster.clone();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let input = input.to_owned();
    blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cluster.kubectl_with_input(&args, Some(&input))
    })
    .await
}

/// `kubectl get <args> --ignore-not-found -o json` as the admin, parsed; `None` when the
/// object does not exist (or kubectl failed).
pub async fn get_json(cluster: &Cluster, args: &[&str]) -> Option<serde_json::Value> {
    let mut args = [&["get"], args].concat();
    args.extend(["--ignore-not-found", "-o", "json"]);
    let text = kubectl(cluster, &args).await.ok()?;
    (!text.is_empty()).then(|| serde_json::from_str(&text).expect("kubectl's JSON"))
}

/// The start of a scene's manifests: Node `name`, namespace `name` and its ServiceAccount
/// `app`, to be followed by `---` and the scene's own objects. [`delete_scene`] removes them.
pub fn scene_manifests(name: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Node
metadata: {{ name: {name} }}
---
apiVersion: v1
kind: Namespace
metadata: {{ name: {name} }}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{ name: app, namespace: {name} }}
"#
    )
}

/// Deletes what a scene of [`scene_manifests`] created: the pods of namespace `name` at once
/// (no kubelet will confirm their deletion), the namespace, and node `name` with its lease.
pub async fn delete_scene(cluster: &Cluster, name: &str) {
    let _ = kubectl(
        cluster,
        &[
            "delete",
            "pod",
            "--all",
            "-n",
            name,
            "--force",
            "--grace-period=0",
        ],
    )
    .await;
    let _ = kubectl(
        cluster,
        &[
            "delete",
            "namespace",
            name,
            "--ignore-not-found",
            "--wait=false",
        ],
    )
    .await;
    delete_node(cluster, name).await;
}

/// A jsonpath of node `name`, "" when the node does not exist.
pub async fn node_field(cluster: &Cluster, name: &str, jsonpath: &str) -> String {
    kubectl(
        cluster,
        &[
            "get",
            "node",
            name,
            "--ignore-not-found",
            "-o",
            &format!("jsonpath={jsonpath}"),
        ],
    )
    .await
    .unwrap_or_default()
}

/// The Ready condition's status of node `name` as kubectl shows it ("" when absent).
pub async fn ready_status(cluster: &Cluster, name: &str) -> String {
    node_field(
        cluster,
        name,
        "{.status.conditions[?(@.type==\"Ready\")].status}",
    )
    .await
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `timeout`; panics naming
/// `what` otherwise.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deletes node `name` (and its lease) as the admin, whatever happened.
pub async fn delete_node(cluster: &Cluster, name: &str) {
    let _ = kubectl(
        cluster,
        &["delete", "node", name, "--ignore-not-found", "--wait=false"],
    )
    .await;
    let _ = kubectl(
        cluster,
        &[
            "delete",
            "lease",
            "-n",
            "kube-node-lease",
            name,
            "--ignore-not-found",
            "--wait=false",
        ],
    )
    .await;
}

pub fn q(s: &str) -> Quantity {
    Quantity(s.to_owned())
}

/// The facts of a healthy node with `images` images.
pub fn ready_facts(images: usize) -> NodeFacts {
    let capacity = NodeResources {
        cpu: Some(q("2")),
        memory: Some(q("8Gi")),
        pods: Some(q("110")),
        ephemeral_storage: Some(q("50Gi")),
        hugepages: BTreeMap::from([("2Mi".to_owned(), q("0"))]),
        other: BTreeMap::new(),
    };
    NodeFacts {
        allocatable: NodeResources {
            cpu: Some(q("1900m")),
            memory: Some(q("7Gi")),
            ..capacity.clone()
        },
        capacity,
        container_runtime_version: NodeFacts::container_runtime_version("containerd", "1.6.20"),
        images: (0..images)
            .map(|i| NodeImage {
                id: format!("sha256:{i:064x}"),
                repo_digests: vec![format!("localhost/img{i}@sha256:{i:064x}")],
                repo_tags: vec![format!("localhost/img{i}:1")],
                size_bytes: 1_000_000 + (i as i64 % 13) * 1000,
            })
            .collect(),
        readiness: NodeReadiness::ready(),
        ..NodeFacts::default()
    }
}
