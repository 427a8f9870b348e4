//! The reporter against the real control plane of `cargo xtask cluster up` (Kubernetes
//! v1.37.2 with the Node authorizer, NodeRestriction admission and the node lifecycle
//! controller), each test with its own node identity (`system:node:<name>`) and node name.
//! Observed from outside with the admin's kubectl.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use status_reporter::{Error, HostInfo, NodeConfig, NodeFacts, NodeStatusReporter, try_register};
use support::*;
use test_env::{Cluster, unique_name, with_cleanup};
use tokio::sync::watch;

const KUBELET_VERSION: &str = "v1.37.2";

fn config(name: &str) -> NodeConfig {
    let mut config = NodeConfig::new(name);
    config.kubelet_version = KUBELET_VERSION.to_owned();
    config
}

async fn node_json(cluster: &Cluster, name: &str) -> Value {
    let text = kubectl(cluster, &["get", "node", name, "-o", "json"])
        .await
        .expect("the node");
    serde_json::from_str(&text).expect("node JSON")
}

async fn lease_json(cluster: &Cluster, name: &str) -> Option<Value> {
    get_json(cluster, &["lease", "-n", "kube-node-lease", name]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ns_01_ns_02_ns_04_ns_05_ns_07_ns_08_registers_a_ready_node_with_the_kubelets_fields()
 {
    let Some(cluster) = Cluster::require("node registration") else {
        return;
    };
    let name = unique_name("sr-reg");
    let client = node_client(&cluster, &name).await;
    let scenario = async {
        let mut config = config(&name);
        config
            .node_labels
            .insert("node.kubernetes.io/pool".into(), "blue".into());
        config
            .node_labels
            .insert("example.com/team".into(), "nodelet".into());
        config.register_with_taints.push(Taint {
            key: "example.com/dedicated".into(),
            value: Some("tests".into()),
            effect: "NoSchedule".into(),
            time_added: None,
        });
        let host = HostInfo::read().expect("host info");
        let (_facts, facts_rx) = watch::channel(ready_facts(60));

        let started = Instant::now();
        let reporter = NodeStatusReporter::start(client, config, host.clone(), facts_rx)
            .expect("the reporter starts");
        eventually(
            "kubectl shows the node Ready",
            Duration::from_secs(5),
            || async { (ready_status(&cluster, &name).await == "True").then_some(()) },
        )
        .await;
        let ready_after = started.elapsed();
        eprintln!("node {name} Ready after {ready_after:?}");
        let table = kubectl(&cluster, &["get", "node", &name, "--no-headers"])
            .await
            .unwrap();
        assert!(table.split_whitespace().nth(1) == Some("Ready"), "{table}");

        let node = node_json(&cluster, &name).await;
        let labels = &node["metadata"]["labels"];
        assert_eq!(labels["kubernetes.io/hostname"], name.as_str());
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["beta.kubernetes.io/os"], "linux");
        assert_eq!(labels["kubernetes.io/arch"], status_reporter::go_arch());
        assert_eq!(
            labels["beta.kubernetes.io/arch"],
            status_reporter::go_arch()
        );
        assert_eq!(labels["node.kubernetes.io/pool"], "blue");
        assert_eq!(labels["example.com/team"], "nodelet");
        assert_eq!(
            node["metadata"]["annotations"]["volumes.kubernetes.io/controller-managed-attach-detach"],
            "true"
        );
        let taints = node["spec"]["taints"].as_array().expect("taints");
        assert!(
            taints.iter().any(|t| t["key"] == "example.com/dedicated"
                && t["value"] == "tests"
                && t["effect"] == "NoSchedule"),
            "{taints:?}"
        );

        let status = &node["status"];
        let addresses = status["addresses"].as_array().expect("addresses");
        assert_eq!(addresses.len(), 2, "{addresses:?}");
        assert_eq!(addresses[0]["type"], "InternalIP");
        let ip: std::net::IpAddr = addresses[0]["address"].as_str().unwrap().parse().unwrap();
        assert!(!ip.is_loopback(), "{ip}");
        assert_eq!(addresses[1]["type"], "Hostname");
        assert_eq!(addresses[1]["address"], name.as_str());

        for (key, capacity, allocatable) in [
            ("cpu", "2", "1900m"),
            ("memory", "8Gi", "7Gi"),
            ("pods", "110", "110"),
            ("ephemeral-storage", "50Gi", "50Gi"),
            ("hugepages-2Mi", "0", "0"),
        ] {
            assert_eq!(status["capacity"][key], capacity, "capacity {key}");
            assert_eq!(status["allocatable"][key], allocatable, "allocatable {key}");
        }

        let info = &status["nodeInfo"];
        assert_eq!(info["machineID"], host.machine_id.as_str());
        assert_eq!(info["systemUUID"], host.system_uuid.as_str());
        assert_eq!(info["bootID"], host.boot_id.as_str());
        assert_eq!(info["kernelVersion"], host.kernel_version.as_str());
        assert_eq!(info["osImage"], host.os_image.as_str());
        assert_eq!(info["containerRuntimeVersion"], "containerd://1.6.20");
        assert_eq!(info["kubeletVersion"], KUBELET_VERSION);
        assert_eq!(info["operatingSystem"], "linux");
        assert_eq!(info["architecture"], status_reporter::go_arch());
        assert!(!host.machine_id.is_empty() && !host.boot_id.is_empty());
        assert_eq!(status["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);

        let images = status["images"].as_array().expect("images");
        assert_eq!(images.len(), 50, "capped at nodeStatusMaxImages");
        let sizes: Vec<i64> = images
            .iter()
            .map(|i| i["sizeBytes"].as_i64().unwrap())
            .collect();
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert_eq!(images[0]["names"].as_array().unwrap().len(), 2);

        let conditions = status["conditions"].as_array().expect("conditions");
        let summary: Vec<(&str, &str, &str)> = conditions
            .iter()
            .map(|c| {
                (
                    c["type"].as_str().unwrap(),
                    c["status"].as_str().unwrap(),
                    c["reason"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID"),
                ("Ready", "True", "KubeletReady"),
            ]
        );
        assert_eq!(conditions[3]["message"], "kubelet is posting ready status");

        assert_eq!(
            reporter.node().and_then(|n| n.metadata.name).as_deref(),
            Some(name.as_str())
        );
        reporter.shutdown().await;
    };
    with_cleanup(scenario, delete_node(&cluster, &name)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ns_10_lease_is_owned_by_the_node_and_renewed() {
    let Some(cluster) = Cluster::require("the node lease") else {
        return;
    };
    let name = unique_name("sr-lease");
    let (client, requests) = counting_node_client(&cluster, &name).await;
    let scenario = async {
        let (_facts, facts_rx) = watch::channel(ready_facts(0));
        let reporter =
            NodeStatusReporter::start(client, config(&name), HostInfo::read().unwrap(), facts_rx)
                .expect("the reporter starts");
        let node = reporter.wait_for_node().await.expect("the node");
        let uid = node.metadata.uid.expect("a uid");

        let lease = eventually("the lease exists", Duration::from_secs(5), || async {
            lease_json(&cluster, &name).await
        })
        .await;
        let spec = &lease["spec"];
        assert_eq!(spec["holderIdentity"], name.as_str());
        assert_eq!(spec["leaseDurationSeconds"], 40);
        let owners = lease["metadata"]["ownerReferences"]
            .as_array()
            .expect("owners");
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0]["apiVersion"], "v1");
        assert_eq!(owners[0]["kind"], "Node");
        assert_eq!(owners[0]["name"], name.as_str());
        assert_eq!(owners[0]["uid"], uid.as_str());
        let first = spec["renewTime"].as_str().expect("renewTime").to_owned();

        // Renewed every 10 s (a quarter of 40 s, plus up to 4 % jitter).
        let renewed = eventually("the lease is renewed", Duration::from_secs(13), || async {
            let lease = lease_json(&cluster, &name).await?;
            let renew = lease["spec"]["renewTime"].as_str()?.to_owned();
            (renew != first).then_some(renew)
        })
        .await;
        let parse = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
        let gap = parse(&renewed).duration_since(parse(&first));
        assert!(
            gap >= jiff::SignedDuration::from_secs(9) && gap <= jiff::SignedDuration::from_secs(12),
            "renewed after {gap:?}"
        );
        // Renewals are PUTs of the copy last written: the lease is read only to create it (once,
        // or twice when its first round found no Node yet), never to renew it.
        let lease_path = format!("/namespaces/kube-node-lease/leases/{name}");
        assert!(
            requests.count("PUT", &lease_path) >= 1,
            "{:?}",
            requests.all()
        );
        assert!(
            requests.count("GET", &lease_path) <= 2,
            "{:?}",
            requests.all()
        );
        reporter.shutdown().await;
    };
    with_cleanup(scenario, delete_node(&cluster, &name)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_deleted_node_registers_again() {
    let Some(cluster) = Cluster::require("re-registration") else {
        return;
    };
    let name = unique_name("sr-again");
    let client = node_client(&cluster, &name).await;
    let scenario = async {
        let (_facts, facts_rx) = watch::channel(ready_facts(0));
        let reporter =
            NodeStatusReporter::start(client, config(&name), HostInfo::read().unwrap(), facts_rx)
                .expect("the reporter starts");
        eventually("the node is Ready", Duration::from_secs(5), || async {
            (ready_status(&cluster, &name).await == "True").then_some(())
        })
        .await;
        let first_uid = node_field(&cluster, &name, "{.metadata.uid}").await;

        kubectl(&cluster, &["delete", "node", &name])
            .await
            .expect("deleting the node");
        let deleted = Instant::now();
        let second_uid = eventually(
            "the node is registered again",
            Duration::from_secs(5),
            || async {
                let uid = node_field(&cluster, &name, "{.metadata.uid}").await;
                (!uid.is_empty() && uid != first_uid).then_some(uid)
            },
        )
        .await;
        eventually("the new node is Ready", Duration::from_secs(5), || async {
            (ready_status(&cluster, &name).await == "True").then_some(())
        })
        .await;
        eprintln!(
            "node {name} registered again and Ready {:?} after its deletion",
            deleted.elapsed()
        );
        // The lease follows the new Node (owner reference moved, or the lease recreated).
        eventually(
            "the lease is owned by the new node",
            Duration::from_secs(15),
            || async {
                let lease = lease_json(&cluster, &name).await?;
                (lease["metadata"]["ownerReferences"][0]["uid"] == second_uid.as_str())
                    .then_some(())
            },
        )
        .await;
        reporter.shutdown().await;
    };
    with_cleanup(scenario, delete_node(&cluster, &name)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_register_node_false_only_updates_an_existing_node() {
    let Some(cluster) = Cluster::require("registerNode: false") else {
        return;
    };
    let name = unique_name("sr-noreg");
    let (client, requests) = counting_node_client(&cluster, &name).await;
    let scenario = async {
        let mut config = config(&name);
        config.register_node = false;
        config.node_status_update_frequency = Duration::from_secs(1);
        let (_facts, facts_rx) = watch::channel(ready_facts(0));
        let reporter =
            NodeStatusReporter::start(client, config, HostInfo::read().unwrap(), facts_rx)
                .expect("the reporter starts");
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(node_field(&cluster, &name, "{.metadata.name}").await, "");
        assert_eq!(
            requests.count("POST", "/api/v1/nodes"),
            0,
            "{:?}",
            requests.all()
        );
        assert!(
            lease_json(&cluster, &name).await.is_none(),
            "no lease without the node"
        );

        // Someone else registers the node: the reporter reports its status.
        let bare = serde_json::json!({
            "apiVersion": "v1", "kind": "Node", "metadata": { "name": name },
        });
        kubectl_with_input(&cluster, &["create", "-f", "-"], &bare.to_string())
            .await
            .expect("creating the node as the admin");
        eventually(
            "the existing node turns Ready",
            Duration::from_secs(5),
            || async { (ready_status(&cluster, &name).await == "True").then_some(()) },
        )
        .await;
        let node = node_json(&cluster, &name).await;
        assert_eq!(
            node["status"]["nodeInfo"]["kubeletVersion"],
            KUBELET_VERSION
        );
        assert_eq!(
            node["metadata"]["labels"]["kubernetes.io/os"], "linux",
            "required labels are put back"
        );
        eventually("the lease exists", Duration::from_secs(15), || async {
            lease_json(&cluster, &name).await
        })
        .await;
        assert_eq!(
            requests.count("POST", "/api/v1/nodes"),
            0,
            "{:?}",
            requests.all()
        );
        reporter.shutdown().await;
    };
    with_cleanup(scenario, delete_node(&cluster, &name)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_invalid_node_label_is_refused_with_a_clear_error() {
    let Some(cluster) = Cluster::require("node label checks") else {
        return;
    };
    let name = unique_name("sr-label");
    let (client, requests) = counting_node_client(&cluster, &name).await;
    let scenario = async {
        for label in [
            "node-restriction.kubernetes.io/trusted",
            "node-role.kubernetes.io/control-plane",
        ] {
            let mut config = config(&name);
            config.node_labels.insert(label.into(), "true".into());
            let (_facts, facts_rx) = watch::channel(NodeFacts::default());
            let err =
                NodeStatusReporter::start(client.clone(), config, HostInfo::default(), facts_rx)
                    .expect_err("a forbidden label is refused");
            assert!(matches!(err, Error::ForbiddenNodeLabels { .. }), "{err}");
            let message = err.to_string();
            assert!(
                message.contains(label) && message.contains("NodeRestriction"),
                "{message}"
            );
        }
        assert!(
            requests.all().is_empty(),
            "refused before any request: {:?}",
            requests.all()
        );

        // The check agrees with the API server: the same Node, sent anyway, is forbidden.
        let node = Node {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(
                    [(
                        "node-restriction.kubernetes.io/trusted".to_owned(),
                        "true".to_owned(),
                    )]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            ..Node::default()
        };
        let refused = try_register(&kube::Api::all(client.clone()), &node)
            .await
            .expect_err("NodeRestriction refuses the label");
        assert!(refused.is_api_status(403), "{refused}");
        assert!(
            refused
                .to_string()
                .contains("is not allowed to set the following labels"),
            "{refused}"
        );
        assert_eq!(node_field(&cluster, &name, "{.metadata.name}").await, "");
    };
    with_cleanup(scenario, delete_node(&cluster, &name)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ns_06_no_status_patch_at_rest() {
    let Some(cluster) = Cluster::require("node status cadence") else {
        return;
    };
    let name = unique_name("sr-rest");
    let (client, requests) = counting_node_client(&cluster, &name).await;
    let scenario = async {
        let mut config = config(&name);
        // Computed every second, reported every 5 minutes when nothing changes.
        config.node_status_update_frequency = Duration::from_secs(1);
        let (facts, facts_rx) = watch::channel(ready_facts(3));
        let reporter =
            NodeStatusReporter::start(client, config, HostInfo::read().unwrap(), facts_rx)
                .expect("the reporter starts");
        eventually("the node is Ready", Duration::from_secs(5), || async {
            (ready_status(&cluster, &name).await == "True").then_some(())
        })
        .await;
        // Let the sync right after registration happen.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let status_path = format!("/api/v1/nodes/{name}/status");
        let node_path = format!("/api/v1/nodes/{name}");
        let patches = requests.count("PATCH", &status_path);
        let gets = requests.count("GET", &node_path);

        // At rest: a dozen syncs, no request about the node.
        tokio::time::sleep(Duration::from_secs(12)).await;
        assert_eq!(
            requests.count("PATCH", &status_path),
            patches,
            "{:?}",
            requests.all()
        );
        assert_eq!(
            requests.count("GET", &node_path),
            gets,
            "{:?}",
            requests.all()
        );
        let renewals = requests.count("PUT", &format!("/leases/{name}"));
        assert!(
            (1..=2).contains(&renewals),
            "lease renewals in ~14 s: {renewals}"
        );

        // A change is sent at the next sync.
        facts.send_modify(|f| f.pressure.memory = true);
        let changed_at = Instant::now();
        eventually(
            "MemoryPressure turns True",
            Duration::from_secs(3),
            || async {
                let status = node_field(
                    &cluster,
                    &name,
                    "{.status.conditions[?(@.type==\"MemoryPressure\")].status}",
                )
                .await;
                (status == "True").then_some(())
            },
        )
        .await;
        eprintln!(
            "memory pressure reported {:?} after the change",
            changed_at.elapsed()
        );
        assert_eq!(
            requests.count("PATCH", &status_path),
            patches + 1,
            "{:?}",
            requests.all()
        );

        reporter.shutdown().await;
        let after = requests.all().len();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            requests.all().len(),
            after,
            "nothing is sent after shutdown"
        );
    };
    with_cleanup(scenario, delete_node(&cluster, &name)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ns_03_existing_node_is_adopted_and_reconciled() {
    let Some(cluster) = Cluster::require("adopting an existing node") else {
        return;
    };
    let name = unique_name("sr-adopt");
    let client = node_client(&cluster, &name).await;
    let scenario = async {
        let existing = serde_json::json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {
                "name": name,
                "labels": { "kubernetes.io/hostname": "stale", "example.com/kept": "yes" },
            },
        });
        kubectl_with_input(&cluster, &["create", "-f", "-"], &existing.to_string())
            .await
            .expect("creating the node as the admin");
        let uid = node_field(&cluster, &name, "{.metadata.uid}").await;
        let (_facts, facts_rx) = watch::channel(ready_facts(0));
        let reporter =
            NodeStatusReporter::start(client, config(&name), HostInfo::read().unwrap(), facts_rx)
                .expect("the reporter starts");
        eventually(
            "the adopted node is Ready",
            Duration::from_secs(5),
            || async { (ready_status(&cluster, &name).await == "True").then_some(()) },
        )
        .await;
        let node = node_json(&cluster, &name).await;
        assert_eq!(node["metadata"]["uid"], uid.as_str(), "the same Node");
        let labels = &node["metadata"]["labels"];
        assert_eq!(
            labels["kubernetes.io/hostname"],
            name.as_str(),
            "default labels reconciled"
        );
        assert_eq!(labels["beta.kubernetes.io/os"], "linux");
        assert_eq!(labels["example.com/kept"], "yes");
        assert_eq!(
            node["metadata"]["annotations"]["volumes.kubernetes.io/controller-managed-attach-detach"],
            "true"
        );
        assert_eq!(node["status"]["capacity"]["pods"], "110");
        reporter.shutdown().await;
    };
    with_cleanup(scenario, delete_node(&cluster, &name)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ns_11_starting_node_turns_ready_as_soon_as_the_runtime_is() {
    let Some(cluster) = Cluster::require("fast start-up status") else {
        return;
    };
    let name = unique_name("sr-fast");
    let client = node_client(&cluster, &name).await;
    let scenario = async {
        // Capacity known, runtime not checked yet: the kubelet's state at start-up.
        let mut starting = ready_facts(0);
        starting.readiness = status_reporter::NodeReadiness::default();
        let (facts, facts_rx) = watch::channel(starting);
        let reporter =
            NodeStatusReporter::start(client, config(&name), HostInfo::read().unwrap(), facts_rx)
                .expect("the reporter starts");
        let message = eventually(
            "the node registers NotReady",
            Duration::from_secs(5),
            || async {
                let status = ready_status(&cluster, &name).await;
                (status == "False").then_some(())?;
                Some(
                    node_field(
                        &cluster,
                        &name,
                        "{.status.conditions[?(@.type==\"Ready\")].message}",
                    )
                    .await,
                )
            },
        )
        .await;
        assert_eq!(
            message,
            "[container runtime status check may not have completed yet, network state unknown]"
        );
        let reason = node_field(
            &cluster,
            &name,
            "{.status.conditions[?(@.type==\"Ready\")].reason}",
        )
        .await;
        assert_eq!(reason, "KubeletNotReady");

        // The runtime answers: Ready well before the 10 s period.
        facts.send_modify(|f| f.readiness = status_reporter::NodeReadiness::ready());
        let changed = Instant::now();
        eventually("the node turns Ready", Duration::from_secs(3), || async {
            (ready_status(&cluster, &name).await == "True").then_some(())
        })
        .await;
        eprintln!(
            "node {name} Ready {:?} after the runtime was",
            changed.elapsed()
        );
        reporter.shutdown().await;
    };
    with_cleanup(scenario, delete_node(&cluster, &name)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ns_10_lease_conflicts_and_deletions_are_recovered() {
    let Some(cluster) = Cluster::require("lease recovery") else {
        return;
    };
    let name = unique_name("sr-lease-rec");
    let (client, requests) = counting_node_client(&cluster, &name).await;
    let scenario = async {
        let mut config = config(&name);
        // Renewed every second.
        config.node_lease_duration_seconds = 4;
        let (_facts, facts_rx) = watch::channel(ready_facts(0));
        let reporter =
            NodeStatusReporter::start(client, config, HostInfo::read().unwrap(), facts_rx)
                .expect("the reporter starts");
        let renew_time = || async {
            let lease = lease_json(&cluster, &name).await?;
            lease["spec"]["renewTime"].as_str().map(str::to_owned)
        };
        let first = eventually("the lease exists", Duration::from_secs(5), renew_time).await;
        let lease_path = format!("/leases/{name}");

        // Someone else writes the lease: the next renewal conflicts, reads it and renews it.
        let gets = requests.count("GET", &lease_path);
        kubectl(
            &cluster,
            &[
                "annotate",
                "lease",
                "-n",
                "kube-node-lease",
                &name,
                "example.com/touched=yes",
            ],
        )
        .await
        .expect("annotating the lease");
        eventually(
            "the lease is renewed after the conflict",
            Duration::from_secs(5),
            || async {
                let renewed = renew_time().await?;
                (renewed != first && requests.count("GET", &lease_path) > gets).then_some(())
            },
        )
        .await;
        let lease = lease_json(&cluster, &name).await.expect("the lease");
        assert_eq!(
            lease["metadata"]["annotations"]["example.com/touched"], "yes",
            "the other writer's change is kept"
        );
        assert_eq!(lease["spec"]["holderIdentity"], name.as_str());

        // The lease is deleted: it is created again.
        let uid = lease["metadata"]["uid"].as_str().unwrap().to_owned();
        kubectl(
            &cluster,
            &["delete", "lease", "-n", "kube-node-lease", &name],
        )
        .await
        .expect("deleting the lease");
        eventually(
            "the lease is created again",
            Duration::from_secs(10),
            || async {
                let lease = lease_json(&cluster, &name).await?;
                (lease["metadata"]["uid"] != uid.as_str()).then_some(())
            },
        )
        .await;
        reporter.shutdown().await;
    };
    with_cleanup(scenario, delete_node(&cluster, &name)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_unchanged_status_is_reported_each_report_period() {
    let Some(cluster) = Cluster::require("node status report period") else {
        return;
    };
    let name = unique_name("sr-period");
    let (client, requests) = counting_node_client(&cluster, &name).await;
    let scenario = async {
        let mut config = config(&name);
        config.node_status_update_frequency = Duration::from_secs(1);
        config.node_status_report_frequency = Duration::from_secs(3);
        let (_facts, facts_rx) = watch::channel(ready_facts(0));
        let reporter =
            NodeStatusReporter::start(client, config, HostInfo::read().unwrap(), facts_rx)
                .expect("the reporter starts");
        eventually("the node is Ready", Duration::from_secs(5), || async {
            (ready_status(&cluster, &name).await == "True").then_some(())
        })
        .await;
        let ready = |field: &'static str| {
            let cluster = cluster.clone();
            let name = name.clone();
            async move {
                node_field(
                    &cluster,
                    &name,
                    &format!("{{.status.conditions[?(@.type==\"Ready\")].{field}}}"),
                )
                .await
            }
        };
        let (heartbeat, transition) = (
            ready("lastHeartbeatTime").await,
            ready("lastTransitionTime").await,
        );
        let status_path = format!("/api/v1/nodes/{name}/status");
        let before = requests.count("PATCH", &status_path);
        tokio::time::sleep(Duration::from_secs(10)).await;
        // A report every 3 s, the first after 1.5 to 4.5 s (the random delay after a change).
        let reports = requests.count("PATCH", &status_path) - before;
        assert!(
            (2..=4).contains(&reports),
            "{reports} reports in 10 s: {:?}",
            requests.all()
        );
        assert_ne!(
            ready("lastHeartbeatTime").await,
            heartbeat,
            "heartbeats advance"
        );
        assert_eq!(
            ready("lastTransitionTime").await,
            transition,
            "no transition"
        );
        reporter.shutdown().await;
    };
    with_cleanup(scenario, delete_node(&cluster, &name)).await;
}
