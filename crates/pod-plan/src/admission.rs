//! The kubelet's predicate admission beyond resources (`pkg/kubelet/lifecycle/predicate.go`
//! with the scheduler's `AdmissionCheck`): a pod bound to this node must match the node's
//! labels (`nodeSelector` and required node affinity), name this node if it names one, and
//! ask for host ports no admitted pod holds. The first failure, in that order, rejects the
//! pod with the predicate's name as the reason and the kubelet's message
//! (`Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node
//! affinity/selector`).
//!
//! ```
//! use std::collections::BTreeMap;
//! use k8s_openapi::api::core::v1::{Pod, PodSpec};
//! use pod_plan::admission::{NodeView, admission_failure};
//!
//! let labels = BTreeMap::from([("disk".to_string(), "ssd".to_string())]);
//! let node = NodeView { name: "n1", labels: &labels };
//! let mut pod = Pod::default();
//! pod.spec = Some(PodSpec {
//!     node_selector: Some(BTreeMap::from([("disk".into(), "hdd".into())])),
//!     ..Default::default()
//! });
//! let failure = admission_failure(&pod, &node, &[]).unwrap();
//! assert_eq!(failure.reason, "NodeAffinity");
//! ```

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Pod};

use crate::PodFailure;

/// What admission needs to know of this node.
#[derive(Debug, Clone, Copy)]
pub struct NodeView<'a> {
    /// The node's name (`metadata.name`, for `matchFields` and `spec.nodeName`).
    pub name: &'a str,
    /// The node's labels (`kubernetes.io/hostname`, `kubernetes.io/os`, ... and
    /// `--node-labels`).
    pub labels: &'a BTreeMap<String, String>,
}

/// The scheduler plugin's message when node affinity or the node selector does not match.
pub const NODE_AFFINITY_MESSAGE: &str = "node(s) didn't match Pod's node affinity/selector";
/// The message when `spec.nodeName` names another node.
pub const NODE_NAME_MESSAGE: &str = "node(s) didn't match the requested node name";
/// The message when a host port is taken.
pub const NODE_PORTS_MESSAGE: &str = "node(s) didn't have free ports for the requested pod ports";

/// Why `pod` may not run beside `admitted` on `node`, if it may not: the first failing
/// predicate of NodeAffinity, NodeName and NodePorts.
pub fn admission_failure(pod: &Pod, node: &NodeView<'_>, admitted: &[&Pod]) -> Option<PodFailure> {
    let failed = |name: &str, message: &str| {
        Some(PodFailure::rejected(
            name,
            format!("Predicate {name} failed: {message}"),
        ))
    };
    if !matches_node(pod, node) {
        return failed("NodeAffinity", NODE_AFFINITY_MESSAGE);
    }
    let node_name = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    if node_name.is_some_and(|n| !n.is_empty() && n != node.name) {
        return failed("NodeName", NODE_NAME_MESSAGE);
    }
    if host_ports_conflict(pod, admitted) {
        return failed("NodePorts", NODE_PORTS_MESSAGE);
    }
    None
}

/// Whether the pod's `nodeSelector` and required node affinity match the node.
pub fn matches_node(pod: &Pod, node: &NodeView<'_>) -> bool {
    let Some(spec) = &pod.spec else {
        return true;
    };
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    // The terms are ORed; a term matches when all its requirements do, and an empty term
    // matches nothing.
    let affinity_ok = required.is_none_or(|r| {
        r.node_selector_terms
            .iter()
            .any(|term| term_matches(term, node))
    });
    selector_ok && affinity_ok
}

fn term_matches(term: &NodeSelectorTerm, node: &NodeView<'_>) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let fields_map = BTreeMap::from([("metadata.name".to_string(), node.name.to_string())]);
    expressions
        .iter()
        .all(|r| requirement_matches(r, node.labels))
        && fields.iter().all(|r| {
            // Only `metadata.name` with In / NotIn is valid for fields.
            matches!(r.operator.as_str(), "In" | "NotIn") && requirement_matches(r, &fields_map)
        })
}

fn requirement_matches(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&r.key);
    let values = r.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), [want]) = (value.and_then(|v| number(v)), values) else {
                return false;
            };
            let Some(want) = number(want) else {
                return false;
            };
            if r.operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

/// `(protocol, hostIP, hostPort)` of every container and init container port with a host
/// port; protocol TCP and address 0.0.0.0 when unset, as the scheduler reads them.
fn host_ports(pod: &Pod) -> Vec<(String, String, i32)> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|p| *p > 0)?;
            let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
            let ip = p
                .host_ip
                .clone()
                .filter(|ip| !ip.is_empty())
                .unwrap_or_else(|| "0.0.0.0".into());
            Some((protocol, ip, port))
        })
        .collect()
}

/// Whether a host port of `pod` is held by one of `admitted` (same protocol and port, and the
/// same address or either on 0.0.0.0).
pub fn host_ports_conflict(pod: &Pod, admitted: &[&Pod]) -> bool {
    let wanted = host_ports(pod);
    if wanted.is_empty() {
        return false;
    }
    let held: Vec<(String, String, i32)> = admitted.iter().flat_map(|p| host_ports(p)).collect();
    wanted.iter().any(|(protocol, ip, port)| {
        held.iter().any(|(p2, ip2, port2)| {
            protocol == p2 && port == port2 && (ip == ip2 || ip == "0.0.0.0" || ip2 == "0.0.0.0")
        })
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        Affinity, Container, ContainerPort, NodeAffinity, NodeSelector, PodSpec,
    };

    use super::*;

    fn labels() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("kubernetes.io/hostname".to_string(), "n1".to_string()),
            ("zone".to_string(), "a".to_string()),
            ("cores".to_string(), "8".to_string()),
        ])
    }

    fn with_terms(terms: Vec<NodeSelectorTerm>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                affinity: Some(Affinity {
                    node_affinity: Some(NodeAffinity {
                        required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                            node_selector_terms: terms,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn term(exprs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: Some(exprs),
            match_fields: None,
        }
    }

    #[test]
    fn node_affinity_operators_and_terms() {
        let labels = labels();
        let node = NodeView {
            name: "n1",
            labels: &labels,
        };
        let ok = |terms| matches_node(&with_terms(terms), &node);
        assert!(ok(vec![term(vec![req("zone", "In", &["a", "b"])])]));
        assert!(!ok(vec![term(vec![req("zone", "NotIn", &["a"])])]));
        assert!(ok(vec![term(vec![req("gpu", "DoesNotExist", &[])])]));
        assert!(ok(vec![term(vec![req("cores", "Gt", &["4"])])]));
        assert!(!ok(vec![term(vec![req("cores", "Lt", &["4"])])]));
        // ORed terms, ANDed requirements, an empty term matches nothing.
        assert!(ok(vec![
            term(vec![req("zone", "In", &["b"])]),
            term(vec![req("zone", "Exists", &[])])
        ]));
        assert!(!ok(vec![term(vec![
            req("zone", "In", &["a"]),
            req("gpu", "Exists", &[])
        ])]));
        assert!(!ok(vec![term(vec![])]));
        let by_name = NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![req("metadata.name", "In", &["n1"])]),
        };
        assert!(ok(vec![by_name]));
    }

    #[test]
    fn failures_carry_the_predicate_and_the_kubelets_message() {
        let labels = labels();
        let node = NodeView {
            name: "n1",
            labels: &labels,
        };
        let mut pod = with_terms(vec![term(vec![req("zone", "In", &["b"])])]);
        let failure = admission_failure(&pod, &node, &[]).unwrap();
        assert_eq!(failure.reason, "NodeAffinity");
        assert_eq!(
            failure.message,
            "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
        );
        pod.spec = Some(PodSpec {
            node_name: Some("n2".into()),
            ..Default::default()
        });
        assert_eq!(
            admission_failure(&pod, &node, &[]).unwrap().reason,
            "NodeName"
        );
    }

    #[test]
    fn host_ports_conflict_by_protocol_port_and_address() {
        let with_port = |port: i32, protocol: Option<&str>, ip: Option<&str>| Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    ports: Some(vec![ContainerPort {
                        container_port: 80,
                        host_port: Some(port),
                        protocol: protocol.map(Into::into),
                        host_ip: ip.map(Into::into),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let held = with_port(8080, None, None);
        assert!(host_ports_conflict(
            &with_port(8080, Some("TCP"), None),
            &[&held]
        ));
        assert!(!host_ports_conflict(
            &with_port(8080, Some("UDP"), None),
            &[&held]
        ));
        assert!(!host_ports_conflict(&with_port(8081, None, None), &[&held]));
        let on_ip = with_port(9090, None, Some("10.0.0.1"));
        assert!(!host_ports_conflict(
            &with_port(9090, None, Some("10.0.0.2")),
            &[&on_ip]
        ));
        assert!(host_ports_conflict(&with_port(9090, None, None), &[&on_ip]));
        let labels = labels();
        let node = NodeView {
            name: "n1",
            labels: &labels,
        };
        let failure = admission_failure(&with_port(8080, None, None), &node, &[&held]).unwrap();
        assert_eq!(failure.reason, "NodePorts");
        assert!(
            failure
                .message
                .ends_with("node(s) didn't have free ports for the requested pod ports")
        );
    }
}
