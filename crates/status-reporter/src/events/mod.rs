//! Kubernetes Events from the node agent: [`EventRecorder`], the kubelet's event recorder
//! (client-go `tools/record`, as `cmd/kubelet/app/server.go` sets it up).

mod correlator;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::conditions::{DISK_PRESSURE, MEMORY_PRESSURE, PID_PRESSURE, READY, TRUE};
use crate::error::{Error, Result};
use crate::node::NodeEvent;
use correlator::{Correlated, EventCorrelator, TokenBucket, event_name};

/// The kubelet's event source component (`server.ComponentKubelet`).
pub const KUBELET_COMPONENT: &str = "kubelet";
/// Events queued before new ones are dropped (client-go's `maxQueuedEvents`).
pub const EVENT_QUEUE_CAPACITY: usize = 1000;
/// Writes of one event before it is abandoned (`maxTriesPerEvent`).
pub const MAX_TRIES_PER_EVENT: u32 = 12;
/// The wait between two writes of one event (`defaultSleepDuration`).
pub const EVENT_RETRY_INTERVAL: Duration = Duration::from_secs(10);
/// Event writes per second (`eventRecordQPS`).
pub const DEFAULT_EVENT_RECORD_QPS: f64 = 50.0;
/// Event writes allowed at once (`eventBurst`).
pub const DEFAULT_EVENT_BURST: u32 = 100;
/// The namespace of events about cluster-scoped objects such as the Node.
pub const DEFAULT_EVENT_NAMESPACE: &str = "default";
/// The reason of the kubelet's start-up event (`events.StartingKubelet`).
pub const STARTING_REASON: &str = "Starting";
/// The message of the kubelet's start-up event.
pub const STARTING_MESSAGE: &str = "Starting kubelet.";
/// The reason of the event recorded when the boot id changed (`events.NodeRebooted`).
pub const REBOOTED_REASON: &str = "Rebooted";

/// The type of an event: the API accepts only these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Information (`Normal`).
    Normal,
    /// Something may be wrong (`Warning`).
    Warning,
}

impl EventType {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an [`EventRecorder`] writes.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecorderConfig {
    /// `source.component` and `reportingComponent` (`kubelet`).
    pub component: String,
    /// `source.host` and `reportingInstance`: the node's name.
    pub host: String,
    /// Writes per second (`eventRecordQPS`, 50); zero or less means no limit.
    pub qps: f64,
    /// Writes allowed at once (`eventBurst`, 100).
    pub burst: u32,
    /// Events queued before new ones are dropped (1000).
    pub queue_capacity: usize,
    /// The wait between two tries of an event that could not be written (10 s).
    pub retry_interval: Duration,
}

impl EventRecorderConfig {
    /// The kubelet's settings for node `node_name`.
    pub fn kubelet(node_name: impl Into<String>) -> EventRecorderConfig {
        EventRecorderConfig {
            component: KUBELET_COMPONENT.to_owned(),
            host: node_name.into(),
            qps: DEFAULT_EVENT_RECORD_QPS,
            burst: DEFAULT_EVENT_BURST,
            queue_capacity: EVENT_QUEUE_CAPACITY,
            retry_interval: EVENT_RETRY_INTERVAL,
        }
    }
}

/// A reference to a pod as events name it (`ref.GetReference`): `v1`, `Pod`, namespace,
/// name, UID and resource version.
pub fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Pod".to_owned()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        resource_version: pod.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

/// A reference to a pod known by namespace, name and UID only.
pub fn pod_reference_by_name(namespace: &str, name: &str, uid: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Pod".to_owned()),
        namespace: Some(namespace.to_owned()),
        name: Some(name.to_owned()),
        uid: Some(uid.to_owned()).filter(|u| !u.is_empty()),
        ..ObjectReference::default()
    }
}

/// A reference to one container of a pod (`GenerateContainerRef`): the pod's reference with
/// `fieldPath` `spec.containers{name}`, `spec.initContainers{name}` or
/// `spec.ephemeralContainers{name}`, or `implicitly required container <name>` for a
/// container the spec does not list.
pub fn container_reference(pod: &Pod, container: &str) -> ObjectReference {
    let spec = pod.spec.as_ref();
    let has = |list: Option<Vec<&str>>| list.is_some_and(|l| l.contains(&container));
    let field_path = if has(spec.map(|s| s.containers.iter().map(|c| c.name.as_str()).collect())) {
        format!("spec.containers{{{container}}}")
    } else if has(spec.and_then(|s| {
        s.init_containers
            .as_ref()
            .map(|l| l.iter().map(|c| c.name.as_str()).collect())
    })) {
        format!("spec.initContainers{{{container}}}")
    } else if has(spec.and_then(|s| {
        s.ephemeral_containers
            .as_ref()
            .map(|l| l.iter().map(|c| c.name.as_str()).collect())
    })) {
        format!("spec.ephemeralContainers{{{container}}}")
    } else {
        format!("implicitly required container {container}")
    };
    ObjectReference {
        field_path: Some(field_path),
        ..pod_reference(pod)
    }
}

/// A reference to node `name` (`kl.nodeRef`), with its UID when known (`nodeRefWithUID`).
pub fn node_reference(name: &str, uid: Option<&str>) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Node".to_owned()),
        name: Some(name.to_owned()),
        uid: uid.filter(|u| !u.is_empty()).map(str::to_owned),
        ..ObjectReference::default()
    }
}

/// The reference of a Node object (name and UID).
pub fn node_reference_of(node: &Node) -> ObjectReference {
    node_reference(
        node.metadata.name.as_deref().unwrap_or_default(),
        node.metadata.uid.as_deref(),
    )
}

/// What the background task is asked to do.
enum Message {
    Event(Box<Event>),
    Flush(oneshot::Sender<()>),
}

/// The parts shared by the clones of a recorder.
struct Shared {
    queue: mpsc::Sender<Message>,
    config: EventRecorderConfig,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Records core/v1 Events for pods and the node, without ever blocking the caller.
///
/// The kubelet of v1.37 still writes **core/v1 Events** (`record.NewBroadcaster` with an
/// `EventSinkImpl` over `CoreV1().Events("")`), not `events.k8s.io/v1`: `source` is
/// `{component: kubelet, host: <node>}`, `reportingComponent` is `kubelet` and
/// `reportingInstance` the node name, `firstTimestamp`/`lastTimestamp`/`count` carry the
/// repetitions. `kubectl describe` and `kubectl get events` read both APIs; this recorder writes
/// what the kubelet writes, so the two agents' events look the same.
///
/// # Never blocking the caller
///
/// [`EventRecorder::event`] builds the Event and puts it on a bounded queue (1000 events,
/// client-go's `maxQueuedEvents`); a full queue drops the event with an error log, as the
/// broadcaster does. One background task takes events in order, correlates them (see
/// "Correlation" below) and writes them: a create for a new event, a strategic merge
/// patch of `count`, `lastTimestamp` and `message` for a repeat (a create again if the event
/// was deleted meanwhile). Writes are throttled to `eventRecordQPS` 50 with a burst of 100
/// (the kubelet's event client). A refused write (an API status) is abandoned; a transport
/// error is retried up to 12 times, 10 s apart, the first wait randomized.
///
/// # Correlation
///
/// As client-go's `EventCorrelator`: identical events within the cache's memory bump the
/// first one's `count`; from the 10th distinct message of similar events (same object, type
/// and reason) within 10 minutes, one event `(combined from similar events): <message>`
/// stands for them; and a source may send 25 events about one object (per type) at once,
/// then one per 5 minutes, the rest being dropped.
///
/// # Node events
///
/// [`EventRecorder::record_starting`] is the kubelet's `BirthCry` (`Starting`, "Starting
/// kubelet."); [`EventRecorder::record_node_conditions`] records, for a Node just
/// registered, the events its conditions' setters record on their first evaluation
/// (`NodeHasSufficientMemory`, `NodeHasNoDiskPressure`, `NodeHasSufficientPID`, `NodeReady`,
/// or their opposites); [`EventRecorder::record_node_events`] turns the [`NodeEvent`]s of
/// [`update_node`](crate::update_node) into API events. Node events are written in the
/// `default` namespace with the Node as involved object (its UID when known, as
/// `nodeRefWithUID` does).
///
/// Cheap to clone; the clones share one queue and one writer task. The task ends when
/// [`EventRecorder::shutdown`] is called, when the parent token of
/// [`EventRecorder::start_with_cancellation`] is cancelled, or when the last clone is dropped.
///
/// ```no_run
/// # async fn run(client: kube::Client, pod: k8s_openapi::api::core::v1::Pod) -> status_reporter::Result<()> {
/// use status_reporter::{EventRecorder, EventRecorderConfig, EventType, container_reference};
///
/// let recorder = EventRecorder::start(client, EventRecorderConfig::kubelet("worker-1"))?;
/// recorder.record_starting(&status_reporter::node_reference("worker-1", None));
/// recorder.event(
///     &container_reference(&pod, "app"),
///     EventType::Normal,
///     "Pulled",
///     "Container image \"busybox\" already present on machine",
/// );
/// recorder.flush().await; // written (or dropped by the spam filter)
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct EventRecorder {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRecorder")
            .field("config", &self.shared.config)
            .field(
                "queued",
                &(self.shared.config.queue_capacity - self.shared.queue.capacity()),
            )
            .finish()
    }
}

impl EventRecorder {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(client: Client, config: EventRecorderConfig) -> Result<EventRecorder> {
        EventRecorder::start_with_cancellation(client, config, &CancellationToken::new())
    }

    /// [`EventRecorder::start`], with a writer that also stops when `parent` is cancelled.
    pub fn start_with_cancellation(
        client: Client,
        config: EventRecorderConfig,
        parent: &CancellationToken,
    ) -> Result<EventRecorder> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NeedsRuntime {
            node: config.host.clone(),
            component: "event recorder",
        })?;
        let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let cancel = parent.child_token();
        let tracker = TaskTracker::new();
        let writer = EventWriter {
            client,
            correlator: EventCorrelator::default(),
            limiter: TokenBucket::new(config.qps, f64::from(config.burst.max(1))),
            limited: config.qps > 0.0,
            limiter_at: Instant::now(),
            retry_interval: config.retry_interval,
            cancel: cancel.clone(),
        };
        let span = tracing::info_span!("event_recorder", node = %config.host);
        tracker.spawn_on(writer.run(receiver).instrument(span), &runtime);
        tracker.close();
        Ok(EventRecorder {
            shared: Arc::new(Shared {
                queue,
                config,
                cancel,
                tracker,
            }),
        })
    }

    /// The recorder's settings.
    pub fn config(&self) -> &EventRecorderConfig {
        &self.shared.config
    }

    /// Records an event about `object` (`Event`/`Eventf`): queued and written in the
    /// background; dropped with an error log if the queue is full or the recorder stopped.
    pub fn event(
        &self,
        object: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        let event = self.make_event(object, type_, reason, message.into(), Timestamp::now());
        match self.shared.queue.try_send(Message::Event(Box::new(event))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Message::Event(event))) => tracing::error!(
                object = %describe(&event.involved_object),
                reason,
                "Unable to record event: too many queued events, dropped event"
            ),
            Err(_) => tracing::debug!(
                object = %describe(object),
                reason,
                "the event recorder is stopped; event dropped"
            ),
        }
    }

    /// Records an event with annotations on the Event object (`AnnotatedEventf`; the
    /// eviction manager's `Evicted` event carries `offending_containers`,
    /// `offending_containers_usage` and `starved_resource`).
    pub fn annotated_event(
        &self,
        object: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: impl Into<String>,
        annotations: std::collections::BTreeMap<String, String>,
    ) {
        let mut event = self.make_event(object, type_, reason, message.into(), Timestamp::now());
        if !annotations.is_empty() {
            event.metadata.annotations = Some(annotations);
        }
        if let Err(e) = self.shared.queue.try_send(Message::Event(Box::new(event))) {
            let dropped = match e {
                mpsc::error::TrySendError::Full(_) => {
                    "Unable to record event: too many queued events, dropped event"
                }
                mpsc::error::TrySendError::Closed(_) => {
                    "the event recorder is stopped; event dropped"
                }
            };
            tracing::error!(object = %describe(object), reason, "{dropped}");
        }
    }

    /// `recorder.makeEvent`: a new Event named `<object>.<unix ns in hex>` in the object's
    /// namespace (`default` for cluster-scoped objects), counted once.
    fn make_event(
        &self,
        object: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: String,
        now: Timestamp,
    ) -> Event {
        let config = &self.shared.config;
        let namespace = object
            .namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| DEFAULT_EVENT_NAMESPACE.to_owned());
        let time = Time(now);
        Event {
            metadata: ObjectMeta {
                name: Some(event_name(object.name.as_deref().unwrap_or(""), now)),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            involved_object: object.clone(),
            reason: Some(reason.to_owned()),
            message: Some(message),
            first_timestamp: Some(time.clone()),
            last_timestamp: Some(time),
            count: Some(1),
            type_: Some(type_.as_str().to_owned()),
            source: Some(EventSource {
                component: Some(config.component.clone()),
                host: Some(config.host.clone()),
            }),
            reporting_component: Some(config.component.clone()),
            reporting_instance: Some(config.host.clone()),
            ..Event::default()
        }
    }

    /// Waits until every event recorded before this call has been written, dropped by the
    /// spam filter or abandoned. Returns at once if the recorder is stopped.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.shared.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Stops the writer and waits for it. Events still queued are dropped; call
    /// [`EventRecorder::flush`] first to write them.
    pub async fn shutdown(&self) {
        self.shared.cancel.cancel();
        self.shared.tracker.wait().await;
    }

    /// The kubelet's start-up event (`BirthCry`): Normal `Starting` "Starting kubelet." about
    /// the node.
    pub fn record_starting(&self, node: &ObjectReference) {
        self.event(node, EventType::Normal, STARTING_REASON, STARTING_MESSAGE);
    }

    /// Records the events of the node's conditions as they are now, the way the kubelet's
    /// condition setters record them on their first evaluation after start-up: for a healthy
    /// node `NodeHasSufficientMemory`, `NodeHasNoDiskPressure`, `NodeHasSufficientPID` and
    /// `NodeReady`, each `Node <name> status is now: <reason>` (type Normal, as
    /// `recordNodeStatusEvent` records them all). Call it once the Node is registered
    /// ([`NodeStatusReporter::wait_for_node`](crate::NodeStatusReporter::wait_for_node)).
    /// Conditions with status Unknown, and conditions other than those four, give no event.
    pub fn record_node_conditions(&self, node: &Node) {
        let reference = node_reference_of(node);
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let conditions = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default();
        for type_ in [MEMORY_PRESSURE, DISK_PRESSURE, PID_PRESSURE, READY] {
            let Some(condition) = conditions.iter().find(|c| c.type_ == type_) else {
                continue;
            };
            if let Some(reason) = condition_event_reason(type_, &condition.status) {
                self.event(
                    &reference,
                    EventType::Normal,
                    reason,
                    node_status_message(name, reason),
                );
            }
        }
    }

    /// Records node events as the kubelet does (`recordNodeStatusEvent`, `recordEvent`):
    /// a condition transition as Normal `Node <name> status is now: <reason>`, a reboot as
    /// Warning `Rebooted` `Node <name> has been rebooted, boot id: <id>`, a change of
    /// `spec.unschedulable` as Normal `NodeSchedulable` / `NodeNotSchedulable`.
    pub fn record_node_events(&self, node: &ObjectReference, events: &[NodeEvent]) {
        let name = node.name.as_deref().unwrap_or_default();
        for event in events {
            match event {
                NodeEvent::Condition(c) => self.event(
                    node,
                    EventType::Normal,
                    c.reason,
                    node_status_message(name, c.reason),
                ),
                NodeEvent::Rebooted { boot_id } => self.event(
                    node,
                    EventType::Warning,
                    REBOOTED_REASON,
                    format!("Node {name} has been rebooted, boot id: {boot_id}"),
                ),
                NodeEvent::Schedulable { .. } => self.event(
                    node,
                    EventType::Normal,
                    event.reason(),
                    node_status_message(name, event.reason()),
                ),
            }
        }
    }
}

/// "Node <name> status is now: <reason>".
fn node_status_message(node: &str, reason: &str) -> String {
    format!("Node {node} status is now: {reason}")
}

/// The event a condition setter records for a condition type and status
/// (`pkg/kubelet/nodestatus/setters.go`).
fn condition_event_reason(type_: &str, status: &str) -> Option<&'static str> {
    let on = status == TRUE;
    if status != TRUE && status != crate::conditions::FALSE {
        return None;
    }
    Some(match (type_, on) {
        (MEMORY_PRESSURE, true) => "NodeHasInsufficientMemory",
        (MEMORY_PRESSURE, false) => "NodeHasSufficientMemory",
        (DISK_PRESSURE, true) => "NodeHasDiskPressure",
        (DISK_PRESSURE, false) => "NodeHasNoDiskPressure",
        (PID_PRESSURE, true) => "NodeHasInsufficientPID",
        (PID_PRESSURE, false) => "NodeHasSufficientPID",
        (READY, true) => "NodeReady",
        (READY, false) => "NodeNotReady",
        _ => return None,
    })
}

/// `kind namespace/name` of an involved object, for logs.
fn describe(object: &ObjectReference) -> String {
    let kind = object.kind.as_deref().unwrap_or("object");
    match object.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        Some(ns) => format!("{kind} {ns}/{}", object.name.as_deref().unwrap_or("")),
        None => format!("{kind} {}", object.name.as_deref().unwrap_or("")),
    }
}

/// What became of one write.
enum Written {
    /// Written, or abandoned for good: go on with the next event.
    Done,
    /// A transport error: try again later.
    Retry,
}

/// The background task: correlates and writes events in order.
struct EventWriter {
    client: Client,
    correlator: EventCorrelator,
    limiter: TokenBucket,
    limited: bool,
    limiter_at: Instant,
    retry_interval: Duration,
    cancel: CancellationToken,
}

impl EventWriter {
    async fn run(mut self, mut queue: mpsc::Receiver<Message>) {
        loop {
            let message = tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                message = queue.recv() => message,
            };
            match message {
                None => break,
                Some(Message::Flush(done)) => {
                    let _ = done.send(());
                }
                Some(Message::Event(event)) => {
                    let span = tracing::debug_span!(
                        "event",
                        object = %describe(&event.involved_object),
                        uid = event.involved_object.uid.as_deref().unwrap_or(""),
                        reason = event.reason.as_deref().unwrap_or(""),
                    );
                    self.record(*event).instrument(span).await;
                }
            }
        }
        queue.close();
        let mut dropped = 0usize;
        while let Ok(message) = queue.try_recv() {
            match message {
                Message::Event(_) => dropped += 1,
                Message::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
        if dropped > 0 {
            tracing::warn!(dropped, "event recorder stopped with events still queued");
        }
    }

    /// `recordToSink`: correlate, then write with retries.
    async fn record(&mut self, event: Event) {
        tracing::debug!(
            type_ = event.type_.as_deref().unwrap_or(""),
            message = event.message.as_deref().unwrap_or(""),
            "Event occurred"
        );
        let Some(correlated) = self.correlator.correlate(event, Timestamp::now()) else {
            tracing::debug!("event dropped by the spam filter");
            return;
        };
        let mut tries = 0;
        loop {
            if let Written::Done = self.write(&correlated).await {
                return;
            }
            tries += 1;
            if tries >= MAX_TRIES_PER_EVENT {
                tracing::error!("Unable to write event (retry limit exceeded!)");
                return;
            }
            // The first wait is randomized so that agents do not all retry together.
            let delay = if tries == 1 {
                self.retry_interval.mul_f64(fastrand::f64())
            } else {
                self.retry_interval
            };
            tokio::select! {
                () = self.cancel.cancelled() => {
                    tracing::error!("Unable to write event (broadcaster is shut down)");
                    return;
                }
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Waits for the client-side rate limit (`eventRecordQPS`/`eventBurst`).
    async fn throttle(&mut self) {
        if !self.limited {
            return;
        }
        let now = Instant::now();
        self.limiter.advance(now - self.limiter_at);
        self.limiter_at = now;
        let wait = self.limiter.reserve();
        if !wait.is_zero() {
            tokio::select! {
                () = self.cancel.cancelled() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// `recordEvent`: a patch for a repeat (a create if the event is gone), else a create.
    async fn write(&mut self, correlated: &Correlated) -> Written {
        let event = &correlated.event;
        let namespace = event
            .metadata
            .namespace
            .as_deref()
            .unwrap_or(DEFAULT_EVENT_NAMESPACE);
        let events: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        let name = event.metadata.name.as_deref().unwrap_or_default();
        let repeat = correlated
            .patch
            .as_ref()
            .filter(|_| event.count.unwrap_or(1) > 1);
        let mut result = None;
        if let Some(patch) = repeat {
            self.throttle().await;
            let patched = events
                .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
                .await;
            match patched {
                Err(kube::Error::Api(status)) if status.is_not_found() => {}
                other => result = Some(other),
            }
        }
        let result = match result {
            Some(result) => result,
            None => {
                let mut create = event.clone();
                create.metadata.resource_version = None;
                self.throttle().await;
                events.create(&PostParams::default(), &create).await
            }
        };
        match result {
            Ok(written) => {
                self.correlator.update_state(&written);
                tracing::trace!(count = written.count, "event written");
                Written::Done
            }
            Err(kube::Error::Api(status)) => {
                if status.is_already_exists() {
                    tracing::debug!(error = %status, "Server rejected event (will not retry!)");
                } else {
                    tracing::error!(error = %status, "Server rejected event (will not retry!)");
                }
                Written::Done
            }
            Err(e @ kube::Error::BuildRequest(_)) => {
                tracing::error!(error = %e, "Unable to construct event (will not retry!)");
                Written::Done
            }
            Err(e) => {
                tracing::error!(error = %e, "Unable to write event (may retry after sleeping)");
                Written::Retry
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, NodeCondition, NodeStatus, PodSpec};

    fn pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some("web".into()),
                uid: Some("u1".into()),
                resource_version: Some("7".into()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    ..Container::default()
                }],
                init_containers: Some(vec![Container {
                    name: "setup".into(),
                    ..Container::default()
                }]),
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn container_references_name_the_field_path() {
        let pod = pod();
        let app = container_reference(&pod, "app");
        assert_eq!(app.field_path.as_deref(), Some("spec.containers{app}"));
        assert_eq!(app.uid.as_deref(), Some("u1"));
        assert_eq!(app.resource_version.as_deref(), Some("7"));
        assert_eq!(
            container_reference(&pod, "setup").field_path.as_deref(),
            Some("spec.initContainers{setup}")
        );
        assert_eq!(
            container_reference(&pod, "POD").field_path.as_deref(),
            Some("implicitly required container POD")
        );
    }

    #[test]
    fn condition_reasons_follow_the_setters() {
        assert_eq!(
            condition_event_reason(MEMORY_PRESSURE, "False"),
            Some("NodeHasSufficientMemory")
        );
        assert_eq!(
            condition_event_reason(DISK_PRESSURE, "True"),
            Some("NodeHasDiskPressure")
        );
        assert_eq!(condition_event_reason(READY, "False"), Some("NodeNotReady"));
        assert_eq!(condition_event_reason(READY, "Unknown"), None);
        assert_eq!(condition_event_reason("NetworkUnavailable", "True"), None);
    }

    #[tokio::test]
    async fn events_are_built_like_the_kubelets() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = Client::try_from(config).unwrap();
        let recorder = EventRecorder::start(client, EventRecorderConfig::kubelet("n1")).unwrap();
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let node = node_reference("n1", Some("node-uid"));
        let event = recorder.make_event(&node, EventType::Normal, "Starting", "x".into(), now);
        assert_eq!(event.metadata.namespace.as_deref(), Some("default"));
        assert!(event.metadata.name.unwrap().starts_with("n1."));
        let source = event.source.unwrap();
        assert_eq!(source.component.as_deref(), Some("kubelet"));
        assert_eq!(source.host.as_deref(), Some("n1"));
        assert_eq!(event.reporting_component.as_deref(), Some("kubelet"));
        assert_eq!(event.reporting_instance.as_deref(), Some("n1"));
        assert_eq!(event.count, Some(1));
        let pod_event = recorder.make_event(
            &pod_reference(&pod()),
            EventType::Warning,
            "Failed",
            "y".into(),
            now,
        );
        assert_eq!(pod_event.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(pod_event.type_.as_deref(), Some("Warning"));
        recorder.shutdown().await;
        // Recording after shutdown drops the event without blocking.
        recorder.event(&node, EventType::Normal, "Late", "z");
        recorder.flush().await;
    }

    #[tokio::test]
    async fn a_full_queue_drops_instead_of_blocking() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = Client::try_from(config).unwrap();
        let mut settings = EventRecorderConfig::kubelet("n1");
        settings.queue_capacity = 2;
        settings.retry_interval = Duration::from_secs(3600);
        let recorder = EventRecorder::start(client, settings).unwrap();
        let node = node_reference("n1", None);
        for i in 0..50 {
            recorder.event(&node, EventType::Normal, "Spam", format!("m{i}"));
        }
        recorder.shutdown().await;
    }

    #[test]
    fn node_condition_events_of_a_healthy_node() {
        let node = Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                ..ObjectMeta::default()
            },
            status: Some(NodeStatus {
                conditions: Some(
                    [
                        (MEMORY_PRESSURE, "False"),
                        (DISK_PRESSURE, "False"),
                        (PID_PRESSURE, "False"),
                        (READY, "True"),
                    ]
                    .into_iter()
                    .map(|(t, s)| NodeCondition {
                        type_: t.into(),
                        status: s.into(),
                        ..NodeCondition::default()
                    })
                    .collect(),
                ),
                ..NodeStatus::default()
            }),
            ..Node::default()
        };
        let reasons: Vec<_> = node
            .status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .filter_map(|c| condition_event_reason(&c.type_, &c.status))
            .collect();
        assert_eq!(
            reasons,
            [
                "NodeHasSufficientMemory",
                "NodeHasNoDiskPressure",
                "NodeHasSufficientPID",
                "NodeReady"
            ]
        );
    }
}
