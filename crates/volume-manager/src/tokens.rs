//! Where `serviceAccountToken` projections get their tokens: a small trait
//! ([`TokenSource`]) that an agent implements with the API server's TokenRequest, and
//! [`NoTokens`], the default, for a node agent without an API server.
//!
//! # Why a request value, and why synchronous
//!
//! The projected plugin works out the whole TokenRequest the way the kubelet does
//! (`pkg/volume/projected` `collectData`) before it asks: the pod's namespace, its service
//! account (`spec.serviceAccountName`, `default` when unset), the audience (`None` for the
//! API server's own), the requested lifetime and the pod the token is bound to. A
//! [`TokenSource`] therefore receives a plain [`ServiceAccountTokenRequest`], which is
//! also a ready cache key (the kubelet's token manager keys its cache on exactly these
//! fields), and never re-derives a default differently from the plugin.
//!
//! Like [`ObjectSource`](crate::objects::ObjectSource), the trait is synchronous: every
//! [`VolumeManager`](crate::VolumeManager) method does blocking file-system work and runs
//! on a blocking thread (`tokio::task::spawn_blocking` in an async agent), and the token is
//! asked for from there, on the caller's thread. An implementation may block: one over an
//! async client can hold a `tokio::runtime::Handle` and call `Handle::block_on`, which is
//! allowed on the blocking pool (it would panic on a runtime worker thread, which is why
//! the volume manager must never be called from async code directly).
//!
//! # What an implementation should do
//!
//! The plugin asks on every set-up and on every resync of a mounted volume (that is how a
//! renewed token reaches the file: the atomic writer swaps only when the content changed),
//! so an implementation answers from a cache, as the kubelet's token manager does: it
//! returns the cached token until it is older than 80% of its lifetime or 24 hours, then
//! requests a new one; when that request fails while the cached token is still valid, it
//! returns the cached token (and logs the failure). [`TokenSource::forget_pod`] is called
//! when a pod's volumes are gone, to drop its cached tokens (the kubelet's
//! `DeleteServiceAccountToken`).

use crate::Result;

/// The TokenRequest for one `serviceAccountToken` projection of one pod, with the
/// kubelet's defaults applied (`authenticationv1.TokenRequest` plus the service account it
/// is posted to).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceAccountTokenRequest {
    /// The pod's namespace, which is the service account's.
    pub namespace: String,
    /// The service account: the pod's `spec.serviceAccountName`, else the deprecated
    /// `spec.serviceAccount`, else `default` (what the API server's ServiceAccount admission
    /// fills in).
    pub service_account_name: String,
    /// The projection's `audience`; `None` (also for an empty string) asks for the API
    /// server's own audiences (`spec.audiences` left empty).
    pub audience: Option<String>,
    /// The projection's `expirationSeconds`; `None` leaves the API server's default (one
    /// hour). Pods from the API always carry it (the API defaults it to 3600).
    pub expiration_seconds: Option<i64>,
    /// `metadata.name` of the pod the token is bound to (`boundObjectRef`).
    pub pod_name: String,
    /// `metadata.uid` of the pod the token is bound to (`boundObjectRef`).
    pub pod_uid: String,
}

impl ServiceAccountTokenRequest {
    /// `namespace/name` of the service account, for messages.
    pub fn service_account(&self) -> String {
        format!("{}/{}", self.namespace, self.service_account_name)
    }
}

/// A service account token (a JWT). Its `Debug` shows only its length, and it has no
/// `Display`, so it does not end up in a log or an error by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccountToken(String);

impl ServiceAccountToken {
    /// Wraps the token text (`status.token` of the TokenRequest).
    pub fn new(token: impl Into<String>) -> Self {
        ServiceAccountToken(token.into())
    }

    /// The token text, for writing it to the volume.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for ServiceAccountToken {
    fn from(token: String) -> Self {
        ServiceAccountToken(token)
    }
}

impl std::fmt::Debug for ServiceAccountToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountToken")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

/// A source of service account tokens for `serviceAccountToken` projections (the
/// kubelet's `GetServiceAccountTokenFunc`, backed by its token manager).
///
/// See the [module docs](self): the methods run on the volume manager's caller's thread,
/// a blocking one, while the pod's volumes are being set up (the manager holds that pod's
/// lock, and no other), so they may block; they must not call back into the
/// [`VolumeManager`](crate::VolumeManager) for the same pod.
pub trait TokenSource: Send + Sync {
    /// The token for this request, or `None` when this source issues no tokens at all (a
    /// node agent without an API server): the volume then fails to mount with a message
    /// that says so. A failed request is an `Err` (for example
    /// [`Error::token_request`](crate::Error::token_request)); its message must not carry
    /// a token.
    fn service_account_token(
        &self,
        request: &ServiceAccountTokenRequest,
    ) -> Result<Option<ServiceAccountToken>>;

    /// Drops whatever is cached for the pod with this UID: its volumes are torn down
    /// (`DeleteServiceAccountToken`). Called by
    /// [`VolumeManager::unmount_pod`](crate::VolumeManager::unmount_pod), which may run
    /// more than once for a pod, so it must be cheap and idempotent. Does nothing by
    /// default.
    fn forget_pod(&self, pod_uid: &str) {
        let _ = pod_uid;
    }
}

/// No tokens at all: every request is answered `None`, so a volume with a
/// `serviceAccountToken` projection fails to mount, and its pod stays
/// `ContainerCreating`, rather than running without the file. The default of
/// [`VolumeManagerConfig`](crate::VolumeManagerConfig) (standalone mode).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTokens;

impl TokenSource for NoTokens {
    fn service_account_token(
        &self,
        _request: &ServiceAccountTokenRequest,
    ) -> Result<Option<ServiceAccountToken>> {
        Ok(None)
    }
}
