//! The pod manager on `FakeRuntime`: orphans are removed only once every source reported,
//! and only those this node created.

use std::sync::Arc;

use cri_client::fake::FakeRuntime;
use cri_client::{RuntimeService, v1};
use pod_lifecycle::labels;
use pod_lifecycle::pod_manager::{PodManager, PodManagerConfig};
use pod_lifecycle::worker::{
    MemoryEvents, MemoryStatusSink, PodHost, PodWorkers, SystemClock, WorkerConfig,
};

async fn sandbox(fake: &FakeRuntime, uid: &str, node: &str) -> String {
    let config = v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: format!("orphan-{uid}"),
            namespace: "default".into(),
            uid: uid.into(),
            attempt: 0,
        }),
        labels: [
            (labels::POD_UID.to_string(), uid.to_string()),
            (labels::NODE_NAME.to_string(), node.to_string()),
        ]
        .into(),
        ..Default::default()
    };
    fake.run_pod_sandbox(v1::RunPodSandboxRequest {
        config: Some(config),
        runtime_handler: String::new(),
    })
    .await
    .unwrap()
    .pod_sandbox_id
}

async fn sandbox_ids(fake: &FakeRuntime) -> Vec<String> {
    let mut ids: Vec<String> = fake
        .list_pod_sandbox(v1::ListPodSandboxRequest::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn tm_10_orphans_removed_after_sources_ready_and_only_this_nodes() {
    let fake = FakeRuntime::with_busybox();
    let mine = sandbox(&fake, "gone-pod", "node-a").await;
    let theirs = sandbox(&fake, "other-agent-pod", "node-b").await;
    let statuses = MemoryStatusSink::new();
    let host = PodHost {
        status: Arc::new(statuses.clone()),
        events: Arc::new(MemoryEvents::new()),
        clock: Arc::new(SystemClock),
        ..PodHost::new(Arc::new(fake.clone()), Arc::new(fake.clone()))
    };
    let workers = Arc::new(PodWorkers::new(host, WorkerConfig::default()));
    let manager = PodManager::new(
        workers,
        Arc::new(fake.clone()),
        Arc::new(statuses),
        Arc::new(SystemClock),
        PodManagerConfig {
            node_name: "node-a".into(),
            ..Default::default()
        },
    );

    // Before the file source reported, nothing is removed: the agent may not have read
    // the manifest that owns the sandbox yet.
    manager.housekeeping().await;
    let mut both = vec![mine.clone(), theirs.clone()];
    both.sort();
    assert_eq!(sandbox_ids(&fake).await, both);

    manager.set_source_pods("file", Vec::new());
    manager.housekeeping().await;
    assert_eq!(
        sandbox_ids(&fake).await,
        [theirs],
        "only this node's orphan is removed"
    );
}
