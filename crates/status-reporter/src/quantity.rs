//! Comparing resource quantities by value.
//!
//! The API server stores quantities in canonical form (`1024Mi` comes back as `1Gi`), and Go
//! compares them with `Quantity.Cmp` (`apiequality.Semantic`). A status computed from the
//! agent's strings must not look changed on every sync because the server spells the same
//! amount differently, so the setters keep the server's string when the values are equal.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The value of a quantity in units of 10^-9 (the smallest scale a Kubernetes quantity
/// keeps), or `None` when it does not parse.
fn nano_value(text: &str) -> Option<i128> {
    let text = text.trim();
    let (number, suffix) =
        match text.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-'))) {
            Some(i) => text.split_at(i),
            None => (text, ""),
        };
    let (negative, digits) = match number.as_bytes().first() {
        Some(b'-') => (true, &number[1..]),
        Some(b'+') => (false, &number[1..]),
        _ => (false, number),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // value = mantissa * 10^exp10 * 2^exp2, with the mantissa an integer.
    let mantissa: i128 = format!("{whole}{fraction}").parse().ok()?;
    let mut exp10: i32 = -i32::try_from(fraction.len()).ok()?;
    let mut exp2: u32 = 0;
    match suffix {
        "" => {}
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        "Ki" => exp2 = 10,
        "Mi" => exp2 = 20,
        "Gi" => exp2 = 30,
        "Ti" => exp2 = 40,
        "Pi" => exp2 = 50,
        "Ei" => exp2 = 60,
        s if s.starts_with(['e', 'E']) => exp10 += s[1..].parse::<i32>().ok()?,
        _ => return None,
    }
    // To nano units; a value finer than a nano rounds up, as the API server does.
    exp10 += 9;
    let mut value = mantissa.checked_mul(1i128.checked_shl(exp2)?)?;
    if exp10 >= 0 {
        value = value.checked_mul(10i128.checked_pow(u32::try_from(exp10).ok()?)?)?;
    } else {
        let divisor = 10i128.checked_pow(u32::try_from(-exp10).ok()?)?;
        value = (value + divisor - 1) / divisor;
    }
    Some(if negative { -value } else { value })
}

/// Whether two quantities are the same amount (`1Gi` and `1024Mi`, `1` and `1000m`); two
/// strings that do not parse are equal only when identical.
pub fn quantities_equal(a: &Quantity, b: &Quantity) -> bool {
    match (nano_value(&a.0), nano_value(&b.0)) {
        (Some(x), Some(y)) => x == y,
        _ => a.0 == b.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity(s.to_owned())
    }

    #[test]
    fn equal_amounts_in_different_spellings() {
        for (a, b) in [
            ("1Gi", "1024Mi"),
            ("1", "1000m"),
            ("0.5", "500m"),
            ("1k", "1000"),
            ("1e3", "1k"),
            ("110", "110"),
            ("0", "0Gi"),
            ("2M", "2000k"),
        ] {
            assert!(quantities_equal(&q(a), &q(b)), "{a} == {b}");
        }
    }

    #[test]
    fn different_amounts() {
        for (a, b) in [("1Gi", "1G"), ("1", "1001m"), ("4", "8"), ("1Ki", "1k")] {
            assert!(!quantities_equal(&q(a), &q(b)), "{a} != {b}");
        }
    }

    #[test]
    fn unparsable_quantities_compare_as_text() {
        assert!(quantities_equal(&q("lots"), &q("lots")));
        assert!(!quantities_equal(&q("lots"), &q("1")));
    }
}
