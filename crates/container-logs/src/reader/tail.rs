//! Where `tail_lines` starts reading: the last N lines of a container's log, across its
//! rotated and compressed files (the kubelet's `findTailLineStartIndex`, which only looks
//! at the live file).
//!
//! Lines are what the container wrote: partial records of one stream count as one line with
//! the record that ends them, and lines of the two streams interleave. The last N lines are
//! the last N the reader outputs: those whose last records come last, and after every line
//! that ended, the lines the container left unfinished at the end of the log (the reader
//! can only output those once it has reached the end). So the tail is always the end of
//! what a read of everything gives. One exception, so that a tail never reads more than
//! the files its lines are in: a line left unfinished in a rotated file, whose stream wrote
//! nothing to the live log after it, is left out when the log has the N lines without it
//! (finding it could take reading every rotated file). When the log has fewer, every file
//! was read to look for them, so such lines count like any other and the tail is exactly
//! the last N lines of a read of everything.
//!
//! Because the lines of one stream follow each other without overlapping, "line L is among
//! the last N" is the same as "L starts at or after the start of the earliest of the last
//! N lines of its stream", which can be decided as soon as a line's first record is read,
//! so the reader can show a very long line in pieces and still apply the tail. A line the
//! tail leaves out after that start (a line left unfinished in a rotated file, or the first
//! line of a log that such lines make one line longer than N; at most one per stream) is
//! named by where it starts.
//!
//! Each file is scanned forward from a window at its end (plain files) or from its start
//! (gzip files, which cannot seek), remembering only the last N lines; the window grows
//! until it holds them, then older files are scanned for what is still missing. In the live
//! file the window also grows until it holds a record of each stream shown, or the whole
//! file: a stream whose last record comes before the window may have left a line
//! unfinished there, and that line is among the last N however many lines follow it.

use std::collections::VecDeque;
use std::io::{self, BufRead, Seek, SeekFrom};

use super::LogStreams;
use super::files::{Chunk, LogFile, read_chunk};
use super::format::{LogStream, parse_record};

/// The first window at the end of a plain file; it grows four times each time it holds too
/// few lines.
const FIRST_WINDOW: u64 = 64 * 1024;

/// A place in a container's log: the file (its index among the files opened) and the
/// offset in its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Pos {
    pub file: usize,
    pub offset: u64,
}

/// Where the tail begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TailStart {
    /// Where reading starts: the earliest of `starts`.
    pub from: Pos,
    /// Per stream (stdout, stderr): a line of that stream is shown only when it starts here
    /// or later.
    pub starts: [Pos; 2],
    /// Per stream, a line not shown although it starts after `starts`: the line left
    /// unfinished in a rotated file that the tail leaves out, or the first line of a log
    /// that has one line more than asked for once those lines count.
    pub hidden: [Option<Pos>; 2],
}

impl TailStart {
    /// Everything.
    pub(crate) fn all() -> TailStart {
        TailStart {
            from: Pos::default(),
            starts: [Pos::default(); 2],
            hidden: [None; 2],
        }
    }

    /// Whether a line of `stream` (its index) that starts at `start` is shown.
    pub(crate) fn shows(&self, stream: usize, start: Pos) -> bool {
        start >= self.starts[stream] && self.hidden[stream] != Some(start)
    }
}

/// A line found by a scan: its stream, where its first and last records start, whether its
/// first record is the first record of its stream in the scanned range (then the line may
/// have begun before the range), and whether the container left it unfinished at the end
/// of the log (then it comes after every line that ended).
#[derive(Debug, Clone, Copy)]
struct Span {
    stream: usize,
    start: u64,
    end: u64,
    first: bool,
    unfinished: bool,
}

impl Span {
    /// The order in which the reader outputs lines.
    fn order(&self) -> (bool, u64) {
        (self.unfinished, self.end)
    }
}

/// Partial records of one stream not yet ended by a full record.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    last: u64,
    first: bool,
}

/// What a scan of a range `[from, end)` of one file found.
#[derive(Debug, Default)]
struct Scan {
    from: u64,
    end: u64,
    /// The last `need` lines, ordered by their last record.
    lines: VecDeque<Span>,
    /// Per stream, the partial records at the end of the range.
    open: [Option<Run>; 2],
    /// Per stream, whether the range has any record of it.
    seen: [bool; 2],
}

/// A line left unfinished in a rotated file: where it starts (`pending` while it may have
/// begun in an older file) and where its last record is.
#[derive(Debug, Clone, Copy)]
struct Stale {
    start: Pos,
    last: Pos,
    pending: bool,
}

/// Where to start reading `files` (oldest first, the newest last) to show their last
/// `tail` lines of `streams`.
pub(crate) fn find_tail(
    files: &[LogFile],
    tail: u64,
    streams: LogStreams,
) -> io::Result<TailStart> {
    let Some(last) = files.len().checked_sub(1) else {
        return Ok(TailStart::all());
    };
    let mut need = tail;
    let selected = [LogStream::Stdout, LogStream::Stderr].map(|s| streams.contains(s));
    let mut starts: [Option<Pos>; 2] = [None; 2];
    let mut pending = [false; 2];
    let mut end = None;
    // Per stream: whether the files scanned so far have a record of it (exact while every
    // one of them was scanned whole, as they are while lines are still missing), and its
    // line left unfinished in a rotated file.
    let mut seen_later = [false; 2];
    let mut stale: [Option<Stale>; 2] = [None; 2];
    // The stream of the earliest line that ended, among the files scanned.
    let mut first_ended = None;
    for index in (0..=last).rev() {
        let mut window = FIRST_WINDOW;
        loop {
            let scan = scan(&files[index], window, need, streams, index == last)?;
            if index == last {
                end = Some(Pos {
                    file: index,
                    offset: scan.end,
                });
            }
            let mut new_starts = starts;
            let mut new_pending = [false; 2];
            for s in 0..2 {
                if !pending[s] {
                    continue;
                }
                match scan.open[s] {
                    Some(run) => {
                        new_starts[s] = Some(Pos {
                            file: index,
                            offset: run.start,
                        });
                        new_pending[s] = run.first;
                    }
                    // Nothing of that stream here: its line may have begun further back.
                    None => new_pending[s] = !scan.seen[s],
                }
            }
            // Latest first, so the earliest line of each stream decides.
            for span in scan.lines.iter().rev() {
                new_starts[span.stream] = Some(Pos {
                    file: index,
                    offset: span.start,
                });
                new_pending[span.stream] = span.first;
            }
            let new_need = need - scan.lines.len() as u64;
            // A stream the window of the live log has no record of may have left a line
            // unfinished before the window: it comes after every line that ended, so it is
            // among the last lines however many the window holds.
            let unseen = index == last && need > 0 && (0..2).any(|s| selected[s] && !scan.seen[s]);
            if scan.from > 0 && (new_need > 0 || unseen || new_pending.iter().any(|&p| p)) {
                window = window.saturating_mul(4);
                continue;
            }
            for s in 0..2 {
                let at = |offset| Pos {
                    file: index,
                    offset,
                };
                match &mut stale[s] {
                    Some(line) if line.pending => match scan.open[s] {
                        Some(run) => {
                            line.start = at(run.start);
                            line.pending = run.first;
                        }
                        None => line.pending = !scan.seen[s],
                    },
                    Some(_) => {}
                    None => {
                        // The stream's last record is here, and the line it is in did not end.
                        if index != last
                            && need > 0
                            && !seen_later[s]
                            && let Some(run) = scan.open[s]
                        {
                            stale[s] = Some(Stale {
                                start: at(run.start),
                                last: at(run.last),
                                pending: run.first,
                            });
                        }
                    }
                }
                seen_later[s] |= scan.seen[s];
            }
            if let Some(span) = scan.lines.front().filter(|span| !span.unfinished) {
                first_ended = Some(span.stream);
            }
            starts = new_starts;
            pending = new_pending;
            need = new_need;
            break;
        }
        if need == 0 && !pending.iter().any(|&p| p) {
            break;
        }
    }
    let stale_start = |s: usize| stale[s].map(|line| line.start);
    if need > 0 {
        // Every file was read whole, so the lines left unfinished in rotated files are
        // known: they count. When they make one line too many, the first line is left out.
        let stale_lines = stale.iter().flatten().count() as u64;
        if stale_lines <= need {
            return Ok(TailStart::all());
        }
        let mut hidden = [None; 2];
        match first_ended {
            Some(s) => hidden[s] = starts[s],
            None => {
                let s = if stale[0].map(|l| l.last) < stale[1].map(|l| l.last) {
                    0
                } else {
                    1
                };
                hidden[s] = stale_start(s);
            }
        }
        return Ok(TailStart {
            hidden,
            ..TailStart::all()
        });
    }
    let end = end.unwrap_or_default();
    let starts = [starts[0].unwrap_or(end), starts[1].unwrap_or(end)];
    Ok(TailStart {
        from: starts[0].min(starts[1]),
        starts,
        // The lines asked for are there without the lines left unfinished in rotated files.
        hidden: [stale_start(0), stale_start(1)],
    })
}

/// Scans `file` from the start of a record about `window` bytes before its end (plain
/// files) or from its start (gzip files) to its end, keeping the last `need` lines of
/// `streams`. With `newest`, partial records at the end count as a line: the container is
/// still writing it, or never ended it.
fn scan(
    file: &LogFile,
    window: u64,
    need: u64,
    streams: LogStreams,
    newest: bool,
) -> io::Result<Scan> {
    let len = if file.gzip {
        0
    } else {
        file.file.metadata()?.len()
    };
    let (mut reader, from): (Box<dyn BufRead + Send + '_>, u64) = if len > window {
        let mut seek = &file.file;
        seek.seek(SeekFrom::Start(len - window))?;
        let mut reader = io::BufReader::new(seek);
        let (_, skipped) = skip_record(&mut reader)?;
        (Box::new(reader), len - window + skipped)
    } else {
        (file.content()?, 0)
    };
    let mut result = Scan {
        from,
        ..Scan::default()
    };
    let mut pos = from;
    let mut record = Vec::new();
    loop {
        let start = pos;
        record.clear();
        let (mut chunk, n) = read_chunk(&mut *reader, &mut record)?;
        pos += n;
        if n == 0 {
            break;
        }
        if chunk == Chunk::Full {
            // Only the front of a long record matters here.
            let (rest, skipped) = skip_record(&mut *reader)?;
            chunk = rest;
            pos += skipped;
        }
        if let Ok((header, _)) = parse_record(&record)
            && streams.contains(header.stream)
        {
            result.add(header.stream.index(), header.partial, start, need);
        }
        if chunk == Chunk::Eof {
            break;
        }
    }
    result.end = pos;
    if newest {
        for s in 0..2 {
            if let Some(run) = result.open[s].take() {
                result.insert(
                    Span {
                        stream: s,
                        start: run.start,
                        end: run.last,
                        first: run.first,
                        unfinished: true,
                    },
                    need,
                );
            }
        }
    }
    Ok(result)
}

impl Scan {
    fn add(&mut self, stream: usize, partial: bool, start: u64, need: u64) {
        let first = !self.seen[stream];
        self.seen[stream] = true;
        if partial {
            match &mut self.open[stream] {
                Some(run) => run.last = start,
                None => {
                    self.open[stream] = Some(Run {
                        start,
                        last: start,
                        first,
                    })
                }
            }
            return;
        }
        let (line_start, line_first) = match self.open[stream].take() {
            Some(run) => (run.start, run.first),
            None => (start, first),
        };
        self.insert(
            Span {
                stream,
                start: line_start,
                end: start,
                first: line_first,
                unfinished: false,
            },
            need,
        );
    }

    /// Adds a line in output order, keeping the last `need`.
    fn insert(&mut self, span: Span, need: u64) {
        let at = self.lines.partition_point(|l| l.order() <= span.order());
        self.lines.insert(at, span);
        while self.lines.len() as u64 > need {
            self.lines.pop_front();
        }
    }
}

/// Consumes the rest of the record the reader is in (a window starts mid-record, a long
/// record goes on after its first chunk); returns how it ended and the bytes consumed.
fn skip_record(reader: &mut dyn BufRead) -> io::Result<(Chunk, u64)> {
    let mut scratch = Vec::new();
    let mut total = 0;
    loop {
        scratch.clear();
        let (chunk, n) = read_chunk(reader, &mut scratch)?;
        total += n;
        if chunk != Chunk::Full {
            return Ok((chunk, total));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &std::path::Path, name: &str, content: &str) -> LogFile {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        LogFile::open(&path, false).unwrap().unwrap()
    }

    #[test]
    fn the_last_lines_start_at_their_first_partial_record() {
        let dir = tempfile::tempdir().unwrap();
        // Each record is 32 bytes.
        let log = "2024-01-01T00:00:01Z stdout F a\n\
                   2024-01-01T00:00:02Z stdout P b\n\
                   2024-01-01T00:00:03Z stderr F c\n\
                   2024-01-01T00:00:04Z stdout F d\n";
        let file = open(dir.path(), "0.log", log);
        let record = 32;
        let tail = find_tail(std::slice::from_ref(&file), 1, LogStreams::All).unwrap();
        // The last line is stdout "bd", which starts at the second record; stderr has no
        // line in the tail, so it starts at the end.
        assert_eq!(
            tail.starts[0],
            Pos {
                file: 0,
                offset: record
            }
        );
        assert_eq!(
            tail.starts[1],
            Pos {
                file: 0,
                offset: 4 * record
            }
        );
        assert_eq!(tail.from, tail.starts[0]);
        let tail = find_tail(std::slice::from_ref(&file), 2, LogStreams::All).unwrap();
        assert_eq!(
            tail.starts[1],
            Pos {
                file: 0,
                offset: 2 * record
            }
        );
        let tail = find_tail(std::slice::from_ref(&file), 9, LogStreams::All).unwrap();
        assert_eq!(tail, TailStart::all());
    }

    /// Found by the `cri_log` fuzz target: an unfinished line at the end of the log was
    /// counted in the order of its last record, before lines of the other stream that
    /// ended after it, while the reader outputs it last; `--tail=1` then showed a line
    /// that is not the last line of the output.
    #[test]
    fn an_unfinished_line_at_the_end_is_the_last_line_of_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = "2024-01-01T00:00:01Z stdout P a\n\
                   2024-01-01T00:00:02Z stderr F b\n\
                   2024-01-01T00:00:03Z stderr F c\n";
        let file = open(dir.path(), "0.log", log);
        let record = 32;
        // The last line is the unfinished stdout "a"; stderr has no line in the tail.
        let tail = find_tail(std::slice::from_ref(&file), 1, LogStreams::All).unwrap();
        assert_eq!(
            tail.starts,
            [
                Pos { file: 0, offset: 0 },
                Pos {
                    file: 0,
                    offset: 3 * record
                }
            ]
        );
        // The last two are stderr "c", then stdout "a".
        let tail = find_tail(std::slice::from_ref(&file), 2, LogStreams::All).unwrap();
        assert_eq!(
            tail.starts,
            [
                Pos { file: 0, offset: 0 },
                Pos {
                    file: 0,
                    offset: 2 * record
                }
            ]
        );
    }

    #[test]
    fn a_line_split_by_a_rotation_starts_in_the_older_file() {
        let dir = tempfile::tempdir().unwrap();
        let old = open(
            dir.path(),
            "0.log.1",
            "2024-01-01T00:00:01Z stdout F a\n2024-01-01T00:00:02Z stdout P b\n",
        );
        let new = open(dir.path(), "0.log", "2024-01-01T00:00:03Z stdout F c\n");
        let tail = find_tail(&[old, new], 1, LogStreams::All).unwrap();
        assert_eq!(
            tail.starts[0],
            Pos {
                file: 0,
                offset: 32
            }
        );
    }

    #[test]
    fn a_small_window_grows_until_it_holds_the_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = String::new();
        for i in 0..10_000 {
            log.push_str(&format!("2024-01-01T00:00:01Z stdout F line {i:05}\n"));
        }
        let file = open(dir.path(), "0.log", &log);
        let record = "2024-01-01T00:00:01Z stdout F line 00000\n".len() as u64;
        for n in [1u64, 5000, 9999] {
            let tail = find_tail(std::slice::from_ref(&file), n, LogStreams::All).unwrap();
            assert_eq!(tail.starts[0].offset, (10_000 - n) * record, "{n}");
        }
    }
}
