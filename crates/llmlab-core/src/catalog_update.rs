//! Replacing the catalog in force with a newer one without a release
//! (`llmlab prices update`): the checks a new catalog must pass beyond the
//! built-in validation ([`Catalog::from_toml`]), and what it changes.
//!
//! A catalog's version is its `updated` date. An update must be at least as
//! new as the catalog in force; a model whose prices take effect in the
//! future must say what it costs until then (a history period ending on that
//! date), so a scheduled change applies from its date and not before; and
//! prices that look like a slip ([`crate::price_check`]) are refused unless
//! forced, as entered custom prices are.

use std::fmt;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::catalog::{Catalog, ModelEntry, PriceSet, RateCard};
use crate::price_check::{self, PriceDoubt};
use crate::provider::Provider;

/// Why an update is refused (beyond the file failing [`Catalog::from_toml`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpdateRefusal {
    #[error(
        "this catalog was last updated on {offered}, before the one in force ({in_force}); an update must be at \
         least as new as the catalog it replaces"
    )]
    Older { offered: Date, in_force: Date },
    #[error(
        "`{model}`: its prices take effect on {effective_from}, in the future, but no `[[models.history]]` period \
         ends on that date, so nothing says what it costs until then; add the prices in force until then as a \
         history period"
    )]
    FutureWithoutHistory { model: String, effective_from: Date },
    #[error("`{model}` {table} {class}: {doubt}. If it is right, apply the update with `--force`")]
    Doubtful { model: String, table: String, class: &'static str, doubt: Box<PriceDoubt> },
}

/// Checks that `offered` may replace `in_force` on `today`: its version, its
/// scheduled prices, and (unless `force`) the prices it adds or changes.
pub fn check_update(in_force: &Catalog, offered: &Catalog, today: Date, force: bool) -> Result<(), UpdateRefusal> {
    if offered.updated() < in_force.updated() {
        return Err(UpdateRefusal::Older { offered: offered.updated(), in_force: in_force.updated() });
    }
    for entry in offered.models() {
        let covered = entry.history.last().is_some_and(|period| period.until == entry.effective_from);
        if entry.effective_from > today && !covered {
            return Err(UpdateRefusal::FutureWithoutHistory {
                model: entry.id.clone(),
                effective_from: entry.effective_from,
            });
        }
    }
    if force {
        return Ok(());
    }
    for entry in offered.models() {
        let before = in_force.entry(&entry.id).map(|old| &old.rates);
        if before == Some(&entry.rates) {
            continue;
        }
        for (table, set) in tables(&entry.rates) {
            let known = before.and_then(|card| table_of(card, &table)).map(price_check::catalog_prices);
            for (i, (class, value)) in named_prices(set).into_iter().enumerate() {
                let Some(value) = value else { continue };
                let catalog = known.and_then(|prices| prices.get(i).copied().flatten());
                if let Some(doubt) = price_check::doubt(value, catalog) {
                    return Err(UpdateRefusal::Doubtful {
                        model: entry.id.clone(),
                        table,
                        class,
                        doubt: Box::new(doubt),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The classes [`price_check::catalog_prices`] compares, by name, in its order.
fn named_prices(set: &PriceSet) -> [(&'static str, Option<Decimal>); 5] {
    [
        ("input", Some(set.input)),
        ("output", Some(set.output)),
        ("cache_read", set.cache_read),
        ("cache_write_5m", set.cache_write_5m),
        ("cache_write_1h", set.cache_write_1h),
    ]
}

/// Every price table of a card, named (`standard`, `batch`, `long-context priority`, …).
fn tables(card: &RateCard) -> Vec<(String, &PriceSet)> {
    let mut out = vec![("standard".to_owned(), &card.standard)];
    let tiers = [("batch", &card.batch), ("flex", &card.flex), ("priority", &card.priority)];
    out.extend(tiers.into_iter().filter_map(|(name, set)| set.as_ref().map(|s| (name.to_owned(), s))));
    if let Some(long) = &card.long_context {
        out.push(("long-context standard".to_owned(), &long.standard));
        let long_tiers = [("batch", &long.batch), ("flex", &long.flex), ("priority", &long.priority)];
        out.extend(
            long_tiers.into_iter().filter_map(|(name, set)| set.as_ref().map(|s| (format!("long-context {name}"), s))),
        );
    }
    out
}

fn table_of<'c>(card: &'c RateCard, name: &str) -> Option<&'c PriceSet> {
    tables(card).into_iter().find(|(table, _)| table == name).map(|(_, set)| set)
}

/// What an update changes, model by model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CatalogDiff {
    /// The `updated` date of the catalog in force.
    pub from_version: Option<Date>,
    /// The `updated` date of the offered catalog.
    pub to_version: Option<Date>,
    pub added: Vec<AddedModel>,
    pub removed: Vec<RemovedModel>,
    pub changed: Vec<ChangedModel>,
}

impl CatalogDiff {
    /// True when the update changes no model.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// A model the update adds, with its standard prices (USD per 1M tokens).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddedModel {
    pub id: String,
    pub provider: Provider,
    pub effective_from: Date,
    pub input: Decimal,
    pub output: Decimal,
}

/// A model the update no longer lists: its events are priced no more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RemovedModel {
    pub id: String,
    pub provider: Provider,
}

/// A model whose entry changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangedModel {
    pub id: String,
    pub provider: Provider,
    /// When the offered prices take effect (may be in the future: a scheduled change).
    pub effective_from: Date,
    /// The prices that differ between the two current rate cards.
    pub prices: Vec<PriceChange>,
    /// Other changes, in words (`price history`, `status legacy → retired`, …).
    pub other: Vec<String>,
}

/// One price that differs, USD per 1M tokens (per request for fees); `None`: not offered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PriceChange {
    /// `standard`, `batch`, `long-context priority`, `request fees`, …
    pub table: String,
    pub class: String,
    pub before: Option<Decimal>,
    pub after: Option<Decimal>,
}

impl fmt::Display for PriceChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: Option<Decimal>| v.map_or_else(|| "none".to_owned(), |d| format!("${}", d.normalize()));
        write!(f, "{} {}: {} → {}", self.table, self.class, show(self.before), show(self.after))
    }
}

/// What replacing `old` with `new` changes: models added, removed, and the
/// prices (and other fields) of the models both list. Pure; file order.
#[must_use]
pub fn diff(old: &Catalog, new: &Catalog) -> CatalogDiff {
    let mut out =
        CatalogDiff { from_version: Some(old.updated()), to_version: Some(new.updated()), ..CatalogDiff::default() };
    for entry in new.models() {
        match old.entry(&entry.id) {
            None => out.added.push(AddedModel {
                id: entry.id.clone(),
                provider: entry.provider.clone(),
                effective_from: entry.effective_from,
                input: entry.rates.standard.input,
                output: entry.rates.standard.output,
            }),
            Some(before) => {
                if let Some(changed) = changed_model(before, entry) {
                    out.changed.push(changed);
                }
            }
        }
    }
    out.removed = old
        .models()
        .iter()
        .filter(|entry| new.entry(&entry.id).is_none())
        .map(|entry| RemovedModel { id: entry.id.clone(), provider: entry.provider.clone() })
        .collect();
    out
}

fn changed_model(before: &ModelEntry, after: &ModelEntry) -> Option<ChangedModel> {
    let prices = card_changes(&before.rates, &after.rates);
    let mut other = Vec::new();
    if before.effective_from != after.effective_from {
        other.push(format!("effective from {} → {}", before.effective_from, after.effective_from));
    }
    if before.history != after.history {
        other.push(format!("price history: {} → {} earlier periods", before.history.len(), after.history.len()));
    }
    if before.status != after.status {
        other.push(format!("status {:?} → {:?}", before.status, after.status).to_lowercase());
    }
    if before.deprecated_on != after.deprecated_on {
        let show = |d: Option<Date>| d.map_or_else(|| "none".to_owned(), |d| d.to_string());
        other.push(format!("retirement {} → {}", show(before.deprecated_on), show(after.deprecated_on)));
    }
    if before.snapshots != after.snapshots {
        other.push("snapshots".to_owned());
    }
    if (before.max_input_tokens, before.max_output_tokens) != (after.max_input_tokens, after.max_output_tokens) {
        other.push("token limits".to_owned());
    }
    if (&before.class, &before.alternatives, before.kind) != (&after.class, &after.alternatives, after.kind) {
        other.push("class or alternatives".to_owned());
    }
    if prices.is_empty() && other.is_empty() {
        return None;
    }
    Some(ChangedModel {
        id: after.id.clone(),
        provider: after.provider.clone(),
        effective_from: after.effective_from,
        prices,
        other,
    })
}

/// Every class of every table the two cards price differently.
fn card_changes(before: &RateCard, after: &RateCard) -> Vec<PriceChange> {
    let old = tables(before);
    let new = tables(after);
    let mut names: Vec<&String> = new.iter().map(|(name, _)| name).collect();
    names.extend(old.iter().map(|(name, _)| name).filter(|name| !new.iter().any(|(n, _)| n == *name)));
    let mut out = Vec::new();
    for name in names {
        let find =
            |list: &[(String, &PriceSet)]| list.iter().find(|(n, _)| n == name).map(|(_, set)| all_named_prices(set));
        let (was, is) = (find(&old), find(&new));
        for i in 0..ALL_CLASSES.len() {
            let b = was.as_ref().and_then(|p| p[i]);
            let a = is.as_ref().and_then(|p| p[i]);
            if a != b {
                out.push(PriceChange { table: name.clone(), class: ALL_CLASSES[i].to_owned(), before: b, after: a });
            }
        }
    }
    let long_threshold = |card: &RateCard| card.long_context.as_ref().map(|l| Decimal::from(l.above_prompt_tokens));
    if long_threshold(before) != long_threshold(after) {
        out.push(PriceChange {
            table: "long-context".to_owned(),
            class: "above_prompt_tokens".to_owned(),
            before: long_threshold(before),
            after: long_threshold(after),
        });
    }
    if before.request_fees != after.request_fees {
        out.push(PriceChange {
            table: "request fees".to_owned(),
            class: "web_search".to_owned(),
            before: before.request_fees.as_ref().and_then(|f| f.web_search),
            after: after.request_fees.as_ref().and_then(|f| f.web_search),
        });
    }
    out
}

const ALL_CLASSES: [&str; 8] = [
    "input",
    "output",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "input_audio",
    "cache_read_audio",
    "output_audio",
];

fn all_named_prices(set: &PriceSet) -> [Option<Decimal>; 8] {
    [
        Some(set.input),
        Some(set.output),
        set.cache_read,
        set.cache_write_5m,
        set.cache_write_1h,
        set.input_audio,
        set.cache_read_audio,
        set.output_audio,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "schema = 1\nupdated = \"DATE\"\n";

    fn model(id: &str, effective_from: &str, standard: &str) -> String {
        format!(
            "[[models]]\nid = \"{id}\"\nprovider = \"openai\"\nkind = \"chat\"\nstatus = \"current\"\n\
             class = \"{id}\"\neffective_from = \"{effective_from}\"\nsource = \"test\"\nstandard = {standard}\n"
        )
    }

    fn catalog(updated: &str, models: &[String]) -> Catalog {
        let text = HEAD.replace("DATE", updated) + &models.join("\n");
        Catalog::from_toml(&text).unwrap()
    }

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    const TODAY: Date = Date::constant(2026, 12, 7);

    #[test]
    fn the_diff_lists_added_removed_and_changed_models_with_their_dates() {
        let old = catalog(
            "2026-12-01",
            &[
                model("a", "2025-01-01", "{ input = \"1\", output = \"2\" }"),
                model("b", "2025-01-01", "{ input = \"3\", output = \"4\" }"),
                model("gone", "2025-01-01", "{ input = \"1\", output = \"1\" }"),
            ],
        );
        let new = catalog(
            "2026-12-07",
            &[
                model("a", "2025-01-01", "{ input = \"1\", output = \"2\" }"),
                model("b", "2026-12-05", "{ input = \"3\", output = \"5\", cache_read = \"0.3\" }")
                    + "[[models.history]]\nuntil = \"2026-12-05\"\nsource = \"test\"\n\
                       standard = { input = \"3\", output = \"4\", cache_read = \"0.3\" }\n",
                model("new-model", "2026-12-07", "{ input = \"0.5\", output = \"1.5\" }"),
            ],
        );
        let diff = diff(&old, &new);
        assert_eq!(diff.from_version, Some(Date::constant(2026, 12, 1)));
        assert_eq!(diff.to_version, Some(Date::constant(2026, 12, 7)));
        assert_eq!(diff.added.len(), 1);
        assert_eq!(
            (diff.added[0].id.as_str(), diff.added[0].input, diff.added[0].output),
            ("new-model", d("0.5"), d("1.5"))
        );
        assert_eq!(diff.removed, [RemovedModel { id: "gone".into(), provider: Provider::OpenAi }]);
        assert_eq!(diff.changed.len(), 1, "`a` is unchanged: {diff:?}");
        let b = &diff.changed[0];
        assert_eq!((b.id.as_str(), b.effective_from), ("b", Date::constant(2026, 12, 5)));
        let shown: Vec<String> = b.prices.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["standard output: $4 → $5", "standard cache_read: none → $0.3"]);
        assert_eq!(b.other, ["effective from 2025-01-01 → 2026-12-05", "price history: 0 → 1 earlier periods"]);
    }

    #[test]
    fn the_same_catalog_changes_nothing() {
        let builtin = Catalog::builtin();
        let diff = diff(builtin, builtin);
        assert!(diff.is_empty(), "{diff:?}");
        assert_eq!(check_update(builtin, builtin, TODAY, false), Ok(()));
    }

    #[test]
    fn an_older_catalog_is_refused_naming_both_dates() {
        let old = catalog("2026-11-01", &[model("a", "2025-01-01", "{ input = \"1\", output = \"2\" }")]);
        let err = check_update(Catalog::builtin(), &old, TODAY, true).unwrap_err();
        assert_eq!(
            err,
            UpdateRefusal::Older { offered: Date::constant(2026, 11, 1), in_force: Catalog::builtin().updated() }
        );
        let message = err.to_string();
        assert!(
            message.contains("2026-11-01") && message.contains(&Catalog::builtin().updated().to_string()),
            "{message}"
        );
    }

    #[test]
    fn future_prices_need_the_prices_in_force_until_then() {
        let current = catalog("2026-12-01", &[model("a", "2025-01-01", "{ input = \"1\", output = \"2\" }")]);
        let bare = catalog("2026-12-07", &[model("a", "2027-01-01", "{ input = \"2\", output = \"4\" }")]);
        assert!(matches!(
            check_update(&current, &bare, TODAY, false),
            Err(UpdateRefusal::FutureWithoutHistory { ref model, .. }) if model == "a"
        ));
        let scheduled = catalog(
            "2026-12-07",
            &[model("a", "2027-01-01", "{ input = \"2\", output = \"4\" }")
                + "[[models.history]]\nuntil = \"2027-01-01\"\nsource = \"test\"\n\
                   standard = { input = \"1\", output = \"2\" }\n"],
        );
        assert_eq!(check_update(&current, &scheduled, TODAY, false), Ok(()));
        // A scheduled change applies from its date, and not before.
        let a = scheduled.entry("a").unwrap();
        assert_eq!(a.rates_on(TODAY).standard.input, d("1"));
        assert_eq!(a.rates_on(Date::constant(2026, 12, 31)).standard.input, d("1"));
        assert_eq!(a.rates_on(Date::constant(2027, 1, 1)).standard.input, d("2"));
    }

    #[test]
    fn prices_that_look_like_a_slip_are_refused_unless_forced() {
        let current = catalog("2026-12-01", &[model("a", "2025-01-01", "{ input = \"1\", output = \"2\" }")]);
        let per_token = catalog(
            "2026-12-07",
            &[
                model("a", "2025-01-01", "{ input = \"1\", output = \"2\" }"),
                model("b", "2026-12-07", "{ input = \"0.0000025\", output = \"0.00001\" }"),
            ],
        );
        let err = check_update(&current, &per_token, TODAY, false).unwrap_err();
        assert!(matches!(err, UpdateRefusal::Doubtful { ref model, class: "input", .. } if model == "b"), "{err}");
        assert!(err.to_string().contains("looks like a price per token"), "{err}");
        assert_eq!(check_update(&current, &per_token, TODAY, true), Ok(()));
        let thousand_off = catalog("2026-12-07", &[model("a", "2025-01-01", "{ input = \"1000\", output = \"2\" }")]);
        let err = check_update(&current, &thousand_off, TODAY, false).unwrap_err().to_string();
        assert!(err.contains("`a` standard input: $1000 per 1M tokens is 1000 times above"), "{err}");
    }
}
