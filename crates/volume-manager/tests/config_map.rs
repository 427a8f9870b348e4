//! configMap volumes through the manager (disk-backed: no mount needed): files, items,
//! modes, optional keys and objects, updates of the object at resync, the FailedMount
//! messages.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::*;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, KeyToPath, Volume};
use volume_manager::Error;

fn cm_volume(
    name: &str,
    cm: &str,
    items: Option<Vec<KeyToPath>>,
    optional: Option<bool>,
) -> Volume {
    Volume {
        name: name.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: cm.into(),
            items,
            optional,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn vo_08_config_map_files_and_items() {
    let root = TestRoot::new();
    let mut cm = config_map("cfg", &[("a", "1"), ("b", "2")]);
    cm.binary_data = Some([("bin".to_owned(), ByteString(vec![0, 159, 146]))].into());
    root.objects.set_config_map(cm);
    let pod = pod(
        "uid-cm",
        vec![
            cm_volume("all", "cfg", None, None),
            cm_volume(
                "some",
                "cfg",
                Some(vec![KeyToPath {
                    key: "a".into(),
                    path: "dir/x".into(),
                    mode: Some(0o400),
                    ..Default::default()
                }]),
                None,
            ),
        ],
        vec![],
    );
    root.manager.mount_pod(&pod).unwrap();
    let dirs = root.manager.root().pod("uid-cm").unwrap();
    let all = dirs.volume_dir("kubernetes.io/configmap", "all").unwrap();
    assert!(all.ends_with("pods/uid-cm/volumes/kubernetes.io~configmap/all"));
    for (key, content) in [("a", &b"1"[..]), ("b", b"2"), ("bin", &[0, 159, 146])] {
        assert_eq!(
            fs::read_link(all.join(key)).unwrap(),
            Path::new("..data").join(key)
        );
        assert_eq!(fs::read(all.join(key)).unwrap(), content);
        assert_eq!(mode(&all.join(key)), 0o644, "defaultMode 0644 (420)");
    }
    let some = dirs.volume_dir("kubernetes.io/configmap", "some").unwrap();
    let names: Vec<_> = fs::read_dir(&some)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".."))
        .collect();
    assert_eq!(names, ["dir"], "only the listed key");
    assert_eq!(fs::read(some.join("dir/x")).unwrap(), b"1");
    assert_eq!(mode(&some.join("dir/x")), 0o400);
    assert_eq!(mode(&some.join("dir")), 0o755);
    root.manager.unmount_pod("uid-cm").unwrap();
    assert!(!dirs.dir().exists());
}

#[test]
fn vo_09_missing_keys_and_objects() {
    let root = TestRoot::new();
    root.objects
        .set_config_map(config_map("cfg", &[("a", "1")]));
    let missing_key = |optional| {
        cm_volume(
            "v",
            "cfg",
            Some(vec![
                KeyToPath {
                    key: "a".into(),
                    path: "a".into(),
                    ..Default::default()
                },
                KeyToPath {
                    key: "nope".into(),
                    path: "nope".into(),
                    ..Default::default()
                },
            ]),
            optional,
        )
    };

    // A missing key, not optional: a mount error naming the key.
    let p = pod("uid-1", vec![missing_key(None)], vec![]);
    let err = root.manager.mount_pod(&p).unwrap_err();
    assert_eq!(err.unmounted_volumes(), ["v"]);
    let text = err.to_string();
    assert!(
        text.contains("configmap references non-existent config key: nope"),
        "{text}"
    );
    assert!(text.contains("default/web"), "{text}");
    assert!(
        text.contains("spec.volumes[0].configMap.items[1].key"),
        "{text}"
    );

    // Optional: the key is skipped.
    let p = pod("uid-2", vec![missing_key(Some(true))], vec![]);
    root.manager.mount_pod(&p).unwrap();
    let dir = root
        .manager
        .root()
        .pod("uid-2")
        .unwrap()
        .volume_dir("kubernetes.io/configmap", "v")
        .unwrap();
    assert!(dir.join("a").exists());
    assert!(fs::symlink_metadata(dir.join("nope")).is_err());

    // A missing ConfigMap, not optional: FailedMount with the kubelet's message.
    let p = pod("uid-3", vec![cm_volume("v", "absent", None, None)], vec![]);
    let err = root.manager.mount_pod(&p).unwrap_err();
    let Error::PodNotMounted {
        failures,
        unmounted,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(unmounted, &["v"]);
    assert!(
        failures[0].to_string().ends_with(
            "MountVolume.SetUp failed for volume \"v\" : configmap \"absent\" not found"
        ),
        "{}",
        failures[0]
    );
    // Containers cannot get mounts of an unmounted volume.
    let p = pod(
        "uid-3",
        vec![cm_volume("v", "absent", None, None)],
        vec![mount("v", "/v")],
    );
    assert!(
        root.manager
            .container_mounts(&p, app(&p), &Default::default())
            .is_err()
    );

    // Optional: an empty volume, and the pod may run.
    let p = pod(
        "uid-4",
        vec![cm_volume("v", "absent", None, Some(true))],
        vec![],
    );
    root.manager.mount_pod(&p).unwrap();
    let dir = root
        .manager
        .root()
        .pod("uid-4")
        .unwrap()
        .volume_dir("kubernetes.io/configmap", "v")
        .unwrap();
    assert!(dir.join("..data").exists());
    for uid in ["uid-1", "uid-2", "uid-3", "uid-4"] {
        root.manager.unmount_pod(uid).unwrap();
    }
}

/// The agent replaces the objects of its `InMemoryObjects` at each scan of its sources
/// (nodelet: the ConfigMaps beside the static manifests); the volume follows at the next
/// resync of the pod.
#[test]
fn vo_10_an_updated_config_map_reaches_the_files_at_the_next_resync() {
    let root = TestRoot::new();
    root.objects
        .set_config_map(config_map("cfg", &[("key", "one")]));
    let p = pod("uid-upd", vec![cm_volume("v", "cfg", None, None)], vec![]);
    root.manager.mount_pod(&p).unwrap();
    let dir = root
        .manager
        .root()
        .pod("uid-upd")
        .unwrap()
        .volume_dir("kubernetes.io/configmap", "v")
        .unwrap();
    assert_eq!(fs::read_to_string(dir.join("key")).unwrap(), "one");
    let before = fs::read_link(dir.join("..data")).unwrap();

    // mount_pod alone does not rewrite a mounted volume; the periodic resync does.
    root.objects
        .set_config_map(config_map("cfg", &[("key", "two")]));
    root.manager.mount_pod(&p).unwrap();
    assert_eq!(fs::read_to_string(dir.join("key")).unwrap(), "one");
    assert!(root.manager.resync_pod(&p).unwrap().is_empty());
    assert_eq!(fs::read_to_string(dir.join("key")).unwrap(), "two");
    let after = fs::read_link(dir.join("..data")).unwrap();
    assert_ne!(
        before, after,
        "..data points to a new timestamped directory"
    );
    assert!(!dir.join(&before).exists(), "the old directory is gone");

    // A resync with nothing changed swaps nothing.
    root.manager.resync_pod(&p).unwrap();
    assert_eq!(fs::read_link(dir.join("..data")).unwrap(), after);

    // The object deleted: the volume keeps its last content; the failure is reported.
    root.objects.remove_config_map("default", "cfg");
    let failures = root.manager.resync_pod(&p).unwrap();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0]
            .to_string()
            .contains("configmap \"cfg\" not found")
    );
    assert_eq!(fs::read_to_string(dir.join("key")).unwrap(), "two");
    root.manager.unmount_pod("uid-upd").unwrap();
}

#[test]
fn vo_19_mount_wait_times_out_with_the_kubelets_message() {
    let root = TestRoot::new();
    let p = pod(
        "uid-wait",
        vec![
            cm_volume("b", "absent", None, None),
            cm_volume("a", "absent-too", None, None),
        ],
        vec![],
    );
    let err = root
        .manager
        .wait_for_attach_and_mount(&p, Duration::from_millis(50), Duration::from_millis(10))
        .unwrap_err();
    assert!(matches!(err, Error::MountTimeout { .. }), "{err}");
    assert_eq!(err.unmounted_volumes(), ["a", "b"]);
    assert_eq!(
        volume_manager::failed_mount_event_message(err.unmounted_volumes()),
        "Unable to attach or mount volumes: unmounted volumes=[a b], unattached volumes=[], failed to process volumes=[]: context deadline exceeded"
    );
    assert!(err.to_string().contains("unmounted volumes=[a b]"));
    assert_eq!(volume_manager::MOUNT_TIMEOUT, Duration::from_secs(123));

    // Once the objects exist, the same wait succeeds.
    root.objects.set_config_map(config_map("absent", &[]));
    root.objects.set_config_map(config_map("absent-too", &[]));
    root.manager
        .wait_for_attach_and_mount(&p, Duration::from_secs(5), Duration::from_millis(10))
        .unwrap();
    root.manager.unmount_pod("uid-wait").unwrap();
}
