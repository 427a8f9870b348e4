//! Reading a pod's runtime status from the CRI (the kubelet's `GetPodStatus` in
//! `kuberuntime_manager.go`), one pod at a time or in bulk.

use std::collections::{BTreeMap, HashMap};

use cri_client::{RuntimeService, v1};
use futures::future::try_join_all;
use tracing::Instrument;

use super::events::{PlegContainerState, PodStates};
use crate::labels;
use crate::plan::PodRuntimeStatus;
use crate::runtime_view::FromCri;

/// The label selector `io.kubernetes.pod.uid=<uid>`.
fn uid_selector(pod_uid: &str) -> HashMap<String, String> {
    HashMap::from([(labels::POD_UID.to_string(), pod_uid.to_string())])
}

/// Read everything the runtime reports about one pod: `ListPodSandbox` and `ListContainers`
/// filtered by the label `io.kubernetes.pod.uid=<uid>` (the kubelet's checklist CRI-12), then
/// `PodSandboxStatus` for each sandbox and `ContainerStatus` for each container, built with
/// [`PodRuntimeStatus::from_cri`].
///
/// A sandbox or container that vanishes between the list and its status call (`NotFound`)
/// is left out, not an error: it was removed, and the next look will say so. Any other
/// error fails the whole read, as the kubelet's `GetPodStatus` does.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use cri_client::fake::FakeRuntime;
/// use pod_lifecycle::pleg::pod_runtime_status;
///
/// let runtime = FakeRuntime::with_busybox();
/// let status = pod_runtime_status(&runtime, "no-such-pod").await?;
/// assert!(status.sandboxes.is_empty() && status.containers.is_empty());
/// # Ok::<(), cri_client::Error>(())
/// # }).unwrap();
/// ```
pub async fn pod_runtime_status(
    runtime: &dyn RuntimeService,
    pod_uid: &str,
) -> Result<PodRuntimeStatus, cri_client::Error> {
    async {
        let sandboxes = runtime
            .list_pod_sandbox(v1::ListPodSandboxRequest {
                filter: Some(v1::PodSandboxFilter {
                    label_selector: uid_selector(pod_uid),
                    ..Default::default()
                }),
            })
            .await?
            .items;
        let containers = runtime
            .list_containers(v1::ListContainersRequest {
                filter: Some(v1::ContainerFilter {
                    label_selector: uid_selector(pod_uid),
                    ..Default::default()
                }),
            })
            .await?
            .containers;
        inspect(runtime, pod_uid, &sandboxes, &containers).await
    }
    .instrument(tracing::debug_span!("pod_runtime_status", pod_uid = %pod_uid))
    .await
}

/// Read the runtime status of every pod the runtime knows: one [`RuntimeListing::fetch`]
/// (one `ListPodSandbox` and one `ListContainers`), then every pod's statuses. For an agent
/// adopting what runs after a restart. Fails on the first error other than `NotFound`.
pub async fn pod_runtime_statuses(
    runtime: &dyn RuntimeService,
) -> Result<BTreeMap<String, PodRuntimeStatus>, cri_client::Error> {
    let listing = RuntimeListing::fetch(runtime).await?;
    let mut out = BTreeMap::new();
    for uid in listing.pod_uids() {
        out.insert(uid.to_string(), listing.inspect(runtime, uid).await?);
    }
    Ok(out)
}

/// What one pod has in a [`RuntimeListing`]: its entries of the two list replies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListedPod {
    /// The pod's sandboxes, as `ListPodSandbox` returned them.
    pub sandboxes: Vec<v1::PodSandbox>,
    /// The pod's containers, as `ListContainers` returned them.
    pub containers: Vec<v1::Container>,
}

impl ListedPod {
    /// The PLEG state of every sandbox and container, from the list replies alone.
    pub fn states(&self) -> PodStates {
        let sandboxes = self
            .sandboxes
            .iter()
            .map(|s| (s.id.clone(), PlegContainerState::from_cri_sandbox(s.state)));
        let containers = self.containers.iter().map(|c| {
            (
                c.id.clone(),
                PlegContainerState::from_cri_container(c.state),
            )
        });
        sandboxes.chain(containers).collect()
    }
}

/// One unfiltered `ListPodSandbox` and one unfiltered `ListContainers`, grouped by pod UID:
/// the relist's view of the whole node, and the input of the bulk status read.
///
/// A sandbox belongs to the pod in its `metadata.uid` (the kubelet's `GetPods`), a container
/// to the pod in its `io.kubernetes.pod.uid` label or else to its sandbox's pod. Containers
/// that belong to no pod are left out: they were not made by a kubelet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeListing {
    pods: BTreeMap<String, ListedPod>,
}

impl RuntimeListing {
    /// List every sandbox and container: exactly two CRI calls.
    pub async fn fetch(runtime: &dyn RuntimeService) -> Result<Self, cri_client::Error> {
        let sandboxes = runtime
            .list_pod_sandbox(v1::ListPodSandboxRequest { filter: None })
            .await?
            .items;
        let containers = runtime
            .list_containers(v1::ListContainersRequest { filter: None })
            .await?
            .containers;
        Ok(Self::from_lists(sandboxes, containers))
    }

    /// Group list replies by pod UID.
    pub fn from_lists(sandboxes: Vec<v1::PodSandbox>, containers: Vec<v1::Container>) -> Self {
        let mut pods: BTreeMap<String, ListedPod> = BTreeMap::new();
        let mut sandbox_pod: HashMap<String, String> = HashMap::new();
        for s in sandboxes {
            let uid = s
                .metadata
                .as_ref()
                .map(|m| m.uid.clone())
                .filter(|u| !u.is_empty())
                .or_else(|| s.labels.get(labels::POD_UID).cloned())
                .unwrap_or_default();
            if uid.is_empty() {
                continue;
            }
            sandbox_pod.insert(s.id.clone(), uid.clone());
            pods.entry(uid).or_default().sandboxes.push(s);
        }
        for c in containers {
            let uid = c
                .labels
                .get(labels::POD_UID)
                .filter(|u| !u.is_empty())
                .or_else(|| sandbox_pod.get(&c.pod_sandbox_id))
                .cloned();
            if let Some(uid) = uid {
                pods.entry(uid).or_default().containers.push(c);
            }
        }
        RuntimeListing { pods }
    }

    /// The UIDs of every pod with at least one sandbox or container, in order.
    pub fn pod_uids(&self) -> impl Iterator<Item = &str> + '_ {
        self.pods.keys().map(String::as_str)
    }

    /// One pod's entries, if the runtime has any.
    pub fn pod(&self, pod_uid: &str) -> Option<&ListedPod> {
        self.pods.get(pod_uid)
    }

    /// Every pod's PLEG states.
    pub fn states(&self) -> BTreeMap<String, PodStates> {
        self.pods
            .iter()
            .map(|(uid, pod)| (uid.clone(), pod.states()))
            .collect()
    }

    /// Read one pod's statuses (`PodSandboxStatus` and `ContainerStatus` for each of its
    /// listed entries; `NotFound` skipped) without listing again. A pod absent from the
    /// listing gives an empty status.
    pub async fn inspect(
        &self,
        runtime: &dyn RuntimeService,
        pod_uid: &str,
    ) -> Result<PodRuntimeStatus, cri_client::Error> {
        let empty = ListedPod::default();
        let pod = self.pods.get(pod_uid).unwrap_or(&empty);
        inspect(runtime, pod_uid, &pod.sandboxes, &pod.containers)
            .instrument(tracing::debug_span!("inspect_pod", pod_uid = %pod_uid))
            .await
    }
}

/// Status calls for listed sandboxes and containers, all in flight at once; `NotFound` is
/// "removed in between" and skipped.
async fn inspect(
    runtime: &dyn RuntimeService,
    pod_uid: &str,
    sandboxes: &[v1::PodSandbox],
    containers: &[v1::Container],
) -> Result<PodRuntimeStatus, cri_client::Error> {
    let sandbox_statuses = try_join_all(sandboxes.iter().map(|s| async move {
        let reply = runtime
            .pod_sandbox_status(v1::PodSandboxStatusRequest {
                pod_sandbox_id: s.id.clone(),
                verbose: false,
            })
            .await;
        skip_not_found(reply.map(|r| r.status))
    }));
    let container_statuses = try_join_all(containers.iter().map(|c| async move {
        let reply = runtime
            .container_status(v1::ContainerStatusRequest {
                container_id: c.id.clone(),
                verbose: false,
            })
            .await;
        skip_not_found(reply.map(|r| r.status))
    }));
    let (sandboxes, containers) = futures::try_join!(sandbox_statuses, container_statuses)?;
    let sandboxes: Vec<_> = sandboxes.into_iter().flatten().collect();
    let mut containers: Vec<_> = containers.into_iter().flatten().collect();
    for status in &mut containers {
        // The termination message enriches the runtime's own message, as in the kubelet.
        if let Some(message) = super::message::termination_message(status) {
            if !status.message.is_empty() {
                status.message.push_str(": ");
            }
            status.message.push_str(&message);
        }
    }
    Ok(PodRuntimeStatus::from_cri(pod_uid, &sandboxes, &containers))
}

fn skip_not_found<T>(
    reply: Result<Option<T>, cri_client::Error>,
) -> Result<Option<T>, cri_client::Error> {
    match reply {
        Ok(status) => Ok(status),
        Err(e) if e.is_not_found() => {
            tracing::debug!(error = %e, "removed while being inspected; skipped");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
