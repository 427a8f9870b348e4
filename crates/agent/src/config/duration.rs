//! Durations written the way Go writes them (`"1m"`, `"20s"`, `"1m30s"`, `"500ms"`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration in Go's `time.ParseDuration` syntax, as `metav1.Duration` fields
/// of a `KubeletConfiguration` are written.
///
/// Parsing accepts what Go accepts (a sequence of decimal numbers with an optional
/// fraction and a unit: `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, e.g. `"1h30m"`, `"1.5s"`, or
/// a bare `"0"`), except negative values, which no kubelet setting nodelet reads allows.
/// Formatting is Go's `Duration.String()` (`"1m0s"`, `"20s"`, `"500ms"`), so `/configz`
/// prints what the kubelet prints.
///
/// ```
/// use agent::config::GoDuration;
/// use std::time::Duration;
///
/// let d: GoDuration = "1m30s".parse().unwrap();
/// assert_eq!(d.as_duration(), Duration::from_secs(90));
/// assert_eq!(d.to_string(), "1m30s");
/// assert_eq!("500ms".parse::<GoDuration>().unwrap().as_duration(), Duration::from_millis(500));
/// assert!("20".parse::<GoDuration>().is_err()); // a unit is required
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(Duration);

impl GoDuration {
    /// The zero duration, which the kubelet's defaulting treats as "not set".
    pub const ZERO: GoDuration = GoDuration(Duration::ZERO);

    /// Wraps a [`Duration`].
    pub const fn new(duration: Duration) -> Self {
        GoDuration(duration)
    }

    /// A duration of whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        GoDuration(Duration::from_secs(secs))
    }

    /// A duration of whole milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        GoDuration(Duration::from_millis(millis))
    }

    /// The wrapped [`Duration`].
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// Whether this is the zero duration.
    pub const fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl From<Duration> for GoDuration {
    fn from(duration: Duration) -> Self {
        GoDuration(duration)
    }
}

impl From<GoDuration> for Duration {
    fn from(duration: GoDuration) -> Self {
        duration.0
    }
}

/// Why a duration string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseDurationError {
    input: String,
    reason: &'static str,
}

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid duration {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for ParseDurationError {}

const NANOS_PER_UNIT: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000), // U+00B5 micro sign
    ("μs", 1_000), // U+03BC Greek mu
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

impl FromStr for GoDuration {
    type Err = ParseDurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseDurationError {
            input: input.to_owned(),
            reason,
        };
        let mut s = input;
        if let Some(rest) = s.strip_prefix('-') {
            // Go accepts "-0"; every other negative value is refused.
            if rest
                .trim_start_matches(['0', '.'])
                .chars()
                .all(|c| !c.is_ascii_digit())
            {
                s = rest;
            } else {
                return Err(err("negative durations are not allowed"));
            }
        } else if let Some(rest) = s.strip_prefix('+') {
            s = rest;
        }
        if s == "0" {
            return Ok(GoDuration::ZERO);
        }
        if s.is_empty() {
            return Err(err("empty duration"));
        }
        // Go's time.Duration is an int64 of nanoseconds.
        const MAX_NANOS: u128 = i64::MAX as u128;
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
                .char_indices()
                .find(|&(_, c)| c == '.' || c.is_ascii_digit())
                .map_or(rest.len(), |(i, _)| i);
            let (unit, rest) = rest.split_at(unit_len);
            if unit.is_empty() {
                return Err(err("missing unit (one of ns, us, ms, s, m, h)"));
            }
            let Some(&(_, per_unit)) = NANOS_PER_UNIT.iter().find(|(name, _)| *name == unit) else {
                return Err(err("unknown unit (expected one of ns, us, ms, s, m, h)"));
            };
            let int: u128 = if int_digits.is_empty() {
                0
            } else if int_digits.len() > 20 {
                return Err(err("out of range"));
            } else {
                int_digits.parse().map_err(|_| err("out of range"))?
            };
            let mut value = int
                .checked_mul(per_unit)
                .ok_or_else(|| err("out of range"))?;
            // Fractions beyond a nanosecond are dropped, as Go does.
            let mut scale = per_unit;
            for digit in frac_digits.bytes().take(30) {
                scale /= 10;
                if scale == 0 {
                    break;
                }
                value += u128::from(digit - b'0') * scale;
            }
            total = total
                .checked_add(value)
                .ok_or_else(|| err("out of range"))?;
            if total > MAX_NANOS {
                return Err(err("out of range"));
            }
            s = rest;
        }
        let nanos = u64::try_from(total).map_err(|_| err("out of range"))?;
        Ok(GoDuration(Duration::from_nanos(nanos)))
    }
}

impl fmt::Display for GoDuration {
    /// Go's `time.Duration.String()` ([`pod_plan::format_go_duration`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&pod_plan::format_go_duration(self.0))
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

/// metav1.Duration is a string in YAML and JSON; a bare number (`syncFrequency: 20`, which
/// YAML reads as the integer 20) is refused, as the kubelet refuses it, with a message that
/// says what to write instead.
struct DurationVisitor;

impl DurationVisitor {
    fn number<E: serde::de::Error>(number: impl fmt::Display) -> E {
        E::custom(format!(
            "invalid duration {number}: a duration is a string with a unit, such as \"{number}s\""
        ))
    }
}

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = GoDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"20s\"")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<GoDuration, E> {
        text.parse().map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<GoDuration, E> {
        Err(Self::number(number))
    }

    fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<GoDuration, E> {
        Err(Self::number(number))
    }

    fn visit_f64<E: serde::de::Error>(self, number: f64) -> Result<GoDuration, E> {
        Err(Self::number(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Duration {
        s.parse::<GoDuration>().unwrap().as_duration()
    }

    #[test]
    fn parses_go_syntax() {
        assert_eq!(parse("0"), Duration::ZERO);
        assert_eq!(parse("-0"), Duration::ZERO);
        assert_eq!(parse("1m"), Duration::from_secs(60));
        assert_eq!(parse("20s"), Duration::from_secs(20));
        assert_eq!(parse("1m30s"), Duration::from_secs(90));
        assert_eq!(parse("500ms"), Duration::from_millis(500));
        assert_eq!(parse("1.5h"), Duration::from_secs(5400));
        assert_eq!(parse(".5s"), Duration::from_millis(500));
        assert_eq!(parse("1h2m3s4ms5us6ns"), Duration::new(3723, 4_005_006));
        assert_eq!(parse("3µs"), Duration::from_micros(3));
        assert_eq!(parse("+4h"), Duration::from_secs(4 * 3600));
    }

    #[test]
    fn refuses_what_go_refuses_and_negatives() {
        for bad in [
            "",
            "20",
            "1x",
            "s",
            ".s",
            "1m-2s",
            "-1s",
            "1.2.3s",
            "999999999999h",
        ] {
            assert!(
                bad.parse::<GoDuration>().is_err(),
                "{bad:?} should be refused"
            );
        }
        let err = "20".parse::<GoDuration>().unwrap_err().to_string();
        assert!(err.contains("missing unit"), "{err}");
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(100), "100ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_secs(20), "20s"),
            (Duration::from_millis(1_500), "1.5s"),
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(4 * 3600 + 61), "4h1m1s"),
        ];
        for (duration, text) in cases {
            assert_eq!(GoDuration(duration).to_string(), text);
            assert_eq!(parse(text), duration, "round trip of {text}");
        }
    }
}
