//! The httpGet handler against real local servers on 127.0.0.1: status codes, timeouts,
//! redirects, headers, new connections, HTTPS with a self-signed certificate.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use k8s_openapi::api::core::v1::{Container, ContainerPort, HTTPGetAction, HTTPHeader};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use probes::{HttpGetProbe, HttpScheme, ProbeHandler, ProbeOutcome, ProbeStatus, ProbeTarget};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECOND: Duration = Duration::from_secs(1);

async fn status(Path(code): Path<u16>) -> impl IntoResponse {
    (StatusCode::from_u16(code).unwrap(), format!("code {code}"))
}

async fn chain(Path(n): Path<u32>) -> impl IntoResponse {
    if n == 0 {
        (StatusCode::OK, HeaderMap::new(), "end of chain".to_string())
    } else {
        let mut h = HeaderMap::new();
        h.insert(
            header::LOCATION,
            format!("/chain/{}", n - 1).parse().unwrap(),
        );
        (StatusCode::FOUND, h, String::new())
    }
}

async fn echo_headers(headers: HeaderMap) -> String {
    let mut lines: Vec<String> = headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
        .collect();
    lines.sort();
    lines.join("\n")
}

/// The test server; returns its port.
async fn server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let other_host = format!("http://localhost:{port}/status/200");
    let app = Router::new()
        .route("/status/{code}", get(status))
        .route("/chain/{n}", get(chain))
        .route("/headers", get(echo_headers))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route(
            "/elsewhere",
            get(move || async move {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, other_host)],
                    "moved away",
                )
            }),
        )
        .route("/big", get(|| async { "x".repeat(100 * 1024) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

async fn run(port: u16, path: &str) -> ProbeOutcome {
    HttpGetProbe::new(HttpScheme::Http, port, path)
        .probe(&ProbeTarget::pod_ip("127.0.0.1", SECOND))
        .await
        .unwrap()
}

#[tokio::test]
async fn pr_12_http_status_codes() {
    let port = server().await;
    for code in [200, 201, 204, 299, 399] {
        let o = run(port, &format!("/status/{code}")).await;
        assert!(o.is_success(), "{code}: {o:?}");
    }
    assert_eq!(
        run(port, "/status/200").await,
        ProbeOutcome::success("code 200")
    );
    for code in [400, 404, 500, 503] {
        let o = run(port, &format!("/status/{code}")).await;
        assert_eq!(
            o,
            ProbeOutcome::failure(format!("HTTP probe failed with statuscode: {code}")),
            "the body is never in the message"
        );
    }
    // The body is read up to 10 KiB.
    let big = run(port, "/big").await;
    assert_eq!(big.output.len(), probes::handler::MAX_HTTP_BODY);
}

#[tokio::test]
async fn pr_12_http_slow_response_past_timeout_fails() {
    let port = server().await;
    let started = std::time::Instant::now();
    let o = run(port, "/slow").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(o.status, ProbeStatus::Failure);
    assert_eq!(
        o.output,
        format!(
            "Get \"http://127.0.0.1:{port}/slow\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )
    );
}

#[tokio::test]
async fn pr_12_http_refused_connection_fails() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = run(port, "/").await;
    assert_eq!(
        o,
        ProbeOutcome::failure(format!(
            "Get \"http://127.0.0.1:{port}/\": dial tcp 127.0.0.1:{port}: connect: connection refused"
        ))
    );
}

#[tokio::test]
async fn pr_13_http_redirects() {
    let port = server().await;
    // Same host: followed, up to 10 requests in all.
    assert_eq!(
        run(port, "/chain/1").await,
        ProbeOutcome::success("end of chain")
    );
    assert_eq!(
        run(port, "/chain/9").await,
        ProbeOutcome::success("end of chain")
    );
    assert_eq!(
        run(port, "/chain/10").await,
        ProbeOutcome::failure(format!(
            "Get \"http://127.0.0.1:{port}/chain/0\": stopped after 10 redirects"
        ))
    );
    assert_eq!(run(port, "/chain/50").await.status, ProbeStatus::Failure);
    // Another host: not followed, a warning that counts as success.
    let o = run(port, "/elsewhere").await;
    assert_eq!(
        o,
        ProbeOutcome::warning("Probe terminated redirects, Response body: moved away")
    );
    assert!(o.is_success());
}

#[tokio::test]
async fn pr_14_http_request_headers() {
    let port = server().await;
    let o = run(port, "/headers").await;
    assert_eq!(
        o.output,
        format!(
            "accept: */*\nconnection: close\nhost: 127.0.0.1:{port}\nuser-agent: kube-probe/1.37"
        )
    );
    let o = HttpGetProbe::new(HttpScheme::Http, port, "/headers")
        .with_header("X-Custom", "a")
        .with_header("X-Custom", "b")
        .with_header("Host", "example.test")
        .with_header("User-Agent", "mine")
        .with_header("Accept", "")
        .probe(&ProbeTarget::pod_ip("127.0.0.1", SECOND))
        .await
        .unwrap();
    assert_eq!(
        o.output,
        "connection: close\nhost: example.test\nuser-agent: mine\nx-custom: a\nx-custom: b"
    );
    // A custom Accept replaces the default.
    let o = HttpGetProbe::new(HttpScheme::Http, port, "/headers")
        .with_header("Accept", "application/json")
        .probe(&ProbeTarget::pod_ip("127.0.0.1", SECOND))
        .await
        .unwrap();
    assert!(
        o.output.contains("accept: application/json\n"),
        "{}",
        o.output
    );
}

/// A keep-alive server that never closes: counts connections and keeps the raw requests.
async fn raw_server() -> (u16, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (a, r) = (accepted.clone(), requests.clone());
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            a.fetch_add(1, Ordering::SeqCst);
            let r = r.clone();
            tokio::spawn(async move {
                loop {
                    let mut buf = [0u8; 4096];
                    let n = match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    r.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    let reply =
                        b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok";
                    if conn.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, accepted, requests)
}

#[tokio::test]
async fn pr_14_http_new_connection_per_probe() {
    let (port, accepted, requests) = raw_server().await;
    let probe = HttpGetProbe::new(HttpScheme::Http, port, "/healthz?full=1");
    for _ in 0..3 {
        let o = probe
            .probe(&ProbeTarget::pod_ip("127.0.0.1", SECOND))
            .await
            .unwrap();
        assert_eq!(o, ProbeOutcome::success("ok"));
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "no connection is reused"
    );
    let first = requests.lock().unwrap()[0].clone();
    assert!(
        first.starts_with("GET /healthz?full=1 HTTP/1.1\r\n"),
        "{first}"
    );
    // Header names as Go writes them.
    assert!(
        first.contains("\r\nUser-Agent: kube-probe/1.37\r\n"),
        "{first}"
    );
    assert!(first.contains("\r\nAccept: */*\r\n"), "{first}");
    assert!(first.contains("\r\nConnection: close\r\n"), "{first}");
}

/// An HTTPS server with a self-signed certificate made for the test.
async fn tls_server() -> u16 {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        cert.signing_key.serialize_der(),
    ));
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
    tokio::spawn(async move {
        loop {
            let (conn, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(conn).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let (code, body) = if request.starts_with("GET /ok ") {
                    ("200 OK", "secure")
                } else {
                    ("500 Internal Server Error", "")
                };
                let reply = format!(
                    "HTTP/1.1 {code}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn pr_14_https_skips_certificate_verification() {
    let port = tls_server().await;
    let target = ProbeTarget::pod_ip("127.0.0.1", SECOND);
    let ok = HttpGetProbe::new(HttpScheme::Https, port, "/ok")
        .probe(&target)
        .await
        .unwrap();
    assert_eq!(ok, ProbeOutcome::success("secure"));
    let bad = HttpGetProbe::new(HttpScheme::Https, port, "/other")
        .probe(&target)
        .await
        .unwrap();
    assert_eq!(
        bad,
        ProbeOutcome::failure("HTTP probe failed with statuscode: 500")
    );
    // By name too (the certificate's name does not matter either).
    let named = HttpGetProbe::new(HttpScheme::Https, port, "/ok")
        .with_host("localhost")
        .probe(&target)
        .await
        .unwrap();
    assert!(named.is_success(), "{named:?}");
    // Plain HTTP to a TLS port fails.
    let plain = HttpGetProbe::new(HttpScheme::Http, port, "/ok")
        .probe(&target)
        .await
        .unwrap();
    assert_eq!(plain.status, ProbeStatus::Failure);
}

#[tokio::test]
async fn pr_15_http_default_host_and_named_port() {
    let port = server().await;
    let container = Container {
        name: "web".into(),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: port.into(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let action = HTTPGetAction {
        port: IntOrString::String("http".into()),
        path: Some("/headers".into()),
        http_headers: Some(vec![HTTPHeader {
            name: "X-Probe".into(),
            value: "yes".into(),
        }]),
        ..Default::default()
    };
    let probe = HttpGetProbe::from_action(&action, &container).unwrap();
    assert_eq!(
        probe.url("10.88.0.7").unwrap().as_str(),
        format!("http://10.88.0.7:{port}/headers")
    );
    assert_eq!(
        probe.url("fd00::7").unwrap().as_str(),
        format!("http://[fd00::7]:{port}/headers")
    );
    // The pod IP is the host when the probe names none.
    let o = probe
        .probe(&ProbeTarget::pod_ip("127.0.0.1", SECOND))
        .await
        .unwrap();
    assert!(
        o.output.contains(&format!("host: 127.0.0.1:{port}")),
        "{}",
        o.output
    );
    assert!(o.output.contains("x-probe: yes"), "{}", o.output);
    // `host` wins over the pod IP.
    let with_host = HttpGetProbe::from_action(
        &HTTPGetAction {
            host: Some("127.0.0.1".into()),
            ..action.clone()
        },
        &container,
    )
    .unwrap();
    let o = with_host
        .probe(&ProbeTarget::pod_ip("192.0.2.1", SECOND))
        .await
        .unwrap();
    assert!(o.is_success(), "{o:?}");
    // An unknown port name is refused when the handler is built.
    let err = HttpGetProbe::from_action(
        &HTTPGetAction {
            port: IntOrString::String("metrics".into()),
            ..action.clone()
        },
        &container,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "port name \"metrics\" not found in the container's ports"
    );
    // No pod IP and no host: a prober error, not a failure.
    let err = probe
        .probe(&ProbeTarget {
            pod_ip: None,
            container_id: String::new(),
            timeout: SECOND,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no IP"), "{err}");
}

/// A header value with a CR/LF would split the request: the probe fails before anything is
/// sent, with Go's message, which names the header and never shows the value.
#[tokio::test]
async fn pr_14_http_invalid_header_value_fails_without_showing_it() {
    let (port, connections, _) = raw_server().await;
    let o = HttpGetProbe::new(HttpScheme::Http, port, "/")
        .with_header("x-token", "s3cr3t\r\nX-Injected: 1")
        .probe(&ProbeTarget::pod_ip("127.0.0.1", SECOND))
        .await
        .unwrap();
    assert_eq!(
        o,
        ProbeOutcome::failure(format!(
            "Get \"http://127.0.0.1:{port}/\": net/http: invalid header field value for \"X-Token\""
        ))
    );
    let probe = HttpGetProbe::new(HttpScheme::Http, port, "/").with_header("X-Token", "s3cr3t");
    assert!(!format!("{probe:?}").contains("s3cr3t"), "{probe:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "nothing was sent");
}
