//! The reading engine, blocking and synchronous: [`LogReader`](super::LogReader) runs it on
//! tokio's blocking pool a batch at a time, and [`last_log_lines`](super::last_log_lines)
//! runs it directly.
//!
//! The engine goes through a container log's files in order (rotated ones, oldest first,
//! then the live one) as one stream of records, joins each stream's partial records into
//! lines, and turns the lines `kubectl logs` asked for into output.

use std::collections::VecDeque;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use jiff::tz::Offset;

use super::files::{Chunk, FileId, LogFile, read_chunk, read_error};
use super::format::{RecordHeader, TIMESTAMP_LEN, parse_record, write_timestamp};
use super::tail::{Pos, TailStart, find_tail};
use super::{LogLine, LogOptions, LogStream};
use crate::files::all_logs;
use crate::{Error, Result};

/// The longest piece of a line held in memory: a longer line (only possible when the
/// runtime split it into partial records) is output in pieces of about this size, the way
/// the kubelet outputs each record as it comes.
pub(crate) const MAX_LINE: usize = 1024 * 1024;

/// How many bytes one [`LogCursor::read`] call reads at most, so that a batch of lines
/// that are all filtered out (`since_time`) still returns in bounded time.
const BATCH_BYTES: u64 = 1024 * 1024;

/// How far a [`LogCursor::read`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// It read what it could this time; call again.
    More,
    /// Following: every file is read to its end; wait for the live log to grow (or be
    /// replaced by a rotation), then call again.
    CaughtUp,
    /// Nothing more will come.
    Done,
}

/// A line being assembled from partial records.
#[derive(Debug)]
struct PendingLine {
    /// Its first record's timestamp, and the offset it was written with.
    timestamp: Timestamp,
    offset: Offset,
    /// Where its first record starts.
    start: Pos,
    /// Where its latest record starts.
    last: Pos,
    /// Content not yet output.
    content: Vec<u8>,
    /// Whether a piece of it was output already (the timestamp prefix went with it).
    shown: bool,
}

/// The file being read.
struct Source {
    path: PathBuf,
    index: usize,
    offset: u64,
    reader: Box<dyn BufRead + Send>,
    /// Set on the file that is the live log (the file at the log's path) while it is.
    live: Option<FileId>,
}

/// The reading engine over one container log.
pub(crate) struct LogCursor {
    live: PathBuf,
    options: LogOptions,
    /// Files to read after the current one.
    queued: VecDeque<(usize, LogFile, bool)>,
    current: Option<Source>,
    next_index: usize,
    /// The record being read: all of it, or once `header` is set, its next piece of
    /// content.
    record: Vec<u8>,
    record_start: Pos,
    /// The header of a record too long to hold whole, once its first piece was read.
    header: Option<RecordHeader>,
    /// A malformed record too long to hold whole: the rest of it is skipped.
    skipping: bool,
    lines: [Option<PendingLine>; 2],
    /// Which lines `tail_lines` shows.
    tail: TailStart,
    remaining_lines: Option<u64>,
    remaining_bytes: Option<u64>,
    output: VecDeque<LogLine>,
    malformed: Arc<AtomicU64>,
    done: bool,
}

impl std::fmt::Debug for LogCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogCursor")
            .field("live", &self.live)
            .field("options", &self.options)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl LogCursor {
    /// Opens the log at `path` (a symlink, such as the legacy `/var/log/containers` one, is
    /// resolved first, as the kubelet does) and its rotated files, and finds where
    /// `options` start reading. It fails when no file of the log exists.
    pub(crate) fn open(path: &Path, options: &LogOptions) -> Result<LogCursor> {
        let live = match std::fs::canonicalize(path) {
            Ok(resolved) => resolved,
            Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_path_buf(),
            Err(source) => {
                return Err(Error::Read {
                    action: "resolve the log path",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let names = all_logs(&live).map_err(read_error("list the files of the log", &live))?;
        let mut files = Vec::new();
        let mut live_id = None;
        for name in &names {
            let is_live = name == &live;
            if let Some(file) = LogFile::open(name, !is_live)? {
                if is_live {
                    live_id = Some(file.id);
                }
                files.push(file);
            }
        }
        if files.is_empty() {
            return Err(Error::Read {
                action: "open the log file",
                path: live,
                source: io::ErrorKind::NotFound.into(),
            });
        }
        let tail = match options.tail_lines {
            Some(lines) => find_tail(&files, lines, options.streams)
                .map_err(read_error("find the tail of", &live))?,
            None => TailStart::all(),
        };
        let mut skip_before = tail.from.file;
        if let (Some(since), None) = (options.since_time, options.tail_lines) {
            // A rotated file last written before `since` holds nothing to show.
            while skip_before + 1 < files.len() && written_before(&files[skip_before], since) {
                skip_before += 1;
            }
        }
        let next_index = files.len();
        let queued = files
            .into_iter()
            .enumerate()
            .skip(skip_before)
            .map(|(index, file)| {
                let is_live = Some(file.id) == live_id && index + 1 == next_index;
                (index, file, is_live)
            })
            .collect();
        let mut cursor = LogCursor {
            live,
            options: options.clone(),
            queued,
            current: None,
            next_index,
            record: Vec::new(),
            record_start: Pos::default(),
            header: None,
            skipping: false,
            lines: [None, None],
            tail,
            remaining_lines: options.tail_lines.filter(|_| !options.follow),
            remaining_bytes: options.limit_bytes,
            output: VecDeque::new(),
            malformed: Arc::new(AtomicU64::new(0)),
            done: options.limit_bytes == Some(0)
                || (options.tail_lines == Some(0) && !options.follow),
        };
        if tail.from.file == skip_before {
            cursor.start_next(tail.from.offset)?;
        }
        Ok(cursor)
    }

    /// The count of malformed records skipped, shared with the reader.
    pub(crate) fn malformed(&self) -> Arc<AtomicU64> {
        self.malformed.clone()
    }

    /// The lines read so far and not yet taken.
    pub(crate) fn output(&mut self) -> &mut VecDeque<LogLine> {
        &mut self.output
    }

    /// The log's path.
    pub(crate) fn path(&self) -> &Path {
        &self.live
    }

    /// Reads until `max_lines` lines are waiting in [`output`](Self::output), the data
    /// ends, or about 1 MiB was read.
    pub(crate) fn read(&mut self, max_lines: usize) -> Result<Progress> {
        let mut budget = BATCH_BYTES;
        loop {
            if self.done {
                return Ok(Progress::Done);
            }
            if self.output.len() >= max_lines || budget == 0 {
                return Ok(Progress::More);
            }
            let Some(source) = &mut self.current else {
                if !self.queued.is_empty() {
                    self.start_next(0)?;
                    continue;
                }
                if self.options.follow {
                    // The live log is missing (a rotation between its rename and the
                    // runtime's reopen): see whether it is back.
                    if self.queue_new_live()? {
                        continue;
                    }
                    return Ok(Progress::CaughtUp);
                }
                self.finish();
                return Ok(Progress::Done);
            };
            if self.record.is_empty() && self.header.is_none() && !self.skipping {
                self.record_start = Pos {
                    file: source.index,
                    offset: source.offset,
                };
            }
            let (chunk, n) = read_chunk(&mut *source.reader, &mut self.record)
                .map_err(read_error("read", &source.path))?;
            source.offset += n;
            budget = budget.saturating_sub(n.max(1));
            match chunk {
                Chunk::Newline => self.end_record(true),
                Chunk::Full => self.record_piece(),
                Chunk::Eof => {
                    let live = source.live;
                    if let Some(id) = live
                        && self.options.follow
                    {
                        // A newer live log means a rotation: this file, renamed, gets no
                        // more writes, and the next read finishes it.
                        if self.queue_replaced_live(id)? {
                            continue;
                        }
                        return Ok(Progress::CaughtUp);
                    }
                    if self.has_record() {
                        self.end_record(false);
                    }
                    self.current = None;
                }
            }
        }
    }

    /// The container is gone: the next reads read what is left, then end (partial records
    /// at the end become the last lines).
    pub(crate) fn stop_following(&mut self) {
        self.options.follow = false;
    }

    fn has_record(&self) -> bool {
        !self.record.is_empty() || self.header.is_some() || self.skipping
    }

    /// Starts reading the next queued file at `offset`.
    fn start_next(&mut self, offset: u64) -> Result<()> {
        let Some((index, file, is_live)) = self.queued.pop_front() else {
            return Ok(());
        };
        let path = file.path.clone();
        let id = file.id;
        let reader = file
            .into_reader(offset)
            .map_err(read_error("read", &path))?;
        self.current = Some(Source {
            path,
            index,
            offset,
            reader,
            live: is_live.then_some(id),
        });
        Ok(())
    }

    /// Queues the live log when it exists and is not `current`; returns whether it did.
    fn queue_new_live(&mut self) -> Result<bool> {
        let Some(file) = LogFile::open(&self.live, false)? else {
            return Ok(false);
        };
        let index = self.next_index;
        self.next_index += 1;
        self.queued.push_back((index, file, true));
        Ok(true)
    }

    /// Whether the file at the log's path is no longer `current_id`; if so it is queued and
    /// the current file stops being the live one.
    fn queue_replaced_live(&mut self, current_id: FileId) -> Result<bool> {
        let id = match std::fs::metadata(&self.live) {
            Ok(metadata) => FileId::of(&metadata),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(source) => {
                return Err(Error::Read {
                    action: "stat the log file",
                    path: self.live.clone(),
                    source,
                });
            }
        };
        if id == current_id || !self.queue_new_live()? {
            return Ok(false);
        }
        if let Some(source) = &mut self.current {
            source.live = None;
        }
        Ok(true)
    }

    /// A whole record was read (`terminated`: with its newline).
    fn end_record(&mut self, terminated: bool) {
        let record = std::mem::take(&mut self.record);
        if self.skipping {
            self.skipping = false;
        } else if let Some(header) = self.header.take() {
            self.add_content(header, &record, true, terminated);
        } else {
            match parse_record(&record) {
                Ok((header, content)) => self.add_content(header, content, true, terminated),
                Err(why) => self.skip_malformed(why, &record),
            }
        }
        self.record = record;
        self.record.clear();
    }

    /// A record longer than the buffer: its content goes on as a piece of its line.
    fn record_piece(&mut self) {
        let record = std::mem::take(&mut self.record);
        if self.skipping {
            // The rest of a malformed record.
        } else if let Some(header) = self.header {
            self.add_content(header, &record, false, false);
        } else {
            match parse_record(&record) {
                Ok((header, content)) => {
                    self.header = Some(header);
                    self.add_content(header, content, false, false);
                }
                Err(why) => {
                    self.skip_malformed(why, &record);
                    self.skipping = true;
                }
            }
        }
        self.record = record;
        self.record.clear();
    }

    /// The kubelet logs and skips a line it cannot parse; so does the reader, and counts it.
    fn skip_malformed(&mut self, why: &str, record: &[u8]) {
        let count = self.malformed.fetch_add(1, Ordering::Relaxed) + 1;
        let shown = &record[..record.len().min(200)];
        if count == 1 {
            tracing::warn!(path = %self.live.display(), line = %String::from_utf8_lossy(shown), "skipping a malformed line of a container log: {why}");
        } else {
            tracing::debug!(path = %self.live.display(), line = %String::from_utf8_lossy(shown), "skipping a malformed line of a container log: {why}");
        }
    }

    /// Content of one record of `header`'s stream; `ends_record`: the record's last piece.
    fn add_content(
        &mut self,
        header: RecordHeader,
        content: &[u8],
        ends_record: bool,
        terminated: bool,
    ) {
        if !self.options.streams.contains(header.stream) {
            return;
        }
        let s = header.stream.index();
        let at = self.record_start;
        let line = self.lines[s].get_or_insert_with(|| PendingLine {
            timestamp: header.timestamp,
            offset: header.offset,
            start: at,
            last: at,
            content: Vec::new(),
            shown: false,
        });
        line.last = at;
        line.content.extend_from_slice(content);
        if ends_record && !header.partial {
            if terminated {
                line.content.push(b'\n');
            }
            if let Some(line) = self.lines[s].take() {
                self.emit(header.stream, line, true);
            }
        } else if line.content.len() >= MAX_LINE {
            let piece = PendingLine {
                content: std::mem::take(&mut line.content),
                ..*line
            };
            line.shown = true;
            self.emit(header.stream, piece, false);
        }
    }

    /// The end of the data: a record without its newline and partial records no full
    /// record ended are the last lines, as the kubelet writes them out, in the order of
    /// their last records. An unfinished line is a line even when its records hold no
    /// content (`tail_lines` counts it, and `timestamps` shows when it was written); only
    /// the empty rest of a long line already shown in pieces is dropped.
    fn finish(&mut self) {
        if self.has_record() {
            self.end_record(false);
        }
        let mut pending: Vec<(LogStream, PendingLine)> = [LogStream::Stdout, LogStream::Stderr]
            .into_iter()
            .filter_map(|stream| self.lines[stream.index()].take().map(|l| (stream, l)))
            .collect();
        pending.sort_by_key(|(_, line)| line.last);
        for (stream, line) in pending {
            if !line.content.is_empty() || !line.shown {
                self.emit(stream, line, true);
            }
        }
        self.done = true;
    }

    /// Applies the options to a line (`complete`) or a piece of a long one, and queues
    /// its output.
    fn emit(&mut self, stream: LogStream, line: PendingLine, complete: bool) {
        if self.done || !self.tail.shows(stream.index(), line.start) {
            return;
        }
        if complete && let Some(remaining) = &mut self.remaining_lines {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                self.done = true;
            }
        }
        if self
            .options
            .since_time
            .is_some_and(|since| line.timestamp < since)
        {
            return;
        }
        let mut output = Vec::new();
        if self.options.timestamps && !line.shown {
            output.reserve(TIMESTAMP_LEN + 1 + line.content.len());
            write_timestamp(&mut output, line.timestamp, line.offset);
            output.push(b' ');
        }
        if output.is_empty() {
            output = line.content;
        } else {
            output.extend_from_slice(&line.content);
        }
        if let Some(remaining) = &mut self.remaining_bytes {
            if output.len() as u64 >= *remaining {
                output.truncate(*remaining as usize);
                self.done = true;
            }
            *remaining -= output.len() as u64;
        }
        self.output.push_back(LogLine {
            timestamp: line.timestamp,
            offset: line.offset,
            stream,
            output,
        });
    }
}

/// Whether `file` was last modified before `since`: every line in it is older (the runtime
/// stamps a line before writing it).
fn written_before(file: &LogFile, since: Timestamp) -> bool {
    let modified = file.file.metadata().and_then(|m| m.modified());
    match modified.map(Timestamp::try_from) {
        Ok(Ok(modified)) => modified < since,
        _ => false,
    }
}
