//! One record of the CRI log format, as the runtime writes it and the kubelet's
//! `parseCRILog` reads it (`k8s.io/cri-client/pkg/logs`):
//!
//! ```text
//! 2016-10-06T00:17:09.669794202Z stdout P log content 1
//! 2016-10-06T00:17:09.669794203Z stderr F log content 2
//! ```
//!
//! A timestamp (RFC 3339 with nanoseconds, in whatever offset the runtime's clock had), the
//! stream, a tag whose first `:`-separated part is `P` for a partial record (the runtime
//! split a long line; the rest follows in the next records of the stream) or anything else,
//! `F` in practice, for the record that ends a line, then the content up to the newline.

use std::fmt;

use jiff::Timestamp;
use jiff::tz::Offset;

/// One of a container's two output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    /// The container's standard output.
    Stdout,
    /// The container's standard error.
    Stderr,
}

impl LogStream {
    /// The name the CRI log format uses: `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }

    /// 0 for stdout, 1 for stderr: the index of per-stream state.
    pub(crate) fn index(self) -> usize {
        match self {
            LogStream::Stdout => 0,
            LogStream::Stderr => 1,
        }
    }
}

impl fmt::Display for LogStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The front of a record: what comes before its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    /// When the runtime received the bytes.
    pub timestamp: Timestamp,
    /// The UTC offset the timestamp was written with (containerd writes local time).
    pub offset: Offset,
    /// The stream.
    pub stream: LogStream,
    /// Whether the tag is `P`: the line goes on in the next record of this stream.
    pub partial: bool,
}

/// Splits a record (without its newline) into its header and its content, as the kubelet's
/// `parseCRILog` does: the timestamp up to the first space, the stream up to the next one
/// (only `stdout` and `stderr`), the tag up to the next one; the content is everything
/// after it. The error says which part is missing or wrong.
pub(crate) fn parse_record(record: &[u8]) -> Result<(RecordHeader, &[u8]), &'static str> {
    let (time, rest) = split_field(record).ok_or("timestamp is not found")?;
    let (timestamp, offset) = parse_timestamp(time).ok_or("unexpected timestamp format")?;
    let (stream, rest) = split_field(rest).ok_or("stream type is not found")?;
    let stream = match stream {
        b"stdout" => LogStream::Stdout,
        b"stderr" => LogStream::Stderr,
        _ => return Err("unexpected stream type"),
    };
    let (tag, content) = split_field(rest).ok_or("log tag is not found")?;
    // Forward compatible, as the kubelet: only the first part of `P:...` matters.
    let partial = tag.split(|&b| b == b':').next() == Some(b"P");
    Ok((
        RecordHeader {
            timestamp,
            offset,
            stream,
            partial,
        },
        content,
    ))
}

/// The bytes before the first space, and those after it.
fn split_field(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = bytes.iter().position(|&b| b == b' ')?;
    Some((&bytes[..space], &bytes[space + 1..]))
}

/// An RFC 3339 timestamp with a time of day and an offset (`Z` or `±hh:mm`), with up to
/// nine fractional digits (Go's `RFC3339Nano` layout, which the kubelet parses with).
fn parse_timestamp(text: &[u8]) -> Option<(Timestamp, Offset)> {
    let pieces = jiff::fmt::temporal::Pieces::parse(text).ok()?;
    let time = pieces.time()?;
    let offset = pieces.offset()?.to_numeric_offset();
    if pieces.time_zone_annotation().is_some() {
        return None;
    }
    let timestamp = offset.to_timestamp(pieces.date().to_datetime(time)).ok()?;
    Some((timestamp, offset))
}

/// The length of [`write_timestamp`]'s output for a UTC timestamp, the usual case.
pub(crate) const TIMESTAMP_LEN: usize = "2006-01-02T15:04:05.000000000Z".len();

/// Appends `timestamp` as the kubelet prints it with `timestamps=true`: Go's fixed-width
/// `RFC3339NanoFixed` (`2006-01-02T15:04:05.000000000Z07:00`), always nine fractional
/// digits, in the offset the runtime wrote (`Z` for UTC).
pub(crate) fn write_timestamp(out: &mut Vec<u8>, timestamp: Timestamp, offset: Offset) {
    use std::io::Write;
    let dt = offset.to_datetime(timestamp);
    // Writing to a Vec cannot fail.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn records_split_like_parse_cri_log() {
        let (h, content) =
            parse_record(b"2016-10-06T00:17:09.669794202Z stdout P log content 1").unwrap();
        assert_eq!(h.timestamp, ts("2016-10-06T00:17:09.669794202Z"));
        assert_eq!(h.offset, Offset::UTC);
        assert_eq!((h.stream, h.partial), (LogStream::Stdout, true));
        assert_eq!(content, b"log content 1");

        let (h, content) = parse_record(b"2016-10-06T00:17:09Z stderr F ").unwrap();
        assert_eq!(
            (h.stream, h.partial, content),
            (LogStream::Stderr, false, &b""[..])
        );

        // Only the tag's first part counts.
        let (h, _) = parse_record(b"2016-10-06T00:17:09Z stdout P:x y").unwrap();
        assert!(h.partial);
        let (h, _) = parse_record(b"2016-10-06T00:17:09Z stdout F:P y").unwrap();
        assert!(!h.partial);

        // A local offset is kept.
        let (h, _) = parse_record(b"2024-03-01T10:00:00.5+02:00 stdout F x").unwrap();
        assert_eq!(h.timestamp, ts("2024-03-01T08:00:00.5Z"));
        assert_eq!(h.offset, Offset::constant(2));
    }

    #[test]
    fn malformed_records_say_what_is_wrong() {
        for (record, why) in [
            (&b"no-space-at-all"[..], "timestamp is not found"),
            (b"yesterday stdout F x", "unexpected timestamp format"),
            (b"2016-10-06 stdout F x", "unexpected timestamp format"),
            (
                b"2016-10-06T00:17:09 stdout F x",
                "unexpected timestamp format",
            ),
            (b"2016-10-06T00:17:09Z stdout", "stream type is not found"),
            (b"2016-10-06T00:17:09Z stdin F x", "unexpected stream type"),
            (b"2016-10-06T00:17:09Z stdout F", "log tag is not found"),
            (
                b"{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"2016-10-20T18:39:20Z\"}",
                "timestamp is not found",
            ),
        ] {
            assert_eq!(parse_record(record).unwrap_err(), why, "{record:?}");
        }
    }

    #[test]
    fn timestamps_print_with_nine_digits_and_the_written_offset() {
        let mut out = Vec::new();
        write_timestamp(&mut out, ts("2016-10-06T00:17:09.1Z"), Offset::UTC);
        assert_eq!(out, b"2016-10-06T00:17:09.100000000Z");
        assert_eq!(out.len(), TIMESTAMP_LEN);
        out.clear();
        let minus = Offset::from_seconds(-(5 * 3600 + 30 * 60)).unwrap();
        write_timestamp(&mut out, ts("2016-10-06T05:30:00Z"), minus);
        assert_eq!(out, b"2016-10-06T00:00:00.000000000-05:30");
    }
}
