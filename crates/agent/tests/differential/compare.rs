//! Comparing one scenario's record under the two agents, and the readable report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::normalize::{flatten_status, normalize_text};
use super::run::{Agent, AgentRecord, RunResults, origin, pod_names, removed_pods};
use super::scenarios::global_departures;
use super::{Departure, EVENT_TOLERANCE, REACTION_TOLERANCE, RESTART_TOLERANCE, Scenario};

/// One field that differs.
#[derive(Debug, Clone)]
pub struct Difference {
    /// When (`@12s`, `run`).
    pub when: String,
    /// `<pod>: <field>` (or `<file>: refused`).
    pub key: String,
    /// The kubelet's value (`<absent>` when it has none).
    pub kubelet: String,
    /// nodelet's.
    pub nodelet: String,
    /// The departure that covers it, if any: its name and reason.
    pub allowed_by: Option<(String, String)>,
}

/// A scenario's comparison.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The scenario's name.
    pub name: &'static str,
    /// What it does.
    pub about: &'static str,
    /// Its checklist ids.
    pub ids: &'static [&'static str],
    /// Every difference found.
    pub differences: Vec<Difference>,
    /// The scenario's departures that covered nothing (and may not).
    pub stale: Vec<&'static str>,
    /// How many fields were compared.
    pub compared: usize,
    /// The run's wall time.
    pub wall: std::time::Duration,
}

impl Outcome {
    /// No unexplained difference and no stale departure.
    pub fn passed(&self) -> bool {
        self.stale.is_empty() && self.differences.iter().all(|d| d.allowed_by.is_some())
    }

    /// The differences no departure covers.
    pub fn unexplained(&self) -> impl Iterator<Item = &Difference> {
        self.differences.iter().filter(|d| d.allowed_by.is_none())
    }

    /// A readable report: every difference with both values and what allows it.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let unexplained = self.unexplained().count();
        let _ = writeln!(
            out,
            "scenario {} ({}): {}\n  {} fields compared, {} differences, {} unexplained{} (run: {:.0?})",
            self.name,
            self.ids.join(", "),
            self.about,
            self.compared,
            self.differences.len(),
            unexplained,
            if self.stale.is_empty() {
                String::new()
            } else {
                format!(", stale departures: {}", self.stale.join(", "))
            },
            self.wall,
        );
        for d in &self.differences {
            let mark = match &d.allowed_by {
                Some((name, _)) => format!("allowed ({name})"),
                None => "DIFFERENT".to_string(),
            };
            let _ = writeln!(out, "  {} {} — {mark}", d.when, d.key);
            let _ = writeln!(out, "      kubelet: {}", one_line(&d.kubelet));
            let _ = writeln!(out, "      nodelet: {}", one_line(&d.nodelet));
        }
        let mut reasons: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, reason) in self
            .differences
            .iter()
            .filter_map(|d| d.allowed_by.as_ref())
        {
            reasons.insert(name, reason);
        }
        for (name, reason) in reasons {
            let _ = writeln!(out, "  departure {name}: {reason}");
        }
        for name in &self.stale {
            let _ = writeln!(
                out,
                "  departure {name} covered nothing in this run: nodelet now matches the \
                 kubelet there; remove it (and its row in docs/differential.md)"
            );
        }
        out
    }
}

fn one_line(text: &str) -> String {
    text.replace('\n', "⏎")
}

/// Whether `key` matches `pattern` (`*` matches any text).
pub fn glob(pattern: &str, key: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == key;
    }
    let mut rest = key;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

const ABSENT: &str = "<absent>";
/// The kubelet's pod workers requeue a pod in back-off at the expiry plus up to 50 %
/// (`workerBackOffPeriodJitterFactor`, `pkg/kubelet/pod_workers.go`).
const JITTER: f64 = 1.5;
/// How much later than nodelet's a kubelet restart must come to count as its jitter: more
/// than the one-second resolution of the reported times.
const JITTER_EVIDENCE: f64 = 1.5;

/// Compares `scenario` in `results`; see the module docs of `differential`.
pub fn compare(scenario: &Scenario, results: &RunResults) -> Outcome {
    let kubelet = results.agent(Agent::Kubelet);
    let nodelet = results.agent(Agent::Nodelet);
    let pods: Vec<String> = scenario
        .files
        .iter()
        .flat_map(|(_, text)| pod_names(text))
        .collect();
    let mut differences = Vec::new();
    let mut compared = 0;
    let mut differ = |when: String, key: String, k: String, n: String| {
        compared += 1;
        if k != n {
            differences.push(Difference {
                when,
                key,
                kubelet: k,
                nodelet: n,
                allowed_by: None,
            });
        }
    };

    // The statuses at each checkpoint, counted from when each agent started the pod.
    for &at in &scenario.checkpoints {
        for pod in &pods {
            let k = status_at(kubelet, pod, at as f64);
            let n = status_at(nodelet, pod, at as f64);
            if k["pod"] != "present" || n["pod"] != "present" {
                // One difference for a pod one agent does not show, not one per field.
                let summary = |flat: &BTreeMap<String, String>| match flat.get("phase") {
                    Some(phase) => format!("present, {phase}"),
                    None => flat["pod"].clone(),
                };
                differ(
                    format!("@{at}s"),
                    format!("{pod}: pod"),
                    summary(&k),
                    summary(&n),
                );
                continue;
            }
            let keys: BTreeSet<&String> = k.keys().chain(n.keys()).collect();
            for key in keys {
                differ(
                    format!("@{at}s"),
                    format!("{pod}: {key}"),
                    k.get(key).cloned().unwrap_or_else(|| ABSENT.to_string()),
                    n.get(key).cloned().unwrap_or_else(|| ABSENT.to_string()),
                );
            }
        }
    }

    // The restart delays of every container (from the previous instance's `finishedAt` to
    // the next one's `startedAt`, as both report them), over the scenario's time. The first
    // restart is immediate in both (nodelet no slower than the kubelet by more than
    // REACTION_TOLERANCE). After it the kubelet requeues a pod in back-off at the expiry plus up to half of it again (its pod workers'
    // jitter); nodelet restarts at the expiry. So each of nodelet's delays must lie in the
    // kubelet's window for the same back-off: between the kubelet's delay / 1.5 and the
    // kubelet's delay, give or take the tolerance. Once a jittered restart came visibly later,
    // the kubelet's later decisions may differ by design (a liveness kill counts its back-off
    // from the last restart): the comparison stops at the first mismatch after one.
    for pod in &pods {
        let k = restart_delays(kubelet, pod, scenario.end() as f64);
        let n = restart_delays(nodelet, pod, scenario.end() as f64);
        let containers: BTreeSet<&String> = k.keys().chain(n.keys()).collect();
        for container in containers {
            let empty = Vec::new();
            let (kd, nd) = (
                k.get(container).unwrap_or(&empty),
                n.get(container).unwrap_or(&empty),
            );
            let tolerance = RESTART_TOLERANCE.as_secs_f64();
            let mut jittered = false;
            let mut compared = 0;
            let mut same = true;
            for (i, (k, n)) in kd.iter().zip(nd).enumerate() {
                // The first restart has no back-off (RP-04): both restart at once, each as fast
                // as it can create and start a container on a loaded machine; nodelet must not
                // be the slower by more than a reaction.
                let within = if i == 0 {
                    *n <= k + REACTION_TOLERANCE.as_secs_f64()
                } else {
                    *n >= k / JITTER - tolerance && *n <= k + tolerance
                };
                if !within {
                    same = jittered;
                    break;
                }
                compared += 1;
                // Any kubelet restart later than nodelet's by more than the noise of the
                // timestamps (whole seconds) is its jitter, even one within the tolerance:
                // from there the two back-off clocks differ.
                jittered |= *k > n + JITTER_EVIDENCE;
            }
            // A restart more or less at the end is the jitter's doing.
            let counts = kd.len().abs_diff(nd.len()) <= 1 || compared < kd.len().min(nd.len());
            let show = |v: &[f64]| {
                let list: Vec<String> = v.iter().map(|s| format!("{s:.0}s")).collect();
                format!("[{}]", list.join(", "))
            };
            let (ks, ns) = (show(kd), show(nd));
            let ns = if same && counts { ks.clone() } else { ns };
            differ(
                "run".to_string(),
                format!("{pod}: {container}.restartDelays"),
                ks,
                ns,
            );
        }
    }

    // The states each container went through, over the scenario's time: every waiting
    // reason and message the kubelet showed, nodelet must have shown (nodelet shows them for
    // longer: see the `status-after-actions` departure); the terminations (as state or last
    // state) must be the same.
    for pod in &pods {
        let k = seen_states(kubelet, pod, scenario.end() as f64);
        let n = seen_states(nodelet, pod, scenario.end() as f64);
        let containers: BTreeSet<&String> = k.keys().chain(n.keys()).collect();
        for container in containers {
            let empty = Seen::default();
            let (ks, ns) = (
                k.get(container).unwrap_or(&empty),
                n.get(container).unwrap_or(&empty),
            );
            // Per reason the kubelet showed: its messages must be among nodelet's.
            for (reason, messages) in &ks.waiting {
                let theirs = ns.waiting.get(reason);
                let covered = theirs.is_some_and(|t| messages.is_subset(t));
                let shown = |m: Option<&BTreeSet<String>>| match m {
                    Some(m) => join(m),
                    None => ABSENT.to_string(),
                };
                differ(
                    "run".to_string(),
                    format!("{pod}: {container}.seenWaiting[{reason}]"),
                    join(messages),
                    if covered {
                        join(messages)
                    } else {
                        shown(theirs)
                    },
                );
            }
            differ(
                "run".to_string(),
                format!("{pod}: {container}.seenTerminated"),
                join(&ks.terminated),
                join(&ns.terminated),
            );
        }
    }

    // Refused manifests: whether, then the message.
    for (file, _) in &scenario.files {
        let refused = |r: &AgentRecord| {
            r.refused
                .get(*file)
                .map(|m| normalize_text(m, &r.placeholders))
        };
        let (k, n) = (refused(kubelet), refused(nodelet));
        let verdict = |m: &Option<String>| if m.is_some() { "refused" } else { "accepted" };
        differ(
            "run".to_string(),
            format!("{file}: refused"),
            verdict(&k).to_string(),
            verdict(&n).to_string(),
        );
        if let (Some(k), Some(n)) = (k, n) {
            differ("run".to_string(), format!("{file}: refusedMessage"), k, n);
        }
    }

    // The phase a removed pod ends in.
    for pod in removed_pods(scenario) {
        let phase = |r: &AgentRecord| {
            r.final_phases
                .get(&pod)
                .cloned()
                .unwrap_or_else(|| ABSENT.to_string())
        };
        differ(
            "run".to_string(),
            format!("{pod}: finalPhase"),
            phase(kubelet),
            phase(nodelet),
        );
    }

    // Events the containers wrote: their order, and the gaps the scenario times (`action`
    // is the scenario's first action).
    let events = |r: &AgentRecord| -> Vec<(String, f64)> {
        let mut list = r.events.get(scenario.name).cloned().unwrap_or_default();
        if let Some(action) = r.action_uptimes.get(scenario.name).and_then(|a| a.first()) {
            list.push(("action".to_string(), *action));
        }
        list.sort_by(|a, b| a.1.total_cmp(&b.1));
        list
    };
    let (ke, ne) = (events(kubelet), events(nodelet));
    // The order within each pod's events (`<pod>.<event>`; an action belongs to every pod).
    let groups: BTreeSet<&str> = ke
        .iter()
        .chain(&ne)
        .filter(|(n, _)| n != "action")
        .map(|(n, _)| n.split_once('.').map_or("", |(g, _)| g))
        .collect();
    for group in groups {
        let order = |list: &[(String, f64)]| {
            list.iter()
                .filter(|(n, _)| n == "action" || n.split_once('.').map_or("", |(g, _)| g) == group)
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(" → ")
        };
        let name = if group.is_empty() {
            "events: order".to_string()
        } else {
            format!("events: {group} order")
        };
        differ("run".to_string(), name, order(&ke), order(&ne));
    }
    for (from, to) in &scenario.gaps {
        let gap = |list: &[(String, f64)]| {
            let at = |name: &str| list.iter().find(|(n, _)| n == name).map(|(_, t)| *t);
            Some(at(to)? - at(from)?)
        };
        let tolerance = if *from == "action" {
            REACTION_TOLERANCE
        } else {
            EVENT_TOLERANCE
        };
        let show = |v: Option<f64>| v.map_or(ABSENT.to_string(), |s| format!("{s:.1}s"));
        let (k, n) = (gap(&ke), gap(&ne));
        let close =
            matches!((k, n), (Some(k), Some(n)) if (k - n).abs() <= tolerance.as_secs_f64());
        differ(
            "run".to_string(),
            format!("events: {from} → {to}"),
            show(k),
            if close { show(k) } else { show(n) },
        );
    }

    // What the departures allow.
    let globals = global_departures();
    let mut used: BTreeSet<&'static str> = BTreeSet::new();
    for d in &mut differences {
        let key = &d.key;
        let by = scenario
            .departures
            .iter()
            .chain(&globals)
            .find(|dep| dep.fields.iter().any(|f| glob(f, key)));
        if let Some(dep) = by {
            d.allowed_by = Some((dep.name.to_string(), dep.reason.to_string()));
            used.insert(dep.name);
        }
    }
    let stale = scenario
        .departures
        .iter()
        .filter(|d| !d.sometimes && !used.contains(d.name))
        .map(|d| d.name)
        .collect();
    Outcome {
        name: scenario.name,
        about: scenario.about,
        ids: scenario.ids,
        differences,
        stale,
        compared,
        wall: results.wall,
    }
}

/// The global departures that covered nothing in the whole run.
pub fn stale_global_departures(results: &RunResults) -> Vec<&'static str> {
    let all = super::scenarios::all();
    let outcomes: Vec<Outcome> = all.iter().map(|s| compare(s, results)).collect();
    global_departures()
        .iter()
        .filter(|d: &&Departure| !d.sometimes)
        .filter(|d| {
            !outcomes
                .iter()
                .flat_map(|o| &o.differences)
                .any(|diff| diff.allowed_by.as_ref().is_some_and(|(n, _)| n == d.name))
        })
        .map(|d| d.name)
        .collect()
}

/// The pod's flattened status `at` seconds after the agent started it ([`origin`]): the last
/// sample at or before that time; an absent pod is the single field `pod = <absent>`, a pod
/// not observed that long `pod = <not observed ...>`.
fn status_at(record: &AgentRecord, pod: &str, at: f64) -> BTreeMap<String, String> {
    let when = origin(&record.samples, pod).unwrap_or(0.0) + at;
    let last = record.samples.last().map_or(0.0, |s| s.at);
    if last < when {
        return BTreeMap::from([(
            "pod".to_string(),
            format!("<not observed {at}s after it started>"),
        )]);
    }
    let sample = record.samples.iter().rev().find(|s| s.at <= when);
    match sample.and_then(|s| s.pods.get(pod)) {
        Some(p) => {
            let mut flat = flatten_status(&p["status"], &record.placeholders);
            flat.insert("pod".to_string(), "present".to_string());
            flat
        }
        None => BTreeMap::from([("pod".to_string(), ABSENT.to_string())]),
    }
}

/// What a container showed over a scenario's time.
#[derive(Debug, Default)]
struct Seen {
    /// The messages of every waiting state, by reason, back-off durations left out.
    waiting: BTreeMap<String, BTreeSet<String>>,
    /// `reason exitCode: message` of every terminated state and last state.
    terminated: BTreeSet<String>,
}

fn seen_states(record: &AgentRecord, pod: &str, end: f64) -> BTreeMap<String, Seen> {
    let start = origin(&record.samples, pod).unwrap_or(0.0);
    let mut out: BTreeMap<String, Seen> = BTreeMap::new();
    for sample in record.samples.iter().filter(|s| s.at <= start + end) {
        let Some(p) = sample.pods.get(pod) else {
            continue;
        };
        for (list, prefix) in [
            ("initContainerStatuses", "init:"),
            ("containerStatuses", ""),
        ] {
            for c in p["status"][list].as_array().into_iter().flatten() {
                let Some(name) = c["name"].as_str() else {
                    continue;
                };
                let seen = out.entry(format!("{prefix}{name}")).or_default();
                let text = |v: &serde_json::Value| {
                    normalize_text(v.as_str().unwrap_or(""), &record.placeholders)
                };
                let waiting = &c["state"]["waiting"];
                if !waiting.is_null() {
                    seen.waiting
                        .entry(text(&waiting["reason"]))
                        .or_default()
                        .insert(without_back_off(&text(&waiting["message"])));
                }
                for state in [&c["state"], &c["lastState"]] {
                    let t = &state["terminated"];
                    if !t.is_null() {
                        seen.terminated.insert(format!(
                            "{} {}: {}",
                            text(&t["reason"]),
                            t["exitCode"],
                            text(&t["message"])
                        ));
                    }
                }
            }
        }
    }
    out
}

/// `back-off 40s restarting ...` → `back-off <d> restarting ...`: the durations are the
/// restart delays' business.
fn without_back_off(message: &str) -> String {
    match message
        .strip_prefix("back-off ")
        .and_then(|m| m.split_once(' '))
    {
        Some((_, rest)) => format!("back-off <d> {rest}"),
        None => message.to_string(),
    }
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(" | ")
}

/// For each container of the pod (`init:<name>` or `<name>`), the delay of each restart: the
/// next instance's `startedAt` minus the previous instance's `finishedAt`, over every
/// instance seen terminated (as `state` or `lastState`, which carry the instance's id and
/// both times, to the second), up to `end` seconds after the pod started. A running instance
/// counts by its `startedAt` alone.
fn restart_delays(record: &AgentRecord, pod: &str, end: f64) -> BTreeMap<String, Vec<f64>> {
    let start = origin(&record.samples, pod).unwrap_or(0.0);
    // Per container: instance id → (startedAt, finishedAt).
    let mut instances: BTreeMap<String, BTreeMap<String, (f64, Option<f64>)>> = BTreeMap::new();
    let time = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_second() as f64)
    };
    for sample in record.samples.iter().filter(|s| s.at <= start + end) {
        let Some(p) = sample.pods.get(pod) else {
            continue;
        };
        for (list, prefix) in [
            ("initContainerStatuses", "init:"),
            ("containerStatuses", ""),
        ] {
            for c in p["status"][list].as_array().into_iter().flatten() {
                let Some(name) = c["name"].as_str() else {
                    continue;
                };
                let seen = instances.entry(format!("{prefix}{name}")).or_default();
                let terminated = [&c["state"]["terminated"], &c["lastState"]["terminated"]];
                for t in terminated.into_iter().filter(|t| !t.is_null()) {
                    // An instance that failed to start (StartError) has the epoch as its
                    // start: it was tried when it finished.
                    let finished = time(&t["finishedAt"]);
                    let started = time(&t["startedAt"]).filter(|s| *s > 0.0).or(finished);
                    if let (Some(id), Some(started)) = (t["containerID"].as_str(), started) {
                        seen.insert(id.to_string(), (started, finished));
                    }
                }
                let running = &c["state"]["running"];
                if let (Some(id), Some(started)) =
                    (c["containerID"].as_str(), time(&running["startedAt"]))
                {
                    seen.entry(id.to_string()).or_insert((started, None));
                }
            }
        }
    }
    instances
        .into_iter()
        .map(|(name, by_id)| {
            let mut runs: Vec<(f64, Option<f64>)> = by_id.into_values().collect();
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let delays = runs
                .windows(2)
                .filter_map(|w| Some(w[1].0 - w[0].1?))
                .collect();
            (name, delays)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*: hostIP", "web: hostIP"));
        assert!(glob(
            "web: containerStatuses[*].state.*",
            "web: containerStatuses[main].state.waiting.reason"
        ));
        assert!(!glob("web: phase", "web: phases"));
        assert!(glob("web: phase", "web: phase"));
        assert!(!glob("*: hostIP", "web: hostIPs[0].ip"));
    }
}
