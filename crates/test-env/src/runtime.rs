//! The environment's containerd as a [`GrpcRuntime`].

use std::sync::Arc;
use std::time::Duration;

use cri_client::GrpcRuntime;

use crate::env::{CRI_ENDPOINT_VAR, Env, require_env, skip};
use crate::error::{Error, Result};

/// How long the runtime is given to answer the start-up validation.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for `endpoint`, validated as the kubelet does at start-up (`Version`, then
/// `ImageFsInfo`) within [`CONNECT_TIMEOUT`].
///
/// The client's connection lives on the tokio runtime this is called on: a test that cleans
/// up from `Drop` (where that runtime may be going away) connects again on a runtime of its
/// own, as [`remove_pods_blocking`](crate::remove_pods_blocking) does.
pub async fn connect(endpoint: &str) -> Result<GrpcRuntime> {
    let runtime = GrpcRuntime::new(endpoint).map_err(|source| Error::Endpoint {
        var: CRI_ENDPOINT_VAR,
        endpoint: endpoint.to_string(),
        source: Box::new(source),
    })?;
    match tokio::time::timeout(CONNECT_TIMEOUT, runtime.validate()).await {
        Ok(Ok(_)) => Ok(runtime),
        Ok(Err(source)) => Err(Error::NoAnswer {
            endpoint: endpoint.to_string(),
            source: Box::new(source),
        }),
        Err(_) => Err(Error::Timeout {
            endpoint: endpoint.to_string(),
            timeout: CONNECT_TIMEOUT,
        }),
    }
}

impl Env {
    /// [`connect`] to this environment's runtime.
    pub async fn connect(&self) -> Result<GrpcRuntime> {
        connect(&self.cri_endpoint).await
    }
}

/// The environment's runtime, connected and answering; or, when the environment is missing
/// or its runtime does not answer, [`skip`] (a failure with `CI=true`, elsewhere `None`
/// after a note on stderr).
pub async fn runtime() -> Option<Arc<GrpcRuntime>> {
    let env = require_env("a test on the real runtime")?;
    match env.connect().await {
        Ok(runtime) => Some(Arc::new(runtime)),
        Err(e) => skip(&e.to_string()),
    }
}
