//! Comparing resource quantities by value.
//!
//! The API server stores quantities in canonical form (`1024Mi` comes back as `1Gi`), and Go
//! compares them with `Quantity.Cmp` (`apiequality.Semantic`). A status computed from the
//! agent's strings must not look changed on every sync because the server spells the same
//! amount differently, so the setters keep the server's string when the values are equal.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pod_plan::quantity::QuantityValue;

/// The value of a quantity in units of 10^-9 (the smallest scale a Kubernetes quantity
/// keeps, finer values rounded up), or `None` when it does not parse: pod-plan's exact
/// parser, the one every crate reads quantities with.
fn nano_value(text: &str) -> Option<i128> {
    QuantityValue::parse(text.trim()).ok()?.nano_value().ok()
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
