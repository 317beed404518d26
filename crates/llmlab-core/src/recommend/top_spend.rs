//! `top_spend`: the most expensive catalog models and their share of spend.
//!
//! One informational tip (no saving) naming up to [`RANKED_MODELS`] models;
//! its `current_model` is the most expensive one. Spend on models outside the
//! catalog counts in the total but is not ranked.

use rust_decimal::Decimal;

use super::mix::ModelMix;
use super::text::{count, percent, usd_exact};
use super::{Context, MONTH_DAYS, Tip, TipKind};

/// How many models the tip ranks.
pub(super) const RANKED_MODELS: usize = 3;

/// The tip, when there is any priced spend on a catalog model.
pub(super) fn tip(mixes: &[ModelMix<'_>], total_spend: Decimal, context: &Context) -> Option<Tip> {
    let mut ranked: Vec<&ModelMix<'_>> = mixes.iter().collect();
    ranked.sort_by(|a, b| b.spend.cmp(&a.spend).then_with(|| a.entry.id.cmp(&b.entry.id)));
    ranked.truncate(RANKED_MODELS);
    let top = ranked.first()?;
    let total = total_spend.max(mixes.iter().map(|m| m.spend).sum());
    let list: Vec<String> = ranked
        .iter()
        .enumerate()
        .map(|(rank, m)| {
            format!(
                "{}. {} ({}): {}, {} of spend, {} priced calls",
                rank + 1,
                m.entry.id,
                m.entry.provider,
                usd_exact(m.spend),
                percent(m.spend, total),
                count(m.priced_calls)
            )
        })
        .collect();
    let monthly = context
        .per_month(total)
        .map_or_else(String::new, |m| format!(" (about {} per {MONTH_DAYS}-day month)", usd_exact(m)));
    Some(Tip {
        kind: TipKind::TopSpend,
        title: format!("Top spend: {} is {} of your LLM spend", top.entry.id, percent(top.spend, total)),
        detail: format!(
            "From {} to {} you spent {} on priced calls{monthly}. Most expensive: {}.",
            context.window.first_day(),
            context.window.last_day(),
            usd_exact(total),
            list.join("; ")
        ),
        provider: Some(top.entry.provider.clone()),
        current_model: Some(top.entry.id.clone()),
        suggested_model: None,
        monthly_savings: None,
        assumptions: assumptions(mixes, total, context),
    })
}

fn assumptions(mixes: &[ModelMix<'_>], total: Decimal, context: &Context) -> Vec<String> {
    let window = context.window;
    let mut lines = vec![
        format!(
            "Usage window: {} to {} ({} days); per month = window figure × {MONTH_DAYS} ÷ {} days.",
            window.first_day(),
            window.last_day(),
            window.days(),
            window.days()
        ),
        "Shares are of the recorded spend on priced calls; calls without a cost count nowhere.".to_owned(),
    ];
    let outside_catalog = total - mixes.iter().map(|m| m.spend).sum::<Decimal>();
    if outside_catalog > Decimal::ZERO {
        lines.push(format!(
            "{} spent on models outside the price catalog counts in the total but is not ranked.",
            usd_exact(outside_catalog)
        ));
    }
    lines
}
