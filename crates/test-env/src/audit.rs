//! The requests nodes make of the local API server, from its audit log.
//!
//! `cargo xtask cluster up` starts kube-apiserver with an audit policy that records every
//! request of a user in the group `system:nodes` once it is answered (level `Metadata`:
//! who, verb, resource, subresource, name, answer code), and nothing else. Tests count an
//! agent's requests over a window with [`node_requests`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cluster::CLUSTER_DIR_VAR;
use crate::error::{Error, Result};
use crate::var;

/// The audit log's file name in the cluster directory (xtask's `AUDIT_LOG`).
pub const AUDIT_LOG: &str = "audit.log";

/// One answered request of a node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeRequest {
    /// When the answer was sent (RFC 3339, as the log has it; sorts by time).
    pub at: String,
    /// The user (`system:node:<name>`).
    pub user: String,
    /// The verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`).
    pub verb: String,
    /// The resource, with the subresource after a `/` (`pods/status`, `leases`).
    pub resource: String,
}

/// Every answered request of `system:node:<node>` whose answer time is at or after `since`
/// (RFC 3339, as `jiff::Timestamp`'s display gives it), in the log's order.
pub fn node_requests(node: &str, since: &str) -> Result<Vec<NodeRequest>> {
    let dir = PathBuf::from(var(CLUSTER_DIR_VAR).ok_or_else(|| Error::Unset {
        var: CLUSTER_DIR_VAR,
        file: crate::env_file(),
    })?);
    let path = dir.join(AUDIT_LOG);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        action: "reading the API server's audit log",
        path: path.clone(),
        source,
    })?;
    let user = format!("system:node:{node}");
    let since = since.parse::<jiff::Timestamp>().ok();
    let mut out = Vec::new();
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if event["user"]["username"] != user.as_str() || event["stage"] != "ResponseComplete" {
            continue;
        }
        let at = event["stageTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let (Some(since), Ok(t)) = (since, at.parse::<jiff::Timestamp>())
            && t < since
        {
            continue;
        }
        let resource = event["objectRef"]["resource"].as_str().unwrap_or("-");
        let resource = match event["objectRef"]["subresource"].as_str() {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.to_owned(),
        };
        out.push(NodeRequest {
            at,
            user: user.clone(),
            verb: event["verb"].as_str().unwrap_or_default().to_owned(),
            resource,
        });
    }
    Ok(out)
}

/// `verb resource` → count.
pub fn count_by_kind(requests: &[NodeRequest]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in requests {
        *counts
            .entry(format!("{} {}", r.verb, r.resource))
            .or_default() += 1;
    }
    counts
}
