//! downwardAPI (`pkg/volume/downwardapi/downwardapi.go`): pod metadata and container
//! resources as files on a tmpfs, written atomically, rewritten when labels or annotations
//! change.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, Pod, ResourceFieldSelector, Volume};

use super::payload::{self, DEFAULT_MODE};
use super::{NodeAllocatable, SetUpResult, VolumeAttributes, VolumeContext, VolumePlugin};
use crate::Result;
use crate::atomic_writer::{FileProjection, Payload};
use crate::quantity::{Quantity, milli_value, value};

/// The plugin's name.
pub(crate) const PLUGIN_NAME: &str = "kubernetes.io/downward-api";

/// downwardAPI volumes.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownwardApiPlugin;

impl VolumePlugin for DownwardApiPlugin {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn can_support(&self, volume: &Volume) -> bool {
        volume.downward_api.is_some()
    }

    fn attributes(&self, _volume: &Volume) -> VolumeAttributes {
        VolumeAttributes {
            read_only: true,
            managed: true,
            selinux_relabel: true,
        }
    }

    fn requires_remount(&self) -> bool {
        true
    }

    fn set_up(&self, ctx: &VolumeContext<'_>) -> Result<SetUpResult> {
        let source = ctx
            .volume
            .downward_api
            .as_ref()
            .expect("can_support checked");
        let default = payload::file_mode(
            ctx,
            ".downwardAPI.defaultMode",
            source.default_mode,
            DEFAULT_MODE,
        )?;
        let user = payload::owner(ctx, ".downwardAPI.defaultUser", source.default_user)?;
        let payload = downward_payload(
            ctx,
            ".downwardAPI",
            source.items.as_deref().unwrap_or(&[]),
            default,
            user,
        )?;
        let dir = payload::set_up_wrapped(ctx, PLUGIN_NAME, true)?;
        payload::write(ctx, &dir, &payload)?;
        Ok(SetUpResult {
            tmpfs: true,
            size_limit: None,
        })
    }
}

/// The payload of downward API items (`CollectData`; shared with projected sources).
pub(crate) fn downward_payload(
    ctx: &VolumeContext<'_>,
    field: &str,
    items: &[DownwardAPIVolumeFile],
    default_mode: u32,
    default_user: Option<u32>,
) -> Result<Payload> {
    let mut payload = Payload::new();
    for (i, item) in items.iter().enumerate() {
        let item_field = format!("{field}.items[{i}]");
        crate::atomic_writer::validate_path(&item.path)
            .map_err(|m| ctx.fail(&format!("{item_field}.path"), m))?;
        let mode = payload::file_mode(ctx, &format!("{item_field}.mode"), item.mode, default_mode)?;
        let owner = payload::owner(ctx, &format!("{item_field}.user"), item.user)?.or(default_user);
        let data = if let Some(f) = &item.field_ref {
            field_path_value(ctx.pod, &f.field_path)
                .map_err(|m| ctx.fail(&format!("{item_field}.fieldRef.fieldPath"), m))?
        } else if let Some(r) = &item.resource_field_ref {
            resource_value(ctx.pod, r, ctx.node)
                .map_err(|m| ctx.fail(&format!("{item_field}.resourceFieldRef"), m))?
        } else {
            String::new()
        };
        payload.insert(
            item.path.clone(),
            FileProjection {
                data: data.into_bytes(),
                mode,
                owner,
            },
        );
    }
    Ok(payload)
}

/// `fieldpath.ExtractFieldPathAsString`: `metadata.name`, `metadata.namespace`,
/// `metadata.uid`, `metadata.labels`, `metadata.annotations` (whole maps as sorted
/// `key="value"` lines) and `metadata.labels['k']` / `metadata.annotations['k']`.
pub fn field_path_value(pod: &Pod, path: &str) -> std::result::Result<String, String> {
    let empty = BTreeMap::new();
    let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
    let annotations = pod.metadata.annotations.as_ref().unwrap_or(&empty);
    if let Some(inner) = path.strip_suffix("']")
        && let Some((base, key)) = inner.split_once("['")
    {
        return match base {
            "metadata.annotations" => Ok(annotations.get(key).cloned().unwrap_or_default()),
            "metadata.labels" => Ok(labels.get(key).cloned().unwrap_or_default()),
            _ => Err(format!("fieldPath {path:?} does not support subscript")),
        };
    }
    Ok(match path {
        "metadata.annotations" => format_map(annotations),
        "metadata.labels" => format_map(labels),
        "metadata.name" => pod.metadata.name.clone().unwrap_or_default(),
        "metadata.namespace" => pod.metadata.namespace.clone().unwrap_or_default(),
        "metadata.uid" => pod.metadata.uid.clone().unwrap_or_default(),
        _ => return Err(format!("unsupported fieldPath: {path}")),
    })
}

/// `fieldpath.FormatMap`: `key="value"` lines sorted by key, values quoted as Go's `%q`,
/// no trailing newline.
pub fn format_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={}", pod_plan::go_quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `ExtractResourceValueByContainerNameAndNodeAllocatable`: a container's request or limit
/// divided by the divisor (default 1), rounded up; CPU is counted in millicores before the
/// division. A CPU, memory or ephemeral-storage limit the container leaves unset reads as
/// the node's allocatable (`MergeContainerResourceLimits`).
pub fn resource_value(
    pod: &Pod,
    selector: &ResourceFieldSelector,
    node: NodeAllocatable,
) -> std::result::Result<String, String> {
    let name = selector.container_name.as_deref().unwrap_or("");
    let container = pod
        .spec
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .find(|c| c.name == name)
        .ok_or_else(|| format!("container {name:?} not found in the pod"))?;
    let resource = selector.resource.as_str();
    let (kind, res) = resource
        .split_once('.')
        .filter(|(k, _)| *k == "limits" || *k == "requests")
        .ok_or_else(|| format!("unsupported container resource : {resource}"))?;
    if !matches!(res, "cpu" | "memory" | "ephemeral-storage") && !res.starts_with("hugepages-") {
        return Err(format!("unsupported container resource : {resource}"));
    }
    let is_cpu = res == "cpu";
    let read = |q: &Quantity| if is_cpu { milli_value(q) } else { value(q) };
    let list = container.resources.as_ref().and_then(|r| {
        if kind == "limits" {
            r.limits.as_ref()
        } else {
            r.requests.as_ref()
        }
    });
    let mut amount = match list.and_then(|l| l.get(res)) {
        Some(q) => read(&Quantity::parse(&q.0).map_err(|e| format!("{kind}.{res}: {e}"))?),
        None => 0,
    };
    if kind == "limits" && amount <= 0 {
        let allocatable = match res {
            "cpu" => node.cpu_millis,
            "memory" => node.memory_bytes,
            "ephemeral-storage" => node.ephemeral_storage_bytes,
            _ => None,
        };
        if let Some(a) = allocatable {
            amount = i64::try_from(a).unwrap_or(i64::MAX);
        }
    }
    let divisor = match &selector.divisor {
        Some(q) => {
            let d = Quantity::parse(&q.0).map_err(|e| format!("divisor: {e}"))?;
            if !d.is_zero() && !d.is_negative() {
                read(&d)
            } else {
                0
            }
        }
        None => 0,
    };
    let divisor = match divisor {
        d if d > 0 => d,
        _ if is_cpu => 1000,
        _ => 1,
    };
    Ok((amount.div_euclid(divisor) + i64::from(amount.rem_euclid(divisor) != 0)).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Q;

    #[test]
    fn vo_14_labels_are_sorted_quoted_lines() {
        let labels: BTreeMap<String, String> = [
            ("zone".to_owned(), "a".to_owned()),
            ("app".to_owned(), "web \"x\"\n".to_owned()),
        ]
        .into();
        assert_eq!(format_map(&labels), "app=\"web \\\"x\\\"\\n\"\nzone=\"a\"");
        let pod = Pod {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("web".into()),
                labels: Some(labels),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            field_path_value(&pod, "metadata.labels['zone']").unwrap(),
            "a"
        );
        assert_eq!(field_path_value(&pod, "metadata.name").unwrap(), "web");
        assert!(field_path_value(&pod, "spec.nodeName").is_err());
        assert!(field_path_value(&pod, "metadata.name['x']").is_err());
    }

    #[test]
    fn resource_values_divide_and_round_up() {
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    resources: Some(ResourceRequirements {
                        limits: Some([("cpu".to_owned(), Q("250m".into()))].into()),
                        requests: Some([("memory".to_owned(), Q("64Mi".into()))].into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let node = NodeAllocatable {
            memory_bytes: Some(1 << 30),
            cpu_millis: Some(2000),
            ephemeral_storage_bytes: None,
        };
        let sel = |r: &str, d: Option<&str>| ResourceFieldSelector {
            container_name: Some("app".into()),
            resource: r.into(),
            divisor: d.map(|d| Q(d.into())),
        };
        assert_eq!(
            resource_value(&pod, &sel("limits.cpu", None), node).unwrap(),
            "1"
        );
        assert_eq!(
            resource_value(&pod, &sel("limits.cpu", Some("1m")), node).unwrap(),
            "250"
        );
        assert_eq!(
            resource_value(&pod, &sel("requests.memory", Some("1Mi")), node).unwrap(),
            "64"
        );
        // An unset limit reads as the node's allocatable.
        assert_eq!(
            resource_value(&pod, &sel("limits.memory", Some("1Mi")), node).unwrap(),
            "1024"
        );
        assert_eq!(
            resource_value(&pod, &sel("requests.cpu", None), node).unwrap(),
            "0"
        );
        assert!(resource_value(&pod, &sel("limits.gpu", None), node).is_err());
    }

    /// `resource-field-ref-allocatable`: a container without limits (or with a zero one)
    /// reads the node allocatable for `limits.cpu`, `limits.memory` and
    /// `limits.ephemeral-storage` (`MergeContainerResourceLimits`), divided and rounded
    /// up; requests and huge pages are not defaulted; a node that does not report a
    /// resource gives 0.
    #[test]
    fn unset_limits_read_as_the_node_allocatable() {
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![
                    Container {
                        name: "none".into(),
                        ..Default::default()
                    },
                    Container {
                        name: "zero".into(),
                        resources: Some(ResourceRequirements {
                            limits: Some(
                                [
                                    ("cpu".to_owned(), Q("0".into())),
                                    ("memory".to_owned(), Q("0".into())),
                                ]
                                .into(),
                            ),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let node = NodeAllocatable {
            memory_bytes: Some(24105 << 20),
            cpu_millis: Some(3750),
            ephemeral_storage_bytes: Some((250 << 30) + 1),
        };
        let read = |container: &str, resource: &str, divisor: Option<&str>, node| {
            let selector = ResourceFieldSelector {
                container_name: Some(container.into()),
                resource: resource.into(),
                divisor: divisor.map(|d| Q(d.into())),
            };
            resource_value(&pod, &selector, node).unwrap()
        };
        for container in ["none", "zero"] {
            assert_eq!(read(container, "limits.cpu", Some("1m"), node), "3750");
            assert_eq!(
                read(container, "limits.cpu", None, node),
                "4",
                "cores, rounded up"
            );
            assert_eq!(
                read(container, "limits.memory", None, node),
                (24105u64 << 20).to_string()
            );
            assert_eq!(read(container, "limits.memory", Some("1Mi"), node), "24105");
        }
        assert_eq!(
            read("none", "limits.ephemeral-storage", Some("1Gi"), node),
            "251"
        );
        assert_eq!(read("none", "requests.cpu", Some("1m"), node), "0");
        assert_eq!(read("none", "requests.memory", None, node), "0");
        assert_eq!(read("none", "limits.hugepages-2Mi", None, node), "0");
        let unknown = NodeAllocatable::default();
        assert_eq!(read("none", "limits.cpu", Some("1m"), unknown), "0");
        assert_eq!(read("none", "limits.memory", None, unknown), "0");
    }
}
