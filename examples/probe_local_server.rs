//! `probes` used alone: httpGet and tcpSocket probes, written as in a pod spec, run against a
//! small HTTP server this example starts on `127.0.0.1:0`. Each probe's handler is built
//! from its `Probe` (a named port resolved through the container's `ports`), run once, and
//! its result printed with the output the kubelet would put in an event.
//!
//! ```sh
//! cargo run --example probe_local_server
//! ```

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, ContainerPort, HTTPGetAction, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use probes::{HttpGetProbe, ProbeHandler, ProbeTarget, TcpSocketProbe};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers `/healthz` with 200, `/broken` with 500, anything else with 404, and prints each
/// request line with the prober's `User-Agent`.
async fn serve(listener: TcpListener) {
    while let Ok((mut conn, _)) = listener.accept().await {
        let mut buf = vec![0u8; 4096];
        let n = conn.read(&mut buf).await.unwrap_or(0);
        let request = String::from_utf8_lossy(&buf[..n]);
        let line = request.lines().next().unwrap_or_default().to_string();
        let agent = request
            .lines()
            .find_map(|l| {
                l.strip_prefix("user-agent: ")
                    .or(l.strip_prefix("User-Agent: "))
            })
            .unwrap_or("-");
        if line.is_empty() {
            continue; // a tcpSocket probe: connected, then closed
        }
        println!("    server got {line:?} from {agent}");
        let (status, body) = match line.split_whitespace().nth(1) {
            Some("/healthz") => ("200 OK", "ok"),
            Some("/broken") => ("500 Internal Server Error", "database unreachable"),
            _ => ("404 Not Found", "no such page"),
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = conn.write_all(reply.as_bytes()).await;
    }
}

fn http_get(path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn tcp_socket(port: IntOrString) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction { port, host: None }),
        ..Default::default()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(serve(listener));
    // A port nothing listens on: bound, then closed.
    let closed = TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();
    println!("server on 127.0.0.1:{port}; port {closed} is closed\n");

    // The container the probes belong to: its port named `http` is the server's.
    let container = Container {
        name: "web".into(),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: port.into(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let probes = [
        ("httpGet /healthz on port http", http_get("/healthz")),
        ("httpGet /broken on port http", http_get("/broken")),
        (
            "tcpSocket on port http",
            tcp_socket(IntOrString::String("http".into())),
        ),
        (
            "tcpSocket on the closed port",
            tcp_socket(IntOrString::Int(closed.into())),
        ),
    ];
    // Network probes go to the pod IP unless they set `host`; here the pod is this machine.
    let target = ProbeTarget::pod_ip("127.0.0.1", Duration::from_secs(1));
    for (what, probe) in &probes {
        let handler: Box<dyn ProbeHandler> = match (&probe.http_get, &probe.tcp_socket) {
            (Some(action), _) => Box::new(HttpGetProbe::from_action(action, &container)?),
            (_, Some(action)) => Box::new(TcpSocketProbe::from_action(action, &container)?),
            _ => return Err("a probe without a handler".into()),
        };
        println!("{what}:");
        let outcome = handler.probe(&target).await?;
        println!("    => {:?} {:?}\n", outcome.status, outcome.output);
    }
    Ok(())
}
