//! The query of `/containerLogs`: a `v1.PodLogOptions` decoded from the URL as the
//! kubelet's `getContainerLogs` does (`legacyscheme.ParameterCodec.DecodeParameters`, then
//! `ValidatePodLogOptions` from `pkg/apis/core/v1/validation`), and turned into the
//! reader's [`LogOptions`].

use container_logs::{LogOptions, LogStreams};
use jiff::{SignedDuration, Timestamp};

/// A query as `url.Values`: every pair in order, keys repeated as they came.
pub(crate) type QueryPairs = Vec<(String, String)>;

/// The first value of `key`, as Go's `url.Values.Get` (and go-restful's
/// `QueryParameter`) gives it.
pub(crate) fn first<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Why a `/containerLogs` query was refused. The kubelet answers the first with 400
/// (`{"message": "Unable to decode query."}`) and the second with 422
/// (`{"message": "Invalid request."}`); both messages here start with those words, then
/// name the parameter at fault, which the kubelet's do not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LogQueryError {
    /// A parameter's value is not of its type (an integer that does not parse, a
    /// `sinceTime` that is not RFC 3339).
    #[error("Unable to decode query: {param}: {reason}")]
    Decode {
        /// The query parameter.
        param: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The decoded options break a rule of `ValidatePodLogOptions`; each entry is one
    /// field error as apimachinery prints it (`tailLines: Invalid value: -1: must be
    /// greater than or equal to 0`).
    #[error("Invalid request: {}", .0.join(", "))]
    Invalid(Vec<String>),
}

/// The `stream` values `ValidatePodLogOptions` accepts, sorted.
const LOG_STREAMS: [&str; 3] = ["All", "Stderr", "Stdout"];

/// `v1.PodLogOptions` as the kubelet decodes it from a `/containerLogs` query. Fields the
/// kubelet ignores (`container`, `insecureSkipTLSVerifyBackend`) are not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PodLogQuery {
    /// `follow`.
    pub follow: bool,
    /// `previous`: the container's previous instance.
    pub previous: bool,
    /// `timestamps`.
    pub timestamps: bool,
    /// `tailLines` (or the legacy `tail`).
    pub tail_lines: Option<i64>,
    /// `sinceSeconds`.
    pub since_seconds: Option<i64>,
    /// `sinceTime`: `Some(None)` when given empty or `null`, which Go decodes to the zero
    /// time (so it counts as given, and shows everything).
    pub since_time: Option<Option<Timestamp>>,
    /// `limitBytes`.
    pub limit_bytes: Option<i64>,
    /// `stream` (`All`, `Stdout`, `Stderr`), the `PodLogsQuerySplitStreams` field.
    pub stream: Option<String>,
}

impl PodLogQuery {
    /// Decodes and validates `query` as the kubelet does: the legacy `tail` parameter
    /// first (`tail=all` is no tail), then each field from its first value, then
    /// `ValidatePodLogOptions`.
    pub(crate) fn parse(query: &[(String, String)]) -> Result<PodLogQuery, LogQueryError> {
        // Backwards compatibility for "tail", as in getContainerLogs: it replaces tailLines.
        let tail_lines = match first(query, "tail") {
            Some("all") => None,
            Some(tail) if !tail.is_empty() => Some(tail),
            _ => first(query, "tailLines"),
        };
        let decoded = PodLogQuery {
            follow: first(query, "follow").is_some_and(go_bool),
            previous: first(query, "previous").is_some_and(go_bool),
            timestamps: first(query, "timestamps").is_some_and(go_bool),
            tail_lines: tail_lines.map(|v| int("tailLines", v)).transpose()?,
            since_seconds: first(query, "sinceSeconds")
                .map(|v| int("sinceSeconds", v))
                .transpose()?,
            since_time: first(query, "sinceTime").map(time).transpose()?,
            limit_bytes: first(query, "limitBytes")
                .map(|v| int("limitBytes", v))
                .transpose()?,
            stream: first(query, "stream").map(str::to_string),
        };
        decoded.validate()?;
        Ok(decoded)
    }

    /// `ValidatePodLogOptions` (`pkg/apis/core/v1/validation`), with its messages.
    fn validate(&self) -> Result<(), LogQueryError> {
        let mut errors = Vec::new();
        if let Some(tail) = self.tail_lines.filter(|t| *t < 0) {
            errors.push(format!(
                "tailLines: Invalid value: {tail}: must be greater than or equal to 0"
            ));
        }
        if let Some(limit) = self.limit_bytes.filter(|l| *l < 1) {
            errors.push(format!(
                "limitBytes: Invalid value: {limit}: must be greater than 0"
            ));
        }
        match (self.since_seconds, &self.since_time) {
            (Some(_), Some(_)) => errors.push(
                "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified".into(),
            ),
            (Some(seconds), None) if seconds < 1 => errors.push(format!(
                "sinceSeconds: Invalid value: {seconds}: must be greater than 0"
            )),
            _ => {}
        }
        if let Some(stream) = &self.stream {
            if !LOG_STREAMS.contains(&stream.as_str()) {
                let supported: Vec<String> = LOG_STREAMS.iter().map(|s| format!("{s:?}")).collect();
                errors.push(format!(
                    "stream: Unsupported value: {stream:?}: supported values: {}",
                    supported.join(", ")
                ));
            }
            if stream != "All" && self.tail_lines.is_some() {
                errors.push(
                    "Forbidden: `tailLines` and specific `stream` are mutually exclusive for now"
                        .into(),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(LogQueryError::Invalid(errors))
        }
    }

    /// The reader's options at `now`. `sinceSeconds` becomes a `since_time` of `now` minus
    /// those seconds, as the kubelet's `NewLogOptions` computes it (the whole log when that
    /// is before any representable time). Call after [`parse`](Self::parse), which checked
    /// the values.
    pub(crate) fn log_options(&self, now: Timestamp) -> LogOptions {
        let since_time = match (self.since_seconds, self.since_time) {
            (Some(seconds), _) => now.checked_sub(SignedDuration::from_secs(seconds)).ok(),
            (None, Some(time)) => time,
            (None, None) => None,
        };
        LogOptions {
            follow: self.follow,
            tail_lines: self.tail_lines.and_then(|t| u64::try_from(t).ok()),
            since_time,
            limit_bytes: self.limit_bytes.and_then(|l| u64::try_from(l).ok()),
            timestamps: self.timestamps,
            streams: match self.stream.as_deref() {
                Some("Stdout") => LogStreams::Stdout,
                Some("Stderr") => LogStreams::Stderr,
                _ => LogStreams::All,
            },
        }
    }
}

/// A boolean query value as apimachinery's `Convert_Slice_string_To_bool` reads it: only
/// `0` and `false` (any case) are false; anything else, the empty string included, is true.
pub(crate) fn go_bool(value: &str) -> bool {
    !(value == "0" || value.eq_ignore_ascii_case("false"))
}

/// An integer query value as Go's `strconv.ParseInt(v, 10, 64)` reads it.
fn int(param: &'static str, value: &str) -> Result<i64, LogQueryError> {
    value.parse().map_err(|_| LogQueryError::Decode {
        param,
        reason: format!("{value:?} is not a 64-bit integer"),
    })
}

/// A `sinceTime` value as `metav1.Time.UnmarshalQueryParameter` reads it: RFC 3339, or
/// empty or `null` for the zero time.
fn time(value: &str) -> Result<Option<Timestamp>, LogQueryError> {
    if value.is_empty() || value == "null" {
        return Ok(None);
    }
    let parsed: Timestamp = value.parse().map_err(|e| LogQueryError::Decode {
        param: "sinceTime",
        reason: format!("{value:?} is not an RFC 3339 time: {e}"),
    })?;
    Ok(Some(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> QueryPairs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<PodLogQuery, LogQueryError> {
        PodLogQuery::parse(&q(pairs))
    }

    fn invalid(pairs: &[(&str, &str)]) -> String {
        match parse(pairs) {
            Err(e @ LogQueryError::Invalid(_)) => e.to_string(),
            other => panic!("expected a validation error for {pairs:?}, got {other:?}"),
        }
    }

    #[test]
    fn empty_query_reads_everything_once() {
        let parsed = parse(&[]).unwrap();
        assert_eq!(parsed, PodLogQuery::default());
        let options = parsed.log_options(Timestamp::UNIX_EPOCH);
        assert_eq!(options, LogOptions::default());
    }

    #[test]
    fn booleans_follow_apimachinery() {
        for (value, expected) in [
            ("true", true),
            ("1", true),
            ("", true),
            ("yes", true),
            ("false", false),
            ("FALSE", false),
            ("0", false),
        ] {
            let parsed = parse(&[
                ("follow", value),
                ("timestamps", value),
                ("previous", value),
            ])
            .unwrap();
            assert_eq!(
                (parsed.follow, parsed.timestamps, parsed.previous),
                (expected, expected, expected),
                "value {value:?}"
            );
        }
    }

    #[test]
    fn the_first_value_wins() {
        let parsed = parse(&[("tailLines", "3"), ("tailLines", "-1")]).unwrap();
        assert_eq!(parsed.tail_lines, Some(3));
    }

    #[test]
    fn legacy_tail_replaces_tail_lines() {
        assert_eq!(
            parse(&[("tail", "5"), ("tailLines", "9")])
                .unwrap()
                .tail_lines,
            Some(5)
        );
        assert_eq!(
            parse(&[("tail", "all"), ("tailLines", "9")])
                .unwrap()
                .tail_lines,
            None,
            "tail=all removes tailLines"
        );
        assert_eq!(
            parse(&[("tail", ""), ("tailLines", "9")])
                .unwrap()
                .tail_lines,
            Some(9)
        );
    }

    #[test]
    fn undecodable_values_name_the_parameter() {
        for (param, value) in [
            ("tailLines", "ten"),
            ("sinceSeconds", "1.5"),
            ("limitBytes", ""),
            ("sinceTime", "yesterday"),
            ("sinceTime", "2024-01-01"),
        ] {
            let err = parse(&[(param, value)]).unwrap_err();
            assert!(matches!(err, LogQueryError::Decode { .. }), "{err:?}");
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("Unable to decode query: {param}: ")),
                "{message}"
            );
        }
    }

    #[test]
    fn negative_and_zero_values_are_invalid() {
        assert_eq!(
            invalid(&[("tailLines", "-1")]),
            "Invalid request: tailLines: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            invalid(&[("limitBytes", "0")]),
            "Invalid request: limitBytes: Invalid value: 0: must be greater than 0"
        );
        assert_eq!(
            invalid(&[("sinceSeconds", "-5")]),
            "Invalid request: sinceSeconds: Invalid value: -5: must be greater than 0"
        );
        assert!(parse(&[("tailLines", "0")]).is_ok(), "tailLines=0 is valid");
    }

    #[test]
    fn both_since_parameters_are_forbidden() {
        let message = invalid(&[
            ("sinceSeconds", "10"),
            ("sinceTime", "2024-01-01T00:00:00Z"),
        ]);
        assert!(
            message.contains("`sinceTime` or `sinceSeconds`"),
            "{message}"
        );
        // An empty sinceTime is the zero time, still given.
        let message = invalid(&[("sinceSeconds", "10"), ("sinceTime", "")]);
        assert!(message.contains("at most one of"), "{message}");
    }

    #[test]
    fn every_error_is_reported() {
        let message = invalid(&[("tailLines", "-1"), ("limitBytes", "-1")]);
        assert!(message.contains("tailLines: "), "{message}");
        assert!(message.contains("limitBytes: "), "{message}");
    }

    #[test]
    fn stream_selection() {
        let message = invalid(&[("stream", "Both")]);
        assert_eq!(
            message,
            "Invalid request: stream: Unsupported value: \"Both\": supported values: \"All\", \
             \"Stderr\", \"Stdout\""
        );
        let message = invalid(&[("stream", "Stdout"), ("tailLines", "1")]);
        assert!(
            message.contains("`tailLines` and specific `stream`"),
            "{message}"
        );
        assert!(parse(&[("stream", "All"), ("tailLines", "1")]).is_ok());
        let options = parse(&[("stream", "Stderr")])
            .unwrap()
            .log_options(Timestamp::UNIX_EPOCH);
        assert_eq!(options.streams, LogStreams::Stderr);
    }

    #[test]
    fn since_seconds_counts_back_from_now() {
        let now: Timestamp = "2024-01-01T00:01:00Z".parse().unwrap();
        let options = parse(&[("sinceSeconds", "60")]).unwrap().log_options(now);
        assert_eq!(
            options.since_time,
            Some("2024-01-01T00:00:00Z".parse().unwrap())
        );
        let options = parse(&[("sinceSeconds", &i64::MAX.to_string())])
            .unwrap()
            .log_options(now);
        assert_eq!(options.since_time, None, "before any time: the whole log");
    }

    #[test]
    fn since_time_is_rfc3339_with_any_offset() {
        let options = parse(&[("sinceTime", "2024-01-01T02:00:00.5+02:00")])
            .unwrap()
            .log_options(Timestamp::UNIX_EPOCH);
        assert_eq!(
            options.since_time,
            Some("2024-01-01T00:00:00.5Z".parse().unwrap())
        );
        let options = parse(&[("sinceTime", "null")])
            .unwrap()
            .log_options(Timestamp::UNIX_EPOCH);
        assert_eq!(options.since_time, None);
    }

    #[test]
    fn limits_and_tail_pass_through() {
        let options = parse(&[
            ("tailLines", "10"),
            ("limitBytes", "100"),
            ("timestamps", "true"),
            ("follow", "true"),
        ])
        .unwrap()
        .log_options(Timestamp::UNIX_EPOCH);
        assert_eq!(
            options,
            LogOptions {
                follow: true,
                tail_lines: Some(10),
                since_time: None,
                limit_bytes: Some(100),
                timestamps: true,
                streams: LogStreams::All,
            }
        );
    }
}
