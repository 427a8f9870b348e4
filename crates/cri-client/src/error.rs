//! The crate's one error type.

use std::time::Duration;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong talking to a container runtime.
///
/// Every variant that comes from a call names the CRI call (`"ContainerStatus"`) and, where
/// the request had one, the sandbox, container or image involved, so a log line alone says
/// what failed. [`Error::code`] keeps the gRPC status code for callers that branch on it
/// (`NotFound` means "already gone" to a kubelet).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint string is not a CRI endpoint this client accepts.
    #[error("invalid CRI endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it was refused.
        reason: String,
    },

    /// The runtime socket could not be reached (missing socket, refused, connect timeout,
    /// connection lost). The client reconnects by itself on the next call.
    #[error("container runtime at {endpoint} is unavailable (CRI {call}{}): {message}", id_suffix(.id))]
    Unavailable {
        /// The socket path or URI of the runtime.
        endpoint: String,
        /// The CRI call, as named in `api.proto` (`"RunPodSandbox"`).
        call: &'static str,
        /// The sandbox, container or image the call was about, if any.
        id: Option<String>,
        /// The transport's explanation.
        message: String,
    },

    /// The runtime answered the call with a gRPC error status.
    #[error("CRI {call}{} failed: {code:?}: {message}", id_suffix(.id))]
    Rpc {
        /// The CRI call, as named in `api.proto`.
        call: &'static str,
        /// The sandbox, container or image the call was about, if any.
        id: Option<String>,
        /// The gRPC status code (`NotFound`, `DeadlineExceeded`, `Unimplemented`, ...).
        code: tonic::Code,
        /// The runtime's message.
        message: String,
    },

    /// `ExecSync` did not finish within its timeout (the kubelet's `ErrCommandTimedOut`).
    #[error("command timed out after {timeout:?} in container {container_id}")]
    CommandTimedOut {
        /// The container the command ran in.
        container_id: String,
        /// The exec timeout that elapsed.
        timeout: Duration,
    },

    /// A command run with [`run_in_container`](crate::run_in_container) exited non-zero
    /// (the kubelet's `CodeExitError`).
    #[error("command {command:?} exited with {exit_code}: {output}")]
    CommandExited {
        /// The command as run.
        command: Vec<String>,
        /// Its exit code.
        exit_code: i32,
        /// Its stdout and stderr, concatenated.
        output: String,
    },

    /// The runtime's response broke a rule of the CRI (an empty field that must be set).
    #[error("CRI {call}{}: invalid response: {reason}", id_suffix(.id))]
    InvalidResponse {
        /// The CRI call.
        call: &'static str,
        /// The object the call was about, if any.
        id: Option<String>,
        /// What is wrong with the response.
        reason: String,
    },
}

fn id_suffix(id: &Option<String>) -> String {
    match id {
        Some(id) if !id.is_empty() => format!(" for {id}"),
        _ => String::new(),
    }
}

impl Error {
    /// The gRPC status code this error stands for, if it came from a call.
    ///
    /// [`Error::Unavailable`] reports `Unavailable`, [`Error::CommandTimedOut`] reports
    /// `DeadlineExceeded`.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Error::Rpc { code, .. } => Some(*code),
            Error::Unavailable { .. } => Some(tonic::Code::Unavailable),
            Error::CommandTimedOut { .. } => Some(tonic::Code::DeadlineExceeded),
            _ => None,
        }
    }

    /// Whether the runtime said the object does not exist. The kubelet treats this as
    /// success for `StopContainer`, `StopPodSandbox` and `RemoveContainer`.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(tonic::Code::NotFound)
    }

    /// Build an [`Error::Rpc`] from a gRPC status, as the real client and the fake both do.
    pub fn from_status(call: &'static str, id: Option<String>, status: &tonic::Status) -> Self {
        Error::Rpc {
            call,
            id,
            code: status.code(),
            message: status.message().to_string(),
        }
    }

    /// The gRPC status message the runtime sent (Go's `status.FromError(err).Message()`),
    /// for an error that came back from a call: [`Error::Rpc`]'s message, the transport's
    /// explanation for [`Error::Unavailable`]. The kubelet shows this alone as the
    /// `CreateContainerError` and `RunContainerError` messages (`startContainer`,
    /// `kuberuntime_container.go`).
    pub fn status_message(&self) -> Option<&str> {
        match self {
            Error::Rpc { message, .. } | Error::Unavailable { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The error as grpc-go writes a status error, `rpc error: code = NotFound desc = <message>`
    /// (the code as Go's `codes.Code.String()`), for an error that came back from a call.
    /// The kubelet's `ErrImagePull` message is this text (`evalCRIPullErr`,
    /// `image_manager.go`), except that its CRI client keeps the message alone for `Unknown`
    /// (`pullImageV1`, `remote_image.go`).
    pub fn grpc_text(&self) -> Option<String> {
        let code = self.code()?;
        let message = self.status_message()?;
        Some(format!(
            "rpc error: code = {} desc = {message}",
            go_code_name(code)
        ))
    }

    /// The CRI call this error came from, if any.
    pub fn call(&self) -> Option<&'static str> {
        match self {
            Error::Unavailable { call, .. }
            | Error::Rpc { call, .. }
            | Error::InvalidResponse { call, .. } => Some(call),
            Error::CommandTimedOut { .. } | Error::CommandExited { .. } => Some("ExecSync"),
            Error::InvalidEndpoint { .. } => None,
        }
    }
}

/// A gRPC code as Go's `codes.Code.String()` names it.
fn go_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cri-error-text`: the status message alone, and grpc-go's text of the status.
    #[test]
    fn cri_error_text_is_grpc_gos() {
        let e = Error::from_status(
            "PullImage",
            Some("localhost/absent:1".into()),
            &tonic::Status::not_found("failed to resolve image: not found"),
        );
        assert_eq!(
            e.status_message(),
            Some("failed to resolve image: not found")
        );
        assert_eq!(
            e.grpc_text().as_deref(),
            Some("rpc error: code = NotFound desc = failed to resolve image: not found")
        );
        let cancelled = Error::from_status("Version", None, &tonic::Status::cancelled("stop"));
        assert_eq!(
            cancelled.grpc_text().as_deref(),
            Some("rpc error: code = Canceled desc = stop")
        );
        let exited = Error::CommandExited {
            command: vec!["false".into()],
            exit_code: 1,
            output: String::new(),
        };
        assert_eq!(exited.status_message(), None);
        assert_eq!(exited.grpc_text(), None);
    }

    #[test]
    fn rpc_error_names_call_and_id() {
        let e = Error::from_status(
            "ContainerStatus",
            Some("abc123".into()),
            &tonic::Status::not_found("container \"abc123\" not found"),
        );
        assert!(e.is_not_found());
        let text = e.to_string();
        assert!(text.contains("ContainerStatus"), "{text}");
        assert!(text.contains("abc123"), "{text}");
        assert!(text.contains("NotFound"), "{text}");
    }

    #[test]
    fn unavailable_reports_code_and_endpoint() {
        let e = Error::Unavailable {
            endpoint: "/run/x.sock".into(),
            call: "Version",
            id: None,
            message: "No such file or directory".into(),
        };
        assert_eq!(e.code(), Some(tonic::Code::Unavailable));
        assert!(e.to_string().contains("/run/x.sock"));
    }
}
