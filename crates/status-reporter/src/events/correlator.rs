//! The event correlator of client-go's recorder (`tools/record/events_cache.go`): what an
//! event becomes before it is sent, as a pure function of the events seen so far and the time.
//!
//! Three steps, in client-go's order (`EventCorrelator.EventCorrelate`):
//! 1. aggregation (`EventAggregator`): events that differ only by message, from the same
//!    source about the same object with the same type and reason, are counted per 10 minutes;
//!    from the 10th distinct message on, they become one event whose message is
//!    `(combined from similar events): <latest message>`;
//! 2. counting (`eventLogger`): an event identical to one already sent (same source, object,
//!    type, reason and message) is sent as a patch of that event's `count`, `lastTimestamp`
//!    and `message` rather than as a new event;
//! 3. spam filtering (`EventSourceObjectSpamFilter`): a token bucket per source, object and
//!    type, 25 events deep, refilled with one event every 5 minutes; an event that finds it
//!    empty is dropped.
//!
//! Every cache is an LRU of 4096 entries (`maxLruCacheEntries`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

/// Entries of each correlation cache (`maxLruCacheEntries`).
pub(crate) const CACHE_ENTRIES: usize = 4096;
/// Distinct messages of similar events before they are aggregated
/// (`defaultAggregateMaxEvents`).
pub(crate) const AGGREGATE_MAX_EVENTS: usize = 10;
/// How long similar events are remembered for aggregation
/// (`defaultAggregateIntervalInSeconds`).
pub(crate) const AGGREGATE_INTERVAL: Duration = Duration::from_secs(600);
/// Events a source may send about one object at once (`defaultSpamBurst`).
pub(crate) const SPAM_BURST: f64 = 25.0;
/// The refill rate of that budget, in events per second (`defaultSpamQPS`, one per 5 min).
pub(crate) const SPAM_QPS: f64 = 1.0 / 300.0;
/// The prefix of an aggregated event's message (`EventAggregatorByReasonMessageFunc`).
pub(crate) const AGGREGATE_PREFIX: &str = "(combined from similar events): ";

/// A token bucket (`golang.org/x/time/rate` as client-go's passive rate limiter uses it): full
/// at first, refilled at `qps` up to `burst`.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    qps: f64,
    burst: f64,
    tokens: f64,
}

impl TokenBucket {
    pub(crate) fn new(qps: f64, burst: f64) -> TokenBucket {
        TokenBucket {
            qps,
            burst,
            tokens: burst,
        }
    }

    /// Adds what `elapsed` refilled.
    pub(crate) fn advance(&mut self, elapsed: Duration) {
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.qps).min(self.burst);
    }

    /// Takes a token if there is one (`TryAccept`).
    pub(crate) fn try_take(&mut self) -> bool {
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes a token, going into debt if needed, and says how long to wait before acting on
    /// it (`Reserve().Delay()`).
    pub(crate) fn reserve(&mut self) -> Duration {
        self.tokens -= 1.0;
        if self.tokens >= 0.0 || self.qps <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

/// A least-recently-used map of string keys (`k8s.io/utils/lru`).
#[derive(Debug)]
pub(crate) struct Lru<V> {
    capacity: usize,
    tick: u64,
    entries: HashMap<String, (V, u64)>,
    order: BTreeMap<u64, String>,
}

impl<V> Lru<V> {
    pub(crate) fn new(capacity: usize) -> Lru<V> {
        Lru {
            capacity: capacity.max(1),
            tick: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    fn touch(&mut self, key: &str) {
        self.tick += 1;
        let tick = self.tick;
        if let Some((_, used)) = self.entries.get_mut(key) {
            self.order.remove(used);
            *used = tick;
            self.order.insert(tick, key.to_owned());
        }
    }

    /// The value of `key`, marked as used.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.touch(key);
        self.entries.get_mut(key).map(|(value, _)| value)
    }

    /// Sets `key`, evicting the least recently used entry when full.
    pub(crate) fn insert(&mut self, key: String, value: V) {
        self.tick += 1;
        let tick = self.tick;
        if let Some((_, used)) = self.entries.insert(key.clone(), (value, tick)) {
            self.order.remove(&used);
        }
        self.order.insert(tick, key);
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Similar events seen within the aggregation interval (`aggregateRecord`).
#[derive(Debug, Default)]
struct AggregateRecord {
    messages: BTreeSet<String>,
    last: Option<Timestamp>,
}

/// What was last sent for an event key (`eventLog`).
#[derive(Debug, Clone, Default)]
struct EventLog {
    count: i32,
    first_timestamp: Option<Time>,
    name: String,
    resource_version: Option<String>,
}

/// The outcome of correlating one event: the event to write, and the patch to send instead
/// of creating it when it repeats one already written.
#[derive(Debug, Clone)]
pub(crate) struct Correlated {
    /// The event as it should exist on the server.
    pub(crate) event: Event,
    /// A strategic merge patch of `count`, `lastTimestamp` and `message`, for a repeat.
    pub(crate) patch: Option<serde_json::Value>,
}

/// Joins key parts with a separator that cannot occur in them (client-go joins with "", which
/// can make two different events share a key).
fn join(parts: &[&str]) -> String {
    parts.join("\u{0}")
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// `getEventKey`: source, object, type, reason and message.
pub(crate) fn event_key(event: &Event) -> String {
    let source = event.source.clone().unwrap_or_default();
    let object = &event.involved_object;
    join(&[
        opt(&source.component),
        opt(&source.host),
        opt(&object.kind),
        opt(&object.namespace),
        opt(&object.name),
        opt(&object.field_path),
        opt(&object.uid),
        opt(&object.api_version),
        opt(&event.type_),
        opt(&event.reason),
        opt(&event.message),
    ])
}

/// `getSpamKey`: source, object and type.
fn spam_key(event: &Event) -> String {
    let source = event.source.clone().unwrap_or_default();
    let object = &event.involved_object;
    join(&[
        opt(&source.component),
        opt(&source.host),
        opt(&object.kind),
        opt(&object.namespace),
        opt(&object.name),
        opt(&object.uid),
        opt(&object.api_version),
        opt(&event.type_),
    ])
}

/// `EventAggregatorByReasonFunc`: the aggregate key (everything but the message) and the
/// local key (the message).
fn aggregate_key(event: &Event) -> (String, String) {
    let source = event.source.clone().unwrap_or_default();
    let object = &event.involved_object;
    let key = join(&[
        opt(&source.component),
        opt(&source.host),
        opt(&object.kind),
        opt(&object.namespace),
        opt(&object.name),
        opt(&object.uid),
        opt(&object.api_version),
        opt(&event.type_),
        opt(&event.reason),
        opt(&event.reporting_component),
        opt(&event.reporting_instance),
    ]);
    (key, event.message.clone().unwrap_or_default())
}

/// An event name for an object name and a time (`util.GenerateEventName`):
/// `<name>.<unix nanoseconds in hex>`, or a random name when that is not a DNS subdomain.
pub(crate) fn event_name(object_name: &str, now: Timestamp) -> String {
    let name = format!("{object_name}.{:x}", now.as_nanosecond());
    if is_dns_subdomain(&name) {
        name
    } else {
        random_name()
    }
}

/// A random name shaped like a UUID (what client-go falls back to).
fn random_name() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Whether `s` is a DNS subdomain (RFC 1123): at most 253 characters, dot-separated labels of
/// lowercase alphanumerics and '-', starting and ending with an alphanumeric.
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-'
        })
}

/// client-go's `EventCorrelator` with its default options.
#[derive(Debug)]
pub(crate) struct EventCorrelator {
    aggregates: Lru<AggregateRecord>,
    logs: Lru<EventLog>,
    spam: Lru<(TokenBucket, Timestamp)>,
}

impl Default for EventCorrelator {
    fn default() -> Self {
        EventCorrelator {
            aggregates: Lru::new(CACHE_ENTRIES),
            logs: Lru::new(CACHE_ENTRIES),
            spam: Lru::new(CACHE_ENTRIES),
        }
    }
}

impl EventCorrelator {
    /// Aggregates, counts and filters `event` at `now` (`EventCorrelate`). `None` when the
    /// spam filter drops it.
    pub(crate) fn correlate(&mut self, event: Event, now: Timestamp) -> Option<Correlated> {
        let (event, key) = self.aggregate(event, now);
        let (event, patch) = self.observe(event, key);
        if self.is_spam(&event, now) {
            return None;
        }
        Some(Correlated { event, patch })
    }

    /// Records what the server answered (`UpdateState`), so a later repeat patches the event
    /// under its server name and resource version.
    pub(crate) fn update_state(&mut self, event: &Event) {
        self.logs.insert(
            event_key(event),
            EventLog {
                count: event.count.unwrap_or(1),
                first_timestamp: event.first_timestamp.clone(),
                name: event.metadata.name.clone().unwrap_or_default(),
                resource_version: event.metadata.resource_version.clone(),
            },
        );
    }

    /// `EventAggregate`: the event to send, and the key it is counted under.
    fn aggregate(&mut self, event: Event, now: Timestamp) -> (Event, String) {
        let full_key = event_key(&event);
        let (aggregate_key, message) = aggregate_key(&event);
        let record = match self.aggregates.get_mut(&aggregate_key) {
            Some(record) => std::mem::take(record),
            None => AggregateRecord::default(),
        };
        let fresh = record.last.is_none_or(|last| {
            now.duration_since(last)
                > jiff::SignedDuration::try_from(AGGREGATE_INTERVAL).unwrap_or_default()
        });
        let mut record = if fresh {
            AggregateRecord::default()
        } else {
            record
        };
        record.messages.insert(message);
        record.last = Some(now);
        if record.messages.len() < AGGREGATE_MAX_EVENTS {
            self.aggregates.insert(aggregate_key, record);
            return (event, full_key);
        }
        // Do not grow the set beyond the maximum (`PopAny`).
        record.messages.pop_first();
        self.aggregates.insert(aggregate_key.clone(), record);

        let time = Time(now);
        let object_name = event.involved_object.name.clone().unwrap_or_default();
        let aggregated = Event {
            metadata: ObjectMeta {
                name: Some(event_name(&object_name, now)),
                namespace: event.metadata.namespace.clone(),
                ..ObjectMeta::default()
            },
            count: Some(1),
            first_timestamp: Some(time.clone()),
            last_timestamp: Some(time),
            message: Some(format!(
                "{AGGREGATE_PREFIX}{}",
                event.message.as_deref().unwrap_or("")
            )),
            involved_object: event.involved_object,
            type_: event.type_,
            reason: event.reason,
            source: event.source,
            // Differs from client-go, whose aggregate event drops these two: kept, so that an
            // aggregated event names its reporter like every other.
            reporting_component: event.reporting_component,
            reporting_instance: event.reporting_instance,
            ..Event::default()
        };
        (aggregated, aggregate_key)
    }

    /// `eventObserve`: a repeat of an event already sent becomes a patch of it.
    fn observe(&mut self, mut event: Event, key: String) -> (Event, Option<serde_json::Value>) {
        let last = self.logs.get_mut(&key).cloned().unwrap_or_default();
        let mut patch = None;
        if last.count > 0 {
            event.metadata.name = Some(last.name.clone());
            event.metadata.resource_version = last.resource_version.clone();
            event.first_timestamp = last.first_timestamp.clone();
            event.count = Some(last.count.saturating_add(1));
            // client-go diffs the event against a copy with count 0, lastTimestamp at the epoch
            // and no message: the patch is exactly these three fields.
            patch = Some(serde_json::json!({
                "count": event.count,
                "lastTimestamp": event.last_timestamp,
                "message": event.message,
            }));
        }
        self.logs.insert(
            key,
            EventLog {
                count: event.count.unwrap_or(1),
                first_timestamp: event.first_timestamp.clone(),
                name: event.metadata.name.clone().unwrap_or_default(),
                resource_version: event.metadata.resource_version.clone(),
            },
        );
        (event, patch)
    }

    /// `EventSourceObjectSpamFilter.Filter`: whether the source and object ran out of budget.
    fn is_spam(&mut self, event: &Event, now: Timestamp) -> bool {
        let key = spam_key(event);
        let (mut bucket, last) = self
            .spam
            .get_mut(&key)
            .cloned()
            .unwrap_or_else(|| (TokenBucket::new(SPAM_QPS, SPAM_BURST), now));
        let elapsed = now.duration_since(last);
        bucket.advance(Duration::try_from(elapsed).unwrap_or_default());
        let allowed = bucket.try_take();
        self.spam.insert(key, (bucket, now));
        !allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EventSource, ObjectReference};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn event(reason: &str, message: &str, now: Timestamp) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(event_name("web-1", now)),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                namespace: Some("ns".into()),
                name: Some("web-1".into()),
                uid: Some("uid-1".into()),
                ..ObjectReference::default()
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some("Normal".into()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            source: Some(EventSource {
                component: Some("kubelet".into()),
                host: Some("node-1".into()),
            }),
            reporting_component: Some("kubelet".into()),
            reporting_instance: Some("node-1".into()),
            ..Event::default()
        }
    }

    #[test]
    fn identical_events_become_patches_of_the_first() {
        let mut c = EventCorrelator::default();
        let first = c.correlate(event("Pulled", "same", at(0)), at(0)).unwrap();
        assert!(first.patch.is_none());
        assert_eq!(first.event.count, Some(1));
        let name = first.event.metadata.name.clone().unwrap();
        let mut stored = first.event.clone();
        stored.metadata.resource_version = Some("41".into());
        c.update_state(&stored);

        let second = c.correlate(event("Pulled", "same", at(5)), at(5)).unwrap();
        assert_eq!(second.event.metadata.name.as_deref(), Some(name.as_str()));
        assert_eq!(
            second.event.metadata.resource_version.as_deref(),
            Some("41")
        );
        assert_eq!(second.event.count, Some(2));
        assert_eq!(second.event.first_timestamp, Some(Time(at(0))));
        let patch = second.patch.unwrap();
        assert_eq!(patch["count"], 2);
        assert_eq!(patch["message"], "same");
        assert_eq!(patch.as_object().unwrap().len(), 3, "{patch}");

        let third = c.correlate(event("Pulled", "same", at(9)), at(9)).unwrap();
        assert_eq!(third.event.count, Some(3));
    }

    #[test]
    fn the_tenth_distinct_message_is_aggregated() {
        let mut c = EventCorrelator::default();
        for i in 0..9 {
            let out = c
                .correlate(event("Failed", &format!("m{i}"), at(i)), at(i))
                .unwrap();
            assert!(out.patch.is_none());
            assert_eq!(out.event.message.as_deref(), Some(format!("m{i}").as_str()));
        }
        let tenth = c.correlate(event("Failed", "m9", at(9)), at(9)).unwrap();
        assert_eq!(
            tenth.event.message.as_deref(),
            Some("(combined from similar events): m9")
        );
        assert_eq!(tenth.event.count, Some(1));
        assert!(tenth.patch.is_none());
        let eleventh = c.correlate(event("Failed", "m10", at(10)), at(10)).unwrap();
        assert_eq!(eleventh.event.count, Some(2));
        assert_eq!(
            eleventh.event.metadata.name, tenth.event.metadata.name,
            "the aggregate is patched"
        );
        assert_eq!(
            eleventh.patch.unwrap()["message"],
            "(combined from similar events): m10"
        );
        // Another reason is another group.
        let other = c.correlate(event("Other", "m0", at(11)), at(11)).unwrap();
        assert_eq!(other.event.message.as_deref(), Some("m0"));
    }

    #[test]
    fn similar_events_older_than_ten_minutes_start_a_new_group() {
        let mut c = EventCorrelator::default();
        for i in 0..9 {
            c.correlate(event("Failed", &format!("m{i}"), at(i)), at(i))
                .unwrap();
        }
        let later = at(8 + 601);
        let out = c.correlate(event("Failed", "m9", later), later).unwrap();
        assert_eq!(out.event.message.as_deref(), Some("m9"));
    }

    #[test]
    fn a_source_and_object_may_burst_25_then_one_per_five_minutes() {
        let mut c = EventCorrelator::default();
        let sent = (0..30)
            .filter(|i| {
                c.correlate(event("Pulled", "same", at(0)), at(*i / 10))
                    .is_some()
            })
            .count();
        assert_eq!(sent, 25);
        // The count keeps growing while dropped: the next one sent carries it.
        assert!(
            c.correlate(event("Pulled", "same", at(100)), at(100))
                .is_none()
        );
        let refilled = c
            .correlate(event("Pulled", "same", at(310)), at(310))
            .unwrap();
        assert_eq!(refilled.event.count, Some(32));
        assert!(
            c.correlate(event("Pulled", "same", at(311)), at(311))
                .is_none()
        );
        // A Warning about the same object has its own budget.
        let mut warning = event("Pulled", "same", at(311));
        warning.type_ = Some("Warning".into());
        assert!(c.correlate(warning, at(311)).is_some());
    }

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut lru = Lru::new(2);
        lru.insert("a".into(), 1);
        lru.insert("b".into(), 2);
        assert_eq!(lru.get_mut("a"), Some(&mut 1));
        lru.insert("c".into(), 3);
        assert_eq!(lru.len(), 2);
        assert!(lru.get_mut("b").is_none());
        assert!(lru.get_mut("a").is_some() && lru.get_mut("c").is_some());
    }

    #[test]
    fn event_names_are_dns_subdomains() {
        let now = at(0);
        assert!(event_name("web-1", now).starts_with("web-1."));
        let long = "a".repeat(250);
        let name = event_name(&long, now);
        assert!(is_dns_subdomain(&name) && name.len() == 36, "{name}");
        assert!(!is_dns_subdomain("Upper.case"));
    }

    #[test]
    fn the_rate_limiter_waits_when_in_debt() {
        let mut bucket = TokenBucket::new(50.0, 2.0);
        assert_eq!(bucket.reserve(), Duration::ZERO);
        assert_eq!(bucket.reserve(), Duration::ZERO);
        let wait = bucket.reserve();
        assert!(
            wait > Duration::from_millis(19) && wait <= Duration::from_millis(20),
            "{wait:?}"
        );
        bucket.advance(Duration::from_secs(10));
        assert_eq!(bucket.reserve(), Duration::ZERO);
    }
}
