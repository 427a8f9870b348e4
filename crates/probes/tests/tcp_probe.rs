//! The tcpSocket handler against a real listener and a closed port.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, ContainerPort, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use probes::{ProbeHandler, ProbeOutcome, ProbeStatus, ProbeTarget, TcpSocketProbe};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn pr_16_tcp_listening_port_succeeds_closed_port_fails() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = ProbeTarget::pod_ip("127.0.0.1", SECOND);
    let o = TcpSocketProbe::new(port).probe(&target).await.unwrap();
    assert_eq!(o, ProbeOutcome::success(""));
    // The connection is closed at once: the server sees EOF.
    let (mut conn, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 1];
    let n = tokio::io::AsyncReadExt::read(&mut conn, &mut buf)
        .await
        .unwrap();
    assert_eq!(n, 0);

    drop(listener);
    let o = TcpSocketProbe::new(port).probe(&target).await.unwrap();
    assert_eq!(
        o,
        ProbeOutcome::failure(format!(
            "dial tcp 127.0.0.1:{port}: connect: connection refused"
        ))
    );
}

#[tokio::test]
async fn pr_16_tcp_named_port_host_and_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let container = Container {
        name: "db".into(),
        ports: Some(vec![ContainerPort {
            name: Some("sql".into()),
            container_port: port.into(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let probe = TcpSocketProbe::from_action(
        &TCPSocketAction {
            port: IntOrString::String("sql".into()),
            host: Some("127.0.0.1".into()),
        },
        &container,
    )
    .unwrap();
    // `host` wins over the pod IP.
    let o = probe
        .probe(&ProbeTarget::pod_ip("192.0.2.1", SECOND))
        .await
        .unwrap();
    assert!(o.is_success(), "{o:?}");

    // An unreachable address (TEST-NET-1) fails: a timeout, or at once without a route.
    let o = TcpSocketProbe::new(81)
        .probe(&ProbeTarget::pod_ip(
            "192.0.2.1",
            Duration::from_millis(200),
        ))
        .await
        .unwrap();
    assert_eq!(o.status, ProbeStatus::Failure);
    assert!(
        o.output.starts_with("dial tcp 192.0.2.1:81: "),
        "{}",
        o.output
    );
}
