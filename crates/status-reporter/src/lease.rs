//! The node lease: the heartbeat the node lifecycle controller watches
//! (`k8s.io/component-helpers/apimachinery/lease/controller.go`, with the kubelet's
//! `util.SetNodeOwnerFunc`).
//!
//! A `coordination.k8s.io/v1` Lease in `kube-node-lease` named after the node, held by the
//! node, with `leaseDurationSeconds` and a `renewTime`, owned by the Node so that deleting the
//! Node deletes it. It is renewed on its own timer, every quarter of its duration (10 s),
//! whatever the node status does: the lease says the node agent is alive, the status says
//! whether the node is healthy.
//!
//! Renewal follows the lease controller:
//! - renew from the copy last written (a PUT carrying its resourceVersion, no GET), up to 5
//!   tries in a row;
//! - on a conflict, or when those tries fail, fall back to "ensure": GET, and create on
//!   NotFound, retried with a back-off from 200 ms doubling to 7 s;
//! - creation waits for the Node: the owner reference needs its UID, and without it the
//!   lease is not created this round.
//!
//! Two differences, both named where they are made: the owner reference is also corrected
//! when the Node was registered again under a new UID (the lease controller only sets a
//! missing one, and leaves the garbage collector to delete the stale lease first), and a
//! round that could not create the lease for want of the Node is retried as soon as the Node
//! appears rather than a renew interval later.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cadence::jittered_deadline;
use crate::error::{Error, Result, api_source, is_conflict, timed};
use crate::node_watch::NodeView;

/// Immediate tries of one renewal (`maxUpdateRetries`).
pub const LEASE_UPDATE_TRIES: u32 = 5;
/// The longest wait between two tries of ensuring the lease (`maxBackoff`).
pub const LEASE_MAX_BACKOFF: Duration = Duration::from_secs(7);
/// The jitter factor of the renew loop (`wait.JitterUntil(..., 0.04, true)`).
const JITTER: f64 = 0.04;

pub(crate) struct LeaseLoop {
    pub(crate) leases: Api<Lease>,
    pub(crate) nodes: Api<Node>,
    pub(crate) view: watch::Receiver<NodeView>,
    pub(crate) node_name: String,
    pub(crate) duration_seconds: i32,
    pub(crate) renew_interval: Duration,
    /// The timeout of each request ([`NodeConfig::heartbeat_timeout`](crate::NodeConfig::heartbeat_timeout)).
    pub(crate) timeout: Duration,
    /// The lease as last written (`latestLease`).
    pub(crate) latest: Option<Lease>,
    /// The last round could not create the lease because the Node was not there.
    pub(crate) waiting_for_node: bool,
}

impl LeaseLoop {
    /// Renews until `cancel` (`wait.JitterUntil(sync, renewInterval, 0.04, sliding)`).
    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        let mut view_open = true;
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                () = self.sync(&cancel) => {}
            }
            let deadline = jittered_deadline(self.renew_interval, JITTER);
            loop {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep_until(deadline) => break,
                    changed = self.view.changed(), if view_open && self.waiting_for_node => {
                        match changed {
                            Ok(()) if self.view.borrow().node().is_some() => break,
                            Ok(()) => {}
                            Err(_) => view_open = false,
                        }
                    }
                }
            }
        }
    }

    /// One renewal round (`controller.sync`).
    async fn sync(&mut self, cancel: &CancellationToken) {
        if let Some(latest) = self.latest.clone() {
            match self.retry_update(latest, cancel).await {
                Ok(()) => return,
                Err(e) => tracing::info!(
                    error = %e,
                    "failed to update lease using latest lease, fallback to ensure lease"
                ),
            }
        }
        let (lease, created) = self.backoff_ensure(cancel).await;
        self.latest.clone_from(&lease);
        if let (Some(lease), false) = (lease, created)
            && let Err(e) = self.retry_update(lease, cancel).await
        {
            tracing::error!(
                error = %e,
                interval = ?self.renew_interval,
                "will retry updating lease"
            );
        }
    }

    /// Ensures the lease exists, retrying with back-off until it does or `cancel`
    /// (`backoffEnsureLease`). Returns the lease, and whether this call created it.
    async fn backoff_ensure(&mut self, cancel: &CancellationToken) -> (Option<Lease>, bool) {
        let mut sleep = Duration::from_millis(100);
        loop {
            match self.ensure().await {
                Ok(found) => return found,
                Err(e) => {
                    sleep = (sleep * 2).min(LEASE_MAX_BACKOFF);
                    tracing::error!(error = %e, interval = ?sleep, "failed to ensure lease exists, will retry");
                    tokio::select! {
                        () = cancel.cancelled() => return (None, false),
                        () = tokio::time::sleep(sleep) => {}
                    }
                }
            }
        }
    }

    /// GET the lease; create it on NotFound (`ensureLease`). `(None, false)` when it could not
    /// be built for want of the Node.
    async fn ensure(&mut self) -> Result<(Option<Lease>, bool)> {
        let found = timed(
            &self.node_name,
            "getting the lease",
            self.timeout,
            self.leases.get_opt(&self.node_name),
        )
        .await?;
        if let Some(lease) = found {
            return Ok((Some(lease), false));
        }
        let Some(lease) = self.new_lease(None).await else {
            return Ok((None, false));
        };
        let created = timed(
            &self.node_name,
            "creating the lease",
            self.timeout,
            self.leases.create(&PostParams::default(), &lease),
        )
        .await?;
        tracing::info!("created the node lease");
        Ok((Some(created), true))
    }

    /// Renews from `base`, up to [`LEASE_UPDATE_TRIES`] times (`retryUpdateLease`); a conflict
    /// re-reads the lease first.
    async fn retry_update(&mut self, base: Lease, cancel: &CancellationToken) -> Result<()> {
        let mut base = Some(base);
        for _ in 0..LEASE_UPDATE_TRIES {
            let Some(lease) = self.new_lease(base.as_ref()).await else {
                tracing::error!("failed to prepare lease: the Node's UID is not known");
                continue;
            };
            let params = PostParams::default();
            let renewal = timed(
                &self.node_name,
                "renewing the lease",
                self.timeout,
                self.leases.replace(&self.node_name, &params, &lease),
            );
            match renewal.await {
                Ok(renewed) => {
                    tracing::trace!("renewed the node lease");
                    self.latest = Some(renewed);
                    return Ok(());
                }
                Err(e) => {
                    tracing::error!(error = %e, "failed to update lease");
                    if api_source(&e).is_some_and(is_conflict) {
                        base = self.backoff_ensure(cancel).await.0;
                    }
                    if cancel.is_cancelled() {
                        break;
                    }
                }
            }
        }
        Err(Error::LeaseRetriesExhausted {
            node: self.node_name.clone(),
            tries: LEASE_UPDATE_TRIES,
        })
    }

    /// A new lease, or a copy of `base`, with the duration, a fresh `renewTime` and the owner
    /// reference (`newLease` with `SetNodeOwnerFunc`). `None` when the owner reference is
    /// needed and the Node cannot be read.
    async fn new_lease(&mut self, base: Option<&Lease>) -> Option<Lease> {
        let mut lease = base.cloned().unwrap_or_else(|| Lease {
            metadata: ObjectMeta {
                name: Some(self.node_name.clone()),
                namespace: Some(crate::config::NODE_LEASE_NAMESPACE.to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.node_name.clone()),
                ..LeaseSpec::default()
            }),
        });
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.lease_duration_seconds = Some(self.duration_seconds);
        spec.renew_time = Some(MicroTime(Timestamp::now()));

        let owners = lease.metadata.owner_references.get_or_insert_with(Vec::new);
        let watched_uid = self
            .view
            .borrow()
            .node()
            .and_then(|n| n.metadata.uid.clone());
        // Differs from the lease controller: a Node registered again has a new UID, and the
        // owner reference is moved to it rather than left for the garbage collector to act on.
        let stale = match (&watched_uid, owners.as_slice()) {
            (Some(uid), [owner]) => owner.kind == "Node" && owner.uid != *uid,
            _ => false,
        };
        if owners.is_empty() || stale {
            let uid = match watched_uid {
                Some(uid) => uid,
                None => match timed(
                    &self.node_name,
                    "getting the node for the lease's owner",
                    self.timeout,
                    self.nodes.get_opt(&self.node_name),
                )
                .await
                {
                    Ok(Some(node)) => node.metadata.uid.unwrap_or_default(),
                    Ok(None) => {
                        tracing::debug!("the Node does not exist yet; the lease waits for it");
                        self.waiting_for_node = true;
                        return None;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "failed to get node when trying to set owner ref to the node lease");
                        return None;
                    }
                },
            };
            *owners = vec![OwnerReference {
                api_version: "v1".to_owned(),
                kind: "Node".to_owned(),
                name: self.node_name.clone(),
                uid,
                ..OwnerReference::default()
            }];
        }
        self.waiting_for_node = false;
        Some(lease)
    }
}
