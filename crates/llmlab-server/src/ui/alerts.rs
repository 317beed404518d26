//! The settings page's alert sections: the channels (add, remove, send a test
//! alert) and the delivery log of the newest alerts.
//!
//! A webhook's signing secret is shown once, by the script, from the API's
//! answer (`data-after="new-secret"`); the server never puts it in a page.
//! While a delivery is pending the log carries `data-deliveries-pending`, and
//! the script refreshes the sections, less and less often, until none is.

use jiff::tz::TimeZone;
use llmlab_api::{Alert, Channel, ChannelKind, Delivery, DeliveryState};
use maud::{Markup, html};

use super::format::{local_time, prose};
use super::layout::{self, BUTTON, BUTTON_DANGER, BUTTON_SECONDARY, INPUT, LABEL, TD, TH, form_error, heading, kbd};

/// How many alerts the delivery log shows.
pub(super) const LOG_ALERTS: i64 = 20;

/// A channel kind as people call it.
fn kind_label(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Webhook => "Webhook",
        ChannelKind::Slack => "Slack",
        ChannelKind::Discord => "Discord",
        ChannelKind::Email => "Email",
    }
}

/// The channels, the form that adds one, and the test button. `smtp`: the
/// server has SMTP settings (without them an email channel cannot deliver).
pub(super) fn channels(list: &[Channel], tz: &TimeZone, smtp: bool) -> Markup {
    html! {
        (heading("alerts-title", "Alerts", &html! {
            "Where LLMLab tells you when a budget crosses a threshold or is on course to run out, a hard budget refuses "
            "calls, a day's spend jumps, or a model shows up without a price. Or from a terminal: "
            (kbd("llmlab alerts add slack URL"))
        }))
        h3 id="channels-title" class="mt-5 text-base font-semibold" { "Channels" }
        @if list.is_empty() {
            p id="channels-none" class="mt-2 text-sm text-slate-700" {
                "No channels yet: alerts are only in the delivery log below, " (kbd("llmlab status")) " and the dashboard."
            }
        } @else {
            div class="mt-3 overflow-x-auto" {
                table id="channels-table" class="w-full text-left text-sm" {
                    caption class="sr-only" { "Your alert channels" }
                    thead class="text-xs text-slate-600" {
                        tr {
                            th scope="col" class=(TH) { "Channel" }
                            th scope="col" class=(TH) { "Goes to" }
                            th scope="col" class={ (TH) " hidden sm:table-cell" } { "Added" }
                            th scope="col" class=(TH) { span class="sr-only" { "Actions" } }
                        }
                    }
                    tbody {
                        @for channel in list { (channel_row(channel, tz)) }
                    }
                }
            }
        }
        (new_channel_form(smtp))
        h3 id="alert-test-title" class="mt-6 border-t border-slate-100 pt-5 text-base font-semibold" { "Test" }
        p class="mt-1 text-sm text-slate-600" {
            "Sends a test alert to every channel, to check that it arrives. Its delivery shows in the log below."
        }
        form method="post" id="alert-test-form" class="mt-3" data-api="POST /api/alerts/test" data-after="test-alert"
            data-success="Test alert sent." aria-labelledby="alert-test-title" {
            button type="submit" id="alert-test" class=(BUTTON_SECONDARY) disabled[list.is_empty()]
                aria-describedby=[list.is_empty().then_some("alert-test-none")] { "Send a test alert" }
            @if list.is_empty() {
                p id="alert-test-none" class="mt-2 text-sm text-slate-600" { "Add a channel first." }
            }
            p id="alert-test-result" class="mt-2 text-sm font-medium text-emerald-800" role="status" hidden {}
            (form_error("alert-test-error"))
        }
    }
}

fn channel_row(channel: &Channel, tz: &TimeZone) -> Markup {
    let kind = kind_label(channel.kind);
    let label = channel.name.as_deref().map_or_else(|| kind.to_owned(), |name| format!("{kind} {name}"));
    html! {
        tr class="border-t border-slate-100 align-top" data-channel-id=(channel.id) {
            td class=(TD) {
                span class="channel-kind block font-medium" { (kind) }
                @if let Some(name) = &channel.name { span class="block text-xs break-words text-slate-600" { (name) } }
            }
            td class=(TD) { code class="channel-hint text-xs text-slate-800 [overflow-wrap:anywhere]" { (channel.target_hint) } }
            td class={ (TD) " hidden sm:table-cell" } { (local_time(&channel.created_at, tz)) }
            td class={ (TD) " text-right" } {
                button type="button" class=(BUTTON_DANGER) data-api={ "DELETE /api/alerts/channels/" (channel.id) }
                    data-confirm="Click again to remove" data-after="refresh" data-success="Channel removed." {
                    "Remove" span class="sr-only" { " the channel " (label) }
                }
            }
        }
    }
}

fn new_channel_form(smtp: bool) -> Markup {
    const ERROR: &str = "channel-error";
    html! {
        h3 id="new-channel-title" class="mt-6 border-t border-slate-100 pt-5 text-base font-semibold" { "Add a channel" }
        ul class="mt-1 list-disc space-y-0.5 pl-5 text-sm text-slate-600" {
            li { "Webhook: any HTTPS endpoint. Each delivery is signed per Standard Webhooks with a secret shown once, here." }
            li { "Slack or Discord: the channel's incoming webhook URL." }
            li {
                "Email: an address. "
                @if smtp { "Sent through this server's SMTP settings." }
                @else { span id="smtp-missing" class="font-medium text-amber-900" { "This server has no SMTP settings yet: email alerts wait until it does." } }
            }
        }
        form method="post" id="channel-form" class="mt-3 space-y-3" data-api="POST /api/alerts/channels" data-after="new-secret"
            data-success="Channel added." aria-labelledby="new-channel-title" {
            div class="grid gap-3 sm:grid-cols-[max-content_1fr_1fr]" {
                div {
                    label for="channel-kind" class=(LABEL) { "Kind" }
                    select id="channel-kind" name="kind" class={ (INPUT) " mt-1" } aria-describedby=(ERROR) {
                        @for kind in ChannelKind::ALL { option value=(kind.as_str()) { (kind_label(kind)) } }
                    }
                }
                div {
                    label for="channel-target" class=(LABEL) { "URL or email address" }
                    input id="channel-target" name="target" type="text" required spellcheck="false" autocapitalize="off"
                        autocomplete="off" placeholder="https://… or you@example.com" class={ (INPUT) " mt-1" } aria-describedby=(ERROR);
                }
                div {
                    label for="channel-name" class=(LABEL) { "Name " span class="font-normal text-slate-600" { "(optional)" } }
                    input id="channel-name" name="name" type="text" maxlength="100" data-optional placeholder="e.g. #ops"
                        class={ (INPUT) " mt-1" } aria-describedby=(ERROR);
                }
            }
            button type="submit" class=(BUTTON) { "Add channel" }
            (form_error(ERROR))
        }
        div id="new-secret-box" class="mt-3 rounded-md bg-emerald-50 p-3 ring-1 ring-emerald-200" hidden {
            p class="text-sm font-medium text-emerald-900" {
                "The webhook's signing secret, shown only until you leave this page: copy it now. "
                "Your receiver checks each delivery's "
                (kbd("webhook-signature")) " with it:"
            }
            div class="mt-2" { (layout::code_wrapping("new-secret-value", "the signing secret", "")) }
        }
    }
}

/// The delivery log: the newest alerts, each with its delivery to every channel.
pub(super) fn log(alerts: &[Alert], tz: &TimeZone) -> Markup {
    let pending = alerts.iter().flat_map(|a| &a.deliveries).any(|d| d.state == DeliveryState::Pending);
    html! {
        div data-deliveries-pending[pending] {
            (heading("alert-log-title", "Delivery log", &html! {
                "The newest " (LOG_ALERTS) " alerts and where each went. A failed delivery is tried again, less and less often, "
                "for a day, always under the same alert id. Or from a terminal: " (kbd("llmlab alerts log"))
            }))
            @if alerts.is_empty() {
                p id="alert-log-none" class="mt-3 text-sm text-slate-700" { "No alerts yet." }
            } @else {
                ol id="alert-log-list" class="mt-4 divide-y divide-slate-100 rounded-md ring-1 ring-slate-200" aria-labelledby="alert-log-title" {
                    @for alert in alerts { (alert_item(alert, tz)) }
                }
            }
        }
    }
}

fn alert_item(alert: &Alert, tz: &TimeZone) -> Markup {
    html! {
        li class="p-3 sm:p-4" data-alert-id=(alert.id) {
            p class="font-semibold break-words text-slate-900" { (alert.title) }
            p class="text-xs text-slate-600 [overflow-wrap:anywhere]" { (local_time(&alert.created_at, tz)) " · " code { (alert.id) } }
            p class="mt-1 text-sm break-words text-slate-800" { (prose(&alert.text)) }
            p class="mt-1 text-sm break-words text-slate-700" { (prose(&alert.action)) }
            @if alert.deliveries.is_empty() {
                p class="mt-2 text-sm text-slate-600" { "No channel to deliver it to." }
            } @else {
                div class="mt-2 overflow-x-auto" {
                    table class="alert-deliveries w-full text-left text-sm" {
                        caption class="sr-only" { "Deliveries of " (alert.title) }
                        thead class="text-xs text-slate-600" {
                            tr {
                                th scope="col" class=(TH) { "Channel" }
                                th scope="col" class=(TH) { "State" }
                                th scope="col" class={ (TH) " text-right" } { "Attempts" }
                                th scope="col" class={ (TH) " text-right" } { "Last status" }
                                th scope="col" class={ (TH) " hidden sm:table-cell" } { "Last error" }
                            }
                        }
                        tbody {
                            @for delivery in &alert.deliveries { (delivery_row(delivery, tz)) }
                        }
                    }
                }
            }
        }
    }
}

fn delivery_row(d: &Delivery, tz: &TimeZone) -> Markup {
    let time = |t: &Option<String>| t.as_deref().map(|t| local_time(t, tz));
    html! {
        tr class="border-t border-slate-100 align-top" data-delivery-state=(state_name(d.state)) {
            td class=(TD) {
                span class="block font-medium" { (kind_label(d.channel_kind)) }
                code class="text-xs text-slate-600 [overflow-wrap:anywhere]" { (d.target_hint) }
            }
            td class=(TD) {
                @match d.state {
                    DeliveryState::Delivered => {
                        span class="delivery-state font-medium text-emerald-800" { "Delivered" }
                        @if let Some(at) = time(&d.delivered_at) { span class="block text-xs text-slate-600" { (at) } }
                    }
                    DeliveryState::Pending => {
                        span class="delivery-state font-medium text-amber-900" { "Pending" }
                        @if d.attempts > 0 {
                            @if let Some(at) = time(&d.next_attempt_at) { span class="block text-xs text-slate-600" { "next try " (at) } }
                        }
                    }
                    DeliveryState::Failed => {
                        span class="delivery-state font-medium text-red-700" { "Failed" }
                    }
                }
                // On a phone the error column is left out: the error goes under the state.
                @if let Some(error) = &d.last_error { span class="mt-1 block text-xs break-words text-slate-700 sm:hidden" { (error) } }
            }
            td class={ (TD) " text-right tabular-nums" } { (d.attempts) }
            td class={ (TD) " text-right tabular-nums" } { (d.last_status_code.map_or_else(|| "—".to_owned(), |c| c.to_string())) }
            td class={ (TD) " hidden text-xs break-words text-slate-700 sm:table-cell" } {
                (d.last_error.as_deref().unwrap_or("—"))
            }
        }
    }
}

fn state_name(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "pending",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<img src=x onerror=alert(1)>";

    fn delivery(state: DeliveryState, attempts: u32, code: Option<u16>, error: Option<&str>) -> Delivery {
        Delivery {
            channel_id: Some(7),
            channel_kind: ChannelKind::Slack,
            target_hint: "https://hooks.slack.com/services/…a1b2".to_owned(),
            state,
            attempts,
            last_status_code: code,
            last_error: error.map(str::to_owned),
            last_attempt_at: Some("2026-11-27T10:00:00Z".to_owned()),
            next_attempt_at: (state == DeliveryState::Pending).then(|| "2026-11-27T10:05:00Z".to_owned()),
            delivered_at: (state == DeliveryState::Delivered).then(|| "2026-11-27T10:00:01Z".to_owned()),
        }
    }

    fn alert(deliveries: Vec<Delivery>) -> Alert {
        Alert {
            id: "alt_01".to_owned(),
            kind: "budget_threshold".to_owned(),
            title: format!("80% of the monthly budget of {HOSTILE} used"),
            text: "Spent $0.80 of $1.00.".to_owned(),
            action: "Raise it with `llmlab budget 2`.".to_owned(),
            created_at: "2026-11-27T10:00:00Z".to_owned(),
            deliveries,
        }
    }

    #[test]
    fn channels_show_their_kind_name_and_hint_escaped_with_a_remove_call_each() {
        let list = [
            Channel {
                id: 3,
                kind: ChannelKind::Discord,
                name: Some(HOSTILE.to_owned()),
                target_hint: "https://discord.com/api/webhooks/…wxyz".to_owned(),
                created_at: "2026-11-27T10:00:00Z".to_owned(),
            },
            Channel {
                id: 4,
                kind: ChannelKind::Email,
                name: None,
                target_hint: "a…@example.com".to_owned(),
                created_at: "2026-11-27T10:00:00Z".to_owned(),
            },
        ];
        let html = channels(&list, &TimeZone::UTC, true).into_string();
        assert!(!html.contains("<img"), "{html}");
        assert_eq!(html.matches("data-channel-id=").count(), 2, "{html}");
        assert!(html.contains(r#"data-api="DELETE /api/alerts/channels/3""#), "{html}");
        assert!(html.contains(r#"data-api="DELETE /api/alerts/channels/4""#), "{html}");
        assert!(html.contains("https://discord.com/api/webhooks/…wxyz") && html.contains("a…@example.com"), "{html}");
        assert!(html.contains(r#"<span class="sr-only"> the channel Email</span>"#), "{html}");
        assert!(html.contains(r#"data-api="POST /api/alerts/channels" data-after="new-secret""#), "{html}");
        assert!(html.contains(r#"data-api="POST /api/alerts/test" data-after="test-alert""#), "{html}");
        for kind in ["webhook", "slack", "discord", "email"] {
            assert!(html.contains(&format!(r#"<option value="{kind}">"#)), "{kind}: {html}");
        }
        assert!(
            html.contains(r#"<div id="new-secret-box""#) && html.contains(r#"<code id="new-secret-value"></code>"#),
            "{html}"
        );
        assert!(!html.contains("smtp-missing"), "SMTP is set: {html}");
        assert!(!html.contains("channels-none"), "{html}");
    }

    #[test]
    fn the_log_shows_each_deliverys_state_attempts_status_and_error_and_asks_to_be_followed_while_pending() {
        let alerts = [alert(vec![
            delivery(DeliveryState::Delivered, 1, Some(200), None),
            delivery(DeliveryState::Pending, 3, Some(500), Some(HOSTILE)),
            delivery(DeliveryState::Failed, 9, None, Some("connection refused")),
        ])];
        let html = log(&alerts, &TimeZone::get("Europe/Paris").unwrap()).into_string();
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("data-deliveries-pending"), "{html}");
        assert!(html.contains(r#"data-delivery-state="delivered""#) && html.contains(">Delivered</span>"), "{html}");
        assert!(
            html.contains(">Pending</span>") && html.contains("next try 2026-11-27 11:05"),
            "in the account's zone: {html}"
        );
        assert!(html.contains(">Failed</span>") && html.contains("connection refused"), "{html}");
        assert!(html.contains(">500</td>") && html.contains(">200</td>") && html.contains(">9</td>"), "{html}");
        assert!(html.contains(">llmlab budget 2</code>"), "commands as code: {html}");
        assert!(html.contains(r#"data-alert-id="alt_01""#), "{html}");

        let done = [alert(vec![delivery(DeliveryState::Delivered, 1, Some(204), None)])];
        let html = log(&done, &TimeZone::UTC).into_string();
        assert!(!html.contains("data-deliveries-pending"), "nothing left to follow: {html}");
        assert!(log(&[], &TimeZone::UTC).into_string().contains("No alerts yet."));
    }
}
