//! Lifecycle hooks (`postStart`, `preStop`), run as the kubelet's `kl/lifecycle/handlers.go`
//! runs them.

use std::time::Duration;

use cri_client::RuntimeService;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The User-Agent of HTTP lifecycle hooks: `kube-lifecycle/<major>.<minor>` (TM-11).
pub const LIFECYCLE_USER_AGENT: &str = "kube-lifecycle/1.37";

/// How a hook ended badly. The message is the kubelet's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HookError(pub String);

/// Run a lifecycle handler for a container.
///
/// - `exec`: `ExecSync` with no timeout (a preStop hook is bounded by the caller's grace
///   wait); a non-zero exit or an error fails the hook.
/// - `httpGet`: GET to `host` (default: the pod IP) and the port (a number or a named
///   container port); **only transport errors fail**, the status code is not checked (TM-11).
/// - `sleep`: waits the given seconds.
/// - `tcpSocket`: deprecated and never run by the kubelet: fails with "invalid handler".
pub async fn run_hook(
    runtime: &dyn RuntimeService,
    container_id: &str,
    container: &Container,
    handler: &LifecycleHandler,
    pod_ip: Option<&str>,
) -> Result<(), HookError> {
    if let Some(exec) = &handler.exec {
        let command = exec.command.clone().unwrap_or_default();
        return match cri_client::run_in_container(
            runtime,
            container_id,
            command.clone(),
            Duration::ZERO,
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(cri_client::Error::CommandExited {
                exit_code, output, ..
            }) => Err(HookError(format!(
                "Exec lifecycle hook ({command:?}) for Container {:?} failed - error: command '{}' exited with {exit_code}: {output}, message: {output:?}",
                container.name,
                command.join(" "),
            ))),
            Err(e) => Err(HookError(format!(
                "Exec lifecycle hook ({command:?}) for Container {:?} failed - error: {e}, message: \"\"",
                container.name
            ))),
        };
    }
    if let Some(http) = &handler.http_get {
        let host = http
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .or_else(|| pod_ip.map(str::to_string))
            .ok_or_else(|| {
                HookError("failed to find networking container: pod has no IP".into())
            })?;
        let port = resolve_port(&http.port, container)?;
        if http
            .scheme
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("HTTPS"))
        {
            return Err(HookError(format!(
                "HTTPS lifecycle hooks are not supported by this agent yet (container {:?})",
                container.name
            )));
        }
        let path = http.path.clone().unwrap_or_else(|| "/".into());
        let headers: Vec<(String, String)> = http
            .http_headers
            .iter()
            .flatten()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        return http_get(&host, port, &path, &headers)
            .await
            .map(|_status| ())
            .map_err(|e| {
                HookError(format!(
                    "HTTP lifecycle hook ({path}) for Container {:?} failed - error: {e}",
                    container.name
                ))
            });
    }
    if let Some(sleep) = &handler.sleep {
        tokio::time::sleep(Duration::from_secs(sleep.seconds.max(0) as u64)).await;
        return Ok(());
    }
    Err(HookError("Cannot run handler: invalid handler".into()))
}

fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, HookError> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| HookError(format!("invalid port {n}"))),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .ok_or_else(|| {
                HookError(format!(
                    "couldn't find port: {name} in {:?}",
                    container.name
                ))
            }),
    }
}

/// A plain HTTP/1.1 GET on a new connection; `Ok` once a status line came back, whatever the
/// code. The body is not read.
async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect((host, port)).await?;
    let host_header = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| format!("{host}:{port}"));
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {LIFECYCLE_USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n"
    );
    for (k, v) in headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut buf = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut buf[read..]).await?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let line = String::from_utf8_lossy(&buf[..read]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status line"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{HTTPGetAction, TCPSocketAction};
    use tokio::net::TcpListener;

    async fn serve_once(status: u16) -> (u16, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
            s.write_all(reply.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (port, task)
    }

    fn http_handler(port: u16) -> LifecycleHandler {
        LifecycleHandler {
            http_get: Some(HTTPGetAction {
                host: Some("127.0.0.1".into()),
                port: IntOrString::Int(port as i32),
                path: Some("/hook".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn tm_11_http_hook_500_is_success_refused_is_failure() {
        let rt = cri_client::fake::FakeRuntime::new();
        let c = Container {
            name: "app".into(),
            ..Default::default()
        };
        let (port, server) = serve_once(500).await;
        run_hook(&rt, "c1", &c, &http_handler(port), None)
            .await
            .unwrap();
        let request = server.await.unwrap();
        assert!(request.starts_with("GET /hook HTTP/1.1"), "{request}");
        assert!(request.contains("User-Agent: kube-lifecycle/"), "{request}");

        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = run_hook(&rt, "c1", &c, &http_handler(port), None)
            .await
            .unwrap_err();
        assert!(err.0.contains("HTTP lifecycle hook (/hook)"), "{err}");
    }

    #[tokio::test]
    async fn tcp_socket_hook_is_an_invalid_handler() {
        let rt = cri_client::fake::FakeRuntime::new();
        let c = Container {
            name: "app".into(),
            ..Default::default()
        };
        let handler = LifecycleHandler {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::Int(80),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = run_hook(&rt, "c1", &c, &handler, None).await.unwrap_err();
        assert_eq!(err.0, "Cannot run handler: invalid handler");
    }
}
