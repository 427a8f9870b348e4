//! Logging: `tracing` events to stderr, as text or JSON lines, at a level chosen with
//! `--v` (klog's verbosity, 0-10) or `--log-level`.
//!
//! Every line carries the fields of the spans it was logged in (the pod, the container,
//! the CRI call), so a line from a pod worker says which pod it is about without the
//! message repeating it. The kubelet's `--logging-format=json` plays the same role.

use std::io::IsTerminal;

use serde::{Deserialize, Serialize};
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::{Error, Result};

/// The log line format (`--log-format`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines: `time LEVEL span{field=value}: target: message key=value`.
    #[default]
    Text,
    /// One JSON object per line, with `span` (the innermost span's fields) and `spans`
    /// (every enclosing span, outermost first).
    Json,
}

/// The most verbose level logged (`--log-level`, or derived from `--v`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// The default: what an operator reads (klog levels 0-2).
    #[default]
    Info,
    /// Detail for debugging (klog levels 3-4).
    Debug,
    /// Everything (klog levels 5 and above).
    Trace,
}

impl LogLevel {
    /// Maps klog's `-v` verbosity onto a level. The kubelet logs operator-facing lines at
    /// V(0)-V(2), per-pod detail at V(3)-V(4) and per-call detail from V(5) up.
    ///
    /// ```
    /// use agent::logging::LogLevel;
    /// assert_eq!(LogLevel::from_verbosity(2), LogLevel::Info);
    /// assert_eq!(LogLevel::from_verbosity(4), LogLevel::Debug);
    /// assert_eq!(LogLevel::from_verbosity(10), LogLevel::Trace);
    /// ```
    pub fn from_verbosity(verbosity: u8) -> Self {
        match verbosity {
            0..=2 => LogLevel::Info,
            3..=4 => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// The filter for `level`: the HTTP/2 and gRPC stack below the CRI client logs every frame
/// at debug and trace, which drowns the agent's own lines, so it is held at `info`.
fn filter(level: LogLevel) -> EnvFilter {
    let noisy = level.min(LogLevel::Info).as_str();
    let directives = format!(
        "{},h2={noisy},hyper={noisy},hyper_util={noisy},tower={noisy},tonic={noisy},notify={noisy}",
        level.as_str()
    );
    EnvFilter::new(directives)
}

/// Builds the subscriber [`init_logging`] installs, writing to `writer` without colours.
/// Useful to capture the agent's log lines in a test.
///
/// ```
/// use agent::logging::{LogFormat, LogLevel, subscriber};
///
/// let dispatch = subscriber(LogLevel::Info, LogFormat::Json, std::io::sink);
/// tracing::subscriber::with_default(dispatch, || {
///     let span = tracing::info_span!("pod", pod = "default/web-node-1");
///     let _entered = span.enter();
///     tracing::info!("started");
/// });
/// ```
pub fn subscriber<W>(level: LogLevel, format: LogFormat, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    build(level, format, writer, false)
}

fn build<W>(
    level: LogLevel,
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> impl Subscriber + Send + Sync
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let layer = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(ansi)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .with_current_span(true)
            .with_span_list(true)
            .boxed(),
    };
    Registry::default().with(layer.with_filter(filter(level)))
}

/// Installs the process-wide logger: `level` and more severe, in `format`, to stderr
/// (colours only on a terminal). Fails if a logger is already installed.
///
/// ```no_run
/// use agent::logging::{LogFormat, LogLevel, init_logging};
///
/// init_logging(LogLevel::from_verbosity(2), LogFormat::Json)?;
/// # Ok::<(), agent::Error>(())
/// ```
pub fn init_logging(level: LogLevel, format: LogFormat) -> Result<()> {
    let ansi = std::io::stderr().is_terminal();
    let subscriber = build(level, format, std::io::stderr, ansi);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|err| Error::Logging(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(level: LogLevel, format: LogFormat) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = subscriber(level, format, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let pod = tracing::info_span!("pod_worker", pod = "default/web-node-1", uid = "abc");
            let _pod = pod.enter();
            let call = tracing::info_span!("cri", call = "RunPodSandbox");
            let _call = call.enter();
            tracing::info!(attempt = 1, "sandbox started");
            tracing::debug!("hidden at info");
        });
        let bytes = buffer
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn json_lines_carry_every_span_field() {
        let out = capture(LogLevel::Info, LogFormat::Json);
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["fields"]["message"], "sandbox started");
        assert_eq!(line["fields"]["attempt"], 1);
        assert_eq!(line["span"]["call"], "RunPodSandbox");
        assert_eq!(line["spans"][0]["pod"], "default/web-node-1");
        assert_eq!(line["spans"][0]["uid"], "abc");
    }

    #[test]
    fn text_lines_carry_span_fields() {
        let out = capture(LogLevel::Info, LogFormat::Text);
        assert!(
            out.contains("pod_worker{pod=\"default/web-node-1\" uid=\"abc\"}"),
            "{out}"
        );
        assert!(out.contains("cri{call=\"RunPodSandbox\"}"), "{out}");
        assert!(out.contains("sandbox started attempt=1"), "{out}");
        assert!(!out.contains("hidden"), "{out}");
    }

    #[test]
    fn debug_level_shows_debug_lines() {
        assert!(capture(LogLevel::Debug, LogFormat::Text).contains("hidden at info"));
        assert!(!capture(LogLevel::Warn, LogFormat::Text).contains("sandbox started"));
    }
}
