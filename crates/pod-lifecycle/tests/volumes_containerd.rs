//! Pod volumes for real: pod workers with the volume manager behind `PodVolumes`, against the
//! containerd at `$NODELET_CRI_ENDPOINT` (set by `cargo xtask setup`). Containers read and
//! write their mounts, and report what they saw through their termination message.
//!
//! The harness is `tests/common` (on `test_env`): the environment comes from the process or
//! from `target/nodelet-env/env`; without it each test prints how to start it and passes,
//! except with `CI=true`, where it fails: CI must never pass by skipping. Each test holds a
//! shared lock on the runtime while it runs, and its clean-up checks that nothing stays
//! mounted.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Node, status_of};
use cri_client::{RuntimeService, v1};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, HostPathVolumeSource,
    KeyToPath, Pod, PodStatus, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::labels;
use test_env::{mounts_under, wait_until};

/// Workers, PLEG and a volume manager over the node's root directory; failed mounts are
/// retried quickly.
async fn start_node() -> Option<Node> {
    let builder = Node::builder().await?.volumes();
    Some(
        builder
            .config(|c| c.error_backoff = Duration::from_millis(500))
            .start(),
    )
}

fn pod(name: &str, policy: &str, volumes: Vec<Volume>, containers: Vec<Container>) -> Pod {
    let mut pod = common::pod("nodelet-volume-test", name, policy, 1, containers);
    pod.spec.as_mut().unwrap().volumes = Some(volumes);
    pod
}

fn container(name: &str, script: &str, mounts: Vec<VolumeMount>) -> Container {
    Container {
        volume_mounts: Some(mounts),
        ..common::container(name, script)
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..Default::default()
    }
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

/// The termination message of a container that exited.
fn message(status: &PodStatus, name: &str) -> String {
    status_of(status, name)
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| t.message.clone())
        .unwrap_or_default()
}

fn waiting_reason(status: &PodStatus, name: &str) -> Option<(String, String)> {
    let w = status_of(status, name).state.as_ref()?.waiting.as_ref()?;
    Some((w.reason.clone()?, w.message.clone().unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_02_real_empty_dir_survives_a_container_restart_and_goes_with_the_pod() {
    let Some(node) = start_node().await else {
        return;
    };
    // The first run leaves a file and fails; the restarted container finds it and stays.
    let script = "if [ -f /cache/seen ]; then sleep 3600; else echo once > /cache/seen; exit 1; fi";
    let p = pod(
        "emptydir",
        "Always",
        vec![empty_dir("cache")],
        vec![container("app", script, vec![mount("cache", "/cache")])],
    );
    let uid = node.run(p.clone());
    node.wait_for(&uid, "restarted and running", |s| {
        let c = status_of(s, "app");
        c.restart_count == 1 && c.state.as_ref().is_some_and(|st| st.running.is_some())
    })
    .await;
    let dir = node
        .pod_dir(&uid)
        .join("volumes/kubernetes.io~empty-dir/cache");
    assert_eq!(std::fs::read_to_string(dir.join("seen")).unwrap(), "once\n");

    node.delete(&p, 1).await;
    assert!(
        !node.pod_dir(&uid).exists(),
        "pods/<uid> removed with the pod"
    );
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_15_real_read_only_mount_gives_erofs_in_the_container() {
    let Some(node) = start_node().await else {
        return;
    };
    let mut ro = mount("data", "/data");
    ro.read_only = Some(true);
    let p = pod(
        "readonly",
        "Never",
        vec![empty_dir("data")],
        vec![
            container(
                "writer",
                "touch /data/x 2> /dev/termination-log && exit 0; exit 1",
                vec![ro],
            ),
            container(
                "rw",
                "touch /data/x && echo written > /dev/termination-log",
                vec![mount("data", "/data")],
            ),
        ],
    );
    let uid = node.run(p.clone());
    let status = node
        .wait_for(&uid, "both containers exited", |s| {
            ["writer", "rw"].iter().all(|n| {
                status_of(s, n)
                    .state
                    .as_ref()
                    .is_some_and(|st| st.terminated.is_some())
            })
        })
        .await;
    let error = message(&status, "writer");
    assert!(error.contains("Read-only file system"), "{error}");
    assert_eq!(message(&status, "rw"), "written\n");
    node.delete(&p, 1).await;
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_16_real_sub_path_escape_through_a_planted_symlink_is_create_container_config_error() {
    let Some(node) = start_node().await else {
        return;
    };
    // The init container plants a symlink to the host's /etc (as seen from the host) in the
    // shared volume; the app container asks for it as a subPath.
    let mut escape = mount("shared", "/escaped");
    escape.sub_path = Some("escape".into());
    let mut p = pod(
        "escape",
        "Never",
        vec![empty_dir("shared")],
        vec![container("app", "sleep 3600", vec![escape])],
    );
    p.spec.as_mut().unwrap().init_containers = Some(vec![container(
        "plant",
        "ln -s /etc /shared/escape",
        vec![mount("shared", "/shared")],
    )]);
    let uid = node.run(p.clone());
    let status = node
        .wait_for(&uid, "CreateContainerConfigError", |s| {
            waiting_reason(s, "app").is_some_and(|(r, _)| r == "CreateContainerConfigError")
        })
        .await;
    let (_, why) = waiting_reason(&status, "app").unwrap();
    assert!(
        why.contains("subPath"),
        "the error names the subPath: {why}"
    );
    // Nothing was bind-mounted for it.
    assert!(
        mounts_under(&node.pod_dir(&uid))
            .unwrap()
            .iter()
            .all(|m| !m.to_string_lossy().contains("volume-subpaths")),
        "{:?}",
        mounts_under(&node.pod_dir(&uid))
    );
    node.delete(&p, 1).await;
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_17_real_container_reads_its_managed_etc_hosts() {
    let Some(node) = start_node().await else {
        return;
    };
    let p = pod(
        "hosts",
        "Always",
        vec![empty_dir("out")],
        vec![container(
            "app",
            "cat /etc/hosts > /out/hosts; sleep 3600",
            vec![mount("out", "/out")],
        )],
    );
    let uid = node.run(p.clone());
    let status = node
        .wait_for(&uid, "running with an IP", |s| {
            s.pod_ip.is_some()
                && status_of(s, "app")
                    .state
                    .as_ref()
                    .is_some_and(|st| st.running.is_some())
        })
        .await;
    let copy = node
        .pod_dir(&uid)
        .join("volumes/kubernetes.io~empty-dir/out/hosts");
    // The shell creates the file before `cat` fills it: wait for the whole header.
    wait_until(
        "the container wrote its copy",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&copy)
                .is_ok_and(|h| h.ends_with('\n') && h.lines().count() >= 2)
        },
    )
    .await;
    let hosts = std::fs::read_to_string(&copy).unwrap();
    let ip = status.pod_ip.clone().unwrap();
    let name = p.metadata.name.clone().unwrap();
    assert!(
        hosts.starts_with("# Kubernetes-managed hosts file."),
        "{hosts}"
    );
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with(&ip) && l.contains(&name)),
        "{ip} → {name} in {hosts}"
    );
    node.delete(&p, 1).await;
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_05_vo_09_real_failed_mounts_keep_the_pod_pending_with_failed_mount_events() {
    let Some(node) = start_node().await else {
        return;
    };
    let missing = format!("/nonexistent-nodelet-{}", std::process::id());
    let p = pod(
        "failedmount",
        "Always",
        vec![
            Volume {
                name: "host".into(),
                host_path: Some(HostPathVolumeSource {
                    path: missing.clone(),
                    type_: Some("Directory".into()),
                }),
                ..Default::default()
            },
            Volume {
                name: "cfg".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: "settings".into(),
                    items: Some(vec![KeyToPath {
                        key: "absent".into(),
                        path: "absent".into(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ],
        vec![container(
            "app",
            "sleep 3600",
            vec![mount("host", "/host"), mount("cfg", "/cfg")],
        )],
    );
    node.objects().set_config_map(ConfigMap {
        metadata: ObjectMeta {
            name: Some("settings".into()),
            namespace: Some("nodelet-volume-test".into()),
            ..Default::default()
        },
        data: Some([("present".to_string(), "1".to_string())].into()),
        ..Default::default()
    });
    let uid = node.run(p.clone());
    let failed_mounts = || -> Vec<String> {
        node.events
            .with_reason("FailedMount")
            .into_iter()
            .map(|e| e.message)
            .collect()
    };
    let messages = test_env::poll(Duration::from_secs(30), || {
        let messages = failed_mounts();
        let both = messages
            .iter()
            .any(|m| m.contains("hostPath type check failed"))
            && messages
                .iter()
                .any(|m| m.contains("non-existent config key"));
        both.then_some(messages)
    })
    .await
    .unwrap_or_else(|| panic!("FailedMount events: {:#?}", failed_mounts()));
    assert!(
        messages.iter().any(|m| m.contains(&format!(
            "hostPath type check failed: {missing} is not a directory"
        ))),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("configmap references non-existent config key: absent")),
        "{messages:#?}"
    );
    let status = node.statuses.get(&uid).unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(
        waiting_reason(&status, "app").map(|(r, _)| r).as_deref(),
        Some("ContainerCreating")
    );
    let sandboxes = node
        .runtime
        .list_pod_sandbox(v1::ListPodSandboxRequest {
            filter: Some(v1::PodSandboxFilter {
                label_selector: [(labels::POD_UID.to_string(), uid.clone())].into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .items;
    assert!(
        sandboxes.is_empty(),
        "no sandbox before the volumes are mounted"
    );
    node.delete(&p, 1).await;
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_13_real_every_volume_type_is_readable_and_nothing_is_left_after_deletion() {
    let Some(node) = start_node().await else {
        return;
    };
    let host_dir = tempfile::tempdir().unwrap();
    std::fs::write(host_dir.path().join("host.txt"), "from the host").unwrap();
    node.objects().set_config_map(ConfigMap {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("nodelet-volume-test".into()),
            ..Default::default()
        },
        data: Some([("index.html".to_string(), "hello".to_string())].into()),
        ..Default::default()
    });
    node.objects()
        .set_secret(k8s_openapi::api::core::v1::Secret {
            metadata: ObjectMeta {
                name: Some("creds".into()),
                namespace: Some("nodelet-volume-test".into()),
                ..Default::default()
            },
            string_data: Some([("password".to_string(), "s3cret".to_string())].into()),
            ..Default::default()
        });
    let volumes = vec![
        empty_dir("scratch"),
        Volume {
            name: "memory".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: "host".into(),
            host_path: Some(HostPathVolumeSource {
                path: host_dir.path().to_string_lossy().into_owned(),
                type_: Some("Directory".into()),
            }),
            ..Default::default()
        },
        Volume {
            name: "cfg".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: "web".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: "secret".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some("creds".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: "meta".into(),
            downward_api: Some(k8s_openapi::api::core::v1::DownwardAPIVolumeSource {
                items: Some(vec![k8s_openapi::api::core::v1::DownwardAPIVolumeFile {
                    path: "name".into(),
                    field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                        field_path: "metadata.name".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    let script = "echo x > /scratch/f && echo y > /memory/f && \
                  cat /host/host.txt /cfg/index.html /secret/password /meta/name > /dev/termination-log && \
                  grep -q ' /secret tmpfs ' /proc/mounts && grep -q ' /memory tmpfs ' /proc/mounts";
    let p = pod(
        "every",
        "Never",
        volumes,
        vec![container(
            "app",
            script,
            ["scratch", "memory", "host", "cfg", "secret", "meta"]
                .iter()
                .map(|n| mount(n, &format!("/{n}")))
                .collect(),
        )],
    );
    let uid = node.run(p.clone());
    let status = node
        .wait_for(&uid, "exited", |s| {
            status_of(s, "app")
                .state
                .as_ref()
                .is_some_and(|st| st.terminated.is_some())
        })
        .await;
    let terminated = status_of(&status, "app")
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(terminated.exit_code, 0, "{terminated:?}");
    let name = p.metadata.name.clone().unwrap();
    assert_eq!(
        terminated.message.as_deref(),
        Some(format!("from the hosthellos3cret{name}").as_str())
    );

    node.delete(&p, 1).await;
    assert_eq!(
        mounts_under(&node.pod_dir(&uid)).unwrap(),
        Vec::<PathBuf>::new()
    );
    assert!(!node.pod_dir(&uid).exists(), "pods/<uid> removed");
    assert_eq!(
        std::fs::read_to_string(host_dir.path().join("host.txt")).unwrap(),
        "from the host",
        "hostPath data stays"
    );
    node.cleanup().await;
}

/// VO-13 seen from inside the container: a secret volume is the kubelet's tmpfs, mounted
/// read-only, without `nosuid`, `nodev` or `noexec`, sized like a memory emptyDir without
/// `sizeLimit` (the node's allocatable memory: this harness's volume manager takes the
/// host's), with `noswap` where the kernel takes it; its files have `defaultMode` 0644 or
/// their `items[].mode`, with the fsGroup's group read added (`SetVolumeOwnership`); and a
/// volume mounted inside it finds its mount point (`MakeNestedMountpoints`): the runtime
/// could not create `/etc/app/cache` in the read-only secret, and the container would not
/// start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_13_real_secret_is_the_kubelets_read_only_tmpfs_with_its_modes_and_nested_mount_points()
{
    let Some(node) = start_node().await else {
        return;
    };
    node.objects()
        .set_secret(k8s_openapi::api::core::v1::Secret {
            metadata: ObjectMeta {
                name: Some("app".into()),
                namespace: Some("nodelet-volume-test".into()),
                ..Default::default()
            },
            string_data: Some(
                [
                    ("password".to_string(), "s3cret".to_string()),
                    ("key".to_string(), "private".to_string()),
                ]
                .into(),
            ),
            ..Default::default()
        });
    let volumes = vec![
        Volume {
            name: "app".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some("app".into()),
                items: Some(vec![
                    KeyToPath {
                        key: "password".into(),
                        path: "password".into(),
                        ..Default::default()
                    },
                    KeyToPath {
                        key: "key".into(),
                        path: "key.pem".into(),
                        mode: Some(0o400),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        },
        empty_dir("cache"),
    ];
    let script = "set -e; { grep ' /etc/app ' /proc/mounts; \
                  stat -c '%a %g' /etc/app/..data/password /etc/app/..data/key.pem; \
                  cat /etc/app/password; echo; } > /dev/termination-log; \
                  echo written > /etc/app/cache/f";
    let mut p = pod(
        "secret-tmpfs",
        "Never",
        volumes,
        vec![container(
            "app",
            script,
            vec![mount("app", "/etc/app"), mount("cache", "/etc/app/cache")],
        )],
    );
    p.spec.as_mut().unwrap().security_context =
        Some(k8s_openapi::api::core::v1::PodSecurityContext {
            fs_group: Some(2000),
            ..Default::default()
        });
    let uid = node.run(p.clone());
    let status = node
        .wait_for(&uid, "exited", |s| {
            status_of(s, "app")
                .state
                .as_ref()
                .is_some_and(|st| st.terminated.is_some())
        })
        .await;
    let terminated = common::terminated(&status, "app");
    assert_eq!(terminated.exit_code, 0, "{terminated:?}");
    let message = terminated.message.unwrap_or_default();
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 4, "{message}");

    // `tmpfs /etc/app tmpfs ro,relatime,size=<k>k[,noswap] 0 0`
    let fields: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(&fields[..3], ["tmpfs", "/etc/app", "tmpfs"], "{message}");
    let options: Vec<&str> = fields[3].split(',').collect();
    assert!(
        options.contains(&"ro"),
        "read-only in the container: {message}"
    );
    for absent in ["nosuid", "nodev", "noexec"] {
        assert!(!options.contains(&absent), "{absent}: {message}");
    }
    let memory = volume_manager::plugins::NodeAllocatable::from_host()
        .memory_bytes
        .expect("MemTotal");
    // The kernel shows the size rounded up to whole pages, in KiB.
    let size: u64 = options
        .iter()
        .find_map(|o| o.strip_prefix("size=")?.strip_suffix('k')?.parse().ok())
        .unwrap_or_else(|| panic!("no size: {message}"));
    assert!(
        size * 1024 >= memory && size * 1024 - memory < 1 << 16,
        "size={size}k for {memory} bytes: {message}"
    );
    assert_eq!(
        options.contains(&"noswap"),
        volume_manager::kernel_supports_tmpfs_noswap(),
        "{message}"
    );
    // defaultMode 0644 and items[].mode 0400, group read added for fsGroup 2000.
    assert_eq!(&lines[1..], ["644 2000", "440 2000", "s3cret"], "{message}");
    // The emptyDir mounted inside the secret got its mount point and took the write.
    let cache = node
        .pod_dir(&uid)
        .join("volumes/kubernetes.io~empty-dir/cache/f");
    assert_eq!(std::fs::read_to_string(cache).unwrap(), "written\n");
    let nested = node
        .pod_dir(&uid)
        .join("volumes/kubernetes.io~secret/app/cache");
    assert!(nested.is_dir(), "{}", nested.display());

    node.delete(&p, 1).await;
    assert_eq!(
        mounts_under(&node.pod_dir(&uid)).unwrap(),
        Vec::<PathBuf>::new()
    );
    node.cleanup().await;
}
