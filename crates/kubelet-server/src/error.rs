//! The crate's one error type.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::StatusCode;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong serving the kubelet API. Each request-level variant maps to the HTTP
/// status the kubelet answers with ([`Error::status`]); its text is the response body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address could not be bound.
    #[error("failed to listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The server stopped with an I/O error.
    #[error("serving {addr} failed: {source}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A certificate, key or CA bundle could not be read, parsed or generated.
    #[error("TLS: {path}: {reason}")]
    Tls {
        /// The file at fault (or the directory a self-signed pair goes to).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// The request names something that does not exist (a pod, a container, a previous
    /// instance): 404.
    #[error("{0}")]
    NotFound(String),

    /// The request is malformed (a bad query parameter, a missing command): 400.
    #[error("{0}")]
    BadRequest(String),

    /// The agent serving the API does not offer this (no runtime, no stats): 501.
    #[error("{0} is not supported by this node agent")]
    NotSupported(&'static str),

    /// The container runtime failed the call: 500.
    #[error("{0}")]
    Runtime(String),

    /// Authentication or authorization could not be decided (the API server is away):
    /// 500, as the kubelet answers an authorizer error.
    #[error("{0}")]
    Auth(String),

    /// Credentials were presented and refused (a client certificate that does not verify,
    /// a bearer token the API server does not accept): 401.
    #[error("{0}")]
    Unauthenticated(String),

    /// A TokenReview or SubjectAccessReview could not be made or answered (the API server
    /// is away, refused the review, or the reviewer reported an error): 500.
    #[error("{review} failed: {source}")]
    Review {
        /// Which review (`TokenReview`, `SubjectAccessReview`).
        review: &'static str,
        /// Why it failed.
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The `authentication`/`authorization` configuration cannot be used (webhook mode
    /// without a reviewer, no authentication method at all).
    #[error("invalid authentication/authorization configuration: {0}")]
    AuthConfig(String),
}

impl Error {
    /// The HTTP status the kubelet answers this error with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::NotSupported(_) => StatusCode::NOT_IMPLEMENTED,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        (
            self.status(),
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            format!("{self}\n"),
        )
            .into_response()
    }
}
