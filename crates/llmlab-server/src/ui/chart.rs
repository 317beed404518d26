//! Inline SVG drawn on the server: the 30-day trend and horizontal share bars.
//! Geometry uses integer ratios of nano-USD, so no float ever touches money;
//! sizes go in attributes (not `style`), which the CSP allows.

use llmlab_api::DailySpend;
use llmlab_core::Money;
use maud::{Markup, html};

use super::format::{count, scaled, short_date, usd, usd_exact};

/// The chart's coordinate space: one 100-wide slot per day, 1000 high.
const SLOT: i64 = 100;
const HEIGHT: i64 = 1000;
const BAR: i64 = 70;
/// The least height of a day with spend, so a small day is still visible.
const MIN_BAR: i64 = 12;

/// The daily trend as a bar chart (the last bar is today), with its figures
/// for screen readers and as a table behind a disclosure.
#[must_use]
pub(super) fn trend(daily: &[DailySpend]) -> Markup {
    let total: Money = daily.iter().map(|d| d.cost_usd).sum();
    let calls: u64 = daily.iter().map(|d| d.calls).sum();
    let peak = daily.iter().max_by_key(|d| d.cost_usd);
    let max = peak.map_or(Money::ZERO, |d| d.cost_usd);
    let first = daily.first().map(|d| short_date(&d.date)).unwrap_or_default();
    let last = daily.last().map(|d| short_date(&d.date)).unwrap_or_default();
    let middle = daily.get(daily.len() / 2).map(|d| short_date(&d.date)).unwrap_or_default();
    let description = match peak {
        Some(p) if max > Money::ZERO => format!(
            "Daily spend from {first} to {last}: {} in total over {} calls; the highest day was {} with {}.",
            usd(total),
            count(calls),
            short_date(&p.date),
            usd(max)
        ),
        _ => format!("No spend from {first} to {last}."),
    };
    let width = SLOT * i64::try_from(daily.len()).unwrap_or(0).max(1);
    let today = daily.len().saturating_sub(1);
    html! {
        div class="flex items-baseline justify-between gap-2 text-xs text-slate-600" {
            span { "Peak " span id="trend-peak" class="font-medium text-slate-800" { (usd(max)) } " / day" }
            span { "30-day total " span id="trend-total" class="font-medium text-slate-800" title=(usd_exact(total)) { (usd(total)) } }
        }
        svg id="trend-chart" class="mt-2 h-40 w-full sm:h-48" viewBox={ "0 0 " (width) " " (HEIGHT) }
            preserveAspectRatio="none" role="img" aria-labelledby="trend-desc" data-total-usd=(total.to_string()) {
            desc id="trend-desc" { (description) }
            @for y in [HEIGHT / 4, HEIGHT / 2, HEIGHT * 3 / 4] {
                line x1="0" x2=(width) y1=(y) y2=(y) class="stroke-slate-200" stroke-width="1" vector-effect="non-scaling-stroke" {}
            }
            line x1="0" x2=(width) y1=(HEIGHT) y2=(HEIGHT) class="stroke-slate-300" stroke-width="1" vector-effect="non-scaling-stroke" {}
            @for (i, day) in daily.iter().enumerate() {
                @let h = if day.cost_usd > Money::ZERO { scaled(day.cost_usd, max, HEIGHT).max(MIN_BAR) } else { 0 };
                @let x = SLOT * i64::try_from(i).unwrap_or(0) + (SLOT - BAR) / 2;
                rect x=(x) y=(HEIGHT - h) width=(BAR) height=(h) data-date=(day.date) data-cost-usd=(day.cost_usd.to_string())
                    class=(if i == today { "fill-indigo-700" } else { "fill-indigo-400" }) {
                    title { (short_date(&day.date)) ": " (usd(day.cost_usd)) " · " (count(day.calls)) " calls" }
                }
            }
        }
        div class="mt-1 flex justify-between text-xs text-slate-600" aria-hidden="true" {
            span { (first) } span { (middle) } span { "Today" }
        }
        details class="mt-3 text-sm" {
            summary class="cursor-pointer rounded text-indigo-700 hover:underline focus-visible:outline-2 focus-visible:outline-indigo-600" { "Show the figures" }
            div class="mt-2 max-h-64 overflow-y-auto" role="group" aria-label="Spend per day" tabindex="0" {
                table class="w-full text-left text-sm" {
                    caption class="sr-only" { "Spend per day, last 30 days" }
                    thead { tr class="text-slate-600" { th scope="col" class="py-1 font-medium" { "Day" } th scope="col" class="py-1 text-right font-medium" { "Calls" } th scope="col" class="py-1 text-right font-medium" { "Spend" } } }
                    tbody {
                        @for day in daily.iter().rev() {
                            tr class="border-t border-slate-100" {
                                th scope="row" class="py-1 font-normal" { (day.date) }
                                td class="py-1 text-right tabular-nums" { (count(day.calls)) }
                                td class="py-1 text-right tabular-nums" title=(usd_exact(day.cost_usd)) { (usd(day.cost_usd)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A horizontal bar showing `part` of `whole`; decorative (the figure is in the text beside it).
#[must_use]
pub(super) fn share_bar(part: Money, whole: Money, fill: &str) -> Markup {
    let width = scaled(part, whole, 1000);
    let width = if part > Money::ZERO { width.max(8) } else { 0 };
    html! {
        svg class="h-2 w-full rounded-full bg-slate-100" viewBox="0 0 1000 10" preserveAspectRatio="none" aria-hidden="true" focusable="false" {
            rect x="0" y="0" width=(width) height="10" rx="5" class=(fill) {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    fn day(date: &str, cost: &str) -> DailySpend {
        DailySpend { date: date.to_owned(), cost_usd: money(cost), calls: 3 }
    }

    #[test]
    fn ratios_are_integers_clamped_to_the_scale() {
        assert_eq!(scaled(money("1"), money("4"), 1000), 250);
        assert_eq!(scaled(money("5"), money("4"), 1000), 1000);
        assert_eq!(scaled(money("1"), Money::ZERO, 1000), 0);
        assert_eq!(scaled(Money::from_nanos(i64::MAX), Money::from_nanos(i64::MAX), 1000), 1000);
    }

    #[test]
    fn the_tallest_day_fills_the_chart_and_small_days_stay_visible() {
        let svg = trend(&[day("2026-11-25", "0"), day("2026-11-26", "0.0001"), day("2026-11-27", "10")]).into_string();
        assert!(svg.contains(r#"y="0" width="70" height="1000" data-date="2026-11-27""#), "{svg}");
        assert!(svg.contains(r#"height="12" data-date="2026-11-26""#), "{svg}");
        assert!(svg.contains(r#"height="0" data-date="2026-11-25""#), "{svg}");
        assert!(svg.contains("the highest day was Nov 27 with $10.00"), "{svg}");
        assert!(svg.contains(r#"data-total-usd="10.0001""#), "{svg}");
    }

    #[test]
    fn a_month_without_spend_says_so() {
        let svg = trend(&[day("2026-11-26", "0"), day("2026-11-27", "0")]).into_string();
        assert!(svg.contains("No spend from Nov 26 to Nov 27."), "{svg}");
    }
}
