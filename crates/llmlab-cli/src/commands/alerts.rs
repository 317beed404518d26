//! `llmlab alerts`: where the account's alerts go (webhook, Slack, Discord,
//! email channels), a test alert, and the delivery log. The server does the
//! work (`/api/alerts/…`); this shapes requests and answers for a terminal.

use std::fmt::Write as _;

use clap::{Args, Subcommand, ValueEnum};
use llmlab_api::{
    Account, Alert, AlertLog, Channel, ChannelKind, ChannelList, CreateChannelRequest, CreatedChannel, Delivery,
    DeliveryState, TestAlertRequest, TestAlertResponse,
};
use reqwest::Method;
use serde_json::Value;

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::config::{ServerArgs, Settings};
use crate::display::{count, wrap};
use crate::printer::{self, Align, BOLD, Cell, DIM, GREEN, RED, Table, UserError, YELLOW};

const EXAMPLES: &str = "\
Examples:
  llmlab alerts add webhook https://example.com/llmlab --name ops
                                 Send alerts to a webhook (prints its signing secret, once)
  llmlab alerts add slack https://hooks.slack.com/services/T000/B000/XXXX
                                 Post alerts in a Slack channel (an incoming webhook URL)
  llmlab alerts add discord https://discord.com/api/webhooks/123/abc
                                 Post alerts in a Discord channel
  llmlab alerts add email oncall@example.com
                                 Email alerts (the server's SMTP settings send them)
  llmlab alerts                  The channels (the same as `llmlab alerts list`)
  llmlab alerts test             Send a test alert to every channel
  llmlab alerts log              The newest alerts and how each delivery went
  llmlab alerts remove 3         Stop sending alerts to channel 3

Alerts are raised by the server: each budget's thresholds (80% and 100% unless set otherwise), a
forecast that a budget will be exceeded, a day of unusual spend, a model without a price, and a hard
budget refusing calls. Each is delivered to every channel, retried for up to a day.";

const ADD_EXAMPLES: &str = "\
Examples:
  llmlab alerts add webhook https://example.com/llmlab
                                 A generic webhook; prints the signing secret (`whsec_…`) once
  llmlab alerts add webhook https://example.com/llmlab --name ops --json
                                 The same as JSON: the channel's `id`, fields and `secret`
  llmlab alerts add slack https://hooks.slack.com/services/T000/B000/XXXX --name '#spend'
  llmlab alerts add discord https://discord.com/api/webhooks/123/abc
  llmlab alerts add email oncall@example.com

A webhook gets a JSON POST signed per Standard Webhooks: the headers `webhook-id` (the alert's id,
the same on every retry), `webhook-timestamp` and `webhook-signature` (`v1,` and the base64
HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with the base64-decoded part of the secret after
`whsec_`). The server keeps URLs and addresses encrypted and shows only a hint of each again. It
refuses private and loopback targets unless started with `--alerts-allow-private`.";

const LIST_EXAMPLES: &str = "\
Examples:
  llmlab alerts list             One line per channel: id, kind, name, a hint of its target
  llmlab alerts list --json      The server's JSON (`{\"channels\": [...]}`)";

const TEST_EXAMPLES: &str = "\
Examples:
  llmlab alerts test             Queue a test alert to every channel
  llmlab alerts test --channel 3 Only to channel 3
  llmlab alerts log              Then see whether it was delivered";

const LOG_EXAMPLES: &str = "\
Examples:
  llmlab alerts log              The 20 newest alerts, each channel's delivery under it
  llmlab alerts log --limit 100  More of them
  llmlab alerts log --verbose    Each alert's text and what to do about it as well
  llmlab alerts log --json       The server's JSON (`{\"alerts\": [...]}`), newest first

A delivery is `pending` until the receiver answers 2xx (or the mail server accepts the mail), then
`delivered`; it is retried with growing pauses for up to a day, then `failed`.";

const REMOVE_EXAMPLES: &str = "\
Examples:
  llmlab alerts remove 3         Remove channel 3 (`llmlab alerts list` shows the ids)
  llmlab alerts remove 3 --json  Print the removed channel as JSON

Alerts not yet delivered to a removed channel are marked failed.";

/// Send budget and spend alerts to webhooks, Slack, Discord or email, and see their log
#[derive(Args)]
#[command(after_help = EXAMPLES, args_conflicts_with_subcommands = true, disable_help_subcommand = true)]
pub(crate) struct AlertsArgs {
    #[command(subcommand)]
    command: Option<AlertsCommand>,
    #[command(flatten)]
    list: ListOptions,
}

#[derive(Subcommand)]
enum AlertsCommand {
    Add(AddArgs),
    List(ListArgs),
    Test(TestArgs),
    Log(LogArgs),
    Remove(RemoveArgs),
}

/// Add a channel: a webhook, Slack or Discord URL, or an email address
#[derive(Args)]
#[command(after_help = ADD_EXAMPLES)]
struct AddArgs {
    /// What kind of channel
    #[arg(value_name = "KIND")]
    kind: Kind,
    /// The webhook URL (`https://…`), or the email address
    #[arg(value_name = "URL|ADDRESS")]
    target: String,
    /// A label shown in lists and in the delivery log
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
    /// Print the channel as JSON: its `id`, `kind`, `name`, `target_hint`, `created_at`, and a webhook's `secret`
    #[arg(long)]
    json: bool,
}

/// A channel kind as typed.
#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// A generic HTTPS endpoint, signed per Standard Webhooks
    Webhook,
    /// A Slack incoming webhook URL
    Slack,
    /// A Discord webhook URL
    Discord,
    /// An email address
    Email,
}

impl From<Kind> for ChannelKind {
    fn from(kind: Kind) -> ChannelKind {
        match kind {
            Kind::Webhook => ChannelKind::Webhook,
            Kind::Slack => ChannelKind::Slack,
            Kind::Discord => ChannelKind::Discord,
            Kind::Email => ChannelKind::Email,
        }
    }
}

/// The channels: id, kind, name and a hint of where each sends
#[derive(Args)]
#[command(after_help = LIST_EXAMPLES)]
struct ListArgs {
    #[command(flatten)]
    options: ListOptions,
}

/// `list`'s options, also those of `llmlab alerts` alone.
#[derive(Args)]
struct ListOptions {
    #[command(flatten)]
    server: ServerArgs,
    /// Print the server's JSON: `{"channels": [...]}`
    #[arg(long)]
    json: bool,
}

/// Send a test alert to every channel, or to one
#[derive(Args)]
#[command(after_help = TEST_EXAMPLES)]
struct TestArgs {
    /// Only this channel (its id, from `llmlab alerts list`)
    #[arg(long, value_name = "ID", value_parser = channel_id)]
    channel: Option<i64>,
    #[command(flatten)]
    server: ServerArgs,
    /// Print the server's answer as JSON: `{"alert_id", "deliveries"}`
    #[arg(long)]
    json: bool,
}

/// The newest alerts, with each channel's delivery: state, attempts, last status and error
#[derive(Args)]
#[command(after_help = LOG_EXAMPLES)]
struct LogArgs {
    /// How many alerts, newest first
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = limit)]
    limit: u32,
    /// Also show what each alert says and what to do about it
    #[arg(long, short)]
    verbose: bool,
    #[command(flatten)]
    server: ServerArgs,
    /// Print the server's JSON: `{"alerts": [...]}`, newest first
    #[arg(long)]
    json: bool,
}

/// Remove a channel: no more alerts go there
#[derive(Args)]
#[command(after_help = REMOVE_EXAMPLES)]
struct RemoveArgs {
    /// The channel's id, from `llmlab alerts list`
    #[arg(value_name = "ID", value_parser = channel_id)]
    id: i64,
    #[command(flatten)]
    server: ServerArgs,
    /// Print the removed channel as JSON: `{"removed": {...}}`
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &AlertsArgs) -> anyhow::Result<ExitStatus> {
    match &args.command {
        None => list(&args.list),
        Some(AlertsCommand::List(list_args)) => list(&list_args.options),
        Some(AlertsCommand::Add(add_args)) => add(add_args),
        Some(AlertsCommand::Test(test_args)) => test(test_args),
        Some(AlertsCommand::Log(log_args)) => log(log_args),
        Some(AlertsCommand::Remove(remove_args)) => remove(remove_args),
    }
}

fn client(server: &ServerArgs) -> anyhow::Result<Client> {
    Client::authenticated(&Settings::load(server)?)
}

/// `llmlab alerts add KIND TARGET`.
fn add(args: &AddArgs) -> anyhow::Result<ExitStatus> {
    let client = client(&args.server)?;
    let kind = ChannelKind::from(args.kind);
    let request = CreateChannelRequest { kind, target: args.target.trim().to_owned(), name: args.name.clone() };
    let path = "/api/alerts/channels";
    block_on(async {
        let response = client.send(Method::POST, path, Some(&request)).await.map_err(in_args)?;
        let bytes = response.bytes().await.map_err(|e| client.transport_error(&e))?;
        let unexpected = |e: serde_json::Error| {
            anyhow::anyhow!("the server at `{}` sent an unexpected answer to `POST {path}`: {e}", client.base_url())
        };
        let document: Value = serde_json::from_slice(&bytes).map_err(unexpected)?;
        let created: CreatedChannel = serde_json::from_value(document.clone()).map_err(unexpected)?;
        if args.json {
            // The channel's fields (those this CLI does not know too) and the secret, in one object.
            let mut object = document["channel"].as_object().cloned().unwrap_or_default();
            if let Some(secret) = document.get("secret").filter(|s| !s.is_null()) {
                object.insert("secret".to_owned(), secret.clone());
            }
            printer::out_json(&object)?;
            return Ok(ExitStatus::Success);
        }
        let channel = &created.channel;
        printer::info(&format!("{GREEN}✓{GREEN:#} Added {} channel {}", channel.kind, channel.id));
        printer::out(&added(&created));
        if created.secret.is_some() {
            printer::note(
                "the signing secret is shown only this once: your receiver checks each alert's `webhook-signature` \
                 header with it (Standard Webhooks)",
            );
        }
        printer::hint(&format!("`llmlab alerts test --channel {}` sends it a test alert", channel.id));
        Ok(ExitStatus::Success)
    })?
}

/// A new channel, one field a line; a webhook's secret last.
fn added(created: &CreatedChannel) -> String {
    let channel = &created.channel;
    let mut fields = vec![("id", channel.id.to_string()), ("kind", channel.kind.to_string())];
    if let Some(name) = &channel.name {
        fields.push(("name", name.clone()));
    }
    fields.push(("target", channel.target_hint.clone()));
    if let Some(secret) = &created.secret {
        fields.push(("secret", secret.clone()));
    }
    let mut text = String::new();
    for (label, value) in fields {
        let _ = writeln!(text, "{BOLD}{label:<8}{BOLD:#}{value}");
    }
    text
}

/// `llmlab alerts list` (and `llmlab alerts` alone).
fn list(options: &ListOptions) -> anyhow::Result<ExitStatus> {
    let client = client(&options.server)?;
    block_on(async {
        if options.json {
            // The server's document as it is, fields this CLI does not know included.
            printer::out_json(&client.get::<Value>("/api/alerts/channels").await?)?;
            return Ok(ExitStatus::Success);
        }
        let (channels, account) =
            tokio::join!(client.get::<ChannelList>("/api/alerts/channels"), client.get::<Account>("/api/account"));
        let (channels, tz) = (channels?.channels, account?.timezone);
        if channels.is_empty() {
            printer::out(&format!(
                "{DIM}No alert channels (`llmlab alerts add webhook URL` adds one; slack, discord and email too){DIM:#}\n"
            ));
            return Ok(ExitStatus::Success);
        }
        printer::out(&channels_table(&channels, &tz));
        Ok(ExitStatus::Success)
    })?
}

/// ```text
/// id  kind     name  target                              created
///  1  webhook  ops   http://127.0.0.1:40123/…hook        2026-05-01 14:03
/// ```
fn channels_table(channels: &[Channel], tz: &str) -> String {
    let mut table = Table::new(&[
        ("id", Align::Right),
        ("kind", Align::Left),
        ("name", Align::Left),
        ("target", Align::Left),
        ("created", Align::Left),
    ]);
    for channel in channels {
        table.row(vec![
            channel.id.to_string(),
            channel.kind.to_string(),
            channel.name.clone().unwrap_or_else(|| "-".to_owned()),
            channel.target_hint.clone(),
            local_time(&channel.created_at, tz),
        ]);
    }
    table.render()
}

/// `llmlab alerts test`.
fn test(args: &TestArgs) -> anyhow::Result<ExitStatus> {
    let client = client(&args.server)?;
    block_on(async {
        let channels = client.get::<ChannelList>("/api/alerts/channels").await?.channels;
        // Checked here too, to name the command that fixes it (the server names its route).
        match args.channel {
            Some(id) if !channels.iter().any(|c| c.id == id) => return Err(no_channel(id).into()),
            None if channels.is_empty() => {
                return Err(UserError::new("the account has no alert channel to test")
                    .with_hint("add one with `llmlab alerts add webhook URL` (or slack, discord, email)")
                    .into());
            }
            _ => {}
        }
        let request = TestAlertRequest { channel_id: args.channel };
        let response = client.send(Method::POST, "/api/alerts/test", Some(&request)).await.map_err(in_args)?;
        let bytes = response.bytes().await.map_err(|e| client.transport_error(&e))?;
        let document: Value = serde_json::from_slice(&bytes)?;
        if args.json {
            printer::out_json(&document)?;
            return Ok(ExitStatus::Success);
        }
        let queued: TestAlertResponse = serde_json::from_value(document)?;
        let to: Vec<String> =
            channels.iter().filter(|c| args.channel.is_none_or(|id| id == c.id)).map(channel_label).collect();
        let n = queued.deliveries;
        printer::info(&format!(
            "{GREEN}✓{GREEN:#} Test alert queued for {} channel{} ({})",
            count(u64::from(n)),
            if n == 1 { "" } else { "s" },
            to.join(", ")
        ));
        printer::hint(&format!("`llmlab alerts log` shows its delivery (alert `{}`)", queued.alert_id));
        Ok(ExitStatus::Success)
    })?
}

/// `webhook 3`, followed by the name in backticks when the channel has one.
fn channel_label(channel: &Channel) -> String {
    match &channel.name {
        Some(name) => format!("{} {} `{name}`", channel.kind, channel.id),
        None => format!("{} {}", channel.kind, channel.id),
    }
}

/// `llmlab alerts log`.
fn log(args: &LogArgs) -> anyhow::Result<ExitStatus> {
    let client = client(&args.server)?;
    let path = format!("/api/alerts?limit={}", args.limit);
    block_on(async {
        if args.json {
            printer::out_json(&client.get::<Value>(&path).await.map_err(in_args)?)?;
            return Ok(ExitStatus::Success);
        }
        let (log, account, channels) = tokio::join!(
            client.get::<AlertLog>(&path),
            client.get::<Account>("/api/account"),
            client.get::<ChannelList>("/api/alerts/channels")
        );
        let (alerts, tz, channels) = (log.map_err(in_args)?.alerts, account?.timezone, channels?.channels);
        if alerts.is_empty() {
            printer::out(&format!(
                "{DIM}No alerts yet (`llmlab alerts test` sends a test alert to every channel){DIM:#}\n"
            ));
            return Ok(ExitStatus::Success);
        }
        printer::out(&log_text(&alerts, &channels, &tz, args.verbose));
        Ok(ExitStatus::Success)
    })?
}

/// Each alert on a line (time, title, kind and id), its deliveries under it,
/// their columns aligned across the whole log:
///
/// ```text
/// 2026-05-01 14:03  Test alert from LLMLab  test · alrt_0196…
///   delivered  webhook 1 ops  http://127.0.0.1:40123/…hook  1 attempt    HTTP 200
///   pending    email 2        o…@example.com                3 attempts   SMTP 451  next try 14:05 · error: …
/// ```
fn log_text(alerts: &[Alert], channels: &[Channel], tz: &str, verbose: bool) -> String {
    let rows: Vec<Vec<Vec<Cell>>> =
        alerts.iter().map(|alert| alert.deliveries.iter().map(|d| delivery_cells(d, channels, tz)).collect()).collect();
    let columns = rows.iter().flatten().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().flatten().map(|row| row[i].plain.chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for (alert, deliveries) in alerts.iter().zip(&rows) {
        let _ = writeln!(
            text,
            "{}  {BOLD}{}{BOLD:#}  {DIM}{} · {}{DIM:#}",
            local_time(&alert.created_at, tz),
            alert.title,
            alert.kind,
            alert.id
        );
        if verbose {
            let _ = write!(text, "{}", wrap(&alert.text, 100, "    "));
            if !alert.action.is_empty() {
                let _ = write!(text, "{DIM}{}{DIM:#}", wrap(&format!("→ {}", alert.action), 100, "    "));
            }
        }
        if deliveries.is_empty() {
            let _ = writeln!(text, "  {DIM}no channel{DIM:#}");
        }
        let left = vec![false; widths.len()];
        for row in deliveries {
            let _ = writeln!(text, "  {}", printer::cell_row(row, &widths, &left));
        }
    }
    text
}

/// State, channel (kind, id and name), target, attempts, last status, notes (next try, last error).
fn delivery_cells(delivery: &Delivery, channels: &[Channel], tz: &str) -> Vec<Cell> {
    let (state, style) = match delivery.state {
        DeliveryState::Pending => ("pending", YELLOW),
        DeliveryState::Delivered => ("delivered", GREEN),
        DeliveryState::Failed => ("failed", RED),
    };
    let name = delivery.channel_id.and_then(|id| channels.iter().find(|c| c.id == id)).and_then(|c| c.name.as_deref());
    let channel = match (delivery.channel_id, name) {
        (Some(id), Some(name)) => format!("{} {id} {name}", delivery.channel_kind),
        (Some(id), None) => format!("{} {id}", delivery.channel_kind),
        (None, _) => format!("{} (removed)", delivery.channel_kind),
    };
    let attempts =
        format!("{} attempt{}", count(u64::from(delivery.attempts)), if delivery.attempts == 1 { "" } else { "s" });
    let protocol = if delivery.channel_kind == ChannelKind::Email { "SMTP" } else { "HTTP" };
    let status = delivery.last_status_code.map(|code| format!("{protocol} {code}")).unwrap_or_default();
    let mut notes = Vec::new();
    if let (DeliveryState::Pending, Some(next)) = (delivery.state, &delivery.next_attempt_at) {
        notes.push(format!("next try {}", from_now(next, tz)));
    }
    if let Some(error) = delivery.last_error.as_deref().filter(|e| !e.is_empty()) {
        notes.push(format!("error: {}", one_line(error)));
    }
    vec![
        Cell::styled(state, style),
        Cell::new(channel),
        Cell::new(delivery.target_hint.clone()),
        Cell::new(attempts),
        Cell::new(status),
        Cell::styled(notes.join(" · "), DIM),
    ]
}

/// `llmlab alerts remove ID`.
fn remove(args: &RemoveArgs) -> anyhow::Result<ExitStatus> {
    let client = client(&args.server)?;
    block_on(async {
        // The channel as listed, to say what was removed.
        let channels = client.get::<ChannelList>("/api/alerts/channels").await?.channels;
        let Some(channel) = channels.into_iter().find(|c| c.id == args.id) else {
            return Err(no_channel(args.id).into());
        };
        client
            .send(Method::DELETE, &format!("/api/alerts/channels/{}", args.id), None::<&()>)
            .await
            .map_err(in_args)?;
        if args.json {
            printer::out_json(&serde_json::json!({ "removed": channel }))?;
            return Ok(ExitStatus::Success);
        }
        printer::info(&format!(
            "{GREEN}✓{GREEN:#} Removed {} ({}): no more alerts go there",
            channel_label(&channel),
            channel.target_hint
        ));
        Ok(ExitStatus::Success)
    })?
}

fn no_channel(id: i64) -> UserError {
    UserError::new(format!("the account has no alert channel with id `{id}`"))
        .with_hint("`llmlab alerts list` shows the channels and their ids")
}

/// A refusal that names a field of the request (`` `target`: … ``) names
/// what was typed instead; the server's pointers to its own routes become
/// the commands that do the same.
fn in_args(error: anyhow::Error) -> anyhow::Error {
    const ALLOW: &str = ". Allow private and loopback targets with ";
    let mut refusal = match error.downcast::<UserError>() {
        Ok(refusal) => refusal,
        Err(other) => return other,
    };
    for (field, typed) in [("target", ""), ("name", "--name: "), ("limit", "--limit: "), ("channel_id", "--channel: ")]
    {
        if let Some(rest) = refusal.message.strip_prefix(&format!("`{field}`: ")) {
            refusal.message = format!("{typed}{rest}");
            break;
        }
    }
    // A refused private target: the setting that allows it is for the server's operator, a hint.
    if let Some(at) = refusal.message.find(ALLOW) {
        let setting = &refusal.message[at + ALLOW.len()..];
        refusal.hint = Some(format!("the server's operator can allow private and loopback targets with {setting}"));
        refusal.message.truncate(at);
    }
    if let Some(at) = refusal.message.find("; `GET /api/alerts/channels` lists them") {
        refusal.message.truncate(at);
        refusal.hint.get_or_insert_with(|| "`llmlab alerts list` shows the channels and their ids".to_owned());
    }
    refusal.into()
}

/// `2026-05-01 14:03` in the account's time zone; the text as given when it is not a time.
fn local_time(instant: &str, tz: &str) -> String {
    let Ok(at) = instant.parse::<jiff::Timestamp>() else { return instant.to_owned() };
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    at.to_zoned(zone).strftime("%Y-%m-%d %H:%M").to_string()
}

/// When a coming retry is due: `now`, `in 40 s`, `in 12 min`, or its time past an hour.
fn from_now(instant: &str, tz: &str) -> String {
    let Ok(at) = instant.parse::<jiff::Timestamp>() else { return instant.to_owned() };
    match at.as_second() - jiff::Timestamp::now().as_second() {
        ..=0 => "now".to_owned(),
        seconds @ 1..60 => format!("in {seconds} s"),
        seconds @ 60..3600 => format!("in {} min", (seconds + 30) / 60),
        _ => local_time(instant, tz),
    }
}

/// The first line of an error, at most 200 characters (without a dangling `:`
/// where the receiver's answer had no body to quote).
fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim().trim_end_matches(':').trim_end();
    let mut short: String = line.chars().take(200).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

/// A channel id: a positive integer (`#3` is fine too).
fn channel_id(raw: &str) -> Result<i64, String> {
    let text = raw.trim();
    let text = text.strip_prefix('#').unwrap_or(text);
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(format!("`{raw}` is not a channel id: `llmlab alerts list` shows the ids (numbers such as `3`)")),
    }
}

/// `--limit`: a whole number of alerts.
fn limit(raw: &str) -> Result<u32, String> {
    match raw.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{raw}` is not a number of alerts: use a whole number of at least 1, such as `50`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_are_positive_numbers() {
        assert_eq!(channel_id("3"), Ok(3));
        assert_eq!(channel_id(" #12 "), Ok(12));
        for bad in ["0", "-1", "abc", "", "3.5"] {
            assert!(channel_id(bad).unwrap_err().contains("is not a channel id"), "{bad}");
        }
    }

    #[test]
    fn refusals_name_what_was_typed_and_the_command_that_lists_channels() {
        let refused = |message: &str| {
            let error = in_args(UserError::new(message).into());
            let user = error.downcast::<UserError>().unwrap();
            (user.message, user.hint)
        };
        assert_eq!(refused("`target`: \"x\" is not a URL").0, "\"x\" is not a URL");
        assert_eq!(refused("`name`: too long").0, "--name: too long");
        assert_eq!(
            refused("10.0.0.1 is a private address: not sent there. Allow private and loopback targets with `--x`"),
            (
                "10.0.0.1 is a private address: not sent there".to_owned(),
                Some("the server's operator can allow private and loopback targets with `--x`".to_owned())
            )
        );
        assert_eq!(
            refused("no alert channel with id 7; `GET /api/alerts/channels` lists them"),
            (
                "no alert channel with id 7".to_owned(),
                Some("`llmlab alerts list` shows the channels and their ids".to_owned())
            )
        );
    }

    #[test]
    fn the_log_aligns_deliveries_under_each_alert_and_names_their_channels() {
        let delivery = |channel_id, state, attempts, code: Option<u16>, error: Option<&str>| Delivery {
            channel_id,
            channel_kind: ChannelKind::Webhook,
            target_hint: "https://example.com/…abcd".to_owned(),
            state,
            attempts,
            last_status_code: code,
            last_error: error.map(str::to_owned),
            last_attempt_at: None,
            next_attempt_at: None,
            delivered_at: None,
        };
        let alert = Alert {
            id: "alert_1".to_owned(),
            kind: "test".to_owned(),
            title: "Test alert from LLMLab".to_owned(),
            text: "This channel receives LLMLab's alerts.".to_owned(),
            action: "Nothing to do.".to_owned(),
            created_at: "2026-05-01T12:03:00Z".to_owned(),
            deliveries: vec![
                delivery(Some(1), DeliveryState::Delivered, 1, Some(200), None),
                delivery(
                    None,
                    DeliveryState::Failed,
                    12,
                    Some(500),
                    Some("HTTP 500 Internal Server Error: \nline two"),
                ),
            ],
        };
        let channels = [Channel {
            id: 1,
            kind: ChannelKind::Webhook,
            name: Some("ops".to_owned()),
            target_hint: "https://example.com/…abcd".to_owned(),
            created_at: "2026-05-01T12:00:00Z".to_owned(),
        }];
        let text = anstream::adapter::strip_str(&log_text(&[alert], &channels, "UTC", true)).to_string();
        assert_eq!(
            text,
            "2026-05-01 12:03  Test alert from LLMLab  test · alert_1\n    This channel receives LLMLab's alerts.\n    \
             → Nothing to do.\n  delivered  webhook 1 ops      https://example.com/…abcd  1 attempt    HTTP 200\n  \
             failed     webhook (removed)  https://example.com/…abcd  12 attempts  HTTP 500  error: HTTP 500 Internal \
             Server Error\n"
        );
    }

    #[test]
    fn times_are_shown_to_the_minute_in_the_account_time_zone() {
        assert_eq!(local_time("2026-05-01T12:03:59Z", "Europe/Paris"), "2026-05-01 14:03");
        assert_eq!(local_time("2026-05-01T12:03:59Z", "Not/AZone"), "2026-05-01 12:03");
        assert_eq!(local_time("soon", "UTC"), "soon");
    }
}
