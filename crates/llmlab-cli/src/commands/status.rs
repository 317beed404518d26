//! `llmlab status`: spend, the by-model table, the 30-day trend and the
//! budgets (the account's monthly one as one line, or every budget when the
//! account has others).

use std::fmt::Write as _;

use clap::Args;
use llmlab_api::{BudgetStatus, CostSummary, ReportedSpend, ScopedBudget, ScopedBudgets};
use llmlab_core::Money;
use serde::Serialize;

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::commands::budget::{budget_line, budgets_table, is_account_month, warn_budget, warn_scoped};
use crate::config::{ServerArgs, Settings};
use crate::display::{count, sparkline, tokens, usd};
use crate::printer::{self, Align, BOLD, CYAN, DIM, Table};

const EXAMPLES: &str = "\
Examples:
  llmlab status                       Today, this month, all time, by model, trend and budgets
  llmlab status --json                The same as JSON (money as decimal strings)
  llmlab status --tz Europe/Paris     Days and months in another time zone
  llmlab status --project web         One project's spend";

/// Show what your LLM calls cost: totals, by model, the 30-day trend and the budgets
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// An IANA time zone for "today", "this month" and the trend [default: the account's]
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Only this project's spend
    #[arg(long, value_name = "NAME")]
    project: Option<String>,
    /// Print JSON: `{"server", "summary", "budget", "budgets"}` (`budget`: the account's monthly one; `budgets`: every budget, as `llmlab budget list --json`)
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Status<'a> {
    server: &'a str,
    summary: CostSummary,
    budget: BudgetStatus,
    budgets: Vec<ScopedBudget>,
}

pub(crate) fn run(args: &StatusArgs) -> anyhow::Result<ExitStatus> {
    let settings = Settings::load(&args.server)?;
    let client = Client::authenticated(&settings)?;
    let mut query = Vec::new();
    if let Some(tz) = &args.tz {
        query.push(("tz", tz.as_str()));
    }
    if let Some(project) = &args.project {
        query.push(("project", project.as_str()));
    }
    let path = format!("/api/costs/summary{}", query_string(&query));
    let (summary, budget, budgets) = block_on(async {
        // All at once: one round trip of latency instead of three.
        let (summary, budget, budgets) = tokio::join!(
            client.get::<CostSummary>(&path),
            client.get::<BudgetStatus>("/api/budgets/status"),
            client.get::<ScopedBudgets>("/api/budgets/scoped")
        );
        anyhow::Ok((summary?, budget?, budgets?.budgets))
    })??;
    if args.json {
        printer::out_json(&Status { server: client.base_url(), summary, budget, budgets })?;
        return Ok(ExitStatus::Success);
    }
    printer::out(&render(client.base_url(), &summary, &budget, &budgets));
    warn_unpriced(&summary);
    warn_partial(&summary);
    warn_budget(&budget);
    // The account's monthly budget was warned about just above, in the seed's words.
    for other in budgets.iter().filter(|b| !is_account_month(b)) {
        warn_scoped(other);
    }
    Ok(ExitStatus::Success)
}

/// `?a=b&c=d`, percent-encoded.
pub(crate) fn query_string(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut url = reqwest::Url::parse("http://x/").expect("a valid URL");
    url.query_pairs_mut().extend_pairs(pairs);
    format!("?{}", url.query().unwrap_or_default())
}

fn render(server: &str, summary: &CostSummary, budget: &BudgetStatus, budgets: &[ScopedBudget]) -> String {
    let mut text = String::new();
    let scope = summary.project.as_deref().map(|p| format!(" · project {p}")).unwrap_or_default();
    let _ = writeln!(text, "{BOLD}LLMLab{BOLD:#} {DIM}· {server} · {}{scope}{DIM:#}\n", summary.timezone);

    let mut totals = Table::new(&[("", Align::Left), ("spend", Align::Right), ("calls", Align::Right)]);
    // A total with calls priced from cut-off streams is a lower bound.
    for (label, spend, calls, partial) in [
        ("today", summary.today_usd, summary.today_calls, summary.today_partial_calls),
        ("this month", summary.month_usd, summary.month_calls, summary.month_partial_calls),
        ("all time", summary.all_time_usd, summary.all_time_calls, summary.all_time_partial_calls),
    ] {
        totals.row(vec![label.to_owned(), at_least(spend, partial), count(calls)]);
    }
    text.push_str(&totals.render());

    if summary.by_model.is_empty() {
        let _ = writeln!(text, "\n{DIM}No calls this month.{DIM:#}");
    } else {
        let _ = writeln!(text, "\n{BOLD}This month by model{BOLD:#}");
        let mut models = Table::new(&[
            ("model", Align::Left),
            ("provider", Align::Left),
            ("calls", Align::Right),
            ("input", Align::Right),
            ("cached", Align::Right),
            ("output", Align::Right),
            ("cost", Align::Right),
        ]);
        for m in &summary.by_model {
            let cost = if m.unpriced_calls == m.calls {
                "unpriced".to_owned()
            } else if m.unpriced_calls > 0 {
                format!("{} + {} unpriced", at_least(m.cost_usd, m.partial_calls), count(m.unpriced_calls))
            } else {
                at_least(m.cost_usd, m.partial_calls)
            };
            models.row(vec![
                m.model.clone(),
                m.provider.clone(),
                count(m.calls),
                tokens(m.input_tokens),
                tokens(m.cache_read_tokens + m.cache_write_tokens + m.cache_write_1h_tokens),
                tokens(m.output_tokens),
                cost,
            ]);
        }
        text.push_str(&models.render());
    }

    if let Some(reported) = &summary.provider_reported {
        text.push_str(&render_reported(reported));
    }

    let days: Vec<Money> = summary.daily.iter().map(|d| d.cost_usd).collect();
    let total: Money = days.iter().copied().sum();
    let peak = summary.daily.iter().filter(|d| d.cost_usd > Money::ZERO).max_by_key(|d| d.cost_usd);
    let peak = peak.map(|d| format!(", peak {} on {}", usd(d.cost_usd), d.date)).unwrap_or_default();
    let _ = writeln!(
        text,
        "\n{BOLD}Last {} days{BOLD:#}  {}  {}{DIM}{peak}{DIM:#}",
        days.len(),
        sparkline(&days),
        usd(total)
    );
    if budgets.iter().all(is_account_month) {
        text.push_str(&budget_line(budget));
    } else {
        // Days in the summary's zone: the account's unless `--tz` names another.
        let _ = writeln!(text, "\n{BOLD}Budgets{BOLD:#}");
        text.push_str(&budgets_table(budgets, &summary.timezone));
    }
    text
}

/// Spend the providers' own reports show where nothing was tracked: apart
/// from the totals above, and labelled as the providers'.
fn render_reported(reported: &ReportedSpend) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "\n{BOLD}Provider-reported{BOLD:#} {DIM}· {} to {} (UTC days without tracked calls; from the providers' usage and \
         cost reports, not in the totals above){DIM:#}",
        reported.from, reported.to
    );
    let mut models = Table::new(&[
        ("model", Align::Left),
        ("provider", Align::Left),
        ("requests", Align::Right),
        ("input", Align::Right),
        ("cached", Align::Right),
        ("output", Align::Right),
        ("cost", Align::Right),
    ]);
    for m in &reported.by_model {
        models.row(vec![
            m.model.clone(),
            m.provider.clone(),
            if m.requests == 0 { "-".to_owned() } else { count(m.requests) },
            tokens(m.input_tokens),
            tokens(m.cache_read_tokens + m.cache_write_tokens),
            tokens(m.output_tokens),
            m.priced_usd.map_or_else(|| "unpriced".to_owned(), usd),
        ]);
    }
    text.push_str(&models.render());
    let _ = writeln!(
        text,
        "billed {} by the providers {DIM}(cost reports); {} at LLMLab's prices (usage reports){DIM:#}",
        usd(reported.billed_usd),
        usd(reported.priced_usd)
    );
    text
}

/// An amount, as "at least $X" when `partial` of its calls were priced from cut-off streams.
fn at_least(amount: Money, partial: u64) -> String {
    if partial > 0 { format!("at least {}", usd(amount)) } else { usd(amount) }
}

/// Calls priced from streams cut off before their final usage: the totals are lower bounds.
fn warn_partial(summary: &CostSummary) {
    let n = summary.all_time_partial_calls;
    if n == 0 {
        return;
    }
    printer::warn(&format!(
        "{} ended before {} final usage (a cut-off stream) and {} priced from the tokens seen, so the totals are \
         lower bounds",
        calls(n),
        if n == 1 { "its" } else { "their" },
        if n == 1 { "is" } else { "are" },
    ));
}

/// Unpriced calls, each model with the command that prices it.
fn warn_unpriced(summary: &CostSummary) {
    if summary.unpriced_calls == 0 {
        return;
    }
    let one = summary.unpriced_calls == 1;
    printer::warn(&format!(
        "{} {} no price, so the totals leave {} out",
        calls(summary.unpriced_calls),
        if one { "has" } else { "have" },
        if one { "it" } else { "them" },
    ));
    for model in &summary.unpriced_models {
        let reason = model.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        printer::info(&format!("  {} ({}), {}{DIM}{reason}{DIM:#}", model.model, model.provider, calls(model.calls)));
        // A price cannot fix a call that reported no usage (or an anomaly): no false fix.
        if model.priced_by_a_price() {
            printer::info(&format!(
                "    {CYAN}fix:{CYAN:#} llmlab prices set {} --provider {} --input USD_PER_1M --output USD_PER_1M",
                model.model, model.provider
            ));
        }
    }
}

fn calls(n: u64) -> String {
    format!("{} call{}", count(n), if n == 1 { "" } else { "s" })
}
