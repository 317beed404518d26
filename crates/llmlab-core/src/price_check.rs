//! Prices people type are checked for the two slips that have priced every
//! call a thousand or a million times off in other trackers (LiteLLM #20615:
//! a per-1M price entered per token blocked every user): a price per token
//! where a price per 1M tokens is asked, and a price a thousand times off the
//! catalog's for the same model (per 1K for per 1M, or a slipped decimal
//! point). Neither is an error for sure, so a caller may force the price.

use rust_decimal::Decimal;

use crate::catalog::PriceSet;

/// Below this many USD per 1M tokens a price is taken for a per-token price
/// (the cheapest priced models cost about $0.01 per 1M).
pub const PER_TOKEN_BELOW: Decimal = Decimal::from_parts(1, 0, 0, false, 3);
/// How many times off the catalog a price must be to be doubted.
pub const FAR_FACTOR: i64 = 1000;

/// Why an entered price looks wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PriceDoubt {
    #[error(
        "${value} per 1M tokens looks like a price per token (it would be ${per_million} per 1M if it is); prices here are USD per 1M tokens"
    )]
    PerToken { value: Decimal, per_million: Decimal },
    #[error("${value} per 1M tokens is {factor} times {direction} the catalog's ${catalog} for this model")]
    FarFromCatalog { value: Decimal, catalog: Decimal, factor: Decimal, direction: &'static str },
}

/// A doubt about `value` (USD per 1M tokens) for a token class whose catalog
/// price, if the model is in the catalog, is `catalog`.
#[must_use]
pub fn doubt(value: Decimal, catalog: Option<Decimal>) -> Option<PriceDoubt> {
    if value > Decimal::ZERO && value < PER_TOKEN_BELOW {
        return Some(PriceDoubt::PerToken {
            value: value.normalize(),
            per_million: (value * Decimal::from(1_000_000)).normalize(),
        });
    }
    let catalog = catalog.filter(|c| *c > Decimal::ZERO)?;
    if value <= Decimal::ZERO {
        return None;
    }
    let far = Decimal::from(FAR_FACTOR);
    let (factor, direction) = if value >= catalog { (value / catalog, "above") } else { (catalog / value, "below") };
    (factor >= far).then(|| PriceDoubt::FarFromCatalog {
        value: value.normalize(),
        catalog: catalog.normalize(),
        factor: factor.round_dp(0).normalize(),
        direction,
    })
}

/// The catalog's price of each class an entered price names: input, output,
/// cache read, cache write (5-minute), cache write (1-hour).
#[must_use]
pub fn catalog_prices(standard: &PriceSet) -> [Option<Decimal>; 5] {
    [Some(standard.input), Some(standard.output), standard.cache_read, standard.cache_write_5m, standard.cache_write_1h]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn a_per_token_price_is_doubted_with_its_per_million_value() {
        let doubt = doubt(d("0.0000025"), None).unwrap();
        assert_eq!(doubt, PriceDoubt::PerToken { value: d("0.0000025"), per_million: d("2.5") });
        assert_eq!(
            doubt.to_string(),
            "$0.0000025 per 1M tokens looks like a price per token (it would be $2.5 per 1M if it is); prices here are USD per 1M tokens"
        );
        assert_eq!(super::doubt(d("0.001"), None), None, "a tenth of a cent per 1M is a real price");
        assert_eq!(super::doubt(Decimal::ZERO, None), None, "free is a price");
    }

    #[test]
    fn a_price_a_thousand_times_off_the_catalog_is_doubted_either_way() {
        assert_eq!(
            super::doubt(d("2500"), Some(d("2.5"))).unwrap().to_string(),
            "$2500 per 1M tokens is 1000 times above the catalog's $2.5 for this model"
        );
        assert!(matches!(
            super::doubt(d("0.01"), Some(d("10"))),
            Some(PriceDoubt::FarFromCatalog { direction: "below", .. })
        ));
        assert_eq!(super::doubt(d("2499"), Some(d("2.5"))), None, "999.6 times is not doubted");
        assert_eq!(super::doubt(d("30"), Some(d("2.5"))), None, "a negotiated or fine-tuned price can differ a lot");
        assert_eq!(super::doubt(d("5"), Some(Decimal::ZERO)), None, "nothing to compare with a free model");
    }
}
