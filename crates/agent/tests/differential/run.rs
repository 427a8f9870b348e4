//! One run of every scenario under both agents at once, and what was recorded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::scenarios;
use super::{ActionKind, SAMPLE_EVERY, Scenario};
use crate::common::Node;

/// Which agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Agent {
    /// The real kubelet.
    Kubelet,
    /// nodelet.
    Nodelet,
}

impl Agent {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Agent::Kubelet => "kubelet",
            Agent::Nodelet => "nodelet",
        }
    }
}

/// One reading of an agent's `/pods`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds after the manifests were written.
    pub at: f64,
    /// The pods, by their name without the node suffix.
    pub pods: BTreeMap<String, serde_json::Value>,
}

/// What one agent did in the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentRecord {
    /// Its node name.
    pub node: String,
    /// Strings to replace in its messages, longest first: its directories and node name.
    pub placeholders: Vec<(String, String)>,
    /// `/pods`, every [`SAMPLE_EVERY`].
    pub samples: Vec<Sample>,
    /// The manifests it refused, by file name, with its message.
    pub refused: BTreeMap<String, String>,
    /// The last phase of each pod whose manifest was removed, by short name.
    pub final_phases: BTreeMap<String, String>,
    /// Events the pods wrote to `{host}/events`, per scenario: name and uptime seconds.
    pub events: BTreeMap<String, Vec<(String, f64)>>,
    /// The host's uptime when each scenario's actions ran (the events' clock), per scenario.
    pub action_uptimes: BTreeMap<String, Vec<f64>>,
}

/// Everything the run recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResults {
    /// Per agent.
    pub agents: BTreeMap<Agent, AgentRecord>,
    /// How long the run took, start-up and clean-up included.
    pub wall: Duration,
}

impl RunResults {
    /// One agent's record.
    pub fn agent(&self, agent: Agent) -> &AgentRecord {
        &self.agents[&agent]
    }
}

/// How long an action waits for its scenario's pods to run under both agents.
pub const ACTION_WAIT: Duration = Duration::from_secs(60);
/// How long, beyond the last checkpoint, the run waits for pods that started late.
pub const START_ALLOWANCE: Duration = Duration::from_secs(45);

/// The kubelet's configuration settings that nodelet is given too, so both see the same
/// node (allocatable, eviction, image GC, manifest rescans).
const SHARED_SETTINGS: &[(&str, &str)] = &[
    ("evictionHard", test_env::kubelet::EVICTION_HARD),
    ("imageGCHighThresholdPercent", "100"),
    ("imageGCLowThresholdPercent", "99"),
    ("cgroupDriver", "cgroupfs"),
    ("cgroupsPerQOS", "true"),
    ("failSwapOn", "false"),
];

/// The short name of a static pod: its full name without `-<node>`.
pub fn short_name(full: &str, node: &str) -> String {
    full.strip_suffix(&format!("-{}", node.to_lowercase()))
        .unwrap_or(full)
        .to_string()
}

/// The host's uptime in seconds (`/proc/uptime`), the clock the pods write their events
/// with: one clock for every container on the machine, whichever runtime runs it.
pub fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Each agent's host directories, one per scenario.
struct HostDirs {
    root: tempfile::TempDir,
}

impl HostDirs {
    fn new(agent: Agent) -> HostDirs {
        let root = tempfile::Builder::new()
            .prefix(&format!("nodelet-diff-{}-", agent.name()))
            .tempdir()
            .expect("a temporary directory");
        for scenario in scenarios::all() {
            let dir = root.path().join(scenario.name);
            std::fs::create_dir(&dir).expect("a scenario's host directory");
            // Containers may run as any user; the directory is theirs to write.
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
                .expect("chmod 0777");
        }
        HostDirs { root }
    }

    fn of(&self, scenario: &str) -> PathBuf {
        self.root.path().join(scenario)
    }
}

/// A scenario's manifest text for an agent.
pub fn render(template: &str, host: &Path) -> String {
    template
        .replace("{image}", &test_env::busybox_image())
        .replace("{host}", &host.to_string_lossy())
}

/// Runs every scenario under both agents; `None` when the environment is missing (after
/// [`test_env::skip`]).
pub fn run_all() -> Option<RunResults> {
    if let Some(results) = replay() {
        return Some(results);
    }
    let started = Instant::now();
    let reference = test_env::require_reference_env("the differential suite")?;
    let all = scenarios::all();
    let end = all.iter().map(Scenario::end).max().unwrap_or(0);

    // The kubelet first: it waits for the reference runtime's lock, nodelet's Node for the
    // main runtime's.
    let kubelet = test_env::Kubelet::builder(&reference, "diff")
        .verbosity(4)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let shared: String = SHARED_SETTINGS
        .iter()
        .map(|(k, v)| format!("{k}: {v}\n"))
        .collect();
    let mut node = Node::new("diff", &shared)?;
    node.start();

    let dirs = [HostDirs::new(Agent::Kubelet), HostDirs::new(Agent::Nodelet)];
    let host = |agent: Agent, scenario: &str| match agent {
        Agent::Kubelet => dirs[0].of(scenario),
        Agent::Nodelet => dirs[1].of(scenario),
    };
    for scenario in &all {
        for (file, template) in &scenario.files {
            kubelet
                .write_manifest(
                    file,
                    &render(template, &host(Agent::Kubelet, scenario.name)),
                )
                .unwrap_or_else(|e| panic!("{e}"));
            node.write_manifest(
                file,
                &render(template, &host(Agent::Nodelet, scenario.name)),
            );
        }
    }
    let t0 = Instant::now();
    eprintln!(
        "differential: {} scenarios written to kubelet {} and nodelet {}; observing each pod up to {end} s after it starts",
        all.len(),
        kubelet.node_name(),
        node.name
    );

    // Actions in time order, on both agents at once.
    let mut actions: Vec<(u64, &Scenario, &ActionKind)> = all
        .iter()
        .flat_map(|s| s.actions.iter().map(move |a| (a.at, s, &a.kind)))
        .collect();
    actions.sort_by_key(|(at, s, _)| (*at, s.name));

    let done = AtomicBool::new(false);
    let samples = [Mutex::new(Vec::new()), Mutex::new(Vec::new())];
    let mut action_uptimes: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let kubelet_node = kubelet.node_name().to_string();
    let nodelet_node = node.name.clone();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            sample(&done, t0, &kubelet_node, &samples[0], || {
                kubelet.pods_json().ok()
            })
        });
        scope.spawn(|| {
            sample(&done, t0, &nodelet_node, &samples[1], || {
                let (code, body) = crate::common::http_get(
                    std::net::SocketAddr::from(([127, 0, 0, 1], node.port)),
                    "/pods",
                )
                .ok()?;
                (code == 200).then(|| serde_json::from_str(&body).ok())?
            })
        });
        for (at, scenario, kind) in &actions {
            // Not before its time, and not before the scenario's pods run under both agents
            // (start-up takes a while with every scenario's pods starting at once): an
            // action acts on running pods, whenever they got there.
            sleep_until(t0 + Duration::from_secs(*at));
            let pods: Vec<String> = scenario
                .files
                .iter()
                .flat_map(|(_, text)| pod_names(text))
                .collect();
            let deadline = Instant::now() + ACTION_WAIT;
            while Instant::now() < deadline
                && !samples
                    .iter()
                    .all(|s| all_running(s.lock().expect("samples").last(), &pods))
            {
                std::thread::sleep(SAMPLE_EVERY);
            }
            action_uptimes
                .entry(scenario.name.to_string())
                .or_default()
                .push(uptime());
            match kind {
                ActionKind::RemoveManifest(file) => {
                    kubelet
                        .remove_manifest(file)
                        .unwrap_or_else(|e| panic!("{e}"));
                    node.remove_manifest(file);
                }
            }
        }
        // Until every pod has been observed for its scenario's time since it started,
        // under both agents (or it could not start and its scenario's time is long past).
        let cap = t0 + Duration::from_secs(end) + START_ALLOWANCE;
        while Instant::now() < cap {
            let observed = samples.iter().all(|s| {
                let s = s.lock().expect("samples");
                all.iter().all(|scenario| {
                    scenario
                        .files
                        .iter()
                        .flat_map(|(_, t)| pod_names(t))
                        .all(|pod| {
                            let now = s.last().map_or(0.0, |l| l.at);
                            match origin(&s, &pod) {
                                Some(o) => now >= o + scenario.end() as f64 + 0.5,
                                None => {
                                    now >= scenario.end() as f64 + START_ALLOWANCE.as_secs_f64()
                                }
                            }
                        })
                })
            });
            if observed {
                break;
            }
            std::thread::sleep(SAMPLE_EVERY);
        }
        done.store(true, Ordering::SeqCst);
    });
    let [kubelet_samples, nodelet_samples] = samples.map(|s| s.into_inner().expect("samples"));

    // What only the logs and /errors know.
    let lines = kubelet.log_lines();
    let kubelet_refused = test_env::refused_manifests(&lines)
        .into_iter()
        .map(|(path, message)| (file_name(&path), message))
        .collect();
    let (code, body) = node.get("/errors");
    assert_eq!(code, 200, "nodelet's /errors: {body}");
    let errors: Vec<serde_json::Value> = serde_json::from_str(&body).expect("/errors is JSON");
    let nodelet_refused = errors
        .iter()
        .filter_map(|e| {
            Some((
                file_name(Path::new(e["file"].as_str()?)),
                e["reason"].as_str()?.to_string(),
            ))
        })
        .collect();
    let removed: Vec<String> = all.iter().flat_map(removed_pods).collect();
    let kubelet_final = removed
        .iter()
        .filter_map(|pod| {
            let full = format!("default/{}", kubelet.pod_name(pod));
            Some((pod.clone(), test_env::pod_phases(&lines, &full).pop()?))
        })
        .collect();
    let nodelet_final = removed
        .iter()
        .filter_map(|pod| {
            let last = nodelet_samples.iter().rev().find_map(|s| s.pods.get(pod))?;
            Some((pod.clone(), last["status"]["phase"].as_str()?.to_string()))
        })
        .collect();

    let record = |agent: Agent,
                  node_name: String,
                  root: PathBuf,
                  manifests: PathBuf,
                  samples: Vec<Sample>,
                  refused: BTreeMap<String, String>,
                  final_phases: BTreeMap<String, String>| {
        let host_root = match agent {
            Agent::Kubelet => dirs[0].root.path().to_path_buf(),
            Agent::Nodelet => dirs[1].root.path().to_path_buf(),
        };
        let events = all
            .iter()
            .map(|s| (s.name.to_string(), read_events(&host(agent, s.name))))
            .collect();
        let mut placeholders: Vec<(String, String)> = [
            (host_root.to_string_lossy().into_owned(), "<host>"),
            (root.to_string_lossy().into_owned(), "<root>"),
            (manifests.to_string_lossy().into_owned(), "<manifests>"),
            (node_name.to_lowercase(), "<node>"),
            (node_name.clone(), "<node>"),
        ]
        .into_iter()
        .map(|(from, to)| (from, to.to_string()))
        .collect();
        placeholders.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        AgentRecord {
            node: node_name,
            placeholders,
            samples,
            refused,
            final_phases,
            events,
            action_uptimes: action_uptimes.clone(),
        }
    };
    let kubelet_record = record(
        Agent::Kubelet,
        kubelet.node_name().to_string(),
        kubelet.root_dir(),
        kubelet.manifest_dir(),
        kubelet_samples,
        kubelet_refused,
        kubelet_final,
    );
    let nodelet_record = record(
        Agent::Nodelet,
        node.name.clone(),
        node.root_dir(),
        node.manifest_dir(),
        nodelet_samples,
        nodelet_refused,
        nodelet_final,
    );
    let results = RunResults {
        agents: BTreeMap::from([
            (Agent::Kubelet, kubelet_record),
            (Agent::Nodelet, nodelet_record),
        ]),
        wall: started.elapsed(),
    };
    if std::env::var_os(KEEP_VAR).is_some() {
        let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("differential");
        let _ = std::fs::create_dir_all(&keep);
        let _ = std::fs::copy(kubelet.log_file(), keep.join("kubelet.log"));
        let _ = std::fs::copy(node.log_file(), keep.join("nodelet.log"));
        let json = serde_json::to_string(&results).expect("the results as JSON");
        std::fs::write(keep.join("results.json"), json).expect("writing results.json");
        eprintln!("differential: logs and results kept in {}", keep.display());
    }
    drop(kubelet);
    drop(node);
    remove_legacy_log_symlinks(&nodelet_node);
    Some(RunResults {
        wall: started.elapsed(),
        ..results
    })
}

/// Set to keep both agents' logs and the recorded results (`results.json`) in
/// `target/tmp/differential/`.
pub const KEEP_VAR: &str = "NODELET_DIFF_KEEP";
/// Set to a `results.json` kept by an earlier run to compare it again without running the
/// agents (for work on the comparison itself).
pub const REPLAY_VAR: &str = "NODELET_DIFF_REPLAY";

/// The results of an earlier run ([`REPLAY_VAR`]), when asked for.
pub fn replay() -> Option<RunResults> {
    let path = std::env::var_os(REPLAY_VAR)?;
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{REPLAY_VAR}={}: {e}", Path::new(&path).display()));
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{REPLAY_VAR}: {e}")))
}

/// Where nodelet (like the kubelet) links each container's log (CRI-14).
const LEGACY_LOG_DIR: &str = "/var/log/containers";

/// Removes the `/var/log/containers` links of `node`'s pods. nodelet removes a container's
/// link with the container; the pods still running when the test stops it are removed by the
/// harness through the CRI, which leaves their links behind.
fn remove_legacy_log_symlinks(node: &str) {
    let marker = format!("-{}_", node.to_lowercase());
    for entry in std::fs::read_dir(LEGACY_LOG_DIR)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains(&marker) && entry.file_type().is_ok_and(|t| t.is_symlink()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The pods of a scenario whose manifest an action removes.
pub fn removed_pods(scenario: &Scenario) -> Vec<String> {
    scenario
        .actions
        .iter()
        .map(|a| match a.kind {
            ActionKind::RemoveManifest(file) => file,
        })
        .flat_map(|file| {
            scenario
                .files
                .iter()
                .filter(move |(f, _)| *f == file)
                .flat_map(|(_, text)| pod_names(text))
        })
        .collect()
}

/// The names of the Pod documents in a manifest's text: documents (split on `---` lines)
/// with a top-level `kind: Pod` line and a `  name:` line right under `metadata:`, the shape
/// every scenario writes (a YAML parser is not needed for our own manifests, and a broken one
/// simply has no name).
pub fn pod_names(text: &str) -> Vec<String> {
    text.split("\n---\n")
        .filter(|doc| doc.lines().any(|l| l.trim_end() == "kind: Pod"))
        .filter_map(|doc| {
            let mut lines = doc.lines().skip_while(|l| l.trim_end() != "metadata:");
            lines.next()?;
            lines
                .take_while(|l| l.starts_with("  "))
                .find_map(|l| l.strip_prefix("  name: "))
                .map(|name| name.trim().to_string())
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn sleep_until(when: Instant) {
    let now = Instant::now();
    if when > now {
        std::thread::sleep(when - now);
    }
}

/// Reads `/pods` every [`SAMPLE_EVERY`] into `samples` until `done`.
fn sample(
    done: &AtomicBool,
    t0: Instant,
    node: &str,
    samples: &Mutex<Vec<Sample>>,
    read: impl Fn() -> Option<serde_json::Value>,
) {
    while !done.load(Ordering::SeqCst) {
        let next = Instant::now() + SAMPLE_EVERY;
        if let Some(list) = read() {
            let at = t0.elapsed().as_secs_f64();
            let pods = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let name = p["metadata"]["name"].as_str()?;
                    Some((short_name(name, node), p.clone()))
                })
                .collect();
            samples.lock().expect("samples").push(Sample { at, pods });
        }
        sleep_until(next);
    }
}

/// When the pod started under an agent: the first sample showing one of its containers
/// (init containers included) started (running, or terminated); failing that, the first one
/// showing a container with a runtime id (a container that never starts); `None` while
/// neither. Checkpoints count from here, so that both agents' pods are compared at the same
/// age however long each agent took to start them.
pub fn origin(samples: &[Sample], pod: &str) -> Option<f64> {
    let first = |test: &dyn Fn(&serde_json::Value) -> bool| {
        samples.iter().find_map(|s| {
            let status = &s.pods.get(pod)?["status"];
            let any = ["initContainerStatuses", "containerStatuses"]
                .iter()
                .flat_map(|list| status[list].as_array().into_iter().flatten())
                .any(test);
            any.then_some(s.at)
        })
    };
    first(&|c| {
        !c["state"]["running"].is_null()
            || !c["state"]["terminated"].is_null()
            || !c["lastState"]["terminated"].is_null()
    })
    .or_else(|| first(&|c| c["containerID"].as_str().is_some_and(|id| !id.is_empty())))
}

/// Whether every one of `pods` is in `sample`, phase Running, every container running.
fn all_running(sample: Option<&Sample>, pods: &[String]) -> bool {
    let Some(sample) = sample else {
        return false;
    };
    pods.iter().all(|pod| {
        let Some(p) = sample.pods.get(pod) else {
            return false;
        };
        let statuses = p["status"]["containerStatuses"].as_array();
        p["status"]["phase"] == "Running"
            && statuses.is_some_and(|list| {
                !list.is_empty() && list.iter().all(|c| !c["state"]["running"].is_null())
            })
    })
}

/// The events of a scenario's host directory: `events` lines of `<name> <uptime>`.
fn read_events(dir: &Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(dir.join("events")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (name, at) = l.trim().rsplit_once(' ')?;
            Some((name.trim().to_string(), at.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_of_our_manifests() {
        let pod =
            "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    app: a\n  name: web\nspec: {}\n";
        let objects = format!("{pod}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n");
        assert_eq!(pod_names(&objects), ["web"]);
        let nameless = "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    name: x\nspec: {}\n";
        assert!(pod_names(nameless).is_empty());
        assert!(pod_names("apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n").is_empty());
    }
}
