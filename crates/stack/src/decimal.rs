//! Exact decimals: `decimal(precision, scale)` values as whole units of
//! `10^-scale`, so no float is ever on their path.
//!
//! The API writes them as JSON strings (`"12.30"`): a JSON number would be
//! read as a float by most clients, and `0.1 + 0.2` would drift. Every
//! engine holds them exactly: NUMERIC or DECIMAL on the SQL servers, a
//! Number on DynamoDB, and on SQLite (which has no exact decimal) an
//! INTEGER of units, as SQL Server's `money` is. That INTEGER bounds the
//! precision at 18 digits on every engine, so a stack means the same
//! everywhere.

use std::fmt;

/// The most digits a decimal column holds (what a 64-bit integer of units
/// always holds).
pub const MAX_PRECISION: u8 = 18;

/// A decimal value: `units * 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Decimal {
    pub units: i64,
    pub scale: u8,
}

impl Decimal {
    /// `text` (`-12.3`, `7`, `0.05`) as a value of a `decimal(precision,
    /// scale)` column, at that scale. The error reads after "value ".
    pub fn parse(text: &str, precision: u8, scale: u8) -> Result<Decimal, String> {
        let shape = "is not a decimal (digits, with an optional sign and point: \"-12.30\")";
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || (digits.contains('.') && fraction.is_empty())
        {
            return Err(shape.into());
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > usize::from(scale) {
            return Err(format!(
                "has more than {scale} digit{} after the point; it is never rounded",
                if scale == 1 { "" } else { "s" }
            ));
        }
        let whole = whole.trim_start_matches('0');
        let most_whole = usize::from(precision - scale);
        if whole.len() > most_whole {
            return Err(format!(
                "is out of range for decimal({precision},{scale}): at most {most_whole} digit{} before the point",
                if most_whole == 1 { "" } else { "s" }
            ));
        }
        // At most 18 digits in all: the units fit an i64.
        let mut units: i64 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            units = units * 10 + i64::from(b - b'0');
        }
        for _ in fraction.len()..usize::from(scale) {
            units *= 10;
        }
        Ok(Decimal {
            units: if negative { -units } else { units },
            scale,
        })
    }

    /// The same value at another (larger or equal) scale, if it fits.
    pub fn rescale(self, scale: u8) -> Option<Decimal> {
        if scale < self.scale {
            let factor = 10i64.checked_pow(u32::from(self.scale - scale))?;
            return (self.units % factor == 0).then_some(Decimal {
                units: self.units / factor,
                scale,
            });
        }
        let factor = 10i64.checked_pow(u32::from(scale - self.scale))?;
        Some(Decimal {
            units: self.units.checked_mul(factor)?,
            scale,
        })
    }
}

/// The canonical text: exactly `scale` digits after the point.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.units < 0 { "-" } else { "" };
        let magnitude = self.units.unsigned_abs();
        if self.scale == 0 {
            return write!(f, "{sign}{magnitude}");
        }
        let factor = 10u64.pow(u32::from(self.scale));
        write!(
            f,
            "{sign}{}.{:0width$}",
            magnitude / factor,
            magnitude % factor,
            width = usize::from(self.scale)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str, p: u8, sc: u8) -> Result<String, String> {
        Decimal::parse(s, p, sc).map(|d| d.to_string())
    }

    #[test]
    fn values_keep_every_digit_at_the_column_scale() {
        assert_eq!(text("0.1", 10, 2).unwrap(), "0.10");
        assert_eq!(text("-0.05", 10, 2).unwrap(), "-0.05");
        assert_eq!(text("7", 10, 2).unwrap(), "7.00");
        assert_eq!(text("007.500", 10, 2).unwrap(), "7.50");
        assert_eq!(text("-0", 4, 0).unwrap(), "0");
        assert_eq!(
            text("9999999999999999.99", 18, 2).unwrap(),
            "9999999999999999.99"
        );
        assert_eq!(
            text("-999999999999999999", 18, 0).unwrap(),
            "-999999999999999999"
        );
    }

    #[test]
    fn nothing_is_rounded_or_guessed() {
        assert!(text("0.125", 10, 2)
            .unwrap_err()
            .contains("more than 2 digits"));
        assert!(text("10000000000000000", 18, 2)
            .unwrap_err()
            .contains("out of range"));
        for bad in [
            "", "-", ".5", "5.", "1e3", "+1", "1_000", " 1", "0x10", "1.2.3", "١",
        ] {
            assert!(text(bad, 10, 2).is_err(), "{bad}");
        }
    }

    #[test]
    fn sums_of_tenths_compare_exactly() {
        let a = Decimal::parse("0.1", 18, 9).unwrap();
        let b = Decimal::parse("0.2", 18, 9).unwrap();
        let c = Decimal::parse("0.3", 18, 9).unwrap();
        assert_eq!(a.units + b.units, c.units);
    }

    #[test]
    fn rescaling_never_loses_a_digit() {
        let d = Decimal::parse("12.30", 18, 2).unwrap();
        assert_eq!(d.rescale(4).unwrap().to_string(), "12.3000");
        assert_eq!(d.rescale(1).unwrap().to_string(), "12.3");
        assert_eq!(d.rescale(0), None);
        assert_eq!(
            Decimal {
                units: i64::MAX,
                scale: 0
            }
            .rescale(1),
            None
        );
    }
}
