//! `/logs/`: the node's log directory, served like Go's `http.FileServer`, and never a
//! byte from outside it.

mod fake_node;

use std::collections::BTreeSet;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::StatusCode;
use fake_node::{FakeNode, get};
use kubelet_server::logs;

const SECRET: &str = "do not serve me";

/// `<tmp>/log` served as the log directory, `<tmp>/outside` next to it with a secret.
struct LogDir {
    tmp: tempfile::TempDir,
    log: PathBuf,
    outside: PathBuf,
}

impl LogDir {
    fn new() -> LogDir {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("log");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(log.join("pods/default_web_uid/app")).unwrap();
        std::fs::create_dir_all(log.join("containers")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), SECRET).unwrap();
        std::fs::write(log.join("syslog"), "Jan  1 00:00:00 node kernel: hello\n").unwrap();
        std::fs::write(log.join("pods/default_web_uid/app/0.log"), "app log\n").unwrap();
        LogDir { tmp, log, outside }
    }

    async fn serve(&self) -> std::net::SocketAddr {
        let node = FakeNode {
            log_dir: Some(self.log.clone()),
            ..FakeNode::default()
        };
        fake_node::serve(logs::routes(), Arc::new(node)).await
    }

    /// Every path under the temporary directory, to show that nothing was created.
    fn tree(&self) -> BTreeSet<PathBuf> {
        fn walk(dir: &Path, into: &mut BTreeSet<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let entry = entry.unwrap();
                into.insert(entry.path());
                if entry.file_type().unwrap().is_dir() {
                    walk(&entry.path(), into);
                }
            }
        }
        let mut paths = BTreeSet::new();
        walk(self.tmp.path(), &mut paths);
        paths
    }
}

#[tokio::test]
async fn files_are_served_with_length_type_and_date() {
    let dir = LogDir::new();
    let addr = dir.serve().await;
    let (status, headers, body) = get(addr, "/logs/syslog").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "Jan  1 00:00:00 node kernel: hello\n");
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(headers["content-length"], body.len().to_string());
    let date = headers["last-modified"].to_str().unwrap();
    assert!(date.ends_with(" GMT"), "{date}");

    let (status, _, body) = get(addr, "/logs/pods/default_web_uid/app/0.log").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "app log\n"));

    // A file larger than a chunk, and binary.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.log.join("big.bin"), &big).unwrap();
    let response = fake_node::send(addr, "GET", "/logs/big.bin").await;
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], &big[..]);
}

#[tokio::test]
async fn directories_are_listed_like_go() {
    let dir = LogDir::new();
    std::fs::write(dir.log.join("a <b>.log"), "").unwrap();
    symlink(
        "../pods/default_web_uid/app/0.log",
        dir.log.join("containers/web_app.log"),
    )
    .unwrap();
    let addr = dir.serve().await;

    let (status, headers, body) = get(addr, "/logs/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        body,
        "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n\
         <a href=\"a%20%3Cb%3E.log\">a &lt;b&gt;.log</a>\n\
         <a href=\"containers/\">containers/</a>\n\
         <a href=\"pods/\">pods/</a>\n\
         <a href=\"syslog\">syslog</a>\n\
         </pre>\n"
    );
    let (_, _, body) = get(addr, "/logs/containers/").await;
    assert!(
        body.contains("<a href=\"web_app.log\">web_app.log</a>"),
        "{body}"
    );
    // A symlink that stays inside is followed.
    let (status, _, body) = get(addr, "/logs/containers/web_app.log").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "app log\n"));
}

#[tokio::test]
async fn canonical_paths_are_redirected_to() {
    let dir = LogDir::new();
    let addr = dir.serve().await;
    let (status, headers, _) = get(addr, "/logs/pods").await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(headers["location"], "pods/");
    let (status, headers, _) = get(addr, "/logs/syslog/").await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(headers["location"], "../syslog");
}

#[tokio::test]
async fn missing_files_and_no_log_directory_are_404() {
    let dir = LogDir::new();
    let addr = dir.serve().await;
    let (status, _, body) = get(addr, "/logs/nothere.log").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, "404 page not found\n")
    );
    let (status, _, _) = get(addr, "/logs/syslog/below").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let none = fake_node::serve(logs::routes(), Arc::new(FakeNode::default())).await;
    let (status, _, _) = get(none, "/logs/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(none, "/logs/syslog").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn nothing_outside_the_directory_is_served_or_created() {
    let dir = LogDir::new();
    // Symlinks that lead out: a directory, a file, an absolute one, one through a chain.
    symlink("../outside", dir.log.join("escape")).unwrap();
    symlink(dir.outside.join("secret.txt"), dir.log.join("secret.log")).unwrap();
    symlink("/etc", dir.log.join("etc")).unwrap();
    symlink("../escape", dir.log.join("pods/hop")).unwrap();
    symlink("../escape/secret.txt", dir.log.join("pods/chain.log")).unwrap();
    let addr = dir.serve().await;
    let before = dir.tree();

    for (path, status) in [
        ("/logs/../outside/secret.txt", StatusCode::BAD_REQUEST),
        (
            "/logs/pods/../../outside/secret.txt",
            StatusCode::BAD_REQUEST,
        ),
        ("/logs/%2e%2e/outside/secret.txt", StatusCode::BAD_REQUEST),
        (
            "/logs/%2E%2E%2Foutside%2Fsecret.txt",
            StatusCode::BAD_REQUEST,
        ),
        ("/logs/..%2foutside/secret.txt", StatusCode::BAD_REQUEST),
        ("/logs/pods/%2e%2e/%2e%2e/outside/", StatusCode::BAD_REQUEST),
        ("/logs//etc/passwd", StatusCode::BAD_REQUEST),
        ("/logs/%2Fetc%2Fpasswd", StatusCode::BAD_REQUEST),
        ("/logs/a%00b", StatusCode::BAD_REQUEST),
        ("/logs/escape/secret.txt", StatusCode::FORBIDDEN),
        ("/logs/escape/", StatusCode::FORBIDDEN),
        ("/logs/escape", StatusCode::FORBIDDEN),
        ("/logs/secret.log", StatusCode::FORBIDDEN),
        ("/logs/etc/passwd", StatusCode::FORBIDDEN),
        ("/logs/pods/hop/secret.txt", StatusCode::FORBIDDEN),
        ("/logs/pods/chain.log", StatusCode::FORBIDDEN),
    ] {
        let (got, _, body) = get(addr, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(!body.contains(SECRET), "{path} served the secret");
        assert!(
            !body.contains("secret.txt"),
            "{path} listed the outside directory"
        );
        assert!(!body.contains("root:"), "{path} served /etc/passwd");
    }
    assert_eq!(dir.tree(), before, "nothing was created or removed");
}

#[tokio::test]
async fn special_files_are_refused_without_blocking() {
    let dir = LogDir::new();
    let fifo = dir.log.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipping: mkfifo is not available");
        return;
    }
    let addr = dir.serve().await;
    let (status, _, _) = get(addr, "/logs/pipe").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
