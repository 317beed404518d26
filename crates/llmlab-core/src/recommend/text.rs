//! How figures are written in tips, and the assumption lines every rule shares.
//!
//! Display rounding happens only here, on copies: the figures themselves stay
//! exact until they become [`Money`].

use rust_decimal::{Decimal, RoundingStrategy};

use crate::display::with_min_decimals;
pub(super) use crate::display::{compact, count, usd};
use crate::money::Money;

use super::mix::ModelMix;
use super::{Context, MONTH_DAYS};

/// An exact decimal amount of USD, rounded once to [`Money`] and shown as [`usd`].
pub(super) fn usd_exact(amount: Decimal) -> String {
    Money::from_decimal_usd(amount).map_or_else(|_| format!("${amount}"), usd)
}

/// A catalog price, exactly as listed but with at least two decimals: `$2.50`, `$0.075`.
pub(super) fn price(per_unit: Decimal) -> String {
    format!("${}", with_min_decimals(per_unit.normalize(), 2, false))
}

/// `1 priced call`, `2,500 priced calls`.
pub(super) fn priced_calls(n: u64) -> String {
    if n == 1 { "1 priced call".to_owned() } else { format!("{} priced calls", count(n)) }
}

/// `part` as a percentage of `whole`, one decimal: `62.5%`.
pub(super) fn percent(part: Decimal, whole: Decimal) -> String {
    if whole.is_zero() {
        return "0.0%".into();
    }
    let share = (part * Decimal::ONE_HUNDRED / whole).round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
    format!("{}%", with_min_decimals(share, 1, false))
}

/// A token class (as `cost_lines` names it) in words, with its unit.
pub(super) fn class_name(class: &str) -> (&'static str, &'static str) {
    match class {
        "input" => ("uncached input", "tokens"),
        "input_audio" => ("audio input", "tokens"),
        "cache_read_audio" => ("cached audio reads", "tokens"),
        "cache_read" => ("cache reads", "tokens"),
        "cache_write_5m" => ("cache writes (5-minute)", "tokens"),
        "cache_write_1h" => ("cache writes (1-hour)", "tokens"),
        "output" => ("output", "tokens"),
        "output_audio" => ("audio output", "tokens"),
        "web_search" => ("web searches", "requests"),
        "web_fetch" => ("web fetches", "requests"),
        "file_search" => ("file search calls", "calls"),
        "container_session" => ("code interpreter containers", "sessions"),
        "grounded_prompt" => ("search-grounded prompts", "prompts"),
        _ => ("other", "units"),
    }
}

/// `per 1M` for token prices, `each` for per-request fees.
pub(super) fn price_unit(class: &str) -> &'static str {
    if crate::cost::is_request_fee_class(class) { "each" } else { "per 1M" }
}

/// The window and the month projection, stated on every tip.
pub(super) fn window_line(context: &Context, priced_calls: u64) -> String {
    let window = context.window;
    format!(
        "Usage window: {} to {} ({} days), {}; per month = window figure × {MONTH_DAYS} ÷ {} days.",
        window.first_day(),
        window.last_day(),
        window.days(),
        self::priced_calls(priced_calls),
        window.days(),
    )
}

/// The lines every per-model tip carries: window, unpriced calls, batch share,
/// recorded spend, and the stored ids when they differ from the catalog id.
pub(super) fn usage_lines(context: &Context, mix: &ModelMix<'_>) -> Vec<String> {
    let id = &mix.entry.id;
    let mut lines = vec![window_line(context, mix.priced_calls)];
    lines.push(format!(
        "Recorded spend on {id} in the window: {} (each call at the prices of its own date); the estimates use the catalog prices in force on {}.",
        usd_exact(mix.spend),
        context.on
    ));
    if let Some(names) = mix.reported_names() {
        lines.push(format!("Calls stored as {names} are all priced as the catalog's {id}."));
    }
    if mix.unpriced_calls() > 0 {
        lines.push(format!(
            "{} calls without a recorded cost are left out of every figure.",
            count(mix.unpriced_calls())
        ));
    }
    if mix.batch_calls > 0 {
        lines.push(format!(
            "{} of the {} calls already ran on batch/flex; their share of the tokens is taken to be their share of the calls and is priced at batch prices.",
            count(mix.batch_calls),
            count(mix.priced_calls)
        ));
    }
    lines
}
