//! [`EventRecorder`] against the real control plane, as node `system:node:<name>`: events
//! about a pod bound to the node and about the node itself, read back by the admin.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;
use status_reporter::{
    EventRecorder, EventRecorderConfig, EventType, HostInfo, NodeConfig, NodeStatusReporter,
    node_reference_of, pod_reference,
};
use support::*;
use test_env::{Cluster, unique_name, with_cleanup};
use tokio::sync::watch;

/// The events of `namespace` matching `selector`, as the admin lists them.
async fn events(cluster: &Cluster, namespace: &str, selector: &str) -> Vec<Value> {
    let text = kubectl(
        cluster,
        &[
            "get",
            "events",
            "-n",
            namespace,
            "--field-selector",
            selector,
            "-o",
            "json",
        ],
    )
    .await
    .expect("listing events");
    let list: Value = serde_json::from_str(&text).expect("event list JSON");
    list["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_identical_events_are_counted_and_similar_ones_aggregated() {
    let Some(cluster) = Cluster::require("pod events") else {
        return;
    };
    let name = unique_name("sr-events");
    let client = node_client(&cluster, &name).await;
    let scenario = async {
        let manifests = format!(
            r#"{}---
apiVersion: v1
kind: Pod
metadata: {{ name: web, namespace: {name} }}
spec:
  nodeName: {name}
  serviceAccountName: app
  containers:
  - {{ name: app, image: busybox }}
"#,
            scene_manifests(&name)
        );
        kubectl_with_input(&cluster, &["apply", "-f", "-"], &manifests)
            .await
            .expect("the admin creates the scene");
        let text = kubectl(&cluster, &["get", "pod", "web", "-n", &name, "-o", "json"])
            .await
            .expect("the pod");
        let pod: Pod = serde_json::from_str(&text).expect("pod JSON");
        let uid = pod.metadata.uid.clone().expect("a UID");
        let recorder =
            EventRecorder::start(client, EventRecorderConfig::kubelet(&name)).expect("a recorder");
        let web = pod_reference(&pod);

        // Five identical events: one Event, counted five times.
        let message = "Container image \"busybox\" already present on machine";
        let started = Instant::now();
        for _ in 0..5 {
            recorder.event(&web, EventType::Normal, "Pulled", message);
        }
        recorder.flush().await;
        eprintln!("5 identical events written in {:?}", started.elapsed());
        let pulled = events(&cluster, &name, "reason=Pulled").await;
        assert_eq!(pulled.len(), 1, "{pulled:#?}");
        let event = &pulled[0];
        assert_eq!(event["count"], 5);
        assert_eq!(event["message"], message);
        assert_eq!(event["type"], "Normal");
        assert_eq!(event["source"]["component"], "kubelet");
        assert_eq!(event["source"]["host"], name.as_str());
        assert_eq!(event["reportingComponent"], "kubelet");
        assert_eq!(event["reportingInstance"], name.as_str());
        assert_eq!(event["involvedObject"]["kind"], "Pod");
        assert_eq!(event["involvedObject"]["name"], "web");
        assert_eq!(event["involvedObject"]["uid"], uid.as_str());
        assert_ne!(event["firstTimestamp"], Value::Null);

        // 25 more: the spam filter lets a source send 25 events about an object at once.
        for _ in 0..25 {
            recorder.event(&web, EventType::Normal, "Pulled", message);
        }
        recorder.flush().await;
        let pulled = events(&cluster, &name, "reason=Pulled").await;
        assert_eq!(pulled.len(), 1, "{pulled:#?}");
        assert_eq!(
            pulled[0]["count"], 25,
            "burst of 25, then one per 5 minutes"
        );

        // Twelve similar Warnings with different messages: nine events, then one aggregate.
        let started = Instant::now();
        for i in 0..12 {
            recorder.event(
                &web,
                EventType::Warning,
                "Failed",
                format!("Error: attempt {i} failed"),
            );
        }
        recorder.flush().await;
        eprintln!("12 similar events written in {:?}", started.elapsed());
        let failed = events(&cluster, &name, "reason=Failed").await;
        assert_eq!(failed.len(), 10, "{failed:#?}");
        let aggregated: Vec<&Value> = failed
            .iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("(combined from similar events): ")
            })
            .collect();
        assert_eq!(aggregated.len(), 1, "{failed:#?}");
        assert_eq!(
            aggregated[0]["message"],
            "(combined from similar events): Error: attempt 11 failed"
        );
        assert_eq!(aggregated[0]["count"], 3);
        assert_eq!(aggregated[0]["type"], "Warning");
        let singles: BTreeSet<&str> = failed
            .iter()
            .filter(|e| e["count"] == 1)
            .filter_map(|e| e["message"].as_str())
            .collect();
        assert_eq!(singles.len(), 9, "{singles:?}");
        recorder.shutdown().await;
    };
    let cleanup = delete_scene(&cluster, &name);
    with_cleanup(scenario, cleanup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ns_12_node_events_of_start_up_and_registration() {
    let Some(cluster) = Cluster::require("node events") else {
        return;
    };
    let name = unique_name("sr-nodeev");
    let client = node_client(&cluster, &name).await;
    let selector = format!("involvedObject.kind=Node,involvedObject.name={name}");
    let scenario = async {
        let mut config = NodeConfig::new(&name);
        config.kubelet_version = "v1.37.2".to_owned();
        let (_facts, facts_rx) = watch::channel(ready_facts(0));
        let reporter =
            NodeStatusReporter::start(client.clone(), config, HostInfo::read().unwrap(), facts_rx)
                .expect("the reporter starts");
        let recorder =
            EventRecorder::start(client, EventRecorderConfig::kubelet(&name)).expect("a recorder");
        let node = eventually("the node is Ready", Duration::from_secs(5), || async {
            let node = reporter.node()?;
            let ready = node
                .status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            ready.then_some(node)
        })
        .await;
        let node_uid = node.metadata.uid.clone().expect("a node UID");

        recorder.record_starting(&node_reference_of(&node));
        recorder.record_node_conditions(&node);
        recorder.flush().await;

        let recorded = events(&cluster, "default", &selector).await;
        let mut reasons: Vec<(&str, &str)> = recorded
            .iter()
            .map(|e| {
                (
                    e["reason"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or(""),
                )
            })
            .collect();
        reasons.sort();
        let expected =
            |reason: &'static str| (reason, format!("Node {name} status is now: {reason}"));
        let mut wanted = [
            ("Starting", "Starting kubelet.".to_owned()),
            expected("NodeHasSufficientMemory"),
            expected("NodeHasNoDiskPressure"),
            expected("NodeHasSufficientPID"),
            expected("NodeReady"),
        ];
        wanted.sort();
        let wanted: Vec<(&str, &str)> = wanted.iter().map(|(r, m)| (*r, m.as_str())).collect();
        assert_eq!(reasons, wanted);
        for event in &recorded {
            assert_eq!(event["type"], "Normal");
            assert_eq!(event["involvedObject"]["uid"], node_uid.as_str());
            assert_eq!(event["involvedObject"]["apiVersion"], "v1");
            assert_eq!(event["source"]["host"], name.as_str());
            assert_eq!(event["metadata"]["namespace"], "default");
        }
        recorder.shutdown().await;
        reporter.shutdown().await;
    };
    let cleanup = async {
        let _ = kubectl(
            &cluster,
            &[
                "delete",
                "events",
                "-n",
                "default",
                "--field-selector",
                &selector,
            ],
        )
        .await;
        delete_node(&cluster, &name).await;
    };
    with_cleanup(scenario, cleanup).await;
}
