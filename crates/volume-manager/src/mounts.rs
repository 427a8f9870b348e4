//! What a container mounts: this crate's own mount type, which pod-lifecycle maps to the
//! CRI `Mount` one to one, and the parts of the kubelet's `makeMounts` that need no disk.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::VolumeMount;

/// How mounts propagate between host and container (CRI `MountPropagation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MountPropagation {
    /// `None` (the default): CRI `PROPAGATION_PRIVATE`.
    #[default]
    Private,
    /// `HostToContainer`: CRI `PROPAGATION_HOST_TO_CONTAINER` (rslave).
    HostToContainer,
    /// `Bidirectional`: CRI `PROPAGATION_BIDIRECTIONAL` (rshared; privileged only).
    Bidirectional,
}

impl MountPropagation {
    /// The CRI enum's value (`runtime.v1.MountPropagation`).
    pub fn cri_value(self) -> i32 {
        match self {
            MountPropagation::Private => 0,
            MountPropagation::HostToContainer => 1,
            MountPropagation::Bidirectional => 2,
        }
    }
}

/// One mount of a container (the kubelet's `kubecontainer.Mount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerMount {
    /// The volume's name (`k8s-managed-etc-hosts` for `/etc/hosts`,
    /// `termination-message` for the termination-message file).
    pub name: String,
    /// Where the container sees it.
    pub container_path: String,
    /// What is mounted: the volume directory, a subPath bind mount under
    /// `pods/<uid>/volume-subpaths`, or a file of the pod directory.
    pub host_path: PathBuf,
    /// Read-only: the volumeMount's `readOnly`, or always for configMap, secret,
    /// downwardAPI and projected volumes.
    pub read_only: bool,
    /// Recursive read-only (`recursiveReadOnly: Enabled`, or `IfPossible` on a runtime that
    /// supports it).
    pub recursive_read_only: bool,
    /// Propagation.
    pub propagation: MountPropagation,
    /// Whether the runtime should relabel the content for SELinux.
    pub selinux_relabel: bool,
}

/// What [`crate::VolumeManager::container_mounts`] needs besides the pod and container.
#[derive(Debug, Clone, Default)]
pub struct ContainerContext<'a> {
    /// The pod's IPs (the sandbox's); without any, no `/etc/hosts` is mounted
    /// (`shouldMountHostsFile`).
    pub pod_ips: &'a [String],
    /// The pod's hostname (see [`crate::hosts::pod_hostname_and_domain`]).
    pub hostname: &'a str,
    /// The pod's domain (`<subdomain>.<namespace>.svc.<cluster domain>`), or empty.
    pub host_domain: &'a str,
    /// The container's resolved environment, later entries winning, for `subPathExpr`.
    pub env: &'a [(String, String)],
    /// Whether the runtime supports recursive read-only mounts (containerd 1.6 does not).
    pub runtime_supports_recursive_read_only: bool,
}

/// The kubelet's `translateMountPropagation`.
pub(crate) fn translate_propagation(mode: Option<&str>) -> Result<MountPropagation, String> {
    match mode {
        None | Some("None") => Ok(MountPropagation::Private),
        Some("HostToContainer") => Ok(MountPropagation::HostToContainer),
        Some("Bidirectional") => Ok(MountPropagation::Bidirectional),
        Some(other) => Err(format!("invalid MountPropagation mode: {other:?}")),
    }
}

/// The kubelet's `resolveRecursiveReadOnly`.
pub(crate) fn resolve_recursive_read_only(
    mount: &VolumeMount,
    runtime_supports: bool,
) -> Result<bool, String> {
    let mode = match mount.recursive_read_only.as_deref() {
        None | Some("Disabled") => return Ok(false),
        Some(m) => m,
    };
    if !mount.read_only.unwrap_or(false) {
        return Err(format!(
            "volume {:?} requested recursive read-only mode, but it is not read-only",
            mount.name
        ));
    }
    if let Some(p) = mount.mount_propagation.as_deref()
        && p != "None"
    {
        return Err(format!(
            "volume {:?} requested recursive read-only mode, but it is not compatible with propagation {p:?}",
            mount.name
        ));
    }
    match mode {
        "IfPossible" => Ok(runtime_supports),
        "Enabled" if runtime_supports => Ok(true),
        "Enabled" => Err(format!(
            "volume {:?} requested recursive read-only mode, but it is not supported by the runtime",
            mount.name
        )),
        other => Err(format!("unknown recursive read-only mode {other:?}")),
    }
}

/// `ExpandContainerVolumeMounts`: `$(VAR)` references of a `subPathExpr` replaced from the
/// container's environment; `$$` is a literal `$`. A variable that is unset or empty is an
/// error (`missing value for A, B`), so a typo never mounts the volume's root.
pub fn expand_sub_path_expr(expr: &str, env: &[(String, String)]) -> Result<String, String> {
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut out = String::with_capacity(expr.len());
    let mut missing = std::collections::BTreeSet::new();
    let mut rest = expr;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(')
            && let Some(end) = body.find(')')
        {
            let name = &body[..end];
            match lookup(name) {
                Some(v) if !v.is_empty() => out.push_str(v),
                _ => {
                    missing.insert(name.to_owned());
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "missing value for {}",
            missing.into_iter().collect::<Vec<_>>().join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vo_16_sub_path_expr_expands_from_the_environment() {
        let env = vec![
            ("POD_NAME".to_owned(), "web-1".to_owned()),
            ("EMPTY".to_owned(), String::new()),
        ];
        assert_eq!(
            expand_sub_path_expr("logs/$(POD_NAME)", &env).unwrap(),
            "logs/web-1"
        );
        assert_eq!(
            expand_sub_path_expr("$$(POD_NAME)", &env).unwrap(),
            "$(POD_NAME)"
        );
        assert_eq!(expand_sub_path_expr("a$b", &env).unwrap(), "a$b");
        assert_eq!(
            expand_sub_path_expr("$(NOPE)/$(EMPTY)", &env).unwrap_err(),
            "missing value for EMPTY, NOPE"
        );
    }

    #[test]
    fn propagation_and_recursive_read_only() {
        assert_eq!(
            translate_propagation(None).unwrap(),
            MountPropagation::Private
        );
        assert_eq!(
            translate_propagation(Some("HostToContainer")).unwrap(),
            MountPropagation::HostToContainer
        );
        assert!(translate_propagation(Some("Sideways")).is_err());
        let m = |ro: bool, rro: &str| VolumeMount {
            name: "v".into(),
            read_only: Some(ro),
            recursive_read_only: Some(rro.into()),
            ..Default::default()
        };
        assert!(!resolve_recursive_read_only(&m(true, "IfPossible"), false).unwrap());
        assert!(resolve_recursive_read_only(&m(true, "IfPossible"), true).unwrap());
        assert!(resolve_recursive_read_only(&m(true, "Enabled"), false).is_err());
        assert!(resolve_recursive_read_only(&m(false, "Enabled"), true).is_err());
    }
}
