//! Node pressure on the real machine, in cluster mode (static pods are critical and never
//! evicted, so the pods here come from the API server): real memory pressure from a pod
//! that allocates, real disk pressure on a small tmpfs root dir filled by an emptyDir
//! writer, and PID pressure from a pod that forks (checklist EV-05..EV-07, EV-11, EV-14).
//!
//! The thresholds are set relative to what the machine shows when the test starts, with
//! margins larger than what the rest of a test run moves; the tests take turns on the
//! runtime (see `common`), so no other node agent runs pods meanwhile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{ClusterNode, bound_pod, node_condition, pod_summary, sleeper};

/// How long an eviction may take: the eviction manager looks every 10 s, evicts at most
/// one pod per look, and the pod is then killed with 1 s of grace.
const EVICTION_TIMEOUT: Duration = Duration::from_secs(60);

/// `memory.available` as the eviction manager computes it on this machine: the memory
/// capacity (`MemTotal`) minus the root memory cgroup's working set (usage minus inactive
/// file pages), in bytes.
fn memory_available() -> i64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kib: i64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("MemTotal in /proc/meminfo");
    let read = |file: &str| std::fs::read_to_string(Path::new("/sys/fs/cgroup/memory").join(file));
    let usage: i64 = read("memory.usage_in_bytes")
        .expect("the root memory cgroup (cgroup v1)")
        .trim()
        .parse()
        .unwrap();
    let inactive_file: i64 = read("memory.stat")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("total_inactive_file "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    total_kib * 1024 - (usage - inactive_file)
}

/// A container with these resources running `script`.
fn container(name: &str, script: &str, resources: Value) -> Value {
    let mut c = sleeper(name);
    c["command"] = json!(["sh", "-c", script]);
    c["resources"] = resources;
    c
}

/// The pod's phase and reason.
fn phase_and_reason(pod: &Value) -> (String, String) {
    let status = &pod["status"];
    (
        status["phase"].as_str().unwrap_or("").to_owned(),
        status["reason"].as_str().unwrap_or("").to_owned(),
    )
}

impl ClusterNode {
    /// Waits until the pod is Failed with reason `Evicted`; returns the pod.
    fn wait_evicted(&self, ns: &str, name: &str, timeout: Duration) -> Value {
        self.wait(&format!("pod {ns}/{name} to be evicted"), timeout, || {
            let pod = self.get("pod", name, Some(ns)).ok_or("no pod")?;
            match phase_and_reason(&pod) {
                (phase, reason) if phase == "Failed" && reason == "Evicted" => Ok(pod),
                _ => Err(pod_summary(&pod)),
            }
        })
    }

    /// Waits until the Node's condition `type_` has `status`.
    fn wait_node_condition(&self, type_: &str, status: &str, timeout: Duration) {
        self.wait(&format!("Node {type_}={status}"), timeout, || {
            let node = self.node_object().ok_or("no Node")?;
            let condition = node_condition(&node, type_).ok_or("no condition")?;
            if condition["status"] == status {
                Ok(())
            } else {
                Err(condition.to_string())
            }
        });
    }

    /// The Warning events of the Node with `reason`, as messages.
    fn node_events(&self, reason: &str) -> Vec<String> {
        let text = self.kubectl(&[
            "get",
            "events",
            "-A",
            "--field-selector",
            &format!(
                "involvedObject.kind=Node,involvedObject.name={},reason={reason}",
                self.node.name
            ),
            "-o",
            "json",
        ]);
        let list: Value = serde_json::from_str(&text).unwrap();
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["message"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

/// The DisruptionTarget condition of an evicted pod, with the kubelet's reason.
fn assert_disruption_target(pod: &Value) {
    let condition = node_condition(pod, "DisruptionTarget")
        .unwrap_or_else(|| panic!("no DisruptionTarget condition: {}", pod["status"]));
    assert_eq!(condition["status"], "True", "{condition}");
    assert_eq!(condition["reason"], "TerminationByKubelet", "{condition}");
}

/// The finish time of a pod's (only) container, from its terminated state.
fn finished_at(pod: &Value) -> String {
    pod["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// EV-05..EV-07 on real memory: `evictionHard` set 400 MiB under the memory the machine
/// has available, then a Burstable pod allocates 800 MiB (within its 900 MiB request). The
/// node reports MemoryPressure and records `EvictionThresholdMet`; the BestEffort pod goes
/// first (it uses more than its request of nothing, and its message names its container),
/// the Burstable one next (its usage minus request is higher than the Guaranteed pod's; it
/// is within its request, so its message names no container), each Failed with reason
/// Evicted and DisruptionTarget; then the pressure is gone and the Guaranteed pod keeps
/// running. With `kernelMemcgNotification` on, the kernel's notification is in the log.
#[test]
fn cluster_ev_05_ev_06_ev_07_real_memory_pressure_evicts_best_effort_then_burstable_not_guaranteed()
{
    let available = memory_available();
    let threshold_mib = (available >> 20) - 400;
    let Some(mut node) = ClusterNode::new(
        "c-evmem",
        &format!(
            "evictionHard: {{memory.available: {threshold_mib}Mi}}\n\
             evictionPressureTransitionPeriod: 20s\n\
             kernelMemcgNotification: true\n"
        ),
    ) else {
        return;
    };
    eprintln!(
        "memory.available at the start: {} MiB; threshold {threshold_mib} MiB",
        available >> 20
    );
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.namespace();
    let idle = "trap 'exit 0' TERM; sleep 3600 & wait";
    node.create(&bound_pod(
        &ns,
        "best-effort",
        &name,
        json!([container("main", idle, json!({}))]),
        json!([]),
    ));
    node.create(&bound_pod(
        &ns,
        "guaranteed",
        &name,
        json!([container(
            "main",
            idle,
            json!({"limits": {"cpu": "100m", "memory": "200Mi"}})
        )]),
        json!([]),
    ));
    node.wait_pod_ready(&ns, "best-effort", Duration::from_secs(30));
    node.wait_pod_ready(&ns, "guaranteed", Duration::from_secs(30));
    node.wait_node_condition("MemoryPressure", "False", Duration::from_secs(30));

    // dd fills a 800 MiB buffer from /dev/zero, then blocks writing it to a pipe nobody
    // reads: the memory stays in use until the container dies.
    node.create(&bound_pod(
        &ns,
        "burstable",
        &name,
        json!([container(
            "main",
            "dd if=/dev/zero bs=800M count=1 | sleep 3600",
            json!({"requests": {"memory": "900Mi"}})
        )]),
        json!([]),
    ));
    let started = Instant::now();
    node.wait_pod_ready(&ns, "burstable", Duration::from_secs(30));

    let best_effort = node.wait_evicted(&ns, "best-effort", EVICTION_TIMEOUT);
    eprintln!(
        "best-effort evicted {:?} after the allocating pod was created",
        started.elapsed()
    );
    node.wait_node_condition("MemoryPressure", "True", Duration::from_secs(20));
    let message = best_effort["status"]["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with(&format!(
            "The node was low on resource: memory. Threshold quantity: {threshold_mib}Mi, available: "
        )) && message.contains("Container main was using ")
            && message.contains(", request is 0, has larger consumption of memory. "),
        "{message}"
    );
    assert_disruption_target(&best_effort);
    let burstable = node.wait_evicted(&ns, "burstable", EVICTION_TIMEOUT);
    eprintln!("burstable evicted {:?} after", started.elapsed());
    assert_disruption_target(&burstable);
    // Its container uses less than it requests, so the kubelet names no container.
    let message = burstable["status"]["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with(&format!(
            "The node was low on resource: memory. Threshold quantity: {threshold_mib}Mi, available: "
        )) && !message.contains("Container"),
        "{message}"
    );
    assert!(
        finished_at(&best_effort) <= finished_at(&burstable),
        "BestEffort first: {} then {}",
        finished_at(&best_effort),
        finished_at(&burstable)
    );
    let events = node.node_events("EvictionThresholdMet");
    assert!(
        events.iter().any(|m| m == "Attempting to reclaim memory"),
        "{events:?}"
    );
    // kernelMemcgNotification: the kernel told nodelet when the allocation crossed the
    // line.
    let log = std::fs::read_to_string(node.log_file()).unwrap_or_default();
    assert!(
        log.contains("hard memory eviction threshold crossed"),
        "no memory threshold notification in the log"
    );

    let evictions = node
        .metrics()
        .get("kubelet_evictions{eviction_signal=\"memory.available\"}")
        .copied();
    assert_eq!(evictions, Some(2.0), "kubelet_evictions on /metrics");

    // The memory is back: the condition clears after the transition period, and the
    // Guaranteed pod was never touched.
    node.wait_node_condition("MemoryPressure", "False", Duration::from_secs(60));
    let guaranteed = node.get("pod", "guaranteed", Some(&ns)).unwrap();
    assert_eq!(
        phase_and_reason(&guaranteed),
        ("Running".to_owned(), String::new()),
        "{}",
        pod_summary(&guaranteed)
    );
    assert_eq!(
        guaranteed["status"]["containerStatuses"][0]["restartCount"],
        0,
        "{}",
        pod_summary(&guaranteed)
    );
}

/// A small tmpfs mounted on a node's root dir for the test; nodelet is stopped and the
/// tmpfs unmounted (lazily, so nothing left mounted below it holds it) when dropped.
struct TmpfsRoot {
    node: ClusterNode,
    mount: PathBuf,
}

impl TmpfsRoot {
    fn mount(node: ClusterNode, size: &str) -> TmpfsRoot {
        let mount = node.root_dir();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount)
            .status()
            .expect("running mount");
        assert!(status.success(), "mounting a tmpfs on {}", mount.display());
        TmpfsRoot { node, mount }
    }
}

impl std::ops::Deref for TmpfsRoot {
    type Target = ClusterNode;
    fn deref(&self) -> &ClusterNode {
        &self.node
    }
}

impl std::ops::DerefMut for TmpfsRoot {
    fn deref_mut(&mut self) -> &mut ClusterNode {
        &mut self.node
    }
}

impl Drop for TmpfsRoot {
    fn drop(&mut self) {
        self.node.node.stop();
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// EV-05, EV-07, EV-11 on a real disk: the root dir is a 64 MiB tmpfs and
/// `nodefs.available` must stay above 40 %. A pod writes 40 MiB into an emptyDir: the node
/// reports DiskPressure (and the node lifecycle controller taints it
/// `node.kubernetes.io/disk-pressure:NoSchedule`), the writer is evicted (the only pod
/// using the disk), a pod created
/// meanwhile is refused with the kubelet's admission message, and once the space is back
/// and the transition period has passed, new pods run again.
#[test]
fn cluster_ev_05_ev_07_ev_11_real_disk_pressure_evicts_the_writer_and_refuses_new_pods() {
    let Some(node) = ClusterNode::new(
        "c-evdisk",
        "evictionHard: {nodefs.available: 40%}\nevictionPressureTransitionPeriod: 30s\n",
    ) else {
        return;
    };
    let mut node = TmpfsRoot::mount(node, "64m");
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    node.wait_node_condition("DiskPressure", "False", Duration::from_secs(30));
    let ns = node.namespace();
    let mut writer = container(
        "main",
        "dd if=/dev/zero of=/data/fill bs=1M count=40; trap 'exit 0' TERM; sleep 3600 & wait",
        json!({}),
    );
    writer["volumeMounts"] = json!([{ "name": "data", "mountPath": "/data" }]);
    node.create(&bound_pod(
        &ns,
        "writer",
        &name,
        json!([writer]),
        json!([{ "name": "data", "emptyDir": {} }]),
    ));
    let started = Instant::now();
    let writer = node.wait_evicted(&ns, "writer", EVICTION_TIMEOUT);
    eprintln!(
        "writer evicted {:?} after it was created",
        started.elapsed()
    );
    let message = writer["status"]["message"].as_str().unwrap_or("");
    assert!(
        message
            .starts_with("The node was low on resource: ephemeral-storage. Threshold quantity: "),
        "{message}"
    );
    assert_disruption_target(&writer);
    node.wait_node_condition("DiskPressure", "True", Duration::from_secs(20));
    // The node lifecycle controller taints the node from the condition.
    node.wait(
        "the disk-pressure taint on the Node",
        Duration::from_secs(20),
        || {
            let object = node.node_object().ok_or("no Node")?;
            let taints = object["spec"]["taints"].clone();
            taints
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| {
                    t["key"] == "node.kubernetes.io/disk-pressure" && t["effect"] == "NoSchedule"
                })
                .then_some(())
                .ok_or_else(|| taints.to_string())
        },
    );
    let events = node.node_events("EvictionThresholdMet");
    assert!(
        events
            .iter()
            .any(|m| m == "Attempting to reclaim ephemeral-storage"),
        "{events:?}"
    );

    // Under DiskPressure a new pod is refused at admission.
    node.create(&bound_pod(
        &ns,
        "refused",
        &name,
        json!([sleeper("main")]),
        json!([]),
    ));
    let refused = node.wait_evicted(&ns, "refused", Duration::from_secs(30));
    assert_eq!(
        refused["status"]["message"], "Pod was rejected: The node had condition: [DiskPressure]. ",
        "{}",
        refused["status"]
    );

    // The writer's emptyDir went with it: the pressure clears after the transition period
    // and pods run again.
    node.wait_node_condition("DiskPressure", "False", Duration::from_secs(90));
    node.create(&bound_pod(
        &ns,
        "admitted",
        &name,
        json!([sleeper("main")]),
        json!([]),
    ));
    node.wait_pod_ready(&ns, "admitted", Duration::from_secs(30));
}

/// EV-14 on the real machine: `pid.available` must stay 150 above what the node has free
/// when the test starts; a pod that starts 400 sleeping processes makes the node report
/// PIDPressure with the kubelet's reason, and the pod is evicted.
#[test]
fn cluster_ev_14_real_pid_pressure_is_reported_and_the_forking_pod_evicted() {
    let pid_max: i64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let threads: i64 = std::fs::read_to_string("/proc/loadavg")
        .unwrap()
        .split_whitespace()
        .nth(3)
        .and_then(|f| f.split_once('/'))
        .and_then(|(_, total)| total.parse().ok())
        .expect("the thread count in /proc/loadavg");
    let threshold = pid_max - threads - 150;
    let Some(mut node) = ClusterNode::new(
        "c-evpid",
        &format!(
            "evictionHard: {{pid.available: \"{threshold}\"}}\n\
             evictionPressureTransitionPeriod: 30s\n"
        ),
    ) else {
        return;
    };
    let name = node.name.clone();
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    node.wait_node_condition("PIDPressure", "False", Duration::from_secs(30));
    let ns = node.namespace();
    node.create(&bound_pod(
        &ns,
        "forker",
        &name,
        json!([container(
            "main",
            "i=0; while [ $i -lt 400 ]; do sleep 3600 & i=$((i+1)); done; trap 'exit 0' TERM; wait",
            json!({})
        )]),
        json!([]),
    ));
    let forker = node.wait_evicted(&ns, "forker", EVICTION_TIMEOUT);
    assert_disruption_target(&forker);
    // The condition stays for the transition period after the eviction.
    node.wait_node_condition("PIDPressure", "True", Duration::from_secs(20));
    let pressure = node.node_object().unwrap();
    let condition = node_condition(&pressure, "PIDPressure").unwrap();
    assert_eq!(
        condition["reason"], "KubeletHasInsufficientPID",
        "{condition}"
    );
    node.wait_node_condition("PIDPressure", "False", Duration::from_secs(90));
}
