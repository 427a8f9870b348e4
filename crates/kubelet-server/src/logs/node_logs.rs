//! `/logs/`: the node's log directory, served like Go's `http.FileServer(http.Dir(dir))`
//! that the kubelet mounts there (`/var/log`), with the path kept inside the directory.
//!
//! The path after `/logs/` (percent-decoded, so `%2e%2e` is `..`) must be relative and
//! free of `..`; the file it names is resolved with every symlink followed and must still
//! be inside the directory (its canonical path), and the file actually opened is checked
//! again through `/proc/self/fd`, so a symlink swapped in between cannot lead out. Nothing
//! is ever created: files are opened read-only, and only regular files and directories
//! are served (a FIFO would block the read).
//!
//! As `http.FileServer`: a directory is listed as HTML (`<a href="name">name</a>`, sorted,
//! directories with a trailing `/`), a directory asked for without its trailing slash is
//! redirected to it (301, relative `Location`), a file asked for with one to the file, and
//! a file is served with its length, modification time and a sniffed content type. Not
//! reproduced: `index.html` pages, range and conditional requests.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;

use crate::NodeApi;

/// How much of a file is read to sniff its content type (Go's `sniffLen`).
const SNIFF_LEN: usize = 512;

/// How much of a file one chunk of the response carries at most.
const CHUNK: usize = 64 * 1024;

/// Why a `/logs/` path is not served. The texts are Go's (`toHTTPError`), except for the
/// refused paths, which Go would have cleaned.
#[derive(Debug, thiserror::Error)]
enum NodeLogError {
    /// The path is absolute, has a `..` or a NUL.
    #[error("invalid URL path")]
    InvalidPath,
    /// Nothing is there (or the node has no log directory).
    #[error("404 page not found")]
    NotFound,
    /// The path leads outside the directory, is not a regular file or directory, or may not
    /// be read.
    #[error("403 Forbidden")]
    Forbidden,
    /// Reading failed otherwise.
    #[error("500 Internal Server Error")]
    Io(#[source] io::Error),
}

impl NodeLogError {
    fn from_io(e: io::Error) -> NodeLogError {
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => NodeLogError::NotFound,
            io::ErrorKind::PermissionDenied => NodeLogError::Forbidden,
            _ => NodeLogError::Io(e),
        }
    }
}

impl IntoResponse for NodeLogError {
    fn into_response(self) -> Response {
        let status = match &self {
            NodeLogError::InvalidPath => StatusCode::BAD_REQUEST,
            NodeLogError::NotFound => StatusCode::NOT_FOUND,
            NodeLogError::Forbidden => StatusCode::FORBIDDEN,
            NodeLogError::Io(e) => {
                tracing::warn!(error = %e, "serving /logs/ failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (
            status,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            format!("{self}\n"),
        )
            .into_response()
    }
}

/// What a path resolved to.
#[derive(Debug)]
enum Served {
    /// A regular file, opened, with its first bytes read.
    File {
        file: File,
        len: u64,
        head: Vec<u8>,
        modified: Option<SystemTime>,
    },
    /// A directory's HTML listing.
    Listing {
        html: String,
        modified: Option<SystemTime>,
    },
    /// A relative redirect (`name/` for a directory, `../name` for a file).
    Redirect(String),
}

/// `GET /logs/`: the directory itself.
pub(super) async fn directory_root(State(api): State<Arc<dyn NodeApi>>) -> Response {
    serve(api, String::new()).await
}

/// `GET /logs/{*path}`.
pub(super) async fn path(
    State(api): State<Arc<dyn NodeApi>>,
    Path(path): Path<String>,
) -> Response {
    serve(api, path).await
}

async fn serve(api: Arc<dyn NodeApi>, path: String) -> Response {
    let Some(dir) = api.node_log_dir() else {
        return NodeLogError::NotFound.into_response();
    };
    let resolved = tokio::task::spawn_blocking(move || resolve(&dir, &path))
        .await
        .unwrap_or_else(|e| Err(NodeLogError::Io(io::Error::other(e))));
    match resolved {
        Ok(served) => respond(served),
        Err(e) => e.into_response(),
    }
}

fn respond(served: Served) -> Response {
    match served {
        Served::Redirect(location) => match HeaderValue::from_str(&location) {
            Ok(location) => (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, location)],
            )
                .into_response(),
            Err(_) => NodeLogError::InvalidPath.into_response(),
        },
        Served::Listing { html, modified } => {
            let mut response =
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
            set_last_modified(&mut response, modified);
            response
        }
        Served::File {
            file,
            len,
            head,
            modified,
        } => {
            let content_type = sniff(&head);
            let rest = len.saturating_sub(head.len() as u64);
            let head = futures::stream::once(async move { Ok(Bytes::from(head)) });
            let body = Body::from_stream(futures::StreamExt::chain(
                head,
                file_chunks(tokio::fs::File::from_std(file), rest),
            ));
            let mut response = (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                    (header::CONTENT_LENGTH, HeaderValue::from(len)),
                ],
                body,
            )
                .into_response();
            set_last_modified(&mut response, modified);
            response
        }
    }
}

/// The next `remaining` bytes of `file`, a chunk at a time. A file that shrank ends the
/// body with an error, as the promised length cannot be sent.
fn file_chunks(
    file: tokio::fs::File,
    remaining: u64,
) -> impl futures::Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures::stream::try_unfold((file, remaining), |(mut file, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let mut buf = vec![0; CHUNK.min(usize::try_from(remaining).unwrap_or(CHUNK))];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was served",
            ));
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), (file, remaining - n as u64))))
    })
}

fn set_last_modified(response: &mut Response, modified: Option<SystemTime>) {
    let Some(modified) = modified.and_then(|m| jiff::Timestamp::try_from(m).ok()) else {
        return;
    };
    let date = modified.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(value) = HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::LAST_MODIFIED, value);
    }
}

/// The relative path's components: refused when absolute or with `..` or NUL; empty and
/// `.` components are dropped, as Go's `path.Clean` drops them.
fn components(path: &str) -> Result<Vec<&str>, NodeLogError> {
    if path.starts_with('/') || path.contains('\0') {
        return Err(NodeLogError::InvalidPath);
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(NodeLogError::InvalidPath),
            part => parts.push(part),
        }
    }
    Ok(parts)
}

/// Resolves `path` under `dir` and opens what it names, never leaving `dir`.
fn resolve(dir: &FsPath, path: &str) -> Result<Served, NodeLogError> {
    let parts = components(path)?;
    let base = fs::canonicalize(dir).map_err(NodeLogError::from_io)?;
    let mut candidate = base.clone();
    candidate.extend(&parts);
    let target = fs::canonicalize(&candidate).map_err(NodeLogError::from_io)?;
    if !target.starts_with(&base) {
        tracing::warn!(
            path,
            resolved = %target.display(),
            "refused a /logs/ path that leads outside the log directory"
        );
        return Err(NodeLogError::Forbidden);
    }
    let wants_directory = path.is_empty() || path.ends_with('/');
    let last = parts.last().copied().unwrap_or_default();
    let metadata = fs::metadata(&target).map_err(NodeLogError::from_io)?;
    if metadata.is_dir() {
        if !wants_directory {
            return Ok(Served::Redirect(format!(
                "{}/",
                escape_path(last.as_bytes())
            )));
        }
        let handle = File::open(&target).map_err(NodeLogError::from_io)?;
        let opened = check_opened(&handle, &base, &metadata)?;
        if !opened.is_dir() {
            return Err(NodeLogError::Forbidden);
        }
        let html = listing(&handle, &target)?;
        Ok(Served::Listing {
            html,
            modified: opened.modified().ok(),
        })
    } else if metadata.is_file() {
        if wants_directory {
            return Ok(Served::Redirect(format!(
                "../{}",
                escape_path(last.as_bytes())
            )));
        }
        let mut file = File::open(&target).map_err(NodeLogError::from_io)?;
        let opened = check_opened(&file, &base, &metadata)?;
        if !opened.is_file() {
            return Err(NodeLogError::Forbidden);
        }
        let mut head = Vec::with_capacity(SNIFF_LEN);
        (&mut file)
            .take(SNIFF_LEN.min(usize::try_from(opened.len()).unwrap_or(SNIFF_LEN)) as u64)
            .read_to_end(&mut head)
            .map_err(NodeLogError::Io)?;
        Ok(Served::File {
            len: opened.len(),
            modified: opened.modified().ok(),
            file,
            head,
        })
    } else {
        Err(NodeLogError::Forbidden)
    }
}

/// The path of an open file through `/proc/self/fd`, which names what was opened.
fn proc_fd_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Checks that the file opened is the one checked: `/proc/self/fd` names it inside `base`;
/// without `/proc`, it is the same inode as the checked path. Returns its metadata.
fn check_opened(file: &File, base: &FsPath, checked: &Metadata) -> Result<Metadata, NodeLogError> {
    let opened = file.metadata().map_err(NodeLogError::from_io)?;
    let inside = match fs::read_link(proc_fd_path(file)) {
        Ok(real) => real.starts_with(base),
        Err(_) => opened.dev() == checked.dev() && opened.ino() == checked.ino(),
    };
    if inside {
        Ok(opened)
    } else {
        tracing::warn!("refused a /logs/ path that changed while it was opened");
        Err(NodeLogError::Forbidden)
    }
}

/// Go's `dirList`: the entries sorted by name, directories with a trailing `/`.
fn listing(handle: &File, target: &FsPath) -> Result<String, NodeLogError> {
    // List the directory that was opened and checked, not whatever is at its path now.
    let entries = match fs::read_dir(proc_fd_path(handle)) {
        Ok(entries) => entries,
        Err(_) => fs::read_dir(target).map_err(NodeLogError::from_io)?,
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(NodeLogError::Io)?;
        let mut name = entry.file_name().as_bytes().to_vec();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            name.push(b'/');
        }
        names.push(name);
    }
    names.sort();
    let mut html = String::from(
        "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n",
    );
    for name in names {
        let text = String::from_utf8_lossy(&name);
        html.push_str(&format!(
            "<a href=\"{}\">{}</a>\n",
            href(&name),
            escape_html(&text)
        ));
    }
    html.push_str("</pre>\n");
    Ok(html)
}

/// A name as the path of a relative URL (Go's `url.URL{Path: name}.String()`): escaped,
/// and behind `./` when its first segment has a `:` that would read as a scheme.
fn href(name: &[u8]) -> String {
    let escaped = escape_path(name);
    let first_segment = name.split(|b| *b == b'/').next().unwrap_or_default();
    if first_segment.contains(&b':') {
        format!("./{escaped}")
    } else {
        escaped
    }
}

/// Percent-escapes a URL path as Go's `url.PathEscape`-like `encodePath` mode does: all but
/// the unreserved characters and `$&+,/:;=@`.
fn escape_path(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path {
        if b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Go's `htmlReplacer`.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The content type Go's `DetectContentType` gives the kinds of file a log directory
/// holds: gzip, text, or anything else as binary. Names are not looked at, so no file is
/// ever served as HTML.
fn sniff(head: &[u8]) -> &'static str {
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        "application/x-gzip"
    } else if head
        .iter()
        .any(|&b| matches!(b, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f))
    {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_refuse_leaving_the_directory() {
        assert_eq!(components("").unwrap(), Vec::<&str>::new());
        assert_eq!(components("a//b/./c/").unwrap(), ["a", "b", "c"]);
        for bad in ["..", "../x", "a/../b", "a/..", "/etc/passwd", "a\0b"] {
            assert!(
                matches!(components(bad), Err(NodeLogError::InvalidPath)),
                "{bad:?}"
            );
        }
        assert_eq!(components("..a/b..").unwrap(), ["..a", "b.."]);
    }

    #[test]
    fn hrefs_are_escaped_like_go() {
        assert_eq!(href(b"syslog"), "syslog");
        assert_eq!(href(b"pods/"), "pods/");
        assert_eq!(href(b"a b#?.log"), "a%20b%23%3F.log");
        assert_eq!(href(b"ns_pod:1/"), "./ns_pod:1/");
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(b""), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"hello\n\tworld\r\n"), "text/plain; charset=utf-8");
        assert_eq!(sniff(&[0x1f, 0x8b, 0x08, 0]), "application/x-gzip");
        assert_eq!(sniff(b"ELF\0\x01"), "application/octet-stream");
    }
}
