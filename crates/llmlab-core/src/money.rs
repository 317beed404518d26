//! Money as an exact integer number of nano-US-dollars.
//!
//! Costs are computed in `Decimal` for a whole event and rounded exactly once
//! (banker's rounding) into [`Money`]; sums of `Money` are plain integer sums, so
//! a million events add up to the sum of their parts to the last stored digit.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Digits kept after the decimal point: 1 unit = 1e-9 USD.
pub const NANO_SCALE: u32 = 9;

/// An exact amount of US dollars, stored as nano-USD.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// Why a decimal could not become [`Money`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("`{0}` is not a decimal number")]
    NotADecimal(String),
    #[error("`{0}` is outside the range LLMLab can store (about ±9.2 billion USD)")]
    OutOfRange(String),
}

impl Money {
    pub const ZERO: Money = Money(0);
    /// The largest amount an `i64` of nano-USD holds: about 9.2 billion USD.
    /// An account's all-time total stays below it (the store refuses a
    /// write that would pass it), so every sum of its costs fits.
    pub const MAX: Money = Money(i64::MAX);
    /// The most one event may cost: one million USD, thousands of times the
    /// dearest real call (a full-context call to the dearest model costs
    /// well under 1,000 USD), yet small enough that a batch's sum cannot
    /// overflow. An event that claims more is refused, not stored.
    pub const MAX_PER_EVENT: Money = Money(1_000_000 * 1_000_000_000);

    /// Wraps an integer count of nano-USD.
    #[must_use]
    pub const fn from_nanos(nanos: i64) -> Self {
        Money(nanos)
    }

    /// The stored integer count of nano-USD.
    #[must_use]
    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Rounds an exact decimal amount of USD once, half to even, to nano-USD.
    pub fn from_decimal_usd(usd: Decimal) -> Result<Self, MoneyError> {
        let rounded = usd.round_dp_with_strategy(NANO_SCALE, RoundingStrategy::MidpointNearestEven);
        let nanos = rounded
            .checked_mul(Decimal::from(1_000_000_000_i64))
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| MoneyError::OutOfRange(usd.to_string()))?;
        Ok(Money(nanos))
    }

    /// The exact amount in USD as a decimal with nine fractional digits at most.
    #[must_use]
    pub fn to_decimal_usd(self) -> Decimal {
        Decimal::new(self.0, NANO_SCALE)
    }

    /// Checked addition; `None` on overflow.
    #[must_use]
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }
}

impl fmt::Display for Money {
    /// Shortest exact decimal form: `0.0029425`, `12`, `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal_usd().normalize())
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Parses a decimal string of USD (`"0.25"`, `"12"`); more than nine
    /// fractional digits are rounded half to even.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let usd = Decimal::from_str_exact(trimmed)
            .or_else(|_| Decimal::from_scientific(trimmed))
            .map_err(|_| MoneyError::NotADecimal(s.to_owned()))?;
        Money::from_decimal_usd(usd)
    }
}

/// Sums never wrap: the store keeps every account's total below
/// [`Money::MAX`], so an overflow here is a broken invariant and panics
/// loudly instead of showing a wrong (negative) total. Use
/// [`Money::checked_add`] where the operands are not such a total's parts.
impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        self.checked_add(rhs).expect("a sum of money stays within an account's stored total")
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        *self = *self + rhs;
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0.checked_sub(rhs.0).expect("a difference of money stays within the stored range"))
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

/// On the wire money is always a decimal string (SPEC §11).
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_to_even_exactly_once() {
        let half_up = Decimal::from_str("0.0000000025").unwrap();
        assert_eq!(Money::from_decimal_usd(half_up).unwrap().nanos(), 2);
        let half_odd = Decimal::from_str("0.0000000035").unwrap();
        assert_eq!(Money::from_decimal_usd(half_odd).unwrap().nanos(), 4);
    }

    #[test]
    fn displays_the_shortest_exact_form() {
        assert_eq!(Money::from_nanos(2_942_500).to_string(), "0.0029425");
        assert_eq!(Money::from_nanos(12_000_000_000).to_string(), "12");
        assert_eq!(Money::ZERO.to_string(), "0");
        assert_eq!(Money::from_nanos(-1).to_string(), "-0.000000001");
    }

    #[test]
    fn parses_decimal_strings_and_rejects_the_rest() {
        assert_eq!("0.25".parse::<Money>().unwrap().nanos(), 250_000_000);
        assert_eq!(" 12 ".parse::<Money>().unwrap().nanos(), 12_000_000_000);
        assert!(matches!("abc".parse::<Money>(), Err(MoneyError::NotADecimal(_))));
        assert!(matches!("99999999999999".parse::<Money>(), Err(MoneyError::OutOfRange(_))));
    }

    #[test]
    fn the_per_event_maximum_is_a_million_dollars_and_sums_never_wrap() {
        assert_eq!(Money::MAX_PER_EVENT.to_string(), "1000000");
        assert_eq!(Money::MAX.to_string(), "9223372036.854775807");
        assert_eq!(Money::MAX.checked_add(Money::from_nanos(1)), None);
        let wrapped = std::panic::catch_unwind(|| Money::MAX + Money::from_nanos(1));
        assert!(wrapped.is_err(), "an overflowing sum must not wrap to a negative total");
    }

    #[test]
    fn serializes_as_a_string() {
        let json = serde_json::to_string(&Money::from_nanos(1_500_000_000)).unwrap();
        assert_eq!(json, "\"1.5\"");
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back.nanos(), 1_500_000_000);
    }
}
