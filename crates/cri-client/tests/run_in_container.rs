//! `run_in_container` judges an `ExecSync` result the way the kubelet's `RunInContainer`
//! does, on the fake (the same commands behave the same on containerd, see the contract
//! suite's exec cases).

use std::time::Duration;

use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
use cri_client::{Error, run_in_container};
use test_env::TestSandbox;

async fn running_container(rt: &FakeRuntime) -> String {
    let (_, id) = TestSandbox::builder("default", "p", "u1")
        .run_with_container(rt, "app", BUSYBOX_IMAGE, &["sleep", "infinity"])
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
