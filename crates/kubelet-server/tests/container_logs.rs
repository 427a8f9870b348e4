//! `/containerLogs/{namespace}/{pod}/{container}` on real CRI log files: the query options,
//! their errors, and following a log while the container runs.

mod fake_node;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use cri_client::RuntimeService;
use cri_client::fake::FakeRuntime;
use fake_node::{
    FakeNode, PATIENCE, cri_line, get, next_chunk, raw_request, running_container, send, serve,
};
use kubelet_server::{FoundContainer, logs};

/// A log of `count` stdout lines `line 1`..`line <count>`, one second apart from
/// 2024-01-01T00:00:01Z.
fn numbered_log(path: &Path, count: usize) {
    let mut text = String::new();
    for i in 1..=count {
        text.push_str(&cri_line(
            &format!("2024-01-01T00:{:02}:{:02}Z", i / 60, i % 60),
            "stdout",
            "F",
            &format!("line {i}"),
        ));
    }
    std::fs::write(path, text).unwrap();
}

fn found(path: &Path, id: &str, running: bool) -> FoundContainer {
    FoundContainer {
        container_id: id.into(),
        log_path: path.to_path_buf(),
        running,
    }
}

/// A node with container `default/web/app` whose log is `<dir>/app/1.log` (and its previous
/// instance's `<dir>/app/0.log`).
struct LogNode {
    _dir: tempfile::TempDir,
    current: PathBuf,
    previous: PathBuf,
    node: Arc<FakeNode>,
}

impl LogNode {
    fn new() -> LogNode {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        let current = dir.path().join("app/1.log");
        let previous = dir.path().join("app/0.log");
        let node = Arc::new(FakeNode::default());
        node.add_container("default", "web", "app", false, found(&current, "c1", true));
        node.add_container("default", "web", "app", true, found(&previous, "c0", false));
        LogNode {
            _dir: dir,
            current,
            previous,
            node,
        }
    }

    async fn serve(&self) -> std::net::SocketAddr {
        serve(logs::routes(), self.node.clone()).await
    }
}

#[tokio::test]
async fn ht_05_tail_lines_returns_the_last_lines() {
    let node = LogNode::new();
    numbered_log(&node.current, 25);
    let addr = node.serve().await;

    let (status, headers, body) = get(addr, "/containerLogs/default/web/app?tailLines=10").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    let expected: String = (16..=25).map(|i| format!("line {i}\n")).collect();
    assert_eq!(body, expected);

    // The legacy `tail` parameter, and tail=all.
    let (_, _, body) = get(addr, "/containerLogs/default/web/app?tail=2").await;
    assert_eq!(body, "line 24\nline 25\n");
    let (_, _, body) = get(addr, "/containerLogs/default/web/app?tail=all&tailLines=1").await;
    assert_eq!(body.lines().count(), 25);
    let (_, _, body) = get(addr, "/containerLogs/default/web/app?tailLines=0").await;
    assert_eq!(body, "");
}

#[tokio::test]
async fn ht_05_previous_returns_the_previous_instance_log() {
    let node = LogNode::new();
    std::fs::write(
        &node.previous,
        cri_line("2024-01-01T00:00:00Z", "stdout", "F", "first instance"),
    )
    .unwrap();
    std::fs::write(
        &node.current,
        cri_line("2024-01-01T00:01:00Z", "stdout", "F", "second instance"),
    )
    .unwrap();
    let addr = node.serve().await;

    let (status, _, body) = get(addr, "/containerLogs/default/web/app?previous=true").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "first instance\n")
    );
    let (_, _, body) = get(addr, "/containerLogs/default/web/app").await;
    assert_eq!(body, "second instance\n");
    let asked: Vec<bool> = node
        .node
        .asked
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.1)
        .collect();
    assert_eq!(asked, [true, false]);

    // No previous instance: the NodeApi's answer, as it gave it.
    let other = LogNode::new();
    other.node.containers.lock().unwrap().retain(|k, _| !k.3);
    numbered_log(&other.current, 1);
    let addr = other.serve().await;
    let (status, _, body) = get(addr, "/containerLogs/default/web/app?previous=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        "previous terminated container \"app\" in pod \"web\" not found\n"
    );
}

#[tokio::test]
async fn since_time_and_since_seconds_filter_by_timestamp() {
    let node = LogNode::new();
    let now = jiff::Timestamp::now();
    let recent = (now - jiff::SignedDuration::from_secs(30)).to_string();
    let mut text = cri_line("2020-01-01T00:00:00Z", "stdout", "F", "ancient");
    text.push_str(&cri_line("2024-06-01T00:00:00Z", "stdout", "F", "old"));
    text.push_str(&cri_line(&recent, "stdout", "F", "recent"));
    std::fs::write(&node.current, text).unwrap();
    let addr = node.serve().await;

    let (_, _, body) = get(
        addr,
        "/containerLogs/default/web/app?sinceTime=2024-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(body, "old\nrecent\n");
    // An offset, percent-encoded as clients send it.
    let (_, _, body) = get(
        addr,
        "/containerLogs/default/web/app?sinceTime=2024-06-01T02:00:00%2B02:00",
    )
    .await;
    assert_eq!(body, "old\nrecent\n");
    let (_, _, body) = get(addr, "/containerLogs/default/web/app?sinceSeconds=3600").await;
    assert_eq!(body, "recent\n");
}

#[tokio::test]
async fn limit_bytes_timestamps_and_streams() {
    let node = LogNode::new();
    let mut text = cri_line("2024-01-01T00:00:01.5Z", "stdout", "F", "out one");
    text.push_str(&cri_line("2024-01-01T00:00:02Z", "stderr", "F", "err one"));
    text.push_str(&cri_line("2024-01-01T00:00:03Z", "stdout", "P", "out "));
    text.push_str(&cri_line("2024-01-01T00:00:04Z", "stdout", "F", "two"));
    std::fs::write(&node.current, text).unwrap();
    let addr = node.serve().await;

    let (_, _, body) = get(addr, "/containerLogs/default/web/app").await;
    assert_eq!(
        body, "out one\nerr one\nout two\n",
        "partial records are joined"
    );
    let (_, _, body) = get(addr, "/containerLogs/default/web/app?limitBytes=12").await;
    assert_eq!(body, "out one\nerr ");
    let (_, _, body) = get(
        addr,
        "/containerLogs/default/web/app?timestamps=true&tailLines=2",
    )
    .await;
    assert_eq!(
        body,
        "2024-01-01T00:00:02.000000000Z err one\n2024-01-01T00:00:03.000000000Z out two\n"
    );
    let (_, _, body) = get(addr, "/containerLogs/default/web/app?stream=Stderr").await;
    assert_eq!(body, "err one\n");
    let (_, _, body) = get(addr, "/containerLogs/default/web/app?stream=Stdout").await;
    assert_eq!(body, "out one\nout two\n");
}

#[tokio::test]
async fn query_errors_name_the_parameter() {
    let node = LogNode::new();
    numbered_log(&node.current, 3);
    let addr = node.serve().await;

    for (query, status, message) in [
        (
            "tailLines=ten",
            StatusCode::BAD_REQUEST,
            "Unable to decode query: tailLines: \"ten\" is not a 64-bit integer\n",
        ),
        (
            "sinceTime=yesterday",
            StatusCode::BAD_REQUEST,
            "Unable to decode query: sinceTime: ",
        ),
        (
            "tailLines=-1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request: tailLines: Invalid value: -1: must be greater than or equal to 0\n",
        ),
        (
            "limitBytes=-3",
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request: limitBytes: Invalid value: -3: must be greater than 0\n",
        ),
        (
            "sinceSeconds=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request: sinceSeconds: Invalid value: 0: must be greater than 0\n",
        ),
        (
            "sinceSeconds=10&sinceTime=2024-01-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be \
             specified\n",
        ),
        (
            "stream=Stdout&tailLines=1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request: Forbidden: `tailLines` and specific `stream` are mutually \
             exclusive for now\n",
        ),
    ] {
        let (got_status, _, body) =
            get(addr, &format!("/containerLogs/default/web/app?{query}")).await;
        assert_eq!(got_status, status, "{query}: {body}");
        assert!(body.starts_with(message), "{query}: {body:?}");
    }
    assert!(
        node.node.asked.lock().unwrap().is_empty(),
        "a refused query looks nothing up"
    );
}

#[tokio::test]
async fn missing_pods_and_containers_are_404() {
    let node = LogNode::new();
    let addr = node.serve().await;
    let (status, _, body) = get(addr, "/containerLogs/default/nothere/app").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, "pod \"nothere\" does not exist\n")
    );
    let (status, _, body) = get(addr, "/containerLogs/default/web/sidecar").await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::NOT_FOUND,
            "container \"sidecar\" not found in pod \"web\"\n"
        )
    );
    // The container is known but its log file is gone.
    let (status, _, body) = get(addr, "/containerLogs/default/web/app").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("1.log"), "{body}");
}

#[tokio::test]
async fn follow_streams_new_lines_and_ends_when_the_container_stops() {
    let fake = FakeRuntime::with_busybox();
    let id = running_container(&fake, "web", "app").await;
    let node = LogNode::new();
    let runtime: Arc<dyn RuntimeService> = Arc::new(fake.clone());
    let node = LogNode {
        node: Arc::new(FakeNode {
            runtime: Some(runtime),
            ..FakeNode::default()
        }),
        ..node
    };
    node.node.add_container(
        "default",
        "web",
        "app",
        false,
        found(&node.current, &id, true),
    );
    numbered_log(&node.current, 2);
    let addr = node.serve().await;

    let response = send(addr, "GET", "/containerLogs/default/web/app?follow=true").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("content-length").is_none(),
        "the body is chunked"
    );
    let mut body = response.into_body();
    let mut seen = String::new();
    while seen != "line 1\nline 2\n" {
        let chunk = next_chunk(&mut body).await.expect("the existing lines");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }

    // Lines appended while the response is open arrive on it.
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&node.current)
        .unwrap();
    log.write_all(cri_line("2024-01-01T00:01:00Z", "stdout", "F", "appended").as_bytes())
        .unwrap();
    log.flush().unwrap();
    let chunk = next_chunk(&mut body).await.expect("the appended line");
    assert_eq!(&chunk[..], b"appended\n");

    // The container stops: following ends, after what was written last.
    log.write_all(cri_line("2024-01-01T00:01:01Z", "stderr", "F", "bye").as_bytes())
        .unwrap();
    fake.exit_container(&id, 0, "");
    let mut rest = String::new();
    while let Some(chunk) = next_chunk(&mut body).await {
        rest.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(rest, "bye\n");
}

#[tokio::test]
async fn follow_of_a_stopped_container_reads_once() {
    let node = LogNode::new();
    node.node.add_container(
        "default",
        "web",
        "app",
        false,
        found(&node.current, "c1", false),
    );
    numbered_log(&node.current, 2);
    let addr = node.serve().await;
    let (status, _, body) = get(addr, "/containerLogs/default/web/app?follow=true").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "line 1\nline 2\n")
    );
}

#[tokio::test]
async fn follow_answers_at_once_and_stops_when_the_client_goes_away() {
    let fake = FakeRuntime::with_busybox();
    let id = running_container(&fake, "web", "app").await;
    let runtime: Arc<dyn RuntimeService> = Arc::new(fake.clone());
    let node = LogNode::new();
    let node = LogNode {
        node: Arc::new(FakeNode {
            runtime: Some(runtime.clone()),
            ..FakeNode::default()
        }),
        ..node
    };
    node.node.add_container(
        "default",
        "web",
        "app",
        false,
        found(&node.current, &id, true),
    );
    std::fs::write(&node.current, "").unwrap();
    let addr = node.serve().await;
    let baseline = Arc::strong_count(&runtime);

    // The log is empty, yet the answer's head comes at once, as `kubectl logs -f` needs.
    let (head, stream, _) = raw_request(
        addr,
        "GET /containerLogs/default/web/app?follow=1 HTTP/1.1\r\nhost: node",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    assert_eq!(
        Arc::strong_count(&runtime),
        baseline + 1,
        "the reader holds the runtime while it follows"
    );

    drop(stream);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while Arc::strong_count(&runtime) > baseline {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reader is still following after the client left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
