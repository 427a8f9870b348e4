//! Go's formatting, as the kubelet's messages show values: `time.Duration.String` and `%q`,
//! and Go's `time.ParseDuration`, as the kubelet's config files write durations. One
//! definition each, for every crate whose messages and files must read like the kubelet's.

use std::time::Duration;

/// Why [`parse_go_duration`] refused a text: `invalid duration "20": missing unit (one of
/// ns, us, ms, s, m, h)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct GoDurationError {
    input: String,
    reason: &'static str,
}

impl GoDurationError {
    /// The text that was refused.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it (`missing unit (one of ns, us, ms, s, m, h)`).
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// Fraction digits read exactly: 25 digits times the largest unit (an hour, 3.6 × 10¹²
/// ns) still fit a `u128`.
const EXACT_FRACTION_DIGITS: usize = 25;

/// Parses a duration in Go's `time.ParseDuration` syntax, as the kubelet's config files
/// (`metav1.Duration`) write them: a sequence of decimal numbers, each with an optional
/// fraction and a unit (`ns`, `us` or `µs`, `ms`, `s`, `m`, `h`), such as `"1h30m"`,
/// `"1.5s"`, `".5ms"`, or a bare `"0"`, with an optional sign.
///
/// Like Go: leading zeros are allowed (`"0010s"`), a unit is required after every number
/// (`"20"` is refused), and the total may not exceed Go's `time.Duration`, an `int64` of
/// nanoseconds (about 292 years). Unlike Go:
///
/// - a negative duration is refused (no setting read through this parser allows one),
///   except the zero ones Go reads as zero (`"-0"`, `"-0s"`);
/// - a fraction is exact to the nanosecond, rounded down (its first 25 digits count; a
///   finer digit is below 10⁻¹² ns), where Go multiplies in `float64` and can be a
///   nanosecond off for long fractions of an hour.
///
/// ```
/// use pod_plan::{format_go_duration, parse_go_duration};
/// use std::time::Duration;
///
/// assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
/// assert_eq!(parse_go_duration("250ms"), Ok(Duration::from_millis(250)));
/// let err = parse_go_duration("20").unwrap_err();
/// assert_eq!(err.to_string(), "invalid duration \"20\": missing unit (one of ns, us, ms, s, m, h)");
/// // What format_go_duration writes parses back to the same duration.
/// let d = Duration::new(3723, 4_005_006);
/// assert_eq!(parse_go_duration(&format_go_duration(d)), Ok(d));
/// ```
pub fn parse_go_duration(input: &str) -> Result<Duration, GoDurationError> {
    // Go's time.Duration is an int64 of nanoseconds.
    const MAX_NANOS: u128 = i64::MAX as u128;
    let err = |reason| GoDurationError {
        input: input.to_owned(),
        reason,
    };
    let (negative, mut s) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err("empty duration"));
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, rest) = s.split_at(int_len);
        let (frac_digits, rest) = match rest.strip_prefix('.') {
            Some(after_dot) => {
                let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
                after_dot.split_at(frac_len)
            }
            None => ("", rest),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(err("expected a number"));
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (unit, rest) = rest.split_at(unit_len);
        let per_unit: u128 = match unit {
            "ns" => 1,
            // U+00B5 micro sign and U+03BC Greek mu, as Go.
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(err("missing unit (one of ns, us, ms, s, m, h)")),
            _ => return Err(err("unknown unit (expected one of ns, us, ms, s, m, h)")),
        };
        // Digit by digit, so that leading zeros never count against the range.
        let mut int: u128 = 0;
        for digit in int_digits.bytes() {
            int = int * 10 + u128::from(digit - b'0');
            if int > MAX_NANOS {
                return Err(err("out of range"));
            }
        }
        let mut nanos = int * per_unit;
        let exact = &frac_digits[..frac_digits.len().min(EXACT_FRACTION_DIGITS)];
        if !exact.is_empty() {
            let numerator = exact
                .bytes()
                .fold(0u128, |n, digit| n * 10 + u128::from(digit - b'0'));
            nanos += numerator * per_unit / 10u128.pow(exact.len() as u32);
        }
        total += nanos;
        if total > MAX_NANOS {
            return Err(err("out of range"));
        }
        s = rest;
    }
    if negative && total != 0 {
        return Err(err("negative durations are not allowed"));
    }
    Ok(Duration::from_nanos(total as u64))
}

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
    fn parses_what_go_parses() {
        let parse = |text: &str| parse_go_duration(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parse("0"), Duration::ZERO);
        assert_eq!(parse("-0"), Duration::ZERO);
        assert_eq!(parse("-0h0s"), Duration::ZERO);
        assert_eq!(parse("+4h"), s(4 * 3600));
        assert_eq!(parse("1h2m3s4ms5us6ns"), Duration::new(3723, 4_005_006));
        assert_eq!(parse("3µs"), Duration::from_micros(3));
        assert_eq!(parse("3μs"), Duration::from_micros(3));
        assert_eq!(parse(".5s"), Duration::from_millis(500));
        assert_eq!(parse("1.s"), s(1));
        assert_eq!(parse("1.5h"), s(5400));
        // Leading zeros do not count against the range, as in Go's leadingInt.
        assert_eq!(parse("000000000000000000000000001s"), s(1));
        // Exact fractions of an hour: 0.999999999999 h is 3599999999996.4 ns.
        assert_eq!(
            parse("0.999999999999h"),
            Duration::from_nanos(3_599_999_999_996)
        );
        assert_eq!(
            parse("9223372036854775807ns"),
            Duration::from_nanos(i64::MAX as u64)
        );
        assert_eq!(
            parse("2562047h47m16.854775807s"),
            Duration::from_nanos(i64::MAX as u64)
        );
    }

    #[test]
    fn refuses_what_go_refuses_and_negatives() {
        for (bad, reason) in [
            ("", "empty duration"),
            ("+", "empty duration"),
            ("20", "missing unit (one of ns, us, ms, s, m, h)"),
            ("00", "missing unit (one of ns, us, ms, s, m, h)"),
            (
                "1m-2s",
                "unknown unit (expected one of ns, us, ms, s, m, h)",
            ),
            ("1x", "unknown unit (expected one of ns, us, ms, s, m, h)"),
            ("s", "expected a number"),
            (".s", "expected a number"),
            ("1..5s", "missing unit (one of ns, us, ms, s, m, h)"),
            ("-1s", "negative durations are not allowed"),
            ("9223372036854775808ns", "out of range"),
            ("2562047h47m16.854775808s", "out of range"),
            ("999999999999999999999999999999h", "out of range"),
        ] {
            let err = parse_go_duration(bad).unwrap_err();
            assert_eq!(err.reason(), reason, "{bad:?}");
            assert_eq!(err.input(), bad);
        }
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
        assert_eq!(go_quote("\u{7}\u{8}\u{b}\u{c}\r\t"), r#""\a\b\v\f\r\t""#);
        assert_eq!(go_quote("\u{7f}\u{85}"), r#""\x7f\u0085""#);
    }
}
