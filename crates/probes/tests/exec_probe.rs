//! The exec handler through CRI `ExecSync` on the fake runtime.

use std::sync::Arc;
use std::time::Duration;

use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
use cri_client::v1;
use k8s_openapi::api::core::v1::{Container, EnvVar, ExecAction};
use probes::{Error, ExecProbe, ProbeHandler, ProbeOutcome, ProbeTarget};
use test_env::TestSandbox;

async fn running_container(fake: &FakeRuntime) -> String {
    let sleeper = TestSandbox::builder("default", "demo", "uid-1").run_with_container(
        fake,
        "app",
        BUSYBOX_IMAGE,
        &["sleep", "infinity"],
    );
    sleeper.await.unwrap().1
}

fn exec(fake: &FakeRuntime, cmd: &[&str]) -> ExecProbe {
    ExecProbe::new(
        Arc::new(fake.clone()),
        cmd.iter().map(|s| s.to_string()).collect(),
    )
}

#[tokio::test]
async fn pr_17_exec_exit_codes_timeout_and_output() {
    let fake = FakeRuntime::with_busybox();
    let id = running_container(&fake).await;
    let target = ProbeTarget::container(&id, Duration::from_secs(1));

    let o = exec(&fake, &["echo", "fine"]).probe(&target).await.unwrap();
    assert_eq!(o, ProbeOutcome::success("fine\n"));
    let o = exec(&fake, &["sh", "-c", "exit 1"])
        .probe(&target)
        .await
        .unwrap();
    assert_eq!(o, ProbeOutcome::failure(""));
    let o = exec(&fake, &["false"]).probe(&target).await.unwrap();
    assert!(!o.is_success());

    // Slower than timeoutSeconds: a failure (ExecProbeTimeout), not an error.
    let o = exec(&fake, &["sleep", "5"]).probe(&target).await.unwrap();
    assert_eq!(o, ProbeOutcome::failure("command \"sleep 5\" timed out"));
    let call = fake.calls_to("ExecSync").pop().unwrap();
    assert_eq!(
        call.timeout,
        Some(1),
        "timeoutSeconds is the ExecSync timeout"
    );

    // Output: stdout then stderr, cut at 10 KiB.
    fake.set_exec_reply(
        None,
        &["check"],
        v1::ExecSyncResponse {
            stdout: vec![b'o'; 8 * 1024],
            stderr: vec![b'e'; 8 * 1024],
            exit_code: 3,
        },
    );
    let o = exec(&fake, &["check"]).probe(&target).await.unwrap();
    assert_eq!(o.output.len(), 10 * 1024);
    assert_eq!(
        o.output,
        format!("{}{}", "o".repeat(8 * 1024), "e".repeat(2 * 1024))
    );
    assert!(!o.is_success());
}

#[tokio::test]
async fn pr_17_exec_runtime_errors_are_prober_errors() {
    let fake = FakeRuntime::with_busybox();
    let id = running_container(&fake).await;
    let err = exec(&fake, &["true"])
        .probe(&ProbeTarget::container("missing", Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Exec { .. }), "{err}");
    assert!(err.to_string().contains("missing"), "{err}");

    fake.fail_next("ExecSync", 1, tonic::Code::Unavailable);
    let err = exec(&fake, &["true"])
        .probe(&ProbeTarget::container(&id, Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Exec { .. }), "{err}");
}

#[tokio::test]
async fn pr_17_exec_command_expands_static_env_only() {
    let fake = FakeRuntime::with_busybox();
    let id = running_container(&fake).await;
    let container = Container {
        name: "app".into(),
        env: Some(vec![
            EnvVar {
                name: "WORD".into(),
                value: Some("hello".into()),
                value_from: None,
            },
            EnvVar {
                name: "FROM_API".into(),
                value: None,
                value_from: Some(Default::default()),
            },
        ]),
        ..Default::default()
    };
    let probe = ExecProbe::from_action(
        &ExecAction {
            command: Some(vec![
                "echo".into(),
                "$(WORD)".into(),
                "[$(FROM_API)]".into(),
                "$(UNKNOWN)".into(),
            ]),
        },
        &container,
        Arc::new(fake.clone()),
    );
    assert_eq!(probe.command(), ["echo", "hello", "[]", "$(UNKNOWN)"]);
    let o = probe
        .probe(&ProbeTarget::container(&id, Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(o, ProbeOutcome::success("hello [] $(UNKNOWN)\n"));
}
