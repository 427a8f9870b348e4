//! Security settings: Linux namespaces (`kuberuntime/util` `NamespacesForPod`), the
//! container's effective security context (`securitycontext.DetermineEffectiveSecurityContext`,
//! `kuberuntime/security_context.go`), seccomp and AppArmor profiles
//! (`kuberuntime_security_profile.go`) and the runAsNonRoot check
//! (`kuberuntime_container_linux.go` `verifyRunAsNonRoot`).

use super::FieldError;
use cri_client::v1;
use k8s_openapi::api::core::v1::{
    AppArmorProfile, Capabilities, Container, Pod, PodSecurityContext, SELinuxOptions,
    SeccompProfile,
};
use std::path::Path;

/// `/proc` paths the kubelet asks the runtime to mask unless `procMount: Unmasked`
/// (`securitycontext/util.go`, kept in sync with moby).
const DEFAULT_MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// `/proc` paths the kubelet asks the runtime to mount read-only unless `procMount: Unmasked`.
const DEFAULT_READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Network, PID and IPC namespaces of a pod: `NODE` for `hostNetwork`/`hostPID`/`hostIPC`;
/// otherwise the pod's own network and IPC namespaces, and a PID namespace per container
/// unless `shareProcessNamespace` puts them in the pod's (the CRI's `CONTAINER` mode).
pub(crate) fn namespace_options(pod: &Pod) -> v1::NamespaceOption {
    let spec = pod.spec.as_ref();
    let flag = |f: fn(&k8s_openapi::api::core::v1::PodSpec) -> Option<bool>| {
        spec.and_then(f).unwrap_or(false)
    };
    let node_or_pod = |on: bool| {
        if on {
            v1::NamespaceMode::Node
        } else {
            v1::NamespaceMode::Pod
        }
    };
    let pid = if flag(|s| s.host_pid) {
        v1::NamespaceMode::Node
    } else if flag(|s| s.share_process_namespace) {
        v1::NamespaceMode::Pod
    } else {
        v1::NamespaceMode::Container
    };
    v1::NamespaceOption {
        network: node_or_pod(flag(|s| s.host_network)) as i32,
        pid: pid as i32,
        ipc: node_or_pod(flag(|s| s.host_ipc)) as i32,
        ..Default::default()
    }
}

/// The pod-level security context of the sandbox (`generatePodSandboxLinuxConfig`).
///
/// The sandbox is privileged when any container is; its seccomp profile is always
/// `RuntimeDefault` (the pause process needs no syscalls, kubernetes#84623). Namespace
/// options are always set: the kubelet sets them whenever `spec.securityContext` is
/// present, which API defaulting guarantees.
pub(crate) fn sandbox_security_context(
    pod: &Pod,
) -> Result<v1::LinuxSandboxSecurityContext, FieldError> {
    let psc = pod_security_context(pod);
    let mut sc = v1::LinuxSandboxSecurityContext {
        namespace_options: Some(namespace_options(pod)),
        privileged: has_privileged_container(pod),
        seccomp: Some(v1::SecurityProfile {
            profile_type: v1::security_profile::ProfileType::RuntimeDefault as i32,
            ..Default::default()
        }),
        ..Default::default()
    };
    if let Some(psc) = psc {
        sc.run_as_user = psc.run_as_user.map(|value| v1::Int64Value { value });
        sc.run_as_group = psc.run_as_group.map(|value| v1::Int64Value { value });
        sc.supplemental_groups = supplemental_groups(psc);
        sc.supplemental_groups_policy = supplemental_groups_policy(psc)?;
        sc.selinux_options = psc.se_linux_options.as_ref().map(selinux_option);
    }
    Ok(sc)
}

/// Runtime-side options for a container's security context.
pub(crate) struct ContainerSecurityInputs<'a> {
    pub image_user: Option<i64>,
    pub image_username: Option<&'a str>,
    pub seccomp_profile_root: &'a Path,
    pub seccomp_default: bool,
}

/// The merged view of the pod's and the container's security contexts: the container's
/// setting wins where both have one.
struct Effective<'a> {
    run_as_user: Option<i64>,
    run_as_group: Option<i64>,
    run_as_non_root: Option<bool>,
    privileged: bool,
    read_only_root_filesystem: bool,
    allow_privilege_escalation: Option<bool>,
    capabilities: Option<&'a Capabilities>,
    proc_mount: Option<&'a str>,
    se_linux_options: Option<&'a SELinuxOptions>,
    seccomp_profile: Option<&'a SeccompProfile>,
    app_armor_profile: Option<&'a AppArmorProfile>,
}

fn effective<'a>(pod: &'a Pod, container: &'a Container) -> Effective<'a> {
    let psc = pod_security_context(pod);
    let csc = container.security_context.as_ref();
    Effective {
        run_as_user: csc
            .and_then(|c| c.run_as_user)
            .or(psc.and_then(|p| p.run_as_user)),
        run_as_group: csc
            .and_then(|c| c.run_as_group)
            .or(psc.and_then(|p| p.run_as_group)),
        run_as_non_root: csc
            .and_then(|c| c.run_as_non_root)
            .or(psc.and_then(|p| p.run_as_non_root)),
        privileged: csc.and_then(|c| c.privileged).unwrap_or(false),
        read_only_root_filesystem: csc
            .and_then(|c| c.read_only_root_filesystem)
            .unwrap_or(false),
        allow_privilege_escalation: csc.and_then(|c| c.allow_privilege_escalation),
        capabilities: csc.and_then(|c| c.capabilities.as_ref()),
        proc_mount: csc.and_then(|c| c.proc_mount.as_deref()),
        se_linux_options: csc
            .and_then(|c| c.se_linux_options.as_ref())
            .or(psc.and_then(|p| p.se_linux_options.as_ref())),
        seccomp_profile: csc
            .and_then(|c| c.seccomp_profile.as_ref())
            .or(psc.and_then(|p| p.seccomp_profile.as_ref())),
        app_armor_profile: csc
            .and_then(|c| c.app_armor_profile.as_ref())
            .or(psc.and_then(|p| p.app_armor_profile.as_ref())),
    }
}

/// `verifyRunAsNonRoot`: with `runAsNonRoot: true`, refuse a container that would run as
/// uid 0, whether set in the spec or taken from the image. A non-numeric image user cannot
/// be checked and is refused too; an unknown image user is let through (the kubelet only
/// checks what the image config says).
pub(crate) fn verify_run_as_non_root(
    pod: &Pod,
    container: &Container,
    image_user: Option<i64>,
    image_username: Option<&str>,
) -> Result<(), FieldError> {
    let eff = effective(pod, container);
    if eff.run_as_non_root != Some(true) {
        return Ok(());
    }
    let field = "securityContext.runAsNonRoot";
    match (eff.run_as_user, image_user, image_username) {
        (Some(0), _, _) => Err(FieldError::new(
            field,
            "container's runAsUser breaks non-root policy",
        )),
        (Some(_), _, _) => Ok(()),
        (None, Some(0), _) => Err(FieldError::new(
            field,
            "container has runAsNonRoot and image will run as root",
        )),
        (None, None, Some(name)) if !name.is_empty() => Err(FieldError::new(
            field,
            format!(
                "container has runAsNonRoot and image has non-numeric user ({name}), cannot verify user is non-root"
            ),
        )),
        _ => Ok(()),
    }
}

/// The container's CRI security context (`determineEffectiveSecurityContext`).
///
/// `no_new_privs` is set only by an explicit `allowPrivilegeEscalation: false`
/// (`AddNoNewPrivileges`): escalation is allowed by default. A privileged container or one
/// adding `CAP_SYS_ADMIN` can escalate anyway; the API server refuses `false` together with
/// either, and here such a container simply does not get `no_new_privs`.
pub(crate) fn container_security_context(
    pod: &Pod,
    container: &Container,
    inputs: &ContainerSecurityInputs<'_>,
) -> Result<v1::LinuxContainerSecurityContext, FieldError> {
    let eff = effective(pod, container);
    let mut sc = v1::LinuxContainerSecurityContext {
        run_as_user: eff.run_as_user.map(|value| v1::Int64Value { value }),
        run_as_group: eff.run_as_group.map(|value| v1::Int64Value { value }),
        privileged: eff.privileged,
        readonly_rootfs: eff.read_only_root_filesystem,
        capabilities: eff.capabilities.map(|c| v1::Capability {
            add_capabilities: c.add.clone().unwrap_or_default(),
            drop_capabilities: c.drop.clone().unwrap_or_default(),
            ..Default::default()
        }),
        selinux_options: eff.se_linux_options.map(selinux_option),
        namespace_options: Some(namespace_options(pod)),
        ..Default::default()
    };
    // The image's user stands in for an unset runAsUser, so the runtime and the non-root
    // check agree on who runs.
    if sc.run_as_user.is_none() {
        match inputs.image_user {
            Some(value) => sc.run_as_user = Some(v1::Int64Value { value }),
            None => sc.run_as_username = inputs.image_username.unwrap_or_default().to_owned(),
        }
    }
    if let Some(psc) = pod_security_context(pod) {
        sc.supplemental_groups = supplemental_groups(psc);
        sc.supplemental_groups_policy = supplemental_groups_policy(psc)?;
    }
    sc.seccomp = Some(seccomp_profile(
        eff.seccomp_profile,
        inputs.seccomp_profile_root,
        inputs.seccomp_default,
    )?);
    if let Some(profile) = eff.app_armor_profile {
        let (profile, deprecated) = app_armor_profile(profile)?;
        sc.apparmor = Some(profile);
        // containerd 1.6 only reads the deprecated string form; the kubelet sends both.
        #[allow(deprecated)]
        {
            sc.apparmor_profile = deprecated;
        }
    }
    let has_sys_admin = eff
        .capabilities
        .and_then(|c| c.add.as_ref())
        .is_some_and(|add| add.iter().any(|c| c == "SYS_ADMIN" || c == "CAP_SYS_ADMIN"));
    sc.no_new_privs =
        eff.allow_privilege_escalation == Some(false) && !eff.privileged && !has_sys_admin;
    if eff.proc_mount != Some("Unmasked") {
        sc.masked_paths = DEFAULT_MASKED_PATHS.iter().map(|p| p.to_string()).collect();
        sc.readonly_paths = DEFAULT_READONLY_PATHS
            .iter()
            .map(|p| p.to_string())
            .collect();
    }
    Ok(sc)
}

fn pod_security_context(pod: &Pod) -> Option<&PodSecurityContext> {
    pod.spec.as_ref()?.security_context.as_ref()
}

/// `HasPrivilegedContainer`: any init, regular or ephemeral container with `privileged: true`.
fn has_privileged_container(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let privileged = |sc: Option<&k8s_openapi::api::core::v1::SecurityContext>| {
        sc.and_then(|sc| sc.privileged).unwrap_or(false)
    };
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .any(|c| privileged(c.security_context.as_ref()))
        || spec
            .ephemeral_containers
            .iter()
            .flatten()
            .any(|c| privileged(c.security_context.as_ref()))
}

/// `fsGroup` first, then `supplementalGroups`, as the kubelet appends them.
fn supplemental_groups(psc: &PodSecurityContext) -> Vec<i64> {
    psc.fs_group
        .into_iter()
        .chain(psc.supplemental_groups.iter().flatten().copied())
        .collect()
}

fn supplemental_groups_policy(psc: &PodSecurityContext) -> Result<i32, FieldError> {
    match psc.supplemental_groups_policy.as_deref() {
        None | Some("Merge") => Ok(v1::SupplementalGroupsPolicy::Merge as i32),
        Some("Strict") => Ok(v1::SupplementalGroupsPolicy::Strict as i32),
        Some(other) => Err(FieldError::new(
            "spec.securityContext.supplementalGroupsPolicy",
            format!("unsupported supplementalGroupsPolicy: {other}"),
        )),
    }
}

fn selinux_option(o: &SELinuxOptions) -> v1::SeLinuxOption {
    v1::SeLinuxOption {
        user: o.user.clone().unwrap_or_default(),
        role: o.role.clone().unwrap_or_default(),
        r#type: o.type_.clone().unwrap_or_default(),
        level: o.level.clone().unwrap_or_default(),
    }
}

/// `getSeccompProfile`: the container's profile, else the pod's, else `RuntimeDefault`
/// when the kubelet's `seccompDefault` is on and `Unconfined` otherwise. A `Localhost`
/// profile is a path under `seccomp_profile_root` (`<root dir>/seccomp`).
fn seccomp_profile(
    profile: Option<&SeccompProfile>,
    root: &Path,
    seccomp_default: bool,
) -> Result<v1::SecurityProfile, FieldError> {
    use v1::security_profile::ProfileType;
    let of = |t: ProfileType| v1::SecurityProfile {
        profile_type: t as i32,
        ..Default::default()
    };
    let Some(profile) = profile else {
        return Ok(of(if seccomp_default {
            ProfileType::RuntimeDefault
        } else {
            ProfileType::Unconfined
        }));
    };
    match profile.type_.as_str() {
        "RuntimeDefault" => Ok(of(ProfileType::RuntimeDefault)),
        "Localhost" => match profile.localhost_profile.as_deref() {
            Some(name) if !name.is_empty() => Ok(v1::SecurityProfile {
                profile_type: ProfileType::Localhost as i32,
                localhost_ref: root.join(name).to_string_lossy().into_owned(),
            }),
            _ => Err(FieldError::new(
                "securityContext.seccompProfile.localhostProfile",
                "localhostProfile must be set if seccompProfile type is Localhost.",
            )),
        },
        _ => Ok(of(ProfileType::Unconfined)),
    }
}

/// `getAppArmorProfile` for the `appArmorProfile` fields (container over pod), with the
/// deprecated string form the kubelet also sends.
fn app_armor_profile(
    profile: &AppArmorProfile,
) -> Result<(v1::SecurityProfile, String), FieldError> {
    use v1::security_profile::ProfileType;
    let field = "securityContext.appArmorProfile";
    let of = |t: ProfileType| v1::SecurityProfile {
        profile_type: t as i32,
        ..Default::default()
    };
    match profile.type_.as_str() {
        "RuntimeDefault" => Ok((of(ProfileType::RuntimeDefault), "runtime/default".into())),
        "Unconfined" => Ok((of(ProfileType::Unconfined), "unconfined".into())),
        "Localhost" => match profile.localhost_profile.as_deref() {
            Some(name) if !name.is_empty() => Ok((
                v1::SecurityProfile {
                    profile_type: ProfileType::Localhost as i32,
                    localhost_ref: name.to_owned(),
                },
                format!("localhost/{name}"),
            )),
            _ => Err(FieldError::new(
                field,
                "missing localhost apparmor profile name",
            )),
        },
        other => Err(FieldError::new(
            field,
            format!("unknown apparmor profile type: {other:?}"),
        )),
    }
}
