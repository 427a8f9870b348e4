//! [`RuntimeCache`]: the latest runtime status of every pod and when it was read (the
//! kubelet's `pkg/kubelet/container/cache.go`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;
use tokio::time::Instant;

use crate::plan::PodRuntimeStatus;

/// One pod's cached status and the instant its read began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPodStatus {
    /// What the runtime reported.
    pub status: PodRuntimeStatus,
    /// When the read that produced it started: the status reflects everything that happened
    /// in the runtime before this instant.
    pub read_at: Instant,
}

#[derive(Debug, Default)]
struct Entries {
    pods: HashMap<String, Entry>,
    /// Every pod without a newer entry is known to be at least this fresh.
    timestamp: Option<Instant>,
}

#[derive(Debug)]
struct Entry {
    cached: Option<CachedPodStatus>,
    /// The last inspection failed: the global timestamp does not vouch for this pod.
    stale: bool,
}

/// Per pod UID the latest [`PodRuntimeStatus`] with the instant its read began, plus a
/// global "every pod is at least this fresh" timestamp that the [`Pleg`](super::Pleg) moves
/// after each relist.
///
/// The point is [`RuntimeCache::get_newer_than`] (the kubelet's `GetNewerThan`): a pod worker
/// that acted on the runtime at `t` asks for a status read after `t`, so it never plans from
/// a view older than its own last action, without reading the runtime itself. Instants are
/// [`tokio::time::Instant`], so tests with paused time drive the cache too.
///
/// One difference from the kubelet, deliberately: the kubelet caches a failed inspection's
/// error and hands it to the worker. Here a failed inspection [invalidates](Self::invalidate)
/// the pod, and `get_newer_than` waits for the next successful read (the relist retries it
/// every period) instead of returning the view from before the failure.
#[derive(Debug)]
pub struct RuntimeCache {
    entries: Mutex<Entries>,
    /// Bumped on every change, to wake `get_newer_than` waiters.
    changed: watch::Sender<u64>,
}

impl Default for RuntimeCache {
    fn default() -> Self {
        Self::new()
    }
}

impl RuntimeCache {
    /// An empty cache with no global timestamp.
    pub fn new() -> Self {
        RuntimeCache {
            entries: Mutex::new(Entries::default()),
            changed: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The UIDs of every pod with a stored status, sorted.
    pub fn uids(&self) -> Vec<String> {
        let mut uids: Vec<String> = self
            .lock()
            .pods
            .iter()
            .filter(|(_, e)| e.cached.is_some())
            .map(|(uid, _)| uid.clone())
            .collect();
        uids.sort();
        uids
    }

    /// The pod's latest status and when it was read, if one was stored.
    pub fn get(&self, pod_uid: &str) -> Option<CachedPodStatus> {
        self.lock().pods.get(pod_uid).and_then(|e| e.cached.clone())
    }

    /// Store a status read that began at `read_at`. A read older than the stored one is
    /// ignored, so concurrent refreshes cannot move a pod's view back in time.
    pub fn set(&self, pod_uid: &str, status: PodRuntimeStatus, read_at: Instant) {
        {
            let mut entries = self.lock();
            let entry = entries.pods.entry(pod_uid.to_string()).or_insert(Entry {
                cached: None,
                stale: false,
            });
            if entry.cached.as_ref().is_some_and(|c| c.read_at > read_at) {
                return;
            }
            entry.cached = Some(CachedPodStatus { status, read_at });
            entry.stale = false;
        }
        self.notify();
    }

    /// Forget a pod (the relist found nothing of it any more). The global timestamp then
    /// stands for it: an empty status.
    pub fn delete(&self, pod_uid: &str) {
        let removed = self.lock().pods.remove(pod_uid).is_some();
        if removed {
            self.notify();
        }
    }

    /// Mark a pod whose inspection failed: until the next [`set`](Self::set), the global
    /// timestamp does not count for it, so [`get_newer_than`](Self::get_newer_than) waits for
    /// a real read. [`get`](Self::get) still returns the last status.
    pub fn invalidate(&self, pod_uid: &str) {
        self.lock()
            .pods
            .entry(pod_uid.to_string())
            .or_insert(Entry {
                cached: None,
                stale: true,
            })
            .stale = true;
    }

    /// Record that every pod's entry (or absence) is at least as fresh as `t` (the relist
    /// that began at `t` has refreshed every pod with changes). Never moves back.
    pub fn update_time(&self, t: Instant) {
        {
            let mut entries = self.lock();
            if entries.timestamp.is_some_and(|old| old >= t) {
                return;
            }
            entries.timestamp = Some(t);
        }
        self.notify();
    }

    /// The global timestamp, if a relist has set one.
    pub fn timestamp(&self) -> Option<Instant> {
        self.lock().timestamp
    }

    /// The pod's status if it is known to be newer than `t` (strictly after, as the
    /// kubelet's cache): either its own entry was read after `t`, or the global timestamp is
    /// after `t` and the pod is not invalidated. A pod the cache does not hold then has an
    /// empty status (nothing of it runs).
    pub fn get_if_newer_than(&self, pod_uid: &str, t: Instant) -> Option<PodRuntimeStatus> {
        let entries = self.lock();
        let entry = entries.pods.get(pod_uid);
        if let Some(cached) = entry.and_then(|e| e.cached.as_ref())
            && cached.read_at > t
        {
            return Some(cached.status.clone());
        }
        let stale = entry.is_some_and(|e| e.stale);
        if !stale && entries.timestamp.is_some_and(|ts| ts > t) {
            let status = entry
                .and_then(|e| e.cached.as_ref())
                .map(|c| c.status.clone())
                .unwrap_or_else(|| PodRuntimeStatus {
                    uid: pod_uid.to_string(),
                    ..Default::default()
                });
            return Some(status);
        }
        None
    }

    /// The pod's current status when the cache can vouch for it, however old: its own
    /// entry, or (no entry, a relist done) an empty status. `None` for a pod whose last
    /// inspection failed, or before the first relist.
    pub fn get_if_known(&self, pod_uid: &str) -> Option<PodRuntimeStatus> {
        let entries = self.lock();
        match entries.pods.get(pod_uid) {
            Some(entry) if entry.stale => None,
            Some(entry) => entry.cached.as_ref().map(|c| c.status.clone()),
            None => entries.timestamp.map(|_| PodRuntimeStatus {
                uid: pod_uid.to_string(),
                ..Default::default()
            }),
        }
    }

    /// Wait until the cache holds a status for the pod that is newer than `t` (see
    /// [`get_if_newer_than`](Self::get_if_newer_than)) and return it: the kubelet's
    /// `GetNewerThan`, which a pod worker calls with the time of its last runtime action.
    /// Waits as long as it takes; wrap it in `tokio::time::timeout` to bound it.
    pub async fn get_newer_than(&self, pod_uid: &str, t: Instant) -> PodRuntimeStatus {
        // Subscribe before checking, so a change between the check and the wait wakes us.
        let mut changed = self.changed.subscribe();
        loop {
            if let Some(status) = self.get_if_newer_than(pod_uid, t) {
                return status;
            }
            // The sender lives in `self`, so this cannot fail while we hold `&self`.
            let _ = changed.changed().await;
        }
    }

    /// Keep only the pods for which `keep` is true (the relist drops what vanished).
    pub(crate) fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        let mut entries = self.lock();
        entries.pods.retain(|uid, _| keep(uid));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn status(uid: &str) -> PodRuntimeStatus {
        PodRuntimeStatus {
            uid: uid.to_string(),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn newer_than_is_strict_and_global_timestamp_counts() {
        let cache = RuntimeCache::new();
        let t0 = Instant::now();
        cache.set("a", status("a"), t0);
        assert!(cache.get_if_newer_than("a", t0).is_none());
        cache.update_time(t0 + Duration::from_millis(1));
        assert!(cache.get_if_newer_than("a", t0).is_some());
        // A pod never seen has an empty status once the global timestamp is newer.
        assert_eq!(cache.get_if_newer_than("b", t0), Some(status("b")));
    }

    #[tokio::test(start_paused = true)]
    async fn invalidated_pod_waits_for_its_own_read() {
        let cache = RuntimeCache::new();
        let t0 = Instant::now();
        cache.set("a", status("a"), t0);
        cache.invalidate("a");
        cache.update_time(t0 + Duration::from_secs(1));
        assert!(cache.get_if_newer_than("a", t0).is_none());
        cache.set("a", status("a"), t0 + Duration::from_secs(2));
        assert!(cache.get_if_newer_than("a", t0).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn older_reads_do_not_replace_newer_ones() {
        let cache = RuntimeCache::new();
        let t0 = Instant::now();
        let mut newer = status("a");
        newer.containers.clear();
        cache.set("a", newer, t0 + Duration::from_secs(1));
        cache.set("a", status("a"), t0);
        assert_eq!(cache.get("a").unwrap().read_at, t0 + Duration::from_secs(1));
    }
}
