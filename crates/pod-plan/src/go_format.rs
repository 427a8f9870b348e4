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

/// A finite, non-zero number as Go's `strconv.FormatFloat(f, 'g', -1, bits)` writes it:
/// the shortest digits that read back as the same value, in `%e` form when the exponent is
/// below -4 or at least 6, else in `%f` form. Takes Rust's shortest scientific form of the
/// absolute value (`{:e}` of an `f64`, or of an `f32` for 32 bits: Rust picks the shortest
/// digits for that width too) and the sign. Infinities, NaN and zero are spelled
/// differently by each caller (Prometheus, YAML), so they stay the caller's.
///
/// ```
/// use pod_plan::format_float_g;
/// assert_eq!(format_float_g(&format!("{:e}", 2.5f64), false), "2.5");
/// assert_eq!(format_float_g(&format!("{:e}", 1e6f64), false), "1e+06");
/// assert_eq!(format_float_g(&format!("{:e}", 0.0001f64), true), "-0.0001");
/// assert_eq!(format_float_g(&format!("{:e}", 123456.0f32), false), "123456");
/// ```
pub fn format_float_g(scientific: &str, negative: bool) -> String {
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if negative { "-" } else { "" };
    // With the shortest precision Go decides between %e and %f with precision 6.
    if !(-4..6).contains(&exponent) {
        let fraction = if digits.len() > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!(
            "{sign}{}{fraction}e{exp_sign}{:02}",
            &digits[..1],
            exponent.abs()
        );
    }
    let point = exponent + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{body}")
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
