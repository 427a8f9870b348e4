//! The results cache and its change notifications (the kubelet's `results.Manager`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::ProbeKind;

/// The cached result of one probe of one container instance (the kubelet's
/// `results.Result`), with the message of a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    /// Succeeded (its success threshold met), or the initial liveness value.
    Success,
    /// Failed (its failure threshold met), or the initial readiness value, or the
    /// container is not running. The message is the event text of the last failed run
    /// (`Liveness probe failed: HTTP probe failed with statuscode: 500`), or says why the
    /// result was set without a run.
    Failure(String),
    /// No result yet: the initial startup value.
    Unknown,
}

impl ProbeResult {
    /// The initial value of a worker's result for a new container instance: readiness
    /// Failure (not ready until the first success), liveness Success, startup Unknown.
    pub fn initial(kind: ProbeKind) -> Self {
        match kind {
            ProbeKind::Readiness => ProbeResult::Failure(INITIAL_READINESS.to_string()),
            ProbeKind::Liveness => ProbeResult::Success,
            ProbeKind::Startup => ProbeResult::Unknown,
        }
    }

    /// Whether this is [`ProbeResult::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, ProbeResult::Success)
    }

    /// The failure message, if this is a failure.
    pub fn failure_message(&self) -> Option<&str> {
        match self {
            ProbeResult::Failure(m) => Some(m),
            _ => None,
        }
    }

    /// Same variant (the kubelet's results compare without messages).
    fn same_kind(&self, other: &ProbeResult) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// The message of the initial readiness Failure.
pub const INITIAL_READINESS: &str = "Readiness probe has not succeeded yet";

/// One change of a cached result, sent to every subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeUpdate {
    /// The pod's uid.
    pub pod_uid: String,
    /// The container's name.
    pub container_name: String,
    /// The CRI id of the container instance.
    pub container_id: String,
    /// The probe.
    pub kind: ProbeKind,
    /// The new result.
    pub result: ProbeResult,
}

/// One cached result, as [`ResultsCache::pod_results`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerProbeResult {
    /// The container's name.
    pub container_name: String,
    /// The CRI id of the container instance.
    pub container_id: String,
    /// The probe.
    pub kind: ProbeKind,
    /// Its result.
    pub result: ProbeResult,
}

type PodResults = BTreeMap<(String, ProbeKind), (String, ProbeResult)>;

#[derive(Default)]
struct CacheState {
    pods: HashMap<String, PodResults>,
    subscribers: Vec<mpsc::UnboundedSender<ProbeUpdate>>,
}

/// The latest probe results, keyed by pod uid, container id and probe kind, with a change
/// feed ([`ResultsCache::subscribe`]).
///
/// Clones share one cache. A result is replaced on every [`set`](Self::set), but
/// subscribers hear only about changes (Success ↔ Failure ↔ Unknown), as with the kubelet's
/// results manager, so a pod worker woken by an update always has something to act on.
#[derive(Clone, Default)]
pub struct ResultsCache {
    state: Arc<Mutex<CacheState>>,
}

impl fmt::Debug for ResultsCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("ResultsCache")
            .field("pods", &st.pods.len())
            .field("subscribers", &st.subscribers.len())
            .finish()
    }
}

impl ResultsCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record a result; subscribers are told when it differs from the previous one (or
    /// there was none). Returns whether it changed.
    pub fn set(
        &self,
        pod_uid: &str,
        container_name: &str,
        container_id: &str,
        kind: ProbeKind,
        result: ProbeResult,
    ) -> bool {
        let mut st = self.lock();
        let previous = st.pods.entry(pod_uid.to_string()).or_default().insert(
            (container_id.to_string(), kind),
            (container_name.to_string(), result.clone()),
        );
        let changed = previous.is_none_or(|(_, old)| !old.same_kind(&result));
        if changed {
            let update = ProbeUpdate {
                pod_uid: pod_uid.to_string(),
                container_name: container_name.to_string(),
                container_id: container_id.to_string(),
                kind,
                result,
            };
            st.subscribers.retain(|tx| tx.send(update.clone()).is_ok());
        }
        changed
    }

    /// Forget one result (no notification, as in the kubelet).
    pub fn remove(&self, pod_uid: &str, container_id: &str, kind: ProbeKind) {
        let mut st = self.lock();
        if let Some(pod) = st.pods.get_mut(pod_uid) {
            pod.remove(&(container_id.to_string(), kind));
            if pod.is_empty() {
                st.pods.remove(pod_uid);
            }
        }
    }

    /// Forget every result of a pod.
    pub fn remove_pod(&self, pod_uid: &str) {
        self.lock().pods.remove(pod_uid);
    }

    /// The result of one probe of one container instance, if any.
    pub fn get(&self, pod_uid: &str, container_id: &str, kind: ProbeKind) -> Option<ProbeResult> {
        self.lock()
            .pods
            .get(pod_uid)
            .and_then(|p| p.get(&(container_id.to_string(), kind)))
            .map(|(_, r)| r.clone())
    }

    /// Every cached result of a pod, ordered by container id and kind.
    pub fn pod_results(&self, pod_uid: &str) -> Vec<ContainerProbeResult> {
        self.lock()
            .pods
            .get(pod_uid)
            .into_iter()
            .flatten()
            .map(|((id, kind), (name, result))| ContainerProbeResult {
                container_name: name.clone(),
                container_id: id.clone(),
                kind: *kind,
                result: result.clone(),
            })
            .collect()
    }

    /// A feed of every change from now on. Each subscriber gets every update (an unbounded
    /// channel: updates happen only on changes, a handful per container restart); a dropped
    /// receiver is forgotten at the next update.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<ProbeUpdate> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().subscribers.push(tx);
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_only_on_change() {
        let cache = ResultsCache::new();
        let mut rx = cache.subscribe();
        assert!(cache.set(
            "u",
            "c",
            "id1",
            ProbeKind::Readiness,
            ProbeResult::Failure("a".into())
        ));
        assert!(!cache.set(
            "u",
            "c",
            "id1",
            ProbeKind::Readiness,
            ProbeResult::Failure("b".into())
        ));
        assert!(cache.set("u", "c", "id1", ProbeKind::Readiness, ProbeResult::Success));
        assert_eq!(
            rx.try_recv().unwrap().result,
            ProbeResult::Failure("a".into())
        );
        assert_eq!(rx.try_recv().unwrap().result, ProbeResult::Success);
        assert!(rx.try_recv().is_err());
        // The latest message is kept even without a notification.
        cache.set(
            "u",
            "c",
            "id1",
            ProbeKind::Readiness,
            ProbeResult::Failure("x".into()),
        );
        cache.set(
            "u",
            "c",
            "id1",
            ProbeKind::Readiness,
            ProbeResult::Failure("y".into()),
        );
        assert_eq!(
            cache.get("u", "id1", ProbeKind::Readiness),
            Some(ProbeResult::Failure("y".into()))
        );
        cache.remove("u", "id1", ProbeKind::Readiness);
        assert!(cache.pod_results("u").is_empty());
    }
}
