//! Invariants: quantities round-trip through their text forms, the CPU formulas stay in the
//! kubelet's bounds, weights are monotonic, Burstable OOM scores stay between Guaranteed and
//! BestEffort.

use cgroup_enforcer::QuantityValue;
use cgroup_enforcer::formulas::{
    MAX_SHARES, MAX_WEIGHT, MIN_QUOTA_PERIOD, MIN_SHARES, MIN_WEIGHT, QUOTA_PERIOD,
    cpu_shares_to_weight_linear, cpu_shares_to_weight_quadratic, cpu_weight_to_shares_linear,
    milli_cpu_to_quota, milli_cpu_to_shares, quota_to_milli_cpu, shares_to_milli_cpu,
};
use cgroup_enforcer::oom::burstable_oom_score_adj;
use proptest::prelude::*;

fn parse(s: &str) -> QuantityValue {
    QuantityValue::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

proptest! {
    /// Millicores written as `<m>m` or as a decimal number of cores read back exactly.
    #[test]
    fn millicores_round_trip(m in 0i64..1_000_000_000_000) {
        prop_assert_eq!(parse(&format!("{m}m")).milli_value(), Ok(m));
        let decimal = format!("{}.{:03}", m / 1000, m % 1000);
        prop_assert_eq!(parse(&decimal).milli_value(), Ok(m));
        prop_assert_eq!(parse(&format!("{m}e-3")).milli_value(), Ok(m));
        // Whole units round up.
        prop_assert_eq!(parse(&format!("{m}m")).value(), Ok((m + 999) / 1000));
        prop_assert_eq!(parse(&format!("{m}m")).nano_value(), Ok(i128::from(m) * 1_000_000));
    }

    /// Bytes with any suffix read back as the number times the suffix's multiplier.
    #[test]
    fn suffixed_bytes_round_trip(n in 0i64..1_000_000, suffix in 0usize..11) {
        let (text, multiplier): (&str, i64) = [
            ("", 1),
            ("k", 1000),
            ("M", 1_000_000),
            ("G", 1_000_000_000),
            ("T", 1_000_000_000_000),
            ("Ki", 1 << 10),
            ("Mi", 1 << 20),
            ("Gi", 1 << 30),
            ("Ti", 1 << 40),
            ("e3", 1000),
            ("E0", 1),
        ][suffix];
        prop_assert_eq!(parse(&format!("{n}{text}")).value(), Ok(n * multiplier));
        prop_assert_eq!(parse(&format!("+{n}{text}")).value(), Ok(n * multiplier));
        prop_assert_eq!(parse(&format!("-{n}{text}")).value(), Ok(-n * multiplier));
        // The text is kept as written.
        let text = format!("{n}{text}");
        prop_assert_eq!(parse(&text).to_string(), text);
    }

    /// Parsing never panics, whatever the text.
    #[test]
    fn parsing_never_panics(s in "[-+0-9.eEinumkKMGTP ]{0,12}") {
        if let Ok(q) = QuantityValue::parse(&s) {
            let _ = q.value();
            let _ = q.milli_value();
            let _ = q.nano_value();
        }
    }

    /// Shares stay within [2, 262144], never decrease as the request grows, and map back
    /// to a request within one share's worth of rounding.
    #[test]
    fn shares_are_bounded_monotonic_and_invertible(a in 0i64..1_000_000, b in 0i64..1_000_000) {
        let (lo, hi) = (a.min(b), a.max(b));
        let (s_lo, s_hi) = (milli_cpu_to_shares(lo), milli_cpu_to_shares(hi));
        prop_assert!((MIN_SHARES..=MAX_SHARES).contains(&s_lo));
        prop_assert!(s_lo <= s_hi);
        if (2..=256_000).contains(&hi) {
            let back = shares_to_milli_cpu(s_hi);
            prop_assert!((back - hi).abs() <= 1, "{} -> {} -> {}", hi, s_hi, back);
        }
    }

    /// A non-zero limit always gets at least the minimum quota; zero means unlimited; the
    /// quota maps back to the limit.
    #[test]
    fn quota_has_a_floor_and_inverts(m in 0i64..10_000_000) {
        let quota = milli_cpu_to_quota(m, QUOTA_PERIOD);
        if m == 0 {
            prop_assert_eq!(quota, 0);
        } else {
            prop_assert!(quota >= MIN_QUOTA_PERIOD);
            prop_assert_eq!(quota, (m * QUOTA_PERIOD as i64 / 1000).max(MIN_QUOTA_PERIOD));
        }
        if m >= 10 {
            prop_assert_eq!(quota_to_milli_cpu(quota, QUOTA_PERIOD), m);
        }
    }

    /// Both weight conversions stay in [1, 10000] and never decrease; the linear one and
    /// its inverse agree within the rounding of one weight step.
    #[test]
    fn weights_are_bounded_and_monotonic(a in 2u64..300_000, b in 2u64..300_000) {
        let (lo, hi) = (a.min(b), a.max(b));
        for convert in [cpu_shares_to_weight_linear, cpu_shares_to_weight_quadratic] {
            let (w_lo, w_hi) = (convert(lo), convert(hi));
            prop_assert!((MIN_WEIGHT..=MAX_WEIGHT).contains(&w_lo));
            prop_assert!((MIN_WEIGHT..=MAX_WEIGHT).contains(&w_hi));
            prop_assert!(w_lo <= w_hi);
        }
        let w = cpu_shares_to_weight_linear(hi);
        let back = cpu_weight_to_shares_linear(w);
        prop_assert!(back <= hi.min(MAX_SHARES));
        // Both directions round down, so the round trip loses at most one weight step.
        prop_assert!(w - cpu_shares_to_weight_linear(back) <= 1);
    }

    /// Burstable scores stay in [3, 999] and fall as the request grows.
    #[test]
    fn burstable_scores_are_between_the_other_classes(
        a in 0i64..(64i64 << 30), b in 0i64..(64i64 << 30), capacity in 1i64..(64i64 << 30),
    ) {
        let (lo, hi) = (a.min(b), a.max(b));
        let (s_lo, s_hi) = (burstable_oom_score_adj(lo, capacity), burstable_oom_score_adj(hi, capacity));
        prop_assert!((3..=999).contains(&s_lo));
        prop_assert!(s_hi <= s_lo);
    }
}
