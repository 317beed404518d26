//! `batch_api`: the on-demand calls repriced at the model's batch table.
//!
//! Only for models with a batch table. The saving is an upper bound: it
//! assumes every call not yet batched could wait for a batch result (up to 24
//! hours). Per-request fees such as web searches are the same on batch.

use rust_decimal::Decimal;

use crate::money::Money;

use super::mix::ModelMix;
use super::text::{class_name, count, percent, price, price_unit, priced_calls, usage_lines, usd, usd_exact};
use super::{Context, MONTH_DAYS, Tip, TipKind};

/// The tip for `mix`'s model, if batching its on-demand calls saves enough.
pub(super) fn tip(mix: &ModelMix<'_>, context: &Context) -> Option<Tip> {
    let id = &mix.entry.id;
    let tables = mix.tables(mix.entry.rates_on(context.on));
    let batch = tables.batch?;
    if mix.on_demand_calls() == 0 {
        return None;
    }
    let on_demand_lines = mix.lines(tables.on_demand, tables.fees, id).ok()?;
    let batch_lines = mix.lines(batch, tables.fees, id).ok()?;
    let sum = |lines: &[crate::cost::CostLine]| lines.iter().map(|l| l.cost_usd).sum::<Decimal>();
    // Only the on-demand share moves; the batched share already pays batch prices.
    let window_saving = mix.blend(sum(&on_demand_lines) - sum(&batch_lines), Decimal::ZERO);
    let monthly = context.worthwhile_saving(mix, window_saving)?;
    let mut assumptions = vec![
        "Upper bound: assumes none of these calls needs an answer within seconds (batch results arrive within 24 hours)."
            .to_owned(),
    ];
    assumptions.extend(usage_lines(context, mix));
    assumptions.push(format!("Prices on {} in USD, on demand → batch:", context.on));
    for (standard, batched) in on_demand_lines.iter().zip(&batch_lines) {
        let (name, unit) = class_name(standard.class);
        assumptions.push(format!(
            "{name}: {} {unit} at {} → {} {}",
            count(standard.quantity),
            price(standard.unit_price_usd),
            price(batched.unit_price_usd),
            price_unit(standard.class)
        ));
    }
    if let Some(above) = tables.long_context_above {
        assumptions.push(format!(
            "Priced at {id}'s long-context prices: prompts average {} tokens per call, above {}.",
            count(mix.average_prompt()),
            count(above)
        ));
    }
    Some(Tip {
        kind: TipKind::BatchApi,
        title: format!("Use the Batch API for {id}: save up to {}/mo", usd(monthly)),
        detail: detail(mix, window_saving, monthly),
        provider: Some(mix.entry.provider.clone()),
        current_model: Some(id.clone()),
        suggested_model: None,
        monthly_savings: Some(monthly),
        assumptions,
    })
}

fn detail(mix: &ModelMix<'_>, window_saving: Decimal, monthly: Money) -> String {
    let id = &mix.entry.id;
    format!(
        "{} of {id}'s {} ({}) ran on demand. At {id}'s Batch API prices they would have cost {} less in \
         the window: up to {} per {MONTH_DAYS}-day month, if none of them needs an answer within seconds \
         (evaluations, back-fills, nightly jobs).",
        count(mix.on_demand_calls()),
        priced_calls(mix.priced_calls),
        percent(Decimal::from(mix.on_demand_calls()), Decimal::from(mix.priced_calls)),
        usd_exact(window_saving),
        usd(monthly),
    )
}
