//! `/dashboard`: totals, one bar per budget, the 30-day trend, spend by
//! model, unpriced calls and recommendations, rendered from the API's own answers.
//!
//! Live updates: the page's script polls `/dashboard/panels` every few
//! seconds with `If-None-Match`. The `ETag` is a hash of the account's
//! all-time totals (a tiny rollup table that every stored or repriced event
//! changes), its budgets with their current periods' counters (spent and
//! held by calls in flight), its time zone, and the current 15-minute slot; an
//! unchanged account is answered `304` without computing the summary, and
//! the rendered panels are kept per account under that version, so a reload
//! or another tab costs no more than a `304`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::tz::TimeZone;
use llmlab_api::{BudgetState, CostSummary, ModelSpend, Recommendation, Reconciliation, ScopedBudget, UnpricedModel};
use llmlab_core::Money;
use maud::{Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use super::chart::{share_bar, trend};
use super::format::{
    calls, count, percent, prose, scaled, share, shell_word, short_date, tokens, url_component, usd, usd_exact,
};
use super::layout::{self, Nav, kbd, panel};
use super::{Visitor, assets, budgets, error_page, html_response, reports, sign_in_page};
use crate::auth::Caller;
use crate::cache::Page;
use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::service::budgets::scoped;
use crate::service::reports::reconcile;
use crate::service::{recommendations, summary};
use crate::state::AppState;

/// Tips shown at once; the others are behind a "Show more".
const SHOWN_TIPS: usize = 5;
/// How often the page checks for new data, in milliseconds.
const POLL_MS: u32 = 2000;
/// The `ETag` changes at least this often (ms), so "today" and the month-end
/// projection move on even when no event arrives.
const VERSION_SLOT_MS: i64 = 15 * 60 * 1000;

/// Everything the panels show.
struct Data {
    summary: CostSummary,
    /// Every budget of the account with its current period, oldest first.
    budgets: Vec<ScopedBudget>,
    tips: Vec<Recommendation>,
    /// This month's tracked against billed, when the account has a provider connection.
    reconciliation: Option<Reconciliation>,
}

async fn load(state: &AppState, caller: &Caller) -> ApiResult<Data> {
    let user = &caller.user;
    let reconciliation = async {
        if state.store.connections(user.id).await?.is_empty() {
            return Ok(None);
        }
        reconcile::reconciliation(state, user, None).await.map(Some)
    };
    let (summary, budgets, tips, reconciliation) = tokio::try_join!(
        summary::summary(state, user, None, None),
        scoped::list(state, user),
        recommendations::tips(state, user),
        reconciliation,
    )?;
    Ok(Data { summary, budgets: budgets.budgets, tips, reconciliation })
}

/// The `ETag` of what the panels would show now, computed without the summary.
async fn version(state: &AppState, caller: &Caller) -> ApiResult<String> {
    let user = &caller.user;
    let totals = async { state.store.spend_all_time(user.id, None).await.map_err(ApiError::from) };
    // A sync changes the reported spend and the reconciliation without changing the totals.
    let synced = async { state.store.connections(user.id).await.map_err(ApiError::from) };
    let (totals, budgets, synced) = tokio::try_join!(totals, budgets::version(state, user), synced)?;
    let synced: Vec<_> = synced.iter().map(|c| (&c.provider, c.last_sync_at)).collect();
    let mut rows: Vec<_> =
        totals.iter().map(|r| (&r.provider, &r.model, &r.project, r.calls, r.unpriced_calls, r.cost.nanos())).collect();
    rows.sort_unstable();
    let mut hash = Sha256::new();
    hash.update(format!(
        "{}|{}|{}|{}|{}|{rows:?}|{budgets}|{synced:?}",
        env!("CARGO_PKG_VERSION"),
        assets::version(),
        user.timezone,
        user.name.as_deref().unwrap_or_default(),
        now_ms() / VERSION_SLOT_MS,
    ));
    Ok(format!("\"{}\"", hex::encode(&hash.finalize()[..12])))
}

/// This server's address as the visitor reached it, for the copyable snippets.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    state.base_url(headers)
}

/// The account's panels as HTML, and their `ETag`.
async fn rendered_panels(state: &AppState, caller: &Caller, base_url: &str) -> ApiResult<(String, Arc<str>)> {
    // The version first: data newer than its version only costs one extra refresh.
    let etag = version(state, caller).await?;
    if let Some(html) = state.pages.get(caller.user.id, &etag, base_url) {
        return Ok((etag, html));
    }
    let html: Arc<str> = panels(&load(state, caller).await?, base_url).into_string().into();
    state.pages.put(caller.user.id, Page { etag: etag.clone(), base_url: base_url.to_owned(), html: html.clone() });
    Ok((etag, html))
}

/// `GET /dashboard`: the dashboard, or the sign-in form.
pub(super) async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let caller = match Visitor::of(&state, &headers).await {
        Ok(Visitor::SignedIn(caller)) => caller,
        Ok(visitor) => return sign_in_page(&state, &visitor, Nav::Dashboard),
        Err(error) => return error_page(&error, Nav::Dashboard),
    };
    let (etag, html) = match rendered_panels(&state, &caller, &base_url(&state, &headers)).await {
        Ok(rendered) => rendered,
        Err(error) => return error_page(&error, Nav::Dashboard),
    };
    let who = super::display_name(&caller.user);
    let body = html! {
        div class="flex flex-wrap items-baseline justify-between gap-x-4 gap-y-1" {
            h1 class="text-2xl font-bold tracking-tight" { "Dashboard" }
            p class="text-sm text-slate-600" { "Signed in as " span id="signed-in-as" class="font-medium text-slate-800 break-all" title=(caller.user.public_id) { (who) } }
        }
        div id="panels" class="mt-4 grid grid-cols-1 gap-4 lg:grid-cols-3" data-source="/dashboard/panels"
            data-poll=(POLL_MS) data-etag=(etag) {
            (PreEscaped(&*html))
        }
    };
    html_response(StatusCode::OK, layout::page("Dashboard", Nav::Dashboard, true, &body))
}

/// `GET /dashboard/panels`: the panels alone, `304` when nothing changed.
pub(super) async fn fragment(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let caller = match Visitor::of(&state, &headers).await {
        Ok(Visitor::SignedIn(caller)) => caller,
        Ok(_) => return StatusCode::UNAUTHORIZED.into_response(),
        Err(error) => return error.into_response(),
    };
    let etag = match version(&state, &caller).await {
        Ok(etag) => etag,
        Err(error) => return error.into_response(),
    };
    let mut response = if headers.get(IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match rendered_panels(&state, &caller, &base_url(&state, &headers)).await {
            Ok((_, html)) => ([(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], html.to_string())
                .into_response(),
            Err(error) => return error.into_response(),
        }
    };
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// Every panel, each a `section[data-panel]` the script swaps on its own.
fn panels(data: &Data, base_url: &str) -> Markup {
    let summary = &data.summary;
    html! {
        @if summary.all_time_calls == 0 {
            section data-panel="empty" class="lg:col-span-3" aria-labelledby="empty-title" { (empty_state(base_url)) }
            section data-panel="budget" class="lg:col-span-3" aria-labelledby="budget-title" { (budget_panel(data)) }
            (report_panels(data))
        } @else {
            section data-panel="totals" class="lg:col-span-3" aria-labelledby="totals-title" { (totals(summary)) }
            section data-panel="budget" class="lg:col-span-3" aria-labelledby="budget-title" { (budget_panel(data)) }
            section data-panel="trend" class="min-w-0 lg:col-span-2" aria-labelledby="trend-title" {
                (panel("trend-title", "Last 30 days", &trend(&summary.daily)))
            }
            section data-panel="breakdown" class="min-w-0" aria-labelledby="breakdown-title" { (breakdown(summary)) }
            @if !summary.unpriced_models.is_empty() || summary.unpriced_calls > 0 {
                section data-panel="unpriced" class="lg:col-span-3" aria-labelledby="unpriced-title" { (unpriced(summary)) }
            }
            section data-panel="models" class="min-w-0 lg:col-span-3" aria-labelledby="models-title" { (models(summary)) }
            section data-panel="recommendations" class="lg:col-span-3" aria-labelledby="recommendations-title" { (recommendations_panel(&data.tips)) }
            (report_panels(data))
        }
    }
}

/// The providers' own reports: their spend on days without tracked calls, and this month's reconciliation.
fn report_panels(data: &Data) -> Markup {
    html! {
        @if let Some(reported) = &data.summary.provider_reported {
            section data-panel="reported" class="min-w-0 lg:col-span-3" aria-labelledby="reported-title" { (reports::reported_panel(reported)) }
        }
        @if let Some(reconciliation) = data.reconciliation.as_ref().filter(|r| !r.days.is_empty()) {
            section data-panel="reconciliation" class="min-w-0 lg:col-span-3" aria-labelledby="reconciliation-title" { (reports::reconciliation_panel(reconciliation)) }
        }
    }
}

fn empty_state(base_url: &str) -> Markup {
    // Lines short enough for their column at 1280 px (a test checks that no block scrolls there).
    let setup = format!(
        "git clone https://github.com/llmlab/llmlab\ncd llmlab\npip install ./crates/llmlab-cli ./sdk/python\n\
         llmlab init --server {base_url} \\\n  --api-key llm_…   # your key"
    );
    let snippet = "from llmlab import track_cost\nfrom openai import OpenAI\n\nclient = OpenAI()\n\n\
                   @track_cost(provider=\"openai\")\ndef ask(prompt: str):\n    return client.chat.completions.create(\n        \
                   model=\"gpt-4o-mini\",\n        messages=[{\"role\": \"user\", \"content\": prompt}],\n    )\n\nask(\"Hello!\")";
    let curl = format!(
        "curl {base_url}/api/events/track \\\n  -H \"Authorization: Bearer $LLMLAB_API_KEY\" \\\n  \
         -H 'content-type: application/json' \\\n  \
         -d '{{\"provider\": \"openai\", \"model\": \"gpt-4o-mini\",\n       \"input_tokens\": 1200, \"output_tokens\": 300}}'"
    );
    html! {
        div class="rounded-lg bg-white p-5 shadow-sm ring-1 ring-slate-200 sm:p-6" {
            h2 id="empty-title" class="text-xl font-semibold" { "No calls tracked yet" }
            p class="mt-1 text-slate-700" {
                "Track your first LLM call and it shows up here within seconds: this page updates by itself."
            }
            ol class="mt-5 grid gap-6 lg:grid-cols-2 lg:grid-rows-[auto_1fr]" {
                li class="min-w-0 lg:col-start-1 lg:row-start-1" {
                    h3 class="font-semibold" { "1. Install and run " (kbd("llmlab init")) }
                    p class="mt-1 text-sm text-slate-700" {
                        "From a clone until the packages are on PyPI (then " (kbd("pip install llmlab-cli llmlab")) "). "
                        "Give " (kbd("init")) " the key you signed in with: without " (kbd("--api-key")) " it creates another account. "
                        "Or set " (kbd("LLMLAB_API_KEY")) " and " (kbd(&format!("LLMLAB_BASE_URL={base_url}"))) "."
                    }
                    div class="mt-2" { (layout::code("empty-setup", "setup commands", &setup)) }
                }
                li class="min-w-0 lg:col-start-2 lg:row-span-2 lg:row-start-1" {
                    h3 class="font-semibold" { "2. Decorate the function that calls the model" }
                    p class="mt-1 text-sm text-slate-700" { "OpenAI, Anthropic and Google GenAI clients; sync, async and streaming." }
                    div class="mt-2" { (layout::code("empty-snippet", "Python SDK example", snippet)) }
                }
                li class="min-w-0 lg:col-start-1 lg:row-start-2" {
                    h3 class="font-semibold" { "3. Or send an event from any language" }
                    div class="mt-2" { (layout::code("empty-curl", "curl example", &curl)) }
                }
            }
        }
    }
}

fn totals(summary: &CostSummary) -> Markup {
    html! {
        h2 id="totals-title" class="sr-only" { "Spend" }
        dl class="grid gap-4 sm:grid-cols-3" {
            (total_card("total-today", "Today", summary.today_usd, summary.today_calls, summary.today_partial_calls))
            (total_card("total-month", "This month", summary.month_usd, summary.month_calls, summary.month_partial_calls))
            (total_card("total-all", "All time", summary.all_time_usd, summary.all_time_calls, summary.all_time_partial_calls))
        }
        p class="mt-2 text-xs text-slate-600" {
            "Days and months in " (summary.timezone) ". "
            a href="/settings#timezone" class=(layout::LINK) { "Change the time zone" }
        }
    }
}

/// A total; with `partial` calls priced from cut-off streams it is a lower bound: "at least $X".
fn total_card(id: &str, label: &str, amount: Money, n: u64, partial: u64) -> Markup {
    html! {
        div class="rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200" {
            dt class="text-sm font-medium text-slate-600" { (label) }
            dd id=(id) class="mt-1 text-2xl font-semibold tracking-tight tabular-nums sm:text-3xl" title=(usd_exact(amount)) {
                @if partial > 0 { span class="text-base font-medium text-slate-600" { "at least " } }
                (usd(amount))
            }
            dd id={ (id) "-calls" } class="mt-1 text-xs text-slate-600 tabular-nums" { (calls(n)) }
            @if partial > 0 {
                dd id={ (id) "-partial" } class="mt-1 text-xs text-amber-800" {
                    (calls(partial)) " from cut-off streams, priced from the tokens seen (a lower bound)"
                }
            }
        }
    }
}

fn budget_panel(data: &Data) -> Markup {
    let tz = TimeZone::get(&data.summary.timezone).unwrap_or(TimeZone::UTC);
    let body = if data.budgets.is_empty() {
        html! {
            div data-budget-state="none" {
                p class="text-slate-700" {
                    "No budget yet. " a href="/settings#budget" class=(layout::LINK) { "Add one" }
                    " (or run " (kbd("llmlab budget 500")) ") to be warned at 80% and 100%, for the whole account, "
                    "a project, an API key or a tag."
                }
                p class="mt-1 text-sm text-slate-600" {
                    "This month so far: " span id="budget-spent" class="tabular-nums" { (usd(data.summary.month_usd)) }
                }
            }
        }
    } else {
        html! {
            ul id="budget-bars" class="space-y-6" {
                @for budget in &data.budgets { (budget_bar(budget, &tz)) }
            }
            p class="mt-4 text-sm" { a href="/settings#budget" class=(layout::LINK) { "Add or change budgets" } }
        }
    };
    panel("budget-title", if data.budgets.len() == 1 { "Budget" } else { "Budgets" }, &body)
}

/// How a budget's state looks: its bar's fill, its badge's colours, the
/// badge's words and the state's name (`data-budget-state`).
fn state_look(budget: &ScopedBudget) -> (&'static str, &'static str, String, &'static str) {
    match budget.status.state {
        BudgetState::Exceeded => {
            ("fill-red-600", "bg-red-50 text-red-800 ring-red-200", "Over budget".to_owned(), "exceeded")
        }
        BudgetState::Warning => {
            // The highest threshold reached (the lowest when rounding hides it).
            let used = budget.status.percent_used;
            let below: Vec<f64> = budget.thresholds.iter().copied().filter(|t| *t < 100.0).collect();
            let reached =
                below.iter().copied().filter(|t| *t <= used).reduce(f64::max).or_else(|| below.first().copied());
            let label = reached.map_or_else(|| "Warning".to_owned(), |t| format!("{}% used", budgets::threshold(t)));
            ("fill-amber-500", "bg-amber-50 text-amber-900 ring-amber-200", label, "warning")
        }
        _ => ("fill-emerald-600", "bg-emerald-50 text-emerald-800 ring-emerald-200", "On track".to_owned(), "ok"),
    }
}

/// One budget: its name, state and hardness, spent of the amount as a bar
/// (what calls in flight hold drawn after it, the warning thresholds as
/// ticks), and where the period is heading.
fn budget_bar(budget: &ScopedBudget, tz: &TimeZone) -> Markup {
    let status = &budget.status;
    let (fill, badge, label, name) = state_look(budget);
    let id = format!("budget-{}", budget.id);
    let used = status.percent_used;
    let spent = scaled(status.spent_usd, budget.amount_usd, 1000);
    let held = scaled(status.spent_usd + status.reserved_usd, budget.amount_usd, 1000) - spent;
    let text = format!("{} of {} ({})", usd(status.spent_usd), usd(budget.amount_usd), percent(used));
    let crossing = status.projected_crossing_at.as_deref().and_then(|at| crossing_text(at, &budget.period, tz));
    html! {
        li data-budget-id=(budget.id) data-budget-state=(name) data-scope=(budget.scope.as_str()) data-period=(budget.period) {
            div class="flex flex-wrap items-start justify-between gap-x-3 gap-y-1" {
                h3 id={ (id) "-title" } class="min-w-0 font-semibold break-words text-slate-900" { (budgets::title(budget)) }
                div class="flex shrink-0 items-center gap-1.5" {
                    @if budget.hard {
                        span class="budget-hard rounded-full bg-slate-800 px-2.5 py-0.5 text-xs font-semibold text-white"
                            title="Calls this budget cannot cover are refused" { "Hard" }
                    }
                    span class={ "budget-state rounded-full px-2.5 py-0.5 text-xs font-semibold ring-1 ring-inset " (badge) } { (label) }
                }
            }
            p class="mt-1 text-slate-800" {
                span class="budget-spent text-lg font-semibold tabular-nums" title=(usd_exact(status.spent_usd)) { (usd(status.spent_usd)) }
                " of " span class="budget-amount font-medium tabular-nums" title=(usd_exact(budget.amount_usd)) { (usd(budget.amount_usd)) }
                " " (budgets::this_period(&budget.period))
            }
            div id={ (id) "-bar" } class="mt-2" role="progressbar" aria-labelledby={ (id) "-title" } aria-valuemin="0" aria-valuemax="100"
                aria-valuenow=(format!("{:.0}", used.clamp(0.0, 100.0))) aria-valuetext=(text) data-percent=(format!("{used:.2}")) {
                svg class="h-4 w-full rounded-full bg-slate-100" viewBox="0 0 1000 20" preserveAspectRatio="none" aria-hidden="true" focusable="false" {
                    rect x="0" y="0" width=(spent) height="20" class=(fill) {}
                    @if held > 0 {
                        rect class="budget-held-bar fill-sky-300" x=(spent) y="0" width=(held) height="20" {}
                    }
                    @for t in budget.thresholds.iter().filter(|t| **t > 0.0 && **t < 100.0) {
                        line x1=(tick(*t)) x2=(tick(*t)) y1="0" y2="20" class="stroke-slate-500" stroke-width="1" vector-effect="non-scaling-stroke" {}
                    }
                }
            }
            p class="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-sm text-slate-700" {
                span { span class="budget-percent font-medium tabular-nums" { (percent(used)) } " used" }
                @if status.reserved_usd > Money::ZERO {
                    span class="budget-held" {
                        svg class="mr-1 inline-block h-2.5 w-2.5 align-baseline" viewBox="0 0 10 10" aria-hidden="true" focusable="false" {
                            rect class="fill-sky-300" x="0" y="0" width="10" height="10" rx="2" {}
                        }
                        "Held by calls in flight: " span class="font-medium tabular-nums" title=(usd_exact(status.reserved_usd)) { (usd(status.reserved_usd)) }
                    }
                }
                @if let Some(projected) = status.projected_usd {
                    span class="budget-projected" {
                        "Projected " (budgets::period_end(&budget.period)) ": "
                        span class="font-medium tabular-nums" title=(usd_exact(projected)) { (usd(projected)) }
                    }
                }
                @if let Some(when) = &crossing {
                    span class="budget-crossing" { "Reaches 100% " span class="font-medium" { (when) } " at this rate" }
                }
            }
            @if status.state == BudgetState::Exceeded {
                p class="mt-2 rounded-md bg-red-50 p-3 text-sm font-medium text-red-800 ring-1 ring-red-200" {
                    @if budget.hard {
                        "Over the budget: the proxy and the SDK's hard mode refuse the calls it covers."
                    } @else {
                        "Over the budget. It is soft: calls still go through."
                    }
                }
            }
            @if status.unpriced_calls > 0 {
                p class="mt-1 text-xs text-slate-600" { "Not counted: " (calls(status.unpriced_calls)) " without a price." }
            }
        }
    }
}

/// Where a threshold's tick sits on the 0–1000 bar.
fn tick(threshold: f64) -> String {
    format!("{:.1}", threshold * 10.0)
}

/// When the budget is projected to reach 100%, in the account's time zone:
/// `around 17:40` within a day's budget, else `on Dec 20`.
fn crossing_text(at: &str, period: &str, tz: &TimeZone) -> Option<String> {
    let at = at.parse::<jiff::Timestamp>().ok()?.to_zoned(tz.clone());
    Some(if period == "day" {
        format!("around {}", at.strftime("%H:%M"))
    } else {
        format!("on {}", short_date(&at.date().to_string()))
    })
}

fn breakdown(summary: &CostSummary) -> Markup {
    let body = html! {
        h3 class="text-sm font-medium text-slate-600" { "By provider" }
        (small_table(summary.by_provider.iter().map(|p| (p.provider.as_str(), p.cost_usd, p.calls)), summary.month_usd, "provider"))
        h3 class="mt-4 text-sm font-medium text-slate-600" { "By project" }
        (small_table(summary.by_project.iter().map(|p| (p.project.as_str(), p.cost_usd, p.calls)), summary.month_usd, "project"))
    };
    panel("breakdown-title", "This month", &body)
}

fn small_table<'a>(rows: impl Iterator<Item = (&'a str, Money, u64)>, total: Money, what: &str) -> Markup {
    let rows: Vec<_> = rows.collect();
    html! {
        @if rows.is_empty() {
            p class="mt-1 text-sm text-slate-600" { "No spend this month yet." }
        } @else {
            ul class="mt-1 space-y-2" aria-label=(format!("Spend by {what}")) {
                @for (name, cost, n) in rows {
                    li {
                        div class="flex items-baseline justify-between gap-2 text-sm" {
                            span class="min-w-0 font-medium break-all" { (name) }
                            span class="shrink-0 tabular-nums" title=(usd_exact(cost)) { (usd(cost)) }
                        }
                        (share_bar(cost, total, "fill-indigo-500"))
                        span class="sr-only" { (calls(n)) ", " (share(cost, total)) }
                    }
                }
            }
        }
    }
}

fn models(summary: &CostSummary) -> Markup {
    let total = summary.month_usd;
    let body = html! {
        @if summary.by_model.is_empty() {
            p class="text-sm text-slate-600" { "No calls this month yet." }
        } @else {
            div class="-mx-4 overflow-x-auto sm:mx-0" {
                table id="models-table" class="w-full min-w-0 text-left text-sm" {
                    caption class="sr-only" { "Spend by model this month, most expensive first" }
                    thead class="text-xs text-slate-600" {
                        tr {
                            th scope="col" class="px-4 py-2 font-medium sm:pl-0" { "Model" }
                            th scope="col" class="px-2 py-2 text-right font-medium" { "Calls" }
                            th scope="col" class="hidden px-2 py-2 text-right font-medium md:table-cell" { "Input" }
                            th scope="col" class="hidden px-2 py-2 text-right font-medium md:table-cell" { "Cached" }
                            th scope="col" class="hidden px-2 py-2 text-right font-medium md:table-cell" { "Output" }
                            th scope="col" class="px-4 py-2 text-right font-medium sm:pr-0" { "Cost" }
                        }
                    }
                    tbody {
                        @for m in &summary.by_model { (model_row(m, total)) }
                    }
                }
            }
        }
    };
    panel("models-title", "Spend by model this month", &body)
}

fn model_row(m: &ModelSpend, total: Money) -> Markup {
    html! {
        tr class="border-t border-slate-100 align-top" data-model=(m.model) {
            th scope="row" class="w-1/2 px-4 py-2 font-normal sm:pl-0" {
                span class="model-name block font-medium break-all text-slate-900" { (m.model) }
                span class="block text-xs text-slate-600" {
                    (m.provider) " · " (share(m.cost_usd, total)) " of the month"
                    @if m.unpriced_calls > 0 { " · " span class="font-medium text-amber-800" { (count(m.unpriced_calls)) " unpriced" } }
                    @if m.partial_calls > 0 { " · " span class="font-medium text-amber-800" { (count(m.partial_calls)) " cut off (at least)" } }
                }
                div class="mt-1 max-w-xs" { (share_bar(m.cost_usd, total, "fill-indigo-500")) }
            }
            td class="px-2 py-2 text-right tabular-nums" { (count(m.calls)) }
            td class="hidden px-2 py-2 text-right tabular-nums md:table-cell" title=(count(m.input_tokens)) { (tokens(m.input_tokens)) }
            td class="hidden px-2 py-2 text-right tabular-nums md:table-cell" title=(count(m.cache_read_tokens)) { (tokens(m.cache_read_tokens)) }
            td class="hidden px-2 py-2 text-right tabular-nums md:table-cell" title=(count(m.output_tokens)) { (tokens(m.output_tokens)) }
            td class="px-4 py-2 text-right font-medium tabular-nums sm:pr-0" title=(usd_exact(m.cost_usd)) {
                @if m.calls > 0 && m.unpriced_calls == m.calls { span class="text-amber-800" { "unpriced" } } @else { (usd(m.cost_usd)) }
            }
        }
    }
}

fn unpriced(summary: &CostSummary) -> Markup {
    let body = html! {
        p class="text-sm text-slate-700" {
            "Not in the totals: " span id="unpriced-calls" class="font-semibold" { (calls(summary.unpriced_calls)) } " without a price. "
            "Add a price for the model and those calls are priced at once."
        }
        ul class="mt-3 space-y-4" {
            @for m in &summary.unpriced_models { (unpriced_model(m)) }
        }
    };
    html! {
        div class="rounded-lg bg-amber-50 p-4 ring-1 ring-amber-200 sm:p-5" {
            h2 id="unpriced-title" class="text-base font-semibold text-amber-950" { "Calls without a price" }
            div class="mt-2" { (body) }
        }
    }
}

fn unpriced_model(m: &UnpricedModel) -> Markup {
    let command = format!(
        "llmlab prices set {} --provider {} --input USD_PER_1M --output USD_PER_1M",
        shell_word(&m.model),
        shell_word(&m.provider)
    );
    html! {
        li class="rounded-md bg-white p-3 ring-1 ring-amber-200" data-model=(m.model) {
            p class="text-sm" {
                span class="model-name font-semibold break-all" { (m.model) }
                " (" (m.provider) "): " (calls(m.calls))
            }
            @if let Some(reason) = &m.reason { p class="mt-1 text-xs text-slate-700" data-reason { (prose(reason)) } }
            // A price cannot fix a call that reported no usage (or an anomaly): no false fix.
            @if m.priced_by_a_price() {
                p class="mt-2 text-sm" {
                    a href={ "/settings?model=" (url_component(&m.model)) "&provider=" (url_component(&m.provider)) "#prices" } class=(layout::LINK) {
                        "Add a price in Settings" span class="sr-only" { " for " (m.model) }
                    }
                    " or run " (kbd(&command))
                }
            }
        }
    }
}

fn kind_label(kind: &str) -> &str {
    match kind {
        "switch_model" => "Switch model",
        "prompt_caching" => "Prompt caching",
        "batch_api" => "Batch API",
        "top_spend" => "Top spend",
        other => other,
    }
}

fn recommendations_panel(tips: &[Recommendation]) -> Markup {
    let body = html! {
        p class="text-sm text-slate-600" { "From your last 30 days; savings are per month. Also in the terminal: " (kbd("llmlab optimize")) }
        @if tips.is_empty() {
            p class="mt-3 text-sm text-slate-700" {
                "No tips yet. They appear once the last 30 days have priced calls to a model with a cheaper option, "
                "a cache or a batch discount."
            }
        } @else {
            ol class="mt-3 space-y-3" id="recommendations" {
                @for tip in tips.iter().take(SHOWN_TIPS) { (tip_item(tip)) }
            }
            @if tips.len() > SHOWN_TIPS {
                details class="mt-3" {
                    summary class="cursor-pointer rounded text-sm font-medium text-indigo-700 hover:underline focus-visible:outline-2 focus-visible:outline-indigo-700" {
                        "Show " (tips.len() - SHOWN_TIPS) " more"
                    }
                    ol class="mt-3 space-y-3" start=(SHOWN_TIPS + 1) {
                        @for tip in tips.iter().skip(SHOWN_TIPS) { (tip_item(tip)) }
                    }
                }
            }
        }
    };
    panel("recommendations-title", "Recommendations", &body)
}

fn tip_item(tip: &Recommendation) -> Markup {
    html! {
        li class="rounded-md p-3 ring-1 ring-slate-200" data-kind=(tip.kind) {
            div class="flex flex-wrap items-center gap-2" {
                span class="rounded-full bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-700" { (kind_label(&tip.kind)) }
                @if let Some(saving) = tip.monthly_savings_usd {
                    span class="rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-semibold text-emerald-800 ring-1 ring-emerald-200 ring-inset" {
                        "Save " (usd(saving)) "/mo"
                    }
                }
            }
            h3 class="mt-2 font-semibold break-words text-slate-900" { (prose(&tip.title)) }
            p class="mt-1 text-sm break-words text-slate-700" data-reason { (prose(&tip.detail)) }
            @if !tip.assumptions.is_empty() {
                details class="mt-2 text-sm" {
                    summary class="cursor-pointer rounded text-indigo-700 hover:underline focus-visible:outline-2 focus-visible:outline-indigo-700" { "The figures behind it" }
                    ul class="mt-1 list-disc space-y-0.5 pl-5 text-slate-700" {
                        @for line in &tip.assumptions { li class="break-words" data-reason { (prose(line)) } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use llmlab_api::{DailySpend, ProjectSpend, ProviderSpend};

    use super::*;

    const HOSTILE: &str = "<img src=x onerror=alert(1)>";

    #[test]
    fn the_empty_state_installs_from_a_clone_and_signs_in_with_the_key_not_a_new_account() {
        let html = empty_state("https://llmlab.example.com").into_string();
        assert!(html.contains("git clone https://github.com/llmlab/llmlab\ncd llmlab\n"), "{html}");
        assert!(html.contains("pip install ./crates/llmlab-cli ./sdk/python\n"), "{html}");
        assert!(html.contains("llmlab init --server https://llmlab.example.com \\\n  --api-key llm_…"), "{html}");
        assert!(!html.contains("llmlab[cli]"), "not on PyPI yet: {html}");
    }

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    fn model(name: &str, cost: &str, unpriced: u64) -> ModelSpend {
        ModelSpend {
            provider: "openai".to_owned(),
            model: name.to_owned(),
            cost_usd: money(cost),
            calls: 10,
            unpriced_calls: unpriced,
            partial_calls: 0,
            input_tokens: 1000,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            cache_write_1h_tokens: 0,
            output_tokens: 500,
            reasoning_tokens: 0,
        }
    }

    fn summary(calls: u64) -> CostSummary {
        CostSummary {
            timezone: "UTC".to_owned(),
            project: None,
            today_usd: money("1.5"),
            month_usd: money("3"),
            all_time_usd: money("3"),
            today_calls: calls,
            month_calls: calls,
            all_time_calls: calls,
            unpriced_calls: 10,
            today_partial_calls: 0,
            month_partial_calls: 0,
            all_time_partial_calls: 0,
            unpriced_models: vec![UnpricedModel {
                provider: "custom".to_owned(),
                model: HOSTILE.to_owned(),
                calls: 10,
                code: Some("unknown_model".to_owned()),
                reason: Some(format!("unknown model `{HOSTILE}`")),
            }],
            by_model: vec![model("gpt-4o", "3", 0), model(HOSTILE, "0", 10)],
            by_provider: vec![ProviderSpend { provider: "openai".to_owned(), cost_usd: money("3"), calls: 20 }],
            by_project: vec![ProjectSpend { project: format!("proj {HOSTILE}"), cost_usd: money("3"), calls: 20 }],
            daily: vec![DailySpend { date: "2026-11-27".to_owned(), cost_usd: money("1.5"), calls: 20 }],
            provider_reported: None,
        }
    }

    fn scoped(id: i64, state: BudgetState, amount: &str, spent: &str, percent: f64) -> ScopedBudget {
        ScopedBudget {
            id,
            scope: llmlab_api::BudgetScope::Account,
            target: None,
            target_name: None,
            period: "month".to_owned(),
            amount_usd: money(amount),
            hard: false,
            thresholds: vec![80.0, 100.0],
            created_at: "2026-11-01T00:00:00Z".to_owned(),
            updated_at: "2026-11-01T00:00:00Z".to_owned(),
            status: llmlab_api::ScopedBudgetStatus {
                state,
                period_start: Some("2026-11-01".to_owned()),
                period_end: Some("2026-12-01T00:00:00Z".to_owned()),
                spent_usd: money(spent),
                reserved_usd: Money::ZERO,
                available_usd: Money::ZERO,
                percent_used: percent,
                projected_usd: Some(money("12")),
                projected_crossing_at: None,
                unpriced_calls: 0,
            },
        }
    }

    fn render(summary: CostSummary, budgets: Vec<ScopedBudget>, tips: Vec<Recommendation>) -> String {
        panels(&Data { summary, budgets, tips, reconciliation: None }, "http://127.0.0.1:8787").into_string()
    }

    #[test]
    fn user_supplied_names_are_escaped_everywhere_they_appear() {
        let tip = Recommendation {
            kind: HOSTILE.to_owned(),
            title: HOSTILE.to_owned(),
            detail: HOSTILE.to_owned(),
            provider: None,
            current_model: Some(HOSTILE.to_owned()),
            suggested_model: None,
            monthly_savings_usd: Some(money("2")),
            source: None,
            assumptions: vec![HOSTILE.to_owned()],
        };
        let html = render(summary(20), vec![], vec![tip]);
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
        // In the link, the model is one percent-encoded query value.
        assert!(
            html.contains("/settings?model=%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E&amp;provider=custom#prices"),
            "{html}"
        );
        // In the command, it is one single-quoted shell word.
        assert!(
            html.contains("llmlab prices set '&lt;img src=x onerror=alert(1)&gt;' --provider custom --input"),
            "{html}"
        );
    }

    #[test]
    fn reasons_and_tips_show_their_backticked_names_as_code_not_as_backticks() {
        let mut data = summary(20);
        data.unpriced_models = vec![UnpricedModel {
            provider: "opena".to_owned(),
            model: "gpt-4o".to_owned(),
            calls: 2,
            code: Some("unknown_provider".to_owned()),
            reason: Some(
                "provider `opena` is not built in (did you mean `openai`?); price its models with `llmlab prices set \
                 gpt-4o --provider opena …` or POST /api/prices"
                    .to_owned(),
            ),
        }];
        let tip = Recommendation {
            kind: "prompt_caching".to_owned(),
            title: "Cache the prompt".to_owned(),
            detail: "Mark the end of the fixed prefix with `cache_control`.".to_owned(),
            provider: Some("anthropic".to_owned()),
            current_model: None,
            suggested_model: None,
            monthly_savings_usd: None,
            source: None,
            assumptions: vec!["`claude-sonnet-4-5` reads cache at 10% of input".to_owned()],
        };
        let html = render(data, vec![], vec![tip]);
        assert!(!html.contains('`'), "{html}");
        assert!(html.contains(">opena</code> is not built in (did you mean <code "), "{html}");
        assert!(html.contains(">openai</code>?)"), "{html}");
        assert!(html.contains("with <code") && html.contains(">cache_control</code>."), "{html}");
        assert!(html.contains(">claude-sonnet-4-5</code> reads cache"), "{html}");
    }

    #[test]
    fn a_call_without_usage_is_listed_without_a_price_fix_it_would_not_need() {
        let mut data = summary(20);
        data.unpriced_models = vec![UnpricedModel {
            provider: "openai".to_owned(),
            model: "gpt-4o".to_owned(),
            calls: 1,
            code: Some("no_usage".to_owned()),
            reason: Some("no usage was reported for this call".to_owned()),
        }];
        let html = render(data, vec![], vec![]);
        assert!(html.contains("no usage was reported for this call"), "{html}");
        assert!(!html.contains("llmlab prices set gpt-4o") && !html.contains("Add a price in Settings"), "{html}");
    }

    #[test]
    fn a_new_account_sees_the_empty_state_with_the_sdk_snippet_and_llmlab_init() {
        let html = render(summary(0), vec![], vec![]);
        assert!(html.contains(r#"data-panel="empty""#));
        assert!(html.contains("llmlab init"));
        assert!(html.contains("@track_cost(provider=&quot;openai&quot;)"));
        assert!(html.contains("http://127.0.0.1:8787/api/events/track"));
        assert!(!html.contains(r#"data-panel="totals""#));
    }

    /// The one budget bar of `budget`'s panel.
    fn bar_of(budget: ScopedBudget) -> String {
        let html = render(summary(20), vec![budget], vec![]);
        let at = html.find("<li data-budget-id").expect("a bar");
        html[at..at + html[at..].find("</li>").unwrap()].to_owned()
    }

    #[test]
    fn a_budget_bar_turns_amber_at_its_first_threshold_and_red_at_100_percent() {
        let ok = bar_of(scoped(1, BudgetState::Ok, "100", "79.99", 79.99));
        assert!(ok.contains(r#"data-budget-state="ok""#) && ok.contains("fill-emerald-600") && ok.contains("On track"));
        assert!(ok.contains(r#"aria-valuenow="80""#) && ok.contains(r#"width="799""#), "{ok}");
        assert!(ok.contains(r#"x1="800.0""#), "a tick at the 80% threshold: {ok}");
        let mut custom = scoped(1, BudgetState::Warning, "100", "93", 93.0);
        custom.thresholds = vec![50.0, 92.5, 100.0];
        let warning = bar_of(custom);
        assert!(warning.contains(r#"data-budget-state="warning""#) && warning.contains("fill-amber-500"));
        assert!(warning.contains(">92.5% used<"), "the highest threshold reached: {warning}");
        let exceeded = bar_of(scoped(1, BudgetState::Exceeded, "100", "150", 150.0));
        assert!(exceeded.contains(r#"data-budget-state="exceeded""#) && exceeded.contains("fill-red-600"));
        assert!(exceeded.contains(r#"aria-valuenow="100""#) && exceeded.contains(r#"width="1000""#), "{exceeded}");
        assert!(exceeded.contains("$150.00 of $100.00 (150.0%)") && exceeded.contains("It is soft"), "{exceeded}");
    }

    #[test]
    fn every_budget_gets_its_own_bar_named_by_scope_and_period() {
        let account = scoped(1, BudgetState::Ok, "500", "10", 2.0);
        let mut key = scoped(2, BudgetState::Ok, "20", "5", 25.0);
        key.scope = llmlab_api::BudgetScope::Key;
        key.target = Some("llm_ab12cd34".to_owned());
        key.target_name = Some(HOSTILE.to_owned());
        key.period = "day".to_owned();
        key.hard = true;
        let mut tag = scoped(3, BudgetState::Ok, "50", "0", 0.0);
        tag.scope = llmlab_api::BudgetScope::Tag;
        tag.target = Some("customer=acme".to_owned());
        tag.period = "total".to_owned();
        tag.status.projected_usd = None;
        let html = render(summary(20), vec![account, key, tag], vec![]);
        assert_eq!(html.matches(r#"role="progressbar""#).count(), 3, "{html}");
        assert!(html.contains(">Budgets</h2>"), "{html}");
        assert!(html.contains(r#"id="budget-1-title""#) && html.contains("Monthly budget · whole account"), "{html}");
        assert!(html.contains(r#"aria-labelledby="budget-2-title""#), "{html}");
        assert!(
            html.contains(r#"Daily budget · key <span class="[overflow-wrap:anywhere]" title="llm_ab12cd34">&lt;img"#),
            "{html}"
        );
        assert!(!html.contains("<img"), "{html}");
        assert_eq!(html.matches(">Hard</span>").count(), 1, "only the hard budget has the badge");
        assert!(html.contains("Total budget · tag <code"), "{html}");
        assert!(
            html.contains(" today</p>") && html.contains(" this month</p>") && html.contains(" in total</p>"),
            "{html}"
        );
        assert_eq!(html.matches("budget-projected").count(), 2, "a total budget has no period end: {html}");
    }

    #[test]
    fn a_bar_shows_what_calls_in_flight_hold_and_when_it_would_reach_100_percent() {
        let mut budget = scoped(7, BudgetState::Ok, "100", "40", 40.0);
        budget.status.reserved_usd = money("10");
        budget.status.projected_usd = Some(money("150"));
        budget.status.projected_crossing_at = Some("2026-11-20T12:00:00Z".to_owned());
        let held = bar_of(budget.clone());
        assert!(held.contains(r#"class="budget-held-bar fill-sky-300" x="400" y="0" width="100""#), "{held}");
        assert!(held.contains("Held by calls in flight: ") && held.contains(">$10.00<"), "{held}");
        assert!(held.contains("Projected month-end: ") && held.contains(">$150.00<"), "{held}");
        assert!(held.contains("Reaches 100% <span class=\"font-medium\">on Nov 20</span> at this rate"), "{held}");
        budget.period = "day".to_owned();
        assert!(bar_of(budget.clone()).contains("around 12:00"), "a day's budget gives the time");
        budget.status.reserved_usd = Money::ZERO;
        budget.status.projected_crossing_at = None;
        let idle = bar_of(budget);
        assert!(!idle.contains("Held by calls") && !idle.contains("budget-held-bar") && !idle.contains("Reaches 100%"));
    }

    #[test]
    fn an_account_without_budgets_is_invited_to_add_one_and_sees_its_month() {
        let html = render(summary(20), vec![], vec![]);
        assert!(html.contains(r#"data-budget-state="none""#) && html.contains("/settings#budget"), "{html}");
        assert!(html.contains(r#"<span id="budget-spent" class="tabular-nums">$3.00</span>"#), "{html}");
        assert!(!html.contains(r#"role="progressbar""#));
    }

    #[test]
    fn panels_show_totals_models_and_a_saving() {
        let tip = Recommendation {
            kind: "switch_model".to_owned(),
            title: "Switch gpt-4o → gpt-4o-mini".to_owned(),
            detail: "…".to_owned(),
            provider: Some("openai".to_owned()),
            current_model: Some("gpt-4o".to_owned()),
            suggested_model: Some("gpt-4o-mini".to_owned()),
            monthly_savings_usd: Some(money("212.4")),
            source: None,
            assumptions: vec![],
        };
        let html = render(summary(20), vec![], vec![tip]);
        assert!(html.contains(r#"id="total-today""#) && html.contains("$1.50"));
        assert!(html.contains(r#"data-model="gpt-4o""#) && html.contains("100.0% of the month"));
        assert!(html.contains("Save $212.40/mo"));
        assert!(html.contains("Switch model"));
    }
}
