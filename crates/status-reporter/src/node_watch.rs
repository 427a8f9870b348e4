//! The reporter's view of its own Node: a watch of `nodes` with the field selector
//! `metadata.name=<node>` (what the Node authorizer lets a node list and watch), like the
//! kubelet's node informer. The status loop reads the Node from it instead of a GET on every
//! sync, and learns from it that the Node was deleted.

use std::sync::Arc;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::runtime::WatchStreamExt as _;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What the watch knows about the Node.
#[derive(Debug, Clone, Default)]
pub(crate) enum NodeView {
    /// Not listed yet.
    #[default]
    Unknown,
    /// Listed, and not there (or deleted since).
    Absent,
    /// The latest copy.
    Present(Arc<Node>),
}

impl NodeView {
    pub(crate) fn node(&self) -> Option<&Node> {
        match self {
            NodeView::Present(node) => Some(node),
            NodeView::Unknown | NodeView::Absent => None,
        }
    }
}

/// Runs the watch until `cancel`, publishing every change on `view`. Errors are retried with
/// kube-runtime's default back-off (800 ms growing to 30 s).
pub(crate) async fn watch_node(
    nodes: Api<Node>,
    name: String,
    view: watch::Sender<NodeView>,
    cancel: CancellationToken,
) {
    let stream = kube::runtime::watcher::watch_object(nodes, &name).default_backoff();
    let mut stream = std::pin::pin!(stream);
    loop {
        let item = tokio::select! {
            () = cancel.cancelled() => return,
            item = stream.next() => item,
        };
        match item {
            Some(Ok(Some(node))) => {
                view.send_replace(NodeView::Present(Arc::new(node)));
            }
            Some(Ok(None)) => {
                tracing::debug!("the Node is absent");
                view.send_replace(NodeView::Absent);
            }
            Some(Err(e)) => tracing::warn!(error = %e, "watching the Node failed; retrying"),
            None => return,
        }
    }
}
