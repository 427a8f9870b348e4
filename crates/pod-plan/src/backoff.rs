//! Per-key exponential back-off: client-go's `flowcontrol.Backoff`, configured as the kubelet
//! configures it for container restarts (CrashLoopBackOff) and for image pulls; the rules are
//! on [`Backoff`]. Also the kubelet's back-off keys and Go's duration format, which the
//! kubelet's back-off messages use.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;

/// First container restart delay (`initialCrashLoopBackOff`, 10 s).
pub const CONTAINER_BACKOFF_INITIAL: Duration = Duration::from_secs(10);
/// Longest container restart delay (`MaxCrashLoopBackOff`, 300 s).
pub const CONTAINER_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// First container restart delay with the `ReduceDefaultCrashLoopBackOffDecay` gate (1 s).
pub const REDUCED_CONTAINER_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Longest container restart delay with the `ReduceDefaultCrashLoopBackOffDecay` gate (60 s).
pub const REDUCED_CONTAINER_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How long a container must run, counted from its last back-off update, before its
/// back-off starts over (the kubelet's `HasExpiredFunc`: 600 s whatever the maximum).
pub const CONTAINER_BACKOFF_RESET: Duration = Duration::from_secs(600);
/// First image pull retry delay (`backOffPeriod`, 10 s).
pub const IMAGE_PULL_BACKOFF_INITIAL: Duration = Duration::from_secs(10);
/// Longest image pull retry delay (`MaxImageBackOff`, 300 s).
pub const IMAGE_PULL_BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The optional CrashLoopBackOff knobs of the kubelet configuration (RP-10), as read by the
/// kubelet's `newCrashLoopBackOff`. The default is the kubelet's default: 10 s doubling up to
/// 300 s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrashLoopBackOffConfig {
    /// The `ReduceDefaultCrashLoopBackOffDecay` feature gate: start at 1 s, cap at 60 s.
    pub reduce_default_decay: bool,
    /// `crashLoopBackOff.maxContainerRestartPeriod` (the `KubeletCrashLoopBackOffMax` gate): the
    /// cap, which wins over the gate above. When it is below the initial delay, the initial
    /// delay is lowered to it. The kubelet's config validation keeps it within 1 s–300 s; that
    /// check belongs to whoever parses the configuration.
    pub max_container_restart_period: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    delay: Duration,
    last_update: Timestamp,
}

/// Exponential back-off per key: client-go's `flowcontrol.Backoff`, as a plain value. Every
/// method takes the current time as an argument; nothing reads a clock. One entry per key
/// holds the current delay and when it was last advanced:
///
/// - [`Backoff::next`] creates an entry at the initial delay, or doubles it (capped at the
///   maximum), or starts over at the initial delay when the entry has expired;
/// - an entry expires when more than [`Backoff::expire_after`] passed between its last update
///   and the event looked at. client-go's default is 2 × max; for container restarts the
///   kubelet fixes it at 600 s (its `HasExpiredFunc`), so a container that ran for more than
///   ten minutes before crashing restarts at once again (RP-08);
/// - there is no jitter (the kubelet uses `NewBackOff`), so container restart delays are
///   exactly 10 s, 20 s, 40 s, 80 s, 160 s, 300 s, 300 s, ...
///
/// ```
/// use std::time::Duration;
/// use jiff::Timestamp;
/// use pod_plan::Backoff;
///
/// let mut backoff = Backoff::container();
/// let t0 = Timestamp::from_second(1_000_000).unwrap();
/// backoff.next("app", t0);
/// assert_eq!(backoff.delay("app"), Some(Duration::from_secs(10)));
/// // Five seconds after an exit at t0, the container is still backing off.
/// let t5 = t0 + Duration::from_secs(5);
/// assert!(backoff.is_in_backoff_since("app", t0, t5));
/// backoff.next("app", t5);
/// assert_eq!(backoff.delay("app"), Some(Duration::from_secs(20)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    expire_after: Duration,
    entries: BTreeMap<String, Entry>,
}

impl Backoff {
    /// A back-off starting at `initial` and doubling up to `max`, whose entries expire 2 × max
    /// after their last update (client-go `NewBackOff` with the default `hasExpired`).
    ///
    /// As in client-go, the first delay is `initial` even when it exceeds `max`; only the
    /// doubled delays are capped.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            expire_after: max.saturating_mul(2),
            entries: BTreeMap::new(),
        }
    }

    /// The kubelet's container restart back-off (CrashLoopBackOff): 10 s doubling up to 300 s,
    /// reset when a container ran for more than 600 s since its last update.
    pub fn container() -> Self {
        Self::container_with(CrashLoopBackOffConfig::default())
    }

    /// The container restart back-off with the optional knobs of RP-10, as the kubelet's
    /// `newCrashLoopBackOff` reads them: the reduced-decay gate gives 1 s / 60 s; a
    /// `maxContainerRestartPeriod` sets the cap and, when lower, the initial delay too. The
    /// reset stays at 600 s in every case (the kubelet's `HasExpiredFunc` is fixed).
    pub fn container_with(config: CrashLoopBackOffConfig) -> Self {
        let (mut initial, mut max) = if config.reduce_default_decay {
            (
                REDUCED_CONTAINER_BACKOFF_INITIAL,
                REDUCED_CONTAINER_BACKOFF_MAX,
            )
        } else {
            (CONTAINER_BACKOFF_INITIAL, CONTAINER_BACKOFF_MAX)
        };
        if let Some(period) = config.max_container_restart_period {
            max = period;
            if max < initial {
                initial = max;
            }
        }
        Backoff {
            expire_after: CONTAINER_BACKOFF_RESET,
            ..Self::new(initial, max)
        }
    }

    /// The kubelet's image pull back-off: 10 s doubling up to 300 s, per `<pod uid>_<image>`
    /// key (see [`image_backoff_key`]); entries expire after 600 s (2 × max).
    pub fn image_pull() -> Self {
        Self::new(IMAGE_PULL_BACKOFF_INITIAL, IMAGE_PULL_BACKOFF_MAX)
    }

    /// The first delay of a new (or reset) entry.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The cap on doubled delays.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// How long after its last update an entry expires: its next update starts over at the
    /// initial delay, and [`Backoff::gc`] drops it.
    pub fn expire_after(&self) -> Duration {
        self.expire_after
    }

    /// Advance the back-off of `key` at time `now`, the event being now: create the entry at
    /// the initial delay, or start over if it expired, or double the delay up to the maximum.
    /// Same as [`Backoff::next_since`] with `event_time = now`, which is how the kubelet's
    /// image manager calls it.
    pub fn next(&mut self, key: &str, now: Timestamp) {
        self.next_since(key, now, now);
    }

    /// client-go `Next(key, eventTime)`: the entry expires if more than
    /// [`Backoff::expire_after`] passed between its last update and `event_time`; the new
    /// last update is `now`. The kubelet's `doBackOff` passes the `finishedAt` of the
    /// container's last exit as `event_time`, so the reset depends on how long the container
    /// ran, not on how long the kubelet waited before restarting it.
    pub fn next_since(&mut self, key: &str, event_time: Timestamp, now: Timestamp) {
        let delay = match self.entries.get(key) {
            Some(entry) if !self.has_expired(event_time, entry.last_update) => {
                entry.delay.saturating_mul(2).min(self.max)
            }
            _ => self.initial,
        };
        self.entries.insert(
            key.to_string(),
            Entry {
                delay,
                last_update: now,
            },
        );
    }

    /// client-go `IsInBackOffSince(key, eventTime)`: whether less than the current delay has
    /// passed between `event_time` (a container's last `finishedAt`) and `now`. A missing or
    /// expired entry is never in back-off.
    pub fn is_in_backoff_since(&self, key: &str, event_time: Timestamp, now: Timestamp) -> bool {
        let Some(entry) = self.entries.get(key) else {
            return false;
        };
        if self.has_expired(event_time, entry.last_update) {
            return false;
        }
        now.duration_since(event_time) < signed(entry.delay)
    }

    /// client-go `IsInBackOffSinceUpdate(key, now)`: whether less than the current delay has
    /// passed since the entry's last update (how the image manager decides
    /// `ImagePullBackOff`). A missing or expired entry is never in back-off.
    pub fn is_in_backoff_since_update(&self, key: &str, now: Timestamp) -> bool {
        let Some(entry) = self.entries.get(key) else {
            return false;
        };
        if self.has_expired(now, entry.last_update) {
            return false;
        }
        now.duration_since(entry.last_update) < signed(entry.delay)
    }

    /// How long until the first key now in back-off (since its last update, as
    /// [`Backoff::is_in_backoff_since_update`] asks) leaves it; `None` when no key is in
    /// back-off. A pod worker wakes then to retry a failed image pull on time, as the
    /// kubelet's pod worker requeues a pod whose sync failed on a pull (IM-05).
    pub fn shortest_wait_since_update(&self, now: Timestamp) -> Option<Duration> {
        self.entries
            .values()
            .filter(|e| !self.has_expired(now, e.last_update))
            .filter_map(|e| {
                let elapsed = now.duration_since(e.last_update);
                let left = signed(e.delay).checked_sub(elapsed)?;
                Duration::try_from(left).ok().filter(|d| !d.is_zero())
            })
            .min()
    }

    /// The current delay of `key` (client-go `Get`, which gives 0 for a missing key).
    pub fn delay(&self, key: &str) -> Option<Duration> {
        self.entries.get(key).map(|e| e.delay)
    }

    /// When the entry of `key` was last advanced.
    pub fn last_update(&self, key: &str) -> Option<Timestamp> {
        self.entries.get(key).map(|e| e.last_update)
    }

    /// Forget `key` (client-go `Reset` / `DeleteEntry`).
    pub fn reset(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Drop every entry that expired by `now` (client-go `GC`, which the kubelet runs during
    /// housekeeping and after each successful image pull).
    pub fn gc(&mut self, now: Timestamp) {
        let expire_after = signed(self.expire_after);
        self.entries
            .retain(|_, e| now.duration_since(e.last_update) <= expire_after);
    }

    /// How many keys have an entry.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key has an entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn has_expired(&self, event_time: Timestamp, last_update: Timestamp) -> bool {
        event_time.duration_since(last_update) > signed(self.expire_after)
    }
}

impl Default for Backoff {
    /// The container restart back-off ([`Backoff::container`]).
    fn default() -> Self {
        Self::container()
    }
}

fn signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

/// The container restart back-off key (the kubelet's `GetStableKey`):
/// `<pod name>_<namespace>_<pod uid>_<container name>_<spec hash in hex>`. `spec_hash` is the
/// hash of the container's *current spec* ([`crate::container_hash`]), so a spec change
/// gives a new key and the back-off starts over (RP-09).
pub fn container_backoff_key(pod: &Pod, container_name: &str, spec_hash: u64) -> String {
    let meta = &pod.metadata;
    format!(
        "{}_{}_{}_{}_{:x}",
        meta.name.as_deref().unwrap_or(""),
        meta.namespace.as_deref().unwrap_or(""),
        meta.uid.as_deref().unwrap_or(""),
        container_name,
        spec_hash
    )
}

/// The image pull back-off key of the kubelet's image manager: `<pod uid>_<image>`, with the
/// image as written in the container spec.
pub fn image_backoff_key(pod_uid: &str, image: &str) -> String {
    format!("{pod_uid}_{image}")
}

/// `period` stretched by up to `max_factor` of itself, as apimachinery's `wait.Jitter` does
/// (`period + random × max_factor × period`, with a factor of 1 when `max_factor` is not
/// positive). The kubelet's loops wait this long between runs: pod workers resync after
/// `Jitter(syncFrequency, 0.5)`, the node status and lease loops use 0.04.
///
/// `random` is the caller's draw in [0, 1) (clamped there), so the rule stays a pure
/// function and tests pick the draw. A stretch that would overflow a [`Duration`] saturates.
///
/// ```
/// use std::time::Duration;
///
/// let ten = Duration::from_secs(10);
/// assert_eq!(pod_plan::jitter(ten, 0.5, 0.0), ten);
/// assert_eq!(pod_plan::jitter(ten, 0.5, 0.5), Duration::from_millis(12_500));
/// assert_eq!(pod_plan::jitter(ten, 0.0, 0.5), Duration::from_secs(15));
/// ```
pub fn jitter(period: Duration, max_factor: f64, random: f64) -> Duration {
    let max_factor = if max_factor > 0.0 { max_factor } else { 1.0 };
    let random = if random > 0.0 { random.min(1.0) } else { 0.0 };
    let stretch = Duration::try_from_secs_f64(period.as_secs_f64() * max_factor * random)
        .unwrap_or(Duration::MAX);
    period.saturating_add(stretch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn first_next_sets_initial_then_doubles_up_to_max() {
        let mut b = Backoff::container();
        let mut seen = Vec::new();
        for i in 0..8 {
            b.next("k", t(i));
            seen.push(b.delay("k").unwrap().as_secs());
        }
        assert_eq!(seen, [10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn in_backoff_is_strictly_less_than_the_delay() {
        let mut b = Backoff::container();
        assert!(
            !b.is_in_backoff_since("k", t(0), t(0)),
            "no entry, no back-off"
        );
        b.next("k", t(0));
        assert!(b.is_in_backoff_since("k", t(0), t(9)));
        assert!(!b.is_in_backoff_since("k", t(0), t(10)));
        assert!(b.is_in_backoff_since_update("k", t(9)));
        assert!(!b.is_in_backoff_since_update("k", t(10)));
    }

    #[test]
    fn rp_08_reset_depends_on_event_time_not_on_now() {
        let mut b = Backoff::container();
        for i in 0..6 {
            b.next("k", t(i));
        }
        assert_eq!(b.delay("k"), Some(s(300)));
        // Ran for 500 s, then the restart waited 300 s: not a reset (the kubelet compares
        // finishedAt, not now, with the last update).
        b.next_since("k", t(5 + 500), t(5 + 800));
        assert_eq!(b.delay("k"), Some(s(300)));
        // Ran for 601 s: reset to the initial delay, and not in back-off any more.
        assert!(!b.is_in_backoff_since("k", t(805 + 601), t(805 + 601)));
        b.next_since("k", t(805 + 601), t(805 + 601));
        assert_eq!(b.delay("k"), Some(s(10)));
    }

    #[test]
    fn reset_after_exactly_600_seconds_is_not_yet_a_reset() {
        let mut b = Backoff::container();
        b.next("k", t(0));
        b.next("k", t(600));
        assert_eq!(b.delay("k"), Some(s(20)));
        b.next("k", t(1201));
        assert_eq!(b.delay("k"), Some(s(10)));
    }

    #[test]
    fn gc_drops_only_expired_entries() {
        let mut b = Backoff::image_pull();
        b.next("old", t(0));
        b.next("new", t(500));
        b.gc(t(600));
        assert_eq!(b.len(), 2);
        b.gc(t(601));
        assert_eq!(b.delay("old"), None);
        assert_eq!(b.delay("new"), Some(s(10)));
        b.reset("new");
        assert!(b.is_empty());
    }

    #[test]
    fn rp_10_knobs() {
        let reduced = Backoff::container_with(CrashLoopBackOffConfig {
            reduce_default_decay: true,
            ..Default::default()
        });
        assert_eq!((reduced.initial(), reduced.max()), (s(1), s(60)));
        assert_eq!(reduced.expire_after(), s(600), "the reset stays at 600 s");

        let capped = Backoff::container_with(CrashLoopBackOffConfig {
            max_container_restart_period: Some(s(30)),
            ..Default::default()
        });
        assert_eq!((capped.initial(), capped.max()), (s(10), s(30)));

        let tiny = Backoff::container_with(CrashLoopBackOffConfig {
            max_container_restart_period: Some(s(5)),
            ..Default::default()
        });
        assert_eq!((tiny.initial(), tiny.max()), (s(5), s(5)));

        // The configured cap wins over the reduced-decay gate's 60 s.
        let both = Backoff::container_with(CrashLoopBackOffConfig {
            reduce_default_decay: true,
            max_container_restart_period: Some(s(120)),
        });
        assert_eq!((both.initial(), both.max()), (s(1), s(120)));

        let mut b = reduced;
        let delays: Vec<u64> = (0..8)
            .map(|i| {
                b.next("k", t(i));
                b.delay("k").unwrap().as_secs()
            })
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn im_05_shortest_wait_is_the_first_expiry_of_a_key_in_back_off() {
        let mut b = Backoff::image_pull();
        assert_eq!(b.shortest_wait_since_update(t(0)), None);
        b.next("a", t(0)); // 10 s, until t(10)
        b.next("b", t(2));
        b.next("b", t(3)); // 20 s, until t(23)
        assert_eq!(b.shortest_wait_since_update(t(4)), Some(s(6)));
        assert_eq!(b.shortest_wait_since_update(t(10)), Some(s(13)));
        assert_eq!(b.shortest_wait_since_update(t(23)), None);
    }

    #[test]
    fn im_05_image_backoff_curve() {
        let mut b = Backoff::image_pull();
        let key = image_backoff_key("uid-1", "registry.local/app:1");
        assert_eq!(key, "uid-1_registry.local/app:1");
        let mut now = t(0);
        let mut gaps = Vec::new();
        for _ in 0..7 {
            // A pull fails at `now`; the next attempt is the first second out of back-off.
            b.next(&key, now);
            let failed_at = now;
            while b.is_in_backoff_since_update(&key, now) {
                now += s(1);
            }
            gaps.push(now.duration_since(failed_at).as_secs());
        }
        assert_eq!(gaps, [10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn container_key_is_the_kubelet_stable_key() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("prod".into());
        pod.metadata.uid = Some("1234".into());
        assert_eq!(
            container_backoff_key(&pod, "app", 0xdead_beef),
            "web_prod_1234_app_deadbeef"
        );
    }

    #[test]
    fn jitter_stretches_only_up_to_the_factor() {
        let ten = s(10);
        for random in [0.0, 0.25, 0.5, 0.999, 1.0] {
            let d = jitter(ten, 0.04, random);
            assert!(
                d >= ten && d <= Duration::from_millis(10_400),
                "{random}: {d:?}"
            );
        }
        assert_eq!(jitter(ten, 0.5, 0.5), Duration::from_millis(12_500));
        // Out-of-range draws are clamped; a factor that is not positive is 1 (`wait.Jitter`).
        assert_eq!(jitter(ten, 0.5, -1.0), ten);
        assert_eq!(jitter(ten, 0.5, f64::NAN), ten);
        assert_eq!(jitter(ten, 0.5, 7.0), s(15));
        assert_eq!(jitter(ten, -2.0, 1.0), s(20));
        // Too long to stretch: saturates instead of panicking.
        assert_eq!(jitter(Duration::MAX, 0.5, 0.9), Duration::MAX);
    }
}
