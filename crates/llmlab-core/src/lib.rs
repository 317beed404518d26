//! LLMLab's pure core: the price catalog, usage normalization and exact cost.
//!
//! Nothing here does I/O. The server, the proxy and the CLI all hand raw
//! provider responses (or just their usage objects) to this crate, so there is
//! exactly one place that knows each provider's billing rules.

pub mod agent_logs;
pub mod alert;
pub mod budget;
pub mod catalog;
pub mod catalog_import;
pub mod catalog_update;
pub mod cost;
pub mod display;
pub mod money;
pub mod normalize;
pub mod otel;
pub mod price_check;
pub mod provider;
pub mod provider_report;
pub mod recommend;
pub mod report;
pub mod reserve;
pub mod served;
pub mod token_class;
pub mod usage;

pub use catalog::{Catalog, ModelEntry, PriceSet, RateCard};
pub use cost::{
    CostLine, PriceSource, Pricing, Quote, Unpriced, UnpricedCode, price_usage, refused_call, refused_note,
};
pub use money::Money;
pub use normalize::{Hints, NormalizeError, ResponseAccumulator, normalize_body, normalize_usage_json};
pub use provider::Provider;
pub use recommend::{ModelUsage, Tip, TipKind, Window, recommend};
pub use report::CostReport;
pub use reserve::{Reservation, ReserveError, WorstCase, reserve};
pub use usage::{Anomaly, ApiKind, NormalizedUsage, Partial, ServiceTier, TokenBuckets, TokenClass, Uplifts};
