//! The local control plane of `cargo xtask cluster up`, and the real kubelet joined to it:
//! the ground cluster mode is tested on.
//!
//! - the API server is ready, the controller-manager made the `default` ServiceAccount, and
//!   everything says v1.37.2;
//! - the Node authorizer confines a node identity to its own Node;
//! - the real kubelet v1.37.2 joins with an identity signed through a
//!   CertificateSigningRequest, its node turns Ready, and a 2-replica Deployment created
//!   with kubectl runs on it.

use std::time::{Duration, Instant};

use test_env::{Cluster, Kubelet, require_reference_env, unique_name};

const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Polls `check` every 250 ms until it gives `Some`, or panics naming `what`.
fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "no {what} after {timeout:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn cluster_is_ready_with_its_default_service_account_at_v1_37_2() {
    let Some(cluster) = Cluster::require("the cluster smoke test") else {
        return;
    };
    assert_eq!(cluster.kubectl(&["get", "--raw", "/readyz"]).unwrap(), "ok");
    let account = cluster
        .kubectl(&["get", "serviceaccount", "default", "-o", "name"])
        .unwrap();
    assert_eq!(account, "serviceaccount/default");
    let version: serde_json::Value =
        serde_json::from_str(&cluster.kubectl(&["version", "-o", "json"]).unwrap()).unwrap();
    assert_eq!(
        version["clientVersion"]["gitVersion"],
        test_env::KUBE_VERSION
    );
    assert_eq!(
        version["serverVersion"]["gitVersion"],
        test_env::KUBE_VERSION
    );
    // The root CA publisher has run: pods can mount their service-account token.
    cluster
        .kubectl(&["get", "configmap", "kube-root-ca.crt", "-n", "default"])
        .unwrap();
}

#[test]
fn a_node_identity_reads_only_its_own_node() {
    let Some(cluster) = Cluster::require("the Node authorizer test") else {
        return;
    };
    let name = unique_name("authz");
    let kubeconfig = cluster.node_kubeconfig(&name).unwrap();
    let mut as_node = cluster.kubectl_command();
    as_node.arg("--kubeconfig").arg(&kubeconfig).args([
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    let out = as_node.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("system:node:{name}")
    );
    let mut list = cluster.kubectl_command();
    list.arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "nodes"]);
    let out = list.output().unwrap();
    assert!(!out.status.success(), "a node may not list all nodes");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("can only read its own")
            || String::from_utf8_lossy(&out.stderr).contains("cannot read all nodes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deletes the namespace and the Node when the test ends, whatever happened.
struct Cleanup<'a> {
    cluster: &'a Cluster,
    namespace: String,
    node: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self
            .cluster
            .kubectl(&["delete", "namespace", &self.namespace, "--wait=false"]);
        let _ = self
            .cluster
            .kubectl(&["delete", "node", &self.node, "--wait=false"]);
    }
}

#[test]
fn real_kubelet_joins_the_cluster_turns_ready_and_runs_a_two_replica_deployment() {
    let Some(cluster) = Cluster::require("the joined kubelet test") else {
        return;
    };
    let Some(env) = require_reference_env("the joined kubelet test") else {
        return;
    };
    let node = unique_name("kubelet-joined");
    let namespace = unique_name("joined");
    let _cleanup = Cleanup {
        cluster: &cluster,
        namespace: namespace.clone(),
        node: node.clone(),
    };
    let kubeconfig = cluster.node_kubeconfig(&node).unwrap();
    let mut kubelet = Kubelet::builder(&env, "joined")
        .node_name(&node)
        .kubeconfig(&kubeconfig)
        .client_ca_file(&cluster.ca_file())
        .start()
        .unwrap();

    let ready = wait_for("Ready node", READY_TIMEOUT, || {
        let status = cluster
            .kubectl(&[
                "get",
                "node",
                &node,
                "-o",
                r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
            ])
            .ok()?;
        (status == "True").then_some(status)
    });
    assert_eq!(ready, "True");
    let kubelet_version = cluster
        .kubectl(&[
            "get",
            "node",
            &node,
            "-o",
            "jsonpath={.status.nodeInfo.kubeletVersion}",
        ])
        .unwrap();
    assert_eq!(kubelet_version, test_env::KUBE_VERSION);

    cluster
        .kubectl(&["create", "namespace", &namespace])
        .unwrap();
    let deployment = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "web", "namespace": namespace },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": {
                    // Other tests' nodes may be in the cluster too.
                    "nodeSelector": { "kubernetes.io/hostname": node },
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{
                        "name": "web",
                        "image": env.busybox_image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
                    }],
                },
            },
        },
    });
    cluster
        .kubectl_with_input(&["apply", "-f", "-"], Some(&deployment.to_string()))
        .unwrap();
    cluster
        .kubectl(&[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            &namespace,
            "--timeout=90s",
        ])
        .unwrap();
    let pods = cluster
        .kubectl(&[
            "get",
            "pods",
            "-n",
            &namespace,
            "-o",
            r#"jsonpath={range .items[*]}{.spec.nodeName} {.status.phase} {.status.containerStatuses[0].ready}{"\n"}{end}"#,
        ])
        .unwrap();
    let lines: Vec<&str> = pods.lines().collect();
    assert_eq!(lines.len(), 2, "{pods}");
    for line in lines {
        assert_eq!(line, format!("{node} Running true"), "{pods}");
    }
    // The pods' statuses come from the kubelet, as the API server sees them.
    let on_node = kubelet.pods_json().unwrap();
    let running = on_node["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pod| pod["metadata"]["namespace"] == namespace.as_str())
        .count();
    assert_eq!(running, 2, "the kubelet's own /pods: {on_node}");

    cluster
        .kubectl(&["delete", "namespace", &namespace, "--timeout=60s"])
        .unwrap();
    let problems = kubelet.stop();
    assert!(problems.is_empty(), "the kubelet left: {problems:?}");
}
