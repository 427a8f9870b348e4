//! Pod-level `status.resources` and `status.allocatedResources`
//! (InPlacePodLevelResourcesVerticalScaling, beta and on by default since v1.36).
//!
//! The kubelet v1.37 (`convertStatusToAPIStatus`, `pkg/kubelet/kubelet_pods.go`) sets both
//! for every pod while the gate is on, with or without resources:
//! - `status.resources` = `convertToAPIPodLevelResourcesStatus`: for a pod whose (spec) pod
//!   object's phase is not `Running`, `getEffectiveAllocatedResources`: a copy of
//!   `spec.resources` (or an empty one; its `claims` kept) whose requests are
//!   `resourcehelper.PodRequests` and whose limits are `resourcehelper.PodLimits`. The
//!   static pod source sets that phase to `Pending` (`pkg/kubelet/config/common.go`) and a
//!   standalone kubelet never changes it, so static pods always take this branch; the
//!   `Running` branch reads the pod cgroup, which this pure generation has no view of, and
//!   is computed the same way here.
//! - `status.allocatedResources` = `resourcehelper.PodRequests`.
//!
//! `PodRequests` / `PodLimits` (k8s.io/component-helpers `resource/helpers.go`, with the
//! kubelet's options: pod-level resources on, spec values, overhead included):
//! - containers' requests (limits) summed; init containers by the sidecar formula: a
//!   restartable init container is added to the sum and to the running sidecar total, a
//!   regular one counts as itself plus the sidecars before it; the result is the
//!   per-resource maximum of the sum and of every init container's use;
//! - pod-level `spec.resources` requests (limits) replace the aggregate for the supported
//!   names (`cpu`, `memory`, `hugepages-*`);
//! - `spec.overhead` is added to every request, and to every non-zero limit.
//!
//! Quantities are added and compared as apimachinery's `resource.Quantity` and printed in
//! its canonical form (`MarshalJSON` of a quantity without a cached string:
//! `CanonicalizeBytes`): a sum keeps the format of its first non-zero term.

use std::collections::BTreeMap;

use crate::quantity::QuantityValue;
use k8s_openapi::api::core::v1::{Container, Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

const NANO: i128 = 1_000_000_000;

/// apimachinery's `resource.Format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// A quantity as apimachinery keeps it after parsing: rounded up to nano units, with its
/// format.
#[derive(Debug, Clone, Copy)]
struct Amount {
    nanos: i128,
    format: Format,
}

impl Amount {
    fn parse(text: &str) -> Option<Amount> {
        let text = text.trim();
        if text == "0" {
            return Some(Amount {
                nanos: 0,
                format: Format::DecimalSi,
            });
        }
        let nanos = QuantityValue::parse(text).ok()?.nano_value().ok()?;
        let number_end = text
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && "+-".contains(c))))
            .map_or(text.len(), |(i, _)| i);
        let suffix = &text[number_end..];
        let mut format = if suffix.ends_with('i') {
            Format::BinarySi
        } else if suffix.len() > 1 && (suffix.starts_with('e') || suffix.starts_with('E')) {
            Format::DecimalExponent
        } else {
            Format::DecimalSi
        };
        // ParseQuantity: a binary amount strictly between 0 and 1 becomes DecimalSI.
        if format == Format::BinarySi && nanos > 0 && nanos < NANO {
            format = Format::DecimalSi;
        }
        Some(Amount { nanos, format })
    }

    /// `Quantity.Add`: the receiver's format is kept unless it is zero.
    fn add(&mut self, other: Amount) {
        if self.nanos == 0 {
            self.format = other.format;
        }
        self.nanos += other.nanos;
    }

    /// `CanonicalizeBytes`.
    fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_owned();
        }
        let mut format = self.format;
        if format == Format::BinarySi
            && ((self.nanos > -1024 * NANO && self.nanos < 1024 * NANO) || self.nanos % NANO != 0)
        {
            format = Format::DecimalSi;
        }
        if format == Format::BinarySi {
            let mut amount = self.nanos / NANO;
            let mut exponent = 0;
            while amount.abs() >= 1024 && amount % 1024 == 0 && exponent < 6 {
                amount /= 1024;
                exponent += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exponent];
            return format!("{amount}{suffix}");
        }
        let mut amount = self.nanos;
        let mut exponent: i32 = -9;
        while amount.abs() >= 10 && amount % 10 == 0 {
            amount /= 10;
            exponent += 1;
        }
        let extra = exponent.rem_euclid(3);
        amount *= 10i128.pow(extra as u32);
        exponent -= extra;
        let suffix = match format {
            Format::DecimalExponent if exponent == 0 => String::new(),
            Format::DecimalExponent => format!("e{exponent}"),
            _ => match exponent {
                -9 => "n".to_owned(),
                -6 => "u".to_owned(),
                -3 => "m".to_owned(),
                0 => String::new(),
                3 => "k".to_owned(),
                6 => "M".to_owned(),
                9 => "G".to_owned(),
                12 => "T".to_owned(),
                15 => "P".to_owned(),
                18 => "E".to_owned(),
                other => format!("e{other}"),
            },
        };
        format!("{amount}{suffix}")
    }
}

type List = BTreeMap<String, Amount>;

fn list_of(resources: Option<&BTreeMap<String, Quantity>>) -> List {
    resources
        .into_iter()
        .flatten()
        .filter_map(|(name, q)| Some((name.clone(), Amount::parse(&q.0)?)))
        .collect()
}

/// `addResourceList`.
fn add_list(list: &mut List, new: &List) {
    for (name, q) in new {
        match list.get_mut(name) {
            Some(value) => value.add(*q),
            None => {
                list.insert(name.clone(), *q);
            }
        }
    }
}

/// `maxResourceList`.
fn max_list(list: &mut List, new: &List) {
    for (name, q) in new {
        if list.get(name).is_none_or(|v| q.nanos > v.nanos) {
            list.insert(name.clone(), *q);
        }
    }
}

/// `IsSupportedPodLevelResource`.
fn supported_pod_level(name: &str) -> bool {
    name == "cpu" || name == "memory" || name.starts_with("hugepages-")
}

/// `aggregateContainerResourcesByFn` with the spec's requests or limits.
fn aggregate(
    pod: &Pod,
    pick: fn(&ResourceRequirements) -> Option<&BTreeMap<String, Quantity>>,
) -> List {
    let Some(spec) = pod.spec.as_ref() else {
        return List::new();
    };
    let of = |c: &Container| list_of(c.resources.as_ref().and_then(pick));
    let mut result = List::new();
    for c in &spec.containers {
        add_list(&mut result, &of(c));
    }
    let mut sidecars = List::new();
    let mut init_use = List::new();
    for c in spec.init_containers.iter().flatten() {
        let own = of(c);
        let used = if c.restart_policy.as_deref() == Some("Always") {
            add_list(&mut result, &own);
            add_list(&mut sidecars, &own);
            sidecars.clone()
        } else {
            let mut combined = List::new();
            add_list(&mut combined, &own);
            add_list(&mut combined, &sidecars);
            combined
        };
        max_list(&mut init_use, &used);
    }
    max_list(&mut result, &init_use);
    result
}

fn pod_level(
    pod: &Pod,
    pick: fn(&ResourceRequirements) -> Option<&BTreeMap<String, Quantity>>,
) -> Option<List> {
    let own = pod.spec.as_ref()?.resources.as_ref().and_then(pick)?;
    own.keys()
        .any(|n| supported_pod_level(n))
        .then(|| list_of(Some(own)))
}

fn overhead(pod: &Pod) -> List {
    list_of(pod.spec.as_ref().and_then(|s| s.overhead.as_ref()))
}

/// `resourcehelper.PodRequests`.
fn pod_requests(pod: &Pod) -> List {
    let mut reqs = aggregate(pod, |r| r.requests.as_ref());
    // IsPodLevelRequestsSet, then applyPodLevelResources.
    if let Some(own) = pod_level(pod, |r| r.requests.as_ref()) {
        for (name, q) in own {
            if supported_pod_level(&name) {
                reqs.insert(name, q);
            }
        }
    }
    add_list(&mut reqs, &overhead(pod));
    reqs
}

/// `resourcehelper.PodLimits`.
fn pod_limits(pod: &Pod) -> List {
    let mut limits = aggregate(pod, |r| r.limits.as_ref());
    // IsPodLevelResourcesSet (requests or limits), then applyPodLevelResources of the limits.
    let set = pod_level(pod, |r| r.requests.as_ref()).is_some()
        || pod_level(pod, |r| r.limits.as_ref()).is_some();
    if set {
        let own = list_of(
            pod.spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.limits.as_ref()),
        );
        for (name, q) in own {
            if supported_pod_level(&name) {
                limits.insert(name, q);
            }
        }
    }
    for (name, q) in overhead(pod) {
        if let Some(value) = limits.get_mut(&name).filter(|v| v.nanos != 0) {
            value.add(q);
        }
    }
    limits
}

/// A resource list as the API prints it: canonical quantities, absent when empty.
fn api_list(list: List) -> Option<BTreeMap<String, Quantity>> {
    (!list.is_empty()).then(|| {
        list.into_iter()
            .map(|(name, q)| (name, Quantity(q.canonical())))
            .collect()
    })
}

/// Pod-level `(status.resources, status.allocatedResources)`.
pub(super) fn pod_level_resources(
    pod: &Pod,
) -> (ResourceRequirements, Option<BTreeMap<String, Quantity>>) {
    let mut resources = pod
        .spec
        .as_ref()
        .and_then(|s| s.resources.clone())
        .unwrap_or_default();
    let requests = pod_requests(pod);
    resources.requests = api_list(requests.clone());
    resources.limits = api_list(pod_limits(pod));
    (resources, api_list(requests))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        Amount::parse(text).unwrap().canonical()
    }

    fn sum(a: &str, b: &str) -> String {
        let mut x = Amount::parse(a).unwrap();
        x.add(Amount::parse(b).unwrap());
        x.canonical()
    }

    #[test]
    fn pod_level_resources_quantities_print_as_apimachinery() {
        assert_eq!(canon("100m"), "100m");
        assert_eq!(canon("0.1"), "100m");
        assert_eq!(canon("1"), "1");
        assert_eq!(canon("1.5"), "1500m");
        assert_eq!(canon("1000m"), "1");
        assert_eq!(canon("64Mi"), "64Mi");
        assert_eq!(canon("1024Mi"), "1Gi");
        assert_eq!(canon("1536Mi"), "1536Mi");
        assert_eq!(canon("512"), "512");
        assert_eq!(canon("100M"), "100M");
        assert_eq!(canon("1000k"), "1M");
        assert_eq!(canon("1e3"), "1e3");
        assert_eq!(canon("0"), "0");
        assert_eq!(canon("0.5Ki"), "512");
        assert_eq!(sum("100m", "200m"), "300m");
        assert_eq!(sum("1", "500m"), "1500m");
        assert_eq!(sum("64Mi", "64Mi"), "128Mi");
        assert_eq!(sum("1Gi", "512Mi"), "1536Mi");
        assert_eq!(sum("128Mi", "100M"), "234217728");
        assert_eq!(sum("100M", "28Mi"), "129360128");
        assert_eq!(sum("0", "64Mi"), "64Mi");
    }

    fn rl(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
        (!pairs.is_empty()).then(|| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect()
        })
    }

    fn res(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Option<ResourceRequirements> {
        Some(ResourceRequirements {
            requests: rl(requests),
            limits: rl(limits),
            ..Default::default()
        })
    }

    fn container(name: &str, resources: Option<ResourceRequirements>) -> Container {
        Container {
            name: name.to_owned(),
            resources,
            ..Default::default()
        }
    }

    fn pod(spec: k8s_openapi::api::core::v1::PodSpec) -> Pod {
        Pod {
            spec: Some(spec),
            ..Default::default()
        }
    }

    #[test]
    fn pod_level_resources_without_any_resources_are_empty() {
        let p = pod(k8s_openapi::api::core::v1::PodSpec {
            containers: vec![container("a", None)],
            ..Default::default()
        });
        let (resources, allocated) = pod_level_resources(&p);
        assert_eq!(resources, ResourceRequirements::default());
        assert_eq!(allocated, None);
    }

    #[test]
    fn pod_level_resources_sum_containers() {
        let p = pod(k8s_openapi::api::core::v1::PodSpec {
            containers: vec![
                container(
                    "a",
                    res(
                        &[("cpu", "100m"), ("memory", "64Mi")],
                        &[("cpu", "200m"), ("memory", "64Mi")],
                    ),
                ),
                container(
                    "b",
                    res(&[("cpu", "0.5"), ("memory", "64Mi")], &[("memory", "1Gi")]),
                ),
                container("c", None),
            ],
            ..Default::default()
        });
        let (resources, allocated) = pod_level_resources(&p);
        assert_eq!(
            resources.requests,
            rl(&[("cpu", "600m"), ("memory", "128Mi")])
        );
        assert_eq!(
            resources.limits,
            rl(&[("cpu", "200m"), ("memory", "1088Mi")])
        );
        assert_eq!(allocated, rl(&[("cpu", "600m"), ("memory", "128Mi")]));
    }

    #[test]
    fn pod_level_resources_init_containers_and_sidecars() {
        let mut sidecar = container("sidecar", res(&[("cpu", "100m"), ("memory", "32Mi")], &[]));
        sidecar.restart_policy = Some("Always".to_owned());
        let p = pod(k8s_openapi::api::core::v1::PodSpec {
            init_containers: Some(vec![
                sidecar,
                container("setup", res(&[("cpu", "1"), ("memory", "16Mi")], &[])),
            ]),
            containers: vec![container(
                "app",
                res(&[("cpu", "200m"), ("memory", "64Mi")], &[]),
            )],
            ..Default::default()
        });
        let (resources, allocated) = pod_level_resources(&p);
        // app + sidecar = 300m / 96Mi; setup's use = 1 + 100m = 1100m / 48Mi.
        assert_eq!(allocated, rl(&[("cpu", "1100m"), ("memory", "96Mi")]));
        assert_eq!(resources.requests, allocated);
        assert_eq!(resources.limits, None);
    }

    #[test]
    fn pod_level_resources_spec_resources_and_overhead() {
        let mut p = pod(k8s_openapi::api::core::v1::PodSpec {
            resources: res(&[("cpu", "1")], &[("cpu", "2"), ("memory", "256Mi")]),
            containers: vec![container(
                "a",
                res(
                    &[
                        ("cpu", "100m"),
                        ("memory", "64Mi"),
                        ("ephemeral-storage", "1Gi"),
                    ],
                    &[],
                ),
            )],
            overhead: rl(&[("cpu", "10m"), ("memory", "1Mi")]),
            ..Default::default()
        });
        let (resources, allocated) = pod_level_resources(&p);
        assert_eq!(
            allocated,
            rl(&[
                ("cpu", "1010m"),
                ("ephemeral-storage", "1Gi"),
                ("memory", "65Mi")
            ])
        );
        assert_eq!(resources.requests, allocated);
        assert_eq!(
            resources.limits,
            rl(&[("cpu", "2010m"), ("memory", "257Mi")])
        );

        // Pod-level limits only: requests stay the containers' aggregate.
        p.spec.as_mut().unwrap().resources = res(&[], &[("memory", "1Gi")]);
        p.spec.as_mut().unwrap().overhead = None;
        let (resources, allocated) = pod_level_resources(&p);
        assert_eq!(
            allocated,
            rl(&[
                ("cpu", "100m"),
                ("ephemeral-storage", "1Gi"),
                ("memory", "64Mi")
            ])
        );
        assert_eq!(resources.limits, rl(&[("memory", "1Gi")]));
    }
}
