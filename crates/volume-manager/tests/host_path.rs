//! hostPath volumes: the kubelet's type checks and messages, creation modes, and host data
//! left alone at teardown.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::*;
use k8s_openapi::api::core::v1::{HostPathVolumeSource, Volume};
use volume_manager::plugins::check_host_path_type;

fn host_path(name: &str, path: &std::path::Path, type_: &str) -> Volume {
    Volume {
        name: name.into(),
        host_path: Some(HostPathVolumeSource {
            path: path.to_string_lossy().into_owned(),
            type_: Some(type_.into()),
        }),
        ..Default::default()
    }
}

#[test]
fn vo_05_directory_type_on_a_missing_path_fails_to_mount() {
    let root = TestRoot::new();
    let missing = root.path.join("host/missing");
    let p = pod(
        "uid-hp",
        vec![host_path("data", &missing, "Directory")],
        vec![],
    );
    let err = root.manager.mount_pod(&p).unwrap_err();
    assert_eq!(err.unmounted_volumes(), ["data"]);
    let expected = format!(
        "MountVolume.SetUp failed for volume \"data\" : hostPath type check failed: {} is not a directory",
        missing.display()
    );
    assert!(err.to_string().contains(&expected), "{err}");
    assert!(!missing.exists());
    root.manager.unmount_pod("uid-hp").unwrap();
}

#[test]
fn vo_05_every_type_is_checked_with_the_kubelets_message() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    fs::write(&file, "x").unwrap();
    let dir = tmp.path();
    let sock = tmp.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let msg = |p: &std::path::Path, what: &str| {
        format!("hostPath type check failed: {} is not {what}", p.display())
    };
    assert_eq!(
        check_host_path_type(dir, "File").unwrap_err(),
        msg(dir, "a file")
    );
    assert_eq!(
        check_host_path_type(&file, "Directory").unwrap_err(),
        msg(&file, "a directory")
    );
    assert_eq!(
        check_host_path_type(&file, "Socket").unwrap_err(),
        msg(&file, "a socket file")
    );
    assert_eq!(
        check_host_path_type(&file, "CharDevice").unwrap_err(),
        msg(&file, "a character device")
    );
    assert_eq!(
        check_host_path_type(&file, "BlockDevice").unwrap_err(),
        msg(&file, "a block device")
    );
    assert_eq!(
        check_host_path_type(&file, "Weird").unwrap_err(),
        "Weird is an invalid volume type"
    );
    assert!(check_host_path_type(&sock, "Socket").is_ok());
    assert!(check_host_path_type(std::path::Path::new("/dev/null"), "CharDevice").is_ok());
    assert!(check_host_path_type(&file, "File").is_ok());
    assert!(check_host_path_type(&file, "").is_ok());
    assert!(check_host_path_type(&tmp.path().join("nothing"), "").is_ok());
}

#[test]
fn vo_06_or_create_types_create_with_kubelet_modes() {
    let root = TestRoot::new();
    let new_dir = root.path.join("host/a/b");
    let new_file = root.path.join("host/file");
    let orphan_file = root.path.join("host/no-parent/file");
    fs::create_dir_all(root.path.join("host")).unwrap();
    let p = pod(
        "uid-hp",
        vec![
            host_path("d", &new_dir, "DirectoryOrCreate"),
            host_path("f", &new_file, "FileOrCreate"),
        ],
        vec![mount("d", "/d"), mount("f", "/f")],
    );
    root.manager.mount_pod(&p).unwrap();
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert!(new_dir.is_dir());
    assert_eq!(mode(&new_dir), 0o755);
    assert_eq!(mode(new_dir.parent().unwrap()), 0o755);
    assert!(new_file.is_file());
    assert_eq!(mode(&new_file), 0o644);
    // Containers mount the host path itself.
    let mounts = root
        .manager
        .container_mounts(&p, app(&p), &Default::default())
        .unwrap();
    assert_eq!(mounts[0].host_path, new_dir);
    assert!(!mounts[0].selinux_relabel);

    // FileOrCreate does not create the parent.
    let p2 = pod(
        "uid-hp2",
        vec![host_path("f", &orphan_file, "FileOrCreate")],
        vec![],
    );
    let err = root.manager.mount_pod(&p2).unwrap_err();
    assert!(
        err.to_string().contains("No such file or directory"),
        "{err}"
    );
    assert!(!orphan_file.parent().unwrap().exists());
    root.manager.unmount_pod("uid-hp").unwrap();
    root.manager.unmount_pod("uid-hp2").unwrap();
}

#[test]
fn vo_07_host_data_is_left_intact_after_pod_deletion() {
    let root = TestRoot::new();
    let host = root.path.join("host-data");
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("keep"), "precious").unwrap();
    let p = pod(
        "uid-hp",
        vec![host_path("data", &host, "Directory")],
        vec![mount("data", "/data")],
    );
    root.manager.mount_pod(&p).unwrap();
    root.manager
        .container_mounts(&p, app(&p), &Default::default())
        .unwrap();
    root.manager.unmount_pod("uid-hp").unwrap();
    assert!(!root.manager.root().pod("uid-hp").unwrap().dir().exists());
    assert_eq!(fs::read_to_string(host.join("keep")).unwrap(), "precious");
}

#[test]
fn a_host_path_with_parent_elements_is_invalid() {
    let root = TestRoot::new();
    let p = pod(
        "uid-hp",
        vec![host_path("d", std::path::Path::new("/tmp/../etc"), "")],
        vec![],
    );
    let err = root.manager.mount_pod(&p).unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid HostPath `/tmp/../etc`: must not contain '..'"),
        "{err}"
    );
    root.manager.unmount_pod("uid-hp").unwrap();
}
