//! Shared helpers of the probes tests: pods, statuses and a scripted handler.

#![allow(dead_code)] // Each test file uses a different part.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus,
    ExecAction, Pod, PodSpec, PodStatus, Probe,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use probes::{Error, ProbeHandler, ProbeOutcome, ProbeTarget};
use tokio::time::Instant;

pub const UID: &str = "uid-1";

/// A pod `default/demo` (uid [`UID`]) with these containers.
pub fn pod(containers: Vec<Container>) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = Some("demo".into());
    pod.metadata.namespace = Some("default".into());
    pod.metadata.uid = Some(UID.into());
    pod.spec = Some(PodSpec {
        containers,
        ..Default::default()
    });
    pod
}

/// A probe with a placeholder exec handler (the tests inject their own handlers).
pub fn probe() -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(vec!["true".into()]),
        }),
        ..Default::default()
    }
}

/// A container named `name`.
pub fn container(name: &str) -> Container {
    Container {
        name: name.into(),
        image: Some("localhost/busybox:1".into()),
        ..Default::default()
    }
}

/// The status of `name` running as `containerd://<id>` since `started_at`.
pub fn running(name: &str, id: &str, started_at: Timestamp) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        container_id: Some(format!("containerd://{id}")),
        state: Some(ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(Time(started_at)),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The status of `name` exited as `containerd://<id>`.
pub fn terminated(name: &str, id: &str, exit_code: i32) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        container_id: Some(format!("containerd://{id}")),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A Running pod status at 127.0.0.1 with these containers.
pub fn status(containers: Vec<ContainerStatus>) -> PodStatus {
    PodStatus {
        phase: Some("Running".into()),
        pod_ip: Some("127.0.0.1".into()),
        container_statuses: Some(containers),
        ..Default::default()
    }
}

/// What a [`Scripted`] handler answers.
#[derive(Debug, Clone)]
pub enum Step {
    Success,
    Failure(&'static str),
    Warning(&'static str),
    Error,
}

/// A handler that answers from a script (then repeats its last step) and records when it
/// ran and on which container.
#[derive(Debug, Default)]
pub struct Scripted {
    script: Mutex<VecDeque<Step>>,
    last: Mutex<Option<Step>>,
    calls: Mutex<Vec<(Instant, String)>>,
}

impl Scripted {
    pub fn new(steps: &[Step]) -> Arc<Self> {
        Arc::new(Scripted {
            script: Mutex::new(steps.iter().cloned().collect()),
            ..Default::default()
        })
    }

    pub fn always(step: Step) -> Arc<Self> {
        Self::new(&[step])
    }

    /// Replace the rest of the script.
    pub fn set(&self, steps: &[Step]) {
        *self.script.lock().unwrap() = steps.iter().cloned().collect();
        *self.last.lock().unwrap() = None;
    }

    /// When each run happened, relative to `since`.
    pub fn times(&self, since: Instant) -> Vec<Duration> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.duration_since(since))
            .collect()
    }

    pub fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    pub fn container_ids(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(_, id)| id.clone())
            .collect()
    }
}

#[async_trait]
impl ProbeHandler for Scripted {
    async fn probe(&self, target: &ProbeTarget) -> probes::Result<ProbeOutcome> {
        self.calls
            .lock()
            .unwrap()
            .push((Instant::now(), target.container_id.clone()));
        let step = {
            let mut script = self.script.lock().unwrap();
            let mut last = self.last.lock().unwrap();
            match script.pop_front() {
                Some(step) => {
                    *last = Some(step.clone());
                    step
                }
                None => last.clone().unwrap_or(Step::Success),
            }
        };
        match step {
            Step::Success => Ok(ProbeOutcome::success("ok")),
            Step::Failure(out) => Ok(ProbeOutcome::failure(out)),
            Step::Warning(out) => Ok(ProbeOutcome::warning(out)),
            Step::Error => Err(Error::InvalidTarget {
                probe: "scripted",
                target: target.container_id.clone(),
                problem: "scripted error".into(),
            }),
        }
    }
}

/// Let spawned tasks run without moving paused time.
pub async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}
