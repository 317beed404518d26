"""Fixtures for the alert tests: real local receivers (HTTP and SMTP) and a
real `llmlab serve` allowed to send to them, and for the settings page,
Debian's headless Chromium driven by Playwright (as in tests/e2e/dashboard).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alerts_support import PUBLIC_URL, SENDER, DiscordReceiver, Receivers, SlackReceiver, SmtpReceiver, WebhookReceiver

CHROMIUM = Path(os.environ.get("LLMLAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    found = Receivers(WebhookReceiver(), SlackReceiver(), DiscordReceiver(), SmtpReceiver().start())
    yield found
    for receiver in (found.webhook, found.slack, found.discord, found.smtp):
        receiver.close()


@pytest.fixture
def alert_server(server_factory: Callable[..., Any], receivers: Receivers) -> Any:
    """A server that may send to loopback receivers (`LLMLAB_ALERTS_ALLOW_PRIVATE`), links
    its alerts to PUBLIC_URL, and sends email through the local SMTP receiver."""
    return server_factory(
        env={
            "LLMLAB_ALERTS_ALLOW_PRIVATE": "1",
            "LLMLAB_PUBLIC_URL": PUBLIC_URL,
            "LLMLAB_SMTP_HOST": "127.0.0.1",
            "LLMLAB_SMTP_PORT": str(receivers.smtp.port),
            "LLMLAB_SMTP_TLS": "none",
            "LLMLAB_SMTP_FROM": f"LLMLab <{SENDER}>",
        }
    )


def in_ci() -> bool:
    return os.environ.get("CI", "") in ("true", "1")


# Module-scoped: one sync Playwright runs at a time, and tests/e2e/dashboard keeps its
# own for the rest of the session once it starts (this folder's tests run before it).
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, as tests/e2e/dashboard runs it: skipped without it, failing under CI."""

    def missing(what: str) -> None:
        if in_ci():
            pytest.fail(f"{what}; CI=true, so the settings page's alert test cannot be skipped", pytrace=False)
        pytest.skip(what)

    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} does not exist (install Debian's chromium: `apt-get install -y chromium`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright is not installed (`pip install -r tests/e2e/requirements.txt`)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that fails the test on a script error, a CSP violation or a dialog."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        # An API answer of 4xx is logged by Chromium but can be part of the flow.
        if message.type == "error" and "the server responded with a status of 4" not in message.text:
            errors.append(f"console: {message.text}")

    def on_dialog(dialog: Any) -> None:
        errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("dialog", on_dialog)
    yield page
    context.close()
    assert not errors, f"script errors, CSP violations or dialogs: {errors}"
