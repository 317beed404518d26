//! What each kind of channel receives for an alert: the generic webhook's
//! JSON (Standard Webhooks' `type` / `timestamp` / `data` shape), Slack's
//! and Discord's incoming-webhook messages (their documented payloads, short
//! enough to read on a phone), and an email's subject and text.

use std::fmt::Write as _;

use llmlab_core::alert::{AlertFacts, Message};
use serde_json::{Value, json};

/// One alert as every payload needs it.
pub struct Outgoing<'a> {
    pub id: &'a str,
    pub facts: &'a AlertFacts,
    pub message: &'a Message,
    /// When the alert was raised, RFC 3339.
    pub created_at: &'a str,
}

/// Slack limits a section's text to 3,000 characters and a header to 150.
const SLACK_TEXT_MAX: usize = 3000;
const SLACK_HEADER_MAX: usize = 150;
/// Discord limits an embed's title to 256 characters, its description to
/// 4,096, a field's name to 256 and its value to 1,024, and a message's
/// content to 2,000.
const DISCORD_TITLE_MAX: usize = 256;
const DISCORD_DESCRIPTION_MAX: usize = 4096;
const DISCORD_FIELD_NAME_MAX: usize = 256;
const DISCORD_FIELD_VALUE_MAX: usize = 1024;
const DISCORD_CONTENT_MAX: usize = 2000;

/// Colours of Discord embeds by how urgent the alert is.
const RED: u32 = 0x00d9_3025;
const AMBER: u32 = 0x00f5_a623;
const BLUE: u32 = 0x0036_7bf0;

/// At most `max` characters, with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The generic webhook's body.
#[must_use]
pub fn webhook(alert: &Outgoing<'_>) -> Value {
    let figures: serde_json::Map<String, Value> =
        alert.message.figures.iter().map(|(label, value)| (label.clone(), Value::String(value.clone()))).collect();
    json!({
        "type": alert.facts.event_type(),
        "timestamp": alert.created_at,
        "data": {
            "id": alert.id,
            "kind": alert.facts.kind(),
            "title": alert.message.title,
            "text": alert.message.text,
            "action": alert.message.action,
            "link": alert.message.link,
            "figures": figures,
            "facts": alert.facts,
        }
    })
}

/// A Slack incoming webhook's message: `text` (the notification and
/// fallback) and Block Kit blocks.
#[must_use]
pub fn slack(alert: &Outgoing<'_>) -> Value {
    let message = alert.message;
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": clip(&message.title, SLACK_HEADER_MAX), "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&slack_escape(&message.text), SLACK_TEXT_MAX)}}),
    ];
    if !message.figures.is_empty() {
        // A section holds at most 10 fields.
        let fields: Vec<Value> = message
            .figures
            .iter()
            .take(10)
            .map(|(label, value)| json!({"type": "mrkdwn", "text": clip(&format!("*{}*\n{}", slack_escape(label), slack_escape(value)), 2000)}))
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&slack_escape(&message.action), SLACK_TEXT_MAX)}}));
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(&format!("<{}|Open LLMLab> · alert {}", message.link, alert.id), SLACK_TEXT_MAX)}]}));
    json!({"text": clip(&format!("{}: {}", message.title, message.text), SLACK_TEXT_MAX), "blocks": blocks})
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A Discord webhook's message: one embed, and no mentions parsed from it.
#[must_use]
pub fn discord(alert: &Outgoing<'_>) -> Value {
    let message = alert.message;
    let color = match alert.facts {
        AlertFacts::HardStop { .. } | AlertFacts::SpendAnomaly { .. } | AlertFacts::ProviderDrift { .. } => RED,
        AlertFacts::BudgetThreshold { .. } | AlertFacts::BudgetForecast { .. } | AlertFacts::UnpricedModel { .. } => {
            AMBER
        }
        AlertFacts::Test => BLUE,
    };
    let fields: Vec<Value> = message
        .figures
        .iter()
        .take(24)
        .map(|(label, value)| {
            json!({"name": clip(label, DISCORD_FIELD_NAME_MAX), "value": clip(value, DISCORD_FIELD_VALUE_MAX), "inline": true})
        })
        .chain(std::iter::once(json!({"name": "What to do", "value": clip(&message.action, DISCORD_FIELD_VALUE_MAX), "inline": false})))
        .collect();
    json!({
        "content": clip(&message.title, DISCORD_CONTENT_MAX),
        "allowed_mentions": {"parse": []},
        "embeds": [{
            "title": clip(&message.title, DISCORD_TITLE_MAX),
            "description": clip(&message.text, DISCORD_DESCRIPTION_MAX),
            "url": message.link,
            "color": color,
            "fields": fields,
            "footer": {"text": format!("LLMLab alert {}", alert.id)},
            "timestamp": alert.created_at,
        }]
    })
}

/// An email's subject and plain-text body.
#[must_use]
pub fn email(alert: &Outgoing<'_>) -> (String, String) {
    let message = alert.message;
    let subject = format!("[LLMLab] {}", message.title);
    let mut body = format!("{}\n\n{}\n\n", message.title, message.text);
    let width = message.figures.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0);
    for (label, value) in &message.figures {
        let _ = writeln!(body, "  {label:<width$}  {value}");
    }
    if !message.figures.is_empty() {
        body.push('\n');
    }
    let _ = write!(
        body,
        "What to do: {}\n\n{}\n\n-- \nLLMLab alert {} ({}).\n",
        message.action, message.link, alert.id, alert.created_at
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use llmlab_core::alert::BudgetRef;

    use super::*;

    fn facts() -> AlertFacts {
        AlertFacts::BudgetThreshold {
            budget: BudgetRef {
                id: 3,
                scope: "account".to_owned(),
                target: String::new(),
                period: "month".to_owned(),
                hard: false,
                created_at: 0,
            },
            period_key: "2026-12-01".to_owned(),
            threshold: "80".to_owned(),
            spent: "8".parse().unwrap(),
            amount: "10".parse().unwrap(),
        }
    }

    fn with_alert<T>(f: impl FnOnce(&Outgoing<'_>) -> T) -> T {
        let facts = facts();
        let message = facts.message("http://llmlab.test");
        f(&Outgoing { id: "alert_1", facts: &facts, message: &message, created_at: "2026-12-07T10:00:00Z" })
    }

    #[test]
    fn the_webhook_body_has_the_standard_webhooks_shape() {
        let body = with_alert(webhook);
        assert_eq!(body["type"], "budget.threshold");
        assert_eq!(body["timestamp"], "2026-12-07T10:00:00Z");
        assert_eq!(body["data"]["id"], "alert_1");
        assert_eq!(body["data"]["figures"]["Spent"], "$8.00");
        assert_eq!(body["data"]["facts"]["amount"], "10");
        assert_eq!(body["data"]["link"], "http://llmlab.test/dashboard");
    }

    #[test]
    fn slack_gets_text_and_blocks_within_their_limits() {
        let body = with_alert(slack);
        assert!(body["text"].as_str().unwrap().starts_with("80% of the monthly budget of the account used"));
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert!(blocks.iter().all(|b| b["type"] == "header" || b["type"] == "section" || b["type"] == "context"));
        assert!(blocks[3]["text"]["text"].as_str().unwrap().contains("llmlab budget"));
    }

    #[test]
    fn discord_gets_one_embed_and_no_mentions() {
        let body = with_alert(discord);
        assert_eq!(body["allowed_mentions"]["parse"], json!([]));
        let embed = &body["embeds"][0];
        assert_eq!(embed["url"], "http://llmlab.test/dashboard");
        assert_eq!(embed["fields"][1]["name"], "Spent");
        assert_eq!(embed["fields"][1]["value"], "$8.00");
    }

    #[test]
    fn an_email_has_a_subject_the_figures_and_the_link() {
        let (subject, body) = with_alert(email);
        assert_eq!(subject, "[LLMLab] 80% of the monthly budget of the account used");
        assert!(body.contains("Spent   $8.00"), "{body}");
        assert!(body.contains("http://llmlab.test/dashboard"), "{body}");
    }

    #[test]
    fn long_text_is_clipped_to_the_limit() {
        let long = "x".repeat(5000);
        assert_eq!(clip(&long, 3000).chars().count(), 3000);
        assert!(clip(&long, 3000).ends_with('…'));
        assert_eq!(clip("short", 10), "short");
    }
}
