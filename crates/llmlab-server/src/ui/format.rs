//! How numbers, money, dates, command lines and sentences are shown on the
//! pages. Escaping is maud's job (every `(value)` in a template is
//! HTML-escaped); these helpers only turn values into display text, or into
//! a URL path segment or a shell word, where HTML escaping alone is not
//! enough, and [`prose`] marks up the one construct reasons use.

use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use llmlab_core::Money;
use maud::{Markup, html};

use super::layout::kbd;
/// Dollars, counts and token counts read as in the CLI and the tips.
pub(super) use llmlab_core::display::{compact as tokens, count, usd};

/// The exact stored amount, for a `title` tooltip: `$0.000412345`.
#[must_use]
pub(super) fn usd_exact(money: Money) -> String {
    format!("${money}")
}

/// `1 call`, `1,234 calls`.
#[must_use]
pub(super) fn calls(n: u64) -> String {
    if n == 1 { "1 call".to_owned() } else { format!("{} calls", count(n)) }
}

/// `part` of `whole` as a percentage with one decimal, in integers: `42.1%`.
#[must_use]
pub(super) fn share(part: Money, whole: Money) -> String {
    let per_mille = scaled(part, whole, 1000);
    format!("{}.{}%", per_mille / 10, per_mille % 10)
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

/// A sentence written for the terminal (a recommendation, an unpriced
/// reason), with its `` `code` `` spans shown as inline code instead of raw
/// backticks. Every piece goes through maud's escaping, so a hostile model
/// name stays text; an unpaired backtick is kept as it is.
#[must_use]
pub(super) fn prose(text: &str) -> Markup {
    let pieces: Vec<&str> = text.split('`').collect();
    // Pieces at odd positions were between two backticks; with an even count
    // of pieces the last backtick has no partner and its text stays plain.
    let paired = if pieces.len().is_multiple_of(2) { pieces.len() - 1 } else { pieces.len() };
    html! {
        @for (i, piece) in pieces.iter().enumerate() {
            @if i >= paired {
                "`" (piece)
            } @else if i % 2 == 1 {
                (kbd(piece))
            } @else {
                (piece)
            }
        }
    }
}

/// `part / whole` scaled to `0..=scale`, rounded down, in integers.
#[must_use]
pub(super) fn scaled(part: Money, whole: Money, scale: i64) -> i64 {
    if whole.nanos() <= 0 || part.nanos() <= 0 {
        return 0;
    }
    let value = i128::from(part.nanos()) * i128::from(scale) / i128::from(whole.nanos());
    i64::try_from(value.clamp(0, i128::from(scale))).unwrap_or(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn the_tooltip_amount_is_exact() {
        assert_eq!(usd_exact(money("0.000412345")), "$0.000412345");
    }

    #[test]
    fn calls_and_shares_read_as_words_and_percentages() {
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
    fn backticked_spans_in_a_reason_become_escaped_inline_code() {
        let html = prose("`gpt-4o` is not in the price catalog; add a price with `llmlab prices set`").into_string();
        assert!(!html.contains('`'), "{html}");
        assert_eq!(html.matches("<code ").count(), 2, "{html}");
        assert!(html.contains(">gpt-4o</code> is not in the price catalog; add a price with <code "), "{html}");
        assert!(html.ends_with(">llmlab prices set</code>"), "{html}");
    }

    #[test]
    fn a_hostile_name_inside_backticks_stays_text_and_a_lone_backtick_stays_plain() {
        let html = prose("`<img src=x onerror=alert(1)>` & co").into_string();
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;</code> &amp; co"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert_eq!(prose("no code here").into_string(), "no code here");
        assert_eq!(prose("one ` backtick").into_string(), "one ` backtick");
        let odd = prose("`a` then ` b").into_string();
        assert!(odd.contains(">a</code> then ` b"), "{odd}");
        assert_eq!(prose("").into_string(), "");
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
