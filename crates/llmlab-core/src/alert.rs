//! Alerts: what raises one (a budget's thresholds, its forecast, a hard stop,
//! a spend anomaly, a model without a price), the facts each one carries,
//! and the words every channel sends. Pure: the store decides when an alert
//! is due (in the transaction that made it due), the server delivers it.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::Money;
use crate::budget::{
    BudgetPeriod, Crossing, Percent, PeriodBounds, Scope, Thresholds, percent_used, projected_crossing,
};
use crate::display::usd;

/// The budget an alert is about, as it was when the alert was raised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetRef {
    pub id: i64,
    /// `account`, `project`, `key` or `tag`.
    pub scope: String,
    /// `''`, the project, the key's id, or `key=value`.
    pub target: String,
    /// `day`, `week`, `month` or `total`.
    pub period: String,
    pub hard: bool,
    /// When the budget was created (Unix ms): with the id, it names this
    /// budget for good (SQLite may give a removed budget's id to a new one).
    #[serde(default)]
    pub created_at: i64,
}

impl BudgetRef {
    /// `7.1795521600000`: the id and creation time, unique for good.
    fn key(&self) -> String {
        format!("{}.{}", self.id, self.created_at)
    }

    /// `the account`, `project load`, `tag customer=acme`.
    fn what(&self) -> String {
        Scope::parse(&self.scope, &self.target)
            .map_or_else(|_| format!("{} {}", self.scope, self.target), |s| s.to_string())
    }

    /// `daily`, `weekly`, `monthly`, or `total`.
    fn adjective(&self) -> &'static str {
        match self.period.parse::<BudgetPeriod>() {
            Ok(BudgetPeriod::Day) => "daily",
            Ok(BudgetPeriod::Week) => "weekly",
            Ok(BudgetPeriod::Total) => "total",
            _ => "monthly",
        }
    }

    /// The `llmlab budget` flags that name this budget.
    fn cli_flags(&self) -> String {
        let scope = match self.scope.as_str() {
            "project" => format!(" --project {}", shell_word(&self.target)),
            "key" => format!(" --key {}", shell_word(&self.target)),
            "tag" => format!(" --tag {}", shell_word(&self.target)),
            _ => String::new(),
        };
        let hard = if self.hard { " --hard" } else { "" };
        format!("{scope} --period {}{hard}", self.period)
    }
}

/// `word`, or `'word with spaces'` for a shell.
fn shell_word(word: &str) -> String {
    if word.chars().all(|c| c.is_ascii_alphanumeric() || "-_.=:/@".contains(c)) && !word.is_empty() {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// What happened, with the figures: stored with the alert, so every
/// delivery attempt (and every channel) says the same thing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertFacts {
    /// A budget reached one of its thresholds in a period.
    BudgetThreshold {
        budget: BudgetRef,
        period_key: String,
        /// The threshold's percentage, e.g. `80`.
        threshold: String,
        spent: Money,
        amount: Money,
    },
    /// At the run rate so far, a budget's period ends over budget.
    BudgetForecast { budget: BudgetRef, period_key: String, spent: Money, amount: Money, over_at: Timestamp },
    /// A hard budget refused a call.
    HardStop { budget: BudgetRef, period_key: String, spent: Money, held: Money, amount: Money },
    /// A day's spend far above the account's recent daily norm ([`spend_anomaly`]).
    SpendAnomaly { day: Date, spent: Money, norm: Money },
    /// A model seen for the first time without a price.
    UnpricedModel { provider: String, model: String },
    /// A provider billed a UTC day far from what LLMLab tracked for it
    /// ([`crate::provider_report::reconcile::DriftThreshold`]).
    ProviderDrift { day: Date, provider: String, tracked: Money, billed: Money },
    /// Sent on request, to check a channel.
    Test,
}

/// An alert's words: a title, what happened, figures, what to do, a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub title: String,
    pub text: String,
    /// Label and value pairs (`Spent`, `$8.00`).
    pub figures: Vec<(String, String)>,
    pub action: String,
    pub link: String,
}

impl AlertFacts {
    /// `budget_threshold`, `budget_forecast`, `hard_stop`, `spend_anomaly`, `unpriced_model`, `test`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            AlertFacts::BudgetThreshold { .. } => "budget_threshold",
            AlertFacts::BudgetForecast { .. } => "budget_forecast",
            AlertFacts::HardStop { .. } => "hard_stop",
            AlertFacts::SpendAnomaly { .. } => "spend_anomaly",
            AlertFacts::UnpricedModel { .. } => "unpriced_model",
            AlertFacts::ProviderDrift { .. } => "provider_drift",
            AlertFacts::Test => "test",
        }
    }

    /// The `type` of a webhook's payload: `budget.threshold`, `spend.anomaly`, …
    #[must_use]
    pub fn event_type(&self) -> String {
        self.kind().replacen('_', ".", 1)
    }

    /// What makes this alert happen once: two alerts with the same key are
    /// the same alert. A budget's include its amount, so raising the amount
    /// lets its thresholds alert again. `None` for a test (always sent).
    #[must_use]
    pub fn dedupe_key(&self) -> Option<String> {
        match self {
            AlertFacts::BudgetThreshold { budget, period_key, threshold, amount, .. } => {
                Some(format!("budget:{}:{period_key}:{threshold}:{}", budget.key(), amount.nanos()))
            }
            AlertFacts::BudgetForecast { budget, period_key, amount, .. } => {
                Some(format!("budget:{}:{period_key}:forecast:{}", budget.key(), amount.nanos()))
            }
            AlertFacts::HardStop { budget, period_key, amount, .. } => {
                Some(format!("budget:{}:{period_key}:stop:{}", budget.key(), amount.nanos()))
            }
            AlertFacts::SpendAnomaly { day, .. } => Some(format!("anomaly:{day}")),
            AlertFacts::UnpricedModel { provider, model } => Some(format!("unpriced:{provider}/{model}")),
            AlertFacts::ProviderDrift { day, provider, .. } => Some(format!("drift:{provider}:{day}")),
            AlertFacts::Test => None,
        }
    }

    /// The words of the alert; `base_url` is the server's public address, for the link.
    #[must_use]
    pub fn message(&self, base_url: &str) -> Message {
        let base = base_url.trim_end_matches('/');
        match self {
            AlertFacts::BudgetThreshold { budget, period_key, threshold, spent, amount } => {
                threshold_message(budget, period_key, threshold, *spent, *amount, base)
            }
            AlertFacts::BudgetForecast { budget, period_key, spent, amount, over_at } => {
                forecast_message(budget, period_key, *spent, *amount, *over_at, base)
            }
            AlertFacts::HardStop { budget, period_key, spent, held, amount } => {
                hard_stop_message(budget, period_key, *spent, *held, *amount, base)
            }
            AlertFacts::SpendAnomaly { day, spent, norm } => anomaly_message(*day, *spent, *norm, base),
            AlertFacts::UnpricedModel { provider, model } => unpriced_message(provider, model, base),
            AlertFacts::ProviderDrift { day, provider, tracked, billed } => {
                drift_message(*day, provider, *tracked, *billed, base)
            }
            AlertFacts::Test => Message {
                title: "Test alert from LLMLab".to_owned(),
                text: "This channel receives LLMLab's alerts: budget thresholds, forecasts, hard stops, spend \
                       anomalies and new models without a price."
                    .to_owned(),
                figures: Vec::new(),
                action: "Nothing to do. See the alerts sent so far with `llmlab alerts log`.".to_owned(),
                link: format!("{base}/settings"),
            },
        }
    }
}

fn threshold_message(
    budget: &BudgetRef,
    period_key: &str,
    threshold: &str,
    spent: Money,
    amount: Money,
    base: &str,
) -> Message {
    let percent = percent_used(spent, amount);
    let over = Percent::HUNDRED.reached(spent, amount);
    let action = if over && budget.hard {
        format!(
            "Calls through the proxy and the SDK's hard mode are refused until the period ends. To go on, \
             raise the budget: `llmlab budget <amount>{}`.",
            budget.cli_flags()
        )
    } else {
        format!(
            "See where the money goes with `llmlab status`; raise the budget with `llmlab budget <amount>{}`.",
            budget.cli_flags()
        )
    };
    Message {
        title: format!("{threshold}% of the {} budget of {} used", budget.adjective(), budget.what()),
        text: format!(
            "{} of {} spent ({percent:.2}%) in the {} period {}.",
            usd(spent),
            usd(amount),
            budget.adjective(),
            period_words(period_key)
        ),
        figures: budget_figures(budget, period_key, spent, amount),
        action,
        link: format!("{base}/dashboard"),
    }
}

fn forecast_message(
    budget: &BudgetRef,
    period_key: &str,
    spent: Money,
    amount: Money,
    over_at: Timestamp,
    base: &str,
) -> Message {
    let when = format!("{} UTC", over_at.strftime("%Y-%m-%d %H:%M"));
    let mut figures = budget_figures(budget, period_key, spent, amount);
    figures.push(("Runs out".to_owned(), when.clone()));
    Message {
        title: format!("The {} budget of {} is on course to run out", budget.adjective(), budget.what()),
        text: format!(
            "{} of {} spent so far in the period {}; at this rate the budget runs out on {when}, before the period ends.",
            usd(spent),
            usd(amount),
            period_words(period_key),
        ),
        figures,
        action: format!(
            "Check what is spending with `llmlab status` and `llmlab optimize`, or raise the budget: `llmlab budget <amount>{}`.",
            budget.cli_flags()
        ),
        link: format!("{base}/dashboard"),
    }
}

fn hard_stop_message(
    budget: &BudgetRef,
    period_key: &str,
    spent: Money,
    held: Money,
    amount: Money,
    base: &str,
) -> Message {
    let mut figures = budget_figures(budget, period_key, spent, amount);
    figures.push(("Held".to_owned(), usd(held)));
    Message {
        title: format!("The hard {} budget of {} is refusing calls", budget.adjective(), budget.what()),
        text: format!(
            "A call was refused before it reached the provider: {} spent and {} held by calls in flight, of {}, in the period {}.",
            usd(spent),
            usd(held),
            usd(amount),
            period_words(period_key)
        ),
        figures,
        action: format!(
            "Calls are refused (HTTP 429, `llmlab.BudgetExceeded`) until the period ends. Raise the budget with \
             `llmlab budget <amount>{}`, or make it soft with `--soft`.",
            budget.cli_flags()
        ),
        link: format!("{base}/dashboard"),
    }
}

fn anomaly_message(day: Date, spent: Money, norm: Money, base: &str) -> Message {
    Message {
        title: format!("Unusual spend on {day}: {}", usd(spent)),
        text: format!(
            "{} spent on {day}, {} the daily average of the {ANOMALY_WINDOW_DAYS} days before ({}).",
            usd(spent),
            times(spent, norm),
            usd(norm)
        ),
        figures: vec![
            ("Spent".to_owned(), usd(spent)),
            ("Daily average".to_owned(), usd(norm)),
            ("Day".to_owned(), day.to_string()),
        ],
        action: "See which model and project spent it with `llmlab status` or on the dashboard; set a hard \
                 budget to cap it: `llmlab budget <amount> --period day --hard`."
            .to_owned(),
        link: format!("{base}/dashboard"),
    }
}

fn drift_message(day: Date, provider: &str, tracked: Money, billed: Money, base: &str) -> Message {
    let drift = crate::provider_report::reconcile::Drift::between(tracked, billed);
    let share = drift.untracked_share_percent.map(|p| format!(": {p}% of the day")).unwrap_or_default();
    let text = if drift.untracked.nanos() >= 0 {
        format!("{} billed by {provider} on {day} (UTC) that LLMLab never saw{share}.", usd(drift.untracked))
    } else {
        let over = Money::from_nanos(drift.untracked.nanos().saturating_neg());
        format!("LLMLab tracked {} more than {provider} billed on {day} (UTC){share}.", usd(over))
    };
    Message {
        title: format!("{provider} billed {} on {day}, LLMLab tracked {}", usd(billed), usd(tracked)),
        text,
        figures: vec![
            ("Billed".to_owned(), usd(billed)),
            ("Tracked".to_owned(), usd(tracked)),
            ("Day (UTC)".to_owned(), day.to_string()),
        ],
        action: format!(
            "See the day by model with `llmlab reconcile --month {}`: calls outside the SDK and the proxy, or cut \
             off client-side, are billed but never tracked.",
            day.strftime("%Y-%m")
        ),
        link: format!("{base}/dashboard"),
    }
}

fn unpriced_message(provider: &str, model: &str, base: &str) -> Message {
    Message {
        title: format!("New model without a price: {provider}/{model}"),
        text: format!(
            "Calls to {provider}/{model} are tracked but not priced: LLMLab's catalog has no price for it, so \
             totals and budgets leave these calls out (they are counted as unpriced calls)."
        ),
        figures: vec![("Provider".to_owned(), provider.to_owned()), ("Model".to_owned(), model.to_owned())],
        action: format!(
            "Give it your price with `llmlab prices set {} --provider {} --input <USD per 1M> --output <USD per 1M>` \
             (its earlier calls are repriced), or in the settings.",
            shell_word(model),
            shell_word(provider)
        ),
        link: format!("{base}/settings"),
    }
}

/// The figures every budget alert shows.
fn budget_figures(budget: &BudgetRef, period_key: &str, spent: Money, amount: Money) -> Vec<(String, String)> {
    vec![
        ("Budget".to_owned(), format!("{} {} of {}", usd(amount), budget.adjective(), budget.what())),
        ("Spent".to_owned(), usd(spent)),
        ("Used".to_owned(), format!("{:.2}%", percent_used(spent, amount))),
        ("Period".to_owned(), period_words(period_key)),
    ]
}

/// `starting 2026-12-01`, or `since the start` for a total budget.
fn period_words(period_key: &str) -> String {
    if period_key == BudgetPeriod::Total.as_str() {
        "since the start".to_owned()
    } else {
        format!("starting {period_key}")
    }
}

/// `4.2 times`, rounded to a tenth.
fn times(spent: Money, norm: Money) -> String {
    if norm.nanos() <= 0 {
        return "far above".to_owned();
    }
    let ratio = (rust_decimal::Decimal::from(spent.nanos()) / rust_decimal::Decimal::from(norm.nanos())).round_dp(1);
    format!("{ratio} times")
}

/// A budget as the store sees it when counting events: enough to tell
/// which of its alerts a new spent total makes due.
#[derive(Clone, Debug)]
pub struct WatchedBudget {
    pub budget: BudgetRef,
    pub amount: Money,
    pub thresholds: Thresholds,
}

/// How far into a period a forecast may be made: before it, a few calls
/// early in the period project wildly.
pub const FORECAST_AFTER_SHARE: (i64, i64) = (1, 4);

/// The alerts due for `watched` now that its period `period_key` has
/// `spent`, leaving out those whose tag is in `raised` (`80`, `forecast`):
/// each threshold reached, and a forecast when the period is `current`
/// (its bounds), at least a quarter of it has passed, the budget is not yet
/// spent, and the run rate reaches it before the period ends. Returns (tag, facts).
#[must_use]
pub fn due_budget_alerts(
    watched: &WatchedBudget,
    period_key: &str,
    spent: Money,
    raised: &[&str],
    current: Option<&PeriodBounds>,
    now: Timestamp,
) -> Vec<(String, AlertFacts)> {
    let mut due = Vec::new();
    for threshold in watched.thresholds.as_slice() {
        let tag = threshold.to_decimal().to_string();
        if threshold.reached(spent, watched.amount) && !raised.contains(&tag.as_str()) {
            let facts = AlertFacts::BudgetThreshold {
                budget: watched.budget.clone(),
                period_key: period_key.to_owned(),
                threshold: tag.clone(),
                spent,
                amount: watched.amount,
            };
            due.push((tag, facts));
        }
    }
    if raised.contains(&"forecast") {
        return due;
    }
    let Some(bounds) = current.filter(|b| b.key() == period_key) else { return due };
    let Some(end) = bounds.end else { return due };
    let (share_num, share_den) = FORECAST_AFTER_SHARE;
    let length = end.as_millisecond() - bounds.start.as_millisecond();
    if (now.as_millisecond() - bounds.start.as_millisecond()) * share_den < length * share_num {
        return due;
    }
    if let Some(Crossing::At(over_at)) = projected_crossing(spent, watched.amount, Percent::HUNDRED, bounds, now) {
        let facts = AlertFacts::BudgetForecast {
            budget: watched.budget.clone(),
            period_key: period_key.to_owned(),
            spent,
            amount: watched.amount,
            over_at,
        };
        due.push(("forecast".to_owned(), facts));
    }
    due
}

/// The days before today a spend anomaly is measured against.
pub const ANOMALY_WINDOW_DAYS: usize = 14;
/// Days of that window that must have spend before anything is called unusual.
pub const ANOMALY_MIN_ACTIVE_DAYS: usize = 7;
/// How many times the daily average a day must reach.
pub const ANOMALY_FACTOR: i64 = 3;
/// Below this a day's spend never alerts, however unusual: tiny accounts are not paged.
pub const ANOMALY_FLOOR: Money = Money::from_nanos(10 * 1_000_000_000);

/// Whether `today`'s spend is an anomaly against the `previous` days
/// (oldest first; the last [`ANOMALY_WINDOW_DAYS`] are used): at least
/// [`ANOMALY_FLOOR`], at least [`ANOMALY_FACTOR`] times their mean (zero
/// days included), with spend on at least [`ANOMALY_MIN_ACTIVE_DAYS`] of
/// them. Returns the mean.
#[must_use]
pub fn spend_anomaly(today: Money, previous: &[Money]) -> Option<Money> {
    let window = &previous[previous.len().saturating_sub(ANOMALY_WINDOW_DAYS)..];
    if today < ANOMALY_FLOOR || window.len() < ANOMALY_WINDOW_DAYS {
        return None;
    }
    if window.iter().filter(|day| day.nanos() > 0).count() < ANOMALY_MIN_ACTIVE_DAYS {
        return None;
    }
    let total: i128 = window.iter().map(|day| i128::from(day.nanos())).sum();
    let days = ANOMALY_WINDOW_DAYS as i128;
    // today ≥ factor × total / days, without rounding.
    if i128::from(today.nanos()) * days < i128::from(ANOMALY_FACTOR) * total {
        return None;
    }
    Some(Money::from_nanos(i64::try_from(total / days).unwrap_or(i64::MAX)))
}

#[cfg(test)]
mod tests;
