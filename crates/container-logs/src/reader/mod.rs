//! Reading container logs in the CRI log format: what `kubectl logs` gets from the
//! kubelet's `containerLogs` endpoint (`k8s.io/cri-client/pkg/logs` `ReadLogs`), and the
//! end of a log that becomes a termination message ([`last_log_lines`]).
//!
//! The runtime writes one record per line, or per piece of a long line
//! (`<timestamp> <stdout|stderr> <P|F> <content>`, `P` for a partial record). The reader
//! gives back lines as the container wrote them: a stream's partial records are joined
//! until the full record that ends them, and each line carries its first record's
//! timestamp. [`LogOptions`] are `kubectl logs`' options: `follow`, `tail_lines`,
//! `since_time`, `limit_bytes`, `timestamps`, and the stream selection of the API's
//! `stream` field.
//!
//! Departures from the kubelet, each because the kubelet's behaviour is an accident of its
//! implementation rather than a rule:
//!
//! - the kubelet reads the live file only; the reader reads the rotated files
//!   (`<log>.<timestamp>`, compressed `<log>.<timestamp>.gz`) before it, so `tail_lines`
//!   and a read of everything see through a rotation, and following goes on across one:
//!   when the runtime reopens its log after a rotation, the reader finishes the renamed
//!   file, then goes on with the new one (the kubelet switches at once and may lose the
//!   end of the old file);
//! - the kubelet counts records for `tail_lines` and filters `since_time` by record; the
//!   reader counts lines and filters by a line's first record, so a long line is never
//!   shown from its middle;
//! - the kubelet reads a record whole, however long; the reader reads it in pieces of
//!   64 KiB, so that memory stays bounded, and takes its header (timestamp, stream, tag)
//!   from the first piece: a record whose tag runs past its first 64 KiB is malformed (no
//!   runtime writes a tag other than `P` or `F`);
//! - the Docker JSON log format that the kubelet also accepts (from dockershim days) is
//!   not read: no CRI runtime writes it, so its lines are malformed here.
//!
//! As in the kubelet, a malformed line is logged and skipped
//! ([`LogReader::malformed_lines`] counts them), and following ends when the runtime says
//! the container no longer runs ([`LogReader::until_container_exits`]).

mod cursor;
mod files;
mod format;
mod tail;
mod termination;
mod watch;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use cri_client::{RuntimeService, v1};
use futures::Stream;
use jiff::Timestamp;
use jiff::tz::Offset;

use self::cursor::{LogCursor, Progress};
use self::watch::Watch;
use crate::{ContainerRef, Error, Result};

pub use self::format::{LogStream, RecordHeader, parse_record};
pub use self::termination::{
    MAX_TERMINATION_MESSAGE_LOG_LENGTH, MAX_TERMINATION_MESSAGE_LOG_LINES, last_log_lines,
    termination_message_from_logs,
};
pub use self::watch::FORCE_CHECK_PERIOD;

/// How many lines one blocking read gathers at most.
const BATCH_LINES: usize = 256;

/// Which streams to read: the `stream` field of `PodLogOptions` (`All`, `Stdout`,
/// `Stderr`). [`Default`] is both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LogStreams {
    /// Standard output and standard error, interleaved as they were written.
    #[default]
    All,
    /// Standard output only.
    Stdout,
    /// Standard error only.
    Stderr,
}

impl LogStreams {
    /// Whether `stream` is selected.
    pub fn contains(self, stream: LogStream) -> bool {
        match self {
            LogStreams::All => true,
            LogStreams::Stdout => stream == LogStream::Stdout,
            LogStreams::Stderr => stream == LogStream::Stderr,
        }
    }
}

/// What to read of a container log: `kubectl logs`' options (`PodLogOptions`). [`Default`]
/// reads everything once, both streams, without timestamps.
///
/// `sinceSeconds` is a `since_time` of now minus those seconds, as the kubelet computes it
/// (the later of the two when both are given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep reading as the log grows, and across its rotations, until the reader is
    /// dropped or the container exits ([`LogReader::until_container_exits`]).
    pub follow: bool,
    /// Start with the last this many lines of the selected streams, looking through the
    /// rotated files too; `None` starts at the beginning. The tail is the end of what a
    /// read of everything gives, lines the container left unfinished last, except that a
    /// line left unfinished in a rotated file, whose stream wrote nothing to the live log
    /// after it, is left out when the log has this many lines without it.
    pub tail_lines: Option<u64>,
    /// Only lines whose (first) timestamp is at or after this instant.
    pub since_time: Option<Timestamp>,
    /// Stop after this many bytes of output, cutting the last line if need be.
    pub limit_bytes: Option<u64>,
    /// Prefix each line with its timestamp (RFC 3339 with nine fractional digits, in the
    /// offset the runtime wrote) and a space.
    pub timestamps: bool,
    /// The streams to read.
    pub streams: LogStreams,
}

/// One line of a container log, as the reader gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the runtime received the line (its first record's timestamp).
    pub timestamp: Timestamp,
    /// The UTC offset the runtime wrote the timestamp in (containerd writes the node's
    /// local time); the `timestamps` prefix keeps it, as the kubelet's does.
    pub offset: Offset,
    /// The stream the line was written to.
    pub stream: LogStream,
    /// What `kubectl logs` prints for the line: the timestamp prefix when
    /// [`LogOptions::timestamps`] asks for it, then the content and its newline. Only the
    /// last line of a log the container did not end with a newline comes without one, and
    /// `limit_bytes` may cut the last line short. A line longer than 1 MiB (only possible
    /// when the runtime split it into partial records) comes in pieces, the timestamp
    /// prefix on the first.
    pub output: Vec<u8>,
}

/// Reads one container log with [`LogOptions`]: the reader behind a `containerLogs`
/// endpoint.
///
/// File reads run on tokio's blocking pool a batch at a time; a followed log is watched
/// with inotify on its directory and looked at once a second
/// ([`FORCE_CHECK_PERIOD`]) whatever happens, as the kubelet does.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use container_logs::{LogOptions, LogReader, LogStreams};
///
/// let dir = std::env::temp_dir().join(format!("log-reader-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let log = dir.join("0.log");
/// std::fs::write(&log, "2024-01-01T00:00:00.5Z stdout F hello\n\
///                       2024-01-01T00:00:01Z stderr F oops\n\
///                       2024-01-01T00:00:02Z stdout F bye\n")?;
///
/// let options = LogOptions { streams: LogStreams::Stdout, timestamps: true, ..Default::default() };
/// let mut reader = LogReader::open(&log, options).await?;
/// let mut output = Vec::new();
/// while let Some(line) = reader.next_line().await? {
///     output.extend(line.output);
/// }
/// assert_eq!(
///     String::from_utf8(output)?,
///     "2024-01-01T00:00:00.500000000Z hello\n2024-01-01T00:00:02.000000000Z bye\n"
/// );
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
pub struct LogReader {
    cursor: Arc<Mutex<LogCursor>>,
    path: PathBuf,
    queue: VecDeque<LogLine>,
    container: Option<(Arc<dyn RuntimeService>, String)>,
    watch: Option<Watch>,
    finished: bool,
    malformed: Arc<AtomicU64>,
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("path", &self.path)
            .field("container", &self.container.as_ref().map(|(_, id)| id))
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl LogReader {
    /// Opens the container log at `path` (the runtime's `log_path`, or a symlink to it such
    /// as the legacy `/var/log/containers` one) and its rotated files, and finds where
    /// `options` start. Fails when no file of the log exists or one cannot be read.
    pub async fn open(path: impl AsRef<Path>, options: LogOptions) -> Result<LogReader> {
        let path = path.as_ref().to_path_buf();
        let opened = path.clone();
        let cursor = tokio::task::spawn_blocking(move || LogCursor::open(&opened, &options))
            .await
            .map_err(|e| join_error(&path, e))??;
        Ok(LogReader {
            malformed: cursor.malformed(),
            path: cursor.path().to_path_buf(),
            cursor: Arc::new(Mutex::new(cursor)),
            queue: VecDeque::new(),
            container: None,
            watch: None,
            finished: false,
        })
    }

    /// While following, each time the reader has caught up with the log it asks `runtime`
    /// (`ContainerStatus`) whether the container `container_id` still runs; once it does
    /// not, the reader reads what is left and ends (the kubelet's `waitLogs`). A runtime
    /// that is unavailable counts as running, as in the kubelet. Without this, following
    /// goes on until the reader is dropped.
    pub fn until_container_exits(
        mut self,
        runtime: Arc<dyn RuntimeService>,
        container_id: impl Into<String>,
    ) -> LogReader {
        self.container = Some((runtime, container_id.into()));
        self
    }

    /// The log's path, symlinks resolved.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many malformed records were skipped so far.
    pub fn malformed_lines(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// The next line, or `None` at the end: the end of the log without `follow`, the
    /// container's exit with [`until_container_exits`](Self::until_container_exits), or a
    /// limit reached (`tail_lines` without `follow`, `limit_bytes`).
    ///
    /// Not cancel safe: a call dropped before it completes may lose the lines it read. In
    /// a `select!`, poll [`into_stream`](Self::into_stream) instead.
    pub async fn next_line(&mut self) -> Result<Option<LogLine>> {
        loop {
            if let Some(line) = self.queue.pop_front() {
                return Ok(Some(line));
            }
            if self.finished {
                return Ok(None);
            }
            let (progress, lines) = self
                .blocking(|cursor| {
                    let progress = cursor.read(BATCH_LINES)?;
                    Ok((progress, cursor.output().drain(..).collect::<Vec<_>>()))
                })
                .await?;
            self.queue.extend(lines);
            match progress {
                Progress::More => {}
                Progress::Done => self.finished = true,
                Progress::CaughtUp => self.wait().await?,
            }
        }
    }

    /// The lines as a stream, which ends after the first error. Polling the stream is
    /// cancel safe: a `next()` dropped in a `select!` loses nothing.
    pub fn into_stream(self) -> impl Stream<Item = Result<LogLine>> + Send + 'static {
        futures::stream::unfold(Some(self), |reader| async move {
            let mut reader = reader?;
            match reader.next_line().await {
                Ok(Some(line)) => Some((Ok(line), Some(reader))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// Caught up with a followed log: ends following if the container exited, else waits
    /// for the log to change.
    async fn wait(&mut self) -> Result<()> {
        let Some(watch) = &mut self.watch else {
            // Read once more after the watch starts: a write just before it is not reported.
            let dir = self.path.parent().unwrap_or(Path::new("."));
            self.watch = Some(Watch::new(dir));
            return Ok(());
        };
        if let Some((runtime, id)) = &self.container
            && !container_running(runtime.as_ref(), id).await?
        {
            self.blocking(|cursor| {
                cursor.stop_following();
                Ok(())
            })
            .await?;
            return Ok(());
        }
        watch.changed().await;
        Ok(())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut LogCursor) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let cursor = self.cursor.clone();
        tokio::task::spawn_blocking(move || {
            let mut cursor = cursor.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut cursor)
        })
        .await
        .map_err(|e| join_error(&self.path, e))?
    }
}

/// Whether the runtime says the container runs (the kubelet's `isContainerRunning`).
async fn container_running(runtime: &dyn RuntimeService, container_id: &str) -> Result<bool> {
    let container = || {
        Box::new(ContainerRef {
            container_id: container_id.to_string(),
            ..ContainerRef::default()
        })
    };
    let reply = runtime
        .container_status(v1::ContainerStatusRequest {
            container_id: container_id.to_string(),
            verbose: false,
        })
        .await;
    match reply {
        Ok(reply) => match reply.status {
            Some(status) => Ok(status.state == v1::ContainerState::ContainerRunning as i32),
            None => Err(Error::MissingStatus {
                container: container(),
            }),
        },
        // Containers keep running while their runtime is away.
        Err(e) if e.code() == Some(tonic::Code::Unavailable) => Ok(true),
        Err(source) => Err(Error::Runtime {
            container: container(),
            source,
        }),
    }
}

fn join_error(path: &Path, e: tokio::task::JoinError) -> Error {
    Error::Read {
        action: "read",
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    }
}
