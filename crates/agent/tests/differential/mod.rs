//! The differential harness: the same static pods under the real kubelet (v1.37.2,
//! standalone, on the reference containerd) and under nodelet (on the main containerd), run
//! side by side, observed from outside, normalized and compared.
//!
//! # A run
//!
//! Every [`Scenario`] of [`scenarios::all`] at once: both agents start (each with its own
//! runtime lock, so they run together), every scenario's manifests are written into both
//! static pod directories, then a sampler per agent reads `/pods` every [`SAMPLE_EVERY`]
//! while the main thread performs the scenarios' timed [`Action`]s. When the last
//! checkpoint has passed, the kubelet's log (refused manifests, the phases of removed pods)
//! and nodelet's `/errors` are read, and both agents are stopped and cleaned up. One run
//! serves every test of the suite ([`results`]), so the suite costs one run, about two
//! minutes.
//!
//! # What is compared
//!
//! Per scenario ([`compare::compare`]):
//!
//! - at each checkpoint, each pod's `status` as a flat list of fields
//!   ([`normalize::flatten_status`]): times, ids, IPs, node names, uids and the agents' own
//!   directories are replaced by placeholders; container statuses are keyed by name,
//!   conditions by type; nulls, empty objects and empty lists are absent;
//! - the restart delays of each container (previous `finishedAt` to next `startedAt`),
//!   within [`RESTART_TOLERANCE`] and the kubelet's requeue jitter;
//! - the waiting reasons and messages each container went through (every one the kubelet
//!   showed, nodelet must have shown), and its terminations;
//! - which manifests each agent refused, and with what message;
//! - the phase a pod ends in when its manifest is removed (the kubelet forgets such a pod on
//!   `/pods` at once: the phase comes from its `-v=4` log);
//! - the order of events the pods' containers write to a hostPath file (`/host/events`), and
//!   the gaps between those the scenario names, within [`EVENT_TOLERANCE`] (from an action,
//!   [`REACTION_TOLERANCE`]).
//!
//! A difference is allowed only when a named [`Departure`] of the scenario (or a
//! [`scenarios::global_departures`] one) covers it; a departure that covers nothing in a
//! run fails the suite too (unless marked [`Departure::sometimes`]), so the list, and
//! `docs/differential.md`, stay true.

pub mod compare;
pub mod normalize;
pub mod run;
pub mod scenarios;

use std::sync::OnceLock;
use std::time::Duration;

/// How often each agent's `/pods` is read.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(300);
/// How far apart the same restart delay may be under the two agents, beyond the kubelet's
/// requeue jitter: both report times to the second, the kubelet learns of an exit through
/// its 1 s relist, and creating and starting a container takes a second or two under the
/// load of every scenario at once.
pub const RESTART_TOLERANCE: Duration = Duration::from_secs(3);
/// How far apart the same gap between two container events may be under the two agents.
pub const EVENT_TOLERANCE: Duration = Duration::from_secs(2);
/// How far apart the same reaction to an action (a manifest removed) may be: the kubelet
/// rescans the whole manifest directory and goes through its sync loop first, both under
/// the load of every scenario at once.
pub const REACTION_TOLERANCE: Duration = Duration::from_secs(5);

/// One behaviour, as static pod manifests and what happens to them.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// A short name (`crash_loop`); the pods' names start with it (dashes for underscores).
    pub name: &'static str,
    /// The checklist ids it shows (`RP-05`).
    pub ids: &'static [&'static str],
    /// What it does, in one line (the table in `docs/differential.md`).
    pub about: &'static str,
    /// Manifest files: name and text. `{image}` is the busybox image, `{host}` a directory
    /// of the scenario's own on the host (a hostPath for the pods to write to; different for
    /// the two agents).
    pub files: Vec<(&'static str, String)>,
    /// What happens when.
    pub actions: Vec<Action>,
    /// When the pods are compared: seconds after each agent started each pod (a first
    /// container started; or got an id, when none ever starts; the manifests' writing for a
    /// pod that never got so far, see `run::origin`). The last is when the scenario ends.
    pub checkpoints: Vec<u64>,
    /// Gaps between two events of `/host/events` (or `action`, the scenario's first action)
    /// compared in time, within [`EVENT_TOLERANCE`] ([`REACTION_TOLERANCE`] from `action`);
    /// the order of all events is compared anyway.
    pub gaps: Vec<(&'static str, &'static str)>,
    /// The differences that are known and explained.
    pub departures: Vec<Departure>,
}

impl Scenario {
    /// The time of the last checkpoint.
    pub fn end(&self) -> u64 {
        self.checkpoints.iter().copied().max().unwrap_or(0)
    }
}

/// A timed action of a scenario.
#[derive(Debug, Clone)]
pub struct Action {
    /// Seconds after the manifests were written.
    pub at: u64,
    /// What to do.
    pub kind: ActionKind,
}

/// What an [`Action`] does, to both agents at the same moment.
#[derive(Debug, Clone)]
pub enum ActionKind {
    /// Removes a manifest file (the pod is deleted), once the scenario's pods run under
    /// both agents.
    RemoveManifest(&'static str),
}

/// A known difference between the kubelet and nodelet, with the reason it is accepted.
#[derive(Debug, Clone)]
pub struct Departure {
    /// A short name, as in `docs/differential.md`.
    pub name: &'static str,
    /// The differences it covers: patterns over `<pod>: <field>` keys, `*` matching any
    /// text (`crash-loop: containerStatuses[main].state.waiting.message`, `*: hostIP`).
    pub fields: Vec<String>,
    /// Why it is accepted.
    pub reason: &'static str,
    /// Whether a run may show no such difference (timing-dependent ones).
    pub sometimes: bool,
}

impl Departure {
    /// A departure over `fields` that every run must show.
    pub fn new(name: &'static str, fields: &[&str], reason: &'static str) -> Self {
        Departure {
            name,
            fields: fields.iter().map(|f| f.to_string()).collect(),
            reason,
            sometimes: false,
        }
    }
}

/// The outcome of the one run, shared by every test of the suite: `None` when the
/// environment is missing (the tests skip, or fail with `CI=true`), `Err` with the reason
/// when the run itself failed.
pub fn results() -> Option<&'static Result<run::RunResults, String>> {
    static RESULTS: OnceLock<Option<Result<run::RunResults, String>>> = OnceLock::new();
    RESULTS
        .get_or_init(|| {
            let caught = std::panic::catch_unwind(run::run_all);
            match caught {
                Ok(results) => results.map(Ok),
                Err(panic) => Some(Err(panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "the run panicked".to_string()))),
            }
        })
        .as_ref()
}

/// The test of scenario `name`: compares it in the shared run, prints its report, and fails
/// on any difference no departure covers (or a departure that covers nothing).
#[track_caller]
pub fn check(name: &str) {
    let Some(results) = results() else {
        return;
    };
    let results = match results {
        Ok(r) => r,
        Err(e) => panic!("the differential run failed: {e}"),
    };
    let scenario = scenarios::all()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"));
    let outcome = compare::compare(&scenario, results);
    eprintln!("{}", outcome.report());
    assert!(outcome.passed(), "{}", outcome.report());
}
