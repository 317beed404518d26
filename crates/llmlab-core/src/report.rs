//! The one-call cost report that `llmlab cost --json` prints and the fixture
//! tests compare against.

use serde::Serialize;

use crate::catalog::ModelMatch;
use crate::cost::{CostLine, PriceSource, Pricing};
use crate::money::Money;
use crate::provider::Provider;
use crate::usage::{Anomaly, ApiKind, NormalizedUsage, ServiceTier, TokenBuckets};

/// A normalized call and its price, flattened for humans and scripts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[allow(clippy::struct_excessive_bools)] // each is a fact of the flat `llmlab cost --json` object
pub struct CostReport {
    pub provider: Provider,
    pub model: Option<String>,
    pub api: Option<ApiKind>,
    pub priced: bool,
    /// Decimal string, or `null` when the call is unpriced.
    pub cost_usd: Option<Money>,
    #[serde(flatten)]
    pub buckets: TokenBuckets,
    pub service_tier: ServiceTier,
    /// The price table used, when priced (differs from `service_tier` on fallback).
    pub price_table: Option<ServiceTier>,
    pub long_context: bool,
    pub priced_as: Option<String>,
    pub model_match: Option<ModelMatch>,
    pub price_source: Option<PriceSource>,
    pub unpriced_reason: Option<String>,
    /// How the cost adds up, class by class (empty when unpriced).
    pub lines: Vec<CostLine>,
    pub anomalies: Vec<Anomaly>,
    pub notes: Vec<String>,
    /// The stream was cut off: the cost is a lower bound ("at least $X").
    pub partial: bool,
    /// Why the usage is a lower bound, when `partial`.
    pub partial_reason: Option<String>,
    /// The output tokens were estimated from the streamed text (see `partial_reason`).
    pub estimated: bool,
}

impl CostReport {
    #[must_use]
    pub fn new(usage: &NormalizedUsage, model: Option<&str>, pricing: &Pricing) -> Self {
        let quote = pricing.result.as_ref().ok();
        let mut notes = usage.notes.clone();
        if let Some(q) = quote {
            notes.extend(q.notes.iter().cloned());
        }
        CostReport {
            provider: usage.provider.clone(),
            model: model.map(str::to_owned).or_else(|| usage.model.clone()),
            api: usage.api,
            priced: quote.is_some(),
            cost_usd: quote.map(|q| q.cost),
            buckets: usage.buckets,
            service_tier: usage.service_tier,
            price_table: quote.map(|q| q.table),
            long_context: quote.is_some_and(|q| q.long_context),
            priced_as: pricing.priced_as.clone(),
            model_match: pricing.model_match,
            price_source: pricing.source,
            unpriced_reason: pricing.result.as_ref().err().map(ToString::to_string),
            lines: quote.map(|q| q.lines.clone()).unwrap_or_default(),
            anomalies: usage.anomalies.clone(),
            notes,
            partial: usage.partial.is_some(),
            partial_reason: usage.partial.as_ref().map(|p| p.reason.clone()),
            estimated: usage.partial.as_ref().is_some_and(|p| p.estimated),
        }
    }
}
