//! Lifecycle hooks (`postStart`, `preStop`), run as the kubelet's `kl/lifecycle/handlers.go`
//! runs them.

use std::time::Duration;

use cri_client::RuntimeService;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::plan::format_pod;

/// The User-Agent of HTTP lifecycle hooks: `kube-lifecycle/<major>.<minor>` (TM-11).
pub const LIFECYCLE_USER_AGENT: &str = "kube-lifecycle/1.37";

/// How a hook ended badly. The message is the kubelet's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HookError(pub String);

/// Run a lifecycle handler for a container of `pod`.
///
/// - `exec`: `ExecSync` with no timeout (a preStop hook is bounded by the caller's grace
///   wait); a non-zero exit or an error fails the hook.
/// - `httpGet`: GET to `host` (default: the pod IP) and the port (a number or a named
///   container port); **only transport errors fail**, the status code is not checked (TM-11).
/// - `sleep`: waits the given seconds.
/// - `tcpSocket`: deprecated and never run by the kubelet: fails with "invalid handler".
///
/// A failure's message is the kubelet's (`handlerRunner.Run`, `lifecycle/handlers.go`):
/// `Exec lifecycle hook ([sh -c exit 1]) for Container "main" in Pod "web_default(<uid>)"
/// failed - error: <error>, message: "<output>"` (the command as Go's `%v` prints a list, the
/// pod as `format.Pod`), and `HTTP lifecycle hook (<path>) for Container ... failed - error:
/// <error>`.
pub async fn run_hook(
    runtime: &dyn RuntimeService,
    container_id: &str,
    pod: &Pod,
    container: &Container,
    handler: &LifecycleHandler,
    pod_ip: Option<&str>,
) -> Result<(), HookError> {
    let pod_desc = format_pod(pod);
    if let Some(exec) = &handler.exec {
        let command = exec.command.clone().unwrap_or_default();
        let fail = |error: String, output: &str| {
            HookError(format!(
                "Exec lifecycle hook ({}) for Container {:?} in Pod {pod_desc:?} failed - error: {error}, message: {output:?}",
                go_list(&command),
                container.name,
            ))
        };
        // The kubelet's `runInContainer`: the message is stdout then stderr, the error of a
        // non-zero exit names stderr alone (`ExecSync`, cri-client's `remote_runtime.go`).
        let request = cri_client::v1::ExecSyncRequest {
            container_id: container_id.to_string(),
            cmd: command.clone(),
            timeout: 0,
        };
        return match runtime.exec_sync(request).await {
            Ok(r) if r.exit_code == 0 => Ok(()),
            Ok(r) => {
                let mut output = r.stdout;
                output.extend_from_slice(&r.stderr);
                Err(fail(
                    format!(
                        "command '{}' exited with {}: {}",
                        command.join(" "),
                        r.exit_code,
                        String::from_utf8_lossy(&r.stderr)
                    ),
                    &String::from_utf8_lossy(&output),
                ))
            }
            Err(e) => Err(fail(e.to_string(), "")),
        };
    }
    if let Some(http) = &handler.http_get {
        let path = http.path.clone().unwrap_or_default();
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
        let result = async {
            let host = http
                .host
                .clone()
                .filter(|h| !h.is_empty())
                .or_else(|| pod_ip.map(str::to_string))
                .ok_or_else(|| "failed to find networking container: pod has no IP".to_string())?;
            let port = resolve_port(&http.port, container).map_err(|e| e.0)?;
            let headers: Vec<(String, String)> = http
                .http_headers
                .iter()
                .flatten()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect();
            let request_path = if path.is_empty() { "/" } else { path.as_str() };
            http_get(&host, port, request_path, &headers)
                .await
                .map(|_status| ())
                .map_err(|e| e.to_string())
        }
        .await;
        return result.map_err(|e| {
            HookError(format!(
                "HTTP lifecycle hook ({path}) for Container {:?} in Pod {pod_desc:?} failed - error: {e}",
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

/// A list as Go's `%v` prints a `[]string`: `[sh -c exit 1]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
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

    fn pod() -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("default".into());
        pod.metadata.uid = Some("u1".into());
        pod
    }

    /// `hook-message`: Go's `%v` of the command.
    #[test]
    fn hook_message_lists_the_command_as_go_does() {
        let command = ["sh", "-c", "exit 1"].map(String::from);
        assert_eq!(go_list(&command), "[sh -c exit 1]");
        assert_eq!(go_list(&[]), "[]");
        assert_eq!(format_pod(&pod()), "web_default(u1)");
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
        run_hook(&rt, "c1", &pod(), &c, &http_handler(port), None)
            .await
            .unwrap();
        let request = server.await.unwrap();
        assert!(request.starts_with("GET /hook HTTP/1.1"), "{request}");
        assert!(request.contains("User-Agent: kube-lifecycle/"), "{request}");

        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = run_hook(&rt, "c1", &pod(), &c, &http_handler(port), None)
            .await
            .unwrap_err();
        assert!(
            err.0.starts_with(
                "HTTP lifecycle hook (/hook) for Container \"app\" in Pod \"web_default(u1)\" failed - error: "
            ),
            "{err}"
        );
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
        let err = run_hook(&rt, "c1", &pod(), &c, &handler, None)
            .await
            .unwrap_err();
        assert_eq!(err.0, "Cannot run handler: invalid handler");
    }
}
