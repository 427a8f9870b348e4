//! The node conditions the kubelet owns, and their transition rules
//! (`pkg/kubelet/nodestatus/setters.go`: `MemoryPressureCondition`, `DiskPressureCondition`,
//! `PIDPressureCondition`, `ReadyCondition`).
//!
//! The rules, which [`set_pressure_condition`] and [`set_ready_condition`] apply to a Node's
//! condition list at time `now`:
//! - `lastHeartbeatTime` is `now` on every evaluation;
//! - `lastTransitionTime` moves only when the status changes (a pressure condition is created
//!   `Unknown`, so its first evaluation is a transition);
//! - a missing pressure condition is appended; Ready is replaced in place, or appended, so on a
//!   new node it comes last (kubernetes/kubernetes#16961);
//! - a reason and message change without a status change does not move
//!   `lastTransitionTime` (a NotReady node whose cause changes keeps its transition time).
//!
//! Both functions are pure: the time is an argument, which is what the transition tests drive.

use k8s_openapi::api::core::v1::NodeCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// The `Ready` condition type.
pub const READY: &str = "Ready";
/// The `MemoryPressure` condition type.
pub const MEMORY_PRESSURE: &str = "MemoryPressure";
/// The `DiskPressure` condition type.
pub const DISK_PRESSURE: &str = "DiskPressure";
/// The `PIDPressure` condition type.
pub const PID_PRESSURE: &str = "PIDPressure";

/// `True`.
pub const TRUE: &str = "True";
/// `False`.
pub const FALSE: &str = "False";
/// `Unknown`.
pub const UNKNOWN: &str = "Unknown";

/// One of the three pressure conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pressure {
    /// MemoryPressure.
    Memory,
    /// DiskPressure.
    Disk,
    /// PIDPressure.
    Pid,
}

/// The words of one pressure condition: type, then (reason, message, event) under pressure
/// and without.
struct PressureWords {
    type_: &'static str,
    on: (&'static str, &'static str, &'static str),
    off: (&'static str, &'static str, &'static str),
}

impl Pressure {
    /// The condition type (`MemoryPressure`).
    pub fn condition_type(self) -> &'static str {
        self.words().type_
    }

    fn words(self) -> PressureWords {
        match self {
            Pressure::Memory => PressureWords {
                type_: MEMORY_PRESSURE,
                on: (
                    "KubeletHasInsufficientMemory",
                    "kubelet has insufficient memory available",
                    "NodeHasInsufficientMemory",
                ),
                off: (
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                    "NodeHasSufficientMemory",
                ),
            },
            Pressure::Disk => PressureWords {
                type_: DISK_PRESSURE,
                on: (
                    "KubeletHasDiskPressure",
                    "kubelet has disk pressure",
                    "NodeHasDiskPressure",
                ),
                off: (
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                    "NodeHasNoDiskPressure",
                ),
            },
            Pressure::Pid => PressureWords {
                type_: PID_PRESSURE,
                on: (
                    "KubeletHasInsufficientPID",
                    "kubelet has insufficient PID available",
                    "NodeHasInsufficientPID",
                ),
                off: (
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                    "NodeHasSufficientPID",
                ),
            },
        }
    }
}

/// A node event the kubelet records on a condition transition (`NodeHasSufficientMemory`,
/// `NodeReady`, `NodeNotReady`...), with the message `Node <name> status is now: <reason>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionEvent {
    /// The event's reason.
    pub reason: &'static str,
}

/// Evaluates one pressure condition at `now` (`MemoryPressureCondition` and its siblings).
/// Returns the event of a transition.
pub fn set_pressure_condition(
    conditions: &mut Vec<NodeCondition>,
    pressure: Pressure,
    under_pressure: bool,
    now: &Time,
) -> Option<ConditionEvent> {
    let words = pressure.words();
    let index = match conditions.iter().rposition(|c| c.type_ == words.type_) {
        Some(index) => index,
        None => {
            conditions.push(NodeCondition {
                type_: words.type_.to_owned(),
                status: UNKNOWN.to_owned(),
                ..NodeCondition::default()
            });
            conditions.len() - 1
        }
    };
    let condition = &mut conditions[index];
    condition.last_heartbeat_time = Some(now.clone());
    let (status, (reason, message, event)) = if under_pressure {
        (TRUE, words.on)
    } else {
        (FALSE, words.off)
    };
    if condition.status == status {
        return None;
    }
    condition.status = status.to_owned();
    condition.reason = Some(reason.to_owned());
    condition.message = Some(message.to_owned());
    condition.last_transition_time = Some(now.clone());
    Some(ConditionEvent { reason: event })
}

/// Evaluates the Ready condition at `now` (`ReadyCondition`). `errors` are the reasons the node
/// is not ready, in order ([`NodeReadiness::errors`](crate::NodeReadiness::errors) followed by
/// the missing capacities); `soft_requirements` is appended to the message as `. WARNING:`.
/// Returns the event of a transition (`NodeReady` / `NodeNotReady`; none when the condition is
/// first added, as in the kubelet).
pub fn set_ready_condition(
    conditions: &mut Vec<NodeCondition>,
    errors: &[String],
    soft_requirements: Option<&str>,
    now: &Time,
) -> Option<ConditionEvent> {
    let (status, reason, mut message) = match aggregate_message(errors) {
        None => (
            TRUE,
            "KubeletReady",
            "kubelet is posting ready status".to_owned(),
        ),
        Some(message) => (FALSE, "KubeletNotReady", message),
    };
    if let Some(soft) = soft_requirements {
        message = format!("{message}. WARNING: {soft}");
    }
    let mut new = NodeCondition {
        type_: READY.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
    };
    match conditions.iter_mut().find(|c| c.type_ == READY) {
        Some(existing) => {
            let transition = existing.status != new.status;
            if !transition {
                new.last_transition_time = existing.last_transition_time.clone();
            }
            *existing = new;
            transition.then_some(ConditionEvent {
                reason: if status == TRUE {
                    "NodeReady"
                } else {
                    "NodeNotReady"
                },
            })
        }
        None => {
            conditions.push(new);
            None
        }
    }
}

/// The text of a list of errors as the kubelet's aggregate error prints it
/// (`utilerrors.NewAggregate(...).Error()`): `None` for none, the message alone for one, and
/// `[a, b]` for several distinct ones (duplicates dropped).
pub fn aggregate_message(errors: &[String]) -> Option<String> {
    let mut seen: Vec<&str> = Vec::new();
    for error in errors {
        if !seen.contains(&error.as_str()) {
            seen.push(error);
        }
    }
    match seen.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        many => Some(format!("[{}]", many.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::{SignedDuration, Timestamp};
    use proptest::prelude::*;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(1_700_000_000 + seconds).unwrap())
    }

    fn ready_status(conditions: &[NodeCondition]) -> &NodeCondition {
        conditions.iter().find(|c| c.type_ == READY).unwrap()
    }

    #[test]
    fn a_new_node_gets_pressure_conditions_then_ready_last() {
        let mut conditions = Vec::new();
        let now = at(0);
        let events: Vec<_> = [Pressure::Memory, Pressure::Disk, Pressure::Pid]
            .into_iter()
            .filter_map(|p| set_pressure_condition(&mut conditions, p, false, &now))
            .map(|e| e.reason)
            .collect();
        assert_eq!(
            events,
            [
                "NodeHasSufficientMemory",
                "NodeHasNoDiskPressure",
                "NodeHasSufficientPID"
            ]
        );
        assert_eq!(set_ready_condition(&mut conditions, &[], None, &now), None);
        let types: Vec<_> = conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types,
            ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        );
        let ready = ready_status(&conditions);
        assert_eq!(ready.status, "True");
        assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
        assert_eq!(
            ready.message.as_deref(),
            Some("kubelet is posting ready status")
        );
        assert_eq!(
            conditions[0].reason.as_deref(),
            Some("KubeletHasSufficientMemory")
        );
        assert_eq!(
            conditions[1].message.as_deref(),
            Some("kubelet has no disk pressure")
        );
        assert_eq!(
            conditions[2].reason.as_deref(),
            Some("KubeletHasSufficientPID")
        );
    }

    #[test]
    fn not_ready_message_aggregates_errors() {
        let mut conditions = Vec::new();
        let errors = vec![
            "container runtime is down".to_owned(),
            "network state unknown".to_owned(),
            "container runtime is down".to_owned(),
        ];
        set_ready_condition(&mut conditions, &errors, Some("swap on"), &at(0));
        let ready = ready_status(&conditions);
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason.as_deref(), Some("KubeletNotReady"));
        assert_eq!(
            ready.message.as_deref(),
            Some("[container runtime is down, network state unknown]. WARNING: swap on")
        );
        assert_eq!(
            aggregate_message(&["one".to_owned()]).as_deref(),
            Some("one")
        );
    }

    #[test]
    fn ns_09_transition_time_moves_only_with_status() {
        let mut conditions = Vec::new();
        set_ready_condition(&mut conditions, &["a".into()], None, &at(0));
        // Another cause, same status: the transition time stays.
        assert_eq!(
            set_ready_condition(&mut conditions, &["b".into()], None, &at(10)),
            None
        );
        let ready = ready_status(&conditions);
        assert_eq!(ready.last_transition_time, Some(at(0)));
        assert_eq!(ready.last_heartbeat_time, Some(at(10)));
        assert_eq!(ready.message.as_deref(), Some("b"));
        // Ready: a transition, with its event.
        assert_eq!(
            set_ready_condition(&mut conditions, &[], None, &at(20)).map(|e| e.reason),
            Some("NodeReady")
        );
        assert_eq!(ready_status(&conditions).last_transition_time, Some(at(20)));
        assert_eq!(
            set_ready_condition(&mut conditions, &["c".into()], None, &at(30)).map(|e| e.reason),
            Some("NodeNotReady")
        );
    }

    #[test]
    fn pressure_transitions() {
        let mut conditions = Vec::new();
        set_pressure_condition(&mut conditions, Pressure::Memory, false, &at(0));
        assert_eq!(
            set_pressure_condition(&mut conditions, Pressure::Memory, true, &at(5))
                .map(|e| e.reason),
            Some("NodeHasInsufficientMemory")
        );
        let c = &conditions[0];
        assert_eq!(c.status, "True");
        assert_eq!(c.reason.as_deref(), Some("KubeletHasInsufficientMemory"));
        assert_eq!(c.last_transition_time, Some(at(5)));
        assert_eq!(
            set_pressure_condition(&mut conditions, Pressure::Memory, true, &at(9)),
            None
        );
        assert_eq!(conditions[0].last_transition_time, Some(at(5)));
        assert_eq!(conditions[0].last_heartbeat_time, Some(at(9)));
    }

    /// One step of the fake clock: seconds forward, then the inputs of that evaluation.
    fn step() -> impl Strategy<Value = (u16, bool, bool, bool, bool)> {
        (
            0u16..600,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
    }

    proptest! {
        /// Over any run of evaluations on a fake clock: the heartbeat is always the last
        /// evaluation's time; the transition time is the time of the last status change;
        /// events come exactly with status changes of existing conditions; the four
        /// conditions are present once each, Ready last.
        #[test]
        fn transition_rules_hold_on_a_fake_clock(steps in proptest::collection::vec(step(), 1..40)) {
            let mut conditions: Vec<NodeCondition> = Vec::new();
            let mut clock = Timestamp::from_second(1_700_000_000).unwrap();
            // type -> (status, time of the last change)
            let mut expected: std::collections::BTreeMap<&str, (String, Time)> = Default::default();
            for (i, (dt, memory, disk, pid, ready)) in steps.into_iter().enumerate() {
                clock = clock.checked_add(SignedDuration::from_secs(dt.into())).unwrap();
                let now = Time(clock);
                for (pressure, on) in [(Pressure::Memory, memory), (Pressure::Disk, disk), (Pressure::Pid, pid)] {
                    let before = expected.get(pressure.condition_type()).map(|(s, _)| s.clone());
                    let event = set_pressure_condition(&mut conditions, pressure, on, &now);
                    let status = if on { TRUE } else { FALSE };
                    // A new condition starts Unknown, so its first evaluation is a transition too.
                    prop_assert_eq!(event.is_some(), before.as_deref() != Some(status));
                    if before.as_deref() != Some(status) {
                        expected.insert(pressure.condition_type(), (status.to_owned(), now.clone()));
                    }
                }
                let errors = if ready { vec![] } else { vec!["network state unknown".to_owned()] };
                let before = expected.get(READY).map(|(s, _)| s.clone());
                let event = set_ready_condition(&mut conditions, &errors, None, &now);
                let status = if ready { TRUE } else { FALSE };
                prop_assert_eq!(event.is_some(), before.is_some() && before.as_deref() != Some(status));
                if before.as_deref() != Some(status) {
                    expected.insert(READY, (status.to_owned(), now.clone()));
                }
                prop_assert_eq!(conditions.len(), 4, "step {}", i);
                prop_assert_eq!(conditions[3].type_.as_str(), READY);
                for condition in &conditions {
                    let (status, changed_at) = &expected[condition.type_.as_str()];
                    prop_assert_eq!(&condition.status, status);
                    prop_assert_eq!(condition.last_transition_time.as_ref(), Some(changed_at));
                    prop_assert_eq!(condition.last_heartbeat_time.as_ref(), Some(&now));
                }
            }
        }
    }
}
