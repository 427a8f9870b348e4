//! [`Time`]: a point in time as the Kubernetes API writes it (`metav1.Time`).

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time as `metav1.Time` carries it in the stats API: RFC 3339 in UTC with whole
/// seconds (`2024-05-01T10:20:30Z`) on the wire, the zero time as `null`.
///
/// The full precision is kept in memory, as in the kubelet, whose `/metrics/resource`
/// timestamps (milliseconds) come from the in-memory summary, not from its JSON. Only
/// serializing drops the fraction, so a summary that went through JSON compares equal to
/// itself after a second trip.
///
/// ```
/// use kubelet_server::stats::Time;
///
/// let t = Time::from("2024-05-01T10:20:30.75Z".parse::<jiff::Timestamp>().unwrap());
/// assert_eq!(serde_json::to_string(&t).unwrap(), r#""2024-05-01T10:20:30Z""#);
/// assert_eq!(serde_json::to_string(&Time::ZERO).unwrap(), "null");
/// let back: Time = serde_json::from_str(r#""2024-05-01T12:20:30+02:00""#).unwrap();
/// assert_eq!(back.timestamp().unwrap().as_second(), t.timestamp().unwrap().as_second());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(Option<Timestamp>);

impl Time {
    /// The zero time (Go's `time.Time{}`), written as `null`.
    pub const ZERO: Time = Time(None);

    /// `timestamp`.
    pub fn new(timestamp: Timestamp) -> Self {
        Time(Some(timestamp))
    }

    /// Now.
    pub fn now() -> Self {
        Time(Some(Timestamp::now()))
    }

    /// The time, `None` for the zero time.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.0
    }

    /// Whether this is the zero time.
    pub fn is_zero(&self) -> bool {
        self.0.is_none()
    }

    /// Nanoseconds since the Unix epoch (0 for the zero time; Go would give a large
    /// negative number, which no caller here wants).
    pub fn unix_nanos(&self) -> i128 {
        self.0.map_or(0, |t| t.as_nanosecond())
    }

    /// The later of the two (the kubelet's `maxUpdateTime`).
    pub fn max(self, other: Time) -> Time {
        if self < other { other } else { self }
    }
}

impl From<Timestamp> for Time {
    fn from(timestamp: Timestamp) -> Self {
        Time::new(timestamp)
    }
}

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            // `time.RFC3339` in UTC: whole seconds, `Z`.
            Some(t) => write!(f, "{}", t.strftime("%Y-%m-%dT%H:%M:%SZ")),
            None => f.write_str("null"),
        }
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(_) => serializer.collect_str(self),
            None => serializer.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(Time::ZERO),
            // `metav1.Time` reads an empty string as the zero time too.
            Some(text) if text.is_empty() => Ok(Time::ZERO),
            Some(text) => text
                .parse::<Timestamp>()
                .map(Time::new)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_in_utc_and_null_for_zero() {
        let t: Timestamp = "2024-01-02T03:04:05.999999999+01:00".parse().unwrap();
        let json = serde_json::to_string(&Time::new(t)).unwrap();
        assert_eq!(json, r#""2024-01-02T02:04:05Z""#);
        assert_eq!(serde_json::to_string(&Time::ZERO).unwrap(), "null");
        assert_eq!(serde_json::from_str::<Time>("null").unwrap(), Time::ZERO);
        assert_eq!(serde_json::from_str::<Time>(r#""""#).unwrap(), Time::ZERO);
        let back: Time = serde_json::from_str(&json).unwrap();
        assert_eq!(back.timestamp().unwrap().as_second(), t.as_second());
        assert!(serde_json::from_str::<Time>(r#""yesterday""#).is_err());
    }

    #[test]
    fn max_and_nanos() {
        let a = Time::new(Timestamp::from_second(10).unwrap());
        let b = Time::new(Timestamp::from_second(20).unwrap());
        assert_eq!(a.max(b), b);
        assert_eq!(b.max(a), b);
        assert_eq!(Time::ZERO.max(a), a);
        assert_eq!(b.unix_nanos(), 20_000_000_000);
        assert_eq!(Time::ZERO.unix_nanos(), 0);
    }
}
