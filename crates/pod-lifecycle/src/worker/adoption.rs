//! What the runtime already runs for this node when the agent starts.

use cri_client::{RuntimeService, v1};

/// Whether the runtime already runs containers in sandboxes this node's agent created
/// (labelled [`NODE_NAME`](crate::labels::NODE_NAME) = `node_name`): the agent restarted
/// and adopts them. This is what
/// the probes crate's `ProbeManagerBuilder::agent_restarted` wants to know, so the probes of a full node are spread over their first period instead
/// of all running at once.
pub async fn runs_containers_of_node(
    runtime: &dyn RuntimeService,
    node_name: &str,
) -> cri_client::Result<bool> {
    let sandboxes = runtime
        .list_pod_sandbox(v1::ListPodSandboxRequest {
            filter: Some(v1::PodSandboxFilter {
                label_selector: [(crate::labels::NODE_NAME.to_string(), node_name.to_string())]
                    .into(),
                ..Default::default()
            }),
        })
        .await?
        .items;
    if sandboxes.is_empty() {
        return Ok(false);
    }
    let containers = runtime
        .list_containers(v1::ListContainersRequest {
            filter: Some(v1::ContainerFilter {
                state: Some(v1::ContainerStateValue {
                    state: v1::ContainerState::ContainerRunning as i32,
                }),
                ..Default::default()
            }),
        })
        .await?
        .containers;
    Ok(containers
        .iter()
        .any(|c| sandboxes.iter().any(|s| s.id == c.pod_sandbox_id)))
}
