//! Kubernetes resource quantities (`100m`, `1.5`, `128Mi`, `1G`, `1e3`, `0.5Gi`) parsed
//! exactly, and read back the way the kubelet reads them: `Quantity.Value()` and
//! `Quantity.MilliValue()`, both rounded **up** (apimachinery `resource.Quantity`).
//!
//! The grammar is apimachinery's `parseQuantityString`:
//! `<sign>? <digits> (. <digits>)? <suffix>`, where the suffix is a decimal SI prefix
//! (`n u m "" k M G T P E`), a binary one (`Ki Mi Gi Ti Pi Ei`) or a decimal exponent
//! (`e3`, `E-2`). A value is kept as `mantissa × 10^exp10 × 2^exp2` in integers, so
//! `0.1` is exactly a tenth and rounding happens once, when a scaled value is asked for.

use std::fmt;
use std::str::FromStr;

/// apimachinery's `ErrFormatWrong` message.
const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Why a quantity could not be parsed or read.
///
/// This is the value-level error of [`QuantityValue`]; where a quantity comes from a pod,
/// cgroup-enforcer's `Error::Quantity` wraps it with the pod and the field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The text is not a quantity at all (apimachinery's `ErrFormatWrong`).
    #[error("cannot parse {text:?}: {FORMAT_WRONG}")]
    Format {
        /// The text given.
        text: String,
    },
    /// The number is fine but the suffix is not one Kubernetes knows (`ErrSuffix`), such as
    /// `K` or `Mii`.
    #[error("cannot parse {text:?}: unable to parse quantity's suffix")]
    Suffix {
        /// The text given.
        text: String,
    },
    /// The value does not fit the integer it is read into (or its significant digits do
    /// not fit a `u128`: more than 38).
    #[error("quantity {text:?} is out of range")]
    OutOfRange {
        /// The text given.
        text: String,
    },
}

/// An exactly parsed Kubernetes quantity.
///
/// ```
/// use pod_plan::quantity::QuantityValue;
///
/// let cpu: QuantityValue = "250m".parse()?;
/// assert_eq!(cpu.milli_value()?, 250);
/// assert_eq!(cpu.value()?, 1); // rounded up, like Quantity.Value()
/// let mem: QuantityValue = "0.5Gi".parse()?;
/// assert_eq!(mem.value()?, 536_870_912);
/// # Ok::<(), pod_plan::quantity::QuantityError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityValue {
    text: String,
    negative: bool,
    /// The digits without the decimal point, leading and trailing zeros removed.
    mantissa: u128,
    exp10: i32,
    exp2: u32,
}

impl QuantityValue {
    /// Parses `text` with apimachinery's grammar (see the module docs).
    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let format = || QuantityError::Format {
            text: text.to_owned(),
        };
        let bytes = text.as_bytes();
        let mut pos = 0;
        let mut negative = false;
        match bytes.first() {
            Some(b'-') => {
                negative = true;
                pos += 1;
            }
            Some(b'+') => pos += 1,
            _ => {}
        }
        let int_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        let int_digits = &text[int_start..pos];
        let mut frac_digits = "";
        if pos < bytes.len() && bytes[pos] == b'.' {
            pos += 1;
            let frac_start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            frac_digits = &text[frac_start..pos];
        }
        // apimachinery reads "", "-" and "." as zero; a quantity with no digit at all is
        // refused here instead (the API server never lets one through).
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(format());
        }
        let suffix = &text[pos..];
        check_suffix_shape(suffix).ok_or_else(format)?;
        let (suffix_exp10, exp2) =
            interpret_suffix(suffix).ok_or_else(|| QuantityError::Suffix {
                text: text.to_owned(),
            })?;

        // Significant digits: strip leading zeros of the whole digit string and trailing
        // zeros of the fraction, keeping track of the decimal exponent.
        let mut digits: String = format!("{int_digits}{frac_digits}");
        let mut exp10 = -(frac_digits.len() as i64);
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
            exp10 += 1;
        }
        let digits = digits.trim_start_matches('0');
        let out_of_range = || QuantityError::OutOfRange {
            text: text.to_owned(),
        };
        let mantissa: u128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| out_of_range())?
        };
        // An exponent suffix may be any i64 (`1e9223372036854775807`): add with a check.
        // Zero is zero whatever its exponent (`00e2147483647` as much as `0e2147483647`).
        let exp10 = if mantissa == 0 {
            0
        } else {
            exp10
                .checked_add(suffix_exp10)
                .and_then(|exp| i32::try_from(exp).ok())
                .ok_or_else(out_of_range)?
        };
        Ok(QuantityValue {
            text: text.to_owned(),
            negative: negative && mantissa != 0,
            mantissa,
            exp10,
            exp2,
        })
    }

    /// The text this value was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for any spelling of zero (`0`, `0m`, `0.0Gi`).
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// True for values below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The value in units, rounded up: `Quantity.Value()` (`1.5` → 2, `100m` → 1).
    pub fn value(&self) -> Result<i64, QuantityError> {
        self.scaled_ceil(0)
    }

    /// The value in thousandths, rounded up: `Quantity.MilliValue()` (`1.5` → 1500,
    /// `0.0001` → 1). This is how the kubelet reads CPU.
    pub fn milli_value(&self) -> Result<i64, QuantityError> {
        self.scaled_ceil(3)
    }

    /// The value in billionths, rounded up (`1` → 10⁹, `100m` → 10⁸). Wide enough for any
    /// quantity up to 10²⁹, so sums and comparisons of requests and limits are exact (the
    /// QoS class compares them this way).
    pub fn nano_value(&self) -> Result<i128, QuantityError> {
        self.scaled_ceil_wide(9)
    }

    /// `ceil(value × 10^scale)` as an `i64`.
    fn scaled_ceil(&self, scale: i32) -> Result<i64, QuantityError> {
        let wide = self.scaled_ceil_wide(scale)?;
        i64::try_from(wide).map_err(|_| QuantityError::OutOfRange {
            text: self.text.clone(),
        })
    }

    /// `ceil(value × 10^scale)` as an `i128`.
    fn scaled_ceil_wide(&self, scale: i32) -> Result<i128, QuantityError> {
        if self.mantissa == 0 {
            return Ok(0);
        }
        let out_of_range = || QuantityError::OutOfRange {
            text: self.text.clone(),
        };
        let numerator = self
            .mantissa
            .checked_mul(1u128 << self.exp2)
            .ok_or_else(out_of_range)?;
        let exp = self.exp10.checked_add(scale).ok_or_else(out_of_range)?;
        let magnitude: u128 = if exp >= 0 {
            let factor = 10u128
                .checked_pow(exp.unsigned_abs())
                .ok_or_else(out_of_range)?;
            numerator.checked_mul(factor).ok_or_else(out_of_range)?
        } else {
            match 10u128.checked_pow(exp.unsigned_abs()) {
                // Rounding up is away from zero for positive values and toward zero for
                // negative ones.
                Some(divisor) => {
                    let (q, r) = (numerator / divisor, numerator % divisor);
                    if r != 0 && !self.negative { q + 1 } else { q }
                }
                // The divisor exceeds any u128 numerator: |value| < 1.
                None => u128::from(!self.negative),
            }
        };
        let signed = i128::try_from(magnitude).map_err(|_| out_of_range())?;
        Ok(if self.negative { -signed } else { signed })
    }
}

/// apimachinery's `resource.Format`: how a quantity is written back, chosen by the suffix
/// it was parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

impl QuantityValue {
    /// The quantity as the API writes it back (`Quantity.String()` of a parsed quantity,
    /// apimachinery's `CanonicalizeBytes`): `1000m` is `1`, `0.5` is `500m`, `1536Mi` is
    /// `1536Mi`, `2048Mi` is `2Gi`, `1e3` stays `1e3`, any zero is `0`.
    ///
    /// The value is read at nanosecond precision, rounded up as [`nano_value`](Self::nano_value)
    /// rounds it (apimachinery rounds a finer value to `1n` when it parses it), so the
    /// canonical text parses back to the same [`nano_value`](Self::nano_value). A value too
    /// large for that (beyond about 10²⁹) is written as it was parsed.
    ///
    /// ```
    /// use pod_plan::quantity::QuantityValue;
    ///
    /// let canonical = |text: &str| QuantityValue::parse(text).unwrap().canonical();
    /// assert_eq!(canonical("1000m"), "1");
    /// assert_eq!(canonical("1.5Gi"), "1536Mi");
    /// assert_eq!(canonical("0.5Ki"), "512");
    /// assert_eq!(canonical("1000"), "1k");
    /// ```
    pub fn canonical(&self) -> String {
        const NANO: i128 = 1_000_000_000;
        let Ok(nanos) = self.nano_value() else {
            return self.text.clone();
        };
        if nanos == 0 {
            return "0".to_owned();
        }
        let number_end = self
            .text
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && "+-".contains(c))))
            .map_or(self.text.len(), |(i, _)| i);
        let suffix = &self.text[number_end..];
        let mut format = if suffix.ends_with('i') {
            Format::BinarySi
        } else if suffix.len() > 1 && suffix.starts_with(['e', 'E']) {
            Format::DecimalExponent
        } else {
            Format::DecimalSi
        };
        // ParseQuantity: a binary amount below one is decimal; CanonicalizeBytes: so is one
        // below 1024 or not whole.
        if format == Format::BinarySi && (nanos.abs() < 1024 * NANO || nanos % NANO != 0) {
            format = Format::DecimalSi;
        }
        if format == Format::BinarySi {
            let mut amount = nanos / NANO;
            let mut exponent = 0;
            while amount.abs() >= 1024 && amount % 1024 == 0 && exponent < 6 {
                amount /= 1024;
                exponent += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exponent];
            return format!("{amount}{suffix}");
        }
        let mut amount = nanos;
        let mut exponent: i32 = -9;
        while amount.abs() >= 10 && amount % 10 == 0 {
            amount /= 10;
            exponent += 1;
        }
        // Engineering notation: the exponent a multiple of three.
        let extra = exponent.rem_euclid(3);
        amount *= 10i128.pow(extra.unsigned_abs());
        exponent -= extra;
        let suffix = match (format, exponent) {
            (_, 0) => String::new(),
            (Format::DecimalExponent, e) => format!("e{e}"),
            (_, -9) => "n".to_owned(),
            (_, -6) => "u".to_owned(),
            (_, -3) => "m".to_owned(),
            (_, 3) => "k".to_owned(),
            (_, 6) => "M".to_owned(),
            (_, 9) => "G".to_owned(),
            (_, 12) => "T".to_owned(),
            (_, 15) => "P".to_owned(),
            (_, 18) => "E".to_owned(),
            (_, e) => format!("e{e}"),
        };
        format!("{amount}{suffix}")
    }
}

impl FromStr for QuantityValue {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QuantityValue::parse(s)
    }
}

impl fmt::Display for QuantityValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The suffix must be `[eEinumkKMGTP]*[-+]?[0-9]*` (apimachinery's scanner).
fn check_suffix_shape(suffix: &str) -> Option<()> {
    let rest = suffix.trim_start_matches(|c: char| "eEinumkKMGTP".contains(c));
    let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    rest.bytes().all(|b| b.is_ascii_digit()).then_some(())
}

/// `(decimal exponent, binary exponent)` of a suffix, or `None` if Kubernetes does not
/// know it.
fn interpret_suffix(suffix: &str) -> Option<(i64, u32)> {
    let decimal = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(exp) = decimal {
        return Some((exp, 0));
    }
    let binary = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(exp) = binary {
        return Some((0, exp));
    }
    // A decimal exponent: `e3`, `E-2`, `e+6`.
    let exponent = suffix.strip_prefix(['e', 'E'])?;
    if exponent.is_empty() {
        return None;
    }
    exponent.parse::<i64>().ok().map(|e| (e, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> QuantityValue {
        QuantityValue::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_the_common_spellings() {
        assert_eq!(q("100m").milli_value(), Ok(100));
        assert_eq!(q("1.5").milli_value(), Ok(1500));
        assert_eq!(q("128Mi").value(), Ok(134_217_728));
        assert_eq!(q("1G").value(), Ok(1_000_000_000));
        assert_eq!(q("1e3").value(), Ok(1000));
        assert_eq!(q("1E3").value(), Ok(1000));
        assert_eq!(q("0.5Gi").value(), Ok(536_870_912));
        assert_eq!(q("+2").value(), Ok(2));
        assert_eq!(q(".5").milli_value(), Ok(500));
        assert_eq!(q("1.").value(), Ok(1));
        assert_eq!(q("007").value(), Ok(7));
        assert_eq!(q("1E").value(), Ok(1_000_000_000_000_000_000));
        assert_eq!(q("12e-1").milli_value(), Ok(1200));
        assert_eq!(q("1e+2").value(), Ok(100));
        assert_eq!(q("500u").milli_value(), Ok(1));
        assert_eq!(q("3n").value(), Ok(1));
        assert_eq!(q("1k").value(), Ok(1000));
    }

    #[test]
    fn rounds_up_like_apimachinery() {
        assert_eq!(q("0.0001").milli_value(), Ok(1));
        assert_eq!(q("100m").value(), Ok(1));
        assert_eq!(q("1.5").value(), Ok(2));
        assert_eq!(q("-1.5").value(), Ok(-1));
        assert_eq!(q("-100m").milli_value(), Ok(-100));
        assert_eq!(q("1e-50").value(), Ok(1));
        assert_eq!(q("-1e-50").value(), Ok(0));
    }

    #[test]
    fn zero_in_every_spelling() {
        for s in ["0", "0m", "0.0Gi", "-0", "000", "0e9", "0.000"] {
            assert!(q(s).is_zero(), "{s}");
            assert_eq!(q(s).value(), Ok(0), "{s}");
            assert!(!q(s).is_negative(), "{s}");
        }
    }

    #[test]
    fn refuses_what_kubernetes_refuses() {
        for s in [
            "abc", "1 Mi", "1e3e", "1.2.3", "Mi", "", "-", ".", "1,5", " 1",
        ] {
            assert!(
                matches!(QuantityValue::parse(s), Err(QuantityError::Format { .. })),
                "{s:?}: {:?}",
                QuantityValue::parse(s)
            );
        }
        for s in ["1K", "1Mii", "1e", "1mi", "1ki", "1Ei3"] {
            assert!(
                matches!(QuantityValue::parse(s), Err(QuantityError::Suffix { .. })),
                "{s:?}: {:?}",
                QuantityValue::parse(s)
            );
        }
        let err = QuantityValue::parse("12x").unwrap_err().to_string();
        assert!(
            err.contains("\"12x\"") && err.contains("regular expression"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_is_an_error_not_a_wrap() {
        assert!(matches!(
            q("10Ei").value(),
            Err(QuantityError::OutOfRange { .. })
        ));
        assert!(matches!(
            q("1e30").milli_value(),
            Err(QuantityError::OutOfRange { .. })
        ));
        assert!(matches!(
            QuantityValue::parse("999999999999999999999999999999999999999"),
            Err(QuantityError::OutOfRange { .. })
        ));
        assert_eq!(q("8Ei").value().ok(), None);
        assert_eq!(q("7Ei").value(), Ok(7 << 60));
    }

    /// Found by the `quantity` fuzz target: `0e2147483647` parsed as zero, but
    /// `00e2147483647` (the same zero with a leading zero) was out of range, because the
    /// zero's stripped trailing digit moved the exponent past `i32`. Go reads both as 0.
    #[test]
    fn zero_with_any_exponent_is_zero() {
        for text in ["0e2147483647", "00e2147483647", "0.000e2147483647", "00e5"] {
            let q = QuantityValue::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!(q.is_zero(), "{text}");
            assert_eq!(q.canonical(), "0", "{text}");
        }
    }

    /// Found while writing the `quantity` fuzz target: the decimal exponent of the digits
    /// plus an exponent suffix near `i64::MAX` overflowed (a panic in debug builds).
    #[test]
    fn an_exponent_at_the_limit_of_i64_is_out_of_range_not_an_overflow() {
        for text in [
            "10e9223372036854775807",
            "0.1e-9223372036854775808",
            "1e2147483648",
        ] {
            assert!(
                matches!(
                    QuantityValue::parse(text),
                    Err(QuantityError::OutOfRange { .. })
                ),
                "{text}: {:?}",
                QuantityValue::parse(text)
            );
        }
        assert!(q("1e2147483647").value().is_err());
    }

    /// Found by the `quantity` fuzz target: the canonical form of a value with 38
    /// significant digits did not parse (the parser stopped at 36 digits), so the API's
    /// spelling of a quantity the parser accepted was refused by the same parser.
    #[test]
    fn the_canonical_form_of_a_quantity_parses_back_to_the_same_value() {
        let text = "25555555555555555555555.5555555048Mi";
        let canonical = q(text).canonical();
        assert_eq!(canonical, "26796942222222222222222222222169001165n");
        assert_eq!(q(&canonical).nano_value(), q(text).nano_value());
        assert_eq!(q(&canonical).canonical(), canonical);
    }

    #[test]
    fn nano_values_are_exact() {
        assert_eq!(q("1").nano_value(), Ok(1_000_000_000));
        assert_eq!(q("1000m").nano_value(), Ok(1_000_000_000));
        assert_eq!(q("0.1n").nano_value(), Ok(1));
        assert_eq!(q("1E").nano_value(), Ok(10i128.pow(27)));
        assert_eq!(q("-2").nano_value(), Ok(-2_000_000_000));
        assert_eq!(q("1Ki").nano_value(), Ok(1024 * 1_000_000_000));
    }
}
