//! The node status loop: register when needed, then compute the status every
//! `nodeStatusUpdateFrequency` and patch it when it changed or the report period expired
//! (`syncNodeStatus`, `registerWithAPIServer`, `updateNodeStatus`, `fastStatusUpdateOnce` in
//! `pkg/kubelet/kubelet_node_status.go` and `kubelet.go`).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, NodeAddress};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cadence::{ReportCadence, jittered_deadline};
use crate::conditions::{READY, TRUE};
use crate::config::{NODE_READY_GRACE_PERIOD, NodeConfig};
use crate::error::{
    Error, Result, api_source, is_already_exists, is_forbidden, is_not_found, timed,
};
use crate::events::EventRecorder;
use crate::facts::NodeFacts;
use crate::host::{HostInfo, node_addresses};
use crate::node::{
    NodeEvent, NodeInputs, NodeUpdate, initial_node, reconcile_existing_node, update_node,
};
use crate::node_watch::NodeView;
use crate::patch::node_status_patch;

/// Tries of one status update (`nodeStatusUpdateRetry`).
pub const NODE_STATUS_UPDATE_TRIES: u32 = 5;
/// The longest wait between two registration attempts.
const REGISTER_MAX_BACKOFF: Duration = Duration::from_secs(7);
/// The jitter factor of the status loop.
const JITTER: f64 = 0.04;

pub(crate) struct StatusLoop {
    pub(crate) nodes: Api<Node>,
    pub(crate) config: NodeConfig,
    pub(crate) host: HostInfo,
    pub(crate) facts: watch::Receiver<NodeFacts>,
    pub(crate) view: watch::Receiver<NodeView>,
    /// `status.addresses`, found on the first sync that can.
    pub(crate) addresses: Vec<NodeAddress>,
    /// The Node exists as far as this loop knows (`registrationCompleted`).
    pub(crate) registered: bool,
    pub(crate) cadence: ReportCadence,
    /// The Node as the API server last answered this loop (create, get or patch).
    pub(crate) latest: Option<Node>,
    /// Ready has been reported once: the fast start-up updates are over.
    pub(crate) reported_ready: bool,
    pub(crate) started: Instant,
    /// Where node events go (`None`: logged only).
    pub(crate) events: Option<EventRecorder>,
    /// `spec.unschedulable` as last recorded (the kubelet's `lastNodeUnschedulable`,
    /// false at start).
    pub(crate) last_unschedulable: bool,
}

impl StatusLoop {
    pub(crate) fn new(
        nodes: Api<Node>,
        config: NodeConfig,
        host: HostInfo,
        facts: watch::Receiver<NodeFacts>,
        view: watch::Receiver<NodeView>,
        events: Option<EventRecorder>,
    ) -> StatusLoop {
        StatusLoop {
            events,
            last_unschedulable: false,
            cadence: ReportCadence::new(config.node_status_report_frequency),
            nodes,
            config,
            host,
            facts,
            view,
            addresses: Vec::new(),
            registered: false,
            latest: None,
            reported_ready: false,
            started: Instant::now(),
        }
    }

    fn name(&self) -> &str {
        &self.config.node_name
    }

    /// Syncs until `cancel`: every `nodeStatusUpdateFrequency` (jittered, from the end of the
    /// previous sync); at once when the watch sees the Node deleted; and, until Ready has been
    /// reported (for at most [`NODE_READY_GRACE_PERIOD`]), on every change of the facts, the
    /// way `fastStatusUpdateOnce` polls every 100 ms so a starting node turns Ready without
    /// waiting for the next period.
    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        let (mut facts_open, mut view_open) = (true, true);
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                () = self.sync(&cancel) => {}
            }
            let deadline = jittered_deadline(self.config.node_status_update_frequency, JITTER);
            loop {
                let fast = !self.reported_ready && self.started.elapsed() < NODE_READY_GRACE_PERIOD;
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep_until(deadline) => break,
                    changed = self.facts.changed(), if facts_open && fast => {
                        match changed {
                            Ok(()) => break,
                            Err(_) => facts_open = false,
                        }
                    }
                    changed = self.view.changed(), if view_open => {
                        match changed {
                            Ok(()) if self.view_calls_for_sync() => break,
                            Ok(()) => {}
                            Err(_) => view_open = false,
                        }
                    }
                }
            }
        }
    }

    /// Whether a change of the watched Node calls for a sync now: the Node this loop
    /// registered is gone, or (without registration) the Node appeared.
    fn view_calls_for_sync(&self) -> bool {
        match &*self.view.borrow() {
            NodeView::Absent => self.registered,
            NodeView::Present(_) => !self.config.register_node && self.latest.is_none(),
            NodeView::Unknown => false,
        }
    }

    /// One sync (`syncNodeStatus`): find the addresses if not yet known, register if needed,
    /// update the status. A Node found missing is registered again right away.
    async fn sync(&mut self, cancel: &CancellationToken) {
        if self.addresses.is_empty() {
            self.find_addresses().await;
        }
        for _ in 0..2 {
            if self.config.register_node && !self.registered {
                self.register(cancel).await;
                if !self.registered {
                    return;
                }
            }
            match self.update_status().await {
                Ok(()) => return,
                Err(Error::NodeNotFound { .. }) if self.config.register_node => {
                    tracing::info!("the Node was deleted; registering it again");
                    self.registered = false;
                    self.latest = None;
                    self.cadence.reset();
                }
                Err(e) => {
                    tracing::error!(error = %e, "unable to update node status");
                    return;
                }
            }
        }
    }

    async fn find_addresses(&mut self) {
        let (name, hostname, ips) = (
            self.config.node_name.clone(),
            self.config.hostname.clone(),
            self.config.node_ips.clone(),
        );
        match tokio::task::spawn_blocking(move || node_addresses(&name, &hostname, &ips)).await {
            Ok(Ok(addresses)) => self.addresses = addresses,
            Ok(Err(e)) => tracing::error!(error = %e, "failed to set some node status fields"),
            Err(e) => tracing::error!(error = %e, "finding the node's addresses failed"),
        }
    }

    /// Registers until it succeeds or `cancel` (`registerWithAPIServer`), waiting 100 ms
    /// doubling to 7 s between attempts.
    async fn register(&mut self, cancel: &CancellationToken) {
        let mut step = Duration::from_millis(100);
        loop {
            let facts = self.facts.borrow_and_update().clone();
            let inputs = NodeInputs {
                config: &self.config,
                host: &self.host,
                facts: &facts,
                addresses: &self.addresses,
            };
            let node = initial_node(&inputs, Timestamp::now());
            tracing::info!("attempting to register node");
            match try_register(&self.nodes, &node).await {
                Ok(registered) => {
                    tracing::info!(uid = ?registered.metadata.uid, "successfully registered node");
                    self.registered = true;
                    self.reported_ready |= is_ready(&registered);
                    self.latest = Some(registered);
                    return;
                }
                Err(e) => tracing::error!(error = %e, "unable to register node with API server"),
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(step) => {}
            }
            step = (step * 2).min(REGISTER_MAX_BACKOFF);
        }
    }

    /// Up to [`NODE_STATUS_UPDATE_TRIES`] tries (`updateNodeStatus`).
    async fn update_status(&mut self) -> Result<()> {
        for attempt in 0..NODE_STATUS_UPDATE_TRIES {
            match self.try_update_status(attempt).await {
                Ok(()) => return Ok(()),
                Err(e @ Error::NodeNotFound { .. }) => return Err(e),
                Err(e) => {
                    tracing::error!(error = %e, attempt, "error updating node status, will retry")
                }
            }
        }
        Err(Error::StatusRetriesExhausted {
            node: self.name().to_owned(),
            tries: NODE_STATUS_UPDATE_TRIES,
        })
    }

    /// One try (`tryUpdateNodeStatus`): the first reads the Node from the watch (or from the
    /// last answer, whichever is newer), later ones from the API server; the status is
    /// computed, and patched only when it changed or the report period expired.
    async fn try_update_status(&mut self, attempt: u32) -> Result<()> {
        let original = match (attempt, self.cached_node()) {
            (0, Some(node)) => node,
            _ => self.get_node().await?,
        };
        let facts = self.facts.borrow_and_update().clone();
        let inputs = NodeInputs {
            config: &self.config,
            host: &self.host,
            facts: &facts,
            addresses: &self.addresses,
        };
        let NodeUpdate {
            node,
            changed,
            events,
        } = update_node(&original, &inputs, Timestamp::now());
        // Like the kubelet's setter, on every sync whether or not a patch follows: a cordon
        // changes no status, yet is announced within a status update period.
        let unschedulable = original
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        if unschedulable != self.last_unschedulable {
            self.last_unschedulable = unschedulable;
            self.record(
                &original,
                vec![NodeEvent::Schedulable {
                    schedulable: !unschedulable,
                }],
            );
        }
        let now = Instant::now().into_std();
        if !self.cadence.should_report(changed, now) {
            return Ok(());
        }
        self.cadence.before_report(changed, fastrand::f64());
        let Some(patch) = node_status_patch(&original, &node)? else {
            // Nothing differs at all (not even a heartbeat): nothing to send.
            self.cadence.reported(now);
            return Ok(());
        };
        let params = PatchParams::default();
        let patch = Patch::Strategic(patch);
        let patched = timed(
            self.name(),
            "patching the node status",
            self.config.heartbeat_timeout(),
            self.nodes.patch_status(self.name(), &params, &patch),
        )
        .await
        .map_err(|e| {
            if api_source(&e).is_some_and(is_not_found) {
                Error::NodeNotFound {
                    node: self.name().to_owned(),
                }
            } else {
                e
            }
        })?;
        self.cadence.reported(now);
        tracing::debug!(changed, "patched the node status");
        if is_ready(&patched) && !self.reported_ready {
            tracing::info!("the node is ready");
            self.reported_ready = true;
            // The node's first conditions are announced together once it is Ready
            // (`EventRecorder::record_node_conditions`): only later transitions go here.
            log_events(&events);
        } else {
            self.record(&patched, events);
        }
        self.latest = Some(patched);
        Ok(())
    }

    /// The newest copy known without a request: the watch's, or the last answer when it is
    /// newer (the watch lags a patch by a few milliseconds). `None` when the watch has not
    /// listed yet and nothing was answered, or the watch says the Node is gone.
    fn cached_node(&self) -> Option<Node> {
        let view = self.view.borrow();
        match (&*view, &self.latest) {
            (NodeView::Absent, _) => None,
            (NodeView::Unknown, latest) => latest.clone(),
            (NodeView::Present(watched), None) => Some((**watched).clone()),
            (NodeView::Present(watched), Some(latest)) => {
                let newer = latest.metadata.uid == watched.metadata.uid
                    && resource_version(latest) > resource_version(watched);
                Some(if newer {
                    latest.clone()
                } else {
                    (**watched).clone()
                })
            }
        }
    }

    async fn get_node(&mut self) -> Result<Node> {
        let found = timed(
            self.name(),
            "getting the node",
            self.config.heartbeat_timeout(),
            self.nodes.get_opt(self.name()),
        )
        .await?;
        let node = found.ok_or_else(|| Error::NodeNotFound {
            node: self.name().to_owned(),
        })?;
        self.latest = Some(node.clone());
        Ok(node)
    }
}

/// One registration attempt (`tryRegisterWithAPIServer`): create the Node; when it exists
/// (or creating is forbidden, since the Node may exist all the same), read it and reconcile
/// it with `node` ([`reconcile_existing_node`]), patching it when that changed something.
/// Returns the Node as the API server has it.
pub async fn try_register(nodes: &Api<Node>, node: &Node) -> Result<Node> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let api_error = |action, source| Error::Api {
        node: name.clone(),
        action,
        source,
    };
    let create_error = match nodes.create(&PostParams::default(), node).await {
        Ok(created) => return Ok(created),
        Err(e) if is_already_exists(&e) || is_forbidden(&e) => e,
        Err(e) => return Err(api_error("creating the node", e)),
    };
    let existing = match nodes.get_opt(&name).await {
        Ok(Some(existing)) => existing,
        // Forbidden to create and not there: the refusal is the error worth reporting.
        Ok(None) => return Err(api_error("creating the node", create_error)),
        Err(e) => return Err(api_error("getting the existing node", e)),
    };
    tracing::info!("node was previously registered");
    let mut reconciled = existing.clone();
    if !reconcile_existing_node(node, &mut reconciled) {
        return Ok(existing);
    }
    let Some(patch) = node_status_patch(&existing, &reconciled)? else {
        return Ok(existing);
    };
    nodes
        .patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .map_err(|e| api_error("reconciling the existing node", e))
}

impl StatusLoop {
    /// Logs `events` and records them as Events of `node` when the loop has a recorder.
    fn record(&self, node: &Node, events: Vec<NodeEvent>) {
        if events.is_empty() {
            return;
        }
        log_events(&events);
        if let Some(recorder) = &self.events {
            recorder.record_node_events(&crate::events::node_reference_of(node), &events);
        }
    }
}

/// The events the kubelet would record, logged.
fn log_events(events: &[NodeEvent]) {
    for event in events {
        match event {
            NodeEvent::Rebooted { boot_id } => {
                tracing::warn!(%boot_id, "node has been rebooted");
            }
            other => {
                let reason = other.reason();
                tracing::info!(event = reason, "node status is now: {reason}");
            }
        }
    }
}

fn resource_version(node: &Node) -> u64 {
    node.metadata
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0)
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == READY && c.status == TRUE))
}
