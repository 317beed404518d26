//! Provider reports in the pages: the settings' connections (connect with an
//! admin key, test, remove; keys only as hints), and the dashboard's
//! provider-reported spend and reconciliation panels. Days are UTC.

use jiff::tz::TimeZone;
use llmlab_api::{Connection, ReconciledDay, Reconciliation, ReportedSpend};
use llmlab_core::Money;
use maud::{Markup, html};

use super::format::{count, local_time, tokens, usd};
use super::layout::{BUTTON, BUTTON_DANGER, BUTTON_SECONDARY, INPUT, LABEL, TD, TH, form_error, heading, kbd, panel};

/// Days of the reconciliation shown on the dashboard, newest first.
const SHOWN_DAYS: usize = 10;

fn provider_label(provider: &str) -> &str {
    match provider {
        "openai" => "OpenAI",
        "anthropic" => "Anthropic",
        other => other,
    }
}

/// The settings section: the account's connections and the form that adds one.
pub(super) fn connections(list: &[Connection], tz: &TimeZone) -> Markup {
    html! {
        (heading("connections-title", "Provider reports", &html! {
            "An organization admin key lets LLMLab import OpenAI's or Anthropic's own usage and cost reports: "
            "spend from the first minute, and tracked against billed per day. Or from a terminal: "
            (kbd("llmlab connect openai"))
        }))
        @if list.is_empty() {
            p id="connections-none" class="mt-3 text-sm text-slate-700" { "No provider connected yet." }
        } @else {
            div class="mt-3 overflow-x-auto" {
                table id="connections-table" class="w-full text-left text-sm" {
                    caption class="sr-only" { "Your provider connections" }
                    thead class="text-xs text-slate-600" {
                        tr {
                            th scope="col" class=(TH) { "Provider" }
                            th scope="col" class=(TH) { "Admin key" }
                            th scope="col" class=(TH) { "Last sync" }
                            th scope="col" class=(TH) { span class="sr-only" { "Actions" } }
                        }
                    }
                    tbody { @for c in list { (connection_row(c, tz)) } }
                }
            }
        }
        h3 id="connect-title" class="mt-6 border-t border-slate-100 pt-5 text-base font-semibold" { "Connect a provider" }
        p class="mt-1 text-sm text-slate-600" {
            "OpenAI: an admin key (" (kbd("sk-admin-…")) "); Anthropic: an Admin API key (" (kbd("sk-ant-admin…")) "). "
            "The last 30 days are imported now, then every hour. The key is sealed with the server key and never shown again."
        }
        form method="post" id="connect-form" class="mt-3 space-y-3" data-api="POST /api/connections" data-after="refresh"
            data-success="Connected: the reports are imported." aria-labelledby="connect-title" {
            div class="grid gap-3 sm:grid-cols-[max-content_1fr]" {
                div {
                    label for="connect-provider" class=(LABEL) { "Provider" }
                    select id="connect-provider" name="provider" class={ (INPUT) " mt-1" } aria-describedby="connect-error" {
                        option value="openai" { "OpenAI" }
                        option value="anthropic" { "Anthropic" }
                    }
                }
                div {
                    label for="connect-key" class=(LABEL) { "Admin key" }
                    input id="connect-key" name="admin_key" type="password" required autocomplete="off" spellcheck="false"
                        class={ (INPUT) " mt-1 w-full" } aria-describedby="connect-error";
                }
            }
            button type="submit" class=(BUTTON) { "Connect" }
            (form_error("connect-error"))
        }
    }
}

fn connection_row(c: &Connection, tz: &TimeZone) -> Markup {
    let label = provider_label(&c.provider);
    html! {
        tr class="border-t border-slate-100 align-top" data-provider=(c.provider) {
            td class={ (TD) " font-medium" } { (label) }
            td class=(TD) { code class="connection-hint text-xs whitespace-nowrap" { (c.key_hint) } }
            td class=(TD) {
                @match &c.last_sync_at {
                    Some(at) => span { (local_time(at, tz)) },
                    None => span class="text-slate-600" { "never" },
                }
                @if let Some(error) = &c.last_error {
                    span class="connection-error block text-xs font-medium text-red-800" { (error) }
                }
            }
            td class={ (TD) " space-x-2 text-right whitespace-nowrap" } {
                button type="button" class=(BUTTON_SECONDARY) data-api={ "POST /api/connections/" (c.provider) "/test" }
                    data-after="refresh" data-success="Key checked: the result is on its row." { "Test" span class="sr-only" { " the " (label) " key" } }
                button type="button" class=(BUTTON_DANGER) data-api={ "DELETE /api/connections/" (c.provider) }
                    data-confirm="Click again to remove" data-after="refresh" data-success="Connection removed." {
                    "Remove" span class="sr-only" { " the " (label) " connection" }
                }
            }
        }
    }
}

/// The dashboard panel of spend the providers' reports show where nothing was tracked.
pub(super) fn reported_panel(reported: &ReportedSpend) -> Markup {
    panel(
        "reported-title",
        "Provider-reported spend",
        &html! {
            p class="text-sm text-slate-700" {
                "From the providers' own usage and cost reports, " (reported.from) " to " (reported.to)
                " (UTC days without tracked calls). Not in the totals above."
            }
            p class="mt-2 text-sm" {
                span class="font-semibold" { (usd(reported.billed_usd)) } " billed · "
                (usd(reported.priced_usd)) " at LLMLab's prices"
            }
            table id="reported-models" class="mt-3 w-full text-left text-sm" {
                caption class="sr-only" { "Provider-reported spend by model" }
                thead class="text-xs text-slate-600" {
                    tr { th scope="col" class=(TH) { "Model" } th scope="col" class=(TH) { "Provider" }
                         th scope="col" class={ (TH) " text-right" } { "Tokens" } th scope="col" class={ (TH) " text-right" } { "Cost" } }
                }
                tbody {
                    @for m in &reported.by_model {
                        tr class="border-t border-slate-100" {
                            td class=(TD) { (m.model) }
                            td class=(TD) { (provider_label(&m.provider)) }
                            td class={ (TD) " text-right tabular-nums" } { (tokens(m.input_tokens + m.cache_read_tokens + m.cache_write_tokens + m.output_tokens)) }
                            td class={ (TD) " text-right tabular-nums" } { (m.priced_usd.map_or_else(|| "unpriced".to_owned(), usd)) }
                        }
                    }
                }
            }
        },
    )
}

/// The dashboard panel of tracked against billed, the month's newest days.
pub(super) fn reconciliation_panel(r: &Reconciliation) -> Markup {
    let mut days: Vec<&ReconciledDay> = r.days.iter().collect();
    days.sort_by(|a, b| b.date.cmp(&a.date).then(a.provider.cmp(&b.provider)));
    panel(
        "reconciliation-title",
        "Tracked against billed",
        &html! {
            p class="text-sm text-slate-700" {
                (r.month) " (UTC days): " (usd(r.tracked_usd)) " tracked, " (usd(r.billed_usd)) " billed; "
                @if r.untracked_usd > Money::ZERO {
                    span class="font-semibold text-amber-900" { (usd(r.untracked_usd)) " LLMLab never saw" }
                    @if let Some(share) = r.untracked_share_percent { " (" (share) "%)" }
                } @else { "nothing untracked" }
                ". Details: " (kbd("llmlab reconcile --models"))
            }
            div class="mt-3 overflow-x-auto" {
                table id="reconciliation-days" class="w-full text-left text-sm" {
                    caption class="sr-only" { "Tracked against billed per day and provider" }
                    thead class="text-xs text-slate-600" {
                        tr {
                            th scope="col" class=(TH) { "Day" } th scope="col" class=(TH) { "Provider" }
                            th scope="col" class={ (TH) " text-right" } { "Calls" }
                            th scope="col" class={ (TH) " text-right" } { "Tracked" }
                            th scope="col" class={ (TH) " text-right" } { "Billed" }
                            th scope="col" class={ (TH) " text-right" } { "Untracked" }
                        }
                    }
                    tbody {
                        @for d in days.iter().take(SHOWN_DAYS) {
                            tr class={ "border-t border-slate-100" @if d.drift_alert { " bg-amber-50" } } data-drift=(d.drift_alert) {
                                td class=(TD) { (d.date) }
                                td class=(TD) { (provider_label(&d.provider)) }
                                td class={ (TD) " text-right tabular-nums" } { (count(d.tracked_calls)) }
                                td class={ (TD) " text-right tabular-nums" } { (usd(d.tracked_usd)) }
                                td class={ (TD) " text-right tabular-nums" } { (usd(if d.billed_usd == Money::ZERO { d.reported_usd } else { d.billed_usd })) }
                                td class={ (TD) " text-right tabular-nums" } {
                                    (usd(d.untracked_usd))
                                    @if let Some(share) = d.untracked_share_percent { span class="text-xs text-slate-600" { " " (share) "%" } }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
