//! Real mounts on this machine (root): emptyDir on disk and in memory, secret and
//! downwardAPI tmpfs, subPath bind mounts and escape attempts, /etc/hosts, teardown and
//! restart recovery. Every test runs under its own temporary root and checks the kernel's
//! mount table; a guard unmounts whatever is left if a test fails.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use common::*;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, ConfigMapVolumeSource, DownwardAPIProjection, DownwardAPIVolumeFile,
    DownwardAPIVolumeSource, EmptyDirVolumeSource, HostAlias, ObjectFieldSelector, Pod,
    ProjectedVolumeSource, ResourceRequirements, Secret, SecretProjection, SecretVolumeSource,
    ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use volume_manager::{ContainerContext, Error};

const EMPTY_DIR: &str = "kubernetes.io/empty-dir";

fn empty_dir(name: &str, medium: Option<&str>, size_limit: Option<&str>) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: medium.map(Into::into),
            size_limit: size_limit.map(|s| Quantity(s.into())),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn secret_volume(name: &str, secret: &str) -> Volume {
    Volume {
        name: name.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn cm_volume(name: &str, cm: &str) -> Volume {
    Volume {
        name: name.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: cm.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Default::default()
    }
}

fn sub_path(volume: &str, path: &str, sub: &str) -> VolumeMount {
    VolumeMount {
        sub_path: Some(sub.into()),
        ..mount(volume, path)
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn with_memory_limit(mut pod: Pod, limit: &str) -> Pod {
    pod.spec.as_mut().unwrap().containers[0].resources = Some(ResourceRequirements {
        limits: Some([("memory".to_owned(), Quantity(limit.into()))].into()),
        ..Default::default()
    });
    pod
}

#[test]
fn vo_01_empty_dir_lives_in_the_kubelet_layout_with_mode_0777() {
    if !can_mount("vo_01") {
        return;
    }
    let root = TestRoot::new();
    let p = pod(
        "uid-ed",
        vec![empty_dir("cache", None, None)],
        vec![mount("cache", "/cache")],
    );
    root.manager.mount_pod(&p).unwrap();
    let dir = root
        .path
        .join("kubelet/pods/uid-ed/volumes/kubernetes.io~empty-dir/cache");
    assert!(dir.is_dir());
    assert_eq!(mode(&dir), 0o777);
    assert!(
        root.path
            .join("kubelet/pods/uid-ed/plugins/kubernetes.io~empty-dir/cache/ready")
            .exists()
    );
    assert!(root.mounts().is_empty(), "a disk emptyDir mounts nothing");
    let mounts = root
        .manager
        .container_mounts(&p, app(&p), &Default::default())
        .unwrap();
    assert_eq!(mounts[0].host_path, dir);
    assert!(!mounts[0].read_only);
    root.manager.unmount_pod("uid-ed").unwrap();
}

#[test]
fn vo_02_empty_dir_content_survives_container_and_agent_restarts_and_goes_with_the_pod() {
    if !can_mount("vo_02") {
        return;
    }
    let root = TestRoot::new();
    let p = pod(
        "uid-ed",
        vec![
            empty_dir("cache", None, None),
            empty_dir("mem", Some("Memory"), None),
        ],
        vec![mount("cache", "/cache"), mount("mem", "/mem")],
    );
    root.manager.mount_pod(&p).unwrap();
    let dirs = root.manager.root().pod("uid-ed").unwrap();
    fs::write(
        dirs.volume_dir(EMPTY_DIR, "cache").unwrap().join("f"),
        "kept",
    )
    .unwrap();
    fs::write(dirs.volume_dir(EMPTY_DIR, "mem").unwrap().join("f"), "kept").unwrap();
    // A container restart: mounts asked again.
    root.manager.mount_pod(&p).unwrap();
    root.manager
        .container_mounts(&p, app(&p), &Default::default())
        .unwrap();
    // An agent restart: a new manager over the same root.
    let again = root.restarted_manager(Arc::new(root.objects.clone()));
    again.reconstruct().unwrap();
    again.mount_pod(&p).unwrap();
    for v in ["cache", "mem"] {
        assert_eq!(
            fs::read_to_string(dirs.volume_dir(EMPTY_DIR, v).unwrap().join("f")).unwrap(),
            "kept"
        );
    }
    assert_eq!(root.mounts().len(), 1, "one tmpfs, not two");
    again.unmount_pod("uid-ed").unwrap();
    assert!(!dirs.dir().exists());
    assert!(root.mounts().is_empty());
}

#[test]
fn vo_03_memory_empty_dir_is_a_tmpfs_sized_like_the_kubelet() {
    if !can_mount("vo_03") {
        return;
    }
    let root = TestRoot::new();
    let p = with_memory_limit(
        pod(
            "uid-mem",
            vec![
                empty_dir("small", Some("Memory"), Some("16Mi")),
                empty_dir("pod-limit", Some("Memory"), None),
                empty_dir("too-big", Some("Memory"), Some("1Gi")),
            ],
            vec![],
        ),
        "64Mi",
    );
    root.manager.mount_pod(&p).unwrap();
    let dirs = root.manager.root().pod("uid-mem").unwrap();
    let size_of = |v: &str| {
        let dir = dirs.volume_dir(EMPTY_DIR, v).unwrap();
        let m = root
            .mounts()
            .into_iter()
            .find(|m| m.mount_point == dir)
            .expect("mounted");
        assert_eq!(m.fs_type, "tmpfs");
        m.super_options
            .split(',')
            .find_map(|o| o.strip_prefix("size=").map(str::to_owned))
            .expect("size option")
    };
    assert_eq!(size_of("small"), "16384k", "sizeLimit");
    assert_eq!(size_of("pod-limit"), "65536k", "the pod's memory limit");
    assert_eq!(
        size_of("too-big"),
        "65536k",
        "sizeLimit above the pod limit is ignored"
    );
    let recorded: BTreeMap<_, _> = root
        .manager
        .mounted_volumes("uid-mem")
        .into_iter()
        .map(|m| (m.name, (m.tmpfs, m.size_limit)))
        .collect();
    assert_eq!(
        recorded["small"],
        (true, Some(16 << 20)),
        "sizeLimit recorded for eviction"
    );
    root.manager.unmount_pod("uid-mem").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn vo_13_secret_volume_is_a_tmpfs_and_config_map_volume_is_not() {
    if !can_mount("vo_13") {
        return;
    }
    let root = TestRoot::new();
    root.objects
        .set_secret(secret("creds", &[("password", "hunter2")]));
    root.objects
        .set_config_map(config_map("cfg", &[("a", "1")]));
    let p = pod(
        "uid-sec",
        vec![secret_volume("s", "creds"), cm_volume("c", "cfg")],
        vec![],
    );
    root.manager.mount_pod(&p).unwrap();
    let dirs = root.manager.root().pod("uid-sec").unwrap();
    let secret_dir = dirs.volume_dir("kubernetes.io/secret", "s").unwrap();
    let cm_dir = dirs.volume_dir("kubernetes.io/configmap", "c").unwrap();
    let mounts = root.mounts();
    assert!(
        mounts
            .iter()
            .any(|m| m.mount_point == secret_dir && m.fs_type == "tmpfs")
    );
    assert!(!mounts.iter().any(|m| m.mount_point == cm_dir));
    assert_eq!(
        fs::read_to_string(secret_dir.join("password")).unwrap(),
        "hunter2"
    );
    assert_eq!(mode(&secret_dir.join("password")), 0o644);
    assert!(
        root.path
            .join("kubelet/pods/uid-sec/plugins/kubernetes.io~empty-dir/wrapped_s/ready")
            .exists()
    );
    // Mounting again does not stack a second tmpfs.
    root.manager.resync_pod(&p).unwrap();
    assert_eq!(
        root.mounts()
            .iter()
            .filter(|m| m.mount_point == secret_dir)
            .count(),
        1
    );

    // A missing key: the message names the key, never the content.
    root.objects
        .set_secret(secret("creds2", &[("password", "hunter2")]));
    let mut bad = secret_volume("s2", "creds2");
    bad.secret.as_mut().unwrap().items = Some(vec![k8s_openapi::api::core::v1::KeyToPath {
        key: "token".into(),
        path: "token".into(),
        ..Default::default()
    }]);
    let p2 = pod("uid-sec2", vec![bad], vec![]);
    let err = root.manager.mount_pod(&p2).unwrap_err();
    assert!(
        err.to_string()
            .contains("references non-existent secret key: token"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"));
    assert!(!format!("{err:?}").contains("hunter2"));
    root.manager.unmount_pod("uid-sec").unwrap();
    root.manager.unmount_pod("uid-sec2").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn vo_12_config_map_sub_path_mount_does_not_receive_updates() {
    if !can_mount("vo_12") {
        return;
    }
    let root = TestRoot::new();
    root.objects
        .set_config_map(config_map("cfg", &[("app.conf", "one")]));
    let p = pod(
        "uid-sp",
        vec![cm_volume("c", "cfg")],
        vec![sub_path("c", "/etc/app.conf", "app.conf")],
    );
    root.manager.mount_pod(&p).unwrap();
    let mounts = root
        .manager
        .container_mounts(&p, app(&p), &Default::default())
        .unwrap();
    let target = root
        .manager
        .root()
        .pod("uid-sp")
        .unwrap()
        .subpath_target("c", "app", 0)
        .unwrap();
    assert_eq!(mounts[0].host_path, target);
    assert!(mounts[0].read_only);
    assert_eq!(fs::read_to_string(&target).unwrap(), "one");

    root.objects
        .set_config_map(config_map("cfg", &[("app.conf", "two")]));
    root.manager.resync_pod(&p).unwrap();
    let vol = root
        .manager
        .root()
        .pod("uid-sp")
        .unwrap()
        .volume_dir("kubernetes.io/configmap", "c")
        .unwrap();
    assert_eq!(
        fs::read_to_string(vol.join("app.conf")).unwrap(),
        "two",
        "the volume is updated"
    );
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        "one",
        "the subPath mount is not"
    );
    root.manager.unmount_pod("uid-sp").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn vo_15_read_only_mounts_are_read_only() {
    if !can_mount("vo_15") {
        return;
    }
    let root = TestRoot::new();
    root.objects
        .set_config_map(config_map("cfg", &[("a", "1")]));
    let ro = |m: VolumeMount| VolumeMount {
        read_only: Some(true),
        ..m
    };
    let p = pod(
        "uid-ro",
        vec![empty_dir("data", None, None), cm_volume("c", "cfg")],
        vec![
            ro(sub_path("data", "/data", "sub")),
            mount("c", "/c"),
            mount("data", "/rw"),
        ],
    );
    root.manager.mount_pod(&p).unwrap();
    let mounts = root
        .manager
        .container_mounts(&p, app(&p), &Default::default())
        .unwrap();
    assert!(mounts[0].read_only, "readOnly: true");
    assert!(
        mounts[1].read_only,
        "configMap volumes are always read-only"
    );
    assert!(!mounts[2].read_only);
    // The subPath bind mount itself is read-only: writes fail with EROFS.
    let target = &mounts[0].host_path;
    let err = fs::write(target.join("f"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(30), "EROFS: {err}");
    let entry = root
        .mounts()
        .into_iter()
        .find(|m| &m.mount_point == target)
        .unwrap();
    assert!(entry.read_only());
    // The volume itself stays writable for other mounts.
    fs::write(
        root.manager
            .root()
            .pod("uid-ro")
            .unwrap()
            .volume_dir(EMPTY_DIR, "data")
            .unwrap()
            .join("sub/f"),
        "x",
    )
    .unwrap();
    root.manager.unmount_pod("uid-ro").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn vo_16_sub_path_escapes_are_refused_and_nothing_is_mounted() {
    if !can_mount("vo_16") {
        return;
    }
    let root = TestRoot::new();
    let p = pod("uid-esc", vec![empty_dir("data", None, None)], vec![]);
    root.manager.mount_pod(&p).unwrap();
    let vol = root
        .manager
        .root()
        .pod("uid-esc")
        .unwrap()
        .volume_dir(EMPTY_DIR, "data")
        .unwrap();
    // What a container could plant in its volume.
    std::os::unix::fs::symlink("/", vol.join("abs")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../..", vol.join("up")).unwrap();
    fs::create_dir(vol.join("inner")).unwrap();
    std::os::unix::fs::symlink("../up/etc", vol.join("inner/sneaky")).unwrap();
    std::os::unix::fs::symlink("inner", vol.join("ok-link")).unwrap();

    for (i, sub) in ["abs/etc", "up/etc", "inner/sneaky", "abs"]
        .iter()
        .enumerate()
    {
        let mut p = p.clone();
        p.spec.as_mut().unwrap().containers[0].volume_mounts =
            Some(vec![sub_path("data", "/d", sub)]);
        let err = root
            .manager
            .container_mounts(&p, app(&p), &Default::default())
            .unwrap_err();
        let Error::ContainerMount { field, message, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(field, "volumeMounts[0].subPath", "case {i}");
        assert_eq!(
            message,
            "failed to prepare subPath for volumeMount \"data\" of container \"app\""
        );
        assert!(!message.contains("/etc"));
    }
    for (sub, expected) in [
        (
            "a/../..",
            "unable to provision SubPath `a/../..`: must not contain '..'",
        ),
        ("/etc", "error SubPath `/etc` must not be an absolute path"),
    ] {
        let mut p = p.clone();
        p.spec.as_mut().unwrap().containers[0].volume_mounts =
            Some(vec![sub_path("data", "/d", sub)]);
        let err = root
            .manager
            .container_mounts(&p, app(&p), &Default::default())
            .unwrap_err();
        assert!(err.to_string().ends_with(expected), "{err}");
    }
    assert!(root.mounts().is_empty(), "no escape was mounted");
    assert!(!root.path.join("etc").exists());

    // A symlink that stays inside the volume is fine.
    let mut ok = p.clone();
    ok.spec.as_mut().unwrap().containers[0].volume_mounts =
        Some(vec![sub_path("data", "/d", "ok-link")]);
    let mounts = root
        .manager
        .container_mounts(&ok, app(&ok), &Default::default())
        .unwrap();
    fs::write(mounts[0].host_path.join("through-bind"), "x").unwrap();
    assert!(vol.join("inner/through-bind").exists());
    root.manager.unmount_pod("uid-esc").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn vo_16_sub_path_expr_mounts_a_per_pod_directory() {
    if !can_mount("vo_16 subPathExpr") {
        return;
    }
    let root = TestRoot::new();
    let m = VolumeMount {
        sub_path_expr: Some("logs/$(POD_NAME)".into()),
        ..mount("data", "/logs")
    };
    let p = pod("uid-expr", vec![empty_dir("data", None, None)], vec![m]);
    root.manager.mount_pod(&p).unwrap();
    let env = vec![("POD_NAME".to_owned(), "web-1".to_owned())];
    let ctx = ContainerContext {
        env: &env,
        ..Default::default()
    };
    let mounts = root.manager.container_mounts(&p, app(&p), &ctx).unwrap();
    let vol = root
        .manager
        .root()
        .pod("uid-expr")
        .unwrap()
        .volume_dir(EMPTY_DIR, "data")
        .unwrap();
    assert!(vol.join("logs/web-1").is_dir(), "created inside the volume");
    assert_eq!(
        mode(&vol.join("logs/web-1")),
        0o777,
        "with the volume's mode"
    );
    fs::write(mounts[0].host_path.join("out.log"), "line").unwrap();
    assert_eq!(
        fs::read_to_string(vol.join("logs/web-1/out.log")).unwrap(),
        "line"
    );
    // Same container again (restart): the bind mount is reused, not stacked.
    root.manager.container_mounts(&p, app(&p), &ctx).unwrap();
    assert_eq!(root.mounts().len(), 1);
    // A missing variable is an error, not the volume root.
    let err = root
        .manager
        .container_mounts(&p, app(&p), &Default::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("volumeMounts[0].subPathExpr: missing value for POD_NAME"),
        "{err}"
    );
    root.manager.unmount_pod("uid-expr").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn vo_17_etc_hosts_for_non_host_network_pods() {
    if !can_mount("vo_17") {
        return;
    }
    let root = TestRoot::new();
    let mut p = pod("uid-hosts", vec![], vec![]);
    p.spec.as_mut().unwrap().host_aliases = Some(vec![HostAlias {
        ip: "10.9.9.9".into(),
        hostnames: Some(vec!["db".into()]),
    }]);
    root.manager.mount_pod(&p).unwrap();
    let ips = vec!["10.88.0.7".to_owned()];
    let ctx = ContainerContext {
        pod_ips: &ips,
        hostname: "web",
        ..Default::default()
    };
    let mounts = root.manager.container_mounts(&p, app(&p), &ctx).unwrap();
    let hosts = mounts
        .iter()
        .find(|m| m.container_path == "/etc/hosts")
        .unwrap();
    assert_eq!(
        hosts.host_path,
        root.path.join("kubelet/pods/uid-hosts/etc-hosts")
    );
    assert_eq!(hosts.name, "k8s-managed-etc-hosts");
    let text = fs::read_to_string(&hosts.host_path).unwrap();
    assert!(text.contains("\n10.88.0.7\tweb\n"), "{text}");
    assert!(
        text.ends_with("# Entries added by HostAliases.\n10.9.9.9\tdb\n"),
        "{text}"
    );
    assert_eq!(mode(&hosts.host_path), 0o644);
    // No IP yet, or a container mounting /etc/hosts itself: no managed hosts file.
    assert!(
        root.manager
            .container_mounts(&p, app(&p), &Default::default())
            .unwrap()
            .iter()
            .all(|m| m.container_path != "/etc/hosts")
    );
    // Host-network pods get the node's file under a header.
    p.spec.as_mut().unwrap().host_network = Some(true);
    let mounts = root.manager.container_mounts(&p, app(&p), &ctx).unwrap();
    let hosts = mounts
        .iter()
        .find(|m| m.container_path == "/etc/hosts")
        .unwrap();
    let text = fs::read_to_string(&hosts.host_path).unwrap();
    assert!(
        text.starts_with("# Kubernetes-managed hosts file (host network).\n"),
        "{text}"
    );
    root.manager.unmount_pod("uid-hosts").unwrap();
}

#[test]
fn vo_14_downward_api_labels_file_is_sorted_and_follows_label_changes() {
    if !can_mount("vo_14") {
        return;
    }
    let root = TestRoot::new();
    let file = |path: &str, field: &str| DownwardAPIVolumeFile {
        path: path.into(),
        field_ref: Some(ObjectFieldSelector {
            field_path: field.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut p = pod(
        "uid-dapi",
        vec![Volume {
            name: "info".into(),
            downward_api: Some(DownwardAPIVolumeSource {
                items: Some(vec![
                    file("labels", "metadata.labels"),
                    file("name", "metadata.name"),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        }],
        vec![],
    );
    p.metadata.labels = Some(
        [
            ("zone".to_owned(), "b".to_owned()),
            ("app".to_owned(), "web".to_owned()),
        ]
        .into(),
    );
    root.manager.mount_pod(&p).unwrap();
    let dir = root
        .manager
        .root()
        .pod("uid-dapi")
        .unwrap()
        .volume_dir("kubernetes.io/downward-api", "info")
        .unwrap();
    assert!(
        root.mounts()
            .iter()
            .any(|m| m.mount_point == dir && m.fs_type == "tmpfs")
    );
    assert_eq!(
        fs::read_to_string(dir.join("labels")).unwrap(),
        "app=\"web\"\nzone=\"b\""
    );
    assert_eq!(fs::read_to_string(dir.join("name")).unwrap(), "web");
    p.metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("tier".into(), "front".into());
    root.manager.resync_pod(&p).unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("labels")).unwrap(),
        "app=\"web\"\ntier=\"front\"\nzone=\"b\""
    );
    root.manager.unmount_pod("uid-dapi").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn projected_merges_sources_and_refuses_service_account_tokens() {
    if !can_mount("projected") {
        return;
    }
    let root = TestRoot::new();
    root.objects
        .set_config_map(config_map("cfg", &[("a", "1")]));
    root.objects.set_secret(secret("s", &[("b", "2")]));
    let projection = |sources: Vec<VolumeProjection>| Volume {
        name: "all".into(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(sources),
            default_mode: Some(0o440),
            ..Default::default()
        }),
        ..Default::default()
    };
    let sources = vec![
        VolumeProjection {
            config_map: Some(ConfigMapProjection {
                name: "cfg".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        VolumeProjection {
            secret: Some(SecretProjection {
                name: "s".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        VolumeProjection {
            downward_api: Some(DownwardAPIProjection {
                items: Some(vec![DownwardAPIVolumeFile {
                    path: "ns".into(),
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "metadata.namespace".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
            }),
            ..Default::default()
        },
    ];
    let p = pod("uid-proj", vec![projection(sources)], vec![]);
    root.manager.mount_pod(&p).unwrap();
    let dir = root
        .manager
        .root()
        .pod("uid-proj")
        .unwrap()
        .volume_dir("kubernetes.io/projected", "all")
        .unwrap();
    assert_eq!(fs::read_to_string(dir.join("a")).unwrap(), "1");
    assert_eq!(fs::read_to_string(dir.join("b")).unwrap(), "2");
    assert_eq!(fs::read_to_string(dir.join("ns")).unwrap(), "default");
    assert_eq!(mode(&dir.join("a")), 0o440);
    assert!(
        root.mounts()
            .iter()
            .any(|m| m.mount_point == dir && m.fs_type == "tmpfs")
    );

    let token = vec![VolumeProjection {
        service_account_token: Some(ServiceAccountTokenProjection {
            path: "token".into(),
            ..Default::default()
        }),
        ..Default::default()
    }];
    let p2 = pod("uid-proj2", vec![projection(token)], vec![]);
    let err = root.manager.mount_pod(&p2).unwrap_err();
    assert!(
        err.to_string()
            .contains("spec.volumes[0].projected.sources[0].serviceAccountToken"),
        "{err}"
    );
    assert!(err.to_string().contains("cluster mode"), "{err}");
    root.manager.unmount_pod("uid-proj").unwrap();
    root.manager.unmount_pod("uid-proj2").unwrap();
    assert!(root.mounts().is_empty());
}

/// A pod with every kind of volume, a subPath of each mounted one.
fn every_volume_pod(uid: &str, host: &Path) -> Pod {
    let volumes = vec![
        empty_dir("disk", None, None),
        empty_dir("mem", Some("Memory"), Some("8Mi")),
        secret_volume("sec", "creds"),
        cm_volume("cfg", "cfg"),
        Volume {
            name: "host".into(),
            host_path: Some(k8s_openapi::api::core::v1::HostPathVolumeSource {
                path: host.to_string_lossy().into_owned(),
                type_: Some("DirectoryOrCreate".into()),
            }),
            ..Default::default()
        },
    ];
    let mounts = vec![
        mount("disk", "/disk"),
        sub_path("disk", "/disk-sub", "sub"),
        sub_path("mem", "/mem-sub", "m"),
        sub_path("sec", "/token", "token"),
        sub_path("cfg", "/a", "a"),
        sub_path("host", "/h", "h"),
    ];
    pod(uid, volumes, mounts)
}

#[test]
fn vo_18_teardown_unmounts_everything_and_removes_the_pod_dir_last() {
    if !can_mount("vo_18") {
        return;
    }
    let root = TestRoot::new();
    root.objects.set_secret(secret("creds", &[("token", "t")]));
    root.objects
        .set_config_map(config_map("cfg", &[("a", "1")]));
    let host = root.path.join("host");
    let p = every_volume_pod("uid-all", &host);
    root.manager.mount_pod(&p).unwrap();
    root.manager
        .container_mounts(&p, app(&p), &Default::default())
        .unwrap();
    let dirs = root.manager.root().pod("uid-all").unwrap();
    // Two tmpfs (mem, sec) and five subPath bind mounts.
    assert_eq!(root.mounts().len(), 7, "{:#?}", root.mounts());

    // Something else mounted inside the pod directory: the directory stays until it is gone.
    let extra = dirs.dir().join("extra");
    fs::create_dir(&extra).unwrap();
    rustix::mount::mount(
        "tmpfs",
        &extra,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .unwrap();
    let err = root.manager.unmount_pod("uid-all").unwrap_err();
    assert!(matches!(err, Error::StillMounted { .. }), "{err}");
    assert!(dirs.dir().exists());
    assert_eq!(
        root.mounts().len(),
        1,
        "every volume mount is gone, only the foreign one left"
    );
    rustix::mount::unmount(&extra, rustix::mount::UnmountFlags::empty()).unwrap();

    root.manager.unmount_pod("uid-all").unwrap();
    assert!(!dirs.dir().exists());
    assert!(root.mounts().is_empty());
    assert!(host.join("h").is_dir(), "hostPath data stays");
    // Idempotent.
    root.manager.unmount_pod("uid-all").unwrap();
}

#[test]
fn restart_recovery_neither_mounts_twice_nor_unmounts_what_a_pod_uses() {
    if !can_mount("restart recovery") {
        return;
    }
    let root = TestRoot::new();
    root.objects.set_secret(secret("creds", &[("token", "t")]));
    root.objects
        .set_config_map(config_map("cfg", &[("a", "1")]));
    let host = root.path.join("host");
    let running = every_volume_pod("uid-running", &host);
    let gone = pod(
        "uid-gone",
        vec![empty_dir("mem", Some("Memory"), None)],
        vec![],
    );
    root.manager.mount_pod(&running).unwrap();
    root.manager
        .container_mounts(&running, app(&running), &Default::default())
        .unwrap();
    root.manager.mount_pod(&gone).unwrap();
    let before = root.mounts();
    assert_eq!(before.len(), 8);

    // The agent is killed; a new one starts over the same root.
    let manager = root.restarted_manager(Arc::new(root.objects.clone()));
    let found = manager.reconstruct().unwrap();
    assert_eq!(found, ["uid-gone", "uid-running"]);
    assert!(
        manager
            .mounted_volumes("uid-running")
            .iter()
            .any(|v| v.name == "sec" && v.tmpfs)
    );
    assert_eq!(
        manager.orphaned_pods(&["uid-running"]).unwrap(),
        ["uid-gone"]
    );

    // The running pod comes back from its source: nothing is mounted again.
    manager.mount_pod(&running).unwrap();
    assert!(manager.pod_volumes_mounted(&running));
    manager
        .container_mounts(&running, app(&running), &Default::default())
        .unwrap();
    assert_eq!(root.mounts().len(), before.len(), "no mount twice");

    // The pod that is gone is cleaned up; the running one keeps every mount.
    manager.unmount_pod("uid-gone").unwrap();
    let dirs = manager.root().pod("uid-running").unwrap();
    let left = root.mounts();
    assert_eq!(left.len(), 7);
    assert!(left.iter().all(|m| m.mount_point.starts_with(dirs.dir())));
    assert_eq!(
        fs::read_to_string(
            dirs.volume_dir("kubernetes.io/secret", "sec")
                .unwrap()
                .join("token")
        )
        .unwrap(),
        "t"
    );
    assert!(manager.orphaned_pods(&["uid-running"]).unwrap().is_empty());

    manager.unmount_pod("uid-running").unwrap();
    assert!(root.mounts().is_empty());
    assert!(
        fs::read_dir(manager.root().pods_dir())
            .unwrap()
            .next()
            .is_none()
    );
}
