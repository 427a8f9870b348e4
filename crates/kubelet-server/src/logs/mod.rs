//! `/containerLogs` and `/logs/`: what `kubectl logs` and `kubectl get --raw
//! /api/v1/nodes/<node>/proxy/logs/` read on a node.
//!
//! `/containerLogs/{namespace}/{pod}/{container}` is the kubelet's `getContainerLogs`: the
//! query is a `v1.PodLogOptions` (`follow`, `previous`, `timestamps`, `tailLines` or the
//! legacy `tail`, `sinceSeconds`, `sinceTime`, `limitBytes`, `stream`), decoded and
//! validated as the kubelet does, and the log is read by [`container_logs::LogReader`] and
//! streamed as it is read: every batch of lines the reader has ready is one chunk of a
//! chunked `text/plain` response, so `kubectl logs -f` shows lines as they come. Following
//! ends when the runtime says the container stopped, and the read stops as soon as the
//! client goes away (the response body, and with it the reader, is dropped).
//!
//! `/logs/` serves the files under [`NodeApi::node_log_dir`] the way the kubelet's
//! `http.FileServer(http.Dir("/var/log"))` does (a file's contents, an HTML listing for a
//! directory), but refuses any path that could leave that directory.
//!
//! Departures from the kubelet, each deliberate:
//!
//! - errors before any output get their own status: the kubelet writes its zero-byte
//!   "start" to the response before it opens the log, so a log that cannot be opened is a
//!   200 whose body is the error; here the reader opens first and such a failure is a 400
//!   with the error, as the kubelet's `WriteError(http.StatusBadRequest, err)` means it;
//! - the query errors name the parameter at fault (`Unable to decode query: tailLines:
//!   ...`, `Invalid request: tailLines: Invalid value: -1: ...`), under the kubelet's
//!   statuses (400 and 422), where the kubelet says only `Unable to decode query.` or
//!   `Invalid request.`;
//! - `stream=Stdout` and `stream=Stderr` are served, as the kubelet does with its
//!   `PodLogsQuerySplitStreams` feature gate on (off by default: it then refuses them);
//! - `/logs/` refuses `..`, absolute paths and symlinks that resolve outside the directory
//!   instead of cleaning the path (Go's `path.Clean`) and following every symlink.

mod node_logs;
mod options;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use container_logs::LogReader;
use futures::StreamExt;
use jiff::Timestamp;

use self::options::{LogQueryError, PodLogQuery, QueryPairs};
use crate::{ContainerTarget, Error, NodeApi};

/// How many lines that the reader has ready go into one chunk of the response at most.
const LINES_PER_CHUNK: usize = 256;

/// The content type of `/containerLogs`: Go's sniffing of the kubelet's first, empty write.
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// The routes of this module: `GET /containerLogs/{namespace}/{pod}/{container}`,
/// `GET /logs/` and `GET /logs/{*path}` (`HEAD` too, without a body).
///
/// ```
/// use std::sync::Arc;
/// use kubelet_server::NodeApi;
///
/// fn api_router(api: Arc<dyn NodeApi>) -> axum::Router {
///     axum::Router::new()
///         .merge(kubelet_server::logs::routes())
///         .with_state(api)
/// }
/// ```
pub fn routes() -> Router<Arc<dyn NodeApi>> {
    Router::new()
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(container_logs),
        )
        .route("/logs/", get(node_logs::directory_root))
        .route("/logs/{*path}", get(node_logs::path))
}

/// `GET /containerLogs/{namespace}/{pod}/{container}`: the kubelet's `getContainerLogs`.
async fn container_logs(
    State(api): State<Arc<dyn NodeApi>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    uri: Uri,
) -> Response {
    // The kubelet's checks and their (JSON-looking) messages, in its order.
    for (value, message) in [
        (&pod, r#"{"message": "Missing podID."}"#),
        (&container, r#"{"message": "Missing container name."}"#),
        (&namespace, r#"{"message": "Missing podNamespace."}"#),
    ] {
        if value.is_empty() {
            return Error::BadRequest(message.to_string()).into_response();
        }
    }
    let query = match parse_query(&uri) {
        Ok(query) => query,
        Err(e) => return query_error(e),
    };
    let target = ContainerTarget {
        namespace,
        pod,
        uid: None,
        container,
    };
    match open_log(api, &target, &query).await {
        Ok(reader) => (
            [(header::CONTENT_TYPE, TEXT_PLAIN)],
            Body::from_stream(log_chunks(reader)),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The query of `uri` as `PodLogOptions`.
fn parse_query(uri: &Uri) -> Result<PodLogQuery, LogQueryError> {
    let pairs: QueryPairs = match Query::<QueryPairs>::try_from_uri(uri) {
        Ok(Query(pairs)) => pairs,
        Err(e) => {
            return Err(LogQueryError::Decode {
                param: "query",
                reason: e.body_text(),
            });
        }
    };
    PodLogQuery::parse(&pairs)
}

/// The kubelet's answer to a query it cannot decode (400) or that is invalid (422).
fn query_error(error: LogQueryError) -> Response {
    let status = match error {
        LogQueryError::Decode { .. } => StatusCode::BAD_REQUEST,
        LogQueryError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    (
        status,
        [(header::CONTENT_TYPE, TEXT_PLAIN)],
        format!("{error}\n"),
    )
        .into_response()
}

/// Finds the container (or its previous instance) and opens its log where the query
/// starts. Following is only asked for while the container runs, and then ends when the
/// runtime says it stopped (the kubelet's `waitLogs`); an agent without a runtime follows
/// until the client goes away.
async fn open_log(
    api: Arc<dyn NodeApi>,
    target: &ContainerTarget,
    query: &PodLogQuery,
) -> Result<LogReader, Error> {
    let found = api.find_container(target, query.previous).await?;
    let mut options = query.log_options(Timestamp::now());
    options.follow &= found.running;
    let follow = options.follow;
    let reader = LogReader::open(&found.log_path, options)
        .await
        .map_err(|e| Error::BadRequest(format!("failed to read the log of {target}: {e}")))?;
    Ok(match api.runtime() {
        Some(runtime) if follow => reader.until_container_exits(runtime, found.container_id),
        _ => reader,
    })
}

/// The response body: each batch of lines the reader has ready, as one chunk. A read error
/// ends the body with the error's text, as the kubelet writes it after what it streamed.
fn log_chunks(
    reader: LogReader,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    reader
        .into_stream()
        .ready_chunks(LINES_PER_CHUNK)
        .map(|batch| {
            let mut chunk = Vec::new();
            for line in batch {
                match line {
                    Ok(line) => chunk.extend_from_slice(&line.output),
                    Err(e) => {
                        tracing::warn!(error = %e, "reading a container log failed");
                        chunk.extend_from_slice(e.to_string().as_bytes());
                    }
                }
            }
            Ok(Bytes::from(chunk))
        })
}
