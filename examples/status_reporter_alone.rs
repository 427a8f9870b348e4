//! `status-reporter` alone, the way a virtual-kubelet provider uses it: a node registered with
//! made-up facts, and the pods bound to it reported Running at once, with no container runtime
//! at all. A pod being deleted is reported Succeeded (its containers `Completed`), and the
//! `PodStatusManager` removes it from the API server.
//!
//! It needs a cluster (here a node's kubeconfig, `system:node:vk1`):
//!
//! ```sh
//! NODE_NAME=vk1 cargo run --example status_reporter_alone -- \
//!     "$(cargo xtask cluster kubeconfig --node vk1)" --for 60
//! ```
//!
//! The node is tainted `virtual-kubelet.io/provider=example:NoSchedule`, so only pods that
//! tolerate it land there. On Ctrl-C, or after `--for` seconds, everything is stopped and
//! the Node deleted (with an admin's kubeconfig: `system:node:<name>` may not delete Nodes,
//! then the example says so).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, PodStatus, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DeleteParams};
use nodelet::status_reporter::{
    ApiPodSource, HostInfo, NodeConfig, NodeFacts, NodeReadiness, NodeStatusReporter,
    PodSourceUpdate, PodStatusManager, PodStatusManagerConfig, client_from_kubeconfig,
};
use serde_json::{Error, json};

/// The provider: it "runs" a pod by saying so.
struct Provider {
    manager: PodStatusManager,
    /// The pods it runs, by UID, and whether they were stopped.
    stopped: HashMap<String, bool>,
}

impl Provider {
    fn update(&mut self, update: PodSourceUpdate) -> Result<(), Error> {
        match update {
            PodSourceUpdate::Snapshot(pods) => {
                self.stopped
                    .retain(|uid, _| pods.iter().any(|p| uid_of(p) == uid));
                pods.iter().try_for_each(|pod| self.sync(pod))?;
            }
            PodSourceUpdate::Applied(pod) => self.sync(&pod)?,
            PodSourceUpdate::Deleted(pod) => {
                println!("pod {} deleted", name_of(&pod));
                self.stopped.remove(uid_of(&pod));
            }
        }
        // The kubelet's housekeeping: statuses of pods no longer bound here are forgotten.
        let known = self.stopped.keys().map(String::as_str);
        self.manager.remove_orphaned_statuses(known);
        Ok(())
    }

    /// "Starts" a pod seen for the first time, "stops" one marked for deletion.
    fn sync(&mut self, pod: &Pod) -> Result<(), Error> {
        let uid = uid_of(pod).to_owned();
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        // A pod that finished before we started has nothing left to run.
        if !self.stopped.contains_key(&uid) && !matches!(phase, Some("Succeeded" | "Failed")) {
            self.stopped.insert(uid.clone(), false);
            let status = pod_status(pod, None)?;
            let ip = status.pod_ip.clone().unwrap_or_default();
            self.manager.set_status(pod, status);
            println!("pod {} Running (podIP {ip})", name_of(pod));
        }
        if pod.metadata.deletion_timestamp.is_some() && self.stopped.get(&uid) == Some(&false) {
            self.stopped.insert(uid, true);
            self.manager.set_status(pod, pod_status(pod, Some(&now()))?);
            // Containers stopped, nothing to unmount: the status manager may delete the pod.
            self.manager.terminate_pod(pod);
            println!("pod {} terminated (exit 0, Completed)", name_of(pod));
        }
        Ok(())
    }
}

/// A plausible status built by hand: Running and Ready, or Succeeded once `finished`.
fn pod_status(pod: &Pod, finished: Option<&str>) -> Result<PodStatus, Error> {
    let (uid, running) = (uid_of(pod), finished.is_none());
    // Started when first reported (the start time the status manager wrote), else now.
    let start_time = pod.status.as_ref().and_then(|s| s.start_time.as_ref());
    let started = start_time.map_or_else(|| json!(now()), |t| json!(t));
    let containers: Vec<_> = (pod.spec.iter().flat_map(|s| &s.containers))
        .map(|c| {
            let id = format!("virtual://{uid}/{}", c.name);
            let state = match finished {
                None => json!({"running": {"startedAt": started}}),
                Some(at) => json!({"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": started, "finishedAt": at, "containerID": id}}),
            };
            json!({"name": c.name, "image": c.image, "imageID": id, "containerID": id,
                "state": state, "ready": running, "started": running, "restartCount": 0})
        })
        .collect();
    let ready = ["False", "True"][usize::from(running)];
    let reason = (!running).then_some("PodCompleted");
    // A made-up pod network, 10.250.0.0/16, an address per UID.
    let h = uid
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
    let ip = format!("10.250.{}.{}", (h >> 8) & 255, h % 254 + 1);
    serde_json::from_value(json!({
        "phase": if running { "Running" } else { "Succeeded" },
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": ready, "reason": reason},
            {"type": "Ready", "status": ready, "reason": reason},
        ],
        "podIP": ip, "podIPs": [{"ip": ip}], "startTime": started,
        "containerStatuses": containers,
    }))
}

/// What the node claims to have: nothing of it is measured.
fn virtual_facts() -> NodeFacts {
    let mut facts = NodeFacts {
        container_runtime_version: NodeFacts::container_runtime_version("virtual", "0.1"),
        readiness: NodeReadiness::ready(),
        ..NodeFacts::default()
    };
    let capacity = &mut facts.capacity;
    capacity.cpu = Some(Quantity("4".into()));
    capacity.memory = Some(Quantity("8Gi".into()));
    capacity.pods = Some(Quantity("110".into()));
    capacity.ephemeral_storage = Some(Quantity("100Gi".into()));
    facts
}

fn uid_of(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

fn name_of(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("-")
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `[KUBECONFIG] [--for SECONDS]`; `None` when there is no kubeconfig or the args are bad.
fn parse_args() -> Option<(PathBuf, Option<Duration>)> {
    let (mut kubeconfig, mut run_for) = (std::env::var_os("KUBECONFIG").map(PathBuf::from), None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--for" => run_for = Some(Duration::from_secs(args.next()?.parse().ok()?)),
            _ if arg.starts_with('-') => return None,
            _ => kubeconfig = Some(PathBuf::from(arg)),
        }
    }
    Some((kubeconfig?, run_for))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some((kubeconfig, run_for)) = parse_args() else {
        eprintln!("usage: status_reporter_alone [KUBECONFIG] [--for SECONDS]");
        eprintln!("  (or KUBECONFIG in the environment; NODE_NAME names the node)");
        std::process::exit(2);
    };
    let node = std::env::var("NODE_NAME")
        .unwrap_or_else(|_| format!("virtual-node-{}", std::process::id()));
    let client = client_from_kubeconfig(&kubeconfig).await?;

    let mut config = NodeConfig::new(&node);
    config.kubelet_version = "v1.37.2-virtual".into();
    let labels = &mut config.node_labels;
    labels.insert("type".into(), "virtual-kubelet".into());
    config.register_with_taints.push(Taint {
        key: "virtual-kubelet.io/provider".into(),
        value: Some("example".into()),
        effect: "NoSchedule".into(),
        time_added: None,
    });
    // A virtual node is no machine: its identity is made up too.
    let host = HostInfo {
        machine_id: format!("virtual-{node}"),
        kernel_version: "virtual".into(),
        os_image: "nodelet status_reporter_alone example".into(),
        ..HostInfo::default()
    };
    let (_facts, facts) = tokio::sync::watch::channel(virtual_facts());
    let reporter = NodeStatusReporter::start(client.clone(), config, host, facts)?;
    let (source, mut updates) = ApiPodSource::start(client.clone(), &node)?;
    let status_config = PodStatusManagerConfig::new(&node);
    let manager = PodStatusManager::start(client.clone(), status_config, source.pods())?;
    let stopped = HashMap::new();
    let mut provider = Provider {
        manager: manager.clone(),
        stopped,
    };

    {
        let deadline = tokio::time::sleep(run_for.unwrap_or_default());
        let (ctrl_c, registered) = (tokio::signal::ctrl_c(), reporter.wait_for_node());
        tokio::pin!(deadline, ctrl_c, registered);
        let mut announced = false;
        loop {
            tokio::select! {
                _ = &mut ctrl_c => break,
                () = &mut deadline, if run_for.is_some() => break,
                seen = &mut registered, if !announced => {
                    announced = true;
                    let uid = seen.and_then(|n| n.metadata.uid).unwrap_or_default();
                    println!("node {node} registered (uid {uid}), reported Ready");
                }
                update = updates.recv() => match update {
                    Some(update) => provider.update(update)?,
                    None => break,
                },
            }
        }
    }

    println!("shutting down; requests sent: {:?}", manager.stats());
    manager.shutdown().await;
    source.shutdown().await;
    reporter.shutdown().await;
    // The reporter leaves the Node in place (a restarted agent adopts it); a provider going
    // away for good deletes it, as an admin would.
    let params = DeleteParams::default();
    match Api::<Node>::all(client).delete(&node, &params).await {
        Ok(_) => println!("node {node} deleted"),
        Err(kube::Error::Api(status)) if status.is_forbidden() => println!(
            "node {node} not deleted: this identity may not delete Nodes ({}); \
             delete it as the admin",
            status.message
        ),
        Err(e) => println!("node {node} not deleted: {e}"),
    }
    Ok(())
}
