//! The `probes` crate behind the worker's seam: [`PodProbes`] for
//! [`ProbeManager`], its events sent to the worker's [`EventRecorder`], and the task that
//! wakes a pod's worker when one of its probe results changes.
//!
//! The pieces meet as in the kubelet: the pod worker starts the pod's probe workers at
//! every sync (`AddPod`), hands them each status it publishes (`UpdatePodStatus`: they read
//! container ids, start times and the pod IP from it), and reads their results back when it
//! plans (`computePodActions` restarts a container that failed liveness or startup) and
//! when it generates the status (readiness feeds `ready`, `Ready` and `ContainersReady`).
//! A changed result wakes the pod's worker at once ([`spawn_wake`]), as the kubelet's sync
//! loop does on its `livenessManager` / `readinessManager` / `startupManager` channels.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::sync::Arc;
//! use cri_client::fake::FakeRuntime;
//! use pod_lifecycle::worker::{
//!     MemoryEvents, PodHost, PodWorkers, RecordedProbeEvents, WorkerConfig, spawn_wake,
//! };
//! use probes::ProbeManager;
//!
//! let runtime = Arc::new(FakeRuntime::with_busybox());
//! let events = MemoryEvents::new();
//! // Probe events (`Unhealthy`, `ProbeWarning`) go where the worker's events go.
//! let probes = ProbeManager::builder(runtime.clone())
//!     .events(Arc::new(RecordedProbeEvents::new(Arc::new(events.clone()))))
//!     .build();
//! let host = PodHost {
//!     probes: Arc::new(probes.clone()),
//!     events: Arc::new(events),
//!     ..PodHost::new(runtime.clone(), runtime)
//! };
//! let workers = Arc::new(PodWorkers::new(host, WorkerConfig::default()));
//! // Every result change wakes the pod's worker.
//! let wake = spawn_wake(&probes, &workers);
//! # wake.abort();
//! # }
//! ```

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Pod, PodStatus};
use probes::events::{ProbeEvent, ProbeEventSink};
use probes::{ProbeManager, ProbeResult};
use tokio::task::JoinHandle;

use super::PodWorkers;
use super::host::{EventRecorder, EventType, PodEvent, PodProbes, SeamError};
use crate::plan::{self, ProbeResults};

impl PodProbes for ProbeManager {
    /// Starts the probe workers the pod lacks. Containers whose probes are invalid get no
    /// worker; the worker reports them through [`validate`](PodProbes::validate) as
    /// `CreateContainerConfigError` before creating them.
    fn add_pod(&self, pod: &Pod) {
        for error in ProbeManager::add_pod(self, pod) {
            tracing::debug!(error = %error, "container not probed");
        }
    }

    fn terminating(&self, pod_uid: &str) {
        ProbeManager::terminating(self, pod_uid);
    }

    fn remove_pod(&self, pod_uid: &str) {
        ProbeManager::remove_pod(self, pod_uid);
    }

    /// The cached results of the pod's container instances. `Unknown` (a startup probe
    /// with no result yet) is left out: the plan reads a missing result as "not started".
    fn results(&self, pod_uid: &str) -> ProbeResults {
        let mut results = ProbeResults::new();
        for r in self.results().pod_results(pod_uid) {
            let result = match r.result {
                ProbeResult::Success => plan::ProbeResult::Success,
                ProbeResult::Failure(message) => plan::ProbeResult::Failure(message),
                ProbeResult::Unknown => continue,
            };
            results.set(&r.container_id, plan_kind(r.kind), result);
        }
        results
    }

    fn pod_status(&self, pod: &Pod, status: &PodStatus) {
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        self.update_pod_status(uid, status);
    }

    /// The API server's probe validation for one container (the probes crate's
    /// [`validate_container_probes`](probes::validate_container_probes)): the message names
    /// the pod, the container, the probe and the field path.
    fn validate(&self, pod: &Pod, container: &Container) -> Result<(), SeamError> {
        probes::validate_container_probes(pod, container).map_err(SeamError::failed)
    }
}

fn plan_kind(kind: probes::ProbeKind) -> plan::ProbeKind {
    match kind {
        probes::ProbeKind::Liveness => plan::ProbeKind::Liveness,
        probes::ProbeKind::Readiness => plan::ProbeKind::Readiness,
        probes::ProbeKind::Startup => plan::ProbeKind::Startup,
    }
}

/// Probe events recorded as pod events: `Warning` `Unhealthy` ("Liveness probe failed:
/// ...") and `Warning` `ProbeWarning`, as the kubelet's prober records them on the pod.
#[derive(Clone)]
pub struct RecordedProbeEvents {
    recorder: Arc<dyn EventRecorder>,
}

impl RecordedProbeEvents {
    /// Probe events recorded by `recorder` (usually the pod workers' own).
    pub fn new(recorder: Arc<dyn EventRecorder>) -> Self {
        RecordedProbeEvents { recorder }
    }
}

impl std::fmt::Debug for RecordedProbeEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedProbeEvents")
            .finish_non_exhaustive()
    }
}

impl ProbeEventSink for RecordedProbeEvents {
    fn record(&self, event: ProbeEvent) {
        self.recorder.record(PodEvent {
            pod: event.pod.to_string(),
            uid: event.pod.uid.clone(),
            field_path: Some(format!("spec.containers{{{}}}", event.container)),
            kind: EventType::Warning,
            reason: event.reason.to_string(),
            message: event.message,
        });
    }
}

/// Wake the worker of a pod whenever one of its probe results changes (the kubelet's sync
/// loop reading the liveness, readiness and startup result channels), so a failed liveness
/// probe restarts the container and a readiness change reaches the status at once rather
/// than at the next resync.
///
/// Subscribes before returning, so no change made after the call is missed. The task ends
/// when `workers` is dropped (at its next update); abort it to stop it sooner. Must be
/// called within a tokio runtime.
pub fn spawn_wake(manager: &ProbeManager, workers: &Arc<PodWorkers>) -> JoinHandle<()> {
    tokio::spawn(wake_on_probe_results(manager, workers))
}

/// What [`spawn_wake`] runs, for a caller that supervises its own tasks: subscribes at once,
/// and the future wakes the pod's worker on every changed result until `workers` is
/// dropped or the manager is gone.
pub fn wake_on_probe_results(
    manager: &ProbeManager,
    workers: &Arc<PodWorkers>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut updates = manager.subscribe();
    let workers = Arc::downgrade(workers);
    async move {
        while let Some(update) = updates.recv().await {
            let Some(workers) = workers.upgrade() else {
                return;
            };
            tracing::debug!(
                pod_uid = %update.pod_uid,
                container = %update.container_name,
                probe = update.kind.as_str(),
                result = ?update.result,
                "probe result changed: waking the pod worker"
            );
            workers.wake(&update.pod_uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::MemoryEvents;
    use cri_client::fake::FakeRuntime;
    use k8s_openapi::api::core::v1::{
        ContainerPort, ContainerState, ContainerStateRunning, ContainerStatus, ExecAction,
        HTTPGetAction, PodSpec, Probe,
    };
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use probes::{ProbeHandler, ProbeOutcome, ProbeStatus, ProbeTarget};

    /// A handler that answers what it is told, counting nothing.
    #[derive(Debug)]
    struct Answer(ProbeStatus, &'static str);

    #[async_trait::async_trait]
    impl ProbeHandler for Answer {
        async fn probe(&self, _: &ProbeTarget) -> probes::Result<ProbeOutcome> {
            Ok(ProbeOutcome {
                status: self.0,
                output: self.1.to_string(),
            })
        }
    }

    fn exec_probe() -> Probe {
        Probe {
            exec: Some(ExecAction {
                command: Some(vec!["true".into()]),
            }),
            period_seconds: Some(1),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("default".into());
        pod.metadata.uid = Some("uid-1".into());
        pod.spec = Some(PodSpec {
            containers,
            ..Default::default()
        });
        pod
    }

    fn running(name: &str, id: &str) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            container_id: Some(format!("containerd://{id}")),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning { started_at: None }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Running since now: probes with an initial delay wait.
    fn just_started(name: &str, id: &str) -> ContainerStatus {
        let mut status = running(name, id);
        status.state = Some(ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    jiff::Timestamp::now(),
                )),
            }),
            ..Default::default()
        });
        status
    }

    #[tokio::test]
    async fn results_map_to_the_plan_and_events_reach_the_recorder() {
        let events = MemoryEvents::new();
        let manager = ProbeManager::builder(Arc::new(FakeRuntime::new()))
            .events(Arc::new(RecordedProbeEvents::new(Arc::new(events.clone()))))
            .handlers(|probe: &Probe, _: &Container| {
                let answer: Arc<dyn ProbeHandler> = if probe.failure_threshold == Some(1) {
                    Arc::new(Answer(ProbeStatus::Failure, "boom"))
                } else {
                    Arc::new(Answer(ProbeStatus::Warning, "redirected"))
                };
                Ok(answer)
            })
            .build();
        let probes: &dyn PodProbes = &manager;
        let app = Container {
            name: "app".into(),
            liveness_probe: Some(Probe {
                failure_threshold: Some(1),
                ..exec_probe()
            }),
            readiness_probe: Some(exec_probe()),
            startup_probe: None,
            ..Default::default()
        };
        let gated = Container {
            name: "gated".into(),
            startup_probe: Some(Probe {
                initial_delay_seconds: Some(3600),
                ..exec_probe()
            }),
            ..Default::default()
        };
        let pod = pod(vec![app, gated]);
        probes.add_pod(&pod);
        let mut updates = manager.subscribe();
        probes.pod_status(
            &pod,
            &PodStatus {
                pod_ip: Some("10.0.0.1".into()),
                container_statuses: Some(vec![running("app", "a1"), just_started("gated", "g1")]),
                ..Default::default()
            },
        );
        // Liveness fails once (threshold 1); readiness passes with a warning.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let r = probes.results("uid-1");
            let live = r.get("a1", plan::ProbeKind::Liveness).cloned();
            let ready = r.get("a1", plan::ProbeKind::Readiness).cloned();
            let startup = manager
                .results()
                .get("uid-1", "g1", probes::ProbeKind::Startup);
            if matches!(live, Some(plan::ProbeResult::Failure(_)))
                && ready == Some(plan::ProbeResult::Success)
                && startup == Some(ProbeResult::Unknown)
            {
                assert_eq!(
                    live,
                    Some(plan::ProbeResult::Failure(
                        "Liveness probe failed: boom".into()
                    ))
                );
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "results never settled: {r:?}"
            );
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), updates.recv()).await;
        }
        // The startup probe waits for its initial delay (Unknown): absent for the plan, so
        // "not started".
        assert_eq!(
            probes.results("uid-1").get("g1", plan::ProbeKind::Startup),
            None
        );
        let recorded: Vec<(String, EventType, String, String)> = events
            .all()
            .into_iter()
            .map(|e| (e.pod, e.kind, e.reason, e.message))
            .collect();
        assert!(
            recorded.contains(&(
                "default/web".into(),
                EventType::Warning,
                "Unhealthy".into(),
                "Liveness probe failed: boom".into()
            )),
            "{recorded:?}"
        );
        assert!(
            recorded.contains(&(
                "default/web".into(),
                EventType::Warning,
                "ProbeWarning".into(),
                "Readiness probe warning: redirected".into()
            )),
            "{recorded:?}"
        );
        probes.remove_pod("uid-1");
        assert_eq!(probes.results("uid-1"), ProbeResults::new());
    }

    #[test]
    fn validate_names_the_probe_and_the_field() {
        let manager = ProbeManager::new(Arc::new(FakeRuntime::new()));
        let bad = Container {
            name: "web".into(),
            ports: Some(vec![ContainerPort {
                name: Some("http".into()),
                container_port: 8080,
                ..Default::default()
            }]),
            readiness_probe: Some(Probe {
                http_get: Some(HTTPGetAction {
                    port: IntOrString::String("htttp".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pod = pod(vec![bad.clone()]);
        let error = PodProbes::validate(&manager, &pod, &bad).unwrap_err();
        assert!(
            matches!(&error, SeamError::Failed(source) if source.is::<probes::Error>()),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("invalid readiness probe")
                && message.contains("spec.containers[0].readinessProbe.httpGet.port"),
            "{message}"
        );
        let good = Container {
            name: "web".into(),
            liveness_probe: Some(exec_probe()),
            ..Default::default()
        };
        assert!(PodProbes::validate(&manager, &pod, &good).is_ok());
    }

    #[tokio::test]
    async fn a_result_change_wakes_nothing_once_the_workers_are_gone() {
        let runtime = Arc::new(FakeRuntime::new());
        let manager = ProbeManager::new(runtime.clone());
        let workers = Arc::new(PodWorkers::new(
            crate::worker::PodHost::new(runtime.clone(), runtime),
            crate::worker::WorkerConfig::default(),
        ));
        let task = spawn_wake(&manager, &workers);
        drop(workers);
        manager.results().set(
            "uid-1",
            "app",
            "a1",
            probes::ProbeKind::Readiness,
            ProbeResult::Success,
        );
        tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("the wake task ends once the workers are dropped")
            .unwrap();
    }
}
