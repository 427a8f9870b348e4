use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, Pod, PodSpec, ResourceRequirements, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;

use super::*;
use crate::{PodRuntimeStatus, StatusInput, generate_failed_pod_status};

const MI: i64 = 1 << 20;
const GI: i64 = 1 << 30;

fn t(secs: u64) -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap() + Duration::from_secs(secs)
}

fn resources(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> ResourceRequirements {
    let map = |l: &[(&str, &str)]| {
        (!l.is_empty()).then(|| {
            l.iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect::<BTreeMap<_, _>>()
        })
    };
    ResourceRequirements {
        requests: map(requests),
        limits: map(limits),
        ..Default::default()
    }
}

fn pod(uid: &str, containers: Vec<Container>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("pod-{uid}")),
            namespace: Some("default".into()),
            uid: Some(uid.into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container(name: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
    Container {
        name: name.into(),
        resources: Some(resources(requests, limits)),
        ..Default::default()
    }
}

fn memory_usage(uid: &str, container: &str, bytes: u64) -> PodUsage {
    PodUsage {
        uid: uid.into(),
        namespace: "default".into(),
        name: format!("pod-{uid}"),
        containers: vec![ContainerUsage {
            name: container.into(),
            memory_working_set: Some(bytes),
            ..Default::default()
        }],
        memory_working_set: Some(bytes),
        ..Default::default()
    }
}

fn memory_obs(at: Timestamp, available: i64) -> Observations {
    Observations {
        node: NodeObservations {
            time: Some(at),
            memory: Some(Available {
                available,
                capacity: 8 * GI,
            }),
            ..Default::default()
        },
        pods: vec![],
    }
}

#[test]
fn quantities_are_written_as_the_api_writes_them() {
    assert_eq!(format_binary_si(100 * MI), "100Mi");
    assert_eq!(format_binary_si(80 * MI), "80Mi");
    assert_eq!(format_binary_si(GI), "1Gi");
    assert_eq!(format_binary_si(1536 * 1024), "1536Ki");
    assert_eq!(format_binary_si(GI + 1), "1073741825");
    assert_eq!(format_binary_si(1000), "1k");
    assert_eq!(format_binary_si(0), "0");
    assert_eq!(format_binary_si(-GI), "-1Gi");
    assert_eq!(format_decimal_si(5000), "5k");
    assert_eq!(format_decimal_si(1500), "1500");
    assert_eq!(format_decimal_si(32768), "32768");
    assert_eq!(
        format_threshold_quantity(ThresholdValue::Quantity(100 * MI), 0),
        "100Mi"
    );
    assert_eq!(
        format_threshold_quantity(ThresholdValue::Quantity(500_000_000), 0),
        "500M"
    );
}

#[test]
fn ev_07_eviction_message_names_the_threshold_and_the_containers() {
    let p = pod("a", vec![container("app", &[("memory", "500Mi")], &[])]);
    let usage = memory_usage("a", "app", GI as u64);
    let met = [ThresholdMet {
        threshold: Threshold {
            signal: EvictionSignal::MemoryAvailable,
            value: ThresholdValue::Quantity(100 * MI),
            grace_period: Duration::ZERO,
            min_reclaim: None,
        },
        quantity: 100 * MI,
        available: 80 * MI,
        capacity: 8 * GI,
    }];
    let m = eviction_message(StarvedResource::Memory, &p, Some(&usage), &met);
    assert_eq!(
        m.message,
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 80Mi. \
         Container app was using 1Gi, request is 500Mi, has larger consumption of memory. "
    );
    assert_eq!(m.annotations[OFFENDING_CONTAINERS_KEY], "app");
    assert_eq!(m.annotations[OFFENDING_CONTAINERS_USAGE_KEY], "1Gi");
    assert_eq!(m.annotations[STARVED_RESOURCE_KEY], "memory");

    // No request: "request is 0"; under the request: not named.
    let be = pod("b", vec![container("app", &[], &[])]);
    let m = eviction_message(
        StarvedResource::Memory,
        &be,
        Some(&memory_usage("b", "app", 3 * MI as u64)),
        &met,
    );
    assert!(
        m.message.ends_with(
            "Container app was using 3Mi, request is 0, has larger consumption of memory. "
        ),
        "{}",
        m.message
    );
    let m = eviction_message(
        StarvedResource::Memory,
        &p,
        Some(&memory_usage("a", "app", 10 * MI as u64)),
        &met,
    );
    assert_eq!(m.annotations[OFFENDING_CONTAINERS_KEY], "");

    // No stats: the node part only, no annotations.
    let m = eviction_message(StarvedResource::Memory, &p, None, &met);
    assert_eq!(
        m.message,
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 80Mi. "
    );
    assert!(m.annotations.is_empty());

    // A percentage threshold of a disk signal, usage = writable layer + logs.
    let disk = [ThresholdMet {
        threshold: Threshold {
            signal: EvictionSignal::NodefsAvailable,
            value: ThresholdValue::Percentage(0.1),
            grace_period: Duration::ZERO,
            min_reclaim: None,
        },
        quantity: 0,
        available: 5 * GI,
        capacity: 100 * GI,
    }];
    let mut usage = PodUsage {
        uid: "a".into(),
        ..Default::default()
    };
    usage.containers.push(ContainerUsage {
        name: "app".into(),
        rootfs_bytes: Some(GI as u64),
        logs_bytes: Some(GI as u64),
        ..Default::default()
    });
    let m = eviction_message(StarvedResource::EphemeralStorage, &p, Some(&usage), &disk);
    assert_eq!(
        m.message,
        "The node was low on resource: ephemeral-storage. Threshold quantity: 10737418400, \
         available: 5Gi. Container app was using 2Gi, request is 0, has larger consumption of \
         ephemeral-storage. "
    );
}

#[test]
fn ev_07_evicted_status_is_failed_with_disruption_target() {
    let p = pod("a", vec![container("app", &[], &[])]);
    let message = "The node was low on resource: memory. ";
    let failure = evicted_failure(message);
    let status = generate_failed_pod_status(
        &StatusInput::new(&p, &PodRuntimeStatus::default(), t(0)),
        &failure,
    );
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("Evicted"));
    assert_eq!(status.message.as_deref(), Some(message));
    let dt = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("a DisruptionTarget condition");
    assert_eq!(dt.status, "True");
    assert_eq!(dt.reason.as_deref(), Some("TerminationByKubelet"));
    assert_eq!(dt.message.as_deref(), Some(message));
    assert!(dt.last_transition_time.is_some());
    // A status generated on top of it keeps the condition.
    let again = generate_failed_pod_status(
        &StatusInput::new(&p, &PodRuntimeStatus::default(), t(5)).with_previous(Some(&status)),
        &failure,
    );
    assert!(!crate::status_changed(&status, &again));
}

#[test]
fn ev_11_admission_under_pressure() {
    let best_effort = pod("be", vec![container("app", &[], &[])]);
    let burstable = pod("bu", vec![container("app", &[("memory", "10Mi")], &[])]);
    let mut tolerating = best_effort.clone();
    tolerating.spec.as_mut().unwrap().tolerations = Some(vec![Toleration {
        key: Some(TAINT_NODE_MEMORY_PRESSURE.into()),
        operator: Some("Exists".into()),
        effect: Some("NoSchedule".into()),
        ..Default::default()
    }]);
    let mut critical = best_effort.clone();
    critical.spec.as_mut().unwrap().priority = Some(SYSTEM_CRITICAL_PRIORITY);

    let memory = NodePressure {
        memory: true,
        ..Default::default()
    };
    assert!(admission_failure(&best_effort, NodePressure::default()).is_none());
    let refused = admission_failure(&best_effort, memory).unwrap();
    assert_eq!(refused.reason, "Evicted");
    assert_eq!(
        refused.message,
        "Pod was rejected: The node had condition: [MemoryPressure]. "
    );
    assert!(admission_failure(&burstable, memory).is_none());
    assert!(admission_failure(&tolerating, memory).is_none());
    assert!(admission_failure(&critical, memory).is_none());

    let disk = NodePressure {
        disk: true,
        ..Default::default()
    };
    let refused = admission_failure(&burstable, disk).unwrap();
    assert_eq!(
        refused.message,
        "Pod was rejected: The node had condition: [DiskPressure]. "
    );
    assert!(admission_failure(&tolerating, disk).is_some());
    assert!(admission_failure(&critical, disk).is_none());
    let both = NodePressure {
        memory: true,
        pid: true,
        disk: false,
    };
    assert_eq!(
        admission_failure(&burstable, both).unwrap().message,
        "Pod was rejected: The node had condition: [MemoryPressure PIDPressure]. "
    );
}

#[test]
fn ev_13_local_storage_messages() {
    let node = |dedicated| NodeObservations {
        dedicated_imagefs: dedicated,
        ..Default::default()
    };
    // A container over its limit: logs + writable layer.
    let p = pod(
        "c",
        vec![container("c", &[], &[("ephemeral-storage", "500Mi")])],
    );
    let usage = PodUsage {
        uid: "c".into(),
        containers: vec![ContainerUsage {
            name: "c".into(),
            logs_bytes: Some(300 * MI as u64),
            rootfs_bytes: Some(300 * MI as u64),
            ..Default::default()
        }],
        ephemeral_storage_bytes: Some(400 * MI as u64),
        ..Default::default()
    };
    let obs = Observations {
        node: node(false),
        pods: vec![usage.clone()],
    };
    let out = local_storage_evictions(&[&p], &obs);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].message,
        "Container c exceeded its local ephemeral storage limit \"500Mi\". "
    );
    assert_eq!(out[0].signal, SIGNAL_EPHEMERAL_CONTAINER_FS_LIMIT);
    // With a dedicated image filesystem the writable layer does not count.
    let obs = Observations {
        node: node(true),
        pods: vec![usage.clone()],
    };
    assert!(local_storage_evictions(&[&p], &obs).is_empty());

    // The pod over the sum of its containers' limits.
    let mut big = usage.clone();
    big.ephemeral_storage_bytes = Some(GI as u64);
    let obs = Observations {
        node: node(true),
        pods: vec![big],
    };
    let out = local_storage_evictions(&[&p], &obs);
    assert_eq!(
        out[0].message,
        "Pod ephemeral local storage usage exceeds the total limit of containers 500Mi. "
    );
    assert_eq!(out[0].signal, SIGNAL_EPHEMERAL_POD_FS_LIMIT);

    // An emptyDir over its sizeLimit comes first.
    let mut e = pod("e", vec![container("app", &[], &[])]);
    e.spec.as_mut().unwrap().volumes = Some(vec![Volume {
        name: "data".into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity("1Gi".into())),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    let obs = Observations {
        node: node(false),
        pods: vec![PodUsage {
            uid: "e".into(),
            volumes: vec![("data".into(), 2 * GI as u64)],
            ..Default::default()
        }],
    };
    let out = local_storage_evictions(&[&e, &p], &obs);
    assert_eq!(out.len(), 1, "the pod without stats is skipped");
    assert_eq!(
        out[0].message,
        "Usage of EmptyDir volume \"data\" exceeds the limit \"1Gi\". "
    );
    assert_eq!(local_storage_failure(&out[0].message).condition, None);
}

#[test]
fn ev_05_memory_pressure_and_what_to_reclaim() {
    let config = EvictionConfig::default();
    let mut state = EvictionState::new();
    let step = state.observe(&config, t(0), &memory_obs(t(0), 80 * MI));
    assert_eq!(
        step.pressure,
        NodePressure {
            memory: true,
            ..Default::default()
        }
    );
    let reclaim = step.reclaim.unwrap();
    assert_eq!(reclaim.resource, StarvedResource::Memory);
    assert_eq!(reclaim.signal(), EvictionSignal::MemoryAvailable);
    assert!(reclaim.is_hard());
    assert!(reclaim.node_reclaim.is_empty());
    assert_eq!(step.met[0].available, 80 * MI);
    assert_eq!(step.met[0].quantity, 100 * MI);

    // Above the threshold: nothing met, nothing to reclaim.
    let mut fresh = EvictionState::new();
    let step = fresh.observe(&config, t(0), &memory_obs(t(0), GI));
    assert!(step.met.is_empty() && step.reclaim.is_none() && !step.pressure.any());
}

#[test]
fn ev_10_memory_pressure_stays_for_the_transition_period() {
    let config = EvictionConfig::default();
    let mut state = EvictionState::new();
    assert!(
        state
            .observe(&config, t(0), &memory_obs(t(0), 50 * MI))
            .pressure
            .memory
    );
    for secs in [10, 60, 299] {
        let step = state.observe(&config, t(secs), &memory_obs(t(secs), GI));
        assert!(step.pressure.memory, "still True after {secs}s");
        assert!(step.reclaim.is_none(), "nothing to reclaim after {secs}s");
    }
    let step = state.observe(&config, t(300), &memory_obs(t(300), GI));
    assert!(
        !step.pressure.memory,
        "False 5m after the last time it was met"
    );
    assert!(!state.pressure().memory);
}

#[test]
fn soft_thresholds_wait_for_their_grace_period() {
    let mut config = EvictionConfig::default();
    config.soft.insert(
        EvictionSignal::MemoryAvailable,
        ThresholdValue::Quantity(GI),
    );
    config
        .soft_grace_period
        .insert(EvictionSignal::MemoryAvailable, Duration::from_secs(90));
    config.max_pod_grace_period_seconds = 20;
    config.validate().unwrap();
    let mut state = EvictionState::new();
    let step = state.observe(&config, t(0), &memory_obs(t(0), 500 * MI));
    assert!(step.pressure.memory, "the condition does not wait");
    assert!(
        step.reclaim.is_none(),
        "eviction waits for the grace period"
    );
    let step = state.observe(&config, t(89), &memory_obs(t(89), 500 * MI));
    assert!(step.reclaim.is_none());
    let step = state.observe(&config, t(90), &memory_obs(t(90), 500 * MI));
    let reclaim = step.reclaim.unwrap();
    assert!(!reclaim.is_hard());
    // Soft: min(evictionMaxPodGracePeriod, TGPS).
    let mut p = pod("a", vec![]);
    assert_eq!(config.eviction_grace_seconds(false, &p), 20);
    p.spec.as_mut().unwrap().termination_grace_period_seconds = Some(5);
    assert_eq!(config.eviction_grace_seconds(false, &p), 5);
    assert_eq!(config.eviction_grace_seconds(true, &p), 1);

    // Recovering resets the grace period.
    let step = state.observe(&config, t(100), &memory_obs(t(100), 2 * GI));
    assert!(step.reclaim.is_none());
    let step = state.observe(&config, t(110), &memory_obs(t(110), 500 * MI));
    assert!(step.reclaim.is_none(), "first observed again at 110");
}

#[test]
fn a_soft_threshold_needs_a_grace_period() {
    let mut config = EvictionConfig::default();
    config.soft.insert(
        EvictionSignal::NodefsAvailable,
        ThresholdValue::Percentage(0.2),
    );
    assert_eq!(
        config.validate().unwrap_err().to_string(),
        "evictionSoftGracePeriod.nodefs.available: grace period must be specified for the soft \
         eviction threshold nodefs.available"
    );
}

#[test]
fn minimum_reclaim_keeps_a_threshold_met() {
    let mut config = EvictionConfig::default();
    config.minimum_reclaim.insert(
        EvictionSignal::MemoryAvailable,
        ThresholdValue::Quantity(500 * MI),
    );
    let mut state = EvictionState::new();
    assert!(
        state
            .observe(&config, t(0), &memory_obs(t(0), 50 * MI))
            .reclaim
            .is_some()
    );
    // Above the threshold, below threshold + minimum reclaim: still met.
    let step = state.observe(&config, t(10), &memory_obs(t(10), 300 * MI));
    assert!(step.reclaim.is_some());
    assert!(!resolved_after_reclaim(
        &config,
        &memory_obs(t(10), 300 * MI)
    ));
    // Reclaimed: resolved.
    let step = state.observe(&config, t(20), &memory_obs(t(20), 600 * MI));
    assert!(step.reclaim.is_none());
    assert!(resolved_after_reclaim(
        &config,
        &memory_obs(t(20), 600 * MI)
    ));
    // Not met before: the minimum reclaim does not apply.
    let mut fresh = EvictionState::new();
    assert!(
        fresh
            .observe(&config, t(0), &memory_obs(t(0), 300 * MI))
            .reclaim
            .is_none()
    );
}

#[test]
fn stats_not_newer_than_the_last_sync_are_not_acted_on() {
    let config = EvictionConfig::default();
    let mut state = EvictionState::new();
    assert!(
        state
            .observe(&config, t(0), &memory_obs(t(0), 50 * MI))
            .reclaim
            .is_some()
    );
    let step = state.observe(&config, t(10), &memory_obs(t(0), 50 * MI));
    assert!(step.stale && step.reclaim.is_none());
    assert!(step.pressure.memory);
    let step = state.observe(&config, t(20), &memory_obs(t(20), 50 * MI));
    assert!(step.reclaim.is_some());
}

#[test]
fn ev_14_pid_pressure() {
    let mut config = EvictionConfig::default();
    config.hard.insert(
        EvictionSignal::PidAvailable,
        ThresholdValue::Percentage(0.1),
    );
    let mut state = EvictionState::new();
    let obs = Observations {
        node: NodeObservations {
            time: Some(t(0)),
            pid: Some(Available {
                available: 100,
                capacity: 32768,
            }),
            ..Default::default()
        },
        pods: vec![],
    };
    let step = state.observe(&config, t(0), &obs);
    assert_eq!(
        step.pressure,
        NodePressure {
            pid: true,
            ..Default::default()
        }
    );
    assert_eq!(step.reclaim.unwrap().resource, StarvedResource::Pids);
}

#[test]
fn ev_12_disk_pressure_reclaims_containers_then_images() {
    let config = EvictionConfig::default();
    let fs = |available| FsObservation {
        bytes: Available {
            available,
            capacity: 100 * GI,
        },
        inodes: None,
    };
    for dedicated in [false, true] {
        let mut state = EvictionState::new();
        let obs = Observations {
            node: NodeObservations {
                time: Some(t(0)),
                nodefs: Some(fs(if dedicated { 50 * GI } else { 5 * GI })),
                imagefs: Some(fs(5 * GI)),
                dedicated_imagefs: dedicated,
                ..Default::default()
            },
            pods: vec![],
        };
        let step = state.observe(&config, t(0), &obs);
        assert!(step.pressure.disk);
        let reclaim = step.reclaim.unwrap();
        assert_eq!(reclaim.resource, StarvedResource::EphemeralStorage);
        assert_eq!(
            reclaim.node_reclaim,
            [
                NodeReclaimAction::DeleteUnusedContainers,
                NodeReclaimAction::DeleteUnusedImages
            ]
        );
    }
    assert!(node_reclaim(EvictionSignal::NodefsAvailable, true).is_empty());
}

#[test]
fn memory_comes_first_among_met_thresholds() {
    let config = EvictionConfig::default();
    let mut state = EvictionState::new();
    let mut obs = memory_obs(t(0), 10 * MI);
    obs.node.nodefs = Some(FsObservation {
        bytes: Available {
            available: GI,
            capacity: 100 * GI,
        },
        inodes: None,
    });
    let step = state.observe(&config, t(0), &obs);
    assert!(step.pressure.memory && step.pressure.disk);
    assert_eq!(step.reclaim.unwrap().resource, StarvedResource::Memory);
}

#[test]
fn allocatable_memory_and_containerfs_thresholds() {
    let config = EvictionConfig::default();
    let th = config.thresholds(false);
    let alloc = th
        .iter()
        .find(|t| t.signal == EvictionSignal::AllocatableMemoryAvailable)
        .unwrap();
    assert_eq!(alloc.value, ThresholdValue::Quantity(100 * MI));
    let cfs = th
        .iter()
        .find(|t| t.signal == EvictionSignal::ContainerfsAvailable)
        .unwrap();
    assert_eq!(cfs.value, ThresholdValue::Percentage(0.10));
    let th = config.thresholds(true);
    let cfs = th
        .iter()
        .find(|t| t.signal == EvictionSignal::ContainerfsAvailable)
        .unwrap();
    assert_eq!(cfs.value, ThresholdValue::Percentage(0.15));
}

fn with_priority(mut p: Pod, priority: i32) -> Pod {
    p.spec.as_mut().unwrap().priority = Some(priority);
    p
}

#[test]
fn ev_06_memory_ranking() {
    // BestEffort using 100Mi (over its 0 request), Burstable over its request by 50Mi,
    // Burstable under its request, Guaranteed under its request.
    let be = pod("be", vec![container("app", &[], &[])]);
    let over = pod("over", vec![container("app", &[("memory", "100Mi")], &[])]);
    let under = pod("under", vec![container("app", &[("memory", "1Gi")], &[])]);
    let guaranteed = pod(
        "g",
        vec![container(
            "app",
            &[("memory", "1Gi"), ("cpu", "1")],
            &[("memory", "1Gi"), ("cpu", "1")],
        )],
    );
    let usage = vec![
        memory_usage("be", "app", 100 * MI as u64),
        memory_usage("over", "app", 150 * MI as u64),
        memory_usage("under", "app", 900 * MI as u64),
        memory_usage("g", "app", 200 * MI as u64),
    ];
    let pods = [&guaranteed, &under, &over, &be];
    let ranked: Vec<&str> = rank_pods(EvictionSignal::MemoryAvailable, false, &pods, &usage)
        .iter()
        .map(|p| p.metadata.uid.as_deref().unwrap())
        .collect();
    // Both over their request first, larger usage − request first (be: 100Mi, over: 50Mi);
    // then the ones under it: under (−124Mi) before g (−824Mi).
    assert_eq!(ranked, ["be", "over", "under", "g"]);

    // Priority comes before usage among pods over their request.
    let high = with_priority(be.clone(), 1000);
    let pods = [&high, &over];
    let ranked = rank_pods(EvictionSignal::MemoryAvailable, false, &pods, &usage);
    assert_eq!(ranked[0].metadata.uid.as_deref(), Some("over"));

    // A pod without stats goes first.
    let nostats = pod("nostats", vec![container("app", &[], &[])]);
    let pods = [&be, &nostats];
    let ranked = rank_pods(EvictionSignal::MemoryAvailable, false, &pods, &usage);
    assert_eq!(ranked[0].metadata.uid.as_deref(), Some("nostats"));
}

#[test]
fn pid_and_disk_ranking() {
    let a = pod("a", vec![container("app", &[], &[])]);
    let b = pod(
        "b",
        vec![container("app", &[("ephemeral-storage", "10Gi")], &[])],
    );
    let usage = vec![
        PodUsage {
            uid: "a".into(),
            process_count: Some(10),
            containers: vec![ContainerUsage {
                name: "app".into(),
                rootfs_bytes: Some(MI as u64),
                ..Default::default()
            }],
            ..Default::default()
        },
        PodUsage {
            uid: "b".into(),
            process_count: Some(500),
            containers: vec![ContainerUsage {
                name: "app".into(),
                rootfs_bytes: Some(5 * GI as u64),
                ..Default::default()
            }],
            ..Default::default()
        },
    ];
    let pods = [&a, &b];
    let pid = rank_pods(EvictionSignal::PidAvailable, false, &pods, &usage);
    assert_eq!(pid[0].metadata.uid.as_deref(), Some("b"));
    // b uses more but stays under its request: a goes first.
    let disk = rank_pods(EvictionSignal::NodefsAvailable, false, &pods, &usage);
    assert_eq!(disk[0].metadata.uid.as_deref(), Some("a"));
    // With a dedicated imagefs, nodefs does not count writable layers.
    assert_eq!(
        pod_disk_usage(
            &a,
            &usage[0],
            DiskMeasure::for_signal(EvictionSignal::NodefsAvailable, true)
        ),
        0
    );
}

#[test]
fn ev_09_critical_pods() {
    let mut static_pod = pod("s", vec![]);
    static_pod.metadata.annotations = Some(BTreeMap::from([(
        "kubernetes.io/config.source".to_string(),
        "file".to_string(),
    )]));
    let mut api_pod = static_pod.clone();
    api_pod.metadata.annotations = Some(BTreeMap::from([(
        "kubernetes.io/config.source".to_string(),
        "api".to_string(),
    )]));
    let mut mirror = pod("m", vec![]);
    mirror.metadata.annotations = Some(BTreeMap::from([(
        "kubernetes.io/config.mirror".to_string(),
        "abc".to_string(),
    )]));
    let critical = with_priority(pod("c", vec![]), 2_000_001_000);
    assert!(is_critical_pod(&static_pod));
    assert!(!is_critical_pod(&api_pod));
    assert!(is_critical_pod(&mirror));
    assert!(is_critical_pod(&critical));
    assert!(!is_critical_pod(&with_priority(
        pod("n", vec![]),
        1_999_999_999
    )));
}

fn arb_pod() -> impl Strategy<Value = (Pod, PodUsage)> {
    (
        0u32..1000,
        prop::option::of(0u64..(4 << 30)),
        0u64..(2 << 30),
        -5i32..5,
        any::<bool>(),
        prop::option::of(0u64..1000),
    )
        .prop_map(|(id, used, request, priority, critical, procs)| {
            let uid = format!("u{id}");
            let req = format!("{request}");
            let mut p = pod(&uid, vec![container("app", &[("memory", &req)], &[])]);
            p.spec.as_mut().unwrap().priority = Some(if critical {
                SYSTEM_CRITICAL_PRIORITY
            } else {
                priority
            });
            let mut u = memory_usage(&uid, "app", used.unwrap_or(0));
            u.memory_working_set = used;
            u.process_count = procs;
            if used.is_none() {
                u.uid = format!("missing-{uid}");
            }
            (p, u)
        })
}

proptest! {
    #[test]
    fn met_iff_available_below_the_resolved_threshold(
        available in -(1i64 << 40)..(1i64 << 40),
        capacity in 0i64..(1i64 << 40),
        quantity in 1i64..(1i64 << 38),
        percent in 1u32..100,
        use_percent in any::<bool>(),
    ) {
        let value = if use_percent {
            ThresholdValue::Percentage(f64::from(percent) / 100.0)
        } else {
            ThresholdValue::Quantity(quantity)
        };
        let threshold = Threshold { signal: EvictionSignal::MemoryAvailable, value, grace_period: Duration::ZERO, min_reclaim: None };
        let obs = BTreeMap::from([(EvictionSignal::MemoryAvailable, SignalObservation { available, capacity, time: None })]);
        let met = !thresholds_met(&[threshold], &obs, false).is_empty();
        prop_assert_eq!(met, available < value.resolve_f32(capacity));
    }

    #[test]
    fn min_reclaim_keeps_met_until_threshold_plus_reclaim(
        first in 0i64..(100 << 20),
        later in 0i64..(2 << 30),
        reclaim in 0i64..(1 << 30),
    ) {
        let mut config = EvictionConfig { allocatable_memory_threshold: false, ..Default::default() };
        config.minimum_reclaim.insert(EvictionSignal::MemoryAvailable, ThresholdValue::Quantity(reclaim));
        let mut state = EvictionState::new();
        let step = state.observe(&config, t(0), &memory_obs(t(0), first));
        prop_assert!(step.reclaim.is_some());
        let step = state.observe(&config, t(10), &memory_obs(t(10), later));
        prop_assert_eq!(step.reclaim.is_some(), later < 100 * MI + reclaim);
    }

    #[test]
    fn ranking_is_a_total_order_independent_of_input_order(
        pods in prop::collection::vec(arb_pod(), 0..12),
        seed in any::<u64>(),
        signal in prop::sample::select(vec![EvictionSignal::MemoryAvailable, EvictionSignal::PidAvailable, EvictionSignal::NodefsAvailable]),
    ) {
        let mut seen = std::collections::BTreeSet::new();
        let pods: Vec<(Pod, PodUsage)> = pods.into_iter().filter(|(p, _)| seen.insert(p.metadata.uid.clone())).collect();
        let usage: Vec<PodUsage> = pods.iter().map(|(_, u)| u.clone()).collect();
        let refs: Vec<&Pod> = pods.iter().map(|(p, _)| p).collect();
        let mut shuffled = refs.clone();
        let mut rng = fastrand_like(seed);
        for i in (1..shuffled.len()).rev() {
            let j = (rng() % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        let a: Vec<_> = rank_pods(signal, false, &refs, &usage).iter().map(|p| p.metadata.uid.clone()).collect();
        let b: Vec<_> = rank_pods(signal, false, &shuffled, &usage).iter().map(|p| p.metadata.uid.clone()).collect();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.len(), refs.len());
        // Critical pods are never the one evicted.
        let victim = rank_pods(signal, false, &refs, &usage).into_iter().find(|p| !is_critical_pod(p));
        if let Some(v) = victim {
            prop_assert!(!is_critical_pod(v));
        } else {
            prop_assert!(refs.iter().all(|p| is_critical_pod(p)));
        }
        // Memory: a pod over its request never ranks after one under it (both with stats,
        // same priority).
        if signal == EvictionSignal::MemoryAvailable {
            let ranked = rank_pods(signal, false, &refs, &usage);
            let by_uid: std::collections::HashMap<_, _> = usage.iter().map(|u| (u.uid.clone(), u)).collect();
            let over = |p: &Pod| by_uid.get(p.metadata.uid.as_deref().unwrap()).map(|u| i128::from(u.memory_working_set.unwrap_or(0)) > i128::from(pod_request(p, "memory")));
            for w in ranked.windows(2) {
                if let (Some(a), Some(b)) = (over(w[0]), over(w[1])) {
                    prop_assert!(a || !b, "under-request pod before an over-request one");
                }
            }
        }
    }
}

/// A tiny deterministic generator (xorshift), for shuffling in proptests.
fn fastrand_like(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
