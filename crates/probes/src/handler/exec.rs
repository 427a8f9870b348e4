//! The exec probe: a command run in the container through CRI `ExecSync`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use cri_client::{RuntimeService, v1};
use k8s_openapi::api::core::v1::{Container, ExecAction};

use super::{ProbeHandler, ProbeOutcome, ProbeTarget};
use crate::{Error, Result};

/// How much of the command's output (stdout then stderr) is kept: 10 KiB, the kubelet's
/// `maxReadLength` in `pkg/probe/exec/exec.go`.
pub const MAX_EXEC_OUTPUT: usize = 10 * 1024;

/// Runs a command in the container with `ExecSync` (the kubelet's `execProber`).
///
/// Exit 0 is success, any other code failure, with the output (stdout then stderr, cut at
/// [`MAX_EXEC_OUTPUT`]) as the message. A command still running after `timeoutSeconds` is a
/// failure `command "<cmd>" timed out` (the `ExecProbeTimeout` behaviour, GA since 1.20).
/// Any other runtime error is a prober error ([`Error::Exec`]).
#[derive(Clone)]
pub struct ExecProbe {
    runtime: Arc<dyn RuntimeService>,
    command: Vec<String>,
}

impl fmt::Debug for ExecProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecProbe")
            .field("command", &self.command)
            .finish_non_exhaustive()
    }
}

impl ExecProbe {
    /// Run `command` as is.
    pub fn new(runtime: Arc<dyn RuntimeService>, command: Vec<String>) -> Self {
        ExecProbe { runtime, command }
    }

    /// The probe of `action` in `container`: `$(VAR)` in the command is expanded from the
    /// container's statically defined `env` only (the kubelet's
    /// `ExpandContainerCommandOnlyStatic`; the probe does not see `valueFrom` values).
    pub fn from_action(
        action: &ExecAction,
        container: &Container,
        runtime: Arc<dyn RuntimeService>,
    ) -> Self {
        let env: HashMap<&str, &str> = container
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or("")))
            .collect();
        let command = action
            .command
            .iter()
            .flatten()
            .map(|arg| expand_command(arg, &env))
            .collect();
        ExecProbe::new(runtime, command)
    }

    /// The command as it will run.
    pub fn command(&self) -> &[String] {
        &self.command
    }
}

#[async_trait]
impl ProbeHandler for ExecProbe {
    async fn probe(&self, target: &ProbeTarget) -> Result<ProbeOutcome> {
        let reply = self
            .runtime
            .exec_sync(v1::ExecSyncRequest {
                container_id: target.container_id.clone(),
                cmd: self.command.clone(),
                timeout: target.timeout.as_secs() as i64,
            })
            .await;
        match reply {
            Ok(reply) => {
                let mut output = reply.stdout;
                output.extend_from_slice(&reply.stderr);
                output.truncate(MAX_EXEC_OUTPUT);
                let output = String::from_utf8_lossy(&output).into_owned();
                Ok(if reply.exit_code == 0 {
                    ProbeOutcome::success(output)
                } else {
                    ProbeOutcome::failure(output)
                })
            }
            // The runtime's "command timed out" (`ErrCommandTimedOut`, from the kubelet's
            // `remoteRuntimeService.ExecSync`): a failure, not an error.
            Err(cri_client::Error::CommandTimedOut { .. }) => Ok(ProbeOutcome::failure(format!(
                "command {:?} timed out",
                self.command.join(" ")
            ))),
            Err(source) => Err(Error::Exec {
                container_id: target.container_id.clone(),
                source,
            }),
        }
    }
}

/// Expand `$(VAR)` references in one argument from `env`, as Kubernetes does for
/// container commands (`third_party/forked/golang/expansion`): `$$` is a literal `$`, an
/// unknown `$(VAR)` and an unterminated `$(` stay as written.
pub fn expand_command(arg: &str, env: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let mut chars = after.chars();
        match chars.next() {
            None => {
                out.push('$');
                rest = after;
            }
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some('(') => match after.find(')') {
                Some(close) => {
                    let name = &after[1..close];
                    match env.get(name) {
                        Some(value) => out.push_str(value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = &after[1..];
                }
            },
            Some(c) => {
                out.push('$');
                out.push(c);
                rest = chars.as_str();
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_kubernetes() {
        let env = HashMap::from([("A", "1"), ("EMPTY", "")]);
        assert_eq!(expand_command("x$(A)y", &env), "x1y");
        assert_eq!(expand_command("$(EMPTY)", &env), "");
        assert_eq!(expand_command("$(B)", &env), "$(B)");
        assert_eq!(expand_command("$$(A)", &env), "$(A)");
        assert_eq!(expand_command("$(A", &env), "$(A");
        assert_eq!(expand_command("$x$", &env), "$x$");
        assert_eq!(expand_command("é$é", &env), "é$é");
    }
}
