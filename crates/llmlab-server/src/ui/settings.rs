//! `/settings`: API keys, sessions, budgets, alerts, custom prices, projects and the time zone.
//!
//! Each form names the REST call it makes (`data-api="POST /api/keys"`); the
//! page's script sends the fields as JSON with the session cookie, shows the
//! API's error message next to the form, and refreshes the sections from
//! `/settings/sections`. A new key is shown once, by the script, from the
//! API's answer; the server never puts a key in a page.

use std::sync::LazyLock;

use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::tz::TimeZone;
use llmlab_api::{
    Account, Alert, ApiKeyInfo, BudgetScope, Channel, Connection, CustomPrice, Project, ScopedBudget, SessionInfo,
};
use llmlab_core::Money;
use maud::{Markup, html};
use serde::Deserialize;

use super::alerts::{self, LOG_ALERTS};
use super::budgets::{self as names, PERIODS};
use super::format::{calls, local_time, percent, url_component, usd, usd_exact};
use super::layout::{
    self, BUTTON, BUTTON_DANGER, BUTTON_SECONDARY, INPUT, LABEL, Nav, TD, TH, form_error, heading, kbd,
};
use super::{Visitor, error_page, html_response, sign_in_page};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::budgets::scoped;
use crate::service::{accounts, alerts as alert_service, prices, projects};
use crate::signup::SignupPolicy;
use crate::state::AppState;

/// Every IANA time zone name the server knows, for the time zone field's suggestions.
static TIME_ZONES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut names: Vec<String> = jiff::tz::db().available().map(|n| n.as_str().to_owned()).collect();
    names.sort();
    names
});

/// Values to pre-fill the price form with (links from the dashboard's unpriced calls).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Prefill {
    model: Option<String>,
    provider: Option<String>,
}

struct Data {
    account: Account,
    keys: Vec<ApiKeyInfo>,
    sessions: Vec<SessionInfo>,
    /// The server runs with `--signup invite`: members can invite others.
    invites: bool,
    /// Every budget of the account with its current period, oldest first.
    budgets: Vec<ScopedBudget>,
    projects: Vec<Project>,
    prices: Vec<CustomPrice>,
    /// The account's alert channels.
    channels: Vec<Channel>,
    /// The newest alerts with their deliveries.
    alerts: Vec<Alert>,
    /// The server has SMTP settings: email channels can deliver.
    smtp: bool,
    /// The account's provider report connections.
    connections: Vec<Connection>,
}

async fn load(state: &AppState, caller: &Caller) -> ApiResult<Data> {
    let user = &caller.user;
    let (keys, sessions, budgets, projects, prices, channels, log, connections) = tokio::try_join!(
        accounts::keys(state, caller),
        accounts::sessions(state, caller),
        scoped::list(state, user),
        projects::list(state, user),
        prices::list(state, user),
        alert_service::channels(state, user),
        alert_service::log(state, user, Some(LOG_ALERTS)),
        crate::service::reports::list(state, user),
    )?;
    let invites = state.settings.signup == SignupPolicy::Invite;
    Ok(Data {
        account: accounts::account(user),
        keys,
        sessions,
        invites,
        budgets: budgets.budgets,
        projects,
        prices,
        channels: channels.channels,
        alerts: log.alerts,
        smtp: state.settings.alerts.smtp.is_some(),
        connections: connections.connections,
    })
}

/// `GET /settings`.
pub(super) async fn page(
    State(state): State<AppState>,
    Query(prefill): Query<Prefill>,
    headers: HeaderMap,
) -> Response {
    let caller = match Visitor::of(&state, &headers).await {
        Ok(Visitor::SignedIn(caller)) => caller,
        Ok(visitor) => return sign_in_page(&state, &visitor, Nav::Settings),
        Err(error) => return error_page(&error, Nav::Settings),
    };
    let data = match load(&state, &caller).await {
        Ok(data) => data,
        Err(error) => return error_page(&error, Nav::Settings),
    };
    let body = html! {
        h1 class="text-2xl font-bold tracking-tight" { "Settings" }
        nav aria-label="Settings sections" class="mt-3 flex flex-wrap gap-2 text-sm" {
            @for (anchor, label) in [("keys", "API keys"), ("sessions", "Sessions"), ("budget", "Budgets"), ("alerts", "Alerts"), ("connections", "Provider reports"), ("prices", "Custom prices"), ("projects", "Projects"), ("timezone", "Time zone")] {
                a href={ "#" (anchor) } class="rounded-md bg-white px-3 py-1.5 font-medium text-slate-700 ring-1 ring-slate-200 hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-indigo-700" { (label) }
            }
        }
        p id="flash" class="mt-4 min-h-6 text-sm font-medium text-emerald-800" role="status" aria-live="polite" {}
        div id="panels" class="space-y-6" data-source="/settings/sections" {
            (sections(&data, &prefill))
        }
        datalist id="time-zones" {
            @for name in TIME_ZONES.iter() { option value=(name) {} }
        }
    };
    html_response(StatusCode::OK, layout::page("Settings", Nav::Settings, true, &body))
}

/// `GET /settings/sections`: the sections alone, after a change.
pub(super) async fn fragment(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let caller = match Visitor::of(&state, &headers).await {
        Ok(Visitor::SignedIn(caller)) => caller,
        Ok(_) => return StatusCode::UNAUTHORIZED.into_response(),
        Err(error) => return error.into_response(),
    };
    match load(&state, &caller).await {
        Ok(data) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            sections(&data, &Prefill::default()).into_string(),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

fn sections(data: &Data, prefill: &Prefill) -> Markup {
    let tz = TimeZone::get(&data.account.timezone).unwrap_or(TimeZone::UTC);
    html! {
        section id="keys" data-panel="keys" aria-labelledby="keys-title" class=(SECTION) { (keys(&data.keys, &tz)) }
        section id="sessions" data-panel="sessions" aria-labelledby="sessions-title" class=(SECTION) {
            (sessions(&data.sessions, &tz))
            @if data.invites { (invite()) }
        }
        section id="budget" data-panel="budget" aria-labelledby="budget-title" class=(SECTION) { (budget(&data.budgets, &data.keys, &data.account)) }
        section id="alerts" data-panel="alerts" aria-labelledby="alerts-title" class=(SECTION) { (alerts::channels(&data.channels, &tz, data.smtp)) }
        section id="alert-log" data-panel="alert-log" aria-labelledby="alert-log-title" class=(SECTION) { (alerts::log(&data.alerts, &tz)) }
        section id="connections" data-panel="connections" aria-labelledby="connections-title" class=(SECTION) { (super::reports::connections(&data.connections, &tz)) }
        section id="prices" data-panel="prices" aria-labelledby="prices-title" class=(SECTION) { (custom_prices(&data.prices, prefill)) }
        section id="projects" data-panel="projects" aria-labelledby="projects-title" class=(SECTION) { (project_list(&data.projects, &tz)) }
        section id="timezone" data-panel="timezone" aria-labelledby="timezone-title" class=(SECTION) { (time_zone(&data.account)) }
        section id="account" data-panel="account" aria-labelledby="account-title" class=(SECTION) { (account(&data.account, &tz)) }
    }
}

const SECTION: &str = "scroll-mt-4 rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200 sm:p-6";
fn keys(keys: &[ApiKeyInfo], tz: &TimeZone) -> Markup {
    html! {
        (heading("keys-title", "API keys", &html! {
            "Keys let the SDK, the CLI, the proxy and this dashboard act for your account. A new key is shown only once."
        }))
        form method="post" id="create-key-form" class="mt-4 flex flex-col gap-2 sm:flex-row sm:items-end" data-api="POST /api/keys" data-after="new-key"
            data-success="Key created." {
            div class="flex-1" {
                label for="key-name" class=(LABEL) { "Name of the new key " span class="font-normal text-slate-600" { "(optional)" } }
                input id="key-name" name="name" type="text" maxlength="100" data-optional placeholder="e.g. production" class={ (INPUT) " mt-1" }
                    aria-describedby="create-key-error";
            }
            button type="submit" class=(BUTTON) { "Create key" }
        }
        (form_error("create-key-error"))
        div id="new-key-box" class="mt-3 rounded-md bg-emerald-50 p-3 ring-1 ring-emerald-200" hidden {
            p class="text-sm font-medium text-emerald-900" { "Your new key, shown only this once. Copy it now:" }
            div class="mt-2" { (layout::new_key("new-key-value", "the new API key")) }
        }
        div class="mt-4 overflow-x-auto" {
            table id="keys-table" class="w-full text-left text-sm" {
                caption class="sr-only" { "Your API keys" }
                thead class="text-xs text-slate-600" {
                    tr {
                        th scope="col" class=(TH) { "Key" }
                        th scope="col" class={ (TH) " hidden sm:table-cell" } { "Created" }
                        th scope="col" class={ (TH) " hidden md:table-cell" } { "Last used" }
                        th scope="col" class=(TH) { "Status" }
                        th scope="col" class=(TH) { span class="sr-only" { "Actions" } }
                    }
                }
                tbody {
                    @for key in keys { (key_row(key, tz)) }
                }
            }
        }
    }
}

fn key_row(key: &ApiKeyInfo, tz: &TimeZone) -> Markup {
    let label = key.name.clone().unwrap_or_else(|| "unnamed".to_owned());
    html! {
        tr class="border-t border-slate-100 align-top" data-key-id=(key.key_id) {
            td class=(TD) {
                span class="block font-medium break-all" { (label) }
                code class="text-xs text-slate-600" { (key.key_id) "…" }
            }
            td class={ (TD) " hidden sm:table-cell" } { (local_time(&key.created_at, tz)) }
            td class={ (TD) " hidden md:table-cell" } { (key.last_used_at.as_deref().map_or_else(|| "never".to_owned(), |t| local_time(t, tz))) }
            td class=(TD) {
                @if let Some(revoked) = &key.revoked_at {
                    span class="key-status font-medium text-slate-600" { "Revoked" } span class="block text-xs text-slate-600" { (local_time(revoked, tz)) }
                } @else if key.current {
                    span class="key-status font-medium text-emerald-800" { "Active" } span class="block text-xs text-slate-600" { "this session" }
                } @else {
                    span class="key-status font-medium text-emerald-800" { "Active" }
                }
            }
            td class={ (TD) " text-right" } {
                @if key.revoked_at.is_none() {
                    button type="button" class=(BUTTON_DANGER) data-api={ "DELETE /api/keys/" (url_component(&key.key_id)) }
                        data-confirm="Click again to revoke" data-after=(if key.current { "signed-out" } else { "refresh" })
                        data-success="Key revoked." aria-describedby=[key.current.then_some("current-key-note")] {
                        "Revoke" span class="sr-only" { " key " (label) " (" (key.key_id) ")" }
                    }
                    @if key.current {
                        span id="current-key-note" class="mt-1 block text-xs text-slate-600" { "signs you out" }
                    }
                }
            }
        }
    }
}

fn sessions(list: &[SessionInfo], tz: &TimeZone) -> Markup {
    html! {
        (heading("sessions-title", "Sessions", &html! {
            "The browsers signed in to this dashboard. A session ends after 30 days, when it is signed out here, or "
            "when the API key it was opened with is revoked."
        }))
        div class="mt-4 overflow-x-auto" {
            table id="sessions-table" class="w-full text-left text-sm" {
                caption class="sr-only" { "Your signed-in browsers" }
                thead class="text-xs text-slate-600" {
                    tr {
                        th scope="col" class=(TH) { "Browser" }
                        th scope="col" class={ (TH) " hidden sm:table-cell" } { "Signed in" }
                        th scope="col" class={ (TH) " hidden md:table-cell" } { "Last seen" }
                        th scope="col" class=(TH) { span class="sr-only" { "Actions" } }
                    }
                }
                tbody {
                    @for session in list {
                        tr class="border-t border-slate-100 align-top" data-session-id=(session.session_id) {
                            td class=(TD) {
                                span class="block font-medium break-all" { (session.user_agent.as_deref().unwrap_or("unknown browser")) }
                                span class="text-xs text-slate-600" {
                                    "key " code { (session.key_id) "…" }
                                    @if session.current { " · " span class="session-current font-medium text-emerald-800" { "this session" } }
                                }
                            }
                            td class={ (TD) " hidden sm:table-cell" } { (local_time(&session.created_at, tz)) }
                            td class={ (TD) " hidden md:table-cell" } { (local_time(&session.last_seen_at, tz)) }
                            td class={ (TD) " text-right" } {
                                button type="button" class={ (BUTTON_DANGER) " whitespace-nowrap" } data-api={ "DELETE /api/auth/sessions/" (url_component(&session.session_id)) }
                                    data-confirm="Click again to sign out" data-after=(if session.current { "signed-out" } else { "refresh" })
                                    data-success="Signed out that browser." {
                                    "Sign out" span class="sr-only" { " " (session.user_agent.as_deref().unwrap_or("unknown browser")) " (" (session.session_id) ")" }
                                }
                            }
                        }
                    }
                }
            }
        }
        button type="button" id="sign-out-everywhere" class={ (BUTTON_DANGER) " mt-3" } data-api="DELETE /api/auth/sessions"
            data-confirm="Click again to sign out everywhere" data-after="signed-out" {
            "Sign out everywhere"
        }
    }
}

/// Creating an invite link, on a server with `--signup invite`.
fn invite() -> Markup {
    html! {
        div class="mt-5 border-t border-slate-100 pt-4" {
            h3 class="text-base font-semibold" id="invite-title" { "Invite someone" }
            p class="mt-1 text-sm text-slate-600" { "This server creates accounts by invitation. A link works once, for 3 days." }
            button type="button" id="invite-button" class={ (BUTTON_SECONDARY) " mt-3" } data-api="POST /api/auth/invites"
                data-after="new-invite" data-success="Invite link created." { "Create an invite link" }
            div id="new-invite-box" class="mt-3" hidden {
                (layout::code("new-invite-url", "the invite link", ""))
            }
        }
    }
}

/// The account's budgets: its monthly budget in one field (the seed's
/// form, `POST /api/budgets`), and every budget with its edit form, delete
/// button and the form that adds one (`/api/budgets/scoped`).
fn budget(budgets: &[ScopedBudget], keys: &[ApiKeyInfo], account: &Account) -> Markup {
    let monthly = budgets.iter().find(|b| b.scope == BudgetScope::Account && b.period == "month");
    html! {
        (heading("budget-title", "Budgets", &html! {
            "A budget counts the calls of the whole account, a project, an API key or a tag over a day, a week, a month "
            "(in your time zone) or in total. It warns at its thresholds (80% and 100% unless set) here, in "
            (kbd("llmlab status")) " and from the SDK; a hard one also stops calls it cannot cover."
        }))
        h3 id="monthly-budget-title" class="mt-5 text-base font-semibold" { "Monthly budget of the whole account" }
        p id="budget-current" class="mt-2 text-sm text-slate-800" {
            @if let Some(b) = monthly {
                "Current budget: " span class="font-semibold" title=(usd_exact(b.amount_usd)) { (usd(b.amount_usd)) } " a month. "
                button type="button" id="budget-remove" class=(BUTTON_DANGER) data-api="DELETE /api/budgets"
                    data-confirm="Click again to remove" data-after="refresh" data-success="Budget removed." {
                    "Remove" span class="sr-only" { " the budget" }
                }
            } @else {
                "No monthly budget is set for the account."
            }
        }
        form method="post" id="budget-form" class="mt-3 flex flex-col gap-2 sm:flex-row sm:items-end" data-api="POST /api/budgets" data-after="refresh"
            data-success="Budget saved." {
            div class="flex-1 sm:max-w-xs" {
                label for="budget-amount" class=(LABEL) { "Amount in USD per month" }
                div class="relative mt-1" {
                    span class="pointer-events-none absolute inset-y-0 left-0 flex items-center pl-3 text-slate-600" aria-hidden="true" { "$" }
                    input id="budget-amount" name="amount_usd" type="text" inputmode="decimal" required data-money
                        placeholder="500" value=[monthly.map(|b| b.amount_usd.to_string())] class={ (INPUT) " pl-7" }
                        aria-describedby="budget-error";
                }
                input type="hidden" name="period" value="monthly";
            }
            button type="submit" class=(BUTTON) { "Save budget" }
        }
        (form_error("budget-error"))
        form method="post" id="hard-budget-form" class="mt-4" data-api="PATCH /api/account" data-after="refresh" data-success="Saved." {
            div class="flex items-start gap-3" {
                input id="hard-budget" name="hard_budget" type="checkbox" checked[account.hard_budget] class=(CHECKBOX)
                    aria-describedby="hard-budget-help";
                div {
                    label for="hard-budget" class=(LABEL) { "Make the monthly budget of the whole account hard" }
                    p id="hard-budget-help" class="text-sm text-slate-600" {
                        "Over 100%, the proxy answers 429 and the SDK's hard mode raises instead of sending calls. "
                        "Other budgets have their own Hard box below."
                    }
                }
            }
            button type="submit" class={ (BUTTON_SECONDARY) " mt-3" } { "Save" }
            (form_error("hard-budget-error"))
        }
        h3 id="budgets-list-title" class="mt-6 border-t border-slate-100 pt-5 text-base font-semibold" { "Every budget" }
        @if budgets.is_empty() {
            p id="budgets-none" class="mt-2 text-sm text-slate-700" { "No budgets yet." }
        } @else {
            ul id="budgets-list" class="mt-3 divide-y divide-slate-100 rounded-md ring-1 ring-slate-200" aria-labelledby="budgets-list-title" {
                @for b in budgets { (budget_item(b)) }
            }
        }
        (new_budget_form(keys))
    }
}

/// Classes of a checkbox.
const CHECKBOX: &str = "mt-1 h-4 w-4 shrink-0 rounded border-slate-400 text-indigo-700 focus:ring-indigo-700";

/// A period `<select>` with `current` chosen.
fn period_select(id: &str, current: &str, describedby: &str) -> Markup {
    html! {
        select id=(id) name="period" class={ (INPUT) " mt-1" } aria-describedby=(describedby) {
            @for (value, label) in PERIODS { option value=(value) selected[value == current] { (label) } }
        }
    }
}

/// The thresholds field: percentages of the amount, sent as a list of
/// numbers; left out when empty (a new budget then warns at 80% and 100%).
fn thresholds_field(id: &str, value: &str, describedby: &str) -> Markup {
    html! {
        label for=(id) class=(LABEL) { "Warn at (%)" }
        input id=(id) name="thresholds" type="text" inputmode="decimal" data-numbers data-optional value=(value)
            placeholder="80, 100" spellcheck="false" autocomplete="off" class={ (INPUT) " mt-1" } aria-describedby=(describedby);
    }
}

/// The hard checkbox of a budget form.
fn hard_field(id: &str, checked: bool) -> Markup {
    html! {
        div class="flex items-start gap-3" {
            input id=(id) name="hard" type="checkbox" checked[checked] class=(CHECKBOX) aria-describedby={ (id) "-help" };
            div {
                label for=(id) class=(LABEL) { "Hard" }
                p id={ (id) "-help" } class="text-sm text-slate-600" { "Refuse calls it cannot cover (proxy and SDK hard mode)." }
            }
        }
    }
}

/// One budget in the list: what it counts and where it stands, its edit
/// form behind a disclosure, and its delete button.
fn budget_item(b: &ScopedBudget) -> Markup {
    let id = format!("budget-{}", b.id);
    let error = format!("{id}-error");
    let name = names::title_text(b);
    html! {
        li class="p-3 sm:p-4" data-budget-id=(b.id) {
            div class="flex flex-wrap items-start justify-between gap-2" {
                div class="min-w-0" {
                    p class="font-semibold break-words text-slate-900" { (names::title(b)) }
                    p class="mt-0.5 text-sm text-slate-700" {
                        span class="font-medium tabular-nums" title=(usd_exact(b.amount_usd)) { (usd(b.amount_usd)) }
                        " · spent " span class="tabular-nums" { (usd(b.status.spent_usd)) } " " (names::this_period(&b.period))
                        " (" (percent(b.status.percent_used)) ")"
                        " · warns at " (b.thresholds.iter().map(|t| format!("{}%", names::threshold(*t))).collect::<Vec<_>>().join(", "))
                        @if b.hard { " · " span class="font-semibold text-slate-900" { "hard" } }
                    }
                }
                button type="button" class=(BUTTON_DANGER) data-api={ "DELETE /api/budgets/scoped/" (b.id) }
                    data-confirm="Click again to delete" data-after="refresh" data-success="Budget deleted." {
                    "Delete" span class="sr-only" { " the " (name) }
                }
            }
            details id={ (id) "-edit" } class="mt-2" {
                summary class="cursor-pointer rounded text-sm font-medium text-indigo-700 hover:underline focus-visible:outline-2 focus-visible:outline-indigo-700" {
                    "Edit" span class="sr-only" { " the " (name) }
                }
                form method="post" id={ (id) "-form" } class="mt-3 space-y-3" data-api={ "PATCH /api/budgets/scoped/" (b.id) } data-after="refresh"
                    data-success="Budget updated." {
                    div class="grid gap-3 sm:grid-cols-3" {
                        div {
                            label for={ (id) "-amount" } class=(LABEL) { "Amount in USD" }
                            input id={ (id) "-amount" } name="amount_usd" type="text" inputmode="decimal" required data-money
                                value=(b.amount_usd.to_string()) class={ (INPUT) " mt-1" } aria-describedby=(error);
                        }
                        div {
                            label for={ (id) "-period" } class=(LABEL) { "Period" }
                            (period_select(&format!("{id}-period"), &b.period, &error))
                        }
                        div { (thresholds_field(&format!("{id}-thresholds"), &names::thresholds(&b.thresholds), &error)) }
                    }
                    (hard_field(&format!("{id}-hard"), b.hard))
                    button type="submit" class=(BUTTON_SECONDARY) { "Save changes" span class="sr-only" { " to the " (name) } }
                    (form_error(&error))
                }
            }
        }
    }
}

/// The form that adds a budget (or replaces the one its scope has for that period).
fn new_budget_form(keys: &[ApiKeyInfo]) -> Markup {
    const ERROR: &str = "new-budget-error";
    html! {
        h3 id="new-budget-title" class="mt-6 border-t border-slate-100 pt-5 text-base font-semibold" { "Add a budget" }
        p class="mt-1 text-sm text-slate-600" {
            "A scope has one budget per period: adding one it has replaces it. Or from a terminal: "
            (kbd("llmlab budget 200 --project search --period week --hard"))
        }
        form method="post" id="new-budget-form" class="mt-3 space-y-3" data-api="POST /api/budgets/scoped" data-after="refresh"
            data-success="Budget saved." aria-labelledby="new-budget-title" {
            div class="grid gap-3 sm:grid-cols-2 lg:grid-cols-4" {
                div {
                    label for="new-budget-amount" class=(LABEL) { "Amount in USD" }
                    div class="relative mt-1" {
                        span class="pointer-events-none absolute inset-y-0 left-0 flex items-center pl-3 text-slate-600" aria-hidden="true" { "$" }
                        input id="new-budget-amount" name="amount_usd" type="text" inputmode="decimal" required data-money placeholder="200"
                            class={ (INPUT) " pl-7" } aria-describedby=(ERROR);
                    }
                }
                div {
                    label for="new-budget-scope" class=(LABEL) { "Counts the calls of" }
                    select id="new-budget-scope" name="scope" data-scope-select class={ (INPUT) " mt-1" } aria-describedby=(ERROR) {
                        option value="account" selected { "The whole account" }
                        option value="project" { "A project" }
                        option value="key" { "An API key" }
                        option value="tag" { "A tag" }
                    }
                }
                div data-scope-target="project" hidden {
                    label for="new-budget-project" class=(LABEL) { "Project" }
                    input id="new-budget-project" name="target" type="text" required disabled maxlength="200" spellcheck="false"
                        autocapitalize="off" placeholder="e.g. search" class={ (INPUT) " mt-1" } aria-describedby=(ERROR);
                }
                div data-scope-target="key" hidden {
                    label for="new-budget-key" class=(LABEL) { "API key" }
                    select id="new-budget-key" name="target" required disabled class={ (INPUT) " mt-1" } aria-describedby=(ERROR) {
                        @for key in keys.iter().filter(|k| k.revoked_at.is_none()) {
                            option value=(key.key_id) { (key.name.as_deref().unwrap_or("unnamed")) " (" (key.key_id) "…)" }
                        }
                    }
                }
                div data-scope-target="tag" hidden {
                    label for="new-budget-tag" class=(LABEL) { "Tag " span class="font-normal text-slate-600" { "(key=value)" } }
                    input id="new-budget-tag" name="target" type="text" required disabled maxlength="300" spellcheck="false"
                        autocapitalize="off" placeholder="customer=acme" class={ (INPUT) " mt-1" } aria-describedby=(ERROR);
                }
                div {
                    label for="new-budget-period" class=(LABEL) { "Period" }
                    (period_select("new-budget-period", "month", ERROR))
                }
                div { (thresholds_field("new-budget-thresholds", "", ERROR)) }
            }
            (hard_field("new-budget-hard", false))
            button type="submit" class=(BUTTON) { "Add budget" }
            (form_error(ERROR))
        }
    }
}

fn custom_prices(list: &[CustomPrice], prefill: &Prefill) -> Markup {
    let field = |id: &str, name: &str, label: &str, example: &str| {
        let required = !example.is_empty();
        html! {
            div {
                label for=(id) class=(LABEL) { (label) @if !required { " " span class="font-normal text-slate-600" { "(optional)" } } }
                input id=(id) name=(name) type="text" inputmode="decimal" required[required] data-optional[!required] data-money
                    placeholder=(example) class={ (INPUT) " mt-1" } aria-describedby="price-error";
            }
        }
    };
    let optional = |m: Option<Money>| m.map_or_else(|| "—".to_owned(), |m| format!("${m}"));
    html! {
        (heading("prices-title", "Custom prices", &html! {
            "USD per 1M tokens, for a model the built-in catalog lacks or to override its price. "
            "Saving a price also prices that model's earlier unpriced calls."
        }))
        @if !list.is_empty() {
            div class="mt-4 overflow-x-auto" {
                table id="prices-table" class="w-full text-left text-sm" {
                    caption class="sr-only" { "Your custom prices, USD per 1M tokens" }
                    thead class="text-xs text-slate-600" {
                        tr {
                            th scope="col" class=(TH) { "Model" }
                            th scope="col" class={ (TH) " text-right" } { "Input" }
                            th scope="col" class={ (TH) " text-right" } { "Output" }
                            th scope="col" class={ (TH) " hidden text-right sm:table-cell" } { "Cache read" }
                            th scope="col" class={ (TH) " hidden text-right md:table-cell" } { "Cache write 5m / 1h" }
                            th scope="col" class=(TH) { span class="sr-only" { "Actions" } }
                        }
                    }
                    tbody {
                        @for p in list {
                            tr class="border-t border-slate-100 align-top" data-model=(p.model) {
                                td class=(TD) {
                                    span class="model-name block font-medium break-all" { (p.model) }
                                    span class="text-xs text-slate-600" { (p.provider.as_deref().unwrap_or("any provider")) }
                                }
                                td class={ (TD) " text-right tabular-nums" } { "$" (p.input_per_million_usd) }
                                td class={ (TD) " text-right tabular-nums" } { "$" (p.output_per_million_usd) }
                                td class={ (TD) " hidden text-right tabular-nums sm:table-cell" } { (optional(p.cache_read_per_million_usd)) }
                                td class={ (TD) " hidden text-right tabular-nums md:table-cell" } {
                                    (optional(p.cache_write_per_million_usd)) " / " (optional(p.cache_write_1h_per_million_usd))
                                }
                                td class={ (TD) " text-right" } {
                                    button type="button" class=(BUTTON_DANGER) data-api={ "DELETE /api/prices/" (url_component(&p.model)) }
                                        data-confirm="Click again to remove" data-after="refresh" data-success="Price removed." {
                                        "Remove" span class="sr-only" { " the price of " (p.model) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        form method="post" id="price-form" class="mt-4 space-y-3" data-api="POST /api/prices" data-after="refresh" data-success="Price saved." {
            div class="grid gap-3 sm:grid-cols-2" {
                div {
                    label for="price-model" class=(LABEL) { "Model" }
                    input id="price-model" name="model" type="text" required maxlength="200" spellcheck="false" autocapitalize="off"
                        value=[prefill.model.as_deref()] placeholder="e.g. my-finetune-v2" class={ (INPUT) " mt-1" } aria-describedby="price-error";
                }
                div {
                    label for="price-provider" class=(LABEL) { "Provider " span class="font-normal text-slate-600" { "(optional: any)" } }
                    input id="price-provider" name="provider" type="text" list="providers" data-optional spellcheck="false" autocapitalize="off"
                        value=[prefill.provider.as_deref()] placeholder="openai, anthropic, google…" class={ (INPUT) " mt-1" };
                    datalist id="providers" { option value="openai" {} option value="anthropic" {} option value="google" {} }
                }
            }
            div class="grid gap-3 sm:grid-cols-2 lg:grid-cols-5" {
                (field("price-input", "input_per_million_usd", "Input", "0.50"))
                (field("price-output", "output_per_million_usd", "Output", "1.50"))
                (field("price-cache-read", "cache_read_per_million_usd", "Cache read", ""))
                (field("price-cache-write", "cache_write_per_million_usd", "Cache write 5m", ""))
                (field("price-cache-write-1h", "cache_write_1h_per_million_usd", "Cache write 1h", ""))
            }
            button type="submit" class=(BUTTON) { "Save price" }
            (form_error("price-error"))
        }
    }
}

fn project_list(list: &[Project], tz: &TimeZone) -> Markup {
    html! {
        (heading("projects-title", "Projects", &html! {
            "A project is created by the first event that names it, e.g. " (kbd("@track_cost(project=\"chatbot\")")) "."
        }))
        @if list.is_empty() {
            p class="mt-3 text-sm text-slate-700" { "No projects yet." }
        } @else {
            div class="mt-4 overflow-x-auto" {
                table id="projects-table" class="w-full text-left text-sm" {
                    caption class="sr-only" { "Your projects" }
                    thead class="text-xs text-slate-600" {
                        tr {
                            th scope="col" class=(TH) { "Project" }
                            th scope="col" class={ (TH) " text-right" } { "Calls" }
                            th scope="col" class={ (TH) " text-right" } { "All-time spend" }
                            th scope="col" class={ (TH) " hidden sm:table-cell" } { "Created" }
                        }
                    }
                    tbody {
                        @for p in list {
                            tr class="border-t border-slate-100" {
                                td class={ (TD) " font-medium break-all" } { (p.name) }
                                td class={ (TD) " text-right tabular-nums" } { (calls(p.calls)) }
                                td class={ (TD) " text-right tabular-nums" } title=(usd_exact(p.all_time_usd)) { (usd(p.all_time_usd)) }
                                td class={ (TD) " hidden sm:table-cell" } { (local_time(&p.created_at, tz)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn time_zone(account: &Account) -> Markup {
    html! {
        (heading("timezone-title", "Time zone", &html! { "Where your days and months begin and end, for the totals, the trend and the budget." }))
        form method="post" id="timezone-form" class="mt-4 flex flex-col gap-2 sm:flex-row sm:items-end" data-api="PATCH /api/account" data-after="refresh"
            data-success="Time zone saved." {
            div class="flex-1 sm:max-w-sm" {
                label for="timezone-input" class=(LABEL) { "IANA time zone" }
                input id="timezone-input" name="timezone" type="text" list="time-zones" required spellcheck="false" autocapitalize="off"
                    value=(account.timezone) class={ (INPUT) " mt-1" } aria-describedby="timezone-error";
            }
            button type="button" data-fill-timezone="timezone-input" class=(BUTTON_SECONDARY) { "Use this device's" }
            button type="submit" class=(BUTTON) { "Save time zone" }
        }
        (form_error("timezone-error"))
    }
}

fn account(account: &Account, tz: &TimeZone) -> Markup {
    html! {
        h2 id="account-title" class="text-lg font-semibold" { "Account" }
        dl class="mt-3 grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]" {
            dt class="text-slate-600" { "Account id" } dd class="font-mono break-all" { (account.user_id) }
            @if let Some(name) = &account.name { dt class="text-slate-600" { "Name" } dd class="break-all" { (name) } }
            dt class="text-slate-600" { "Created" } dd { (local_time(&account.created_at, tz)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<img src=x onerror=alert(1)>";

    #[test]
    fn settings_escape_names_and_encode_the_delete_url() {
        let data = Data {
            account: Account {
                user_id: "usr_1".to_owned(),
                name: Some(HOSTILE.to_owned()),
                timezone: "Europe/Paris".to_owned(),
                hard_budget: false,
                created_at: "2026-11-27T10:00:00Z".to_owned(),
            },
            keys: vec![ApiKeyInfo {
                key_id: "llm_abcd1234".to_owned(),
                name: Some(HOSTILE.to_owned()),
                created_at: "2026-11-27T10:00:00Z".to_owned(),
                last_used_at: None,
                revoked_at: None,
                current: true,
            }],
            sessions: vec![SessionInfo {
                session_id: "ses_abcdefghijkl".to_owned(),
                key_id: "llm_abcd1234".to_owned(),
                user_agent: Some(HOSTILE.to_owned()),
                created_at: "2026-11-27T10:00:00Z".to_owned(),
                last_seen_at: "2026-11-27T10:00:00Z".to_owned(),
                expires_at: "2026-12-27T10:00:00Z".to_owned(),
                current: true,
            }],
            invites: true,
            budgets: vec![],
            projects: vec![Project {
                name: HOSTILE.to_owned(),
                created_at: "2026-11-27T10:00:00Z".to_owned(),
                calls: 1,
                all_time_usd: Money::ZERO,
            }],
            prices: vec![CustomPrice {
                model: format!("a/{HOSTILE}"),
                provider: None,
                input_per_million_usd: "0.5".parse().unwrap(),
                output_per_million_usd: "1.5".parse().unwrap(),
                cache_read_per_million_usd: None,
                cache_write_per_million_usd: None,
                cache_write_1h_per_million_usd: None,
                created_at: "2026-11-27T10:00:00Z".to_owned(),
                updated_at: "2026-11-27T10:00:00Z".to_owned(),
            }],
            channels: vec![],
            alerts: vec![],
            smtp: false,
            connections: vec![Connection {
                provider: "openai".to_owned(),
                key_hint: "sk-admin-…abcd".to_owned(),
                backfill_days: 30,
                created_at: "2026-11-27T10:00:00Z".to_owned(),
                last_sync_at: None,
                last_error: Some(HOSTILE.to_owned()),
                usage_synced_until: None,
                cost_synced_until: None,
            }],
        };
        let prefill = Prefill { model: Some(HOSTILE.to_owned()), provider: None };
        let html = sections(&data, &prefill).into_string();
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(r#"data-api="DELETE /api/prices/a%2F%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E""#),
            "{html}"
        );
        assert!(html.contains(r#"value="&lt;img src=x onerror=alert(1)&gt;""#), "{html}");
        assert!(html.contains(r#"data-after="signed-out""#), "the current key's revoke button signs out");
        assert!(html.contains("2026-11-27 11:00"), "times are in the account's zone: {html}");
        assert!(html.contains("No monthly budget is set") && !html.contains("budget-remove"), "nothing to remove");
        assert!(html.contains("No budgets yet."), "{html}");
        assert!(
            html.contains(
                r#"<option value="llm_abcd1234">&lt;img src=x onerror=alert(1)&gt; (llm_abcd1234…)</option>"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"data-api="DELETE /api/auth/sessions/ses_abcdefghijkl""#), "{html}");
        assert!(html.contains("this session") && html.contains("Sign out everywhere"), "{html}");
        assert!(html.contains(r#"data-api="POST /api/auth/invites""#), "an invite-only server lets members invite");
    }

    fn scoped(id: i64, scope: BudgetScope, target: Option<&str>, period: &str) -> ScopedBudget {
        ScopedBudget {
            id,
            scope,
            target: target.map(str::to_owned),
            target_name: None,
            period: period.to_owned(),
            amount_usd: "500".parse().unwrap(),
            hard: false,
            thresholds: vec![80.0, 100.0],
            created_at: "2026-11-27T10:00:00Z".to_owned(),
            updated_at: "2026-11-27T10:00:00Z".to_owned(),
            status: llmlab_api::ScopedBudgetStatus {
                state: llmlab_api::BudgetState::Ok,
                period_start: None,
                period_end: None,
                spent_usd: "125".parse().unwrap(),
                reserved_usd: Money::ZERO,
                available_usd: Money::ZERO,
                percent_used: 25.0,
                projected_usd: None,
                projected_crossing_at: None,
                unpriced_calls: 0,
            },
        }
    }

    fn account(hard: bool) -> Account {
        Account {
            user_id: "usr_1".to_owned(),
            name: None,
            timezone: "UTC".to_owned(),
            hard_budget: hard,
            created_at: "2026-11-27T10:00:00Z".to_owned(),
        }
    }

    #[test]
    fn a_set_budget_can_be_removed() {
        let budgets = [scoped(1, BudgetScope::Account, None, "month")];
        let html = super::budget(&budgets, &[], &account(false)).into_string();
        assert!(html.contains("$500.00"), "{html}");
        assert!(html.contains(r#"id="budget-remove""#) && html.contains(r#"data-api="DELETE /api/budgets""#), "{html}");
        assert!(html.contains(r#"value="500""#), "the monthly form holds its amount: {html}");
    }

    #[test]
    fn every_budget_is_listed_with_its_edit_form_and_delete_button() {
        let mut tag = scoped(9, BudgetScope::Tag, Some("customer=acme"), "week");
        tag.hard = true;
        tag.thresholds = vec![50.0, 92.5, 100.0];
        let budgets = [scoped(3, BudgetScope::Project, Some("<b>search</b>"), "day"), tag];
        let html = super::budget(&budgets, &[], &account(true)).into_string();
        assert!(html.contains("No monthly budget is set"), "only scoped budgets: {html}");
        assert!(html.contains(r#"id="hard-budget" name="hard_budget" type="checkbox" checked"#), "{html}");
        assert_eq!(html.matches("<li ").count(), 2, "{html}");
        assert!(
            html.contains(
                "Daily budget · project <span class=\"[overflow-wrap:anywhere]\">&lt;b&gt;search&lt;/b&gt;</span>"
            ),
            "{html}"
        );
        assert!(!html.contains("<b>"), "escaped: {html}");
        assert!(html.contains(r#"data-api="PATCH /api/budgets/scoped/9""#), "{html}");
        assert!(html.contains(r#"data-api="DELETE /api/budgets/scoped/9""#), "{html}");
        assert!(html.contains(r#"value="50, 92.5, 100""#) && html.contains("warns at 50%, 92.5%, 100%"), "{html}");
        assert!(html.contains(r#"<option value="week" selected>"#), "the edit form holds its period: {html}");
        assert!(html.contains(r#"id="budget-9-hard" name="hard" type="checkbox" checked"#), "{html}");
        assert!(html.contains(r#"id="budget-3-hard" name="hard" type="checkbox" class="#), "{html}");
        assert!(html.contains("$125.00</span> today (25.0%)"), "{html}");
        assert!(html.contains(r#"<span class="sr-only"> the Weekly budget · tag customer=acme</span>"#), "{html}");
    }

    #[test]
    fn the_new_budget_form_offers_every_scope_and_only_the_active_keys() {
        let key = |id: &str, name: Option<&str>, revoked: bool| ApiKeyInfo {
            key_id: id.to_owned(),
            name: name.map(str::to_owned),
            created_at: "2026-11-27T10:00:00Z".to_owned(),
            last_used_at: None,
            revoked_at: revoked.then(|| "2026-11-28T10:00:00Z".to_owned()),
            current: false,
        };
        let keys = [
            key("llm_aaaa1111", Some("prod"), false),
            key("llm_bbbb2222", None, false),
            key("llm_cccc3333", None, true),
        ];
        let html = new_budget_form(&keys).into_string();
        assert!(html.contains(r#"data-api="POST /api/budgets/scoped""#), "{html}");
        for scope in ["account", "project", "key", "tag"] {
            assert!(html.contains(&format!(r#"<option value="{scope}""#)), "{scope}: {html}");
        }
        for target in ["project", "key", "tag"] {
            assert!(html.contains(&format!(r#"<div data-scope-target="{target}" hidden>"#)), "{target}: {html}");
        }
        assert_eq!(html.matches(r#"name="target""#).count(), 3);
        assert_eq!(html.matches(r#"name="target" type="text" required disabled"#).count(), 2, "disabled until chosen");
        assert!(html.contains(r#"<option value="llm_aaaa1111">prod (llm_aaaa1111…)</option>"#), "{html}");
        assert!(html.contains(r#"<option value="llm_bbbb2222">unnamed (llm_bbbb2222…)</option>"#), "{html}");
        assert!(!html.contains("llm_cccc3333"), "a revoked key has nothing left to count: {html}");
        assert!(html.contains(r#"<option value="month" selected>"#), "{html}");
        assert!(
            html.contains(r#"name="thresholds" type="text" inputmode="decimal" data-numbers data-optional"#),
            "{html}"
        );
    }
}
