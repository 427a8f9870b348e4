//! The pod's QoS class (`status.qosClass`): the kubelet's `GetPodQOS` / `ComputePodQOS`
//! (`pkg/apis/core/v1/helper/qos/qos.go`).
//!
//! This lives here because status generation needs it; it moves to the cgroup-enforcer crate
//! (which also needs it for the cgroup hierarchy) once that crate exists.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

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
    /// The API spelling (`Guaranteed`, `Burstable`, `BestEffort`).
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

impl std::fmt::Display for QosClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The QoS class shown in the status, like the kubelet's `GetPodQOS`: `status.qosClass` when
/// it is already set (the class is immutable once computed), otherwise [`compute_pod_qos`].
pub fn pod_qos_class(pod: &Pod) -> String {
    match pod.status.as_ref().and_then(|s| s.qos_class.as_deref()) {
        Some(class) if !class.is_empty() => class.to_string(),
        _ => compute_pod_qos(pod).as_str().to_string(),
    }
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

/// Parse a Kubernetes quantity (`100m`, `1.5`, `128Mi`, `1e3`, `2G`) into nano-units, rounding
/// a sub-nano remainder up (as `resource.Quantity` does). Values beyond `i128` saturate.
/// Returns `None` for text that is not a quantity.
pub(crate) fn parse_quantity_nanos(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let (pow10, pow2): (i64, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        other => {
            let exponent = other
                .strip_prefix('e')
                .or_else(|| other.strip_prefix('E'))?;
            (exponent.parse::<i32>().ok()?.into(), 0)
        }
    };

    let mut mantissa: i128 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa
            .saturating_mul(10)
            .saturating_add(i128::from(digit - b'0'));
    }
    mantissa = mantissa.saturating_mul(1i128 << pow2);
    // The value in nano-units is mantissa * 10^(pow10 + 9 - fraction digits).
    let exponent = pow10 + 9 - fraction.len() as i64;
    let value = if exponent >= 0 {
        let mut v = mantissa;
        for _ in 0..exponent.min(40) {
            v = v.saturating_mul(10);
        }
        v
    } else if -exponent > 38 {
        i128::from(mantissa > 0)
    } else {
        let divisor = 10i128.pow((-exponent) as u32);
        mantissa / divisor + i128::from(mantissa % divisor != 0)
    };
    Some(if negative { -value } else { value })
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
    fn quantities_parse_exactly() {
        assert_eq!(parse_quantity_nanos("1"), Some(1_000_000_000));
        assert_eq!(parse_quantity_nanos("1000m"), Some(1_000_000_000));
        assert_eq!(parse_quantity_nanos("0.5"), Some(500_000_000));
        assert_eq!(parse_quantity_nanos("1Ki"), Some(1024 * 1_000_000_000));
        assert_eq!(parse_quantity_nanos("1e3"), Some(1000 * 1_000_000_000));
        assert_eq!(parse_quantity_nanos("1E"), Some(10i128.pow(27)));
        assert_eq!(parse_quantity_nanos("1n"), Some(1));
        assert_eq!(parse_quantity_nanos("0.1n"), Some(1));
        assert_eq!(parse_quantity_nanos("-2"), Some(-2_000_000_000));
        assert_eq!(parse_quantity_nanos("abc"), None);
        assert_eq!(parse_quantity_nanos("1.2.3"), None);
        assert_eq!(parse_quantity_nanos("1Zi"), None);
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
        assert_eq!(pod_qos_class(&p), "Burstable");
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
