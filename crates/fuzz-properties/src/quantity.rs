//! The quantity parser ([`QuantityValue`]) and the validation of a container's resources,
//! which reads quantities with it.
//!
//! Properties, on any text:
//!
//! - parsing returns (no panic), keeps the text as written, and refuses with the error
//!   that quotes the text;
//! - a parsed quantity's canonical text ([`QuantityValue::canonical`], the API's
//!   `Quantity.String()`) parses, to the same value at nanosecond precision, and is its own
//!   canonical text (for a binary quantity, from the second writing on: `62.5Ki` is
//!   `64000`, then `64k`, as in apimachinery); zero is `0`;
//! - the scaled readings agree: [`value`](QuantityValue::value) and
//!   [`milli_value`](QuantityValue::milli_value) are [`nano_value`](QuantityValue::nano_value)
//!   divided and rounded up, or out of range together with it when it does not fit;
//! - spellings of the same number are the same quantity: a leading zero, a trailing zero
//!   in the fraction, `.0`, a `+` sign;
//! - a pod requesting the quantity as `cpu` passes validation exactly when the quantity
//!   parses and is not negative, and otherwise the refusal names
//!   `spec.containers[0].resources.requests[cpu]`.

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pod_plan::quantity::{QuantityError, QuantityValue};

/// Checks the quantity parser on `data` read as UTF-8 text (other bytes are no quantity and
/// are skipped); panics when a property fails.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = QuantityValue::parse(text);
    check_validation(text, parsed.as_ref().ok());
    let quantity = match parsed {
        Ok(quantity) => quantity,
        Err(err) => {
            let quoted = format!("{text:?}");
            assert!(
                err.to_string().contains(&quoted),
                "{err} does not quote {quoted}"
            );
            return;
        }
    };
    assert_eq!(quantity.as_str(), text);
    assert_eq!(quantity.to_string(), text);
    check_readings(&quantity);
    check_canonical(&quantity);
    for spelling in same_number(text) {
        let other = QuantityValue::parse(&spelling)
            .unwrap_or_else(|e| panic!("{text:?} parses but {spelling:?} does not: {e}"));
        assert_eq!(
            other.nano_value().ok(),
            quantity.nano_value().ok(),
            "{text:?} and {spelling:?}"
        );
        if quantity.nano_value().is_ok() {
            // The same suffix, so the same format: the same canonical text.
            assert_eq!(
                other.canonical(),
                quantity.canonical(),
                "{text:?} and {spelling:?}"
            );
        }
        assert_eq!(other.is_zero(), quantity.is_zero());
    }
}

/// The canonical form: parses to the same nanosecond value, and written again once more it
/// no longer changes. Once, not at once: like apimachinery's, the canonical form of a binary
/// quantity that is not a whole number of KiB is a plain number, which reads back as a
/// decimal one (`62.5Ki` is `64000`, and `64000` is `64k`).
fn check_canonical(quantity: &QuantityValue) {
    let canonical = quantity.canonical();
    let reparsed = QuantityValue::parse(&canonical).unwrap_or_else(|e| {
        panic!(
            "the canonical form {canonical:?} of {:?} does not parse: {e}",
            quantity.as_str()
        )
    });
    match quantity.nano_value() {
        Ok(nanos) => {
            assert_eq!(
                reparsed.nano_value(),
                Ok(nanos),
                "{:?} and its canonical form {canonical:?}",
                quantity.as_str()
            );
            let again = reparsed.canonical();
            let reparsed_again = QuantityValue::parse(&again).unwrap_or_else(|e| {
                panic!("{again:?}, the canonical form of {canonical:?}, does not parse: {e}")
            });
            assert_eq!(reparsed_again.nano_value(), Ok(nanos));
            assert_eq!(
                reparsed_again.canonical(),
                again,
                "the canonical form of {:?} does not settle",
                quantity.as_str()
            );
            if !quantity.as_str().ends_with('i') {
                assert_eq!(again, canonical, "not a fixed point");
            }
            if nanos == 0 {
                assert_eq!(canonical, "0");
            }
        }
        // Too large to read at nanosecond precision: kept as written.
        Err(_) => assert_eq!(canonical, quantity.as_str()),
    }
}

/// `value` and `milli_value` against `nano_value`.
fn check_readings(quantity: &QuantityValue) {
    let Ok(nanos) = quantity.nano_value() else {
        // Beyond 10^29 units nothing fits an i64 either.
        assert!(quantity.value().is_err(), "{:?}", quantity.as_str());
        return;
    };
    if quantity.is_zero() {
        assert_eq!(nanos, 0, "{:?}", quantity.as_str());
    }
    for (reading, per_unit) in [
        (quantity.value(), 1_000_000_000i128),
        (quantity.milli_value(), 1_000_000),
    ] {
        let expected = i64::try_from(div_ceil(nanos, per_unit));
        match (reading, expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{:?}", quantity.as_str()),
            (Err(QuantityError::OutOfRange { .. }), Err(_)) => {}
            (got, want) => panic!(
                "{:?}: read {got:?}, but its nanosecond value {nanos} gives {want:?}",
                quantity.as_str()
            ),
        }
    }
}

/// `ceil(a / b)` for `b > 0`.
fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

/// Other spellings of the number `text` starts with: a leading zero, a trailing zero in
/// the fraction (or `.0`), an explicit `+`.
fn same_number(text: &str) -> Vec<String> {
    let (sign, unsigned) = match text.strip_prefix(['+', '-']) {
        Some(rest) => (&text[..1], rest),
        None => ("", text),
    };
    let number_len = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_len);
    let mut spellings = vec![format!("{sign}0{number}{suffix}")];
    if number.contains('.') {
        spellings.push(format!("{sign}{number}0{suffix}"));
    } else {
        spellings.push(format!("{sign}{number}.0{suffix}"));
    }
    if sign.is_empty() {
        spellings.push(format!("+{text}"));
    }
    spellings
}

/// A pod that requests `text` as cpu, through the validation of static pods.
fn check_validation(text: &str, parsed: Option<&QuantityValue>) {
    let mut pod = Pod {
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                resources: Some(ResourceRequirements {
                    requests: Some([("cpu".to_owned(), Quantity(text.to_owned()))].into()),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    pod.metadata.name = Some("q".into());
    pod.metadata.namespace = Some("default".into());
    pod.metadata.uid = Some("6c62272e07bb014262b821756295c58d".into());
    pod.metadata.annotations =
        Some([("kubernetes.io/config.source".to_owned(), "file".to_owned())].into());
    let result = pod_plan::validation::validate_pod(&pod);
    // The API reads a quantity with the spaces around it trimmed.
    let trimmed = text.trim();
    let valid = if trimmed.len() == text.len() {
        parsed.is_some_and(|q| !q.is_negative())
    } else {
        QuantityValue::parse(trimmed).is_ok_and(|q| !q.is_negative())
    };
    match result {
        Ok(()) => assert!(valid, "validation accepted cpu {text:?}"),
        Err(err) => {
            assert!(!valid, "validation refused cpu {text:?}: {err}");
            let message = err.to_string();
            assert!(
                message.contains("spec.containers[0].resources.requests[cpu]"),
                "{message}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_the_same_number() {
        assert_eq!(same_number("1.5Gi"), ["01.5Gi", "1.50Gi", "+1.5Gi"]);
        assert_eq!(same_number("-2"), ["-02", "-2.0"]);
        assert_eq!(div_ceil(-1, 1_000), 0);
        assert_eq!(div_ceil(1, 1_000), 1);
    }
}
