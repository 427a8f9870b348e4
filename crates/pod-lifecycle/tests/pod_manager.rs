//! The pod manager on `FakeRuntime`: orphans are removed only once every source reported,
//! and only those this node created; housekeeping looks for orphaned volumes only then too.

use std::sync::Arc;

use cri_client::fake::FakeRuntime;
use cri_client::{RuntimeService, v1};
use k8s_openapi::api::core::v1::Pod;
use pod_lifecycle::housekeeping::Housekeeping;
use pod_lifecycle::labels;
use pod_lifecycle::pod_manager::{PodManager, PodManagerConfig};
use pod_lifecycle::worker::{
    ActivePods, MemoryEvents, MemoryStatusSink, MountContext, MountError, NoCgroups, PodHost,
    PodVolumes, PodWorkers, SeamError, SystemClock, WorkerConfig,
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

/// Pod volumes that only record each orphan pass's active pods.
#[derive(Clone, Default)]
struct RecordedOrphanPasses(Arc<std::sync::Mutex<Vec<std::collections::BTreeSet<String>>>>);

#[async_trait::async_trait]
impl PodVolumes for RecordedOrphanPasses {
    async fn mount(&self, _: &Pod) -> Result<(), MountError> {
        Ok(())
    }
    fn container_mounts(
        &self,
        _: &Pod,
        _: &k8s_openapi::api::core::v1::Container,
        _: &MountContext<'_>,
    ) -> Result<Vec<v1::Mount>, SeamError> {
        Ok(Vec::new())
    }
    async fn unmount(&self, _: &Pod) -> Result<(), SeamError> {
        Ok(())
    }
    async fn remove_orphans(
        &self,
        active: ActivePods,
    ) -> Result<(Vec<String>, Vec<SeamError>), SeamError> {
        self.0.lock().unwrap().push(active());
        Ok((Vec::new(), Vec::new()))
    }
}

/// Issue 19 (FT-01): a restarted agent's first housekeeping pass ran before the static pod
/// source had reported, took every pod directory on disk for an orphan and removed them
/// under the workers adopting those pods (their `etc-hosts` gone, the pods never ready
/// again). Like the kubelet, which skips `HandlePodCleanups` until every source is ready,
/// no orphaned volume is looked for before then, and afterwards the source's pods are
/// active.
#[tokio::test]
async fn ft_01_no_orphaned_volumes_removed_before_every_source_reported() {
    let fake = FakeRuntime::with_busybox();
    let volumes = RecordedOrphanPasses::default();
    let statuses = MemoryStatusSink::new();
    let host = PodHost {
        status: Arc::new(statuses.clone()),
        volumes: Arc::new(volumes.clone()),
        ..PodHost::new(Arc::new(fake.clone()), Arc::new(fake.clone()))
    };
    let workers = Arc::new(PodWorkers::new(host, WorkerConfig::default()));
    let manager = Arc::new(PodManager::new(
        workers,
        Arc::new(fake.clone()),
        Arc::new(statuses),
        Arc::new(SystemClock),
        PodManagerConfig {
            node_name: "node-a".into(),
            ..Default::default()
        },
    ));
    let housekeeping = Housekeeping::new(
        manager.clone(),
        Arc::new(volumes.clone()),
        Arc::new(NoCgroups),
    );

    housekeeping.run_once().await;
    assert!(
        volumes.0.lock().unwrap().is_empty(),
        "orphaned volumes looked for before the file source reported"
    );

    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "adopted-node-a", "namespace": "default", "uid": "adopted"},
        "spec": {"nodeName": "node-a", "containers": [{"name": "main", "image": "busybox"}]}
    }))
    .unwrap();
    manager.set_source_pods("file", vec![pod]);
    housekeeping.run_once().await;
    let passes = volumes.0.lock().unwrap().clone();
    assert_eq!(passes.len(), 1, "{passes:?}");
    assert!(passes[0].contains("adopted"), "{passes:?}");
}
