//! The eviction manager's settings (`evictionHard`, `evictionSoft`,
//! `evictionSoftGracePeriod`, `evictionMinimumReclaim`, `evictionMaxPodGracePeriod`,
//! `evictionPressureTransitionPeriod`, `localStorageCapacityIsolation`) and the list of
//! thresholds they make (`ParseThresholdConfig`, `addAllocatableThresholds`,
//! `UpdateContainerFsThresholds`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::signal::{EvictionSignal, ThresholdValue};
use crate::error::{Error, Result};

/// The kubelet's default `evictionPressureTransitionPeriod`.
pub const DEFAULT_PRESSURE_TRANSITION_PERIOD: Duration = Duration::from_secs(300);

/// The eviction manager's settings.
///
/// ```
/// use pod_plan::eviction::{EvictionConfig, EvictionSignal, ThresholdValue};
///
/// let mut config = EvictionConfig::default();
/// config.soft.insert(EvictionSignal::MemoryAvailable, ThresholdValue::Quantity(500 << 20));
/// assert!(config.validate().is_err(), "a soft threshold needs a grace period");
/// config.soft_grace_period.insert(EvictionSignal::MemoryAvailable, std::time::Duration::from_secs(90));
/// config.validate()?;
/// # Ok::<(), pod_plan::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EvictionConfig {
    /// `evictionHard`: thresholds met are acted on at once, pods killed with a 1 s grace.
    pub hard: BTreeMap<EvictionSignal, ThresholdValue>,
    /// `evictionSoft`: thresholds acted on once met for their grace period.
    pub soft: BTreeMap<EvictionSignal, ThresholdValue>,
    /// `evictionSoftGracePeriod`: how long a soft threshold must be met; every soft
    /// threshold needs one.
    pub soft_grace_period: BTreeMap<EvictionSignal, Duration>,
    /// `evictionMinimumReclaim`: once met, a threshold stays met until this much more than
    /// the threshold is available again.
    pub minimum_reclaim: BTreeMap<EvictionSignal, ThresholdValue>,
    /// `evictionMaxPodGracePeriod`: the longest grace a soft eviction gives a pod (0).
    pub max_pod_grace_period_seconds: i64,
    /// `evictionPressureTransitionPeriod`: how long a pressure condition stays after its
    /// thresholds were last met (5m).
    pub pressure_transition_period: Duration,
    /// `localStorageCapacityIsolation`: evict pods over their emptyDir `sizeLimit` or
    /// ephemeral-storage limits (true).
    pub local_storage_capacity_isolation: bool,
    /// `enforceNodeAllocatable` contains `pods` (the default): the hard `memory.available`
    /// threshold is also applied to `allocatableMemory.available`
    /// (`addAllocatableThresholds`).
    pub allocatable_memory_threshold: bool,
}

/// The Linux default hard thresholds (`DefaultEvictionHard`, `defaults_linux.go`):
/// `memory.available<100Mi`, `nodefs.available<10%`, `nodefs.inodesFree<5%`,
/// `imagefs.available<15%`, `imagefs.inodesFree<5%`.
pub fn default_eviction_hard() -> BTreeMap<EvictionSignal, ThresholdValue> {
    BTreeMap::from([
        (
            EvictionSignal::MemoryAvailable,
            ThresholdValue::Quantity(100 << 20),
        ),
        (
            EvictionSignal::NodefsAvailable,
            ThresholdValue::Percentage(0.10),
        ),
        (
            EvictionSignal::NodefsInodesFree,
            ThresholdValue::Percentage(0.05),
        ),
        (
            EvictionSignal::ImagefsAvailable,
            ThresholdValue::Percentage(0.15),
        ),
        (
            EvictionSignal::ImagefsInodesFree,
            ThresholdValue::Percentage(0.05),
        ),
    ])
}

impl Default for EvictionConfig {
    /// The kubelet's defaults: the Linux hard thresholds ([`default_eviction_hard`]), no
    /// soft ones, no minimum reclaim, `evictionMaxPodGracePeriod: 0`, a 5m transition
    /// period, local storage isolation on, allocatable memory enforced.
    fn default() -> Self {
        EvictionConfig {
            hard: default_eviction_hard(),
            soft: BTreeMap::new(),
            soft_grace_period: BTreeMap::new(),
            minimum_reclaim: BTreeMap::new(),
            max_pod_grace_period_seconds: 0,
            pressure_transition_period: DEFAULT_PRESSURE_TRANSITION_PERIOD,
            local_storage_capacity_isolation: true,
            allocatable_memory_threshold: true,
        }
    }
}

/// One threshold the manager evaluates (`evictionapi.Threshold`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// What is measured.
    pub signal: EvictionSignal,
    /// Met when less than this is available.
    pub value: ThresholdValue,
    /// How long it must be met before pods are evicted (zero: a hard threshold).
    pub grace_period: Duration,
    /// Once met, it stays met until `value + min_reclaim` is available.
    pub min_reclaim: Option<ThresholdValue>,
}

impl Threshold {
    /// A hard threshold: no grace period (`isHardEvictionThreshold`).
    pub fn is_hard(&self) -> bool {
        self.grace_period.is_zero()
    }

    /// The key that tells thresholds apart (one hard and one soft per signal).
    pub(crate) fn key(&self) -> (EvictionSignal, bool) {
        (self.signal, self.is_hard())
    }
}

impl EvictionConfig {
    /// Refuses what the kubelet refuses when it parses the thresholds: a soft threshold
    /// without a grace period ("grace period must be specified for the soft eviction
    /// threshold memory.available"), a negative `evictionMaxPodGracePeriod`.
    pub fn validate(&self) -> Result<()> {
        for signal in self.soft.keys() {
            if !self.soft_grace_period.contains_key(signal) {
                return Err(Error::InvalidEvictionConfig {
                    field: format!("evictionSoftGracePeriod.{signal}"),
                    message: format!(
                        "grace period must be specified for the soft eviction threshold {signal}"
                    ),
                });
            }
        }
        if self.max_pod_grace_period_seconds < 0 {
            return Err(Error::InvalidEvictionConfig {
                field: "evictionMaxPodGracePeriod".into(),
                message: format!("{} must not be negative", self.max_pod_grace_period_seconds),
            });
        }
        Ok(())
    }

    /// Every threshold evaluated, for a node whose image filesystem is (or is not) a
    /// filesystem of its own: the hard ones, the soft ones with their grace periods (a
    /// soft threshold without one gets a grace of one second rather than becoming hard;
    /// [`validate`](Self::validate) refuses it), minimum reclaims attached; the hard
    /// `memory.available` copied to `allocatableMemory.available`; and `containerfs.*`
    /// set to the `imagefs.*` thresholds with a dedicated image filesystem, else to the
    /// `nodefs.*` ones (`UpdateContainerFsThresholds`; what the config said for
    /// `containerfs.*` is overridden, as the kubelet overrides it).
    pub fn thresholds(&self, dedicated_imagefs: bool) -> Vec<Threshold> {
        let containerfs = |s: EvictionSignal| {
            matches!(
                s,
                EvictionSignal::ContainerfsAvailable | EvictionSignal::ContainerfsInodesFree
            )
        };
        let mut out: Vec<Threshold> = Vec::new();
        for (&signal, &value) in self.hard.iter().filter(|(s, _)| !containerfs(**s)) {
            out.push(Threshold {
                signal,
                value,
                grace_period: Duration::ZERO,
                min_reclaim: self.minimum_reclaim.get(&signal).copied(),
            });
        }
        for (&signal, &value) in self.soft.iter().filter(|(s, _)| !containerfs(**s)) {
            let grace = self
                .soft_grace_period
                .get(&signal)
                .copied()
                .filter(|g| !g.is_zero())
                .unwrap_or(Duration::from_secs(1));
            out.push(Threshold {
                signal,
                value,
                grace_period: grace,
                min_reclaim: self.minimum_reclaim.get(&signal).copied(),
            });
        }
        if self.allocatable_memory_threshold {
            let copies: Vec<Threshold> = out
                .iter()
                .filter(|t| t.signal == EvictionSignal::MemoryAvailable && t.is_hard())
                .map(|t| Threshold {
                    signal: EvictionSignal::AllocatableMemoryAvailable,
                    ..*t
                })
                .collect();
            for copy in copies {
                if !out.iter().any(|t| t.key() == copy.key()) {
                    out.push(copy);
                }
            }
        }
        let (bytes, inodes) = if dedicated_imagefs {
            (
                EvictionSignal::ImagefsAvailable,
                EvictionSignal::ImagefsInodesFree,
            )
        } else {
            (
                EvictionSignal::NodefsAvailable,
                EvictionSignal::NodefsInodesFree,
            )
        };
        let copies: Vec<Threshold> = out
            .iter()
            .filter_map(|t| {
                let signal = if t.signal == bytes {
                    EvictionSignal::ContainerfsAvailable
                } else if t.signal == inodes {
                    EvictionSignal::ContainerfsInodesFree
                } else {
                    return None;
                };
                Some(Threshold { signal, ..*t })
            })
            .collect();
        out.extend(copies);
        out
    }

    /// The grace period an eviction for a threshold gives `pod`: 1 s for a hard threshold
    /// (`immediateEvictionGracePeriodSeconds`), otherwise `evictionMaxPodGracePeriod`, or
    /// the pod's `terminationGracePeriodSeconds` when that is shorter.
    pub fn eviction_grace_seconds(&self, hard: bool, pod: &k8s_openapi::api::core::v1::Pod) -> i64 {
        if hard {
            return IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS;
        }
        match pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
        {
            Some(tgps) => self.max_pod_grace_period_seconds.min(tgps),
            None => self.max_pod_grace_period_seconds,
        }
    }
}

/// The grace of a hard eviction and of every local-storage eviction
/// (`immediateEvictionGracePeriodSeconds`).
pub const IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS: i64 = 1;
