//! `metav1.Duration` in serde: Go's `time.ParseDuration` syntax in, Go's
//! `time.Duration.String()` out, and the kubelet's defaulting of a zero duration.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses Go's duration syntax: one or more decimal numbers (with an optional fraction),
/// each followed by a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. `"2m"`, `"1m30s"`,
/// `"1.5s"`, or a bare `"0"`. Negative values are refused: no setting read here allows
/// them.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let fail = |why: &str| format!("invalid duration {text:?}: {why}");
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.starts_with('-') {
        return Err(fail("negative durations are not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(fail("empty duration"));
    }
    // Go's time.Duration is an int64 count of nanoseconds.
    const LIMIT: u128 = i64::MAX as u128;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(fail("expected a number"));
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(fail("missing unit (one of ns, us, ms, s, m, h)")),
            _ => return Err(fail("unknown unit (expected one of ns, us, ms, s, m, h)")),
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| fail("out of range"))?
        };
        let mut nanos = whole
            .checked_mul(scale)
            .ok_or_else(|| fail("out of range"))?;
        // Digits finer than a nanosecond are dropped, as Go drops them.
        let mut digit_scale = scale;
        for digit in fraction.bytes() {
            digit_scale /= 10;
            if digit_scale == 0 {
                break;
            }
            nanos += u128::from(digit - b'0') * digit_scale;
        }
        total = total.saturating_add(nanos);
        if total > LIMIT {
            return Err(fail("out of range"));
        }
        rest = after;
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Writes `duration` as Go's `time.Duration.String()` does (`"2m0s"`, `"30s"`), which is
/// what the kubelet's `/configz` shows.
pub(crate) fn serialize<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&pod_plan::format_go_duration(*duration))
}

/// Reads a duration string; zero (`"0s"`, `"0"`) becomes `default`, as the kubelet's
/// v1beta1 defaulting replaces a zero `metav1.Duration`.
pub(crate) fn deserialize_or<'de, D: Deserializer<'de>>(
    deserializer: D,
    default: Duration,
) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    let duration = parse(&text).map_err(serde::de::Error::custom)?;
    Ok(if duration.is_zero() {
        default
    } else {
        duration
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse("3µs").unwrap(), Duration::from_micros(3));
        for bad in ["", "5", "-1s", "1x", "s", "1..5s", "99999999999h"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
