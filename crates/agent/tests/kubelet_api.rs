//! The kubelet API in standalone mode: the `nodelet` binary against the real containerd,
//! its endpoints read directly on loopback over plain HTTP (no API server to authenticate
//! against), as an operator on the node reads them (checklist HT-05, HT-06, HT-07).
//!
//! Without the environment each test says so and passes, except with `CI=true`, where it
//! fails.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::Node;

/// A pod that counts on stdout and writes one line to stderr, and a container that
/// crashes so it has a previous instance.
const TALKER: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: talker
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: counter
      image: localhost/busybox:1
      command: ["sh", "-c", "echo to-stderr >&2; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done"]
    - name: crasher
      image: localhost/busybox:1
      command: ["sh", "-c", "echo boot; sleep 1; exit 1"]
"#;

/// One HTTP/1.1 request on loopback; the status and the body (bodies are small here).
fn request(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("the response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    )
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// `/containerLogs` (tail, stream, previous, errors), `/run`, `/runningpods/` and `/logs/`
/// on the standalone main server.
#[test]
fn ht_05_ht_06_standalone_logs_run_and_running_pods_on_loopback() {
    let Some(mut node) = Node::new("api", "") else {
        return;
    };
    node.write_manifest("talker.yaml", TALKER);
    node.start();
    let pod = node.pod_name("talker");
    node.wait_for("the crasher's second run", || {
        let p = node.pod("talker").ok_or("no pod")?;
        let restarts = p
            .status
            .and_then(|s| s.container_statuses)
            .into_iter()
            .flatten()
            .find(|c| c.name == "crasher")
            .map_or(0, |c| c.restart_count);
        (restarts >= 1)
            .then_some(())
            .ok_or(format!("restarts {restarts}"))
    });
    let port = node.port;

    let (status, body) = request(
        port,
        "GET",
        &format!("/containerLogs/default/{pod}/counter?tailLines=3"),
    );
    assert_eq!(status, 200, "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "{body:?}");
    assert!(lines.iter().all(|l| l.starts_with("line ")), "{body:?}");

    let (_, stderr_only) = request(
        port,
        "GET",
        &format!("/containerLogs/default/{pod}/counter?stream=Stderr"),
    );
    assert_eq!(stderr_only, "to-stderr\n");

    let (status, previous) = request(
        port,
        "GET",
        &format!("/containerLogs/default/{pod}/crasher?previous=true"),
    );
    assert_eq!((status, previous.as_str()), (200, "boot\n"));

    let (status, body) = request(port, "GET", "/containerLogs/default/nope/counter");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains(r#"pod "nope" does not exist"#), "{body}");
    let (status, body) = request(
        port,
        "GET",
        &format!("/containerLogs/default/{pod}/counter?tailLines=-1"),
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("tailLines"), "{body}");

    // /run: a command's stdout.
    let (status, body) = request(
        port,
        "POST",
        &format!("/run/default/{pod}/counter?cmd=echo+ran+inside"),
    );
    assert_eq!((status, body.as_str()), (200, "ran inside\n"));

    // /runningpods/: the pod with its running containers, from the runtime.
    let (status, body) = request(port, "GET", "/runningpods/");
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("a PodList");
    let ours = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["metadata"]["name"] == pod.as_str())
        .unwrap_or_else(|| panic!("{pod} in /runningpods/: {body}"));
    assert!(
        ours["spec"]["containers"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["name"] == "counter")),
        "{ours}"
    );

    // /logs/: the node's /var/log, listed.
    let (status, listing) = request(port, "GET", "/logs/");
    assert_eq!(status, 200, "{listing}");
    let (status, _) = request(port, "GET", "/logs/../etc/passwd");
    assert_ne!(status, 200);
}

/// `enableDebuggingHandlers: false`: logs, exec, run, attach, port-forward and running
/// pods answer 405 "Debug endpoints are disabled.", the rest is served.
#[test]
fn ht_07_debugging_handlers_disabled_answer_405() {
    let Some(mut node) = Node::new("nodebug", "enableDebuggingHandlers: false\n") else {
        return;
    };
    node.start();
    for (method, path) in [
        ("GET", "/containerLogs/default/x/y"),
        ("POST", "/exec/default/x/y?command=ls"),
        ("POST", "/run/default/x/y?cmd=ls"),
        ("POST", "/attach/default/x/y"),
        ("POST", "/portForward/default/x"),
        ("GET", "/runningpods/"),
        ("GET", "/logs/"),
    ] {
        let (status, body) = request(node.port, method, path);
        assert_eq!(
            (status, body.as_str()),
            (405, "Debug endpoints are disabled.\n"),
            "{method} {path}"
        );
    }
    assert_eq!(request(node.port, "GET", "/pods").0, 200);
    assert_eq!(request(node.port, "GET", "/healthz").0, 200);
}
