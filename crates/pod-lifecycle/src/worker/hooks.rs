//! Lifecycle hooks (`postStart`, `preStop`), run as the kubelet's `kl/lifecycle/handlers.go`
//! runs them.

use std::fmt;
use std::time::Duration;

use cri_client::RuntimeService;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};
use probes::{HttpGetError, HttpGetRequest, HttpScheme};
use tracing::Instrument;

use crate::plan::format_pod;

/// The User-Agent of HTTP lifecycle hooks: `kube-lifecycle/<major>.<minor>` (TM-11).
pub const LIFECYCLE_USER_AGENT: &str = "kube-lifecycle/1.37";

/// The reason of the Warning event an HTTPS hook that fell back to HTTP gets.
pub const LIFECYCLE_HTTP_FALLBACK: &str = "LifecycleHTTPFallback";

/// Which hook of a container runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleHook {
    /// `lifecycle.postStart`: right after the container started, before the next one is
    /// created.
    PostStart,
    /// `lifecycle.preStop`: before the container is stopped, within its grace period.
    PreStop,
}

impl LifecycleHook {
    /// The field's name: `postStart` or `preStop`.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleHook::PostStart => "postStart",
            LifecycleHook::PreStop => "preStop",
        }
    }
}

impl fmt::Display for LifecycleHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a hook ended badly. The message is the kubelet's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HookError(pub String);

/// What a hook that succeeded has to report besides its success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookSuccess {
    /// An HTTPS hook reached a plain HTTP server and succeeded when retried over HTTP: the
    /// message of the Warning event [`LIFECYCLE_HTTP_FALLBACK`] the caller records ("request
    /// to HTTPS lifecycle hook 10.88.0.5:8080 got HTTP response, retry with HTTP
    /// succeeded").
    pub http_fallback: Option<String>,
}

/// Run the `hook` handler of a container of `pod`, in a span naming the pod, the container
/// and the hook.
///
/// - `exec`: `ExecSync` with no timeout (a preStop hook is bounded by the caller's grace
///   wait); a non-zero exit or an error fails the hook.
/// - `httpGet`: the probes crate's [`HttpGetRequest`] (the kubelet builds hook requests with
///   its prober's `NewRequestForHTTPGetAction`): `host` defaults to the pod IP, the port may
///   name a container port, the scheme is HTTP or HTTPS (certificates not verified),
///   `User-Agent: kube-lifecycle/1.37`, same-host redirects followed (10 requests at most),
///   a redirect to another host ends the hook as it is, and the body read up to 10 KiB. A
///   header whose name is not an HTTP token or whose value holds a control character (a
///   CR/LF that would inject headers) fails the hook before anything is sent, naming the
///   header and never its value. **Only errors fail; the status code is not checked**
///   (TM-11). No timeout of its own, as the kubelet's hook client has none. An HTTPS hook
///   answered in plain HTTP is retried once over HTTP without its `Authorization` header;
///   if that succeeds, the hook succeeds with [`HookSuccess::http_fallback`] set.
/// - `sleep`: waits the given seconds.
/// - `tcpSocket`: deprecated and never run by the kubelet: fails with "invalid handler".
///
/// A failure's message is the kubelet's (`handlerRunner.Run`, `lifecycle/handlers.go`):
/// `Exec lifecycle hook ([sh -c exit 1]) for Container "main" in Pod "web_default(<uid>)"
/// failed - error: <error>, message: "<output>"` (the command as Go's `%v` prints a list, the
/// pod as `format.Pod`), and `HTTP lifecycle hook (<path>) for Container ... failed - error:
/// <error>`, where the error is Go's client's (`Get "http://10.88.0.5:80/stop": net/http:
/// invalid header field value for "X-Token"`). Which hook failed is the event's reason
/// (`FailedPostStartHook`, `FailedPreStopHook`) and the span's `hook` field.
pub async fn run_hook(
    runtime: &dyn RuntimeService,
    container_id: &str,
    pod: &Pod,
    container: &Container,
    hook: LifecycleHook,
    handler: &LifecycleHandler,
    pod_ip: Option<&str>,
) -> Result<HookSuccess, HookError> {
    let pod_desc = format_pod(pod);
    let span = tracing::debug_span!(
        "lifecycle_hook",
        pod = %pod_desc,
        container = %container.name,
        hook = hook.as_str(),
    );
    let result = run_handler(runtime, container_id, &pod_desc, container, handler, pod_ip)
        .instrument(span.clone())
        .await;
    if let Err(e) = &result {
        span.in_scope(|| tracing::debug!(error = %e, "lifecycle hook failed"));
    }
    result
}

async fn run_handler(
    runtime: &dyn RuntimeService,
    container_id: &str,
    pod_desc: &str,
    container: &Container,
    handler: &LifecycleHandler,
    pod_ip: Option<&str>,
) -> Result<HookSuccess, HookError> {
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
            Ok(r) if r.exit_code == 0 => Ok(HookSuccess::default()),
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
        return run_http(http, container, pod_ip).await.map_err(|e| {
            HookError(format!(
                "HTTP lifecycle hook ({path}) for Container {:?} in Pod {pod_desc:?} failed - error: {e}",
                container.name
            ))
        });
    }
    if let Some(sleep) = &handler.sleep {
        tokio::time::sleep(Duration::from_secs(sleep.seconds.max(0) as u64)).await;
        return Ok(HookSuccess::default());
    }
    Err(HookError("Cannot run handler: invalid handler".into()))
}

/// The kubelet's `runHTTPHandler`: the host, the request, the HTTPS-to-HTTP fallback.
/// Returns the error text of the hook's message.
async fn run_http(
    http: &k8s_openapi::api::core::v1::HTTPGetAction,
    container: &Container,
    pod_ip: Option<&str>,
) -> Result<HookSuccess, String> {
    let has_host = http.host.as_deref().is_some_and(|h| !h.is_empty());
    let pod_ip = match (has_host, pod_ip.filter(|ip| !ip.is_empty())) {
        (true, _) => "",
        (false, Some(ip)) => ip,
        (false, None) => {
            return Err("failed to find networking container: pod has no IP".to_string());
        }
    };
    let request =
        HttpGetRequest::from_action(http, container)?.with_user_agent(LIFECYCLE_USER_AGENT);
    match request.send(pod_ip).await {
        Ok(response) => {
            tracing::debug!(status = response.status, "HTTP lifecycle hook answered");
            Ok(HookSuccess::default())
        }
        Err(error @ HttpGetError::HttpResponseToHttpsClient { .. }) => {
            // Go's `req.URL.Host`: `net.JoinHostPort(host, port)`.
            let host = request.host().unwrap_or(pod_ip);
            let host_port = match host.contains(':') {
                true => format!("[{host}]:{}", request.port()),
                false => format!("{host}:{}", request.port()),
            };
            tracing::debug!(
                host = %host_port,
                "HTTPS request to lifecycle hook got HTTP response, retrying with HTTP"
            );
            let retry = request
                .with_scheme(HttpScheme::Http)
                .without_header("Authorization");
            match retry.send(pod_ip).await {
                Ok(_) => Ok(HookSuccess {
                    http_fallback: Some(format!(
                        "request to HTTPS lifecycle hook {host_port} got HTTP response, retry with HTTP succeeded"
                    )),
                }),
                // The hook fails with the first error, as the kubelet's does.
                Err(_) => Err(error.to_string()),
            }
        }
        Err(error) => Err(error.to_string()),
    }
}

/// A list as Go's `%v` prints a `[]string`: `[sh -c exit 1]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use k8s_openapi::api::core::v1::{ContainerPort, HTTPGetAction, HTTPHeader, TCPSocketAction};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Reads a request head (up to the blank line, or what came before the peer stopped).
    /// Bytes that are not an HTTP request (a TLS ClientHello) are returned after the first
    /// read, so the server answers them at once, as an HTTP server answers garbage.
    async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> String {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
            if !head.starts_with(&b"GET "[..head.len().min(4)]) {
                break;
            }
        }
        String::from_utf8_lossy(&head).into_owned()
    }

    /// The requests a test server received, in order.
    type Seen = Arc<Mutex<Vec<String>>>;

    /// A plain HTTP server on 127.0.0.1 answering every request with `reply(request head)`;
    /// returns its port and the request heads it saw.
    async fn server(reply: impl Fn(&str) -> String + Send + Sync + 'static) -> (u16, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Seen::default();
        let log = seen.clone();
        let reply = Arc::new(reply);
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let (log, reply) = (log.clone(), reply.clone());
                tokio::spawn(async move {
                    let head = read_head(&mut s).await;
                    let answer = reply(&head);
                    log.lock().unwrap().push(head);
                    let _ = s.write_all(answer.as_bytes()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        (port, seen)
    }

    fn status(code: u16) -> String {
        format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    fn redirect(location: &str) -> String {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    }

    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    fn pod() -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("default".into());
        pod.metadata.uid = Some("u1".into());
        pod
    }

    fn app() -> Container {
        Container {
            name: "app".into(),
            ..Default::default()
        }
    }

    /// `hook-message`: Go's `%v` of the command.
    #[test]
    fn hook_message_lists_the_command_as_go_does() {
        let command = ["sh", "-c", "exit 1"].map(String::from);
        assert_eq!(go_list(&command), "[sh -c exit 1]");
        assert_eq!(go_list(&[]), "[]");
        assert_eq!(format_pod(&pod()), "web_default(u1)");
    }

    fn http_action(port: u16, path: &str) -> HTTPGetAction {
        HTTPGetAction {
            host: Some("127.0.0.1".into()),
            port: IntOrString::Int(port as i32),
            path: Some(path.into()),
            ..Default::default()
        }
    }

    fn http_handler(action: HTTPGetAction) -> LifecycleHandler {
        LifecycleHandler {
            http_get: Some(action),
            ..Default::default()
        }
    }

    async fn run(
        handler: &LifecycleHandler,
        container: &Container,
        pod_ip: Option<&str>,
    ) -> Result<HookSuccess, HookError> {
        let rt = cri_client::fake::FakeRuntime::new();
        run_hook(
            &rt,
            "c1",
            &pod(),
            container,
            LifecycleHook::PostStart,
            handler,
            pod_ip,
        )
        .await
    }

    #[tokio::test]
    async fn tm_11_http_hook_500_is_success_refused_is_failure() {
        let (port, seen) = server(|_| status(500)).await;
        let hook = http_handler(http_action(port, "/hook"));
        assert_eq!(run(&hook, &app(), None).await, Ok(HookSuccess::default()));
        let request = seen.lock().unwrap()[0].clone();
        assert!(request.starts_with("GET /hook HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains(&format!("User-Agent: {LIFECYCLE_USER_AGENT}\r\n")),
            "{request}"
        );
        assert!(request.contains("Accept: */*\r\n"), "{request}");
        assert!(
            request.contains(&format!("Host: 127.0.0.1:{port}\r\n")),
            "{request}"
        );

        let port = closed_port();
        let err = run(&http_handler(http_action(port, "/hook")), &app(), None)
            .await
            .unwrap_err();
        assert_eq!(
            err.0,
            format!(
                "HTTP lifecycle hook (/hook) for Container \"app\" in Pod \"web_default(u1)\" \
                 failed - error: Get \"http://127.0.0.1:{port}/hook\": dial tcp 127.0.0.1:{port}: \
                 connect: connection refused"
            )
        );
    }

    /// TM-11: with no `host`, the pod IP; a port by name; the user's headers sent.
    #[tokio::test]
    async fn tm_11_http_hook_targets_the_pod_ip_and_a_named_port() {
        let (port, seen) = server(|_| status(200)).await;
        let container = Container {
            name: "app".into(),
            ports: Some(vec![ContainerPort {
                name: Some("web".into()),
                container_port: port.into(),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let hook = http_handler(HTTPGetAction {
            port: IntOrString::String("web".into()),
            path: Some("/stop?now=1".into()),
            http_headers: Some(vec![HTTPHeader {
                name: "x-hook".into(),
                value: "yes".into(),
            }]),
            ..Default::default()
        });
        run(&hook, &container, Some("127.0.0.1")).await.unwrap();
        let request = seen.lock().unwrap()[0].clone();
        assert!(
            request.starts_with("GET /stop?now=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("X-Hook: yes\r\n"), "{request}");
        // No pod IP yet and no host: the kubelet's message.
        let err = run(&hook, &container, None).await.unwrap_err();
        assert!(
            err.0
                .ends_with("failed - error: failed to find networking container: pod has no IP"),
            "{err}"
        );
    }

    /// A CR/LF in a header value would split the request and inject headers: the hook fails
    /// before anything is sent, naming the pod, the container, the hook's path and the
    /// header, never the value (which may come from a Secret).
    #[tokio::test]
    async fn tm_11_http_hook_header_with_cr_lf_is_refused_naming_the_header() {
        let (port, seen) = server(|_| status(200)).await;
        let secret = "s3cr3t\r\nX-Injected: yes";
        let hook = http_handler(HTTPGetAction {
            http_headers: Some(vec![
                HTTPHeader {
                    name: "x-ok".into(),
                    value: "fine".into(),
                },
                HTTPHeader {
                    name: "x-auth-token".into(),
                    value: secret.into(),
                },
            ]),
            ..http_action(port, "/hook")
        });
        let err = run(&hook, &app(), None).await.unwrap_err();
        assert_eq!(
            err.0,
            format!(
                "HTTP lifecycle hook (/hook) for Container \"app\" in Pod \"web_default(u1)\" \
                 failed - error: Get \"http://127.0.0.1:{port}/hook\": net/http: invalid header \
                 field value for \"X-Auth-Token\""
            )
        );
        assert!(!err.0.contains("s3cr3t"), "{err}");
        // A bare LF and a NUL are refused too; a tab is allowed.
        for value in ["a\nb", "a\0b"] {
            let hook = http_handler(HTTPGetAction {
                http_headers: Some(vec![HTTPHeader {
                    name: "X-Token".into(),
                    value: value.into(),
                }]),
                ..http_action(port, "/hook")
            });
            let err = run(&hook, &app(), None).await.unwrap_err();
            assert!(
                err.0
                    .ends_with("net/http: invalid header field value for \"X-Token\""),
                "{err}"
            );
        }
        // A name that is not an HTTP token is named as it is.
        let hook = http_handler(HTTPGetAction {
            http_headers: Some(vec![HTTPHeader {
                name: "X Bad\r\n".into(),
                value: "v".into(),
            }]),
            ..http_action(port, "/hook")
        });
        let err = run(&hook, &app(), None).await.unwrap_err();
        assert!(
            err.0
                .ends_with("net/http: invalid header field name \"X Bad\\r\\n\""),
            "{err}"
        );
        assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
        let hook = http_handler(HTTPGetAction {
            http_headers: Some(vec![HTTPHeader {
                name: "X-Tab".into(),
                value: "a\tb".into(),
            }]),
            ..http_action(port, "/hook")
        });
        run(&hook, &app(), None).await.unwrap();
    }

    /// The hook is done once the whole response body (up to the kubelet's 10 KiB) has been
    /// read, not at the status line.
    #[tokio::test]
    async fn tm_11_http_hook_reads_the_response_body_to_the_end() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (rest_tx, rest_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            read_head(&mut s).await;
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nfirst")
                .await
                .unwrap();
            rest_rx.await.unwrap();
            s.write_all(b"end").await.unwrap();
        });
        let hook = http_handler(http_action(port, "/hook"));
        let container = app();
        let mut running = Box::pin(run(&hook, &container, None));
        let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut running).await;
        assert!(
            early.is_err(),
            "the hook ended before the body did: {early:?}"
        );
        rest_tx.send(()).unwrap();
        assert_eq!(running.await, Ok(HookSuccess::default()));
        server.await.unwrap();
    }

    /// Redirects as the kubelet's hook client (`RedirectChecker(false)`): same host
    /// followed, 10 requests at most; another host not followed, and the 3xx is the
    /// (successful) answer.
    #[tokio::test]
    async fn tm_11_http_hook_redirects_as_the_kubelet() {
        let (other_port, other_seen) = server(|_| status(200)).await;
        let (port, seen) = server(move |head| {
            let path = head.split(' ').nth(1).unwrap_or("/").to_string();
            if path == "/elsewhere" {
                return redirect(&format!("http://localhost:{other_port}/x"));
            }
            match path
                .strip_prefix("/chain/")
                .and_then(|n| n.parse::<u32>().ok())
            {
                Some(0) | None => status(204),
                Some(n) => redirect(&format!("/chain/{}", n - 1)),
            }
        })
        .await;
        let hook = |path: &str| http_handler(http_action(port, path));
        run(&hook("/chain/9"), &app(), None).await.unwrap();
        assert_eq!(seen.lock().unwrap().len(), 10);
        let err = run(&hook("/chain/10"), &app(), None).await.unwrap_err();
        assert!(
            err.0.ends_with(&format!(
                "failed - error: Get \"http://127.0.0.1:{port}/chain/0\": stopped after 10 redirects"
            )),
            "{err}"
        );
        assert_eq!(
            run(&hook("/elsewhere"), &app(), None).await,
            Ok(HookSuccess::default())
        );
        assert!(
            other_seen.lock().unwrap().is_empty(),
            "another host is not followed"
        );
    }

    /// An HTTPS server with a self-signed certificate made for the test: every request gets
    /// `code`; returns the port and the requests seen.
    async fn tls_server(code: u16) -> (u16, Seen) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let der = cert.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()),
        );
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Seen::default();
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let (conn, _) = listener.accept().await.unwrap();
                let (acceptor, log) = (acceptor.clone(), log.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(conn).await else {
                        return;
                    };
                    let head = read_head(&mut tls).await;
                    log.lock().unwrap().push(head);
                    let _ = tls.write_all(status(code).as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (port, seen)
    }

    /// HTTPS hooks: the certificate is not verified (self-signed, and for another name), and
    /// the status code still does not matter.
    #[tokio::test]
    async fn tm_11_https_hook_skips_certificate_verification() {
        let (port, seen) = tls_server(500).await;
        let hook = http_handler(HTTPGetAction {
            scheme: Some("HTTPS".into()),
            ..http_action(port, "/secure")
        });
        assert_eq!(run(&hook, &app(), None).await, Ok(HookSuccess::default()));
        let request = seen.lock().unwrap()[0].clone();
        assert!(request.starts_with("GET /secure HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains("User-Agent: kube-lifecycle/1.37\r\n"),
            "{request}"
        );
        // Plain HTTP to the TLS port is a failed hook (the server closes on garbage).
        let plain = http_handler(http_action(port, "/secure"));
        assert!(run(&plain, &app(), None).await.is_err());
    }

    /// An HTTPS hook answered in plain HTTP is retried over HTTP without `Authorization`;
    /// the success carries the kubelet's `LifecycleHTTPFallback` message.
    #[tokio::test]
    async fn tm_11_https_hook_to_a_plain_http_server_falls_back_to_http() {
        let (port, seen) = server(|_| status(200)).await;
        let hook = http_handler(HTTPGetAction {
            scheme: Some("HTTPS".into()),
            http_headers: Some(vec![
                HTTPHeader {
                    name: "Authorization".into(),
                    value: "Bearer token".into(),
                },
                HTTPHeader {
                    name: "X-Kept".into(),
                    value: "1".into(),
                },
            ]),
            ..http_action(port, "/hook")
        });
        let success = run(&hook, &app(), None).await.unwrap();
        assert_eq!(
            success.http_fallback.as_deref(),
            Some(
                format!(
                    "request to HTTPS lifecycle hook 127.0.0.1:{port} got HTTP response, retry \
                     with HTTP succeeded"
                )
                .as_str()
            )
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        let retry = &seen[1];
        assert!(retry.starts_with("GET /hook HTTP/1.1\r\n"), "{retry}");
        assert!(retry.contains("X-Kept: 1\r\n"), "{retry}");
        assert!(
            !retry.to_ascii_lowercase().contains("authorization"),
            "{retry}"
        );

        // When the retry fails too (here the server hangs up on plain GETs), the hook fails
        // with the first error.
        let (port, _) = server(|head| match head.starts_with("GET ") {
            true => String::new(),
            false => status(400),
        })
        .await;
        let hook = http_handler(HTTPGetAction {
            scheme: Some("HTTPS".into()),
            ..http_action(port, "/hook")
        });
        let err = run(&hook, &app(), None).await.unwrap_err();
        assert!(
            err.0.ends_with(&format!(
                "failed - error: Get \"https://127.0.0.1:{port}/hook\": http: server gave HTTP \
                 response to HTTPS client"
            )),
            "{err}"
        );
    }

    #[tokio::test]
    async fn tcp_socket_hook_is_an_invalid_handler() {
        let handler = LifecycleHandler {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::Int(80),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = run(&handler, &app(), None).await.unwrap_err();
        assert_eq!(err.0, "Cannot run handler: invalid handler");
    }

    #[test]
    fn hooks_are_named_by_their_field() {
        assert_eq!(LifecycleHook::PostStart.to_string(), "postStart");
        assert_eq!(LifecycleHook::PreStop.as_str(), "preStop");
    }
}
