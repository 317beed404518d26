//! One catalog model's usage over the window, and what its tokens cost at
//! any model's prices.
//!
//! The window's totals hide per-call sizes and the split between on-demand and
//! batch calls, so two estimates are made here, once, for every rule:
//! - long context: every call is billed like the average call (a model's
//!   long-context table is used when the average prompt is above its threshold);
//! - batch: the batched calls' share of the tokens is their share of the calls.

use rust_decimal::Decimal;

use crate::catalog::{Catalog, ModelEntry, PriceSet, RateCard, RequestFees};
use crate::cost::{CostLine, Unpriced, cost_lines};
use crate::usage::{TokenBuckets, TokenClass};

use super::ModelUsage;

/// The window's priced usage of one catalog model (rows of its snapshots and
/// aliases merged).
pub(super) struct ModelMix<'c> {
    pub(super) entry: &'c ModelEntry,
    /// The distinct model ids the rows were stored under.
    pub(super) reported_as: Vec<String>,
    pub(super) calls: u64,
    pub(super) priced_calls: u64,
    /// At most `priced_calls`.
    pub(super) batch_calls: u64,
    pub(super) buckets: TokenBuckets,
    /// The recorded spend in the window, in USD.
    pub(super) spend: Decimal,
}

/// The price tables a model bills the window's average call at.
pub(super) struct Tables<'c> {
    pub(super) on_demand: &'c PriceSet,
    pub(super) batch: Option<&'c PriceSet>,
    /// The long-context threshold the average prompt is above, if any.
    pub(super) long_context_above: Option<u64>,
    pub(super) fees: Option<&'c RequestFees>,
}

/// Merges the rows per catalog entry; rows the catalog cannot resolve, and
/// models without priced spend, are left out. Keeps the order of first appearance.
pub(super) fn model_mixes<'c>(catalog: &'c Catalog, usage: &[ModelUsage]) -> Vec<ModelMix<'c>> {
    let mut mixes: Vec<ModelMix<'c>> = Vec::new();
    for row in usage {
        let Some(found) = catalog.resolve(Some(&row.provider), &row.model) else {
            continue;
        };
        let position = mixes.iter().position(|m| m.entry.id == found.entry.id).unwrap_or_else(|| {
            mixes.push(ModelMix::empty(found.entry));
            mixes.len() - 1
        });
        mixes[position].add(row);
    }
    mixes.retain(|m| m.priced_calls > 0 && m.spend > Decimal::ZERO);
    mixes
}

impl<'c> ModelMix<'c> {
    fn empty(entry: &'c ModelEntry) -> Self {
        ModelMix {
            entry,
            reported_as: Vec::new(),
            calls: 0,
            priced_calls: 0,
            batch_calls: 0,
            buckets: TokenBuckets::default(),
            spend: Decimal::ZERO,
        }
    }

    fn add(&mut self, row: &ModelUsage) {
        if !self.reported_as.contains(&row.model) {
            self.reported_as.push(row.model.clone());
        }
        self.calls = self.calls.saturating_add(row.calls.max(row.priced_calls));
        self.priced_calls = self.priced_calls.saturating_add(row.priced_calls);
        self.batch_calls = self.batch_calls.saturating_add(row.batch_calls.min(row.priced_calls));
        self.buckets = saturating_sum(self.buckets, row.buckets);
        self.spend += row.cost.to_decimal_usd();
    }

    /// The calls that ran on demand (not batch or flex).
    pub(super) fn on_demand_calls(&self) -> u64 {
        self.priced_calls.saturating_sub(self.batch_calls)
    }

    /// The calls with no recorded cost, left out of every figure.
    pub(super) fn unpriced_calls(&self) -> u64 {
        self.calls.saturating_sub(self.priced_calls)
    }

    /// The stored model ids, when any differs from the catalog id (shown so
    /// that `gpt-4o-2024-08-06` users recognise their model as `gpt-4o`).
    pub(super) fn reported_names(&self) -> Option<String> {
        self.reported_as.iter().any(|name| *name != self.entry.id).then(|| self.reported_as.join(", "))
    }

    /// Blends a figure computed for all tokens at on-demand prices with the
    /// same figure at batch prices, by the share of batched calls.
    pub(super) fn blend(&self, on_demand: Decimal, batched: Decimal) -> Decimal {
        if self.batch_calls == 0 {
            return on_demand;
        }
        let batched_share = Decimal::from(self.batch_calls) / Decimal::from(self.priced_calls);
        on_demand - (on_demand - batched) * batched_share
    }

    /// Whether the average prompt per call is above `threshold` tokens,
    /// decided exactly in integers.
    pub(super) fn average_prompt_above(&self, threshold: u64) -> bool {
        u128::from(self.buckets.prompt_tokens()) > u128::from(threshold) * u128::from(self.priced_calls)
    }

    /// The average prompt (input, cache reads and writes) per priced call, whole tokens.
    pub(super) fn average_prompt(&self) -> u64 {
        self.buckets.prompt_tokens() / self.priced_calls
    }

    /// The tables `card` bills this usage at: its long-context tier when the
    /// average prompt is above the tier's threshold, its base tables otherwise.
    pub(super) fn tables<'r>(&self, card: &'r RateCard) -> Tables<'r> {
        let fees = card.request_fees.as_ref();
        match card.long_context.as_ref().filter(|tier| self.average_prompt_above(tier.above_prompt_tokens)) {
            Some(tier) => Tables {
                on_demand: &tier.standard,
                batch: tier.batch.as_ref(),
                long_context_above: Some(tier.above_prompt_tokens),
                fees,
            },
            None => Tables { on_demand: &card.standard, batch: card.batch.as_ref(), long_context_above: None, fees },
        }
    }

    /// The class-by-class cost of all the window's tokens at `prices`.
    pub(super) fn lines(
        &self,
        prices: &PriceSet,
        fees: Option<&RequestFees>,
        model: &str,
    ) -> Result<Vec<CostLine>, Unpriced> {
        cost_lines(prices, &self.buckets, fees, model)
    }

    /// The exact cost of the window's tokens: the on-demand share at
    /// `on_demand` prices, the batched share at `batch` prices (on-demand
    /// prices where the model has no batch table).
    pub(super) fn window_cost(
        &self,
        on_demand: &PriceSet,
        batch: Option<&PriceSet>,
        fees: Option<&RequestFees>,
        model: &str,
    ) -> Result<Decimal, Unpriced> {
        let total = |prices| self.lines(prices, fees, model).map(|lines| lines.iter().map(|l| l.cost_usd).sum());
        let on_demand_cost: Decimal = total(on_demand)?;
        let batched_cost = if self.batch_calls == 0 { on_demand_cost } else { total(batch.unwrap_or(on_demand))? };
        Ok(self.blend(on_demand_cost, batched_cost))
    }
}

/// Adds bucket sums without overflowing (rollups can hold very large sums).
fn saturating_sum(a: TokenBuckets, b: TokenBuckets) -> TokenBuckets {
    let mut sum = a;
    for &class in TokenClass::ALL {
        let total = class.of(&a).saturating_add(class.of(&b));
        *class.of_mut(&mut sum) = total;
    }
    sum
}
