//! The pod's QoS class (`status.qosClass`): the kubelet's `GetPodQOS` / `ComputePodQOS`
//! (`pkg/apis/core/v1/helper/qos/qos.go`).
//!
//! The class decides where the pod cgroup lives (`kubepods`, `kubepods/burstable`,
//! `kubepods/besteffort`), its limits, and the containers' `oom_score_adj`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity::QuantityValue;

/// A pod's quality-of-service class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QosClass {
    /// Every container has cpu and memory limits, and requests equal to them.
    Guaranteed,
    /// At least one cpu or memory request or limit, but not Guaranteed.
    Burstable,
    /// No container has any cpu or memory request or limit.
    BestEffort,
}

impl QosClass {
    /// The lower-case name of the class's cgroup under `kubepods` (`burstable`,
    /// `besteffort`); Guaranteed pods have none and live directly in `kubepods`.
    pub fn cgroup_dir(self) -> Option<&'static str> {
        match self {
            QosClass::Guaranteed => None,
            QosClass::Burstable => Some("burstable"),
            QosClass::BestEffort => Some("besteffort"),
        }
    }

    /// The API spelling (`Guaranteed`, `Burstable`, `BestEffort`).
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

impl std::str::FromStr for QosClass {
    type Err = String;

    /// The API spelling back to the class.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Guaranteed" => Ok(QosClass::Guaranteed),
            "Burstable" => Ok(QosClass::Burstable),
            "BestEffort" => Ok(QosClass::BestEffort),
            other => Err(format!("unknown QoS class {other:?}")),
        }
    }
}

impl std::fmt::Display for QosClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pod's QoS class, like the kubelet's `GetPodQOS`: `status.qosClass` when it is
/// already set to a known class (the class is immutable once computed), otherwise
/// [`compute_pod_qos`].
pub fn pod_qos(pod: &Pod) -> QosClass {
    pod.status
        .as_ref()
        .and_then(|s| s.qos_class.as_deref())
        .and_then(|class| class.parse().ok())
        .unwrap_or_else(|| compute_pod_qos(pod))
}

/// Compute the QoS class from the spec, like the kubelet's `ComputePodQOS`.
///
/// - Pod-level `spec.resources` (PodLevelResources), when they name cpu or memory, decide
///   alone; otherwise every init and regular container counts (ephemeral containers cannot
///   have resources).
/// - Only cpu and memory count, and only quantities above zero.
/// - Requests and limits are summed over the containers; the pod is Guaranteed when every
///   container has both a cpu and a memory limit and the summed requests equal the summed
///   limits, resource by resource; BestEffort when nothing is requested or limited;
///   Burstable otherwise.
/// - A limit without a request counts as a request of the same amount, as the API server's
///   defaulting would have made it (pods from manifest files may not have been defaulted).
pub fn compute_pod_qos(pod: &Pod) -> QosClass {
    let Some(spec) = pod.spec.as_ref() else {
        return QosClass::BestEffort;
    };
    let mut requests = Totals::default();
    let mut limits = Totals::default();
    let mut guaranteed = true;

    match spec.resources.as_ref().filter(|r| names_cpu_or_memory(r)) {
        Some(pod_level) => {
            guaranteed &= add_resources(pod_level, &mut requests, &mut limits);
        }
        None => {
            for container in spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
            {
                let empty = ResourceRequirements::default();
                let resources = container.resources.as_ref().unwrap_or(&empty);
                guaranteed &= add_resources(resources, &mut requests, &mut limits);
            }
        }
    }

    if requests.0.is_empty() && limits.0.is_empty() {
        return QosClass::BestEffort;
    }
    let equal = requests
        .0
        .iter()
        .all(|(name, request)| limits.0.get(name) == Some(request));
    if guaranteed && equal && requests.0.len() == limits.0.len() {
        QosClass::Guaranteed
    } else {
        QosClass::Burstable
    }
}

/// Summed quantities in nano-units, by resource name (cpu, memory only).
#[derive(Default)]
struct Totals(BTreeMap<&'static str, i128>);

impl Totals {
    fn add(&mut self, name: &'static str, value: i128) {
        let total = self.0.entry(name).or_insert(0);
        *total = total.saturating_add(value);
    }
}

const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

fn names_cpu_or_memory(resources: &ResourceRequirements) -> bool {
    QOS_RESOURCES.iter().any(|name| {
        resources
            .requests
            .as_ref()
            .is_some_and(|r| r.contains_key(*name))
            || resources
                .limits
                .as_ref()
                .is_some_and(|l| l.contains_key(*name))
    })
}

/// Add one container's (or the pod level's) requests and limits; returns whether it has both a
/// cpu and a memory limit above zero.
fn add_resources(
    resources: &ResourceRequirements,
    requests: &mut Totals,
    limits: &mut Totals,
) -> bool {
    let mut limited = 0;
    for name in QOS_RESOURCES {
        let limit = positive(resources.limits.as_ref(), name);
        // API defaulting: a missing request defaults to the limit.
        let request = match resources.requests.as_ref().and_then(|r| r.get(name)) {
            Some(q) => parse_quantity_nanos(&q.0).filter(|v| *v > 0),
            None => limit,
        };
        if let Some(value) = request {
            requests.add(name, value);
        }
        if let Some(value) = limit {
            limits.add(name, value);
            limited += 1;
        }
    }
    limited == QOS_RESOURCES.len()
}

fn positive(list: Option<&BTreeMap<String, Quantity>>, name: &str) -> Option<i128> {
    list.and_then(|l| l.get(name))
        .and_then(|q| parse_quantity_nanos(&q.0))
        .filter(|v| *v > 0)
}

/// A quantity in nano-units; text that is not a quantity counts as absent (API validation
/// refuses it before a pod gets here, and the QoS class cannot fail).
fn parse_quantity_nanos(text: &str) -> Option<i128> {
    QuantityValue::parse(text).ok()?.nano_value().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn q(s: &str) -> Quantity {
        Quantity(s.to_string())
    }

    fn container(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        let list = |pairs: &[(&str, &str)]| {
            (!pairs.is_empty()).then(|| {
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), q(v)))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: list(requests),
                limits: list(limits),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers,
                init_containers: (!init.is_empty()).then_some(init),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn best_effort_without_cpu_or_memory() {
        let p = pod(
            vec![container(&[("ephemeral-storage", "1Gi")], &[])],
            vec![],
        );
        assert_eq!(compute_pod_qos(&p), QosClass::BestEffort);
    }

    #[test]
    fn guaranteed_when_limits_equal_requests_in_any_spelling() {
        let p = pod(
            vec![container(
                &[("cpu", "1"), ("memory", "128Mi")],
                &[("cpu", "1000m"), ("memory", "134217728")],
            )],
            vec![],
        );
        assert_eq!(compute_pod_qos(&p), QosClass::Guaranteed);
    }

    #[test]
    fn limits_only_default_the_requests() {
        let p = pod(
            vec![container(&[], &[("cpu", "1"), ("memory", "1Gi")])],
            vec![],
        );
        assert_eq!(compute_pod_qos(&p), QosClass::Guaranteed);
    }

    #[test]
    fn init_containers_count() {
        let guaranteed = container(&[], &[("cpu", "1"), ("memory", "1Gi")]);
        let p = pod(vec![guaranteed.clone()], vec![container(&[], &[])]);
        assert_eq!(compute_pod_qos(&p), QosClass::Burstable);
        let p = pod(vec![guaranteed.clone()], vec![guaranteed]);
        assert_eq!(compute_pod_qos(&p), QosClass::Guaranteed);
    }

    #[test]
    fn one_guaranteed_and_one_empty_container_is_burstable() {
        let p = pod(
            vec![
                container(&[], &[("cpu", "1"), ("memory", "1Gi")]),
                container(&[], &[]),
            ],
            vec![],
        );
        assert_eq!(compute_pod_qos(&p), QosClass::Burstable);
    }

    #[test]
    fn status_class_wins() {
        let mut p = pod(vec![container(&[], &[])], vec![]);
        p.status = Some(k8s_openapi::api::core::v1::PodStatus {
            qos_class: Some("Burstable".into()),
            ..Default::default()
        });
        assert_eq!(pod_qos(&p), QosClass::Burstable);
    }

    #[test]
    fn pod_level_resources_decide() {
        let mut p = pod(vec![container(&[], &[])], vec![]);
        p.spec.as_mut().unwrap().resources = Some(ResourceRequirements {
            limits: Some(
                [
                    ("cpu".to_string(), q("2")),
                    ("memory".to_string(), q("1Gi")),
                ]
                .into_iter()
                .collect(),
            ),
            ..Default::default()
        });
        assert_eq!(compute_pod_qos(&p), QosClass::Guaranteed);
    }
}
