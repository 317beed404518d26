//! How money and counts read to a person, the same in the CLI, on the
//! dashboard and in the recommendations' text. Display rounding happens only
//! here, on copies; stored and reported figures stay exact.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::money::Money;

/// USD for people: two decimals from $1 up (`$1,212.40`), three significant
/// digits below (`$0.50`, `$0.123`, `$0.0042`), so a cheap call never shows
/// as `$0.00`. Half away from zero.
#[must_use]
pub fn usd(amount: Money) -> String {
    let exact = amount.to_decimal_usd();
    let magnitude = exact.abs();
    let decimals = if magnitude >= Decimal::ONE || magnitude.is_zero() {
        2
    } else {
        (leading_fraction_zeros(magnitude) + 3).min(9)
    };
    let rounded = exact.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero);
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() { "-" } else { "" };
    format!("{sign}${}", with_min_decimals(rounded.abs().normalize(), 2, true))
}

/// A count with thousands separators: `1,234,567`.
#[must_use]
pub fn count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// A count in a few characters: `812`, `1k`, `45.3k`, `123k`, `1.2M`, `3.4B`
/// (one decimal below 100 of a unit, none when it is 0; rounded half up).
#[must_use]
pub fn compact(n: u64) -> String {
    const UNITS: [(u128, &str); 3] = [(1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")];
    for (size, suffix) in UNITS {
        if u128::from(n) >= size {
            let tenths = (u128::from(n) * 10 + size / 2) / size;
            let (whole, tenth) = (tenths / 10, tenths % 10);
            return if tenth == 0 || whole >= 100 {
                format!("{whole}{suffix}")
            } else {
                format!("{whole}.{tenth}{suffix}")
            };
        }
    }
    n.to_string()
}

fn leading_fraction_zeros(magnitude: Decimal) -> u32 {
    let mut zeros = 0;
    let mut scaled = magnitude * Decimal::TEN;
    while scaled < Decimal::ONE && zeros < 9 {
        zeros += 1;
        scaled *= Decimal::TEN;
    }
    zeros
}

/// Pads `value` to `min` decimals; optionally groups the integer part.
pub(crate) fn with_min_decimals(mut value: Decimal, min: u32, grouped: bool) -> String {
    if value.scale() < min {
        value.rescale(min);
    }
    let text = value.to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let whole = if grouped { group_thousands(whole) } else { whole.to_owned() };
    if fraction.is_empty() { whole } else { format!("{whole}.{fraction}") }
}

/// `"1234567"` → `"1,234,567"` (digits only).
fn group_thousands(digits: &str) -> String {
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn dollars_have_cents_from_one_dollar_and_three_significant_digits_below() {
        assert_eq!(usd(Money::ZERO), "$0.00");
        assert_eq!(usd(money("1")), "$1.00");
        assert_eq!(usd(money("212.4")), "$212.40");
        assert_eq!(usd(money("1500")), "$1,500.00");
        assert_eq!(usd(money("1234567.125")), "$1,234,567.13");
        assert_eq!(usd(money("1234567.891")), "$1,234,567.89");
        assert_eq!(usd(money("0.5")), "$0.50");
        assert_eq!(usd(money("0.42")), "$0.42");
        assert_eq!(usd(money("0.123456")), "$0.123");
        assert_eq!(usd(money("0.0042")), "$0.0042");
        assert_eq!(usd(money("0.0029425")), "$0.00294");
        assert_eq!(usd(money("0.000000001")), "$0.000000001");
        assert_eq!(usd(money("-2")), "-$2.00");
        assert_eq!(usd(money("-12.5")), "-$12.50");
    }

    #[test]
    fn counts_are_grouped_and_compact_counts_are_short() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(compact(812), "812");
        assert_eq!(compact(1_000), "1k");
        assert_eq!(compact(12_345), "12.3k");
        assert_eq!(compact(45_250), "45.3k");
        assert_eq!(compact(100_000), "100k");
        assert_eq!(compact(123_456), "123k");
        assert_eq!(compact(999_960), "1000k");
        assert_eq!(compact(1_200_000), "1.2M");
        assert_eq!(compact(4_550_000), "4.6M");
        assert_eq!(compact(3_400_000_000), "3.4B");
    }
}
