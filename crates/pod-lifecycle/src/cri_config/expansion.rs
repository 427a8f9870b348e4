//! `$(VAR)` expansion in env values, commands and args, exactly as Kubernetes does it
//! (`third_party/forked/golang/expansion`).
//!
//! - `$(NAME)` is replaced by the variable's value; an unknown name is left as written,
//!   `$(NAME)`, so a typo is visible in the container rather than silently empty.
//! - `$$` is an escaped `$`: `$$(NAME)` gives the literal `$(NAME)`.
//! - A `$` followed by anything else, a `$` at the end, and an unterminated `$(` are kept
//!   as written. There is no nesting: the name runs to the first `)`.
//!
//! One deliberate difference: after a lone `$`, Go copies the next *byte* through
//! `string(byte)`, which re-encodes a non-ASCII byte as a two-byte rune (`"$é"` comes out
//! mangled). Here the next character is copied unchanged.

/// Expands `$(NAME)` references in `input`, looking names up with `lookup`.
///
/// ```
/// use pod_lifecycle::cri_config::expand;
///
/// let lookup = |name: &str| (name == "HOST").then_some("db");
/// assert_eq!(expand("--db=$(HOST):5432", lookup), "--db=db:5432");
/// assert_eq!(expand("$$(HOST) $(PORT)", lookup), "$(HOST) $(PORT)");
/// ```
pub fn expand<F, S>(input: &str, mut lookup: F) -> String
where
    F: FnMut(&str) -> Option<S>,
    S: AsRef<str>,
{
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    // `checkpoint` is the start of the input not yet copied to `out`. Every position it
    // takes is just after an ASCII byte, so slicing there is always on a char boundary.
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            // How many bytes after the `$` this reference consumed.
            let consumed = match bytes[cursor + 1] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match input[cursor + 2..].find(')') {
                    Some(len) => {
                        let name = &input[cursor + 2..cursor + 2 + len];
                        match lookup(name) {
                            Some(value) => out.push_str(value.as_ref()),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        len + 2
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                // Not a reference: keep the `$`; the next character is copied as ordinary
                // input.
                _ => {
                    out.push('$');
                    0
                }
            };
            cursor += consumed;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.push_str(&input[checkpoint..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn non_ascii_after_a_lone_operator_is_kept() {
        let none = |_: &str| None::<&str>;
        assert_eq!(expand("$é$(", none), "$é$(");
        assert_eq!(expand("é$(X)ü", |_: &str| Some("ß")), "éßü");
    }

    #[test]
    fn owned_values_work_too() {
        let vars: HashMap<&str, String> = [("A", "x".to_string())].into();
        assert_eq!(expand("$(A)$(A)", |n: &str| vars.get(n).cloned()), "xx");
    }
}
