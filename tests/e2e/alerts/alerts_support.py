"""Real local receivers for alerts, and the documented shapes they check.

- `WebhookReceiver`: an `http.server` in a thread that verifies each
  delivery's Standard Webhooks signature with the reference verifier (the
  `standardwebhooks` package) and checks the generic payload's schema.
- `SlackReceiver`, `DiscordReceiver`: incoming-webhook look-alikes that
  check each payload against a JSON schema written from Slack's and
  Discord's documentation, and answer as those services do.
- `SmtpReceiver`: an `aiosmtpd` SMTP server keeping each message.

A receiver answers a payload that fails its checks with 400, as the real
services do, and records what failed; the tests assert that nothing did.
(A module of its own: test files cannot import a conftest.)
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema
from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

#: The server's public address in these tests (`--public-url`): every alert links to it.
PUBLIC_URL = "https://llmlab.example.org"

#: How long a test waits for the server to deliver (it does within about a second).
WAIT = 30.0

# ---- Schemas -------------------------------------------------------------------

#: The generic webhook's payload (the server's contract).
WEBHOOK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "timestamp", "data"],
    "properties": {
        "type": {
            "enum": [
                "budget.threshold",
                "budget.forecast",
                "hard.stop",
                "spend.anomaly",
                "unpriced.model",
                "test",
            ]
        },
        "timestamp": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"},
        "data": {
            "type": "object",
            "required": ["id", "kind", "title", "text", "action", "link", "figures", "facts"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "kind": {"type": "string"},
                "title": {"type": "string", "minLength": 1},
                "text": {"type": "string", "minLength": 1},
                "action": {"type": "string", "minLength": 1},
                "link": {"type": "string", "pattern": "^https?://"},
                "figures": {"type": "object", "additionalProperties": {"type": "string"}},
                "facts": {"type": "object"},
            },
        },
    },
}

# Slack Block Kit (docs.slack.dev/reference/block-kit): a message needs `text` or
# `blocks`; at most 50 blocks; a section's text and a context's elements at most
# 3000 characters, a header's plain_text at most 150, a section's fields at most
# 10 of at most 2000 characters; a button's text at most 75, its url at most 3000.
_SLACK_PLAIN: dict[str, Any] = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"const": "plain_text"},
        "text": {"type": "string", "minLength": 1},
        "emoji": {"type": "boolean"},
    },
}
_SLACK_TEXT: dict[str, Any] = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"enum": ["mrkdwn", "plain_text"]},
        "text": {"type": "string", "minLength": 1, "maxLength": 3000},
    },
}
_SLACK_FIELD: dict[str, Any] = {
    **_SLACK_TEXT,
    "properties": {**_SLACK_TEXT["properties"], "text": {"type": "string", "maxLength": 2000}},
}
_SLACK_BUTTON: dict[str, Any] = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"const": "button"},
        "text": {
            **_SLACK_PLAIN,
            "properties": {**_SLACK_PLAIN["properties"], "text": {"type": "string", "maxLength": 75}},
        },
        "url": {"type": "string", "maxLength": 3000, "pattern": "^https?://"},
        "action_id": {"type": "string", "maxLength": 255},
    },
}
SLACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "anyOf": [{"required": ["text"]}, {"required": ["blocks"]}],
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"enum": ["header", "section", "context", "actions", "divider", "image", "rich_text"]},
                    "block_id": {"type": "string", "maxLength": 255},
                },
                "allOf": [
                    {
                        "if": {"properties": {"type": {"const": "header"}}},
                        "then": {
                            "required": ["text"],
                            "properties": {
                                "text": {
                                    **_SLACK_PLAIN,
                                    "properties": {
                                        **_SLACK_PLAIN["properties"],
                                        "text": {"type": "string", "maxLength": 150},
                                    },
                                }
                            },
                        },
                    },
                    {
                        "if": {"properties": {"type": {"const": "section"}}},
                        "then": {
                            "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
                            "properties": {
                                "text": _SLACK_TEXT,
                                "fields": {"type": "array", "minItems": 1, "maxItems": 10, "items": _SLACK_FIELD},
                            },
                        },
                    },
                    {
                        "if": {"properties": {"type": {"const": "context"}}},
                        "then": {
                            "required": ["elements"],
                            "properties": {
                                "elements": {"type": "array", "minItems": 1, "maxItems": 10, "items": _SLACK_TEXT}
                            },
                        },
                    },
                    {
                        "if": {"properties": {"type": {"const": "actions"}}},
                        "then": {
                            "required": ["elements"],
                            "properties": {
                                "elements": {"type": "array", "minItems": 1, "maxItems": 25, "items": _SLACK_BUTTON}
                            },
                        },
                    },
                ],
            },
        },
    },
}

# Discord's Execute Webhook (discord.com/developers/docs/resources/webhook): content
# at most 2000 characters, at most 10 embeds; an embed's title at most 256,
# description 4096, at most 25 fields of name 256 and value 1024, footer 2048;
# the characters of all of an embed's texts at most 6000 (`discord_problems`).
_DISCORD_EMBED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 256},
        "description": {"type": "string", "maxLength": 4096},
        "url": {"type": "string", "pattern": "^https?://"},
        "color": {"type": "integer", "minimum": 0, "maximum": 0xFFFFFF},
        "timestamp": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"},
        "footer": {
            "type": "object",
            "required": ["text"],
            "properties": {"text": {"type": "string", "maxLength": 2048}},
        },
        "author": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "maxLength": 256}},
        },
        "fields": {
            "type": "array",
            "maxItems": 25,
            "items": {
                "type": "object",
                "required": ["name", "value"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 256},
                    "value": {"type": "string", "minLength": 1, "maxLength": 1024},
                    "inline": {"type": "boolean"},
                },
            },
        },
    },
}
DISCORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "anyOf": [{"required": ["content"]}, {"required": ["embeds"]}],
    "properties": {
        "content": {"type": "string", "maxLength": 2000},
        "embeds": {"type": "array", "maxItems": 10, "items": _DISCORD_EMBED},
        # An alert pings nobody: no @everyone, role or user mention is parsed.
        "allowed_mentions": {
            "type": "object",
            "required": ["parse"],
            "properties": {"parse": {"type": "array", "maxItems": 0}},
        },
    },
    "required": ["allowed_mentions"],
}


def schema_problems(schema: dict[str, Any], payload: Any) -> list[str]:
    """Every way `payload` breaks `schema`, as readable lines."""
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(payload)]


def embed_characters(embed: dict[str, Any]) -> int:
    """The characters Discord counts toward an embed's 6000."""
    texts = [embed.get("title", ""), embed.get("description", "")]
    texts += [embed.get("footer", {}).get("text", ""), embed.get("author", {}).get("name", "")]
    for f in embed.get("fields", []):
        texts += [f.get("name", ""), f.get("value", "")]
    return sum(len(t) for t in texts)


def discord_problems(payload: Any) -> list[str]:
    problems = schema_problems(DISCORD_SCHEMA, payload)
    if not problems:
        for i, embed in enumerate(payload.get("embeds", [])):
            if (n := embed_characters(embed)) > 6000:
                problems.append(f"embeds/{i}: {n} characters, more than 6000")
    return problems


# ---- HTTP receivers ------------------------------------------------------------


@dataclass
class Received:
    """One HTTP delivery as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    payload: Any
    problems: list[str]


class HttpReceiver:
    """An HTTP server on 127.0.0.1 (a thread) that checks and records each POST."""

    #: The status and body of an accepted delivery.
    ok: tuple[int, bytes] = (204, b"")

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = receiver.record(headers, body)
                self.send_response(status)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/{type(self).__name__.lower()}"

    def check(self, headers: dict[str, str], body: bytes) -> tuple[Any, list[str]]:
        """The parsed payload and what is wrong with it."""
        try:
            return json.loads(body), []
        except json.JSONDecodeError as error:
            return None, [f"not JSON: {error}"]

    def record(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            payload, problems = None, [f"content-type {headers.get('content-type')!r}, not application/json"]
        else:
            payload, problems = self.check(headers, body)
        with self.changed:
            self.received.append(Received(headers, body, payload, problems))
            self.changed.notify_all()
        return (400, b"invalid_payload") if problems else self.ok

    def wait_for(self, count: int, where: Callable[[Received], bool] = lambda _: True) -> list[Received]:
        """Waits until `count` accepted deliveries match `where`; returns them."""
        deadline = time.monotonic() + WAIT
        with self.changed:
            while True:
                found = [r for r in self.received if not r.problems and where(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, (
                    f"{type(self).__name__}: {len(found)} of {count} deliveries after {WAIT} s: {self.received}"
                )
                self.changed.wait(left)

    def problems(self) -> list[str]:
        return [p for r in self.received for p in r.problems]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebhookReceiver(HttpReceiver):
    """A generic webhook endpoint verifying the Standard Webhooks signature.

    The secret exists only once the channel is added, which needs this
    receiver's URL: deliveries wait for `secret` (set it right after adding).
    """

    def __init__(self) -> None:
        self.secret_known = threading.Event()
        self._secret = ""
        super().__init__()

    @property
    def secret(self) -> str:
        return self._secret

    @secret.setter
    def secret(self, value: str) -> None:
        self._secret = value
        self.secret_known.set()

    def check(self, headers: dict[str, str], body: bytes) -> tuple[Any, list[str]]:
        if not self.secret_known.wait(WAIT):
            return None, ["a delivery came, but the test never set the channel's secret"]
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as error:
            return None, [f"signature: {error}"]
        problems = schema_problems(WEBHOOK_SCHEMA, payload)
        if not problems and headers.get("webhook-id") != payload["data"]["id"]:
            problems.append(f"webhook-id {headers.get('webhook-id')!r} is not the alert's id {payload['data']['id']!r}")
        if not headers.get("webhook-signature", "").startswith("v1,"):
            problems.append(f"webhook-signature {headers.get('webhook-signature')!r} is not `v1,<base64>`")
        return payload, problems


class SlackReceiver(HttpReceiver):
    """A Slack incoming webhook: answers `ok`, or 400 to an invalid message."""

    ok = (200, b"ok")

    def check(self, headers: dict[str, str], body: bytes) -> tuple[Any, list[str]]:
        payload, problems = super().check(headers, body)
        return payload, problems or schema_problems(SLACK_SCHEMA, payload)


class DiscordReceiver(HttpReceiver):
    """A Discord webhook: answers 204, or 400 to an invalid message."""

    def check(self, headers: dict[str, str], body: bytes) -> tuple[Any, list[str]]:
        payload, problems = super().check(headers, body)
        return payload, problems or discord_problems(payload)


# ---- SMTP ------------------------------------------------------------------------


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["subject"])

    def text(self) -> str:
        """The plain-text body."""
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, f"no text/plain part: {self.message}"
        return str(part.get_content())


@dataclass
class SmtpReceiver:
    """An SMTP server on 127.0.0.1 (aiosmtpd, no TLS, no auth) keeping each message."""

    mails: list[Mail] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0
    controller: Any = None

    def start(self) -> SmtpReceiver:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.changed:
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
            self.changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, where: Callable[[Mail], bool] = lambda _: True) -> list[Mail]:
        deadline = time.monotonic() + WAIT
        with self.changed:
            while True:
                found = [m for m in self.mails if where(m)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, (
                    f"SMTP: {len(found)} of {count} mails after {WAIT} s: {[m.subject for m in self.mails]}"
                )
                self.changed.wait(left)

    def close(self) -> None:
        self.controller.stop()


# ---- The server's side -------------------------------------------------------------


@dataclass
class Receivers:
    webhook: WebhookReceiver
    slack: SlackReceiver
    discord: DiscordReceiver
    smtp: SmtpReceiver

    def problems(self) -> list[str]:
        return self.webhook.problems() + self.slack.problems() + self.discord.problems()


#: The address the email channel sends to.
MAILBOX = "ops@llmlab.example.org"
#: The From address of the alert emails (`LLMLAB_SMTP_FROM`).
SENDER = "alerts@llmlab.example.org"


def add_channels(server: Any, key: str, receivers: Receivers) -> dict[str, dict[str, Any]]:
    """Adds one channel of each kind, pointing at the receivers; the channels by kind."""
    channels: dict[str, dict[str, Any]] = {}
    targets = {
        "webhook": receivers.webhook.url,
        "slack": receivers.slack.url,
        "discord": receivers.discord.url,
        "email": MAILBOX,
    }
    for kind, target in targets.items():
        status, body = server.request(
            "POST", "/api/alerts/channels", {"kind": kind, "target": target, "name": f"e2e {kind}"}, key=key
        )
        assert status == 201, body
        assert body["channel"]["kind"] == kind, body
        if kind == "webhook":
            assert body["secret"].startswith("whsec_"), body
            receivers.webhook.secret = body["secret"]
        else:
            assert "secret" not in body, body
        channels[kind] = body["channel"]
    return channels


def alert_log(server: Any, key: str) -> list[dict[str, Any]]:
    status, body = server.request("GET", "/api/alerts?limit=100", key=key)
    assert status == 200, body
    return list(body["alerts"])


def settled_log(server: Any, key: str) -> list[dict[str, Any]]:
    """The alert log once no delivery in it is pending (every one delivered or failed)."""
    deadline = time.monotonic() + WAIT
    while True:
        alerts = alert_log(server, key)
        if all(d["state"] != "pending" for a in alerts for d in a["deliveries"]):
            return alerts
        assert time.monotonic() < deadline, f"deliveries still pending after {WAIT} s: {json.dumps(alerts, indent=1)}"
        time.sleep(0.1)


def track(server: Any, key: str, cost: str) -> None:
    """Tracks one call that cost `cost` USD."""
    event = {"provider": "openai", "model": "gpt-4o", "input_tokens": 100, "output_tokens": 10, "cost_usd": cost}
    status, body = server.request("POST", "/api/events/track", event, key=key)
    assert status == 201, body
