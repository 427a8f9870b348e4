//! Deterministic ids that look like containerd's: 64 lowercase hex digits.
//!
//! containerd draws ids at random; the fake derives them from a counter through a mixing
//! function, so that runs repeat exactly while ids still differ in their first characters
//! (callers may pass any unique prefix, as with containerd).

/// The `n`-th id of a sequence: 64 hex digits.
pub(crate) fn hex_id(n: u64) -> String {
    (0..4u64)
        .map(|i| format!("{:016x}", splitmix64(n.wrapping_mul(4).wrapping_add(i))))
        .collect()
}

/// A 64-hex-digit digest-like string derived from `text`.
pub(crate) fn hex_of(text: &str) -> String {
    // FNV-1a, then stretched to 256 bits by the same mixer.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hex_id(hash)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits_deterministic_and_distinct() {
        let a = hex_id(1);
        assert_eq!(a.len(), 64);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(a, hex_id(1));
        assert_ne!(a[..12], hex_id(2)[..12]);
        assert_eq!(hex_of("x"), hex_of("x"));
        assert_ne!(hex_of("x"), hex_of("y"));
    }
}
