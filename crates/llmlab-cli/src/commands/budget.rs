//! `llmlab budget`: show, set and remove budgets. Without a scope, period,
//! mode or thresholds flag it is the seed's command for the account's
//! monthly budget (`/api/budgets`, same output as ever); with one, a budget
//! of the account, a project, an API key or a tag over a day, week, month or
//! all time (`/api/budgets/scoped`). `llmlab budget list` shows them all.

use std::cmp::Ordering;
use std::fmt::Write as _;

use anstyle::Style;
use clap::{Args, Subcommand};
use llmlab_api::{
    Account, BudgetResponse, BudgetScope, BudgetState, BudgetStatus, CreateBudgetRequest, ScopedBudget, ScopedBudgets,
    SetBudgetRequest,
};
use llmlab_core::Money;
use llmlab_core::budget::{BudgetPeriod, Thresholds};
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::config::{ServerArgs, Settings};
use crate::display::{bar, count, day_in, held_bar, percent, usd};
use crate::parse;
use crate::printer::{self, BOLD, Cell, DIM, GREEN, RED, UserError, YELLOW};

const EXAMPLES: &str = "\
Examples:
  llmlab budget                  Show the account's monthly budget and where spending stands
  llmlab budget 500              Set a $500 monthly budget for the account
  llmlab budget '$1,500.00'      Dollar signs and thousands separators are fine
  llmlab budget 500 --json       Set it and print the budget and its status as JSON
  llmlab budget 200 --project search --period week --hard
                                 $200 a week for project `search`; calls it cannot cover are refused
  llmlab budget 20 --key ci --period day
                                 $20 a day for the calls made with the API key named `ci`
  llmlab budget 1000 --tag customer=acme --period total --thresholds 50,80,100
                                 $1,000 in all for calls tagged customer=acme; warns at 50, 80, 100%
  llmlab budget 300 --project search --period week
                                 A new amount; its mode (hard) and thresholds stay as they were
  llmlab budget 300 --project search --period week --soft
                                 The same, and warnings only from now on
  llmlab budget --project search Show project `search`'s budgets
  llmlab budget list             Every budget: spent, held by calls in flight, state, projection
  llmlab budget --clear          Remove the account's budgets (every period)
  llmlab budget --clear --project search --period week
                                 Remove one budget
  llmlab budget --clear --tag customer=acme
                                 Remove every budget of that tag

One budget per scope and period: setting it again replaces it. Without --hard or --soft a budget
being replaced keeps its mode, and a new one is soft (a new monthly budget of the account follows
the account's hard-budget setting). Hard budgets hold each call's worst-case cost while it runs
(proxy, SDK hard mode) and refuse calls they cannot cover. `llmlab status` (and the dashboard and
the SDK) warn at 80% and 100% of each budget, or at its --thresholds.";

const LIST_EXAMPLES: &str = "\
Examples:
  llmlab budget list             One line per budget, with its bar, spent, held and projection
  llmlab budget list --json      The same as JSON, as `GET /api/budgets/scoped` answers

`held` is what calls in flight hold on a hard budget until their cost is recorded.";

/// Show, set or remove budgets: the account's, a project's, an API key's or a tag's
#[derive(Args)]
#[command(after_help = EXAMPLES, args_conflicts_with_subcommands = true, disable_help_subcommand = true)]
pub(crate) struct BudgetArgs {
    #[command(subcommand)]
    command: Option<BudgetCommand>,
    /// The budget in USD, e.g. `500`, `500.00` or `$1,500`; omit to show the budget(s)
    #[arg(value_name = "AMOUNT", allow_hyphen_values = true)]
    amount: Option<String>,
    /// Remove the scope's budgets (the account's without a scope flag), or only the one of `--period`
    #[arg(long, conflicts_with = "amount")]
    clear: bool,
    #[command(flatten)]
    scope: ScopeArgs,
    /// `day`, `week` (from Monday), `month` (calendar periods in the account's time zone) or `total` (never resets) [default: month]
    #[arg(long, value_name = "PERIOD", value_parser = parse::period)]
    period: Option<BudgetPeriod>,
    #[command(flatten)]
    mode: ModeArgs,
    /// Warn at these percentages of the amount, e.g. `50,80,100`; `''` for no warnings [default: a budget being replaced keeps its own; 80,100]
    #[arg(long, value_name = "PERCENTS", requires = "amount", conflicts_with = "clear", value_parser = parse::thresholds)]
    thresholds: Option<Thresholds>,
    #[command(flatten)]
    server: ServerArgs,
    /// Print JSON: `{"budget", "status"}` for the account's monthly budget without scope, period, mode or thresholds flags; otherwise the budget as `GET /api/budgets/scoped` shows it (`{"budgets"}` when showing, `{"removed"}` when clearing)
    #[arg(long)]
    json: bool,
}

impl BudgetArgs {
    /// A refusal that names a field of the request (`` `target`: … ``)
    /// names the flag it came from instead.
    fn in_flags(&self, error: anyhow::Error) -> anyhow::Error {
        let mut refusal = match error.downcast::<UserError>() {
            Ok(refusal) => refusal,
            Err(other) => return other,
        };
        let target_flag = match (&self.scope.project, &self.scope.key) {
            (Some(_), _) => "--project",
            (_, Some(_)) => "--key",
            _ => "--tag",
        };
        for (field, flag) in
            [("target", target_flag), ("period", "--period"), ("thresholds", "--thresholds"), ("amount_usd", "AMOUNT")]
        {
            if let Some(rest) = refusal.message.strip_prefix(&format!("`{field}`: ")) {
                refusal.message = format!("{flag}: {rest}");
                break;
            }
        }
        refusal.into()
    }
}

#[derive(Subcommand)]
enum BudgetCommand {
    List(ListArgs),
}

/// Every budget with its current period: spent, held by calls in flight, state and projection
#[derive(Args)]
#[command(after_help = LIST_EXAMPLES)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Print the server's JSON: `{"budgets": [...]}`
    #[arg(long)]
    json: bool,
}

/// Hard or soft; neither keeps a replaced budget's mode.
#[derive(Args)]
struct ModeArgs {
    /// Hard: the proxy and the SDK's hard mode refuse calls the budget cannot cover [default: a budget being replaced keeps its mode; a new one is soft, a new monthly one of the account follows the account's hard-budget setting]
    #[arg(long, requires = "amount", conflicts_with_all = ["soft", "clear"])]
    hard: bool,
    /// Soft: warnings only, no call is refused
    #[arg(long, requires = "amount", conflicts_with = "clear")]
    soft: bool,
}

impl ModeArgs {
    /// `Some(true)` for `--hard`, `Some(false)` for `--soft`, `None` without either.
    fn chosen(&self) -> Option<bool> {
        (self.hard || self.soft).then_some(self.hard)
    }
}

/// What a budget counts: one flag at most; the whole account without any.
#[derive(Args)]
#[group(id = "scope", multiple = false)]
struct ScopeArgs {
    /// Only the calls recorded in this project
    #[arg(long, value_name = "NAME", help_heading = "Scope (the whole account without one)")]
    project: Option<String>,
    /// Only the calls made with this API key: its name or its id (`llm_…`), never the secret key
    #[arg(long, value_name = "NAME", help_heading = "Scope (the whole account without one)")]
    key: Option<String>,
    /// Only the calls carrying this tag, e.g. `customer=acme`
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse::tag, help_heading = "Scope (the whole account without one)")]
    tag: Option<String>,
}

impl ScopeArgs {
    fn given(&self) -> bool {
        self.project.is_some() || self.key.is_some() || self.tag.is_some()
    }

    fn selector(&self) -> Selector {
        let trimmed = |s: &String| Some(s.trim().to_owned());
        match (&self.project, &self.key, &self.tag) {
            (Some(project), _, _) => Selector { scope: BudgetScope::Project, target: trimmed(project) },
            (_, Some(key), _) => Selector { scope: BudgetScope::Key, target: trimmed(key) },
            (_, _, Some(tag)) => Selector { scope: BudgetScope::Tag, target: Some(tag.clone()) },
            _ => Selector { scope: BudgetScope::Account, target: None },
        }
    }
}

/// A scope as typed on the command line, to find its budgets in the list.
struct Selector {
    scope: BudgetScope,
    target: Option<String>,
}

impl Selector {
    const ACCOUNT: Selector = Selector { scope: BudgetScope::Account, target: None };

    /// Whether `budget` is of this scope (and `period`, when given). A key
    /// is named by its id or its name, as the server takes it.
    fn matches(&self, budget: &ScopedBudget, period: Option<BudgetPeriod>) -> bool {
        let target = match &self.target {
            None => true,
            Some(t) => {
                budget.target.as_deref() == Some(t.as_str())
                    || (self.scope == BudgetScope::Key && budget.target_name.as_deref() == Some(t.as_str()))
            }
        };
        budget.scope == self.scope && target && period.is_none_or(|p| budget.period == p.as_str())
    }

    /// The scope in a message: the account, or its kind and name in backticks (project \`search\`).
    fn describe(&self) -> String {
        match &self.target {
            Some(target) => format!("{} `{target}`", self.scope.as_str()),
            None => "the account".to_owned(),
        }
    }
}

pub(crate) fn run(args: &BudgetArgs) -> anyhow::Result<ExitStatus> {
    if let Some(BudgetCommand::List(list_args)) = &args.command {
        return list(list_args);
    }
    if args.amount.as_deref() == Some("list") {
        // Only reachable after a flag: `llmlab budget list` alone is the subcommand.
        return Err(UserError::new("`llmlab budget list` takes no scope, period or mode flags: it lists every budget")
            .with_hint("`llmlab budget --project NAME` (or `--key`, `--tag`, `--period`) shows only those budgets")
            .into());
    }
    // Check the amount before anything else, so a typo fails without a server.
    let amount = args.amount.as_deref().map(parse_amount).transpose()?;
    let settings = Settings::load(&args.server)?;
    let client = Client::authenticated(&settings)?;
    let scoped =
        args.scope.given() || args.period.is_some() || args.mode.chosen().is_some() || args.thresholds.is_some();
    block_on(async {
        match (amount, args.clear) {
            (Some(amount), _) if scoped => set(&client, args, amount).await,
            (Some(amount), _) => seed(&client, args, Seed::Set(amount)).await,
            (None, true) if scoped => clear(&client, args).await,
            (None, true) => seed(&client, args, Seed::Clear).await,
            (None, false) if scoped => show(&client, args).await,
            (None, false) => seed(&client, args, Seed::Show).await,
        }
    })?
}

/// What the seed's form of the command does to the account's monthly budget.
enum Seed {
    Show,
    Set(Money),
    /// Removes every budget of the account (all periods).
    Clear,
}

#[derive(Serialize)]
struct Outcome {
    budget: Option<llmlab_api::Budget>,
    status: BudgetStatus,
    /// The budgets `--clear` removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    removed: Option<Vec<ScopedBudget>>,
}

/// The account's monthly budget, shown, set or removed with the seed's output.
async fn seed(client: &Client, args: &BudgetArgs, action: Seed) -> anyhow::Result<ExitStatus> {
    let mut removed = None;
    let budget = match action {
        Seed::Set(amount_usd) => {
            let request = SetBudgetRequest { amount_usd, period: "monthly".to_owned() };
            client.post::<_, BudgetResponse>("/api/budgets", &request).await?.budget
        }
        Seed::Clear => {
            removed = Some(remove(client, &Selector::ACCOUNT, None).await?);
            None
        }
        Seed::Show => client.get::<BudgetResponse>("/api/budgets").await?.budget,
    };
    let status = client.get::<BudgetStatus>("/api/budgets/status").await?;
    if args.json {
        printer::out_json(&Outcome { budget, status, removed })?;
        return Ok(ExitStatus::Success);
    }
    if let (Seed::Set(_), Some(budget)) = (&action, &budget) {
        printer::info(&format!("{GREEN}✓{GREEN:#} Monthly budget set to {}", usd(budget.amount_usd)));
    }
    for gone in removed.iter().flatten() {
        printer::info(&format!("{GREEN}✓{GREEN:#} {} removed", title(gone)));
    }
    printer::out(&budget_line(&status));
    if budget.is_some() {
        warn_budget(&status);
    }
    if let Seed::Show = action {
        let others = client.get::<ScopedBudgets>("/api/budgets/scoped").await?.budgets;
        let others = others.iter().filter(|b| !is_account_month(b)).count();
        if others > 0 {
            printer::note(&format!(
                "{} more budget{} (another scope or period): `llmlab budget list` shows every budget",
                count(others as u64),
                if others == 1 { "" } else { "s" }
            ));
        }
    }
    Ok(ExitStatus::Success)
}

/// Creates or replaces the budget of a scope and period.
async fn set(client: &Client, args: &BudgetArgs, amount: Money) -> anyhow::Result<ExitStatus> {
    let selector = args.scope.selector();
    let period = args.period.unwrap_or(BudgetPeriod::Month);
    let (budgets, account) = budgets_and_account(client).await?;
    let existing = budgets.into_iter().find(|b| selector.matches(b, Some(period)));
    let hard = match (args.mode.chosen(), &existing) {
        (Some(hard), _) => hard,
        (None, Some(existing)) => existing.hard,
        // As the seed's `POST /api/budgets` does for a new monthly budget of the account.
        (None, None) => selector.scope == BudgetScope::Account && period == BudgetPeriod::Month && account.hard_budget,
    };
    let thresholds = match (&args.thresholds, &existing) {
        (Some(thresholds), _) => Some(threshold_numbers(thresholds.as_slice().iter().map(|p| p.to_decimal()))?),
        // A replace without `--thresholds` keeps the budget's own (`POST` would reset them).
        (None, Some(existing)) => {
            Some(existing.thresholds.iter().filter_map(|t| serde_json::Number::from_f64(*t)).collect())
        }
        (None, None) => None,
    };
    let request = CreateBudgetRequest {
        amount_usd: amount,
        scope: selector.scope,
        target: selector.target.clone(),
        period: period.as_str().to_owned(),
        hard,
        thresholds,
    };
    let path = "/api/budgets/scoped";
    let response = client.send(Method::POST, path, Some(&request)).await.map_err(|e| args.in_flags(e))?;
    let created = response.status() == StatusCode::CREATED;
    let bytes = response.bytes().await.map_err(|e| client.transport_error(&e))?;
    let budget: ScopedBudget = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!("the server at `{}` sent an unexpected answer to `POST {path}`: {e}", client.base_url())
    })?;
    if args.json {
        printer::out_json(&budget)?;
        return Ok(ExitStatus::Success);
    }
    let was = match existing.filter(|_| !created) {
        Some(old) if old.hard == budget.hard => format!("; was {}", usd(old.amount_usd)),
        Some(old) => format!("; was {}, {}", usd(old.amount_usd), mode(&old)),
        None => String::new(),
    };
    printer::info(&format!(
        "{GREEN}✓{GREEN:#} {} set to {} ({}{was})",
        title(&budget),
        usd(budget.amount_usd),
        mode(&budget)
    ));
    printer::out(&budgets_table(std::slice::from_ref(&budget), &account.timezone));
    warn_scoped(&budget);
    Ok(ExitStatus::Success)
}

/// The budgets of a scope (and period), as `list` shows them.
async fn show(client: &Client, args: &BudgetArgs) -> anyhow::Result<ExitStatus> {
    let selector = args.scope.selector();
    let (budgets, account) = budgets_and_account(client).await?;
    let budgets: Vec<ScopedBudget> = budgets.into_iter().filter(|b| selector.matches(b, args.period)).collect();
    if args.json {
        printer::out_json(&ScopedBudgets { budgets })?;
        return Ok(ExitStatus::Success);
    }
    if budgets.is_empty() {
        let period = args.period.map(|p| format!("{} ", adjective(p.as_str()))).unwrap_or_default();
        printer::out(&format!(
            "{DIM}{} has no {period}budget (`llmlab budget list` shows every budget){DIM:#}\n",
            capitalized(&selector.describe())
        ));
        return Ok(ExitStatus::Success);
    }
    printer::out(&budgets_table(&budgets, &account.timezone));
    for budget in &budgets {
        warn_scoped(budget);
    }
    Ok(ExitStatus::Success)
}

/// Removes the budgets of a scope (and period).
async fn clear(client: &Client, args: &BudgetArgs) -> anyhow::Result<ExitStatus> {
    let removed = remove(client, &args.scope.selector(), args.period).await?;
    if args.json {
        #[derive(Serialize)]
        struct Removed {
            removed: Vec<ScopedBudget>,
        }
        printer::out_json(&Removed { removed })?;
        return Ok(ExitStatus::Success);
    }
    for gone in &removed {
        printer::info(&format!("{GREEN}✓{GREEN:#} {} removed", title(gone)));
    }
    Ok(ExitStatus::Success)
}

/// Deletes every budget `selector` (and `period`) matches; an error naming
/// the scope when there is none.
async fn remove(
    client: &Client,
    selector: &Selector,
    period: Option<BudgetPeriod>,
) -> anyhow::Result<Vec<ScopedBudget>> {
    let budgets = client.get::<ScopedBudgets>("/api/budgets/scoped").await?.budgets;
    let matching: Vec<ScopedBudget> = budgets.into_iter().filter(|b| selector.matches(b, period)).collect();
    if matching.is_empty() {
        let period = period.map(|p| format!("{} ", adjective(p.as_str()))).unwrap_or_default();
        return Err(UserError::new(format!("{} has no {period}budget to remove", selector.describe()))
            .with_hint("`llmlab budget list` shows every budget")
            .into());
    }
    for budget in &matching {
        if is_account_month(budget) {
            // The seed's route for the seed's budget; the store removes it the same way.
            client.delete::<BudgetResponse>("/api/budgets").await?;
        } else {
            client.send(Method::DELETE, &format!("/api/budgets/scoped/{}", budget.id), None::<&()>).await?;
        }
    }
    Ok(matching)
}

/// `Budget  ████░░░░  $40.00 of $100.00 (40%) this month · projected $95.00`.
pub(crate) fn budget_line(budget: &BudgetStatus) -> String {
    let Some(amount) = budget.amount_usd else {
        return format!("{BOLD}Budget{BOLD:#}  {DIM}none set (`llmlab budget 500` sets $500 a month){DIM:#}\n");
    };
    let style = match budget.state {
        BudgetState::Exceeded => RED,
        BudgetState::Warning => YELLOW,
        BudgetState::Ok | BudgetState::None => GREEN,
    };
    let (filled, empty) = bar(budget.spent_usd, amount, 24);
    let share = budget.percent_used.map(percent).unwrap_or_default();
    let projected = budget.projected_usd.map(|p| format!(" · projected {}", usd(p))).unwrap_or_default();
    format!(
        "{BOLD}Budget{BOLD:#}  {style}{filled}{style:#}{DIM}{empty}{DIM:#}  {style}{}{style:#} of {} ({share}) this month{DIM}{projected}{DIM:#}\n",
        usd(budget.spent_usd),
        usd(amount),
    )
}

/// The 80% and 100% warnings, on stderr.
pub(crate) fn warn_budget(budget: &BudgetStatus) {
    let Some(amount) = budget.amount_usd else { return };
    let share = budget.percent_used.map(percent).unwrap_or_default();
    match budget.state {
        BudgetState::Exceeded => printer::warn(&format!(
            "the monthly budget of {} is exceeded: {} spent ({share})",
            usd(amount),
            usd(budget.spent_usd)
        )),
        BudgetState::Warning => printer::warn(&format!(
            "{share} of the monthly budget of {} is spent ({})",
            usd(amount),
            usd(budget.spent_usd)
        )),
        BudgetState::Ok | BudgetState::None => {}
    }
}

/// `llmlab budget list`.
fn list(args: &ListArgs) -> anyhow::Result<ExitStatus> {
    let settings = Settings::load(&args.server)?;
    let client = Client::authenticated(&settings)?;
    block_on(async {
        if args.json {
            // The server's document as it is, fields this CLI does not know included.
            let document = client.get::<serde_json::Value>("/api/budgets/scoped").await?;
            printer::out_json(&document)?;
            return Ok(ExitStatus::Success);
        }
        let (budgets, account) = budgets_and_account(&client).await?;
        if budgets.is_empty() {
            printer::out(&format!("{DIM}No budgets (`llmlab budget 500` sets $500 a month for the account){DIM:#}\n"));
        } else {
            printer::out(&budgets_table(&budgets, &account.timezone));
        }
        Ok(ExitStatus::Success)
    })?
}

/// Every budget, and the account (its time zone dates the projections; its
/// hard-budget setting is the default of a new monthly budget).
async fn budgets_and_account(client: &Client) -> anyhow::Result<(Vec<ScopedBudget>, Account)> {
    let (budgets, account) =
        tokio::join!(client.get::<ScopedBudgets>("/api/budgets/scoped"), client.get::<Account>("/api/account"));
    Ok((budgets?.budgets, account?))
}

/// Percentages as the JSON numbers the API takes, written exactly (`92.5`, not `92.50000001`).
fn threshold_numbers(percents: impl Iterator<Item = Decimal>) -> anyhow::Result<Vec<serde_json::Number>> {
    percents.map(|p| Ok(serde_json::from_str(&p.normalize().to_string())?)).collect()
}

/// The account's own monthly budget: the one the seed's commands and `GET /api/budgets/status` show.
pub(crate) fn is_account_month(budget: &ScopedBudget) -> bool {
    budget.scope == BudgetScope::Account && budget.period == BudgetPeriod::Month.as_str()
}

/// The budget's scope in a message: the account, or its kind and name in
/// backticks (project \`search\`, key \`ci\` or its id, tag \`customer=acme\`).
fn owner(budget: &ScopedBudget) -> String {
    match owner_parts(budget) {
        (kind, Some(name)) => format!("{kind} `{name}`"),
        (kind, None) => kind.to_owned(),
    }
}

/// [`owner`] in a table, without backticks: `project search`.
fn owner_cell(budget: &ScopedBudget) -> String {
    match owner_parts(budget) {
        (kind, Some(name)) => format!("{kind} {name}"),
        (kind, None) => kind.to_owned(),
    }
}

/// The scope's kind and name: a key by its name, else its id as keys are shown (`llm_ab12cd34…`).
fn owner_parts(budget: &ScopedBudget) -> (&'static str, Option<String>) {
    match (budget.scope, budget.target_name.as_deref(), budget.target.as_deref()) {
        (BudgetScope::Account, _, _) | (_, _, None) => ("the account", None),
        (BudgetScope::Key, Some(name), _) => ("key", Some(name.to_owned())),
        (BudgetScope::Key, None, Some(id)) => ("key", Some(format!("{id}…"))),
        (scope, _, Some(target)) => (scope.as_str(), Some(target.to_owned())),
    }
}

/// "Monthly budget" for the account's, "Weekly budget of project \`search\`" for the others.
fn title(budget: &ScopedBudget) -> String {
    let adjective = capitalized(adjective(&budget.period));
    match budget.scope {
        BudgetScope::Account => format!("{adjective} budget"),
        _ => format!("{adjective} budget of {}", owner(budget)),
    }
}

/// `daily`, `weekly`, `monthly`, `total`.
fn adjective(period: &str) -> &str {
    match period {
        "day" => "daily",
        "week" => "weekly",
        "month" => "monthly",
        other => other,
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn mode(budget: &ScopedBudget) -> &'static str {
    if budget.hard { "hard" } else { "soft" }
}

fn state_style(state: BudgetState) -> Style {
    match state {
        BudgetState::Exceeded => RED,
        BudgetState::Warning => YELLOW,
        BudgetState::Ok | BudgetState::None => GREEN,
    }
}

fn state_name(state: BudgetState) -> &'static str {
    match state {
        BudgetState::None => "none",
        BudgetState::Ok => "ok",
        BudgetState::Warning => "warning",
        BudgetState::Exceeded => "exceeded",
    }
}

/// The order budgets are shown in: the account first, then projects, keys
/// and tags by name; the shortest period first.
fn display_order(a: &ScopedBudget, b: &ScopedBudget) -> Ordering {
    let period = |x: &ScopedBudget| x.period.parse::<BudgetPeriod>().ok();
    (a.scope, owner_cell(a), period(a)).cmp(&(b.scope, owner_cell(b), period(b)))
}

/// One line per budget with its bar (`█` spent, `▒` held by calls in flight):
///
/// ```text
/// budget          period  mode                        spent  amount   used  state
/// the account     month   soft  ████████████████░░░░  $5.66   $7.00  80.9%  warning  projected $20.00 (hits 100% on 2026-12-15)
/// project search  week    hard  ▒▒▒▒░░░░░░░░░░░░░░░░  $0.00  $10.00     0%  ok       held $2.00 · projected $0.00
/// ```
///
/// Dates are days in `tz`, the account's time zone.
pub(crate) fn budgets_table(budgets: &[ScopedBudget], tz: &str) -> String {
    const BAR: usize = 20;
    let mut budgets: Vec<&ScopedBudget> = budgets.iter().collect();
    budgets.sort_by(|a, b| display_order(a, b));
    let header = ["budget", "period", "mode", "", "spent", "amount", "used", "state", ""];
    let right = [false, false, false, false, true, true, true, false, false];
    let mut rows: Vec<Vec<Cell>> = vec![header.iter().map(|h| Cell::styled(*h, BOLD)).collect()];
    for budget in budgets {
        let status = &budget.status;
        let style = state_style(status.state);
        let (spent, held, free) = held_bar(status.spent_usd, status.reserved_usd, budget.amount_usd, BAR);
        let bar = Cell {
            styled: [(&spent, style), (&held, YELLOW), (&free, DIM)].iter().filter(|(part, _)| !part.is_empty()).fold(
                String::new(),
                |mut bar, (part, style)| {
                    let _ = write!(bar, "{style}{part}{style:#}");
                    bar
                },
            ),
            plain: format!("{spent}{held}{free}"),
        };
        let mut notes = Vec::new();
        if status.reserved_usd > Money::ZERO {
            notes.push(format!("held {}", usd(status.reserved_usd)));
        }
        if let Some(projected) = status.projected_usd {
            let crossing = status.projected_crossing_at.as_deref().and_then(|at| day_in(at, tz));
            let crossing = crossing.map(|day| format!(" (hits 100% on {day})")).unwrap_or_default();
            notes.push(format!("projected {}{crossing}", usd(projected)));
        }
        if status.unpriced_calls > 0 {
            let one = status.unpriced_calls == 1;
            notes.push(format!("{} unpriced call{}", count(status.unpriced_calls), if one { "" } else { "s" }));
        }
        rows.push(vec![
            Cell::new(owner_cell(budget)),
            Cell::new(budget.period.clone()),
            Cell::new(mode(budget)),
            bar,
            Cell::styled(usd(status.spent_usd), style),
            Cell::new(usd(budget.amount_usd)),
            Cell::new(percent(status.percent_used)),
            Cell::styled(state_name(status.state), style),
            Cell::styled(notes.join(" · "), DIM),
        ]);
    }
    let widths: Vec<usize> =
        (0..header.len()).map(|i| rows.iter().map(|r| r[i].plain.chars().count()).max().unwrap_or(0)).collect();
    let mut text = String::new();
    for row in &rows {
        let _ = writeln!(text, "{}", printer::cell_row(row, &widths, &right));
    }
    text
}

/// The warning of a budget past a threshold, on stderr: the seed's words
/// for the account's monthly budget, the budget's scope and period otherwise.
pub(crate) fn warn_scoped(budget: &ScopedBudget) {
    let status = &budget.status;
    let share = percent(status.percent_used);
    let which = match budget.scope {
        BudgetScope::Account => format!("the {} budget of {}", adjective(&budget.period), usd(budget.amount_usd)),
        _ => format!("the {} budget of {} ({})", adjective(&budget.period), owner(budget), usd(budget.amount_usd)),
    };
    match status.state {
        BudgetState::Exceeded => {
            let refused = if budget.hard { "; it is hard, so calls are refused" } else { "" };
            printer::warn(&format!("{which} is exceeded: {} spent ({share}){refused}", usd(status.spent_usd)));
        }
        BudgetState::Warning => printer::warn(&format!("{share} of {which} is spent ({})", usd(status.spent_usd))),
        BudgetState::Ok | BudgetState::None => {}
    }
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
