//! CRI endpoint strings, parsed the way the kubelet parses `--container-runtime-endpoint`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The kubelet's default runtime endpoint (`containerRuntimeEndpoint`).
pub const DEFAULT_RUNTIME_ENDPOINT: &str = "unix:///run/containerd/containerd.sock";

/// A CRI endpoint: a unix socket path.
///
/// Like the kubelet on Linux, only `unix://` endpoints are accepted. A bare absolute path is
/// taken as `unix://<path>` (the kubelet accepts it with a deprecation warning, and so do we);
/// `tcp://` and every other scheme are refused with "only support unix socket endpoint".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    path: PathBuf,
    deprecated_bare_path: bool,
}

impl Endpoint {
    /// Parse an endpoint string: `unix:///run/containerd/containerd.sock` or a bare path.
    pub fn parse(endpoint: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidEndpoint {
            endpoint: endpoint.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = endpoint.trim();
        if trimmed.is_empty() {
            return Err(invalid("the endpoint is empty"));
        }
        let (path, bare) = if let Some(rest) = trimmed.strip_prefix("unix://") {
            (rest, false)
        } else if let Some(rest) = trimmed.strip_prefix("unix:") {
            // `unix:/path` (a single slash) is a valid URI for a unix socket too.
            (rest, false)
        } else if trimmed.contains("://") {
            return Err(invalid(
                "only support unix socket endpoint (the scheme must be unix://)",
            ));
        } else {
            (trimmed, true)
        };
        if path.is_empty() {
            return Err(invalid("the socket path is empty"));
        }
        if !path.starts_with('/') {
            return Err(invalid("the socket path must be absolute"));
        }
        Ok(Endpoint {
            path: PathBuf::from(path),
            deprecated_bare_path: bare,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the endpoint was given as a bare path rather than a `unix://` URI (the
    /// kubelet logs a deprecation warning for it; [`GrpcRuntime`](crate::GrpcRuntime) does too).
    pub fn is_deprecated_bare_path(&self) -> bool {
        self.deprecated_bare_path
    }
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint::parse(DEFAULT_RUNTIME_ENDPOINT).expect("the default endpoint is valid")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unix://{}", self.path.display())
    }
}

impl std::str::FromStr for Endpoint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Endpoint::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_01_endpoint_schemes() {
        let e = Endpoint::parse("unix:///run/containerd/containerd.sock").unwrap();
        assert_eq!(e.path(), Path::new("/run/containerd/containerd.sock"));
        assert!(!e.is_deprecated_bare_path());

        let bare = Endpoint::parse("/tmp/cri.sock").unwrap();
        assert_eq!(bare.path(), Path::new("/tmp/cri.sock"));
        assert!(bare.is_deprecated_bare_path());
        assert_eq!(bare.to_string(), "unix:///tmp/cri.sock");

        let tcp = Endpoint::parse("tcp://127.0.0.1:1234").unwrap_err();
        assert!(
            tcp.to_string()
                .contains("only support unix socket endpoint"),
            "{tcp}"
        );
        assert!(Endpoint::parse("").is_err());
        assert!(Endpoint::parse("unix://").is_err());
        assert!(Endpoint::parse("relative.sock").is_err());

        assert_eq!(Endpoint::default().to_string(), DEFAULT_RUNTIME_ENDPOINT);
    }
}
