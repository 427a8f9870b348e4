//! The grpc handler against a real tonic health server on 127.0.0.1.

use std::time::Duration;

use k8s_openapi::api::core::v1::GRPCAction;
use probes::{GrpcProbe, ProbeHandler, ProbeOutcome, ProbeStatus, ProbeTarget};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;
use tonic_health::ServingStatus;

const SECOND: Duration = Duration::from_secs(1);

/// A health server: "" SERVING, "db" NOT_SERVING.
async fn health_server() -> u16 {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    reporter
        .set_service_status("db", ServingStatus::NotServing)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _keep = reporter;
        Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    port
}

/// A gRPC server with no services at all.
async fn bare_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        Server::builder()
            .add_routes(tonic::service::Routes::default())
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    port
}

async fn check(port: u16, service: &str) -> ProbeOutcome {
    GrpcProbe::new(port, service)
        .probe(&ProbeTarget::pod_ip("127.0.0.1", SECOND))
        .await
        .unwrap()
}

#[tokio::test]
async fn pr_18_grpc_serving_and_not_serving() {
    let port = health_server().await;
    assert_eq!(
        check(port, "").await,
        ProbeOutcome::success("service is serving")
    );
    assert_eq!(
        check(port, "db").await,
        ProbeOutcome::failure("service unhealthy (responded with \"NOT_SERVING\")")
    );
    // An unknown service: the server answers NotFound.
    let o = check(port, "nope").await;
    assert_eq!(o.status, ProbeStatus::Failure);
    assert!(
        o.output.starts_with("error: health rpc probe failed: "),
        "{}",
        o.output
    );
    // From the spec.
    let probe = GrpcProbe::from_action(&GRPCAction {
        port: port.into(),
        service: Some("db".into()),
        ..Default::default()
    })
    .unwrap();
    let o = probe
        .probe(&ProbeTarget::pod_ip("127.0.0.1", SECOND))
        .await
        .unwrap();
    assert_eq!(o.status, ProbeStatus::Failure);
}

#[tokio::test]
async fn pr_18_grpc_without_health_service_fails() {
    let port = bare_server().await;
    let o = check(port, "").await;
    assert_eq!(o.status, ProbeStatus::Failure);
    assert!(
        o.output.starts_with(
            "error: this server does not implement the grpc health protocol (grpc.health.v1.Health)"
        ),
        "{}",
        o.output
    );
}

#[tokio::test]
async fn pr_18_grpc_closed_port_and_silent_server_fail() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = check(port, "").await;
    assert_eq!(o.status, ProbeStatus::Failure);
    assert!(
        o.output.starts_with(&format!(
            "error: failed to connect service at \"127.0.0.1:{port}\""
        )),
        "{}",
        o.output
    );

    // A TCP server that never speaks HTTP/2: the probe ends within its timeout.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    let started = std::time::Instant::now();
    let o = check(port, "").await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(o.status, ProbeStatus::Failure);
    assert!(o.output.starts_with("timeout: "), "{}", o.output);
    assert!(
        GrpcProbe::from_action(&GRPCAction {
            port: 70000,
            ..Default::default()
        })
        .is_err()
    );
}
