//! `/stats/summary`, `/metrics/resource` and `/metrics/cadvisor`.
//!
//! - [`Summary`] and its parts are the kubelet's `stats/v1alpha1` types, written and read as
//!   the Go API does (see [Types](#types)); [`field_paths`] lists a document's
//!   fields, to compare two summaries by shape.
//! - [`render_resource_metrics`] writes `/metrics/resource` from a CPU-and-memory
//!   [`Summary`], as the kubelet's resource metrics collector does;
//!   [`render_cadvisor_metrics`] writes `/metrics/cadvisor` from [`CgroupInfo`]s, as the
//!   kubelet's embedded cAdvisor does.
//! - [`routes`] serves the three over a [`NodeApi`], which measures: the
//!   summary from [`NodeApi::stats_summary`], the cgroups
//!   from [`NodeApi::cadvisor_cgroups`].
//!
//! # Why the server only renders
//!
//! Measuring is the node's business (cgroups, the runtime's stats, filesystems, network
//! namespaces), and differs between agents and hosts; the documents are the kubelet's and
//! must not. So this module owns the formats, byte for byte where clients parse them
//! (Prometheus text with the Go client's ordering and number format, JSON with the Go
//! names, `omitempty` and timestamps), and takes plain values in. Both metrics endpoints are
//! views of values the agent measured once per request: `/metrics/resource` is derived from
//! the summary exactly as the kubelet derives it, so the two never disagree.
//!
//! # Types
//!
//! `Option` fields are the Go type's `omitempty` pointers; a [`Time`] is `metav1.Time`
//! (RFC 3339 in whole seconds, `null` when zero). Reading ignores unknown fields, so a
//! newer kubelet's summary still parses.

mod cadvisor;
mod exposition;
mod resource;
mod summary;
mod time;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use cadvisor::{
    CgroupInfo, CgroupMemory, FilesystemUsage, InterfaceCounters, ProcessCounts,
    render_cadvisor_metrics,
};
pub use resource::render_resource_metrics;
pub use summary::{
    AcceleratorStats, ContainerStats, CpuStats, FsStats, InterfaceStats, IoStats, MemoryStats,
    NetworkStats, NodeStats, PodReference, PodStats, ProcessStats, PsiData, PsiStats, PvcReference,
    RlimitStats, RuntimeStats, SYSTEM_CONTAINER_KUBELET, SYSTEM_CONTAINER_MISC,
    SYSTEM_CONTAINER_PODS, SYSTEM_CONTAINER_RUNTIME, Summary, SwapStats, UserDefinedMetric,
    VolumeStats,
};
pub use time::Time;

use crate::{Error, NodeApi, Result};

/// The content type of the Prometheus text format the metrics endpoints answer with.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET`/`POST /stats/summary` (`?only_cpu_and_memory=true` for CPU and memory only),
/// `GET /metrics/resource` and `GET /metrics/cadvisor`, over the agent's
/// [`NodeApi`]. Errors answer through [`Error`]: 501 when the agent measures nothing, 500
/// when measuring failed (the metrics endpoints then answer 200 with their scrape-error
/// gauge at 1, as the kubelet's collectors do).
pub fn routes() -> Router<Arc<dyn NodeApi>> {
    Router::new()
        .route("/stats/summary", get(summary).post(summary))
        .route("/metrics/resource", get(resource_metrics))
        .route("/metrics/cadvisor", get(cadvisor_metrics))
}

/// The summary as go-restful writes it: JSON indented by one space, no final newline.
async fn summary(
    State(api): State<Arc<dyn NodeApi>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response> {
    // The kubelet reads the parameter from `Request.Form`: a form body of a POST, then the
    // query; it must be given exactly once, as `true`.
    let mut values = Vec::new();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if method == Method::POST && is_form {
        let body = std::str::from_utf8(&body)
            .map_err(|e| Error::BadRequest(format!("parse form failed: {e}")))?;
        values.extend(form_values(body, "only_cpu_and_memory"));
    }
    values.extend(form_values(
        query.as_deref().unwrap_or(""),
        "only_cpu_and_memory",
    ));
    let only_cpu_and_memory = values.len() == 1 && values[0] == "true";

    let summary = api.stats_summary(only_cpu_and_memory).await?;
    let json = to_json_indented(&summary)
        .map_err(|e| Error::Runtime(format!("writing the summary: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

async fn resource_metrics(State(api): State<Arc<dyn NodeApi>>) -> Result<Response> {
    let text = match api.stats_summary(true).await {
        Ok(summary) => render_resource_metrics(Some(&summary)),
        Err(e @ Error::NotSupported(_)) => return Err(e),
        Err(e) => {
            tracing::error!(error = %e, "error getting summary for resourceMetric prometheus endpoint");
            render_resource_metrics(None)
        }
    };
    Ok(([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response())
}

async fn cadvisor_metrics(State(api): State<Arc<dyn NodeApi>>) -> Result<Response> {
    let text = match api.cadvisor_cgroups().await {
        Ok(cgroups) => render_cadvisor_metrics(Some(&cgroups), jiff::Timestamp::now()),
        Err(e @ Error::NotSupported(_)) => return Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "couldn't get containers");
            render_cadvisor_metrics(None, jiff::Timestamp::now())
        }
    };
    Ok(([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response())
}

/// `value` as JSON indented by one space, as go-restful's pretty printing
/// (`json.MarshalIndent(v, "", " ")`) writes the kubelet's answers.
pub fn to_json_indented<T: serde::Serialize>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut serializer)?;
    // serde_json writes valid UTF-8.
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// Every field path of a JSON document, with array elements collapsed to `[]`: `node`,
/// `node.cpu`, `node.cpu.time`, `pods`, `pods[]`, `pods[].podRef.uid`, ... (the root itself
/// is not listed). Two documents with the same set have the same shape whatever their
/// values and list lengths, which is how a summary from nodelet is compared with the
/// kubelet's: `a.difference(&b)` names what one has and the other lacks. A `null` value
/// counts as present, as Go writes it (a zero time).
///
/// ```
/// use kubelet_server::stats::field_paths;
/// use serde_json::json;
///
/// let paths = field_paths(&json!({"node": {"nodeName": "n"}, "pods": [{"a": 1}, {"b": null}]}));
/// let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
/// assert_eq!(paths, ["node", "node.nodeName", "pods", "pods[]", "pods[].a", "pods[].b"]);
/// ```
pub fn field_paths(value: &serde_json::Value) -> BTreeSet<String> {
    fn walk(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, child) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    out.insert(path.clone());
                    walk(child, &path, out);
                }
            }
            serde_json::Value::Array(items) => {
                let path = format!("{prefix}[]");
                for item in items {
                    out.insert(path.clone());
                    walk(item, &path, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, "", &mut out);
    out
}

/// The values of `key` in a URL-encoded form (`a=1&b=2`), decoded as Go's `url.ParseQuery`
/// decodes them (`+` is a space, `%XX` a byte); pairs that do not decode are skipped.
fn form_values(form: &str, key: &str) -> Vec<String> {
    form.split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode_form(k)?, decode_form(v)?))
        })
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect()
}

fn decode_form(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = tail
                    .get(..2)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                let hex = std::str::from_utf8(hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &tail[2..];
                continue;
            }
            _ => bytes.push(b),
        }
        rest = tail;
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests;
