//! [`NodeStatusReporter`]: the three loops of one node, started together and stopped together.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::config::{NODE_LEASE_NAMESPACE, NodeConfig};
use crate::error::{Error, Result};
use crate::events::EventRecorder;
use crate::facts::NodeFacts;
use crate::host::{HostInfo, validate_node_ips};
use crate::lease::LeaseLoop;
use crate::node_watch::{NodeView, watch_node};
use crate::status_loop::StatusLoop;

/// Registers a node and keeps its status and lease current until it is shut down.
///
/// Three tokio tasks, each in a `tracing` span naming the node:
/// - `node_watch`: the Node as the API server has it (a watch on its name);
/// - `node_status`: registration ([`NodeConfig::register_node`]), then the status every
///   [`NodeConfig::node_status_update_frequency`], patched when it changed or every
///   [`NodeConfig::node_status_report_frequency`]; registers the Node again if it is deleted;
/// - `node_lease`: the lease, renewed every quarter of
///   [`NodeConfig::node_lease_duration_seconds`].
///
/// The tasks are owned: [`NodeStatusReporter::shutdown`] cancels them and waits for them;
/// dropping the reporter, or cancelling the parent token of
/// [`NodeStatusReporter::start_with_cancellation`], cancels them too. Errors inside the loops
/// are logged and retried, as the kubelet does; only bad configuration fails
/// [`NodeStatusReporter::start`]. Shutting down leaves the Node and its lease in place: the
/// node lifecycle controller marks the node NotReady when the lease expires, and a restarted
/// agent adopts both.
#[derive(Debug)]
pub struct NodeStatusReporter {
    node_name: String,
    cancel: CancellationToken,
    tracker: TaskTracker,
    view: watch::Receiver<NodeView>,
}

impl NodeStatusReporter {
    /// Checks `config` and starts the loops on the current tokio runtime. `facts` is the
    /// agent's channel of [`NodeFacts`]; its latest value is read at every sync.
    ///
    /// Fails before any request on a configuration the API server would refuse or the loops
    /// cannot run with: forbidden or malformed node labels, bad taints, a node IP that is not
    /// this host's, zero frequencies ([`NodeConfig::validate`]); and outside a tokio runtime.
    pub fn start(
        client: Client,
        config: NodeConfig,
        host: HostInfo,
        facts: watch::Receiver<NodeFacts>,
    ) -> Result<NodeStatusReporter> {
        NodeStatusReporter::start_with_cancellation(
            client,
            config,
            host,
            facts,
            &CancellationToken::new(),
        )
    }

    /// [`NodeStatusReporter::start`], with loops that also stop when `parent` is cancelled
    /// (they run under a child token of it), so an agent can stop everything with one token
    /// and then await each part's [`NodeStatusReporter::shutdown`].
    pub fn start_with_cancellation(
        client: Client,
        config: NodeConfig,
        host: HostInfo,
        facts: watch::Receiver<NodeFacts>,
        parent: &CancellationToken,
    ) -> Result<NodeStatusReporter> {
        Self::start_inner(client, config, host, facts, parent, None)
    }

    /// [`NodeStatusReporter::start_with_cancellation`], recording the node's events through
    /// `events` as the kubelet does: condition transitions once the node has been Ready
    /// (the first conditions are [`EventRecorder::record_node_conditions`]'s), a reboot, and
    /// a cordon or uncordon (`NodeNotSchedulable`, `NodeSchedulable`) within a status update
    /// period. Without it they are only logged.
    pub fn start_with_events(
        client: Client,
        config: NodeConfig,
        host: HostInfo,
        facts: watch::Receiver<NodeFacts>,
        parent: &CancellationToken,
        events: EventRecorder,
    ) -> Result<NodeStatusReporter> {
        Self::start_inner(client, config, host, facts, parent, Some(events))
    }

    fn start_inner(
        client: Client,
        config: NodeConfig,
        host: HostInfo,
        facts: watch::Receiver<NodeFacts>,
        parent: &CancellationToken,
        events: Option<EventRecorder>,
    ) -> Result<NodeStatusReporter> {
        config.validate()?;
        validate_node_ips(&config.node_name, &config.node_ips)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime {
            node: config.node_name.clone(),
        })?;
        let node_name = config.node_name.clone();
        let cancel = parent.child_token();
        let tracker = TaskTracker::new();
        let (view_tx, view) = watch::channel(NodeView::Unknown);
        let nodes: Api<Node> = Api::all(client.clone());

        let watch_span = tracing::info_span!("node_watch", node = %node_name);
        tracker.spawn_on(
            watch_node(nodes.clone(), node_name.clone(), view_tx, cancel.clone())
                .instrument(watch_span),
            &runtime,
        );

        let lease = LeaseLoop {
            leases: Api::<Lease>::namespaced(client, NODE_LEASE_NAMESPACE),
            nodes: nodes.clone(),
            view: view.clone(),
            node_name: node_name.clone(),
            duration_seconds: config.node_lease_duration_seconds,
            renew_interval: config.lease_renew_interval(),
            timeout: config.heartbeat_timeout(),
            latest: None,
            waiting_for_node: false,
        };
        let lease_span = tracing::info_span!("node_lease", node = %node_name);
        tracker.spawn_on(lease.run(cancel.clone()).instrument(lease_span), &runtime);

        let status = StatusLoop::new(nodes, config, host, facts, view.clone(), events);
        let status_span = tracing::info_span!("node_status", node = %node_name);
        tracker.spawn_on(status.run(cancel.clone()).instrument(status_span), &runtime);
        tracker.close();

        Ok(NodeStatusReporter {
            node_name,
            cancel,
            tracker,
            view,
        })
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// The Node as last seen by the reporter's watch; `None` before it was listed or while it
    /// does not exist.
    pub fn node(&self) -> Option<Node> {
        self.view.borrow().node().cloned()
    }

    /// Waits until the watch has seen the Node exist, or `cancel`led. Returns the Node.
    pub async fn wait_for_node(&self) -> Option<Node> {
        let mut view = self.view.clone();
        let found = view.wait_for(|v| v.node().is_some());
        tokio::select! {
            () = self.cancel.cancelled() => None,
            found = found => found.ok().and_then(|v| v.node().cloned()),
        }
    }

    /// Stops the loops and waits for them to end. In-flight requests are abandoned; nothing is
    /// deleted.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.wait().await;
        tracing::debug!(node = %self.node_name, "status reporter stopped");
    }
}

impl Drop for NodeStatusReporter {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
