//! `run_in_container` judges an `ExecSync` result the way the kubelet's `RunInContainer`
//! does, on the fake (the same commands behave the same on containerd, see the contract
//! suite's exec cases).

use std::time::Duration;

use cri_client::fake::FakeRuntime;
use cri_client::{Error, RuntimeService, run_in_container, v1};

async fn running_container(rt: &FakeRuntime) -> String {
    let config = v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: "p".into(),
            namespace: "default".into(),
            uid: "u1".into(),
            attempt: 0,
        }),
        ..Default::default()
    };
    let sandbox = rt
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: String::new(),
        })
        .await
        .unwrap()
        .pod_sandbox_id;
    let id = rt
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: sandbox,
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata {
                    name: "app".into(),
                    attempt: 0,
                }),
                image: Some(v1::ImageSpec {
                    image: "localhost/busybox:1".into(),
                    ..Default::default()
                }),
                command: vec!["sleep".into(), "infinity".into()],
                ..Default::default()
            }),
            sandbox_config: Some(config),
        })
        .await
        .unwrap()
        .container_id;
    rt.start_container(v1::StartContainerRequest {
        container_id: id.clone(),
    })
    .await
    .unwrap();
    id
}

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn cri_06_exec_exit_codes_and_timeout() {
    let rt = FakeRuntime::with_busybox();
    let id = running_container(&rt).await;

    let out = run_in_container(&rt, &id, cmd(&["echo", "hi"]), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(out, b"hi\n");

    let err = run_in_container(
        &rt,
        &id,
        cmd(&["sh", "-c", "exit 3"]),
        Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    match &err {
        Error::CommandExited { exit_code, .. } => assert_eq!(*exit_code, 3),
        other => panic!("want CommandExited, got {other:?}"),
    }
    assert!(err.to_string().contains("exited with 3"), "{err}");

    let err = run_in_container(&rt, &id, cmd(&["sleep", "5"]), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CommandTimedOut { .. }), "{err:?}");
    assert!(err.to_string().contains("command timed out"), "{err}");
}
