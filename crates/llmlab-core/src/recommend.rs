//! Cost-saving recommendations from the catalog and a user's own usage
//! (SPEC §9, issue #6). Pure: the caller passes the window's totals per model
//! and the date whose prices apply; nothing here reads a clock or a database.
//!
//! Four kinds of tip, each computed by its own submodule:
//!
//! - [`TipKind::SwitchModel`] (`switch_model.rs`): the user's actual token mix
//!   repriced at each of the catalog's `alternatives` for the model (current
//!   models of the same provider and kind); the one with the largest saving is
//!   suggested, the others are listed in its assumptions.
//! - [`TipKind::PromptCaching`] (`prompt_caching.rs`): large uncached inputs
//!   with few cache reads, assuming part of the input is a repeated prefix.
//! - [`TipKind::BatchApi`] (`batch_api.rs`): the on-demand share repriced at
//!   the batch table, as an upper bound.
//! - [`TipKind::TopSpend`] (`top_spend.rs`): the three most expensive models
//!   with their share of spend; informational, no saving.
//!
//! Every saving is exact `Decimal` arithmetic over the window's tokens,
//! scaled to a 30-day month and rounded once into [`Money`]. A saving under
//! [`MIN_MONTHLY_SAVING_USD`] or under [`MIN_SAVING_PERCENT_OF_SPEND`]% of the
//! model's spend gives no tip. Each tip's `detail` and `assumptions` state the
//! figures it rests on, so a user can check it by hand.
//!
//! Models the catalog does not know (or that only an unknown provider serves)
//! get no tip of any kind: without a catalog price there is nothing to compare.

mod batch_api;
mod mix;
mod prompt_caching;
mod switch_model;
mod text;
mod top_spend;

#[cfg(test)]
mod tests;

use jiff::Span;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::money::Money;
use crate::provider::Provider;
use crate::usage::TokenBuckets;

use mix::ModelMix;

/// A month, for every "per month" figure: the window's figure × 30 / its days.
pub const MONTH_DAYS: u32 = 30;

/// No saving tip below this many USD per month.
pub const MIN_MONTHLY_SAVING_USD: Decimal = Decimal::ONE;

/// No saving tip below this percentage of the model's own spend.
pub const MIN_SAVING_PERCENT_OF_SPEND: u32 = 5;

/// One model's usage over the window, as the server's rollups sum it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelUsage {
    /// The provider the events were recorded under.
    pub provider: Provider,
    /// The model id as stored with the events (snapshots and aliases are fine:
    /// rows that resolve to one catalog entry are merged).
    pub model: String,
    /// Every call in the window, priced or not.
    pub calls: u64,
    /// The calls that have a cost; `buckets` and `cost` cover these.
    pub priced_calls: u64,
    /// The sums of the disjoint token buckets over the priced calls.
    pub buckets: TokenBuckets,
    /// The recorded spend of the priced calls in the window.
    pub cost: Money,
    /// How many of the priced calls ran on the Batch API or flex processing
    /// (billed at batch prices). Their share of `buckets` is taken to be their
    /// share of the calls, since the rollups do not split tokens by tier.
    pub batch_calls: u64,
}

/// The days the usage was summed over, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    first_day: Date,
    last_day: Date,
    days: u32,
}

impl Window {
    /// The days from `first_day` to `last_day`, both included; `None` when
    /// `last_day` is before `first_day`.
    #[must_use]
    pub fn new(first_day: Date, last_day: Date) -> Option<Window> {
        let span = last_day.since(first_day).ok()?;
        let days = u32::try_from(span.get_days()).ok()?.checked_add(1)?;
        Some(Window { first_day, last_day, days })
    }

    /// The `days` days ending with (and including) `last_day`, e.g. the last
    /// 30 days; `None` for 0 days or a start before the calendar's range.
    #[must_use]
    pub fn ending_on(last_day: Date, days: u32) -> Option<Window> {
        let back = Span::new().try_days(i64::from(days.checked_sub(1)?)).ok()?;
        Window::new(last_day.checked_sub(back).ok()?, last_day)
    }

    /// The first day of the window.
    #[must_use]
    pub fn first_day(&self) -> Date {
        self.first_day
    }

    /// The last day of the window.
    #[must_use]
    pub fn last_day(&self) -> Date {
        self.last_day
    }

    /// How many days the window has (at least 1).
    #[must_use]
    pub fn days(&self) -> u32 {
        self.days
    }
}

/// What a tip proposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TipKind {
    /// Move a model's workload to a cheaper current model.
    SwitchModel,
    /// Cache a repeated prompt prefix.
    PromptCaching,
    /// Send calls that can wait through the Batch API.
    BatchApi,
    /// The most expensive models and their share of spend (no saving).
    TopSpend,
}

impl TipKind {
    /// The wire name: `switch_model`, `prompt_caching`, `batch_api`, `top_spend`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TipKind::SwitchModel => "switch_model",
            TipKind::PromptCaching => "prompt_caching",
            TipKind::BatchApi => "batch_api",
            TipKind::TopSpend => "top_spend",
        }
    }
}

/// One recommendation, ready to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tip {
    /// What the tip proposes; [`TipKind::as_str`] is the API's `kind`.
    pub kind: TipKind,
    /// One line, e.g. `Switch gpt-4o → gpt-4o-mini: save $212.40/mo on 1.2M calls`.
    pub title: String,
    /// A paragraph with the figures the tip rests on.
    pub detail: String,
    /// The provider of `current_model`.
    pub provider: Option<Provider>,
    /// The catalog id of the model the tip is about.
    pub current_model: Option<String>,
    /// The catalog id of the model to move to (`switch_model` only).
    pub suggested_model: Option<String>,
    /// The estimated saving per 30-day month; `None` for informational tips.
    pub monthly_savings: Option<Money>,
    /// The figures and assumptions behind the tip, one per line.
    pub assumptions: Vec<String>,
}

/// The tips for `usage` summed over `window`, priced at the catalog rates in
/// force `on` (normally the window's last day). Monthly figures are the
/// window's × 30 / its days, so a window reaching back before the account's
/// first call understates them (conservative), and a short one extrapolates.
///
/// Order: tips with a saving first, largest monthly saving first (ties:
/// switch, caching, batch, then model id); then the one `top_spend` tip.
/// Savings of different tips for one model overlap and do not add up; such
/// tips say so in their assumptions.
#[must_use]
pub fn recommend(catalog: &Catalog, usage: &[ModelUsage], window: Window, on: Date) -> Vec<Tip> {
    let context = Context { window, on };
    let mixes = mix::model_mixes(catalog, usage);
    let mut tips: Vec<Tip> = mixes
        .iter()
        .flat_map(|m| {
            [switch_model::tip(catalog, m, &context), prompt_caching::tip(m, &context), batch_api::tip(m, &context)]
        })
        .flatten()
        .collect();
    note_overlapping_tips(&mut tips);
    tips.sort_by(|a, b| {
        b.monthly_savings.cmp(&a.monthly_savings).then(a.kind.cmp(&b.kind)).then(a.current_model.cmp(&b.current_model))
    });
    let total_spend = usage.iter().map(|u| u.cost.to_decimal_usd()).sum();
    tips.extend(top_spend::tip(&mixes, total_spend, &context));
    tips
}

/// What every rule needs besides the model's usage.
struct Context {
    window: Window,
    /// The date whose catalog prices are used.
    on: Date,
}

impl Context {
    /// A window figure scaled to a 30-day month, exact until rounded by the caller.
    fn per_month(&self, window_usd: Decimal) -> Option<Decimal> {
        window_usd.checked_mul(Decimal::from(MONTH_DAYS))?.checked_div(Decimal::from(self.window.days))
    }

    /// The monthly saving, rounded once, when `window_saving` is worth a tip:
    /// at least the minimum in dollars and in share of the model's spend.
    fn worthwhile_saving(&self, mix: &ModelMix<'_>, window_saving: Decimal) -> Option<Money> {
        // Both sides are window figures, so the month scaling cancels out.
        let below_share = window_saving.checked_mul(Decimal::ONE_HUNDRED)?
            < mix.spend.checked_mul(Decimal::from(MIN_SAVING_PERCENT_OF_SPEND))?;
        let monthly = self.per_month(window_saving)?;
        if below_share || monthly < MIN_MONTHLY_SAVING_USD {
            return None;
        }
        Money::from_decimal_usd(monthly).ok()
    }
}

/// Tips for one model are each computed from today's usage, so their savings
/// overlap (batching after switching saves half of the smaller bill); say so.
fn note_overlapping_tips(tips: &mut [Tip]) {
    let kinds_for = |model: &Option<String>, tips: &[Tip]| -> Vec<&'static str> {
        tips.iter().filter(|t| &t.current_model == model).map(|t| t.kind.as_str()).collect()
    };
    let notes: Vec<Option<String>> = tips
        .iter()
        .map(|tip| {
            let others: Vec<&str> =
                kinds_for(&tip.current_model, tips).into_iter().filter(|k| *k != tip.kind.as_str()).collect();
            let tips = if others.len() == 1 { "tip" } else { "tips" };
            (!others.is_empty()).then(|| {
                format!(
                    "Not additive: the {} {tips} for this model start from the same usage, so the savings overlap.",
                    others.join(" and ")
                )
            })
        })
        .collect();
    for (tip, note) in tips.iter_mut().zip(notes) {
        tip.assumptions.extend(note);
    }
}
