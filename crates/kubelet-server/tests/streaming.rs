//! `/exec`, `/attach`, `/portForward` and `/run` against the fake runtime, whose streaming
//! URLs point at a local stand-in for the runtime's streaming server ([`Upstream`]): the
//! options and errors of the kubelet, and the byte-level upgrade proxy.

mod fake_node;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use cri_client::fake::FakeRuntime;
use fake_node::{
    EXITED, FakeNode, GREETING, PATIENCE, StreamingRuntime, Upstream, fetch, get, only_sandbox,
    raw_request, read_exactly, running_container, send_with,
};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubelet_server::{FoundContainer, streaming};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A node with pod `default/web` (uid `uid-web`) running container `app` (`tty: true` in
/// its spec) on the fake runtime, whose streaming server is an [`Upstream`].
struct StreamingNode {
    fake: FakeRuntime,
    runtime: Arc<StreamingRuntime>,
    upstream: Upstream,
    node: Arc<FakeNode>,
    container_id: String,
    sandbox_id: String,
    addr: SocketAddr,
}

impl StreamingNode {
    async fn start() -> StreamingNode {
        let upstream = Upstream::start().await;
        StreamingNode::with_upstream(upstream.addr, upstream).await
    }

    async fn with_upstream(streaming_server: SocketAddr, upstream: Upstream) -> StreamingNode {
        let fake = FakeRuntime::with_busybox();
        let container_id = running_container(&fake, "web", "app").await;
        let sandbox_id = only_sandbox(&fake).await;
        let runtime = Arc::new(StreamingRuntime::new(fake.clone(), streaming_server));
        let node = Arc::new(FakeNode {
            runtime: Some(runtime.clone()),
            ..FakeNode::default()
        });
        node.add_container(
            "default",
            "web",
            "app",
            false,
            FoundContainer {
                container_id: container_id.clone(),
                log_path: "/nonexistent".into(),
                running: true,
            },
        );
        node.sandboxes
            .lock()
            .unwrap()
            .insert(("default".into(), "web".into()), sandbox_id.clone());
        node.pods.lock().unwrap().push(web_pod());
        let addr = fake_node::serve(streaming::routes(), node.clone()).await;
        StreamingNode {
            fake,
            runtime,
            upstream,
            node,
            container_id,
            sandbox_id,
            addr,
        }
    }
}

fn web_pod() -> Pod {
    Pod {
        metadata: ObjectMeta {
            namespace: Some("default".into()),
            name: Some("web".into()),
            uid: Some("uid-web".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                tty: Some(true),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    }
}

/// Reads until the connection closes, failing if it does not in time.
async fn expect_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
        .await
        .expect("the connection closes")
        .unwrap();
    rest
}

fn header_values(head: &str, name: &str) -> Vec<String> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

#[tokio::test]
async fn ht_06_exec_upgrades_via_spdy_and_relays_bytes_both_ways() {
    let node = StreamingNode::start().await;
    let (head, mut stream, already) = raw_request(
        node.addr,
        "POST /exec/default/web/app?command=sh&command=-c&command=echo%20hi&input=1&output=1&\
         error=1&tty=1 HTTP/1.1\r\n\
         Host: node:10250\r\n\
         Connection: Upgrade\r\n\
         Upgrade: SPDY/3.1\r\n\
         X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\
         X-Stream-Protocol-Version: v3.channel.k8s.io\r\n\
         Authorization: Bearer the-kubelets-token\r\n\
         Content-Length: 0",
    )
    .await;
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert_eq!(header_values(&head, "upgrade"), ["SPDY/3.1"]);
    assert_eq!(
        header_values(&head, "x-stream-protocol-version"),
        ["v4.channel.k8s.io"],
        "the runtime's choice comes back unchanged"
    );
    assert!(
        header_values(&head, "transfer-encoding").is_empty()
            && header_values(&head, "content-length").is_empty(),
        "a 101 has no body framing: {head}"
    );

    // Runtime to client, then client to runtime and back.
    let greeting = read_exactly(&mut stream, already, GREETING.len()).await;
    assert_eq!(greeting, GREETING);
    stream.write_all(b"\x80\x03\x00\x01ping").await.unwrap();
    let echoed = read_exactly(&mut stream, Vec::new(), 13).await;
    assert_eq!(echoed, b"echo:\x80\x03\x00\x01ping");

    // What the runtime was asked, and what its streaming server saw.
    let exec = node.runtime.last_exec.lock().unwrap().clone().unwrap();
    assert_eq!(exec.container_id, node.container_id);
    assert_eq!(exec.cmd, ["sh", "-c", "echo hi"]);
    assert!(exec.tty && exec.stdin && exec.stdout);
    assert!(!exec.stderr, "a TTY has no separate stderr");
    let seen = node.upstream.seen();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.method, "POST");
    assert!(seen.target.starts_with("/exec/"), "{}", seen.target);
    assert_eq!(
        seen.headers
            .get_all("x-stream-protocol-version")
            .iter()
            .collect::<Vec<_>>(),
        ["v4.channel.k8s.io", "v3.channel.k8s.io"]
    );
    assert_eq!(seen.headers["upgrade"], "SPDY/3.1");
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen.headers["host"], node.upstream.addr.to_string());
    assert!(seen.headers.get("authorization").is_none());
    assert_eq!(&seen.received.lock().unwrap()[..], b"\x80\x03\x00\x01ping");

    // The client ends the session: both connections close.
    stream.shutdown().await.unwrap();
    let rest = expect_closed(&mut stream).await;
    assert!(rest.is_empty(), "{rest:?}");
}

#[tokio::test]
async fn ht_06_exec_upgrades_via_websocket_until_the_runtime_closes() {
    let node = StreamingNode::start().await;
    let (head, mut stream, already) = raw_request(
        node.addr,
        "GET /exec/default/web/uid-web/app?command=date&output=1&error=1 HTTP/1.1\r\n\
         Host: node\r\n\
         Connection: Upgrade\r\n\
         Upgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io",
    )
    .await;
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert_eq!(
        header_values(&head, "sec-websocket-protocol"),
        ["v5.channel.k8s.io"]
    );
    assert_eq!(
        header_values(&head, "sec-websocket-accept"),
        ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]
    );
    let seen = &node.upstream.seen()[0];
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.headers["sec-websocket-key"],
        "dGhlIHNhbXBsZSBub25jZQ=="
    );
    assert_eq!(seen.headers["sec-websocket-version"], "13");
    let asked = node.node.asked.lock().unwrap().clone();
    assert_eq!(asked[0].0.uid.as_deref(), Some("uid-web"));
    let exec = node.runtime.last_exec.lock().unwrap().clone().unwrap();
    assert_eq!(exec.cmd, ["date"]);
    assert!(exec.stdout && exec.stderr && !exec.stdin && !exec.tty);

    let greeting = read_exactly(&mut stream, already, GREETING.len()).await;
    assert_eq!(greeting, GREETING);
    // A masked binary frame, opaque to the proxy.
    let frame = b"\x82\x85\x01\x02\x03\x04\x01\x6b\x6c\x6a\x6f";
    stream.write_all(frame).await.unwrap();
    let echoed = read_exactly(&mut stream, Vec::new(), 5 + frame.len()).await;
    assert_eq!(&echoed[5..], frame);

    // The runtime ends the session: what it sent last arrives, then the close.
    stream.write_all(b"exit").await.unwrap();
    let rest = expect_closed(&mut stream).await;
    assert_eq!(rest, EXITED);
}

#[tokio::test]
async fn ht_06_run_returns_stdout() {
    let node = StreamingNode::start().await;
    let (status, headers, body) = fetch(
        node.addr,
        "POST",
        "/run/default/web/app?cmd=echo%20hello%20world",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "hello world\n");
    assert_eq!(headers["content-type"], "application/json");
    let calls = node.fake.calls_to("ExecSync");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id.as_deref(), Some(node.container_id.as_str()));
    assert_eq!(calls[0].timeout, Some(0));

    // The path with the pod's UID.
    let (status, _, body) = fetch(
        node.addr,
        "POST",
        "/run/default/web/uid-web/app?cmd=echo%20x",
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "x\n"));

    // Nothing printed: an empty 200 without a type.
    let (status, headers, body) = fetch(node.addr, "POST", "/run/default/web/app?cmd=true").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert!(headers.get("content-type").is_none());

    // A failing command is a 500 with the kubelet's message.
    let (status, _, body) = fetch(node.addr, "POST", "/run/default/web/app?cmd=false").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "command 'false' exited with 1: \n");

    // `/run` is POST only.
    let (status, _, _) = get(node.addr, "/run/default/web/app?cmd=true").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn attach_takes_the_tty_from_the_container_spec() {
    let node = StreamingNode::start().await;
    let (head, _stream, _) = raw_request(
        node.addr,
        "POST /attach/default/web/app?input=1&output=1 HTTP/1.1\r\n\
         Host: node\r\n\
         Connection: Upgrade\r\n\
         Upgrade: SPDY/3.1\r\n\
         X-Stream-Protocol-Version: v4.channel.k8s.io",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let attach = node.runtime.last_attach.lock().unwrap().clone().unwrap();
    assert_eq!(attach.container_id, node.container_id);
    assert!(attach.tty, "the spec's tty, not the request's");
    assert!(attach.stdin && attach.stdout && !attach.stderr);
    assert!(node.upstream.seen()[0].target.starts_with("/attach/"));
}

#[tokio::test]
async fn port_forward_reaches_the_sandbox() {
    let node = StreamingNode::start().await;
    // WebSocket: the ports come from the query.
    let (head, _ws, _) = raw_request(
        node.addr,
        "GET /portForward/default/web?port=80,8080&port=9090 HTTP/1.1\r\n\
         Host: node\r\n\
         Connection: Upgrade\r\n\
         Upgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: portforward.k8s.io",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let forward = node
        .runtime
        .last_port_forward
        .lock()
        .unwrap()
        .clone()
        .unwrap();
    assert_eq!(forward.pod_sandbox_id, node.sandbox_id);
    assert_eq!(forward.port, [80, 8080, 9090]);

    // SPDY: the ports come later, in stream headers.
    let (head, mut spdy, already) = raw_request(
        node.addr,
        "POST /portForward/default/web/uid-web HTTP/1.1\r\n\
         Host: node\r\n\
         Connection: Upgrade\r\n\
         Upgrade: SPDY/3.1\r\n\
         X-Stream-Protocol-Version: portforward.k8s.io",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(
        header_values(&head, "x-stream-protocol-version"),
        ["portforward.k8s.io"]
    );
    let forward = node
        .runtime
        .last_port_forward
        .lock()
        .unwrap()
        .clone()
        .unwrap();
    assert!(forward.port.is_empty());
    assert_eq!(
        read_exactly(&mut spdy, already, GREETING.len()).await,
        GREETING
    );
    assert!(node.upstream.seen()[1].target.starts_with("/portforward/"));
}

#[tokio::test]
async fn option_errors_are_the_kubelets() {
    let node = StreamingNode::start().await;
    let upgrade = [("connection", "Upgrade"), ("upgrade", "SPDY/3.1")];
    for path in [
        "/exec/default/web/app?command=ls",
        "/exec/default/web/app?command=ls&output=true",
        "/attach/default/web/app?tty=1&error=1",
    ] {
        let response = send_with(node.addr, "POST", path, &upgrade).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(
            &body[..],
            b"you must specify at least 1 of stdin, stdout, stderr\n",
            "{path}"
        );
    }
    let websocket = [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ];
    for (query, message) in [
        ("", "query parameter \"port\" is required\n"),
        ("?port=", "query parameter \"port\" cannot be empty\n"),
        ("?port=0", "port \"0\" must be > 0\n"),
    ] {
        let path = format!("/portForward/default/web{query}");
        let response = send_with(node.addr, "GET", &path, &websocket).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(std::str::from_utf8(&body).unwrap(), message);
    }
    assert!(node.fake.calls_to("Exec").is_empty());
    assert!(node.fake.calls_to("PortForward").is_empty());
    assert!(node.upstream.seen().is_empty());
}

#[tokio::test]
async fn a_request_without_upgrade_is_refused() {
    let node = StreamingNode::start().await;
    let (status, _, body) = fetch(
        node.addr,
        "POST",
        "/exec/default/web/app?command=ls&output=1",
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "Upgrade request required\n");
    assert!(node.upstream.seen().is_empty(), "nothing was dialed");
}

#[tokio::test]
async fn the_runtimes_refusal_is_relayed_as_is() {
    let node = StreamingNode::start().await;
    let (head, mut stream, already) = raw_request(
        node.addr,
        "POST /exec/default/web/app?command=ls&output=1 HTTP/1.1\r\n\
         Host: node\r\n\
         Connection: Upgrade\r\n\
         Upgrade: SPDY/3.1\r\n\
         X-Test-Answer: 403",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{head}");
    assert_eq!(header_values(&head, "x-from"), ["runtime"]);
    assert_eq!(header_values(&head, "content-type"), ["text/plain"]);
    let body = read_exactly(&mut stream, already, 30).await;
    assert_eq!(body, b"session refused by the runtime");

    // An answer that is neither an upgrade nor an error.
    let response = send_with(
        node.addr,
        "POST",
        "/exec/default/web/app?command=ls&output=1",
        &[
            ("connection", "Upgrade"),
            ("upgrade", "SPDY/3.1"),
            ("x-test-answer", "200"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"invalid upgrade response: status code 200\n");
}

#[tokio::test]
async fn runtime_errors_are_answered_as_the_kubelets_streaming_write_error() {
    let node = StreamingNode::start().await;
    let upgrade = [("connection", "Upgrade"), ("upgrade", "SPDY/3.1")];
    let path = "/exec/default/web/app?command=ls&output=1";
    for (code, status) in [
        (tonic::Code::NotFound, StatusCode::NOT_FOUND),
        (
            tonic::Code::ResourceExhausted,
            StatusCode::TOO_MANY_REQUESTS,
        ),
        (tonic::Code::Internal, StatusCode::INTERNAL_SERVER_ERROR),
    ] {
        node.fake.fail_next("Exec", 1, code);
        let response = send_with(node.addr, "POST", path, &upgrade).await;
        assert_eq!(response.status(), status, "{code:?}");
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(response.headers()["retry-after"], "60");
        }
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body = std::str::from_utf8(&body).unwrap();
        assert!(body.starts_with("rpc error: code = "), "{body}");
    }

    // The container or pod is not there: the NodeApi's answer.
    let response = send_with(
        node.addr,
        "POST",
        "/exec/default/web/other?output=1",
        &upgrade,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = send_with(node.addr, "POST", "/portForward/default/gone", &upgrade).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(node.upstream.seen().is_empty());
}

#[tokio::test]
async fn an_unreachable_streaming_server_is_a_500() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let unused = Upstream::start().await;
    let node = StreamingNode::with_upstream(closed, unused).await;
    let response = send_with(
        node.addr,
        "POST",
        "/exec/default/web/app?command=ls&output=1",
        &[("connection", "Upgrade"), ("upgrade", "SPDY/3.1")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body = std::str::from_utf8(&body).unwrap();
    assert!(body.starts_with("error dialing backend: "), "{body}");
}

#[tokio::test]
async fn without_a_runtime_streaming_is_not_supported() {
    let addr = fake_node::serve(streaming::routes(), Arc::new(FakeNode::default())).await;
    for (method, path) in [
        ("POST", "/exec/default/web/app?output=1"),
        ("GET", "/attach/default/web/app?output=1"),
        ("POST", "/portForward/default/web"),
        ("POST", "/run/default/web/app?cmd=ls"),
    ] {
        let (status, _, body) = fetch(addr, method, path).await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{path}: {body}");
    }
}

/// Exec, attach and run reach only a running container: one that has stopped is the
/// kubelet's 500 "container not found", and the runtime is not asked.
#[tokio::test]
async fn ht_06_a_stopped_container_is_not_found_for_exec_attach_and_run() {
    let node = StreamingNode::start().await;
    node.node.add_container(
        "default",
        "web",
        "app",
        false,
        kubelet_server::FoundContainer {
            container_id: node.container_id.clone(),
            log_path: "/nonexistent".into(),
            running: false,
        },
    );
    for (method, path) in [
        ("POST", "/run/default/web/app?cmd=true"),
        ("POST", "/exec/default/web/app?command=true&output=1"),
        ("POST", "/attach/default/web/app?output=1"),
    ] {
        let (status, _, body) = fetch(node.addr, method, path).await;
        assert_eq!(
            (status, body.trim()),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"container not found ("app")"#
            ),
            "{method} {path}"
        );
    }
    assert!(node.fake.calls_to("ExecSync").is_empty());
    assert!(node.fake.calls_to("Exec").is_empty());
    assert!(node.fake.calls_to("Attach").is_empty());
}
