//! Running a command in a container and judging its result, as the kubelet's
//! `RunInContainer` does for exec probes and exec lifecycle hooks.

use std::time::Duration;

use crate::{Error, Result, RuntimeService, v1};

/// Run `command` in a container through `ExecSync` and return its combined stdout and
/// stderr.
///
/// Follows the kubelet: a timeout is [`Error::CommandTimedOut`] ("command timed out"), and a
/// non-zero exit code is [`Error::CommandExited`] carrying the code and the output. A
/// `timeout` of zero lets the command run without limit.
pub async fn run_in_container(
    runtime: &dyn RuntimeService,
    container_id: &str,
    command: Vec<String>,
    timeout: Duration,
) -> Result<Vec<u8>> {
    let response = runtime
        .exec_sync(v1::ExecSyncRequest {
            container_id: container_id.to_string(),
            cmd: command.clone(),
            timeout: timeout.as_secs() as i64,
        })
        .await?;
    let mut output = response.stdout;
    output.extend_from_slice(&response.stderr);
    if response.exit_code == 0 {
        Ok(output)
    } else {
        Err(Error::CommandExited {
            command,
            exit_code: response.exit_code,
            output: String::from_utf8_lossy(&output).into_owned(),
        })
    }
}
