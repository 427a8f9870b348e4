//! The CRI log format: the record parser ([`container_logs::parse_record`]) and the reader
//! of a whole log ([`container_logs::LogReader`]) over files made of the input.
//!
//! # Input
//!
//! Two bytes of options, then the log's content:
//!
//! - the first byte: bit 0 `timestamps`; bits 1–2 the streams (1 stdout, 2 stderr, else
//!   both); bit 3 a `tail_lines` of the second byte modulo 8; bit 4 a `limit_bytes` of 17
//!   times the second byte's upper five bits; bit 5 a rotation: the content is cut in two
//!   at a place the second byte picks, the first part a rotated file
//!   (`0.log.20240101-000000`, gzip-compressed when bit 6 is set too) and the rest the live
//!   `0.log`;
//! - in the content, `0xFF n b` (a byte no UTF-8 text holds) stands for the byte `b`
//!   repeated `(n + 1) × 256` times, so that a short input makes the long records and
//!   lines the reader splits (64 KiB records, 1 MiB lines). Real log files need no escape.
//!
//! # Properties
//!
//! - the record parser returns (no panic); an accepted record's content is the end of the
//!   record, its stream is the record's second field, it is partial exactly when its tag's
//!   first `:`-separated part is `P`, and the record written again from what was parsed
//!   parses to the same header and content;
//! - the reader returns (no panic, no hang, no error on a readable file) and gives exactly
//!   the lines of a model of the format: each stream's partial records joined with the
//!   full record that ends them (a record's header read from its first 64 KiB, as the
//!   reader documents), in the order they end, the partial lines left at the end
//!   after them (even empty), malformed records skipped, the other stream's records
//!   ignored, then the last `tail_lines` lines (the end of what a read of everything
//!   gives, with the one exception `tail_lines` documents: a line left unfinished in a
//!   rotated file whose stream has no record in the live log is left out when the log has
//!   `tail_lines` lines without it), the timestamp prefix, and the output cut at
//!   `limit_bytes`.
//!   So no line holds a byte the log does not, and no partial line is lost or split.
//!   Lines of 1 MiB or more come in pieces, so for those only each stream's output as a
//!   whole is compared.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};

use container_logs::{LogLine, LogOptions, LogReader, LogStream, LogStreams, parse_record};
use jiff::Timestamp;
use jiff::tz::Offset;

/// The escape of a repeated byte in the content.
pub const REPEAT: u8 = 0xFF;

/// The bytes one step of a repeat count stands for.
const REPEAT_UNIT: usize = 256;

/// The most content an input expands to: room for one line the reader splits.
const MAX_CONTENT: usize = MAX_LINE + MAX_LINE / 4;

/// The piece a record is read in (container-logs' `MAX_RECORD`): its header must be in
/// the first one.
const MAX_RECORD: usize = 64 * 1024;

/// The length from which the reader gives a line in pieces (container-logs' `MAX_LINE`).
const MAX_LINE: usize = 1024 * 1024;

/// The rotated file's name beside the live `0.log`.
const ROTATED: &str = "0.log.20240101-000000";

/// Checks the record parser and the log reader on `data` (see the module docs); panics
/// when a property fails.
pub fn check(data: &[u8]) {
    let [flags, param, rest @ ..] = data else {
        return;
    };
    let content = expand(rest);
    for record in content.split(|&b| b == b'\n') {
        check_record(record);
    }
    let input = Input::new(*flags, *param, content);
    let expected = model(&input);
    let actual = read(&input);
    compare(&input, &expected, &actual);
}

/// The options and files one input stands for.
#[derive(Debug)]
struct Input {
    options: LogOptions,
    /// The rotated file (and whether it is compressed), then the live one.
    rotated: Option<(Vec<u8>, bool)>,
    live: Vec<u8>,
}

impl Input {
    fn new(flags: u8, param: u8, content: Vec<u8>) -> Input {
        let streams = match (flags >> 1) & 3 {
            1 => LogStreams::Stdout,
            2 => LogStreams::Stderr,
            _ => LogStreams::All,
        };
        let options = LogOptions {
            timestamps: flags & 1 != 0,
            streams,
            tail_lines: (flags & 8 != 0).then_some(u64::from(param % 8)),
            limit_bytes: (flags & 16 != 0).then_some(u64::from(param >> 3) * 17),
            ..LogOptions::default()
        };
        let (rotated, live) = if flags & 32 != 0 {
            let cut = content.len() * usize::from(param.reverse_bits()) / 255;
            let (old, new) = content.split_at(cut);
            (Some((old.to_vec(), flags & 64 != 0)), new.to_vec())
        } else {
            (None, content)
        };
        Input {
            options,
            rotated,
            live,
        }
    }

    /// The files in reading order.
    fn files(&self) -> Vec<&[u8]> {
        let mut files = Vec::new();
        if let Some((rotated, _)) = &self.rotated {
            files.push(rotated.as_slice());
        }
        files.push(self.live.as_slice());
        files
    }
}

/// The content with every `0xFF n b` repeat expanded, at most [`MAX_CONTENT`] bytes.
fn expand(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() && out.len() < MAX_CONTENT {
        match data[i..] {
            [REPEAT, count, byte, ..] => {
                let n = (usize::from(count) + 1) * REPEAT_UNIT;
                let n = n.min(MAX_CONTENT - out.len());
                out.resize(out.len() + n, byte);
                i += 3;
            }
            _ => {
                out.push(data[i]);
                i += 1;
            }
        }
    }
    out
}

/// The properties of the record parser on one record.
fn check_record(record: &[u8]) {
    let Ok((header, content)) = parse_record(record) else {
        return;
    };
    assert!(
        record.ends_with(content),
        "the content is not the end of the record"
    );
    let head = &record[..record.len() - content.len()];
    let fields: Vec<&[u8]> = head.splitn(4, |&b| b == b' ').collect();
    assert_eq!(
        fields.len(),
        4,
        "the header is not three fields and a space"
    );
    assert_eq!(
        fields[3], b"",
        "the content does not follow the tag's space"
    );
    assert_eq!(fields[1], header.stream.as_str().as_bytes());
    let tag_is_partial = fields[2].split(|&b| b == b':').next() == Some(b"P");
    assert_eq!(
        header.partial, tag_is_partial,
        "partial flag of tag {:?}",
        fields[2]
    );
    let mut again = Vec::new();
    write_timestamp(&mut again, header.timestamp, header.offset);
    again.extend_from_slice(b" ");
    again.extend_from_slice(header.stream.as_str().as_bytes());
    again.extend_from_slice(if header.partial { b" P " } else { b" F " });
    again.extend_from_slice(content);
    match parse_record(&again) {
        Ok((header2, content2)) => {
            assert_eq!(header2, header, "{:?}", String::from_utf8_lossy(&again));
            assert_eq!(content2, content);
        }
        Err(why) => panic!(
            "the record written again does not parse ({why}): {:?}",
            String::from_utf8_lossy(&again)
        ),
    }
}

/// A timestamp as the reader prints it with `timestamps`: Go's `RFC3339NanoFixed` in the
/// offset the runtime wrote.
fn write_timestamp(out: &mut Vec<u8>, timestamp: Timestamp, offset: Offset) {
    let dt = offset.to_datetime(timestamp);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond()
    );
    let seconds = offset.seconds();
    if seconds == 0 {
        out.push(b'Z');
    } else {
        let sign = if seconds < 0 { '-' } else { '+' };
        let minutes = seconds.unsigned_abs() / 60;
        let _ = write!(out, "{sign}{:02}:{:02}", minutes / 60, minutes % 60);
    }
}

/// One line the model expects.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ModelLine {
    stream: LogStream,
    timestamp: Timestamp,
    offset: Offset,
    /// The content, with its newline when its last record had one.
    content: Vec<u8>,
}

/// A line being joined from partial records.
#[derive(Debug)]
struct Pending {
    line: ModelLine,
    /// The ordinal of its latest record.
    last: usize,
}

/// The lines the reader must give for `input`: the CRI log format read whole, record by
/// record, then the options.
fn model(input: &Input) -> Vec<ModelLine> {
    let streams = input.options.streams;
    let mut pending: [Option<Pending>; 2] = [None, None];
    let mut lines = Vec::new();
    let mut ordinal = 0;
    // Whether each stream has a record in the live log (the last file).
    let mut in_live = [false; 2];
    let files = input.files();
    let last_file = files.len() - 1;
    for (index, file) in files.into_iter().enumerate() {
        let mut records: Vec<&[u8]> = file.split(|&b| b == b'\n').collect();
        // After the last newline: a record without one, or nothing.
        let unterminated = records.pop().filter(|last| !last.is_empty());
        let records = records
            .into_iter()
            .map(|r| (r, true))
            .chain(unterminated.map(|r| (r, false)));
        for (record, terminated) in records {
            ordinal += 1;
            // The reader reads a record in pieces: the header must be in the first one.
            let first = &record[..record.len().min(MAX_RECORD)];
            let Ok((header, first_content)) = parse_record(first) else {
                continue;
            };
            let mut content = first_content.to_vec();
            content.extend_from_slice(&record[first.len()..]);
            if !streams.contains(header.stream) {
                continue;
            }
            if index == last_file {
                in_live[stream_index(header.stream)] = true;
            }
            let slot = &mut pending[stream_index(header.stream)];
            let pending_line = slot.get_or_insert_with(|| Pending {
                line: ModelLine {
                    stream: header.stream,
                    timestamp: header.timestamp,
                    offset: header.offset,
                    content: Vec::new(),
                },
                last: ordinal,
            });
            pending_line.last = ordinal;
            pending_line.line.content.extend_from_slice(&content);
            if !header.partial
                && let Some(Pending { mut line, .. }) = slot.take()
            {
                if terminated {
                    line.content.push(b'\n');
                }
                lines.push(line);
            }
        }
    }
    // Lines left unfinished come last, in the order of their last records, even without
    // content.
    let mut left: Vec<Pending> = pending.into_iter().flatten().collect();
    left.sort_by_key(|p| p.last);
    let ended = lines.len();
    lines.extend(left.into_iter().map(|p| p.line));
    let Some(tail) = input.options.tail_lines else {
        return lines;
    };
    // The last `tail` lines; a line left unfinished in a rotated file, whose stream wrote
    // nothing to the live log, is left out when the other lines are enough.
    let tail = usize::try_from(tail).unwrap_or(usize::MAX);
    let counted: Vec<ModelLine> = lines
        .iter()
        .enumerate()
        .filter(|(i, line)| *i < ended || in_live[stream_index(line.stream)])
        .map(|(_, line)| line.clone())
        .collect();
    let lines = if counted.len() < tail { lines } else { counted };
    lines[lines.len().saturating_sub(tail)..].to_vec()
}

fn stream_index(stream: LogStream) -> usize {
    match stream {
        LogStream::Stdout => 0,
        LogStream::Stderr => 1,
    }
}

/// What `kubectl logs` prints for a model line.
fn output(options: &LogOptions, line: &ModelLine) -> Vec<u8> {
    let mut out = Vec::new();
    if options.timestamps {
        write_timestamp(&mut out, line.timestamp, line.offset);
        out.push(b' ');
    }
    out.extend_from_slice(&line.content);
    out
}

thread_local! {
    /// The runtime and the directory of this thread's reads.
    static PLACE: RefCell<Option<(tokio::runtime::Runtime, tempfile::TempDir)>> =
        const { RefCell::new(None) };
}

/// Writes the input's files and reads them with [`LogReader`].
fn read(input: &Input) -> Vec<LogLine> {
    PLACE.with(|place| {
        let mut place = place.borrow_mut();
        let (runtime, dir) = place.get_or_insert_with(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            // Memory-backed when the machine has one: the fuzzer writes a log per input.
            let shm = Path::new("/dev/shm");
            let dir = if shm.is_dir() {
                tempfile::tempdir_in(shm)
            } else {
                tempfile::tempdir()
            }
            .expect("a temporary directory");
            (runtime, dir)
        });
        let live = write_files(dir.path(), input);
        runtime.block_on(async {
            let mut reader = LogReader::open(&live, input.options.clone())
                .await
                .unwrap_or_else(|e| panic!("cannot open the log: {e}"));
            let mut lines = Vec::new();
            while let Some(line) = reader
                .next_line()
                .await
                .unwrap_or_else(|e| panic!("cannot read the log: {e}"))
            {
                lines.push(line);
            }
            lines
        })
    })
}

/// Writes the rotated file (if any) and the live log into `dir`; returns the live log's
/// path.
fn write_files(dir: &Path, input: &Input) -> PathBuf {
    let live = dir.join("0.log");
    let plain = dir.join(ROTATED);
    let compressed = dir.join(format!("{ROTATED}.gz"));
    for path in [&plain, &compressed] {
        let _ = std::fs::remove_file(path);
    }
    if let Some((content, gzip)) = &input.rotated {
        if *gzip {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(content).expect("gzip into memory");
            let bytes = encoder.finish().expect("gzip into memory");
            std::fs::write(&compressed, bytes).expect("write the rotated log");
        } else {
            std::fs::write(&plain, content).expect("write the rotated log");
        }
    }
    std::fs::write(&live, &input.live).expect("write the live log");
    live
}

/// The reader's lines against the model's.
fn compare(input: &Input, expected: &[ModelLine], actual: &[LogLine]) {
    let options = &input.options;
    let long_lines = expected.iter().any(|line| line.content.len() >= MAX_LINE);
    if !long_lines {
        let mut want = Vec::new();
        let mut remaining = options.limit_bytes;
        for line in expected {
            if remaining == Some(0) {
                break;
            }
            let mut out = output(options, line);
            if let Some(left) = &mut remaining {
                out.truncate(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= out.len() as u64;
            }
            want.push((line.stream, line.timestamp, line.offset, out));
        }
        let got: Vec<_> = actual
            .iter()
            .map(|l| (l.stream, l.timestamp, l.offset, l.output.clone()))
            .collect();
        assert_eq!(
            shown(&got),
            shown(&want),
            "the reader's lines (left) are not the model's (right)"
        );
        return;
    }
    // Long lines come in pieces, interleaved with the other stream's lines: compare each
    // stream's output as a whole.
    for stream in [LogStream::Stdout, LogStream::Stderr] {
        let want: Vec<u8> = expected
            .iter()
            .filter(|l| l.stream == stream)
            .flat_map(|l| output(options, l))
            .collect();
        let got: Vec<u8> = actual
            .iter()
            .filter(|l| l.stream == stream)
            .flat_map(|l| l.output.iter().copied())
            .collect();
        match options.limit_bytes {
            None => assert!(
                got == want,
                "{stream}: the reader's output is not the model's"
            ),
            Some(_) => assert!(
                want.starts_with(&got),
                "{stream}: the reader's output is not a prefix of the model's"
            ),
        }
    }
    if let Some(limit) = options.limit_bytes {
        let total: usize = actual.iter().map(|l| l.output.len()).sum();
        let available: usize = expected.iter().map(|l| output(options, l).len()).sum();
        assert_eq!(total as u64, limit.min(available as u64));
    }
}

/// Lines in a form whose differences read well in a failed assertion.
fn shown(lines: &[(LogStream, Timestamp, Offset, Vec<u8>)]) -> Vec<String> {
    lines
        .iter()
        .map(|(stream, timestamp, offset, out)| {
            format!(
                "{stream} {timestamp} {offset} {:?}",
                String::from_utf8_lossy(&out[..out.len().min(200)])
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_expand_and_real_logs_do_not_change() {
        assert_eq!(expand(b"a\xff\x00xb").len(), 2 + 256);
        assert_eq!(expand(b"ab\xff"), b"ab\xff");
        let log = b"2024-01-01T00:00:00Z stdout F hello\n";
        assert_eq!(expand(log), log);
    }

    #[test]
    fn the_model_joins_partial_records() {
        let mut data = vec![0, 0];
        data.extend_from_slice(
            b"2024-01-01T00:00:00Z stdout P hel\n\
              2024-01-01T00:00:01Z stderr F oops\n\
              bad\n\
              2024-01-01T00:00:02Z stdout F lo\n\
              2024-01-01T00:00:03Z stdout P end",
        );
        let input = Input::new(0, 0, expand(&data[2..]));
        let lines = model(&input);
        let contents: Vec<&[u8]> = lines.iter().map(|l| l.content.as_slice()).collect();
        assert_eq!(contents, [&b"oops\n"[..], b"hello\n", b"end"]);
        check(&data);
    }
}
