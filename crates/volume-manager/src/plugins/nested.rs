//! Mount points for volumes mounted inside a configMap, secret, downwardAPI or projected
//! volume (`pkg/volume/util/nested_volumes.go`, `MakeNestedMountpoints`).
//!
//! A container that mounts a secret at `/etc/app` and another volume at `/etc/app/tls`
//! needs a `tls` directory inside the secret volume: the runtime mounts the secret
//! read-only first and could not create the mount point for the second one. The kubelet
//! therefore creates, in the volume's root beside `..data`, a directory (`MkdirAll`, 0755
//! under the umask) for every mount point directly below one of the volume's own mount
//! points, before it writes the files. A file of the volume with the same name is then
//! hidden by the directory.
//!
//! The directories are created one component at a time below the volume's root with
//! `mkdirat` and opened with `O_NOFOLLOW`: a component that is a symlink (the link of a key)
//! or a file ends the walk, so nothing is ever created outside the volume.

use std::fs;
use std::path::Path;

use k8s_openapi::api::core::v1::{Pod, VolumeMount};
use rustix::fs::{Mode, OFlags};

use super::VolumeContext;
use crate::Result;

/// The mode of a nested mount point before the umask (`os.MkdirAll(…, 0755)`).
const NESTED_DIR_MODE: u32 = 0o755;

/// `getNestedMountpoints`: for every container of the pod (init, regular and ephemeral),
/// the mount points directly below a mount point of the volume `volume`, relative to it
/// (`/etc/app` and `/etc/app/tls` give `tls`; `/etc/app/tls/ca` below that is left to the
/// volume mounted at `/etc/app/tls`). Mount paths are cleaned lexically as Go's
/// `filepath.Clean` cleans them, and the mount points of each container are taken in
/// sorted order, as the kubelet takes them.
///
/// Errors, naming the mount path, when a mount point of the volume is relative and leads
/// above its root (`../x`), or when a nested path is not made of normal path components.
pub fn nested_mount_points(volume: &str, pod: &Pod) -> std::result::Result<Vec<String>, String> {
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(Vec::new());
    };
    let mut lists: Vec<&[VolumeMount]> = Vec::new();
    for c in spec.init_containers.iter().flatten() {
        lists.push(c.volume_mounts.as_deref().unwrap_or(&[]));
    }
    for c in &spec.containers {
        lists.push(c.volume_mounts.as_deref().unwrap_or(&[]));
    }
    for c in spec.ephemeral_containers.iter().flatten() {
        lists.push(c.volume_mounts.as_deref().unwrap_or(&[]));
    }
    let mut nested = Vec::new();
    for mounts in lists {
        let mut all: Vec<String> = mounts.iter().map(|m| clean(&m.mount_path)).collect();
        all.sort();
        let mine = mounts
            .iter()
            .filter(|m| m.name == volume)
            .map(|m| clean(&m.mount_path));
        for my in mine {
            if my.starts_with("../") || my == ".." {
                return Err(format!("invalid container mount point {my}"));
            }
            let prefix = format!("{my}/");
            let mut previous: Vec<String> = Vec::new();
            for mount_point in &all {
                if !mount_point.starts_with(&prefix)
                    || previous.iter().any(|p| mount_point.starts_with(p.as_str()))
                {
                    continue;
                }
                previous.push(format!("{mount_point}/"));
                let relative = &mount_point[prefix.len()..];
                if relative
                    .split('/')
                    .any(|c| pod_plan::validation::check_path_component(c).is_err())
                {
                    return Err(format!("invalid container mount point {mount_point}"));
                }
                nested.push(relative.to_owned());
            }
        }
    }
    Ok(nested)
}

/// `MakeNestedMountpoints`: creates the nested mount points of the volume in `dir`, its
/// root. Errors name the volume's field; a component that is not a directory ends that
/// path quietly (the runtime then resolves the mount point itself).
pub(crate) fn make_nested_mount_points(ctx: &VolumeContext<'_>, dir: &Path) -> Result<()> {
    let nested = nested_mount_points(&ctx.volume.name, ctx.pod).map_err(|m| {
        ctx.fail(
            "",
            format!("unable to create nested volume mountpoints: {m}"),
        )
    })?;
    if nested.is_empty() {
        return Ok(());
    }
    let root = fs::File::open(dir).map_err(|e| ctx.io("open", dir, e))?;
    for relative in nested {
        make_dir_below(&root, &relative).map_err(|e| {
            ctx.io(
                "create the nested volume mount point",
                &dir.join(&relative),
                e,
            )
        })?;
    }
    Ok(())
}

/// `mkdir -p` of `relative` below `root`, one component at a time, never through a
/// symlink.
fn make_dir_below(root: &fs::File, relative: &str) -> std::io::Result<()> {
    let mut parent = rustix::fs::openat(
        root,
        ".",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    for name in relative.split('/') {
        match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(NESTED_DIR_MODE)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        parent = match rustix::fs::openat(
            &parent,
            name,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            // A symlink (`O_PATH | O_NOFOLLOW` opens the link itself, which is no directory)
            // or a file: leave it.
            Err(rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
    }
    Ok(())
}

/// Go's `filepath.Clean`, lexically: repeated slashes and `.` dropped, `..` applied to what
/// precedes it (kept at the start of a relative path, dropped at the root), `.` for an
/// empty result.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, EphemeralContainer, PodSpec};

    fn mounts(list: &[(&str, &str)]) -> Option<Vec<VolumeMount>> {
        Some(
            list.iter()
                .map(|(name, path)| VolumeMount {
                    name: (*name).into(),
                    mount_path: (*path).into(),
                    ..Default::default()
                })
                .collect(),
        )
    }

    fn pod(containers: &[&[(&str, &str)]]) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers: containers
                    .iter()
                    .enumerate()
                    .map(|(i, m)| Container {
                        name: format!("c{i}"),
                        volume_mounts: mounts(m),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn clean_is_gos_filepath_clean() {
        for (path, cleaned) in [
            ("/etc/app/", "/etc/app"),
            ("/etc//app/./tls", "/etc/app/tls"),
            ("/etc/app/../x", "/etc/x"),
            ("/../x", "/x"),
            ("/", "/"),
            ("a/../../b", "../b"),
            ("", "."),
            ("..", ".."),
        ] {
            assert_eq!(clean(path), cleaned, "{path:?}");
        }
    }

    /// Cases from the kubelet's `TestGetNestedMountpoints`, and more.
    #[test]
    fn nested_mount_points_are_the_kubelets() {
        let p = pod(&[&[("vol1", "/dir"), ("vol2", "/dir/nested")]]);
        assert_eq!(nested_mount_points("vol1", &p).unwrap(), ["nested"]);
        assert!(nested_mount_points("vol2", &p).unwrap().is_empty());

        // Only the first level below the volume; sorted, so `nested.vol` and `nested2`
        // are not taken for children of `nested`.
        let p = pod(&[&[
            ("vol1", "/dir"),
            ("vol2", "/dir/nested"),
            ("vol3", "/dir/nested/double"),
            ("vol4", "/dir/nested.vol"),
            ("vol5", "/dir/nested2"),
            ("vol6", "/dir/nested-vol"),
        ]]);
        assert_eq!(
            nested_mount_points("vol1", &p).unwrap(),
            ["nested", "nested-vol", "nested.vol", "nested2"]
        );
        assert_eq!(nested_mount_points("vol2", &p).unwrap(), ["double"]);

        // Every container counts, ephemeral ones too; unclean paths are cleaned.
        let mut p = pod(&[
            &[("vol1", "/dir/")],
            &[("vol1", "/other"), ("x", "/other//a/")],
        ]);
        p.spec.as_mut().unwrap().ephemeral_containers = Some(vec![EphemeralContainer {
            name: "debug".into(),
            volume_mounts: mounts(&[("vol1", "/dbg"), ("y", "/dbg/b/c")]),
            ..Default::default()
        }]);
        assert_eq!(nested_mount_points("vol1", &p).unwrap(), ["a", "b/c"]);

        // A volume mounted at the root has nothing nested (`//` prefixes nothing).
        let p = pod(&[&[("vol1", "/"), ("x", "/etc")]]);
        assert!(nested_mount_points("vol1", &p).unwrap().is_empty());
    }

    #[test]
    fn mount_points_above_the_root_are_refused() {
        let p = pod(&[&[("vol1", "../dir"), ("x", "../dir/a")]]);
        let err = nested_mount_points("vol1", &p).unwrap_err();
        assert_eq!(err, "invalid container mount point ../dir");
        // `..` itself, which the kubelet's `../` prefix test lets through.
        let p = pod(&[&[("vol1", ".."), ("x", "../../etc")]]);
        assert!(nested_mount_points("vol1", &p).is_err());
    }

    #[test]
    fn directories_are_made_below_the_root_and_never_through_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("link")).unwrap();
        fs::write(tmp.path().join("file"), b"x").unwrap();
        let root = fs::File::open(tmp.path()).unwrap();
        make_dir_below(&root, "a/b").unwrap();
        assert!(tmp.path().join("a/b").is_dir());
        make_dir_below(&root, "a/b").unwrap();
        make_dir_below(&root, "link/escape").unwrap();
        assert!(!outside.path().join("escape").exists());
        make_dir_below(&root, "file/x").unwrap();
        assert!(tmp.path().join("file").is_file());
    }
}
