//! The API pod source: the pods bound to this node, from a watch of `pods` with the field
//! selector `spec.nodeName=<node>` (`NewSourceApiserver` in `pkg/kubelet/config/apiserver.go`).
//!
//! The kubelet runs a client-go reflector into an `UndeltaStore` that hands its config mux
//! the whole list on every change. Here kube-runtime's watcher plays the reflector (paginated
//! list, then a watch with bookmarks, resumed from the last resource version when it ends,
//! and relisted from scratch when the server answers 410 Gone), and the updates are deltas:
//! a [`PodSourceUpdate::Snapshot`] after each list, then [`PodSourceUpdate::Applied`] and
//! [`PodSourceUpdate::Deleted`]. A consumer that wants whole sets, like the kubelet's config
//! mux, folds them with [`PodSourceUpdate::apply_to`].
//!
//! The same pods are kept in a [`NodePods`] view, which the [`PodStatusManager`] reads to
//! compare its statuses with the API server's without a request, and to find the mirror pod
//! of a static pod.
//!
//! [`PodStatusManager`]: super::PodStatusManager

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::{is_mirror_pod, pod_ref, pod_uid};
use crate::error::{Error, Result};

/// The capacity of the update channel (the kubelet's config channels hold 50 updates).
pub const DEFAULT_POD_UPDATE_CAPACITY: usize = 50;
/// How long one watch request lasts before it is resumed from its last resource version
/// (kube-runtime's default, under the client's 295 s read timeout; the kubelet's reflector
/// picks 5 to 10 minutes).
pub const DEFAULT_POD_WATCH_TIMEOUT: Duration = Duration::from_secs(290);

/// A change of the pods bound to the node.
#[derive(Debug, Clone, PartialEq)]
pub enum PodSourceUpdate {
    /// Every pod bound to the node, as a (re)list found them: sent first, and again after
    /// every relist (the watch expired with 410 Gone, or could not be resumed). Pods missing
    /// from it are gone, whatever was heard of them before.
    Snapshot(Vec<Pod>),
    /// A pod was bound to the node or changed (including being marked for deletion: a
    /// `deletionTimestamp`, the start of graceful deletion).
    Applied(Pod),
    /// A pod was removed from the API server (deleted for good, or force-deleted).
    Deleted(Pod),
}

impl PodSourceUpdate {
    /// Folds the update into `pods`, keyed by UID: the whole set the API server has, as the
    /// kubelet's config mux wants it (`kubetypes.SET`).
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use k8s_openapi::api::core::v1::Pod;
    /// use status_reporter::PodSourceUpdate;
    ///
    /// let pod = |uid: &str| {
    ///     let mut pod = Pod::default();
    ///     pod.metadata.uid = Some(uid.into());
    ///     pod
    /// };
    /// let mut pods = BTreeMap::new();
    /// PodSourceUpdate::Snapshot(vec![pod("a"), pod("b")]).apply_to(&mut pods);
    /// PodSourceUpdate::Deleted(pod("a")).apply_to(&mut pods);
    /// PodSourceUpdate::Applied(pod("c")).apply_to(&mut pods);
    /// assert_eq!(pods.keys().collect::<Vec<_>>(), ["b", "c"]);
    /// ```
    pub fn apply_to(&self, pods: &mut BTreeMap<String, Pod>) {
        match self {
            PodSourceUpdate::Snapshot(all) => {
                *pods = all
                    .iter()
                    .map(|p| (pod_uid(p).to_owned(), p.clone()))
                    .collect();
            }
            PodSourceUpdate::Applied(pod) => {
                pods.insert(pod_uid(pod).to_owned(), pod.clone());
            }
            PodSourceUpdate::Deleted(pod) => {
                pods.remove(pod_uid(pod));
            }
        }
    }
}

/// The pods bound to the node as the API source last saw them, shared (cheap to clone).
///
/// Filled by [`ApiPodSource`]; an agent with its own source can fill one with
/// [`NodePods::apply`]. Readers get `Arc`s of the pods, not copies.
#[derive(Debug, Clone)]
pub struct NodePods {
    inner: Arc<NodePodsInner>,
}

#[derive(Debug)]
struct NodePodsInner {
    pods: RwLock<Listed>,
    /// Bumped on every change, for [`NodePods::subscribe`].
    generation: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Listed {
    by_uid: HashMap<String, Arc<Pod>>,
    synced: bool,
}

impl Default for NodePods {
    fn default() -> Self {
        NodePods {
            inner: Arc::new(NodePodsInner {
                pods: RwLock::new(Listed::default()),
                generation: watch::Sender::new(0),
            }),
        }
    }
}

impl NodePods {
    /// An empty view, not yet listed.
    pub fn new() -> NodePods {
        NodePods::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Listed> {
        self.inner.pods.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies an update (a [`PodSourceUpdate::Snapshot`] marks the view listed).
    pub fn apply(&self, update: &PodSourceUpdate) {
        {
            let mut listed = self.inner.pods.write().unwrap_or_else(|e| e.into_inner());
            match update {
                PodSourceUpdate::Snapshot(all) => {
                    listed.by_uid = all
                        .iter()
                        .map(|p| (pod_uid(p).to_owned(), Arc::new(p.clone())))
                        .collect();
                    listed.synced = true;
                }
                PodSourceUpdate::Applied(pod) => {
                    listed
                        .by_uid
                        .insert(pod_uid(pod).to_owned(), Arc::new(pod.clone()));
                }
                PodSourceUpdate::Deleted(pod) => {
                    listed.by_uid.remove(pod_uid(pod));
                }
            }
        }
        self.inner.generation.send_modify(|g| *g += 1);
    }

    /// Whether the pods have been listed at least once.
    pub fn has_synced(&self) -> bool {
        self.read().synced
    }

    /// Waits until the pods have been listed once (for as long as it takes: put a timeout
    /// around it when the API server may be unreachable).
    pub async fn wait_synced(&self) {
        let mut changes = self.subscribe();
        while !self.has_synced() {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// A receiver that sees a change after every update of the view.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.generation.subscribe()
    }

    /// The pod with `uid`.
    pub fn get(&self, uid: &str) -> Option<Arc<Pod>> {
        self.read().by_uid.get(uid).cloned()
    }

    /// The pod named `namespace/name` (one at a time exists in the API).
    pub fn get_by_name(&self, namespace: &str, name: &str) -> Option<Arc<Pod>> {
        self.read()
            .by_uid
            .values()
            .find(|p| {
                p.metadata.name.as_deref() == Some(name) && super::pod_namespace(p) == namespace
            })
            .cloned()
    }

    /// The mirror pod with the full name of `static_pod`, whatever its hash (the pod
    /// manager's `GetMirrorPodByPod`; [`super::is_mirror_pod_of`] tells whether it is current).
    pub fn mirror_pod_of(&self, static_pod: &Pod) -> Option<Arc<Pod>> {
        let name = static_pod.metadata.name.as_deref()?;
        self.get_by_name(super::pod_namespace(static_pod), name)
            .filter(|p| is_mirror_pod(p))
    }

    /// Every pod, in no particular order.
    pub fn list(&self) -> Vec<Arc<Pod>> {
        self.read().by_uid.values().cloned().collect()
    }

    /// How many pods there are.
    pub fn len(&self) -> usize {
        self.read().by_uid.len()
    }

    /// Whether there are no pods.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Settings of an [`ApiPodSource`].
#[derive(Debug, Clone)]
pub struct ApiPodSourceConfig {
    /// The node whose pods are watched (`spec.nodeName`).
    pub node_name: String,
    /// The capacity of the update channel ([`DEFAULT_POD_UPDATE_CAPACITY`]). The watch waits
    /// while the channel is full.
    pub channel_capacity: usize,
    /// How long one watch request lasts ([`DEFAULT_POD_WATCH_TIMEOUT`]); at least 1 s.
    pub watch_timeout: Duration,
}

impl ApiPodSourceConfig {
    /// The defaults for node `node_name`.
    pub fn new(node_name: impl Into<String>) -> ApiPodSourceConfig {
        ApiPodSourceConfig {
            node_name: node_name.into(),
            channel_capacity: DEFAULT_POD_UPDATE_CAPACITY,
            watch_timeout: DEFAULT_POD_WATCH_TIMEOUT,
        }
    }
}

/// Watches the pods bound to a node and hands them to the agent (the kubelet's API pod
/// source).
///
/// One tokio task, in a `tracing` span naming the node, owned by the source:
/// [`ApiPodSource::shutdown`] cancels it and waits for it; dropping the source, or cancelling
/// the parent token of [`ApiPodSource::start_with_cancellation`], cancels it too. Watch
/// errors are logged and retried with kube-runtime's default back-off (800 ms growing to
/// 30 s). When the receiver is dropped the watch goes on for the [`NodePods`] view.
///
/// Unlike the kubelet, which waits for its Node informer to sync before it watches pods, the
/// source starts at once: the pods of a node that does not exist yet are simply none.
#[derive(Debug)]
pub struct ApiPodSource {
    node_name: String,
    pods: NodePods,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl ApiPodSource {
    /// Starts watching the pods of `node_name` on the current tokio runtime with the default
    /// settings. Returns the source and the receiver of its updates.
    pub fn start(
        client: Client,
        node_name: impl Into<String>,
    ) -> Result<(ApiPodSource, mpsc::Receiver<PodSourceUpdate>)> {
        ApiPodSource::start_with_cancellation(
            client,
            ApiPodSourceConfig::new(node_name),
            &CancellationToken::new(),
        )
    }

    /// [`ApiPodSource::start`] with settings, under a child token of `parent`.
    pub fn start_with_cancellation(
        client: Client,
        config: ApiPodSourceConfig,
        parent: &CancellationToken,
    ) -> Result<(ApiPodSource, mpsc::Receiver<PodSourceUpdate>)> {
        let node = config.node_name.clone();
        if node.is_empty() {
            return Err(Error::InvalidConfig {
                node,
                field: "nodeName",
                problem: "the pod source needs a node name".into(),
            });
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NeedsRuntime {
            node: node.clone(),
            component: "API pod source",
        })?;
        let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
        let pods = NodePods::new();
        let cancel = parent.child_token();
        let tracker = TaskTracker::new();
        let timeout = u32::try_from(config.watch_timeout.as_secs().max(1)).unwrap_or(u32::MAX);
        let watch = WatchLoop {
            api: Api::all(client),
            node_name: node.clone(),
            timeout,
            pods: pods.clone(),
            updates: tx,
        };
        let span = tracing::info_span!("api_pod_source", node = %node);
        tracker.spawn_on(watch.run(cancel.clone()).instrument(span), &runtime);
        tracker.close();
        Ok((
            ApiPodSource {
                node_name: node,
                pods,
                cancel,
                tracker,
            },
            rx,
        ))
    }

    /// The node whose pods are watched.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// The pods as last seen (shared with the watch).
    pub fn pods(&self) -> NodePods {
        self.pods.clone()
    }

    /// Stops the watch and waits for its task to end.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.wait().await;
        tracing::debug!(node = %self.node_name, "API pod source stopped");
    }
}

impl Drop for ApiPodSource {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

struct WatchLoop {
    api: Api<Pod>,
    node_name: String,
    timeout: u32,
    pods: NodePods,
    updates: mpsc::Sender<PodSourceUpdate>,
}

impl WatchLoop {
    async fn run(self, cancel: CancellationToken) {
        let config = watcher::Config::default()
            .fields(&format!("spec.nodeName={}", self.node_name))
            .timeout(self.timeout);
        let stream = watcher::watcher(self.api.clone(), config).default_backoff();
        let mut stream = std::pin::pin!(stream);
        let mut listing: Option<Vec<Pod>> = None;
        let mut receiver_open = true;
        loop {
            let event = tokio::select! {
                () = cancel.cancelled() => return,
                event = stream.next() => event,
            };
            let update = match event {
                None => return,
                Some(Err(e)) => {
                    if matches!(&e, watcher::Error::WatchError(status) if status.code == 410) {
                        tracing::info!(error = %e, "the pod watch expired; relisting");
                    } else {
                        tracing::warn!(error = %e, "watching the node's pods failed; retrying");
                    }
                    continue;
                }
                Some(Ok(Event::Init)) => {
                    listing = Some(Vec::new());
                    continue;
                }
                Some(Ok(Event::InitApply(pod))) => {
                    listing.get_or_insert_with(Vec::new).push(pod);
                    continue;
                }
                Some(Ok(Event::InitDone)) => {
                    let all = listing.take().unwrap_or_default();
                    tracing::debug!(pods = all.len(), "listed the node's pods");
                    PodSourceUpdate::Snapshot(all)
                }
                Some(Ok(Event::Apply(pod))) => {
                    tracing::trace!(pod = %pod_ref(&pod), uid = %pod_uid(&pod), "pod applied");
                    PodSourceUpdate::Applied(pod)
                }
                Some(Ok(Event::Delete(pod))) => {
                    tracing::debug!(pod = %pod_ref(&pod), uid = %pod_uid(&pod), "pod deleted");
                    PodSourceUpdate::Deleted(pod)
                }
            };
            self.pods.apply(&update);
            if receiver_open {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    sent = self.updates.send(update) => {
                        if sent.is_err() {
                            tracing::debug!("the update receiver is gone; keeping the view only");
                            receiver_open = false;
                        }
                    }
                }
            }
        }
    }
}
