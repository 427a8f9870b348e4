//! The node's labels and taints: the ones the kubelet always sets, and the checks it makes on
//! the configured ones before the API server sees them.
//!
//! A node registers itself with credentials of `system:node:<name>`, and the NodeRestriction
//! admission plugin (`plugin/pkg/admission/noderestriction/admission.go`, `getForbiddenLabels`)
//! refuses labels a node could use to steer privileged workloads to itself: anything in the
//! `node-restriction.kubernetes.io` namespace, and every `kubernetes.io` / `k8s.io` label that is
//! not a kubelet label (`k8s.io/kubelet/pkg/apis/well_known_labels.go`, `IsKubeletLabel`). The
//! kubelet checks the same rule on `--node-labels` at start-up
//! (`cmd/kubelet/app/options/options.go`, `ValidateKubeletFlags`), so a bad label is a clear
//! configuration error instead of a registration that fails forever. [`validate_node_labels`]
//! is that check.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Taint;

use crate::error::{Error, Result};

/// `kubernetes.io/hostname`: the node's hostname.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// `kubernetes.io/os`: the node's operating system, as Go names it (`linux`).
pub const LABEL_OS: &str = "kubernetes.io/os";
/// `kubernetes.io/arch`: the node's architecture, as Go names it (`amd64`).
pub const LABEL_ARCH: &str = "kubernetes.io/arch";
/// `beta.kubernetes.io/os`: the legacy OS label the kubelet still sets.
pub const LABEL_OS_BETA: &str = "beta.kubernetes.io/os";
/// `beta.kubernetes.io/arch`: the legacy architecture label the kubelet still sets.
pub const LABEL_ARCH_BETA: &str = "beta.kubernetes.io/arch";
/// `topology.kubernetes.io/zone`.
pub const LABEL_TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";
/// `topology.kubernetes.io/region`.
pub const LABEL_TOPOLOGY_REGION: &str = "topology.kubernetes.io/region";
/// `failure-domain.beta.kubernetes.io/zone` (deprecated zone label).
pub const LABEL_FAILURE_DOMAIN_BETA_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
/// `failure-domain.beta.kubernetes.io/region` (deprecated region label).
pub const LABEL_FAILURE_DOMAIN_BETA_REGION: &str = "failure-domain.beta.kubernetes.io/region";
/// `node.kubernetes.io/instance-type`.
pub const LABEL_INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
/// `beta.kubernetes.io/instance-type` (deprecated instance type label).
pub const LABEL_INSTANCE_TYPE_BETA: &str = "beta.kubernetes.io/instance-type";
/// `node.kubernetes.io/windows-build`.
pub const LABEL_WINDOWS_BUILD: &str = "node.kubernetes.io/windows-build";

/// The annotation that hands volume attach/detach to the controller manager
/// (`enableControllerAttachDetach`, default on).
pub const ANNOTATION_CONTROLLER_MANAGED_ATTACH_DETACH: &str =
    "volumes.kubernetes.io/controller-managed-attach-detach";

/// The label keys in the `kubernetes.io` namespaces a node may set on itself, sorted
/// (`kubeletapis.KubeletLabels()`).
pub const KUBELET_LABELS: [&str; 11] = [
    LABEL_ARCH_BETA,
    LABEL_INSTANCE_TYPE_BETA,
    LABEL_OS_BETA,
    LABEL_FAILURE_DOMAIN_BETA_REGION,
    LABEL_FAILURE_DOMAIN_BETA_ZONE,
    LABEL_ARCH,
    LABEL_HOSTNAME,
    LABEL_OS,
    LABEL_INSTANCE_TYPE,
    LABEL_TOPOLOGY_REGION,
    LABEL_TOPOLOGY_ZONE,
];

/// The label namespaces (and their subdomains) a node may use freely
/// (`kubeletapis.KubeletLabelNamespaces()`).
pub const KUBELET_LABEL_NAMESPACES: [&str; 2] = ["kubelet.kubernetes.io", "node.kubernetes.io"];

/// The namespace reserved for administrators (`v1.LabelNamespaceNodeRestriction`).
pub const NODE_RESTRICTION_NAMESPACE: &str = "node-restriction.kubernetes.io";

/// The labels the kubelet reconciles on an existing Node at registration
/// (`updateDefaultLabels`): when its initial node has one, the existing node gets the same
/// value, and an empty value removes it.
pub(crate) const DEFAULT_LABELS: [&str; 12] = [
    LABEL_HOSTNAME,
    LABEL_TOPOLOGY_ZONE,
    LABEL_TOPOLOGY_REGION,
    LABEL_FAILURE_DOMAIN_BETA_ZONE,
    LABEL_FAILURE_DOMAIN_BETA_REGION,
    LABEL_INSTANCE_TYPE,
    LABEL_INSTANCE_TYPE_BETA,
    LABEL_OS,
    LABEL_ARCH,
    LABEL_WINDOWS_BUILD,
    LABEL_OS_BETA,
    LABEL_ARCH_BETA,
];

/// The part of a label key before the `/`, or "" without one.
fn label_namespace(key: &str) -> &str {
    key.split_once('/').map_or("", |(namespace, _)| namespace)
}

fn in_namespace(namespace: &str, domain: &str) -> bool {
    namespace == domain
        || namespace
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// Whether `key` is in the `kubernetes.io` or `k8s.io` namespaces (or a subdomain of them).
fn is_kubernetes_label(key: &str) -> bool {
    let namespace = label_namespace(key);
    in_namespace(namespace, "kubernetes.io") || in_namespace(namespace, "k8s.io")
}

/// Whether a node may set `key` on its own Node (`kubeletapis.IsKubeletLabel`): one of
/// [`KUBELET_LABELS`], or in one of [`KUBELET_LABEL_NAMESPACES`] or a subdomain of one.
pub fn is_kubelet_label(key: &str) -> bool {
    if KUBELET_LABELS.contains(&key) {
        return true;
    }
    let namespace = label_namespace(key);
    KUBELET_LABEL_NAMESPACES
        .iter()
        .any(|allowed| in_namespace(namespace, allowed))
}

/// Whether the NodeRestriction admission plugin refuses `key` from a node, on create and on
/// update (`getForbiddenLabels`).
pub fn is_forbidden_node_label(key: &str) -> bool {
    in_namespace(label_namespace(key), NODE_RESTRICTION_NAMESPACE)
        || (is_kubernetes_label(key) && !is_kubelet_label(key))
}

/// Checks the configured node labels as the kubelet checks `--node-labels`: no label a node
/// may not set on itself ([`Error::ForbiddenNodeLabels`]), then every key a qualified name and
/// every value a label value ([`Error::InvalidNodeLabels`]).
///
/// ```
/// use std::collections::BTreeMap;
/// use status_reporter::{Error, validate_node_labels};
///
/// let ok = BTreeMap::from([("node.kubernetes.io/pool".to_owned(), "a".to_owned())]);
/// assert!(validate_node_labels("n1", &ok).is_ok());
///
/// let bad = BTreeMap::from([("node-role.kubernetes.io/control-plane".to_owned(), String::new())]);
/// let err = validate_node_labels("n1", &bad).unwrap_err();
/// assert!(matches!(err, Error::ForbiddenNodeLabels { .. }));
/// assert!(err.to_string().contains("node-role.kubernetes.io/control-plane"));
/// ```
pub fn validate_node_labels(node: &str, labels: &BTreeMap<String, String>) -> Result<()> {
    let forbidden: Vec<String> = labels
        .keys()
        .filter(|key| is_forbidden_node_label(key))
        .cloned()
        .collect();
    if !forbidden.is_empty() {
        return Err(Error::ForbiddenNodeLabels {
            node: node.to_owned(),
            labels: forbidden,
            allowed_prefixes: KUBELET_LABEL_NAMESPACES.join(", "),
            allowed_labels: KUBELET_LABELS.join(", "),
        });
    }
    let mut problems = Vec::new();
    for (key, value) in labels {
        let key_errors = qualified_name_errors(key);
        if !key_errors.is_empty() {
            problems.push(format!("'{key}' - {}", key_errors.join(", ")));
        }
        let value_errors = label_value_errors(value);
        if !value_errors.is_empty() {
            problems.push(format!("'{value}' - {}", value_errors.join(", ")));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidNodeLabels {
            node: node.to_owned(),
            problems,
        })
    }
}

/// Checks the taints of `registerWithTaints` as the API server validates a Node's taints:
/// a qualified-name key, a label-value value, a known effect, no two taints with the same key
/// and effect.
pub fn validate_taints(node: &str, taints: &[Taint]) -> Result<()> {
    for (i, taint) in taints.iter().enumerate() {
        let value = taint.value.as_deref().unwrap_or("");
        let invalid = |problem: String| Error::InvalidTaint {
            node: node.to_owned(),
            taint: format!("{}={}:{}", taint.key, value, taint.effect),
            problem,
        };
        let key_errors = qualified_name_errors(&taint.key);
        if !key_errors.is_empty() {
            return Err(invalid(format!("key: {}", key_errors.join(", "))));
        }
        let value_errors = label_value_errors(value);
        if !value_errors.is_empty() {
            return Err(invalid(format!("value: {}", value_errors.join(", "))));
        }
        if !matches!(
            taint.effect.as_str(),
            "NoSchedule" | "PreferNoSchedule" | "NoExecute"
        ) {
            return Err(invalid(
                "effect must be one of NoSchedule, PreferNoSchedule, NoExecute".to_owned(),
            ));
        }
        if taints[..i]
            .iter()
            .any(|t| t.key == taint.key && t.effect == taint.effect)
        {
            return Err(invalid(
                "taints must be unique by key and effect pair".to_owned(),
            ));
        }
    }
    Ok(())
}

pub(crate) use pod_plan::validation::{
    is_dns1123_subdomain, label_value_errors, qualified_name_errors,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn kubelet_labels_and_namespaces_are_allowed() {
        for key in KUBELET_LABELS {
            assert!(!is_forbidden_node_label(key), "{key}");
        }
        for key in [
            "node.kubernetes.io/pool",
            "kubelet.kubernetes.io/x",
            "foo.node.kubernetes.io/y",
            "example.com/team",
            "plain",
        ] {
            assert!(!is_forbidden_node_label(key), "{key}");
        }
    }

    #[test]
    fn other_kubernetes_labels_and_node_restriction_are_forbidden() {
        for key in [
            "node-role.kubernetes.io/master",
            "kubernetes.io/role",
            "k8s.io/x",
            "sub.k8s.io/x",
            "node-restriction.kubernetes.io/trusted",
            "a.node-restriction.kubernetes.io/trusted",
            "xnode.kubernetes.io/y",
        ] {
            assert!(is_forbidden_node_label(key), "{key}");
        }
        // A look-alike domain is not in the namespace.
        assert!(!is_forbidden_node_label("notkubernetes.io/x"));
    }

    #[test]
    fn forbidden_labels_are_listed_sorted() {
        let err = validate_node_labels(
            "n",
            &labels(&[
                ("node-restriction.kubernetes.io/a", "1"),
                ("kubernetes.io/b", "2"),
                ("ok.example.com/c", "3"),
            ]),
        )
        .unwrap_err();
        match err {
            Error::ForbiddenNodeLabels { labels, .. } => assert_eq!(
                labels,
                ["kubernetes.io/b", "node-restriction.kubernetes.io/a"]
            ),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn malformed_keys_and_values_are_invalid() {
        for (key, value) in [
            ("-bad", "v"),
            ("Example.com/x", "v"),
            ("/x", "v"),
            ("a/b/c", "v"),
            ("ok", "-bad"),
            ("ok", &"x".repeat(64)),
            (&"k".repeat(64), "v"),
        ] {
            let err = validate_node_labels("n", &labels(&[(key, value)])).unwrap_err();
            assert!(
                matches!(err, Error::InvalidNodeLabels { .. }),
                "{key}={value}: {err}"
            );
        }
        validate_node_labels("n", &labels(&[("example.com/x_y.z", ""), ("a", "B-1.c")])).unwrap();
    }

    #[test]
    fn taints_are_checked() {
        let taint = |key: &str, value: Option<&str>, effect: &str| Taint {
            key: key.to_owned(),
            value: value.map(str::to_owned),
            effect: effect.to_owned(),
            time_added: None,
        };
        validate_taints(
            "n",
            &[
                taint("dedicated", Some("gpu"), "NoSchedule"),
                taint("dedicated", Some("gpu"), "NoExecute"),
            ],
        )
        .unwrap();
        for bad in [
            vec![taint("k", None, "Sometimes")],
            vec![taint("bad key", None, "NoSchedule")],
            vec![taint("k", Some("bad value"), "NoSchedule")],
            vec![
                taint("k", Some("a"), "NoSchedule"),
                taint("k", Some("b"), "NoSchedule"),
            ],
        ] {
            assert!(
                matches!(validate_taints("n", &bad), Err(Error::InvalidTaint { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn dns_subdomains() {
        assert!(is_dns1123_subdomain("node-1.example"));
        assert!(!is_dns1123_subdomain("Node"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(!is_dns1123_subdomain(""));
    }
}
