//! The eviction manager's bookkeeping between syncs, as a pure state machine: the
//! observations of one sync go in with the time, the thresholds to act on and the node's
//! pressure conditions come out (`synchronize` in `eviction_manager.go`, up to the point
//! where it starts evicting).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use super::config::{EvictionConfig, Threshold};
use super::observations::{Available, NodeObservations, Observations};
use super::signal::{EvictionSignal, NodeCondition, StarvedResource};

/// What one signal shows (`signalObservation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalObservation {
    /// What is available.
    pub available: i64,
    /// What percentages are taken of.
    pub capacity: i64,
    /// When it was measured.
    pub time: Option<Timestamp>,
}

/// Every signal the node's stats give (`makeSignalObservations`): a missing source leaves
/// its signals out. `containerfs.*` reads the image filesystem when the stats have one,
/// else the node filesystem (nodelet's runtimes do not split the container filesystem from
/// the image filesystem).
pub fn signal_observations(node: &NodeObservations) -> BTreeMap<EvictionSignal, SignalObservation> {
    let mut out = BTreeMap::new();
    let mut put = |signal, a: Option<Available>| {
        if let Some(a) = a {
            out.insert(
                signal,
                SignalObservation {
                    available: a.available,
                    capacity: a.capacity,
                    time: node.time,
                },
            );
        }
    };
    put(EvictionSignal::MemoryAvailable, node.memory);
    put(
        EvictionSignal::AllocatableMemoryAvailable,
        node.allocatable_memory,
    );
    put(
        EvictionSignal::NodefsAvailable,
        node.nodefs.map(|f| f.bytes),
    );
    put(
        EvictionSignal::NodefsInodesFree,
        node.nodefs.and_then(|f| f.inodes),
    );
    put(
        EvictionSignal::ImagefsAvailable,
        node.imagefs.map(|f| f.bytes),
    );
    put(
        EvictionSignal::ImagefsInodesFree,
        node.imagefs.and_then(|f| f.inodes),
    );
    let containerfs = node.imagefs.or(node.nodefs);
    put(
        EvictionSignal::ContainerfsAvailable,
        containerfs.map(|f| f.bytes),
    );
    put(
        EvictionSignal::ContainerfsInodesFree,
        containerfs.and_then(|f| f.inodes),
    );
    put(EvictionSignal::PidAvailable, node.pid);
    out
}

/// The thresholds met by `observations` (`thresholdsMet`), grace periods ignored: less than
/// the threshold is available. With `enforce_min_reclaim`, a threshold counts as met until
/// its minimum reclaim is available on top of it. A threshold whose signal has no
/// observation is never met.
pub fn thresholds_met(
    thresholds: &[Threshold],
    observations: &BTreeMap<EvictionSignal, SignalObservation>,
    enforce_min_reclaim: bool,
) -> Vec<Threshold> {
    thresholds
        .iter()
        .filter(|t| {
            let Some(observed) = observations.get(&t.signal) else {
                return false;
            };
            let mut quantity = t.value.resolve_f32(observed.capacity);
            if enforce_min_reclaim && let Some(reclaim) = t.min_reclaim {
                quantity = quantity.saturating_add(reclaim.resolve_f32(observed.capacity));
            }
            quantity > observed.available
        })
        .copied()
        .collect()
}

/// The node's pressure conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodePressure {
    /// `MemoryPressure`.
    pub memory: bool,
    /// `DiskPressure`.
    pub disk: bool,
    /// `PIDPressure`.
    pub pid: bool,
}

impl NodePressure {
    /// Whether any condition is true.
    pub fn any(&self) -> bool {
        self.memory || self.disk || self.pid
    }

    /// The true conditions, memory, disk, then PID.
    pub fn conditions(&self) -> Vec<NodeCondition> {
        [
            (self.memory, NodeCondition::MemoryPressure),
            (self.disk, NodeCondition::DiskPressure),
            (self.pid, NodeCondition::PidPressure),
        ]
        .into_iter()
        .filter_map(|(on, c)| on.then_some(c))
        .collect()
    }

    fn set(&mut self, condition: NodeCondition) {
        match condition {
            NodeCondition::MemoryPressure => self.memory = true,
            NodeCondition::DiskPressure => self.disk = true,
            NodeCondition::PidPressure => self.pid = true,
        }
    }
}

/// A threshold met, with what was measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdMet {
    /// The threshold.
    pub threshold: Threshold,
    /// The threshold resolved against the capacity (what "Threshold quantity" shows).
    pub quantity: i64,
    /// What was available.
    pub available: i64,
    /// The capacity.
    pub capacity: i64,
}

/// What the node can do by itself before it evicts pods (`buildSignalToNodeReclaimFuncs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeReclaimAction {
    /// Remove every dead container (`DeleteAllUnusedContainers`).
    DeleteUnusedContainers,
    /// Remove every image no container uses (`DeleteUnusedImages`).
    DeleteUnusedImages,
}

/// The starved resource the manager acts on this sync.
#[derive(Debug, Clone, PartialEq)]
pub struct Reclaim {
    /// The threshold chosen: the first by eviction priority (memory first).
    pub threshold: ThresholdMet,
    /// Its resource (`memory`, `ephemeral-storage`, `inodes`, `pids`).
    pub resource: StarvedResource,
    /// Node-level reclaim to try, in order, before evicting: for disk signals, dead
    /// containers then unused images; with a dedicated image filesystem, none for
    /// `nodefs.*` (what fills it is logs and volumes). Nothing for memory and pids.
    pub node_reclaim: Vec<NodeReclaimAction>,
    /// Whether the image filesystem is dedicated (the disk ranking measures differ).
    pub dedicated_imagefs: bool,
}

impl Reclaim {
    /// The threshold's signal.
    pub fn signal(&self) -> EvictionSignal {
        self.threshold.threshold.signal
    }

    /// Whether the threshold is hard (pods evicted with a 1 s grace).
    pub fn is_hard(&self) -> bool {
        self.threshold.threshold.is_hard()
    }
}

/// What one sync decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Step {
    /// Whether the sync was skipped: the stats were not newer than the last sync's (no
    /// threshold is acted on; conditions are still reported).
    pub stale: bool,
    /// The thresholds met past their grace period whose stats are new this sync, sorted by
    /// eviction priority (memory first).
    pub met: Vec<ThresholdMet>,
    /// The node's pressure conditions (held for the transition period).
    pub pressure: NodePressure,
    /// The resource to reclaim, when a threshold is to be acted on.
    pub reclaim: Option<Reclaim>,
}

/// The eviction manager's memory between syncs.
///
/// ```
/// use jiff::Timestamp;
/// use pod_plan::eviction::{Available, EvictionConfig, EvictionState, NodeObservations, Observations};
///
/// let config = EvictionConfig::default();
/// let mut state = EvictionState::default();
/// let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
/// let obs = Observations {
///     node: NodeObservations {
///         time: Some(now),
///         memory: Some(Available { available: 80 << 20, capacity: 8 << 30 }),
///         ..Default::default()
///     },
///     pods: vec![],
/// };
/// let step = state.observe(&config, now, &obs);
/// assert!(step.pressure.memory);
/// assert_eq!(step.reclaim.unwrap().resource.as_str(), "memory");
/// ```
#[derive(Debug, Clone, Default)]
pub struct EvictionState {
    /// Thresholds met past their grace period and not yet resolved (`thresholdsMet`).
    thresholds_met: Vec<Threshold>,
    /// When each threshold met was first seen (`thresholdsFirstObservedAt`).
    first_observed: Vec<(Threshold, Timestamp)>,
    /// When each condition was last seen (`nodeConditionsLastObservedAt`).
    conditions_last_observed: BTreeMap<NodeCondition, Timestamp>,
    /// The previous sync's observations (`lastObservations`).
    last_observations: BTreeMap<EvictionSignal, SignalObservation>,
    /// The conditions reported by the last sync.
    pressure: NodePressure,
}

fn same(a: &Threshold, b: &Threshold) -> bool {
    // `hasThreshold`: signal, operator, grace period and value.
    a.signal == b.signal && a.grace_period == b.grace_period && a.value == b.value
}

fn since(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(at)).unwrap_or(Duration::ZERO)
}

impl EvictionState {
    /// A state that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The conditions the last sync reported.
    pub fn pressure(&self) -> NodePressure {
        self.pressure
    }

    /// One sync at `now` with `observations`:
    ///
    /// 1. the thresholds met now, plus those met before whose minimum reclaim is not yet
    ///    available (`thresholdsMet(thresholdsNotYetResolved, observations, true)`);
    /// 2. when each was first met; the conditions they raise, held until
    ///    `pressure_transition_period` has passed since they were last raised;
    /// 3. the thresholds met for their grace period (hard ones at once), kept for the next
    ///    sync;
    /// 4. of those, the ones whose stats are newer than the last sync's
    ///    (`thresholdsUpdatedStats`), sorted memory first; the first is the resource to
    ///    reclaim.
    pub fn observe(
        &mut self,
        config: &EvictionConfig,
        now: Timestamp,
        observations: &Observations,
    ) -> Step {
        let node = &observations.node;
        let signals = signal_observations(node);
        let thresholds = config.thresholds(node.dedicated_imagefs);

        let mut met = thresholds_met(&thresholds, &signals, false);
        if !self.thresholds_met.is_empty() {
            for t in thresholds_met(&self.thresholds_met, &signals, true) {
                if !met.iter().any(|m| same(m, &t)) {
                    met.push(t);
                }
            }
        }

        let first_observed: Vec<(Threshold, Timestamp)> = met
            .iter()
            .map(|t| {
                let at = self
                    .first_observed
                    .iter()
                    .find(|(old, _)| same(old, t))
                    .map_or(now, |(_, at)| *at);
                (*t, at)
            })
            .collect();

        for t in &met {
            self.conditions_last_observed
                .insert(t.signal.node_condition(), now);
        }
        let mut pressure = NodePressure::default();
        for (condition, at) in &self.conditions_last_observed {
            if since(now, *at) < config.pressure_transition_period {
                pressure.set(*condition);
            }
        }

        let grace_met: Vec<Threshold> = first_observed
            .iter()
            .filter(|(t, at)| since(now, *at) >= t.grace_period)
            .map(|(t, _)| *t)
            .collect();

        self.first_observed = first_observed;
        self.pressure = pressure;
        self.thresholds_met = grace_met.clone();

        let mut updated: Vec<ThresholdMet> = grace_met
            .iter()
            .filter_map(|t| {
                let observed = signals.get(&t.signal)?;
                let fresh = match (self.last_observations.get(&t.signal), observed.time) {
                    (None, _) | (_, None) => true,
                    (Some(last), Some(time)) => last.time.is_none_or(|last| time > last),
                };
                fresh.then(|| ThresholdMet {
                    threshold: *t,
                    quantity: t.value.resolve_f32(observed.capacity),
                    available: observed.available,
                    capacity: observed.capacity,
                })
            })
            .collect();
        let stale = !grace_met.is_empty() && updated.is_empty();
        self.last_observations = signals;

        // `byEvictionPriority`: memory before everything else.
        updated.sort_by_key(|m| m.threshold.signal.resource() != StarvedResource::Memory);
        let reclaim = updated.first().map(|m| Reclaim {
            threshold: *m,
            resource: m.threshold.signal.resource(),
            node_reclaim: node_reclaim(m.threshold.signal, node.dedicated_imagefs),
            dedicated_imagefs: node.dedicated_imagefs,
        });
        Step {
            stale,
            met: updated,
            pressure,
            reclaim,
        }
    }
}

/// `buildSignalToNodeReclaimFuncs` for a runtime whose container filesystem is its image
/// filesystem: with a dedicated image filesystem, `nodefs.*` pressure has nothing to
/// reclaim and `imagefs.*`/`containerfs.*` pressure removes dead containers then unused
/// images; on a single filesystem every disk signal does both.
pub fn node_reclaim(signal: EvictionSignal, dedicated_imagefs: bool) -> Vec<NodeReclaimAction> {
    use EvictionSignal::*;
    let both = vec![
        NodeReclaimAction::DeleteUnusedContainers,
        NodeReclaimAction::DeleteUnusedImages,
    ];
    match signal {
        MemoryAvailable | AllocatableMemoryAvailable | PidAvailable => Vec::new(),
        NodefsAvailable | NodefsInodesFree if dedicated_imagefs => Vec::new(),
        _ => both,
    }
}

/// Whether node-level reclaim resolved the pressure (`reclaimNodeLevelResources`): with
/// fresh observations, no configured threshold is met, minimum reclaim counted and grace
/// periods ignored.
pub fn resolved_after_reclaim(config: &EvictionConfig, observations: &Observations) -> bool {
    let signals = signal_observations(&observations.node);
    let thresholds = config.thresholds(observations.node.dedicated_imagefs);
    thresholds_met(&thresholds, &signals, true).is_empty()
}
