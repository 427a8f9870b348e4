//! ConfigMaps and Secrets from the API server for volumes and environment variables:
//! [`ApiObjects`], the kubelet's watch-based secret and configMap managers
//! (`configMapAndSecretChangeDetectionStrategy: Watch`, `pkg/kubelet/util/manager/
//! watch_based_manager.go`).

mod refs;
mod watch;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::Client;
use kube::runtime::watcher;
use tokio::sync::{broadcast, watch as channel};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::error::{Error, Result};
pub use refs::{ObjectKind, ObjectRef, merge_string_data, pod_object_refs};
use watch::{Cached, CachedObject};

/// How long the kubelet's `Get` waits for an object's first list (`wait.PollImmediate(10ms,
/// 1s, hasSynced)`).
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(1);
/// Changes buffered per subscriber of [`ApiObjects::changes`] before the slowest misses some.
pub const OBJECT_CHANGES_CAPACITY: usize = 256;

/// A cached copy changed: first listed, updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectChange {
    /// The object.
    pub object: ObjectRef,
    /// The UIDs of the registered pods that reference it, sorted.
    pub pods: Vec<String>,
}

/// Why an object's list or watch failed, as kept by the cache: the watcher's error, or for a
/// Secret that could not be decoded, a message without the decoder's details.
#[derive(Debug, Clone)]
pub struct ObjectWatchError(WatchFailure);

#[derive(Debug, Clone)]
enum WatchFailure {
    Watch(Arc<watcher::Error>),
    Withheld,
}

impl ObjectWatchError {
    pub(crate) fn new(error: watcher::Error, secret: bool) -> ObjectWatchError {
        let undecodable = matches!(
            &error,
            watcher::Error::InitialListFailed(kube::Error::SerdeError(_))
                | watcher::Error::WatchStartFailed(kube::Error::SerdeError(_))
                | watcher::Error::WatchFailed(kube::Error::SerdeError(_))
        );
        if secret && undecodable {
            ObjectWatchError(WatchFailure::Withheld)
        } else {
            ObjectWatchError(WatchFailure::Watch(Arc::new(error)))
        }
    }

    /// The API server's status, when it refused the request.
    pub fn status(&self) -> Option<&kube::core::Status> {
        match &self.0 {
            WatchFailure::Watch(e) => match &**e {
                watcher::Error::InitialListFailed(kube::Error::Api(status))
                | watcher::Error::WatchStartFailed(kube::Error::Api(status))
                | watcher::Error::WatchFailed(kube::Error::Api(status))
                | watcher::Error::WatchError(status) => Some(status),
                _ => None,
            },
            WatchFailure::Withheld => None,
        }
    }

    /// Whether the API server refused with 403 Forbidden (for a node: the Node authorizer
    /// found no pod bound to the node that references the object).
    pub fn is_forbidden(&self) -> bool {
        self.status().is_some_and(|s| s.is_forbidden())
    }
}

impl std::fmt::Display for ObjectWatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            WatchFailure::Watch(e) => e.fmt(f),
            WatchFailure::Withheld => f.write_str(
                "the API server's answer could not be decoded (details withheld: the object is a Secret)",
            ),
        }
    }
}

impl std::error::Error for ObjectWatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            // The watcher error's own text is this error's text; its cause comes next.
            WatchFailure::Watch(e) => e.source(),
            WatchFailure::Withheld => None,
        }
    }
}

/// A registered pod and the objects it references.
struct RegisteredPod {
    namespace: String,
    name: String,
    refs: BTreeSet<ObjectRef>,
}

/// One watched object.
struct Item {
    /// UIDs of the registered pods that reference it.
    pods: BTreeSet<String>,
    cache: channel::Receiver<Cached>,
    cancel: CancellationToken,
}

#[derive(Default)]
struct State {
    pods: HashMap<String, RegisteredPod>,
    items: HashMap<ObjectRef, Item>,
}

/// What the watch tasks share with the cache.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) changes: broadcast::Sender<ObjectChange>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The UIDs of the pods that reference `object` now.
    pub(crate) fn pods_referencing(&self, object: &ObjectRef) -> Vec<String> {
        self.state()
            .items
            .get(object)
            .map(|item| item.pods.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The handle's owned parts; the watches stop when the last clone is dropped.
struct Owner {
    client: Client,
    node: String,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A cache of the ConfigMaps and Secrets that registered pods reference, kept current by one
/// watch per object.
///
/// # One watch per referenced object
///
/// A node may read only the Secrets and ConfigMaps that pods bound to it reference, one
/// object at a time: the Node authorizer answers a `get`, or a `list`/`watch` whose field
/// selector is `metadata.name=<name>`, and refuses the rest. So, as the kubelet does, a pod is
/// registered with the objects it references ([`ApiObjects::register_pod`], which finds them
/// with [`pod_object_refs`]), each object referenced by at least one registered pod has its
/// own list-and-watch, and the last pod unregistered stops it. Lookups
/// ([`ApiObjects::config_map`], [`ApiObjects::secret`]) answer from the cached copy and never
/// wait on the network, which is the shape volume-manager's `ObjectSource` asks for; an
/// object whose first list has not completed is an error that says so (and names the Node
/// authorizer when it refused), and [`ApiObjects::wait_synced`] waits for it with a bound (the
/// kubelet's `Get` waits up to [`DEFAULT_SYNC_TIMEOUT`]).
///
/// Every change of a cached copy (first list, update, deletion) is announced on a broadcast
/// channel ([`ApiObjects::changes`]) with the pods that reference the object, so volumes can
/// be refreshed at once instead of at the next periodic sync. An object found immutable
/// (`immutable: true`) is not watched any further; its copy is served as it is.
///
/// Secret values never reach a log or an error: objects are not logged, and a decoding
/// failure of a Secret is reported without serde's message (which may quote the value).
///
/// # Where this differs from the kubelet
///
/// - Watches are not stopped when idle (the kubelet stops a watch not read for
///   `maxIdleTime` and restarts it on the next `Get`); a watch here lives as long as a pod
///   references the object, so change notifications keep coming.
/// - kube-client speaks HTTP/1.1: each watch holds its own connection, where the kubelet
///   multiplexes them over HTTP/2.
/// - Watches are renewed every 290 s (kube-runtime's default) rather than after 30 minutes
///   or more; a renewal resumes from the last resource version and does not relist.
///
/// Cheap to clone; clones share the cache. Every watch stops on [`ApiObjects::shutdown`], when
/// the parent token of [`ApiObjects::start_with_cancellation`] is cancelled, or when the last
/// clone is dropped.
///
/// ```no_run
/// # async fn run(client: kube::Client, pod: k8s_openapi::api::core::v1::Pod) -> status_reporter::Result<()> {
/// use status_reporter::{ApiObjects, ObjectRef};
/// use std::time::Duration;
///
/// let objects = ApiObjects::start(client, "worker-1")?;
/// objects.register_pod(&pod)?;
/// let settings = ObjectRef::config_map("shop", "settings");
/// objects.wait_synced(&settings, Duration::from_secs(5)).await?;
/// let settings = objects.config_map("shop", "settings")?; // None: it does not exist
/// # let _ = settings; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ApiObjects {
    owner: Arc<Owner>,
}

impl std::fmt::Debug for ApiObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.owner.shared.state();
        f.debug_struct("ApiObjects")
            .field("node", &self.owner.node)
            .field("pods", &state.pods.len())
            .field("watched", &state.items.len())
            .finish()
    }
}

impl ApiObjects {
    /// An empty cache for node `node_name` (named in errors and spans), whose watches run on
    /// the current tokio runtime.
    pub fn start(client: Client, node_name: impl Into<String>) -> Result<ApiObjects> {
        ApiObjects::start_with_cancellation(client, node_name, &CancellationToken::new())
    }

    /// [`ApiObjects::start`], with watches that also stop when `parent` is cancelled.
    pub fn start_with_cancellation(
        client: Client,
        node_name: impl Into<String>,
        parent: &CancellationToken,
    ) -> Result<ApiObjects> {
        let node = node_name.into();
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NeedsRuntime {
            node: node.clone(),
            component: "API object cache",
        })?;
        let (changes, _) = broadcast::channel(OBJECT_CHANGES_CAPACITY);
        Ok(ApiObjects {
            owner: Arc::new(Owner {
                client,
                node,
                shared: Arc::new(Shared {
                    state: Mutex::new(State::default()),
                    changes,
                }),
                runtime,
                cancel: parent.child_token(),
                tracker: TaskTracker::new(),
            }),
        })
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.owner.node
    }

    /// Registers `pod` with every ConfigMap and Secret it references ([`pod_object_refs`])
    /// (`RegisterPod`). Registering a pod again replaces its references: watches start for
    /// new ones, and references it dropped are released. Fails only for a pod without a UID.
    pub fn register_pod(&self, pod: &Pod) -> Result<()> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let Some(uid) = pod.metadata.uid.as_deref().filter(|u| !u.is_empty()) else {
            return Err(Error::InvalidPod {
                pod: format!("{namespace}/{name}"),
                problem: "it has no UID",
            });
        };
        self.register(uid, namespace, name, pod_object_refs(pod));
        Ok(())
    }

    /// Registers the pod with UID `pod_uid` (`namespace`/`name`, for logs) as referencing
    /// exactly `refs`, replacing what it referenced before.
    pub fn register(
        &self,
        pod_uid: &str,
        namespace: &str,
        name: &str,
        refs: impl IntoIterator<Item = ObjectRef>,
    ) {
        let span = tracing::debug_span!("register_pod", pod = %format_args!("{namespace}/{name}"), uid = pod_uid);
        let _entered = span.enter();
        let refs: BTreeSet<ObjectRef> = refs.into_iter().collect();
        let mut state = self.owner.shared.state();
        let previous = state.pods.insert(
            pod_uid.to_owned(),
            RegisteredPod {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                refs: refs.clone(),
            },
        );
        let previous = previous.map(|p| p.refs).unwrap_or_default();
        for object in refs.difference(&previous) {
            self.add_reference(&mut state, object, pod_uid);
        }
        for object in previous.difference(&refs) {
            Self::delete_reference(&mut state, object, pod_uid);
        }
    }

    /// Releases the references of the pod with UID `pod_uid` (`UnregisterPod`); watches no
    /// other registered pod needs stop.
    pub fn unregister_pod(&self, pod_uid: &str) {
        let mut state = self.owner.shared.state();
        let Some(pod) = state.pods.remove(pod_uid) else {
            return;
        };
        let span = tracing::debug_span!("unregister_pod", pod = %format_args!("{}/{}", pod.namespace, pod.name), uid = pod_uid);
        let _entered = span.enter();
        for object in &pod.refs {
            Self::delete_reference(&mut state, object, pod_uid);
        }
    }

    /// `AddReference`: count the pod, starting the object's watch on its first reference.
    fn add_reference(&self, state: &mut State, object: &ObjectRef, pod_uid: &str) {
        let item = state.items.entry(object.clone()).or_insert_with(|| {
            tracing::debug!(object = %object, "starting to watch");
            let (sender, cache) = channel::channel(Cached::Unsynced(None));
            let cancel = self.owner.cancel.child_token();
            let owner = &self.owner;
            let span = tracing::info_span!(
                "object_watch",
                node = %owner.node,
                kind = %object.kind,
                object = %format_args!("{}/{}", object.namespace, object.name),
            );
            let (client, shared) = (owner.client.clone(), owner.shared.clone());
            let task_cancel = cancel.clone();
            match object.kind {
                ObjectKind::ConfigMap => owner.tracker.spawn_on(
                    watch::run::<ConfigMap>(client, object.clone(), sender, shared, task_cancel)
                        .instrument(span),
                    &owner.runtime,
                ),
                ObjectKind::Secret => owner.tracker.spawn_on(
                    watch::run::<Secret>(client, object.clone(), sender, shared, task_cancel)
                        .instrument(span),
                    &owner.runtime,
                ),
            };
            Item {
                pods: BTreeSet::new(),
                cache,
                cancel,
            }
        });
        item.pods.insert(pod_uid.to_owned());
    }

    /// `DeleteReference`: uncount the pod, stopping the watch when no pod is left.
    fn delete_reference(state: &mut State, object: &ObjectRef, pod_uid: &str) {
        if let Some(item) = state.items.get_mut(object) {
            item.pods.remove(pod_uid);
            if item.pods.is_empty() {
                tracing::debug!(object = %object, "no pod references it any more; stopped watching");
                item.cancel.cancel();
                state.items.remove(object);
            }
        }
    }

    /// The objects watched now, sorted.
    pub fn watched(&self) -> Vec<ObjectRef> {
        let mut watched: Vec<ObjectRef> = self.owner.shared.state().items.keys().cloned().collect();
        watched.sort();
        watched
    }

    /// The ConfigMap from the cache (`GetConfigMap`): `None` when it does not exist. An error
    /// when no registered pod references it ([`Error::ObjectNotRegistered`]), when its first
    /// list has not completed ([`Error::ObjectNotSynced`]), or when the API server refused to
    /// show it to this node ([`Error::ObjectForbidden`]).
    pub fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>> {
        Ok(
            match self.lookup(&ObjectRef::config_map(namespace, name))? {
                Some(CachedObject::ConfigMap(o)) => Some((*o).clone()),
                _ => None,
            },
        )
    }

    /// The Secret from the cache (`GetSecret`), with `stringData` merged into `data`: `None`
    /// when it does not exist. Errors as [`ApiObjects::config_map`].
    pub fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>> {
        Ok(match self.lookup(&ObjectRef::secret(namespace, name))? {
            Some(CachedObject::Secret(o)) => Some((*o).clone()),
            _ => None,
        })
    }

    fn lookup(&self, object: &ObjectRef) -> Result<Option<CachedObject>> {
        let cached = {
            let state = self.owner.shared.state();
            let item = state
                .items
                .get(object)
                .ok_or_else(|| not_registered(object))?;
            item.cache.borrow().clone()
        };
        self.answer(object, cached)
    }

    fn answer(&self, object: &ObjectRef, cached: Cached) -> Result<Option<CachedObject>> {
        match cached {
            Cached::Synced(found) => Ok(found),
            Cached::Unsynced(Some(last)) if last.is_forbidden() => Err(Error::ObjectForbidden {
                node: self.owner.node.clone(),
                kind: object.kind,
                namespace: object.namespace.clone(),
                name: object.name.clone(),
                source: last,
            }),
            Cached::Unsynced(last_error) => Err(Error::ObjectNotSynced {
                kind: object.kind,
                namespace: object.namespace.clone(),
                name: object.name.clone(),
                last_error,
            }),
        }
    }

    /// Waits until `object`'s first list has completed, for at most `timeout`; then the
    /// lookup errors of [`ApiObjects::config_map`] apply (the object must be registered, and a
    /// refusal by the Node authorizer is [`Error::ObjectForbidden`]).
    pub async fn wait_synced(&self, object: &ObjectRef, timeout: Duration) -> Result<()> {
        let mut cache = {
            let state = self.owner.shared.state();
            state
                .items
                .get(object)
                .ok_or_else(|| not_registered(object))?
                .cache
                .clone()
        };
        let synced =
            tokio::time::timeout(timeout, cache.wait_for(|c| matches!(c, Cached::Synced(_))))
                .await
                .map(|found| found.is_ok());
        match synced {
            Ok(true) => Ok(()),
            // The watch ended: the last reference was released meanwhile, or the cache was
            // shut down before the first list.
            Ok(false) => {
                if !self.owner.shared.state().items.contains_key(object) {
                    return Err(not_registered(object));
                }
                let cached = cache.borrow().clone();
                self.answer(object, cached).map(|_| ())
            }
            Err(_) => {
                let cached = cache.borrow().clone();
                self.answer(object, cached).map(|_| ())
            }
        }
    }

    /// A receiver of every change of a cached copy from now on. A receiver more than
    /// [`OBJECT_CHANGES_CAPACITY`] changes behind gets `RecvError::Lagged` and should then
    /// refresh everything it serves.
    pub fn changes(&self) -> broadcast::Receiver<ObjectChange> {
        self.owner.shared.changes.subscribe()
    }

    /// Stops every watch and waits for them. The cache keeps answering from what it holds.
    pub async fn shutdown(&self) {
        self.owner.cancel.cancel();
        self.owner.tracker.close();
        self.owner.tracker.wait().await;
    }
}

fn not_registered(object: &ObjectRef) -> Error {
    Error::ObjectNotRegistered {
        kind: object.kind,
        namespace: object.namespace.clone(),
        name: object.name.clone(),
    }
}
