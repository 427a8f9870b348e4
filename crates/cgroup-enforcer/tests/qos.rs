//! QoS class (reference §5.1; checklist QS-01, QS-02, QS-03).

mod common;

use cgroup_enforcer::{QosClass, compute_pod_qos, pod_qos};
use common::*;
use k8s_openapi::api::core::v1::{PodStatus, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

#[test]
fn qs_01_best_effort() {
    assert_eq!(compute_pod_qos(&best_effort("u")), QosClass::BestEffort);
    let p = pod(
        "p",
        "u",
        vec![container(
            "app",
            &[("ephemeral-storage", "1Gi")],
            &[("ephemeral-storage", "2Gi")],
        )],
    );
    assert_eq!(compute_pod_qos(&p), QosClass::BestEffort);
    // Zero quantities count as nothing.
    let p = pod("p", "u", vec![container("app", &[("cpu", "0")], &[])]);
    assert_eq!(compute_pod_qos(&p), QosClass::BestEffort);
}

#[test]
fn qs_02_guaranteed_needs_cpu_and_memory_limits() {
    // Limits only: requests default to them.
    assert_eq!(
        compute_pod_qos(&guaranteed("u", "1", "1Gi")),
        QosClass::Guaranteed
    );
    // Equal in different spellings.
    let p = pod(
        "p",
        "u",
        vec![container(
            "app",
            &[("cpu", "1"), ("memory", "128Mi")],
            &[("cpu", "1000m"), ("memory", "134217728")],
        )],
    );
    assert_eq!(compute_pod_qos(&p), QosClass::Guaranteed);
    // Memory equal, cpu unset → Burstable.
    let p = pod(
        "p",
        "u",
        vec![container("app", &[("memory", "1Gi")], &[("memory", "1Gi")])],
    );
    assert_eq!(compute_pod_qos(&p), QosClass::Burstable);
    // Requests below limits → Burstable.
    let p = pod(
        "p",
        "u",
        vec![container(
            "app",
            &[("cpu", "500m"), ("memory", "1Gi")],
            &[("cpu", "1"), ("memory", "1Gi")],
        )],
    );
    assert_eq!(compute_pod_qos(&p), QosClass::Burstable);
}

#[test]
fn qs_03_mixed_containers_and_init_containers() {
    let p = pod(
        "p",
        "u",
        vec![
            container("a", &[], &[("cpu", "1"), ("memory", "1Gi")]),
            container("b", &[], &[]),
        ],
    );
    assert_eq!(compute_pod_qos(&p), QosClass::Burstable);
    // An init container with a request makes an otherwise empty pod Burstable.
    let p = with_init(
        best_effort("u"),
        vec![container("init", &[("cpu", "100m")], &[])],
    );
    assert_eq!(compute_pod_qos(&p), QosClass::Burstable);
    // An empty init container makes a Guaranteed pod Burstable; a Guaranteed one keeps it.
    let p = with_init(
        guaranteed("u", "1", "1Gi"),
        vec![container("init", &[], &[])],
    );
    assert_eq!(compute_pod_qos(&p), QosClass::Burstable);
    let p = with_init(
        guaranteed("u", "1", "1Gi"),
        vec![container("init", &[], &[("cpu", "2"), ("memory", "2Gi")])],
    );
    assert_eq!(compute_pod_qos(&p), QosClass::Guaranteed);
}

#[test]
fn status_class_wins_and_pod_level_resources_decide() {
    let mut p = best_effort("u");
    p.status = Some(PodStatus {
        qos_class: Some("Burstable".into()),
        ..Default::default()
    });
    assert_eq!(pod_qos(&p), QosClass::Burstable);
    p.status.as_mut().unwrap().qos_class = Some("Bogus".into());
    assert_eq!(pod_qos(&p), QosClass::BestEffort);

    let mut p = best_effort("u");
    p.spec.as_mut().unwrap().resources = Some(ResourceRequirements {
        limits: Some(
            [
                ("cpu".to_string(), Quantity("2".into())),
                ("memory".to_string(), Quantity("1Gi".into())),
            ]
            .into(),
        ),
        ..Default::default()
    });
    assert_eq!(compute_pod_qos(&p), QosClass::Guaranteed);
    assert_eq!(QosClass::Burstable.cgroup_dir(), Some("burstable"));
    assert_eq!("BestEffort".parse::<QosClass>(), Ok(QosClass::BestEffort));
}
