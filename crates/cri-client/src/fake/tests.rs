//! Unit tests of the fake's semantics. The behaviour shared with containerd is checked by the
//! contract suite (`tests/contract_fake.rs`); these cover the test-only controls and the
//! corners the suite cannot reach on a real runtime.

use std::time::Duration;

use futures::StreamExt;
use tonic::Code;

use super::*;
use crate::{Error, ImageService, RuntimeService};

fn sandbox_config(name: &str, host_network: bool) -> v1::PodSandboxConfig {
    v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: name.into(),
            namespace: "default".into(),
            uid: format!("uid-{name}"),
            attempt: 0,
        }),
        labels: [("io.kubernetes.pod.uid".to_string(), format!("uid-{name}"))].into(),
        linux: Some(v1::LinuxPodSandboxConfig {
            security_context: Some(v1::LinuxSandboxSecurityContext {
                namespace_options: Some(v1::NamespaceOption {
                    network: if host_network {
                        v1::NamespaceMode::Node as i32
                    } else {
                        v1::NamespaceMode::Pod as i32
                    },
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn sandbox(fake: &FakeRuntime, name: &str) -> String {
    fake.run_pod_sandbox(v1::RunPodSandboxRequest {
        config: Some(sandbox_config(name, false)),
        runtime_handler: String::new(),
    })
    .await
    .unwrap()
    .pod_sandbox_id
}

async fn container(fake: &FakeRuntime, sandbox: &str, name: &str, command: &[&str]) -> String {
    fake.create_container(v1::CreateContainerRequest {
        pod_sandbox_id: sandbox.into(),
        config: Some(v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(v1::ImageSpec {
                image: BUSYBOX_IMAGE.into(),
                ..Default::default()
            }),
            command: command.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }),
        sandbox_config: None,
    })
    .await
    .unwrap()
    .container_id
}

async fn start(fake: &FakeRuntime, id: &str) {
    fake.start_container(v1::StartContainerRequest {
        container_id: id.into(),
    })
    .await
    .unwrap();
}

async fn status(fake: &FakeRuntime, id: &str) -> v1::ContainerStatus {
    fake.container_status(v1::ContainerStatusRequest {
        container_id: id.into(),
        verbose: false,
    })
    .await
    .unwrap()
    .status
    .unwrap()
}

#[tokio::test]
async fn sleep_exits_when_the_clock_says_so() {
    let fake = FakeRuntime::with_busybox();
    let pod = sandbox(&fake, "a").await;
    let c = container(&fake, &pod, "main", &["sleep", "10"]).await;
    start(&fake, &c).await;
    let started = fake.clock().now();
    fake.advance(Duration::from_secs(9));
    assert_eq!(
        status(&fake, &c).await.state(),
        v1::ContainerState::ContainerRunning
    );
    fake.clock().advance(Duration::from_secs(5));
    let s = status(&fake, &c).await;
    assert_eq!(s.state(), v1::ContainerState::ContainerExited);
    assert_eq!(s.exit_code, 0);
    assert_eq!(s.reason, "Completed");
    assert_eq!(s.started_at, started);
    assert_eq!(
        s.finished_at,
        started + 10_000_000_000,
        "exit at the programmed instant"
    );
}

#[tokio::test]
async fn ids_are_deterministic_across_runtimes() {
    let a = FakeRuntime::with_busybox();
    let b = FakeRuntime::with_busybox();
    assert_eq!(sandbox(&a, "x").await, sandbox(&b, "x").await);
    let id = sandbox(&a, "y").await;
    assert_eq!(id.len(), 64);
    // A unique prefix is as good as the id.
    let s = a
        .pod_sandbox_status(v1::PodSandboxStatusRequest {
            pod_sandbox_id: id[..10].into(),
            verbose: false,
        })
        .await
        .unwrap();
    assert_eq!(s.status.unwrap().id, id);
}

#[tokio::test]
async fn injected_exits_and_states() {
    let fake = FakeRuntime::with_busybox();
    let pod = sandbox(&fake, "a").await;
    let c = container(&fake, &pod, "main", &["sleep", "infinity"]).await;
    start(&fake, &c).await;
    fake.exit_container(&c, 137, "OOMKilled");
    let s = status(&fake, &c).await;
    assert_eq!((s.exit_code, s.reason.as_str()), (137, "OOMKilled"));

    let c2 = container(&fake, &pod, "second", &["sleep", "infinity"]).await;
    start(&fake, &c2).await;
    fake.set_container_unknown(&c2);
    assert_eq!(
        status(&fake, &c2).await.state(),
        v1::ContainerState::ContainerUnknown
    );

    fake.set_sandbox_not_ready(&pod);
    let err = fake
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata {
                    name: "third".into(),
                    attempt: 0,
                }),
                image: Some(v1::ImageSpec {
                    image: BUSYBOX_IMAGE.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            sandbox_config: None,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("CreateContainer"), "{err}");
}

#[tokio::test]
async fn scripted_failures_queue_and_map_like_the_real_client() {
    let fake = FakeRuntime::with_busybox();
    fake.fail_next("RunPodSandbox", 2, Code::Unavailable);
    fake.fail_next(
        "RunPodSandbox",
        1,
        tonic::Status::resource_exhausted("no IPs"),
    );
    for _ in 0..2 {
        let err = fake
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(sandbox_config("a", false)),
                runtime_handler: String::new(),
            })
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Unavailable {
                    call: "RunPodSandbox",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    let err = fake
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(sandbox_config("a", false)),
            runtime_handler: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::ResourceExhausted));
    assert!(err.to_string().contains("no IPs"), "{err}");
    let id = sandbox(&fake, "a").await;

    let calls = fake.calls_to("RunPodSandbox");
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[0].failed, Some(Code::Unavailable));
    assert_eq!(calls[0].id.as_deref(), Some("default/a"));
    assert_eq!(calls[3].failed, None);
    assert_eq!(calls[3].id.as_deref(), Some(id.as_str()));
    fake.clear_calls();
    assert!(fake.calls().is_empty());
}

#[test]
#[should_panic(expected = "not a CRI call name")]
fn fail_next_refuses_unknown_call_names() {
    FakeRuntime::new().fail_next("RunPodSandbx", 1, Code::Internal);
}

#[tokio::test]
async fn exec_sync_interprets_commands_and_scripts() {
    let fake = FakeRuntime::with_busybox();
    let pod = sandbox(&fake, "a").await;
    let c = container(&fake, &pod, "main", &["sleep", "infinity"]).await;
    start(&fake, &c).await;
    let exec = |cmd: &[&str], timeout| v1::ExecSyncRequest {
        container_id: c.clone(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        timeout,
    };
    let out = fake.exec_sync(exec(&["echo", "hi"], 0)).await.unwrap();
    assert_eq!((out.stdout.as_slice(), out.exit_code), (&b"hi\n"[..], 0));
    let err = fake.exec_sync(exec(&["sleep", "5"], 1)).await.unwrap_err();
    assert!(
        matches!(err, Error::CommandTimedOut { ref container_id, timeout }
        if container_id == &c && timeout == Duration::from_secs(1)),
        "{err:?}"
    );
    assert_eq!(
        fake.exec_sync(exec(&["sleep", "5"], 0))
            .await
            .unwrap()
            .exit_code,
        0
    );

    fake.set_exec_reply(
        None,
        &["cat", "/tmp/healthy"],
        v1::ExecSyncResponse {
            stdout: Vec::new(),
            stderr: b"cat: can't open '/tmp/healthy'\n".to_vec(),
            exit_code: 1,
        },
    );
    let out = fake
        .exec_sync(exec(&["cat", "/tmp/healthy"], 1))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 1);
    let calls = fake.calls_to("ExecSync");
    assert_eq!(calls.last().unwrap().timeout, Some(1));
}

#[tokio::test]
async fn images_pull_status_remove() {
    let fake = FakeRuntime::new();
    let reference = "127.0.0.1:5000/busybox:1";
    let missing = fake
        .pull_image(v1::PullImageRequest {
            image: Some(v1::ImageSpec {
                image: reference.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    fake.add_registry_image(reference);
    let pulled = fake
        .pull_image(v1::PullImageRequest {
            image: Some(v1::ImageSpec {
                image: reference.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .image_ref;
    assert!(
        pulled.starts_with("sha256:") && pulled.len() == 71,
        "{pulled}"
    );
    let image = fake
        .image_status(v1::ImageStatusRequest {
            image: Some(v1::ImageSpec {
                image: pulled.clone(),
                ..Default::default()
            }),
            verbose: false,
        })
        .await
        .unwrap()
        .image
        .unwrap();
    assert_eq!(image.repo_tags, vec![reference.to_string()]);
    assert_eq!(image.repo_digests.len(), 1);
    let fs = fake.image_fs_info(v1::ImageFsInfoRequest {}).await.unwrap();
    assert_eq!(
        fs.image_filesystems[0].used_bytes.as_ref().unwrap().value,
        image.size
    );
    for _ in 0..2 {
        fake.remove_image(v1::RemoveImageRequest {
            image: Some(v1::ImageSpec {
                image: reference.into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    }
    assert!(
        fake.list_images(Default::default())
            .await
            .unwrap()
            .images
            .is_empty()
    );
}

#[tokio::test]
async fn entrypoint_and_cmd_come_from_the_image() {
    let fake = FakeRuntime::with_busybox();
    fake.add_image_with(
        FakeImage::new("localhost/server:1")
            .with_entrypoint(&["/bin/sleep"])
            .with_cmd(&["30"]),
    );
    let pod = sandbox(&fake, "a").await;
    let c = fake
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: pod,
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata {
                    name: "server".into(),
                    attempt: 0,
                }),
                image: Some(v1::ImageSpec {
                    image: "localhost/server:1".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            sandbox_config: None,
        })
        .await
        .unwrap()
        .container_id;
    start(&fake, &c).await;
    fake.advance(Duration::from_secs(29));
    assert_eq!(
        status(&fake, &c).await.state(),
        v1::ContainerState::ContainerRunning
    );
    fake.advance(Duration::from_secs(1));
    assert_eq!(
        status(&fake, &c).await.state(),
        v1::ContainerState::ContainerExited
    );
}

#[tokio::test]
async fn container_events_when_enabled() {
    let fake = FakeRuntime::with_busybox();
    assert_eq!(
        fake.container_events_capability().await.unwrap(),
        crate::EventsCapability::Unsupported
    );
    fake.enable_container_events();
    let mut events = fake
        .get_container_events(v1::GetEventsRequest {})
        .await
        .unwrap();
    let pod = sandbox(&fake, "a").await;
    let c = container(&fake, &pod, "main", &["sleep", "1"]).await;
    start(&fake, &c).await;
    fake.advance(Duration::from_secs(1));
    fake.remove_container(v1::RemoveContainerRequest {
        container_id: c.clone(),
    })
    .await
    .unwrap();
    let mut kinds = Vec::new();
    for _ in 0..4 {
        let e = events.next().await.unwrap().unwrap();
        assert_eq!(e.container_id, c);
        kinds.push(e.container_event_type());
    }
    use v1::ContainerEventType as E;
    assert_eq!(
        kinds,
        [
            E::ContainerCreatedEvent,
            E::ContainerStartedEvent,
            E::ContainerStoppedEvent,
            E::ContainerDeletedEvent
        ]
    );
}

#[tokio::test]
async fn network_not_ready_blocks_pod_network_sandboxes_only() {
    let fake = FakeRuntime::with_busybox();
    fake.set_network_ready(false);
    let status = fake.status(Default::default()).await.unwrap();
    let conditions = status.status.unwrap().conditions;
    assert!(
        conditions
            .iter()
            .any(|c| c.r#type == "NetworkReady" && !c.status)
    );
    let err = fake
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(sandbox_config("a", false)),
            runtime_handler: String::new(),
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("cni plugin not initialized"),
        "{err}"
    );
    fake.run_pod_sandbox(v1::RunPodSandboxRequest {
        config: Some(sandbox_config("b", true)),
        runtime_handler: String::new(),
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn names_are_reserved_until_removal() {
    let fake = FakeRuntime::with_busybox();
    let pod = sandbox(&fake, "a").await;
    let err = fake
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(sandbox_config("a", false)),
            runtime_handler: String::new(),
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is reserved for"), "{err}");
    let c = container(&fake, &pod, "main", &["true"]).await;
    assert!(
        fake.create_container(v1::CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata {
                    name: "main".into(),
                    attempt: 0,
                }),
                image: Some(v1::ImageSpec {
                    image: BUSYBOX_IMAGE.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            sandbox_config: None,
        })
        .await
        .is_err()
    );
    fake.remove_container(v1::RemoveContainerRequest { container_id: c })
        .await
        .unwrap();
    container(&fake, &pod, "main", &["true"]).await;
    fake.remove_pod_sandbox(v1::RemovePodSandboxRequest {
        pod_sandbox_id: pod,
    })
    .await
    .unwrap();
    sandbox(&fake, "a").await;
}

#[tokio::test]
async fn stats_and_streaming_urls() {
    let fake = FakeRuntime::with_busybox();
    let pod = sandbox(&fake, "a").await;
    let c = container(&fake, &pod, "main", &["sleep", "infinity"]).await;
    start(&fake, &c).await;
    fake.advance(Duration::from_secs(10));
    let stats = fake
        .container_stats(v1::ContainerStatsRequest {
            container_id: c.clone(),
        })
        .await
        .unwrap()
        .stats
        .unwrap();
    assert_eq!(
        stats.cpu.unwrap().usage_core_nano_seconds.unwrap().value,
        100_000_000
    );
    let pod_stats = fake
        .list_pod_sandbox_stats(Default::default())
        .await
        .unwrap()
        .stats;
    assert_eq!(pod_stats.len(), 1);
    assert_eq!(pod_stats[0].linux.as_ref().unwrap().containers.len(), 1);
    let url = fake
        .exec(v1::ExecRequest {
            container_id: c.clone(),
            cmd: vec!["sh".into()],
            stdout: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .url;
    assert!(url.starts_with("http://127.0.0.1:10010/exec/"), "{url}");
    fake.update_container_resources(v1::UpdateContainerResourcesRequest {
        container_id: c.clone(),
        linux: Some(v1::LinuxContainerResources {
            memory_limit_in_bytes: 64 << 20,
            cpu_quota: 20_000,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let linux = status(&fake, &c).await.resources.unwrap().linux.unwrap();
    assert_eq!(linux.memory_limit_in_bytes, 64 << 20);
    assert_eq!(linux.memory_swap_limit_in_bytes, 64 << 20);
    assert_eq!(linux.cpu_quota, 20_000);
}

#[test]
fn debug_is_a_summary() {
    let text = format!("{:?}", FakeRuntime::with_busybox());
    assert!(text.contains("images: 2"), "{text}");
}
