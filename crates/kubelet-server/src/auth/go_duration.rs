//! `metav1.Duration` in serde: Go's `time.ParseDuration` syntax in, Go's
//! `time.Duration.String()` out, and the kubelet's defaulting of a zero duration.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses Go's duration syntax ([`pod_plan::parse_go_duration`]: `"2m"`, `"1m30s"`,
/// `"1.5s"`, a bare `"0"`); negative values are refused, as no setting read here allows
/// them.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    pod_plan::parse_go_duration(text).map_err(|err| err.to_string())
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
