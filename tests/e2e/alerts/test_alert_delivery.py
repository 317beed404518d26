"""Alerts delivered by a real `llmlab serve` to real local receivers: a
Standard Webhooks endpoint that verifies every signature, Slack- and
Discord-shaped endpoints that check every payload against the services'
documented limits, and an SMTP server.

Budget alerts are counted from what the receivers got, once the server's
own log says no delivery is pending: nothing is left to arrive then, so
"exactly two" needs no sleeping.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from alerts_support import (
    MAILBOX,
    PUBLIC_URL,
    SENDER,
    Mail,
    Received,
    Receivers,
    add_channels,
    settled_log,
    track,
)


def is_threshold(alert: dict[str, Any]) -> bool:
    return bool(alert["kind"] == "budget_threshold")


def slack_text(received: Received) -> str:
    """All the text of a Slack message: its fallback and every block's."""
    payload = received.payload
    texts = [payload.get("text", "")]
    for block in payload.get("blocks", []):
        texts.append(block.get("text", {}).get("text", ""))
        texts += [f["text"] for f in block.get("fields", [])]
        texts += [
            e.get("text", "") if isinstance(e.get("text"), str) else e.get("url", "") for e in block.get("elements", [])
        ]
    return "\n".join(texts)


def discord_text(received: Received) -> str:
    payload = received.payload
    texts = [payload.get("content", "")]
    for embed in payload.get("embeds", []):
        texts += [embed.get("title", ""), embed.get("description", ""), embed.get("url", "")]
        texts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(texts)


def assert_delivered_everywhere(alert: dict[str, Any], channels: dict[str, dict[str, Any]]) -> None:
    """The log shows `alert` delivered once to every channel, with a success status."""
    by_channel = {d["channel_id"]: d for d in alert["deliveries"]}
    assert len(alert["deliveries"]) == len(channels), alert
    for kind, channel in channels.items():
        delivery = by_channel[channel["id"]]
        assert delivery["channel_kind"] == kind, delivery
        assert delivery["target_hint"] == channel["target_hint"], delivery
        assert delivery["state"] == "delivered", delivery
        assert delivery["attempts"] == 1, delivery
        assert delivery["delivered_at"], delivery
        assert delivery["last_error"] is None, delivery
        code = delivery["last_status_code"]
        # An HTTP 2xx, or the SMTP server's 250 for the message.
        assert code == 250 if kind == "email" else 200 <= code < 300, delivery


def test_a_test_alert_reaches_a_webhook_a_slack_a_discord_and_an_email_channel(
    alert_server: Any, receivers: Receivers
) -> None:
    key = alert_server.signup()
    channels = add_channels(alert_server, key, receivers)

    status, queued = alert_server.request("POST", "/api/alerts/test", {}, key=key)

    assert status == 202, queued
    assert queued["deliveries"] == 4, queued
    alert_id = queued["alert_id"]
    [webhook] = receivers.webhook.wait_for(1)
    [slack] = receivers.slack.wait_for(1)
    [discord] = receivers.discord.wait_for(1)
    [mail] = receivers.smtp.wait_for(1)
    assert receivers.problems() == []

    assert webhook.headers["webhook-id"] == alert_id
    assert re.fullmatch(r"\d+", webhook.headers["webhook-timestamp"]), webhook.headers
    assert webhook.payload["type"] == "test"
    data = webhook.payload["data"]
    assert (data["id"], data["kind"], data["title"]) == (alert_id, "test", "Test alert from LLMLab"), data
    assert data["link"].startswith(PUBLIC_URL + "/"), data

    assert "Test alert from LLMLab" in slack_text(slack)
    assert slack.payload["blocks"][0]["type"] == "header", slack.payload
    assert PUBLIC_URL in slack_text(slack), "the link to the server"

    [embed] = discord.payload["embeds"]
    assert {"title", "description", "url", "color", "fields", "timestamp"} <= embed.keys(), embed
    assert embed["title"] == "Test alert from LLMLab", embed
    assert embed["url"].startswith(PUBLIC_URL + "/"), embed

    assert mail.subject == "[LLMLab] Test alert from LLMLab"
    assert mail.recipients == [MAILBOX]
    assert SENDER in str(mail.message["from"])
    assert PUBLIC_URL + "/" in mail.text(), mail.text()

    [logged] = settled_log(alert_server, key)
    assert (logged["id"], logged["kind"], logged["title"]) == (alert_id, "test", "Test alert from LLMLab")
    assert_delivered_everywhere(logged, channels)


def test_a_test_alert_to_one_channel_goes_only_there(alert_server: Any, receivers: Receivers) -> None:
    key = alert_server.signup()
    channels = add_channels(alert_server, key, receivers)

    status, queued = alert_server.request(
        "POST", "/api/alerts/test", {"channel_id": channels["discord"]["id"]}, key=key
    )

    assert status == 202, queued
    assert queued["deliveries"] == 1
    receivers.discord.wait_for(1)
    [logged] = settled_log(alert_server, key)
    assert [d["channel_kind"] for d in logged["deliveries"]] == ["discord"]
    assert receivers.webhook.received == receivers.slack.received == []
    assert receivers.smtp.mails == []


def assert_two_budget_alerts_everywhere(
    server: Any, key: str, receivers: Receivers, channels: dict[str, dict[str, Any]], spent: tuple[str, str]
) -> None:
    """Exactly two budget threshold alerts, at 80% and at 100%, each delivered once to
    every channel, saying what was spent when it was raised (`spent`, in that order)
    of the $1.00 budget, and linking to the dashboard."""
    expected = dict(
        zip(
            ["80% of the monthly budget of the account used", "100% of the monthly budget of the account used"],
            spent,
            strict=True,
        )
    )
    for receiver in (receivers.webhook, receivers.slack, receivers.discord):
        receiver.wait_for(2, lambda r: "of the monthly budget" in r.body.decode())
    receivers.smtp.wait_for(2, lambda m: "of the monthly budget" in m.subject)
    alerts = settled_log(server, key)
    assert receivers.problems() == []

    # A forecast may come too (after a quarter of the month, at this run rate): it is its own kind.
    assert {a["kind"] for a in alerts} <= {"budget_threshold", "budget_forecast"}, alerts
    thresholds = [a for a in alerts if is_threshold(a)]
    assert sorted(a["title"] for a in thresholds) == sorted(expected), thresholds
    for alert in alerts:
        assert_delivered_everywhere(alert, channels)

    webhooks = [r for r in receivers.webhook.received if r.payload["type"] == "budget.threshold"]
    assert sorted(r.headers["webhook-id"] for r in webhooks) == sorted(a["id"] for a in thresholds), (
        "each alert once, under its id"
    )
    by_id = {r.headers["webhook-id"]: r.payload["data"] for r in webhooks}
    for alert in thresholds:
        data = by_id[alert["id"]]
        assert data["title"] == alert["title"], data
        assert data["figures"]["Spent"] == f"${expected[alert['title']]}", data
        assert data["figures"]["Budget"].startswith("$1.00 monthly"), data
        assert data["link"] == f"{PUBLIC_URL}/dashboard", data

    slack_messages = [r for r in receivers.slack.received if "of the monthly budget" in r.body.decode()]
    for message in slack_messages:
        blocks = message.payload["blocks"]
        assert blocks[0]["type"] == "header", blocks
        assert any(b["type"] == "section" and b.get("fields") for b in blocks), "the figures as fields"
        assert blocks[-1]["type"] in ("context", "actions") and PUBLIC_URL in json.dumps(blocks[-1]), blocks
    slack = [slack_text(r) for r in slack_messages]
    discord = [discord_text(r) for r in receivers.discord.received if "of the monthly budget" in r.body.decode()]
    mails: list[Mail] = [m for m in receivers.smtp.mails if "of the monthly budget" in m.subject]
    assert len(slack) == len(discord) == len(mails) == 2
    for title, amount in expected.items():
        [slack_one] = [t for t in slack if title in t]
        [discord_one] = [t for t in discord if title in t]
        [mail] = [m for m in mails if m.subject == f"[LLMLab] {title}"]
        for text in (slack_one, discord_one, mail.text()):
            assert f"${amount}" in text and "$1.00" in text, text
            assert f"{PUBLIC_URL}/dashboard" in text, text
            assert "llmlab budget" in text, f"what to do: {text}"


def test_crossing_80_then_100_percent_delivers_exactly_two_budget_alerts_to_every_channel(
    alert_server: Any, receivers: Receivers
) -> None:
    key = alert_server.signup()
    channels = add_channels(alert_server, key, receivers)
    status, body = alert_server.request("POST", "/api/budgets", {"amount_usd": "1"}, key=key)
    assert status in (200, 201), body

    for cost in ("0.50", "0.35", "0.25", "0.10"):  # 50%, 85%, 110%, 120%
        track(alert_server, key, cost)

    assert_two_budget_alerts_everywhere(alert_server, key, receivers, channels, ("0.85", "1.10"))


def test_one_batch_jumping_past_80_and_100_percent_delivers_both_alerts_once_to_every_channel(
    alert_server: Any, receivers: Receivers
) -> None:
    key = alert_server.signup()
    channels = add_channels(alert_server, key, receivers)
    status, body = alert_server.request("POST", "/api/budgets", {"amount_usd": "1"}, key=key)
    assert status in (200, 201), body
    costs = ["0.20", "0.45", "0.60"]
    events = [
        {"provider": "openai", "model": "gpt-4o", "input_tokens": 100, "output_tokens": 10, "cost_usd": c}
        for c in costs
    ]

    status, body = alert_server.request("POST", "/api/events/batch", {"events": events}, key=key)
    assert status == 201, body
    track(alert_server, key, "0.05")  # more spend over 100% raises nothing new

    total = f"{sum(Decimal(c) for c in costs):.2f}"
    assert_two_budget_alerts_everywhere(alert_server, key, receivers, channels, (total, total))
