//! The Go duration parsers: [`pod_plan::parse_go_duration`] (which the kubelet API's
//! authentication settings read through) and the agent's [`GoDuration`], which reads the
//! durations of a `KubeletConfiguration`.
//!
//! Properties, on any text (and, when the input holds a newline, on the two texts either
//! side of it and on their concatenation):
//!
//! - parsing returns (no panic), never more than Go's `time.Duration` holds, and a refusal
//!   quotes the text;
//! - what Go's formatter ([`pod_plan::format_go_duration`], which `/configz` prints with)
//!   writes of a parsed duration parses back, with both parsers, to the same duration;
//! - spellings of the same duration parse alike: a leading zero, a trailing zero in the
//!   fraction (or `.0`), a `+` sign;
//! - a sequence of durations is their sum: `"1h" + "30m"` parses as 1h30m;
//! - the agent's [`GoDuration`], by `FromStr` and by serde, reads exactly what pod-plan's
//!   parser reads (it is a wrapper of it; the fuzzer found its own parser narrower, and it
//!   went).

use std::time::Duration;

use agent::config::GoDuration;
use pod_plan::{format_go_duration, parse_go_duration};

/// Checks the duration parsers on `data` read as UTF-8 text (other bytes are no duration
/// and are skipped); panics when a property fails.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_one(text);
    if let Some((first, second)) = text.split_once('\n') {
        check_one(first);
        check_one(second);
        check_sum(first, second);
    }
}

/// The properties of one text.
fn check_one(text: &str) {
    let parsed = parse_go_duration(text);
    compare_with_agent(text, parsed.as_ref().ok().copied());
    let duration = match parsed {
        Ok(duration) => duration,
        Err(err) => {
            assert_eq!(err.input(), text);
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid duration {text:?}: ")),
                "{err}"
            );
            return;
        }
    };
    assert!(
        duration.as_nanos() <= i64::MAX as u128,
        "{text:?}: {duration:?}"
    );
    let formatted = format_go_duration(duration);
    assert_eq!(
        parse_go_duration(&formatted),
        Ok(duration),
        "{text:?} formats as {formatted:?}"
    );
    assert_eq!(
        formatted.parse::<GoDuration>().map(GoDuration::as_duration),
        Ok(duration),
        "the agent does not read back {formatted:?}"
    );
    assert_eq!(GoDuration::new(duration).to_string(), formatted);
    for spelling in same_duration(text) {
        assert_eq!(
            parse_go_duration(&spelling),
            Ok(duration),
            "{text:?} and {spelling:?}"
        );
    }
}

/// The agent's parser, by `FromStr` and by serde, against pod-plan's result.
fn compare_with_agent(text: &str, expected: Option<Duration>) {
    let agent = text.parse::<GoDuration>().ok().map(GoDuration::as_duration);
    let serde = serde_json::from_value::<GoDuration>(serde_json::Value::String(text.into()))
        .ok()
        .map(GoDuration::as_duration);
    assert_eq!(agent, serde, "{text:?}: FromStr and serde disagree");
    assert_eq!(
        agent, expected,
        "{text:?}: the agent reads {agent:?}, pod-plan {expected:?}"
    );
}

/// Other spellings of the duration `text`: a leading zero, a trailing zero in the first
/// number's fraction (or `.0`), an explicit `+`. None for the bare `0`, which Go reads as a
/// special case (`00` is refused: no unit).
fn same_duration(text: &str) -> Vec<String> {
    let (sign, unsigned) = match text.strip_prefix(['+', '-']) {
        Some(rest) => (&text[..1], rest),
        None => ("", text),
    };
    if unsigned == "0" {
        return Vec::new();
    }
    let number_len = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, rest) = unsigned.split_at(number_len);
    let mut spellings = vec![format!("{sign}0{unsigned}")];
    if number.contains('.') {
        spellings.push(format!("{sign}{number}0{rest}"));
    } else {
        spellings.push(format!("{sign}{number}.0{rest}"));
    }
    if sign.is_empty() {
        spellings.push(format!("+{text}"));
    }
    spellings
}

/// Two durations written one after the other are their sum.
fn check_sum(first: &str, second: &str) {
    let (Ok(a), Ok(b)) = (parse_go_duration(first), parse_go_duration(second)) else {
        return;
    };
    // The second must start with its number (no sign, not the bare "0" that needs no unit);
    // the first may not be negative.
    if first.starts_with('-')
        || second == "0"
        || !second.starts_with(|c: char| c.is_ascii_digit() || c == '.')
    {
        return;
    }
    let joined = format!("{first}{second}");
    let sum = a + b;
    if sum.as_nanos() <= i64::MAX as u128 {
        assert_eq!(parse_go_duration(&joined), Ok(sum), "{joined:?}");
    } else {
        assert!(parse_go_duration(&joined).is_err(), "{joined:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_and_the_agent_parser() {
        assert_eq!(same_duration("1.5h"), ["01.5h", "1.50h", "+1.5h"]);
        assert_eq!(same_duration("-0s"), ["-00s", "-0.0s"]);
        assert!(same_duration("+0").is_empty());
        compare_with_agent("000000000000000000000001s", Some(Duration::from_secs(1)));
        compare_with_agent("-0h0s", Some(Duration::ZERO));
        check_sum("1h", "30m");
    }
}
