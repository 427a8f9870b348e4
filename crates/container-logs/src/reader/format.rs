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

/// The front of a CRI log record: what comes before its content ([`parse_record`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// When the runtime received the bytes.
    pub timestamp: Timestamp,
    /// The UTC offset the timestamp was written with (containerd writes local time).
    pub offset: Offset,
    /// The stream.
    pub stream: LogStream,
    /// Whether the tag is `P`: the line goes on in the next record of this stream.
    pub partial: bool,
}

/// Splits one record of the CRI log format (a line of a container log, without its
/// newline) into its header and its content, as the kubelet's `parseCRILog` does: the
/// timestamp up to the first space, the stream up to the next one (only `stdout` and
/// `stderr`), the tag up to the next one; the content is everything after it, as bytes
/// (a container may write anything). The error says which part is missing or wrong, in
/// the kubelet's words (`unexpected stream type`).
///
/// [`LogReader`](super::LogReader) reads whole logs with it; this is the record parser alone,
/// for an embedder that reads the files its own way.
///
/// ```
/// use container_logs::{LogStream, parse_record};
///
/// let (header, content) =
///     parse_record(b"2016-10-06T00:17:09.669794202Z stdout P log content 1").unwrap();
/// assert_eq!(header.stream, LogStream::Stdout);
/// assert!(header.partial);
/// assert_eq!(header.timestamp.to_string(), "2016-10-06T00:17:09.669794202Z");
/// assert_eq!(content, b"log content 1");
/// assert_eq!(parse_record(b"2016-10-06T00:17:09Z stdin F x").unwrap_err(), "unexpected stream type");
/// ```
pub fn parse_record(record: &[u8]) -> Result<(RecordHeader, &[u8]), &'static str> {
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

/// An RFC 3339 timestamp as the kubelet reads one with Go's `time.Parse(time.RFC3339Nano,
/// ...)`: `YYYY-MM-DDThh:mm:ss`, an optional fraction of any length (`.` or `,`, read to
/// the nanosecond), then `Z` or a `±hh:mm` offset, every number in range. Nothing else:
/// not a lowercase `t` or `z`, a space, an offset with seconds, a year of other than four
/// digits, which a more lenient ISO 8601 reader would take. The kubelet skips such a record
/// as malformed, and an offset with seconds could not be printed back
/// ([`write_timestamp`] writes `±hh:mm`, as Go does).
fn parse_timestamp(text: &[u8]) -> Option<(Timestamp, Offset)> {
    /// A run of ASCII digits as a number within `range`.
    fn number(digits: &[u8], range: std::ops::RangeInclusive<i32>) -> Option<i32> {
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = digits
            .iter()
            .fold(0i32, |n, digit| n * 10 + i32::from(digit - b'0'));
        range.contains(&n).then_some(n)
    }
    const DATE_TIME: usize = "2006-01-02T15:04:05".len();
    if text.len() <= DATE_TIME {
        return None;
    }
    let (head, mut rest) = text.split_at(DATE_TIME);
    if head[4] != b'-'
        || head[7] != b'-'
        || head[10] != b'T'
        || head[13] != b':'
        || head[16] != b':'
    {
        return None;
    }
    let year = number(&head[0..4], 0..=9999)?;
    let month = number(&head[5..7], 1..=12)?;
    let day = number(&head[8..10], 1..=31)?;
    let hour = number(&head[11..13], 0..=23)?;
    let minute = number(&head[14..16], 0..=59)?;
    let second = number(&head[17..19], 0..=59)?;
    let mut nanos = 0;
    if let [b'.' | b',', first, ..] = rest
        && first.is_ascii_digit()
    {
        let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        // Go reads nine digits and drops the rest.
        for position in 0..9 {
            let digit = rest.get(1 + position).filter(|_| position < digits);
            nanos = nanos * 10 + digit.map_or(0, |d| i32::from(d - b'0'));
        }
        rest = &rest[1 + digits..];
    }
    let offset_seconds = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = number(&[*h1, *h2], 0..=23)?;
            let minutes = number(&[*m1, *m2], 0..=59)?;
            let seconds = (hours * 60 + minutes) * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let offset = Offset::from_seconds(offset_seconds).ok()?;
    // The numbers are in range, so the narrowing casts are exact; the day is checked
    // against the month here.
    let date = jiff::civil::Date::new(year as i16, month as i8, day as i8).ok()?;
    let time = jiff::civil::Time::new(hour as i8, minute as i8, second as i8, nanos).ok()?;
    let timestamp = offset.to_timestamp(date.to_datetime(time)).ok()?;
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

    /// Found by the `cri_log` fuzz target: a timestamp with an offset in seconds
    /// (`-07:05:30`, which jiff's ISO 8601 reader takes and Go's RFC 3339 refuses) was
    /// accepted, and its `timestamps` prefix printed a time 30 seconds off (`-07:05`).
    #[test]
    fn timestamps_are_rfc_3339_as_go_reads_them() {
        for (text, expected) in [
            ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z"),
            ("2024-03-01T10:00:00.5+02:00", "2024-03-01T08:00:00.5Z"),
            ("2024-03-01T10:00:00,25-01:30", "2024-03-01T11:30:00.25Z"),
            // Go reads nine digits of a longer fraction.
            (
                "2024-03-01T10:00:00.1234567899Z",
                "2024-03-01T10:00:00.123456789Z",
            ),
            ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
        ] {
            let (timestamp, _) =
                parse_timestamp(text.as_bytes()).unwrap_or_else(|| panic!("{text} is refused"));
            assert_eq!(timestamp, ts(expected), "{text}");
        }
        for text in [
            "2024-03-01T08:00:01-07:05:30",
            "2024-03-01t10:00:00Z",
            "2024-03-01T10:00:00z",
            "2024-03-01T10:00Z",
            "2024-03-01T10:00:00",
            "2024-03-01T10:00:00.Z",
            "2024-03-01T10:00:00+0200",
            "2024-03-01T10:00:00+24:00",
            "2024-03-01T24:00:00Z",
            "2024-03-01T10:00:60Z",
            "2024-02-30T10:00:00Z",
            "+002024-03-01T10:00:00Z",
            "20240301T100000Z",
            "2024-03-01T10:00:00Z[UTC]",
            "2024-03-01T10:00:00+02:00[Europe/Paris]",
            "2O24-03-01T10:00:00Z",
        ] {
            assert_eq!(parse_timestamp(text.as_bytes()), None, "{text} is accepted");
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
