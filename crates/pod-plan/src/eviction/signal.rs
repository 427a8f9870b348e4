//! Eviction signals and threshold values, and the parsing of one threshold map
//! (`evictionHard`, `evictionSoft`, `evictionMinimumReclaim`, `evictionSoftGracePeriod`) with
//! the kubelet's validation (`ParseThresholdConfig` in `pkg/kubelet/eviction/helpers.go`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::quantity::QuantityValue;

/// An eviction signal (`pkg/kubelet/eviction/api/types.go`). The only operator is
/// `LessThan`: a threshold is met when what is available falls below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EvictionSignal {
    /// `memory.available`.
    MemoryAvailable,
    /// `nodefs.available`.
    NodefsAvailable,
    /// `nodefs.inodesFree`.
    NodefsInodesFree,
    /// `imagefs.available`.
    ImagefsAvailable,
    /// `imagefs.inodesFree`.
    ImagefsInodesFree,
    /// `pid.available`.
    PidAvailable,
    /// `allocatableMemory.available`.
    AllocatableMemoryAvailable,
    /// `containerfs.available`.
    ContainerfsAvailable,
    /// `containerfs.inodesFree`.
    ContainerfsInodesFree,
}

impl EvictionSignal {
    /// Every signal.
    pub const ALL: [EvictionSignal; 9] = [
        EvictionSignal::MemoryAvailable,
        EvictionSignal::NodefsAvailable,
        EvictionSignal::NodefsInodesFree,
        EvictionSignal::ImagefsAvailable,
        EvictionSignal::ImagefsInodesFree,
        EvictionSignal::PidAvailable,
        EvictionSignal::AllocatableMemoryAvailable,
        EvictionSignal::ContainerfsAvailable,
        EvictionSignal::ContainerfsInodesFree,
    ];

    /// The signal's name in the kubelet config (and the `eviction_signal` label of
    /// `kubelet_evictions`).
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionSignal::MemoryAvailable => "memory.available",
            EvictionSignal::NodefsAvailable => "nodefs.available",
            EvictionSignal::NodefsInodesFree => "nodefs.inodesFree",
            EvictionSignal::ImagefsAvailable => "imagefs.available",
            EvictionSignal::ImagefsInodesFree => "imagefs.inodesFree",
            EvictionSignal::PidAvailable => "pid.available",
            EvictionSignal::AllocatableMemoryAvailable => "allocatableMemory.available",
            EvictionSignal::ContainerfsAvailable => "containerfs.available",
            EvictionSignal::ContainerfsInodesFree => "containerfs.inodesFree",
        }
    }

    /// The signal named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        EvictionSignal::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The resource the signal starves (`signalToResource`).
    pub fn resource(self) -> StarvedResource {
        use EvictionSignal::*;
        match self {
            MemoryAvailable | AllocatableMemoryAvailable => StarvedResource::Memory,
            NodefsAvailable | ImagefsAvailable | ContainerfsAvailable => {
                StarvedResource::EphemeralStorage
            }
            NodefsInodesFree | ImagefsInodesFree | ContainerfsInodesFree => StarvedResource::Inodes,
            PidAvailable => StarvedResource::Pids,
        }
    }

    /// The node condition a met threshold of this signal reports (`signalToNodeCondition`).
    pub fn node_condition(self) -> NodeCondition {
        match self.resource() {
            StarvedResource::Memory => NodeCondition::MemoryPressure,
            StarvedResource::Pids => NodeCondition::PidPressure,
            StarvedResource::EphemeralStorage | StarvedResource::Inodes => {
                NodeCondition::DiskPressure
            }
        }
    }

    /// Whether the signal counts bytes (its quantities are written with binary suffixes),
    /// rather than inodes or process ids.
    pub fn counts_bytes(self) -> bool {
        matches!(
            self.resource(),
            StarvedResource::Memory | StarvedResource::EphemeralStorage
        )
    }
}

impl std::fmt::Display for EvictionSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The resource a threshold starves, as the kubelet names it in its messages and events
/// ("Attempting to reclaim memory").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StarvedResource {
    /// `memory`.
    Memory,
    /// `ephemeral-storage`.
    EphemeralStorage,
    /// `inodes` (internal to the eviction manager).
    Inodes,
    /// `pids` (internal to the eviction manager).
    Pids,
}

impl StarvedResource {
    /// The resource's name: `memory`, `ephemeral-storage`, `inodes`, `pids`.
    pub fn as_str(self) -> &'static str {
        match self {
            StarvedResource::Memory => "memory",
            StarvedResource::EphemeralStorage => "ephemeral-storage",
            StarvedResource::Inodes => "inodes",
            StarvedResource::Pids => "pids",
        }
    }
}

impl std::fmt::Display for StarvedResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node pressure condition the eviction manager reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeCondition {
    /// `MemoryPressure`.
    MemoryPressure,
    /// `DiskPressure`.
    DiskPressure,
    /// `PIDPressure`.
    PidPressure,
}

impl NodeCondition {
    /// The condition type: `MemoryPressure`, `DiskPressure`, `PIDPressure`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeCondition::MemoryPressure => "MemoryPressure",
            NodeCondition::DiskPressure => "DiskPressure",
            NodeCondition::PidPressure => "PIDPressure",
        }
    }
}

impl std::fmt::Display for NodeCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An eviction threshold's amount: absolute (bytes, inodes, pids) or a share of capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdValue {
    /// An absolute amount (`100Mi`).
    Quantity(i64),
    /// A fraction of capacity (`10%` → 0.1).
    Percentage(f64),
}

impl ThresholdValue {
    /// The amount against `capacity`, a percentage taken in `f64` (what the node
    /// allocatable computation of `cgroup-enforcer` uses).
    pub fn resolve(self, capacity: i64) -> i64 {
        match self {
            ThresholdValue::Quantity(q) => q,
            ThresholdValue::Percentage(p) => (capacity as f64 * p) as i64,
        }
    }

    /// The amount against `capacity` as the eviction manager's `GetThresholdQuantity`
    /// computes it: the kubelet keeps a percentage as a `float32`, so `10%` of 100 GiB is
    /// `int64(float64(capacity) × float64(float32(0.1)))`, a few bytes more than a tenth.
    /// Threshold evaluation and messages use this.
    pub fn resolve_f32(self, capacity: i64) -> i64 {
        match self {
            ThresholdValue::Quantity(q) => q,
            ThresholdValue::Percentage(p) => (capacity as f64 * f64::from(p as f32)) as i64,
        }
    }
}

/// Parses one threshold value as in `evictionHard`/`evictionSoft` (`parseThresholdStatement`):
/// `N%` or a quantity. `Ok(None)` means "no threshold": `0%` and `100%` are ignored, as the
/// kubelet ignores them, and so is a zero quantity (a departure: the kubelet refuses `0`;
/// here it switches the signal off, as `evictionHard` maps always did in nodelet).
/// Percentages must lie in [0%, 100%], quantities must not be negative. `field` names the
/// setting in errors (`evictionHard.memory.available`).
pub fn parse_threshold_value(field: &str, text: &str) -> Result<Option<ThresholdValue>> {
    let invalid = |message: String| Error::InvalidEvictionConfig {
        field: field.to_owned(),
        message,
    };
    if let Some(percent) = text.strip_suffix('%') {
        if text == "0%" || text == "100%" {
            return Ok(None);
        }
        // `strconv.ParseFloat(s, 32)`, then `float32(value) / 100`.
        let p: f32 = percent
            .parse()
            .map_err(|_| invalid(format!("{text:?} is not a percentage")))?;
        if !(0.0..=100.0).contains(&p) {
            return Err(invalid(format!("{text:?} must be between 0% and 100%")));
        }
        if p == 0.0 {
            return Ok(None);
        }
        return Ok(Some(ThresholdValue::Percentage(f64::from(p) / 100.0)));
    }
    let q = QuantityValue::parse(text).map_err(|e| invalid(e.to_string()))?;
    if q.is_negative() {
        return Err(invalid(format!("{text:?} must not be negative")));
    }
    let value = q.value().map_err(|e| invalid(e.to_string()))?;
    Ok((value != 0).then_some(ThresholdValue::Quantity(value)))
}

/// Parses a threshold map (`{"memory.available": "100Mi", "nodefs.available": "10%"}`),
/// as the kubelet's `parseThresholdStatements`: unknown signals are refused, values as
/// [`parse_threshold_value`]. `setting` names the map in errors (`evictionHard`), and each
/// error names its key (`evictionHard.memory.free`).
pub fn parse_thresholds<'a>(
    setting: &str,
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<BTreeMap<EvictionSignal, ThresholdValue>> {
    let mut map = BTreeMap::new();
    for (name, text) in entries {
        let field = format!("{setting}.{name}");
        let signal = EvictionSignal::parse(name).ok_or_else(|| Error::InvalidEvictionConfig {
            field: field.clone(),
            message: format!("unknown eviction signal {name:?}"),
        })?;
        if let Some(value) = parse_threshold_value(&field, text)? {
            map.insert(signal, value);
        }
    }
    Ok(map)
}

/// Parses `evictionMinimumReclaim` (`parseMinimumReclaims`): a percentage must be positive,
/// a quantity must not be negative.
pub fn parse_minimum_reclaims<'a>(
    setting: &str,
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<BTreeMap<EvictionSignal, ThresholdValue>> {
    let mut map = BTreeMap::new();
    for (name, text) in entries {
        let field = format!("{setting}.{name}");
        let invalid = |message: String| Error::InvalidEvictionConfig {
            field: field.clone(),
            message,
        };
        let signal = EvictionSignal::parse(name)
            .ok_or_else(|| invalid(format!("unknown eviction signal {name:?}")))?;
        let value = if let Some(percent) = text.strip_suffix('%') {
            let p: f32 = percent
                .parse()
                .map_err(|_| invalid(format!("{text:?} is not a percentage")))?;
            if p.is_nan() || p <= 0.0 {
                return Err(invalid(format!(
                    "eviction percentage minimum reclaim {signal} must be positive: {text}"
                )));
            }
            ThresholdValue::Percentage(f64::from(p) / 100.0)
        } else {
            let q = QuantityValue::parse(text).map_err(|e| invalid(e.to_string()))?;
            if q.is_negative() {
                return Err(invalid(format!(
                    "negative eviction minimum reclaim specified for {signal}"
                )));
            }
            ThresholdValue::Quantity(q.value().map_err(|e| invalid(e.to_string()))?)
        };
        map.insert(signal, value);
    }
    Ok(map)
}

/// Parses `evictionSoftGracePeriod` (`parseGracePeriods`): Go durations (`1m30s`), not
/// negative.
pub fn parse_grace_periods<'a>(
    setting: &str,
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<BTreeMap<EvictionSignal, Duration>> {
    let mut map = BTreeMap::new();
    for (name, text) in entries {
        let field = format!("{setting}.{name}");
        let invalid = |message: String| Error::InvalidEvictionConfig {
            field: field.clone(),
            message,
        };
        let signal = EvictionSignal::parse(name)
            .ok_or_else(|| invalid(format!("unknown eviction signal {name:?}")))?;
        if text.trim_start().starts_with('-') {
            return Err(invalid(format!(
                "invalid eviction grace period specified: {text}, must be a positive value"
            )));
        }
        let period = crate::parse_go_duration(text).map_err(|e| invalid(e.to_string()))?;
        map.insert(signal, period);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_round_trip_their_names() {
        for s in EvictionSignal::ALL {
            assert_eq!(EvictionSignal::parse(s.as_str()), Some(s));
        }
        assert_eq!(EvictionSignal::parse("memory.free"), None);
    }

    #[test]
    fn threshold_maps_are_validated_naming_the_field() {
        let map = parse_thresholds(
            "evictionHard",
            [("memory.available", "100Mi"), ("nodefs.available", "10%")],
        )
        .unwrap();
        assert_eq!(
            map[&EvictionSignal::MemoryAvailable],
            ThresholdValue::Quantity(100 << 20)
        );
        assert_eq!(
            map[&EvictionSignal::NodefsAvailable],
            ThresholdValue::Percentage(0.1)
        );
        let err = parse_thresholds("evictionHard", [("memory.free", "1Gi")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "evictionHard.memory.free: unknown eviction signal \"memory.free\""
        );
        for (text, needle) in [
            ("150%", "between"),
            ("-5%", "between"),
            ("-1Mi", "must not be negative"),
            ("lots", "cannot parse"),
            ("x%", "not a percentage"),
        ] {
            let err = parse_thresholds("evictionSoft", [("nodefs.available", text)])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("evictionSoft.nodefs.available: "), "{err}");
            assert!(err.contains(needle), "{text}: {err}");
        }
        // Ignored, as by the kubelet (and zero switches a signal off).
        for text in ["0%", "100%", "0"] {
            let map = parse_thresholds("evictionHard", [("nodefs.available", text)]).unwrap();
            assert!(map.is_empty(), "{text}");
        }
    }

    #[test]
    fn minimum_reclaims_and_grace_periods() {
        let m = parse_minimum_reclaims(
            "evictionMinimumReclaim",
            [("memory.available", "0"), ("nodefs.available", "5%")],
        )
        .unwrap();
        assert_eq!(
            m[&EvictionSignal::MemoryAvailable],
            ThresholdValue::Quantity(0)
        );
        assert!(
            parse_minimum_reclaims("evictionMinimumReclaim", [("nodefs.available", "0%")])
                .unwrap_err()
                .to_string()
                .contains("must be positive")
        );
        let g = parse_grace_periods("evictionSoftGracePeriod", [("memory.available", "1m30s")])
            .unwrap();
        assert_eq!(g[&EvictionSignal::MemoryAvailable], Duration::from_secs(90));
        assert!(
            parse_grace_periods("evictionSoftGracePeriod", [("memory.available", "-1s")]).is_err()
        );
    }

    #[test]
    fn percentages_resolve_as_float32() {
        // float32(0.1) is 0.100000001490116...
        assert_eq!(
            ThresholdValue::Percentage(0.1).resolve_f32(1_000_000_000_000),
            100_000_001_490
        );
        assert_eq!(ThresholdValue::Quantity(7).resolve_f32(1_000), 7);
        assert_eq!(ThresholdValue::Percentage(0.1).resolve(1_000), 100);
    }
}
