//! Invariants of the CRI config formulas and parsers: quantities round-trip through their
//! text forms, `$(VAR)` expansion leaves escaped text alone, the CPU formulas stay in the
//! kubelet's bounds.

use pod_lifecycle::cri_config::resources::{
    MAX_SHARES, MIN_QUOTA_PERIOD, MIN_SHARES, QUOTA_PERIOD, milli_cpu_to_quota, milli_cpu_to_shares,
};
use pod_lifecycle::cri_config::{QuantityValue, expand};
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
    }

    /// Parsing never panics, whatever the text.
    #[test]
    fn parsing_never_panics(s in "[-+0-9.eEinumkKMGTP ]{0,12}") {
        if let Ok(q) = QuantityValue::parse(&s) {
            let _ = q.value();
            let _ = q.milli_value();
        }
    }

    /// Text with every `$` doubled expands back to itself, whatever the variables.
    #[test]
    fn escaped_text_is_literal(s in "[a-z$()é ]{0,24}") {
        let escaped = s.replace('$', "$$");
        prop_assert_eq!(expand(&escaped, |_: &str| Some("X")), s);
    }

    /// Text without `$` is never changed.
    #[test]
    fn text_without_operator_is_unchanged(s in "[^$]{0,32}") {
        prop_assert_eq!(expand(&s, |_: &str| Some("X")), s);
    }

    /// Unknown references, lone `$` and unterminated `$(` are kept as written (text with
    /// no `$$` escape in it).
    #[test]
    fn unknown_references_are_kept(
        pieces in prop::collection::vec("[A-Za-z0-9_()]{1,8}", 0..6),
        leading in any::<bool>(),
    ) {
        let s = format!("{}{}", if leading { "$" } else { "" }, pieces.join("$"));
        prop_assert_eq!(expand(&s, |_: &str| None::<&str>), s);
    }

    /// Shares stay within [2, 262144] and never decrease as the request grows.
    #[test]
    fn shares_are_bounded_and_monotonic(a in 0i64..1_000_000, b in 0i64..1_000_000) {
        let (lo, hi) = (a.min(b), a.max(b));
        let (s_lo, s_hi) = (milli_cpu_to_shares(lo), milli_cpu_to_shares(hi));
        prop_assert!((MIN_SHARES..=MAX_SHARES).contains(&s_lo));
        prop_assert!(s_lo <= s_hi);
    }

    /// A non-zero limit always gets at least the minimum quota; zero means unlimited.
    #[test]
    fn quota_has_a_floor(m in 0i64..10_000_000) {
        let quota = milli_cpu_to_quota(m, QUOTA_PERIOD);
        if m == 0 {
            prop_assert_eq!(quota, 0);
        } else {
            prop_assert!(quota >= MIN_QUOTA_PERIOD);
            prop_assert_eq!(quota, (m * QUOTA_PERIOD / 1000).max(MIN_QUOTA_PERIOD));
        }
    }
}
