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

/// Why a duration string was refused: pod-plan's [`pod_plan::GoDurationError`], the one
/// parser of Go durations every crate uses.
pub type ParseDurationError = pod_plan::GoDurationError;

impl FromStr for GoDuration {
    type Err = ParseDurationError;

    /// [`pod_plan::parse_go_duration`]: Go's syntax, no negative value except zero.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        pod_plan::parse_go_duration(input).map(GoDuration)
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
