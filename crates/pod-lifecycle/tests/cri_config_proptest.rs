//! Invariants of the CRI config translation: `$(VAR)` expansion leaves escaped text alone.
//! (Quantities and the CPU formulas are proptested in cgroup-enforcer.)

use pod_lifecycle::cri_config::expand;
use proptest::prelude::*;

proptest! {
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
}
