//! How numbers, money, dates and command lines are shown on the pages.
//! Escaping is maud's job (every `(value)` in a template is HTML-escaped);
//! these helpers only turn values into display text, or into a URL path
//! segment or a shell word, where HTML escaping alone is not enough.

use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use llmlab_core::Money;
use rust_decimal::{Decimal, RoundingStrategy};

/// Money for people: `$1,234.57`, `$0.42`, `$0.0042` (two significant digits
/// under a cent, so a cheap call never shows as `$0.00`), `$0.00` for zero.
#[must_use]
pub(super) fn usd(money: Money) -> String {
    let value = money.to_decimal_usd();
    let sign = if value.is_sign_negative() && !value.is_zero() { "-" } else { "" };
    let abs = value.abs();
    let cent = Decimal::new(1, 2);
    let text = if abs.is_zero() || abs >= cent {
        let rounded = abs.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        let text = format!("{rounded:.2}");
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, "00"));
        format!("{}.{fraction}", group_thousands(whole))
    } else {
        // The first non-zero digit is at decimal place `dp`; show one more.
        let mut dp = 3;
        while abs.round_dp_with_strategy(dp, RoundingStrategy::ToZero).is_zero() && dp < 9 {
            dp += 1;
        }
        abs.round_dp_with_strategy((dp + 1).min(9), RoundingStrategy::MidpointAwayFromZero).normalize().to_string()
    };
    format!("{sign}${text}")
}

/// The exact stored amount, for a `title` tooltip: `$0.000412345`.
#[must_use]
pub(super) fn usd_exact(money: Money) -> String {
    format!("${money}")
}

/// A count with thousands separators: `1,234,567`.
#[must_use]
pub(super) fn count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// `"1234567"` → `"1,234,567"` (digits only).
fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 call`, `1,234 calls`.
#[must_use]
pub(super) fn calls(n: u64) -> String {
    if n == 1 { "1 call".to_owned() } else { format!("{} calls", count(n)) }
}

/// `part` of `whole` as a percentage with one decimal, in integers: `42.1%`.
#[must_use]
pub(super) fn share(part: Money, whole: Money) -> String {
    let per_mille = super::chart::scaled(part, whole, 1000);
    format!("{}.{}%", per_mille / 10, per_mille % 10)
}

/// A token count in a few characters: `950`, `12.3k`, `4.5M`, `1.2B`.
#[must_use]
pub(super) fn tokens(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")];
    for (size, unit) in UNITS {
        if n >= size {
            // One decimal, rounded half up, in integers.
            let tenths = (u128::from(n) * 10 + u128::from(size) / 2) / u128::from(size);
            let (whole, tenth) = (tenths / 10, tenths % 10);
            return if tenth == 0 || whole >= 100 {
                format!("{whole}{unit}")
            } else {
                format!("{whole}.{tenth}{unit}")
            };
        }
    }
    n.to_string()
}

/// A percentage with one decimal: `87.5%`.
#[must_use]
pub(super) fn percent(value: f64) -> String {
    format!("{value:.1}%")
}

/// `2026-11-27` → `Nov 27`; anything else is returned as it is.
#[must_use]
pub(super) fn short_date(date: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mut parts = date.splitn(3, '-');
    let (Some(_), Some(month), Some(day)) = (parts.next(), parts.next(), parts.next()) else {
        return date.to_owned();
    };
    match (month.parse::<usize>(), day.parse::<u8>()) {
        (Ok(m @ 1..=12), Ok(d)) => format!("{} {d}", MONTHS[m - 1]),
        _ => date.to_owned(),
    }
}

/// An RFC 3339 time as `2026-11-27 14:03` in `tz`; unreadable input is returned as it is.
#[must_use]
pub(super) fn local_time(rfc3339: &str, tz: &TimeZone) -> String {
    rfc3339
        .parse::<Timestamp>()
        .map_or_else(|_| rfc3339.to_owned(), |t| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string())
}

/// Percent-encodes one URL path segment or query value (RFC 3986: all but
/// the unreserved characters), so a model named `a/b?c` stays one segment.
#[must_use]
pub(super) fn url_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// One shell word: kept bare when it is plainly safe, else single-quoted, so
/// a copied command does what it says whatever the model is called.
#[must_use]
pub(super) fn shell_word(value: &str) -> String {
    let safe = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'/' | b':' | b'@'));
    if safe { value.to_owned() } else { format!("'{}'", value.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn money_shows_cents_with_thousands_and_small_amounts_with_two_significant_digits() {
        assert_eq!(usd(Money::ZERO), "$0.00");
        assert_eq!(usd(money("1234.567")), "$1,234.57");
        assert_eq!(usd(money("1234567.005")), "$1,234,567.01");
        assert_eq!(usd(money("0.42")), "$0.42");
        assert_eq!(usd(money("0.01")), "$0.01");
        assert_eq!(usd(money("0.0042")), "$0.0042");
        assert_eq!(usd(money("0.00412345")), "$0.0041");
        assert_eq!(usd(money("0.000000001")), "$0.000000001");
        assert_eq!(usd(money("-12.5")), "-$12.50");
        assert_eq!(usd_exact(money("0.000412345")), "$0.000412345");
    }

    #[test]
    fn counts_and_tokens_are_short_and_grouped() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(tokens(950), "950");
        assert_eq!(tokens(1_000), "1k");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(tokens(999_960), "1000k");
        assert_eq!(tokens(4_550_000), "4.6M");
        assert_eq!(tokens(1_200_000_000), "1.2B");
        assert_eq!(percent(87.46), "87.5%");
        assert_eq!(calls(1), "1 call");
        assert_eq!(calls(1200), "1,200 calls");
        assert_eq!(share(money("1"), money("3")), "33.3%");
        assert_eq!(share(money("1"), Money::ZERO), "0.0%");
    }

    #[test]
    fn dates_read_as_month_and_day_and_times_in_the_account_zone() {
        assert_eq!(short_date("2026-11-07"), "Nov 7");
        assert_eq!(short_date("not a date"), "not a date");
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(local_time("2026-11-27T13:03:00Z", &paris), "2026-11-27 14:03");
        assert_eq!(local_time("garbage", &paris), "garbage");
    }

    #[test]
    fn url_components_keep_a_hostile_model_name_in_one_segment() {
        assert_eq!(url_component("gpt-4o_mini.v2~x"), "gpt-4o_mini.v2~x");
        assert_eq!(url_component("meta/llama 3?x=1&y"), "meta%2Fllama%203%3Fx%3D1%26y");
        assert_eq!(url_component("<img src=x>"), "%3Cimg%20src%3Dx%3E");
        assert_eq!(url_component("é"), "%C3%A9");
    }

    #[test]
    fn shell_words_are_quoted_when_the_shell_would_read_them_otherwise() {
        assert_eq!(shell_word("gpt-4o-mini"), "gpt-4o-mini");
        assert_eq!(shell_word("meta/llama-3:8b"), "meta/llama-3:8b");
        assert_eq!(shell_word("my model"), "'my model'");
        assert_eq!(shell_word("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
