//! A container's environment, resolved like the kubelet's `makeEnvironmentVariables`
//! (`pkg/kubelet/kubelet_pods.go`).
//!
//! 1. `envFrom` sources, in order: every key of the ConfigMap or Secret, with the prefix.
//! 2. `env`, in order, overriding what `envFrom` set. A `value` has its `$(VAR)` references
//!    expanded against everything resolved so far (then the service variables); an empty
//!    `value` with a `valueFrom` resolves the source: `fieldRef`, `resourceFieldRef`,
//!    `configMapKeyRef`, `secretKeyRef`.
//! 3. Service variables not already set.
//!
//! A missing ConfigMap, Secret or key is an error unless the reference is `optional`, in
//! which case the variable is skipped. The kubelet builds the final list from a Go map,
//! so its order is random; here it is declaration order (a name set twice keeps its first
//! position and its last value).

use super::expansion::expand;
use super::{FieldError, host_network, pod_name, pod_namespace, pod_uid};
use crate::Result;
use cgroup_enforcer::QuantityValue;
use cri_client::v1;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, EnvVarSource, ObjectFieldSelector, Pod, ResourceFieldSelector, Secret,
};
use std::collections::HashMap;
use std::fmt;

/// What the kubelet looks up while it builds a container's config, given by the caller.
///
/// ConfigMaps and Secrets are looked up by name in the pod's namespace through the two
/// closures (`None` = not found). [`Default`] finds none, knows no IPs and no image user.
///
/// ```
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use pod_lifecycle::cri_config::ContainerEnvironment;
///
/// let settings = |name: &str| {
///     (name == "settings").then(|| ConfigMap {
///         data: Some([("LOG_LEVEL".to_string(), "debug".to_string())].into()),
///         ..Default::default()
///     })
/// };
/// let pod_ips = ["10.1.0.7".to_string()];
/// let env = ContainerEnvironment {
///     node_name: "node-a",
///     pod_ips: &pod_ips,
///     config_maps: &settings,
///     ..Default::default()
/// };
/// assert!((env.config_maps)("settings").is_some());
/// ```
pub struct ContainerEnvironment<'a> {
    /// The node's name: `spec.nodeName` for a pod that does not carry one (the kubelet
    /// fills it in for static pods).
    pub node_name: &'a str,
    /// The pod's IPs, primary first (from the sandbox status). Empty for a host-network
    /// pod means "the node's": `status.podIP` then gives `host_ips`, as the API reports.
    pub pod_ips: &'a [String],
    /// The node's IPs, primary first (`status.hostIP`, `status.hostIPs`).
    pub host_ips: &'a [String],
    /// `spec.serviceAccountName` for a pod that does not carry one.
    pub service_account_name: &'a str,
    /// The node's allocatable resources: the limit `resourceFieldRef` reports for a
    /// container without one.
    pub allocatable: NodeAllocatable,
    /// Finds a ConfigMap of the pod's namespace by name.
    pub config_maps: &'a dyn Fn(&str) -> Option<ConfigMap>,
    /// Finds a Secret of the pod's namespace by name.
    pub secrets: &'a dyn Fn(&str) -> Option<Secret>,
    /// Service link variables (`<SVC>_SERVICE_HOST`, ...), if the caller computes them:
    /// `$(VAR)` can refer to them and they are appended when the container does not set
    /// the same name.
    pub service_env: &'a [(String, String)],
    /// The image's numeric user, when the image config names one (`USER 1000`). Used for
    /// the runAsNonRoot check and as the runtime user when the spec sets none.
    pub image_user: Option<i64>,
    /// The image's user when it is a name (`USER nobody`): runAsNonRoot cannot verify it.
    pub image_username: Option<&'a str>,
}

fn no_config_map(_: &str) -> Option<ConfigMap> {
    None
}

fn no_secret(_: &str) -> Option<Secret> {
    None
}

impl Default for ContainerEnvironment<'_> {
    fn default() -> Self {
        ContainerEnvironment {
            node_name: "",
            pod_ips: &[],
            host_ips: &[],
            service_account_name: "",
            allocatable: NodeAllocatable::default(),
            config_maps: &no_config_map,
            secrets: &no_secret,
            service_env: &[],
            image_user: None,
            image_username: None,
        }
    }
}

impl fmt::Debug for ContainerEnvironment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerEnvironment")
            .field("node_name", &self.node_name)
            .field("pod_ips", &self.pod_ips)
            .field("host_ips", &self.host_ips)
            .field("service_account_name", &self.service_account_name)
            .field("allocatable", &self.allocatable)
            .field("service_env", &self.service_env.len())
            .field("image_user", &self.image_user)
            .field("image_username", &self.image_username)
            .finish_non_exhaustive()
    }
}

/// The node's allocatable CPU, memory and ephemeral storage (`node.status.allocatable`).
/// `None` leaves an unset limit at 0, as the kubelet does when the node lacks the resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeAllocatable {
    /// Allocatable CPU in millicores.
    pub cpu_millis: Option<i64>,
    /// Allocatable memory in bytes.
    pub memory_bytes: Option<i64>,
    /// Allocatable ephemeral storage in bytes.
    pub ephemeral_storage_bytes: Option<i64>,
}

/// Resolves a container's environment (see the module docs), in the CRI's form.
///
/// ```
/// use k8s_openapi::api::core::v1::{Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
/// use pod_lifecycle::cri_config::{ContainerEnvironment, container_env};
///
/// let mut pod = Pod::default();
/// pod.metadata.name = Some("web".into());
/// let container = Container {
///     name: "app".into(),
///     env: Some(vec![
///         EnvVar {
///             name: "POD".into(),
///             value_from: Some(EnvVarSource {
///                 field_ref: Some(ObjectFieldSelector {
///                     field_path: "metadata.name".into(),
///                     ..Default::default()
///                 }),
///                 ..Default::default()
///             }),
///             ..Default::default()
///         },
///         EnvVar { name: "URL".into(), value: Some("http://$(POD):80".into()), ..Default::default() },
///     ]),
///     ..Default::default()
/// };
/// let env = container_env(&pod, &container, &ContainerEnvironment::default())?;
/// assert_eq!(env[1].value, "http://web:80");
/// # Ok::<(), pod_lifecycle::Error>(())
/// ```
pub fn container_env(
    pod: &Pod,
    container: &Container,
    env: &ContainerEnvironment<'_>,
) -> Result<Vec<v1::KeyValue>> {
    let vars = resolve(pod, container, env).map_err(|e| e.for_container(pod, &container.name))?;
    Ok(vars
        .into_iter()
        .map(|(key, value)| v1::KeyValue { key, value })
        .collect())
}

/// Variables in declaration order; setting a name again replaces its value in place.
#[derive(Default)]
struct OrderedVars {
    vars: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl OrderedVars {
    fn set(&mut self, name: String, value: String) {
        match self.index.get(&name) {
            Some(&i) => self.vars[i].1 = value,
            None => {
                self.index.insert(name.clone(), self.vars.len());
                self.vars.push((name, value));
            }
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(|&i| self.vars[i].1.as_str())
    }
}

/// ConfigMaps and Secrets fetched once per container, like the kubelet's per-call maps.
struct Objects<'e, 'a> {
    env: &'e ContainerEnvironment<'a>,
    config_maps: HashMap<String, Option<ConfigMap>>,
    secrets: HashMap<String, Option<Secret>>,
}

impl Objects<'_, '_> {
    fn config_map(&mut self, name: &str) -> Option<&ConfigMap> {
        let lookup = self.env.config_maps;
        self.config_maps
            .entry(name.to_owned())
            .or_insert_with(|| lookup(name))
            .as_ref()
    }

    fn secret(&mut self, name: &str) -> Option<&Secret> {
        let lookup = self.env.secrets;
        self.secrets
            .entry(name.to_owned())
            .or_insert_with(|| lookup(name))
            .as_ref()
    }
}

/// The resolved environment as `(name, value)` pairs.
pub(crate) fn resolve(
    pod: &Pod,
    container: &Container,
    env: &ContainerEnvironment<'_>,
) -> Result<Vec<(String, String)>, FieldError> {
    let namespace = pod_namespace(pod);
    let mut objects = Objects {
        env,
        config_maps: HashMap::new(),
        secrets: HashMap::new(),
    };
    let mut vars = OrderedVars::default();

    for (i, from) in container.env_from.iter().flatten().enumerate() {
        let prefix = from.prefix.as_deref().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            let field = format!("envFrom[{i}].configMapRef");
            match objects.config_map(&r.name) {
                Some(cm) => {
                    for (k, v) in cm.data.iter().flatten() {
                        vars.set(format!("{prefix}{k}"), v.clone());
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(config_map_not_found(field, &r.name)),
            }
        } else if let Some(r) = &from.secret_ref {
            let field = format!("envFrom[{i}].secretRef");
            match objects.secret(&r.name) {
                Some(secret) => {
                    for (k, v) in secret.data.iter().flatten() {
                        vars.set(format!("{prefix}{k}"), bytes_to_string(&v.0));
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(secret_not_found(field, &r.name)),
            }
        }
    }

    for (i, var) in container.env.iter().flatten().enumerate() {
        if var.name.is_empty() || var.name.contains('=') {
            return Err(FieldError::new(
                format!("env[{i}].name"),
                format!(
                    "invalid environment variable name {:?}: must not be empty or contain '='",
                    var.name
                ),
            ));
        }
        let value = var.value.as_deref().unwrap_or_default();
        let resolved = if !value.is_empty() {
            Some(expand(value, |name| {
                vars.get(name)
                    .or_else(|| service_var(env.service_env, name))
            }))
        } else if let Some(source) = &var.value_from {
            value_from(pod, container, i, source, env, &mut objects, namespace)?
        } else {
            Some(String::new())
        };
        if let Some(value) = resolved {
            vars.set(var.name.clone(), value);
        }
    }

    for (name, value) in env.service_env {
        if vars.get(name).is_none() {
            vars.set(name.clone(), value.clone());
        }
    }
    Ok(vars.vars)
}

fn service_var<'s>(service_env: &'s [(String, String)], name: &str) -> Option<&'s str> {
    service_env
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Secret data as text. Go's `string([]byte)` keeps any bytes; CRI strings must be UTF-8,
/// so invalid sequences become U+FFFD here instead of failing the whole container.
fn bytes_to_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn config_map_not_found(field: String, name: &str) -> FieldError {
    // The kubelet's ConfigMap manager reports a missing object as a NotFound for the
    // resource "configmap".
    FieldError::new(field, format!("configmap {name:?} not found"))
}

fn secret_not_found(field: String, name: &str) -> FieldError {
    FieldError::new(field, format!("secret {name:?} not found"))
}

/// The value of one `valueFrom`; `None` when an optional source is missing and the
/// variable is skipped.
fn value_from(
    pod: &Pod,
    container: &Container,
    i: usize,
    source: &EnvVarSource,
    env: &ContainerEnvironment<'_>,
    objects: &mut Objects<'_, '_>,
    namespace: &str,
) -> Result<Option<String>, FieldError> {
    let base = format!("env[{i}].valueFrom");
    if let Some(selector) = &source.field_ref {
        return field_ref_value(pod, selector, env)
            .map(Some)
            .map_err(|e| e.under(&format!("{base}.fieldRef")));
    }
    if let Some(selector) = &source.resource_field_ref {
        return resource_field_value(pod, container, selector, env.allocatable)
            .map(Some)
            .map_err(|e| e.under(&format!("{base}.resourceFieldRef")));
    }
    if let Some(r) = &source.config_map_key_ref {
        let field = format!("{base}.configMapKeyRef");
        let optional = r.optional == Some(true);
        let Some(cm) = objects.config_map(&r.name) else {
            return if optional {
                Ok(None)
            } else {
                Err(config_map_not_found(field, &r.name))
            };
        };
        return match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
            Some(v) => Ok(Some(v.clone())),
            None if optional => Ok(None),
            None => Err(FieldError::new(
                field,
                format!(
                    "couldn't find key {} in ConfigMap {namespace}/{}",
                    r.key, r.name
                ),
            )),
        };
    }
    if let Some(r) = &source.secret_key_ref {
        let field = format!("{base}.secretKeyRef");
        let optional = r.optional == Some(true);
        let Some(secret) = objects.secret(&r.name) else {
            return if optional {
                Ok(None)
            } else {
                Err(secret_not_found(field, &r.name))
            };
        };
        return match secret.data.as_ref().and_then(|d| d.get(&r.key)) {
            Some(v) => Ok(Some(bytes_to_string(&v.0))),
            None if optional => Ok(None),
            None => Err(FieldError::new(
                field,
                format!(
                    "couldn't find key {} in Secret {namespace}/{}",
                    r.key, r.name
                ),
            )),
        };
    }
    if source.file_key_ref.is_some() {
        // The kubelet reads these from a file in an emptyDir volume: I/O, not done here.
        return Err(FieldError::new(
            format!("{base}.fileKeyRef"),
            "fileKeyRef is not supported",
        ));
    }
    Ok(Some(String::new()))
}

/// An error found below a selector: its field is relative to it.
struct SubFieldError {
    field: Option<&'static str>,
    message: String,
}

impl SubFieldError {
    fn at(field: &'static str, message: impl Into<String>) -> Self {
        SubFieldError {
            field: Some(field),
            message: message.into(),
        }
    }

    fn here(message: impl Into<String>) -> Self {
        SubFieldError {
            field: None,
            message: message.into(),
        }
    }

    fn under(self, base: &str) -> FieldError {
        match self.field {
            Some(f) => FieldError::new(format!("{base}.{f}"), self.message),
            None => FieldError::new(base, self.message),
        }
    }
}

/// `podFieldSelectorRuntimeValue` for the paths an env var may use (the API's
/// `validEnvDownwardAPIFieldPathExpressions`): `metadata.{name,namespace,uid}`,
/// `metadata.labels['k']`, `metadata.annotations['k']`, `spec.nodeName`,
/// `spec.serviceAccountName`, `status.hostIP(s)`, `status.podIP(s)`.
fn field_ref_value(
    pod: &Pod,
    selector: &ObjectFieldSelector,
    env: &ContainerEnvironment<'_>,
) -> Result<String, SubFieldError> {
    if let Some(version) = selector.api_version.as_deref()
        && !version.is_empty()
        && version != "v1"
    {
        return Err(SubFieldError::at(
            "apiVersion",
            format!("unsupported pod version: {version}"),
        ));
    }
    let path = selector.field_path.as_str();
    let unsupported =
        || SubFieldError::at("fieldPath", format!("field label not supported: {path}"));
    if let Some((base, key)) = split_subscript(path) {
        let map = match base {
            "metadata.labels" => pod.metadata.labels.as_ref(),
            "metadata.annotations" => pod.metadata.annotations.as_ref(),
            _ => {
                return Err(SubFieldError::at(
                    "fieldPath",
                    format!("field label does not support subscript: {path}"),
                ));
            }
        };
        return Ok(map.and_then(|m| m.get(key)).cloned().unwrap_or_default());
    }
    let spec = pod.spec.as_ref();
    let or_default = |value: Option<&String>, default: &str| match value {
        Some(v) if !v.is_empty() => v.clone(),
        _ => default.to_owned(),
    };
    let host_ips = || {
        if env.host_ips.is_empty() {
            Err(SubFieldError::here("host IP unknown; known addresses: []"))
        } else {
            Ok(env.host_ips)
        }
    };
    let pod_ips = if env.pod_ips.is_empty() && host_network(pod) {
        env.host_ips
    } else {
        env.pod_ips
    };
    Ok(match path {
        "metadata.name" => pod_name(pod).to_owned(),
        "metadata.namespace" => pod_namespace(pod).to_owned(),
        "metadata.uid" => pod_uid(pod).to_owned(),
        "spec.nodeName" => or_default(spec.and_then(|s| s.node_name.as_ref()), env.node_name),
        "spec.serviceAccountName" => or_default(
            spec.and_then(|s| s.service_account_name.as_ref()),
            env.service_account_name,
        ),
        "status.hostIP" => host_ips()?[0].clone(),
        "status.hostIPs" => host_ips()?.join(","),
        "status.podIP" => pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => pod_ips.join(","),
        _ => return Err(unsupported()),
    })
}

/// `fieldpath.SplitMaybeSubscriptedPath`: `metadata.labels['app']` → (`metadata.labels`, `app`).
fn split_subscript(path: &str) -> Option<(&str, &str)> {
    let inner = path.strip_suffix("']")?;
    let (base, key) = inner.split_once("['")?;
    (!base.is_empty()).then_some((base, key))
}

/// `containerResourceRuntimeValue` with `defaultPodLimitsForDownwardAPI`: the container's
/// (or the named container's) request or limit divided by the divisor, rounded up. A
/// CPU, memory or ephemeral-storage limit that is unset or zero reads as the node's
/// allocatable.
fn resource_field_value(
    pod: &Pod,
    container: &Container,
    selector: &ResourceFieldSelector,
    allocatable: NodeAllocatable,
) -> Result<String, SubFieldError> {
    let target = match selector.container_name.as_deref() {
        None | Some("") => container,
        Some(name) => pod
            .spec
            .iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .find(|c| c.name == name)
            .ok_or_else(|| {
                SubFieldError::at("containerName", format!("container {name} not found"))
            })?,
    };
    let divisor = match &selector.divisor {
        None => None,
        Some(q) => {
            let d = QuantityValue::parse(&q.0)
                .map_err(|e| SubFieldError::at("divisor", e.to_string()))?;
            if d.is_negative() {
                return Err(SubFieldError::at("divisor", "must be positive"));
            }
            (!d.is_zero()).then_some(d)
        }
    };
    let resource = selector.resource.as_str();
    let (kind, name) = resource
        .split_once('.')
        .filter(|(kind, _)| *kind == "limits" || *kind == "requests")
        .ok_or_else(|| {
            SubFieldError::at(
                "resource",
                format!("unsupported container resource: {resource}"),
            )
        })?;
    let is_cpu = name == "cpu";
    let default = match (kind, name) {
        ("limits", "cpu") => allocatable.cpu_millis,
        ("limits", "memory") => allocatable.memory_bytes,
        ("limits", "ephemeral-storage") => allocatable.ephemeral_storage_bytes,
        (_, "cpu" | "memory" | "ephemeral-storage") => None,
        (_, n) if n.starts_with("hugepages-") => None,
        _ => {
            return Err(SubFieldError::at(
                "resource",
                format!("unsupported container resource: {resource}"),
            ));
        }
    };
    let list = target.resources.as_ref().and_then(|r| {
        if kind == "limits" {
            r.limits.as_ref()
        } else {
            r.requests.as_ref()
        }
    });
    let amount = match list.and_then(|l| l.get(name)) {
        Some(q) => {
            let parsed = QuantityValue::parse(&q.0).map_err(|e| {
                SubFieldError::here(format!(
                    "container {:?}: resources.{kind}.{name}: {e}",
                    target.name
                ))
            })?;
            let read = if is_cpu {
                parsed.milli_value()
            } else {
                parsed.value()
            };
            read.map_err(|e| {
                SubFieldError::here(format!(
                    "container {:?}: resources.{kind}.{name}: {e}",
                    target.name
                ))
            })?
        }
        None => 0,
    };
    let amount = match (amount, default) {
        (0, Some(node)) => node,
        (a, _) => a,
    };
    // No divisor (or a zero one) means "1": one core, read in millicores for CPU.
    let divisor = match divisor {
        None if is_cpu => 1000,
        None => 1,
        Some(d) => {
            let read = if is_cpu { d.milli_value() } else { d.value() };
            read.map_err(|e| SubFieldError::at("divisor", e.to_string()))?
        }
    };
    Ok(ceil_div(amount, divisor.max(1)).to_string())
}

fn ceil_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscripts_split_like_fieldpath() {
        assert_eq!(
            split_subscript("metadata.labels['app']"),
            Some(("metadata.labels", "app"))
        );
        assert_eq!(
            split_subscript("metadata.annotations['a.b/c']"),
            Some(("metadata.annotations", "a.b/c"))
        );
        assert_eq!(split_subscript("['x']"), None);
        assert_eq!(split_subscript("metadata.labels"), None);
    }

    #[test]
    fn ceil_div_rounds_up() {
        assert_eq!(ceil_div(250, 1000), 1);
        assert_eq!(ceil_div(2000, 1000), 2);
        assert_eq!(ceil_div(0, 7), 0);
        assert_eq!(ceil_div(-3, 2), -1);
    }
}
