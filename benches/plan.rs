//! `plan` for one pod: `compute_pod_actions` and `generate_pod_status` for a running pod of
//! 10 containers (the steady state every resync and PLEG event hits), pure CPU, no runtime.
#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::plan::{
    self, Backoff, ContainerState, ContainerStatus, PodRuntimeStatus, ProbeResults, SandboxState,
    SandboxStatus, StatusInput,
};

fn pod() -> Pod {
    let containers = (0..10)
        .map(|i| Container {
            name: format!("c{i}"),
            image: Some("localhost/busybox:1".into()),
            command: Some(vec!["sleep".into(), "3600".into()]),
            ..Default::default()
        })
        .collect();
    Pod {
        metadata: ObjectMeta {
            name: Some("bench".into()),
            namespace: Some("default".into()),
            uid: Some("bench-uid".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn running(pod: &Pod, now: Timestamp) -> PodRuntimeStatus {
    let containers = pod
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| ContainerStatus {
            id: format!("{i:064x}"),
            name: c.name.clone(),
            state: ContainerState::Running,
            created_at: now,
            started_at: Some(now),
            finished_at: None,
            exit_code: 0,
            reason: String::new(),
            message: String::new(),
            image: "localhost/busybox:1".into(),
            image_ref: "sha256:0".into(),
            hash: Some(plan::container_hash(c)),
            restart_count: 0,
        })
        .collect();
    let mut view = PodRuntimeStatus {
        uid: "bench-uid".into(),
        sandboxes: vec![SandboxStatus {
            id: "s".repeat(64),
            attempt: 0,
            state: SandboxState::Ready,
            created_at: now,
            ips: vec!["10.88.0.2".into()],
            host_network: false,
        }],
        containers,
    };
    view.sort();
    view
}

fn bench(c: &mut Criterion) {
    let pod = pod();
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let view = running(&pod, now);
    let probes = ProbeResults::new();
    let backoff = Backoff::container();
    let previous = plan::generate_pod_status(&StatusInput::new(&pod, &view, now));

    let mut group = c.benchmark_group("plan_10_containers");
    group.bench_function("compute_pod_actions", |b| {
        b.iter(|| {
            plan::compute_pod_actions(black_box(&pod), black_box(&view), &probes, &backoff, now)
        })
    });
    group.bench_function("generate_pod_status", |b| {
        b.iter(|| {
            let input = StatusInput::new(black_box(&pod), black_box(&view), now)
                .with_previous(Some(&previous));
            plan::generate_pod_status(&input)
        })
    });
    group.bench_function("actions_and_status", |b| {
        b.iter(|| {
            let actions = plan::compute_pod_actions(
                black_box(&pod),
                black_box(&view),
                &probes,
                &backoff,
                now,
            );
            let input = StatusInput::new(&pod, &view, now).with_previous(Some(&previous));
            (actions, plan::generate_pod_status(&input))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);
