//! Kubernetes resource quantities (`128Mi`, `0.5`, `250m`, `1e3`) read the way the kubelet
//! reads them here: `Quantity.Value()` and `Quantity.MilliValue()`, both rounded up
//! (apimachinery `resource.Quantity`). Only what volumes need: emptyDir `sizeLimit`, memory
//! limits and the downward API's divisors.

/// A parsed quantity: `mantissa × 10^exp10 × 2^exp2`, exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quantity {
    negative: bool,
    mantissa: u128,
    exp10: i32,
    exp2: u32,
}

impl Quantity {
    /// Parses apimachinery's grammar: `<sign>? <digits> (. <digits>)? <suffix>`.
    pub(crate) fn parse(text: &str) -> Result<Quantity, String> {
        let bad = || format!("quantity {text:?} is not a valid quantity");
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_end);
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(bad());
        }
        let (suffix_exp10, exp2) = match suffix {
            "" => (0, 0),
            "n" => (-9, 0),
            "u" => (-6, 0),
            "m" => (-3, 0),
            "k" => (3, 0),
            "M" => (6, 0),
            "G" => (9, 0),
            "T" => (12, 0),
            "P" => (15, 0),
            "E" => (18, 0),
            "Ki" => (0, 10),
            "Mi" => (0, 20),
            "Gi" => (0, 30),
            "Ti" => (0, 40),
            "Pi" => (0, 50),
            "Ei" => (0, 60),
            s if s.starts_with(['e', 'E']) => (s[1..].parse::<i32>().map_err(|_| bad())?, 0),
            _ => return Err(bad()),
        };
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        let mut mantissa: u128 = 0;
        for d in digits.bytes() {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(u128::from(d - b'0')))
                .ok_or_else(|| format!("quantity {text:?} is out of range"))?;
        }
        let frac_len = i32::try_from(frac.len()).map_err(|_| bad())?;
        Ok(Quantity {
            negative: negative && mantissa != 0,
            mantissa,
            exp10: suffix_exp10 - frac_len,
            exp2,
        })
    }

    /// The value multiplied by `10^scale`, rounded up (towards +∞), saturating at `i64`.
    fn scaled(&self, scale: i32) -> i64 {
        let mut numerator = self.mantissa;
        let mut denominator: u128 = 1;
        let exp10 = self.exp10 + scale;
        let saturate = |negative: bool| if negative { i64::MIN } else { i64::MAX };
        if exp10 >= 0 {
            for _ in 0..exp10 {
                match numerator.checked_mul(10) {
                    Some(n) => numerator = n,
                    None => return saturate(self.negative),
                }
            }
        } else {
            for _ in 0..(-exp10) {
                match denominator.checked_mul(10) {
                    Some(d) => denominator = d,
                    // Smaller than any integer step: rounds to 0 or 1.
                    None => return i64::from(!self.negative && numerator != 0),
                }
            }
        }
        match numerator.checked_shl(self.exp2) {
            Some(n) if n >> self.exp2 == numerator => numerator = n,
            _ => return saturate(self.negative),
        }
        let whole = numerator / denominator;
        let rem = numerator % denominator;
        let Ok(whole) = i64::try_from(whole) else {
            return saturate(self.negative);
        };
        if self.negative {
            -whole
        } else if rem != 0 {
            whole.saturating_add(1)
        } else {
            whole
        }
    }

    /// `Quantity.Value()`: whole units, rounded up.
    pub(crate) fn value(&self) -> i64 {
        self.scaled(0)
    }

    /// `Quantity.MilliValue()`: thousandths, rounded up.
    pub(crate) fn milli_value(&self) -> i64 {
        self.scaled(3)
    }

    /// Whether the quantity is greater than zero.
    pub(crate) fn is_positive(&self) -> bool {
        !self.negative && self.mantissa != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_up_like_apimachinery() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        assert_eq!(q("128Mi").value(), 134_217_728);
        assert_eq!(q("0.5Gi").value(), 536_870_912);
        assert_eq!(q("250m").value(), 1);
        assert_eq!(q("250m").milli_value(), 250);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("10M").value(), 10_000_000);
        assert_eq!(q("1n").milli_value(), 1);
        assert!(!q("0").is_positive());
        assert!(!q("-1").is_positive());
        assert_eq!(q("-1").value(), -1);
        assert!(Quantity::parse("1K").is_err());
        assert!(Quantity::parse("").is_err());
        assert!(Quantity::parse("abc").is_err());
        assert_eq!(q("100Ei").value(), i64::MAX);
    }
}
