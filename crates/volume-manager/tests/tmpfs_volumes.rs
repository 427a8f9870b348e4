//! Secret, downwardAPI and projected volumes on this machine's real mount table, checked
//! against what the kubelet makes of them (`pkg/volume/secret`, `pkg/volume/projected`,
//! `pkg/volume/downwardapi`, each wrapping a `medium: Memory` emptyDir,
//! `pkg/volume/emptydir`; the files through `pkg/volume/util/atomic_writer.go`; fsGroup
//! through `SetVolumeOwnership`, `pkg/volume/volume_linux.go`):
//!
//! - the mount: `mount -t tmpfs -o size=<bytes>[,noswap] tmpfs <dir>` and nothing else, so
//!   the mount table shows `rw,relatime` (no `nosuid`, `nodev` or `noexec`), the size of a
//!   memory emptyDir without `sizeLimit` (the node's allocatable memory, or the pod's memory
//!   limit when smaller), and `noswap` where the kernel takes it; the tmpfs root keeps the
//!   kernel's 1777;
//! - the files: `defaultMode` 0644, `items[].mode` over it, the timestamped data directory
//!   0755, subdirectories `MkdirAll(0777)` under the umask, `..data` and the user-visible
//!   names as symlinks;
//! - fsGroup: group ownership of everything (symlinks included) and group read added
//!   (`0440` mask for these read-only volumes), directories setgid and group-executable; a
//!   token written 0600 so that it ends 0640;
//! - `defaultUser` / `items[].user` only with the `AtomicWriteVolumeUserFields` gate;
//! - the mount points of volumes mounted inside these (`MakeNestedMountpoints`).
//!
//! Every test needs to mount (root); see `common::can_mount` for what happens without.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, ConfigMapVolumeSource, DownwardAPIProjection, DownwardAPIVolumeFile,
    DownwardAPIVolumeSource, EmptyDirVolumeSource, KeyToPath, ObjectFieldSelector, Pod,
    PodSecurityContext, ProjectedVolumeSource, ResourceRequirements, Secret, SecretProjection,
    SecretVolumeSource, ServiceAccountTokenProjection, Volume, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use volume_manager::mountinfo::MountInfo;
use volume_manager::tokens::{ServiceAccountToken, ServiceAccountTokenRequest, TokenSource};
use volume_manager::{ContainerContext, kernel_supports_tmpfs_noswap};

const SECRET: &str = "kubernetes.io/secret";
const PROJECTED: &str = "kubernetes.io/projected";
const DOWNWARD_API: &str = "kubernetes.io/downward-api";
const CONFIG_MAP: &str = "kubernetes.io/configmap";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.payload.signature";

/// Issues the same token for every request.
struct FixedToken;

impl TokenSource for FixedToken {
    fn service_account_token(
        &self,
        _request: &ServiceAccountTokenRequest,
    ) -> volume_manager::Result<Option<ServiceAccountToken>> {
        Ok(Some(ServiceAccountToken::new(TOKEN)))
    }
}

fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
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

fn item(key: &str, path: &str, mode: Option<i32>) -> KeyToPath {
    KeyToPath {
        key: key.into(),
        path: path.into(),
        mode,
        ..Default::default()
    }
}

fn namespace_file(path: &str) -> DownwardAPIVolumeFile {
    DownwardAPIVolumeFile {
        path: path.into(),
        field_ref: Some(ObjectFieldSelector {
            field_path: "metadata.namespace".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn downward_volume(name: &str) -> Volume {
    Volume {
        name: name.into(),
        downward_api: Some(DownwardAPIVolumeSource {
            items: Some(vec![namespace_file("namespace")]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn projected_volume(name: &str, sources: Vec<VolumeProjection>) -> Volume {
    Volume {
        name: name.into(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(sources),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn secret_source(name: &str) -> VolumeProjection {
    VolumeProjection {
        secret: Some(SecretProjection {
            name: name.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn config_map_source(name: &str) -> VolumeProjection {
    VolumeProjection {
        config_map: Some(ConfigMapProjection {
            name: name.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn token_source(path: &str) -> VolumeProjection {
    VolumeProjection {
        service_account_token: Some(ServiceAccountTokenProjection {
            path: path.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn with_fs_group(mut pod: Pod, gid: i64) -> Pod {
    pod.spec.as_mut().unwrap().security_context = Some(PodSecurityContext {
        fs_group: Some(gid),
        ..Default::default()
    });
    pod
}

fn volume_dir(root: &TestRoot, uid: &str, plugin: &str, volume: &str) -> PathBuf {
    root.manager
        .root()
        .pod(uid)
        .unwrap()
        .volume_dir(plugin, volume)
        .unwrap()
}

/// The permission bits, setuid/setgid/sticky included, without following a symlink.
fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn link(p: &Path) -> String {
    fs::read_link(p)
        .unwrap_or_else(|e| panic!("{} is no symlink: {e}", p.display()))
        .to_string_lossy()
        .into_owned()
}

/// The directory mode `MkdirAll(0777)` gives under this process's umask.
fn mkdir_all_mode() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let umask = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .map(|v| u32::from_str_radix(v.trim(), 8).unwrap())
        .expect("Umask in /proc/self/status");
    0o777 & !umask
}

/// The mount at `dir`, which must be there exactly once.
fn mount_at(root: &TestRoot, dir: &Path) -> MountInfo {
    let at: Vec<MountInfo> = root
        .mounts()
        .into_iter()
        .filter(|m| m.mount_point == dir)
        .collect();
    assert_eq!(at.len(), 1, "one mount at {}: {at:?}", dir.display());
    at.into_iter().next().unwrap()
}

/// Checks that the mount at `dir` is the kubelet's tmpfs of `size_k` KiB.
fn assert_kubelet_tmpfs(root: &TestRoot, dir: &Path, size_k: u64) {
    let m = mount_at(root, dir);
    assert_eq!(m.fs_type, "tmpfs", "{m:?}");
    assert_eq!(m.source, "tmpfs", "{m:?}");
    // `mount -t tmpfs -o size=…` with no flag: read-write, the kernel's default relatime.
    let options: BTreeSet<&str> = m.mount_options.split(',').collect();
    assert_eq!(options, BTreeSet::from(["rw", "relatime"]), "{m:?}");
    let supers: BTreeSet<&str> = m.super_options.split(',').collect();
    let size = format!("size={size_k}k");
    assert!(supers.contains("rw"), "{m:?}");
    assert!(supers.contains(size.as_str()), "{size} in {m:?}");
    assert_eq!(
        supers.contains("noswap"),
        kernel_supports_tmpfs_noswap(),
        "noswap where the kernel takes it: {m:?}"
    );
    // Nothing else of ours: no mode, owner or inode count (`inode64` is the kernel's own
    // default on some builds).
    let ours: BTreeSet<&str> = ["rw", size.as_str(), "noswap", "inode64"].into();
    assert!(supers.is_subset(&ours), "{m:?}");
    // The tmpfs root keeps the kernel's mode.
    assert_eq!(mode(dir), 0o1777, "{}", dir.display());
}

/// `..data` points to a timestamped directory `..YYYY_MM_DD_HH_MM_SS.<n>`, mode 0755
/// (`expected_mode` with fsGroup); returns its name.
fn data_dir(dir: &Path, expected_mode: u32) -> String {
    let target = link(&dir.join("..data"));
    assert!(
        target.starts_with("..")
            && target.len() > "..2024_01_02_03_04_05.".len()
            && !target.contains('/'),
        "{target}"
    );
    let bytes = target.as_bytes();
    for (i, b) in bytes[2..21].iter().enumerate() {
        let expected_sep = matches!(i, 4 | 7 | 10 | 13 | 16);
        assert!(
            if expected_sep {
                *b == b'_'
            } else {
                b.is_ascii_digit()
            },
            "{target}"
        );
    }
    assert_eq!(bytes[21], b'.', "{target}");
    assert!(dir.join(&target).is_dir());
    assert_eq!(mode(&dir.join(&target)), expected_mode, "{target}");
    target
}

#[test]
fn vo_13_secret_downward_api_and_projected_volumes_are_the_kubelets_tmpfs() {
    if !can_mount("vo_13_tmpfs_options") {
        return;
    }
    let root = TestRoot::with_tokens(Arc::new(FixedToken));
    root.objects
        .set_secret(secret("creds", &[("password", "hunter2")]));
    root.objects
        .set_config_map(config_map("cfg", &[("a", "1")]));
    let volumes = vec![
        secret_volume("s", "creds"),
        downward_volume("d"),
        projected_volume(
            "p",
            vec![
                secret_source("creds"),
                config_map_source("cfg"),
                token_source("token"),
            ],
        ),
        Volume {
            name: "c".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: "cfg".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    // No memory limit: the node's allocatable memory (1 GiB in this harness).
    let p = pod("uid-opts", volumes.clone(), vec![]);
    root.manager.mount_pod(&p).unwrap();
    for (plugin, volume) in [(SECRET, "s"), (DOWNWARD_API, "d"), (PROJECTED, "p")] {
        assert_kubelet_tmpfs(
            &root,
            &volume_dir(&root, "uid-opts", plugin, volume),
            1 << 20,
        );
    }
    let cm = volume_dir(&root, "uid-opts", CONFIG_MAP, "c");
    assert!(
        !root.mounts().iter().any(|m| m.mount_point == cm),
        "a configMap is on the node's disk"
    );
    assert_eq!(mode(&cm), 0o777, "the wrapped emptyDir's mode");

    // A pod memory limit below the allocatable sizes the tmpfs.
    let mut limited = pod("uid-limited", volumes, vec![]);
    limited.spec.as_mut().unwrap().containers[0].resources = Some(ResourceRequirements {
        limits: Some([("memory".to_owned(), Quantity("64Mi".into()))].into()),
        ..Default::default()
    });
    root.manager.mount_pod(&limited).unwrap();
    for (plugin, volume) in [(SECRET, "s"), (DOWNWARD_API, "d"), (PROJECTED, "p")] {
        assert_kubelet_tmpfs(
            &root,
            &volume_dir(&root, "uid-limited", plugin, volume),
            65536,
        );
    }

    // A resync neither stacks a second tmpfs nor changes the options.
    root.manager.resync_pod(&p).unwrap();
    assert_kubelet_tmpfs(&root, &volume_dir(&root, "uid-opts", SECRET, "s"), 1 << 20);

    root.manager.unmount_pod("uid-opts").unwrap();
    root.manager.unmount_pod("uid-limited").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn vo_08_vo_13_secret_file_modes_and_data_layout_are_the_kubelets() {
    if !can_mount("vo_08_vo_13_secret_modes") {
        return;
    }
    let root = TestRoot::new();
    root.objects.set_secret(secret(
        "tls",
        &[("tls.crt", "CERT"), ("tls.key", "KEY"), ("ca.crt", "CA")],
    ));
    let mut mapped = secret_volume("mapped", "tls");
    let source = mapped.secret.as_mut().unwrap();
    source.default_mode = Some(0o440);
    source.items = Some(vec![
        item("tls.key", "private/key.pem", Some(0o400)),
        item("tls.crt", "cert.pem", None),
    ]);
    let p = pod(
        "uid-modes",
        vec![secret_volume("all", "tls"), mapped],
        vec![],
    );
    root.manager.mount_pod(&p).unwrap();

    // Every key, defaultMode 0644, each name a link into `..data`.
    let all = volume_dir(&root, "uid-modes", SECRET, "all");
    data_dir(&all, 0o755);
    for key in ["tls.crt", "tls.key", "ca.crt"] {
        assert_eq!(link(&all.join(key)), format!("..data/{key}"));
        assert_eq!(mode(&all.join("..data").join(key)), 0o644, "{key}");
        assert_eq!(mode(&all.join(key)), 0o777, "a symlink");
    }
    assert_eq!(fs::read_to_string(all.join("tls.key")).unwrap(), "KEY");
    assert_eq!(mode(&all), 0o1777);
    let names: BTreeSet<String> = fs::read_dir(&all)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("..2"))
        .collect();
    assert_eq!(
        names,
        ["..data", "ca.crt", "tls.crt", "tls.key"]
            .map(String::from)
            .into()
    );

    // items: only the listed keys, at their paths; items[].mode over defaultMode 0440; a
    // subdirectory made by MkdirAll(0777) under the umask.
    let mapped = volume_dir(&root, "uid-modes", SECRET, "mapped");
    let data = data_dir(&mapped, 0o755);
    assert_eq!(link(&mapped.join("private")), "..data/private");
    assert_eq!(mode(&mapped.join(&data).join("private")), mkdir_all_mode());
    assert_eq!(mode(&mapped.join("private/key.pem")), 0o400);
    assert_eq!(mode(&mapped.join("..data/cert.pem")), 0o440);
    assert!(!mapped.join("ca.crt").exists());
    assert!(!mapped.join("tls.crt").exists());
    // Owned by the agent's user, no group of the pod's.
    for path in ["private/key.pem", "cert.pem", "private"] {
        let meta = fs::metadata(mapped.join(path)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "{path}");
    }

    // A changed defaultMode reaches the files at the next resync, with a new data dir.
    let mut changed = p.clone();
    changed.spec.as_mut().unwrap().volumes.as_mut().unwrap()[0]
        .secret
        .as_mut()
        .unwrap()
        .default_mode = Some(0o400);
    let before = data_dir(&all, 0o755);
    root.manager.resync_pod(&changed).unwrap();
    let after = data_dir(&all, 0o755);
    assert_ne!(before, after);
    assert_eq!(mode(&all.join("tls.crt")), 0o777, "still a symlink");
    assert_eq!(mode(&all.join("..data/tls.crt")), 0o400);
    assert!(!all.join(&before).exists(), "the old data dir is gone");

    root.manager.unmount_pod("uid-modes").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn fs_group_owns_secret_and_projected_volumes_with_the_kubelets_modes() {
    if !can_mount("fs_group_modes") {
        return;
    }
    const GID: u32 = 2000;
    let root = TestRoot::with_tokens(Arc::new(FixedToken));
    root.objects
        .set_secret(secret("tls", &[("tls.crt", "CERT"), ("tls.key", "KEY")]));
    root.objects
        .set_config_map(config_map("cfg", &[("a", "1")]));
    let mut s = secret_volume("s", "tls");
    s.secret.as_mut().unwrap().items = Some(vec![
        item("tls.key", "private/key.pem", Some(0o400)),
        item("tls.crt", "tls.crt", Some(0o600)),
    ]);
    let projected = projected_volume(
        "p",
        vec![
            config_map_source("cfg"),
            token_source("token"),
            VolumeProjection {
                downward_api: Some(DownwardAPIProjection {
                    items: Some(vec![namespace_file("meta/namespace")]),
                }),
                ..Default::default()
            },
        ],
    );
    let p = with_fs_group(pod("uid-group", vec![s, projected], vec![]), i64::from(GID));
    root.manager.mount_pod(&p).unwrap();

    let s = volume_dir(&root, "uid-group", SECRET, "s");
    let p_dir = volume_dir(&root, "uid-group", PROJECTED, "p");
    // Everything below the volume, the volume root and the links included, is the
    // fsGroup's (`Lchown` of every path the walk meets).
    for dir in [&s, &p_dir] {
        let mut stack = vec![dir.clone()];
        while let Some(path) = stack.pop() {
            let meta = fs::symlink_metadata(&path).unwrap();
            assert_eq!(meta.gid(), GID, "{}", path.display());
            assert_eq!(meta.uid(), 0, "{}", path.display());
            if meta.is_dir() {
                stack.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            }
        }
        // The tmpfs root: 1777 with setgid (and the group bits it has already).
        assert_eq!(mode(dir), 0o3777, "{}", dir.display());
    }
    // Files: group read added (the 0440 mask of a read-only volume); directories: setgid
    // and group read and execute.
    let data = data_dir(&s, 0o2755);
    assert_eq!(mode(&s.join("private/key.pem")), 0o440);
    assert_eq!(mode(&s.join("..data/tls.crt")), 0o640);
    assert_eq!(
        mode(&s.join(&data).join("private")),
        mkdir_all_mode() | 0o2550
    );
    // The token is written 0600 and ends 0640; the others keep defaultMode 0644.
    data_dir(&p_dir, 0o2755);
    assert_eq!(mode(&p_dir.join("token")), 0o777, "a symlink");
    assert_eq!(mode(&p_dir.join("..data/token")), 0o640);
    assert_eq!(fs::read_to_string(p_dir.join("token")).unwrap(), TOKEN);
    assert_eq!(mode(&p_dir.join("..data/a")), 0o644);
    assert_eq!(mode(&p_dir.join("..data/meta/namespace")), 0o644);

    // The widened modes are no change: a resync swaps nothing.
    let before = (data_dir(&s, 0o2755), data_dir(&p_dir, 0o2755));
    assert!(root.manager.resync_pod(&p).unwrap().is_empty());
    assert_eq!((data_dir(&s, 0o2755), data_dir(&p_dir, 0o2755)), before);

    root.manager.unmount_pod("uid-group").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn volume_user_fields_own_files_only_with_the_atomic_write_volume_user_fields_gate() {
    if !can_mount("volume_user_fields") {
        return;
    }
    let volumes = || {
        let mut s = secret_volume("s", "tls");
        let source = s.secret.as_mut().unwrap();
        source.default_user = Some(1234);
        source.items = Some(vec![
            KeyToPath {
                user: Some(4321),
                ..item("tls.key", "key/tls.key", None)
            },
            item("tls.crt", "tls.crt", None),
        ]);
        let mut p = projected_volume("p", vec![token_source("token")]);
        p.projected.as_mut().unwrap().default_user = Some(1234);
        vec![s, p]
    };
    let set_up = |gate: bool| {
        let root = TestRoot::configured(Some(Arc::new(FixedToken)), |c| {
            c.volume_user_fields = gate;
        });
        root.objects
            .set_secret(secret("tls", &[("tls.crt", "CERT"), ("tls.key", "KEY")]));
        root.manager
            .mount_pod(&pod("uid-users", volumes(), vec![]))
            .unwrap();
        root
    };
    let owner = |p: &Path| fs::symlink_metadata(p).unwrap().uid();

    // The gate off (the kubelet's default in v1.37): the fields are ignored; the token
    // has no owner, so it keeps defaultMode.
    let root = set_up(false);
    let s = volume_dir(&root, "uid-users", SECRET, "s");
    let p = volume_dir(&root, "uid-users", PROJECTED, "p");
    for path in ["key/tls.key", "tls.crt"] {
        assert_eq!(owner(&s.join("..data").join(path)), 0, "{path}");
    }
    assert_eq!(owner(&s.join("tls.crt")), 0);
    assert_eq!(owner(&p.join("..data/token")), 0);
    assert_eq!(mode(&p.join("..data/token")), 0o644);
    root.manager.unmount_pod("uid-users").unwrap();
    drop(root);

    // The gate on: items[].user over defaultUser, the link of a top-level name owned as
    // its file; the token owned and 0600.
    let root = set_up(true);
    let s = volume_dir(&root, "uid-users", SECRET, "s");
    let p = volume_dir(&root, "uid-users", PROJECTED, "p");
    assert_eq!(owner(&s.join("..data/key/tls.key")), 4321);
    assert_eq!(owner(&s.join("..data/tls.crt")), 1234);
    assert_eq!(owner(&s.join("tls.crt")), 1234, "the link");
    assert_eq!(owner(&s.join("key")), 4321, "the link");
    assert_eq!(owner(&p.join("..data/token")), 1234);
    assert_eq!(owner(&p.join("token")), 1234, "the link");
    assert_eq!(mode(&p.join("..data/token")), 0o600);
    root.manager.unmount_pod("uid-users").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn nested_mount_points_are_made_inside_secret_and_config_map_volumes() {
    if !can_mount("nested_mount_points") {
        return;
    }
    let root = TestRoot::new();
    // A key named like a nested mount point: the directory hides it, as in the kubelet.
    root.objects.set_secret(secret(
        "app",
        &[("password", "hunter2"), ("cache", "shadowed")],
    ));
    root.objects
        .set_config_map(config_map("cfg", &[("app.conf", "x")]));
    let volumes = vec![
        secret_volume("s", "app"),
        Volume {
            name: "c".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: "cfg".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: "e".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
        Volume {
            name: "deep".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
    ];
    let mounts = vec![
        mount("s", "/etc/app"),
        mount("e", "/etc/app/cache/"),
        mount("c", "/etc/app/conf.d"),
        mount("deep", "/etc/app/conf.d/deep/er"),
    ];
    let p = pod("uid-nested", volumes, mounts);
    root.manager.mount_pod(&p).unwrap();

    let s = volume_dir(&root, "uid-nested", SECRET, "s");
    for dir in ["cache", "conf.d"] {
        let meta = fs::symlink_metadata(s.join(dir)).unwrap();
        assert!(meta.is_dir(), "{dir} is a directory, not a link");
        assert_eq!(mode(&s.join(dir)), mkdir_all_mode(), "{dir}");
    }
    assert!(!s.join("conf.d/deep").exists(), "only the first level");
    assert_eq!(fs::read_to_string(s.join("password")).unwrap(), "hunter2");
    assert_eq!(
        fs::read_to_string(s.join("..data/cache")).unwrap(),
        "shadowed"
    );
    let c = volume_dir(&root, "uid-nested", CONFIG_MAP, "c");
    // One mount point, two levels: both made.
    assert!(fs::symlink_metadata(c.join("deep/er")).unwrap().is_dir());

    // The container's mounts resolve, and a changed secret (the shadowed key gone) is
    // written without touching the mount points.
    let container = app(&p);
    let mounted = root
        .manager
        .container_mounts(&p, container, &ContainerContext::default())
        .unwrap();
    assert!(
        mounted
            .iter()
            .any(|m| m.container_path == "/etc/app" && m.host_path == s),
        "{mounted:?}"
    );
    root.objects
        .set_secret(secret("app", &[("password", "hunter3")]));
    root.manager.resync_pod(&p).unwrap();
    assert_eq!(fs::read_to_string(s.join("password")).unwrap(), "hunter3");
    assert!(s.join("cache").is_dir() && s.join("conf.d").is_dir());

    // A mount point of the volume above the container's root is refused by name.
    let mut bad = pod(
        "uid-nested-bad",
        vec![secret_volume("s", "app")],
        vec![mount("s", "../etc"), mount("s", "../etc/x")],
    );
    bad.metadata.name = Some("bad".into());
    let err = root.manager.mount_pod(&bad).unwrap_err().to_string();
    assert!(
        err.contains("invalid container mount point ../etc"),
        "{err}"
    );
    assert!(err.contains("spec.volumes[0]"), "{err}");

    root.manager.unmount_pod("uid-nested").unwrap();
    root.manager.unmount_pod("uid-nested-bad").unwrap();
    assert!(root.mounts().is_empty());
}
