//! Cluster mode end to end: the `nodelet` binary with `--kubeconfig` against the local
//! Kubernetes v1.37.2 control plane of `cargo xtask cluster up` and the test containerd,
//! observed from outside with the admin's kubectl, the API server's `/metrics`, the CRI and
//! the node's root directory (checklist NS-01, NS-02, NS-04, NS-05, NS-07, NS-08, NS-10,
//! NS-11, ST-01, ST-05, ST-06, SP-04, SP-05, SP-09, VO-10).
//!
//! Each test runs its own nodelet (the `common` harness: its own directory, ports and
//! cgroup root, the runtime lock held exclusively) under a node name of its own, with an
//! identity for `system:node:<name>` signed through a CertificateSigningRequest, and, when it
//! makes pods, a namespace named after the node. [`ClusterNode`]'s `Drop` removes what the
//! test made in the cluster (the namespace with its pods, Deployments, ConfigMaps and
//! Secrets, mirror pods, the Node) and in the runtime, also when the test fails half-way.
//!
//! Without the cluster or the runtime each test says so and passes, except with `CI=true`,
//! where it fails. Waits are polls with timeouts; the timings the checklist names (Ready
//! within 5 s, re-registration within ~10 s) are asserted, and every measured duration is
//! printed.

#[path = "cluster/churn.rs"]
mod churn;
mod common;
#[path = "cluster/eviction.rs"]
mod eviction;
#[path = "cluster/kubelet_api.rs"]
mod kubelet_api;
#[path = "differential/normalize.rs"]
#[allow(dead_code)]
mod normalize;

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Node;
use cri_client::v1;
use serde_json::{Value, json};
use test_env::Cluster;
use test_env::labels::{CONTAINER_NAME, POD_UID};

/// The pause between two polls of the API server.
const POLL: Duration = Duration::from_millis(200);

/// The controllers may take this long to fill a new namespace.
const NAMESPACE_TIMEOUT: Duration = Duration::from_secs(20);

/// A nodelet in cluster mode, with what its test made in the cluster (see the module docs).
struct ClusterNode {
    cluster: Cluster,
    kubeconfig: PathBuf,
    /// The test's namespace, once made.
    namespace: Option<String>,
    /// Extra objects to delete at the end, as the arguments of `kubectl delete`.
    also_delete: Vec<Vec<String>>,
    node: Node,
}

impl Deref for ClusterNode {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.node
    }
}

impl DerefMut for ClusterNode {
    fn deref_mut(&mut self) -> &mut Node {
        &mut self.node
    }
}

impl ClusterNode {
    /// A node for `test` with `extra` lines in its `KubeletConfiguration` and an identity in
    /// the cluster; `None` when the cluster or the runtime is missing (a failure with
    /// `CI=true`). Does not start nodelet.
    fn new(test: &str, extra: &str) -> Option<ClusterNode> {
        let cluster = Cluster::require(&format!("the cluster-mode test {test}"))?;
        // The main server speaks TLS with authentication in cluster mode, on every address
        // (the API server reaches it on the node's InternalIP); the harness reads `/pods`
        // and `/metrics` on the read-only port instead.
        let [read_only] = common::free_ports();
        // The API server's client certificate is verified against the cluster CA, as in a
        // kubeadm node.
        let extra = format!(
            "address: 0.0.0.0\nreadOnlyPort: {read_only}\n\
             authentication:\n  x509:\n    clientCAFile: {ca}\n{extra}",
            ca = cluster.ca_file().display()
        );
        let mut node = Node::new(test, &extra)?;
        node.http_port = read_only;
        let kubeconfig = cluster
            .node_kubeconfig(&node.name)
            .unwrap_or_else(|e| panic!("a node identity for {}: {e}", node.name));
        Some(ClusterNode {
            cluster,
            kubeconfig,
            namespace: None,
            also_delete: Vec::new(),
            node,
        })
    }

    /// Every API pod bound to this node, in any namespace, as `namespace/name`, with how
    /// many objects carry that name (more than one is a duplicate).
    fn pods_on_node(&self) -> std::collections::BTreeMap<String, usize> {
        let list: Value = serde_json::from_str(&self.kubectl(&[
            "get",
            "pods",
            "-A",
            "--field-selector",
            &format!("spec.nodeName={}", self.node.name),
            "-o",
            "json",
        ]))
        .expect("a PodList");
        let mut seen = std::collections::BTreeMap::new();
        for pod in list["items"].as_array().into_iter().flatten() {
            let meta = &pod["metadata"];
            let key = format!(
                "{}/{}",
                meta["namespace"].as_str().unwrap_or(""),
                meta["name"].as_str().unwrap_or("")
            );
            *seen.entry(key).or_insert(0) += 1;
        }
        seen
    }

    /// Starts nodelet with `--kubeconfig` and `extra` flags; returns when `/healthz` is ok.
    fn start_cluster(&mut self, extra: &[&str]) {
        let kubeconfig = self.kubeconfig.display().to_string();
        let mut args = vec!["--kubeconfig", kubeconfig.as_str()];
        args.extend_from_slice(extra);
        self.node.start_with_args(&args);
    }

    /// The test's namespace (named after the node), made on first use, returned once the
    /// controllers have made its `default` ServiceAccount and `kube-root-ca.crt`.
    fn namespace(&mut self) -> String {
        if let Some(ns) = &self.namespace {
            return ns.clone();
        }
        let ns = self.node.name.clone();
        self.kubectl(&["create", "namespace", &ns]);
        self.namespace = Some(ns.clone());
        // The controllers' parts of a new namespace: pods are refused until the `default`
        // ServiceAccount exists, and a token volume fails to mount (and is retried only
        // 10-15 s later) until `kube-root-ca.crt` is published.
        let started = Instant::now();
        for (kind, name) in [
            ("serviceaccount", "default"),
            ("configmap", "kube-root-ca.crt"),
        ] {
            self.wait(
                &format!("{kind} {name} in the new namespace"),
                NAMESPACE_TIMEOUT,
                || {
                    self.get(kind, name, Some(&ns))
                        .map(|_| ())
                        .ok_or_else(|| "not yet".to_owned())
                },
            );
        }
        let took = started.elapsed();
        if took > Duration::from_secs(2) {
            eprintln!("namespace {ns}: ready for pods after {took:?}");
        }
        ns
    }

    /// Runs kubectl as the admin; panics with its error and nodelet's log on failure.
    fn kubectl(&self, args: &[&str]) -> String {
        self.cluster.kubectl(args).unwrap_or_else(|e| {
            panic!(
                "kubectl {args:?}: {e}\n--- nodelet log (tail) ---\n{}",
                self.log_tail(40)
            )
        })
    }

    /// `kubectl create -f -` of `object`.
    fn create(&self, object: &Value) {
        self.cluster
            .kubectl_with_input(&["create", "-f", "-"], Some(&object.to_string()))
            .unwrap_or_else(|e| panic!("creating {object}: {e}"));
    }

    /// `kind/name` (in `namespace`) as JSON, `None` when it does not exist; a failing
    /// kubectl counts as `None` too (the next poll tries again).
    fn get(&self, kind: &str, name: &str, namespace: Option<&str>) -> Option<Value> {
        let mut args = vec!["get", kind, name, "-o", "json", "--ignore-not-found"];
        if let Some(ns) = namespace {
            args.extend(["-n", ns]);
        }
        let text = self.cluster.kubectl(&args).ok()?;
        (!text.is_empty()).then(|| serde_json::from_str(&text).expect("kubectl's JSON"))
    }

    /// This node's Node object.
    fn node_object(&self) -> Option<Value> {
        self.get("node", &self.node.name, None)
    }

    /// The pods of `namespace`, as `kubectl get pods -o json` lists them.
    fn pods_in(&self, namespace: &str) -> Vec<Value> {
        let text = self.kubectl(&["get", "pods", "-n", namespace, "-o", "json"]);
        let list: Value = serde_json::from_str(&text).expect("a PodList");
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// Polls `check` every [`POLL`] until it returns `Ok`, for at most `timeout`; then
    /// fails with `what`, the last `Err` and the tail of nodelet's log.
    fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            match check() {
                Ok(value) => return value,
                Err(last) if Instant::now() >= deadline => panic!(
                    "timed out after {timeout:?} waiting for {what}; last seen: {last}\n\
                     --- nodelet log (tail) ---\n{}",
                    self.log_tail(60)
                ),
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }

    /// Waits until the Node's Ready condition has `status`; how long that took.
    fn wait_node_ready(&self, status: &str, timeout: Duration) -> Duration {
        let started = Instant::now();
        self.wait(&format!("Node Ready={status}"), timeout, || {
            let node = self.node_object().ok_or("no Node")?;
            let ready = node_condition(&node, "Ready")
                .map(|c| c["status"].as_str().unwrap_or("").to_owned())
                .unwrap_or_default();
            if ready == status {
                Ok(started.elapsed())
            } else {
                Err(format!("Ready={ready:?}"))
            }
        })
    }

    /// Waits until the pod `namespace/name` is Running with every container running and
    /// ready in the API, and returns it.
    fn wait_pod_ready(&self, namespace: &str, name: &str, timeout: Duration) -> Value {
        self.wait(
            &format!("pod {namespace}/{name} Running and Ready in the API"),
            timeout,
            || {
                let pod = self.get("pod", name, Some(namespace)).ok_or("no pod")?;
                if pod_is_ready(&pod) {
                    Ok(pod)
                } else {
                    Err(pod_summary(&pod))
                }
            },
        )
    }

    /// The runtime's containers of the pod with this UID.
    fn runtime_containers(&self, uid: &str) -> Vec<v1::Container> {
        self.runtime()
            .all_containers()
            .into_iter()
            .filter(|c| c.labels.get(POD_UID).map(String::as_str) == Some(uid))
            .collect()
    }

    /// The real kubelet v1.37.2 joined to the cluster beside this node, as `<node>-ref` on
    /// the reference containerd (its Node deleted with this node's clean-up): its node name
    /// and its handle, once its Node is Ready.
    fn join_reference_kubelet(
        &mut self,
        env: &test_env::kubelet::ReferenceEnv,
        test: &str,
    ) -> (String, test_env::kubelet::Kubelet) {
        let reference = format!("{}-ref", self.node.name);
        let kubeconfig = self
            .cluster
            .node_kubeconfig(&reference)
            .expect("an identity for the reference kubelet");
        self.also_delete.push(vec![
            "node".into(),
            reference.clone(),
            "--wait=false".into(),
        ]);
        let kubelet = test_env::kubelet::Kubelet::builder(env, test)
            .node_name(&reference)
            .kubeconfig(&kubeconfig)
            .client_ca_file(&self.cluster.ca_file())
            // Its API on every address: the API server reaches it on the node's IP
            // (kubectl logs/exec, `proxy/stats/summary`).
            .setting("address", "0.0.0.0")
            .start()
            .expect("the reference kubelet starts");
        self.wait(
            "the reference kubelet's Node Ready",
            Duration::from_secs(60),
            || {
                let n = self.get("node", &reference, None).ok_or("no Node")?;
                match node_condition(&n, "Ready")
                    .and_then(|c| c["status"].as_str().map(str::to_owned))
                {
                    Some(s) if s == "True" => Ok(()),
                    other => Err(format!("Ready={other:?}")),
                }
            },
        );
        (reference, kubelet)
    }

    /// The test's own directory (beside the node's root), for hostPath volumes.
    fn test_dir(&self) -> PathBuf {
        self.root_dir()
            .parent()
            .expect("the root dir has a parent")
            .to_owned()
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        // nodelet first, so that it neither fights the clean-up nor registers again.
        self.node.stop();
        let kubectl = |args: &[&str]| {
            if let Err(e) = self.cluster.kubectl(args) {
                eprintln!("cleanup: {e}");
            }
        };
        if let Some(ns) = &self.namespace {
            // A terminating namespace takes no new pods (a Deployment's included); the
            // pods of a stopped node would wait for it, so they are removed at once.
            kubectl(&[
                "delete",
                "namespace",
                ns,
                "--wait=false",
                "--ignore-not-found",
            ]);
            kubectl(&[
                "delete",
                "pods",
                "--all",
                "-n",
                ns,
                "--force",
                "--grace-period=0",
                "--wait=false",
                "--ignore-not-found",
            ]);
        }
        for args in &self.also_delete {
            let mut args: Vec<&str> = std::iter::once("delete")
                .chain(args.iter().map(String::as_str))
                .collect();
            args.extend(["--wait=false", "--ignore-not-found"]);
            kubectl(&args);
        }
        kubectl(&[
            "delete",
            "node",
            &self.node.name,
            "--wait=false",
            "--ignore-not-found",
        ]);
        // The runtime: the sandboxes of the namespace's pods (those of static pods are
        // named after the node, and the harness removes them).
        if let Some(ns) = &self.namespace {
            for sandbox in self.node.runtime().all_sandboxes() {
                if sandbox
                    .metadata
                    .as_ref()
                    .is_some_and(|m| &m.namespace == ns)
                {
                    self.node.runtime().remove_sandbox(&sandbox);
                }
            }
        }
    }
}

/// A child process (a `kubectl get --watch`) killed and reaped when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The condition `type_` of a Node or a pod.
fn node_condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Whether a pod (JSON) is Running with all its containers running and ready, and an IP.
fn pod_is_ready(pod: &Value) -> bool {
    let status = &pod["status"];
    let containers = status["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    status["phase"] == "Running"
        && status["podIP"].as_str().is_some_and(|ip| !ip.is_empty())
        && !containers.is_empty()
        && containers
            .iter()
            .all(|c| c["ready"] == true && c["state"]["running"].is_object())
        && node_condition(pod, "Ready").is_some_and(|c| c["status"] == "True")
}

/// One line about a pod (JSON), for failure messages.
fn pod_summary(pod: &Value) -> String {
    let status = &pod["status"];
    let containers: Vec<String> = status["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let state = c["state"]
                .as_object()
                .and_then(|s| s.iter().next())
                .map(|(k, v)| format!("{k}({})", v["reason"].as_str().unwrap_or("")))
                .unwrap_or_default();
            format!(
                "{}:{state}:ready={}:restarts={}",
                c["name"].as_str().unwrap_or("?"),
                c["ready"],
                c["restartCount"]
            )
        })
        .collect();
    let conditions: Vec<String> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{}={}",
                c["type"].as_str().unwrap_or("?"),
                c["status"].as_str().unwrap_or("?")
            )
        })
        .collect();
    format!(
        "{} uid={} phase={} ip={} deletion={} [{}] conditions [{}]",
        pod["metadata"]["name"].as_str().unwrap_or("?"),
        pod["metadata"]["uid"].as_str().unwrap_or("?"),
        status["phase"].as_str().unwrap_or("-"),
        status["podIP"].as_str().unwrap_or("-"),
        pod["metadata"]["deletionTimestamp"].as_str().unwrap_or("-"),
        containers.join(", "),
        conditions.join(" ")
    )
}

/// The container runtime ids (`containerd://<id>` → `<id>`) in a pod's statuses, by name.
fn status_container_ids(pod: &Value) -> Vec<(String, String)> {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let id = c["containerID"].as_str().unwrap_or("");
            (
                c["name"].as_str().unwrap_or("").to_owned(),
                id.split_once("://").map_or(id, |(_, id)| id).to_owned(),
            )
        })
        .collect()
}

/// A busybox container that sleeps and exits 0 on SIGTERM.
fn sleeper(name: &str) -> Value {
    json!({
        "name": name,
        "image": test_env::busybox_image(),
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
    })
}

/// A pod bound to `node` by `spec.nodeName`, without a service-account token, with these
/// containers and volumes.
fn bound_pod(namespace: &str, name: &str, node: &str, containers: Value, volumes: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "namespace": namespace },
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 5,
            "containers": containers,
            "volumes": volumes,
        },
    })
}

/// `kubectl get --raw /metrics`: the sum of `apiserver_request_total` over the series
/// whose labels include all of `labels` (`resource="pods"`, ...).
fn apiserver_requests(cluster: &Cluster, labels: &[&str]) -> f64 {
    let text = cluster
        .kubectl(&["get", "--raw", "/metrics"])
        .expect("the API server's /metrics");
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// The files under `dir` whose names start with `prefix`.
fn entries_starting_with(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Node registration, status and lease
// ---------------------------------------------------------------------------------------

/// NS-01, NS-02, NS-04, NS-05, NS-07, NS-08, NS-10, NS-11: the Node is Ready within 5 s of
/// start with the kubelet's labels, annotation, taints, resources, endpoints, node info,
/// conditions and lease.
#[test]
fn cluster_ns_01_02_04_05_07_08_10_11_node_ready_within_5s_with_the_kubelets_fields() {
    let Some(mut node) = ClusterNode::new("c-ready", "") else {
        return;
    };
    let name = node.name.clone();
    let started = Instant::now();
    node.start_cluster(&[
        "--node-labels",
        "node.kubernetes.io/pool=blue,example.com/team=nodelet",
        "--register-with-taints",
        "example.com/dedicated=tests:NoSchedule,example.com/spare:PreferNoSchedule",
    ]);
    let healthy_after = started.elapsed();
    node.wait_node_ready("True", Duration::from_secs(15));
    let ready_after = started.elapsed();
    eprintln!("node {name}: /healthz ok after {healthy_after:?}, Ready after {ready_after:?}");
    assert!(
        ready_after <= Duration::from_secs(5),
        "NS-11: the Node turned Ready {ready_after:?} after nodelet started (limit 5 s)\n{}",
        node.log_tail(40)
    );

    let object = node.node_object().expect("the Node");
    let labels = &object["metadata"]["labels"];
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(labels["kubernetes.io/hostname"], name.as_str(), "{labels}");
    assert_eq!(labels["kubernetes.io/os"], "linux", "{labels}");
    assert_eq!(labels["beta.kubernetes.io/os"], "linux", "{labels}");
    assert_eq!(labels["kubernetes.io/arch"], arch, "{labels}");
    assert_eq!(labels["beta.kubernetes.io/arch"], arch, "{labels}");
    assert_eq!(
        labels["node.kubernetes.io/pool"], "blue",
        "--node-labels: {labels}"
    );
    assert_eq!(
        labels["example.com/team"], "nodelet",
        "--node-labels: {labels}"
    );
    assert_eq!(
        object["metadata"]["annotations"]["volumes.kubernetes.io/controller-managed-attach-detach"],
        "true",
        "{}",
        object["metadata"]
    );
    // NS-02: --register-with-taints on the first create.
    let taints = object["spec"]["taints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        taints.iter().any(|t| t["key"] == "example.com/dedicated"
            && t["value"] == "tests"
            && t["effect"] == "NoSchedule"),
        "NS-02: {taints:?}"
    );
    assert!(
        taints.iter().any(|t| t["key"] == "example.com/spare"
            && t["value"].is_null()
            && t["effect"] == "PreferNoSchedule"),
        "NS-02: {taints:?}"
    );

    // NS-04: resources and the kubelet endpoint (the configured port; 10250 by default).
    let status = &object["status"];
    for key in ["capacity", "allocatable"] {
        let resources = status[key]
            .as_object()
            .unwrap_or_else(|| panic!("no {key}"));
        for resource in ["cpu", "memory", "pods", "ephemeral-storage"] {
            assert!(
                resources.contains_key(resource),
                "NS-04: {key} lacks {resource}: {resources:?}"
            );
        }
        assert!(
            resources.keys().any(|k| k.starts_with("hugepages-")),
            "NS-04: {key} has no hugepages-*: {resources:?}"
        );
    }
    assert_eq!(status["capacity"]["pods"], "110", "{}", status["capacity"]);
    assert_eq!(
        status["daemonEndpoints"]["kubeletEndpoint"]["Port"], node.port,
        "NS-04: {}",
        status["daemonEndpoints"]
    );
    // NS-05: node info.
    let info = &status["nodeInfo"];
    assert!(
        info["containerRuntimeVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("containerd://") && v.len() > "containerd://".len()),
        "NS-05: {info}"
    );
    assert!(
        info["kubeletVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1.37")),
        "NS-05: {info}"
    );
    assert_eq!(info["operatingSystem"], "linux", "{info}");
    assert_eq!(info["architecture"], arch, "{info}");
    let images = status["images"].as_array().cloned().unwrap_or_default();
    assert!(images.len() <= 50, "NS-05: {} images", images.len());
    // NS-07, NS-08: the four conditions, Ready last and healthy.
    let conditions = status["conditions"].as_array().expect("conditions");
    let types: Vec<&str> = conditions
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    for t in ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"] {
        assert!(types.contains(&t), "NS-07: {types:?}");
    }
    assert_eq!(
        types.last(),
        Some(&"Ready"),
        "NS-07: Ready is last: {types:?}"
    );
    let ready = conditions.last().unwrap();
    assert_eq!(ready["status"], "True", "{ready}");
    assert_eq!(ready["reason"], "KubeletReady", "NS-08: {ready}");
    assert_eq!(
        ready["message"], "kubelet is posting ready status",
        "NS-08: {ready}"
    );
    for pressure in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert_eq!(
            node_condition(&object, pressure).unwrap()["status"],
            "False",
            "{conditions:?}"
        );
    }

    // NS-10: the lease.
    let uid = object["metadata"]["uid"].as_str().unwrap().to_owned();
    let lease = node.wait("the node's Lease", Duration::from_secs(5), || {
        node.get("lease", &name, Some("kube-node-lease"))
            .ok_or_else(|| "no Lease".to_owned())
    });
    let spec = &lease["spec"];
    assert_eq!(spec["holderIdentity"], name.as_str(), "NS-10: {spec}");
    assert_eq!(spec["leaseDurationSeconds"], 40, "NS-10: {spec}");
    assert!(spec["renewTime"].is_string(), "NS-10: {spec}");
    let owners = lease["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        owners.iter().any(|o| o["kind"] == "Node"
            && o["apiVersion"] == "v1"
            && o["name"] == name.as_str()
            && o["uid"] == uid.as_str()),
        "NS-10: owner references {owners:?} (Node uid {uid})"
    );
}

/// A Node deleted with kubectl comes back (a documented departure: the kubelet registers
/// once per process), Ready, with its lease and its static pod's mirror pod owned by the new
/// Node.
#[test]
fn cluster_deleted_node_registers_again() {
    let Some(mut node) = ClusterNode::new("c-rereg", "") else {
        return;
    };
    let name = node.name.clone();
    let mirror = node.pod_name("static-web");
    node.also_delete.push(vec![
        "pod".into(),
        mirror.clone(),
        "-n".into(),
        "default".into(),
        "--force".into(),
        "--grace-period=0".into(),
    ]);
    node.write_manifest("static-web.yaml", &common::sleeper_yaml("static-web"));
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let old_uid = node.node_object().unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let mirror_owner = || -> Result<String, String> {
        let pod = node
            .get("pod", &mirror, Some("default"))
            .ok_or("no mirror pod")?;
        if pod["metadata"]["deletionTimestamp"].is_string() {
            return Err(format!("terminating: {}", pod_summary(&pod)));
        }
        pod["metadata"]["ownerReferences"][0]["uid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no owner: {}", pod["metadata"]))
    };
    node.wait("the mirror pod", Duration::from_secs(30), || {
        mirror_owner().and_then(|owner| {
            if owner == old_uid {
                Ok(())
            } else {
                Err(format!("owned by {owner}"))
            }
        })
    });

    node.kubectl(&["delete", "node", &name]);
    let deleted = Instant::now();
    let new_uid = node.wait("the Node registered again", Duration::from_secs(15), || {
        let object = node.node_object().ok_or("no Node")?;
        let uid = object["metadata"]["uid"].as_str().unwrap_or("").to_owned();
        if uid == old_uid {
            return Err("still the old Node".into());
        }
        let ready = node_condition(&object, "Ready").map(|c| c["status"].clone());
        if ready == Some(json!("True")) {
            Ok(uid)
        } else {
            Err(format!("new Node {uid}, Ready={ready:?}"))
        }
    });
    let back_after = deleted.elapsed();
    eprintln!("node {name}: registered and Ready again {back_after:?} after kubectl delete node");
    assert!(
        back_after <= Duration::from_secs(10),
        "the Node came back after {back_after:?} (limit ~10 s)"
    );
    // The lease follows the new Node (or the garbage collector would take it).
    node.wait(
        "the lease owned by the new Node",
        Duration::from_secs(20),
        || {
            let lease = node
                .get("lease", &name, Some("kube-node-lease"))
                .ok_or("no Lease")?;
            let owners = lease["metadata"]["ownerReferences"].clone();
            let owned = owners
                .as_array()
                .is_some_and(|o| o.iter().any(|o| o["uid"] == new_uid.as_str()));
            if owned {
                Ok(())
            } else {
                Err(owners.to_string())
            }
        },
    );
    // So does the static pod's mirror pod, which the garbage collector took with the old
    // Node, and the static pod runs on.
    node.wait(
        "the mirror pod owned by the new Node",
        Duration::from_secs(30),
        || {
            mirror_owner().and_then(|owner| {
                if owner == new_uid {
                    Ok(())
                } else {
                    Err(format!("owned by {owner}"))
                }
            })
        },
    );
    eprintln!(
        "mirror pod owned by the new Node {:?} after kubectl delete node",
        deleted.elapsed()
    );
    let static_pod = node.wait_running("static-web");
    assert_eq!(common::app_statuses(&static_pod)[0].restart_count, 0);
}

// ---------------------------------------------------------------------------------------
// Pods from the API
// ---------------------------------------------------------------------------------------

/// A Deployment of 3 replicas on this node: scheduled, run, probed ready, and reported
/// with sane statuses.
#[test]
fn cluster_deployment_of_3_replicas_runs_and_turns_ready() {
    let Some(mut node) = ClusterNode::new("c-deploy", "") else {
        return;
    };
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.namespace();
    let mut container = sleeper("web");
    container["readinessProbe"] = json!({
        "exec": { "command": ["true"] },
        "periodSeconds": 2,
    });
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "web", "namespace": ns },
        "spec": {
            "replicas": 3,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": {
                    "nodeSelector": { "kubernetes.io/hostname": name },
                    "automountServiceAccountToken": false,
                    "terminationGracePeriodSeconds": 2,
                    "containers": [container],
                },
            },
        },
    });
    let created = Instant::now();
    node.create(&deployment);
    let pods = node.wait("3 pods Running and Ready", Duration::from_secs(45), || {
        let pods = node.pods_in(&ns);
        let summary: Vec<String> = pods.iter().map(pod_summary).collect();
        if pods.len() == 3 && pods.iter().all(pod_is_ready) {
            Ok(pods)
        } else {
            Err(summary.join("; "))
        }
    });
    eprintln!(
        "deployment: 3 pods Ready {:?} after create",
        created.elapsed()
    );

    for pod in &pods {
        let status = &pod["status"];
        let what = pod_summary(pod);
        assert_eq!(pod["spec"]["nodeName"], name.as_str(), "{what}");
        assert_eq!(status["phase"], "Running", "{what}");
        assert_eq!(status["qosClass"], "BestEffort", "{what}");
        assert!(status["startTime"].is_string(), "startTime: {what}");
        assert!(status["hostIP"].is_string(), "hostIP: {status}");
        assert!(
            status["podIPs"]
                .as_array()
                .is_some_and(|ips| !ips.is_empty()),
            "podIPs: {status}"
        );
        for t in [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ] {
            let c = node_condition(pod, t).unwrap_or_else(|| panic!("no {t}: {status}"));
            assert_eq!(c["status"], "True", "{t}: {status}");
        }
        let containers = status["containerStatuses"].as_array().unwrap();
        assert_eq!(containers.len(), 1, "{status}");
        let c = &containers[0];
        assert_eq!(c["name"], "web", "{c}");
        assert_eq!(c["ready"], true, "{c}");
        assert_eq!(c["started"], true, "{c}");
        assert_eq!(c["restartCount"], 0, "{c}");
        assert!(c["state"]["running"]["startedAt"].is_string(), "{c}");
        assert!(
            c["containerID"]
                .as_str()
                .is_some_and(|id| id.starts_with("containerd://")),
            "{c}"
        );
        assert!(
            c["imageID"].as_str().is_some_and(|id| !id.is_empty()),
            "{c}"
        );
        assert!(c["image"].as_str().is_some_and(|i| !i.is_empty()), "{c}");
        // The container the status names is the one running in the runtime.
        let uid = pod["metadata"]["uid"].as_str().unwrap();
        let (_, id) = &status_container_ids(pod)[0];
        let runtime = node.runtime_containers(uid);
        assert!(
            runtime
                .iter()
                .any(|r| &r.id == id && r.state == v1::ContainerState::ContainerRunning as i32),
            "{id} is not running in the runtime: {runtime:?}"
        );
    }
    node.wait("the Deployment available", Duration::from_secs(15), || {
        let d = node
            .get("deployment", "web", Some(&ns))
            .ok_or("no Deployment")?;
        if d["status"]["availableReplicas"] == 3 && d["status"]["readyReplicas"] == 3 {
            Ok(())
        } else {
            Err(d["status"].to_string())
        }
    });
    // The kubelet's events about each pod's container, from this node. (The kubelet also
    // names the container in `involvedObject.fieldPath`, `spec.containers{web}`; nodelet's
    // pod worker does not yet say which container an event is about.)
    let uids: Vec<String> = pods
        .iter()
        .map(|p| p["metadata"]["uid"].as_str().unwrap().to_owned())
        .collect();
    node.wait(
        "Created and Started events of each pod",
        Duration::from_secs(15),
        || {
            let text = node.kubectl(&["get", "events", "-n", &ns, "-o", "json"]);
            let events: Value = serde_json::from_str(&text).expect("an EventList");
            let from_node: Vec<&Value> = events["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| {
                    e["source"]["component"] == "kubelet" && e["source"]["host"] == name.as_str()
                })
                .collect();
            let missing: Vec<String> = uids
                .iter()
                .flat_map(|uid| ["Created", "Started"].map(|reason| (uid, reason)))
                .filter(|(uid, reason)| {
                    !from_node.iter().any(|e| {
                        e["reason"] == *reason
                            && e["involvedObject"]["kind"] == "Pod"
                            && e["involvedObject"]["uid"] == uid.as_str()
                    })
                })
                .map(|(uid, reason)| format!("{reason} of {uid}"))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                let seen: Vec<String> = from_node
                    .iter()
                    .map(|e| format!("{} {}", e["reason"], e["involvedObject"]))
                    .collect();
                Err(format!("missing {missing:?}; the node's events: {seen:?}"))
            }
        },
    );
}

/// The default service-account token volume (`kube-api-access-*`, a projected volume with
/// a bound token): the token file is in the pod's volume and the API server accepts it for
/// this pod and node (TokenReview as the admin).
#[test]
fn cluster_service_account_token_is_mounted_and_valid() {
    let Some(mut node) = ClusterNode::new("c-token", "") else {
        return;
    };
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.namespace();
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": "token", "namespace": ns },
        "spec": {
            "nodeName": name,
            "terminationGracePeriodSeconds": 2,
            "containers": [sleeper("main")],
        },
    });
    let created = Instant::now();
    node.create(&pod);
    let uid = node.get("pod", "token", Some(&ns)).expect("the pod")["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let projected = node
        .root_dir()
        .join("pods")
        .join(&uid)
        .join("volumes")
        .join("kubernetes.io~projected");
    let token = node.wait("the token file", Duration::from_secs(30), || {
        let found = entries_starting_with(&projected, "kube-api-access-");
        let file = found.first().map(|d| d.join("token")).ok_or_else(|| {
            let pod = node.get("pod", "token", Some(&ns)).unwrap_or_default();
            let events = node
                .cluster
                .kubectl(&[
                    "get",
                    "events",
                    "-n",
                    &ns,
                    "-o",
                    "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
                ])
                .unwrap_or_default();
            format!(
                "no {}/kube-api-access-*; pod {}; events:\n{events}",
                projected.display(),
                pod_summary(&pod)
            )
        })?;
        std::fs::read_to_string(&file)
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("{} is empty or missing", file.display()))
    });
    let token_after = created.elapsed();
    // The other parts of kube-api-access: the cluster CA and the namespace.
    let dir = entries_starting_with(&projected, "kube-api-access-").remove(0);
    let namespace_file = std::fs::read_to_string(dir.join("namespace")).unwrap_or_default();
    assert_eq!(namespace_file, ns, "{}/namespace", dir.display());
    assert!(dir.join("ca.crt").is_file(), "{}/ca.crt", dir.display());

    let review = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": { "token": token.trim() },
    });
    let answer = node
        .cluster
        .kubectl_with_input(
            &["create", "-f", "-", "-o", "json"],
            Some(&review.to_string()),
        )
        .expect("a TokenReview");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let status = &answer["status"];
    assert_eq!(status["authenticated"], true, "TokenReview: {status}");
    assert_eq!(
        status["user"]["username"],
        format!("system:serviceaccount:{ns}:default"),
        "{status}"
    );
    let extra = &status["user"]["extra"];
    assert_eq!(
        extra["authentication.kubernetes.io/pod-name"],
        json!(["token"]),
        "{status}"
    );
    assert_eq!(
        extra["authentication.kubernetes.io/pod-uid"],
        json!([uid]),
        "{status}"
    );
    assert_eq!(
        extra["authentication.kubernetes.io/node-name"],
        json!([name]),
        "{status}"
    );
    node.wait_pod_ready(&ns, "token", Duration::from_secs(20));
    eprintln!(
        "token pod: token file after {token_after:?}, Running and Ready {:?} after create",
        created.elapsed()
    );
}

/// ST-06: `kubectl delete pod` is graceful: the object stays (with its deletionTimestamp)
/// while the preStop hook and the TERM handler run, and goes only once the containers have
/// stopped, after a last status with a terminal phase and terminated containers.
#[test]
fn cluster_st_06_kubectl_delete_pod_is_graceful_with_pre_stop() {
    let Some(mut node) = ClusterNode::new("c-delete", "") else {
        return;
    };
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.namespace();
    let markers = node.test_dir().join("markers");
    let mut container = sleeper("main");
    container["command"] = json!([
        "sh",
        "-c",
        "trap 'echo term >> /markers/log; sleep 1; exit 0' TERM; sleep 3600 & wait"
    ]);
    container["lifecycle"] = json!({
        "preStop": { "exec": { "command": ["sh", "-c", "echo prestop >> /markers/log; sleep 2"] } },
    });
    container["volumeMounts"] = json!([
        { "name": "markers", "mountPath": "/markers" },
        { "name": "scratch", "mountPath": "/scratch" },
    ]);
    // A memory emptyDir is a tmpfs mounted on the host: "volumes unmounted" is visible.
    let mut pod = bound_pod(
        &ns,
        "graceful",
        &name,
        json!([container]),
        json!([
            {
                "name": "markers",
                "hostPath": { "path": markers.display().to_string(), "type": "DirectoryOrCreate" },
            },
            { "name": "scratch", "emptyDir": { "medium": "Memory" } },
        ]),
    );
    pod["spec"]["terminationGracePeriodSeconds"] = json!(10);
    node.create(&pod);
    let running = node.wait_pod_ready(&ns, "graceful", Duration::from_secs(30));
    let uid = running["metadata"]["uid"].as_str().unwrap().to_owned();
    assert!(
        node.runtime_containers(&uid)
            .iter()
            .any(|c| c.state == v1::ContainerState::ContainerRunning as i32),
        "the container runs in the runtime"
    );
    let pod_dir = node.root_dir().join("pods").join(&uid);
    let pod_mounts = || -> Vec<PathBuf> {
        node.mounts()
            .into_iter()
            .filter(|m| m.starts_with(&pod_dir))
            .collect()
    };
    assert!(
        !pod_mounts().is_empty(),
        "the memory emptyDir is mounted under {}",
        pod_dir.display()
    );

    // Every state the pod goes through, from a watch.
    let events_file = node.test_dir().join("watch.json");
    let mut watch = node.cluster.kubectl_command();
    watch
        .args([
            "get",
            "pod",
            "graceful",
            "-n",
            &ns,
            "--watch",
            "--output-watch-events",
            "-o",
            "json",
        ])
        .arg("--request-timeout=0")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&events_file).unwrap())
        .stderr(Stdio::null());
    let watch = KillOnDrop(watch.spawn().expect("kubectl get --watch"));
    std::thread::sleep(Duration::from_millis(500));

    node.kubectl(&["delete", "pod", "graceful", "-n", &ns, "--wait=false"]);
    let deleted = Instant::now();
    let mut seen_terminating = false;
    let mut running_while_terminating = false;
    let gone_after = node.wait("the pod object deleted", Duration::from_secs(30), || {
        let object = node.get("pod", "graceful", Some(&ns));
        // Read after the API: a container running now ran when the object was read.
        let runtime_running: Vec<String> = node
            .runtime_containers(&uid)
            .into_iter()
            .filter(|c| c.state == v1::ContainerState::ContainerRunning as i32)
            .map(|c| c.id)
            .collect();
        let mounted = pod_mounts();
        match object {
            Some(pod) => {
                assert!(
                    pod["metadata"]["deletionTimestamp"].is_string(),
                    "a terminating pod has a deletionTimestamp: {}",
                    pod["metadata"]
                );
                assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 10);
                seen_terminating = true;
                running_while_terminating |= !runtime_running.is_empty();
                Err(pod_summary(&pod))
            }
            None => {
                assert!(
                    runtime_running.is_empty(),
                    "ST-06: the pod object was deleted while its containers {runtime_running:?} \
                     still ran\n{}",
                    node.log_tail(40)
                );
                assert!(
                    mounted.is_empty(),
                    "ST-06: the pod object was deleted while its volumes {mounted:?} were still \
                     mounted\n{}",
                    node.log_tail(40)
                );
                Ok(deleted.elapsed())
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(watch);
    eprintln!("pod deleted from the API {gone_after:?} after kubectl delete");
    assert!(seen_terminating, "the object was never seen terminating");
    assert!(
        running_while_terminating,
        "the containers were never seen running while the object was terminating"
    );
    assert!(
        gone_after >= Duration::from_secs(2),
        "the object went after {gone_after:?}, before the 2 s preStop hook could end"
    );
    // Stopped or removed in the runtime.
    for c in node.runtime_containers(&uid) {
        assert_ne!(
            c.state,
            v1::ContainerState::ContainerRunning as i32,
            "{} still runs",
            c.id
        );
    }
    let log = std::fs::read_to_string(markers.join("log")).unwrap_or_default();
    assert_eq!(log, "prestop\nterm\n", "the preStop hook ran, then SIGTERM");

    // The last state the API server stored: terminal, every container terminated.
    let text = std::fs::read_to_string(&events_file).unwrap_or_default();
    let events: Vec<Value> = serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .filter_map(Result::ok)
        .collect();
    let last = events
        .iter()
        .find(|e| e["type"] == "DELETED")
        .map(|e| &e["object"])
        .unwrap_or_else(|| panic!("no DELETED event in the watch: {text}"));
    let phase = last["status"]["phase"].as_str().unwrap_or("");
    assert!(
        matches!(phase, "Succeeded" | "Failed"),
        "ST-06: the final status has phase {phase:?}: {}",
        pod_summary(last)
    );
    for c in last["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        assert!(
            c["state"]["terminated"].is_object(),
            "ST-06: a container is not terminated in the final status: {c}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Static pods and their mirror pods
// ---------------------------------------------------------------------------------------

/// SP-04, SP-05, SP-09: a static pod has a mirror pod owned by the Node, showing its
/// status; a deleted mirror pod comes back while the static pod keeps running.
#[test]
fn cluster_sp_04_sp_05_sp_09_static_pod_has_a_mirror_pod() {
    let Some(mut node) = ClusterNode::new("c-mirror", "") else {
        return;
    };
    let name = node.name.clone();
    let mirror = node.pod_name("static-web");
    node.also_delete.push(vec![
        "pod".into(),
        mirror.clone(),
        "-n".into(),
        "default".into(),
        "--force".into(),
        "--grace-period=0".into(),
    ]);
    node.write_manifest("static-web.yaml", &common::sleeper_yaml("static-web"));
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));

    let first = node.wait("the mirror pod Running", Duration::from_secs(30), || {
        let pod = node
            .get("pod", &mirror, Some("default"))
            .ok_or("no mirror pod")?;
        if pod_is_ready(&pod) {
            Ok(pod)
        } else {
            Err(pod_summary(&pod))
        }
    });
    let meta = &first["metadata"];
    assert!(
        meta["annotations"]["kubernetes.io/config.mirror"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "SP-04: {meta}"
    );
    let owners = meta["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let node_uid = node.node_object().unwrap()["metadata"]["uid"].clone();
    assert!(
        owners.iter().any(|o| o["kind"] == "Node"
            && o["name"] == name.as_str()
            && o["uid"] == node_uid
            && o["controller"] == true),
        "SP-04: owner references {owners:?}"
    );
    // SP-09: the static pod's status, as nodelet runs it.
    let static_pod = node.wait_running("static-web");
    let static_uid = static_pod.metadata.uid.clone().unwrap();
    let container_id = common::runtime_id(&common::app_statuses(&static_pod)[0])
        .unwrap()
        .to_owned();
    assert_eq!(
        status_container_ids(&first),
        vec![("main".to_owned(), container_id.clone())],
        "SP-09: the mirror shows the static pod's container"
    );
    assert_eq!(first["status"]["phase"], "Running", "SP-09");

    // SP-05: delete the mirror; a new one comes, the static pod runs on.
    let first_uid = first["metadata"]["uid"].as_str().unwrap().to_owned();
    node.kubectl(&["delete", "pod", &mirror, "-n", "default", "--wait=false"]);
    let deleted = Instant::now();
    let second = node.wait("a new mirror pod Running", Duration::from_secs(30), || {
        let pod = node
            .get("pod", &mirror, Some("default"))
            .ok_or("no mirror pod")?;
        if pod["metadata"]["uid"] == first_uid.as_str() {
            return Err(format!("the old mirror: {}", pod_summary(&pod)));
        }
        if pod["metadata"]["deletionTimestamp"].is_string() {
            return Err(format!("terminating: {}", pod_summary(&pod)));
        }
        if pod_is_ready(&pod) {
            Ok(pod)
        } else {
            Err(format!("the new mirror: {}", pod_summary(&pod)))
        }
    });
    eprintln!(
        "mirror pod back and Running {:?} after kubectl delete",
        deleted.elapsed()
    );
    assert!(
        second["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string(),
        "{}",
        second["metadata"]
    );
    assert_eq!(
        status_container_ids(&second),
        vec![("main".to_owned(), container_id.clone())],
        "SP-09 on the new mirror"
    );
    let now = node.wait_running("static-web");
    assert_eq!(now.metadata.uid.as_deref(), Some(static_uid.as_str()));
    let statuses = common::app_statuses(&now);
    assert_eq!(
        common::runtime_id(&statuses[0]),
        Some(container_id.as_str())
    );
    assert_eq!(statuses[0].restart_count, 0);
    assert!(
        common::runtime_running(node.runtime(), &container_id),
        "SP-05: the static pod's container keeps running"
    );
}

/// SP-04 across a restart: nodelet restarted keeps the mirror pod it made (same UID), as
/// the kubelet does: a mirror pod that matches its static pod is left alone, and orphaned
/// mirror pods are only looked for once every pod source has been seen.
#[test]
fn cluster_sp_04_mirror_pod_survives_a_nodelet_restart() {
    let Some(mut node) = ClusterNode::new("c-mr-restart", "") else {
        return;
    };
    let mirror = node.pod_name("static-web");
    node.also_delete.push(vec![
        "pod".into(),
        mirror.clone(),
        "-n".into(),
        "default".into(),
        "--force".into(),
        "--grace-period=0".into(),
    ]);
    node.write_manifest("static-web.yaml", &common::sleeper_yaml("static-web"));
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let first = node.wait("the mirror pod Running", Duration::from_secs(30), || {
        let pod = node
            .get("pod", &mirror, Some("default"))
            .ok_or("no mirror pod")?;
        if pod_is_ready(&pod) {
            Ok(pod)
        } else {
            Err(pod_summary(&pod))
        }
    });
    let mirror_uid = first["metadata"]["uid"].as_str().unwrap().to_owned();
    let container = status_container_ids(&first);

    node.stop();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    // Long enough for the static pod source, the API pod view and a mirror sync.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let now = node.get("pod", &mirror, Some("default"));
        let uid = now.as_ref().map(|p| p["metadata"]["uid"].clone());
        assert!(
            uid == Some(json!(mirror_uid))
                && now
                    .as_ref()
                    .is_some_and(|p| p["metadata"]["deletionTimestamp"].is_null()),
            "the mirror pod {mirror_uid} was replaced or deleted after the restart: now {}\n\
             --- nodelet log (mirror pods) ---\n{}",
            now.as_ref().map_or("none".to_owned(), pod_summary),
            std::fs::read_to_string(node.log_file())
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("mirror_pod"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(POLL);
    }
    let now = node.wait_pod_ready("default", &mirror, Duration::from_secs(10));
    assert_eq!(status_container_ids(&now), container, "the same container");
}

// ---------------------------------------------------------------------------------------
// ConfigMaps and Secrets
// ---------------------------------------------------------------------------------------

/// VO-10: a ConfigMap volume of an API pod gets the ConfigMap's content, and an update
/// reaches the file (as the host sees it and as the container sees it). nodelet runs with
/// `syncFrequency: 5s` (the kubelet's default is 1m) to keep the test short.
#[test]
fn cluster_vo_10_config_map_update_reaches_a_mounted_file() {
    let Some(mut node) = ClusterNode::new("c-cm", "syncFrequency: 5s\n") else {
        return;
    };
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.namespace();
    node.create(&json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": "settings", "namespace": ns },
        "data": { "greeting": "one" },
    }));
    let out = node.test_dir().join("cm-out");
    let mut container = sleeper("main");
    // The container copies what it sees into a hostPath once a second.
    container["command"] = json!([
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do cp /config/greeting /out/.seen && mv /out/.seen /out/seen; sleep 1; done & wait"
    ]);
    container["volumeMounts"] = json!([
        { "name": "config", "mountPath": "/config" },
        { "name": "out", "mountPath": "/out" },
    ]);
    node.create(&bound_pod(
        &ns,
        "reader",
        &name,
        json!([container]),
        json!([
            { "name": "config", "configMap": { "name": "settings" } },
            { "name": "out", "hostPath": { "path": out.display().to_string(), "type": "DirectoryOrCreate" } },
        ]),
    ));
    let pod = node.wait_pod_ready(&ns, "reader", Duration::from_secs(30));
    let uid = pod["metadata"]["uid"].as_str().unwrap();
    let host_file = node
        .root_dir()
        .join("pods")
        .join(uid)
        .join("volumes")
        .join("kubernetes.io~configmap")
        .join("config")
        .join("greeting");
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let seen = out.join("seen");
    node.wait(
        "the ConfigMap's content in the volume",
        Duration::from_secs(10),
        || match (read(&host_file).as_str(), read(&seen).as_str()) {
            ("one", "one") => Ok(()),
            (h, c) => Err(format!("host {h:?}, container {c:?}")),
        },
    );

    node.kubectl(&[
        "patch",
        "configmap",
        "settings",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"data":{"greeting":"two"}}"#,
    ]);
    let updated = Instant::now();
    let on_host = node.wait(
        "the update in the volume on the host",
        Duration::from_secs(70),
        || {
            let text = read(&host_file);
            if text == "two" {
                Ok(updated.elapsed())
            } else {
                Err(format!("{text:?}"))
            }
        },
    );
    let in_container = node.wait(
        "the update seen by the container",
        Duration::from_secs(10),
        || {
            let text = read(&seen);
            if text == "two" {
                Ok(updated.elapsed())
            } else {
                Err(format!("{text:?}"))
            }
        },
    );
    eprintln!(
        "ConfigMap update: in the volume after {on_host:?}, seen by the container after \
         {in_container:?} (syncFrequency 5s)"
    );
    // syncFrequency 5 s + jitter + watch latency.
    assert!(
        on_host <= Duration::from_secs(15),
        "VO-10: the update took {on_host:?} with syncFrequency 5s"
    );
    // The atomic writer's layout.
    let volume = host_file.parent().unwrap();
    assert!(
        std::fs::symlink_metadata(volume.join("..data")).is_ok_and(|m| m.file_type().is_symlink()),
        "..data is a symlink in {}",
        volume.display()
    );
}

/// A Secret key reaches a container's environment through `secretKeyRef`.
#[test]
fn cluster_secret_reaches_env() {
    let Some(mut node) = ClusterNode::new("c-secret", "") else {
        return;
    };
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.namespace();
    node.create(&json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": "credentials", "namespace": ns },
        "stringData": { "password": "s3cret-value" },
    }));
    let out = node.test_dir().join("secret-out");
    let mut container = sleeper("main");
    container["command"] = json!([
        "sh",
        "-c",
        "printf %s \"$PASSWORD\" > /out/.env && mv /out/.env /out/env; trap 'exit 0' TERM; sleep 3600 & wait"
    ]);
    container["env"] = json!([{
        "name": "PASSWORD",
        "valueFrom": { "secretKeyRef": { "name": "credentials", "key": "password" } },
    }]);
    container["volumeMounts"] = json!([{ "name": "out", "mountPath": "/out" }]);
    node.create(&bound_pod(
        &ns,
        "consumer",
        &name,
        json!([container]),
        json!([{ "name": "out", "hostPath": { "path": out.display().to_string(), "type": "DirectoryOrCreate" } }]),
    ));
    node.wait_pod_ready(&ns, "consumer", Duration::from_secs(30));
    let env = node.wait("the container's $PASSWORD", Duration::from_secs(10), || {
        std::fs::read_to_string(out.join("env")).map_err(|e| e.to_string())
    });
    assert_eq!(env, "s3cret-value");
}

// ---------------------------------------------------------------------------------------
// Restarts and rest
// ---------------------------------------------------------------------------------------

/// A stopped nodelet lets the node go Ready=Unknown (the node lifecycle controller, after
/// its `--node-monitor-grace-period`, 50 s in v1.37); started again, the node is Ready,
/// its pods' containers are the same (restartCount 0), and the pods' Ready condition that
/// the controller set to False is set back (ST-05).
#[test]
fn cluster_node_not_ready_when_nodelet_stops_and_ready_again_with_0_restarts() {
    let Some(mut node) = ClusterNode::new("c-restart", "") else {
        return;
    };
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.namespace();
    for pod in ["one", "two"] {
        node.create(&bound_pod(
            &ns,
            pod,
            &name,
            json!([sleeper("main")]),
            json!([]),
        ));
    }
    let before: Vec<(String, Vec<(String, String)>)> = ["one", "two"]
        .iter()
        .map(|pod| {
            let object = node.wait_pod_ready(&ns, pod, Duration::from_secs(30));
            (
                object["metadata"]["uid"].as_str().unwrap().to_owned(),
                status_container_ids(&object),
            )
        })
        .collect();

    node.stop();
    let stopped = Instant::now();
    node.wait_node_ready("Unknown", Duration::from_secs(75));
    let unknown_after = stopped.elapsed();
    eprintln!("node {name}: Ready=Unknown {unknown_after:?} after SIGTERM");
    // The node lifecycle controller marks the pods of an unreachable node not ready.
    for pod in ["one", "two"] {
        node.wait(
            &format!("pod {pod} marked not ready by the controller"),
            Duration::from_secs(15),
            || {
                let object = node.get("pod", pod, Some(&ns)).ok_or("no pod")?;
                match node_condition(&object, "Ready").map(|c| c["status"].clone()) {
                    Some(s) if s == "False" => Ok(()),
                    _ => Err(pod_summary(&object)),
                }
            },
        );
    }
    for (uid, ids) in &before {
        for (_, id) in ids {
            assert!(
                common::runtime_running(node.runtime(), id),
                "pod {uid}: container {id} stopped with nodelet"
            );
        }
    }

    let restarted = Instant::now();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    eprintln!(
        "node {name}: Ready again {:?} after restart",
        restarted.elapsed()
    );
    for ((uid, ids), pod) in before.iter().zip(["one", "two"]) {
        let object = node.wait_pod_ready(&ns, pod, Duration::from_secs(20));
        assert_eq!(object["metadata"]["uid"], uid.as_str());
        assert_eq!(
            &status_container_ids(&object),
            ids,
            "{}",
            pod_summary(&object)
        );
        for c in object["status"]["containerStatuses"].as_array().unwrap() {
            assert_eq!(c["restartCount"], 0, "{c}");
        }
        for (_, id) in ids {
            assert!(common::runtime_running(node.runtime(), id), "{id}");
        }
        let attempts: Vec<u32> = node
            .runtime_containers(uid)
            .iter()
            .filter(|c| c.labels.get(CONTAINER_NAME).map(String::as_str) == Some("main"))
            .map(|c| c.metadata.as_ref().map_or(0, |m| m.attempt))
            .collect();
        assert_eq!(attempts, vec![0], "one container, never restarted");
    }
    eprintln!(
        "after restart: pods Ready again {:?} after restart",
        restarted.elapsed()
    );
}

/// ST-01: with 10 pods running and nothing changing, nodelet sends no pod status patch in
/// 30 s, while it renews its lease. Counted on the API server (`apiserver_request_total`),
/// which counts every client's requests: there is no cluster lock in `test_env`, so other
/// nodes or tests using the cluster at the same time could patch pods too; a window with
/// patches is retried (twice) when other nodes' leases were renewed during it. Lease PUTs
/// include the API server's own identity lease (kube-system, every 10 s), so this node's
/// renewals are checked on its own Lease's `renewTime` as well.
#[test]
fn cluster_st_01_no_pod_status_patch_at_rest_with_10_pods() {
    let Some(mut node) = ClusterNode::new("c-rest", "") else {
        return;
    };
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.namespace();
    let pods: Vec<Value> = (0..10)
        .map(|i| {
            bound_pod(
                &ns,
                &format!("rest-{i}"),
                &name,
                json!([sleeper("main")]),
                json!([]),
            )
        })
        .collect();
    node.create(&json!({ "apiVersion": "v1", "kind": "List", "items": pods }));
    let created = Instant::now();
    node.wait("10 pods Running and Ready", Duration::from_secs(45), || {
        let pods = node.pods_in(&ns);
        let ready = pods.iter().filter(|p| pod_is_ready(p)).count();
        if pods.len() == 10 && ready == 10 {
            Ok(())
        } else {
            Err(format!("{ready} of {} ready", pods.len()))
        }
    });
    eprintln!("10 pods Ready {:?} after create", created.elapsed());
    // Let the last writes land.
    std::thread::sleep(Duration::from_secs(3));

    let pod_patches = [
        "resource=\"pods\"",
        "subresource=\"status\"",
        "verb=\"PATCH\"",
    ];
    let lease_updates = ["resource=\"leases\"", "verb=\"PUT\""];
    let node_patches = [
        "resource=\"nodes\"",
        "subresource=\"status\"",
        "verb=\"PATCH\"",
    ];
    let renew_time = || {
        node.get("lease", &name, Some("kube-node-lease"))
            .map(|l| l["spec"]["renewTime"].as_str().unwrap_or("").to_owned())
            .unwrap_or_default()
    };
    let window = Duration::from_secs(30);
    for attempt in 1..=3 {
        let (p0, l0, n0) = (
            apiserver_requests(&node.cluster, &pod_patches),
            apiserver_requests(&node.cluster, &lease_updates),
            apiserver_requests(&node.cluster, &node_patches),
        );
        let renew0 = renew_time();
        let started = jiff::Timestamp::now();
        std::thread::sleep(window);
        let (p1, l1, n1) = (
            apiserver_requests(&node.cluster, &pod_patches),
            apiserver_requests(&node.cluster, &lease_updates),
            apiserver_requests(&node.cluster, &node_patches),
        );
        let renew1 = renew_time();
        eprintln!(
            "at rest, window {attempt} ({window:?}): pod status PATCH +{}, lease PUT +{}, node \
             status PATCH +{}; lease renewTime {renew0} -> {renew1}",
            p1 - p0,
            l1 - l0,
            n1 - n0
        );
        assert!(l1 > l0, "no lease update in {window:?}");
        assert_ne!(
            renew0, renew1,
            "NS-10: this node's lease was not renewed in {window:?}"
        );
        if p1 == p0 {
            // Still all running and ready: the rest was real.
            let pods = node.pods_in(&ns);
            assert!(
                pods.iter().all(pod_is_ready),
                "{:?}",
                pods.iter().map(pod_summary).collect::<Vec<_>>()
            );
            return;
        }
        let others = other_active_nodes(&node.cluster, &name, started);
        assert!(
            !others.is_empty(),
            "ST-01: {} pod status PATCHes reached the API server in {window:?} at rest, and no \
             other node was active\n--- nodelet log (tail) ---\n{}",
            p1 - p0,
            node.log_tail(40)
        );
        eprintln!("other nodes were active during the window ({others:?}); again");
    }
    panic!("ST-01: pod status PATCHes in each of 3 windows at rest (other nodes were active)");
}

/// The nodes other than `ours` whose lease was renewed since `since`.
fn other_active_nodes(cluster: &Cluster, ours: &str, since: jiff::Timestamp) -> Vec<String> {
    let text = cluster
        .kubectl(&["get", "leases", "-n", "kube-node-lease", "-o", "json"])
        .unwrap_or_default();
    let list: Value = serde_json::from_str(&text).unwrap_or_default();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["metadata"]["name"] != ours)
        .filter(|l| {
            l["spec"]["renewTime"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_some_and(|t| t >= since)
        })
        .filter_map(|l| l["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// Where a cluster-mode pod status may differ from the real kubelet's, and why (each also in
/// docs/differential.md).
const CLUSTER_DEPARTURES: &[(&str, &str)] = &[(
    "resources.limits.memory",
    "pod-level-limit-from-cgroup: for a Running API pod the kubelet reports the pod cgroup's \
     memory limit (unlimited, 9007199254740988Ki on cgroup v1, when a container declares no \
     memory limit); nodelet reports PodLimits of the spec",
)];

/// The differential harness in cluster mode: the same Deployment (an init container, a
/// ConfigMap volume, a Secret in the environment, a readiness probe, requests and limits)
/// once on nodelet's node and once on a real kubelet v1.37.2 joined to the same control
/// plane (on the reference containerd); the pod statuses the API server holds are compared
/// field by field after the normalization of the static differential suite (times, ids,
/// addresses and names as placeholders).
#[test]
fn cluster_differential_deployment_pod_statuses_equal_the_real_kubelets() {
    let Some(mut node) = ClusterNode::new("cdiff", "") else {
        return;
    };
    let Some(env) = test_env::kubelet::require_reference_env("the cluster differential") else {
        return;
    };
    node.start_cluster(&[]);
    let ns = node.namespace();
    let (reference, mut kubelet) = node.join_reference_kubelet(&env, "cdiff");
    node.wait_node_ready("True", Duration::from_secs(10));

    node.create(&json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "page", "namespace": ns},
        "data": {"index.html": "hello"},
    }));
    node.create(&json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds", "namespace": ns},
        "stringData": {"password": "s3cret"},
    }));
    for (name, host) in [
        ("on-nodelet", node.name.clone()),
        ("on-kubelet", reference.clone()),
    ] {
        node.create(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "nodeSelector": {"kubernetes.io/hostname": host},
                        "terminationGracePeriodSeconds": 1,
                        "initContainers": [{
                            "name": "prepare",
                            "image": env.busybox_image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", "cp /page/index.html /www/"],
                            "volumeMounts": [
                                {"name": "page", "mountPath": "/page"},
                                {"name": "www", "mountPath": "/www"},
                            ],
                        }],
                        "containers": [{
                            "name": "web",
                            "image": env.busybox_image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
                            "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}],
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "16Mi"},
                                "limits": {"cpu": "100m", "memory": "64Mi"},
                            },
                            "readinessProbe": {"exec": {"command": ["test", "-f", "/www/index.html"]}, "periodSeconds": 1},
                            "volumeMounts": [{"name": "www", "mountPath": "/www"}],
                        }],
                        "volumes": [
                            {"name": "page", "configMap": {"name": "page"}},
                            {"name": "www", "emptyDir": {}},
                        ],
                    },
                },
            },
        }));
    }
    let ready_pod = |app: &str| {
        node.wait(
            &format!("the pod of {app} Ready"),
            Duration::from_secs(90),
            || {
                let pods: Vec<Value> = node
                    .pods_in(&ns)
                    .into_iter()
                    .filter(|p| p["metadata"]["labels"]["app"] == app)
                    .collect();
                match pods.as_slice() {
                    [pod] if pod_is_ready(pod) => {
                        Ok(pod["metadata"]["name"].as_str().unwrap_or("").to_owned())
                    }
                    other => Err(other.iter().map(pod_summary).collect::<Vec<_>>().join("; ")),
                }
            },
        )
    };
    let ours = ready_pod("on-nodelet");
    let theirs = ready_pod("on-kubelet");
    // Let both agents finish their status writes (readiness, probes) before the snapshot.
    std::thread::sleep(Duration::from_secs(3));
    let flat = |pod_name: &str, node_name: &str, app: &str| {
        let pod = node.get("pod", pod_name, Some(&ns)).expect("the pod");
        // The service-account volume's name has a random suffix (`kube-api-access-x7k2p`).
        let token_volume = pod["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str())
            .find(|n| n.starts_with("kube-api-access-"))
            .unwrap_or("kube-api-access-")
            .to_owned();
        let placeholders = vec![
            (pod_name.to_owned(), "<pod>".to_owned()),
            (node_name.to_owned(), "<node>".to_owned()),
            (app.to_owned(), "<app>".to_owned()),
            (token_volume.clone(), "<kube-api-access>".to_owned()),
        ];
        normalize::flatten_status(&pod["status"], &placeholders)
            .into_iter()
            .map(|(k, v)| (k.replace(&token_volume, "<kube-api-access>"), v))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let a = flat(&ours, &node.name, "on-nodelet");
    let b = flat(&theirs, &reference, "on-kubelet");
    let mut differences = Vec::new();
    for key in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (x, y) = (a.get(key), b.get(key));
        if x == y {
            continue;
        }
        match CLUSTER_DEPARTURES.iter().find(|(k, _)| k == key) {
            Some((_, why)) => eprintln!("departure {key}: nodelet {x:?}, kubelet {y:?} ({why})"),
            None => differences.push(format!("{key}: nodelet {x:?}, kubelet {y:?}")),
        }
    }
    let problems = kubelet.stop();
    assert!(
        problems.is_empty(),
        "the reference kubelet left: {problems:?}"
    );
    assert!(
        differences.is_empty(),
        "the statuses differ from the real kubelet's:\n{}",
        differences.join("\n")
    );
    eprintln!("{} status fields equal on both nodes", a.len());
}

// ---------------------------------------------------------------------------------------
// The API server away
// ---------------------------------------------------------------------------------------

/// How long the control plane is stopped.
const OUTAGE: Duration = Duration::from_secs(60);
/// When, into the outage, the finishing pod's container is told to exit.
const EXIT_AT: Duration = Duration::from_secs(20);
/// The most events a node may report in the catch-up after a 60 s outage (issue 19, item 3):
/// the few its pods' changes during the outage explain, never a replay of every failed
/// write.
const EVENTS_AFTER_RESUME: i64 = 10;
/// How long after the resume the lease, the Node and the pod statuses have to catch up.
const CATCH_UP: Duration = Duration::from_secs(30);
/// How long the node lifecycle controller gets, once it can have seen the renewed lease,
/// before a Ready=True that nodelet did not write after the outage is believed (two of its
/// 5 s monitor periods).
const CONTROLLER_SETTLE: Duration = Duration::from_secs(10);

/// Issue 14, item 4: the API server stopped for 60 s: pods keep running, and afterwards the
/// lease and the statuses catch up.
///
/// kube-apiserver and etcd are stopped with SIGSTOP (`Cluster::pause_control_plane`): the
/// harshest outage for a client, whose requests hang until their own timeouts. During the
/// 60 s, nodelet stays alive (same pid) with `/healthz` ok, the 3 steady pods' containers keep
/// running (the CRI shows the same ids running), and a fourth pod's container exits 0 after
/// 20 s (restartPolicy Never), which nodelet sees at once (its `/pods` shows the pod
/// Succeeded with exit code 0; in the runtime the container is exited, or already removed
/// with the finished pod's sandbox). Within 30 s of the resume: the node Lease's renewTime
/// is past the resume; the Node is Ready, reported again if the node lifecycle controller
/// (whose clock ran on in the controller-manager) marked it Unknown, else still True
/// [`CONTROLLER_SETTLE`] after the lease caught up (nodelet patches an unchanged status only
/// every `nodeStatusReportFrequency`, 5 min); the finished pod is Succeeded with exit code 0
/// in the API; the steady pods are Running and Ready (the controller may have set them not
/// ready) with restartCount 0 and the same container ids.
///
/// Issue 19, item 3, adds static pods and the events. Of two static pods running before the
/// outage, one's manifest is removed at 20 s, and a third static pod's manifest appears
/// then. After the catch-up: the kept pod's mirror pod is the same object (same UID, never
/// deleted and made again), the removed pod's mirror pod is gone, the new pod has exactly
/// one, Ready, and the node holds exactly its 4 API pods and 2 mirror pods. The events the
/// node wrote since the resume (by their creation time on the server, so events of the
/// outage delivered late count), repeats counted, are at most [`EVENTS_AFTER_RESUME`].
///
/// The pause is of the shared cluster: anything else using it at the same time sees the
/// outage. Under `cargo test` nothing else does (this binary's tests hold the runtime lock,
/// and test binaries run one after another), but a human running tests in parallel (another
/// `cargo test`, or another binary's cluster tests by hand) will see their requests time
/// out. The control plane is resumed even when the test fails (the guard's `Drop`), and the
/// test ends with `/readyz` ok and all four control-plane processes running. About 75 s,
/// 60 of them the outage.
#[test]
fn cluster_api_server_away_for_60s_pods_keep_running_and_status_catches_up() {
    let Some(mut node) = ClusterNode::new("c-away", "") else {
        return;
    };
    let test_started = Instant::now();
    let name = node.name.clone();
    // Static pods (issue 19, item 3): one that runs throughout, one whose manifest goes and
    // one whose manifest comes during the outage; their mirror pods must converge after it.
    let statics = ["away-kept", "away-gone", "away-new"];
    for pod in statics {
        node.also_delete.push(vec![
            "pod".into(),
            node.pod_name(pod),
            "-n".into(),
            "default".into(),
            "--force".into(),
            "--grace-period=0".into(),
        ]);
    }
    for pod in &statics[..2] {
        node.write_manifest(&format!("{pod}.yaml"), &common::sleeper_yaml(pod));
    }
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let mirrors_before: Vec<String> = statics[..2]
        .iter()
        .map(|pod| {
            let mirror = node.pod_name(pod);
            let object = node.wait("a mirror pod Ready", Duration::from_secs(30), || {
                let object = node.get("pod", &mirror, Some("default")).ok_or("none")?;
                if pod_is_ready(&object) {
                    Ok(object)
                } else {
                    Err(pod_summary(&object))
                }
            });
            object["metadata"]["uid"].as_str().unwrap().to_owned()
        })
        .collect();
    let ns = node.namespace();
    let steady = ["steady-0", "steady-1", "steady-2"];
    let markers = node.test_dir().join("markers");
    let mut items: Vec<Value> = steady
        .iter()
        .map(|pod| bound_pod(&ns, pod, &name, json!([sleeper("main")]), json!([])))
        .collect();
    let mut finisher = sleeper("main");
    finisher["command"] = json!([
        "sh",
        "-c",
        "trap 'exit 0' TERM; while [ ! -e /markers/exit ]; do sleep 1; done; exit 0"
    ]);
    finisher["volumeMounts"] = json!([{ "name": "markers", "mountPath": "/markers" }]);
    let mut finisher_pod = bound_pod(
        &ns,
        "finisher",
        &name,
        json!([finisher]),
        json!([{
            "name": "markers",
            "hostPath": { "path": markers.display().to_string(), "type": "DirectoryOrCreate" },
        }]),
    );
    finisher_pod["spec"]["restartPolicy"] = json!("Never");
    items.push(finisher_pod);
    node.create(&json!({ "apiVersion": "v1", "kind": "List", "items": items }));
    let created = Instant::now();
    let pods = node.wait("4 pods Running and Ready", Duration::from_secs(45), || {
        let pods = node.pods_in(&ns);
        if pods.len() == 4 && pods.iter().all(pod_is_ready) {
            Ok(pods)
        } else {
            Err(pods.iter().map(pod_summary).collect::<Vec<_>>().join("; "))
        }
    });
    eprintln!("4 pods Ready {:?} after create", created.elapsed());
    let by_name = |pod: &str| {
        pods.iter()
            .find(|p| p["metadata"]["name"] == pod)
            .unwrap_or_else(|| panic!("no pod {pod}"))
    };
    // name -> (uid, container ids by name)
    let before: Vec<_> = steady
        .iter()
        .map(|&pod| {
            let object = by_name(pod);
            (
                pod,
                object["metadata"]["uid"].as_str().unwrap().to_owned(),
                status_container_ids(object),
            )
        })
        .collect();
    let finisher_id = status_container_ids(by_name("finisher"))[0].1.clone();
    let renew_before = lease_renew_time(&node).expect("the node's Lease");
    let nodelet_pid = match nodelet_pids(&name).as_slice() {
        [pid] => *pid,
        other => panic!("nodelet processes of {name}: {other:?}"),
    };
    let alive = |when: &str| {
        let pids = nodelet_pids(&name);
        assert_eq!(
            pids,
            vec![nodelet_pid],
            "nodelet ({nodelet_pid}) is not running {when}\n{}",
            node.log_tail(60)
        );
        let healthz = test_env::http_get(
            std::net::SocketAddr::from(([127, 0, 0, 1], node.healthz_port)),
            "/healthz",
        );
        assert!(
            matches!(&healthz, Ok((200, body)) if body == "ok"),
            "nodelet's /healthz {when}: {healthz:?}\n{}",
            node.log_tail(60)
        );
    };
    let steady_running = |when: &str| {
        for (pod, _, ids) in &before {
            for (_, id) in ids {
                assert!(
                    common::runtime_running(node.runtime(), id),
                    "pod {pod}: container {id} is not running {when}\n{}",
                    node.log_tail(60)
                );
            }
        }
    };
    let control_plane_before = node.cluster.control_plane_pids();
    let log_offset = std::fs::metadata(node.log_file()).map_or(0, |m| m.len() as usize);

    // The outage.
    let paused = node
        .cluster
        .pause_control_plane()
        .expect("stopping kube-apiserver and etcd");
    eprintln!(
        "control plane paused: {:?} stopped (before: {control_plane_before:?}); lease renewTime \
         {renew_before}",
        paused.stopped_pids()
    );
    let probe = node
        .cluster
        .kubectl_command()
        .args(["get", "--raw", "/readyz", "--request-timeout=2s"])
        .stdin(Stdio::null())
        .output()
        .expect("kubectl");
    assert!(
        !probe.status.success(),
        "the API server answered while paused: {}",
        String::from_utf8_lossy(&probe.stdout)
    );
    let mut exit_requested: Option<Instant> = None;
    // When, after the exit marker, the runtime showed the container exited 0, and nodelet's
    // /pods the pod Succeeded; what each showed last.
    let (mut exited_after, mut succeeded_after) = (None, None);
    let (mut runtime_seen, mut pods_seen) = (String::new(), String::new());
    let mut rounds = 0;
    while paused.elapsed() < OUTAGE {
        alive("during the outage");
        steady_running("during the outage");
        if exit_requested.is_none() && paused.elapsed() >= EXIT_AT {
            std::fs::write(markers.join("exit"), "").expect("writing the exit marker");
            exit_requested = Some(Instant::now());
            node.remove_manifest(&format!("{}.yaml", statics[1]));
            node.write_manifest(
                &format!("{}.yaml", statics[2]),
                &common::sleeper_yaml(statics[2]),
            );
        }
        if let Some(at) = exit_requested {
            // The runtime: exited 0, or already removed (nodelet removes a terminated pod's
            // containers and sandbox when it has finished it, `remove_terminated`).
            if exited_after.is_none() {
                let status = node.runtime().container_status(&finisher_id);
                let done = status.as_ref().is_none_or(|s| {
                    s.state == v1::ContainerState::ContainerExited as i32 && s.exit_code == 0
                });
                if done {
                    exited_after = Some(at.elapsed());
                }
                runtime_seen = format!("{:?}", status.map(|s| (s.state, s.exit_code, s.reason)));
            }
            // nodelet's own view: Succeeded, its container terminated with exit code 0.
            if succeeded_after.is_none() {
                let local = node.pods().into_iter().find(|p| {
                    p.metadata.name.as_deref() == Some("finisher")
                        && p.metadata.namespace.as_deref() == Some(ns.as_str())
                });
                let done = local.as_ref().is_some_and(|p| {
                    common::phase(p) == "Succeeded"
                        && common::app_statuses(p).iter().all(|c| {
                            c.state
                                .as_ref()
                                .and_then(|s| s.terminated.as_ref())
                                .is_some_and(|t| t.exit_code == 0)
                        })
                });
                if done {
                    succeeded_after = Some(at.elapsed());
                }
                pods_seen = local
                    .as_ref()
                    .map_or("not in /pods".into(), common::summary);
            }
        }
        rounds += 1;
        std::thread::sleep(Duration::from_secs(1).min(OUTAGE.saturating_sub(paused.elapsed())));
    }
    let (Some(exited_after), Some(succeeded_after)) = (exited_after, succeeded_after) else {
        panic!(
            "during the outage, the finisher's container was neither exited 0 nor removed in \
             the runtime (last seen {runtime_seen}) or nodelet's /pods did not show it Succeeded (last \
             seen {pods_seen})\n{}",
            node.log_tail(60)
        )
    };
    eprintln!(
        "during the outage ({rounds} checks): nodelet alive and healthy, 3 pods' containers \
         running; the finisher's container exited 0 (or was removed) in the runtime \
         {exited_after:?}, and the pod was Succeeded (exit code 0) in nodelet's /pods \
         {succeeded_after:?} after its exit marker"
    );
    let resumed = paused.resume().expect("resuming the control plane");
    eprintln!(
        "control plane resumed after {:?} paused; /readyz ok {:?} after SIGCONT; restarted: {:?}",
        resumed.paused_for,
        resumed.ready_after,
        resumed
            .restarted
            .iter()
            .map(|(name, old, new, _)| format!("{name} {old} -> {new}"))
            .collect::<Vec<_>>()
    );

    // The catch-up.
    let resumed_wall =
        jiff::Timestamp::try_from(resumed.resumed_at_wall).expect("a wall-clock time");
    let since = resumed.resumed_at;
    let (mut lease_after, mut node_after, mut finisher_after, mut pods_after) =
        (None, None, None, None);
    let mut saw_unknown = false;
    let later_than = |time: &Value| {
        time.as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .is_some_and(|t| t > resumed_wall)
    };
    loop {
        let now = since.elapsed();
        let mut missing = Vec::new();
        if lease_after.is_none() {
            match lease_renew_time(&node) {
                Some(t) if t > resumed_wall => lease_after = Some(now),
                other => missing.push(format!("lease renewTime {other:?}")),
            }
        }
        if node_after.is_none() {
            let object = node.node_object().unwrap_or_default();
            let ready = node_condition(&object, "Ready")
                .cloned()
                .unwrap_or_default();
            saw_unknown |= ready["status"] == "Unknown";
            let written = later_than(&ready["lastHeartbeatTime"]);
            let settled = lease_after.is_some_and(|l| now >= l + CONTROLLER_SETTLE);
            if ready["status"] == "True" && (written || settled) {
                node_after = Some(now);
            } else {
                missing.push(format!("Node Ready {ready}"));
            }
        }
        if finisher_after.is_none() || pods_after.is_none() {
            let text = node
                .cluster
                .kubectl(&["get", "pods", "-n", &ns, "-o", "json"])
                .unwrap_or_default();
            let list: Value = serde_json::from_str(&text).unwrap_or_default();
            let items = list["items"].as_array().cloned().unwrap_or_default();
            let find = |pod: &str| items.iter().find(|p| p["metadata"]["name"] == pod);
            if finisher_after.is_none() {
                let done = find("finisher").is_some_and(|p| {
                    let c = &p["status"]["containerStatuses"][0];
                    p["status"]["phase"] == "Succeeded"
                        && c["state"]["terminated"]["exitCode"] == 0
                        && status_container_ids(p)[0].1 == finisher_id
                });
                if done {
                    finisher_after = Some(now);
                } else {
                    missing.push(find("finisher").map_or("no finisher".into(), pod_summary));
                }
            }
            if pods_after.is_none() {
                let unready: Vec<String> = before
                    .iter()
                    .filter_map(|(pod, uid, ids)| {
                        let Some(p) = find(pod) else {
                            return Some(format!("no {pod}"));
                        };
                        let same = p["metadata"]["uid"] == uid.as_str()
                            && &status_container_ids(p) == ids
                            && p["status"]["containerStatuses"]
                                .as_array()
                                .is_some_and(|cs| cs.iter().all(|c| c["restartCount"] == 0));
                        (!(same && pod_is_ready(p))).then(|| pod_summary(p))
                    })
                    .collect();
                if unready.is_empty() {
                    pods_after = Some(now);
                } else {
                    missing.extend(unready);
                }
            }
        }
        if missing.is_empty() {
            break;
        }
        let last = missing.join("; ");
        assert!(
            now < CATCH_UP,
            "{CATCH_UP:?} after the resume, not caught up: {last}\n\
             (lease {lease_after:?}, node {node_after:?}, finisher {finisher_after:?}, pods \
             {pods_after:?})\n--- nodelet log since the pause ---\n{}",
            log_since(&node, log_offset, 80)
        );
        alive("after the resume");
        std::thread::sleep(POLL);
    }
    let object = node.node_object().expect("the Node");
    let ready = node_condition(&object, "Ready")
        .cloned()
        .unwrap_or_default();
    assert_eq!(ready["status"], "True", "{ready}");
    let taints: Vec<String> = object["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap_or(""),
                t["effect"].as_str().unwrap_or("")
            )
        })
        .collect();
    eprintln!(
        "after the resume: lease renewed past it {:?}, Node Ready {:?} (Unknown seen: \
         {saw_unknown}; Ready {ready}; taints {taints:?}), finisher Succeeded in the API {:?}, \
         steady pods Ready {:?} after SIGCONT",
        lease_after.unwrap(),
        node_after.unwrap(),
        finisher_after.unwrap(),
        pods_after.unwrap(),
    );
    alive("after the catch-up");
    steady_running("after the catch-up");

    // Mirror pods: the kept one is the same object (never deleted and made again), the
    // removed pod's is gone, the new pod has one; no pod of this node is duplicated.
    let mirror_state = || -> Result<(), String> {
        let kept = node
            .get("pod", &node.pod_name(statics[0]), Some("default"))
            .ok_or("no mirror of the kept static pod")?;
        if kept["metadata"]["uid"] != mirrors_before[0].as_str() || !pod_is_ready(&kept) {
            return Err(format!(
                "the kept mirror pod was {}, is {}",
                mirrors_before[0],
                pod_summary(&kept)
            ));
        }
        if let Some(gone) = node.get("pod", &node.pod_name(statics[1]), Some("default")) {
            return Err(format!(
                "the removed static pod's mirror: {}",
                pod_summary(&gone)
            ));
        }
        let new = node
            .get("pod", &node.pod_name(statics[2]), Some("default"))
            .ok_or("no mirror of the static pod added during the outage")?;
        if pod_is_ready(&new) {
            Ok(())
        } else {
            Err(pod_summary(&new))
        }
    };
    node.wait("the mirror pods", CATCH_UP, mirror_state);
    let seen = node.pods_on_node();
    assert_eq!(
        seen.len(),
        4 + 2,
        "the node's pods after the outage (4 API pods and 2 mirror pods): {seen:?}"
    );

    // No event storm: the events this node wrote since the resume, counted with their
    // repeats, stay few (what is there is printed).
    let events: Value = serde_json::from_str(&node.kubectl(&["get", "events", "-A", "-o", "json"]))
        .expect("an EventList");
    let since_resume: Vec<(String, i64)> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            e["source"]["host"] == name.as_str()
                || e["reportingInstance"] == name.as_str()
                || e["involvedObject"]["name"] == name.as_str()
        })
        // Written after the resume (the server's creation time): events of the outage
        // delivered late count too.
        .filter(|e| later_than(&e["metadata"]["creationTimestamp"]))
        .map(|e| {
            (
                format!(
                    "{} {}",
                    e["reason"].as_str().unwrap_or(""),
                    e["involvedObject"]["name"].as_str().unwrap_or("")
                ),
                e["count"].as_i64().unwrap_or(1),
            )
        })
        .collect();
    let total: i64 = since_resume.iter().map(|(_, n)| n).sum();
    eprintln!("events since the resume: {total} {since_resume:?}");
    assert!(
        total <= EVENTS_AFTER_RESUME,
        "an event storm after the resume: {total} events (at most {EVENTS_AFTER_RESUME}): \
         {since_resume:?}"
    );
    for (pod, uid, _) in &before {
        let attempts: Vec<u32> = node
            .runtime_containers(uid)
            .iter()
            .filter(|c| c.labels.get(CONTAINER_NAME).map(String::as_str) == Some("main"))
            .map(|c| c.metadata.as_ref().map_or(0, |m| m.attempt))
            .collect();
        assert_eq!(
            attempts,
            vec![0],
            "pod {pod}: one container, never restarted"
        );
    }

    // The shared cluster is whole again.
    assert_eq!(
        node.cluster
            .kubectl(&["get", "--raw", "/readyz"])
            .ok()
            .as_deref(),
        Some("ok"),
        "/readyz after the test"
    );
    let control_plane_after = node.cluster.control_plane_pids();
    assert!(
        control_plane_after.iter().all(|(_, pid)| pid.is_some()),
        "control-plane processes not running after the resume: {control_plane_after:?}"
    );
    if control_plane_after != control_plane_before {
        eprintln!(
            "NOTE: control-plane processes were restarted: {control_plane_before:?} -> \
             {control_plane_after:?}"
        );
    }
    eprintln!(
        "nodelet's warnings and errors since the pause:\n{}",
        log_problems(&node, log_offset)
    );
    eprintln!("test done in {:?}", test_started.elapsed());
}

/// This node's Lease's `renewTime`, `None` when the Lease cannot be read.
fn lease_renew_time(node: &ClusterNode) -> Option<jiff::Timestamp> {
    node.get("lease", &node.name, Some("kube-node-lease"))?["spec"]["renewTime"]
        .as_str()?
        .parse()
        .ok()
}

/// The pids of the nodelet processes running for node `name` (by their command line).
fn nodelet_pids(name: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
            args.first()
                .is_some_and(|p| p.ends_with(b"/nodelet") || *p == b"nodelet")
                && args
                    .windows(2)
                    .any(|w| w[0] == b"--node-name" && w[1] == name.as_bytes())
        })
        .collect()
}

/// The last `lines` lines of nodelet's log after byte `offset`.
fn log_since(node: &ClusterNode, offset: usize, lines: usize) -> String {
    let text = std::fs::read_to_string(node.log_file()).unwrap_or_default();
    let all: Vec<&str> = text.get(offset..).unwrap_or("").lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// nodelet's WARN and ERROR lines after byte `offset`, grouped (digits ignored), each with
/// its count and first occurrence.
fn log_problems(node: &ClusterNode, offset: usize) -> String {
    let text = std::fs::read_to_string(node.log_file()).unwrap_or_default();
    let mut groups: Vec<(String, usize, String)> = Vec::new();
    for line in text.get(offset..).unwrap_or("").lines() {
        if !(line.contains(" WARN ") || line.contains(" ERROR ")) {
            continue;
        }
        // Without the timestamp, and digits (durations, ids) folded.
        let body = line.split_once(' ').map_or(line, |(_, rest)| rest).trim();
        let key: String = body
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, count, _)) => *count += 1,
            None => groups.push((key, 1, line.to_owned())),
        }
    }
    groups
        .iter()
        .map(|(_, count, first)| format!("{count:>4} x {first}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How long the at-rest window lasts (the issue's 2 minutes).
const REST_WINDOW: Duration = Duration::from_secs(120);

/// At rest, with 30 pods on each node for 2 minutes, the requests nodelet and the real
/// kubelet v1.37.2 (joined to the same control plane, on the reference containerd) make of
/// the API server, counted from its audit log (xtask's policy records every answered
/// request of a node): nodelet renews its lease and sends no pod status patch and at most
/// one node status patch (NS-06, ST-01). The table is printed for docs/benchmarks.md.
#[test]
fn cluster_ns_06_st_01_api_requests_at_rest_with_30_pods_nodelet_and_kubelet() {
    let Some(mut node) = ClusterNode::new("rest", "") else {
        return;
    };
    let Some(env) = test_env::kubelet::require_reference_env("the at-rest request count") else {
        return;
    };
    node.start_cluster(&[]);
    let ns = node.namespace();
    let (reference, mut kubelet) = node.join_reference_kubelet(&env, "rest");
    for (name, host) in [
        ("on-nodelet", node.name.clone()),
        ("on-kubelet", reference.clone()),
    ] {
        node.create(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": 30,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "nodeSelector": {"kubernetes.io/hostname": host},
                        "terminationGracePeriodSeconds": 1,
                        "containers": [{
                            "name": "sleep",
                            "image": env.busybox_image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
                        }],
                    },
                },
            },
        }));
    }
    node.wait("60 pods Ready", Duration::from_secs(180), || {
        let pods = node.pods_in(&ns);
        let ready = pods.iter().filter(|p| pod_is_ready(p)).count();
        if ready == 60 {
            Ok(())
        } else {
            Err(format!("{ready} of 60 Ready"))
        }
    });
    // Let the last statuses and events go out before the window.
    std::thread::sleep(Duration::from_secs(15));
    let since = jiff::Timestamp::now();
    std::thread::sleep(REST_WINDOW);
    let until = jiff::Timestamp::now();
    let count = |name: &str| {
        let requests: Vec<_> = test_env::audit::node_requests(name, &since.to_string())
            .expect("the audit log")
            .into_iter()
            .filter(|r| r.at.parse::<jiff::Timestamp>().is_ok_and(|t| t <= until))
            .collect();
        test_env::audit::count_by_kind(&requests)
    };
    let (ours, theirs) = (count(&node.name), count(&reference));
    let problems = kubelet.stop();
    let mut table = String::from("| request | nodelet | kubelet v1.37.2 |\n|---|---|---|\n");
    for kind in ours
        .keys()
        .chain(theirs.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        table.push_str(&format!(
            "| `{kind}` | {} | {} |\n",
            ours.get(kind).copied().unwrap_or(0),
            theirs.get(kind).copied().unwrap_or(0)
        ));
    }
    let total = |m: &std::collections::BTreeMap<String, usize>| m.values().sum::<usize>();
    table.push_str(&format!(
        "| all | {} | {} |\n",
        total(&ours),
        total(&theirs)
    ));
    eprintln!(
        "API requests at rest, 30 pods each, {}s:\n{table}",
        REST_WINDOW.as_secs()
    );
    assert!(
        problems.is_empty(),
        "the reference kubelet left: {problems:?}"
    );
    assert_eq!(
        ours.get("patch pods/status"),
        None,
        "pod status patches at rest:\n{table}"
    );
    assert!(
        ours.get("patch nodes/status").copied().unwrap_or(0) <= 1,
        "{table}"
    );
    let renewals = ours.get("update leases").copied().unwrap_or(0);
    assert!(
        (8..=16).contains(&renewals),
        "lease renewals: {renewals}\n{table}"
    );
}

/// ST-08: `kubectl delete pod --force --grace-period=0` removes the object at once; nodelet
/// then stops the pod's containers with the minimum grace, not the pod's 30 s (a container
/// that ignores SIGTERM is killed, exit 137, within a few seconds), and removes its
/// sandbox, volumes and directory.
#[test]
fn cluster_st_08_force_deleted_pod_is_killed_with_the_minimum_grace_and_cleaned_up() {
    let Some(mut node) = ClusterNode::new("c-force", "") else {
        return;
    };
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.namespace();
    let mut container = sleeper("stubborn");
    container["command"] = json!(["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]);
    container["volumeMounts"] = json!([{ "name": "scratch", "mountPath": "/scratch" }]);
    let mut pod = bound_pod(
        &ns,
        "forced",
        &name,
        json!([container]),
        json!([{ "name": "scratch", "emptyDir": { "medium": "Memory" } }]),
    );
    pod["spec"]["terminationGracePeriodSeconds"] = json!(30);
    node.create(&pod);
    let running = node.wait_pod_ready(&ns, "forced", Duration::from_secs(30));
    let uid = running["metadata"]["uid"].as_str().unwrap().to_owned();
    let pod_dir = node.root_dir().join("pods").join(&uid);
    assert!(pod_dir.exists());

    let deleted = Instant::now();
    node.kubectl(&[
        "delete",
        "pod",
        "forced",
        "-n",
        &ns,
        "--force",
        "--grace-period=0",
    ]);
    assert!(
        node.get("pod", "forced", Some(&ns)).is_none(),
        "the object is gone at once"
    );
    let stopped = node.wait(
        "the container to be killed",
        Duration::from_secs(20),
        || {
            let containers = node.runtime_containers(&uid);
            let running = containers
                .iter()
                .filter(|c| c.state == v1::ContainerState::ContainerRunning as i32)
                .count();
            (running == 0)
                .then(|| deleted.elapsed())
                .ok_or(format!("{running} running"))
        },
    );
    eprintln!("force delete: containers stopped {stopped:?} after the delete");
    // The pod's own grace is 30 s and the container ignores SIGTERM: stopping well before
    // that shows the override (the kubelet's minimum grace is 2 s).
    assert!(
        stopped < Duration::from_secs(15),
        "stopped after {stopped:?}, as if with the pod's 30 s grace"
    );
    node.wait(
        "the pod's sandbox, mounts and directory to go",
        Duration::from_secs(30),
        || {
            let sandboxes = node
                .runtime()
                .all_sandboxes()
                .into_iter()
                .filter(|s| s.labels.get(POD_UID).map(String::as_str) == Some(uid.as_str()))
                .filter(|s| s.state == v1::PodSandboxState::SandboxReady as i32)
                .count();
            let mounts = node
                .mounts()
                .into_iter()
                .filter(|m| m.starts_with(&pod_dir))
                .count();
            if sandboxes == 0 && mounts == 0 && !pod_dir.exists() {
                Ok(())
            } else {
                Err(format!(
                    "{sandboxes} ready sandboxes, {mounts} mounts, dir exists {}",
                    pod_dir.exists()
                ))
            }
        },
    );
}

/// `kubectl cordon` and `uncordon` of nodelet's Node: nodelet records the kubelet's Normal
/// events `NodeNotSchedulable` and `NodeSchedulable` ("Node <name> status is now: ..."),
/// within a status update period, though no status changed.
#[test]
fn cluster_node_cordon_and_uncordon_are_announced_as_the_kubelet_does() {
    let Some(mut node) = ClusterNode::new("c-cordon", "nodeStatusUpdateFrequency: 2s\n") else {
        return;
    };
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    for (command, reason) in [
        ("cordon", "NodeNotSchedulable"),
        ("uncordon", "NodeSchedulable"),
    ] {
        node.kubectl(&[command, &name]);
        let message = format!("Node {name} status is now: {reason}");
        node.wait(
            &format!("the {reason} event"),
            Duration::from_secs(30),
            || {
                let text = node.kubectl(&[
                    "get",
                    "events",
                    "-n",
                    "default",
                    "--field-selector",
                    &format!("involvedObject.kind=Node,involvedObject.name={name},reason={reason}"),
                    "-o",
                    "json",
                ]);
                let list: Value = serde_json::from_str(&text).expect("an EventList");
                let found = list["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|e| e["message"] == message.as_str() && e["type"] == "Normal");
                found.then_some(()).ok_or(text)
            },
        );
    }
}
