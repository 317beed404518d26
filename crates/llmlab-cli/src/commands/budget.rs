//! `llmlab budget`: show, set or remove the monthly budget.

use clap::Args;
use llmlab_api::{BudgetResponse, BudgetStatus, SetBudgetRequest};
use llmlab_core::Money;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::commands::status::{budget_line, warn_budget};
use crate::config::{ServerArgs, Settings};
use crate::display::usd;
use crate::printer::{self, GREEN, UserError};

const EXAMPLES: &str = "\
Examples:
  llmlab budget                Show the budget and where spending stands
  llmlab budget 500            Set a $500 monthly budget
  llmlab budget '$1,500.00'    Dollar signs and thousands separators are fine
  llmlab budget 500 --json     Set it and print the budget and its status as JSON
  llmlab budget --clear        Remove the budget (no more warnings)

`llmlab status` (and the dashboard and the SDK) warn at 80% and 100% of it.";

/// Show, set or remove the monthly budget (warnings at 80% and 100%)
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct BudgetArgs {
    /// The new monthly budget in USD, e.g. `500`, `500.00` or `$1,500`; omit to show the current one
    #[arg(value_name = "AMOUNT", allow_hyphen_values = true)]
    amount: Option<String>,
    /// Remove the budget
    #[arg(long, conflicts_with = "amount")]
    clear: bool,
    #[command(flatten)]
    server: ServerArgs,
    /// Print JSON: `{"budget", "status"}`
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Outcome {
    budget: Option<llmlab_api::Budget>,
    status: BudgetStatus,
}

pub(crate) fn run(args: &BudgetArgs) -> anyhow::Result<ExitStatus> {
    // Check the amount before anything else, so a typo fails without a server.
    let amount = args.amount.as_deref().map(parse_amount).transpose()?;
    let settings = Settings::load(&args.server)?;
    let client = Client::authenticated(&settings)?;
    let outcome = block_on(async {
        let budget = match amount {
            Some(amount_usd) => {
                let request = SetBudgetRequest { amount_usd, period: "monthly".to_owned() };
                client.post::<_, BudgetResponse>("/api/budgets", &request).await?.budget
            }
            None if args.clear => client.delete::<BudgetResponse>("/api/budgets").await?.budget,
            None => client.get::<BudgetResponse>("/api/budgets").await?.budget,
        };
        let status = client.get::<BudgetStatus>("/api/budgets/status").await?;
        anyhow::Ok(Outcome { budget, status })
    })??;
    if args.json {
        printer::out_json(&outcome)?;
        return Ok(ExitStatus::Success);
    }
    if let (Some(_), Some(budget)) = (amount, &outcome.budget) {
        printer::info(&format!("{GREEN}✓{GREEN:#} Monthly budget set to {}", usd(budget.amount_usd)));
    }
    if args.clear {
        printer::info(&format!("{GREEN}✓{GREEN:#} Monthly budget removed"));
    }
    printer::out(&budget_line(&outcome.status));
    if outcome.budget.is_some() {
        warn_budget(&outcome.status);
    }
    Ok(ExitStatus::Success)
}

/// `500`, `500.00`, `$1,500`, `1500 USD` → money; zero, negative and
/// non-numbers are one-line errors.
fn parse_amount(raw: &str) -> anyhow::Result<Money> {
    let invalid = || {
        UserError::new(format!("`{raw}` is not an amount of dollars"))
            .with_hint("use a positive number such as `500`, `500.00` or `$1,500`")
    };
    let mut text = raw.trim();
    text = text.strip_suffix("USD").or_else(|| text.strip_suffix("usd")).unwrap_or(text).trim_end();
    let negative = text.starts_with('-');
    text = text.trim_start_matches(['-', '+']).trim_start();
    text = text.strip_prefix('$').unwrap_or(text).trim_start();
    let (whole, fraction) = text.split_once('.').map_or((text, None), |(w, f)| (w, Some(f)));
    // Thousands separators only in groups of three: `1,500` yes, `1,50` no.
    let groups: Vec<&str> = whole.split(',').collect();
    let grouped = groups.len() == 1
        || (!groups[0].is_empty() && groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && fraction.is_none_or(str::is_empty)
        || !grouped
        || !groups.iter().all(|g| digits(g))
        || !fraction.is_none_or(digits)
    {
        return Err(invalid().into());
    }
    let plain = format!("{}.{}", groups.concat(), fraction.filter(|f| !f.is_empty()).unwrap_or("0"));
    let value = Decimal::from_str_exact(&plain).map_err(|_| invalid())?;
    if negative || value.is_zero() {
        return Err(UserError::new(format!("the budget must be more than $0, not `{raw}`"))
            .with_hint("use a positive number such as `500`")
            .into());
    }
    // The error names the amount as typed: the decimal built above (`….0`) is ours, not the user's.
    Money::from_decimal_usd(value).map_err(|_| too_large(raw).into())
}

/// An amount beyond what LLMLab stores, named as the user typed it.
fn too_large(raw: &str) -> UserError {
    UserError::new(format!(
        "`{}` is more than LLMLab can store (at most {})",
        raw.trim(),
        crate::display::usd(Money::MAX)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        parse_amount(raw).unwrap().to_string()
    }

    fn err(raw: &str) -> String {
        parse_amount(raw).unwrap_err().to_string()
    }

    #[test]
    fn amounts_accept_dollar_signs_cents_and_thousands_separators() {
        assert_eq!(ok("500"), "500");
        assert_eq!(ok("500.00"), "500");
        assert_eq!(ok("$1,500"), "1500");
        assert_eq!(ok(" $ 1,234,567.5 "), "1234567.5");
        assert_eq!(ok("0.5"), "0.5");
        assert_eq!(ok(".5"), "0.5");
        assert_eq!(ok("250 USD"), "250");
    }

    #[test]
    fn zero_negative_and_non_numbers_are_rejected_in_one_line() {
        assert_eq!(err("0"), "the budget must be more than $0, not `0`");
        assert_eq!(err("$0.00"), "the budget must be more than $0, not `$0.00`");
        assert_eq!(err("-5"), "the budget must be more than $0, not `-5`");
        assert_eq!(err("-$5"), "the budget must be more than $0, not `-$5`");
        for bad in ["abc", "", "$", "1,50", "1.2.3", "5e3", ",500", "12abc", "1,5000"] {
            assert_eq!(err(bad), format!("`{bad}` is not an amount of dollars"), "{bad}");
        }
    }

    #[test]
    fn an_amount_too_large_to_store_is_named_as_typed() {
        let message = err("12345678901234567890");
        assert!(
            message.starts_with("`12345678901234567890` is more than LLMLab can store (at most $9,223,"),
            "{message}"
        );
        assert!(!message.contains(".0`"), "{message}");
        assert!(err("$12,345,678,901,234,567,890.50").starts_with("`$12,345,678,901,234,567,890.50` is more than"));
    }
}
