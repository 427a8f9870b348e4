//! Resource quantities as volumes read them: cgroup-enforcer's parser (apimachinery's
//! `Value()` / `MilliValue()`, rounded up), saturating instead of failing on overflow, since a
//! size bound that does not fit an `i64` is no bound at all.

pub(crate) use cgroup_enforcer::QuantityValue as Quantity;

fn saturate(q: &Quantity, scaled: Result<i64, cgroup_enforcer::QuantityError>) -> i64 {
    scaled.unwrap_or(if q.is_negative() { i64::MIN } else { i64::MAX })
}

/// `Quantity.Value()`: whole units, rounded up, saturating.
pub(crate) fn value(q: &Quantity) -> i64 {
    saturate(q, q.value())
}

/// `Quantity.MilliValue()`: thousandths, rounded up, saturating.
pub(crate) fn milli_value(q: &Quantity) -> i64 {
    saturate(q, q.milli_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_up_and_saturate() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        assert_eq!(value(&q("128Mi")), 134_217_728);
        assert_eq!(value(&q("250m")), 1);
        assert_eq!(milli_value(&q("250m")), 250);
        assert_eq!(value(&q("100Ei")), i64::MAX);
    }
}
