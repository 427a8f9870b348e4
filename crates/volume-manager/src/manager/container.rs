//! A container's mounts (the kubelet's `makeMounts` in `kl/kubelet_pods.go`).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path};

use k8s_openapi::api::core::v1::{Container, Pod};

use super::{VolumeManager, pod_full_name, pod_uid};
use crate::hosts::{
    ETC_HOSTS_MOUNT_NAME, ETC_HOSTS_PATH, managed_hosts_file_content, node_hosts_file_content,
};
use crate::mounts::{
    ContainerContext, ContainerMount, MountPropagation, expand_sub_path_expr,
    resolve_recursive_read_only, translate_propagation,
};
use crate::subpath::{self, WalkError};
use crate::{Error, Result, mountinfo};

impl VolumeManager {
    /// The mounts of one container of a mounted pod, in `volumeMounts` order, then
    /// `/etc/hosts` (the kubelet's `makeMounts`):
    ///
    /// - each volumeMount's volume must be mounted ([`VolumeManager::mount_pod`]);
    /// - a `subPath` (or `subPathExpr` expanded from `ctx.env`) must be relative without
    ///   `..`; it is opened inside the volume without following any symlink out of it
    ///   (missing directories are created with the volume's mode), bind-mounted onto
    ///   `pods/<uid>/volume-subpaths/<volume>/<container>/<index>` (read-only when the mount
    ///   is) and that path is returned. An escape, through a symlink the container planted
    ///   or otherwise, is an [`Error::ContainerMount`] (the worker's
    ///   `CreateContainerConfigError`) and nothing is mounted;
    /// - configMap, secret, downwardAPI and projected volumes are always read-only;
    /// - `/etc/hosts` is `pods/<uid>/etc-hosts`, written now (the kubelet's managed content,
    ///   or the node's file under a header for host-network pods), when the pod has IPs and
    ///   the container does not mount `/etc/hosts` itself.
    ///
    /// The termination-message file is not a volume: the pod worker makes it (kuberuntime's
    /// `startContainer` does in the kubelet).
    pub fn container_mounts(
        &self,
        pod: &Pod,
        container: &Container,
        ctx: &ContainerContext<'_>,
    ) -> Result<Vec<ContainerMount>> {
        let name = pod_full_name(pod);
        let uid = &pod_uid(pod)?;
        let _span = tracing::debug_span!("container_mounts", pod = %name, uid = %uid, container = %container.name).entered();
        let dirs = self.pod_dirs(uid)?;
        let fail = |field: String, message: String| Error::ContainerMount {
            pod: name.clone(),
            container: container.name.clone(),
            field,
            message,
        };
        if let Err(problem) = crate::layout::check_path_component(&container.name) {
            return Err(fail(
                "name".into(),
                format!("must be a valid DNS label: {problem}"),
            ));
        }
        let volumes = pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.as_deref())
            .unwrap_or(&[]);
        let mounted = self.mounted_volumes(uid);

        let mut mount_hosts = !ctx.pod_ips.is_empty();
        let mut mounts = Vec::new();
        let mut mount_table: Option<Vec<mountinfo::MountInfo>> = None;
        for (i, vm) in container.volume_mounts.iter().flatten().enumerate() {
            let field = format!("volumeMounts[{i}]");
            mount_hosts &= vm.mount_path != ETC_HOSTS_PATH;
            let volume = volumes.iter().find(|v| v.name == vm.name);
            let state = mounted
                .iter()
                .find(|m| m.name == vm.name && !m.reconstructed);
            let (Some(volume), Some(state)) = (volume, state) else {
                return Err(fail(
                    format!("{field}.name"),
                    format!(
                        "cannot find volume {:?} to mount into container {:?}",
                        vm.name, container.name
                    ),
                ));
            };
            let plugin = self
                .plugin_named(&state.plugin)
                .or_else(|| self.plugin_for(volume))
                .ok_or_else(|| fail(format!("{field}.name"), "no volume plugin matched".into()))?;
            let attributes = plugin.attributes(volume);
            let read_only = vm.read_only.unwrap_or(false) || attributes.read_only;
            let mut host_path = state.host_path.clone();

            let mut sub_path = vm.sub_path.clone().unwrap_or_default();
            if let Some(expr) = vm.sub_path_expr.as_deref().filter(|e| !e.is_empty()) {
                sub_path = expand_sub_path_expr(expr, ctx.env)
                    .map_err(|m| fail(format!("{field}.subPathExpr"), m))?;
            }
            if !sub_path.is_empty() {
                let sub_field = if vm.sub_path_expr.as_deref().is_some_and(|e| !e.is_empty()) {
                    format!("{field}.subPathExpr")
                } else {
                    format!("{field}.subPath")
                };
                if sub_path.starts_with('/') {
                    return Err(fail(
                        sub_field,
                        format!("error SubPath `{sub_path}` must not be an absolute path"),
                    ));
                }
                if Path::new(&sub_path)
                    .components()
                    .any(|c| c == Component::ParentDir)
                {
                    return Err(fail(
                        sub_field,
                        format!("unable to provision SubPath `{sub_path}`: must not contain '..'"),
                    ));
                }
                let perm = fs::metadata(&host_path)
                    .map(|m| m.mode() & 0o7777)
                    .map_err(|e| Error::io(&name, "stat", &host_path, e))?;
                let fd = subpath::safe_open(&host_path, &sub_path, Some(perm)).map_err(|e| {
                    // The details name host paths: they go to the log, not to the pod.
                    tracing::warn!(volume = %vm.name, sub_path = %sub_path, error = %e, escape = matches!(e, WalkError::Escape(_)), "failed to prepare subPath");
                    fail(
                        sub_field.clone(),
                        format!(
                            "failed to prepare subPath for volumeMount {:?} of container {:?}",
                            vm.name, container.name
                        ),
                    )
                })?;
                let target = dirs.subpath_target(&vm.name, &container.name, i)?;
                let table = match &mount_table {
                    Some(t) => t,
                    None => mount_table.insert(self.mounts()?),
                };
                subpath::bind_subpath(&fd, &target, read_only, table).map_err(|e| {
                    tracing::warn!(volume = %vm.name, target = %target.display(), error = %e, "failed to bind-mount subPath");
                    fail(
                        sub_field.clone(),
                        format!(
                            "failed to prepare subPath for volumeMount {:?} of container {:?}",
                            vm.name, container.name
                        ),
                    )
                })?;
                // The table changed: read it again for the next subPath.
                mount_table = None;
                host_path = target;
            }

            let propagation = translate_propagation(vm.mount_propagation.as_deref())
                .map_err(|m| fail(format!("{field}.mountPropagation"), m))?;
            let recursive_read_only =
                resolve_recursive_read_only(vm, ctx.runtime_supports_recursive_read_only).map_err(
                    |m| {
                        fail(
                            format!("{field}.recursiveReadOnly"),
                            format!("failed to resolve recursive read-only mode: {m}"),
                        )
                    },
                )?;
            let container_path = if vm.mount_path.starts_with('/') {
                vm.mount_path.clone()
            } else {
                format!("/{}", vm.mount_path)
            };
            mounts.push(ContainerMount {
                name: vm.name.clone(),
                container_path,
                host_path,
                read_only,
                recursive_read_only,
                propagation,
                selinux_relabel: attributes.managed && attributes.selinux_relabel,
            });
        }

        if mount_hosts {
            mounts.push(self.hosts_mount(pod, ctx, &name)?);
        }
        Ok(mounts)
    }

    /// `makeHostsMount`: writes `pods/<uid>/etc-hosts` (mode 0644) and mounts it at
    /// `/etc/hosts` ([`write_hosts_file`]).
    fn hosts_mount(
        &self,
        pod: &Pod,
        ctx: &ContainerContext<'_>,
        name: &str,
    ) -> Result<ContainerMount> {
        let spec = pod.spec.as_ref();
        let aliases = spec.and_then(|s| s.host_aliases.as_deref()).unwrap_or(&[]);
        let content = if spec.and_then(|s| s.host_network).unwrap_or(false) {
            let node_file = &self.config().node_hosts_file;
            let node =
                fs::read_to_string(node_file).map_err(|e| Error::io(name, "read", node_file, e))?;
            node_hosts_file_content(&node, aliases)
        } else {
            managed_hosts_file_content(ctx.pod_ips, ctx.hostname, ctx.host_domain, aliases)
        };
        let path = self.pod_dirs(&pod_uid(pod)?)?.etc_hosts();
        write_hosts_file(&path, &content)
            .map_err(|(action, at, e)| Error::io(name, action, at, e))?;
        Ok(ContainerMount {
            name: ETC_HOSTS_MOUNT_NAME.to_owned(),
            container_path: ETC_HOSTS_PATH.to_owned(),
            host_path: path,
            read_only: false,
            recursive_read_only: false,
            propagation: MountPropagation::Private,
            selinux_relabel: true,
        })
    }
}

/// Writes the pod's hosts file, never leaving it half-written: a file that already holds
/// `content` is left alone (every container start of a pod asks for the same file), and a
/// new content is staged beside it and renamed over it.
///
/// The kubelet rewrites the file in place at each container start: the file the pod's
/// running containers have bind-mounted is truncated, then written, so a write that fails
/// half-way (a full disk whose freed blocks another writer took first) leaves them a partial
/// `/etc/hosts`. Here a container already running keeps the file it was started with when
/// the content changes. The real disk-full test (FT-05) restarts a container on a full disk
/// and checks the file stays whole.
fn write_hosts_file(
    path: &Path,
    content: &str,
) -> std::result::Result<(), (&'static str, std::path::PathBuf, std::io::Error)> {
    if fs::read(path).is_ok_and(|current| current == content.as_bytes()) {
        return Ok(());
    }
    let staged = path.with_extension("new");
    let written = fs::write(&staged, content)
        .map_err(|e| ("write", staged.clone(), e))
        .and_then(|()| {
            fs::set_permissions(&staged, fs::Permissions::from_mode(0o644))
                .map_err(|e| ("chmod", staged.clone(), e))
        })
        .and_then(|()| fs::rename(&staged, path).map_err(|e| ("rename", path.to_path_buf(), e)));
    if written.is_err() {
        let _ = fs::remove_file(&staged);
    }
    written
}

#[cfg(test)]
mod hosts_file_tests {
    use super::*;

    #[test]
    fn an_unchanged_hosts_file_is_not_rewritten_and_a_new_one_replaces_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc-hosts");
        write_hosts_file(&path, "127.0.0.1\tlocalhost\n").unwrap();
        let first = fs::metadata(&path).unwrap();
        assert_eq!(first.permissions().mode() & 0o777, 0o644);
        // The same content again: the very same file, untouched (no truncation that a full
        // disk could leave behind).
        write_hosts_file(&path, "127.0.0.1\tlocalhost\n").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().ino(), first.ino());
        // A new content: a new file renamed over the old one, nothing staged left.
        write_hosts_file(&path, "10.0.0.1\tweb\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "10.0.0.1\tweb\n");
        assert_ne!(fs::metadata(&path).unwrap().ino(), first.ino());
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
