//! Tracked against billed: the drift of a day and the share of it LLMLab
//! never saw, and when a drift is worth an alert.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Money;

/// What LLMLab tracked and what the provider billed for one day (and
/// provider, model or project), and how far apart they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// Billed minus tracked: positive when the provider billed calls LLMLab never saw.
    pub untracked: Money,
    /// `untracked` as a percentage of the billed amount (one decimal), when something was billed.
    pub untracked_share_percent: Option<Decimal>,
}

impl Drift {
    /// The drift between `tracked` and `billed`.
    #[must_use]
    pub fn between(tracked: Money, billed: Money) -> Drift {
        let untracked = Money::from_nanos(billed.nanos().saturating_sub(tracked.nanos()));
        let untracked_share_percent = (billed.nanos() > 0).then(|| {
            (Decimal::from(untracked.nanos()) * Decimal::ONE_HUNDRED / Decimal::from(billed.nanos()))
                .round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        });
        Drift { untracked, untracked_share_percent }
    }
}

/// When a day's drift raises an alert: both bounds passed (more than
/// `min_share_percent` of the billed amount AND more than `min_usd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftThreshold {
    pub min_share_percent: Decimal,
    pub min_usd: Money,
}

impl Default for DriftThreshold {
    /// More than 5% and more than $1 on a day.
    fn default() -> Self {
        DriftThreshold { min_share_percent: Decimal::from(5), min_usd: Money::from_nanos(1_000_000_000) }
    }
}

impl DriftThreshold {
    /// Whether `drift` (either way: more billed than tracked, or more tracked than billed) passes both bounds.
    #[must_use]
    pub fn exceeded_by(&self, drift: &Drift) -> bool {
        let Some(share) = drift.untracked_share_percent else { return false };
        drift.untracked.nanos().unsigned_abs() > self.min_usd.nanos().unsigned_abs()
            && share.abs() > self.min_share_percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn the_untracked_share_is_of_the_billed_amount() {
        // $108.42 billed, $67.22 tracked: $41.20 LLMLab never saw, 38.0% of the day.
        let drift = Drift::between(usd("67.22"), usd("108.42"));
        assert_eq!(drift.untracked, usd("41.2"));
        assert_eq!(drift.untracked_share_percent, Some("38.0".parse().unwrap()));
        assert_eq!(Drift::between(usd("1"), Money::ZERO).untracked_share_percent, None);
    }

    #[test]
    fn an_alert_needs_more_than_five_percent_and_more_than_a_dollar() {
        let threshold = DriftThreshold::default();
        // 10% but only $0.50.
        assert!(!threshold.exceeded_by(&Drift::between(usd("4.5"), usd("5"))));
        // $2 but only 2%.
        assert!(!threshold.exceeded_by(&Drift::between(usd("98"), usd("100"))));
        // $1.01 and 10.1%.
        assert!(threshold.exceeded_by(&Drift::between(usd("9"), usd("10.01"))));
        // Tracked more than billed counts too.
        assert!(threshold.exceeded_by(&Drift::between(usd("12"), usd("10"))));
    }
}
