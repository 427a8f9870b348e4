//! Go's formatting, as the kubelet's messages show values: `time.Duration.String` and `%q`.
//! One definition each, for every crate whose messages must read like the kubelet's.

use std::time::Duration;

/// A duration as Go's `time.Duration.String` writes it, which is how the kubelet's messages
/// show durations: `0s`, `1.5s`, `10s`, `1m20s`, `5m0s`, `1h0m0s`, `250ms`, `1.5µs`, `42ns`.
pub fn format_go_duration(d: Duration) -> String {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    if ns < NANOS_PER_SEC {
        return if ns < 1_000 {
            format!("{ns}ns")
        } else if ns < 1_000_000 {
            format!("{}µs", decimal(ns, 3))
        } else {
            format!("{}ms", decimal(ns, 6))
        };
    }
    let secs = ns / NANOS_PER_SEC;
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&decimal(seconds * NANOS_PER_SEC + ns % NANOS_PER_SEC, 9));
    out.push('s');
    out
}

/// `value / 10^scale` in decimal, trailing zeros of the fraction dropped.
fn decimal(value: u128, scale: u32) -> String {
    let unit = 10u128.pow(scale);
    let (whole, frac) = (value / unit, value % unit);
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:0width$}", width = scale as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// A string quoted as Go's `%q` quotes it (`strconv.Quote`), which is how the kubelet's
/// messages quote image names and the downward API writes label and annotation values:
/// double quotes, with backslash escapes for quotes, backslashes and control characters.
///
/// ```
/// assert_eq!(pod_plan::go_quote("busybox"), r#""busybox""#);
/// assert_eq!(pod_plan::go_quote("a\"b\n"), r#""a\"b\n""#);
/// ```
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn go_duration_strings() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(42), "42ns"),
            (Duration::from_nanos(100), "100ns"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_micros(1_250), "1.25ms"),
            (Duration::from_micros(1_500), "1.5ms"),
            (s(1), "1s"),
            (Duration::from_millis(1_200), "1.2s"),
            (Duration::from_millis(1_500), "1.5s"),
            (s(10), "10s"),
            (s(20), "20s"),
            (s(59), "59s"),
            (s(60), "1m0s"),
            (s(80), "1m20s"),
            (s(90), "1m30s"),
            (s(160), "2m40s"),
            (s(180), "3m0s"),
            (Duration::from_millis(180_001), "3m0.001s"),
            (s(300), "5m0s"),
            (s(3600), "1h0m0s"),
            (s(3661), "1h1m1s"),
            (s(3 * 3600 + 61), "3h1m1s"),
            (s(4 * 3600 + 61), "4h1m1s"),
            (s(72 * 3600), "72h0m0s"),
            (Duration::from_millis(61_500), "1m1.5s"),
        ];
        for (d, want) in cases {
            assert_eq!(format_go_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
        assert_eq!(go_quote("\u{7}\u{8}\u{b}\u{c}\r\t"), r#""\a\b\v\f\r\t""#);
        assert_eq!(go_quote("\u{7f}\u{85}"), r#""\x7f\u0085""#);
    }
}
