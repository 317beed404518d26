//! How numbers look in a terminal: token columns, the 30-day sparkline and
//! the budget bars (dollars and counts read as everywhere else, from
//! `llmlab_core::display`). Pure functions; integer arithmetic on money.

use llmlab_core::Money;
pub(crate) use llmlab_core::display::{count, usd};

/// Token counts in a column: `950`, `12.3k`, `4.5M`, `1.2B`.
pub(crate) fn tokens(n: u64) -> String {
    if n < 1_000 {
        return n.to_string();
    }
    for (unit, suffix) in [(1_000_000_000_u128, "B"), (1_000_000, "M"), (1_000, "k")] {
        // One decimal, rounded half up, in integers.
        let tenths = (u128::from(n) * 10 + unit / 2) / unit;
        if tenths >= 10 {
            return if tenths >= 1000 {
                format!("{}{suffix}", tenths / 10)
            } else {
                format!("{}.{}{suffix}", tenths / 10, tenths % 10)
            };
        }
    }
    n.to_string()
}

/// Word-wraps `text` to `width` columns, each line prefixed with `indent`.
pub(crate) fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    for paragraph in text.lines() {
        let mut line = String::from(indent);
        for word in paragraph.split_whitespace() {
            let used = line.chars().count();
            if used > indent.len() && used + 1 + word.chars().count() > width {
                out.push_str(&line);
                out.push('\n');
                line = String::from(indent);
            }
            if line.chars().count() > indent.len() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per value, scaled to the largest: zero days sit on the
/// baseline (`▁`) and any spend at all is at least one step above it.
pub(crate) fn sparkline(values: &[Money]) -> String {
    let positive = |m: &Money| u128::from(m.nanos().max(0).unsigned_abs());
    let max = values.iter().map(positive).max().unwrap_or(0);
    values
        .iter()
        .map(|v| {
            let v = positive(v);
            if v == 0 || max == 0 {
                return BLOCKS[0];
            }
            // Levels 1..=7, rounded to the nearest; a small day is never shown as zero.
            let level = ((v * 14 + max) / (2 * max)).max(1);
            BLOCKS[usize::try_from(level.min(7)).unwrap_or(7)]
        })
        .collect()
}

/// A bar of `width` cells, filled by `spent / amount` (capped at full).
pub(crate) fn bar(spent: Money, amount: Money, width: usize) -> (String, String) {
    let filled = cells(i128::from(spent.nanos()), amount, width);
    ("█".repeat(filled), "░".repeat(width - filled))
}

/// A budget bar that also shows what calls in flight hold: `spent` filled
/// (`█`), then `held` (`▒`), then the rest (`░`), capped at full.
pub(crate) fn held_bar(spent: Money, held: Money, amount: Money, width: usize) -> (String, String, String) {
    let filled = cells(i128::from(spent.nanos()), amount, width);
    let with_held = cells(i128::from(spent.nanos().max(0)) + i128::from(held.nanos().max(0)), amount, width);
    ("█".repeat(filled), "▒".repeat(with_held - filled), "░".repeat(width - with_held))
}

/// How many of `width` cells `part / amount` fills, rounded down, capped at `width`.
fn cells(part: i128, amount: Money, width: usize) -> usize {
    if amount.nanos() <= 0 {
        return width;
    }
    let cells = part.max(0) * width as i128 / i128::from(amount.nanos());
    usize::try_from(cells).unwrap_or(width).min(width)
}

/// The local day (`YYYY-MM-DD`) of an RFC 3339 instant in the IANA zone
/// `tz` (UTC when the zone is unknown); `None` when `instant` does not parse.
pub(crate) fn day_in(instant: &str, tz: &str) -> Option<String> {
    let at: jiff::Timestamp = instant.parse().ok()?;
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    Some(at.to_zoned(zone).date().to_string())
}

/// `42.5%`: one decimal, trailing `.0` dropped.
pub(crate) fn percent(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned) + "%"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn token_columns_always_show_one_decimal_so_they_line_up() {
        assert_eq!(tokens(999), "999");
        assert_eq!(tokens(1_250), "1.3k");
        assert_eq!(tokens(2_000_000), "2.0M");
        assert_eq!(tokens(999_999), "1.0M");
        assert_eq!(tokens(3_400_000_000), "3.4B");
    }

    #[test]
    fn the_sparkline_scales_to_the_largest_day_and_keeps_small_days_visible() {
        let days = [money("0"), money("1"), money("0.001"), money("10"), money("5"), money("9")];
        assert_eq!(sparkline(&days), "▁▂▂█▅▇");
        assert_eq!(sparkline(&[money("0"), money("0")]), "▁▁");
    }

    #[test]
    fn text_wraps_at_word_boundaries_with_an_indent() {
        assert_eq!(wrap("one two three four", 12, "  "), "  one two\n  three four\n");
        assert_eq!(wrap("averyveryverylongword x", 8, " "), " averyveryverylongword\n x\n");
    }

    #[test]
    fn the_budget_bar_fills_in_proportion_and_caps() {
        assert_eq!(bar(money("25"), money("100"), 20), ("█".repeat(5), "░".repeat(15)));
        assert_eq!(bar(money("250"), money("100"), 20), ("█".repeat(20), String::new()));
        assert_eq!(percent(80.0), "80%");
        assert_eq!(percent(12.345), "12.3%");
    }

    #[test]
    fn the_held_part_of_a_budget_bar_follows_the_spent_part_and_both_cap() {
        let cells = |(a, b, c): (String, String, String)| (a.chars().count(), b.chars().count(), c.chars().count());
        assert_eq!(cells(held_bar(money("25"), money("50"), money("100"), 20)), (5, 10, 5));
        assert_eq!(cells(held_bar(money("90"), money("50"), money("100"), 20)), (18, 2, 0));
        assert_eq!(cells(held_bar(money("120"), money("5"), money("100"), 20)), (20, 0, 0));
        assert_eq!(cells(held_bar(money("0"), money("0"), money("100"), 20)), (0, 0, 20));
    }

    #[test]
    fn a_crossing_instant_is_shown_as_its_day_in_the_account_time_zone() {
        assert_eq!(day_in("2026-12-07T23:30:00Z", "Asia/Tokyo").as_deref(), Some("2026-12-08"));
        assert_eq!(day_in("2026-12-07T23:30:00Z", "America/New_York").as_deref(), Some("2026-12-07"));
        assert_eq!(day_in("2026-12-07T23:30:00Z", "Not/AZone").as_deref(), Some("2026-12-07"));
        assert_eq!(day_in("soon", "UTC"), None);
    }
}
