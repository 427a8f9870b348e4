use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::*;
use crate::HealthCheck;

/// A summary as the kubelet 1.37 writes it on a cgroup v1 node with containerd (CRI stats
/// provider, cAdvisor for CPU and memory, KubeletPSI on), written from the Go types: every
/// kind of field, the embedded `InterfaceStats` and `FsStats`, a `null` start time.
const KUBELET_SUMMARY: &str = r#"{
 "node": {
  "nodeName": "node-1",
  "systemContainers": [
   {
    "name": "pods",
    "startTime": "2024-05-01T09:00:00Z",
    "cpu": {
     "time": "2024-05-01T10:00:00Z",
     "usageNanoCores": 1234567,
     "usageCoreNanoSeconds": 987654321000,
     "psi": {
      "full": {"total": 0, "avg10": 0, "avg60": 0, "avg300": 0},
      "some": {"total": 12, "avg10": 0.25, "avg60": 0.1, "avg300": 0}
     }
    },
    "memory": {
     "time": "2024-05-01T10:00:00Z",
     "availableBytes": 1000000000,
     "usageBytes": 300000000,
     "workingSetBytes": 200000000,
     "rssBytes": 150000000,
     "pageFaults": 123,
     "majorPageFaults": 4
    },
    "io": {"time": "2024-05-01T10:00:00Z"},
    "swap": {"time": "2024-05-01T10:00:00Z", "swapUsageBytes": 0}
   },
   {"name": "kubelet", "startTime": null}
  ],
  "startTime": "2024-05-01T08:00:00Z",
  "cpu": {"time": "2024-05-01T10:00:00Z", "usageNanoCores": 5, "usageCoreNanoSeconds": 6},
  "memory": {"time": "2024-05-01T10:00:00Z", "availableBytes": 7, "usageBytes": 8, "workingSetBytes": 9, "rssBytes": 10, "pageFaults": 11, "majorPageFaults": 12},
  "io": {"time": "2024-05-01T10:00:00Z", "psi": {"full": {"total": 1, "avg10": 0, "avg60": 0, "avg300": 0}, "some": {"total": 2, "avg10": 0, "avg60": 0, "avg300": 0}}},
  "network": {
   "time": "2024-05-01T10:00:00Z",
   "name": "eth0",
   "rxBytes": 100,
   "rxErrors": 0,
   "txBytes": 200,
   "txErrors": 0,
   "interfaces": [
    {"name": "eth0", "rxBytes": 100, "rxErrors": 0, "txBytes": 200, "txErrors": 0},
    {"name": "cni0", "rxBytes": 1, "rxErrors": 0, "txBytes": 2, "txErrors": 0}
   ]
  },
  "fs": {"time": "2024-05-01T10:00:00Z", "availableBytes": 1, "capacityBytes": 2, "usedBytes": 1, "inodesFree": 3, "inodes": 4, "inodesUsed": 1},
  "runtime": {
   "imageFs": {"time": "2024-05-01T10:00:00Z", "availableBytes": 1, "capacityBytes": 2, "usedBytes": 5, "inodesFree": 3, "inodes": 4, "inodesUsed": 6},
   "containerFs": {"time": "2024-05-01T10:00:00Z", "availableBytes": 1, "capacityBytes": 2, "usedBytes": 5, "inodesFree": 3, "inodes": 4, "inodesUsed": 6}
  },
  "rlimit": {"time": "2024-05-01T10:00:01Z", "maxpid": 32768, "curproc": 412},
  "swap": {"time": "2024-05-01T10:00:00Z", "swapAvailableBytes": 0, "swapUsageBytes": 0}
 },
 "pods": [
  {
   "podRef": {"name": "web", "namespace": "default", "uid": "0b9f1f5e-1111-2222-3333-444455556666"},
   "startTime": "2024-05-01T09:30:00Z",
   "containers": [
    {
     "name": "app",
     "startTime": "2024-05-01T09:30:01Z",
     "cpu": {"time": "2024-05-01T10:00:00Z", "usageNanoCores": 1, "usageCoreNanoSeconds": 2},
     "memory": {"time": "2024-05-01T10:00:00Z", "usageBytes": 3, "workingSetBytes": 4, "rssBytes": 5, "pageFaults": 6, "majorPageFaults": 0},
     "rootfs": {"time": "2024-05-01T10:00:00Z", "availableBytes": 1, "capacityBytes": 2, "usedBytes": 8192, "inodesFree": 3, "inodes": 4, "inodesUsed": 2},
     "logs": {"time": "2024-05-01T10:00:00Z", "availableBytes": 1, "capacityBytes": 2, "usedBytes": 4096, "inodesFree": 3, "inodes": 4, "inodesUsed": 1},
     "swap": {"time": "2024-05-01T10:00:00Z", "swapUsageBytes": 0}
    }
   ],
   "cpu": {"time": "2024-05-01T10:00:00Z", "usageNanoCores": 1, "usageCoreNanoSeconds": 3},
   "memory": {"time": "2024-05-01T10:00:00Z", "usageBytes": 4, "workingSetBytes": 5, "rssBytes": 6, "pageFaults": 7, "majorPageFaults": 0},
   "network": {"time": "2024-05-01T10:00:00Z", "name": "eth0", "rxBytes": 1, "rxErrors": 0, "txBytes": 2, "txErrors": 0, "interfaces": [{"name": "eth0", "rxBytes": 1, "rxErrors": 0, "txBytes": 2, "txErrors": 0}]},
   "volume": [
    {"time": "2024-05-01T09:59:00Z", "availableBytes": 1, "capacityBytes": 2, "usedBytes": 4096, "inodesFree": 3, "inodes": 4, "inodesUsed": 2, "name": "scratch"},
    {"time": "2024-05-01T09:59:00Z", "availableBytes": 1, "capacityBytes": 2, "usedBytes": 0, "inodesFree": 3, "inodes": 4, "inodesUsed": 0, "name": "data", "pvcRef": {"name": "claim", "namespace": "default"}}
   ],
   "ephemeral-storage": {"time": "2024-05-01T10:00:00Z", "availableBytes": 1, "capacityBytes": 2, "usedBytes": 16384, "inodesFree": 3, "inodes": 4, "inodesUsed": 5},
   "process_stats": {"process_count": 2},
   "swap": {"time": "2024-05-01T10:00:00Z", "swapUsageBytes": 0}
  }
 ]
}"#;

fn at(text: &str) -> Time {
    Time::new(text.parse::<Timestamp>().unwrap())
}

#[test]
fn ht_04_a_kubelet_summary_round_trips_field_for_field() {
    let summary: Summary = serde_json::from_str(KUBELET_SUMMARY).unwrap();
    let node = &summary.node;
    assert_eq!(node.node_name, "node-1");
    assert_eq!(node.system_containers[1].start_time, Time::ZERO);
    let network = node.network.as_ref().unwrap();
    assert_eq!(network.default_interface.name, "eth0");
    assert_eq!(network.default_interface.tx_bytes, Some(200));
    assert_eq!(network.interfaces.len(), 2);
    assert_eq!(node.rlimit.as_ref().unwrap().max_pid, Some(32768));
    let psi = node.system_containers[0]
        .cpu
        .as_ref()
        .unwrap()
        .psi
        .as_ref()
        .unwrap();
    assert_eq!(psi.some.avg10, 0.25);
    let pod = &summary.pods[0];
    assert_eq!(pod.pod_ref.uid, "0b9f1f5e-1111-2222-3333-444455556666");
    assert_eq!(pod.volume_stats[0].name, "scratch");
    assert_eq!(pod.volume_stats[0].fs.used_bytes, Some(4096));
    assert_eq!(pod.volume_stats[1].pvc_ref.as_ref().unwrap().name, "claim");
    assert_eq!(
        pod.ephemeral_storage.as_ref().unwrap().used_bytes,
        Some(16384)
    );
    assert_eq!(pod.process_stats.as_ref().unwrap().process_count, Some(2));
    assert_eq!(pod.containers[0].start_time, at("2024-05-01T09:30:01Z"));

    // Written again, it is the same document: names, omitted fields, nulls and numbers
    // (integral PSI averages as integers, as Go writes them).
    let written = serde_json::to_value(&summary).unwrap();
    let original: Value = serde_json::from_str(KUBELET_SUMMARY).unwrap();
    assert_eq!(written, original);
    assert_eq!(field_paths(&written), field_paths(&original));
    let text = to_json_indented(&summary).unwrap();
    assert!(text.contains(r#""avg10": 0,"#), "{text}");
    assert_eq!(serde_json::from_str::<Summary>(&text).unwrap(), summary);
}

#[test]
fn ht_04_go_field_order_indentation_and_omitempty() {
    let summary = Summary {
        node: NodeStats {
            node_name: "n".into(),
            start_time: at("2024-05-01T08:00:00Z"),
            network: Some(NetworkStats {
                time: at("2024-05-01T10:00:00.5Z"),
                ..Default::default()
            }),
            ..Default::default()
        },
        pods: vec![PodStats {
            pod_ref: PodReference {
                name: "p".into(),
                namespace: "ns".into(),
                uid: "u".into(),
            },
            ..Default::default()
        }],
    };
    // go-restful: `json.MarshalIndent(v, "", " ")`; the embedded interface's `name` is
    // written empty; `containers` is not omitempty.
    assert_eq!(
        to_json_indented(&summary).unwrap(),
        r#"{
 "node": {
  "nodeName": "n",
  "startTime": "2024-05-01T08:00:00Z",
  "network": {
   "time": "2024-05-01T10:00:00Z",
   "name": ""
  }
 },
 "pods": [
  {
   "podRef": {
    "name": "p",
    "namespace": "ns",
    "uid": "u"
   },
   "startTime": null,
   "containers": []
  }
 ]
}"#
    );
}

#[test]
fn nulls_and_missing_fields_read_as_go_reads_them() {
    let summary: Summary =
        serde_json::from_str(r#"{"node": {"nodeName": "n", "unknown": 1}, "pods": null}"#).unwrap();
    assert!(summary.pods.is_empty());
    let pod: PodStats = serde_json::from_str(r#"{"containers": null}"#).unwrap();
    assert!(pod.containers.is_empty());
    assert_eq!(pod.start_time, Time::ZERO);
}

#[test]
fn field_paths_collapse_arrays_and_keep_nulls() {
    let a = field_paths(&json!({"pods": [{"x": 1}, {"y": {"z": null}}], "e": []}));
    let expected: BTreeSet<String> = ["e", "pods", "pods[]", "pods[].x", "pods[].y", "pods[].y.z"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(a, expected);
}

/// A small CPU-and-memory summary: a node, one pod with two containers (one started at the
/// epoch, so without a start time sample), another pod with nothing measured.
fn small_summary() -> Summary {
    let t = at("2021-06-22T21:11:18.302Z");
    let cpu = |ns: u64| CpuStats {
        time: t,
        usage_core_nano_seconds: Some(ns),
        ..Default::default()
    };
    let memory = |bytes: u64| MemoryStats {
        time: t,
        working_set_bytes: Some(bytes),
        ..Default::default()
    };
    let swap = |usage: u64, available: Option<u64>| SwapStats {
        time: t,
        swap_usage_bytes: Some(usage),
        swap_available_bytes: available,
    };
    Summary {
        node: NodeStats {
            node_name: "node-1".into(),
            cpu: Some(cpu(10_000_000_000)),
            memory: Some(memory(1000)),
            swap: Some(swap(0, None)),
            ..Default::default()
        },
        pods: vec![
            PodStats {
                pod_ref: PodReference {
                    name: "pod_b".into(),
                    namespace: "namespace_b".into(),
                    uid: "uid-b".into(),
                },
                ..Default::default()
            },
            PodStats {
                pod_ref: PodReference {
                    name: "pod_a".into(),
                    namespace: "namespace_a".into(),
                    uid: "uid-a".into(),
                },
                containers: vec![
                    ContainerStats {
                        name: "container_b".into(),
                        start_time: at("2021-06-22T21:00:00.5Z"),
                        cpu: Some(cpu(2_178_052_818)),
                        memory: Some(memory(14_344_192)),
                        swap: Some(swap(0, Some(1024))),
                        ..Default::default()
                    },
                    ContainerStats {
                        name: "container_a".into(),
                        start_time: Time::new(Timestamp::UNIX_EPOCH),
                        cpu: Some(cpu(10_000_000_000)),
                        ..Default::default()
                    },
                ],
                cpu: Some(cpu(12_178_052_818)),
                memory: Some(memory(14_344_192)),
                ..Default::default()
            },
        ],
    }
}

#[test]
fn ht_10_resource_metrics_exact_lines() {
    let text = render_resource_metrics(Some(&small_summary()));
    assert_eq!(
        text,
        "# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container=\"container_a\",namespace=\"namespace_a\",pod=\"pod_a\"} 10 1624396278302
container_cpu_usage_seconds_total{container=\"container_b\",namespace=\"namespace_a\",pod=\"pod_a\"} 2.178052818 1624396278302
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container=\"container_b\",namespace=\"namespace_a\",pod=\"pod_a\"} 1.4344192e+07 1624396278302
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container=\"container_b\",namespace=\"namespace_a\",pod=\"pod_a\"} 1.6243956005e+09
# HELP container_swap_limit_bytes [ALPHA] Current amount of the container swap limit in bytes. Reported only on non-windows systems
# TYPE container_swap_limit_bytes gauge
container_swap_limit_bytes{container=\"container_b\",namespace=\"namespace_a\",pod=\"pod_a\"} 1024 1624396278302
# HELP container_swap_usage_bytes [ALPHA] Current amount of the container swap usage in bytes. Reported only on non-windows systems
# TYPE container_swap_usage_bytes gauge
container_swap_usage_bytes{container=\"container_b\",namespace=\"namespace_a\",pod=\"pod_a\"} 0 1624396278302
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 10 1624396278302
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1000 1624396278302
# HELP node_swap_usage_bytes [ALPHA] Current swap usage of the node in bytes. Reported only on non-windows systems
# TYPE node_swap_usage_bytes gauge
node_swap_usage_bytes 0 1624396278302
# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds
# TYPE pod_cpu_usage_seconds_total counter
pod_cpu_usage_seconds_total{namespace=\"namespace_a\",pod=\"pod_a\"} 12.178052818 1624396278302
# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes
# TYPE pod_memory_working_set_bytes gauge
pod_memory_working_set_bytes{namespace=\"namespace_a\",pod=\"pod_a\"} 1.4344192e+07 1624396278302
# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 0
"
    );
}

#[test]
fn ht_10_resource_metrics_on_error_only_the_error_gauge() {
    assert_eq!(
        render_resource_metrics(None),
        "# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 1
"
    );
}

#[test]
fn cadvisor_metrics_exact_lines() {
    let now: Timestamp = "2024-05-01T10:00:05.123Z".parse().unwrap();
    let read: Timestamp = "2024-05-01T10:00:04Z".parse().unwrap();
    let created: Timestamp = "2024-05-01T09:00:00.9Z".parse().unwrap();
    let sandbox = CgroupInfo {
        id: "/kubepods/besteffort/podu/sb".into(),
        name: "sb".into(),
        image: "localhost/pause:1".into(),
        pod: "web".into(),
        namespace: "default".into(),
        creation_time: Some(created),
        memory_limit_bytes: Some(u64::MAX),
        timestamp: read,
        cpu_usage_ns: Some(0),
        network: vec![InterfaceCounters {
            name: "eth0".into(),
            rx_bytes: 1500,
            tx_bytes: 2_000_000,
            ..Default::default()
        }],
        ..Default::default()
    };
    let app = CgroupInfo {
        id: "/kubepods/besteffort/podu/c1".into(),
        name: "c1".into(),
        image: "localhost/busybox:1".into(),
        container: "app".into(),
        pod: "web".into(),
        namespace: "default".into(),
        creation_time: Some(created),
        start_time: Some("2024-05-01T09:00:01Z".parse().unwrap()),
        memory_limit_bytes: Some(64 << 20),
        timestamp: read,
        cpu_usage_ns: Some(250_000_000),
        memory: Some(CgroupMemory {
            usage_bytes: 3 << 20,
            working_set_bytes: 2 << 20,
            rss_bytes: 1 << 20,
            cache_bytes: 4096,
            swap_bytes: 0,
            mapped_file_bytes: 0,
        }),
        processes: Some(ProcessCounts {
            processes: 1,
            threads: 1,
            threads_max: 0,
        }),
        ..Default::default()
    };
    let text = render_cadvisor_metrics(Some(&[app, sandbox]), now);
    // The labels of `id`'s series, with one extra label (`name=value`, or none), sorted by
    // name as the Go client writes them.
    let l = |extra: &str, id: &str| {
        let (container, image) = if id == "c1" {
            ("app", "localhost/busybox:1")
        } else {
            ("", "localhost/pause:1")
        };
        let mut labels = vec![
            format!("container=\"{container}\""),
            format!("id=\"/kubepods/besteffort/podu/{id}\""),
            format!("image=\"{image}\""),
            format!("name=\"{id}\""),
            "namespace=\"default\"".to_owned(),
            "pod=\"web\"".to_owned(),
        ];
        if !extra.is_empty() {
            labels.push(extra.trim_end_matches(',').to_owned());
        }
        labels.sort();
        format!("{{{}}}", labels.join(","))
    };
    let lines: Vec<&str> = text.lines().collect();
    // The first family whole: cAdvisor's help (no stability prefix), the six labels and
    // `cpu` sorted by name, the time the usage was read.
    assert_eq!(
        lines[..3],
        [
            "# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.",
            "# TYPE container_cpu_usage_seconds_total counter",
            &format!(
                "container_cpu_usage_seconds_total{} 0.25 1714557604000",
                l("cpu=\"total\",", "c1")
            ),
        ]
    );
    for line in [
        format!(
            "container_creation_time_seconds{} 1.714554e+09",
            l("", "c1")
        ),
        format!(
            "container_start_time_seconds{} 1.714554001e+09",
            l("", "c1")
        ),
        format!("container_start_time_seconds{} 1.714554e+09", l("", "sb")),
        format!(
            "container_last_seen{} 1.714557605e+09 1714557605123",
            l("", "sb")
        ),
        format!(
            "container_spec_memory_limit_bytes{} 6.7108864e+07",
            l("", "c1")
        ),
        format!("container_spec_memory_limit_bytes{} 0", l("", "sb")),
        format!(
            "container_memory_working_set_bytes{} 2.097152e+06 1714557604000",
            l("", "c1")
        ),
        format!(
            "container_memory_rss{} 1.048576e+06 1714557604000",
            l("", "c1")
        ),
        format!("container_memory_cache{} 4096 1714557604000", l("", "c1")),
        format!(
            "container_network_receive_bytes_total{} 1500 1714557604000",
            l("interface=\"eth0\",", "sb")
        ),
        format!(
            "container_network_transmit_bytes_total{} 2e+06 1714557604000",
            l("interface=\"eth0\",", "sb")
        ),
        format!("container_processes{} 1 1714557604000", l("", "c1")),
        format!("container_threads_max{} 0 1714557604000", l("", "c1")),
        "container_scrape_error 0".to_owned(),
    ] {
        assert!(lines.contains(&line.as_str()), "missing {line}\n{text}");
    }
    // No CPU series for the sandbox (0 ns), no memory series without memory.
    assert!(!text.contains(&format!(
        "container_cpu_usage_seconds_total{}",
        l("cpu=\"total\",", "sb")
    )));
    assert!(!text.contains(&format!("container_memory_rss{}", l("", "sb"))));
    assert!(text.contains("# TYPE container_network_receive_bytes_total counter\n"));
    assert_eq!(
        render_cadvisor_metrics(None, now),
        "# HELP container_scrape_error 1 if there was an error while getting container metrics, 0 otherwise
# TYPE container_scrape_error gauge
container_scrape_error 1
"
    );
}

#[test]
fn form_values_decode_as_go_does() {
    assert_eq!(
        form_values("only_cpu_and_memory=true", "only_cpu_and_memory"),
        ["true"]
    );
    assert_eq!(
        form_values("a=1&only%5Fcpu_and_memory=tr%75e&x", "only_cpu_and_memory"),
        ["true"]
    );
    assert_eq!(form_values("k=a+b%20c", "k"), ["a b c"]);
    assert!(form_values("k=%zz", "k").is_empty());
    assert_eq!(form_values("k=1&k=2", "k"), ["1", "2"]);
}

/// A node agent that measures a fixed summary and records what it was asked.
struct Measured {
    summary: Option<Summary>,
    asked: std::sync::Mutex<Vec<bool>>,
}

#[async_trait]
impl NodeApi for Measured {
    fn pods(&self) -> Vec<Pod> {
        Vec::new()
    }
    fn healthz(&self) -> Vec<HealthCheck> {
        Vec::new()
    }
    fn metrics(&self) -> String {
        String::new()
    }
    fn configz(&self) -> Value {
        Value::Null
    }
    async fn stats_summary(&self, only_cpu_and_memory: bool) -> Result<Summary> {
        self.asked.lock().unwrap().push(only_cpu_and_memory);
        self.summary
            .clone()
            .ok_or_else(|| Error::Runtime("failed to get root cgroup stats".into()))
    }
}

async fn get(api: Arc<dyn NodeApi>, request: Request<Body>) -> (StatusCode, String, String) {
    let response = routes().with_state(api).oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn request(method: &str, uri: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn ht_04_routes_serve_the_summary_and_pass_only_cpu_and_memory() {
    let measured = Arc::new(Measured {
        summary: Some(small_summary()),
        asked: Default::default(),
    });
    let api: Arc<dyn NodeApi> = measured.clone();
    let (status, content_type, body) = get(api.clone(), request("GET", "/stats/summary", "")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(serde_json::from_str::<Summary>(&body).unwrap(), {
        // Through JSON the times lose their fractions.
        serde_json::from_str::<Summary>(&serde_json::to_string(&small_summary()).unwrap()).unwrap()
    });
    assert!(
        body.starts_with("{\n \"node\": {\n  \"nodeName\": \"node-1\""),
        "{body}"
    );
    for (method, uri, form) in [
        ("GET", "/stats/summary?only_cpu_and_memory=true", ""),
        ("POST", "/stats/summary", "only_cpu_and_memory=true"),
        ("GET", "/stats/summary?only_cpu_and_memory=false", ""),
        (
            "GET",
            "/stats/summary?only_cpu_and_memory=true&only_cpu_and_memory=true",
            "",
        ),
        (
            "POST",
            "/stats/summary?only_cpu_and_memory=true",
            "only_cpu_and_memory=true",
        ),
    ] {
        let (status, _, _) = get(api.clone(), request(method, uri, form)).await;
        assert_eq!(status, StatusCode::OK, "{method} {uri}");
    }
    assert_eq!(
        *measured.asked.lock().unwrap(),
        [false, true, true, false, false, false]
    );

    let (status, content_type, body) =
        get(api.clone(), request("GET", "/metrics/resource", "")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, METRICS_CONTENT_TYPE);
    assert_eq!(body, render_resource_metrics(Some(&small_summary())));
    assert_eq!(measured.asked.lock().unwrap().last(), Some(&true));

    // Without cgroups from the agent, /metrics/cadvisor is not supported.
    let (status, _, _) = get(api, request("GET", "/metrics/cadvisor", "")).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
}

#[tokio::test]
async fn errors_answer_500_for_the_summary_and_the_error_gauge_for_metrics() {
    let api: Arc<dyn NodeApi> = Arc::new(Measured {
        summary: None,
        asked: Default::default(),
    });
    let (status, _, body) = get(api.clone(), request("GET", "/stats/summary", "")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("failed to get root cgroup stats"), "{body}");
    let (status, _, body) = get(api, request("GET", "/metrics/resource", "")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.ends_with("resource_scrape_error 1\n"), "{body}");
}
