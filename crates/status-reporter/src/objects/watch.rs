//! One object's watch (the kubelet's per-object reflector in `objectCache.newReflectorLocked`):
//! a list and watch of the object's namespace with the field selector `metadata.name=<name>`,
//! which is what the Node authorizer lets a node read, feeding the cached copy.

use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt as _;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::serde::de::DeserializeOwned;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::refs::{ObjectKind, ObjectRef, merge_string_data};
use super::{ObjectChange, ObjectWatchError, Shared};

/// A copy held by the cache; `Arc` so that the watch channel clones cheaply.
#[derive(Clone)]
pub(crate) enum CachedObject {
    ConfigMap(Arc<ConfigMap>),
    Secret(Arc<Secret>),
}

impl CachedObject {
    fn resource_version(&self) -> Option<&str> {
        match self {
            CachedObject::ConfigMap(o) => o.metadata.resource_version.as_deref(),
            CachedObject::Secret(o) => o.metadata.resource_version.as_deref(),
        }
    }

    fn immutable(&self) -> bool {
        match self {
            CachedObject::ConfigMap(o) => o.immutable == Some(true),
            CachedObject::Secret(o) => o.immutable == Some(true),
        }
    }
}

/// What the cache knows of one object.
#[derive(Clone)]
pub(crate) enum Cached {
    /// Not listed yet; the last failed attempt, if any.
    Unsynced(Option<ObjectWatchError>),
    /// Listed: the object, or `None` when it does not exist.
    Synced(Option<CachedObject>),
}

/// The types watched, and how each becomes a [`CachedObject`].
pub(crate) trait Watched:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
    fn cache(self) -> CachedObject;
}

impl Watched for ConfigMap {
    fn cache(self) -> CachedObject {
        CachedObject::ConfigMap(Arc::new(self))
    }
}

impl Watched for Secret {
    fn cache(mut self) -> CachedObject {
        merge_string_data(&mut self);
        CachedObject::Secret(Arc::new(self))
    }
}

/// Runs the watch of `object` until `cancel`, or until the object is found immutable (the
/// kubelet stops watching an immutable object and keeps serving its copy).
pub(crate) async fn run<K: Watched>(
    client: Client,
    object: ObjectRef,
    state: watch::Sender<Cached>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let api: Api<K> = Api::namespaced(client, &object.namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={}", object.name));
    let stream = watcher(api, config).default_backoff();
    let mut stream = std::pin::pin!(stream);
    // The object of the list in progress (`Init` to `InitDone`).
    let mut listed: Option<CachedObject> = None;
    loop {
        let item = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            item = stream.next() => item,
        };
        let update = match item {
            None => return,
            Some(Ok(watcher::Event::Init)) => {
                listed = None;
                continue;
            }
            Some(Ok(watcher::Event::InitApply(o))) => {
                if o.meta().name.as_deref() == Some(object.name.as_str()) {
                    listed = Some(o.cache());
                }
                continue;
            }
            Some(Ok(watcher::Event::InitDone)) => listed.take(),
            Some(Ok(watcher::Event::Apply(o))) => Some(o.cache()),
            Some(Ok(watcher::Event::Delete(_))) => None,
            Some(Err(e)) => {
                let error = ObjectWatchError::new(e, object.kind == ObjectKind::Secret);
                tracing::warn!(error = %error, "listing or watching the object failed; retrying");
                state.send_if_modified(|cached| match cached {
                    Cached::Unsynced(last) => {
                        *last = Some(error);
                        true
                    }
                    // A copy already listed is served while the watch recovers, as the
                    // reflector's store keeps its content.
                    Cached::Synced(_) => false,
                });
                continue;
            }
        };
        let immutable = update.as_ref().is_some_and(CachedObject::immutable);
        let changed = state.send_if_modified(|cached| {
            let same = match (&*cached, &update) {
                (Cached::Synced(Some(old)), Some(new)) => {
                    old.resource_version().is_some()
                        && old.resource_version() == new.resource_version()
                }
                (Cached::Synced(None), None) => true,
                _ => false,
            };
            if !same {
                *cached = Cached::Synced(update);
            }
            !same
        });
        if changed {
            tracing::debug!(exists = state.borrow().exists(), "the cached copy changed");
            let _ = shared.changes.send(ObjectChange {
                pods: shared.pods_referencing(&object),
                object: object.clone(),
            });
        }
        if immutable {
            tracing::debug!("Stopped watching for changes - object is immutable");
            return;
        }
    }
}

impl Cached {
    fn exists(&self) -> bool {
        matches!(self, Cached::Synced(Some(_)))
    }
}
